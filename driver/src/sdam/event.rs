//! SDAM events (SDAM monitoring spec "Events"): topology and server lifecycle, description
//! changes, and monitor heartbeats, plus the description diff that produces the change events.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bson::Document;

use super::{ServerDescription, ServerType, TopologyDescription};
use crate::options::ServerAddress;

/// A topology's unique id (SDAM monitoring "Topology Ids"): made once when the topology is
/// created, the same for all of its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopologyId(pub u64);

impl TopologyId {
    /// A new id, unique within this process.
    pub fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Self(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// `ServerDescriptionChangedEvent`: a server's description changed (not counting RTT).
#[derive(Debug, Clone, PartialEq)]
pub struct ServerDescriptionChangedEvent {
    /// The server.
    pub address: ServerAddress,
    /// The topology.
    pub topology_id: TopologyId,
    /// The description before.
    pub previous_description: Box<ServerDescription>,
    /// The description after.
    pub new_description: Box<ServerDescription>,
}

/// `ServerOpeningEvent`: a server was added to the topology (before its monitor starts).
#[derive(Debug, Clone, PartialEq)]
pub struct ServerOpeningEvent {
    /// The server.
    pub address: ServerAddress,
    /// The topology.
    pub topology_id: TopologyId,
}

/// `ServerClosedEvent`: a server was removed from the topology, or the topology closed.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerClosedEvent {
    /// The server.
    pub address: ServerAddress,
    /// The topology.
    pub topology_id: TopologyId,
}

/// `TopologyDescriptionChangedEvent`: the topology description changed.
#[derive(Debug, Clone, PartialEq)]
pub struct TopologyDescriptionChangedEvent {
    /// The topology.
    pub topology_id: TopologyId,
    /// The description before.
    pub previous_description: Box<TopologyDescription>,
    /// The description after.
    pub new_description: Box<TopologyDescription>,
}

/// `TopologyOpeningEvent`: the first event of a topology.
#[derive(Debug, Clone, PartialEq)]
pub struct TopologyOpeningEvent {
    /// The topology.
    pub topology_id: TopologyId,
}

/// `TopologyClosedEvent`: the last event of a topology.
#[derive(Debug, Clone, PartialEq)]
pub struct TopologyClosedEvent {
    /// The topology.
    pub topology_id: TopologyId,
}

/// `ServerHeartbeatStartedEvent`: a monitor sent `hello` (or legacy hello).
#[derive(Debug, Clone, PartialEq)]
pub struct ServerHeartbeatStartedEvent {
    /// The monitored server (the monitoring connection's address).
    pub server_address: ServerAddress,
    /// Whether this is an awaitable (streaming) hello.
    pub awaited: bool,
}

/// `ServerHeartbeatSucceededEvent`: a monitor's `hello` succeeded.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerHeartbeatSucceededEvent {
    /// The monitored server.
    pub server_address: ServerAddress,
    /// Time from sending the command to decoding the reply (the RTT sample when not awaited).
    pub duration: Duration,
    /// The reply.
    pub reply: Document,
    /// Whether this was an awaitable hello (its duration is then no RTT sample).
    pub awaited: bool,
}

/// `ServerHeartbeatFailedEvent`: a monitor's `hello` failed (network error or `ok: 0`).
#[derive(Debug, Clone)]
pub struct ServerHeartbeatFailedEvent {
    /// The monitored server.
    pub server_address: ServerAddress,
    /// Time until the failure.
    pub duration: Duration,
    /// What failed.
    pub failure: crate::Error,
    /// Whether this was an awaitable hello.
    pub awaited: bool,
}

/// Any SDAM event, in the order the driver applied the changes.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SdamEvent {
    /// See [`ServerDescriptionChangedEvent`].
    ServerDescriptionChanged(ServerDescriptionChangedEvent),
    /// See [`ServerOpeningEvent`].
    ServerOpening(ServerOpeningEvent),
    /// See [`ServerClosedEvent`].
    ServerClosed(ServerClosedEvent),
    /// See [`TopologyDescriptionChangedEvent`].
    TopologyDescriptionChanged(TopologyDescriptionChangedEvent),
    /// See [`TopologyOpeningEvent`].
    TopologyOpening(TopologyOpeningEvent),
    /// See [`TopologyClosedEvent`].
    TopologyClosed(TopologyClosedEvent),
    /// See [`ServerHeartbeatStartedEvent`].
    ServerHeartbeatStarted(ServerHeartbeatStartedEvent),
    /// See [`ServerHeartbeatSucceededEvent`].
    ServerHeartbeatSucceeded(ServerHeartbeatSucceededEvent),
    /// See [`ServerHeartbeatFailedEvent`].
    ServerHeartbeatFailed(ServerHeartbeatFailedEvent),
}

/// A server description as SDAM events compare it: PossiblePrimary is the topology's hint
/// for single-threaded scanning order, "synonymous with Unknown" for this driver, so a
/// server turning from Unknown into PossiblePrimary is no server description change.
fn same_for_events(a: &ServerDescription, b: &ServerDescription) -> bool {
    let unknown = |t: ServerType| if t == ServerType::PossiblePrimary { ServerType::Unknown } else { t };
    if unknown(a.server_type) != unknown(b.server_type) {
        return false;
    }
    let b = ServerDescription { server_type: a.server_type, ..b.clone() };
    a.sdam_eq(&b)
}

/// The events that describe going from `previous` to `new` (SDAM monitoring "Events"): a
/// ServerDescriptionChanged for each server whose description differs by
/// [`ServerDescription::sdam_eq`], a ServerOpening for each added server, a ServerClosed
/// for each removed one, then a TopologyDescriptionChanged if the topology differs by
/// [`TopologyDescription::sdam_eq`]. Equal descriptions give no events.
pub fn diff(
    topology_id: TopologyId,
    previous: &TopologyDescription,
    new: &TopologyDescription,
) -> Vec<SdamEvent> {
    let mut events = Vec::new();
    for (address, before) in &previous.servers {
        if let Some(after) = new.servers.get(address)
            && !same_for_events(before, after)
        {
            events.push(SdamEvent::ServerDescriptionChanged(ServerDescriptionChangedEvent {
                address: address.clone(),
                topology_id,
                previous_description: Box::new(before.clone()),
                new_description: Box::new(after.clone()),
            }));
        }
    }
    for address in new.servers.keys().filter(|a| !previous.servers.contains_key(*a)) {
        events.push(SdamEvent::ServerOpening(ServerOpeningEvent { address: address.clone(), topology_id }));
    }
    for address in previous.servers.keys().filter(|a| !new.servers.contains_key(*a)) {
        events.push(SdamEvent::ServerClosed(ServerClosedEvent { address: address.clone(), topology_id }));
    }
    if !previous.sdam_eq(new) {
        events.push(SdamEvent::TopologyDescriptionChanged(TopologyDescriptionChangedEvent {
            topology_id,
            previous_description: Box::new(previous.clone()),
            new_description: Box::new(new.clone()),
        }));
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdam::TopologyType;

    #[test]
    fn diff_orders_server_changes_before_the_topology_change() {
        let id = TopologyId::next();
        let a = ServerAddress::new("a", 1);
        let b = ServerAddress::new("b", 1);
        let before = TopologyDescription::new(
            TopologyType::Unknown,
            [ServerDescription::unknown(a.clone()), ServerDescription::unknown(b.clone())],
        );
        let mut after = before.clone();
        after.topology_type = TopologyType::ReplicaSetWithPrimary;
        after.servers.insert(a.clone(), ServerDescription::new(a.clone(), ServerType::RsPrimary));
        after.servers.remove(&b);
        let kinds: Vec<&str> = diff(id, &before, &after)
            .iter()
            .map(|e| match e {
                SdamEvent::ServerDescriptionChanged(_) => "changed",
                SdamEvent::ServerClosed(_) => "closed",
                SdamEvent::TopologyDescriptionChanged(_) => "topology",
                _ => "other",
            })
            .collect();
        assert_eq!(kinds, ["changed", "closed", "topology"]);
        assert!(diff(id, &after, &after.clone()).is_empty());
        // A PossiblePrimary hint changes the topology, not the server's description.
        let mut hinted = before.clone();
        hinted.servers.get_mut(&b).unwrap().server_type = ServerType::PossiblePrimary;
        let events = diff(id, &before, &hinted);
        assert_eq!(events.len(), 1);
        assert!(matches!(events[0], SdamEvent::TopologyDescriptionChanged(_)));
    }
}
