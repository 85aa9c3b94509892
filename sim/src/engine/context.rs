//! What the server layer tells the engine about one command execution (write time, snapshot
//! time, session, size limits, emulated release, router or not).

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
    /// The emulated server's `maxWireVersion` (0: the newest behaviour), for the few replies
    /// that changed across versions (e.g. `drop` of a missing collection succeeds on 7.0+).
    pub max_wire_version: i32,
    /// Whether a `mongos` runs the command (it names cursors by the namespace the client
    /// asked for, e.g. `db.coll` for `listIndexes`, where mongod says `db.$cmd.listIndexes.coll`).
    pub router: bool,
}
