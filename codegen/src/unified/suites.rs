//! Further spec suites written in the Unified Test Format (`unified-test-format.rst`):
//! the transactions, retryable writes and SDAM specs' `tests/unified` folders, each
//! generated case by case like the CRUD suite (see [`super::operations`]).

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
