//! Runtime support for Unified Test Format suites (`unified-test-format.rst`): checks of
//! the generator's verdict on the format's own test files, and the matching rules of
//! section "Evaluating Matches" for the runner.

pub mod matching;

use std::path::Path;

use spec_codegen::SpecError;
use spec_codegen::unified::TestFile;

/// Asserts that the generator rejected the file at `path` (a file of `tests/invalid`)
/// with a located, non-empty message: the error names this file and its JSON pointer
/// locates a value that exists in the file.
pub fn assert_rejected(path: &Path, verdict: Result<TestFile, SpecError>) {
    let error = match verdict {
        Ok(_) => panic!("{}: an invalid unified test file was accepted", path.display()),
        Err(e) => e,
    };
    assert_eq!(error.file, path, "the error names another file: {error}");
    assert!(!error.message.trim().is_empty(), "the error has no message: {error}");
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
