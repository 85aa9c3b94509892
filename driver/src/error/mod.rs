//! The driver's error type: one struct with a kind, the server's code, code name and labels.

pub mod code;
pub mod gridfs;
mod write;

use std::collections::BTreeSet;
use std::fmt;

pub use gridfs::GridFsErrorKind;

/// The result type of driver operations.
pub type Result<T> = std::result::Result<T, Error>;

/// An error from the driver, with what kind it is and the server's error labels.
#[derive(Debug, Clone)]
pub struct Error {
    /// What went wrong.
    pub kind: Box<ErrorKind>,
    labels: BTreeSet<String>,
    /// The `topologyVersion` of the reply that reported a server error (SDAM uses it to
    /// ignore stale state-change errors).
    topology_version: Option<Box<bson::Document>>,
    /// Load-balanced mode: the service (the hello's `serviceId`) of a connection whose
    /// establishment failed after its handshake, e.g. while authenticating.
    service_id: Option<bson::oid::ObjectId>,
}

/// The kinds of driver error.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An argument or option given by the caller is invalid.
    #[error("invalid argument: {message}")]
    InvalidArgument {
        /// What is wrong.
        message: String,
    },
    /// No suitable server was found.
    #[error("server selection failed: {message}")]
    ServerSelection {
        /// What was asked for and what was seen.
        message: String,
    },
    /// A server's wire version range does not overlap the driver's, or an option needs a
    /// newer server (SDAM "Checking wire protocol compatibility").
    #[error("incompatible wire version: {message}")]
    IncompatibleWireVersion {
        /// Which server and which versions.
        message: String,
    },
    /// The server answered a command with `ok: 0`.
    #[error("command failed: {code_name} ({code}): {message}")]
    Command {
        /// The server's error code.
        code: i32,
        /// The server's code name (empty if the reply had none).
        code_name: String,
        /// The server's error message.
        message: String,
    },
    /// A message from the server could not be decoded or broke the wire protocol (OP_MSG spec).
    #[error("invalid server response: {message}")]
    InvalidResponse {
        /// What is wrong with it.
        message: String,
    },
    /// Reading from or writing to a connection failed.
    #[error("I/O error: {message}: {source}")]
    Io {
        /// What was being done.
        message: String,
        /// The underlying error.
        source: std::sync::Arc<std::io::Error>,
    },
    /// A check-out from a closed connection pool (CMAP `PoolClosedError`).
    #[error("Attempted to check out a connection from closed connection pool")]
    PoolClosed {
        /// The pool's server.
        address: crate::options::ServerAddress,
    },
    /// A check-out from a paused pool, or one evicted from the wait queue by a clear (CMAP
    /// `PoolClearedError`): retryable, and not a reason to mark the server Unknown.
    #[error("Connection pool for {address} was cleared because another operation failed with: {cause}")]
    PoolCleared {
        /// The pool's server.
        address: crate::options::ServerAddress,
        /// The error that cleared the pool (or why it is paused, when none is known).
        cause: String,
    },
    /// The wait queue timeout passed before a connection was available (CMAP `WaitQueueTimeoutError`).
    #[error("{message}")]
    WaitQueueTimeout {
        /// The pool's server.
        address: crate::options::ServerAddress,
        /// What the pool says; in load-balanced mode with what its connections are in use for
        /// (load balancer spec "Connection Tracking").
        message: String,
    },
    /// The server applied a write but could not satisfy its write concern (`writeConcernError`).
    #[error("write concern error: {code_name} ({code}): {message}")]
    WriteConcern {
        /// The write concern error's code.
        code: i32,
        /// The write concern error's code name (empty if the reply had none).
        code_name: String,
        /// The write concern error's message.
        message: String,
    },
    /// Authentication failed while establishing a connection (auth spec): the server refused
    /// a SASL command (its code kept), or the conversation itself went wrong.
    #[error("authentication failed ({mechanism}): {message}")]
    Authentication {
        /// The mechanism used.
        mechanism: String,
        /// What went wrong (the server's message, when it refused).
        message: String,
        /// The server's code and code name, when a SASL command was refused.
        code: Option<(i32, String)>,
    },
    /// The server refused the one write of a single-document operation (`writeErrors`,
    /// CRUD spec "WriteError"), e.g. a duplicate key.
    #[error("write error: {code_name} ({code}): {message}")]
    Write {
        /// The write error's code.
        code: i32,
        /// The write error's code name (empty if the reply had none).
        code_name: String,
        /// The write error's message.
        message: String,
        /// `errInfo`, when the server gave one.
        details: Option<bson::Document>,
    },
    /// Some writes of a multi-document operation (`insert_many`, `bulk_write`) failed, or
    /// their write concern could not be satisfied (CRUD spec "BulkWriteException").
    #[error("{0}")]
    BulkWrite(crate::results::BulkWriteFailure),
    /// A GridFS operation found no such file, or a file whose chunks do not match its
    /// files collection document (GridFS spec error names).
    #[error("GridFS: {0}")]
    GridFs(GridFsErrorKind),
    /// The operation's `timeoutMS` expired (client-side operations timeout spec "Errors"):
    /// during server selection, check-out, connection establishment, sending or reading, or
    /// the server answered `MaxTimeMSExpired` (50) to the `maxTimeMS` derived from it.
    #[error("operation timed out: {message}{}", cause.as_ref().map(|c| format!(" (last error: {c})")).unwrap_or_default())]
    Timeout {
        /// When and where the expiry was detected.
        message: String,
        /// The error that ended the operation's last attempt, when there was one (e.g. the
        /// server's `MaxTimeMSExpired`, a socket timeout, or the error a retry was waiting on).
        cause: Option<Box<Error>>,
    },
}

impl Error {
    /// An error of `kind` with no labels.
    pub fn new(kind: ErrorKind) -> Self {
        Self { kind: Box::new(kind), labels: BTreeSet::new(), topology_version: None, service_id: None }
    }

    /// An [`ErrorKind::InvalidResponse`] error.
    pub fn invalid_response(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidResponse { message: message.into() })
    }

    /// An [`ErrorKind::Io`] error: `source` while doing `message`.
    pub fn io(message: impl Into<String>, source: std::io::Error) -> Self {
        Self::new(ErrorKind::Io { message: message.into(), source: std::sync::Arc::new(source) })
    }

    /// An [`ErrorKind::InvalidArgument`] error.
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument { message: message.into() })
    }

    /// A [`ErrorKind::Command`] error (`code_name` may be empty when the reply had none).
    pub fn command(code: i32, code_name: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Command { code, code_name: code_name.into(), message: message.into() })
    }

    /// The server's error code, for a command or write concern error.
    /// For a write error its code; for a bulk write failure the first write error's code
    /// (else its write concern error's).
    pub fn code(&self) -> Option<i32> {
        match &*self.kind {
            ErrorKind::Command { code, .. }
            | ErrorKind::WriteConcern { code, .. }
            | ErrorKind::Write { code, .. } => Some(*code),
            ErrorKind::Authentication { code, .. } => code.as_ref().map(|(code, _)| *code),
            ErrorKind::BulkWrite(failure) => failure.first().map(|(code, _, _)| code),
            _ => None,
        }
    }

    /// The server's code name; when the reply had none, the name the error-code table gives.
    pub fn code_name(&self) -> Option<&str> {
        match &*self.kind {
            ErrorKind::Command { code, code_name, .. }
            | ErrorKind::WriteConcern { code, code_name, .. }
            | ErrorKind::Write { code, code_name, .. } => {
                if code_name.is_empty() {
                    code::ErrorCode(*code).name()
                } else {
                    Some(code_name)
                }
            }
            ErrorKind::Authentication { code: Some((code, name)), .. } => {
                if name.is_empty() {
                    code::ErrorCode(*code).name()
                } else {
                    Some(name)
                }
            }
            ErrorKind::BulkWrite(failure) => failure.first().and_then(|(code, name, _)| {
                if name.is_empty() { code::ErrorCode(code).name() } else { Some(name) }
            }),
            _ => None,
        }
    }

    /// The server's message, for a command or write concern error.
    pub fn server_message(&self) -> Option<&str> {
        match &*self.kind {
            ErrorKind::Command { message, .. }
            | ErrorKind::WriteConcern { message, .. }
            | ErrorKind::Write { message, .. } => Some(message),
            ErrorKind::BulkWrite(failure) => failure.first().map(|(_, _, message)| message),
            _ => None,
        }
    }

    /// An authentication error for the mechanism named `mechanism` (e.g. `MONGODB-X509`) from
    /// the server's refusal `refusal`, keeping its code, labels and topology version.
    pub fn authentication_refused(mechanism: &str, refusal: &Error) -> Self {
        let code = refusal.code().map(|c| (c, refusal.code_name().unwrap_or_default().to_owned()));
        let message = refusal.server_message().unwrap_or("the server refused").to_owned();
        let mut error =
            Self::new(ErrorKind::Authentication { mechanism: mechanism.to_owned(), message, code });
        error.labels = refusal.labels.clone();
        error.topology_version = refusal.topology_version.clone();
        error
    }

    /// Whether this is an authentication failure.
    pub fn is_authentication_error(&self) -> bool {
        matches!(*self.kind, ErrorKind::Authentication { .. })
    }

    /// The server's code as an [`ErrorCode`](code::ErrorCode).
    pub fn error_code(&self) -> Option<code::ErrorCode> {
        self.code().map(code::ErrorCode)
    }

    /// The code for SDAM's checks: a reply without a code is stored with code 0 (`OK`, which
    /// no server error uses), and counts as having no code, so the message decides.
    fn sdam_code(&self) -> Option<i32> {
        self.code().filter(|c| *c != 0)
    }

    /// SDAM: a "node is recovering" error (by code, or by message when there is no code).
    pub fn is_node_is_recovering(&self) -> bool {
        self.server_message().is_some_and(|m| code::is_node_is_recovering(self.sdam_code(), m))
    }

    /// SDAM: a "not writable primary" error (by code, or by message when there is no code).
    pub fn is_not_writable_primary(&self) -> bool {
        self.server_message().is_some_and(|m| code::is_not_writable_primary(self.sdam_code(), m))
    }

    /// SDAM: a "node is shutting down" error.
    pub fn is_shutting_down(&self) -> bool {
        code::is_shutting_down(self.code())
    }

    /// SDAM: a state-change error ("not writable primary" or "node is recovering").
    pub fn is_state_change(&self) -> bool {
        self.is_node_is_recovering() || self.is_not_writable_primary()
    }

    /// Retryable writes: whether a pre-4.4 server's error earns the `RetryableWriteError`
    /// label by its code (4.4+ servers add the label themselves).
    pub fn is_retryable_write_code(&self) -> bool {
        self.error_code().is_some_and(|c| c.is_retryable_write())
    }

    /// Retryable reads: whether the server error's code makes a read retryable.
    pub fn is_retryable_read_code(&self) -> bool {
        self.error_code().is_some_and(|c| c.is_retryable_read())
    }

    /// Whether the server error reports a network problem between servers (HostNotFound,
    /// HostUnreachable, NetworkTimeout, SocketException).
    pub fn is_network_routing(&self) -> bool {
        self.error_code().is_some_and(|c| c.is_network_routing())
    }

    /// Whether reading from or writing to a connection failed (a network error).
    pub fn is_network_error(&self) -> bool {
        matches!(&*self.kind, ErrorKind::Io { .. })
    }

    /// Whether the error is a network timeout (an I/O error of kind `TimedOut`; SDAM treats
    /// it apart from other network errors once the handshake has completed).
    pub fn is_network_timeout(&self) -> bool {
        matches!(&*self.kind, ErrorKind::Io { source, .. } if source.kind() == std::io::ErrorKind::TimedOut)
    }

    /// Whether the error is a timeout (client-side operations timeout spec "Errors"): the
    /// operation's `timeoutMS` expired ([`ErrorKind::Timeout`]), or, without `timeoutMS`, a
    /// socket read or write timed out (`socketTimeoutMS`).
    pub fn is_timeout(&self) -> bool {
        matches!(&*self.kind, ErrorKind::Timeout { .. }) || self.is_network_timeout()
    }

    /// Client-side operations timeout spec "Error Transformations": with `timeoutMS` set
    /// (`csot`), a `MaxTimeMSExpired` (code 50: the command's, a write error's or a write
    /// concern error's) becomes a [`ErrorKind::Timeout`] with it as the cause.
    pub(crate) fn max_time_as_timeout(self, csot: bool) -> Self {
        if csot && self.code() == Some(50) && !matches!(*self.kind, ErrorKind::Timeout { .. }) {
            Self::timeout("the server's maxTimeMS (derived from timeoutMS) expired", Some(self))
        } else {
            self
        }
    }

    /// A [`ErrorKind::Timeout`] error saying `message`, caused by `cause`.
    pub fn timeout(message: impl Into<String>, cause: Option<Error>) -> Self {
        Self::new(ErrorKind::Timeout { message: message.into(), cause: cause.map(Box::new) })
    }

    /// The `topologyVersion` of the reply that reported this server error, if it had one
    /// (SDAM "topologyVersion": state-change errors carry it).
    pub fn topology_version(&self) -> Option<&bson::Document> {
        self.topology_version.as_deref()
    }

    /// Load-balanced mode: the `serviceId` of the connection whose establishment failed
    /// after the handshake (load balancer spec: the pool is cleared for that service).
    pub fn service_id(&self) -> Option<bson::oid::ObjectId> {
        self.service_id
    }

    /// Records the service of the connection the error ended.
    pub(crate) fn with_service_id(mut self, service_id: Option<bson::oid::ObjectId>) -> Self {
        self.service_id = service_id;
        self
    }

    /// CMAP: a `PoolClearedError` (the pool was paused or cleared during check-out). Retryable
    /// reads and writes retry it (the write path adds `RetryableWriteError` when `retryWrites`
    /// is on); SDAM must not mark the server Unknown for it.
    pub fn is_pool_cleared(&self) -> bool {
        matches!(&*self.kind, ErrorKind::PoolCleared { .. })
    }

    /// The error a command reply reports, if any: `ok` not true gives an
    /// [`ErrorKind::Command`] (`code`, `codeName`, `errmsg`; code 0 when absent); otherwise
    /// a `writeConcernError` gives an [`ErrorKind::WriteConcern`]. The reply's `errorLabels`
    /// become the labels.
    pub fn from_reply(reply: &bson::Document) -> Option<Error> {
        fn number(v: Option<&bson::Bson>) -> Option<f64> {
            match v? {
                bson::Bson::Int32(i) => Some(f64::from(*i)),
                bson::Bson::Int64(i) => Some(*i as f64),
                bson::Bson::Double(d) => Some(*d),
                bson::Bson::Boolean(b) => Some(if *b { 1.0 } else { 0.0 }),
                _ => None,
            }
        }
        fn parts(doc: &bson::Document) -> (i32, String, String) {
            let code = number(doc.get("code")).map_or(0, |c| c as i32);
            let name = doc.get_str("codeName").unwrap_or_default().to_string();
            let message = doc.get_str("errmsg").unwrap_or_default().to_string();
            (code, name, message)
        }
        let ok = number(reply.get("ok")).is_some_and(|ok| ok == 1.0);
        let mut error = if !ok {
            let (code, code_name, message) = parts(reply);
            Error::new(ErrorKind::Command { code, code_name, message })
        } else if let Ok(wce) = reply.get_document("writeConcernError") {
            let (code, code_name, message) = parts(wce);
            Error::new(ErrorKind::WriteConcern { code, code_name, message })
        } else {
            return None;
        };
        error.topology_version = reply.get_document("topologyVersion").ok().cloned().map(Box::new);
        if let Ok(labels) = reply.get_array("errorLabels") {
            for label in labels.iter().filter_map(bson::Bson::as_str) {
                error.add_label(label);
            }
        }
        Some(error)
    }

    /// The error labels (e.g. `RetryableWriteError`).
    pub fn labels(&self) -> &BTreeSet<String> {
        &self.labels
    }

    /// Whether the error carries `label`.
    pub fn contains_label(&self, label: &str) -> bool {
        self.labels.contains(label)
    }

    /// Adds a label.
    pub fn add_label(&mut self, label: impl Into<String>) {
        self.labels.insert(label.into());
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if !self.labels.is_empty() {
            let labels: Vec<&str> = self.labels.iter().map(String::as_str).collect();
            write!(f, " (labels: {})", labels.join(", "))?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Self::new(kind)
    }
}
