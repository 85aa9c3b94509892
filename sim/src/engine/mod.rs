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

pub mod aggregate;
pub mod change_stream;
pub mod collation;
pub mod collection;
mod commands;
pub mod compare;
pub mod cursor;
mod explain;
pub mod expr;
pub mod find_modifiers;
pub mod matcher;
pub mod projection;
pub mod sort;
pub mod transaction;
pub mod update;
pub mod version_rules;

use std::collections::{BTreeMap, HashMap};

use bson::{Document, Timestamp};

use collection::Collection;
use cursor::Cursor;

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
    /// Fields the reply carries beside `code`/`errmsg`: mongod appends an error's extra info
    /// to the command reply, e.g. `keyPattern`/`keyValue` of a `DuplicateKey` failure
    /// (src/mongo/db/storage/duplicate_key_error_info.cpp) or `errInfo` of a validation one.
    pub extra: Option<Box<Document>>,
}

impl CommandError {
    /// A failure with `code`/`code_name`.
    pub fn new(code: i32, code_name: &str, message: impl Into<String>) -> Self {
        Self { code, code_name: code_name.into(), message: message.into(), extra: None }
    }
}

/// One database: its collections by name.
#[derive(Debug, Clone, Default)]
pub struct Database {
    /// Collections by name.
    pub collections: BTreeMap<String, Collection>,
}

/// All databases of one deployment (a replica set's members share one store).
///
/// `Clone` gives a full copy (e.g. for a transaction's rollback image).
#[derive(Debug, Clone)]
pub struct Store {
    dbs: BTreeMap<String, Database>,
    cursors: HashMap<i64, Cursor>,
    next_cursor: i64,
    last_write: Timestamp,
    /// Documents written by open transactions: (db, collection, `_id`) → (transaction id,
    /// liveness of that transaction: a dropped [`transaction::Transaction`] releases its locks).
    txn_locks: BTreeMap<(String, String, compare::Key), (u64, std::sync::Weak<()>)>,
    next_txn: u64,
    /// Catalog changes, oldest first, for change streams (drop, rename, create, …).
    ddl: Vec<change_stream::DdlEvent>,
    /// Collections dropped or renamed while a change stream was open, kept for the events
    /// written before (db, name, collection, when it lost the name).
    retired: Vec<(String, String, Collection, Timestamp)>,
    /// When a renamed collection got its current name (its earlier writes belong to the
    /// old name).
    named_at: BTreeMap<(String, String), Timestamp>,
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

/// The commands [`Store::run`] executes.
const COMMANDS: &[&str] = &[
    "insert",
    "update",
    "delete",
    "find",
    "getMore",
    "killCursors",
    "findAndModify",
    "findandmodify",
    "aggregate",
    "distinct",
    "count",
    "create",
    "drop",
    "dropDatabase",
    "listCollections",
    "listDatabases",
    "listIndexes",
    "createIndexes",
    "dropIndexes",
    "renameCollection",
    "collStats",
    "collMod",
    "shardCollection",
    "explain",
    "validate",
];

/// The commands that write (the server advances cluster time before them).
const WRITES: &[&str] = &[
    "insert",
    "update",
    "delete",
    "findAndModify",
    "findandmodify",
    "create",
    "drop",
    "dropDatabase",
    "createIndexes",
    "dropIndexes",
    "renameCollection",
    "collMod",
    "shardCollection",
];

impl Store {
    /// An empty store.
    pub fn new() -> Self {
        Self {
            dbs: BTreeMap::new(),
            cursors: HashMap::new(),
            next_cursor: 1,
            last_write: Timestamp { time: 0, increment: 0 },
            txn_locks: BTreeMap::new(),
            next_txn: 1,
            ddl: Vec::new(),
            retired: Vec::new(),
            named_at: BTreeMap::new(),
        }
    }

    /// Whether the engine runs the command `name` (as it appears as the first key).
    pub fn handles(name: &str) -> bool {
        COMMANDS.contains(&name)
    }

    /// Whether `name` writes data (the server advances cluster time before it).
    /// `aggregate` is not listed: see [`Store::is_write_command`] for `$out`/`$merge`.
    pub fn is_write(name: &str) -> bool {
        WRITES.contains(&name)
    }

    /// Whether this command body writes: a write command, or an `aggregate` whose pipeline
    /// ends in `$out`/`$merge`.
    pub fn is_write_command(cmd: &Document) -> bool {
        let Some(name) = cmd.keys().next() else { return false };
        if Self::is_write(name) {
            return true;
        }
        name == "aggregate"
            && cmd.get_array("pipeline").ok().and_then(|p| p.last()).is_some_and(|last| {
                last.as_document().is_some_and(|d| d.contains_key("$out") || d.contains_key("$merge"))
            })
    }

    /// Runs a data command. `cmd` is the whole command body (first key is the command
    /// name), with any OP_MSG kind-1 sequences merged in as arrays; `db` is its `$db`.
    /// Returns the reply without `ok`, `$clusterTime` or `operationTime` (the server
    /// layer adds those).
    ///
    /// ```
    /// use bson::doc;
    /// use mongo_sim::engine::{ExecContext, Store};
    ///
    /// let mut store = Store::new();
    /// let ctx = ExecContext::default();
    /// let reply = store.run("db", &doc! {"insert": "c", "documents": [{"_id": 1, "x": 2}]}, &ctx)?;
    /// assert_eq!(reply, doc! {"n": 1});
    /// let reply = store.run("db", &doc! {"find": "c", "filter": {"x": {"$gt": 1}}}, &ctx)?;
    /// assert_eq!(reply, doc! {"cursor": {"firstBatch": [{"_id": 1, "x": 2}], "id": 0_i64, "ns": "db.c"}});
    /// # Ok::<(), mongo_sim::engine::CommandError>(())
    /// ```
    pub fn run(&mut self, db: &str, cmd: &Document, ctx: &ExecContext) -> Result<Document, CommandError> {
        let name = cmd.keys().next().map(String::as_str).unwrap_or("");
        version_rules::check_comment(name, cmd, ctx)?;
        match name {
            "insert" => self.cmd_insert(db, cmd, ctx),
            "update" => self.cmd_update(db, cmd, ctx),
            "delete" => self.cmd_delete(db, cmd, ctx),
            // A read's (or findAndModify's) collation holds while it runs; update and
            // delete statements each carry their own.
            "find" | "findAndModify" | "findandmodify" | "aggregate" | "distinct" | "count" => {
                let collation = collation::Collation::parse(cmd.get("collation"))?;
                collation::with_collation(collation, || match name {
                    "find" => self.cmd_find(db, cmd, ctx),
                    "aggregate" => self.cmd_aggregate(db, cmd, ctx),
                    "distinct" => self.cmd_distinct(db, cmd, ctx),
                    "count" => self.cmd_count(db, cmd, ctx),
                    _ => self.cmd_find_and_modify(db, cmd, ctx),
                })
            }
            "getMore" => self.cmd_get_more(db, cmd, ctx),
            "killCursors" => self.cmd_kill_cursors(db, cmd),
            "create" => self.cmd_create(db, cmd, ctx),
            "drop" => self.cmd_drop(db, cmd, ctx),
            "dropDatabase" => self.cmd_drop_database(db, ctx),
            "listCollections" => self.cmd_list_collections(db, cmd, ctx),
            "listDatabases" if db != "admin" => Err(CommandError::new(
                13,
                "Unauthorized",
                "listDatabases may only be run against the admin database.",
            )),
            "listDatabases" => self.cmd_list_databases(cmd, ctx),
            "listIndexes" => self.cmd_list_indexes(db, cmd, ctx),
            "createIndexes" => self.cmd_create_indexes(db, cmd, ctx),
            "dropIndexes" => self.cmd_drop_indexes(db, cmd, ctx),
            "renameCollection" => self.cmd_rename_collection(cmd, ctx),
            "collStats" => self.cmd_coll_stats(db, cmd),
            "collMod" => self.cmd_coll_mod(db, cmd, ctx),
            "shardCollection" => self.cmd_shard_collection(db, cmd, ctx),
            "explain" => self.cmd_explain(db, cmd, ctx),
            "validate" => self.cmd_validate(db, cmd),
            _ => Err(CommandError::new(59, "CommandNotFound", format!("no such command: '{name}'"))),
        }
    }

    /// The session a cursor was opened in, if the cursor exists (`Some(None)`: no session).
    pub fn cursor_lsid(&self, id: i64) -> Option<Option<&Document>> {
        self.cursors.get(&id).map(|c| c.lsid.as_ref())
    }

    /// Keeps `c`, which loses its name `db.name` at `until`, for the change streams open now.
    fn retire(&mut self, db: &str, name: &str, c: Collection, until: Timestamp) {
        if self.cursors.values().any(|cur| cur.stream.is_some()) {
            self.retired.push((db.to_string(), name.to_string(), c, until));
        }
        self.named_at.remove(&(db.to_string(), name.to_string()));
    }

    /// Whether cursor `id` is a change stream (`None`: no such cursor).
    pub fn cursor_is_stream(&self, id: i64) -> Option<bool> {
        self.cursors.get(&id).map(|c| c.stream.is_some())
    }

    /// Removes cursor `id` (a getMore that failed after checking it out).
    pub fn kill_cursor(&mut self, id: i64) {
        self.cursors.remove(&id);
    }

    /// Closes every cursor opened in the session `lsid` (for `endSessions`/`killSessions`);
    /// returns how many were closed.
    pub fn kill_session_cursors(&mut self, lsid: &Document) -> usize {
        let before = self.cursors.len();
        self.cursors.retain(|_, c| c.lsid.as_ref() != Some(lsid));
        before - self.cursors.len()
    }

    /// Number of open cursors.
    pub fn open_cursors(&self) -> usize {
        self.cursors.len()
    }

    /// A collection, if it exists.
    pub fn collection(&self, db: &str, coll: &str) -> Option<&Collection> {
        self.dbs.get(db).and_then(|d| d.collections.get(coll))
    }

    /// The names of the databases that hold at least one collection.
    pub fn database_names(&self) -> Vec<String> {
        self.dbs.iter().filter(|(_, d)| !d.collections.is_empty()).map(|(n, _)| n.clone()).collect()
    }
}
