//! Server Discovery and Monitoring (SDAM spec): the client's description of servers
//! and of the deployment, which server selection reads.

pub mod address;
pub mod description;

pub use address::ServerAddress;
pub use description::{
    MAX_SUPPORTED_WIRE_VERSION, MIN_SUPPORTED_WIRE_VERSION, ServerDescription, ServerType,
    TopologyDescription, TopologyType,
};
