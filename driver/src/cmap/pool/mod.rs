//! The connection pool (CMAP "Connection Pool" and "Connection Pool Behaviors"): check-out
//! through a fair FIFO wait queue, check-in, clear (generations), ready/paused states,
//! close, `maxPoolSize`, `maxConnecting`, `maxIdleTimeMS`, `waitQueueTimeoutMS`, and a
//! background task that closes perished connections and keeps `minPoolSize` connections.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use bson::oid::ObjectId;
use tokio::sync::{Notify, oneshot};
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::connector::{ConnectRequest, Connector};
use super::options::{
    BackgroundInterval, DEFAULT_BACKGROUND_INTERVAL, DEFAULT_MAX_CONNECTING, DEFAULT_MAX_POOL_SIZE,
    PoolOptions,
};
use crate::cmap::event::{
    CheckOutFailedReason, CmapEvent, ConnectionCheckOutFailedEvent, ConnectionCheckOutStartedEvent,
    ConnectionCheckedInEvent, ConnectionCheckedOutEvent, ConnectionClosedEvent, ConnectionClosedReason,
    ConnectionCreatedEvent, ConnectionReadyEvent, PoolClearedEvent, PoolClosedEvent, PoolCreatedEvent,
    PoolReadyEvent, SharedCmapEventHandler,
};
use crate::error::{Error, ErrorKind, Result};
use crate::options::ServerAddress;

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
    pool: Weak<dyn ClearPool>,
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

trait ClearPool: Send + Sync {
    fn clear_because(&self, cause: Option<&Error>);
}

/// Builds a [`Pool`]: options, event handler, population error handler.
pub struct PoolBuilder<C> {
    address: ServerAddress,
    connector: Arc<dyn Connector<Connection = C>>,
    options: PoolOptions,
    events: Option<SharedCmapEventHandler>,
    population_errors: Option<PopulationErrorHandler>,
    load_balanced: bool,
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
    inner: Arc<Inner<C>>,
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

/// A checked-out connection. Dereferences to the connection; dropping it (or
/// [`Pool::check_in`]) checks it back in, which closes it if it is perished or the pool is
/// closed.
pub struct PooledConnection<C> {
    conn: Option<Conn<C>>,
    errored: bool,
    pinned: Option<PinPurpose>,
    pool: Arc<Inner<C>>,
}

/// What a checked-out connection is pinned to (load balancer spec "Connection Tracking").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinPurpose {
    /// A cursor's getMores and killCursors.
    Cursor,
    /// A transaction's commands.
    Transaction,
}

impl<C> PooledConnection<C> {
    fn new(conn: Conn<C>, pool: Arc<Inner<C>>) -> Self {
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

    fn conn(&self) -> &Conn<C> {
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

struct Conn<C> {
    id: u32,
    /// The pool's generation, or in load-balanced mode its service's.
    generation: u32,
    service_id: Option<ObjectId>,
    raw: C,
}

/// Load-balanced mode: one service's generation and connection count.
#[derive(Default)]
struct Service {
    generation: u32,
    connections: usize,
}

struct Idle<C> {
    conn: Conn<C>,
    since: Instant,
}

struct State<C> {
    phase: PoolState,
    generation: u32,
    next_id: u32,
    next_ticket: u64,
    /// The wait queue: tickets of the check-outs waiting their turn, oldest first.
    queue: VecDeque<u64>,
    /// Available connections, most recently checked in last.
    available: Vec<Idle<C>>,
    total: usize,
    pending: usize,
    /// Establishment tasks in progress, by connection id.
    establishing: HashMap<u32, AbortHandle>,
    /// Load-balanced mode: the services with established connections.
    services: HashMap<ObjectId, Service>,
    clear_cause: Option<String>,
    /// Connections checked out now.
    in_use: usize,
    /// Of those, pinned to cursors and to transactions.
    pinned_cursors: usize,
    pinned_transactions: usize,
}

struct WorkerSignal {
    wake: Notify,
    stop: AtomicBool,
}

struct Inner<C> {
    address: ServerAddress,
    options: PoolOptions,
    max_pool_size: usize,
    min_pool_size: usize,
    max_connecting: usize,
    max_idle: Option<Duration>,
    wait_queue_timeout: Option<Duration>,
    connector: Arc<dyn Connector<Connection = C>>,
    /// [`Connector::is_reusable`] of `connector` (kept apart so check-in needs no bounds on `C`).
    is_reusable: Box<dyn Fn(&C) -> bool + Send + Sync>,
    /// Load-balanced mode: [`Connector::service_id`] of `connector`.
    #[allow(clippy::type_complexity)]
    service_id_of: Option<Box<dyn Fn(&C) -> Option<ObjectId> + Send + Sync>>,
    events: Option<SharedCmapEventHandler>,
    population_errors: Option<PopulationErrorHandler>,
    state: Mutex<State<C>>,
    /// Woken on every change a waiting check-out may care about.
    changed: Notify,
    worker: Arc<WorkerSignal>,
}

impl<C> Drop for Inner<C> {
    fn drop(&mut self) {
        self.worker.stop.store(true, Ordering::SeqCst);
        self.worker.wake.notify_one();
    }
}

type Delivery<C> = oneshot::Sender<Result<Conn<C>>>;

impl<C> Inner<C> {
    fn lock(&self) -> MutexGuard<'_, State<C>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Emits an event (callers hold the state lock, so events follow the state's order).
    fn emit(&self, event: impl FnOnce() -> CmapEvent) {
        if let Some(handler) = &self.events {
            handler.handle(&event());
        }
    }

    /// The `WaitQueueTimeoutError` message: in load-balanced mode with what the checked-out
    /// connections are used for (load balancer spec "Connection Tracking").
    fn wait_queue_timeout_message(&self, st: &State<C>) -> String {
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

    fn emit_checked_out(&self, connection_id: u32) {
        self.emit(|| {
            CmapEvent::ConnectionCheckedOut(ConnectionCheckedOutEvent {
                address: self.address.clone(),
                connection_id,
            })
        });
    }

    fn emit_check_out_failed(&self, reason: CheckOutFailedReason) {
        self.emit(|| {
            CmapEvent::ConnectionCheckOutFailed(ConnectionCheckOutFailedEvent {
                address: self.address.clone(),
                reason,
            })
        });
    }

    fn fail_closed(&self) -> Error {
        self.emit_check_out_failed(CheckOutFailedReason::PoolClosed);
        Error::new(ErrorKind::PoolClosed { address: self.address.clone() })
    }

    fn fail_cleared(&self, st: &State<C>) -> Error {
        self.emit_check_out_failed(CheckOutFailedReason::ConnectionError);
        let cause =
            st.clear_cause.clone().unwrap_or_else(|| "the pool is paused until the server is checked".into());
        Error::new(ErrorKind::PoolCleared { address: self.address.clone(), cause })
    }

    /// Why an available connection is perished, if it is.
    fn perished(&self, st: &State<C>, idle: &Idle<C>) -> Option<ConnectionClosedReason> {
        if Self::is_stale(st, &idle.conn) {
            Some(ConnectionClosedReason::Stale)
        } else if self.max_idle.is_some_and(|max| idle.since.elapsed() >= max) {
            Some(ConnectionClosedReason::Idle)
        } else {
            None
        }
    }

    /// Whether the pool (or the connection's service) was cleared since it was created.
    fn is_stale(st: &State<C>, conn: &Conn<C>) -> bool {
        match &conn.service_id {
            Some(service) => st.services.get(service).is_none_or(|s| s.generation != conn.generation),
            None => conn.generation != st.generation,
        }
    }

    /// [`close_connection`](Self::close_connection) for an established connection, which
    /// also leaves its service's count.
    fn close_established(&self, st: &mut State<C>, conn: &Conn<C>, reason: ConnectionClosedReason) {
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
    fn close_connection(&self, st: &mut State<C>, connection_id: u32, reason: ConnectionClosedReason) {
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
    fn check_in(&self, conn: Conn<C>, errored: bool, pinned: Option<PinPurpose>) {
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
    fn make_available(&self, st: &mut State<C>, conn: Conn<C>, errored: bool) -> Option<Conn<C>> {
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

    fn clear_because(&self, cause: Option<&Error>) {
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

impl<C: Send + 'static> Inner<C> {
    /// Creates a pending connection (emits `ConnectionCreated`) and starts establishing it
    /// on its own task; the result goes to `delivery`, or into the pool when there is none.
    fn start_establishing(self: &Arc<Self>, st: &mut State<C>, delivery: Option<Delivery<C>>) {
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
    fn run_background(self: &Arc<Self>) {
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

    fn population_failed(self: &Arc<Self>, error: Error, generation: u32) {
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

/// Leaves the wait queue when dropped (a cancelled check-out must not block the queue).
struct QueuePlace<'a, C> {
    inner: &'a Inner<C>,
    ticket: u64,
    queued: bool,
}

impl<C> QueuePlace<'_, C> {
    fn leave(&mut self, st: &mut State<C>) {
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

/// Undoes a pending connection's counts if its establishment task is cancelled (pool
/// closed) before it finished.
struct PendingGuard<'a, C> {
    inner: &'a Inner<C>,
    id: u32,
    armed: bool,
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
async fn establish<C: Send + 'static>(
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
async fn background<C: Send + 'static>(pool: Weak<Inner<C>>, signal: Arc<WorkerSignal>, interval: Duration) {
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
