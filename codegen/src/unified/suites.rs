//! Further spec suites written in the Unified Test Format (`unified-test-format.rst`):
//! the transactions, retryable writes, SDAM and change streams specs' `tests/unified`
//! folders and the GridFS, collection management, versioned API and load balancers
//! specs' `tests`, each generated case by case like the CRUD suite (see
//! [`super::operations`]).

use std::path::Path;

use super::operations::generate_dir;
use crate::{GeneratedTest, SpecError};

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
