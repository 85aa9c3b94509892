//! The topology runtime (SDAM "Multi-threaded and asynchronous client implementation" and
//! server selection spec "Server Selection Algorithm" for multi-threaded drivers): one
//! monitor and one connection pool per server, every check applied under one lock, and the
//! selection loop that waits for the topology to change.
//!
//! [`Topology::start`] opens the [`TopologyState`], then for each server starts a
//! [`MonitorHandle`] and builds a [`Pool`] of [`TcpConnector`] connections. Each monitor
//! result goes through [`TopologyState::apply_check`] with the lock held, and the runtime
//! carries out the [`CheckOutcome`] before releasing it (events, monitors and pools for
//! added and removed servers, pools marked ready or cleared, immediate checks) and wakes
//! the operations waiting in [`Topology::select_server`]. The operation executor reports
//! its errors to [`Topology::handle_application_error`]. [`Topology::shutdown`] (or dropping
//! the topology) stops every monitor and closes every pool.
//!
//! ```no_run
//! # async fn demo() -> mongo_driver::Result<()> {
//! use mongo_driver::connection_string::ConnectionString;
//! use mongo_driver::topology::{EventHandlers, SelectionCriteria, Topology, TopologyOptions};
//!
//! let uri = ConnectionString::parse("mongodb://localhost:27017/?replicaSet=rs0")?;
//! let topology = Topology::start(TopologyOptions::from_connection_string(&uri)?, EventHandlers::default())?;
//! let server = topology.select_server(&SelectionCriteria::Write).await?;
//! let connection = topology.check_out(&server).await?;
//! drop(connection);
//! topology.shutdown().await;
//! # Ok(()) }
//! ```

mod handle;
mod options;
mod runtime;

pub(crate) use options::cluster_timestamp;
pub use options::{
    DEFAULT_SERVER_SELECTION_TIMEOUT, EventHandlers, SdamEventHandler, SelectionCriteria, TopologyOptions,
};
pub use runtime::{SelectedServer, Topology};
