//! The single-operation legacy test formats, translated into the Unified Test Format model:
//! CRUD "Legacy-v1" (`source/crud/tests/README.rst`, "Legacy-v1 Test Format for Single
//! Operations") and the legacy retryable-writes format (`source/retryable-writes/tests/README.rst`,
//! "Test Format"). Both describe one operation per case; each case becomes a unified test
//! of one collection entity (plus a `failPoint` operation first when the case sets one),
//! so the unified emitter and runtime run them.

use std::path::Path;

use proc_macro2::TokenStream;
use quote::quote;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::error::from_json_str;
use crate::naming::Unique;
use crate::test_model::json_files;
use crate::unified::TestFile;
use crate::unified::model::Version;
use crate::{GeneratedTest, SpecError, Status};

/// Which legacy format a file is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// CRUD legacy-v1 (`crud/tests/v1/{read,write}`).
    CrudV1,
    /// Retryable writes legacy (`retryable-writes/tests/legacy`).
    RetryableWrites,
}

impl Format {
    /// The database and collection under test (the formats leave them to the runner).
    fn namespace(self) -> (&'static str, &'static str) {
        match self {
            Format::CrudV1 => ("crud-v1-tests", "test"),
            Format::RetryableWrites => ("retryable-writes-tests", "test"),
        }
    }
}

/// A CRUD legacy-v1 file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CrudV1File {
    data: Vec<Map<String, Value>>,
    #[serde(default, rename = "minServerVersion")]
    min_server_version: Option<String>,
    /// An exclusive upper bound in this format.
    #[serde(default, rename = "maxServerVersion")]
    max_server_version: Option<String>,
    #[serde(default)]
    serverless: Option<String>,
    #[serde(default)]
    collection_name: Option<String>,
    #[serde(default)]
    database_name: Option<String>,
    tests: Vec<Case>,
}

/// A legacy retryable-writes file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RetryableWritesFile {
    #[serde(default, rename = "runOn")]
    run_on: Option<Vec<RunOn>>,
    data: Vec<Map<String, Value>>,
    tests: Vec<Case>,
}

/// `runOn[]` (retryable writes).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RunOn {
    #[serde(default)]
    min_server_version: Option<String>,
    /// Inclusive in this format.
    #[serde(default)]
    max_server_version: Option<String>,
    #[serde(default)]
    topology: Option<Vec<String>>,
    #[serde(default)]
    serverless: Option<String>,
}

/// One case of either format (`clientOptions`, `failPoint` and `useMultipleMongoses`
/// only occur in retryable-writes files, which [`load`] checks).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Case {
    description: String,
    #[serde(default)]
    client_options: Option<Map<String, Value>>,
    #[serde(default)]
    fail_point: Option<Map<String, Value>>,
    #[serde(default)]
    use_multiple_mongoses: Option<bool>,
    operation: LegacyOperation,
    outcome: Outcome,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LegacyOperation {
    name: String,
    #[serde(default)]
    arguments: Option<Map<String, Value>>,
    #[serde(default)]
    object: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Outcome {
    #[serde(default)]
    result: Option<Value>,
    #[serde(default)]
    error: Option<bool>,
    #[serde(default)]
    collection: Option<OutcomeCollection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OutcomeCollection {
    #[serde(default)]
    name: Option<String>,
    data: Vec<Map<String, Value>>,
}

/// Loads case `case` of the CRUD legacy-v1 file at `path` as a unified test file (see [`load`]).
pub fn load_crud_v1(path: &Path, case: usize) -> Result<TestFile, SpecError> {
    load(path, Format::CrudV1, case)
}

/// Loads case `case` of the legacy retryable-writes file at `path` as a unified test file
/// (see [`load`]).
pub fn load_retryable_writes(path: &Path, case: usize) -> Result<TestFile, SpecError> {
    load(path, Format::RetryableWrites, case)
}

/// Reads a legacy file and translates it into a unified test file holding all its cases
/// (so case indexes carry over), with the entities case `case` needs: its `clientOptions`
/// and `useMultipleMongoses` shape the client entity. A file that does not fit its format
/// is a [`SpecError`] naming the file and the JSON pointer.
pub fn load(path: &Path, format: Format, case: usize) -> Result<TestFile, SpecError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| SpecError::new(path, "", format!("cannot read the file: {e}")))?;
    let unified = translate(path, &text, format, case)?;
    let text = serde_json::to_string(&unified)
        .map_err(|e| SpecError::new(path, "", format!("cannot serialize the translated file: {e}")))?;
    crate::unified::parse(path, &text).map_err(|e| SpecError {
        message: format!("{} (in the unified translation of this legacy file)", e.message),
        ..e
    })
}

/// The description and unified JSON of a legacy file (see [`load`]).
fn translate(path: &Path, text: &str, format: Format, case: usize) -> Result<Value, SpecError> {
    let (db, default_coll) = format.namespace();
    let (run_on, data, tests, coll_name, db_name) = match format {
        Format::CrudV1 => {
            let f: CrudV1File = from_json_str(path, text)?;
            for (i, t) in f.tests.iter().enumerate() {
                for (present, key) in [
                    (t.client_options.is_some(), "clientOptions"),
                    (t.fail_point.is_some(), "failPoint"),
                    (t.use_multiple_mongoses.is_some(), "useMultipleMongoses"),
                ] {
                    if present {
                        return Err(SpecError::new(
                            path,
                            format!("/tests/{i}/{key}"),
                            format!("unknown field `{key}`: not part of the CRUD legacy-v1 format"),
                        ));
                    }
                }
            }
            let mut req = Map::new();
            if let Some(min) = &f.min_server_version {
                req.insert("minServerVersion".into(), json!(version(path, "/minServerVersion", min)?.0));
            }
            if let Some(max) = &f.max_server_version {
                // Exclusive here, inclusive in the unified format.
                let (_, v) = version(path, "/maxServerVersion", max)?;
                req.insert("maxServerVersion".into(), json!(below(v)));
            }
            if let Some(s) = &f.serverless {
                req.insert("serverless".into(), json!(s));
            }
            let run_on = if req.is_empty() { None } else { Some(vec![Value::Object(req)]) };
            (run_on, f.data, f.tests, f.collection_name, f.database_name)
        }
        Format::RetryableWrites => {
            let f: RetryableWritesFile = from_json_str(path, text)?;
            let mut reqs = Vec::new();
            for (i, r) in f.run_on.iter().flatten().enumerate() {
                let mut req = Map::new();
                if let Some(min) = &r.min_server_version {
                    let at = format!("/runOn/{i}/minServerVersion");
                    req.insert("minServerVersion".into(), json!(version(path, &at, min)?.0));
                }
                if let Some(max) = &r.max_server_version {
                    let at = format!("/runOn/{i}/maxServerVersion");
                    req.insert("maxServerVersion".into(), json!(version(path, &at, max)?.0));
                }
                if let Some(t) = &r.topology {
                    req.insert("topologies".into(), json!(t));
                }
                if let Some(s) = &r.serverless {
                    req.insert("serverless".into(), json!(s));
                }
                reqs.push(Value::Object(req));
            }
            let run_on = if reqs.is_empty() { None } else { Some(reqs) };
            (run_on, f.data, f.tests, None, None)
        }
    };
    let db = db_name.as_deref().unwrap_or(db);
    let coll = coll_name.as_deref().unwrap_or(default_coll);
    let Some(this) = tests.get(case) else {
        return Err(SpecError::new(path, "/tests", format!("the file has no case {case}")));
    };

    let mut client = Map::new();
    client.insert("id".into(), json!("client0"));
    if let Some(options) = &this.client_options {
        client.insert("uriOptions".into(), Value::Object(options.clone()));
    }
    if let Some(multiple) = this.use_multiple_mongoses {
        client.insert("useMultipleMongoses".into(), json!(multiple));
    }
    let entities = json!([
        {"client": client},
        {"database": {"id": "database0", "client": "client0", "databaseName": db}},
        {"collection": {"id": "collection0", "database": "database0", "collectionName": coll}},
    ]);

    // The collection under test starts with `data`; any other collection an outcome names
    // (e.g. `$out`'s target) starts empty.
    let mut initial = vec![json!({"collectionName": coll, "databaseName": db, "documents": data})];
    let mut other_collections: Vec<&str> = Vec::new();
    for t in &tests {
        if let Some(name) = t.outcome.collection.as_ref().and_then(|c| c.name.as_deref())
            && name != coll
            && !other_collections.contains(&name)
        {
            other_collections.push(name);
            initial.push(json!({"collectionName": name, "databaseName": db, "documents": []}));
        }
    }

    let mut unified_tests = Vec::new();
    for (i, t) in tests.iter().enumerate() {
        unified_tests.push(test(path, &format!("/tests/{i}"), t, format, db, coll)?);
    }
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("legacy");
    let mut file = Map::new();
    file.insert("description".into(), json!(stem));
    file.insert("schemaVersion".into(), json!("1.0"));
    if let Some(run_on) = run_on {
        file.insert("runOnRequirements".into(), Value::Array(run_on));
    }
    file.insert("createEntities".into(), entities);
    file.insert("initialData".into(), Value::Array(initial));
    file.insert("tests".into(), Value::Array(unified_tests));
    Ok(Value::Object(file))
}

/// Checks a version string; gives it back with its parsed form.
fn version(path: &Path, pointer: &str, text: &str) -> Result<(String, Version), SpecError> {
    Version::parse(text).map(|v| (text.to_string(), v)).ok_or_else(|| {
        SpecError::new(path, pointer, format!("`{text}` is not a version string (`major.minor[.patch]`)"))
    })
}

/// The highest version below `v` that a `major.minor.patch` bound can name (an exclusive
/// bound as an inclusive one): `4.2.0` → `4.1.99999`, `4.2.3` → `4.2.2`.
fn below(v: Version) -> String {
    match (v.major, v.minor, v.patch) {
        (major, minor, patch) if patch > 0 => format!("{major}.{minor}.{}", patch - 1),
        (major, minor, _) if minor > 0 => format!("{major}.{}.99999", minor - 1),
        (major, _, _) => format!("{}.99999.99999", major.saturating_sub(1)),
    }
}

/// One legacy case as a unified test.
fn test(path: &Path, at: &str, t: &Case, format: Format, db: &str, coll: &str) -> Result<Value, SpecError> {
    let mut operations = Vec::new();
    if let Some(fail_point) = &t.fail_point {
        // Set through the test's client before the operation, on the primary.
        operations.push(json!({
            "name": "failPoint",
            "object": "testRunner",
            "arguments": {"client": "client0", "failPoint": fail_point},
        }));
    }
    let object = match t.operation.object.as_deref() {
        None | Some("collection") => "collection0",
        Some("database") => "database0",
        Some("client") => "client0",
        Some(other) => {
            return Err(SpecError::new(
                path,
                format!("{at}/operation/object"),
                format!("unknown operation object `{other}` (collection, database or client)"),
            ));
        }
    };
    let mut op = Map::new();
    op.insert("name".into(), json!(t.operation.name));
    op.insert("object".into(), json!(object));
    let arguments = arguments(path, &format!("{at}/operation/arguments"), &t.operation)?;
    if !arguments.is_empty() {
        op.insert("arguments".into(), Value::Object(arguments));
    }
    let outcome = &t.outcome;
    if outcome.error == Some(true) {
        let mut expect = Map::new();
        expect.insert("isError".into(), json!(true));
        if let Some(result) = &outcome.result {
            let Value::Object(result) = result else {
                return Err(SpecError::new(
                    path,
                    format!("{at}/outcome/result"),
                    "with `error: true`, `result` must be a document (labels or a partial result)",
                ));
            };
            let mut partial = result.clone();
            for (legacy, unified) in
                [("errorLabelsContain", "errorLabelsContain"), ("errorLabelsOmit", "errorLabelsOmit")]
            {
                if let Some(labels) = partial.remove(legacy) {
                    expect.insert(unified.into(), labels);
                }
            }
            // Retryable writes README: with `error: true`, the partial result "drivers may
            // choose to check ... if their BulkWriteException (or equivalent) provides access
            // to a write result object"; a network error ending a bulk write carries none, so
            // that format's partial results are not asserted (the outcome collection still is).
            if !partial.is_empty() && format == Format::CrudV1 {
                expect.insert("expectResult".into(), Value::Object(partial));
            }
        }
        op.insert("expectError".into(), Value::Object(expect));
    } else if let Some(result) = &outcome.result {
        op.insert("expectResult".into(), result.clone());
    }
    operations.push(Value::Object(op));
    let mut case = Map::new();
    case.insert("description".into(), json!(t.description));
    case.insert("operations".into(), Value::Array(operations));
    if let Some(c) = &outcome.collection {
        let name = c.name.as_deref().unwrap_or(coll);
        case.insert(
            "outcome".into(),
            json!([{"collectionName": name, "databaseName": db, "documents": c.data}]),
        );
    }
    Ok(Value::Object(case))
}

/// The operation's arguments in the unified form: the legacy `options` document of
/// `bulkWrite` and `insertMany` is merged into the arguments, `bulkWrite` requests
/// `{name, arguments}` become `{<name>: arguments}`, and a `distinct` without a filter gets
/// the empty one.
fn arguments(path: &Path, at: &str, op: &LegacyOperation) -> Result<Map<String, Value>, SpecError> {
    let mut out = Map::new();
    for (key, value) in op.arguments.iter().flatten() {
        match (op.name.as_str(), key.as_str()) {
            ("bulkWrite" | "insertMany", "options") => {
                let Value::Object(options) = value else {
                    return Err(SpecError::new(
                        path,
                        format!("{at}/options"),
                        "`options` must be a document",
                    ));
                };
                out.extend(options.clone());
            }
            ("bulkWrite", "requests") => {
                let Value::Array(requests) = value else {
                    return Err(SpecError::new(
                        path,
                        format!("{at}/requests"),
                        "`requests` must be an array",
                    ));
                };
                let mut models = Vec::new();
                for (i, request) in requests.iter().enumerate() {
                    let here = format!("{at}/requests/{i}");
                    let name = request.get("name").and_then(Value::as_str).ok_or_else(|| {
                        SpecError::new(path, format!("{here}/name"), "a request needs a `name` string")
                    })?;
                    let args = request.get("arguments").cloned().unwrap_or_else(|| json!({}));
                    if let Some(extra) =
                        request.as_object().and_then(|r| r.keys().find(|k| *k != "name" && *k != "arguments"))
                    {
                        return Err(SpecError::new(
                            path,
                            format!("{here}/{extra}"),
                            format!("unknown field `{extra}` (a request has `name` and `arguments`)"),
                        ));
                    }
                    models.push(json!({ name: args }));
                }
                out.insert(key.clone(), Value::Array(models));
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    // CRUD spec `distinct(fieldName, filter, options)`: a case without a filter filters nothing.
    if op.name == "distinct" && !out.contains_key("filter") {
        out.insert("filter".into(), json!({}));
    }
    Ok(out)
}

/// Cases the translation runs but that fail for a reason outside the runner, or that the
/// driver deliberately cannot run: `(file stem, description substring, reason)`.
const KNOWN_FAILURES: &[(&str, &str, &str)] = &[];

/// Why an operation of these formats does not run, when the driver does not offer it on purpose.
fn unsupported_operation(name: &str) -> Option<&'static str> {
    // The deprecated `count` helper runs as `Collection::count`; every other operation of
    // these formats is offered.
    let _ = name;
    None
}

/// Tests of one legacy folder: `spec_dir/tests_dir/*.json`, each case a unified test
/// under `prefix` (module path segments below the suite) and the file's name.
fn generate(
    spec_root: &Path,
    format: Format,
    module: &str,
    folders: &[(&str, &[&str])],
) -> Result<Vec<GeneratedTest>, SpecError> {
    let (loader, spec_dir): (TokenStream, &str) = match format {
        Format::CrudV1 => (quote! { ::spec_codegen::crud_v1::load_crud_v1 }, "crud"),
        Format::RetryableWrites => {
            (quote! { ::spec_codegen::crud_v1::load_retryable_writes }, "retryable-writes")
        }
    };
    let mut tests = Vec::new();
    for (folder, prefix) in folders {
        let Some(dir) = crate::spec_data::source_dir(spec_root, &format!("{spec_dir}/{folder}"))? else {
            continue;
        };
        let mut files = Unique::default();
        for file in json_files(&dir)? {
            let spec_file =
                file.strip_prefix(spec_root).unwrap_or(&file).to_string_lossy().replace('\\', "/");
            let file_ident = files.ident(file.file_stem().and_then(|s| s.to_str()).unwrap_or_default());
            let descriptions: crate::unified::Descriptions = crate::error::read_json(&file)?;
            let mut cases = Unique::default();
            for (i, described) in descriptions.tests.iter().enumerate() {
                let parsed = load(&file, format, i)?;
                let case_ident = cases.ident(&described.description);
                let mut path: Vec<String> = prefix.iter().map(|s| s.to_string()).collect();
                path.push(file_ident.clone());
                path.push(case_ident);
                let name = format!("{module}::{}", path.join("::"));
                let (status, body) =
                    crate::unified::generate_translated_case(&parsed, i, &spec_file, &name, &loader);
                let op = parsed.tests[i].operations.last().map(|o| o.name.as_str()).unwrap_or_default();
                // A deliberate gap is named rather than the runner's generic reason.
                let status = match (unsupported_operation(op), status) {
                    (Some(reason), _) => Status::Ignored(reason.to_string()),
                    (None, Status::Run) => known_failure(&spec_file, &described.description)
                        .map_or(Status::Run, |reason| Status::Ignored(reason.to_string())),
                    (None, ignored) => ignored,
                };
                tests.push(GeneratedTest {
                    path,
                    spec_file: spec_file.clone(),
                    case_index: Some(i),
                    status,
                    is_async: true,
                    body,
                });
            }
        }
    }
    Ok(tests)
}

fn known_failure(spec_file: &str, description: &str) -> Option<&'static str> {
    crate::unified::failure_in(KNOWN_FAILURES, spec_file, description)
}

/// Tests of the CRUD legacy-v1 files (`source/crud/tests/v1/{read,write}/*.json`), as
/// `crud::v1::read::<file>::<case>` and `crud::v1::write::<file>::<case>`.
pub fn generate_crud_v1(spec_root: &Path) -> Result<Vec<GeneratedTest>, SpecError> {
    generate(
        spec_root,
        Format::CrudV1,
        "crud::v1",
        &[("tests/v1/read", &["read"]), ("tests/v1/write", &["write"])],
    )
}

/// Tests of the legacy retryable-writes files (`source/retryable-writes/tests/legacy/*.json`),
/// as `retryable_writes::legacy::<file>::<case>`.
pub fn generate_retryable_writes_legacy(spec_root: &Path) -> Result<Vec<GeneratedTest>, SpecError> {
    generate(spec_root, Format::RetryableWrites, "retryable_writes::legacy", &[("tests/legacy", &[])])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn translate_ok(text: &str, format: Format) -> Value {
        match translate(Path::new("f.json"), text, format, 0) {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn crud_v1_case_becomes_one_operation() {
        let text = r#"{"data": [{"_id": 1}], "minServerVersion": "3.4", "maxServerVersion": "4.2",
            "tests": [{"description": "d", "operation": {"name": "bulkWrite", "arguments": {
                "requests": [{"name": "insertOne", "arguments": {"document": {"_id": 2}}}],
                "options": {"ordered": false}}},
              "outcome": {"result": {"insertedCount": 1}, "collection": {"data": [{"_id": 1}, {"_id": 2}]}}}]}"#;
        let v = translate_ok(text, Format::CrudV1);
        assert_eq!(
            v["runOnRequirements"],
            json!([{"minServerVersion": "3.4", "maxServerVersion": "4.1.99999"}])
        );
        let op = &v["tests"][0]["operations"][0];
        assert_eq!(op["object"], "collection0");
        assert_eq!(op["arguments"]["requests"], json!([{"insertOne": {"document": {"_id": 2}}}]));
        assert_eq!(op["arguments"]["ordered"], false);
        assert_eq!(op["expectResult"], json!({"insertedCount": 1}));
        assert_eq!(v["tests"][0]["outcome"][0]["collectionName"], "test");
        assert_eq!(v["initialData"][0]["documents"], json!([{"_id": 1}]));
    }

    #[test]
    fn retryable_writes_error_outcome_and_fail_point() {
        let text = r#"{"runOn": [{"minServerVersion": "4.0", "topology": ["replicaset"]}], "data": [],
            "tests": [{"description": "d", "clientOptions": {"retryWrites": false},
              "failPoint": {"configureFailPoint": "failCommand", "mode": {"times": 1}},
              "operation": {"name": "insertOne", "arguments": {"document": {"_id": 1}}},
              "outcome": {"error": true, "result": {"errorLabelsOmit": ["RetryableWriteError"]},
                          "collection": {"data": []}}}]}"#;
        let v = translate_ok(text, Format::RetryableWrites);
        assert_eq!(v["runOnRequirements"][0]["topologies"], json!(["replicaset"]));
        assert_eq!(v["createEntities"][0]["client"]["uriOptions"], json!({"retryWrites": false}));
        let ops = &v["tests"][0]["operations"];
        assert_eq!(ops[0]["name"], "failPoint");
        assert_eq!(ops[0]["arguments"]["client"], "client0");
        assert_eq!(
            ops[1]["expectError"],
            json!({"isError": true, "errorLabelsOmit": ["RetryableWriteError"]})
        );
        assert!(crate::unified::parse(Path::new("f.json"), &v.to_string()).is_ok());
    }

    #[test]
    fn malformed_files_name_the_pointer() {
        let text = r#"{"data": [], "tests": [{"description": "d", "operation": {"name": "find", "arguments": {}},
            "outcome": {"result": [], "colection": {}}}]}"#;
        let e = translate(Path::new("f.json"), text, Format::CrudV1, 0).unwrap_err();
        assert_eq!(e.pointer, "/tests/0/outcome/colection");
        let text = r#"{"data": [], "tests": [{"description": "d", "failPoint": {},
            "operation": {"name": "find"}, "outcome": {}}]}"#;
        let e = translate(Path::new("f.json"), text, Format::CrudV1, 0).unwrap_err();
        assert_eq!(e.pointer, "/tests/0/failPoint");
        assert_eq!(below(Version { major: 4, minor: 0, patch: 0 }), "3.99999.99999");
    }
}
