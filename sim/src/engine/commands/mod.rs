//! The data commands (MongoDB manual: "Database Commands" — CRUD, query and write, aggregate,
//! and the catalog commands), with mongod's reply shapes and error codes.

use std::collections::{BTreeMap, VecDeque};

use bson::{Bson, Document, Timestamp, doc};

use super::aggregate::Pipeline;
use super::change_stream::{DdlKind, Stream};
use super::collation::{compare_collated, equal_collated, with_collation};
use super::collection::{Collection, Index, RecordId, WriteError};
use super::compare::{num, type_name, values_equal};
use super::cursor::{Cursor, DEFAULT_BATCH, take_batch};
use super::matcher::{Filter, lookup_doc};
use super::projection::Projection;
use super::sort::SortSpec;
use super::update::{Update, UpdateEnv, parse_array_filters, upsert_base};
use super::{CommandError, ExecContext, Store, collation, find_modifiers, version_rules};

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
}

/// One update statement's outcome: (n, nModified, upserted `_id`, (before, after) of the
/// last document written).
type StmtOutcome = (i64, i64, Option<Bson>, Option<(Document, Document)>);

const DEFAULT_MAX_BSON: usize = 16 * 1024 * 1024;

fn type_mismatch(cmd: &str, field: &str, v: &Bson, expected: &str) -> CommandError {
    CommandError::new(
        14,
        "TypeMismatch",
        format!(
            "BSON field '{cmd}.{field}' is the wrong type '{}', expected type '{expected}'",
            type_name(v)
        ),
    )
}

fn cmd_name(cmd: &Document) -> &str {
    cmd.keys().next().map(String::as_str).unwrap_or("")
}

/// The collection a command names (its first value).
fn coll_name(cmd: &Document) -> Result<String, CommandError> {
    match cmd.values().next() {
        Some(Bson::String(s)) if !s.is_empty() && !s.contains('\0') => {
            if s.starts_with('$') || s.starts_with('.') || s.ends_with('.') {
                return Err(CommandError::new(
                    73,
                    "InvalidNamespace",
                    format!("Invalid collection name: {s}"),
                ));
            }
            Ok(s.clone())
        }
        Some(Bson::String(_)) => {
            Err(CommandError::new(73, "InvalidNamespace", "Invalid namespace specified"))
        }
        Some(other) => Err(CommandError::new(
            73,
            "InvalidNamespace",
            format!("collection name has invalid type {}", type_name(other)),
        )),
        None => Err(CommandError::new(73, "InvalidNamespace", "missing collection name")),
    }
}

fn opt_doc<'a>(cmd: &'a Document, field: &str) -> Result<Option<&'a Document>, CommandError> {
    match cmd.get(field) {
        None | Some(Bson::Null) => Ok(None),
        Some(Bson::Document(d)) => Ok(Some(d)),
        Some(other) => Err(type_mismatch(cmd_name(cmd), field, other, "object")),
    }
}

fn opt_bool(cmd: &Document, field: &str, default: bool) -> Result<bool, CommandError> {
    match cmd.get(field) {
        None | Some(Bson::Null) => Ok(default),
        Some(Bson::Boolean(b)) => Ok(*b),
        Some(other) => match num(other) {
            Some(n) => Ok(n.as_f64() != 0.0),
            None => Err(type_mismatch(cmd_name(cmd), field, other, "bool")),
        },
    }
}

fn opt_int(cmd: &Document, field: &str) -> Result<Option<i64>, CommandError> {
    match cmd.get(field) {
        None | Some(Bson::Null) => Ok(None),
        Some(v) => match num(v) {
            Some(n) if n.as_f64().fract() == 0.0 => Ok(Some(n.as_f64() as i64)),
            Some(_) => Err(CommandError::new(
                14,
                "TypeMismatch",
                format!("Expected field {field} to be of type integer"),
            )),
            None => Err(type_mismatch(cmd_name(cmd), field, v, "long")),
        },
    }
}

fn non_negative(cmd: &Document, field: &str) -> Result<Option<i64>, CommandError> {
    let v = opt_int(cmd, field)?;
    if let Some(n) = v.filter(|n| *n < 0) {
        return Err(CommandError::new(
            51024,
            "Location51024",
            format!("BSON field '{field}' value must be >= 0, actual value '{n}'"),
        ));
    }
    Ok(v)
}

/// The collection, statements (`documents`/`updates`/`deletes`) and `ordered` flag of a
/// write command, refusing an empty batch as mongod does.
fn write_batch<'a>(
    cmd: &'a Document,
    field: &str,
) -> Result<(String, Vec<&'a Document>, bool), CommandError> {
    let coll = coll_name(cmd)?;
    let statements = doc_array(cmd, field)?;
    let ordered = opt_bool(cmd, "ordered", true)?;
    if statements.is_empty() {
        return Err(CommandError::new(
            16,
            "InvalidLength",
            "Write batch sizes must be between 1 and 100000. Got 0 operations.",
        ));
    }
    Ok((coll, statements, ordered))
}

fn doc_array<'a>(cmd: &'a Document, field: &str) -> Result<Vec<&'a Document>, CommandError> {
    let name = cmd_name(cmd);
    match cmd.get(field) {
        Some(Bson::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, x)| match x {
                Bson::Document(d) => Ok(d),
                other => Err(type_mismatch(name, &format!("{field}.{i}"), other, "object")),
            })
            .collect(),
        Some(other) => Err(type_mismatch(name, field, other, "array")),
        None => Err(CommandError::new(
            40414,
            "Location40414",
            format!("BSON field '{name}.{field}' is missing but a required field"),
        )),
    }
}

fn write_error_doc(index: usize, e: &WriteError) -> Bson {
    let mut d = doc! {"index": index as i32, "code": e.error.code};
    for (k, v) in e.extra.iter().flat_map(|x| x.iter()) {
        d.insert(k.clone(), v.clone());
    }
    d.insert("errmsg", e.error.message.clone());
    Bson::Document(d)
}

/// Puts `_id` first, generating an ObjectId when missing.
fn with_id_first(d: &Document) -> Document {
    let mut out = Document::new();
    out.insert("_id", d.get("_id").cloned().unwrap_or_else(|| Bson::ObjectId(bson::oid::ObjectId::new())));
    for (k, v) in d {
        if k != "_id" {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

fn check_storable(doc: &Document, ctx: &ExecContext, inserting: bool) -> Result<(), WriteError> {
    match doc.get("_id") {
        Some(Bson::Array(_)) => {
            return Err(
                CommandError::new(53, "InvalidIdField", "The '_id' value cannot be of type array").into()
            );
        }
        Some(Bson::RegularExpression(_)) => {
            return Err(CommandError::new(53, "InvalidIdField", "can't use a regex for _id").into());
        }
        _ => {}
    }
    let dollar_key = doc.get_document("_id").ok().and_then(|id| id.keys().find(|k| k.starts_with('$')));
    if let Some(k) = dollar_key {
        return Err(CommandError::new(
            52,
            "DollarPrefixedFieldName",
            format!("_id fields may not contain '$'-prefixed fields: {k} is not valid for storage."),
        )
        .into());
    }
    let max = if ctx.max_bson_size == 0 { DEFAULT_MAX_BSON } else { ctx.max_bson_size };
    let size = doc.to_vec().map_or(0, |v| v.len());
    if size > max {
        // mongod's messages differ for an inserted document and an update's result.
        let e = if inserting {
            CommandError::new(
                2,
                "BadValue",
                format!("object to insert too large. size in bytes: {size}, max size: {max}"),
            )
        } else {
            CommandError::new(
                17419,
                "Location17419",
                format!("Resulting document after update is larger than {max}"),
            )
        };
        return Err(e.into());
    }
    Ok(())
}

/// Rejects a field the emulated server version does not know yet (`min_wire`: the first
/// wire version that accepts it; a context wire version of 0 means the newest server).
fn version_gate(
    ctx: &ExecContext,
    min_wire: i32,
    present: bool,
    code: i32,
    code_name: &str,
    message: &str,
) -> Result<(), CommandError> {
    if present && ctx.max_wire_version != 0 && ctx.max_wire_version < min_wire {
        return Err(CommandError::new(code, code_name, message));
    }
    Ok(())
}

/// Per-statement options of an update (from the update command or findAndModify).
struct StmtOpts {
    /// findAndModify's sort.
    sort: Option<SortSpec>,
    /// findAndModify updates one document whatever `multi` says.
    force_single: bool,
    /// `bypassDocumentValidation`.
    bypass: bool,
}

/// Checks a document against the collection's query-style `validator` (manual "Schema
/// Validation"); validators the simulator cannot evaluate (e.g. `$jsonSchema`) accept all.
fn validate_doc(c: &Collection, doc: &Document, old: Option<&Document>) -> Result<(), WriteError> {
    let Some(Bson::Document(v)) = c.options.get("validator") else { return Ok(()) };
    let level = c.options.get("validationLevel").and_then(Bson::as_str).unwrap_or("strict");
    let action = c.options.get("validationAction").and_then(Bson::as_str).unwrap_or("error");
    if level == "off" || action == "warn" {
        return Ok(());
    }
    let Ok(f) = Filter::parse(v) else { return Ok(()) };
    // "moderate": updates to documents that already fail validation are not checked.
    if level == "moderate" && old.is_some_and(|o| !f.matches(o)) {
        return Ok(());
    }
    if f.matches(doc) {
        return Ok(());
    }
    Err(WriteError {
        error: CommandError::new(121, "DocumentValidationFailure", "Document failed validation"),
        extra: Some(Box::new(doc! {"errInfo": {
            "failingDocumentId": doc.get("_id").cloned().unwrap_or(Bson::Null),
            "details": {"operatorName": "$and", "schemaRulesNotSatisfied": []},
        }})),
    })
}

/// The command's `let` variables, evaluated as constants.
fn let_vars(cmd: &Document) -> Result<Vec<(String, Bson)>, CommandError> {
    let Some(l) = opt_doc(cmd, "let")? else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for (k, e) in l {
        if !k.starts_with(|c: char| c.is_ascii_lowercase() || !c.is_ascii()) {
            return Err(CommandError::new(
                16870,
                "Location16870",
                format!("'{k}' starts with an invalid character for a user variable name"),
            ));
        }
        out.push((k.clone(), super::expr::eval(e, &Document::new())?));
    }
    Ok(out)
}

/// Binds `let` variables in an aggregation expression: each `$$name…` reference becomes a
/// `$let` over the variable's literal value.
fn subst_expr(v: &Bson, vars: &[(String, Bson)]) -> Bson {
    if vars.is_empty() {
        return v.clone();
    }
    match v {
        Bson::String(s) if s.starts_with("$$") => {
            let name = s[2..].split('.').next().unwrap_or("");
            match vars.iter().find(|(n, _)| n == name) {
                Some((n, val)) => {
                    let mut bound = Document::new();
                    bound.insert(n.clone(), doc! {"$literal": val.clone()});
                    Bson::Document(doc! {"$let": {"vars": bound, "in": s.clone()}})
                }
                None => v.clone(),
            }
        }
        Bson::Document(d) if d.contains_key("$literal") => v.clone(),
        Bson::Document(d) => {
            Bson::Document(d.iter().map(|(k, x)| (k.clone(), subst_expr(x, vars))).collect())
        }
        Bson::Array(a) => Bson::Array(a.iter().map(|x| subst_expr(x, vars)).collect()),
        other => other.clone(),
    }
}

/// Binds `let` variables in a query: only `$expr` parts refer to variables.
fn subst_filter(q: &Document, vars: &[(String, Bson)]) -> Document {
    if vars.is_empty() {
        return q.clone();
    }
    q.iter()
        .map(|(k, v)| {
            let nv = match (k.as_str(), v) {
                ("$expr", _) => subst_expr(v, vars),
                ("$and" | "$or" | "$nor", Bson::Array(items)) => Bson::Array(
                    items
                        .iter()
                        .map(|i| match i {
                            Bson::Document(d) => Bson::Document(subst_filter(d, vars)),
                            other => other.clone(),
                        })
                        .collect(),
                ),
                _ => v.clone(),
            };
            (k.clone(), nv)
        })
        .collect()
}

/// Binds `let` variables in a pipeline.
fn subst_pipeline(stages: &[Document], vars: &[(String, Bson)]) -> Vec<Document> {
    stages
        .iter()
        .map(|s| match s.get("$match") {
            Some(Bson::Document(q)) => doc! {"$match": subst_filter(q, vars)},
            _ => match subst_expr(&Bson::Document(s.clone()), vars) {
                Bson::Document(d) => d,
                _ => s.clone(),
            },
        })
        .collect()
}

/// Binds `let` variables in an update statement's query and pipeline.
fn subst_stmt(stmt: &Document, vars: &[(String, Bson)]) -> Document {
    let mut out = stmt.clone();
    if vars.is_empty() {
        return out;
    }
    if let Some(Bson::Document(q)) = stmt.get("q") {
        out.insert("q", subst_filter(q, vars));
    }
    if let Some(Bson::Array(stages)) = stmt.get("u") {
        let stages: Vec<Document> = stages.iter().filter_map(|s| s.as_document().cloned()).collect();
        out.insert("u", subst_pipeline(&stages, vars));
    }
    out
}

/// Structural checks mongod makes while parsing an update statement (command-level errors).
fn check_update_stmt(stmt: &Document) -> Result<(), CommandError> {
    match stmt.get("q") {
        Some(Bson::Document(_)) => {}
        Some(other) => return Err(type_mismatch("update.updates", "q", other, "object")),
        None => {
            return Err(CommandError::new(
                40414,
                "Location40414",
                "BSON field 'update.updates.q' is missing but a required field",
            ));
        }
    }
    match stmt.get("u") {
        Some(Bson::Document(_) | Bson::Array(_)) => {}
        Some(other) => return Err(type_mismatch("update.updates", "u", other, "object")),
        None => {
            return Err(CommandError::new(
                40414,
                "Location40414",
                "BSON field 'update.updates.u' is missing but a required field",
            ));
        }
    }
    opt_bool(stmt, "multi", false)?;
    opt_bool(stmt, "upsert", false)?;
    Ok(())
}

/// Structural checks mongod makes while parsing a delete statement (command-level errors).
fn check_delete_stmt(stmt: &Document) -> Result<(), CommandError> {
    match stmt.get("q") {
        Some(Bson::Document(_)) => {}
        Some(other) => return Err(type_mismatch("delete.deletes", "q", other, "object")),
        None => {
            return Err(CommandError::new(
                40414,
                "Location40414",
                "BSON field 'delete.deletes.q' is missing but a required field",
            ));
        }
    }
    match stmt.get("limit") {
        None => Err(CommandError::new(
            40414,
            "Location40414",
            "BSON field 'delete.deletes.limit' is missing but a required field",
        )),
        Some(v) => match num(v).map(|n| n.as_f64()) {
            Some(l) if l == 0.0 || l == 1.0 => Ok(()),
            _ => Err(CommandError::new(
                9,
                "FailedToParse",
                format!(
                    "The limit field in delete objects must be 0 or 1. Got {}",
                    super::compare::display(v)
                ),
            )),
        },
    }
}

fn filter_of(cmd: &Document, field: &str) -> Result<(Filter, Document), CommandError> {
    let q = opt_doc(cmd, field)?.cloned().unwrap_or_default();
    Ok((Filter::parse(&q)?, q))
}

impl Store {
    /// The documents a read sees (latest, or as of `ctx.read_at`); views run their pipeline.
    fn read_docs(&self, db: &str, coll: &str, ctx: &ExecContext) -> Result<Vec<Document>, CommandError> {
        self.read_docs_depth(db, coll, ctx, 0)
    }

    /// The documents a read sees that match `filter`, cloning only the matches.
    fn read_matching(
        &self,
        db: &str,
        coll: &str,
        ctx: &ExecContext,
        filter: &Filter,
    ) -> Result<Vec<Document>, CommandError> {
        match self.collection(db, coll) {
            Some(c) if !c.options.contains_key("viewOn") => {
                Ok(c.visible(ctx.read_at).filter(|d| filter.matches(d)).cloned().collect())
            }
            _ => {
                let mut all = self.read_docs(db, coll, ctx)?;
                all.retain(|d| filter.matches(d));
                Ok(all)
            }
        }
    }

    fn read_docs_depth(
        &self,
        db: &str,
        coll: &str,
        ctx: &ExecContext,
        depth: u32,
    ) -> Result<Vec<Document>, CommandError> {
        let Some(c) = self.collection(db, coll) else { return Ok(Vec::new()) };
        if let Some(Bson::String(source)) = c.options.get("viewOn") {
            if depth > 20 {
                return Err(CommandError::new(2, "BadValue", "view nesting too deep"));
            }
            let base = self.read_docs_depth(db, source, ctx, depth + 1)?;
            let stages: Vec<Document> = match c.options.get("pipeline") {
                Some(Bson::Array(a)) => a.iter().filter_map(|s| s.as_document().cloned()).collect(),
                _ => Vec::new(),
            };
            return Pipeline::parse(&stages)?.run(base, &BTreeMap::new());
        }
        Ok(c.snapshot(ctx.read_at))
    }

    fn new_cursor_id(&mut self) -> i64 {
        // Cursor ids look like mongod's: large positive 64-bit numbers.
        let id = 0x2000_0000_0000 + self.next_cursor * 7919;
        self.next_cursor += 1;
        id
    }

    /// Builds a cursor reply, keeping a cursor open when results remain.
    fn cursor_reply(
        &mut self,
        ns: String,
        docs: Vec<Document>,
        batch_size: Option<usize>,
        single_batch: bool,
        ctx: &ExecContext,
    ) -> Document {
        let mut queue: VecDeque<Document> = docs.into();
        let max = if ctx.max_bson_size == 0 { DEFAULT_MAX_BSON } else { ctx.max_bson_size };
        let batch = take_batch(&mut queue, Some(batch_size.unwrap_or(DEFAULT_BATCH)), max);
        // `batchSize: 0` asks for a cursor without running the query: mongod returns an open
        // cursor even when nothing would match.
        let deferred = batch_size == Some(0) && !single_batch;
        let id = if (queue.is_empty() && !deferred) || single_batch {
            0
        } else {
            let id = self.new_cursor_id();
            self.cursors.insert(
                id,
                Cursor {
                    ns: ns.clone(),
                    docs: queue,
                    lsid: ctx.lsid.clone(),
                    read_at: ctx.read_at,
                    stream: None,
                },
            );
            id
        };
        doc! {"cursor": {"firstBatch": batch, "id": id, "ns": ns}}
    }

    /// Rejects a `hint` naming no existing index (manual "cursor.hint()"); a missing
    /// collection accepts any hint, as mongod's EOF plan does.
    fn check_hint(&self, db: &str, coll: &str, hint: Option<&Bson>) -> Result<(), CommandError> {
        let Some(c) = self.collection(db, coll) else { return Ok(()) };
        let ok = match hint {
            None | Some(Bson::Null) => true,
            Some(Bson::String(name)) => c.indexes.iter().any(|i| i.name == *name),
            Some(Bson::Document(key)) => {
                key.is_empty() || key.contains_key("$natural") || c.indexes.iter().any(|i| i.key == *key)
            }
            Some(other) => {
                return Err(CommandError::new(
                    9,
                    "FailedToParse",
                    format!("hint must be a string or an object, not {}", type_name(other)),
                ));
            }
        };
        if ok {
            Ok(())
        } else {
            Err(CommandError::new(
                2,
                "BadValue",
                "error processing query: planner returned error :: caused by :: hint provided does not correspond to an existing index",
            ))
        }
    }

    pub(super) fn cmd_find(
        &mut self,
        db: &str,
        cmd: &Document,
        ctx: &ExecContext,
    ) -> Result<Document, CommandError> {
        let coll = coll_name(cmd)?;
        version_gate(
            ctx,
            13,
            cmd.contains_key("let"),
            9,
            "FailedToParse",
            "Failed to parse: find. Unrecognized field 'let'.",
        )?;
        version_gate(
            ctx,
            9,
            cmd.contains_key("allowDiskUse"),
            9,
            "FailedToParse",
            "Failed to parse: find. Unrecognized field 'allowDiskUse'.",
        )?;
        let vars = let_vars(cmd)?;
        let q = subst_filter(&opt_doc(cmd, "filter")?.cloned().unwrap_or_default(), &vars);
        let filter = Filter::parse(&q)?;
        self.check_hint(db, &coll, cmd.get("hint"))?;
        // The positional projection `{"arr.$": 1}` keeps the first element the query matched.
        let mut positional: Option<String> = None;
        let projection_spec = opt_doc(cmd, "projection")?.filter(|p| !p.is_empty()).map(|p| {
            p.iter()
                .map(|(k, v)| match k.strip_suffix(".$") {
                    Some(prefix) => {
                        positional = Some(prefix.to_string());
                        (prefix.to_string(), v.clone())
                    }
                    None => (k.clone(), v.clone()),
                })
                .collect::<Document>()
        });
        let projection = projection_spec.as_ref().map(Projection::parse).transpose()?;
        let sort = opt_doc(cmd, "sort")?.map(SortSpec::parse).transpose()?.unwrap_or_default();
        let skip = non_negative(cmd, "skip")?.unwrap_or(0) as usize;
        let limit = opt_int(cmd, "limit")?;
        let batch_size = non_negative(cmd, "batchSize")?;
        let mut single_batch = opt_bool(cmd, "singleBatch", false)?;
        let limit = match limit {
            Some(l) if l < 0 => {
                single_batch = true;
                Some(l.unsigned_abs() as usize)
            }
            Some(0) | None => None,
            Some(l) => Some(l as usize),
        };
        let mut docs = match (ctx.read_at, q.len(), q.get("_id")) {
            // Point lookup through the `_id` index.
            (None, 1, Some(id))
                if !matches!(id, Bson::Document(_) | Bson::RegularExpression(_) | Bson::Array(_)) =>
            {
                self.collection(db, &coll)
                    .and_then(|c| c.by_id(id))
                    .map(|(_, d)| vec![d.clone()])
                    .unwrap_or_default()
            }
            _ => self.read_matching(db, &coll, ctx, &filter)?,
        };
        if matches!(opt_doc(cmd, "sort")?.and_then(|s| s.get("$natural")).and_then(num), Some(n) if n.as_f64() < 0.0)
        {
            docs.reverse();
        }
        sort.sort(&mut docs);
        let docs: Vec<Document> = docs.into_iter().skip(skip).take(limit.unwrap_or(usize::MAX)).collect();
        let return_key = opt_bool(cmd, "returnKey", false)?;
        let show_record_id = opt_bool(cmd, "showRecordId", false)?;
        let plain = self.collection(db, &coll).filter(|c| !c.options.contains_key("viewOn"));
        // `returnKey` replaces each result by its key in the scanned index, whatever the projection.
        let key_index = match (return_key, plain) {
            (true, Some(c)) => find_modifiers::planned_index(c, &q, opt_doc(cmd, "sort")?, cmd.get("hint")),
            _ => None,
        };
        let record_ids: Vec<Option<RecordId>> = match (show_record_id && !return_key, plain) {
            (true, Some(c)) => {
                docs.iter().map(|d| d.get("_id").and_then(|id| c.by_id(id)).map(|(rid, _)| rid)).collect()
            }
            _ => Vec::new(),
        };
        let docs = match &projection {
            _ if return_key => docs.iter().map(|d| find_modifiers::index_key(key_index, d)).collect(),
            Some(p) => docs
                .iter()
                .map(|d| {
                    let mut out = p.apply(d)?;
                    if let Some(prefix) = &positional {
                        let parts: Vec<&str> = prefix.split('.').chain(std::iter::once("$")).collect();
                        let i = super::update::positional_match(d, &parts, &q)?;
                        if let (Some(i), Some(Bson::Array(a))) = (i, super::matcher::get_path(d, prefix)) {
                            super::aggregate::set_path(
                                &mut out,
                                prefix,
                                Bson::Array(a.get(i).cloned().into_iter().collect()),
                            );
                        }
                    }
                    Ok(out)
                })
                .collect::<Result<_, CommandError>>()?,
            None => docs,
        };
        let docs = if record_ids.is_empty() {
            docs
        } else {
            docs.into_iter()
                .zip(record_ids)
                .map(|(d, rid)| match rid {
                    Some(rid) => find_modifiers::with_record_id(d, rid),
                    None => d,
                })
                .collect()
        };
        let batch = match (batch_size, limit, single_batch) {
            (Some(b), _, _) => Some(b as usize),
            (None, Some(l), true) => Some(l),
            _ => None,
        };
        Ok(self.cursor_reply(format!("{db}.{coll}"), docs, batch, single_batch, ctx))
    }

    pub(super) fn cmd_get_more(
        &mut self,
        db: &str,
        cmd: &Document,
        ctx: &ExecContext,
    ) -> Result<Document, CommandError> {
        let id = match cmd.get("getMore") {
            Some(Bson::Int64(i)) => *i,
            Some(Bson::Int32(i)) => i64::from(*i),
            Some(other) => return Err(type_mismatch("getMore", "getMore", other, "long")),
            None => return Err(CommandError::new(9, "FailedToParse", "getMore needs a cursor id")),
        };
        let coll = match cmd.get("collection") {
            Some(Bson::String(s)) => s.clone(),
            Some(other) => return Err(type_mismatch("getMore", "collection", other, "string")),
            None => {
                return Err(CommandError::new(
                    40414,
                    "Location40414",
                    "BSON field 'getMore.collection' is missing but a required field",
                ));
            }
        };
        let batch_size = non_negative(cmd, "batchSize")?.filter(|b| *b > 0).map(|b| b as usize);
        let ns = format!("{db}.{coll}");
        let Some(cursor) = self.cursors.get_mut(&id) else {
            return Err(CommandError::new(43, "CursorNotFound", format!("cursor id {id} not found")));
        };
        if cursor.ns != ns && !cursor.ns.starts_with(&format!("{db}.$cmd")) {
            return Err(CommandError::new(
                13,
                "Unauthorized",
                format!(
                    "Requested getMore on namespace '{ns}', but cursor belongs to a different namespace {}",
                    cursor.ns
                ),
            ));
        }
        if cursor.lsid.is_some() && cursor.lsid != ctx.lsid {
            return Err(CommandError::new(
                50738,
                "Location50738",
                format!("Cannot run getMore on cursor {id}, which was created in a different session"),
            ));
        }
        if let Some(stream) = cursor.stream.take() {
            // A change stream stays open; each getMore returns the events since the last one.
            let result = self.stream_events(&stream, batch_size);
            let Some(cursor) = self.cursors.get_mut(&id) else {
                return Err(CommandError::new(43, "CursorNotFound", format!("cursor id {id} not found")));
            };
            let ns = cursor.ns.clone();
            let (batch, pos, invalidated) = match result {
                Ok(r) => r,
                Err(e) => {
                    cursor.stream = Some(stream);
                    return Err(e);
                }
            };
            let resume = super::change_stream::token(&pos);
            cursor.stream = Some(super::change_stream::Stream { pos, ..stream });
            let id = if invalidated {
                self.cursors.remove(&id);
                0
            } else {
                id
            };
            return Ok(
                doc! {"cursor": {"nextBatch": batch, "postBatchResumeToken": resume, "id": id, "ns": ns}},
            );
        }
        let max = if ctx.max_bson_size == 0 { DEFAULT_MAX_BSON } else { ctx.max_bson_size };
        let batch = take_batch(&mut cursor.docs, batch_size, max);
        let ns = cursor.ns.clone();
        let exhausted = cursor.docs.is_empty();
        if exhausted {
            self.cursors.remove(&id);
        }
        Ok(doc! {"cursor": {"nextBatch": batch, "id": if exhausted { 0 } else { id }, "ns": ns}})
    }

    pub(super) fn cmd_kill_cursors(&mut self, _db: &str, cmd: &Document) -> Result<Document, CommandError> {
        // Cursors of a database- or cluster-level aggregate (a `$changeStream` on a database)
        // live on the collectionless namespace `<db>.$cmd.aggregate`, which mongod accepts
        // here (NamespaceString::isCollectionlessAggregateNS, src/mongo/db/namespace_string.h).
        if cmd.get_str("killCursors").ok() != Some("$cmd.aggregate") {
            coll_name(cmd)?;
        }
        let ids = match cmd.get("cursors") {
            Some(Bson::Array(a)) => a.clone(),
            Some(other) => return Err(type_mismatch("killCursors", "cursors", other, "array")),
            None => {
                return Err(CommandError::new(
                    40414,
                    "Location40414",
                    "BSON field 'killCursors.cursors' is missing but a required field",
                ));
            }
        };
        let (mut killed, mut not_found) = (Vec::new(), Vec::new());
        for v in ids {
            let id = match v {
                Bson::Int64(i) => i,
                Bson::Int32(i) => i64::from(i),
                other => return Err(type_mismatch("killCursors", "cursors", &other, "long")),
            };
            if self.cursors.remove(&id).is_some() {
                killed.push(Bson::Int64(id));
            } else {
                not_found.push(Bson::Int64(id));
            }
        }
        Ok(doc! {
            "cursorsKilled": killed,
            "cursorsNotFound": not_found,
            "cursorsAlive": Vec::<Bson>::new(),
            "cursorsUnknown": Vec::<Bson>::new(),
        })
    }

    pub(super) fn cmd_insert(
        &mut self,
        db: &str,
        cmd: &Document,
        ctx: &ExecContext,
    ) -> Result<Document, CommandError> {
        let (coll, docs, ordered) = write_batch(cmd, "documents")?;
        let bypass = opt_bool(cmd, "bypassDocumentValidation", false)?;
        let ts = self.stamp(ctx);
        let ns = format!("{db}.{coll}");
        let c = self.coll_mut(db, &coll, ts);
        if c.options.contains_key("viewOn") {
            return Err(CommandError::new(
                166,
                "CommandNotSupportedOnView",
                format!("Namespace {ns} is a view, not a collection"),
            ));
        }
        let mut n = 0;
        let mut errors = Vec::new();
        for (i, d) in docs.into_iter().enumerate() {
            let d = with_id_first(d);
            let r = check_storable(&d, ctx, true)
                .and_then(|()| Ok(version_rules::check_inserted_names(&d, ctx)?))
                .and_then(|()| if bypass { Ok(()) } else { validate_doc(c, &d, None) })
                .and_then(|()| c.insert(&ns, d, ts).map(|_| ()));
            match r {
                Ok(()) => n += 1,
                Err(e) => {
                    errors.push(write_error_doc(i, &e));
                    if ordered {
                        break;
                    }
                }
            }
        }
        let mut reply = doc! {"n": n};
        if !errors.is_empty() {
            reply.insert("writeErrors", errors);
        }
        Ok(reply)
    }

    /// Documents matching `filter`, in natural order (or sorted), as record ids.
    fn matching(
        &self,
        db: &str,
        coll: &str,
        filter: &Filter,
        q: &Document,
        sort: Option<&SortSpec>,
        first_only: bool,
    ) -> Vec<RecordId> {
        let Some(c) = self.collection(db, coll) else { return Vec::new() };
        if let (1, Some(id)) = (
            q.len(),
            q.get("_id")
                .filter(|id| !matches!(id, Bson::Document(_) | Bson::RegularExpression(_) | Bson::Array(_))),
        ) {
            return c.by_id(id).map(|(rid, _)| vec![rid]).unwrap_or_default();
        }
        match sort.filter(|s| !s.is_empty()) {
            Some(s) => {
                let mut hits: Vec<(RecordId, &Document)> =
                    c.iter().filter(|(_, d)| filter.matches(d)).collect();
                hits.sort_by(|a, b| s.compare(a.1, b.1));
                let mut ids: Vec<RecordId> = hits.into_iter().map(|(i, _)| i).collect();
                if first_only {
                    ids.truncate(1);
                }
                ids
            }
            None => {
                let it = c.iter().filter(|(_, d)| filter.matches(d)).map(|(i, _)| i);
                if first_only { it.take(1).collect() } else { it.collect() }
            }
        }
    }

    /// Applies one update statement; returns (n, nModified, upserted _id).
    #[allow(clippy::too_many_arguments)]
    fn update_one_stmt(
        &mut self,
        db: &str,
        coll: &str,
        stmt: &Document,
        ts: Timestamp,
        ctx: &ExecContext,
        opts: &StmtOpts,
    ) -> Result<StmtOutcome, WriteError> {
        let (sort, force_single) = (opts.sort.as_ref(), opts.force_single);
        let q = match stmt.get("q") {
            Some(Bson::Document(d)) => d.clone(),
            Some(other) => return Err(type_mismatch("update.updates", "q", other, "object").into()),
            None => {
                return Err(CommandError::new(
                    40414,
                    "Location40414",
                    "BSON field 'update.updates.q' is missing but a required field",
                )
                .into());
            }
        };
        let Some(u) = stmt.get("u") else {
            return Err(CommandError::new(
                40414,
                "Location40414",
                "BSON field 'update.updates.u' is missing but a required field",
            )
            .into());
        };
        let filter = Filter::parse(&q)?;
        let update = Update::parse(u)?;
        self.check_hint(db, coll, stmt.get("hint"))?;
        let multi = !force_single && opt_bool(stmt, "multi", false)?;
        let upsert = opt_bool(stmt, "upsert", false)?;
        if multi && update.is_replacement() {
            return Err(CommandError::new(
                9,
                "FailedToParse",
                "multi update is not supported for replacement-style update",
            )
            .into());
        }
        let array_filters = match stmt.get("arrayFilters") {
            Some(Bson::Array(a)) => parse_array_filters(a)?,
            None | Some(Bson::Null) => Vec::new(),
            Some(other) => return Err(type_mismatch("update.updates", "arrayFilters", other, "array").into()),
        };
        let env = UpdateEnv { query: Some(&q), array_filters, inserting: false, now_ts: Some(ts) };
        let ns = format!("{db}.{coll}");
        let ids = self.matching(db, coll, &filter, &q, sort, !multi);
        let (mut n, mut modified) = (0, 0);
        let mut last: Option<(Document, Document)> = None;
        if !ids.is_empty() {
            let c = self.coll_mut(db, coll, ts);
            for rid in ids {
                let Some(old) = c.get(rid).cloned() else { continue };
                let new = update.apply(&old, &env)?;
                n += 1;
                if update.is_replacement() {
                    version_rules::check_replacement_names(&new, ctx)?;
                }
                if new != old {
                    check_storable(&new, ctx, false)?;
                    if !opts.bypass {
                        validate_doc(c, &new, Some(&old))?;
                    }
                    if update.is_replacement() {
                        c.replace_whole(&ns, rid, new.clone(), ts)?;
                    } else {
                        c.replace(&ns, rid, new.clone(), ts)?;
                    }
                    modified += 1;
                }
                last = Some((old, new));
            }
            return Ok((n, modified, None, last));
        }
        if !upsert {
            return Ok((0, 0, None, None));
        }
        let env = UpdateEnv { inserting: true, ..env };
        let base = upsert_base(&q)?;
        let mut new = match &update {
            Update::Replacement(r) => {
                let mut d = r.clone();
                if let (false, Some(id)) = (d.contains_key("_id"), base.get("_id")) {
                    d.insert("_id", id.clone());
                }
                d
            }
            _ => update.apply(&base, &env)?,
        };
        if base.get("_id").zip(new.get("_id")).is_some_and(|(a, b)| !values_equal(a, b)) {
            return Err(CommandError::new(
                66,
                "ImmutableField",
                "Performing an update on the path '_id' would modify the immutable field '_id'",
            )
            .into());
        }
        new = with_id_first(&new);
        check_storable(&new, ctx, true)?;
        if update.is_replacement() {
            version_rules::check_replacement_names(&new, ctx)?;
        }
        if let (false, Some(c)) = (opts.bypass, self.collection(db, coll)) {
            validate_doc(c, &new, None)?;
        }
        let id = new.get("_id").cloned().unwrap_or(Bson::Null);
        self.coll_mut(db, coll, ts).insert(&ns, new.clone(), ts)?;
        Ok((1, 0, Some(id), Some((Document::new(), new))))
    }

    pub(super) fn cmd_update(
        &mut self,
        db: &str,
        cmd: &Document,
        ctx: &ExecContext,
    ) -> Result<Document, CommandError> {
        let (coll, stmts, ordered) = write_batch(cmd, "updates")?;
        stmts.iter().try_for_each(|s| check_update_stmt(s))?;
        self.reject_view(db, &coll)?;
        let ts = self.stamp(ctx);
        let opts = StmtOpts {
            sort: None,
            force_single: false,
            bypass: opt_bool(cmd, "bypassDocumentValidation", false)?,
        };
        version_gate(
            ctx,
            13,
            cmd.contains_key("let"),
            40415,
            "Location40415",
            "BSON field 'update.let' is an unknown field.",
        )?;
        version_gate(
            ctx,
            8,
            stmts.iter().any(|s| s.contains_key("hint")),
            40415,
            "Location40415",
            "BSON field 'update.updates.hint' is an unknown field.",
        )?;
        let vars = let_vars(cmd)?;
        let (mut n, mut modified) = (0i64, 0i64);
        let mut upserted = Vec::new();
        let mut errors = Vec::new();
        for (i, stmt) in stmts.into_iter().enumerate() {
            let stmt = subst_stmt(stmt, &vars);
            let result = super::collation::Collation::parse(stmt.get("collation"))
                .map_err(WriteError::from)
                .and_then(|collation| {
                    with_collation(collation, || self.update_one_stmt(db, &coll, &stmt, ts, ctx, &opts))
                });
            match result {
                Ok((sn, sm, up, _)) => {
                    n += sn;
                    modified += sm;
                    if let Some(id) = up {
                        upserted.push(Bson::Document(doc! {"index": i as i32, "_id": id}));
                    }
                }
                Err(e) => {
                    errors.push(write_error_doc(i, &e));
                    if ordered {
                        break;
                    }
                }
            }
        }
        let mut reply = doc! {"n": n as i32, "nModified": modified as i32};
        if !upserted.is_empty() {
            reply.insert("upserted", upserted);
        }
        if !errors.is_empty() {
            reply.insert("writeErrors", errors);
        }
        Ok(reply)
    }

    fn reject_view(&self, db: &str, coll: &str) -> Result<(), CommandError> {
        if self.collection(db, coll).is_some_and(|c| c.options.contains_key("viewOn")) {
            return Err(CommandError::new(
                166,
                "CommandNotSupportedOnView",
                format!("Namespace {db}.{coll} is a view, not a collection"),
            ));
        }
        Ok(())
    }

    pub(super) fn cmd_delete(
        &mut self,
        db: &str,
        cmd: &Document,
        ctx: &ExecContext,
    ) -> Result<Document, CommandError> {
        let (coll, stmts, ordered) = write_batch(cmd, "deletes")?;
        stmts.iter().try_for_each(|s| check_delete_stmt(s))?;
        version_gate(
            ctx,
            13,
            cmd.contains_key("let"),
            40415,
            "Location40415",
            "BSON field 'delete.let' is an unknown field.",
        )?;
        version_gate(
            ctx,
            9,
            stmts.iter().any(|s| s.contains_key("hint")),
            40415,
            "Location40415",
            "BSON field 'delete.deletes.hint' is an unknown field.",
        )?;
        let vars = let_vars(cmd)?;
        self.reject_view(db, &coll)?;
        let ts = self.stamp(ctx);
        let mut n = 0i64;
        let mut errors = Vec::new();
        for (i, stmt) in stmts.into_iter().enumerate() {
            let r: Result<i64, CommandError> = (|| {
                let q = match stmt.get("q") {
                    Some(Bson::Document(d)) => d.clone(),
                    Some(other) => return Err(type_mismatch("delete.deletes", "q", other, "object")),
                    None => {
                        return Err(CommandError::new(
                            40414,
                            "Location40414",
                            "BSON field 'delete.deletes.q' is missing but a required field",
                        ));
                    }
                };
                let limit = match stmt.get("limit") {
                    None => {
                        return Err(CommandError::new(
                            40414,
                            "Location40414",
                            "BSON field 'delete.deletes.limit' is missing but a required field",
                        ));
                    }
                    Some(v) => match num(v).map(|n| n.as_f64()) {
                        Some(l) if l == 0.0 || l == 1.0 => l as i64,
                        _ => {
                            return Err(CommandError::new(
                                9,
                                "FailedToParse",
                                format!(
                                    "The limit field in delete objects must be 0 or 1. Got {}",
                                    super::compare::display(v)
                                ),
                            ));
                        }
                    },
                };
                let q = subst_filter(&q, &vars);
                let filter = Filter::parse(&q)?;
                self.check_hint(db, &coll, stmt.get("hint"))?;
                let collation = super::collation::Collation::parse(stmt.get("collation"))?;
                let ids =
                    with_collation(collation, || self.matching(db, &coll, &filter, &q, None, limit == 1));
                let count = ids.len() as i64;
                if let Some(c) = self.existing_mut(db, &coll) {
                    for rid in ids {
                        c.delete(rid, ts);
                    }
                }
                Ok(count)
            })();
            match r {
                Ok(c) => n += c,
                Err(e) => {
                    errors.push(write_error_doc(i, &e.into()));
                    if ordered {
                        break;
                    }
                }
            }
        }
        let mut reply = doc! {"n": n as i32};
        if !errors.is_empty() {
            reply.insert("writeErrors", errors);
        }
        Ok(reply)
    }

    pub(super) fn cmd_find_and_modify(
        &mut self,
        db: &str,
        cmd: &Document,
        ctx: &ExecContext,
    ) -> Result<Document, CommandError> {
        let coll = coll_name(cmd)?;
        version_gate(
            ctx,
            13,
            cmd.contains_key("let"),
            40415,
            "Location40415",
            "BSON field 'let' is an unknown field.",
        )?;
        version_gate(
            ctx,
            9,
            cmd.contains_key("hint"),
            40415,
            "Location40415",
            "BSON field 'findAndModify.hint' is an unknown field.",
        )?;
        let vars = let_vars(cmd)?;
        let q = subst_filter(&opt_doc(cmd, "query")?.cloned().unwrap_or_default(), &vars);
        let filter = Filter::parse(&q)?;
        self.check_hint(db, &coll, cmd.get("hint"))?;
        let sort = opt_doc(cmd, "sort")?.map(SortSpec::parse).transpose()?.unwrap_or_default();
        let fields = opt_doc(cmd, "fields")?.filter(|p| !p.is_empty()).map(Projection::parse).transpose()?;
        let remove = opt_bool(cmd, "remove", false)?;
        let new = opt_bool(cmd, "new", false)?;
        let upsert = opt_bool(cmd, "upsert", false)?;
        let update = cmd.get("update").filter(|u| !matches!(u, Bson::Null));
        match (remove, update.is_some()) {
            (true, true) => {
                return Err(CommandError::new(
                    9,
                    "FailedToParse",
                    "Cannot specify both an update and remove=true",
                ));
            }
            (false, false) => {
                return Err(CommandError::new(
                    9,
                    "FailedToParse",
                    "Either an update or remove=true must be specified",
                ));
            }
            _ => {}
        }
        if remove && (new || upsert) {
            return Err(CommandError::new(
                9,
                "FailedToParse",
                "Cannot specify both new=true and remove=true; 'remove' always returns the deleted document",
            ));
        }
        self.reject_view(db, &coll)?;
        let project = |d: Document| -> Result<Bson, CommandError> {
            Ok(Bson::Document(match &fields {
                Some(p) => p.apply(&d)?,
                None => d,
            }))
        };
        let ts = self.stamp(ctx);
        if remove {
            let ids = self.matching(db, &coll, &filter, &q, Some(&sort), true);
            let mut value = Bson::Null;
            if let (Some(rid), Some(c)) = (ids.first(), self.existing_mut(db, &coll)) {
                if let Some(d) = c.get(*rid).cloned() {
                    c.delete(*rid, ts);
                    value = project(d)?;
                }
            }
            let n = i32::from(!matches!(value, Bson::Null));
            return Ok(doc! {"lastErrorObject": {"n": n}, "value": value});
        }
        let mut stmt =
            doc! {"q": q, "u": update.cloned().unwrap_or(Bson::Null), "upsert": upsert, "multi": false};
        stmt = subst_stmt(&stmt, &vars);
        if let Some(af) = cmd.get("arrayFilters") {
            stmt.insert("arrayFilters", af.clone());
        }
        let (n, _, upserted, docs) = self
            .update_one_stmt(
                db,
                &coll,
                &stmt,
                ts,
                ctx,
                &StmtOpts {
                    sort: Some(sort.clone()),
                    force_single: true,
                    bypass: opt_bool(cmd, "bypassDocumentValidation", false)?,
                },
            )
            .map_err(CommandError::from)?;
        let value = match docs {
            Some((old, newd)) => {
                if new {
                    project(newd)?
                } else if upserted.is_some() {
                    Bson::Null
                } else {
                    project(old)?
                }
            }
            None => Bson::Null,
        };
        let mut leo = doc! {"n": n as i32, "updatedExisting": n > 0 && upserted.is_none()};
        if let Some(id) = upserted {
            leo.insert("upserted", id);
        }
        Ok(doc! {"lastErrorObject": leo, "value": value})
    }

    pub(super) fn cmd_aggregate(
        &mut self,
        db: &str,
        cmd: &Document,
        ctx: &ExecContext,
    ) -> Result<Document, CommandError> {
        let coll = match cmd.get("aggregate") {
            Some(Bson::String(_)) => Some(coll_name(cmd)?),
            Some(v) if num(v).is_some_and(|n| n.as_f64() == 1.0) => None,
            Some(other) => {
                return Err(CommandError::new(
                    73,
                    "InvalidNamespace",
                    format!("collection name has invalid type {}", type_name(other)),
                ));
            }
            None => None,
        };
        let stages: Vec<Document> = doc_array(cmd, "pipeline")?.into_iter().cloned().collect();
        version_gate(ctx, 13, cmd.contains_key("let"), 9, "FailedToParse", "unrecognized field 'let'")?;
        let stages = subst_pipeline(&stages, &let_vars(cmd)?);
        if opt_bool(cmd, "explain", false)? {
            return Err(CommandError::new(2, "BadValue", "explain is not supported by the simulator"));
        }
        let batch_size = match cmd.get("cursor") {
            Some(Bson::Document(c)) => non_negative(c, "batchSize")?,
            Some(other) => return Err(type_mismatch("aggregate", "cursor", other, "object")),
            None => {
                return Err(CommandError::new(
                    9,
                    "FailedToParse",
                    "The 'cursor' option is required, except for aggregate with the explain argument",
                ));
            }
        };
        if let Some(Bson::Document(spec)) = stages.first().and_then(|st| st.get("$changeStream")) {
            let spec = spec.clone();
            let mut stream = Stream::open(
                db,
                coll.as_deref(),
                &spec,
                &stages[1..],
                ctx.max_wire_version,
                self.last_write,
            )?;
            let (first, pos, invalidated) = self.stream_events(&stream, batch_size.map(|b| b as usize))?;
            stream.pos = pos;
            let ns = match &coll {
                Some(c) => format!("{db}.{c}"),
                None => format!("{db}.$cmd.aggregate"),
            };
            let resume = super::change_stream::token(&stream.pos);
            if invalidated {
                return Ok(
                    doc! {"cursor": {"firstBatch": first, "postBatchResumeToken": resume, "id": 0_i64, "ns": ns}},
                );
            }
            let id = self.new_cursor_id();
            self.cursors.insert(
                id,
                Cursor {
                    ns: ns.clone(),
                    docs: VecDeque::new(),
                    lsid: ctx.lsid.clone(),
                    read_at: None,
                    stream: Some(stream),
                },
            );
            return Ok(
                doc! {"cursor": {"firstBatch": first, "postBatchResumeToken": resume, "id": id, "ns": ns}},
            );
        }
        // Collectionless first stages produce the input themselves.
        let mut stages = stages;
        let mut generated: Option<Vec<Document>> = None;
        match stages.first().and_then(|s| s.iter().next()).map(|(k, v)| (k.clone(), v.clone())) {
            Some((name, arg)) if name == "$documents" => {
                let Bson::Array(items) = arg else {
                    return Err(CommandError::new(
                        5858203,
                        "Location5858203",
                        "$documents requires an array of objects",
                    ));
                };
                generated = Some(items.iter().filter_map(|d| d.as_document().cloned()).collect());
                stages.remove(0);
            }
            Some((name, arg)) if name == "$collStats" => {
                let (Some(c), Bson::Document(spec)) = (&coll, &arg) else {
                    return Err(CommandError::new(
                        5447000,
                        "Location5447000",
                        "$collStats must be the first stage of a collection aggregate and take an object",
                    ));
                };
                let stats = self.coll_stats(db, c, 1)?;
                let mut out =
                    doc! {"ns": format!("{db}.{c}"), "host": "mongo-sim", "localTime": bson::DateTime::now()};
                if spec.contains_key("count") {
                    out.insert("count", stats.get("count").cloned().unwrap_or(Bson::Int32(0)));
                }
                if spec.contains_key("storageStats") {
                    out.insert("storageStats", stats);
                }
                generated = Some(vec![out]);
                stages.remove(0);
            }
            Some((name, _)) if name == "$listLocalSessions" => {
                // The engine knows only the command's own session (the server's session cache
                // is not visible here); mongod lists every cached session.
                let sessions: Vec<Document> = ctx
                    .lsid
                    .iter()
                    .map(|l| doc! {"_id": l.clone(), "lastUse": bson::DateTime::now()})
                    .collect();
                generated = Some(sessions);
                stages.remove(0);
            }
            Some((name, _)) if coll.is_none() => {
                return Err(CommandError::new(
                    73,
                    "InvalidNamespace",
                    format!("{{aggregate: 1}} is not valid for '{name}'; a collection is required."),
                ));
            }
            _ => {}
        }
        let pipeline = Pipeline::parse(&stages)?;
        self.check_hint(db, coll.as_deref().unwrap_or(""), cmd.get("hint"))?;
        let input = match (generated, &coll) {
            (Some(docs), _) => docs,
            // A leading $match filters while reading (it runs again in the pipeline, harmlessly).
            (None, Some(c)) => match stages.first().and_then(|st| st.get("$match")) {
                Some(Bson::Document(q)) => self.read_matching(db, c, ctx, &Filter::parse(q)?)?,
                _ => self.read_docs(db, c, ctx)?,
            },
            (None, None) => Vec::new(),
        };
        let mut foreign = BTreeMap::new();
        for from in pipeline.lookups() {
            let docs = self.read_docs(db, &from, ctx)?;
            foreign.insert(from, docs);
        }
        let out = pipeline.run(input, &foreign)?;
        let ns = match &coll {
            Some(c) => format!("{db}.{c}"),
            None => format!("{db}.$cmd.aggregate"),
        };
        let linearizable = cmd
            .get_document("readConcern")
            .ok()
            .and_then(|rc| rc.get_str("level").ok())
            .is_some_and(|l| l == "linearizable");
        if linearizable && pipeline.out_target().is_some() {
            return Err(CommandError::new(
                72,
                "InvalidOptions",
                "$out and $merge cannot be used with readConcern level 'linearizable'",
            ));
        }
        if let Some(target) = pipeline.out_target().cloned() {
            let tdb = target.db.clone().unwrap_or_else(|| db.to_string());
            let ts = self.stamp(ctx);
            let tns = format!("{tdb}.{}", target.coll);
            let c = self.coll_mut(&tdb, &target.coll, ts);
            if !target.merge {
                c.clear(ts);
            }
            for d in out {
                let d = with_id_first(&d);
                if !target.merge {
                    c.insert(&tns, d, ts).map_err(CommandError::from)?;
                    continue;
                }
                // $merge: find the target document by the `on` fields.
                let existing = if target.on == ["_id"] {
                    d.get("_id").and_then(|id| c.by_id(id)).map(|(rid, _)| rid)
                } else {
                    c.iter()
                        .find(|(_, o)| {
                            target.on.iter().all(|f| {
                                let a = super::matcher::get_path(&d, f).unwrap_or(&Bson::Null);
                                let b = super::matcher::get_path(o, f).unwrap_or(&Bson::Null);
                                values_equal(a, b)
                            })
                        })
                        .map(|(rid, _)| rid)
                };
                let fail = |what: &str| {
                    CommandError::new(
                        if what == "matched" { 11000 } else { 13113 },
                        if what == "matched" { "DuplicateKey" } else { "MergeStageNoMatchingDocument" },
                        format!("$merge failed: document {what} in {tns}"),
                    )
                };
                match (existing, target.when_matched.as_str(), target.when_not_matched.as_str()) {
                    (Some(_), "keepExisting", _) => {}
                    // whenMatched "fail" is an insert (jstests/aggregation/sources/merge/
                    // mode_fail_insert.js): the `on` fields' unique index refuses it with its
                    // DuplicateKey error, keyPattern/keyValue included (SERVER-59097, 5.1+).
                    (Some(_), "fail", _) => {
                        return Err(match c.check_unique(&tns, &d, None) {
                            Err(e) => e.into(),
                            Ok(()) => fail("matched"),
                        });
                    }
                    (Some(rid), mode, _) => {
                        let Some(old) = c.get(rid).cloned() else { continue };
                        let mut new = if mode == "merge" { old.clone() } else { Document::new() };
                        if let Some(id) = old.get("_id") {
                            new.insert("_id", id.clone());
                        }
                        for (k, v) in d {
                            if k != "_id" {
                                new.insert(k, v);
                            }
                        }
                        let r = if mode == "replace" {
                            c.replace_whole(&tns, rid, new, ts)
                        } else {
                            c.replace(&tns, rid, new, ts)
                        };
                        r.map_err(CommandError::from)?;
                    }
                    (None, _, "discard") => {}
                    (None, _, "fail") => return Err(fail("not matched")),
                    (None, _, _) => {
                        c.insert(&tns, d, ts).map_err(CommandError::from)?;
                    }
                }
            }
            return Ok(doc! {"cursor": {"firstBatch": Vec::<Bson>::new(), "id": 0_i64, "ns": ns}});
        }
        Ok(self.cursor_reply(ns, out, batch_size.map(|b| b as usize), false, ctx))
    }

    /// `collStats`-style statistics of a collection (sizes divided by `scale`).
    fn coll_stats(&self, db: &str, coll: &str, scale: i64) -> Result<Document, CommandError> {
        let Some(c) = self.collection(db, coll) else {
            return Err(CommandError::new(
                26,
                "NamespaceNotFound",
                format!("Collection [{db}.{coll}] not found."),
            ));
        };
        let scale = scale.max(1);
        let size = c.data_size() as i64;
        let count = c.len() as i64;
        let mut out = doc! {
            "ns": format!("{db}.{coll}"),
            "size": size / scale,
            "count": count as i32,
            "avgObjSize": if count == 0 { 0 } else { size / count },
            "storageSize": ((size / 4096 + 1) * 4096) / scale,
            "capped": c.options.get("capped").is_some_and(super::expr::truthy),
            "nindexes": c.indexes.len() as i32,
            "totalIndexSize": (c.indexes.len() as i64 * 4096) / scale,
            "scaleFactor": scale as i32,
        };
        if c.options.get("capped").is_some_and(super::expr::truthy) {
            if let Some(max) = c.options.get("max") {
                out.insert("max", max.clone());
            }
            if let Some(n) = c.options.get("size").and_then(num) {
                out.insert("maxSize", Bson::Int64(n.as_f64() as i64 / scale));
            }
        }
        Ok(out)
    }

    pub(super) fn cmd_coll_stats(&mut self, db: &str, cmd: &Document) -> Result<Document, CommandError> {
        let coll = coll_name(cmd)?;
        let scale = opt_int(cmd, "scale")?.unwrap_or(1);
        if scale < 1 {
            return Err(CommandError::new(2, "BadValue", "scale has to be >= 1"));
        }
        self.coll_stats(db, &coll, scale)
    }

    pub(super) fn cmd_distinct(
        &mut self,
        db: &str,
        cmd: &Document,
        ctx: &ExecContext,
    ) -> Result<Document, CommandError> {
        let coll = coll_name(cmd)?;
        let key = match cmd.get("key") {
            Some(Bson::String(k)) => k.clone(),
            Some(other) => return Err(type_mismatch("distinct", "key", other, "string")),
            None => {
                return Err(CommandError::new(
                    40414,
                    "Location40414",
                    "BSON field 'distinct.key' is missing but a required field",
                ));
            }
        };
        let (filter, _) = filter_of(cmd, "query")?;
        // Values equal under the command's collation count once (the first one seen).
        let mut values: Vec<Bson> = Vec::new();
        let mut add = |v: &Bson| {
            if !values.iter().any(|seen| equal_collated(seen, v)) {
                values.push(v.clone());
            }
        };
        for d in self.read_matching(db, &coll, ctx, &filter)? {
            for v in lookup_doc(&d, &key).into_iter().flatten() {
                match v {
                    // distinct looks one level into arrays.
                    Bson::Array(a) => a.iter().for_each(&mut add),
                    other => add(other),
                }
            }
        }
        values.sort_by(compare_collated);
        Ok(doc! {"values": values})
    }

    pub(super) fn cmd_count(
        &mut self,
        db: &str,
        cmd: &Document,
        ctx: &ExecContext,
    ) -> Result<Document, CommandError> {
        let coll = coll_name(cmd)?;
        let (filter, _) = filter_of(cmd, "query")?;
        let skip = non_negative(cmd, "skip")?.unwrap_or(0) as usize;
        self.check_hint(db, &coll, cmd.get("hint"))?;
        let limit = opt_int(cmd, "limit")?.map(|l| l.unsigned_abs() as usize).filter(|l| *l > 0);
        let n = self
            .read_matching(db, &coll, ctx, &filter)?
            .iter()
            .skip(skip)
            .take(limit.unwrap_or(usize::MAX))
            .count();
        Ok(doc! {"n": n as i32})
    }

    pub(super) fn cmd_create(
        &mut self,
        db: &str,
        cmd: &Document,
        ctx: &ExecContext,
    ) -> Result<Document, CommandError> {
        let coll = coll_name(cmd)?;
        if self.collection(db, &coll).is_some() {
            return Err(CommandError::new(
                48,
                "NamespaceExists",
                format!("Collection {db}.{coll} already exists."),
            ));
        }
        let mut options = Document::new();
        for (k, v) in cmd.iter().skip(1) {
            if matches!(
                k.as_str(),
                "capped"
                    | "size"
                    | "max"
                    | "validator"
                    | "validationLevel"
                    | "validationAction"
                    | "viewOn"
                    | "pipeline"
                    | "collation"
                    | "timeseries"
                    | "expireAfterSeconds"
                    | "clusteredIndex"
                    | "changeStreamPreAndPostImages"
                    | "storageEngine"
                    | "indexOptionDefaults"
                    | "encryptedFields"
            ) {
                options.insert(k.clone(), v.clone());
            }
        }
        if options.get("capped").is_some_and(super::expr::truthy) && !options.contains_key("size") {
            return Err(CommandError::new(
                72,
                "InvalidOptions",
                "the 'size' field is required when 'capped' is true",
            ));
        }
        if let Some(p) = options.get("pipeline") {
            let Bson::Array(a) = p else { return Err(type_mismatch("create", "pipeline", p, "array")) };
            let stages: Vec<Document> = a.iter().filter_map(|s| s.as_document().cloned()).collect();
            Pipeline::parse(&stages)?;
        }
        // A clustered collection (5.3+): the listed option gains its version, and the
        // clustered index replaces the `_id_` index (mongod lists only that one).
        let clustered = match options.get("clusteredIndex") {
            Some(Bson::Document(spec)) => {
                if spec.get("key") != Some(&Bson::Document(doc! {"_id": 1}))
                    || !spec.get("unique").is_some_and(super::expr::truthy)
                {
                    return Err(CommandError::new(
                        2,
                        "BadValue",
                        "The clusteredIndex option requires key: {_id: 1} and unique: true",
                    ));
                }
                let mut spec = spec.clone();
                spec.insert("v", 2);
                spec.entry("name".to_string()).or_insert(Bson::String("_id_".into()));
                options.insert("clusteredIndex", spec.clone());
                Some(spec)
            }
            Some(other) => return Err(type_mismatch("create", "clusteredIndex", other, "object")),
            None => None,
        };
        let ts = self.stamp(ctx);
        let mut created = Collection::new(options.clone(), ts);
        if let (Some(spec), Some(id)) = (clustered, created.indexes.first_mut()) {
            id.name = spec.get_str("name").unwrap_or("_id_").to_string();
            id.spec =
                doc! {"v": 2, "key": {"_id": 1}, "name": id.name.clone(), "unique": true, "clustered": true};
        }
        let uuid = created.uuid.clone();
        self.dbs.entry(db.to_string()).or_default().collections.insert(coll.clone(), created);
        let description = match options.get("viewOn") {
            Some(_) => options,
            None => doc! {"idIndex": {"v": 2, "key": {"_id": 1}, "name": "_id_"}},
        };
        let uuid = (!description.contains_key("viewOn")).then_some(uuid);
        self.record_ddl(ts, db, Some(&coll), DdlKind::Create, description, uuid);
        Ok(Document::new())
    }

    pub(super) fn cmd_coll_mod(
        &mut self,
        db: &str,
        cmd: &Document,
        ctx: &ExecContext,
    ) -> Result<Document, CommandError> {
        let coll = coll_name(cmd)?;
        let ts = self.stamp(ctx);
        let Some(c) = self.existing_mut(db, &coll) else {
            return Err(CommandError::new(
                26,
                "NamespaceNotFound",
                format!("ns does not exist: {db}.{coll}"),
            ));
        };
        let before = c.options.clone();
        let mut description = Document::new();
        for (k, v) in cmd.iter().skip(1) {
            match k.as_str() {
                "changeStreamPreAndPostImages" => {
                    let Some(enabled) = v.as_document().and_then(|d| d.get_bool("enabled").ok()) else {
                        return Err(type_mismatch("collMod", k, v, "object with a boolean 'enabled'"));
                    };
                    if enabled {
                        c.options.insert(k.clone(), doc! {"enabled": true});
                    } else {
                        c.options.remove(k);
                    }
                }
                "validator" | "validationLevel" | "validationAction" | "expireAfterSeconds" => {
                    c.options.insert(k.clone(), v.clone());
                }
                // The generic arguments of every command.
                "lsid"
                | "txnNumber"
                | "$db"
                | "$clusterTime"
                | "$readPreference"
                | "writeConcern"
                | "comment"
                | "apiVersion"
                | "apiStrict"
                | "apiDeprecationErrors"
                | "maxTimeMS" => continue,
                other => {
                    return Err(CommandError::new(
                        40415,
                        "Location40415",
                        format!("BSON field 'collMod.{other}' is an unknown field."),
                    ));
                }
            }
            description.insert(k.clone(), v.clone());
        }
        let uuid = c.uuid.clone();
        let event =
            doc! {"operationDescription": description, "stateBeforeChange": {"collectionOptions": before}};
        self.record_ddl(ts, db, Some(&coll), DdlKind::Modify, event, Some(uuid));
        Ok(Document::new())
    }

    pub(super) fn cmd_drop(
        &mut self,
        db: &str,
        cmd: &Document,
        ctx: &ExecContext,
    ) -> Result<Document, CommandError> {
        let coll = coll_name(cmd)?;
        self.stamp(ctx);
        let ns = format!("{db}.{coll}");
        match self.dbs.get_mut(db).and_then(|d| d.collections.remove(&coll)) {
            Some(c) => {
                // Change streams stay open: they report the drop (and invalidate).
                self.cursors.retain(|_, cur| cur.ns != ns || cur.stream.is_some());
                let ts = self.last_write;
                self.record_ddl(ts, db, Some(&coll), DdlKind::Drop, Document::new(), Some(c.uuid.clone()));
                let was = c.indexes.len() as i32;
                self.retire(db, &coll, c, ts);
                Ok(doc! {"nIndexesWas": was, "ns": ns})
            }
            // 7.0 (wire version 21) and later succeed quietly for a missing collection.
            None if ctx.max_wire_version == 0 || ctx.max_wire_version >= 21 => Ok(Document::new()),
            None => Err(CommandError::new(26, "NamespaceNotFound", "ns not found")),
        }
    }

    pub(super) fn cmd_drop_database(
        &mut self,
        db: &str,
        ctx: &ExecContext,
    ) -> Result<Document, CommandError> {
        let prefix = format!("{db}.");
        self.cursors.retain(|_, c| !c.ns.starts_with(&prefix) || c.stream.is_some());
        let ts = self.stamp(ctx);
        if let Some(dropped) = self.dbs.remove(db) {
            for (name, c) in dropped.collections {
                self.record_ddl(ts, db, Some(&name), DdlKind::Drop, Document::new(), Some(c.uuid.clone()));
                self.retire(db, &name, c, ts);
            }
            self.record_ddl(ts, db, None, DdlKind::DropDatabase, Document::new(), None);
        }
        Ok(doc! {"dropped": db})
    }

    pub(super) fn cmd_list_collections(
        &mut self,
        db: &str,
        cmd: &Document,
        ctx: &ExecContext,
    ) -> Result<Document, CommandError> {
        let (filter, _) = filter_of(cmd, "filter")?;
        let name_only = opt_bool(cmd, "nameOnly", false)?;
        let batch_size = match cmd.get("cursor") {
            Some(Bson::Document(c)) => non_negative(c, "batchSize")?.map(|b| b as usize),
            _ => None,
        };
        let mut out = Vec::new();
        if let Some(d) = self.dbs.get(db) {
            for (name, c) in &d.collections {
                let is_view = c.options.contains_key("viewOn");
                let kind = if is_view { "view" } else { "collection" };
                let full = if is_view {
                    doc! {"name": name, "type": kind, "options": c.options.clone(), "info": {"readOnly": true}}
                } else {
                    doc! {
                        "name": name,
                        "type": kind,
                        "options": c.options.clone(),
                        "info": {"readOnly": false, "uuid": Bson::Binary(c.uuid.clone())},
                        "idIndex": {"v": 2, "key": {"_id": 1}, "name": "_id_"},
                    }
                };
                if !filter.matches(&full) {
                    continue;
                }
                out.push(if name_only {
                    doc! {"name": name, "type": kind}
                } else {
                    full
                });
            }
        }
        Ok(self.cursor_reply(
            format!("{db}.$cmd.listCollections"),
            out,
            batch_size.or(Some(usize::MAX)),
            false,
            ctx,
        ))
    }

    pub(super) fn cmd_list_databases(
        &mut self,
        cmd: &Document,
        _ctx: &ExecContext,
    ) -> Result<Document, CommandError> {
        let (filter, _) = filter_of(cmd, "filter")?;
        let name_only = opt_bool(cmd, "nameOnly", false)?;
        let mut dbs = Vec::new();
        let mut total: i64 = 0;
        for (name, d) in &self.dbs {
            if d.collections.is_empty() {
                continue;
            }
            // mongod reports allocated storage; the simulator reports data size rounded up to 4 KiB
            // pages per collection, so an existing database never reports 0.
            let size: i64 = d.collections.values().map(|c| (c.data_size() as i64 / 4096 + 1) * 4096).sum();
            let entry = doc! {"name": name, "sizeOnDisk": size, "empty": false};
            if !filter.matches(&entry) {
                continue;
            }
            total += size;
            dbs.push(if name_only {
                doc! {"name": name}
            } else {
                entry
            });
        }
        if name_only {
            return Ok(doc! {"databases": dbs});
        }
        Ok(doc! {"databases": dbs, "totalSize": total, "totalSizeMb": total / (1024 * 1024)})
    }

    /// `shardCollection` (a `mongos` command; mongod does not know it): the collection, created
    /// when missing, is recorded as sharded on `key` for change streams (`shardCollection`
    /// expanded event). Its data stays where it is (the simulated cluster has one shard).
    pub(super) fn cmd_shard_collection(
        &mut self,
        db: &str,
        cmd: &Document,
        ctx: &ExecContext,
    ) -> Result<Document, CommandError> {
        if !ctx.router {
            return Err(CommandError::new(59, "CommandNotFound", "no such command: 'shardCollection'"));
        }
        if db != "admin" {
            return Err(CommandError::new(
                13,
                "Unauthorized",
                "shardCollection may only be run against the admin database.",
            ));
        }
        let ns = match cmd.get("shardCollection") {
            Some(Bson::String(ns)) => ns.clone(),
            Some(other) => return Err(type_mismatch("shardCollection", "shardCollection", other, "string")),
            None => return Err(CommandError::new(9, "FailedToParse", "shardCollection needs a namespace")),
        };
        let Some((target_db, coll)) = ns.split_once('.').filter(|(d, c)| !d.is_empty() && !c.is_empty())
        else {
            return Err(CommandError::new(
                73,
                "InvalidNamespace",
                format!("Invalid namespace specified '{ns}'"),
            ));
        };
        let key = match cmd.get("key") {
            Some(Bson::Document(key)) if !key.is_empty() => key.clone(),
            Some(other) => return Err(type_mismatch("shardCollection", "key", other, "non-empty object")),
            None => {
                return Err(CommandError::new(
                    40414,
                    "Location40414",
                    "BSON field 'shardCollection.key' is missing but a required field",
                ));
            }
        };
        let unique = cmd.get("unique").is_some_and(super::expr::truthy);
        let ts = self.stamp(ctx);
        let uuid = self.coll_mut(target_db, coll, ts).uuid.clone();
        let description = doc! {"shardKey": key, "unique": unique, "presplitHashedZones": false};
        self.record_ddl(ts, target_db, Some(coll), DdlKind::ShardCollection, description, Some(uuid.clone()));
        Ok(doc! {"collectionsharded": ns.clone(), "collectionUUID": uuid})
    }

    pub(super) fn cmd_list_indexes(
        &mut self,
        db: &str,
        cmd: &Document,
        ctx: &ExecContext,
    ) -> Result<Document, CommandError> {
        let coll = coll_name(cmd)?;
        let batch_size = match cmd.get("cursor") {
            Some(Bson::Document(c)) => non_negative(c, "batchSize")?.map(|b| b as usize),
            _ => None,
        };
        let Some(c) = self.collection(db, &coll) else {
            return Err(CommandError::new(
                26,
                "NamespaceNotFound",
                format!("ns does not exist: {db}.{coll}"),
            ));
        };
        let specs: Vec<Document> = c.indexes.iter().map(|i| i.spec.clone()).collect();
        // mongos registers the shard's cursor under the requested namespace.
        let ns = if ctx.router { format!("{db}.{coll}") } else { format!("{db}.$cmd.listIndexes.{coll}") };
        Ok(self.cursor_reply(ns, specs, batch_size.or(Some(usize::MAX)), false, ctx))
    }

    pub(super) fn cmd_create_indexes(
        &mut self,
        db: &str,
        cmd: &Document,
        ctx: &ExecContext,
    ) -> Result<Document, CommandError> {
        let coll = coll_name(cmd)?;
        let specs = doc_array(cmd, "indexes")?;
        if specs.is_empty() {
            return Err(CommandError::new(2, "BadValue", "Must specify at least one index to create"));
        }
        let mut parsed = Vec::new();
        for s in specs {
            let key = match s.get("key") {
                Some(Bson::Document(k)) if !k.is_empty() => k.clone(),
                _ => {
                    return Err(CommandError::new(
                        9,
                        "FailedToParse",
                        "The 'key' field is a required property of an index specification",
                    ));
                }
            };
            for v in key.values() {
                let ok = num(v).is_some_and(|n| n.as_f64() != 0.0) || matches!(v, Bson::String(_));
                if !ok {
                    return Err(CommandError::new(
                        67,
                        "CannotCreateIndex",
                        format!(
                            "Values in the index key pattern can only be numbers or strings, found {}",
                            super::compare::display(v)
                        ),
                    ));
                }
            }
            let name = match s.get("name") {
                Some(Bson::String(n)) => n.clone(),
                None => key
                    .iter()
                    .map(|(k, v)| {
                        format!(
                            "{k}_{}",
                            match v {
                                Bson::String(s) => s.clone(),
                                other => num(other).map_or("1".into(), |n| (n.as_f64() as i64).to_string()),
                            }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("_"),
                Some(other) => return Err(type_mismatch("createIndexes", "indexes.name", other, "string")),
            };
            let partial = match s.get("partialFilterExpression") {
                Some(Bson::Document(p)) => Some(Filter::parse(p)?),
                _ => None,
            };
            let mut spec = doc! {"v": 2, "key": key.clone(), "name": name.clone()};
            for (k, v) in s {
                if !matches!(k.as_str(), "key" | "name" | "v" | "ns") {
                    spec.insert(k.clone(), v.clone());
                }
            }
            parsed.push(Index {
                name,
                key,
                unique: s.get("unique").is_some_and(super::expr::truthy),
                sparse: s.get("sparse").is_some_and(super::expr::truthy),
                partial,
                spec,
            });
        }
        self.reject_view(db, &coll)?;
        let ts = self.stamp(ctx);
        let created = self.collection(db, &coll).is_none();
        let ns = format!("{db}.{coll}");
        let c = self.coll_mut(db, &coll, ts);
        let before = c.indexes.len() as i32;
        for idx in parsed {
            if let Some(existing) = c.indexes.iter().find(|i| i.name == idx.name) {
                if existing.key != idx.key {
                    return Err(CommandError::new(
                        86,
                        "IndexKeySpecsConflict",
                        format!(
                            "An existing index has the same name as the requested index. Requested index: {}, existing index: {}",
                            super::compare::display_doc(&idx.spec),
                            super::compare::display_doc(&existing.spec)
                        ),
                    ));
                }
                if existing.unique != idx.unique {
                    return Err(CommandError::new(
                        85,
                        "IndexOptionsConflict",
                        format!("Index with name: {} already exists with different options", idx.name),
                    ));
                }
                continue;
            }
            if let Some(existing) =
                c.indexes.iter().find(|i| i.key == idx.key && i.partial.is_none() && idx.partial.is_none())
            {
                return Err(CommandError::new(
                    85,
                    "IndexOptionsConflict",
                    format!("Index already exists with a different name: {}", existing.name),
                ));
            }
            c.add_index(&ns, idx).map_err(CommandError::from)?;
        }
        let after = c.indexes.len() as i32;
        let added: Vec<Document> = c.indexes.iter().skip(before as usize).map(|i| i.spec.clone()).collect();
        let uuid = c.uuid.clone();
        if !added.is_empty() {
            self.record_ddl(ts, db, Some(&coll), DdlKind::CreateIndexes, doc! {"indexes": added}, Some(uuid));
        }
        let mut reply = doc! {"numIndexesBefore": before, "numIndexesAfter": after, "createdCollectionAutomatically": created};
        if before == after {
            reply.insert("note", "all indexes already exist");
        }
        Ok(reply)
    }

    pub(super) fn cmd_drop_indexes(
        &mut self,
        db: &str,
        cmd: &Document,
        ctx: &ExecContext,
    ) -> Result<Document, CommandError> {
        let coll = coll_name(cmd)?;
        let ts = self.stamp(ctx);
        let reply = self.drop_indexes(db, &coll, cmd)?;
        if let Some(c) = self.collection(db, &coll) {
            let kept: Vec<&str> = c.indexes.iter().map(|i| i.name.as_str()).collect();
            let dropped: Vec<Document> = reply
                .1
                .iter()
                .filter(|i| !kept.contains(&i.get_str("name").unwrap_or("")))
                .cloned()
                .collect();
            let uuid = c.uuid.clone();
            if !dropped.is_empty() {
                self.record_ddl(
                    ts,
                    db,
                    Some(&coll),
                    DdlKind::DropIndexes,
                    doc! {"indexes": dropped},
                    Some(uuid),
                );
            }
        }
        Ok(reply.0)
    }

    /// Drops the indexes `cmd.index` names; returns the reply and the specs before.
    fn drop_indexes(
        &mut self,
        db: &str,
        coll: &str,
        cmd: &Document,
    ) -> Result<(Document, Vec<Document>), CommandError> {
        let coll = coll.to_string();
        let Some(c) = self.existing_mut(db, &coll) else {
            return Err(CommandError::new(26, "NamespaceNotFound", format!("ns not found {db}.{coll}")));
        };
        let was = c.indexes.len() as i32;
        let specs_before: Vec<Document> = c.indexes.iter().map(|i| i.spec.clone()).collect();
        let not_found = |what: String| CommandError::new(27, "IndexNotFound", what);
        let id_err = || CommandError::new(72, "InvalidOptions", "cannot drop _id index");
        match cmd.get("index") {
            Some(Bson::String(s)) if s == "*" => c.indexes.retain(|i| i.name == "_id_"),
            Some(Bson::String(s)) => {
                if s == "_id_" {
                    return Err(id_err());
                }
                let before = c.indexes.len();
                c.indexes.retain(|i| i.name != *s);
                if c.indexes.len() == before {
                    return Err(not_found(format!("index not found with name [{s}]")));
                }
            }
            Some(Bson::Array(names)) => {
                for n in names {
                    let Bson::String(n) = n else {
                        return Err(type_mismatch("dropIndexes", "index", n, "string"));
                    };
                    if n == "_id_" {
                        return Err(id_err());
                    }
                    if !c.indexes.iter().any(|i| i.name == *n) {
                        return Err(not_found(format!("index not found with name [{n}]")));
                    }
                }
                c.indexes.retain(|i| !names.iter().any(|n| n.as_str() == Some(i.name.as_str())));
            }
            Some(Bson::Document(key)) => {
                if *key == doc! {"_id": 1} {
                    return Err(id_err());
                }
                let before = c.indexes.len();
                c.indexes.retain(|i| i.key != *key);
                if c.indexes.len() == before {
                    return Err(not_found(format!(
                        "can't find index with key: {}",
                        super::compare::display_doc(key)
                    )));
                }
            }
            Some(other) => return Err(type_mismatch("dropIndexes", "index", other, "string")),
            None => {
                return Err(CommandError::new(
                    40414,
                    "Location40414",
                    "BSON field 'dropIndexes.index' is missing but a required field",
                ));
            }
        }
        Ok((doc! {"nIndexesWas": was}, specs_before))
    }

    pub(super) fn cmd_rename_collection(
        &mut self,
        cmd: &Document,
        ctx: &ExecContext,
    ) -> Result<Document, CommandError> {
        let split = |v: Option<&Bson>, field: &str| -> Result<(String, String), CommandError> {
            match v {
                Some(Bson::String(s)) => match s.split_once('.') {
                    Some((d, c)) if !d.is_empty() && !c.is_empty() => Ok((d.to_string(), c.to_string())),
                    _ => Err(CommandError::new(
                        73,
                        "InvalidNamespace",
                        format!("Invalid {field} namespace: {s}"),
                    )),
                },
                Some(other) => Err(type_mismatch("renameCollection", field, other, "string")),
                None => Err(CommandError::new(
                    40414,
                    "Location40414",
                    format!("BSON field 'renameCollection.{field}' is missing but a required field"),
                )),
            }
        };
        let (sdb, scoll) = split(cmd.get("renameCollection"), "renameCollection")?;
        let (tdb, tcoll) = split(cmd.get("to"), "to")?;
        let drop_target = opt_bool(cmd, "dropTarget", false)?;
        if self.collection(&sdb, &scoll).is_none() {
            return Err(CommandError::new(
                26,
                "NamespaceNotFound",
                format!("Source collection {sdb}.{scoll} does not exist"),
            ));
        }
        if self.collection(&tdb, &tcoll).is_some() && !drop_target {
            return Err(CommandError::new(48, "NamespaceExists", "target namespace exists"));
        }
        let ts = self.stamp(ctx);
        let Some(c) = self.dbs.get_mut(&sdb).and_then(|d| d.collections.remove(&scoll)) else {
            return Err(CommandError::new(26, "NamespaceNotFound", "source namespace does not exist"));
        };
        let uuid = c.uuid.clone();
        self.retire(&sdb, &scoll, c.clone(), ts);
        self.named_at.insert((tdb.clone(), tcoll.clone()), ts);
        let replaced = self.dbs.entry(tdb.clone()).or_default().collections.insert(tcoll.clone(), c);
        let mut description = doc! {"to": {"db": tdb, "coll": tcoll}};
        if let Some(old) = replaced {
            description.insert("dropTarget", Bson::Binary(old.uuid));
        }
        self.record_ddl(ts, &sdb, Some(&scoll), DdlKind::Rename, description, Some(uuid));
        Ok(Document::new())
    }
}
