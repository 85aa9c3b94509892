//! Server Discovery and Monitoring (SDAM spec): the client's description of servers
//! and of the deployment, how checks and application errors update it, and the topology
//! state the runtime keeps under its lock.

pub mod address;
pub mod description;
pub mod error_handling;
pub mod hello;
pub mod topology;
pub mod update;

pub use address::ServerAddress;
pub use description::{
    MAX_SUPPORTED_WIRE_VERSION, MIN_SUPPORTED_WIRE_VERSION, ServerDescription, ServerType,
    TopologyDescription, TopologyType,
};
pub use error_handling::{ErrorAction, HandshakePhase};
pub use topology::{CheckOutcome, TopologySettings, TopologyState};
pub use update::{TopologyUpdate, compare_topology_versions};
