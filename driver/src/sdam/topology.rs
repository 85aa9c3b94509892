//! The topology state the client keeps under its lock (SDAM "Initial TopologyDescription",
//! "Replacing the TopologyDescription", "Connection Pool Management"): the description, a
//! pool generation per server, and the events each change publishes.

use std::collections::BTreeMap;

use super::event::{self as events, SdamEvent, TopologyId};
use super::{
    ServerAddress, ServerDescription, ServerType, TopologyDescription, TopologyType, update::WIRE_VERSION_4_2,
};
use crate::connection_string::{ConnectionString, HostKind};
use crate::error::{Error, Result};

/// What SDAM needs from the client's configuration (SDAM "Configuration").
#[derive(Debug, Clone, PartialEq)]
pub struct TopologySettings {
    /// The seed list (host names lower-cased).
    pub seeds: Vec<ServerAddress>,
    /// The initial TopologyType (SDAM "Initial TopologyType").
    pub initial_type: TopologyType,
    /// The configured replica set name (`replicaSet`).
    pub set_name: Option<String>,
}

impl TopologySettings {
    /// Settings from a parsed connection string: `loadBalanced=true` gives LoadBalanced,
    /// `directConnection=true` Single, a `replicaSet` ReplicaSetNoPrimary, otherwise
    /// Unknown (a missing `directConnection` counts as false). Rejects the combinations SDAM
    /// forbids (direct connection or Single with several seeds; load balancing with a direct
    /// connection or a replica set name) and UNIX socket hosts, which have no port.
    pub fn from_connection_string(uri: &ConnectionString) -> Result<Self> {
        let seeds = uri
            .hosts
            .iter()
            .map(|h| match h.kind {
                HostKind::Unix => Err(Error::invalid_argument(format!(
                    "UNIX domain socket `{}` is not supported by SDAM addresses",
                    h.host
                ))),
                _ => Ok(ServerAddress::new(h.host.clone(), h.port.unwrap_or(super::address::DEFAULT_PORT))),
            })
            .collect::<Result<Vec<_>>>()?;
        let options = &uri.options;
        let direct = options.direct_connection.unwrap_or(false);
        let load_balanced = options.load_balanced.unwrap_or(false);
        if load_balanced && (direct || options.replica_set.is_some()) {
            return Err(Error::invalid_argument(
                "loadBalanced=true cannot be used with directConnection=true or replicaSet",
            ));
        }
        if direct && seeds.len() != 1 {
            return Err(Error::invalid_argument("directConnection=true needs exactly one host"));
        }
        let initial_type = if load_balanced {
            TopologyType::LoadBalanced
        } else if direct {
            TopologyType::Single
        } else if options.replica_set.is_some() {
            TopologyType::ReplicaSetNoPrimary
        } else {
            TopologyType::Unknown
        };
        Ok(Self { seeds, initial_type, set_name: options.replica_set.clone() })
    }

    /// The initial TopologyDescription: every seed Unknown (in LoadBalanced mode the one
    /// seed is described as a LoadBalancer right after, by [`TopologyState::open`]).
    pub fn initial_description(&self) -> TopologyDescription {
        TopologyDescription {
            set_name: self.set_name.clone(),
            single_seed: self.seeds.len() == 1,
            ..TopologyDescription::new(
                self.initial_type,
                self.seeds.iter().cloned().map(ServerDescription::unknown),
            )
        }
    }
}

/// What the runtime must do after a check's outcome was applied ([`TopologyState::apply_check`]).
#[derive(Debug, Clone, Default)]
pub struct CheckOutcome {
    /// Whether the description was applied (not from a removed server, not stale).
    pub applied: bool,
    /// The events to publish, in order.
    pub events: Vec<SdamEvent>,
    /// Servers added: create a Server and start its monitor (after its ServerOpening event).
    pub start_monitoring: Vec<ServerAddress>,
    /// Servers removed: stop their monitors and close their pools.
    pub stop_monitoring: Vec<ServerAddress>,
    /// The checked server's pool must be marked ready (SDAM "Connection Pool Management":
    /// a data-bearing server, or any known server of a Single topology).
    pub mark_pool_ready: Option<ServerAddress>,
    /// Pools to clear (already counted in [`TopologyState::pool_generation`]): the checked
    /// server after a failed check, and pre-4.2 primaries a newer primary replaced.
    pub clear_pools: Vec<ServerAddress>,
    /// Servers whose monitors must check immediately (primaries a newer primary replaced).
    pub request_checks: Vec<ServerAddress>,
}

/// The client's topology: its id, current description and a pool generation per server.
/// Every mutation happens through its methods, which the runtime calls with the topology
/// lock held and without I/O (SDAM "Process one hello or legacy hello outcome at a time").
#[derive(Debug, Clone)]
pub struct TopologyState {
    id: TopologyId,
    description: TopologyDescription,
    generations: BTreeMap<ServerAddress, u32>,
}

impl TopologyState {
    /// Opens a topology with `settings` and returns it with the events its construction
    /// publishes: TopologyOpening, a TopologyDescriptionChanged from the empty Unknown
    /// description to the seeded one, a ServerOpening per seed, and in LoadBalanced mode the
    /// change of the seed to a LoadBalancer (load balancer spec: no monitoring).
    ///
    /// ```
    /// use mongo_driver::connection_string::ConnectionString;
    /// use mongo_driver::sdam::{ServerDescription, TopologySettings, TopologyState, TopologyType};
    /// let settings = TopologySettings::from_connection_string(&ConnectionString::parse("mongodb://a,b/?replicaSet=rs")?)?;
    /// let (mut topology, events) = TopologyState::open(&settings);
    /// assert_eq!(events.len(), 4);
    /// let a = settings.seeds[0].clone();
    /// let reply = bson::doc! { "ok": 1, "isWritablePrimary": true, "setName": "rs",
    ///     "hosts": ["a:27017", "b:27017"], "maxWireVersion": 17 };
    /// let outcome = topology.apply_check(ServerDescription::from_hello(a.clone(), &reply, None));
    /// assert_eq!(topology.description().topology_type, TopologyType::ReplicaSetWithPrimary);
    /// assert_eq!(outcome.mark_pool_ready, Some(a));
    /// # Ok::<(), mongo_driver::Error>(())
    /// ```
    pub fn open(settings: &TopologySettings) -> (Self, Vec<SdamEvent>) {
        let id = TopologyId::next();
        let description = settings.initial_description();
        let generations = description.servers.keys().map(|a| (a.clone(), 0)).collect();
        let mut events = vec![SdamEvent::TopologyOpening(events::TopologyOpeningEvent { topology_id: id })];
        let empty = TopologyDescription::default();
        events.push(SdamEvent::TopologyDescriptionChanged(events::TopologyDescriptionChangedEvent {
            topology_id: id,
            previous_description: Box::new(empty),
            new_description: Box::new(description.clone()),
        }));
        for address in description.servers.keys() {
            events.push(SdamEvent::ServerOpening(events::ServerOpeningEvent {
                address: address.clone(),
                topology_id: id,
            }));
        }
        let mut state = Self { id, description, generations };
        if settings.initial_type == TopologyType::LoadBalanced {
            let before = state.description.clone();
            for server in state.description.servers.values_mut() {
                *server = ServerDescription::new(server.address.clone(), ServerType::LoadBalancer);
            }
            events.extend(events::diff(id, &before, &state.description));
        }
        (state, events)
    }

    /// The topology's id (the same in all its events).
    pub fn id(&self) -> TopologyId {
        self.id
    }

    /// The current description.
    pub fn description(&self) -> &TopologyDescription {
        &self.description
    }

    /// The pool generation of `address` (0 until its pool is first cleared); `None` for a
    /// server not in the topology.
    pub fn pool_generation(&self, address: &ServerAddress) -> Option<u32> {
        self.description
            .servers
            .contains_key(address)
            .then(|| self.generations.get(address).copied().unwrap_or(0))
    }

    pub(crate) fn clear_pool(&mut self, address: &ServerAddress) {
        *self.generations.entry(address.clone()).or_insert(0) += 1;
    }

    /// Applies `new` through [`TopologyDescription::update`] and returns the events and
    /// side effects (see [`CheckOutcome`]). The runtime calls it with each monitor check's
    /// outcome: [`ServerDescription::from_hello`] after a reply, or
    /// [`ServerDescription::check_failed`] after a failed check — which also clears the
    /// server's pool (server monitoring spec, "Network or command error during server check").
    pub fn apply_check(&mut self, new: ServerDescription) -> CheckOutcome {
        let failed_check = new.server_type == ServerType::Unknown;
        self.apply(new, failed_check)
    }

    /// Applies `new`, clearing the server's pool when `clear_pool` (and the update applied).
    pub(crate) fn apply(&mut self, new: ServerDescription, clear_pool: bool) -> CheckOutcome {
        let address = new.address.clone();
        let ty = new.server_type;
        let before = self.description.clone();
        let update = self.description.update(new);
        let mut outcome = CheckOutcome { applied: update.applied, ..CheckOutcome::default() };
        if !update.applied {
            return outcome;
        }
        if clear_pool {
            self.clear_pool(&address);
            outcome.clear_pools.push(address.clone());
        }
        let single = self.description.topology_type == TopologyType::Single;
        if self.description.servers.contains_key(&address)
            && (matches!(
                ty,
                ServerType::Mongos
                    | ServerType::RsPrimary
                    | ServerType::RsSecondary
                    | ServerType::Standalone
                    | ServerType::LoadBalancer
            ) || (single && ty != ServerType::Unknown))
        {
            outcome.mark_pool_ready = Some(address.clone());
        }
        for old in &update.invalidated_primaries {
            outcome.request_checks.push(old.address.clone());
            if old.max_wire_version < WIRE_VERSION_4_2 {
                self.clear_pool(&old.address);
                outcome.clear_pools.push(old.address.clone());
            }
        }
        for added in &update.added {
            self.generations.entry(added.clone()).or_insert(0);
        }
        for removed in &update.removed {
            self.generations.remove(removed);
        }
        outcome.start_monitoring = update.added;
        outcome.stop_monitoring = update.removed;
        outcome.events = events::diff(self.id, &before, &self.description);
        outcome
    }

    /// Replaces the server list with `hosts` after an SRV rescan (polling-srv-records spec):
    /// servers no longer listed are removed, new ones added as Unknown; applied only while
    /// the topology is Sharded or Unknown (`applied` is false otherwise, and when nothing
    /// changes).
    pub fn apply_srv_hosts(&mut self, hosts: &[ServerAddress]) -> CheckOutcome {
        let mut outcome = CheckOutcome::default();
        if !matches!(self.description.topology_type, TopologyType::Sharded | TopologyType::Unknown) {
            return outcome;
        }
        let before = self.description.clone();
        let removed: Vec<ServerAddress> =
            before.servers.keys().filter(|a| !hosts.contains(a)).cloned().collect();
        let added: Vec<ServerAddress> =
            hosts.iter().filter(|a| !before.servers.contains_key(*a)).cloned().collect();
        if removed.is_empty() && added.is_empty() {
            return outcome;
        }
        for address in &removed {
            self.description.servers.remove(address);
            self.generations.remove(address);
        }
        for address in &added {
            self.description
                .servers
                .insert(address.clone(), ServerDescription::new(address.clone(), ServerType::Unknown));
            self.generations.entry(address.clone()).or_insert(0);
        }
        outcome.applied = true;
        outcome.start_monitoring = added;
        outcome.stop_monitoring = removed;
        outcome.events = events::diff(self.id, &before, &self.description);
        outcome
    }

    /// Closes the topology: a ServerClosed per server, then TopologyClosed (the last event).
    pub fn close(&mut self) -> Vec<SdamEvent> {
        let mut out: Vec<SdamEvent> = self
            .description
            .servers
            .keys()
            .map(|a| {
                SdamEvent::ServerClosed(events::ServerClosedEvent {
                    address: a.clone(),
                    topology_id: self.id,
                })
            })
            .collect();
        out.push(SdamEvent::TopologyClosed(events::TopologyClosedEvent { topology_id: self.id }));
        self.description.servers.clear();
        self.generations.clear();
        out
    }
}

#[cfg(test)]
mod tests {
    use bson::{Document, doc};

    use super::*;
    use crate::sdam::event::SdamEvent;

    fn addr(host: &str) -> ServerAddress {
        ServerAddress::new(host, 27017)
    }

    fn primary_hello(election: u8, wire: i32) -> Document {
        doc! { "ok": 1, "isWritablePrimary": true, "setName": "rs", "hosts": ["a:27017", "b:27017"],
        "electionId": bson::oid::ObjectId::from_bytes([election; 12]), "setVersion": 1, "maxWireVersion": wire }
    }

    #[test]
    fn settings_from_uri() {
        let settings =
            |uri: &str| TopologySettings::from_connection_string(&ConnectionString::parse(uri).unwrap());
        assert_eq!(settings("mongodb://A,b").unwrap().initial_type, TopologyType::Unknown);
        assert_eq!(
            settings("mongodb://a/?directConnection=true").unwrap().initial_type,
            TopologyType::Single
        );
        let rs = settings("mongodb://a/?replicaSet=rs").unwrap();
        assert_eq!(
            (rs.initial_type, rs.set_name.as_deref()),
            (TopologyType::ReplicaSetNoPrimary, Some("rs"))
        );
        assert_eq!(
            settings("mongodb://a/?loadBalanced=true").unwrap().initial_type,
            TopologyType::LoadBalanced
        );
        // The URI parser already rejects this; options built another way are checked again.
        let mut lb = ConnectionString::parse("mongodb://a/?loadBalanced=true").unwrap();
        lb.options.replica_set = Some("rs".into());
        assert!(TopologySettings::from_connection_string(&lb).is_err());
        assert_eq!(settings("mongodb://A:1").unwrap().seeds, vec![ServerAddress::new("a", 1)]);
    }

    #[test]
    fn a_new_primary_invalidates_the_old_one() {
        let settings = TopologySettings {
            seeds: vec![addr("a"), addr("b")],
            initial_type: TopologyType::Unknown,
            set_name: None,
        };
        let (mut t, _) = TopologyState::open(&settings);
        t.apply_check(ServerDescription::from_hello(addr("a"), &primary_hello(1, 7), None));
        let outcome = t.apply_check(ServerDescription::from_hello(addr("b"), &primary_hello(2, 7), None));
        assert_eq!(outcome.request_checks, vec![addr("a")]);
        assert_eq!(outcome.clear_pools, vec![addr("a")], "pre-4.2 old primary");
        assert_eq!(t.pool_generation(&addr("a")), Some(1));
        assert_eq!(t.description().servers[&addr("a")].server_type, ServerType::Unknown);
        let changed: Vec<&ServerAddress> = outcome
            .events
            .iter()
            .filter_map(|e| match e {
                SdamEvent::ServerDescriptionChanged(c) => Some(&c.address),
                _ => None,
            })
            .collect();
        assert_eq!(changed, [&addr("a"), &addr("b")]);
        // A 4.2+ old primary keeps its pool; a stale primary is marked Unknown.
        let (mut t, _) = TopologyState::open(&settings);
        t.apply_check(ServerDescription::from_hello(addr("a"), &primary_hello(1, 8), None));
        let outcome = t.apply_check(ServerDescription::from_hello(addr("b"), &primary_hello(2, 8), None));
        assert!(outcome.clear_pools.is_empty());
        t.apply_check(ServerDescription::from_hello(addr("a"), &primary_hello(1, 8), None));
        assert_eq!(t.description().servers[&addr("a")].server_type, ServerType::Unknown);
    }

    #[test]
    fn failed_checks_clear_the_pool_and_removed_servers_stop() {
        let settings = TopologySettings {
            seeds: vec![addr("a"), addr("c")],
            initial_type: TopologyType::Unknown,
            set_name: None,
        };
        let (mut t, _) = TopologyState::open(&settings);
        let outcome = t.apply_check(ServerDescription::from_hello(addr("a"), &primary_hello(1, 17), None));
        assert_eq!(outcome.start_monitoring, vec![addr("b")]);
        assert_eq!(outcome.stop_monitoring, vec![addr("c")]);
        assert_eq!(outcome.mark_pool_ready, Some(addr("a")));
        assert_eq!(t.pool_generation(&addr("c")), None);
        let failed = t.apply_check(ServerDescription::check_failed(addr("a"), "connection refused"));
        assert_eq!(failed.clear_pools, vec![addr("a")]);
        assert_eq!(t.description().topology_type, TopologyType::ReplicaSetNoPrimary);
        let closing = t.close();
        assert!(matches!(closing.last(), Some(SdamEvent::TopologyClosed(_))));
        assert_eq!(closing.len(), 3);
    }
}
