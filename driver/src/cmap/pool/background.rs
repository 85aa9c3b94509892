//! Establishing connections and the background task (CMAP "Populating the Pool with a
//! Connection", "Background Thread"): the establishment task of a check-out or of
//! `minPoolSize`, cancellation, and the periodic closing of perished connections.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use super::state::*;
use super::types::*;
use crate::cmap::connector::ConnectRequest;
use crate::cmap::event::{CmapEvent, ConnectionClosedReason, ConnectionCreatedEvent, ConnectionReadyEvent};
use crate::error::{Error, Result};

impl<C: Send + 'static> Inner<C> {
    /// Creates a pending connection (emits `ConnectionCreated`) and starts establishing it
    /// on its own task; the result goes to `delivery`, or into the pool when there is none.
    pub(super) fn start_establishing(self: &Arc<Self>, st: &mut State<C>, delivery: Option<Delivery<C>>) {
        let id = st.next_id;
        st.next_id += 1;
        st.total += 1;
        st.pending += 1;
        self.emit(|| {
            CmapEvent::ConnectionCreated(ConnectionCreatedEvent {
                address: self.address.clone(),
                connection_id: id,
            })
        });
        let generation = st.generation;
        let connect =
            self.connector.connect(ConnectRequest { address: self.address.clone(), id, generation });
        let task = tokio::spawn(establish(self.clone(), id, generation, connect, delivery));
        st.establishing.insert(id, task.abort_handle());
    }

    /// One background run: close perished available connections; if ready, start
    /// establishing connections up to `minPoolSize` (as `maxConnecting` allows).
    pub(super) fn run_background(self: &Arc<Self>) {
        let mut st = self.lock();
        if st.phase == PoolState::Closed {
            return;
        }
        let mut closed = Vec::new();
        let mut index = 0;
        while index < st.available.len() {
            match self.perished(&st, &st.available[index]) {
                Some(reason) => {
                    let idle = st.available.remove(index);
                    self.close_established(&mut st, &idle.conn, reason);
                    closed.push(idle);
                }
                None => index += 1,
            }
        }
        if st.phase == PoolState::Ready {
            while st.total < self.min_pool_size
                && st.pending < self.max_connecting
                && (self.max_pool_size == 0 || st.total < self.max_pool_size)
            {
                self.start_establishing(&mut st, None);
            }
        }
        drop(st);
        drop(closed);
    }

    pub(super) fn population_failed(self: &Arc<Self>, error: Error, generation: u32) {
        let weak: Weak<dyn ClearPool> = Arc::downgrade(self) as Weak<dyn ClearPool>;
        match &self.population_errors {
            Some(handler) => handler(PopulationError { error, generation, pool: weak }),
            None => {
                if self.lock().generation == generation {
                    self.clear_because(Some(&error));
                }
            }
        }
    }
}

/// Undoes a pending connection's counts if its establishment task is cancelled (pool
/// closed) before it finished.
pub(super) struct PendingGuard<'a, C> {
    pub(super) inner: &'a Inner<C>,
    pub(super) id: u32,
    pub(super) armed: bool,
}

impl<C> Drop for PendingGuard<'_, C> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let mut st = self.inner.lock();
        st.establishing.remove(&self.id);
        st.pending = st.pending.saturating_sub(1);
        let reason = match st.phase {
            PoolState::Closed => ConnectionClosedReason::PoolClosed,
            _ => ConnectionClosedReason::Error,
        };
        self.inner.close_connection(&mut st, self.id, reason);
        drop(st);
        self.inner.changed.notify_waiters();
        self.inner.worker.wake.notify_one();
    }
}

/// Establishes connection `id`, then hands it to the waiting check-out or makes it available.
pub(super) async fn establish<C: Send + 'static>(
    inner: Arc<Inner<C>>,
    id: u32,
    generation: u32,
    connect: futures::future::BoxFuture<'static, Result<C>>,
    delivery: Option<Delivery<C>>,
) {
    let mut guard = PendingGuard { inner: &inner, id, armed: true };
    let result = connect.await;
    let mut st = inner.lock();
    guard.armed = false;
    drop(guard);
    st.establishing.remove(&id);
    st.pending = st.pending.saturating_sub(1);
    match result {
        Ok(raw) => {
            inner.emit(|| {
                CmapEvent::ConnectionReady(ConnectionReadyEvent {
                    address: inner.address.clone(),
                    connection_id: id,
                })
            });
            let service_id = inner.service_id_of.as_ref().and_then(|of| of(&raw));
            let generation = match &service_id {
                Some(service_id) => {
                    let service = st.services.entry(*service_id).or_default();
                    service.connections += 1;
                    service.generation
                }
                None => generation,
            };
            let conn = Conn { id, generation, service_id, raw };
            let closed = match delivery {
                Some(delivery) => {
                    drop(st);
                    match delivery.send(Ok(conn)) {
                        Ok(()) => None,
                        // The check-out was cancelled: keep the connection for the next one.
                        Err(Ok(conn)) => inner.make_available(&mut inner.lock(), conn, false),
                        Err(Err(_)) => None,
                    }
                }
                None => {
                    let closed = inner.make_available(&mut st, conn, false);
                    drop(st);
                    closed
                }
            };
            drop(closed);
            inner.changed.notify_waiters();
            inner.worker.wake.notify_one();
        }
        Err(error) => {
            // With a handler (SDAM), every establishment error goes to it before the
            // connection is closed, so a clear it causes comes first (load balancer spec
            // tests: PoolCleared, then ConnectionClosed, then ConnectionCheckOutFailed).
            let handled = inner.population_errors.is_some();
            if handled {
                drop(st);
                inner.population_failed(error.clone(), generation);
                st = inner.lock();
            }
            inner.close_connection(&mut st, id, ConnectionClosedReason::Error);
            drop(st);
            inner.changed.notify_waiters();
            inner.worker.wake.notify_one();
            match delivery {
                Some(delivery) => {
                    let _ = delivery.send(Err(error));
                }
                None if !handled => inner.population_failed(error, generation),
                None => {}
            }
        }
    }
}

/// The background task: a run every `interval`, or sooner when woken; ends when the pool
/// is closed or dropped.
pub(super) async fn background<C: Send + 'static>(
    pool: Weak<Inner<C>>,
    signal: Arc<WorkerSignal>,
    interval: Duration,
) {
    loop {
        if signal.stop.load(Ordering::SeqCst) {
            return;
        }
        match pool.upgrade() {
            Some(inner) => inner.run_background(),
            None => return,
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = signal.wake.notified() => {}
        }
    }
}
