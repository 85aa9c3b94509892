//! Spec suites and the tests generated from them: the registry of suites, and the
//! emitter that turns a suite's tests into one Rust module tree.

use std::collections::BTreeMap;
use std::path::Path;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

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
            generate: crate::unified::operations::generate_crud,
        },
        Suite {
            module: "command_monitoring",
            spec_dir: "command-monitoring",
            test_target: "unified_suites",
            generate: crate::unified::operations::generate_command_monitoring,
        },
        Suite {
            module: "sessions",
            spec_dir: "sessions",
            test_target: "unified_suites",
            generate: crate::unified::operations::generate_sessions,
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

#[derive(Default)]
struct Tree {
    children: BTreeMap<String, Tree>,
    tests: Vec<TokenStream>,
}

/// Emits `pub mod <suite> { ... }` holding the tests in nested modules (one `pub mod` per
/// segment of a nested module path).
pub fn emit(suite: &Suite, tests: &[GeneratedTest], spec_commit: &str) -> TokenStream {
    let mut root = Tree::default();
    for test in tests {
        let (name, dirs) = test.path.split_last().expect("a generated test has a name");
        let node = dirs.iter().fold(&mut root, |node, dir| node.children.entry(dir.clone()).or_default());
        node.tests.push(emit_test(name, test));
    }
    let doc = format!(
        " Generated from `source/{}/` of the driver specifications at commit {}.",
        suite.spec_dir, spec_commit
    );
    let mut segments = suite.module.rsplit("::");
    let innermost = format_ident!("{}", segments.next().unwrap_or(suite.module));
    let inner = emit_tree(&root);
    let mut tokens = quote! {
        #[doc = #doc]
        pub mod #innermost {
            #inner
        }
    };
    for outer in segments {
        let outer = format_ident!("{}", outer);
        tokens = quote! { pub mod #outer { #tokens } };
    }
    tokens
}

/// The file name (without extension) of a suite's readable copy: its module path with
/// `::` as `__`.
pub fn file_stem(suite: &Suite) -> String {
    suite.module.replace("::", "__")
}

fn emit_tree(tree: &Tree) -> TokenStream {
    let tests = &tree.tests;
    let modules = tree.children.iter().map(|(name, child)| {
        let ident = format_ident!("{}", name);
        let inner = emit_tree(child);
        quote! { pub mod #ident { #inner } }
    });
    quote! { #(#tests)* #(#modules)* }
}

fn emit_test(name: &str, test: &GeneratedTest) -> TokenStream {
    let ident = format_ident!("{}", name);
    let doc = match test.case_index {
        Some(i) => format!(" Spec file `{}`, case {}.", test.spec_file, i),
        None => format!(" Spec file `{}`.", test.spec_file),
    };
    let ignore = match &test.status {
        Status::Run => quote! {},
        Status::Ignored(reason) => quote! { #[ignore = #reason] },
    };
    let body = &test.body;
    if test.is_async {
        quote! {
            #[doc = #doc]
            #[tokio::test]
            #ignore
            async fn #ident() { #body }
        }
    } else {
        quote! {
            #[doc = #doc]
            #[test]
            #ignore
            fn #ident() { #body }
        }
    }
}

/// Formats generated tokens as Rust source (for the inspectable copy in `OUT_DIR`).
pub fn pretty(tokens: &TokenStream, header: &str) -> Result<String, String> {
    let file: syn::File =
        syn::parse2(tokens.clone()).map_err(|e| format!("generated code does not parse: {e}"))?;
    Ok(format!("{header}{}", prettyplease::unparse(&file)))
}

/// The `*.json` files directly in `dir` (the JSON twins of the spec's YAML), sorted. A
/// missing folder or one without test files is an error, never a silent run of zero tests.
pub fn json_files(dir: &Path) -> Result<Vec<std::path::PathBuf>, SpecError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| SpecError::new(dir, "", format!("cannot read the spec test folder: {e}")))?;
    let mut files: Vec<std::path::PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(SpecError::new(dir, "", "no spec test files (*.json) found"));
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

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
