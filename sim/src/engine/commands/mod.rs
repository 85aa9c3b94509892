//! The data commands (MongoDB manual: "Database Commands" — CRUD, query and write, aggregate,
//! and the catalog commands), with mongod's reply shapes and error codes: [`Store::run`]
//! dispatches each to its family's file (`queries`, `cursors`, `writes`, `updates`,
//! `aggregation`, `catalog`, `indexes`, `diagnostics`), which share `args`, `let_vars` and
//! `reads`.

mod aggregation;
mod args;
mod catalog;
mod cursors;
mod diagnostics;
mod indexes;
mod let_vars;
mod queries;
mod reads;
mod updates;
mod writes;

use bson::Document;

use super::{CommandError, ExecContext, Store, collation, version_rules};
use args::Reply;

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
    pub fn run(&mut self, db: &str, cmd: &Document, ctx: &ExecContext) -> Reply {
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
}
