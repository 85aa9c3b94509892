//! The pool's public vocabulary (CMAP "Connection Pool"): its state, a snapshot of its
//! counters, establishment errors handed to SDAM, and what a connection is pinned to.

use std::fmt;
use std::sync::{Arc, Weak};

use crate::error::Error;

/// The state of a pool (CMAP `ConnectionPool.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolState {
    /// The initial state, and the state after a clear: check-outs fail with a
    /// `PoolClearedError` and no connections are made in the background.
    Paused,
    /// Check-outs are served and `minPoolSize` is kept.
    Ready,
    /// Closed for good.
    Closed,
}

/// A snapshot of a pool's counters (CMAP `totalConnectionCount` and friends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    /// The pool's state.
    pub state: PoolState,
    /// The pool's generation (incremented by each clear).
    pub generation: u32,
    /// Pending, available and in-use connections.
    pub total: usize,
    /// Connections waiting in the pool to be checked out.
    pub available: usize,
    /// Connections being established.
    pub pending: usize,
    /// Check-outs in the wait queue.
    pub waiting: usize,
    /// Connections checked out now (pinned ones included).
    pub in_use: usize,
}

/// An error from establishing a connection, for a check-out or in the background (to
/// satisfy `minPoolSize`), handed to the pool's [`PopulationErrorHandler`] before the
/// connection is closed, so SDAM can handle it ("Populating the Pool with a Connection":
/// defer error handling to SDAM).
pub struct PopulationError {
    /// The establishment error.
    pub error: Error,
    /// The pool generation the connection was created in.
    pub generation: u32,
    pub(super) pool: Weak<dyn ClearPool>,
}

impl PopulationError {
    /// Clears the pool, with this error as the cause (what SDAM does for a network error
    /// or timeout during a handshake).
    pub fn clear_pool(&self) {
        if let Some(pool) = self.pool.upgrade() {
            pool.clear_because(Some(&self.error));
        }
    }
}

impl fmt::Debug for PopulationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PopulationError")
            .field("error", &self.error)
            .field("generation", &self.generation)
            .finish()
    }
}

/// Receives establishment errors. Without one, a pool clears itself when a background
/// establishment error comes from its current generation (a check-out's error only goes to
/// the check-out).
pub type PopulationErrorHandler = Arc<dyn Fn(PopulationError) + Send + Sync>;

pub(super) trait ClearPool: Send + Sync {
    fn clear_because(&self, cause: Option<&Error>);
}

/// What a checked-out connection is pinned to (load balancer spec "Connection Tracking").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinPurpose {
    /// A cursor's getMores and killCursors.
    Cursor,
    /// A transaction's commands.
    Transaction,
}
