//! Runtime support for Unified Test Format suites (`unified-test-format.rst`): checks of
//! the generator's verdict on the format's own test files, and the matching rules of
//! section "Evaluating Matches" for the runner.

pub mod cursor_entities;
pub mod deployment;
pub mod failure;
pub mod leaks;
pub mod matching;
pub mod runner;
pub mod valid_fail;

use std::path::Path;

use spec_codegen::SpecError;
use spec_codegen::unified::TestFile;

/// Asserts that the generator rejected the file at `path` (a file of `tests/invalid`)
/// for the reason its name gives: the error names this file, its message contains one
/// of `reasons` (any non-empty message when `reasons` is empty), its JSON pointer
/// locates a value that exists in the file and, when `property` is given, passes
/// through that property.
pub fn assert_rejected(
    path: &Path,
    verdict: Result<TestFile, SpecError>,
    reasons: &[&str],
    property: Option<&str>,
) {
    let error = match verdict {
        Ok(_) => panic!("{}: an invalid unified test file was accepted", path.display()),
        Err(e) => e,
    };
    assert_eq!(error.file, path, "the error names another file: {error}");
    assert!(!error.message.trim().is_empty(), "the error has no message: {error}");
    assert!(
        reasons.is_empty() || reasons.iter().any(|r| error.message.contains(r)),
        "rejected, but not for the expected reason (one of {reasons:?}): {error}"
    );
    if let Some(property) = property {
        let token = format!("/{property}");
        assert!(
            error.pointer.contains(&format!("{token}/")) || error.pointer.ends_with(&token),
            "rejected at `{}`, not at property `{property}`: {error}",
            error.pointer
        );
    }
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let document: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    assert!(
        document.pointer(&error.pointer).is_some(),
        "the error's JSON pointer `{}` locates nothing in the file: {error}",
        error.pointer
    );
}
