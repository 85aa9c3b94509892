//! Server and topology descriptions (SDAM spec, "Data structures": ServerType,
//! TopologyType, ServerDescription, TopologyDescription).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use bson::DateTime;
use bson::oid::ObjectId;

use crate::error::{Error, Result};
use crate::options::ServerAddress;
use crate::options::TagSet;

pub use crate::wire::{MAX_SUPPORTED_WIRE_VERSION, MIN_SUPPORTED_WIRE_VERSION};

/// What kind of server a ServerDescription describes (SDAM "ServerType").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum ServerType {
    /// A server that is not part of a replica set or sharded cluster.
    Standalone,
    /// A mongos router.
    Mongos,
    /// A server some replica set member believes is primary, not yet checked.
    PossiblePrimary,
    /// A replica set primary.
    RsPrimary,
    /// A replica set secondary.
    RsSecondary,
    /// A replica set arbiter.
    RsArbiter,
    /// A replica set member of another kind (hidden, starting up, recovering).
    RsOther,
    /// A replica set member without a configuration.
    RsGhost,
    /// A load balancer in front of mongos routers.
    LoadBalancer,
    /// A server the client knows nothing about yet, or could not reach.
    #[default]
    Unknown,
}

impl ServerType {
    /// Every server type, in declaration order.
    pub const ALL: [ServerType; 10] = [
        Self::Standalone,
        Self::Mongos,
        Self::PossiblePrimary,
        Self::RsPrimary,
        Self::RsSecondary,
        Self::RsArbiter,
        Self::RsOther,
        Self::RsGhost,
        Self::LoadBalancer,
        Self::Unknown,
    ];

    /// The spec's name for the type (e.g. `RSPrimary`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standalone => "Standalone",
            Self::Mongos => "Mongos",
            Self::PossiblePrimary => "PossiblePrimary",
            Self::RsPrimary => "RSPrimary",
            Self::RsSecondary => "RSSecondary",
            Self::RsArbiter => "RSArbiter",
            Self::RsOther => "RSOther",
            Self::RsGhost => "RSGhost",
            Self::LoadBalancer => "LoadBalancer",
            Self::Unknown => "Unknown",
        }
    }

    /// Whether a server of this type is "available" (server selection spec, Terms):
    /// every type except Unknown and PossiblePrimary.
    pub fn is_available(self) -> bool {
        !matches!(self, Self::Unknown | Self::PossiblePrimary)
    }

    /// Whether the server holds data (primary, secondary, standalone, mongos, load balancer).
    pub fn is_data_bearing(self) -> bool {
        matches!(
            self,
            Self::Standalone | Self::Mongos | Self::RsPrimary | Self::RsSecondary | Self::LoadBalancer
        )
    }
}

impl fmt::Display for ServerType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ServerType {
    type Err = Error;

    /// Parses the spec's name of a type (e.g. `RSSecondary`).
    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| Error::invalid_argument(format!("unknown server type `{s}`")))
    }
}

/// What kind of deployment a TopologyDescription describes (SDAM "TopologyType").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum TopologyType {
    /// A direct connection to one server.
    Single,
    /// A replica set whose primary is not known.
    ReplicaSetNoPrimary,
    /// A replica set with a known primary.
    ReplicaSetWithPrimary,
    /// A sharded cluster reached through mongos routers.
    Sharded,
    /// A deployment behind a load balancer.
    LoadBalanced,
    /// Not yet known.
    #[default]
    Unknown,
}

impl TopologyType {
    /// Every topology type, in declaration order.
    pub const ALL: [TopologyType; 6] = [
        Self::Single,
        Self::ReplicaSetNoPrimary,
        Self::ReplicaSetWithPrimary,
        Self::Sharded,
        Self::LoadBalanced,
        Self::Unknown,
    ];

    /// The spec's name for the type.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Single => "Single",
            Self::ReplicaSetNoPrimary => "ReplicaSetNoPrimary",
            Self::ReplicaSetWithPrimary => "ReplicaSetWithPrimary",
            Self::Sharded => "Sharded",
            Self::LoadBalanced => "LoadBalanced",
            Self::Unknown => "Unknown",
        }
    }

    /// Whether this is one of the two replica set types.
    pub fn is_replica_set(self) -> bool {
        matches!(self, Self::ReplicaSetNoPrimary | Self::ReplicaSetWithPrimary)
    }
}

impl fmt::Display for TopologyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TopologyType {
    type Err = Error;

    /// Parses the spec's name of a type (e.g. `ReplicaSetNoPrimary`).
    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| Error::invalid_argument(format!("unknown topology type `{s}`")))
    }
}

/// The client's view of one server, from its most recent hello reply or check error
/// (SDAM "ServerDescription"). The monitor fills it from a hello reply; tests and
/// tools may build one directly:
///
/// ```
/// use std::time::Duration;
/// use mongo_driver::sdam::{ServerAddress, ServerDescription, ServerType};
/// let s = ServerDescription {
///     average_round_trip_time: Some(Duration::from_millis(5)),
///     max_wire_version: 17,
///     ..ServerDescription::new(ServerAddress::new("a", 27017), ServerType::RsSecondary)
/// };
/// assert!(s.server_type.is_available());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ServerDescription {
    /// The address the client connects to (not the server's own `me`).
    pub address: ServerAddress,
    /// The kind of server.
    pub server_type: ServerType,
    /// The exponentially weighted average round trip time of hello checks; `None`
    /// while the server is unknown (see [`super::rtt::average_round_trip_time`]).
    pub average_round_trip_time: Option<Duration>,
    /// When the client last checked the server, by the client's wall clock.
    pub last_update_time: Option<DateTime>,
    /// `lastWrite.lastWriteDate` from the hello reply: the primary's wall-clock time of
    /// the latest write this server has applied.
    pub last_write_date: Option<DateTime>,
    /// The lowest wire version the server speaks.
    pub min_wire_version: i32,
    /// The highest wire version the server speaks.
    pub max_wire_version: i32,
    /// The address the server was configured with in the replica set.
    pub me: Option<ServerAddress>,
    /// The replica set members this server reports (`hosts`).
    pub hosts: Vec<ServerAddress>,
    /// The priority-zero members this server reports (`passives`).
    pub passives: Vec<ServerAddress>,
    /// The arbiters this server reports (`arbiters`).
    pub arbiters: Vec<ServerAddress>,
    /// The server's replica set tags.
    pub tags: TagSet,
    /// The replica set name.
    pub set_name: Option<String>,
    /// The replica set config version.
    pub set_version: Option<i64>,
    /// The election id, from a member that believes it is primary.
    pub election_id: Option<ObjectId>,
    /// Who this server thinks is primary.
    pub primary: Option<ServerAddress>,
    /// The server's logical session timeout.
    pub logical_session_timeout_minutes: Option<i64>,
    /// The `topologyVersion` from the latest reply or state-change error.
    pub topology_version: Option<bson::Document>,
    /// The last error seen when checking the server.
    pub error: Option<String>,
}

impl ServerDescription {
    /// A description of `address` with type `server_type` and every other field at the
    /// spec's default (no RTT, wire versions 0, no tags).
    pub fn new(address: ServerAddress, server_type: ServerType) -> Self {
        Self {
            address,
            server_type,
            average_round_trip_time: None,
            last_update_time: None,
            last_write_date: None,
            min_wire_version: 0,
            max_wire_version: 0,
            me: None,
            hosts: Vec::new(),
            passives: Vec::new(),
            arbiters: Vec::new(),
            tags: TagSet::default(),
            set_name: None,
            set_version: None,
            election_id: None,
            primary: None,
            logical_session_timeout_minutes: None,
            topology_version: None,
            error: None,
        }
    }

    /// An Unknown server at `address` (the state before its first check).
    pub fn unknown(address: ServerAddress) -> Self {
        Self::new(address, ServerType::Unknown)
    }

    /// Folds a new round-trip-time sample into the average (EWMA, alpha 0.2; the first
    /// sample becomes the average).
    pub fn record_round_trip_time(&mut self, sample: Duration) {
        self.average_round_trip_time =
            Some(super::rtt::average_round_trip_time(self.average_round_trip_time, sample));
    }

    /// Why this server cannot be used by this driver (SDAM "Checking wire protocol
    /// compatibility"), or `None` if it can. Servers that are not available (Unknown,
    /// PossiblePrimary) have not reported wire versions and are never incompatible, and neither
    /// is a LoadBalancer (it is never checked: each connection's handshake reports the
    /// versions of the server behind it).
    pub fn compatibility_error(&self) -> Option<String> {
        if !self.server_type.is_available() || self.server_type == ServerType::LoadBalancer {
            return None;
        }
        if self.min_wire_version > MAX_SUPPORTED_WIRE_VERSION {
            return Some(format!(
                "Server at {} requires wire version {}, but this version of mongo-driver only supports up to {}.",
                self.address, self.min_wire_version, MAX_SUPPORTED_WIRE_VERSION
            ));
        }
        if self.max_wire_version < MIN_SUPPORTED_WIRE_VERSION {
            return Some(format!(
                "Server at {} reports wire version {}, but this version of mongo-driver requires at least {} \
                 (MongoDB 3.6).",
                self.address, self.max_wire_version, MIN_SUPPORTED_WIRE_VERSION
            ));
        }
        None
    }
}

/// The client's view of the whole deployment (SDAM "TopologyDescription").
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TopologyDescription {
    /// The kind of deployment.
    pub topology_type: TopologyType,
    /// The replica set name, once known.
    pub set_name: Option<String>,
    /// The largest replica set config version seen from a primary.
    pub max_set_version: Option<i64>,
    /// The largest election id seen from a primary.
    pub max_election_id: Option<ObjectId>,
    /// Every known server, by address.
    pub servers: BTreeMap<ServerAddress, ServerDescription>,
    /// Whether the client was given exactly one seed: a Standalone found while the
    /// TopologyType is Unknown then makes the topology Single instead of being removed
    /// (SDAM "updateUnknownWithStandalone").
    pub single_seed: bool,
}

impl TopologyDescription {
    /// A topology of `topology_type` holding `servers` (a later server with the same
    /// address replaces an earlier one).
    pub fn new(topology_type: TopologyType, servers: impl IntoIterator<Item = ServerDescription>) -> Self {
        Self {
            topology_type,
            servers: servers.into_iter().map(|s| (s.address.clone(), s)).collect(),
            ..Self::default()
        }
    }

    /// The server at `address`.
    pub fn server(&self, address: &ServerAddress) -> Option<&ServerDescription> {
        self.servers.get(address)
    }

    /// The servers, ordered by address.
    pub fn servers(&self) -> impl Iterator<Item = &ServerDescription> {
        self.servers.values()
    }

    /// The known primary, if any.
    pub fn primary(&self) -> Option<&ServerDescription> {
        self.servers().find(|s| s.server_type == ServerType::RsPrimary)
    }

    /// Whether every server speaks a wire version this driver supports; the error names
    /// the first one that does not (SDAM "compatible" / "compatibilityError").
    pub fn compatibility_error(&self) -> Option<String> {
        self.servers().find_map(ServerDescription::compatibility_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(ty: ServerType, min: i32, max: i32) -> ServerDescription {
        ServerDescription {
            min_wire_version: min,
            max_wire_version: max,
            ..ServerDescription::new(ServerAddress::new("h", 1), ty)
        }
    }

    #[test]
    fn type_names_round_trip() {
        for t in ServerType::ALL {
            assert_eq!(t.as_str().parse::<ServerType>().unwrap(), t);
        }
        for t in TopologyType::ALL {
            assert_eq!(t.as_str().parse::<TopologyType>().unwrap(), t);
        }
        assert!("RsPrimary".parse::<ServerType>().is_err());
    }

    #[test]
    fn wire_version_compatibility() {
        assert!(server(ServerType::RsPrimary, 0, MIN_SUPPORTED_WIRE_VERSION).compatibility_error().is_none());
        let old = server(ServerType::RsPrimary, 0, MIN_SUPPORTED_WIRE_VERSION - 1).compatibility_error();
        assert!(old.unwrap().contains("reports wire version 5"));
        let new = server(ServerType::Mongos, MAX_SUPPORTED_WIRE_VERSION + 1, 99).compatibility_error();
        assert!(new.unwrap().contains("requires wire version"));
        // Unknown and PossiblePrimary servers have reported nothing yet.
        assert!(server(ServerType::Unknown, 0, 0).compatibility_error().is_none());
        assert!(server(ServerType::PossiblePrimary, 0, 0).compatibility_error().is_none());
        let topology = TopologyDescription::new(
            TopologyType::Sharded,
            [server(ServerType::Mongos, 0, 3), ServerDescription::unknown(ServerAddress::new("other", 1))],
        );
        assert_eq!(topology.servers.len(), 2);
        assert!(topology.compatibility_error().is_some());
    }

    #[test]
    fn round_trip_time_average() {
        let mut s = server(ServerType::RsSecondary, 0, 17);
        s.record_round_trip_time(Duration::from_millis(10));
        assert_eq!(s.average_round_trip_time, Some(Duration::from_millis(10)));
        s.record_round_trip_time(Duration::from_millis(20));
        assert_eq!(s.average_round_trip_time, Some(Duration::from_millis(12)));
    }
}
