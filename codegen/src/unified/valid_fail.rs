//! The Unified Test Format's own `tests/valid-fail` files (its tests' README: they "should
//! produce runtime errors or failures when executed with a test runner"): why each file
//! must fail, and one generated test per case asserting that it fails for that reason.

use std::path::Path;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::case::generate_case;
use super::model::TestFile;
use crate::naming::Unique;
use crate::{GeneratedTest, Status};

/// How a valid-fail case must fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// The loader rejects the file: the message contains one of `reasons`, and the JSON
    /// pointer passes through `property` (when given).
    Load {
        /// Substrings of which the message must contain one.
        reasons: &'static [&'static str],
        /// A property the error's JSON pointer passes through.
        property: Option<&'static str>,
    },
    /// The runner reports a failure (`conformance::unified::failure::RunnerFailure`) of
    /// this kind (a `FailureKind` variant name) whose message contains every one of
    /// `reasons`.
    Run {
        /// The `FailureKind` variant.
        kind: &'static str,
        /// Substrings the message must all contain.
        reasons: &'static [&'static str],
    },
}

use Expected::{Load, Run};

/// `(file stem, case description substring, expected failure)`: the reason each file
/// exists, read from its name and its case's description.
const EXPECTED: &[(&str, &str, Expected)] = &[
    (
        "assertNumberConnectionsCheckedOut",
        "client field is not specified",
        Run { kind: "CannotRun", reasons: &["missing argument `client`"] },
    ),
    (
        "assertNumberConnectionsCheckedOut",
        "connections field is not specified",
        Run { kind: "CannotRun", reasons: &["missing argument `connections`"] },
    ),
    (
        "assertNumberConnectionsCheckedOut",
        "client entity does not exist",
        Run { kind: "CannotRun", reasons: &["client `client1` is not a client entity"] },
    ),
    (
        "assertNumberConnectionsCheckedOut",
        "number of connections is incorrect",
        Run { kind: "Mismatch", reasons: &["expected 1 connections checked out", "found 0"] },
    ),
    ("entity-bucket-database-undefined", "", NO_DATABASE),
    (
        "entity-client-apiVersion-unsupported",
        "",
        Run { kind: "Entity", reasons: &["unknown Stable API version"] },
    ),
    ("entity-client-storeEventsAsEntities-conflict_with_client_id", "", DUPLICATE),
    ("entity-client-storeEventsAsEntities-conflict_within_different_array", "", DUPLICATE),
    ("entity-client-storeEventsAsEntities-conflict_within_same_array", "", DUPLICATE),
    ("entity-collection-database-undefined", "", NO_DATABASE),
    ("entity-database-client-undefined", "", NO_CLIENT),
    (
        "entity-findCursor-malformed",
        "",
        Run { kind: "CannotRun", reasons: &["createFindCursor: missing argument `filter`"] },
    ),
    (
        "entity-findCursor",
        "",
        Load { reasons: &["`cursor0` is not a defined entity"], property: Some("object") },
    ),
    ("entity-session-client-undefined", "", NO_CLIENT),
    (
        "ignoreResultAndError-malformed",
        "",
        Run { kind: "CannotRun", reasons: &["insertOne: missing argument `document`"] },
    ),
    ("ignoreResultAndError", "", Run { kind: "OperationError", reasons: &["unexpected error", "11000"] }),
    (
        "kmsProviders-missing_aws_kms_credentials",
        "",
        Run { kind: "Entity", reasons: &["kmsProviders.aws lacks", "secretAccessKey"] },
    ),
    (
        "kmsProviders-missing_azure_kms_credentials",
        "",
        Run { kind: "Entity", reasons: &["kmsProviders.azure lacks", "clientId, clientSecret"] },
    ),
    (
        "kmsProviders-missing_gcp_kms_credentials",
        "",
        Run { kind: "Entity", reasons: &["kmsProviders.gcp lacks", "privateKey"] },
    ),
    ("kmsProviders-no_kms", "", Run { kind: "Entity", reasons: &["configures no KMS provider"] }),
    (
        "operation-failure",
        "Unsupported command",
        Run { kind: "OperationError", reasons: &["unsupportedCommand", "CommandNotFound"] },
    ),
    (
        "operation-failure",
        "Unsupported query operator",
        Run { kind: "OperationError", reasons: &["$unsupportedQueryOperator"] },
    ),
    ("operation-unsupported", "", Run { kind: "CannotRun", reasons: &["operation unsupportedOperation"] }),
    (
        "returnDocument-enum-invalid",
        "",
        Run { kind: "InvalidArgument", reasons: &["returnDocument", "`Before` or `After`", "\"invalid\""] },
    ),
    (
        "schemaVersion-unsupported",
        "",
        Load { reasons: &["is not supported"], property: Some("schemaVersion") },
    ),
];

/// An entity whose `database` is not a defined database entity.
const NO_DATABASE: Expected =
    Load { reasons: &["no database entity `foo` is defined"], property: Some("database") };

/// An entity whose `client` is not a defined client entity.
const NO_CLIENT: Expected =
    Load { reasons: &["no client entity `foo` is defined"], property: Some("client") };

/// An entity id used twice.
const DUPLICATE: Expected = Load {
    reasons: &["is already defined (entity ids must be unique)"],
    property: Some("storeEventsAsEntities"),
};

/// The expected failure of case `description` of `valid-fail/<stem>.json`, if recorded.
pub fn expected_failure(stem: &str, description: &str) -> Option<Expected> {
    EXPECTED.iter().find_map(|(file, case, expected)| {
        (*file == stem && description.to_lowercase().contains(&case.to_lowercase())).then_some(*expected)
    })
}

/// The tests of one valid-fail file (`file_ident`: its module name).
pub(super) fn generate_file(
    file: &Path,
    spec_file: &str,
    file_ident: &str,
    descriptions: &[String],
) -> Vec<GeneratedTest> {
    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    let parsed = super::loader::load(file);
    let mut cases = Unique::default();
    let mut tests = Vec::new();
    for (i, description) in descriptions.iter().enumerate() {
        let case_ident = cases.ident(description);
        let name = format!("unified_test_format::valid_fail::{file_ident}::{case_ident}");
        let (status, body) = match (expected_failure(stem, description), &parsed) {
            (None, _) => (
                Status::Ignored("valid-fail: no expected failure recorded for this file".into()),
                quote! { unimplemented!("no expected failure recorded"); },
            ),
            (Some(Load { reasons, property }), _) => (Status::Run, load_body(spec_file, reasons, property)),
            (Some(Run { .. }), Err(e)) => (
                Status::Ignored(format!(
                    "valid-fail: expected to fail at run time, but rejected at load: {e}"
                )),
                quote! { unimplemented!("rejected at load"); },
            ),
            (Some(Run { kind, reasons }), Ok(parsed)) => run_case(parsed, i, spec_file, &name, kind, reasons),
        };
        tests.push(GeneratedTest {
            path: vec!["valid_fail".into(), file_ident.to_string(), case_ident],
            spec_file: spec_file.to_string(),
            case_index: Some(i),
            status,
            is_async: true,
            body,
        });
    }
    tests
}

fn load_body(spec_file: &str, reasons: &[&str], property: Option<&str>) -> TokenStream {
    let property = match property {
        Some(p) => quote! { ::std::option::Option::Some(#p) },
        None => quote! { ::std::option::Option::None },
    };
    quote! {
        let path = ::std::path::Path::new(env!("SPEC_ROOT")).join(#spec_file);
        ::conformance::unified::assert_rejected(
            &path,
            spec_codegen::unified::load(&path),
            &[#(#reasons),*],
            #property,
        );
    }
}

/// A case the runner must fail: the case's usual body (see [`generate_case`]),
/// run on the default simulated deployment (a valid-fail file's requirements are not the
/// reason it fails, and `csfle` cannot be simulated), then the check that the runner
/// reported the expected failure. Ignored when the generator already knows the runner
/// would stop for another reason first.
fn run_case(
    parsed: &TestFile,
    index: usize,
    spec_file: &str,
    name: &str,
    kind: &str,
    reasons: &[&str],
) -> (Status, TokenStream) {
    let mut unrestricted = parsed.clone();
    unrestricted.run_on_requirements = None;
    for case in unrestricted.tests.0.iter_mut() {
        case.run_on_requirements = None;
    }
    let (status, body) = generate_case(&unrestricted, &unrestricted.tests[index], index, spec_file, name);
    let status = match status {
        Status::Ignored(reason) if !reasons.iter().all(|r| reason.contains(r)) => {
            Status::Ignored(format!("valid-fail: the runner stops for another reason first: {reason}"))
        }
        _ => Status::Run,
    };
    let kind = format_ident!("{}", kind);
    let body = quote! {
        let outcome = ::conformance::unified::valid_fail::run(async { #body }).await;
        ::conformance::unified::valid_fail::assert_reported(
            #spec_file,
            #index,
            outcome,
            ::conformance::unified::failure::FailureKind::#kind,
            &[#(#reasons),*],
        );
    };
    (status, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_model::json_files;

    /// Every pinned valid-fail case has an expected failure; those expected at load are
    /// rejected for that reason, the others load and are generated to run.
    #[test]
    fn pinned_valid_fail_files() {
        let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let root = match crate::spec_data::locate_specifications(manifest_dir) {
            Ok((_, root)) => root,
            Err(e) => panic!("spec data not found: {e}"),
        };
        let dir = root.join("source/unified-test-format/tests/valid-fail");
        let mut count = 0;
        let mut wrong = Vec::new();
        for file in json_files(&dir).unwrap() {
            let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
            let text = std::fs::read_to_string(&file).unwrap();
            let raw: serde_json::Value = serde_json::from_str(&text).unwrap();
            let descriptions: Vec<String> = raw["tests"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["description"].as_str().unwrap_or_default().to_string())
                .collect();
            for description in &descriptions {
                let expected = expected_failure(&stem, description);
                let loaded = super::super::load(&file);
                match (expected, &loaded) {
                    (Some(Load { reasons, .. }), Err(e)) => {
                        if !reasons.iter().any(|r| e.message.contains(r)) {
                            wrong.push(format!("{stem}: {e}"));
                        }
                    }
                    (Some(Run { .. }), Ok(_)) => {}
                    other => panic!("{stem} / {description}: {other:?}"),
                }
            }
            for test in generate_file(&file, "f.json", "m", &descriptions) {
                assert!(matches!(test.status, Status::Run), "{stem}: {:?}", test.status);
                count += 1;
            }
        }
        assert!(wrong.is_empty(), "rejected for another reason:\n{}", wrong.join("\n"));
        assert_eq!(count, 27);
    }
}
