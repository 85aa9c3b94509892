//! The Unified Test Format (`source/unified-test-format/unified-test-format.rst`): the
//! typed model of its files, their validation, and the generated tests of the format's
//! own `tests/` (files that must be rejected, and valid files whose cases run later).

mod bucket;
mod cursors;
mod event_ops;
mod index_ops;
pub mod model;
pub mod operations;
mod runner_ops;
pub mod suites;
mod transactions;
pub mod valid_fail;
mod validate;

use std::path::Path;

use quote::quote;
use serde::Deserialize;

use crate::error::from_json_str;
use crate::naming::{Unique, ident};
use crate::suite::json_files;
use crate::{GeneratedTest, SpecError, Status};
pub use model::{TestFile, Version};

/// The highest schema version this model understands (`schema-1.28.json`); a file for a
/// later version, or another major version, is rejected (section "Test Runner Support").
pub const SUPPORTED_SCHEMA: Version = Version { major: 1, minor: 28, patch: 0 };

/// Reads, type-checks and validates a unified test file (the JSON twin). Any violation of
/// the format's schema or of the rules the spec states for a file (supported
/// `schemaVersion`, unique entity ids, references to defined entities, events matching
/// their `eventType`, …) is a [`SpecError`] naming the file and the JSON pointer.
pub fn load(file: &Path) -> Result<TestFile, SpecError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| SpecError::new(file, "", format!("cannot read the file: {e}")))?;
    parse(file, &text)
}

/// [`load`] for text already read (`file` names it in errors).
pub fn parse(file: &Path, text: &str) -> Result<TestFile, SpecError> {
    let raw: serde_json::Value = from_json_str(file, text)?;
    check_schema_version(file, &raw)?;
    let mut parsed: TestFile = typed(file, text, &raw)?;
    validate::validate(file, &mut parsed)?;
    Ok(parsed)
}

/// Type-checks and validates a unified file produced by a translator (see
/// [`crate::legacy`]); `file` names the source file in errors, which locate the value in the
/// translated file.
pub(crate) fn from_translated(file: &Path, value: serde_json::Value) -> Result<TestFile, SpecError> {
    let mut parsed: TestFile = serde_path_to_error::deserialize(value).map_err(|e| {
        let pointer = pointer_with_variants(e.path());
        SpecError::new(
            file,
            pointer,
            format!("in the file translated to the unified format: {}", e.into_inner()),
        )
    })?;
    validate::validate(file, &mut parsed)?;
    Ok(parsed)
}

/// Deserializes the typed model, locating errors by JSON pointer. Unlike
/// [`crate::error::from_json_str`], an entity's or event's type key (an externally tagged
/// enum variant) is part of the pointer, and serde's bare "expected value" (a tagged value
/// of the wrong shape) is replaced by what the value is and what was expected.
pub(crate) fn typed<T: serde::de::DeserializeOwned>(
    file: &Path,
    text: &str,
    raw: &serde_json::Value,
) -> Result<T, SpecError> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let pointer = pointer_with_variants(e.path());
        let mut message = e.into_inner().to_string();
        if message.starts_with("expected value") {
            message = shape_message(raw.pointer(&pointer));
        }
        SpecError::new(file, pointer, message)
    })
}

/// A JSON pointer for a serde path, keeping enum variants (which are keys in the JSON).
pub(crate) fn pointer_with_variants(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("/{index}")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                out.push('/');
                out.push_str(&crate::error::escape_token(key));
            }
            Segment::Unknown => {}
        }
    }
    out
}

/// Explains a value that is neither a name from an allowed list nor a one-key object.
pub(crate) fn shape_message(value: Option<&serde_json::Value>) -> String {
    match value {
        Some(serde_json::Value::Object(map)) => format!(
            "expected an object with exactly one key naming its type, found {} keys{}",
            map.len(),
            if map.is_empty() {
                String::new()
            } else {
                format!(" ({})", map.keys().cloned().collect::<Vec<_>>().join(", "))
            }
        ),
        Some(other) => format!(
            "invalid type: {other}, expected a string naming one of the allowed values or a one-key object"
        ),
        None => "expected a string naming one of the allowed values or a one-key object".to_string(),
    }
}

/// Checks `schemaVersion` before anything else, so that a file written for a newer
/// format is reported as such rather than by its first unknown field.
fn check_schema_version(file: &Path, raw: &serde_json::Value) -> Result<(), SpecError> {
    let Some(top) = raw.as_object() else {
        return Err(SpecError::new(file, "", "a unified test file must be a JSON object"));
    };
    let Some(value) = top.get("schemaVersion") else {
        return Err(SpecError::new(file, "", "missing field `schemaVersion`"));
    };
    let Some(text) = value.as_str() else {
        return Err(SpecError::new(
            file,
            "/schemaVersion",
            format!("invalid type: {value}, expected a string (`schemaVersion`)"),
        ));
    };
    let Some(version) = Version::parse(text) else {
        return Err(SpecError::new(
            file,
            "/schemaVersion",
            format!("`schemaVersion` `{text}` is not a version string (`major.minor[.patch]`)"),
        ));
    };
    if version.major != SUPPORTED_SCHEMA.major || version > SUPPORTED_SCHEMA {
        let message = format!(
            "schema version {text} is not supported (this runner supports {}.0 to {}.{})",
            SUPPORTED_SCHEMA.major, SUPPORTED_SCHEMA.major, SUPPORTED_SCHEMA.minor
        );
        // A later version may use anything, so its file is newer rather than malformed; the
        // format's rules (unknown keys rejected) apply to the versions this model knows.
        return Err(if version > SUPPORTED_SCHEMA {
            SpecError::newer(file, "/schemaVersion", message)
        } else {
            SpecError::new(file, "/schemaVersion", message)
        });
    }
    Ok(())
}

/// Just the test descriptions of a file, to name generated tests without validating it
/// (valid-fail files may be rejected by [`load`] on purpose).
#[derive(Deserialize)]
pub(crate) struct Descriptions {
    /// The cases, by description only.
    pub(crate) tests: Vec<Described>,
}

/// A case's description.
#[derive(Deserialize)]
pub(crate) struct Described {
    /// What the case tests.
    pub(crate) description: String,
}

/// Why the cases of a valid-pass file that does not load do not run.
const PENDING: &str = "unified runner: operations not generated yet";

/// Tests for `source/unified-test-format/tests/`: `invalid::<file>` (the file must be
/// rejected by [`load`]), `valid_pass::<file>::loads` (it must load),
/// `valid_pass::<file>::<case>` (run by the unified runner, see [`operations`]) and
/// `valid_fail::<file>::<case>` (the runner, or the loader, must fail for the reason the
/// file exists, see [`valid_fail`]).
pub fn generate(spec_root: &Path) -> Result<Vec<GeneratedTest>, SpecError> {
    let dir = spec_root.join("source/unified-test-format/tests");
    let rel = |file: &Path| file.strip_prefix(spec_root).unwrap_or(file).to_string_lossy().replace('\\', "/");
    let mut tests = Vec::new();

    let mut unique = Unique::default();
    for file in json_files(&dir.join("invalid"))? {
        let spec_file = rel(&file);
        let name = file.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        let (reasons, token) = expected_rejection(name);
        let token = match token {
            Some(t) => quote! { ::std::option::Option::Some(#t) },
            None => quote! { ::std::option::Option::None },
        };
        let body = quote! {
            let path = ::std::path::Path::new(env!("SPEC_ROOT")).join(#spec_file);
            ::conformance::unified::assert_rejected(
                &path,
                spec_codegen::unified::load(&path),
                &[#(#reasons),*],
                #token,
            );
        };
        // A file for a later schema version is rejected for its version alone, so what it
        // tests is not checked at this one: ignored, naming the version.
        let raw: serde_json::Value = crate::error::read_json(&file)?;
        let status = match check_schema_version(&file, &raw) {
            Err(e) if e.is_newer() => Status::Ignored(crate::newer::reason(&e, &spec_file)),
            _ => Status::Run,
        };
        tests.push(GeneratedTest {
            path: vec!["invalid".into(), unique.ident(&stem(&file))],
            spec_file,
            case_index: None,
            status,
            is_async: false,
            body,
        });
    }

    for (sub, module) in [("valid-pass", "valid_pass"), ("valid-fail", "valid_fail")] {
        let mut files = Unique::default();
        for file in json_files(&dir.join(sub))? {
            let spec_file = rel(&file);
            let file_ident = files.ident(&stem(&file));
            let named: Descriptions = crate::error::read_json(&file)?;
            if module == "valid_fail" {
                let descriptions: Vec<String> = named.tests.into_iter().map(|t| t.description).collect();
                tests.extend(valid_fail::generate_file(&file, &spec_file, &file_ident, &descriptions));
                continue;
            }
            let mut cases = Unique::default();
            let loaded = load(&file);
            let newer = match &loaded {
                Err(e) if e.is_newer() => Some(crate::newer::reason(e, &spec_file)),
                _ => None,
            };
            if module == "valid_pass" {
                cases.ident("loads");
                let body = quote! {
                    let path = ::std::path::Path::new(env!("SPEC_ROOT")).join(#spec_file);
                    if let Err(e) = spec_codegen::unified::load(&path) {
                        panic!("a valid unified test file was rejected: {e}");
                    }
                };
                tests.push(GeneratedTest {
                    path: vec![module.into(), file_ident.clone(), "loads".into()],
                    spec_file: spec_file.clone(),
                    case_index: None,
                    status: newer.clone().map_or(Status::Run, Status::Ignored),
                    is_async: false,
                    body,
                });
            }
            // Valid-pass files load (checked by `loads`); their cases run like any suite's.
            let parsed = loaded.ok();
            for (i, case) in named.tests.iter().enumerate() {
                if let Some(parsed) = &parsed {
                    let case_ident = cases.ident(&case.description);
                    let name = format!("unified_test_format::{module}::{file_ident}::{case_ident}");
                    let (status, body) =
                        operations::generate_case(parsed, &parsed.tests[i], i, &spec_file, &name);
                    tests.push(GeneratedTest {
                        path: vec![module.into(), file_ident.clone(), case_ident],
                        spec_file: spec_file.clone(),
                        case_index: Some(i),
                        status,
                        is_async: true,
                        body,
                    });
                    continue;
                }
                let description = &case.description;
                let body = quote! {
                    let _description: &str = #description;
                    unimplemented!("the unified runner does not execute operations yet");
                };
                tests.push(GeneratedTest {
                    path: vec![module.into(), file_ident.clone(), cases.ident(&case.description)],
                    spec_file: spec_file.clone(),
                    case_index: Some(i),
                    status: Status::Ignored(newer.clone().unwrap_or_else(|| PENDING.into())),
                    is_async: false,
                    body,
                });
            }
        }
    }
    Ok(tests)
}

/// What the rejection of `tests/invalid/<name>.json` must say, read from its name
/// `<definition>-<property>-<rule>` (the schema keyword it breaks): substrings of which
/// the message must contain one (none: any message), and the property the error's JSON
/// pointer must pass through.
pub fn expected_rejection(name: &str) -> (Vec<String>, Option<String>) {
    // No schema version of the format (1.0 to 1.28) defines a `stream` entity, so these
    // files are rejected for the entity type itself.
    if name.starts_with("entity-stream-") {
        return (vec!["unknown variant `stream`".into()], Some("createEntities".into()));
    }
    // No schema version gives an operation `expectEvents` (it belongs to a test), so the
    // key itself is rejected.
    if name == "operation-expectEvents-type" {
        return (vec!["unknown field `expectEvents`".into()], Some("expectEvents".into()));
    }
    // These files give `expectTracingMessages` as one object, where every schema version
    // that defines it (1.27+) requires an array of them: rejected for that type first.
    if name.starts_with("expectedTracingSpans-") {
        return (vec!["expected a sequence".into()], Some("expectTracingMessages".into()));
    }
    // The test also misspells `operations`, which is the first thing reported.
    if name == "test-description-required" {
        return (vec!["unknown field `operation`".into()], Some("tests".into()));
    }
    let segments: Vec<&str> = name.split('-').collect();
    let rule = segments.last().copied().unwrap_or_default();
    // `<definition>-<object>-property-<rule>` breaks the rule for any property of `<object>`
    // (e.g. `entity-client-observeLogMessages-property-type`).
    let back = if segments.len() > 3 && segments[segments.len() - 2] == "property" { 3 } else { 2 };
    let property = segments.len().checked_sub(back).and_then(|i| segments.get(i)).map(|p| p.to_string());
    let one = |text: &str| vec![text.to_string()];
    match rule {
        "required" => (vec![format!("missing field `{}`", property.unwrap_or_default())], None),
        "type" | "items" => (one("invalid type"), property),
        "minItems" => (one("at least one item"), property),
        "enum" => (one("unknown variant"), property),
        "pattern" => (one("not a version string"), property),
        "const" => (one("may only be `true`"), property),
        "additionalProperties" => (vec!["unknown field".into(), "unknown variant".into()], None),
        "minProperties" => (vec!["minProperties".into(), "exactly one key".into()], None),
        "maxProperties" => (one("exactly one key"), None),
        _ if rule.ends_with("_eventType") => (one("not a valid"), Some("events".into())),
        _ if rule.starts_with("conflicts_with_") => {
            (one("may not have both"), Some(rule.trim_start_matches("conflicts_with_").to_string()))
        }
        _ if rule.ends_with("_not_supported") => {
            (vec![format!("unknown field `{}`", rule.trim_end_matches("_not_supported"))], None)
        }
        _ => (Vec::new(), None),
    }
}

/// Helpers for the emitters' unit tests.
#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    /// Parses a unified test file given as text (named `f.json`), failing the test with the
    /// loader's error.
    pub fn parse_ok(text: &str) -> TestFile {
        match parse(Path::new("f.json"), text) {
            Ok(f) => f,
            Err(e) => panic!("{e}"),
        }
    }
}

fn stem(file: &Path) -> String {
    file.file_stem().and_then(|s| s.to_str()).map(ident).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn spec_root() -> PathBuf {
        let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        match crate::spec_data::locate_specifications(manifest_dir) {
            Ok((_, root)) => root,
            Err(e) => panic!("spec data not found (see spec-data/README.md): {e}"),
        }
    }

    /// Every unified file of the suites the project will generate loads, and every
    /// file of `tests/invalid` is rejected.
    #[test]
    fn pinned_files() {
        let root = spec_root();
        let mut failures = Vec::new();
        let mut loaded = 0;
        for dir in [
            "unified-test-format/tests/valid-pass",
            "sessions/tests",
            "command-monitoring/tests/unified",
            "crud/tests/unified",
            "retryable-writes/tests/unified",
            "server-discovery-and-monitoring/tests/unified",
            "transactions/tests/unified",
        ] {
            for file in json_files(&root.join("source").join(dir)).unwrap() {
                match load(&file) {
                    Ok(_) => loaded += 1,
                    Err(e) => failures.push(e.to_string()),
                }
            }
        }
        assert!(failures.is_empty(), "valid files rejected:\n{}", failures.join("\n"));
        assert!(loaded > 100, "only {loaded} files");
        let mut accepted = Vec::new();
        for file in json_files(&root.join("source/unified-test-format/tests/invalid")).unwrap() {
            let name = file.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
            assert!(!expected_rejection(name).0.is_empty(), "no expected reason for {name}");
            match load(&file) {
                Ok(_) => accepted.push(file.display().to_string()),
                Err(e) => println!("{e}"),
            }
        }
        assert!(accepted.is_empty(), "invalid files accepted:\n{}", accepted.join("\n"));
        // Valid-fail files whose failure the loader can already see (undefined or
        // duplicate entities, an unsupported schema version) fail at load.
        for name in [
            "entity-bucket-database-undefined",
            "entity-client-storeEventsAsEntities-conflict_with_client_id",
            "entity-client-storeEventsAsEntities-conflict_within_different_array",
            "entity-client-storeEventsAsEntities-conflict_within_same_array",
            "entity-collection-database-undefined",
            "entity-database-client-undefined",
            "entity-findCursor",
            "entity-session-client-undefined",
            "schemaVersion-unsupported",
        ] {
            let file = root.join(format!("source/unified-test-format/tests/valid-fail/{name}.json"));
            assert!(load(&file).is_err(), "{name} loads");
        }
    }

    fn file_with(entities: &str, tests: &str, version: &str) -> String {
        format!(
            r#"{{"description": "d", "schemaVersion": "{version}", "createEntities": {entities}, "tests": {tests}}}"#
        )
    }

    const CLIENT: &str = r#"[{"client": {"id": "c"}}]"#;
    const PING: &str = r#"[{"description": "t", "operations": [{"name": "ping", "object": "c"}]}]"#;

    fn reject(text: &str) -> SpecError {
        match parse(Path::new("f.json"), text) {
            Ok(_) => panic!("accepted: {text}"),
            Err(e) => e,
        }
    }

    #[test]
    fn schema_versions() {
        for ok in ["1.0", "1.10", "1.10.0", "1.5", "1.9.9", "1.28", "1.28.0"] {
            assert!(parse(Path::new("f.json"), &file_with(CLIENT, PING, ok)).is_ok(), "{ok}");
        }
        for bad in ["1.29", "1.28.1", "2.0", "0.9"] {
            let e = reject(&file_with(CLIENT, PING, bad));
            assert_eq!(e.pointer, "/schemaVersion");
            assert!(e.message.contains("not supported"), "{}", e.message);
        }
    }

    #[test]
    fn entity_rules() {
        let dup = r#"[{"client": {"id": "c"}}, {"session": {"id": "c", "client": "c"}}]"#;
        let e = reject(&file_with(dup, PING, "1.0"));
        assert_eq!(e.pointer, "/createEntities/1/session/id");
        let undefined =
            r#"[{"client": {"id": "c"}}, {"database": {"id": "d", "client": "nope", "databaseName": "x"}}]"#;
        let e = reject(&file_with(undefined, PING, "1.0"));
        assert_eq!(e.pointer, "/createEntities/1/database/client");
        let wrong_kind = r#"[{"client": {"id": "c"}}, {"collection": {"id": "k", "database": "c", "collectionName": "x"}}]"#;
        let e = reject(&file_with(wrong_kind, PING, "1.0"));
        assert!(e.message.contains("is a client entity, not a database entity"), "{}", e.message);
        let stored = r#"[{"client": {"id": "c", "storeEventsAsEntities": [{"id": "c", "events": ["PoolCreatedEvent"]}]}}]"#;
        let e = reject(&file_with(stored, PING, "1.3"));
        assert_eq!(e.pointer, "/createEntities/0/client/storeEventsAsEntities/0/id");
        let tests = r#"[{"description": "t", "operations": [{"name": "ping", "object": "ghost"}]}]"#;
        let e = reject(&file_with(CLIENT, tests, "1.0"));
        assert_eq!(e.pointer, "/tests/0/operations/0/object");
    }

    #[test]
    fn events_follow_their_event_type() {
        let tests = |events: &str| {
            format!(r#"[{{"description": "t", "operations": [], "expectEvents": [{events}]}}]"#)
        };
        let cmap = r#"{"client": "c", "eventType": "cmap", "events": [{"poolClearedEvent": {"hasServiceId": true}}]}"#;
        let parsed = parse(Path::new("f.json"), &file_with(CLIENT, &tests(cmap), "1.4")).unwrap();
        let typed = &parsed.tests[0].expect_events.as_ref().unwrap()[0].typed;
        assert!(matches!(typed, model::ExpectedEvents::Cmap(v) if v.len() == 1));
        let wrong = r#"{"client": "c", "eventType": "sdam", "events": [{"poolClearedEvent": {}}]}"#;
        let e = reject(&file_with(CLIENT, &tests(wrong), "1.10"));
        assert_eq!(e.pointer, "/tests/0/expectEvents/0/events/0");
        let unknown_client = r#"{"client": "x", "events": []}"#;
        let e = reject(&file_with(CLIENT, &tests(unknown_client), "1.0"));
        assert_eq!(e.pointer, "/tests/0/expectEvents/0/client");
    }
}
