//! The pool handle (CMAP "Connection Pool"): building a [`Pool`], check-out through the wait
//! queue, check-in, ready, clear and close.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bson::oid::ObjectId;
use tokio::sync::{Notify, oneshot};
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::background::*;
use super::checked_out::*;
use super::state::*;
use super::types::*;
use crate::cmap::connector::Connector;
use crate::cmap::event::{
    CheckOutFailedReason, CmapEvent, ConnectionCheckOutStartedEvent, ConnectionClosedReason,
    PoolClearedEvent, PoolClosedEvent, PoolCreatedEvent, PoolReadyEvent, SharedCmapEventHandler,
};
use crate::cmap::options::{
    BackgroundInterval, DEFAULT_BACKGROUND_INTERVAL, DEFAULT_MAX_CONNECTING, DEFAULT_MAX_POOL_SIZE,
    PoolOptions,
};
use crate::error::{Error, ErrorKind, Result};
use crate::options::ServerAddress;

/// Builds a [`Pool`]: options, event handler, population error handler.
pub struct PoolBuilder<C> {
    pub(super) address: ServerAddress,
    pub(super) connector: Arc<dyn Connector<Connection = C>>,
    pub(super) options: PoolOptions,
    pub(super) events: Option<SharedCmapEventHandler>,
    pub(super) population_errors: Option<PopulationErrorHandler>,
    pub(super) load_balanced: bool,
}

impl<C: Send + 'static> PoolBuilder<C> {
    /// Load-balanced mode (CMAP "Load Balancer Mode"): each connection takes the generation
    /// of the service its handshake reported ([`Connector::service_id`]), and
    /// [`Pool::clear_service`] clears one service without pausing the pool.
    pub fn load_balanced(mut self, load_balanced: bool) -> Self {
        self.load_balanced = load_balanced;
        self
    }

    /// Sets the pool options.
    pub fn options(mut self, options: PoolOptions) -> Self {
        self.options = options;
        self
    }

    /// Sets the CMAP event handler.
    pub fn event_handler(mut self, handler: SharedCmapEventHandler) -> Self {
        self.events = Some(handler);
        self
    }

    /// Sets the handler of background establishment errors.
    pub fn population_error_handler(mut self, handler: PopulationErrorHandler) -> Self {
        self.population_errors = Some(handler);
        self
    }

    /// Creates the pool (paused, generation 0) and emits `PoolCreated`. Fails on invalid
    /// options, or when called outside a Tokio runtime while background runs are on.
    pub fn build(self) -> Result<Pool<C>> {
        let o = &self.options;
        let max_pool_size = o.max_pool_size.unwrap_or(DEFAULT_MAX_POOL_SIZE) as usize;
        let min_pool_size = o.min_pool_size.unwrap_or(0) as usize;
        let max_connecting = o.max_connecting.unwrap_or(DEFAULT_MAX_CONNECTING) as usize;
        if max_connecting == 0 {
            return Err(Error::invalid_argument("maxConnecting must be greater than 0"));
        }
        if max_pool_size > 0 && min_pool_size > max_pool_size {
            return Err(Error::invalid_argument(format!(
                "minPoolSize ({min_pool_size}) must not exceed maxPoolSize ({max_pool_size})"
            )));
        }
        let interval = match o.background_interval {
            None => Some(DEFAULT_BACKGROUND_INTERVAL),
            Some(BackgroundInterval::Every(d)) if d.is_zero() => {
                return Err(Error::invalid_argument("the background interval must not be zero"));
            }
            Some(BackgroundInterval::Every(d)) => Some(d),
            Some(BackgroundInterval::Never) => None,
        };
        let runtime = match interval {
            Some(_) => Some(tokio::runtime::Handle::try_current().map_err(|_| {
                Error::invalid_argument(
                    "a connection pool with background runs must be created inside a Tokio runtime",
                )
            })?),
            None => None,
        };
        let worker = Arc::new(WorkerSignal { wake: Notify::new(), stop: AtomicBool::new(false) });
        let inner = Arc::new(Inner {
            address: self.address,
            max_pool_size,
            min_pool_size,
            max_connecting,
            max_idle: o.max_idle_time.filter(|d| !d.is_zero()),
            wait_queue_timeout: o.wait_queue_timeout.filter(|d| !d.is_zero()),
            options: self.options,
            is_reusable: {
                let connector = self.connector.clone();
                Box::new(move |c: &C| connector.is_reusable(c))
            },
            service_id_of: match self.load_balanced {
                true => {
                    let connector = self.connector.clone();
                    Some(Box::new(move |c: &C| connector.service_id(c)))
                }
                false => None,
            },
            connector: self.connector,
            events: self.events,
            population_errors: self.population_errors,
            state: Mutex::new(State {
                phase: PoolState::Paused,
                generation: 0,
                next_id: 1,
                next_ticket: 0,
                queue: VecDeque::new(),
                available: Vec::new(),
                total: 0,
                pending: 0,
                establishing: HashMap::new(),
                services: HashMap::new(),
                clear_cause: None,
                in_use: 0,
                pinned_cursors: 0,
                pinned_transactions: 0,
            }),
            changed: Notify::new(),
            worker: worker.clone(),
        });
        inner.emit(|| {
            CmapEvent::PoolCreated(PoolCreatedEvent {
                address: inner.address.clone(),
                options: inner.options.clone(),
            })
        });
        if let (Some(interval), Some(runtime)) = (interval, runtime) {
            runtime.spawn(background(Arc::downgrade(&inner), worker, interval));
        }
        Ok(Pool { inner })
    }
}

/// A connection pool for one server (CMAP "Connection Pool"). Cloning gives another handle
/// to the same pool. The background task stops when the pool is closed, or when every
/// handle and every checked-out connection is gone.
pub struct Pool<C> {
    pub(super) inner: Arc<Inner<C>>,
}

impl<C> Clone for Pool<C> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone() }
    }
}

impl<C> fmt::Debug for Pool<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool").field("address", &self.inner.address).finish_non_exhaustive()
    }
}

impl<C: Send + 'static> Pool<C> {
    /// Starts building a pool for `address` whose connections `connector` establishes.
    pub fn builder(address: ServerAddress, connector: Arc<dyn Connector<Connection = C>>) -> PoolBuilder<C> {
        PoolBuilder {
            address,
            connector,
            options: PoolOptions::default(),
            events: None,
            population_errors: None,
            load_balanced: false,
        }
    }

    /// The server this pool connects to.
    pub fn address(&self) -> &ServerAddress {
        &self.inner.address
    }

    /// The options the pool was created with.
    pub fn options(&self) -> &PoolOptions {
        &self.inner.options
    }

    /// The pool's state, generation and counters.
    pub fn status(&self) -> PoolStatus {
        let st = self.inner.lock();
        PoolStatus {
            state: st.phase,
            generation: st.generation,
            total: st.total,
            available: st.available.len(),
            pending: st.pending,
            waiting: st.queue.len(),
            in_use: st.in_use,
        }
    }

    /// Checks out a connection (CMAP "Checking Out a Connection"): waits its turn in the
    /// FIFO wait queue, then takes the most recently used non-perished available connection
    /// (closing perished ones on the way), or establishes a new one when `maxPoolSize` and
    /// `maxConnecting` allow, else waits for either to change. Fails with
    /// [`ErrorKind::PoolClosed`], [`ErrorKind::PoolCleared`] (paused pool, or a clear while
    /// waiting), [`ErrorKind::WaitQueueTimeout`], or the establishment's error.
    pub async fn check_out(&self) -> Result<PooledConnection<C>> {
        let inner = &self.inner;
        let deadline = inner.wait_queue_timeout.map(|t| Instant::now() + t);
        let (ticket, generation) = {
            let mut st = inner.lock();
            inner.emit(|| {
                CmapEvent::ConnectionCheckOutStarted(ConnectionCheckOutStartedEvent {
                    address: inner.address.clone(),
                })
            });
            match st.phase {
                PoolState::Closed => return Err(inner.fail_closed()),
                PoolState::Paused => return Err(inner.fail_cleared(&st)),
                PoolState::Ready => {}
            }
            let ticket = st.next_ticket;
            st.next_ticket += 1;
            st.queue.push_back(ticket);
            (ticket, st.generation)
        };
        let mut place = QueuePlace { inner, ticket, queued: true };
        let establishing = loop {
            let mut notified = pin!(inner.changed.notified());
            notified.as_mut().enable();
            {
                let mut st = inner.lock();
                if st.phase == PoolState::Closed {
                    place.leave(&mut st);
                    return Err(inner.fail_closed());
                }
                if st.generation != generation || st.phase == PoolState::Paused {
                    place.leave(&mut st);
                    return Err(inner.fail_cleared(&st));
                }
                if st.queue.front() == Some(&ticket) {
                    let mut perished = Vec::new();
                    let mut found = None;
                    while let Some(idle) = st.available.pop() {
                        match inner.perished(&st, &idle) {
                            Some(reason) => {
                                inner.close_established(&mut st, &idle.conn, reason);
                                perished.push(idle);
                            }
                            None => {
                                found = Some(idle.conn);
                                break;
                            }
                        }
                    }
                    if let Some(conn) = found {
                        place.leave(&mut st);
                        st.in_use += 1;
                        inner.emit_checked_out(conn.id);
                        drop(st);
                        drop(perished);
                        return Ok(PooledConnection::new(conn, inner.clone()));
                    }
                    if (inner.max_pool_size == 0 || st.total < inner.max_pool_size)
                        && st.pending < inner.max_connecting
                    {
                        let (tx, rx) = oneshot::channel();
                        inner.start_establishing(&mut st, Some(tx));
                        place.leave(&mut st);
                        break rx;
                    }
                }
            }
            match deadline {
                Some(deadline) => {
                    if tokio::time::timeout_at(deadline, notified).await.is_err() {
                        let mut st = inner.lock();
                        place.leave(&mut st);
                        inner.emit_check_out_failed(CheckOutFailedReason::Timeout);
                        let message = inner.wait_queue_timeout_message(&st);
                        return Err(Error::new(ErrorKind::WaitQueueTimeout {
                            address: inner.address.clone(),
                            message,
                        }));
                    }
                }
                None => notified.await,
            }
        };
        drop(place);
        match establishing.await {
            Ok(Ok(conn)) => {
                let mut st = inner.lock();
                st.in_use += 1;
                inner.emit_checked_out(conn.id);
                Ok(PooledConnection::new(conn, inner.clone()))
            }
            Ok(Err(error)) => {
                let _st = inner.lock();
                inner.emit_check_out_failed(CheckOutFailedReason::ConnectionError);
                Err(error)
            }
            // The establishment task was cancelled (the pool closed) or panicked.
            Err(_) => {
                let st = inner.lock();
                if st.phase == PoolState::Closed {
                    return Err(inner.fail_closed());
                }
                inner.emit_check_out_failed(CheckOutFailedReason::ConnectionError);
                Err(Error::io(
                    format!("establishing a connection to {}", inner.address),
                    std::io::Error::other("the establishment task ended without a result"),
                ))
            }
        }
    }

    /// Checks `connection` back in (CMAP "Checking In a Connection"); dropping it does the
    /// same. A connection from another pool is an error (it goes back to its own pool).
    pub fn check_in(&self, connection: PooledConnection<C>) -> Result<()> {
        if !Arc::ptr_eq(&self.inner, &connection.pool) {
            return Err(Error::invalid_argument(format!(
                "connection {} belongs to the pool for {}, not to the pool for {}",
                connection.id(),
                connection.pool.address,
                self.inner.address
            )));
        }
        drop(connection);
        Ok(())
    }

    /// Marks a paused pool ready and emits `PoolReady` (no-op when ready or closed).
    pub fn ready(&self) {
        let mut st = self.inner.lock();
        if st.phase != PoolState::Paused {
            return;
        }
        st.phase = PoolState::Ready;
        st.clear_cause = None;
        self.inner.emit(|| CmapEvent::PoolReady(PoolReadyEvent { address: self.inner.address.clone() }));
        drop(st);
        self.inner.worker.wake.notify_one();
    }

    /// Clears the pool (CMAP "Clearing a non-load balanced pool"): increments the
    /// generation so every existing connection is stale, pauses the pool, and fails every
    /// check-out in the wait queue. Emits `PoolCleared` only if the pool was ready.
    pub fn clear(&self) {
        self.inner.clear_because(None);
    }

    /// [`clear`](Self::clear), recording `cause` for the `PoolClearedError`s that follow.
    pub fn clear_with_cause(&self, cause: &Error) {
        self.inner.clear_because(Some(cause));
    }

    /// Load-balanced mode (CMAP "Clearing a load balanced pool"): increments the generation
    /// of `service_id`'s connections only and emits `PoolCleared` with the service id; the
    /// pool is not paused and the wait queue is left alone.
    pub fn clear_service(&self, service_id: ObjectId) {
        self.clear_service_from(service_id, None);
    }

    /// [`clear_service`](Self::clear_service) for an error on a connection of the service's
    /// `generation`: an error from an older generation is stale and clears nothing (SDAM
    /// "Error handling": stale errors are ignored). Returns whether it cleared.
    pub fn clear_service_from(&self, service_id: ObjectId, generation: Option<u32>) -> bool {
        let mut st = self.inner.lock();
        if let Some(service) = st.services.get_mut(&service_id) {
            if generation.is_some_and(|g| g != service.generation) {
                return false;
            }
            service.generation = service.generation.wrapping_add(1);
        }
        self.inner.emit(|| {
            CmapEvent::PoolCleared(PoolClearedEvent {
                address: self.inner.address.clone(),
                service_id: Some(service_id),
            })
        });
        true
    }

    /// Closes the pool (CMAP "Closing a Connection Pool"): closes the available
    /// connections, emits `PoolClosed`, cancels establishments in progress, fails waiting
    /// check-outs and stops the background task. Connections in use are closed when checked in.
    pub fn close(&self) {
        let inner = &self.inner;
        let mut st = inner.lock();
        if st.phase == PoolState::Closed {
            return;
        }
        st.phase = PoolState::Closed;
        let available = std::mem::take(&mut st.available);
        for idle in &available {
            inner.close_established(&mut st, &idle.conn, ConnectionClosedReason::PoolClosed);
        }
        inner.emit(|| CmapEvent::PoolClosed(PoolClosedEvent { address: inner.address.clone() }));
        let establishing: Vec<AbortHandle> = st.establishing.drain().map(|(_, h)| h).collect();
        drop(st);
        drop(available);
        for handle in establishing {
            handle.abort();
        }
        inner.changed.notify_waiters();
        inner.worker.stop.store(true, Ordering::SeqCst);
        inner.worker.wake.notify_one();
    }
}
