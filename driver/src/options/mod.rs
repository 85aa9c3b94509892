//! The bottom layer's vocabulary (URI options spec, CRUD spec options, read-write-concern
//! spec, server selection spec "Read preference"): connection strings and `mongodb+srv`
//! resolution, client and operation options, and the shared value types every layer above
//! names (server addresses, read preferences and tag sets, read and write concerns). It
//! imports only [`crate::error`].

pub mod address;
pub mod concern;
pub mod connection_string;
mod crud;
pub mod monitoring_mode;
pub mod read_preference;
pub mod srv;

pub use address::ServerAddress;
pub use concern::{ReadConcern, WriteConcern};
pub use connection_string::Acknowledgment;
pub use crud::*;
pub use read_preference::{ReadPreference, ReadPreferenceMode, TagSet};
