//! The Unified Test Format (`source/unified-test-format/unified-test-format.rst`): the
//! typed model of its files, their loading and validation, and the emitters that turn its
//! cases into tests.
//!
//! Layers, bottom to top (a file imports only from the layers below it, or its peers):
//! - `model` (the schema's parts) → `locate`, `validate` → `loader`;
//! - `support` (helpers every operation emitter shares), `deployment`, `unsupported`;
//! - the operation rooms, one per entity kind or group of special test operations:
//!   `collection_ops`, `database_ops`, `index_ops`, `cursors`, `bucket`, `transactions`,
//!   `event_ops`, `runner_ops`;
//! - `operations` (the dispatcher to those rooms) → `case` (one case as a test);
//! - `suites`, `valid_fail`, `format_suite` (whole spec suites), called by the registry
//!   [`crate::suite`].

mod bucket;
mod case;
mod collection_ops;
mod cursors;
mod database_ops;
mod deployment;
mod event_ops;
mod format_suite;
mod index_ops;
mod loader;
mod locate;
pub mod model;
mod operations;
mod runner_ops;
pub mod suites;
mod support;
mod transactions;
mod unsupported;
pub mod valid_fail;
mod validate;

pub use case::generate_translated_case;
pub(crate) use case::{CaseParts, case_parts};
pub(crate) use deployment::{SIM_VERSIONS, newest_at_pin, sim_tokens};
pub use deployment::{SimTopology, choose_deployment, requires_auth};
pub use format_suite::{expected_rejection, generate};
pub(crate) use loader::{Descriptions, from_translated};
pub use loader::{SUPPORTED_SCHEMA, load, parse};
pub use model::{TestFile, Version};
pub(crate) use unsupported::failure_in;

/// Helpers for the emitters' unit tests.
#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use crate::Status;
    use std::path::Path;

    /// Parses a unified test file given as text (named `f.json`), failing the test with the
    /// loader's error.
    pub fn parse_ok(text: &str) -> TestFile {
        match parse(Path::new("f.json"), text) {
            Ok(f) => f,
            Err(e) => panic!("{e}"),
        }
    }

    /// A file (schema 1.9) with client `c`, database `db` and collection `coll`, whose one
    /// case runs `operations` (a JSON array).
    pub fn collection_file(operations: &str) -> TestFile {
        let text = format!(
            r#"{{"description": "d", "schemaVersion": "1.9",
            "createEntities": [
                {{"client": {{"id": "c"}}}},
                {{"database": {{"id": "db", "client": "c", "databaseName": "d"}}}},
                {{"collection": {{"id": "coll", "database": "db", "collectionName": "x"}}}}
            ],
            "tests": [{{"description": "t", "operations": {operations}}}]}}"#
        );
        parse_ok(&text)
    }

    /// Status and body (as text) of the first case of `file`, generated as `m::t` of `f.json`.
    pub fn emitted(file: &TestFile) -> (Status, String) {
        let (status, body) = case::generate_case(file, &file.tests[0], 0, "f.json", "m::t");
        (status, body.to_string())
    }

    /// The body of the first case of `file`, failing the test unless the case runs and its
    /// body contains each of `calls`.
    pub fn assert_emits(file: &TestFile, calls: &[&str]) -> String {
        let (status, body) = emitted(file);
        assert!(matches!(status, Status::Run), "{status:?}");
        for call in calls {
            assert!(body.contains(call), "{call} missing from {body}");
        }
        body
    }
}
