//! The registry of spec suites: every suite the project generates, with the emitter that
//! makes its tests, and the active pin's known failures applied to them.

use std::path::Path;

use crate::SpecError;
use crate::test_model::{GeneratedTest, Status, Suite};

pub use crate::module_tree::{emit, file_stem, pretty};

/// Every suite the project generates.
pub fn suites() -> &'static [Suite] {
    &[
        Suite {
            module: "max_staleness",
            spec_dir: "max-staleness",
            test_target: "selection",
            generate: crate::selection::generate_max_staleness,
        },
        Suite {
            module: "server_selection",
            spec_dir: "server-selection",
            test_target: "selection",
            generate: crate::selection::generate_server_selection,
        },
        Suite {
            module: "server_discovery_and_monitoring",
            spec_dir: "server-discovery-and-monitoring",
            test_target: "sdam",
            generate: crate::sdam::generate,
        },
        Suite {
            module: "connection_string",
            spec_dir: "connection-string",
            test_target: "connection_string",
            generate: crate::connection_string::generate_connection_string,
        },
        Suite {
            module: "uri_options",
            spec_dir: "uri-options",
            test_target: "connection_string",
            generate: crate::connection_string::generate_uri_options,
        },
        Suite {
            module: "read_write_concern",
            spec_dir: "read-write-concern",
            test_target: "connection_string",
            generate: crate::read_write_concern::generate,
        },
        Suite {
            module: "auth",
            spec_dir: "auth",
            test_target: "connection_string",
            generate: crate::auth::generate,
        },
        Suite {
            module: "initial_dns_seedlist_discovery",
            spec_dir: "initial-dns-seedlist-discovery",
            test_target: "dns_seedlist",
            generate: crate::dns_seedlist::generate,
        },
        Suite {
            module: "connection_monitoring_and_pooling",
            spec_dir: "connection-monitoring-and-pooling",
            test_target: "cmap",
            generate: crate::cmap::generate_cmap,
        },
        Suite {
            module: "unified_test_format",
            spec_dir: "unified-test-format",
            test_target: "unified",
            generate: crate::unified::generate,
        },
        Suite {
            module: "crud",
            spec_dir: "crud",
            test_target: "unified_suites",
            generate: crate::unified::suites::generate_crud,
        },
        Suite {
            module: "command_monitoring",
            spec_dir: "command-monitoring",
            test_target: "unified_suites",
            generate: crate::unified::suites::generate_command_monitoring,
        },
        Suite {
            module: "sessions",
            spec_dir: "sessions",
            test_target: "unified_suites",
            generate: crate::unified::suites::generate_sessions,
        },
        Suite {
            module: "transactions",
            spec_dir: "transactions",
            test_target: "unified_suites",
            generate: crate::unified::suites::generate_transactions,
        },
        Suite {
            module: "retryable_writes",
            spec_dir: "retryable-writes",
            test_target: "unified_suites",
            generate: crate::unified::suites::generate_retryable_writes,
        },
        Suite {
            module: "server_discovery_and_monitoring::unified",
            spec_dir: "server-discovery-and-monitoring",
            test_target: "unified_suites",
            generate: crate::unified::suites::generate_sdam_unified,
        },
        Suite {
            module: "change_streams::unified",
            spec_dir: "change-streams",
            test_target: "feature_suites",
            generate: crate::unified::suites::generate_change_streams,
        },
        Suite {
            module: "gridfs",
            spec_dir: "gridfs",
            test_target: "feature_suites",
            generate: crate::unified::suites::generate_gridfs,
        },
        Suite {
            module: "collection_management",
            spec_dir: "collection-management",
            test_target: "feature_suites",
            generate: crate::unified::suites::generate_collection_management,
        },
        Suite {
            module: "versioned_api",
            spec_dir: "versioned-api",
            test_target: "feature_suites",
            generate: crate::unified::suites::generate_versioned_api,
        },
        Suite {
            module: "load_balancers",
            spec_dir: "load-balancers",
            test_target: "unified_suites",
            generate: crate::unified::suites::generate_load_balancers,
        },
        Suite {
            module: "client_side_operations_timeout",
            spec_dir: "client-side-operations-timeout",
            test_target: "csot",
            generate: crate::unified::suites::generate_csot,
        },
        Suite {
            module: "crud::v1",
            spec_dir: "crud",
            test_target: "legacy_crud",
            generate: crate::crud_v1::generate_crud_v1,
        },
        Suite {
            module: "retryable_writes::legacy",
            spec_dir: "retryable-writes",
            test_target: "legacy_crud",
            generate: crate::crud_v1::generate_retryable_writes_legacy,
        },
        Suite {
            module: "sessions::legacy",
            spec_dir: "sessions",
            test_target: "legacy_suites",
            generate: crate::legacy::generate_sessions,
        },
        Suite {
            module: "transactions::legacy",
            spec_dir: "transactions",
            test_target: "legacy_suites",
            generate: crate::legacy::generate_transactions,
        },
        Suite {
            module: "transactions_convenient_api",
            spec_dir: "transactions-convenient-api",
            test_target: "legacy_suites",
            generate: crate::legacy::generate_convenient_api,
        },
        Suite {
            module: "retryable_reads",
            spec_dir: "retryable-reads",
            test_target: "legacy_suites",
            generate: crate::legacy::generate_retryable_reads,
        },
        Suite {
            module: "read_write_concern::operation",
            spec_dir: "read-write-concern",
            test_target: "legacy_suites",
            generate: crate::legacy::generate_read_write_concern,
        },
    ]
}

/// The tests of `suite` from the specifications checkout `spec_root`, with the active pin's
/// known failures (see [`crate::spec_data::Source::known_failures`]) ignored with their reason.
pub fn generate(suite: &Suite, spec_root: &Path) -> Result<Vec<GeneratedTest>, SpecError> {
    let mut tests = (suite.generate)(spec_root)?;
    let pin = crate::spec_data::active().map_err(|e| SpecError::new(spec_root, "", e))?;
    if !pin.known.is_empty() {
        for test in &mut tests {
            let name = format!("{}::{}", suite.module, test.path.join("::"));
            if let (Some(reason), Status::Run) = (pin.known.get(&name), &test.status) {
                test.status = Status::Ignored(reason.clone());
            }
        }
    }
    Ok(tests)
}

/// Names of the active pin's known failures that match no generated test that would run
/// (`generated` holds every suite's tests): a stale entry, to be removed from the table.
pub fn stale_known_failures(generated: &[(&Suite, Vec<GeneratedTest>)]) -> Result<Vec<String>, String> {
    let pin = crate::spec_data::active()?;
    let names: std::collections::BTreeSet<String> = generated
        .iter()
        .flat_map(|(s, tests)| tests.iter().map(move |t| format!("{}::{}", s.module, t.path.join("::"))))
        .collect();
    Ok(pin.known.keys().filter(|k| !names.contains(*k)).cloned().collect())
}

/// The suite with module path `module` (e.g. `crud`, `server_discovery_and_monitoring::unified`).
pub fn find(module: &str) -> Option<&'static Suite> {
    suites().iter().find(|s| s.module == module)
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    #[test]
    fn suite_modules_are_unique_and_nest() {
        let mut seen = std::collections::BTreeSet::new();
        for s in suites() {
            assert!(seen.insert(s.module), "suite module {} registered twice", s.module);
            assert!(find(s.module).is_some_and(|f| f.spec_dir == s.spec_dir));
        }
        let Some(nested) = find("server_discovery_and_monitoring::unified") else {
            panic!("the SDAM unified suite is registered")
        };
        assert_eq!(file_stem(nested), "server_discovery_and_monitoring__unified");
        let test = GeneratedTest {
            path: vec!["file".into(), "case".into()],
            spec_file: "f.json".into(),
            case_index: Some(0),
            status: Status::Run,
            is_async: false,
            body: quote! {},
        };
        let source = match pretty(&emit(nested, &[test], "abc"), "") {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        };
        let compact: String = source.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            compact.starts_with("pub mod server_discovery_and_monitoring { /// Generated from"),
            "{source}"
        );
        assert!(compact.contains("pub mod unified { pub mod file { /// Spec file"), "{source}");
    }
}
