//! Server Discovery and Monitoring (SDAM spec): the client's description of servers
//! and of the deployment, how checks and application errors update it, and the topology
//! state the runtime keeps under its lock.
//!
//! This module does no I/O. The runtime (monitors and the operation executor) drives it:
//!
//! 1. At client construction: [`TopologySettings::from_connection_string`], then
//!    [`TopologyState::open`]; publish the returned events, create a pool and a monitor per
//!    seed (in LoadBalanced mode no monitor, and the load balancer's pool is ready at once).
//! 2. After each monitor check: [`ServerDescription::from_hello`] with the reply and the
//!    averaged RTT, or [`ServerDescription::check_failed`] after a network error or an
//!    `ok: 0` reply (after the one retry the server monitoring spec allows for a known
//!    server), then [`TopologyState::apply_check`] under the topology lock; carry out the
//!    [`CheckOutcome`] before releasing it: publish its events, start/stop monitors, mark the
//!    pool ready, clear the listed pools, request the listed immediate checks, and wake
//!    server selection.
//! 3. When an application operation fails with a network or command error (including a
//!    `writeConcernError`; never for `writeErrors`): [`TopologyState::handle_application_error`]
//!    with the connection's pool generation and server wire version, under the same lock;
//!    carry out the [`ErrorAction`] (pool clear, immediate check, cancelling the in-progress
//!    check, plus its `change` as in step 2).
//! 4. At shutdown: [`TopologyState::close`], publishing its events last.

pub mod description;
pub mod error_handling;
pub mod event;
pub mod hello;
pub mod rtt;
pub mod topology;
pub mod update;

pub use crate::options::address;
pub use crate::options::address::ServerAddress;
pub use description::{
    MAX_SUPPORTED_WIRE_VERSION, MIN_SUPPORTED_WIRE_VERSION, ServerDescription, ServerType,
    TopologyDescription, TopologyType,
};
pub use error_handling::{ErrorAction, HandshakePhase};
pub use topology::{CheckOutcome, TopologySettings, TopologyState};
pub use update::{TopologyUpdate, compare_topology_versions};
