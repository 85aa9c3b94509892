//! The translation of one Transactions-format case into the unified model
//! (`transactions/tests/README.rst` "Test Format" and "Use as Integration Tests" onto
//! `unified-test-format.rst` "Test Format"). See the module doc of [`super`] for why.

use std::path::Path;

use serde_json::{Map, Value, json};

use super::model::{LegacyFile, LegacyOperation, LegacyTest};
use crate::SpecError;

/// The client entity every translated case uses (the legacy runner's one `client`).
pub const CLIENT: &str = "client0";
/// The database entity (`database_name`).
pub const DATABASE: &str = "database0";
/// The collection entity (`collection_name`).
pub const COLLECTION: &str = "collection0";
/// The GridFS bucket entity (`bucket_name`).
pub const BUCKET: &str = "bucket0";
/// The two sessions the legacy runner starts for every case.
pub const SESSIONS: [&str; 2] = ["session0", "session1"];

/// Keys of a legacy `result` that make it an expected error.
const ERROR_KEYS: &[&str] =
    &["errorContains", "errorCodeName", "errorCode", "errorLabelsContain", "errorLabelsOmit"];

/// Operations of CRUD methods whose legacy `arguments.options` hold what the unified format
/// passes as plain arguments.
const FLATTENED_OPTIONS: &[&str] = &[
    "insertOne",
    "insertMany",
    "updateOne",
    "updateMany",
    "replaceOne",
    "deleteOne",
    "deleteMany",
    "bulkWrite",
    "startTransaction",
    "withTransaction",
];

struct Ctx<'a> {
    path: &'a Path,
    file: &'a LegacyFile,
    /// Entities the operations' `collectionOptions` / `databaseOptions` add.
    extra: Vec<Value>,
}

impl Ctx<'_> {
    fn err(&self, pointer: impl Into<String>, message: impl Into<String>) -> SpecError {
        SpecError::new(self.path, pointer, message)
    }
}

/// The unified file (as JSON) for case `case` of `file`: the case's entities, the file's
/// data as `initialData`, the case translated at index `case`; the other cases are kept
/// as empty tests, so indexes and JSON pointers keep the legacy file's numbering.
pub fn translate_case(path: &Path, file: &LegacyFile, case: usize) -> Result<Value, SpecError> {
    let mut ctx = Ctx { path, file, extra: Vec::new() };
    let Some(test) = file.tests.get(case) else {
        return Err(ctx.err("/tests", format!("no case {case}")));
    };
    let base = format!("/tests/{case}");
    let translated = translate_test(&mut ctx, test, &base)?;
    let mut entities = base_entities(&ctx, test, &base)?;
    entities.append(&mut ctx.extra);
    let tests: Vec<Value> = file
        .tests
        .iter()
        .enumerate()
        .map(|(k, t)| {
            if k == case {
                translated.clone()
            } else {
                json!({"description": t.description, "operations": []})
            }
        })
        .collect();
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("legacy");
    let mut out = Map::new();
    out.insert("description".into(), json!(stem));
    out.insert("schemaVersion".into(), json!("1.10"));
    if let Some(run_on) = &file.run_on {
        let mut list = Vec::new();
        for (k, r) in run_on.iter().enumerate() {
            let mut req = Map::new();
            if let Some(v) = &r.min_server_version {
                req.insert("minServerVersion".into(), json!(v));
            }
            if let Some(v) = &r.max_server_version {
                req.insert("maxServerVersion".into(), json!(v));
            }
            if let Some(t) = &r.topology {
                for (j, name) in t.iter().enumerate() {
                    if !["single", "replicaset", "sharded", "sharded-replicaset", "load-balanced"]
                        .contains(&name.as_str())
                    {
                        return Err(
                            ctx.err(format!("/runOn/{k}/topology/{j}"), format!("unknown topology `{name}`"))
                        );
                    }
                }
                req.insert("topologies".into(), json!(t));
            }
            if let Some(s) = &r.serverless {
                req.insert("serverless".into(), json!(s));
            }
            if !req.is_empty() {
                list.push(Value::Object(req));
            }
        }
        if !list.is_empty() {
            out.insert("runOnRequirements".into(), Value::Array(list));
        }
    }
    out.insert("createEntities".into(), Value::Array(entities));
    if let Some(data) = initial_data(&ctx)? {
        out.insert("initialData".into(), data);
    }
    out.insert("tests".into(), Value::Array(tests));
    Ok(Value::Object(out))
}

/// The legacy runner's objects as entities: one client observing command started events
/// (with the case's `clientOptions` and `useMultipleMongoses`), the database, the
/// collection or bucket, and `session0`/`session1` with the case's `sessionOptions`.
fn base_entities(ctx: &Ctx<'_>, test: &LegacyTest, base: &str) -> Result<Vec<Value>, SpecError> {
    let mut client = Map::new();
    client.insert("id".into(), json!(CLIENT));
    if let Some(options) = &test.client_options {
        client.insert("uriOptions".into(), Value::Object(options.clone()));
    }
    if let Some(multiple) = test.use_multiple_mongoses {
        client.insert("useMultipleMongoses".into(), json!(multiple));
    }
    client.insert("observeEvents".into(), json!(["commandStartedEvent"]));
    let mut entities = vec![
        json!({"client": client}),
        json!({"database": {"id": DATABASE, "client": CLIENT, "databaseName": ctx.file.database_name}}),
    ];
    if let Some(name) = &ctx.file.collection_name {
        entities
            .push(json!({"collection": {"id": COLLECTION, "database": DATABASE, "collectionName": name}}));
    }
    if let Some(name) = &ctx.file.bucket_name {
        let mut bucket = json!({"id": BUCKET, "database": DATABASE});
        if name != "fs" {
            bucket["bucketOptions"] = json!({"bucketName": name});
        }
        entities.push(json!({"bucket": bucket}));
    }
    let options = test.session_options.clone().unwrap_or_default();
    for key in options.keys() {
        if !SESSIONS.contains(&key.as_str()) {
            return Err(ctx.err(
                format!("{base}/sessionOptions/{key}"),
                "sessionOptions may only name session0 and session1",
            ));
        }
    }
    for id in SESSIONS {
        let mut session = json!({"id": id, "client": CLIENT});
        if let Some(o) = options.get(id) {
            if !o.is_object() {
                return Err(
                    ctx.err(format!("{base}/sessionOptions/{id}"), "expected an object of session options")
                );
            }
            session["sessionOptions"] = o.clone();
        }
        entities.push(json!({"session": session}));
    }
    Ok(entities)
}

/// `data` as `initialData`: the collection's documents (an empty collection when there
/// are none), or for GridFS each named collection's.
fn initial_data(ctx: &Ctx<'_>) -> Result<Option<Value>, SpecError> {
    let db = &ctx.file.database_name;
    let entry =
        |name: &str, docs: &Value| json!({"collectionName": name, "databaseName": db, "documents": docs});
    match &ctx.file.data {
        None => Ok(ctx.file.collection_name.as_ref().map(|c| json!([entry(c, &json!([]))]))),
        Some(Value::Array(docs)) => {
            let Some(name) = &ctx.file.collection_name else {
                return Err(ctx.err("/data", "an array of documents needs `collection_name`"));
            };
            check_documents(ctx, "/data", docs)?;
            Ok(Some(json!([entry(name, &Value::Array(docs.clone()))])))
        }
        Some(Value::Object(collections)) => {
            let mut list = Vec::new();
            for (name, docs) in collections {
                let Value::Array(items) = docs else {
                    return Err(ctx.err(format!("/data/{name}"), "expected an array of documents"));
                };
                check_documents(ctx, &format!("/data/{name}"), items)?;
                list.push(entry(name, docs));
            }
            Ok(Some(Value::Array(list)))
        }
        Some(other) => {
            Err(ctx.err("/data", format!("expected an array of documents or an object, found {other}")))
        }
    }
}

fn check_documents(ctx: &Ctx<'_>, pointer: &str, docs: &[Value]) -> Result<(), SpecError> {
    match docs.iter().position(|d| !d.is_object()) {
        Some(j) => Err(ctx.err(format!("{pointer}/{j}"), "expected a document")),
        None => Ok(()),
    }
}

/// The case: its fail point first (a `failPoint` operation on the client), the operations,
/// then `endSession` of both sessions (the legacy runner ends them before it checks the
/// events, so an open transaction's `abortTransaction` is expected), the events and outcome.
fn translate_test(ctx: &mut Ctx<'_>, test: &LegacyTest, base: &str) -> Result<Value, SpecError> {
    let mut ops = Vec::new();
    if let Some(fail_point) = &test.fail_point {
        ops.push(json!({
            "name": "failPoint",
            "object": "testRunner",
            "arguments": {"client": CLIENT, "failPoint": fail_point},
        }));
    }
    for (i, op) in test.operations.iter().enumerate() {
        ops.push(translate_operation(ctx, op, &format!("{base}/operations/{i}"), &i.to_string())?);
    }
    for id in SESSIONS {
        ops.push(json!({"name": "endSession", "object": id}));
    }
    let mut out = Map::new();
    out.insert("description".into(), json!(test.description));
    if let Some(reason) = &test.skip_reason {
        out.insert("skipReason".into(), json!(reason));
    }
    out.insert("operations".into(), Value::Array(ops));
    if let Some(expectations) = &test.expectations {
        let events: Vec<Value> = expectations
            .iter()
            .map(|e| {
                let e = &e.command_started_event;
                let mut started = Map::new();
                started.insert("command".into(), placeholders(&Value::Object(e.command.clone()), None));
                if let Some(name) = &e.command_name {
                    started.insert("commandName".into(), json!(name));
                }
                if let Some(db) = &e.database_name {
                    started.insert("databaseName".into(), json!(db));
                }
                json!({"commandStartedEvent": started})
            })
            .collect();
        out.insert("expectEvents".into(), json!([{"client": CLIENT, "events": events}]));
    }
    if let Some(outcome) = &test.outcome {
        let name = match (&outcome.collection.name, &ctx.file.collection_name) {
            (Some(n), _) | (None, Some(n)) => n.clone(),
            (None, None) => {
                return Err(
                    ctx.err(format!("{base}/outcome/collection"), "no `name` and no `collection_name`")
                );
            }
        };
        out.insert(
            "outcome".into(),
            json!([{"collectionName": name, "databaseName": ctx.file.database_name, "documents": outcome.collection.data}]),
        );
    }
    Ok(Value::Object(out))
}

/// Whether `value` is the format's placeholder `42` (a number, `"42"` or a `$numberLong`).
fn is_42(value: &Value) -> bool {
    match value {
        Value::Number(n) => n.as_i64() == Some(42),
        Value::String(s) => s == "42",
        Value::Object(o) if o.len() == 1 => {
            ["$numberLong", "$numberInt"].iter().any(|k| o.get(*k).and_then(Value::as_str) == Some("42"))
        }
        _ => false,
    }
}

/// An expected command with the format's conventions ("Command-Started Events") as unified
/// operators: `null` (the field must be absent) → `$$exists: false`; `lsid: "session0"` →
/// `$$sessionLsid`; the fake `getMore` cursor id `42` → any int or long; `afterClusterTime: 42`
/// → present; `recoveryToken: 42` → a document.
pub fn placeholders(value: &Value, key: Option<&str>) -> Value {
    match (key, value) {
        (_, Value::Null) => json!({"$$exists": false}),
        (Some("lsid"), Value::String(id)) => json!({"$$sessionLsid": id}),
        (Some("getMore"), v) if is_42(v) => json!({"$$type": ["int", "long"]}),
        (Some("afterClusterTime"), v) if is_42(v) => json!({"$$exists": true}),
        (Some("recoveryToken"), v) if is_42(v) => json!({"$$type": "object"}),
        (_, Value::Object(map)) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), placeholders(v, Some(k)))).collect())
        }
        (_, Value::Array(items)) => Value::Array(items.iter().map(|v| placeholders(v, None)).collect()),
        (_, other) => other.clone(),
    }
}

/// One operation (`at`: its JSON pointer; `suffix` names the entities its options add).
fn translate_operation(
    ctx: &mut Ctx<'_>,
    op: &LegacyOperation,
    at: &str,
    suffix: &str,
) -> Result<Value, SpecError> {
    let object = resolve_object(ctx, op, at, suffix)?;
    let mut args = op.arguments.clone().unwrap_or_default();
    let mut name = op.name.clone();
    if FLATTENED_OPTIONS.contains(&name.as_str()) {
        if let Some(options) = args.remove("options") {
            let Value::Object(options) = options else {
                return Err(ctx.err(format!("{at}/arguments/options"), "expected an object of options"));
            };
            for (k, v) in options {
                args.insert(k, v);
            }
        }
    }
    let mut save_as = None;
    match name.as_str() {
        "withTransaction" => {
            let callback = args.remove("callback");
            let ops = callback.as_ref().and_then(|c| c.get("operations")).and_then(Value::as_array);
            let Some(ops) = ops else {
                return Err(ctx.err(format!("{at}/arguments/callback"), "expected `{operations: [...]}`"));
            };
            let mut translated = Vec::new();
            for (j, inner) in ops.iter().enumerate() {
                let pointer = format!("{at}/arguments/callback/operations/{j}");
                let inner: LegacyOperation =
                    serde_path_to_error::deserialize(inner.clone()).map_err(|e| {
                        let inner_at = crate::error::pointer_of(e.path());
                        ctx.err(format!("{pointer}{inner_at}"), e.into_inner().to_string())
                    })?;
                let mut op = translate_operation(ctx, &inner, &pointer, &format!("{suffix}_{j}"))?;
                // A callback operation that asserts nothing lets its error reach
                // withTransaction, which retries or aborts on it (the legacy runner stores the
                // error; the unified form of these files says `ignoreResultAndError`).
                if inner.result.is_none() && inner.error != Some(true) {
                    if let Value::Object(map) = &mut op {
                        map.insert("ignoreResultAndError".into(), json!(true));
                    }
                }
                translated.push(op);
            }
            args.insert("callback".into(), Value::Array(translated));
        }
        "runCommand" => {
            let command_name = match (&op.command_name, args.get("command")) {
                (Some(n), _) => n.clone(),
                (None, Some(Value::Object(c))) if !c.is_empty() => {
                    c.keys().next().cloned().unwrap_or_default()
                }
                _ => return Err(ctx.err(format!("{at}/arguments/command"), "expected a command document")),
            };
            args.insert("commandName".into(), json!(command_name));
        }
        "bulkWrite" => {
            let Some(Value::Array(requests)) = args.get("requests") else {
                return Err(ctx.err(format!("{at}/arguments/requests"), "expected an array of write models"));
            };
            let mut models = Vec::new();
            for (j, request) in requests.iter().enumerate() {
                let kind = request.get("name").and_then(Value::as_str);
                let fields = request.get("arguments").cloned().unwrap_or_else(|| json!({}));
                match (kind, request.as_object().map(Map::len)) {
                    (Some(kind), Some(n)) if n <= 2 && fields.is_object() => {
                        models.push(json!({ kind: fields }));
                    }
                    _ => {
                        return Err(ctx.err(
                            format!("{at}/arguments/requests/{j}"),
                            "expected `{name, arguments}` naming a write model",
                        ));
                    }
                }
            }
            args.insert("requests".into(), Value::Array(models));
        }
        "distinct" if !args.contains_key("filter") => {
            args.insert("filter".into(), json!({}));
        }
        "watch" => {
            name = "createChangeStream".into();
            args.entry("pipeline").or_insert_with(|| json!([]));
            save_as = Some(format!("changeStream{suffix}"));
        }
        "listCollectionObjects" => name = "listCollections".into(),
        "listDatabaseObjects" => name = "listDatabases".into(),
        "download_by_name" => name = "downloadByName".into(),
        "assertSameLsidOnLastTwoCommands" | "assertDifferentLsidOnLastTwoCommands" => {
            args.insert("client".into(), json!(CLIENT));
        }
        "assertCollectionExists"
        | "assertCollectionNotExists"
        | "assertIndexExists"
        | "assertIndexNotExists" => {
            for (old, new) in
                [("database", "databaseName"), ("collection", "collectionName"), ("index", "indexName")]
            {
                if let Some(v) = args.remove(old) {
                    args.insert(new.into(), v);
                }
            }
        }
        _ => {}
    }
    let mut out = Map::new();
    out.insert("name".into(), json!(name));
    out.insert("object".into(), json!(object));
    if !args.is_empty() || op.arguments.is_some() {
        out.insert("arguments".into(), Value::Object(args));
    }
    let mut expect_error = Map::new();
    if op.error == Some(true) {
        expect_error.insert("isError".into(), json!(true));
    }
    match &op.result {
        Some(Value::Object(result))
            if !result.is_empty() && result.keys().any(|k| ERROR_KEYS.contains(&k.as_str())) =>
        {
            for (k, v) in result {
                if !ERROR_KEYS.contains(&k.as_str()) {
                    return Err(ctx.err(
                        format!("{at}/result/{k}"),
                        "an error result may only hold errorContains, errorCodeName, errorCode, errorLabelsContain and errorLabelsOmit",
                    ));
                }
                if v.as_array().is_some_and(Vec::is_empty) {
                    continue;
                }
                expect_error.insert(k.clone(), v.clone());
            }
            if expect_error.is_empty() {
                expect_error.insert("isError".into(), json!(true));
            }
        }
        Some(result) if expect_error.is_empty() => {
            out.insert("expectResult".into(), result.clone());
        }
        _ => {}
    }
    if !expect_error.is_empty() {
        out.insert("expectError".into(), Value::Object(expect_error));
    }
    if let Some(id) = save_as.filter(|_| !out.contains_key("expectError")) {
        out.insert("saveResultAsEntity".into(), json!(id));
    }
    Ok(Value::Object(out))
}

/// The entity an operation's `object` names; `collectionOptions` / `databaseOptions` give
/// the operation its own database and collection entities (`database<suffix>`, …).
fn resolve_object(
    ctx: &mut Ctx<'_>,
    op: &LegacyOperation,
    at: &str,
    suffix: &str,
) -> Result<String, SpecError> {
    let database = match &op.database_options {
        Some(options) => {
            let id = format!("database_{suffix}");
            ctx.extra.push(json!({"database": {
                "id": id, "client": CLIENT, "databaseName": ctx.file.database_name, "databaseOptions": options,
            }}));
            id
        }
        None => DATABASE.to_string(),
    };
    let collection = |ctx: &mut Ctx<'_>| -> Result<String, SpecError> {
        let Some(name) = &ctx.file.collection_name else {
            return Err(ctx.err(format!("{at}/object"), "no `collection_name` in the file"));
        };
        if op.collection_options.is_none() && op.database_options.is_none() {
            return Ok(COLLECTION.to_string());
        }
        let id = format!("collection_{suffix}");
        let mut entity = json!({"id": id, "database": database, "collectionName": name});
        if let Some(options) = &op.collection_options {
            entity["collectionOptions"] = Value::Object(options.clone());
        }
        ctx.extra.push(json!({ "collection": entity }));
        Ok(id)
    };
    if op.collection_options.is_some() && op.object != "collection" {
        return Err(ctx.err(
            format!("{at}/collectionOptions"),
            format!("an operation on `{}` takes no collectionOptions", op.object),
        ));
    }
    Ok(match op.object.as_str() {
        "collection" => collection(ctx)?,
        "database" => database.clone(),
        "client" => CLIENT.to_string(),
        "gridfsbucket" => BUCKET.to_string(),
        "session0" | "session1" | "testRunner" => op.object.clone(),
        other => return Err(ctx.err(format!("{at}/object"), format!("unknown object `{other}`"))),
    })
}
