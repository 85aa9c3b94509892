//! Connection pooling (CMAP spec, "Connection Pool Members" and "Connection Pool Behaviors"):
//! one [`Pool`] per server, generic over how a connection is established ([`Connector`]),
//! with its monitoring events in [`event`].
//!
//! ```
//! # async fn demo() -> mongo_driver::Result<()> {
//! use std::sync::Arc;
//! use mongo_driver::cmap::{InMemoryConnector, Pool, PoolOptions};
//!
//! let pool = Pool::builder("localhost:27017".parse()?, Arc::new(InMemoryConnector::new()))
//!     .options(PoolOptions { max_pool_size: Some(10), ..PoolOptions::default() })
//!     .build()?;
//! pool.ready();
//! let connection = pool.check_out().await?;
//! assert_eq!(connection.id(), 1);
//! drop(connection); // checks the connection back in
//! pool.close();
//! # Ok(())
//! # }
//! # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
//! ```

mod connector;
pub mod event;
mod memory;
mod options;
mod pool;
mod tcp;

pub use connector::{ConnectRequest, Connector};
pub use memory::{HandshakeFault, InMemoryConnection, InMemoryConnector};
pub use options::{
    BackgroundInterval, DEFAULT_BACKGROUND_INTERVAL, DEFAULT_MAX_CONNECTING, DEFAULT_MAX_POOL_SIZE,
    PoolOptions,
};
pub use pool::{
    PinPurpose, Pool, PoolBuilder, PoolState, PoolStatus, PooledConnection, PopulationError,
    PopulationErrorHandler,
};
pub use tcp::TcpConnector;

#[cfg(test)]
mod tests;
