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
    error.error_code().and_then(|c| c.name()) == Some("AuthenticationFailed")
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
        if error.is_state_change() {
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
            || when == HandshakePhase::BeforeHandshakeCompletes && (is_timeout(error) || is_auth_error(error))
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
