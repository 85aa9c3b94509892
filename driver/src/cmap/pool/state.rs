//! The pool's shared state (CMAP "Connection Pool Members"): the connections, the FIFO wait
//! queue, generations and services, counters, and the lock-held steps every path shares
//! (events, check-in, closing perished or stale connections, clearing).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bson::oid::ObjectId;
use tokio::sync::{Notify, oneshot};
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::types::*;
use crate::cmap::connector::Connector;
use crate::cmap::event::{
    CheckOutFailedReason, CmapEvent, ConnectionCheckOutFailedEvent, ConnectionCheckedInEvent,
    ConnectionCheckedOutEvent, ConnectionClosedEvent, ConnectionClosedReason, PoolClearedEvent,
    SharedCmapEventHandler,
};
use crate::cmap::options::PoolOptions;
use crate::error::{Error, ErrorKind, Result};
use crate::options::ServerAddress;

pub(super) struct Conn<C> {
    pub(super) id: u32,
    /// The pool's generation, or in load-balanced mode its service's.
    pub(super) generation: u32,
    pub(super) service_id: Option<ObjectId>,
    pub(super) raw: C,
}

/// Load-balanced mode: one service's generation and connection count.
#[derive(Default)]
pub(super) struct Service {
    pub(super) generation: u32,
    pub(super) connections: usize,
}

pub(super) struct Idle<C> {
    pub(super) conn: Conn<C>,
    pub(super) since: Instant,
}

pub(super) struct State<C> {
    pub(super) phase: PoolState,
    pub(super) generation: u32,
    pub(super) next_id: u32,
    pub(super) next_ticket: u64,
    /// The wait queue: tickets of the check-outs waiting their turn, oldest first.
    pub(super) queue: VecDeque<u64>,
    /// Available connections, most recently checked in last.
    pub(super) available: Vec<Idle<C>>,
    pub(super) total: usize,
    pub(super) pending: usize,
    /// Establishment tasks in progress, by connection id.
    pub(super) establishing: HashMap<u32, AbortHandle>,
    /// Load-balanced mode: the services with established connections.
    pub(super) services: HashMap<ObjectId, Service>,
    pub(super) clear_cause: Option<String>,
    /// Connections checked out now.
    pub(super) in_use: usize,
    /// Of those, pinned to cursors and to transactions.
    pub(super) pinned_cursors: usize,
    pub(super) pinned_transactions: usize,
}

pub(super) struct WorkerSignal {
    pub(super) wake: Notify,
    pub(super) stop: AtomicBool,
}

pub(super) struct Inner<C> {
    pub(super) address: ServerAddress,
    pub(super) options: PoolOptions,
    pub(super) max_pool_size: usize,
    pub(super) min_pool_size: usize,
    pub(super) max_connecting: usize,
    pub(super) max_idle: Option<Duration>,
    pub(super) wait_queue_timeout: Option<Duration>,
    pub(super) connector: Arc<dyn Connector<Connection = C>>,
    /// [`Connector::is_reusable`] of `connector` (kept apart so check-in needs no bounds on `C`).
    pub(super) is_reusable: Box<dyn Fn(&C) -> bool + Send + Sync>,
    /// Load-balanced mode: [`Connector::service_id`] of `connector`.
    #[allow(clippy::type_complexity)]
    pub(super) service_id_of: Option<Box<dyn Fn(&C) -> Option<ObjectId> + Send + Sync>>,
    pub(super) events: Option<SharedCmapEventHandler>,
    pub(super) population_errors: Option<PopulationErrorHandler>,
    pub(super) state: Mutex<State<C>>,
    /// Woken on every change a waiting check-out may care about.
    pub(super) changed: Notify,
    pub(super) worker: Arc<WorkerSignal>,
}

impl<C> Drop for Inner<C> {
    fn drop(&mut self) {
        self.worker.stop.store(true, Ordering::SeqCst);
        self.worker.wake.notify_one();
    }
}

pub(super) type Delivery<C> = oneshot::Sender<Result<Conn<C>>>;

impl<C> Inner<C> {
    pub(super) fn lock(&self) -> MutexGuard<'_, State<C>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Emits an event (callers hold the state lock, so events follow the state's order).
    pub(super) fn emit(&self, event: impl FnOnce() -> CmapEvent) {
        if let Some(handler) = &self.events {
            handler.handle(&event());
        }
    }

    /// The `WaitQueueTimeoutError` message: in load-balanced mode with what the checked-out
    /// connections are used for (load balancer spec "Connection Tracking").
    pub(super) fn wait_queue_timeout_message(&self, st: &State<C>) -> String {
        if self.service_id_of.is_none() {
            return "Timed out while checking out a connection from connection pool".into();
        }
        let others = st.in_use.saturating_sub(st.pinned_cursors + st.pinned_transactions);
        format!(
            "Timeout waiting for connection from the connection pool. maxPoolSize: {}, connections in \
             use by cursors: {}, connections in use by transactions: {}, connections in use by other \
             operations: {others}",
            self.max_pool_size, st.pinned_cursors, st.pinned_transactions
        )
    }

    pub(super) fn emit_checked_out(&self, connection_id: u32) {
        self.emit(|| {
            CmapEvent::ConnectionCheckedOut(ConnectionCheckedOutEvent {
                address: self.address.clone(),
                connection_id,
            })
        });
    }

    pub(super) fn emit_check_out_failed(&self, reason: CheckOutFailedReason) {
        self.emit(|| {
            CmapEvent::ConnectionCheckOutFailed(ConnectionCheckOutFailedEvent {
                address: self.address.clone(),
                reason,
            })
        });
    }

    pub(super) fn fail_closed(&self) -> Error {
        self.emit_check_out_failed(CheckOutFailedReason::PoolClosed);
        Error::new(ErrorKind::PoolClosed { address: self.address.clone() })
    }

    pub(super) fn fail_cleared(&self, st: &State<C>) -> Error {
        self.emit_check_out_failed(CheckOutFailedReason::ConnectionError);
        let cause =
            st.clear_cause.clone().unwrap_or_else(|| "the pool is paused until the server is checked".into());
        Error::new(ErrorKind::PoolCleared { address: self.address.clone(), cause })
    }

    /// Why an available connection is perished, if it is.
    pub(super) fn perished(&self, st: &State<C>, idle: &Idle<C>) -> Option<ConnectionClosedReason> {
        if Self::is_stale(st, &idle.conn) {
            Some(ConnectionClosedReason::Stale)
        } else if self.max_idle.is_some_and(|max| idle.since.elapsed() >= max) {
            Some(ConnectionClosedReason::Idle)
        } else {
            None
        }
    }

    /// Whether the pool (or the connection's service) was cleared since it was created.
    pub(super) fn is_stale(st: &State<C>, conn: &Conn<C>) -> bool {
        match &conn.service_id {
            Some(service) => st.services.get(service).is_none_or(|s| s.generation != conn.generation),
            None => conn.generation != st.generation,
        }
    }

    /// [`close_connection`](Self::close_connection) for an established connection, which
    /// also leaves its service's count.
    pub(super) fn close_established(
        &self,
        st: &mut State<C>,
        conn: &Conn<C>,
        reason: ConnectionClosedReason,
    ) {
        if let Some(service_id) = &conn.service_id
            && let Some(service) = st.services.get_mut(service_id)
        {
            service.connections = service.connections.saturating_sub(1);
            if service.connections == 0 {
                st.services.remove(service_id);
            }
        }
        self.close_connection(st, conn.id, reason);
    }

    /// Removes a connection from the counts and emits `ConnectionClosed`; the caller drops it.
    pub(super) fn close_connection(
        &self,
        st: &mut State<C>,
        connection_id: u32,
        reason: ConnectionClosedReason,
    ) {
        st.total = st.total.saturating_sub(1);
        self.emit(|| {
            CmapEvent::ConnectionClosed(ConnectionClosedEvent {
                address: self.address.clone(),
                connection_id,
                reason,
            })
        });
    }

    /// Checks a connection in: emits `ConnectionCheckedIn`, then closes it if the pool is
    /// closed or the connection perished, else makes it available.
    pub(super) fn check_in(&self, conn: Conn<C>, errored: bool, pinned: Option<PinPurpose>) {
        let mut st = self.lock();
        st.in_use = st.in_use.saturating_sub(1);
        match pinned {
            Some(PinPurpose::Cursor) => st.pinned_cursors = st.pinned_cursors.saturating_sub(1),
            Some(PinPurpose::Transaction) => {
                st.pinned_transactions = st.pinned_transactions.saturating_sub(1)
            }
            None => {}
        }
        let connection_id = conn.id;
        self.emit(|| {
            CmapEvent::ConnectionCheckedIn(ConnectionCheckedInEvent {
                address: self.address.clone(),
                connection_id,
            })
        });
        let errored = errored || !(self.is_reusable)(&conn.raw);
        let closed = self.make_available(&mut st, conn, errored);
        drop(st);
        drop(closed);
        self.changed.notify_waiters();
        self.worker.wake.notify_one();
    }

    /// Makes an established connection available, or closes it (returning it to be dropped
    /// outside the lock) when the pool is closed or the connection is stale or errored.
    pub(super) fn make_available(&self, st: &mut State<C>, conn: Conn<C>, errored: bool) -> Option<Conn<C>> {
        // A connection that failed is closed for its error, even when the failure also
        // cleared the pool (load balancer spec tests: a network error closes with `error`).
        let reason = if st.phase == PoolState::Closed {
            Some(ConnectionClosedReason::PoolClosed)
        } else if errored {
            Some(ConnectionClosedReason::Error)
        } else if Self::is_stale(st, &conn) {
            Some(ConnectionClosedReason::Stale)
        } else {
            None
        };
        match reason {
            Some(reason) => {
                self.close_established(st, &conn, reason);
                Some(conn)
            }
            None => {
                st.available.push(Idle { conn, since: Instant::now() });
                None
            }
        }
    }

    pub(super) fn clear_because(&self, cause: Option<&Error>) {
        let mut st = self.lock();
        st.generation = st.generation.wrapping_add(1);
        if st.phase == PoolState::Ready {
            st.phase = PoolState::Paused;
            st.clear_cause = cause.map(|e| e.to_string());
            self.emit(|| {
                CmapEvent::PoolCleared(PoolClearedEvent { address: self.address.clone(), service_id: None })
            });
        }
        drop(st);
        self.changed.notify_waiters();
        self.worker.wake.notify_one();
    }
}

impl<C> ClearPool for Inner<C>
where
    C: Send + 'static,
{
    fn clear_because(&self, cause: Option<&Error>) {
        Inner::clear_because(self, cause);
    }
}

/// Leaves the wait queue when dropped (a cancelled check-out must not block the queue).
pub(super) struct QueuePlace<'a, C> {
    pub(super) inner: &'a Inner<C>,
    pub(super) ticket: u64,
    pub(super) queued: bool,
}

impl<C> QueuePlace<'_, C> {
    pub(super) fn leave(&mut self, st: &mut State<C>) {
        if self.queued {
            st.queue.retain(|t| *t != self.ticket);
            self.queued = false;
        }
    }
}

impl<C> Drop for QueuePlace<'_, C> {
    fn drop(&mut self) {
        if self.queued {
            let mut st = self.inner.lock();
            self.leave(&mut st);
        }
        // The front of the queue may have changed.
        self.inner.changed.notify_waiters();
    }
}
