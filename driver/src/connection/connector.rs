//! Establishing pool connections over TCP (CMAP "Establishing a Connection"): the
//! [`Connector`] a [`Pool`](crate::cmap::Pool) of real [`Connection`]s uses.

use std::sync::Arc;

use futures::future::BoxFuture;

use super::{Connection, ConnectionOptions};
use crate::cmap::{ConnectRequest, Connector};
use crate::error::Result;

/// Opens a TCP connection and runs the handshake for each connection a pool creates.
///
/// A pool does not look inside its connections: whoever checks one out must call
/// [`PooledConnection::mark_errored`](crate::cmap::PooledConnection::mark_errored) when
/// [`Connection::is_broken`] says a command broke it, so it is closed on check-in.
///
/// ```no_run
/// # async fn demo() -> mongo_driver::Result<()> {
/// use std::sync::Arc;
/// use mongo_driver::cmap::Pool;
/// use mongo_driver::connection::{CommandMessage, ConnectionOptions, TcpConnector};
///
/// let pool = Pool::builder("localhost:27017".parse()?, Arc::new(TcpConnector::new(ConnectionOptions::default())))
///     .build()?;
/// pool.ready();
/// let mut conn = pool.check_out().await?;
/// let reply = conn.send_command(CommandMessage::new("admin", bson::doc! {"ping": 1})).await;
/// if conn.is_broken() {
///     conn.mark_errored();
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct TcpConnector {
    options: Arc<ConnectionOptions>,
}

impl TcpConnector {
    /// A connector opening connections with `options`.
    pub fn new(options: ConnectionOptions) -> Self {
        Self { options: Arc::new(options) }
    }

    /// The options connections are opened with.
    pub fn options(&self) -> &ConnectionOptions {
        &self.options
    }
}

impl Connector for TcpConnector {
    type Connection = Connection;

    fn connect(&self, request: ConnectRequest) -> BoxFuture<'static, Result<Connection>> {
        let options = Arc::clone(&self.options);
        Box::pin(async move {
            Connection::connect(request.address, &options, request.id, request.generation).await
        })
    }
}
