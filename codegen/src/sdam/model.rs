//! Typed models of the SDAM test format (`server-discovery-and-monitoring/tests/README.rst`,
//! and `monitoring/README.rst` for the event outcomes). Every struct denies unknown fields,
//! so a spec bump that adds one fails the build at that field's JSON pointer. Hello replies
//! and error responses are serialized back to extended JSON for the generated tests.

use std::collections::BTreeMap;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};

/// A value that may be absent, explicitly `null`, or given (the format tells these apart:
/// an absent field is not checked, `null` must be null).
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Field<T> {
    /// Not in the file: not checked.
    #[default]
    Absent,
    /// `null`.
    Null,
    /// A value.
    Value(T),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(d)? {
            None => Field::Null,
            Some(v) => Field::Value(v),
        })
    }
}

/// One SDAM test file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SdamTest {
    /// What the test shows.
    pub description: String,
    /// The client's connection string.
    pub uri: String,
    /// The phases, in order.
    pub phases: Vec<Phase>,
}

/// A phase: inputs, then the expected state.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    /// What the phase shows.
    pub description: Option<String>,
    /// Check outcomes to feed, in order.
    #[serde(default)]
    pub responses: Vec<Response>,
    /// Application errors to feed after the responses.
    #[serde(default, rename = "applicationErrors")]
    pub application_errors: Vec<ApplicationError>,
    /// The expected topology or events.
    pub outcome: Outcome,
}

/// `[address, hello reply]`; an empty reply stands for a network error.
#[derive(Debug, Clone, Deserialize)]
pub struct Response(pub Address, pub Hello);

/// A `host:port` address, as the files spell it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Address(pub String);

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let valid = match s.rsplit_once(':') {
            Some((host, port)) => !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0),
            None => false,
        };
        if !valid {
            return Err(de::Error::custom(format!("expected a `host:port` address, not `{s}`")));
        }
        Ok(Address(s))
    }
}

/// `{"$oid": "<24 hex digits>"}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Oid {
    /// The hex digits.
    #[serde(rename = "$oid")]
    pub hex: String,
}

impl<'de> Deserialize<'de> for Oid {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            #[serde(rename = "$oid")]
            hex: String,
        }
        let raw = Raw::deserialize(d)?;
        if raw.hex.len() != 24 || !raw.hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(de::Error::custom(format!("`$oid` must be 24 hex digits, not `{}`", raw.hex)));
        }
        Ok(Oid { hex: raw.hex.to_ascii_lowercase() })
    }
}

/// `{"$numberLong": "<digits>"}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NumberLong {
    /// The value.
    #[serde(rename = "$numberLong", serialize_with = "long_as_string")]
    pub value: i64,
}

fn long_as_string<S: serde::Serializer>(v: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&v.to_string())
}

impl<'de> Deserialize<'de> for NumberLong {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            #[serde(rename = "$numberLong")]
            value: String,
        }
        let raw = Raw::deserialize(d)?;
        let value =
            raw.value.parse().map_err(|_| de::Error::custom(format!("bad $numberLong `{}`", raw.value)))?;
        Ok(NumberLong { value })
    }
}

/// A `topologyVersion` document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopologyVersion {
    /// `processId`.
    #[serde(rename = "processId")]
    pub process_id: Oid,
    /// `counter`.
    pub counter: NumberLong,
}

/// A hello or legacy hello reply (only the fields the files use; an empty one is a
/// network error).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
pub struct Hello {
    /// `ok`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ok: Option<i64>,
    /// `helloOk`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub helloOk: Option<bool>,
    /// `isWritablePrimary`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub isWritablePrimary: Option<bool>,
    /// Legacy `ismaster`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ismaster: Option<bool>,
    /// `secondary`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secondary: Option<bool>,
    /// `arbiterOnly`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arbiterOnly: Option<bool>,
    /// `hidden`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hidden: Option<bool>,
    /// `passive`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passive: Option<bool>,
    /// `isreplicaset`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub isreplicaset: Option<bool>,
    /// `msg`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg: Option<String>,
    /// `setName`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setName: Option<String>,
    /// `setVersion`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setVersion: Option<i64>,
    /// `electionId`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub electionId: Option<Oid>,
    /// `me`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub me: Option<String>,
    /// `primary`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary: Option<String>,
    /// `hosts`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hosts: Option<Vec<String>>,
    /// `passives`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passives: Option<Vec<String>>,
    /// `arbiters`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arbiters: Option<Vec<String>>,
    /// `minWireVersion`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minWireVersion: Option<i32>,
    /// `maxWireVersion`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maxWireVersion: Option<i32>,
    /// `logicalSessionTimeoutMinutes` (`null` is kept as null).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "explicit_null")]
    pub logicalSessionTimeoutMinutes: Option<Option<i64>>,
    /// `topologyVersion`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topologyVersion: Option<TopologyVersion>,
}

fn explicit_null<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// When an application error happens.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub enum When {
    /// During a new connection's handshake.
    #[serde(rename = "beforeHandshakeCompletes")]
    BeforeHandshakeCompletes,
    /// On an established connection.
    #[serde(rename = "afterHandshakeCompletes")]
    AfterHandshakeCompletes,
}

/// The kind of a mocked application error.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub enum ErrorType {
    /// A command error (with a `response`).
    #[serde(rename = "command")]
    Command,
    /// A network error that is not a timeout.
    #[serde(rename = "network")]
    Network,
    /// A network timeout.
    #[serde(rename = "timeout")]
    Timeout,
}

/// An application error to feed to the topology.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationError {
    /// The server.
    pub address: Address,
    /// The connection's pool generation; absent means the pool's current one.
    pub generation: Option<u32>,
    /// The connection's server wire version.
    #[serde(rename = "maxWireVersion")]
    pub max_wire_version: i32,
    /// Before or after the handshake.
    pub when: When,
    /// The kind of error.
    #[serde(rename = "type")]
    pub error_type: ErrorType,
    /// The command reply, for `command` errors.
    pub response: Option<ErrorResponse>,
}

/// A command reply carrying an error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
pub struct ErrorResponse {
    /// `ok`.
    pub ok: i64,
    /// `errmsg`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errmsg: Option<String>,
    /// `code`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<i32>,
    /// `topologyVersion`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topologyVersion: Option<TopologyVersion>,
    /// `writeErrors` (SDAM never looks inside them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub writeErrors: Option<Vec<WriteError>>,
}

/// One write error of a `writeErrors` array.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriteError {
    /// `errmsg`.
    pub errmsg: String,
    /// `code`.
    pub code: i32,
    /// `index`.
    pub index: u32,
}

/// The spec's ServerType names.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[allow(missing_docs)]
pub enum ServerType {
    Standalone,
    Mongos,
    PossiblePrimary,
    RSPrimary,
    RSSecondary,
    RSArbiter,
    RSOther,
    RSGhost,
    LoadBalancer,
    Unknown,
}

/// The spec's TopologyType names.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[allow(missing_docs)]
pub enum TopologyType {
    Single,
    ReplicaSetNoPrimary,
    ReplicaSetWithPrimary,
    Sharded,
    LoadBalanced,
    Unknown,
}

/// A phase's expected outcome: a topology description, or (monitoring tests) events.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    /// Expected servers by address.
    pub servers: Option<BTreeMap<Address, ExpectedServer>>,
    /// Expected TopologyType.
    #[serde(rename = "topologyType")]
    pub topology_type: Option<TopologyType>,
    /// Expected replica set name.
    #[serde(default, rename = "setName")]
    pub set_name: Field<String>,
    /// Expected logical session timeout.
    #[serde(default, rename = "logicalSessionTimeoutMinutes")]
    pub logical_session_timeout_minutes: Field<i64>,
    /// Expected max set version.
    #[serde(default, rename = "maxSetVersion")]
    pub max_set_version: Field<i64>,
    /// Expected max election id.
    #[serde(default, rename = "maxElectionId")]
    pub max_election_id: Field<Oid>,
    /// Expected compatibility.
    pub compatible: Option<bool>,
    /// Monitoring tests: the events published during the phase.
    pub events: Option<Vec<Event>>,
}

/// An expected server in a topology outcome.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedServer {
    /// ServerType.
    #[serde(rename = "type")]
    pub server_type: ServerType,
    /// setName.
    #[serde(default, rename = "setName")]
    pub set_name: Field<String>,
    /// setVersion.
    #[serde(default, rename = "setVersion")]
    pub set_version: Field<i64>,
    /// electionId.
    #[serde(default, rename = "electionId")]
    pub election_id: Field<Oid>,
    /// topologyVersion.
    #[serde(default, rename = "topologyVersion")]
    pub topology_version: Field<TopologyVersion>,
    /// logicalSessionTimeoutMinutes.
    #[serde(default, rename = "logicalSessionTimeoutMinutes")]
    pub logical_session_timeout_minutes: Field<i64>,
    /// minWireVersion.
    #[serde(default, rename = "minWireVersion")]
    pub min_wire_version: Field<i32>,
    /// maxWireVersion.
    #[serde(default, rename = "maxWireVersion")]
    pub max_wire_version: Field<i32>,
    /// The pool.
    pub pool: Option<Pool>,
}

/// An expected connection pool.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pool {
    /// Its generation.
    pub generation: u32,
}

/// An expected SDAM event (one key naming the event).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Event {
    /// TopologyOpeningEvent.
    #[serde(rename = "topology_opening_event")]
    TopologyOpening(TopologyIdOnly),
    /// TopologyDescriptionChangedEvent.
    #[serde(rename = "topology_description_changed_event")]
    TopologyDescriptionChanged(Box<TopologyChanged>),
    /// ServerOpeningEvent.
    #[serde(rename = "server_opening_event")]
    ServerOpening(ServerEvent),
    /// ServerClosedEvent.
    #[serde(rename = "server_closed_event")]
    ServerClosed(ServerEvent),
    /// ServerDescriptionChangedEvent.
    #[serde(rename = "server_description_changed_event")]
    ServerDescriptionChanged(Box<ServerChanged>),
}

/// An event with only a topology id.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopologyIdOnly {
    /// Any id (`"42"` in the files): not compared.
    #[serde(rename = "topologyId")]
    pub topology_id: String,
}

/// A server opening or closed event.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerEvent {
    /// Any id: not compared.
    #[serde(rename = "topologyId")]
    pub topology_id: String,
    /// The server.
    pub address: Address,
}

/// A topology description changed event.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopologyChanged {
    /// Any id: not compared.
    #[serde(rename = "topologyId")]
    pub topology_id: String,
    /// Before.
    #[serde(rename = "previousDescription")]
    pub previous: EventTopology,
    /// After.
    #[serde(rename = "newDescription")]
    pub new: EventTopology,
}

/// A server description changed event.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerChanged {
    /// Any id: not compared.
    #[serde(rename = "topologyId")]
    pub topology_id: String,
    /// The server.
    pub address: Address,
    /// Before.
    #[serde(rename = "previousDescription")]
    pub previous: EventServer,
    /// After.
    #[serde(rename = "newDescription")]
    pub new: EventServer,
}

/// A topology description inside an event.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventTopology {
    /// TopologyType.
    #[serde(rename = "topologyType")]
    pub topology_type: TopologyType,
    /// setName, when given.
    #[serde(default, rename = "setName")]
    pub set_name: Field<String>,
    /// The servers.
    pub servers: Vec<EventServer>,
}

/// A server description inside an event.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventServer {
    /// The server.
    pub address: Address,
    /// ServerType.
    #[serde(rename = "type")]
    pub server_type: ServerType,
    /// hosts.
    pub hosts: Vec<Address>,
    /// passives.
    pub passives: Vec<Address>,
    /// arbiters.
    pub arbiters: Vec<Address>,
    /// primary, when given.
    #[serde(default)]
    pub primary: Field<Address>,
    /// setName, when given.
    #[serde(default, rename = "setName")]
    pub set_name: Field<String>,
}
