//! Expected events (`unified-test-format.rst`, "expectedEventsForClient": command, CMAP and
//! SDAM events).

use serde::Deserialize;
use serde_json::Value;

use super::common::{Document, present};

/// `expectEvents[].eventType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    /// Command monitoring events (the default).
    Command,
    /// Connection pool events.
    Cmap,
    /// SDAM events.
    Sdam,
}

/// `expectEvents[]` (section "expectedEventsForClient"). `events` is checked against
/// `eventType` by [`crate::unified::load`], which fills [`ExpectedEventsForClient::typed`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExpectedEventsForClient {
    /// Id of the client entity.
    pub client: String,
    /// Which kind of events (`command` when absent).
    #[serde(default, deserialize_with = "present")]
    pub event_type: Option<EventType>,
    /// The expected events as written.
    pub events: Vec<Value>,
    /// Whether events beyond the expected ones are allowed.
    #[serde(default, deserialize_with = "present")]
    pub ignore_extra_events: Option<bool>,
    /// The events typed per `eventType` (filled by [`crate::unified::load`]).
    #[serde(skip)]
    pub typed: ExpectedEvents,
}

/// The typed events of one `expectEvents` entry.
#[derive(Debug, Clone)]
pub enum ExpectedEvents {
    /// Command monitoring events.
    Command(Vec<ExpectedCommandEvent>),
    /// Connection pool events.
    Cmap(Vec<ExpectedCmapEvent>),
    /// SDAM events.
    Sdam(Vec<ExpectedSdamEvent>),
}

impl Default for ExpectedEvents {
    fn default() -> Self {
        ExpectedEvents::Command(Vec::new())
    }
}

/// An expected command monitoring event (section "expectedCommandEvent").
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(clippy::enum_variant_names)]
pub enum ExpectedCommandEvent {
    /// `commandStartedEvent`.
    CommandStartedEvent(CommandStarted),
    /// `commandSucceededEvent`.
    CommandSucceededEvent(CommandSucceeded),
    /// `commandFailedEvent`.
    CommandFailedEvent(CommandFailed),
}

/// `commandStartedEvent`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CommandStarted {
    /// The command (root document for matching).
    #[serde(default, deserialize_with = "present")]
    pub command: Option<Document>,
    /// Command name.
    #[serde(default, deserialize_with = "present")]
    pub command_name: Option<String>,
    /// Database name.
    #[serde(default, deserialize_with = "present")]
    pub database_name: Option<String>,
    /// Whether a service id is present.
    #[serde(default, deserialize_with = "present")]
    pub has_service_id: Option<bool>,
    /// Whether a server connection id is present.
    #[serde(default, deserialize_with = "present")]
    pub has_server_connection_id: Option<bool>,
}

/// `commandSucceededEvent`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CommandSucceeded {
    /// The reply (root document for matching).
    #[serde(default, deserialize_with = "present")]
    pub reply: Option<Document>,
    /// Command name.
    #[serde(default, deserialize_with = "present")]
    pub command_name: Option<String>,
    /// Database name (schema 1.15).
    #[serde(default, deserialize_with = "present")]
    pub database_name: Option<String>,
    /// Whether a service id is present.
    #[serde(default, deserialize_with = "present")]
    pub has_service_id: Option<bool>,
    /// Whether a server connection id is present.
    #[serde(default, deserialize_with = "present")]
    pub has_server_connection_id: Option<bool>,
}

/// `commandFailedEvent`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CommandFailed {
    /// Command name.
    #[serde(default, deserialize_with = "present")]
    pub command_name: Option<String>,
    /// Database name (schema 1.15).
    #[serde(default, deserialize_with = "present")]
    pub database_name: Option<String>,
    /// Whether a service id is present.
    #[serde(default, deserialize_with = "present")]
    pub has_service_id: Option<bool>,
    /// Whether a server connection id is present.
    #[serde(default, deserialize_with = "present")]
    pub has_server_connection_id: Option<bool>,
}

/// A CMAP event that carries no assertions (`{}` only).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoFields {}

/// `poolClearedEvent`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PoolCleared {
    /// Whether a service id is present.
    #[serde(default, deserialize_with = "present")]
    pub has_service_id: Option<bool>,
    /// Whether the clear interrupted in-use connections (schema 1.11).
    #[serde(default, deserialize_with = "present")]
    pub interrupt_in_use_connections: Option<bool>,
}

/// `connectionClosedEvent` / `connectionCheckOutFailedEvent`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WithReason {
    /// The expected reason.
    #[serde(default, deserialize_with = "present")]
    pub reason: Option<String>,
}

/// An expected CMAP event (section "expectedCmapEvent").
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(clippy::enum_variant_names)]
pub enum ExpectedCmapEvent {
    /// Pool created.
    PoolCreatedEvent(NoFields),
    /// Pool ready.
    PoolReadyEvent(NoFields),
    /// Pool cleared.
    PoolClearedEvent(PoolCleared),
    /// Pool closed.
    PoolClosedEvent(NoFields),
    /// Connection created.
    ConnectionCreatedEvent(NoFields),
    /// Connection ready.
    ConnectionReadyEvent(NoFields),
    /// Connection closed.
    ConnectionClosedEvent(WithReason),
    /// Check-out started.
    ConnectionCheckOutStartedEvent(NoFields),
    /// Check-out failed.
    ConnectionCheckOutFailedEvent(WithReason),
    /// Checked out.
    ConnectionCheckedOutEvent(NoFields),
    /// Checked in.
    ConnectionCheckedInEvent(NoFields),
}

/// An expected SDAM event (section "expectedSdamEvent").
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ExpectedSdamEvent {
    /// Server description changed.
    ServerDescriptionChangedEvent(ServerDescriptionChanged),
    /// Heartbeat started (schema 1.17).
    ServerHeartbeatStartedEvent(Heartbeat),
    /// Heartbeat succeeded (schema 1.17).
    ServerHeartbeatSucceededEvent(Heartbeat),
    /// Heartbeat failed (schema 1.17).
    ServerHeartbeatFailedEvent(Heartbeat),
    /// Topology description changed (schema 1.14; descriptions since 1.20).
    TopologyDescriptionChangedEvent(TopologyDescriptionChanged),
    /// Topology opening (schema 1.20).
    TopologyOpeningEvent(NoFields),
    /// Topology closed (schema 1.20).
    TopologyClosedEvent(NoFields),
}

/// `serverHeartbeat{Started,Succeeded,Failed}Event`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {
    /// Whether the heartbeat was an awaited (streaming) one.
    #[serde(default, deserialize_with = "present")]
    pub awaited: Option<bool>,
}

/// `topologyDescriptionChangedEvent`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TopologyDescriptionChanged {
    /// The previous description.
    #[serde(default, deserialize_with = "present")]
    pub previous_description: Option<TopologyDescription>,
    /// The new description.
    #[serde(default, deserialize_with = "present")]
    pub new_description: Option<TopologyDescription>,
}

/// An expected topology description.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopologyDescription {
    /// The topology type.
    #[serde(default, rename = "type", deserialize_with = "present")]
    pub topology_type: Option<TopologyType>,
}

/// Topology types (SDAM).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum TopologyType {
    /// Single.
    Single,
    /// Unknown.
    Unknown,
    /// Replica set without a primary.
    ReplicaSetNoPrimary,
    /// Replica set with a primary.
    ReplicaSetWithPrimary,
    /// Sharded.
    Sharded,
    /// Load balanced.
    LoadBalanced,
}

/// `serverDescriptionChangedEvent`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServerDescriptionChanged {
    /// The previous description.
    #[serde(default, deserialize_with = "present")]
    pub previous_description: Option<ServerDescription>,
    /// The new description.
    #[serde(default, deserialize_with = "present")]
    pub new_description: Option<ServerDescription>,
}

/// An expected server description.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerDescription {
    /// The server type.
    #[serde(default, rename = "type", deserialize_with = "present")]
    pub server_type: Option<ServerType>,
}

/// Server types (SDAM).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum ServerType {
    /// Standalone.
    Standalone,
    /// Mongos.
    Mongos,
    /// Possible primary.
    PossiblePrimary,
    /// Primary.
    RSPrimary,
    /// Secondary.
    RSSecondary,
    /// Other member.
    RSOther,
    /// Arbiter.
    RSArbiter,
    /// Ghost.
    RSGhost,
    /// Load balancer.
    LoadBalancer,
    /// Unknown.
    Unknown,
}
