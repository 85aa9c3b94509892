//! An in-memory [`Connector`] for testing pools (CMAP "Unit Test Runner": a mocked
//! connection), with an optional fault on the handshake modelled on the server's
//! `failCommand` fail point for `hello`.

use std::sync::Mutex;
use std::time::Duration;

use futures::future::BoxFuture;

use super::connector::{ConnectRequest, Connector};
use crate::error::{Error, Result};
use crate::options::ServerAddress;

/// A connection made by [`InMemoryConnector`]: no I/O, just what it was created with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InMemoryConnection {
    /// The server it is "connected" to.
    pub address: ServerAddress,
    /// Its id in the pool.
    pub id: u32,
    /// The pool generation it was created in.
    pub generation: u32,
}

/// A fault applied to handshakes, as a `failCommand` fail point on `hello`/`isMaster` would:
/// block for a while, then fail with a network error or succeed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HandshakeFault {
    /// How many handshakes it applies to (`mode: {times: n}`); `None` is `alwaysOn`.
    pub times: Option<u32>,
    /// `blockConnection`/`blockTimeMS`: how long each affected handshake takes.
    pub block: Option<Duration>,
    /// `closeConnection`: affected handshakes fail with a network error.
    pub close_connection: bool,
    /// `appName`: it applies only to handshakes from a client with this app name.
    pub app_name: Option<String>,
}

/// A [`Connector`] whose connections exist only in memory; every handshake succeeds at once
/// unless a [`HandshakeFault`] says otherwise.
#[derive(Debug, Default)]
pub struct InMemoryConnector {
    app_name: Option<String>,
    fault: Mutex<Option<HandshakeFault>>,
}

impl InMemoryConnector {
    /// A connector with no fault and no app name.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the app name the handshakes report (matched against [`HandshakeFault::app_name`]).
    pub fn with_app_name(mut self, app_name: impl Into<String>) -> Self {
        self.app_name = Some(app_name.into());
        self
    }

    /// Installs `fault` (replacing any earlier one); `None` turns it off.
    pub fn set_fault(&self, fault: Option<HandshakeFault>) {
        *self.fault.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = fault;
    }

    /// The fault for the next handshake, consuming one of its `times`.
    fn take_fault(&self) -> Option<HandshakeFault> {
        let mut slot = self.fault.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let fault = slot.as_mut()?;
        if fault.app_name.as_ref().is_some_and(|name| Some(name) != self.app_name.as_ref()) {
            return None;
        }
        match &mut fault.times {
            Some(0) => return None,
            Some(n) => *n -= 1,
            None => {}
        }
        Some(fault.clone())
    }
}

impl Connector for InMemoryConnector {
    type Connection = InMemoryConnection;

    fn connect(&self, request: ConnectRequest) -> BoxFuture<'static, Result<InMemoryConnection>> {
        let fault = self.take_fault();
        Box::pin(async move {
            if let Some(fault) = fault {
                if let Some(block) = fault.block {
                    tokio::time::sleep(block).await;
                }
                if fault.close_connection {
                    return Err(Error::io(
                        format!("handshake with {} (connection {})", request.address, request.id),
                        std::io::Error::new(
                            std::io::ErrorKind::ConnectionReset,
                            "the server closed the connection",
                        ),
                    ));
                }
            }
            Ok(InMemoryConnection {
                address: request.address,
                id: request.id,
                generation: request.generation,
            })
        })
    }
}
