//! The simulator's data engine: databases, collections, document history, cursors, and
//! the data commands (CRUD, aggregation, catalog) run against them.
//!
//! The server layer (`crate::server`) owns wire protocol, topology, sessions, cluster time,
//! retryable-write records and fail points; it calls [`Store::run`] for every command
//! [`Store::handles`] names.

use bson::{Document, Timestamp};

/// What the server layer tells the engine about one command execution.
#[derive(Debug, Clone, Default)]
pub struct ExecContext {
    /// The cluster time a write in this command is stamped with (the server advances it
    /// before each write command).
    pub write_time: Option<Timestamp>,
    /// Read the data as of this cluster time (`readConcern: {level: snapshot}`), if set.
    pub read_at: Option<Timestamp>,
    /// The session's `lsid`, if the command has one (cursors remember their session).
    pub lsid: Option<Document>,
    /// The server's `maxBsonObjectSize`, for checking documents and batches.
    pub max_bson_size: usize,
}

/// A command failure, shaped by the server layer as `{ok: 0, errmsg, code, codeName}`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code_name} ({code}): {message}")]
pub struct CommandError {
    /// Server error code, e.g. 26.
    pub code: i32,
    /// Server error code name, e.g. `NamespaceNotFound`.
    pub code_name: String,
    /// Human-readable message (`errmsg`).
    pub message: String,
}

impl CommandError {
    /// A failure with `code`/`code_name`.
    pub fn new(code: i32, code_name: &str, message: impl Into<String>) -> Self {
        Self { code, code_name: code_name.into(), message: message.into() }
    }
}

/// All databases of one deployment (a replica set's members share one store).
#[derive(Debug, Default)]
pub struct Store {}

impl Store {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the engine runs the command `name` (as it appears as the first key).
    pub fn handles(_name: &str) -> bool {
        false
    }

    /// Whether `name` writes data (the server advances cluster time before it).
    pub fn is_write(_name: &str) -> bool {
        false
    }

    /// Runs a data command. `cmd` is the whole command body (first key is the command
    /// name), with any OP_MSG kind-1 sequences merged in as arrays; `db` is its `$db`.
    /// Returns the reply without `ok`, `$clusterTime` or `operationTime` (the server
    /// layer adds those).
    pub fn run(&mut self, _db: &str, cmd: &Document, _ctx: &ExecContext) -> Result<Document, CommandError> {
        let name = cmd.keys().next().map(String::as_str).unwrap_or("");
        Err(CommandError::new(59, "CommandNotFound", format!("no such command: '{name}'")))
    }
}
