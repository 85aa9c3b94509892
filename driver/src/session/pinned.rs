//! Pinned connections (load balancer spec "Connection Pinning"): the shared handle of a
//! connection that a cursor or a transaction keeps for all its commands.

use std::sync::Arc;

use crate::cmap::PooledConnection;
use crate::connection::Connection;

/// A connection pinned to a cursor or a transaction (load balancer spec "Connection
/// Pinning"): its holders share it, and it is checked in when the last lets go.
pub(crate) type PinnedConnection = Arc<tokio::sync::Mutex<PooledConnection<Connection>>>;
