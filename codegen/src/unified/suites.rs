//! The spec suites written in the Unified Test Format (`unified-test-format.rst`): the
//! CRUD, command monitoring, sessions, transactions, retryable writes, SDAM and change
//! streams specs' unified folders and the GridFS, collection management, versioned API,
//! load balancers and CSOT specs' `tests`, each file generated case by case (see
//! [`super::case`]).

use std::path::Path;

use super::case::generate_case;
use super::loader::load;
use crate::naming::Unique;
use crate::test_model::{json_files, stem_ident};
use crate::{GeneratedTest, SpecError};

/// Tests of the CRUD spec's unified files (`source/crud/tests/unified/*.json`).
pub fn generate_crud(spec_root: &Path) -> Result<Vec<GeneratedTest>, SpecError> {
    generate_dir(spec_root, "crud", "tests/unified", "crud")
}

/// Tests of the command monitoring spec's unified files
/// (`source/command-monitoring/tests/unified/*.json`).
pub fn generate_command_monitoring(spec_root: &Path) -> Result<Vec<GeneratedTest>, SpecError> {
    generate_dir(spec_root, "command-monitoring", "tests/unified", "command_monitoring")
}

/// Tests of the sessions spec's unified files (`source/sessions/tests/*.json`).
pub fn generate_sessions(spec_root: &Path) -> Result<Vec<GeneratedTest>, SpecError> {
    generate_dir(spec_root, "sessions", "tests", "sessions")
}

pub(crate) fn generate_dir(
    spec_root: &Path,
    spec_dir: &str,
    tests_dir: &str,
    module: &str,
) -> Result<Vec<GeneratedTest>, SpecError> {
    let Some(dir) = crate::spec_data::source_dir(spec_root, &format!("{spec_dir}/{tests_dir}"))? else {
        return Ok(Vec::new());
    };
    let mut tests = Vec::new();
    let mut files = Unique::default();
    for file in json_files(&dir)? {
        let file_ident = files.ident(&stem_ident(&file));
        tests.extend(generate_file(spec_root, &file, &[file_ident], module)?);
    }
    Ok(tests)
}

/// The tests of one unified file, named `prefix::<case>` below the suite `module`; a file
/// for a later schema version gives ignored tests naming why (see [`crate::newer`]).
pub(crate) fn generate_file(
    spec_root: &Path,
    file: &Path,
    prefix: &[String],
    module: &str,
) -> Result<Vec<GeneratedTest>, SpecError> {
    let spec_file = crate::test_model::rel(spec_root, file);
    let parsed = match load(file) {
        Ok(parsed) => parsed,
        Err(err) if err.is_newer() => return crate::newer::ignored_cases(file, &spec_file, &err, prefix),
        Err(err) => return Err(err),
    };
    let mut tests = Vec::new();
    let mut cases = Unique::default();
    for (i, case) in parsed.tests.iter().enumerate() {
        let mut path = prefix.to_vec();
        path.push(cases.ident(&case.description));
        let name = format!("{module}::{}", path.join("::"));
        let (status, body) = generate_case(&parsed, case, i, &spec_file, &name);
        tests.push(GeneratedTest {
            path,
            spec_file: spec_file.clone(),
            case_index: Some(i),
            status,
            is_async: true,
            body,
        });
    }
    Ok(tests)
}

/// Tests of the transactions spec's unified files (`source/transactions/tests/unified/*.json`).
pub fn generate_transactions(spec_root: &Path) -> Result<Vec<GeneratedTest>, SpecError> {
    generate_dir(spec_root, "transactions", "tests/unified", "transactions")
}

/// Tests of the retryable writes spec's unified files
/// (`source/retryable-writes/tests/unified/*.json`).
pub fn generate_retryable_writes(spec_root: &Path) -> Result<Vec<GeneratedTest>, SpecError> {
    generate_dir(spec_root, "retryable-writes", "tests/unified", "retryable_writes")
}

/// Tests of the SDAM spec's unified files
/// (`source/server-discovery-and-monitoring/tests/unified/*.json`), in the module
/// `server_discovery_and_monitoring::unified` beside the SDAM spec's own JSON tests.
pub fn generate_sdam_unified(spec_root: &Path) -> Result<Vec<GeneratedTest>, SpecError> {
    generate_dir(
        spec_root,
        "server-discovery-and-monitoring",
        "tests/unified",
        "server_discovery_and_monitoring::unified",
    )
}

/// Tests of the change streams spec's unified files
/// (`source/change-streams/tests/unified/*.json`), in the module `change_streams::unified`.
pub fn generate_change_streams(spec_root: &Path) -> Result<Vec<GeneratedTest>, SpecError> {
    generate_dir(spec_root, "change-streams", "tests/unified", "change_streams::unified")
}

/// Tests of the GridFS spec's unified files (`source/gridfs/tests/*.json`).
pub fn generate_gridfs(spec_root: &Path) -> Result<Vec<GeneratedTest>, SpecError> {
    generate_dir(spec_root, "gridfs", "tests", "gridfs")
}

/// Tests of the collection management spec's unified files
/// (`source/collection-management/tests/*.json`).
pub fn generate_collection_management(spec_root: &Path) -> Result<Vec<GeneratedTest>, SpecError> {
    generate_dir(spec_root, "collection-management", "tests", "collection_management")
}

/// Tests of the versioned API spec's unified files (`source/versioned-api/tests/*.json`).
pub fn generate_versioned_api(spec_root: &Path) -> Result<Vec<GeneratedTest>, SpecError> {
    generate_dir(spec_root, "versioned-api", "tests", "versioned_api")
}

/// Tests of the load balancers spec's unified files (`source/load-balancers/tests/*.json`).
pub fn generate_load_balancers(spec_root: &Path) -> Result<Vec<GeneratedTest>, SpecError> {
    generate_dir(spec_root, "load-balancers", "tests", "load_balancers")
}

/// Tests of the client-side operations timeout spec's unified files
/// (`source/client-side-operations-timeout/tests/*.json`).
pub fn generate_csot(spec_root: &Path) -> Result<Vec<GeneratedTest>, SpecError> {
    generate_dir(spec_root, "client-side-operations-timeout", "tests", "client_side_operations_timeout")
}
