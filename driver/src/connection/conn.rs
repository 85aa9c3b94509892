//! The [`Connection`] type (CMAP spec, "Connection"): one stream to one server, what its
//! handshake learned, and its state (broken, timeouts, ids, when created and last used).
//! Opening and handshaking it is in [`super::establish`], sending commands in [`super::send`].

use std::future::Future;
use std::time::Duration;

use bson::Document;
use tokio::io::BufStream;
use tokio::time::Instant;

use super::{Stream, StreamDescription};
use crate::error::{Error, Result};
use crate::options::ServerAddress;
use crate::wire::Compressor;

/// An I/O timeout as an [`ErrorKind::Io`] error of kind `TimedOut`.
pub(super) fn timed_out(what: String, after: Duration) -> Error {
    Error::io(
        format!("{what} timed out after {after:?}"),
        std::io::Error::new(std::io::ErrorKind::TimedOut, "operation timed out"),
    )
}

/// Runs `future` within `limit` (no limit when `None`).
pub(super) async fn within<T>(
    limit: Option<Duration>,
    what: impl FnOnce() -> String,
    future: impl Future<Output = Result<T>>,
) -> Result<T> {
    match limit {
        None => future.await,
        Some(limit) => match tokio::time::timeout(limit, future).await {
            Ok(result) => result,
            Err(_) => Err(timed_out(what(), limit)),
        },
    }
}

/// One connection to a server.
#[derive(Debug)]
pub struct Connection {
    pub(super) id: u32,
    pub(super) generation: u32,
    pub(super) address: ServerAddress,
    pub(super) stream: BufStream<Stream>,
    pub(super) socket_timeout: Option<Duration>,
    pub(super) stream_description: Option<StreamDescription>,
    pub(super) handshake_reply: Option<Document>,
    pub(super) handshake_round_trip_time: Option<Duration>,
    pub(super) load_balanced: bool,
    pub(super) compressor: Option<Compressor>,
    pub(super) broken: bool,
    /// After a reply with `moreToCome`: its request id, which the next streamed reply answers.
    pub(super) streaming_reply_id: Option<i32>,
    pub(super) created: Instant,
    pub(super) last_used: Instant,
}

impl Connection {
    /// The compressor negotiated in the handshake, if any.
    pub fn compressor(&self) -> Option<Compressor> {
        self.compressor
    }

    /// Whether the connection runs over TLS.
    pub fn is_tls(&self) -> bool {
        self.stream.get_ref().is_tls()
    }

    /// The connection's id (unique within its pool).
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The pool generation the connection was created in.
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// The address it is connected to.
    pub fn address(&self) -> &ServerAddress {
        &self.address
    }

    /// What the handshake said about the server; an error before the handshake.
    pub fn stream_description(&self) -> Result<&StreamDescription> {
        self.stream_description.as_ref().ok_or_else(|| {
            Error::invalid_argument(format!(
                "connection {} to {} has not completed its handshake",
                self.id, self.address
            ))
        })
    }

    /// The handshake's reply, once it succeeded.
    pub fn handshake_reply(&self) -> Option<&Document> {
        self.handshake_reply.as_ref()
    }

    /// How long the handshake took (the first RTT sample of a monitor).
    pub fn handshake_round_trip_time(&self) -> Option<Duration> {
        self.handshake_round_trip_time
    }

    /// Whether the connection was opened with `loadBalanced=true` (its server is then a
    /// load balancer whatever its handshake reply says).
    pub fn load_balanced(&self) -> bool {
        self.load_balanced
    }

    /// The `socketTimeoutMS` of later commands (`None`: no limit).
    pub fn socket_timeout(&self) -> Option<Duration> {
        self.socket_timeout
    }

    /// Changes `socketTimeoutMS` for later commands (`None` or zero: no limit).
    pub fn set_socket_timeout(&mut self, timeout: Option<Duration>) {
        self.socket_timeout = timeout.filter(|t| !t.is_zero());
    }

    /// Whether a network error or a malformed reply has made the connection unusable.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Marks the connection unusable (e.g. when an operation on it was cancelled midway).
    pub fn mark_broken(&mut self) {
        self.broken = true;
    }

    /// When the connection was opened.
    pub fn created(&self) -> Instant {
        self.created
    }

    /// When a command last finished on it (or the handshake, or the open).
    pub fn last_used(&self) -> Instant {
        self.last_used
    }
}
