//! Connection pool monitoring events (CMAP spec, "Connection Pool Monitoring" / "Events").

use std::fmt;
use std::sync::Arc;

use super::PoolOptions;
use crate::options::ServerAddress;

/// One CMAP monitoring event, emitted by a connection pool in the order its state changed.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum CmapEvent {
    /// A pool was created (`PoolCreatedEvent`).
    PoolCreated(PoolCreatedEvent),
    /// A pool was marked ready (`PoolReadyEvent`).
    PoolReady(PoolReadyEvent),
    /// A pool was cleared (`PoolClearedEvent`).
    PoolCleared(PoolClearedEvent),
    /// A pool was closed (`PoolClosedEvent`).
    PoolClosed(PoolClosedEvent),
    /// A pool created a (still pending) connection (`ConnectionCreatedEvent`).
    ConnectionCreated(ConnectionCreatedEvent),
    /// A connection finished its handshake and is ready for use (`ConnectionReadyEvent`).
    ConnectionReady(ConnectionReadyEvent),
    /// A pool closed a connection (`ConnectionClosedEvent`).
    ConnectionClosed(ConnectionClosedEvent),
    /// A check-out began (`ConnectionCheckOutStartedEvent`).
    ConnectionCheckOutStarted(ConnectionCheckOutStartedEvent),
    /// A check-out failed (`ConnectionCheckOutFailedEvent`).
    ConnectionCheckOutFailed(ConnectionCheckOutFailedEvent),
    /// A connection was checked out (`ConnectionCheckedOutEvent`).
    ConnectionCheckedOut(ConnectionCheckedOutEvent),
    /// A connection was checked back in (`ConnectionCheckedInEvent`).
    ConnectionCheckedIn(ConnectionCheckedInEvent),
}

/// The kind of a [`CmapEvent`], named as the CMAP spec tests name it (e.g. `ConnectionPoolCreated`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CmapEventKind {
    /// [`CmapEvent::PoolCreated`].
    PoolCreated,
    /// [`CmapEvent::PoolReady`].
    PoolReady,
    /// [`CmapEvent::PoolCleared`].
    PoolCleared,
    /// [`CmapEvent::PoolClosed`].
    PoolClosed,
    /// [`CmapEvent::ConnectionCreated`].
    ConnectionCreated,
    /// [`CmapEvent::ConnectionReady`].
    ConnectionReady,
    /// [`CmapEvent::ConnectionClosed`].
    ConnectionClosed,
    /// [`CmapEvent::ConnectionCheckOutStarted`].
    ConnectionCheckOutStarted,
    /// [`CmapEvent::ConnectionCheckOutFailed`].
    ConnectionCheckOutFailed,
    /// [`CmapEvent::ConnectionCheckedOut`].
    ConnectionCheckedOut,
    /// [`CmapEvent::ConnectionCheckedIn`].
    ConnectionCheckedIn,
}

impl CmapEventKind {
    /// Every kind, in the order of the spec's event list.
    pub const ALL: [CmapEventKind; 11] = [
        Self::PoolCreated,
        Self::PoolReady,
        Self::PoolCleared,
        Self::PoolClosed,
        Self::ConnectionCreated,
        Self::ConnectionReady,
        Self::ConnectionClosed,
        Self::ConnectionCheckOutStarted,
        Self::ConnectionCheckOutFailed,
        Self::ConnectionCheckedOut,
        Self::ConnectionCheckedIn,
    ];

    /// The name the spec tests use (`ConnectionPoolCreated`, `ConnectionCheckedOut`, …).
    pub fn name(self) -> &'static str {
        match self {
            Self::PoolCreated => "ConnectionPoolCreated",
            Self::PoolReady => "ConnectionPoolReady",
            Self::PoolCleared => "ConnectionPoolCleared",
            Self::PoolClosed => "ConnectionPoolClosed",
            Self::ConnectionCreated => "ConnectionCreated",
            Self::ConnectionReady => "ConnectionReady",
            Self::ConnectionClosed => "ConnectionClosed",
            Self::ConnectionCheckOutStarted => "ConnectionCheckOutStarted",
            Self::ConnectionCheckOutFailed => "ConnectionCheckOutFailed",
            Self::ConnectionCheckedOut => "ConnectionCheckedOut",
            Self::ConnectionCheckedIn => "ConnectionCheckedIn",
        }
    }

    /// The kind with the spec tests' name `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl fmt::Display for CmapEventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl CmapEvent {
    /// The event's kind.
    pub fn kind(&self) -> CmapEventKind {
        match self {
            Self::PoolCreated(_) => CmapEventKind::PoolCreated,
            Self::PoolReady(_) => CmapEventKind::PoolReady,
            Self::PoolCleared(_) => CmapEventKind::PoolCleared,
            Self::PoolClosed(_) => CmapEventKind::PoolClosed,
            Self::ConnectionCreated(_) => CmapEventKind::ConnectionCreated,
            Self::ConnectionReady(_) => CmapEventKind::ConnectionReady,
            Self::ConnectionClosed(_) => CmapEventKind::ConnectionClosed,
            Self::ConnectionCheckOutStarted(_) => CmapEventKind::ConnectionCheckOutStarted,
            Self::ConnectionCheckOutFailed(_) => CmapEventKind::ConnectionCheckOutFailed,
            Self::ConnectionCheckedOut(_) => CmapEventKind::ConnectionCheckedOut,
            Self::ConnectionCheckedIn(_) => CmapEventKind::ConnectionCheckedIn,
        }
    }

    /// The address of the pool that emitted the event.
    pub fn address(&self) -> &ServerAddress {
        match self {
            Self::PoolCreated(e) => &e.address,
            Self::PoolReady(e) => &e.address,
            Self::PoolCleared(e) => &e.address,
            Self::PoolClosed(e) => &e.address,
            Self::ConnectionCreated(e) => &e.address,
            Self::ConnectionReady(e) => &e.address,
            Self::ConnectionClosed(e) => &e.address,
            Self::ConnectionCheckOutStarted(e) => &e.address,
            Self::ConnectionCheckOutFailed(e) => &e.address,
            Self::ConnectionCheckedOut(e) => &e.address,
            Self::ConnectionCheckedIn(e) => &e.address,
        }
    }

    /// The connection's id, for the events about one connection.
    pub fn connection_id(&self) -> Option<u32> {
        match self {
            Self::ConnectionCreated(e) => Some(e.connection_id),
            Self::ConnectionReady(e) => Some(e.connection_id),
            Self::ConnectionClosed(e) => Some(e.connection_id),
            Self::ConnectionCheckedOut(e) => Some(e.connection_id),
            Self::ConnectionCheckedIn(e) => Some(e.connection_id),
            _ => None,
        }
    }
}

/// `PoolCreatedEvent`: a pool was created.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolCreatedEvent {
    /// The server the pool connects to.
    pub address: ServerAddress,
    /// The options the pool was created with (`None` fields were left at their defaults).
    pub options: PoolOptions,
}

/// `PoolReadyEvent`: a paused pool was marked ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolReadyEvent {
    /// The server the pool connects to.
    pub address: ServerAddress,
}

/// `PoolClearedEvent`: a ready pool was cleared (its generation incremented, the pool
/// paused), or, in load-balanced mode, one service's connections were.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolClearedEvent {
    /// The server the pool connects to.
    pub address: ServerAddress,
    /// Load-balanced mode: the service whose generation was incremented.
    pub service_id: Option<bson::oid::ObjectId>,
}

/// `PoolClosedEvent`: a pool was closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolClosedEvent {
    /// The server the pool connects to.
    pub address: ServerAddress,
}

/// `ConnectionCreatedEvent`: a pool created a pending connection (not yet established).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionCreatedEvent {
    /// The server the pool connects to.
    pub address: ServerAddress,
    /// The connection's id (unique in its pool, increasing from 1).
    pub connection_id: u32,
}

/// `ConnectionReadyEvent`: a connection finished its handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionReadyEvent {
    /// The server the pool connects to.
    pub address: ServerAddress,
    /// The connection's id.
    pub connection_id: u32,
}

/// `ConnectionClosedEvent`: a pool closed a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionClosedEvent {
    /// The server the pool connects to.
    pub address: ServerAddress,
    /// The connection's id.
    pub connection_id: u32,
    /// Why it was closed.
    pub reason: ConnectionClosedReason,
}

/// Why a pool closed a connection (`ConnectionClosedEvent.reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectionClosedReason {
    /// `stale`: the pool was cleared since the connection was created.
    Stale,
    /// `idle`: the connection was available for longer than `maxIdleTimeMS`.
    Idle,
    /// `error`: the connection failed (during its handshake or later).
    Error,
    /// `poolClosed`: the pool was closed.
    PoolClosed,
}

impl ConnectionClosedReason {
    /// The spec's name for the reason (`stale`, `idle`, `error`, `poolClosed`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Stale => "stale",
            Self::Idle => "idle",
            Self::Error => "error",
            Self::PoolClosed => "poolClosed",
        }
    }
}

/// `ConnectionCheckOutStartedEvent`: a check-out began.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionCheckOutStartedEvent {
    /// The server the pool connects to.
    pub address: ServerAddress,
}

/// `ConnectionCheckOutFailedEvent`: a check-out failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionCheckOutFailedEvent {
    /// The server the pool connects to.
    pub address: ServerAddress,
    /// Why it failed.
    pub reason: CheckOutFailedReason,
}

/// Why a check-out failed (`ConnectionCheckOutFailedEvent.reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckOutFailedReason {
    /// `poolClosed`: the pool is closed.
    PoolClosed,
    /// `timeout`: the wait queue timeout passed.
    Timeout,
    /// `connectionError`: establishing a connection failed, or the pool was paused or cleared.
    ConnectionError,
}

impl CheckOutFailedReason {
    /// The spec's name for the reason (`poolClosed`, `timeout`, `connectionError`).
    pub fn name(self) -> &'static str {
        match self {
            Self::PoolClosed => "poolClosed",
            Self::Timeout => "timeout",
            Self::ConnectionError => "connectionError",
        }
    }
}

/// `ConnectionCheckedOutEvent`: a connection was checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionCheckedOutEvent {
    /// The server the pool connects to.
    pub address: ServerAddress,
    /// The connection's id.
    pub connection_id: u32,
}

/// `ConnectionCheckedInEvent`: a connection was checked back in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionCheckedInEvent {
    /// The server the pool connects to.
    pub address: ServerAddress,
    /// The connection's id.
    pub connection_id: u32,
}

/// Receives CMAP events. Any `Fn(&CmapEvent) + Send + Sync` closure is a handler.
///
/// A pool calls the handler synchronously, in the order of its state changes, while it
/// holds its internal lock: a handler must be quick and must not call back into the pool.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use mongo_driver::event::cmap::{CmapEvent, CmapEventHandler};
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let sink = seen.clone();
/// let handler: Arc<dyn CmapEventHandler> = Arc::new(move |e: &CmapEvent| {
///     sink.lock().map(|mut v| v.push(e.kind())).ok();
/// });
/// # let _ = handler;
/// ```
pub trait CmapEventHandler: Send + Sync {
    /// Handles one event.
    fn handle(&self, event: &CmapEvent);
}

impl<F: Fn(&CmapEvent) + Send + Sync> CmapEventHandler for F {
    fn handle(&self, event: &CmapEvent) {
        self(event)
    }
}

/// A shared handler, as pools hold it.
pub type SharedCmapEventHandler = Arc<dyn CmapEventHandler>;
