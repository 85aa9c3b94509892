//! Server error replies (`{ok: 0, errmsg, code, codeName, errorLabels}`) and the error labels
//! mongod attaches itself (retryable-writes spec: "RetryableWriteError label").

use bson::{Bson, Document, doc};

use crate::engine::CommandError;
use crate::version::ServerVersion;

/// The codes whose errors make a retryable write retryable (retryable-writes spec).
pub const RETRYABLE_WRITE_CODES: [i32; 12] =
    [6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436];

/// Label mongod 4.4+ puts on retryable errors of retryable writes.
pub const RETRYABLE_WRITE_ERROR: &str = "RetryableWriteError";

/// The `codeName` mongod reports for `code` (at `version`, where names changed).
pub fn code_name(code: i32, version: ServerVersion) -> String {
    let primary = version.uses_primary_vocabulary();
    let name = match code {
        1 => "InternalError",
        2 => "BadValue",
        4 => "NoSuchKey",
        6 => "HostUnreachable",
        7 => "HostNotFound",
        8 => "UnknownError",
        9 => "FailedToParse",
        11 => "UserNotFound",
        13 => "Unauthorized",
        14 => "TypeMismatch",
        17 => "ProtocolError",
        18 => "AuthenticationFailed",
        20 => "IllegalOperation",
        24 => "LockTimeout",
        26 => "NamespaceNotFound",
        43 => "CursorNotFound",
        48 => "NamespaceExists",
        50 => "MaxTimeMSExpired",
        59 => "CommandNotFound",
        64 => "WriteConcernFailed",
        72 => "InvalidOptions",
        76 => "NoReplicationEnabled",
        79 => "UnknownReplWriteConcern",
        89 => "NetworkTimeout",
        91 => "ShutdownInProgress",
        95 => "NotSecondary",
        96 => "OperationFailed",
        100 => "UnsatisfiableWriteConcern",
        112 => "WriteConflict",
        117 => "ConflictingOperationInProgress",
        123 => "NotAReplicaSet",
        133 => "FailedToSatisfyReadPreference",
        134 => "ReadConcernMajorityNotAvailableYet",
        136 => "CappedPositionLost",
        150 => "StaleEpoch",
        175 => "QueryPlanKilled",
        186 => "ClientMetadataCannotBeMutated",
        189 => "PrimarySteppedDown",
        211 => "KeyNotFound",
        225 => "TransactionTooOld",
        234 => "RetryChangeStream",
        237 => "CursorKilled",
        244 => "TransactionAborted",
        251 => "NoSuchTransaction",
        256 => "TransactionCommitted",
        262 => "ExceededTimeLimit",
        263 => "OperationNotSupportedInTransaction",
        267 => "PreparedTransactionInProgress",
        280 => "ChangeStreamFatalError",
        286 => "ChangeStreamHistoryLost",
        322 => "APIVersionError",
        323 => "APIStrictError",
        324 => "APIDeprecationError",
        352 => "UnsupportedOpQueryCommand",
        354 => "LoadBalancerSupportMismatch",
        9001 => "SocketException",
        10107 if primary => "NotWritablePrimary",
        10107 => "NotMaster",
        10334 => "BSONObjectTooLarge",
        11000 => "DuplicateKey",
        11600 => "InterruptedAtShutdown",
        11601 => "Interrupted",
        11602 => "InterruptedDueToReplStateChange",
        13297 => "DatabaseDifferCase",
        13388 => "StaleConfig",
        13435 if primary => "NotPrimaryNoSecondaryOk",
        13435 => "NotMasterNoSlaveOk",
        13436 if primary => "NotPrimaryOrSecondary",
        13436 => "NotMasterOrSecondary",
        _ => return format!("Location{code}"),
    };
    name.to_owned()
}

/// A command failure on its way to the client: the engine's error plus labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// Code, code name and message.
    pub error: CommandError,
    /// Labels chosen explicitly (by a fail point); `None` lets the server decide.
    pub labels: Option<Vec<String>>,
    /// The `writeConcernError` a failed write command still reports: mongod waits for the
    /// write concern after a write command fails too (jstests/replsets/
    /// noop_writes_wait_for_write_concern.js: `create` of an existing collection answers
    /// NamespaceExists and a `writeConcernError`).
    pub write_concern_error: Option<Box<Document>>,
}

impl Failure {
    /// A failure with `code`, named for `version`.
    pub fn new(code: i32, version: ServerVersion, message: impl Into<String>) -> Self {
        Self {
            error: CommandError::new(code, &code_name(code, version), message),
            labels: None,
            write_concern_error: None,
        }
    }
}

impl From<CommandError> for Failure {
    fn from(error: CommandError) -> Self {
        Self { error, labels: None, write_concern_error: None }
    }
}

/// What the server knows about a command when it labels its errors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LabelContext {
    /// A retryable write (`txnNumber`, no transaction).
    pub retryable_write: bool,
    /// A statement of a multi-document transaction.
    pub in_transaction: bool,
    /// `commitTransaction` or `abortTransaction`.
    pub commit_or_abort: bool,
}

/// The labels the server adds to a reply of a command that failed with `code` and/or carries
/// a write-concern error with `wce_code`.
pub fn server_labels(
    version: ServerVersion,
    cx: LabelContext,
    code: Option<i32>,
    wce_code: Option<i32>,
) -> Vec<String> {
    let mut labels = Vec::new();
    if let Some(code) = code {
        if (cx.in_transaction || cx.commit_or_abort)
            && super::transactions::is_transient(code, cx.commit_or_abort)
        {
            labels.push(super::transactions::TRANSIENT_TRANSACTION_ERROR.to_owned());
        }
    }
    // 4.2+ marks a change stream's fatal errors (ChangeStreamFatalError) as not resumable.
    if code == Some(280) && version >= ServerVersion::V4_2 {
        labels.push("NonResumableChangeStreamError".to_owned());
    }
    let retryable = |c: Option<i32>| c.is_some_and(|c| RETRYABLE_WRITE_CODES.contains(&c));
    if version.labels_retryable_writes()
        && (cx.retryable_write || cx.commit_or_abort)
        && (retryable(code) || retryable(wce_code))
    {
        labels.push(RETRYABLE_WRITE_ERROR.to_owned());
    }
    labels
}

/// The codes mongod 4.4+ labels `ResumableChangeStreamError` when a change stream's
/// getMore fails with them after its cursor is checked out (network, not-primary,
/// shutdown, stale-shard, retriable and read-preference errors).
pub const RESUMABLE_CHANGE_STREAM_CODES: &[i32] =
    &[6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436, 63, 150, 13388, 234, 133];

/// The label of errors a change stream may resume after (4.4+).
pub const RESUMABLE_CHANGE_STREAM_ERROR: &str = "ResumableChangeStreamError";

/// The reply document of a failure (without cluster time, which the caller appends).
pub fn error_reply(failure: &Failure, version: ServerVersion, cx: LabelContext) -> Document {
    let mut reply = doc! {
        "ok": 0.0,
        "errmsg": failure.error.message.clone(),
        "code": failure.error.code,
        "codeName": failure.error.code_name.clone(),
    };
    for (k, v) in failure.error.extra.iter().flat_map(|x| x.iter()) {
        reply.insert(k.clone(), v.clone());
    }
    let labels = match &failure.labels {
        Some(labels) => labels.clone(),
        None => server_labels(version, cx, Some(failure.error.code), None),
    };
    if !labels.is_empty() {
        reply.insert("errorLabels", labels.into_iter().map(Bson::String).collect::<Vec<_>>());
    }
    if let Some(wce) = &failure.write_concern_error {
        reply.insert("writeConcernError", wce.as_ref().clone());
    }
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_version() {
        assert_eq!(code_name(10107, ServerVersion::V4_4), "NotMaster");
        assert_eq!(code_name(10107, ServerVersion::V5_0), "NotWritablePrimary");
        assert_eq!(code_name(424242, ServerVersion::V5_0), "Location424242");
    }

    #[test]
    fn retryable_label_only_from_4_4_and_only_for_retryable_writes() {
        let write = LabelContext { retryable_write: true, ..LabelContext::default() };
        let none = LabelContext::default();
        assert_eq!(server_labels(ServerVersion::V4_4, write, Some(91), None), vec![RETRYABLE_WRITE_ERROR]);
        assert!(server_labels(ServerVersion::V4_2, write, Some(91), None).is_empty());
        assert!(server_labels(ServerVersion::V4_4, none, Some(91), None).is_empty());
        assert!(server_labels(ServerVersion::V4_4, write, Some(11000), None).is_empty());
        assert_eq!(server_labels(ServerVersion::V5_0, write, None, Some(11600)), vec![RETRYABLE_WRITE_ERROR]);
    }

    #[test]
    fn transient_transaction_label() {
        let stmt = LabelContext { in_transaction: true, ..LabelContext::default() };
        let commit = LabelContext { commit_or_abort: true, ..LabelContext::default() };
        assert_eq!(
            server_labels(ServerVersion::V4_2, stmt, Some(112), None),
            vec!["TransientTransactionError"]
        );
        assert_eq!(
            server_labels(ServerVersion::V4_2, stmt, Some(251), None),
            vec!["TransientTransactionError"]
        );
        assert_eq!(
            server_labels(ServerVersion::V4_2, commit, Some(251), None),
            vec!["TransientTransactionError"]
        );
        assert!(server_labels(ServerVersion::V4_2, commit, Some(10107), None).is_empty());
        // PreparedTransactionInProgress is transient on a commit too (mongod's
        // isTransientTransactionError), and has its own name.
        assert_eq!(
            server_labels(ServerVersion::V4_2, commit, Some(267), None),
            vec!["TransientTransactionError"]
        );
        assert_eq!(code_name(267, ServerVersion::V6_0), "PreparedTransactionInProgress");
        assert_eq!(
            server_labels(ServerVersion::V4_4, commit, Some(91), None),
            vec![RETRYABLE_WRITE_ERROR.to_owned()]
        );
        assert!(server_labels(ServerVersion::V4_4, LabelContext::default(), Some(112), None).is_empty());
    }
}
