//! Server error codes (the server's `error_codes.yml`, generated at build time) and the
//! classifications the SDAM spec ("Error handling": "not writable primary" and "node is
//! recovering"), the retryable-writes spec ("Determining Retryable Errors") and the
//! retryable-reads spec ("Retryable Error") define over them.
//!
//! Where a spec lists codes, its list is the authority, not the server's categories (the
//! server's `NotPrimaryError` category, for one, holds codes the SDAM spec calls "node is
//! recovering", and lacks `LegacyNotPrimary`).

include!(concat!(env!("OUT_DIR"), "/error_codes.rs"));

/// SDAM "node is recovering" codes: InterruptedAtShutdown, InterruptedDueToReplStateChange,
/// NotPrimaryOrSecondary, PrimarySteppedDown, ShutdownInProgress.
pub const NODE_IS_RECOVERING: [ErrorCode; 5] = [
    ErrorCode::INTERRUPTED_AT_SHUTDOWN,
    ErrorCode::INTERRUPTED_DUE_TO_REPL_STATE_CHANGE,
    ErrorCode::NOT_PRIMARY_OR_SECONDARY,
    ErrorCode::PRIMARY_STEPPED_DOWN,
    ErrorCode::SHUTDOWN_IN_PROGRESS,
];

/// SDAM "not writable primary" codes: NotWritablePrimary, NotPrimaryNoSecondaryOk,
/// LegacyNotPrimary.
pub const NOT_WRITABLE_PRIMARY: [ErrorCode; 3] =
    [ErrorCode::NOT_WRITABLE_PRIMARY, ErrorCode::NOT_PRIMARY_NO_SECONDARY_OK, ErrorCode::LEGACY_NOT_PRIMARY];

/// SDAM "node is shutting down" codes (a subset of "node is recovering"):
/// InterruptedAtShutdown, ShutdownInProgress.
pub const NODE_IS_SHUTTING_DOWN: [ErrorCode; 2] =
    [ErrorCode::INTERRUPTED_AT_SHUTDOWN, ErrorCode::SHUTDOWN_IN_PROGRESS];

/// The "other transient errors" a mongos may return when it cannot reach a shard (SDAM):
/// HostNotFound, HostUnreachable, NetworkTimeout, SocketException.
pub const NETWORK_ROUTING: [ErrorCode; 4] = [
    ErrorCode::HOST_NOT_FOUND,
    ErrorCode::HOST_UNREACHABLE,
    ErrorCode::NETWORK_TIMEOUT,
    ErrorCode::SOCKET_EXCEPTION,
];

/// Retryable-reads spec, "Retryable Error": the server codes that make a read retryable.
///
/// This is the spec's list since its 2023-11 revisions, which added ExceededTimeLimit (262)
/// and ReadConcernMajorityNotAvailableYet (134) (see [`RETRYABLE_READ_ADDED_2023`]); earlier
/// revisions list the other codes and say nothing against retrying these two, so the driver
/// retries them whatever spec revision its tests are generated from.
pub const RETRYABLE_READ: [ErrorCode; 13] = [
    ErrorCode::EXCEEDED_TIME_LIMIT,
    ErrorCode::READ_CONCERN_MAJORITY_NOT_AVAILABLE_YET,
    ErrorCode::INTERRUPTED_AT_SHUTDOWN,
    ErrorCode::INTERRUPTED_DUE_TO_REPL_STATE_CHANGE,
    ErrorCode::NOT_WRITABLE_PRIMARY,
    ErrorCode::NOT_PRIMARY_NO_SECONDARY_OK,
    ErrorCode::NOT_PRIMARY_OR_SECONDARY,
    ErrorCode::PRIMARY_STEPPED_DOWN,
    ErrorCode::SHUTDOWN_IN_PROGRESS,
    ErrorCode::HOST_NOT_FOUND,
    ErrorCode::HOST_UNREACHABLE,
    ErrorCode::NETWORK_TIMEOUT,
    ErrorCode::SOCKET_EXCEPTION,
];

/// The retryable read codes the retryable-reads spec added in 2023-11 (ExceededTimeLimit,
/// ReadConcernMajorityNotAvailableYet): part of [`RETRYABLE_READ`], absent from the lists of
/// older spec revisions.
pub const RETRYABLE_READ_ADDED_2023: [ErrorCode; 2] =
    [ErrorCode::EXCEEDED_TIME_LIMIT, ErrorCode::READ_CONCERN_MAJORITY_NOT_AVAILABLE_YET];

/// Retryable-writes spec, "Determining Retryable Errors": the codes to which a driver adds
/// the `RetryableWriteError` label on a pre-4.4 server (the read list plus ExceededTimeLimit).
pub const RETRYABLE_WRITE: [ErrorCode; 12] = [
    ErrorCode::INTERRUPTED_AT_SHUTDOWN,
    ErrorCode::INTERRUPTED_DUE_TO_REPL_STATE_CHANGE,
    ErrorCode::NOT_WRITABLE_PRIMARY,
    ErrorCode::NOT_PRIMARY_NO_SECONDARY_OK,
    ErrorCode::NOT_PRIMARY_OR_SECONDARY,
    ErrorCode::PRIMARY_STEPPED_DOWN,
    ErrorCode::SHUTDOWN_IN_PROGRESS,
    ErrorCode::HOST_NOT_FOUND,
    ErrorCode::HOST_UNREACHABLE,
    ErrorCode::NETWORK_TIMEOUT,
    ErrorCode::SOCKET_EXCEPTION,
    ErrorCode::EXCEEDED_TIME_LIMIT,
];

impl ErrorCode {
    /// SDAM: a "node is recovering" code.
    pub fn is_node_is_recovering(self) -> bool {
        NODE_IS_RECOVERING.contains(&self)
    }

    /// SDAM: a "not writable primary" code.
    pub fn is_not_writable_primary(self) -> bool {
        NOT_WRITABLE_PRIMARY.contains(&self)
    }

    /// SDAM: a "node is shutting down" code.
    pub fn is_shutting_down(self) -> bool {
        NODE_IS_SHUTTING_DOWN.contains(&self)
    }

    /// SDAM: "not writable primary" or "node is recovering" (a state-change error).
    pub fn is_state_change(self) -> bool {
        self.is_node_is_recovering() || self.is_not_writable_primary()
    }

    /// Retryable-writes spec: the driver labels this code `RetryableWriteError` (pre-4.4 servers).
    pub fn is_retryable_write(self) -> bool {
        RETRYABLE_WRITE.contains(&self)
    }

    /// Retryable-reads spec: a read failing with this code may be retried.
    pub fn is_retryable_read(self) -> bool {
        RETRYABLE_READ.contains(&self)
    }

    /// The server reports a network problem between servers (the SDAM "other transient
    /// errors" a mongos returns when it cannot reach a shard); SDAM does not mark the
    /// server Unknown for these.
    pub fn is_network_routing(self) -> bool {
        NETWORK_ROUTING.contains(&self)
    }
}

/// SDAM "node is recovering" check of a server error: by code when there is one; only when
/// the reply has no code, by the message ("node is recovering" or "not master or secondary").
pub fn is_node_is_recovering(code: Option<i32>, message: &str) -> bool {
    match code {
        Some(code) => ErrorCode(code).is_node_is_recovering(),
        None => message.contains("node is recovering") || message.contains("not master or secondary"),
    }
}

/// SDAM "not writable primary" check of a server error: by code when there is one; only when
/// the reply has no code, a message holding "not master" that is not a "node is recovering"
/// message.
pub fn is_not_writable_primary(code: Option<i32>, message: &str) -> bool {
    match code {
        Some(code) => ErrorCode(code).is_not_writable_primary(),
        None => !is_node_is_recovering(None, message) && message.contains("not master"),
    }
}

/// SDAM "node is shutting down" check: by code only (the spec defines no message fallback).
pub fn is_shutting_down(code: Option<i32>) -> bool {
    code.is_some_and(|c| ErrorCode(c).is_shutting_down())
}

/// SDAM state-change error: "not writable primary" or "node is recovering".
pub fn is_state_change(code: Option<i32>, message: &str) -> bool {
    is_node_is_recovering(code, message) || is_not_writable_primary(code, message)
}

impl std::fmt::Display for ErrorCode {
    /// `Name (code)` for a known code, the number alone otherwise.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} ({})", self.0),
            None => write!(f, "{}", self.0),
        }
    }
}
