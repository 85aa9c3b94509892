//! The connection pool (CMAP "Connection Pool" and "Connection Pool Behaviors"): check-out
//! through a fair FIFO wait queue, check-in, clear (generations), ready/paused states,
//! close, `maxPoolSize`, `maxConnecting`, `maxIdleTimeMS`, `waitQueueTimeoutMS`, and a
//! background task that closes perished connections and keeps `minPoolSize` connections.
//!
//! Files, bottom to top: `types` (public vocabulary), `state` (the shared state and its
//! lock-held steps), `checked_out` ([`PooledConnection`]), `background` (establishment and
//! the background task), `handle` ([`Pool`] and [`PoolBuilder`]).

mod background;
mod checked_out;
mod handle;
mod state;
mod types;

pub use checked_out::PooledConnection;
pub use handle::{Pool, PoolBuilder};
pub use types::{PinPurpose, PoolState, PoolStatus, PopulationError, PopulationErrorHandler};
