//! Applying a new ServerDescription to the TopologyDescription (SDAM "Updating the
//! TopologyDescription": the TopologyType table and its actions, topologyVersion
//! comparison, server description equality, logical session timeout).

use std::cmp::Ordering;

use bson::{Bson, Document};

use super::{ServerAddress, ServerDescription, ServerType, TopologyDescription, TopologyType};

/// Compares two `topologyVersion` documents (SDAM "topologyVersion Comparison"): `Less` when
/// `current` is older than `new` — including when either is missing or their `processId`s
/// differ, where the newer one is assumed to be `new` — otherwise by `counter`.
pub fn compare_topology_versions(current: Option<&Document>, new: Option<&Document>) -> Ordering {
    let (Some(current), Some(new)) = (current, new) else {
        return Ordering::Less;
    };
    if current.get("processId") != new.get("processId") {
        return Ordering::Less;
    }
    fn counter(tv: &Document) -> Option<i64> {
        match tv.get("counter")? {
            Bson::Int64(i) => Some(*i),
            Bson::Int32(i) => Some(i64::from(*i)),
            Bson::Double(d) => Some(*d as i64),
            _ => None,
        }
    }
    match (counter(current), counter(new)) {
        (Some(a), Some(b)) => a.cmp(&b),
        // A counter that is missing or not a number cannot be ordered: trust the new one.
        _ => Ordering::Less,
    }
}

/// What one [`TopologyDescription::update`] did, beyond replacing the server's description:
/// what the runtime must act on (monitors to start or stop, old primaries to re-check).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TopologyUpdate {
    /// Whether the description was applied; `false` when the server is no longer in the
    /// topology, or its `topologyVersion` is older than the one the client holds.
    pub applied: bool,
    /// Servers added to the topology (start monitoring them).
    pub added: Vec<ServerAddress>,
    /// Servers removed from the topology (stop monitoring them, close their pools).
    pub removed: Vec<ServerAddress>,
    /// The previous descriptions of other servers that claimed to be primary and were
    /// replaced with Unknown because a newer primary was found: request an immediate check
    /// of each, and clear its pool if its `max_wire_version` is below 8 (before 4.2).
    pub invalidated_primaries: Vec<ServerDescription>,
}

/// The wire version of MongoDB 4.2: errors and stale primaries from older servers clear
/// the pool (SDAM "not writable primary" and "node is recovering", updateRSFromPrimary).
pub const WIRE_VERSION_4_2: i32 = 8;

impl ServerDescription {
    /// SDAM "Server Description Equality": whether the fields marked (=) are equal (error,
    /// type, wire versions, me, hosts/passives/arbiters as sets, tags, setName, electionId,
    /// setVersion, primary, logicalSessionTimeoutMinutes, topologyVersion). RTT and update
    /// times are ignored, so a check that changes nothing else publishes no event.
    pub fn sdam_eq(&self, other: &ServerDescription) -> bool {
        fn set(list: &[ServerAddress]) -> std::collections::BTreeSet<&ServerAddress> {
            list.iter().collect()
        }
        self.address == other.address
            && self.error == other.error
            && self.server_type == other.server_type
            && self.min_wire_version == other.min_wire_version
            && self.max_wire_version == other.max_wire_version
            && self.me == other.me
            && set(&self.hosts) == set(&other.hosts)
            && set(&self.passives) == set(&other.passives)
            && set(&self.arbiters) == set(&other.arbiters)
            && self.tags == other.tags
            && self.set_name == other.set_name
            && self.election_id == other.election_id
            && self.set_version == other.set_version
            && self.primary == other.primary
            && self.logical_session_timeout_minutes == other.logical_session_timeout_minutes
            && self.topology_version == other.topology_version
    }

    /// Every address in the server's `hosts`, `passives` and `arbiters`.
    pub fn members(&self) -> impl Iterator<Item = &ServerAddress> {
        self.hosts.iter().chain(&self.passives).chain(&self.arbiters)
    }
}

impl TopologyDescription {
    /// SDAM "logicalSessionTimeoutMinutes" of the topology: the smallest value among the
    /// data-bearing servers, or `None` if any of them has none (or there are none).
    pub fn logical_session_timeout_minutes(&self) -> Option<i64> {
        let mut data_bearing = self.servers().filter(|s| s.server_type.is_data_bearing()).peekable();
        data_bearing.peek()?;
        data_bearing.map(|s| s.logical_session_timeout_minutes).try_fold(i64::MAX, |min, v| Some(min.min(v?)))
    }

    /// SDAM "compatible": no server's wire version range is outside the driver's.
    pub fn is_compatible(&self) -> bool {
        self.compatibility_error().is_none()
    }

    /// Whether two topology descriptions are equal for SDAM events: the same type, set
    /// name, max set version and election id, and the same servers by
    /// [`ServerDescription::sdam_eq`].
    pub fn sdam_eq(&self, other: &TopologyDescription) -> bool {
        self.topology_type == other.topology_type
            && self.set_name == other.set_name
            && self.max_set_version == other.max_set_version
            && self.max_election_id == other.max_election_id
            && self.servers.len() == other.servers.len()
            && self.servers.iter().zip(&other.servers).all(|((a, s), (b, t))| a == b && s.sdam_eq(t))
    }

    /// Applies the outcome of one check of `new.address` (SDAM "Updating the
    /// TopologyDescription"): ignores it when the server is not in the topology or its
    /// topologyVersion is stale, replaces the server's description, then runs the action
    /// the TopologyType table names for the new ServerType and the current TopologyType
    /// (`updateUnknownWithStandalone`, `updateRSFromPrimary`, `updateRSWithoutPrimary`,
    /// `updateRSWithPrimaryFromMember`, `checkIfHasPrimary`, remove). With TopologyType
    /// Single and a configured set name, a server reporting another (or no) set name
    /// becomes Unknown.
    ///
    /// Stale primaries are detected with the (electionId, setVersion) tuple compared in
    /// that order, a missing value being less than any value, as the pinned spec's
    /// updateRSFromPrimary pseudocode says (it predates the later rule that orders by
    /// setVersion first for servers before wire version 17).
    ///
    /// ```
    /// use mongo_driver::sdam::{ServerAddress, ServerDescription, TopologyDescription, TopologyType};
    /// let a = ServerAddress::new("a", 27017);
    /// let mut topology = TopologyDescription::new(TopologyType::Unknown, [ServerDescription::unknown(a.clone())]);
    /// let reply = bson::doc! { "ok": 1, "isWritablePrimary": true, "setName": "rs",
    ///     "hosts": ["a:27017", "b:27017"], "maxWireVersion": 17 };
    /// let update = topology.update(ServerDescription::from_hello(a, &reply, None));
    /// assert_eq!(topology.topology_type, TopologyType::ReplicaSetWithPrimary);
    /// assert_eq!(update.added, vec![ServerAddress::new("b", 27017)]);
    /// ```
    pub fn update(&mut self, new: ServerDescription) -> TopologyUpdate {
        let mut update = TopologyUpdate::default();
        let Some(current) = self.servers.get(&new.address) else {
            return update;
        };
        if compare_topology_versions(current.topology_version.as_ref(), new.topology_version.as_ref())
            == Ordering::Greater
        {
            return update;
        }
        update.applied = true;
        let address = new.address.clone();
        let server_type = new.server_type;
        match self.topology_type {
            TopologyType::Single => {
                let wrong_set = self.set_name.is_some()
                    && server_type != ServerType::Unknown
                    && new.set_name != self.set_name;
                let new = if wrong_set {
                    let error = format!(
                        "the server's replica set name {:?} is not the configured {:?}",
                        new.set_name, self.set_name
                    );
                    ServerDescription { error: Some(error), ..ServerDescription::unknown(address.clone()) }
                } else {
                    new
                };
                self.servers.insert(address, new);
                return update;
            }
            TopologyType::LoadBalanced => {
                self.servers.insert(address, new);
                return update;
            }
            _ => {}
        }
        self.servers.insert(address.clone(), new.clone());
        use ServerType as S;
        use TopologyType as T;
        match (self.topology_type, server_type) {
            (T::Unknown, S::Standalone) => self.update_unknown_with_standalone(&address, &mut update),
            (T::Unknown, S::Mongos) => self.topology_type = T::Sharded,
            (T::Unknown | T::ReplicaSetNoPrimary, S::RsPrimary) => {
                self.topology_type = T::ReplicaSetWithPrimary;
                self.update_rs_from_primary(&new, &mut update);
            }
            (T::Unknown, S::RsSecondary | S::RsArbiter | S::RsOther) => {
                self.topology_type = T::ReplicaSetNoPrimary;
                self.update_rs_without_primary(&new, &mut update);
            }
            (T::Sharded, S::Unknown | S::Mongos) => {}
            (T::Sharded, _) => self.remove(&address, &mut update),
            (T::ReplicaSetNoPrimary, S::Standalone | S::Mongos) => self.remove(&address, &mut update),
            (T::ReplicaSetNoPrimary, S::RsSecondary | S::RsArbiter | S::RsOther) => {
                self.update_rs_without_primary(&new, &mut update)
            }
            (T::ReplicaSetWithPrimary, S::Unknown | S::RsGhost) => self.check_if_has_primary(),
            (T::ReplicaSetWithPrimary, S::Standalone | S::Mongos) => {
                self.remove(&address, &mut update);
                self.check_if_has_primary();
            }
            (T::ReplicaSetWithPrimary, S::RsPrimary) => self.update_rs_from_primary(&new, &mut update),
            (T::ReplicaSetWithPrimary, S::RsSecondary | S::RsArbiter | S::RsOther) => {
                self.update_rs_with_primary_from_member(&new, &mut update)
            }
            // Unknown and RSGhost in Unknown/ReplicaSetNoPrimary are no-ops, and so are the
            // types a check never produces (PossiblePrimary, LoadBalancer).
            _ => {}
        }
        update
    }

    fn remove(&mut self, address: &ServerAddress, update: &mut TopologyUpdate) {
        if self.servers.remove(address).is_some() {
            update.removed.push(address.clone());
        }
    }

    fn add_unknown(&mut self, address: &ServerAddress, update: &mut TopologyUpdate) {
        if !self.servers.contains_key(address) {
            self.servers.insert(address.clone(), ServerDescription::unknown(address.clone()));
            update.added.push(address.clone());
        }
    }

    /// updateUnknownWithStandalone.
    fn update_unknown_with_standalone(&mut self, address: &ServerAddress, update: &mut TopologyUpdate) {
        if self.single_seed {
            self.topology_type = TopologyType::Single;
        } else {
            self.remove(address, update);
        }
    }

    /// checkIfHasPrimary.
    fn check_if_has_primary(&mut self) {
        self.topology_type = if self.primary().is_some() {
            TopologyType::ReplicaSetWithPrimary
        } else {
            TopologyType::ReplicaSetNoPrimary
        };
    }

    /// Marks the server `description.primary` names PossiblePrimary if it is Unknown.
    fn note_possible_primary(&mut self, description: &ServerDescription) {
        if let Some(primary) = description.primary.as_ref().and_then(|p| self.servers.get_mut(p))
            && primary.server_type == ServerType::Unknown
        {
            primary.server_type = ServerType::PossiblePrimary;
        }
    }

    /// Whether the server reports a `me` other than the address the client uses.
    fn me_mismatch(description: &ServerDescription) -> bool {
        description.me.as_ref().is_some_and(|me| *me != description.address)
    }

    /// updateRSWithoutPrimary.
    fn update_rs_without_primary(&mut self, description: &ServerDescription, update: &mut TopologyUpdate) {
        match &self.set_name {
            None => self.set_name = description.set_name.clone(),
            Some(name) if description.set_name.as_ref() != Some(name) => {
                self.remove(&description.address, update);
                return;
            }
            Some(_) => {}
        }
        for member in description.members() {
            self.add_unknown(member, update);
        }
        self.note_possible_primary(description);
        if Self::me_mismatch(description) {
            self.remove(&description.address, update);
        }
    }

    /// updateRSWithPrimaryFromMember.
    fn update_rs_with_primary_from_member(
        &mut self,
        description: &ServerDescription,
        update: &mut TopologyUpdate,
    ) {
        if self.set_name != description.set_name || Self::me_mismatch(description) {
            self.remove(&description.address, update);
            self.check_if_has_primary();
            return;
        }
        if self.primary().is_none() {
            self.topology_type = TopologyType::ReplicaSetNoPrimary;
            self.note_possible_primary(description);
        }
    }

    /// updateRSFromPrimary.
    fn update_rs_from_primary(&mut self, description: &ServerDescription, update: &mut TopologyUpdate) {
        let address = &description.address;
        match &self.set_name {
            None => self.set_name = description.set_name.clone(),
            Some(name) if description.set_name.as_ref() != Some(name) => {
                self.remove(address, update);
                self.check_if_has_primary();
                return;
            }
            Some(_) => {}
        }
        // (electionId, setVersion) in that order; `None` orders before any value.
        let newer = match description.election_id.cmp(&self.max_election_id) {
            Ordering::Greater => true,
            Ordering::Equal => description.set_version >= self.max_set_version,
            Ordering::Less => false,
        };
        if newer {
            self.max_election_id = description.election_id;
            self.max_set_version = description.set_version;
        } else {
            let error = "a primary with an older (electionId, setVersion) than the newest primary seen (stale primary)";
            self.servers.insert(
                address.clone(),
                ServerDescription {
                    error: Some(error.to_string()),
                    ..ServerDescription::unknown(address.clone())
                },
            );
            self.check_if_has_primary();
            return;
        }
        let old_primaries: Vec<ServerAddress> = self
            .servers()
            .filter(|s| s.address != *address && s.server_type == ServerType::RsPrimary)
            .map(|s| s.address.clone())
            .collect();
        for old in old_primaries {
            let unknown = ServerDescription::unknown(old.clone());
            if let Some(previous) = self.servers.insert(old, unknown) {
                update.invalidated_primaries.push(previous);
            }
        }
        for member in description.members() {
            self.add_unknown(member, update);
        }
        let members: std::collections::BTreeSet<&ServerAddress> = description.members().collect();
        let gone: Vec<ServerAddress> =
            self.servers.keys().filter(|a| !members.contains(a)).cloned().collect();
        for address in gone {
            self.remove(&address, update);
        }
        self.check_if_has_primary();
    }
}

#[cfg(test)]
mod tests {
    use bson::doc;
    use bson::oid::ObjectId;

    use super::*;

    fn a(host: &str) -> ServerAddress {
        ServerAddress::new(host, 27017)
    }

    fn tv(pid: u8, counter: i64) -> Document {
        doc! { "processId": ObjectId::from_bytes([pid; 12]), "counter": counter }
    }

    #[test]
    fn topology_version_order() {
        assert_eq!(compare_topology_versions(None, Some(&tv(1, 1))), Ordering::Less);
        assert_eq!(compare_topology_versions(Some(&tv(1, 1)), None), Ordering::Less);
        assert_eq!(compare_topology_versions(Some(&tv(1, 5)), Some(&tv(2, 1))), Ordering::Less);
        assert_eq!(compare_topology_versions(Some(&tv(1, 5)), Some(&tv(1, 1))), Ordering::Greater);
        assert_eq!(compare_topology_versions(Some(&tv(1, 1)), Some(&tv(1, 1))), Ordering::Equal);
    }

    #[test]
    fn logical_session_timeout_is_the_minimum_of_data_bearing_servers() {
        let server = |host: &str, ty, ls| ServerDescription {
            logical_session_timeout_minutes: ls,
            ..ServerDescription::new(a(host), ty)
        };
        let mut t = TopologyDescription::new(
            TopologyType::ReplicaSetWithPrimary,
            [server("a", ServerType::RsPrimary, Some(3)), server("b", ServerType::RsSecondary, Some(2))],
        );
        assert_eq!(t.logical_session_timeout_minutes(), Some(2));
        t.servers.insert(a("c"), server("c", ServerType::RsArbiter, None));
        assert_eq!(t.logical_session_timeout_minutes(), Some(2));
        t.servers.insert(a("d"), server("d", ServerType::RsSecondary, None));
        assert_eq!(t.logical_session_timeout_minutes(), None);
        assert_eq!(TopologyDescription::default().logical_session_timeout_minutes(), None);
    }

    #[test]
    fn readable_and_writable_servers() {
        use crate::selection::ReadPreference;
        let known = |ty| ServerDescription { max_wire_version: 17, ..ServerDescription::new(a("a"), ty) };
        let unknown = TopologyDescription::new(TopologyType::Unknown, [ServerDescription::unknown(a("a"))]);
        assert!(!unknown.has_readable_server(None) && !unknown.has_writable_server());
        let no_primary =
            TopologyDescription::new(TopologyType::ReplicaSetNoPrimary, [known(ServerType::RsSecondary)]);
        assert!(!no_primary.has_readable_server(None) && !no_primary.has_writable_server());
        assert!(no_primary.has_readable_server(Some(&ReadPreference::secondary())));
        let with_primary =
            TopologyDescription::new(TopologyType::ReplicaSetWithPrimary, [known(ServerType::RsPrimary)]);
        assert!(with_primary.has_readable_server(None) && with_primary.has_writable_server());
        let sharded = TopologyDescription::new(TopologyType::Sharded, [known(ServerType::Mongos)]);
        assert!(sharded.has_readable_server(None) && sharded.has_writable_server());
    }

    #[test]
    fn stale_topology_version_is_ignored_and_removed_servers_too() {
        let mut t = TopologyDescription::new(
            TopologyType::Single,
            [ServerDescription { topology_version: Some(tv(1, 2)), ..ServerDescription::unknown(a("a")) }],
        );
        let stale = ServerDescription {
            topology_version: Some(tv(1, 1)),
            ..ServerDescription::new(a("a"), ServerType::Standalone)
        };
        assert!(!t.update(stale).applied);
        assert!(!t.update(ServerDescription::new(a("zz"), ServerType::Standalone)).applied);
        assert!(t.update(ServerDescription::new(a("a"), ServerType::Standalone)).applied);
        assert_eq!(t.servers[&a("a")].server_type, ServerType::Standalone);
    }
}
