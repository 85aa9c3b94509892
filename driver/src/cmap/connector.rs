//! How a pool establishes a connection (CMAP "Establishing a Connection"): the [`Connector`] trait.

use futures::future::BoxFuture;

use crate::error::Result;
use crate::options::ServerAddress;

/// What a pool asks of its [`Connector`]: one new connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectRequest {
    /// The server to connect to.
    pub address: ServerAddress,
    /// The connection's id in its pool (from 1, increasing by 1 per connection created).
    pub id: u32,
    /// The pool's generation when the connection was created.
    pub generation: u32,
}

/// Establishes connections for a pool: TCP/TLS, the MongoDB handshake, compression and
/// authentication (CMAP "Establishing a Connection"). The pool emits `ConnectionCreated`
/// before calling [`connect`](Connector::connect) and `ConnectionReady` after it succeeds;
/// an `Err` closes the pending connection with reason `error`.
///
/// The returned future must be `'static`: clone what it needs from `self`. It runs on its
/// own task, so a check-out that times out does not cancel an establishment in progress;
/// closing the pool cancels it (drops the future).
pub trait Connector: Send + Sync + 'static {
    /// The established connection the pool hands out.
    type Connection: Send + 'static;

    /// Connects to `request.address` and completes the handshake.
    fn connect(&self, request: ConnectRequest) -> BoxFuture<'static, Result<Self::Connection>>;

    /// Whether a checked-in connection may be pooled again; `false` (e.g. its stream broke
    /// mid-command) closes it with reason `error`. Every connection may by default.
    fn is_reusable(&self, _connection: &Self::Connection) -> bool {
        true
    }

    /// The `serviceId` the handshake reported, for pools in load-balanced mode (which keep
    /// a generation per service). None by default.
    fn service_id(&self, _connection: &Self::Connection) -> Option<bson::oid::ObjectId> {
        None
    }
}
