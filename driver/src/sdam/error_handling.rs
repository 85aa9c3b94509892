//! How application errors update the topology (SDAM "Error handling": application
//! errors, the error handling pseudocode, network errors, "not writable primary" and
//! "node is recovering", authentication errors).

use std::cmp::Ordering;

use super::topology::CheckOutcome;
use super::update::WIRE_VERSION_4_2;
use super::{ServerAddress, ServerDescription, TopologyState, TopologyType, compare_topology_versions};
use crate::error::Error;

/// When an application error happened relative to the connection's handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakePhase {
    /// While establishing a new connection (handshake and authentication).
    BeforeHandshakeCompletes,
    /// On an established connection.
    AfterHandshakeCompletes,
}

/// What the client must do about an application error ([`TopologyState::handle_application_error`]).
/// The topology state has already applied it (description and pool generation); the
/// runtime carries out the rest while still holding the topology lock.
#[derive(Debug, Clone, Default)]
pub struct ErrorAction {
    /// The error was ignored: its connection generation is older than the pool's, its
    /// topologyVersion is not newer than the server's, or the server left the topology.
    pub stale: bool,
    /// The server was marked Unknown.
    pub mark_unknown: bool,
    /// The server's pool must be cleared (its generation was already advanced).
    pub clear_pool: bool,
    /// The server's monitor must check immediately (state-change errors).
    pub request_check: bool,
    /// The server's in-progress monitor check must be cancelled (network errors).
    pub cancel_check: bool,
    /// The topology change from marking the server Unknown (events, monitors to stop, …).
    pub change: CheckOutcome,
}

/// Whether the error is a network timeout.
fn is_timeout(error: &Error) -> bool {
    error.is_network_timeout()
}

/// Whether the error is an authentication failure (only meaningful during the handshake).
fn is_auth_error(error: &Error) -> bool {
    error.is_authentication_error()
        || error.error_code().and_then(|c| c.name()) == Some("AuthenticationFailed")
}

impl TopologyState {
    /// Handles an error an application operation got from `address` on a connection of pool
    /// generation `generation` to a server of `max_wire_version`, `when` relative to the
    /// handshake (SDAM "Error handling pseudocode"):
    ///
    /// - stale errors change nothing: a `generation` older than the pool's, or a
    ///   state-change error whose `topologyVersion` is not newer than the server's;
    /// - a state-change error ("not writable primary"/"node is recovering", by code, or by
    ///   message only when there is no code) marks the server Unknown with the error's
    ///   topologyVersion (not in LoadBalanced mode) and requests an immediate check; it clears
    ///   the pool only for a "node is shutting down" code or a server before 4.2;
    /// - a network error (not a timeout), or before the handshake completes a timeout or
    ///   authentication error, marks the server Unknown (not in LoadBalanced mode), clears
    ///   the pool and cancels the monitor's in-progress check;
    /// - anything else (a timeout after the handshake, other command errors) changes nothing.
    ///
    /// ```
    /// use mongo_driver::Error;
    /// use mongo_driver::sdam::{HandshakePhase, ServerAddress, TopologySettings, TopologyState, TopologyType};
    /// let settings = TopologySettings { seeds: vec![ServerAddress::new("a", 27017)],
    ///     initial_type: TopologyType::Single, set_name: None };
    /// let (mut topology, _) = TopologyState::open(&settings);
    /// let a = &settings.seeds[0];
    /// let error = Error::command(91, "", "shutting down");
    /// let action = topology.handle_application_error(a, &error, HandshakePhase::AfterHandshakeCompletes, 0, 17);
    /// assert!(action.mark_unknown && action.clear_pool && action.request_check);
    /// assert_eq!(topology.pool_generation(a), Some(1));
    /// // The same error on a connection from before the clear is stale.
    /// let again = topology.handle_application_error(a, &error, HandshakePhase::AfterHandshakeCompletes, 0, 17);
    /// assert!(again.stale);
    /// ```
    pub fn handle_application_error(
        &mut self,
        address: &ServerAddress,
        error: &Error,
        when: HandshakePhase,
        generation: u32,
        max_wire_version: i32,
    ) -> ErrorAction {
        let stale = ErrorAction { stale: true, ..ErrorAction::default() };
        let (Some(current), Some(pool_generation)) =
            (self.description().server(address), self.pool_generation(address))
        else {
            return stale;
        };
        if generation < pool_generation {
            return stale;
        }
        let load_balanced = self.description().topology_type == TopologyType::LoadBalanced;
        let mut action = ErrorAction::default();
        // An authentication failure during the handshake (whatever its code, even a
        // state-change one) marks the server Unknown and clears the pool (SDAM
        // "Authentication errors").
        let handshake_auth = when == HandshakePhase::BeforeHandshakeCompletes && is_auth_error(error);
        if error.is_state_change() && !handshake_auth {
            if compare_topology_versions(current.topology_version.as_ref(), error.topology_version())
                != Ordering::Less
            {
                return stale;
            }
            action.clear_pool = error.is_shutting_down() || max_wire_version < WIRE_VERSION_4_2;
            action.request_check = true;
            if !load_balanced {
                let unknown = ServerDescription {
                    topology_version: error.topology_version().cloned(),
                    ..ServerDescription::check_failed(address.clone(), error.to_string())
                };
                action.mark_unknown = true;
                action.change = self.apply(unknown, action.clear_pool);
            } else if action.clear_pool {
                self.clear_pool(address);
            }
        } else if error.is_network_error() && !is_timeout(error)
            || handshake_auth
            || when == HandshakePhase::BeforeHandshakeCompletes && is_timeout(error)
        {
            action.clear_pool = true;
            action.cancel_check = true;
            if !load_balanced {
                action.mark_unknown = true;
                action.change =
                    self.apply(ServerDescription::check_failed(address.clone(), error.to_string()), true);
            } else {
                self.clear_pool(address);
            }
        }
        action
    }
}

#[cfg(test)]
mod tests {
    use bson::doc;

    use super::*;
    use crate::sdam::{ServerType, TopologySettings};

    fn a() -> ServerAddress {
        ServerAddress::new("a", 27017)
    }

    /// A replica set topology whose primary `a` speaks `max_wire_version`.
    fn primary(initial_type: TopologyType, max_wire_version: i32) -> TopologyState {
        let settings = TopologySettings { seeds: vec![a()], initial_type, set_name: Some("rs".into()) };
        let (mut t, _) = TopologyState::open(&settings);
        let hello = doc! { "ok": 1, "isWritablePrimary": true, "setName": "rs", "hosts": ["a:27017"],
        "maxWireVersion": max_wire_version };
        t.apply_check(ServerDescription::from_hello(a(), &hello, None));
        t
    }

    fn io(kind: std::io::ErrorKind) -> Error {
        Error::io("reading", std::io::Error::new(kind, "mocked"))
    }

    #[test]
    fn timeouts_count_only_before_the_handshake() {
        let mut t = primary(TopologyType::ReplicaSetNoPrimary, 17);
        let timeout = io(std::io::ErrorKind::TimedOut);
        let after =
            t.handle_application_error(&a(), &timeout, HandshakePhase::AfterHandshakeCompletes, 0, 17);
        assert!(!after.stale && !after.mark_unknown && !after.clear_pool);
        assert_eq!(t.description().servers[&a()].server_type, ServerType::RsPrimary);
        let before =
            t.handle_application_error(&a(), &timeout, HandshakePhase::BeforeHandshakeCompletes, 0, 17);
        assert!(before.mark_unknown && before.clear_pool && before.cancel_check && !before.request_check);
        assert_eq!(t.description().topology_type, TopologyType::ReplicaSetNoPrimary);
        assert_eq!(t.pool_generation(&a()), Some(1));
        assert_eq!(before.change.events.len(), 2, "server and topology description changed");
    }

    #[test]
    fn state_change_errors_clear_the_pool_before_4_2_or_on_shutdown() {
        let not_primary = Error::command(10107, "", "not primary");
        for (wire, clears) in [(7, true), (8, false)] {
            let mut t = primary(TopologyType::ReplicaSetNoPrimary, wire);
            let action = t.handle_application_error(
                &a(),
                &not_primary,
                HandshakePhase::AfterHandshakeCompletes,
                0,
                wire,
            );
            assert!(action.mark_unknown && action.request_check);
            assert_eq!(action.clear_pool, clears, "wire version {wire}");
            assert_eq!(t.pool_generation(&a()), Some(u32::from(clears)));
        }
        let mut t = primary(TopologyType::ReplicaSetNoPrimary, 17);
        let shutdown = Error::command(91, "", "shutting down");
        assert!(
            t.handle_application_error(&a(), &shutdown, HandshakePhase::AfterHandshakeCompletes, 0, 17)
                .clear_pool
        );
    }

    #[test]
    fn message_decides_only_without_a_code_and_write_errors_do_not_count() {
        let mut t = primary(TopologyType::ReplicaSetNoPrimary, 17);
        let coded = Error::from_reply(&doc! { "ok": 0, "errmsg": "not master", "code": 1 }).unwrap();
        let action = t.handle_application_error(&a(), &coded, HandshakePhase::AfterHandshakeCompletes, 0, 17);
        assert!(!action.mark_unknown);
        let uncoded = Error::from_reply(&doc! { "ok": 0, "errmsg": "not master" }).unwrap();
        let action =
            t.handle_application_error(&a(), &uncoded, HandshakePhase::AfterHandshakeCompletes, 0, 17);
        assert!(action.mark_unknown);
        assert!(
            Error::from_reply(&doc! { "ok": 1, "writeErrors": [{ "code": 10107, "errmsg": "x" }] }).is_none()
        );
    }

    #[test]
    fn stale_topology_version_and_unknown_server_are_ignored() {
        let mut t = primary(TopologyType::ReplicaSetNoPrimary, 17);
        let tv = doc! { "processId": bson::oid::ObjectId::from_bytes([1; 12]), "counter": 5_i64 };
        let hello = doc! { "ok": 1, "isWritablePrimary": true, "setName": "rs", "hosts": ["a:27017"],
        "maxWireVersion": 17, "topologyVersion": tv.clone() };
        t.apply_check(ServerDescription::from_hello(a(), &hello, None));
        let equal = Error::from_reply(&doc! { "ok": 0, "code": 10107, "errmsg": "x", "topologyVersion": tv })
            .unwrap();
        assert!(
            t.handle_application_error(&a(), &equal, HandshakePhase::AfterHandshakeCompletes, 0, 17).stale
        );
        let other = ServerAddress::new("zz", 1);
        assert!(
            t.handle_application_error(&other, &equal, HandshakePhase::AfterHandshakeCompletes, 0, 17).stale
        );
    }

    #[test]
    fn load_balanced_servers_stay_load_balancers() {
        let settings =
            TopologySettings { seeds: vec![a()], initial_type: TopologyType::LoadBalanced, set_name: None };
        let (mut t, events) = TopologyState::open(&settings);
        assert_eq!(
            events.len(),
            5,
            "opening, topology changed, server opening, server changed, topology changed"
        );
        let network = io(std::io::ErrorKind::ConnectionReset);
        let action =
            t.handle_application_error(&a(), &network, HandshakePhase::AfterHandshakeCompletes, 0, 17);
        assert!(action.clear_pool && !action.mark_unknown);
        assert_eq!(t.description().servers[&a()].server_type, ServerType::LoadBalancer);
    }
}
