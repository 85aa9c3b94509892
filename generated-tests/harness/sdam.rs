//! Runner for the SDAM test format (`server-discovery-and-monitoring/tests/README.rst`): the
//! generated tests describe each file's phases with these types and call [`check`], which
//! builds a topology from the file's URI, feeds each phase's hello replies and application
//! errors through the driver's SDAM logic ([`TopologyState`]), asserts the phase's expected
//! topology (or, for `monitoring/`, its events), and finally takes an insta snapshot
//! (`generated-tests/snapshots/<name with :: as __>.snap`) of the last description.

use crate::snapshot;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bson::{Bson, Document};
use mongo_driver::Error;
use mongo_driver::connection_string::ConnectionString;
use mongo_driver::event::sdam::SdamEvent;
pub use mongo_driver::sdam::{HandshakePhase, ServerType, TopologyType};
use mongo_driver::sdam::{
    ServerAddress, ServerDescription, TopologyDescription, TopologySettings, TopologyState,
};
use serde::Serialize;

/// A value the spec file may leave out (not checked), give as `null`, or give.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Field<T> {
    /// Not in the file: not checked.
    #[default]
    Absent,
    /// `null`.
    Null,
    /// A value.
    Value(T),
}

impl<T: PartialEq + std::fmt::Debug> Field<T> {
    /// Asserts `actual` matches (absent: anything; null: `None`; value: `Some(value)`).
    fn check(&self, actual: Option<T>, what: &dyn Fn() -> String) {
        match self {
            Field::Absent => {}
            Field::Null => assert!(actual.is_none(), "{}: expected null, got {actual:?}", what()),
            Field::Value(v) => {
                assert!(actual.as_ref() == Some(v), "{}: expected {v:?}, got {actual:?}", what())
            }
        }
    }
}

/// One SDAM test file.
#[derive(Debug, Clone)]
pub struct Case {
    /// The test's full name; names the snapshot.
    pub name: &'static str,
    /// The client's connection string.
    pub uri: &'static str,
    /// The phases.
    pub phases: Vec<Phase>,
}

/// One phase: responses, then application errors, then the expected outcome.
#[derive(Debug, Clone)]
pub struct Phase {
    /// What the phase shows (may be empty).
    pub description: &'static str,
    /// `(address, hello reply as extended JSON)`; `{}` is a network error.
    pub responses: Vec<(&'static str, &'static str)>,
    /// Application errors, after the responses.
    pub application_errors: Vec<AppError>,
    /// The expectation.
    pub outcome: Outcome,
}

/// A mocked application error.
#[derive(Debug, Clone)]
pub struct AppError {
    /// The server.
    pub address: &'static str,
    /// The connection's pool generation; `None`: the pool's current one.
    pub generation: Option<u32>,
    /// The connection's server wire version.
    pub max_wire_version: i32,
    /// Before or after the handshake.
    pub when: HandshakePhase,
    /// The error.
    pub kind: AppErrorKind,
}

/// The kind of a mocked application error.
#[derive(Debug, Clone)]
pub enum AppErrorKind {
    /// A command reply (extended JSON).
    Command(&'static str),
    /// A network error other than a timeout.
    Network,
    /// A network timeout.
    Timeout,
}

/// A phase's expectation.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The topology description after the phase.
    Topology(TopologyOutcome),
    /// The SDAM events published during the phase (monitoring tests).
    Events(Vec<Event>),
}

/// An expected topology description.
#[derive(Debug, Clone)]
pub struct TopologyOutcome {
    /// TopologyType.
    pub topology_type: TopologyType,
    /// setName.
    pub set_name: Field<&'static str>,
    /// logicalSessionTimeoutMinutes.
    pub logical_session_timeout_minutes: Field<i64>,
    /// maxSetVersion.
    pub max_set_version: Field<i64>,
    /// maxElectionId (hex).
    pub max_election_id: Field<&'static str>,
    /// compatible, when given.
    pub compatible: Option<bool>,
    /// Exactly the servers the topology must hold, by address.
    pub servers: Vec<(&'static str, Server)>,
}

/// An expected server description.
#[derive(Debug, Clone)]
pub struct Server {
    /// ServerType.
    pub server_type: ServerType,
    /// setName.
    pub set_name: Field<&'static str>,
    /// setVersion.
    pub set_version: Field<i64>,
    /// electionId (hex).
    pub election_id: Field<&'static str>,
    /// topologyVersion as (processId hex, counter).
    pub topology_version: Field<(&'static str, i64)>,
    /// logicalSessionTimeoutMinutes.
    pub logical_session_timeout_minutes: Field<i64>,
    /// minWireVersion (`null` means not reported, which the driver keeps as 0).
    pub min_wire_version: Field<i32>,
    /// maxWireVersion (`null` means not reported, which the driver keeps as 0).
    pub max_wire_version: Field<i32>,
    /// The pool's generation, when given.
    pub pool_generation: Option<u32>,
}

impl Server {
    /// A server of type `server_type` with nothing else checked.
    pub fn of(server_type: ServerType) -> Self {
        Self {
            server_type,
            set_name: Field::Absent,
            set_version: Field::Absent,
            election_id: Field::Absent,
            topology_version: Field::Absent,
            logical_session_timeout_minutes: Field::Absent,
            min_wire_version: Field::Absent,
            max_wire_version: Field::Absent,
            pool_generation: None,
        }
    }
}

/// An expected SDAM event (the topology id is not compared: ours is unique per topology).
#[derive(Debug, Clone)]
pub enum Event {
    /// TopologyOpeningEvent.
    TopologyOpening,
    /// TopologyDescriptionChangedEvent.
    TopologyDescriptionChanged {
        /// Before.
        previous: EventTopology,
        /// After.
        new: EventTopology,
    },
    /// ServerOpeningEvent.
    ServerOpening(&'static str),
    /// ServerClosedEvent.
    ServerClosed(&'static str),
    /// ServerDescriptionChangedEvent.
    ServerDescriptionChanged {
        /// The server.
        address: &'static str,
        /// Before.
        previous: EventServer,
        /// After.
        new: EventServer,
    },
}

/// A topology description in an event.
#[derive(Debug, Clone)]
pub struct EventTopology {
    /// TopologyType.
    pub topology_type: TopologyType,
    /// setName (absent: not checked).
    pub set_name: Field<&'static str>,
    /// Exactly its servers.
    pub servers: Vec<EventServer>,
}

/// A server description in an event.
#[derive(Debug, Clone)]
pub struct EventServer {
    /// The server.
    pub address: &'static str,
    /// ServerType.
    pub server_type: ServerType,
    /// hosts (compared as a set).
    pub hosts: Vec<&'static str>,
    /// passives (compared as a set).
    pub passives: Vec<&'static str>,
    /// arbiters (compared as a set).
    pub arbiters: Vec<&'static str>,
    /// primary (absent: not checked).
    pub primary: Field<&'static str>,
    /// setName (absent: not checked).
    pub set_name: Field<&'static str>,
}

/// Converts relaxed/canonical extended JSON as the SDAM files use it (`$oid`,
/// `$numberLong`) to BSON.
fn to_bson(value: serde_json::Value, context: &str) -> Bson {
    use serde_json::Value;
    match value {
        Value::Null => Bson::Null,
        Value::Bool(b) => Bson::Boolean(b),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i32::try_from(i).map_or(Bson::Int64(i), Bson::Int32),
            (None, Some(f)) => Bson::Double(f),
            _ => panic!("{context}: unsupported number {n}"),
        },
        Value::String(s) => Bson::String(s),
        Value::Array(items) => Bson::Array(items.into_iter().map(|v| to_bson(v, context)).collect()),
        Value::Object(map) => {
            if let (1, Some(Value::String(hex))) = (map.len(), map.get("$oid")) {
                let oid = bson::oid::ObjectId::parse_str(hex)
                    .unwrap_or_else(|e| panic!("{context}: bad $oid {hex}: {e}"));
                return Bson::ObjectId(oid);
            }
            if let (1, Some(Value::String(n))) = (map.len(), map.get("$numberLong")) {
                return Bson::Int64(
                    n.parse().unwrap_or_else(|e| panic!("{context}: bad $numberLong {n}: {e}")),
                );
            }
            Bson::Document(map.into_iter().map(|(k, v)| (k, to_bson(v, context))).collect())
        }
    }
}

fn document(json: &str, context: &str) -> Document {
    let value: serde_json::Value = serde_json::from_str(json)
        .unwrap_or_else(|e| panic!("{context}: generated JSON does not parse: {e}"));
    match to_bson(value, context) {
        Bson::Document(d) => d,
        other => panic!("{context}: expected a document, got {other}"),
    }
}

fn address(text: &str, context: &str) -> ServerAddress {
    text.parse().unwrap_or_else(|e| panic!("{context}: bad address {text}: {e}"))
}

/// The round trip time given to every successful check (the files give none).
const RTT: Duration = Duration::from_millis(1);

fn application_error(kind: &AppErrorKind, context: &str) -> Option<Error> {
    match kind {
        AppErrorKind::Network => Some(Error::io(
            "reading a reply",
            std::io::Error::new(std::io::ErrorKind::ConnectionReset, "mocked network error"),
        )),
        AppErrorKind::Timeout => Some(Error::io(
            "reading a reply",
            std::io::Error::new(std::io::ErrorKind::TimedOut, "mocked network timeout"),
        )),
        // A reply that reports no error (e.g. `ok: 1` with only `writeErrors`) is no error
        // for SDAM: the driver's reply parsing gives none, so nothing is handled.
        AppErrorKind::Command(json) => Error::from_reply(&document(json, context)),
    }
}

/// Runs the case: asserts each phase's outcome and snapshots the final description.
pub fn check(case: Case) {
    let Case { name, uri, phases } = case;
    let parsed = ConnectionString::parse(uri).unwrap_or_else(|e| panic!("{name}: uri {uri}: {e}"));
    let settings = TopologySettings::from_connection_string(&parsed)
        .unwrap_or_else(|e| panic!("{name}: uri {uri}: {e}"));
    let (mut topology, mut events) = TopologyState::open(&settings);
    let mut snapshot_phases = Vec::new();
    for (i, phase) in phases.iter().enumerate() {
        let context = format!("{name}: phase {i} ({})", phase.description);
        for (address_text, reply) in &phase.responses {
            let address = address(address_text, &context);
            let reply = document(reply, &context);
            let description = if reply.is_empty() {
                ServerDescription::check_failed(address, "mocked network error during the check")
            } else {
                ServerDescription::from_hello(address, &reply, Some(RTT))
            };
            events.extend(topology.apply_check(description).events);
        }
        for e in &phase.application_errors {
            let address = address(e.address, &context);
            let Some(error) = application_error(&e.kind, &context) else {
                continue;
            };
            let current = topology.pool_generation(&address).unwrap_or(0);
            let action = topology.handle_application_error(
                &address,
                &error,
                e.when,
                e.generation.unwrap_or(current),
                e.max_wire_version,
            );
            events.extend(action.change.events);
        }
        match &phase.outcome {
            Outcome::Topology(expected) => check_topology(&topology, expected, &context),
            Outcome::Events(expected) => check_events(&events, expected, &context),
        }
        snapshot_phases.push(PhaseSnapshot {
            events: events.iter().map(event_summary).collect(),
            topology: topology_snapshot(&topology),
        });
        events.clear();
    }
    snapshot(name, &CaseSnapshot { uri, phases: snapshot_phases });
}

fn check_topology(topology: &TopologyState, expected: &TopologyOutcome, context: &str) {
    let actual = topology.description();
    assert_eq!(actual.topology_type, expected.topology_type, "{context}: topologyType\n{actual:#?}");
    expected.set_name.check(actual.set_name.as_deref(), &|| format!("{context}: setName"));
    expected.logical_session_timeout_minutes.check(actual.logical_session_timeout_minutes(), &|| {
        format!("{context}: logicalSessionTimeoutMinutes")
    });
    expected.max_set_version.check(actual.max_set_version, &|| format!("{context}: maxSetVersion"));
    expected.max_election_id.check(actual.max_election_id.map(|id| id.to_hex()).as_deref(), &|| {
        format!("{context}: maxElectionId")
    });
    if let Some(compatible) = expected.compatible {
        assert_eq!(
            actual.is_compatible(),
            compatible,
            "{context}: compatible ({:?})",
            actual.compatibility_error()
        );
    }
    let want: BTreeSet<ServerAddress> = expected.servers.iter().map(|(a, _)| address(a, context)).collect();
    let have: BTreeSet<ServerAddress> = actual.servers.keys().cloned().collect();
    assert_eq!(have, want, "{context}: the topology's servers");
    for (address_text, e) in &expected.servers {
        let a = address(address_text, context);
        let Some(s) = actual.server(&a) else { continue };
        let what = |field: &str| format!("{context}: server {a} {field}");
        assert_eq!(s.server_type, e.server_type, "{}\n{s:#?}", what("type"));
        e.set_name.check(s.set_name.as_deref(), &|| what("setName"));
        e.set_version.check(s.set_version, &|| what("setVersion"));
        e.election_id.check(s.election_id.map(|id| id.to_hex()).as_deref(), &|| what("electionId"));
        let tv = s.topology_version.as_ref().map(|tv| {
            let pid = match tv.get("processId") {
                Some(Bson::ObjectId(id)) => id.to_hex(),
                other => panic!("{}: processId is {other:?}", what("topologyVersion")),
            };
            let counter = match tv.get("counter") {
                Some(Bson::Int64(c)) => *c,
                Some(Bson::Int32(c)) => i64::from(*c),
                other => panic!("{}: counter is {other:?}", what("topologyVersion")),
            };
            (pid, counter)
        });
        e.topology_version
            .map_ref()
            .check(tv.as_ref().map(|(p, c)| (p.as_str(), *c)), &|| what("topologyVersion"));
        e.logical_session_timeout_minutes
            .check(s.logical_session_timeout_minutes, &|| what("logicalSessionTimeoutMinutes"));
        // The driver keeps unreported wire versions as 0 (the spec's default).
        let wire = |v: i32| (v != 0).then_some(v);
        e.min_wire_version.check(wire(s.min_wire_version), &|| what("minWireVersion"));
        e.max_wire_version.check(wire(s.max_wire_version), &|| what("maxWireVersion"));
        if let Some(generation) = e.pool_generation {
            assert_eq!(topology.pool_generation(&a), Some(generation), "{}", what("pool generation"));
        }
    }
}

impl Field<(&'static str, i64)> {
    fn map_ref(&self) -> Field<(&str, i64)> {
        match self {
            Field::Absent => Field::Absent,
            Field::Null => Field::Null,
            Field::Value((p, c)) => Field::Value((*p, *c)),
        }
    }
}

fn check_event_server(actual: &ServerDescription, expected: &EventServer, context: &str) {
    let a = &actual.address;
    assert_eq!(*a, address(expected.address, context), "{context}: server address");
    assert_eq!(actual.server_type, expected.server_type, "{context}: server {a} type");
    let set = |l: &[ServerAddress]| l.iter().cloned().collect::<BTreeSet<_>>();
    let want = |l: &[&str]| l.iter().map(|s| address(s, context)).collect::<BTreeSet<_>>();
    assert_eq!(set(&actual.hosts), want(&expected.hosts), "{context}: server {a} hosts");
    assert_eq!(set(&actual.passives), want(&expected.passives), "{context}: server {a} passives");
    assert_eq!(set(&actual.arbiters), want(&expected.arbiters), "{context}: server {a} arbiters");
    let primary = actual.primary.as_ref().map(ToString::to_string);
    let expected_primary = match expected.primary {
        Field::Value(p) => Field::Value(address(p, context).to_string()),
        Field::Null => Field::Null,
        Field::Absent => Field::Absent,
    };
    expected_primary.check(primary, &|| format!("{context}: server {a} primary"));
    expected.set_name.check(actual.set_name.as_deref(), &|| format!("{context}: server {a} setName"));
}

fn check_event_topology(actual: &TopologyDescription, expected: &EventTopology, context: &str) {
    assert_eq!(actual.topology_type, expected.topology_type, "{context}: topologyType");
    expected.set_name.check(actual.set_name.as_deref(), &|| format!("{context}: setName"));
    let want: BTreeMap<ServerAddress, &EventServer> =
        expected.servers.iter().map(|s| (address(s.address, context), s)).collect();
    let have: BTreeSet<&ServerAddress> = actual.servers.keys().collect();
    assert_eq!(have, want.keys().collect::<BTreeSet<_>>(), "{context}: servers");
    for (a, e) in want {
        if let Some(s) = actual.server(&a) {
            check_event_server(s, e, context);
        }
    }
}

fn check_events(actual: &[SdamEvent], expected: &[Event], context: &str) {
    let summary: Vec<String> = actual.iter().map(event_summary).collect();
    assert_eq!(actual.len(), expected.len(), "{context}: number of events; published:\n{summary:#?}");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        let context = format!("{context}: event {i} ({})", summary[i]);
        match (a, e) {
            (SdamEvent::TopologyOpening(_), Event::TopologyOpening) => {}
            (SdamEvent::ServerOpening(a), Event::ServerOpening(e)) => {
                assert_eq!(a.address, address(e, &context), "{context}")
            }
            (SdamEvent::ServerClosed(a), Event::ServerClosed(e)) => {
                assert_eq!(a.address, address(e, &context), "{context}")
            }
            (
                SdamEvent::TopologyDescriptionChanged(a),
                Event::TopologyDescriptionChanged { previous, new },
            ) => {
                check_event_topology(&a.previous_description, previous, &format!("{context} previous"));
                check_event_topology(&a.new_description, new, &format!("{context} new"));
            }
            (
                SdamEvent::ServerDescriptionChanged(a),
                Event::ServerDescriptionChanged { address: at, previous, new },
            ) => {
                assert_eq!(a.address, address(at, &context), "{context}");
                check_event_server(&a.previous_description, previous, &format!("{context} previous"));
                check_event_server(&a.new_description, new, &format!("{context} new"));
            }
            (a, e) => panic!("{context}: expected {e:?}, got {a:?}"),
        }
    }
}

#[derive(Serialize)]
struct CaseSnapshot {
    uri: &'static str,
    phases: Vec<PhaseSnapshot>,
}

#[derive(Serialize)]
struct PhaseSnapshot {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    events: Vec<String>,
    topology: TopologySnapshot,
}

#[derive(Serialize)]
struct TopologySnapshot {
    topology_type: String,
    set_name: Option<String>,
    max_set_version: Option<i64>,
    max_election_id: Option<String>,
    logical_session_timeout_minutes: Option<i64>,
    compatibility_error: Option<String>,
    servers: Vec<ServerSnapshot>,
}

#[derive(Serialize)]
struct ServerSnapshot {
    address: String,
    server_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    set_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    set_version: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    election_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    topology_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    logical_session_timeout_minutes: Option<i64>,
    pool_generation: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

fn topology_snapshot(topology: &TopologyState) -> TopologySnapshot {
    let d = topology.description();
    TopologySnapshot {
        topology_type: d.topology_type.to_string(),
        set_name: d.set_name.clone(),
        max_set_version: d.max_set_version,
        max_election_id: d.max_election_id.map(|id| id.to_hex()),
        logical_session_timeout_minutes: d.logical_session_timeout_minutes(),
        compatibility_error: d.compatibility_error(),
        servers: d
            .servers()
            .map(|s| ServerSnapshot {
                address: s.address.to_string(),
                server_type: s.server_type.to_string(),
                set_name: s.set_name.clone(),
                set_version: s.set_version,
                election_id: s.election_id.map(|id| id.to_hex()),
                topology_version: s.topology_version.as_ref().map(ToString::to_string),
                logical_session_timeout_minutes: s.logical_session_timeout_minutes,
                pool_generation: topology.pool_generation(&s.address),
                error: s.error.clone(),
            })
            .collect(),
    }
}

fn event_summary(e: &SdamEvent) -> String {
    let servers = |d: &TopologyDescription| {
        d.servers().map(|s| format!("{} {}", s.address, s.server_type)).collect::<Vec<_>>().join(", ")
    };
    match e {
        SdamEvent::TopologyOpening(_) => "topology opening".into(),
        SdamEvent::TopologyClosed(_) => "topology closed".into(),
        SdamEvent::ServerOpening(e) => format!("server opening {}", e.address),
        SdamEvent::ServerClosed(e) => format!("server closed {}", e.address),
        SdamEvent::ServerDescriptionChanged(e) => format!(
            "server description changed {}: {} -> {}",
            e.address, e.previous_description.server_type, e.new_description.server_type
        ),
        SdamEvent::TopologyDescriptionChanged(e) => format!(
            "topology description changed: {} [{}] -> {} [{}]",
            e.previous_description.topology_type,
            servers(&e.previous_description),
            e.new_description.topology_type,
            servers(&e.new_description)
        ),
        other => format!("{other:?}"),
    }
}
