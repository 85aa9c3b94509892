//! The shared test model every emitter produces: a generated test ([`GeneratedTest`]) and
//! its [`Status`], the description of a spec suite ([`Suite`]), and spec-file discovery
//! (a suite's `*.json` files, named relative to the specifications checkout).

use std::path::{Path, PathBuf};

use proc_macro2::TokenStream;

use crate::SpecError;

/// Whether a generated test runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// The test runs.
    Run,
    /// The test is generated with `#[ignore = reason]`.
    Ignored(String),
}

/// One generated test: where it sits, where it came from, and its body.
#[derive(Debug, Clone)]
pub struct GeneratedTest {
    /// Module path below the suite module; the last element is the test function's name.
    /// Each element must be a valid identifier (see [`crate::naming`]).
    pub path: Vec<String>,
    /// The spec file, relative to the specifications checkout (e.g. `source/max-staleness/tests/...json`).
    pub spec_file: String,
    /// The index of the case in the file's list of cases, where the file has several.
    pub case_index: Option<usize>,
    /// Run or ignored.
    pub status: Status,
    /// Whether the body is `async` (run with `#[tokio::test]`).
    pub is_async: bool,
    /// The statements of the test function.
    pub body: TokenStream,
}

/// A generator for one spec directory.
pub struct Suite {
    /// Module path of the suite (the spec directory in snake_case), e.g. `max_staleness`;
    /// a suite that is one part of a spec directory's tests names a nested module, e.g.
    /// `server_discovery_and_monitoring::unified`. Unique among the suites.
    pub module: &'static str,
    /// The spec directory under `source/`, e.g. `max-staleness`.
    pub spec_dir: &'static str,
    /// The test target (file in `generated-tests/`) that expands it.
    pub test_target: &'static str,
    /// Reads the suite's files below the specifications checkout and makes its tests.
    pub generate: fn(&Path) -> Result<Vec<GeneratedTest>, SpecError>,
}

/// The `*.json` files directly in `dir` (the JSON twins of the spec's YAML), sorted. A
/// missing folder or one without test files is an error, never a silent run of zero tests.
pub fn json_files(dir: &Path) -> Result<Vec<PathBuf>, SpecError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| SpecError::new(dir, "", format!("cannot read the spec test folder: {e}")))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(SpecError::new(dir, "", "no spec test files (*.json) found"));
    }
    Ok(files)
}

/// `path` relative to the specifications checkout `spec_root`, with `/` separators (the
/// spec file as the manifest names it).
pub fn rel(spec_root: &Path, path: &Path) -> String {
    path.strip_prefix(spec_root).unwrap_or(path).to_string_lossy().replace('\\', "/")
}

/// The file's stem as a Rust identifier (see [`crate::naming::ident`]): how the generators
/// name a spec file's module.
pub fn stem_ident(file: &Path) -> String {
    file.file_stem().and_then(|s| s.to_str()).map(crate::naming::ident).unwrap_or_default()
}
