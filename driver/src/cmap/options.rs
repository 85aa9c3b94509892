//! Connection pool options (CMAP "Connection Pool Options").

use std::time::Duration;

/// `maxPoolSize` when none is given.
pub const DEFAULT_MAX_POOL_SIZE: u32 = 100;
/// `maxConnecting` when none is given.
pub const DEFAULT_MAX_CONNECTING: u32 = 2;
/// The time between background runs when none is given. A run also starts right after the
/// pool becomes ready and after each establishment ends, so `minPoolSize` does not wait for it.
pub const DEFAULT_BACKGROUND_INTERVAL: Duration = Duration::from_secs(1);

/// The CMAP pool options; `None` means the spec's default. [`PoolCreatedEvent`] reports them
/// as given.
///
/// [`PoolCreatedEvent`]: crate::cmap::event::PoolCreatedEvent
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolOptions {
    /// `maxPoolSize`: the most connections (pending, available and in use); 0 means no limit.
    /// Default 100.
    pub max_pool_size: Option<u32>,
    /// `minPoolSize`: connections the background task keeps open while the pool is ready.
    /// Default 0; must not exceed a non-zero `maxPoolSize`.
    pub min_pool_size: Option<u32>,
    /// `maxIdleTimeMS`: how long a connection may stay available before it is closed as idle;
    /// zero means no limit. Default no limit.
    pub max_idle_time: Option<Duration>,
    /// `maxConnecting`: the most connections established at once; must be > 0. Default 2.
    pub max_connecting: Option<u32>,
    /// `waitQueueTimeoutMS`: how long a check-out may wait; zero means no limit. Default no limit.
    pub wait_queue_timeout: Option<Duration>,
    /// The time between background runs (the spec tests' `backgroundThreadIntervalMS`).
    /// Default [`DEFAULT_BACKGROUND_INTERVAL`].
    pub background_interval: Option<BackgroundInterval>,
}

/// When the pool's background task runs (it closes perished available connections and
/// establishes connections up to `minPoolSize`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackgroundInterval {
    /// A run this long after the end of the previous one (and when the pool becomes ready or
    /// an establishment ends). Must be non-zero.
    Every(Duration),
    /// No background runs at all (a negative `backgroundThreadIntervalMS`).
    Never,
}

impl PoolOptions {
    /// The pool options a connection string gives (`maxPoolSize`, `minPoolSize`,
    /// `maxIdleTimeMS`, `maxConnecting`, `waitQueueTimeoutMS`; CMAP "Connection Pool
    /// Options": every option can be set in the URI).
    pub fn from_uri_options(options: &crate::connection_string::UriOptions) -> Self {
        Self {
            max_pool_size: options.max_pool_size,
            min_pool_size: options.min_pool_size,
            max_idle_time: options.max_idle_time,
            max_connecting: options.max_connecting,
            wait_queue_timeout: options.wait_queue_timeout,
            background_interval: None,
        }
    }
}
