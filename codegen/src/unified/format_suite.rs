//! The generated tests of the Unified Test Format's own `tests/` folder
//! (`unified-test-format.rst`, "Test Runner Support"): files that must be rejected, valid
//! files that must load and whose cases run, and valid files the runner must fail.

use std::path::Path;

use quote::quote;

use super::case::generate_case;
use super::loader::{Descriptions, check_schema_version, load};
use super::valid_fail;
use crate::naming::Unique;
use crate::test_model::{json_files, stem_ident};
use crate::{GeneratedTest, SpecError, Status};

/// Why the cases of a valid-pass file that does not load do not run.
const PENDING: &str = "unified runner: operations not generated yet";

/// Tests for `source/unified-test-format/tests/`: `invalid::<file>` (the file must be
/// rejected by [`load`]), `valid_pass::<file>::loads` (it must load),
/// `valid_pass::<file>::<case>` (run by the unified runner, see [`super::case`]) and
/// `valid_fail::<file>::<case>` (the runner, or the loader, must fail for the reason the
/// file exists, see [`valid_fail`]).
pub fn generate(spec_root: &Path) -> Result<Vec<GeneratedTest>, SpecError> {
    let dir = spec_root.join("source/unified-test-format/tests");
    let rel = |file: &Path| crate::test_model::rel(spec_root, file);
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
            path: vec!["invalid".into(), unique.ident(&stem_ident(&file))],
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
            let file_ident = files.ident(&stem_ident(&file));
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
                    let (status, body) = generate_case(parsed, &parsed.tests[i], i, &spec_file, &name);
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
}
