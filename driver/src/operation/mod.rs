//! Operations (CRUD spec; find/getMore/killCursors and server write commands specs): one
//! type per command, each with a "build the command" half ([`Operation::build`], using the
//! generated builders and the connection's [`StreamDescription`] limits) and a "handle the
//! reply" half ([`Operation::handle_response`], typed outputs; write errors and write
//! concern errors become [`Error`]s). Selecting the server, sessions, cluster time, read
//! preference, sending, error classification and retries live in the executor
//! ([`crate::executor`]), never here.

mod aggregate;
mod count;
mod create;
mod create_indexes;
mod cursor;
mod distinct;
mod drop;
mod drop_indexes;
mod end_transaction;
mod find;
mod find_and_modify;
mod index_model;
mod list_collections;
mod list_databases;
mod list_indexes;
mod rename;
mod run_command;
mod write;
mod write_hint;

#[cfg(test)]
mod tests;

pub use aggregate::{Aggregate, CountDocuments};
pub use count::{Count, EstimatedDocumentCount};
pub use create::Create;
pub use create_indexes::CreateIndexes;
pub use cursor::{GetMore, GetMoreResult, KillCursors};
pub use distinct::Distinct;
pub use drop::DropCollection;
pub use drop_indexes::DropIndexes;
pub use end_transaction::{AbortTransaction, CommitTransaction};
pub use find::Find;
pub use find_and_modify::{FindAndModify, Modification};
pub use index_model::{IndexModel, IndexOptions};
pub use list_collections::ListCollections;
pub use list_databases::ListDatabases;
pub use list_indexes::ListIndexes;
pub use rename::RenameCollection;
pub use run_command::RunCommand;
pub use write::{BatchedWrite, Delete, Insert, Update, WriteBatchOutcome};
pub(crate) use write_hint::is_unacknowledged;

use std::collections::VecDeque;
use std::fmt;

use bson::{Bson, Document};

use crate::commands::{GenericArguments, InitialResponseCursor, OpMsgParts};
use crate::connection::StreamDescription;
use crate::error::{Error, Result};
use crate::sdam::ServerAddress;
use crate::topology::SelectionCriteria;

/// `generic` with an operation's `maxTimeMS` and `comment` options added (both are generic
/// command arguments: CRUD spec, and the server's generic argument IDL).
fn generic_with(
    generic: &GenericArguments,
    max_time: Option<std::time::Duration>,
    comment: Option<&Bson>,
) -> GenericArguments {
    let mut generic = generic.clone();
    if let Some(t) = max_time {
        generic.max_time_ms = Some(crate::options::millis(t));
    }
    if let Some(comment) = comment {
        generic.comment = Some(comment.clone());
    }
    generic
}

/// A database and collection (`db.coll`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Namespace {
    /// The database.
    pub db: String,
    /// The collection.
    pub coll: String,
}

impl Namespace {
    /// `db.coll`.
    pub fn new(db: impl Into<String>, coll: impl Into<String>) -> Self {
        Self { db: db.into(), coll: coll.into() }
    }

    /// Parses a reply's `ns` (`db.coll`, the collection may contain dots).
    pub fn parse(ns: &str) -> Result<Self> {
        match ns.split_once('.') {
            Some((db, coll)) if !db.is_empty() => Ok(Self::new(db, coll)),
            _ => Err(Error::invalid_response(format!("invalid namespace `{ns}` in a cursor reply"))),
        }
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.db, self.coll)
    }
}

/// Whether the executor may retry an operation once (retryable reads and retryable
/// writes specs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retryability {
    /// A retryable read (find, aggregate without `$out`/`$merge`, distinct, count, …).
    Read,
    /// A retryable write (one-statement writes, ordered or not multi-statement inserts,
    /// findAndModify); needs a session and a transaction number.
    Write,
    /// Never retried (e.g. getMore, `update_many`, run_command).
    None,
}

/// The [`Operation`] methods every retryable read shares (retryable reads spec): it is
/// routed by its `criteria` field, takes a read concern, and is retried once as a read.
/// Used inside an `impl Operation for …` block whose type has a `criteria:
/// SelectionCriteria` field.
macro_rules! retryable_read {
    () => {
        fn selection_criteria(&self) -> $crate::topology::SelectionCriteria {
            self.criteria.clone()
        }

        fn supports_read_concern(&self) -> bool {
            true
        }

        fn retryability(&self) -> $crate::operation::Retryability {
            $crate::operation::Retryability::Read
        }
    };
}
pub(crate) use retryable_read;

/// A command the driver sends: how to build it and how to read its reply.
pub trait Operation: Send {
    /// What the reply is turned into.
    type Output: Send;

    /// The command's name (for events, logs and errors).
    fn name(&self) -> &str;

    /// Builds the command for a connection described by `description` (validation against
    /// its limits happens here). Called again for a retry.
    fn build(&mut self, description: &StreamDescription) -> Result<OpMsgParts>;

    /// Reads a reply with `ok: 1` (the executor turns `ok: 0` into an error first).
    fn handle_response(&mut self, reply: Document, description: &StreamDescription) -> Result<Self::Output>;

    /// Which servers the command may run on.
    fn selection_criteria(&self) -> SelectionCriteria {
        SelectionCriteria::Write
    }

    /// Whether the executor may retry it.
    fn retryability(&self) -> Retryability {
        Retryability::None
    }

    /// Whether a `w: 0` write concern makes the command an unacknowledged write: the executor
    /// then sends it with `moreToCome` and reads no reply (OP_MSG spec "moreToCome On
    /// Requests"), and [`Operation::handle_unacknowledged`] gives the output.
    fn may_be_unacknowledged(&self) -> bool {
        false
    }

    /// The output of the command sent unacknowledged (only called when
    /// [`Operation::may_be_unacknowledged`]).
    fn handle_unacknowledged(&mut self, description: &StreamDescription) -> Result<Self::Output> {
        let _ = description;
        Err(Error::invalid_argument(format!("`{}` cannot be sent unacknowledged", self.name())))
    }

    /// Whether the command takes a `readConcern`, so a causally consistent session adds
    /// `afterClusterTime` to it (causal consistency spec; never for `run_command`).
    fn supports_read_concern(&self) -> bool {
        false
    }

    /// Whether the command ends a transaction (`commitTransaction`, `abortTransaction`):
    /// the executor sends it with the transaction's fields and retries it once even when
    /// `retryWrites` is off (transactions spec).
    fn ends_transaction(&self) -> bool {
        false
    }
}

/// A cursor the server opened (find, aggregate, listCollections): its id, namespace, first
/// batch and the server that holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct CursorSpec {
    /// The cursor's namespace (getMore and killCursors use it).
    pub ns: Namespace,
    /// The cursor id (0: exhausted).
    pub id: i64,
    /// The first batch.
    pub first_batch: VecDeque<Document>,
    /// The server holding the cursor.
    pub address: ServerAddress,
    /// `batchSize` for each getMore.
    pub batch_size: Option<i32>,
    /// `maxTimeMS` for each getMore (tailable awaitData cursors).
    pub max_await_time_ms: Option<i64>,
    /// The `comment` of the command that opened the cursor: each getMore carries it to
    /// 4.4+ servers (CRUD spec "comment" of find and aggregate).
    pub comment: Option<Bson>,
    /// A find's positive `limit`: a getMore asks for no more than the documents left under
    /// it (find/getMore/killCursors spec "Combining Limit and Batch Size").
    pub limit: Option<i64>,
}

impl CursorSpec {
    /// Reads the `cursor` sub-document of an initial reply.
    pub(crate) fn from_initial(
        reply: &Document,
        address: &ServerAddress,
        batch_size: Option<i32>,
        max_await_time_ms: Option<i64>,
    ) -> Result<Self> {
        let cursor = reply.get_document("cursor").map_err(|_| {
            Error::invalid_response(format!("a cursor reply has no `cursor` document: {reply}"))
        })?;
        let cursor = InitialResponseCursor::from_document(cursor)?;
        Ok(Self {
            ns: Namespace::parse(&cursor.ns)?,
            id: cursor.id,
            first_batch: cursor.first_batch.into(),
            address: address.clone(),
            batch_size,
            max_await_time_ms,
            comment: None,
            limit: None,
        })
    }

    /// This cursor with the comment its getMores carry.
    pub(crate) fn with_comment(mut self, comment: Option<Bson>) -> Self {
        self.comment = comment;
        self
    }

    /// This cursor with the limit its getMores respect.
    pub(crate) fn with_limit(mut self, limit: Option<i64>) -> Self {
        self.limit = limit.filter(|l| *l > 0);
        self
    }
}

/// The `cursor` document of a command that opens a cursor: `{batchSize}` when one is set.
pub(crate) fn cursor_arg(batch_size: Option<i32>) -> Result<Document> {
    let mut cursor = Document::new();
    if let Some(b) = batch_size_arg(batch_size)? {
        cursor.insert("batchSize", b);
    }
    Ok(cursor)
}

/// Rejects a negative `batchSize` and turns it into the wire's `i64`.
pub(crate) fn batch_size_arg(batch_size: Option<i32>) -> Result<Option<i64>> {
    match batch_size {
        Some(b) if b < 0 => {
            Err(Error::invalid_argument(format!("batchSize must not be negative, but is {b}")))
        }
        other => Ok(other.map(i64::from)),
    }
}
