//! An async MongoDB driver whose behaviour is checked against the official driver
//! specifications' test data.
//!
//! The layers, bottom to top; a module imports only from its own layer or below:
//!
//! 0. [`error`] (one error type, the server's error codes) and [`options`] (connection
//!    strings, `mongodb+srv`, options, and the shared vocabulary: addresses, read
//!    preferences, read/write concerns);
//! 1. [`wire`] (OP_MSG, OP_QUERY/OP_REPLY, compression) and [`commands`] (the generated
//!    command builders);
//! 2. [`connection`] (handshake, authentication, TLS);
//! 3. [`cmap`] (connection pools and their events);
//! 4. [`sdam`], [`selection`], [`monitor`], [`topology`] (discovery and monitoring, server
//!    selection, the runtime that ties pools and monitors together), and [`event`] (every
//!    monitoring event in one place);
//! 5. [`session`] (client sessions, cluster time, the transaction state; it names its client
//!    only through a trait);
//! 6. [`operation`] (one type per command: build it, handle its reply);
//! 7. [`executor`] (selection, check-out, session binding, retries, command events — once
//!    for every operation);
//! 8. [`api`] (`Client`, `Database`, `Collection<T>`, cursors, change streams, GridFS,
//!    index management, the transaction API), whose modules are also re-exported at their
//!    old top-level paths (`mongo_driver::coll`, `mongo_driver::client`, …).

pub mod api;
pub mod cmap;
pub mod commands;
pub mod connection;
pub mod error;
pub mod event;
pub mod executor;
pub mod monitor;
pub mod operation;
pub mod options;
pub mod results;
pub mod sdam;
pub mod selection;
pub mod session;
pub mod topology;
pub mod wire;

pub use connection::auth;
pub use error::code as error_code;
pub use options::{connection_string, srv};

// The API's modules at their old paths (`mongo_driver::coll::Collection`, …).
pub use api::{change_stream, client, coll, cursor, db, enumerate_databases, gridfs, index_management};

pub use api::change_stream::{ChangeStream, ChangeStreamEvent};
pub use api::client::Client;
pub use api::coll::Collection;
pub use api::cursor::Cursor;
pub use api::db::Database;
pub use error::{Error, ErrorKind, Result};
pub use session::ClientSession;
