//! The simulator's data engine: databases, collections, document history, cursors, and
//! the data commands (CRUD, aggregation, catalog) run against them.
//!
//! The server layer (`crate::server`) owns wire protocol, topology, sessions, cluster time,
//! retryable-write records and fail points; it calls [`Store::run`] for every command
//! [`Store::handles`] names.
//!
//! What the server layer relies on:
//! - Writes: [`Store::is_write_command`] (write commands, and `aggregate` ending in
//!   `$out`/`$merge`); each write is stamped with `ExecContext::write_time` and kept in the
//!   document's history.
//! - Snapshot reads: with `ExecContext::read_at = Some(t)` reads see every write stamped
//!   `<= t`; cursors are materialised when created, so their `getMore`s need no `read_at`.
//! - Cursors: `firstBatch` holds 101 documents unless `batchSize` says otherwise; a cursor
//!   closes (id 0) as soon as its results are exhausted; cursors remember the creating
//!   session (`getMore` from another session fails) and are closed by
//!   [`Store::kill_session_cursors`]. Change-stream cursors close only after an
//!   `invalidate` event and answer `getMore` at once (empty when nothing happened);
//!   awaiting (`maxTimeMS`) is the server layer's.
//! - Version-dependent replies follow `ExecContext::max_wire_version` (0 = newest).
//! - Transactions: [`transaction`] (snapshot copy, own writes, write conflicts, commit).
//!
//! Layers, bottom to top (a file imports only from its own layer or below):
//! 1. definitions: `error` ([`CommandError`]), `context` ([`ExecContext`]);
//! 2. values: [`compare`] (BSON order), [`collation`], [`version_rules`];
//! 3. queries: [`matcher`], [`expr`], [`projection`], [`sort`];
//! 4. transforms: [`aggregate`] (pipelines), [`update`] (update documents and pipelines);
//! 5. data: [`collection`] (documents with history, indexes), [`cursor`], [`change_stream`]
//!    (events and resume tokens), [`find_modifiers`];
//! 6. the [`Store`] (`store`): databases, cursors, catalog history, transaction locks;
//! 7. commands: `commands` ([`Store::run`] and one file per command family: queries, cursors,
//!    writes, updates, aggregation, catalog, indexes, diagnostics), [`transaction`].

pub mod aggregate;
pub mod change_stream;
pub mod collation;
pub mod collection;
mod commands;
pub mod compare;
mod context;
pub mod cursor;
mod error;
pub mod expr;
pub mod find_modifiers;
pub mod matcher;
pub mod projection;
pub mod sort;
mod store;
pub mod transaction;
pub mod update;
pub mod version_rules;

pub use context::ExecContext;
pub use error::CommandError;
pub use store::{Database, Store};
