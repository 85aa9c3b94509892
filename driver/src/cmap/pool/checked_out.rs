//! A checked-out connection (CMAP "Checking In a Connection"): pinning, the errored mark,
//! and the check-in on drop.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use super::state::*;
use super::types::*;
use crate::options::ServerAddress;

/// A checked-out connection. Dereferences to the connection; dropping it (or
/// [`Pool::check_in`]) checks it back in, which closes it if it is perished or the pool is
/// closed.
pub struct PooledConnection<C> {
    pub(super) conn: Option<Conn<C>>,
    pub(super) errored: bool,
    pub(super) pinned: Option<PinPurpose>,
    pub(super) pool: Arc<Inner<C>>,
}

impl<C> PooledConnection<C> {
    pub(super) fn new(conn: Conn<C>, pool: Arc<Inner<C>>) -> Self {
        Self { conn: Some(conn), errored: false, pinned: None, pool }
    }

    /// Counts the connection as pinned to `purpose` until it is checked in (the first
    /// purpose stays: a transaction's connection that also serves a cursor counts for the
    /// transaction).
    pub fn pin(&mut self, purpose: PinPurpose) {
        if self.pinned.is_none() {
            let mut st = self.pool.lock();
            match purpose {
                PinPurpose::Cursor => st.pinned_cursors += 1,
                PinPurpose::Transaction => st.pinned_transactions += 1,
            }
            self.pinned = Some(purpose);
        }
    }

    /// What the connection is pinned to, if anything.
    pub fn pinned(&self) -> Option<PinPurpose> {
        self.pinned
    }

    pub(super) fn conn(&self) -> &Conn<C> {
        self.conn.as_ref().expect("a pooled connection holds its connection until dropped")
    }

    /// The connection's id in its pool.
    pub fn id(&self) -> u32 {
        self.conn().id
    }

    /// The pool generation the connection was created in.
    pub fn generation(&self) -> u32 {
        self.conn().generation
    }

    /// The server it is connected to.
    pub fn address(&self) -> &ServerAddress {
        &self.pool.address
    }

    /// Marks the connection as perished by an error (network error, timeout, …): it is
    /// closed with reason `error` when checked in (as it is when
    /// [`Connector::is_reusable`] says no).
    pub fn mark_errored(&mut self) {
        self.errored = true;
    }

    /// Whether [`mark_errored`](Self::mark_errored) was called.
    pub fn is_errored(&self) -> bool {
        self.errored
    }
}

impl<C> Deref for PooledConnection<C> {
    type Target = C;
    fn deref(&self) -> &C {
        &self.conn().raw
    }
}

impl<C> DerefMut for PooledConnection<C> {
    fn deref_mut(&mut self) -> &mut C {
        &mut self.conn.as_mut().expect("a pooled connection holds its connection until dropped").raw
    }
}

impl<C> fmt::Debug for PooledConnection<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (id, generation) = self.conn.as_ref().map_or((0, 0), |c| (c.id, c.generation));
        f.debug_struct("PooledConnection")
            .field("address", &self.pool.address)
            .field("id", &id)
            .field("generation", &generation)
            .field("errored", &self.errored)
            .finish()
    }
}

impl<C> Drop for PooledConnection<C> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool.check_in(conn, self.errored, self.pinned);
        }
    }
}
