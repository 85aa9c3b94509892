//! Generated tests for the SDAM test format (`server-discovery-and-monitoring/tests/README.rst`):
//! one test per file of `rs/`, `single/`, `sharded/`, `errors/`, `monitoring/` and
//! `load-balanced/` (the `unified/` tests use the unified test format, generated elsewhere).
//!
//! Each body lists the file's phases — hello replies and error responses as extended JSON
//! text, expectations as typed values of `generated-tests/harness/sdam.rs` — and calls its
//! checker, which feeds them through the driver's SDAM logic and asserts every outcome.

pub mod model;

use std::path::Path;

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use crate::error::read_json;
use crate::naming::Unique;
use crate::test_model::json_files;
use crate::{GeneratedTest, SpecError, Status};
use model::{Event, EventServer, EventTopology, ExpectedServer, Field, Outcome, SdamTest};

/// The sub-directories of `tests/` this generator reads, in order.
pub const SUBDIRS: [&str; 6] = ["rs", "single", "sharded", "errors", "monitoring", "load-balanced"];

/// Tests for `source/server-discovery-and-monitoring/tests/{rs,single,…}/*.json`, named
/// `<subdir>::<file>` (e.g. `rs::primary_becomes_standalone`).
pub fn generate(spec_root: &Path) -> Result<Vec<GeneratedTest>, SpecError> {
    let Some(dir) = crate::spec_data::source_dir(spec_root, "server-discovery-and-monitoring/tests")? else {
        return Ok(Vec::new());
    };
    let mut tests = Vec::new();
    for sub in SUBDIRS {
        let files = json_files(&dir.join(sub))?;
        let mut unique = Unique::default();
        for file in files {
            let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
            let path = vec![crate::naming::ident(sub), unique.ident(&stem)];
            tests.push(match read_json::<SdamTest>(&file) {
                Ok(test) => sdam_test(spec_root, &file, path, &test)?,
                Err(e) => crate::newer::ignored_file(spec_root, &file, path, e)?,
            });
        }
    }
    Ok(tests)
}

/// Why a case cannot pass yet, by `<subdir>::<file>`; empty when every case runs.
fn ignored(_name: &str) -> Option<&'static str> {
    None
}

fn sdam_test(
    spec_root: &Path,
    file: &Path,
    path: Vec<String>,
    t: &SdamTest,
) -> Result<GeneratedTest, SpecError> {
    let short = path.join("::");
    let name = format!("server_discovery_and_monitoring::{short}");
    let uri = &t.uri;
    let mut phases = Vec::new();
    for (i, phase) in t.phases.iter().enumerate() {
        let pointer = format!("/phases/{i}");
        let responses = phase.responses.iter().map(|r| {
            let address = &r.0.0;
            // Re-serializing a typed model cannot fail; an empty reply stays `{}`.
            let json = serde_json::to_string(&r.1).unwrap_or_else(|_| String::from("{}"));
            quote! { (#address, #json) }
        });
        let mut errors = Vec::new();
        for (j, e) in phase.application_errors.iter().enumerate() {
            let address = &e.address.0;
            let generation = option(e.generation.map(Literal::u32_unsuffixed));
            let wire = Literal::i32_unsuffixed(e.max_wire_version);
            let when = match e.when {
                model::When::BeforeHandshakeCompletes => quote! { BeforeHandshakeCompletes },
                model::When::AfterHandshakeCompletes => quote! { AfterHandshakeCompletes },
            };
            let kind = match (e.error_type, &e.response) {
                (model::ErrorType::Command, Some(response)) => {
                    let json = serde_json::to_string(response).unwrap_or_else(|_| String::from("{}"));
                    quote! { Command(#json) }
                }
                (model::ErrorType::Command, None) => {
                    return Err(SpecError::new(
                        file,
                        format!("{pointer}/applicationErrors/{j}"),
                        "a `command` error needs a `response`",
                    ));
                }
                (_, Some(_)) => {
                    return Err(SpecError::new(
                        file,
                        format!("{pointer}/applicationErrors/{j}/response"),
                        "only `command` errors have a `response`",
                    ));
                }
                (model::ErrorType::Network, None) => quote! { Network },
                (model::ErrorType::Timeout, None) => quote! { Timeout },
            };
            errors.push(quote! {
                AppError {
                    address: #address,
                    generation: #generation,
                    max_wire_version: #wire,
                    when: HandshakePhase::#when,
                    kind: AppErrorKind::#kind,
                }
            });
        }
        let outcome = outcome(file, &format!("{pointer}/outcome"), &phase.outcome)?;
        let description = phase.description.clone().unwrap_or_default();
        phases.push(quote! {
            Phase {
                description: #description,
                responses: ::std::vec::Vec::from([#(#responses),*]),
                application_errors: ::std::vec::Vec::from([#(#errors),*]),
                outcome: #outcome,
            }
        });
    }
    let body = quote! {
        use ::conformance::sdam::*;
        check(Case { name: #name, uri: #uri, phases: ::std::vec::Vec::from([#(#phases),*]) });
    };
    let status = match ignored(&short) {
        Some(reason) => Status::Ignored(reason.to_string()),
        None => Status::Run,
    };
    Ok(GeneratedTest {
        path,
        spec_file: file.strip_prefix(spec_root).unwrap_or(file).to_string_lossy().replace('\\', "/"),
        case_index: None,
        status,
        is_async: false,
        body,
    })
}

fn option(v: Option<impl quote::ToTokens>) -> TokenStream {
    match v {
        Some(v) => quote! { ::std::option::Option::Some(#v) },
        None => quote! { ::std::option::Option::None },
    }
}

fn field<T>(f: &Field<T>, value: impl Fn(&T) -> TokenStream) -> TokenStream {
    match f {
        Field::Absent => quote! { Field::Absent },
        Field::Null => quote! { Field::Null },
        Field::Value(v) => {
            let v = value(v);
            quote! { Field::Value(#v) }
        }
    }
}

fn str_field(f: &Field<String>) -> TokenStream {
    field(f, |s| quote! { #s })
}

fn int_field(f: &Field<i64>) -> TokenStream {
    field(f, |v| {
        let v = Literal::i64_unsuffixed(*v);
        quote! { #v }
    })
}

fn server_type(t: model::ServerType) -> TokenStream {
    use model::ServerType as S;
    let ty = match t {
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
    quote! { ServerType::#ty }
}

fn topology_type(t: model::TopologyType) -> TokenStream {
    use model::TopologyType as T;
    let ty = match t {
        T::Single => quote! { Single },
        T::ReplicaSetNoPrimary => quote! { ReplicaSetNoPrimary },
        T::ReplicaSetWithPrimary => quote! { ReplicaSetWithPrimary },
        T::Sharded => quote! { Sharded },
        T::LoadBalanced => quote! { LoadBalanced },
        T::Unknown => quote! { Unknown },
    };
    quote! { TopologyType::#ty }
}

fn outcome(file: &Path, pointer: &str, o: &Outcome) -> Result<TokenStream, SpecError> {
    if let Some(events) = &o.events {
        let topology_fields = o.servers.is_some()
            || o.topology_type.is_some()
            || o.set_name != Field::Absent
            || o.logical_session_timeout_minutes != Field::Absent
            || o.compatible.is_some();
        if topology_fields {
            return Err(SpecError::new(
                file,
                pointer,
                "an outcome has either `events` or a topology, not both",
            ));
        }
        let events = events.iter().map(event);
        return Ok(quote! { Outcome::Events(::std::vec::Vec::from([#(#events),*])) });
    }
    let (Some(servers), Some(ty)) = (&o.servers, o.topology_type) else {
        return Err(SpecError::new(file, pointer, "expected `events`, or `servers` and `topologyType`"));
    };
    let mut expected = Vec::new();
    for (address, s) in servers {
        let address = &address.0;
        let s = expected_server(s);
        expected.push(quote! { (#address, #s) });
    }
    let ty = topology_type(ty);
    let set_name = str_field(&o.set_name);
    let ls = int_field(&o.logical_session_timeout_minutes);
    let max_set_version = int_field(&o.max_set_version);
    let max_election_id = field(&o.max_election_id, |oid| {
        let hex = &oid.hex;
        quote! { #hex }
    });
    let compatible = option(o.compatible);
    Ok(quote! {
        Outcome::Topology(TopologyOutcome {
            topology_type: #ty,
            set_name: #set_name,
            logical_session_timeout_minutes: #ls,
            max_set_version: #max_set_version,
            max_election_id: #max_election_id,
            compatible: #compatible,
            servers: ::std::vec::Vec::from([#(#expected),*]),
        })
    })
}

fn expected_server(s: &ExpectedServer) -> TokenStream {
    let ty = server_type(s.server_type);
    let mut fields = Vec::new();
    if s.set_name != Field::Absent {
        let v = str_field(&s.set_name);
        fields.push(quote! { set_name: #v, });
    }
    if s.set_version != Field::Absent {
        let v = int_field(&s.set_version);
        fields.push(quote! { set_version: #v, });
    }
    if s.election_id != Field::Absent {
        let v = field(&s.election_id, |oid| {
            let hex = &oid.hex;
            quote! { #hex }
        });
        fields.push(quote! { election_id: #v, });
    }
    if s.topology_version != Field::Absent {
        let v = field(&s.topology_version, |tv| {
            let pid = &tv.process_id.hex;
            let counter = Literal::i64_unsuffixed(tv.counter.value);
            quote! { (#pid, #counter) }
        });
        fields.push(quote! { topology_version: #v, });
    }
    if s.logical_session_timeout_minutes != Field::Absent {
        let v = int_field(&s.logical_session_timeout_minutes);
        fields.push(quote! { logical_session_timeout_minutes: #v, });
    }
    for (name, f) in [("min_wire_version", &s.min_wire_version), ("max_wire_version", &s.max_wire_version)] {
        if *f != Field::Absent {
            let ident = quote::format_ident!("{}", name);
            let v = field(f, |v| {
                let v = Literal::i32_unsuffixed(*v);
                quote! { #v }
            });
            fields.push(quote! { #ident: #v, });
        }
    }
    if let Some(pool) = &s.pool {
        let g = Literal::u32_unsuffixed(pool.generation);
        fields.push(quote! { pool_generation: ::std::option::Option::Some(#g), });
    }
    quote! { Server { #(#fields)* ..Server::of(#ty) } }
}

fn event(e: &Event) -> TokenStream {
    match e {
        Event::TopologyOpening(_) => quote! { Event::TopologyOpening },
        Event::ServerOpening(s) => {
            let a = &s.address.0;
            quote! { Event::ServerOpening(#a) }
        }
        Event::ServerClosed(s) => {
            let a = &s.address.0;
            quote! { Event::ServerClosed(#a) }
        }
        Event::TopologyDescriptionChanged(t) => {
            let previous = event_topology(&t.previous);
            let new = event_topology(&t.new);
            quote! { Event::TopologyDescriptionChanged { previous: #previous, new: #new } }
        }
        Event::ServerDescriptionChanged(s) => {
            let a = &s.address.0;
            let previous = event_server(&s.previous);
            let new = event_server(&s.new);
            quote! { Event::ServerDescriptionChanged { address: #a, previous: #previous, new: #new } }
        }
    }
}

fn event_topology(t: &EventTopology) -> TokenStream {
    let ty = topology_type(t.topology_type);
    let set_name = str_field(&t.set_name);
    let servers = t.servers.iter().map(event_server);
    quote! { EventTopology { topology_type: #ty, set_name: #set_name, servers: ::std::vec::Vec::from([#(#servers),*]) } }
}

fn event_server(s: &EventServer) -> TokenStream {
    let address = &s.address.0;
    let ty = server_type(s.server_type);
    let list = |l: &[model::Address]| {
        let l = l.iter().map(|a| &a.0);
        quote! { ::std::vec::Vec::from([#(#l),*]) }
    };
    let (hosts, passives, arbiters) = (list(&s.hosts), list(&s.passives), list(&s.arbiters));
    let primary = field(&s.primary, |a| {
        let a = &a.0;
        quote! { #a }
    });
    let set_name = str_field(&s.set_name);
    quote! {
        EventServer {
            address: #address,
            server_type: #ty,
            hosts: #hosts,
            passives: #passives,
            arbiters: #arbiters,
            primary: #primary,
            set_name: #set_name,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn scratch(name: &str, text: &str) -> PathBuf {
        let root = std::env::temp_dir().join(format!("spec-codegen-sdam-{}-{name}", std::process::id()));
        for sub in SUBDIRS {
            let dir = root.join("source/server-discovery-and-monitoring/tests").join(sub);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(format!("{name}.json")), text).unwrap();
        }
        root
    }

    const GOOD: &str = r#"{"description": "d", "uri": "mongodb://a/?replicaSet=rs", "phases": [{
        "responses": [["a:27017", {"ok": 1, "isWritablePrimary": true, "setName": "rs", "hosts": ["a:27017"],
            "electionId": {"$oid": "000000000000000000000001"}, "minWireVersion": 0, "maxWireVersion": 6}]],
        "outcome": {"servers": {"a:27017": {"type": "RSPrimary", "setName": "rs", "pool": {"generation": 0}}},
            "topologyType": "ReplicaSetWithPrimary", "setName": "rs", "logicalSessionTimeoutMinutes": null}}]}"#;

    #[test]
    fn good_file_makes_one_test_per_subdir() {
        let root = scratch("Good_File", GOOD);
        let tests = generate(&root).unwrap();
        std::fs::remove_dir_all(&root).unwrap();
        let names: Vec<String> = tests.iter().map(|t| t.path.join("::")).collect();
        assert_eq!(names[0], "rs::good_file");
        assert_eq!(names[5], "load_balanced::good_file");
        assert!(tests[0].body.to_string().contains("000000000000000000000001"));
    }

    #[test]
    fn unknown_hello_field_is_located() {
        let root = scratch(
            "Unknown",
            &GOOD.replace("\"helloOk\"", "\"x\"").replace("\"ok\": 1,", "\"ok\": 1, \"surprise\": 2,"),
        );
        // An unknown field is newer, not malformed: the case is generated, ignored, naming it.
        let tests = generate(&root).unwrap();
        std::fs::remove_dir_all(&root).unwrap();
        let Status::Ignored(reason) = &tests[0].status else { panic!("{:?}", tests[0].status) };
        assert!(reason.starts_with("generator: unknown field `surprise` at "), "{reason}");
        assert!(reason.ends_with("rs/Unknown.json#/phases/0/responses/0/1/surprise"), "{reason}");
    }

    #[test]
    fn bad_values_are_located() {
        let root = scratch("BadOid", &GOOD.replace("000000000000000000000001", "xyz"));
        let err = generate(&root).unwrap_err();
        std::fs::remove_dir_all(&root).unwrap();
        assert_eq!(err.pointer, "/phases/0/responses/0/1/electionId");
        let root = scratch("NoOutcome", &GOOD.replace("\"topologyType\": \"ReplicaSetWithPrimary\",", ""));
        let err = generate(&root).unwrap_err();
        std::fs::remove_dir_all(&root).unwrap();
        assert_eq!(err.pointer, "/phases/0/outcome");
    }

    /// The pinned data: one test per file of each sub-directory.
    #[test]
    fn pinned_suite_generates_one_test_per_file() {
        let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let Ok((_, root)) = crate::spec_data::locate_specifications(manifest_dir) else {
            panic!("spec data not found (see spec-data/README.md)");
        };
        let tests = generate(&root).unwrap();
        let names: Vec<String> = tests.iter().map(|t| t.path.join("::")).collect();
        assert_eq!(names.len(), 185);
        for n in [
            "rs::primary_becomes_standalone",
            "errors::pre_42_not_primary_no_secondary_ok",
            "load_balanced::discover_load_balancer",
        ] {
            assert!(names.contains(&n.to_string()), "{n} missing");
        }
    }
}
