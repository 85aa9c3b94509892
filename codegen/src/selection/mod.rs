//! Generated tests for the server-selection test format (`server-selection/tests/README.rst`,
//! also used by `max-staleness/tests/README.rst`): one test per spec file.
//!
//! Each body builds the driver's own `TopologyDescription`, `ReadPreference` and friends
//! from the file's values (so the spec type-checks the public API), then calls a checker
//! in `generated-tests/harness/selection.rs` that asserts the spec's expectations and
//! records an insta snapshot.

pub mod model;

use std::path::{Path, PathBuf};

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use crate::error::{escape_token, read_json};
use crate::naming::Unique;
use crate::{GeneratedTest, SpecError, Status};
use model::{Address, InWindowTest, RttTest, SelectionTest, Server};

/// Tests for `source/max-staleness/tests/**`, named `<topology dir>::<file>`.
pub fn generate_max_staleness(spec_root: &Path) -> Result<Vec<GeneratedTest>, SpecError> {
    let Some(dir) = crate::spec_data::source_dir(spec_root, "max-staleness/tests")? else {
        return Ok(Vec::new());
    };
    let mut tests = Vec::new();
    for (path, name) in json_files(&dir, &[])? {
        tests.push(match read_json::<SelectionTest>(&path) {
            Ok(test) => selection_test("max_staleness", spec_root, &path, name, &test)?,
            Err(e) => crate::newer::ignored_file(spec_root, &path, name, e)?,
        });
    }
    Ok(tests)
}

/// Tests for `source/server-selection/tests/{server_selection,rtt,in_window}/**`, named
/// `server_selection::<topology>::<read|write>::<file>`, `rtt::<file>`, `in_window::<file>`.
pub fn generate_server_selection(spec_root: &Path) -> Result<Vec<GeneratedTest>, SpecError> {
    let Some(dir) = crate::spec_data::source_dir(spec_root, "server-selection/tests")? else {
        return Ok(Vec::new());
    };
    let mut tests = Vec::new();
    for (path, name) in json_files(&dir.join("server_selection"), &["server_selection"])? {
        tests.push(match read_json::<SelectionTest>(&path) {
            Ok(test) => selection_test("server_selection", spec_root, &path, name, &test)?,
            Err(e) => crate::newer::ignored_file(spec_root, &path, name, e)?,
        });
    }
    for (path, name) in json_files(&dir.join("rtt"), &["rtt"])? {
        tests.push(match read_json::<RttTest>(&path) {
            Ok(test) => rtt_test(spec_root, &path, name, &test),
            Err(e) => crate::newer::ignored_file(spec_root, &path, name, e)?,
        });
    }
    for (path, name) in json_files(&dir.join("in_window"), &["in_window"])? {
        tests.push(match read_json::<InWindowTest>(&path) {
            Ok(test) => in_window_test(spec_root, &path, name, &test)?,
            Err(e) => crate::newer::ignored_file(spec_root, &path, name, e)?,
        });
    }
    Ok(tests)
}

/// Every `*.json` below `dir` (sorted), with its test path: `prefix`, then each folder
/// and the file stem as identifiers (unique within their folder). A missing or empty
/// folder is an error, never a silent run of zero tests.
fn json_files(dir: &Path, prefix: &[&str]) -> Result<Vec<(PathBuf, Vec<String>)>, SpecError> {
    fn walk(dir: &Path, path: Vec<String>, out: &mut Vec<(PathBuf, Vec<String>)>) -> Result<(), SpecError> {
        let entries = std::fs::read_dir(dir)
            .map_err(|e| SpecError::new(dir, "", format!("cannot read the spec test folder: {e}")))?;
        let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        let mut unique = Unique::default();
        for entry in entries {
            let stem = entry.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
            if entry.is_dir() {
                let mut sub = path.clone();
                sub.push(unique.ident(&stem));
                walk(&entry, sub, out)?;
            } else if entry.extension().is_some_and(|e| e == "json") {
                let mut name = path.clone();
                name.push(unique.ident(&stem));
                out.push((entry, name));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, prefix.iter().map(|s| s.to_string()).collect(), &mut out)?;
    if out.is_empty() {
        return Err(SpecError::new(dir, "", "no spec test files (*.json) found"));
    }
    Ok(out)
}

fn spec_file(spec_root: &Path, path: &Path) -> String {
    path.strip_prefix(spec_root).unwrap_or(path).to_string_lossy().replace('\\', "/")
}

fn full_name(suite: &str, path: &[String]) -> String {
    format!("{suite}::{}", path.join("::"))
}

fn test(spec_root: &Path, file: &Path, path: Vec<String>, body: TokenStream) -> GeneratedTest {
    GeneratedTest {
        path,
        spec_file: spec_file(spec_root, file),
        case_index: None,
        status: Status::Run,
        is_async: false,
        body,
    }
}

fn selection_test(
    suite: &str,
    spec_root: &Path,
    file: &Path,
    path: Vec<String>,
    t: &SelectionTest,
) -> Result<GeneratedTest, SpecError> {
    let name = full_name(suite, &path);
    let topology = topology(&t.topology_description);
    let operation = match t.operation {
        model::Operation::Read => quote! { ::mongo_driver::selection::Operation::Read },
        model::Operation::Write => quote! { ::mongo_driver::selection::Operation::Write },
    };
    let read_preference = read_preference(&t.read_preference);
    let options = match t.heartbeat_frequency_ms {
        Some(ms) => {
            let ms = Literal::u64_unsuffixed(ms);
            quote! {
            ::mongo_driver::selection::SelectionOptions {
                heartbeat_frequency: ::std::time::Duration::from_millis(#ms),
                ..::std::default::Default::default()
            }
            }
        }
        None => quote! { ::mongo_driver::selection::SelectionOptions::default() },
    };
    let expected = match (t.error, &t.suitable_servers, &t.in_latency_window) {
        (Some(true), None, None) => quote! { ::conformance::selection::Expected::Error },
        (Some(true), _, _) => {
            return Err(SpecError::new(file, "/error", "`error: true` together with expected servers"));
        }
        (_, suitable, Some(window)) => {
            let suitable = match suitable {
                Some(s) => {
                    let s = s.iter().map(|s| address(&s.address));
                    quote! { ::std::option::Option::Some(::std::vec![#(#s),*]) }
                }
                None => quote! { ::std::option::Option::None },
            };
            let window = window.iter().map(|s| address(&s.address));
            quote! {
                ::conformance::selection::Expected::Servers {
                    suitable: #suitable,
                    in_latency_window: ::std::vec![#(#window),*],
                }
            }
        }
        (_, _, None) => {
            return Err(SpecError::new(file, "", "expected `error: true` or `in_latency_window`"));
        }
    };
    let deprioritized = t.deprioritized_servers.iter().map(|s| address(&s.address));
    let body = quote! {
        ::conformance::selection::check_selection(::conformance::selection::SelectionCase {
            name: #name,
            topology: #topology,
            operation: #operation,
            read_preference: #read_preference,
            options: #options,
            deprioritized: ::std::vec![#(#deprioritized),*],
            expected: #expected,
        });
    };
    Ok(test(spec_root, file, path, body))
}

fn rtt_test(spec_root: &Path, file: &Path, path: Vec<String>, t: &RttTest) -> GeneratedTest {
    let name = full_name("server_selection", &path);
    let previous = match t.avg_rtt_ms.0 {
        Some(m) => {
            let d = duration(m);
            quote! { ::std::option::Option::Some(#d) }
        }
        None => quote! { ::std::option::Option::None },
    };
    let sample = duration(t.new_rtt_ms);
    let expected = duration(t.new_avg_rtt);
    let body = quote! {
        ::conformance::selection::check_rtt(#name, #previous, #sample, #expected);
    };
    test(spec_root, file, path, body)
}

fn in_window_test(
    spec_root: &Path,
    file: &Path,
    path: Vec<String>,
    t: &InWindowTest,
) -> Result<GeneratedTest, SpecError> {
    let name = full_name("server_selection", &path);
    let known: Vec<&Address> = t.topology_description.servers.iter().map(|s| &s.address).collect();
    for (i, m) in t.mocked_topology_state.iter().enumerate() {
        if !known.contains(&&m.address) {
            return Err(SpecError::new(
                file,
                format!("/mocked_topology_state/{i}/address"),
                format!("{} is not in topology_description", m.address),
            ));
        }
    }
    let tolerance = t.outcome.tolerance;
    if !(0.0..=1.0).contains(&tolerance) {
        return Err(SpecError::new(file, "/outcome/tolerance", "expected a number in [0, 1]"));
    }
    let mut frequencies = Vec::new();
    for (key, &frequency) in &t.outcome.expected_frequencies {
        let pointer = format!("/outcome/expected_frequencies/{}", escape_token(key));
        let a = Address::parse(key).map_err(|e| SpecError::new(file, &pointer, e))?;
        if !known.contains(&&a) {
            return Err(SpecError::new(file, &pointer, format!("{a} is not in topology_description")));
        }
        if !(0.0..=1.0).contains(&frequency) {
            return Err(SpecError::new(file, &pointer, "expected a frequency in [0, 1]"));
        }
        let a = address(&a);
        let frequency = Literal::f64_unsuffixed(frequency);
        frequencies.push(quote! { (#a, #frequency) });
    }
    if t.iterations == 0 {
        return Err(SpecError::new(file, "/iterations", "expected at least one iteration"));
    }
    let counts = t.mocked_topology_state.iter().map(|m| {
        let a = address(&m.address);
        let c = Literal::u32_unsuffixed(m.operation_count);
        quote! { (#a, #c) }
    });
    let topology = topology(&t.topology_description);
    let iterations = Literal::u32_unsuffixed(t.iterations);
    let tolerance_literal = Literal::f64_unsuffixed(tolerance);
    let body = quote! {
        ::conformance::selection::check_in_window(::conformance::selection::InWindowCase {
            name: #name,
            topology: #topology,
            operation_counts: ::std::vec![#(#counts),*],
            iterations: #iterations,
            tolerance: #tolerance_literal,
            expected_frequencies: ::std::vec![#(#frequencies),*],
        });
    };
    Ok(test(spec_root, file, path, body))
}

fn address(a: &Address) -> TokenStream {
    let (host, port) = (&a.host, Literal::u16_unsuffixed(a.port));
    quote! { ::mongo_driver::sdam::ServerAddress::new(#host, #port) }
}

fn duration(m: model::Millis) -> TokenStream {
    if m.nanos % 1_000_000 == 0 {
        let ms = Literal::u64_unsuffixed(m.nanos / 1_000_000);
        quote! { ::std::time::Duration::from_millis(#ms) }
    } else {
        let nanos = Literal::u64_unsuffixed(m.nanos);
        quote! { ::std::time::Duration::from_nanos(#nanos) }
    }
}

fn topology(t: &model::TopologyDescription) -> TokenStream {
    use model::TopologyType as T;
    let ty = match t.topology_type {
        T::Single => quote! { Single },
        T::ReplicaSetNoPrimary => quote! { ReplicaSetNoPrimary },
        T::ReplicaSetWithPrimary => quote! { ReplicaSetWithPrimary },
        T::Sharded => quote! { Sharded },
        T::LoadBalanced => quote! { LoadBalanced },
        T::Unknown => quote! { Unknown },
    };
    let servers = t.servers.iter().map(server);
    quote! {
        ::mongo_driver::sdam::TopologyDescription::new(
            ::mongo_driver::sdam::TopologyType::#ty,
            [#(#servers),*],
        )
    }
}

fn server(s: &Server) -> TokenStream {
    use model::ServerType as S;
    let ty = match s.server_type {
        S::Standalone => quote! { Standalone },
        S::Mongos => quote! { Mongos },
        S::PossiblePrimary => quote! { PossiblePrimary },
        S::RSPrimary => quote! { RsPrimary },
        S::RSSecondary => quote! { RsSecondary },
        S::RSArbiter => quote! { RsArbiter },
        S::RSOther => quote! { RsOther },
        S::RSGhost => quote! { RsGhost },
        S::LoadBalancer => quote! { LoadBalancer },
        S::Unknown => quote! { Unknown },
    };
    let mut fields = Vec::new();
    if let Some(rtt) = s.avg_rtt_ms {
        let d = duration(rtt);
        fields.push(quote! { average_round_trip_time: ::std::option::Option::Some(#d), });
    }
    if let Some(ms) = s.last_update_time {
        let ms = Literal::i64_unsuffixed(ms);
        fields.push(
            quote! { last_update_time: ::std::option::Option::Some(::bson::DateTime::from_millis(#ms)), },
        );
    }
    if let Some(w) = &s.last_write {
        let ms = Literal::i64_unsuffixed(w.last_write_date.0);
        fields.push(
            quote! { last_write_date: ::std::option::Option::Some(::bson::DateTime::from_millis(#ms)), },
        );
    }
    match s.max_wire_version {
        Some(v) => {
            let v = Literal::i32_unsuffixed(v);
            fields.push(quote! { max_wire_version: #v, })
        }
        // The server-selection format gives no wire versions; an available server in
        // those tests is meant to be one the driver can talk to.
        None if s.server_type.is_available() => {
            fields.push(quote! { max_wire_version: ::mongo_driver::sdam::MAX_SUPPORTED_WIRE_VERSION, })
        }
        None => {}
    }
    if let Some(tags) = &s.tags {
        let tags = tags_literal(tags);
        fields.push(quote! { tags: #tags, });
    }
    let address = address(&s.address);
    quote! {
        ::mongo_driver::sdam::ServerDescription {
            #(#fields)*
            ..::mongo_driver::sdam::ServerDescription::new(#address, ::mongo_driver::sdam::ServerType::#ty)
        }
    }
}

fn tags_literal(tags: &std::collections::BTreeMap<String, String>) -> TokenStream {
    if tags.is_empty() {
        return quote! { ::mongo_driver::selection::TagSet::default() };
    }
    let pairs = tags.iter().map(|(k, v)| quote! { (#k, #v) });
    quote! { ::mongo_driver::selection::TagSet::from([#(#pairs),*]) }
}

fn read_preference(rp: &model::ReadPreference) -> TokenStream {
    use model::Mode as M;
    let mode = match rp.mode.unwrap_or(M::Primary) {
        M::Primary => quote! { Primary },
        M::PrimaryPreferred => quote! { PrimaryPreferred },
        M::Secondary => quote! { Secondary },
        M::SecondaryPreferred => quote! { SecondaryPreferred },
        M::Nearest => quote! { Nearest },
    };
    let tag_sets = rp.tag_sets.iter().flatten().map(tags_literal);
    let max_staleness = match rp.max_staleness_seconds {
        Some(s) => {
            let s = Literal::i64_unsuffixed(s);
            quote! { ::std::option::Option::Some(#s) }
        }
        None => quote! { ::std::option::Option::None },
    };
    quote! {
        ::mongo_driver::selection::ReadPreference {
            mode: ::mongo_driver::selection::ReadPreferenceMode::#mode,
            tag_sets: ::std::vec![#(#tag_sets),*],
            max_staleness_seconds: #max_staleness,
            hedge: ::std::option::Option::None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch specifications checkout holding one max-staleness file.
    fn scratch(name: &str, text: &str) -> PathBuf {
        let root = std::env::temp_dir().join(format!("spec-codegen-selection-{}-{name}", std::process::id()));
        let dir = root.join("source/max-staleness/tests/ReplicaSetNoPrimary");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.json")), text).unwrap();
        root
    }

    const GOOD_SERVER: &str = r#"{"address": "a:27017", "type": "RSSecondary", "avg_rtt_ms": 5,
        "lastUpdateTime": 0, "maxWireVersion": 6, "lastWrite": {"lastWriteDate": {"$numberLong": "1"}}}"#;

    #[test]
    fn bad_value_is_reported_with_file_and_pointer() {
        let text = format!(
            r#"{{"topology_description": {{"type": "ReplicaSetNoPrimary", "servers": [{GOOD_SERVER},
                {{"address": "b:27017", "type": "RSSecondary", "avg_rtt_ms": 5,
                  "lastWrite": {{"lastWriteDate": {{"$numberLong": "soon"}}}}}}]}},
               "read_preference": {{"mode": "Nearest"}}, "in_latency_window": []}}"#
        );
        let root = scratch("BadValue", &text);
        let err = generate_max_staleness(&root).unwrap_err();
        std::fs::remove_dir_all(&root).unwrap();
        assert!(err.file.ends_with("ReplicaSetNoPrimary/BadValue.json"), "{err}");
        assert_eq!(err.pointer, "/topology_description/servers/1/lastWrite/lastWriteDate");
        assert!(err.message.contains("bad $numberLong `soon`"), "{err}");
        assert!(err.to_string().contains("BadValue.json: at JSON pointer `/topology_description/servers/1/"));
    }

    #[test]
    fn unknown_field_is_rejected() {
        let text = format!(
            r#"{{"topology_description": {{"type": "ReplicaSetNoPrimary", "servers": [{GOOD_SERVER}]}},
               "read_preference": {{"mode": "Nearest", "hedge": {{"enabled": true}}}}, "in_latency_window": []}}"#
        );
        let root = scratch("UnknownField", &text);
        // An unknown field is newer, not malformed: the case is generated, ignored, naming it.
        let tests = generate_max_staleness(&root).unwrap();
        std::fs::remove_dir_all(&root).unwrap();
        assert_eq!(
            tests[0].status,
            Status::Ignored(
                "generator: unknown field `hedge` at source/max-staleness/tests/ReplicaSetNoPrimary/UnknownField.json#/read_preference/hedge".into()
            )
        );
    }

    #[test]
    fn unknown_server_type_and_bad_address_are_located() {
        let text = r#"{"topology_description": {"type": "ReplicaSetNoPrimary", "servers": [
              {"address": "a:27017", "type": "RSSecondary"}, {"address": "b:99999", "type": "RSSecondary"}]},
           "in_latency_window": []}"#;
        let root = scratch("BadAddress", text);
        let err = generate_max_staleness(&root).unwrap_err();
        std::fs::remove_dir_all(&root).unwrap();
        assert_eq!(err.pointer, "/topology_description/servers/1/address");

        let text = r#"{"topology_description": {"type": "ReplicaSetNoPrimary", "servers": [
              {"address": "a:27017", "type": "RSPrimaryish"}]}, "in_latency_window": []}"#;
        let root = scratch("BadType", text);
        // A server type the model does not know may be a later addition: ignored, naming it.
        let tests = generate_max_staleness(&root).unwrap();
        std::fs::remove_dir_all(&root).unwrap();
        let Status::Ignored(reason) = &tests[0].status else { panic!("{:?}", tests[0].status) };
        assert!(reason.contains("unknown variant `RSPrimaryish` at "), "{reason}");
        assert!(reason.ends_with("#/topology_description/servers/0/type"), "{reason}");
    }

    #[test]
    fn a_test_without_expectations_is_rejected() {
        let text = r#"{"topology_description": {"type": "Unknown", "servers": []}}"#;
        let root = scratch("NoExpectation", text);
        let err = generate_max_staleness(&root).unwrap_err();
        std::fs::remove_dir_all(&root).unwrap();
        assert!(err.message.contains("expected `error: true` or `in_latency_window`"), "{err}");
    }

    #[test]
    fn missing_folder_is_an_error() {
        let err = generate_server_selection(Path::new("/nonexistent-spec-root")).unwrap_err();
        assert!(err.message.contains("cannot read the spec test folder"), "{err}");
    }

    /// The pinned data: every file becomes one test with the documented names.
    #[test]
    fn pinned_suites_generate_one_test_per_file() {
        let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let Ok((_, root)) = crate::spec_data::locate_specifications(manifest_dir) else {
            panic!("spec data not found (see spec-data/README.md)");
        };
        let names =
            |tests: Vec<GeneratedTest>| -> Vec<String> { tests.iter().map(|t| t.path.join("::")).collect() };
        let ms = names(generate_max_staleness(&root).unwrap());
        assert_eq!(ms.len(), 32);
        assert!(ms.contains(&"replica_set_no_primary::nearest2".to_string()));
        let ss = names(generate_server_selection(&root).unwrap());
        assert_eq!(ss.len(), 68);
        for n in [
            "server_selection::replica_set_with_primary::read::secondary_preferred",
            "rtt::first_value",
            "in_window::equilibrium",
            "in_window::many_choices",
        ] {
            assert!(ss.contains(&n.to_string()), "{n} missing");
        }
    }
}
