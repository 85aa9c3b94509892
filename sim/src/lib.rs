//! A simulated MongoDB deployment that speaks the real wire protocol on 127.0.0.1.
//!
//! [`Deployment::start`] runs a standalone, a replica set or a sharded cluster (routers in
//! front of a replica set) in-process on ephemeral ports until dropped; the server layer
//! ([`server`]) speaks OP_MSG/OP_QUERY, answers the handshake, keeps sessions, cluster time,
//! retryable-write records and fail points, and hands data commands to the [`engine`].
//! It depends on nothing else of this workspace, so driver bugs cannot hide behind server bugs.

pub mod compression;
pub mod config;
pub mod deployment;
pub mod engine;
pub mod server;
pub mod tls;
pub mod version;
pub mod wire;

pub use config::{Config, Topology, User};
pub use deployment::{Deployment, InMemoryConnector, StartError};
pub use tls::{TestCertificates, TlsError, TlsSettings};
pub use version::ServerVersion;
