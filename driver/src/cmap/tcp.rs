//! The pool's connector for real servers (CMAP "Establishing a Connection"): TCP and the
//! MongoDB handshake, as [`crate::connection::Connection::connect`] does them.

use futures::future::BoxFuture;

use super::connector::{ConnectRequest, Connector};
use crate::connection::{Connection, ConnectionOptions};
use crate::error::Result;

/// Establishes pooled connections over TCP with the handshake of `options`; a connection
/// whose stream broke is not pooled again.
#[derive(Debug, Clone)]
pub struct TcpConnector {
    options: ConnectionOptions,
}

impl TcpConnector {
    /// A connector opening connections with `options`.
    pub fn new(options: ConnectionOptions) -> Self {
        Self { options }
    }

    /// The connection options.
    pub fn options(&self) -> &ConnectionOptions {
        &self.options
    }
}

impl Connector for TcpConnector {
    type Connection = Connection;

    fn connect(&self, request: ConnectRequest) -> BoxFuture<'static, Result<Connection>> {
        let options = self.options.clone();
        Box::pin(async move {
            Connection::connect(request.address, &options, request.id, request.generation).await
        })
    }

    fn is_reusable(&self, connection: &Connection) -> bool {
        !connection.is_broken()
    }

    fn service_id(&self, connection: &Connection) -> Option<bson::oid::ObjectId> {
        connection.stream_description().ok().and_then(|d| d.service_id)
    }
}
