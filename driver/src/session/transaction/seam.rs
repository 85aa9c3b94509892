//! The transaction seam of the executor (transactions spec "Constructing commands within a
//! transaction", "Mongos Pinning", "recoveryToken field" and "Error Reporting and Retrying
//! Transactions"): each command's [`Role`] in its session's transaction, the fields a
//! transaction adds to it, pinning, and the labels of its errors.

use bson::{Bson, Document};

use super::state::{TRANSIENT_TRANSACTION_ERROR, TransactionState};
use crate::cmap::PinPurpose;
use crate::connection::StreamDescription;
use crate::error::{Error, ErrorKind, Result};
use crate::options::{ReadConcern, ReadPreference, ReadPreferenceMode, WriteConcern};
use crate::sdam::{ServerAddress, ServerType};
use crate::session::{ClientSession, PinnedConnection, SessionState};

/// The first wire versions with transactions: 4.0 on replica sets, 4.2 on sharded clusters.
const TRANSACTIONS_WIRE_VERSION: i32 = 7;
const SHARDED_TRANSACTIONS_WIRE_VERSION: i32 = 8;

/// How a command relates to its session's transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Not part of a transaction.
    None,
    /// A statement of the transaction (`first`: the one that starts it).
    Statement {
        /// Whether it is the first command (`startTransaction: true`, the read concern).
        first: bool,
    },
    /// `commitTransaction` or `abortTransaction`.
    End,
}

impl Role {
    /// Whether the command belongs to a transaction.
    pub(crate) fn in_transaction(self) -> bool {
        self != Role::None
    }
}

/// The role of a command run in `session` (`ends`: it is commitTransaction/abortTransaction).
pub(crate) fn role(session: Option<&ClientSession>, ends: bool) -> Role {
    let Some(s) = session else { return Role::None };
    if ends {
        return Role::End;
    }
    match s.state().transaction.state {
        TransactionState::Starting => Role::Statement { first: true },
        TransactionState::InProgress => Role::Statement { first: false },
        _ => Role::None,
    }
}

/// Before an operation: a finished transaction becomes "no transaction" (unless the
/// operation is the commit or abort), an operation outside a transaction unpins the session;
/// returns the command's role.
pub(crate) fn prepare(session: Option<&ClientSession>, ends: bool) -> Role {
    if let Some(s) = session
        && !ends
    {
        s.state().transaction.leave_finished();
    }
    role(session, ends)
}

/// The transaction's read preference for a read (transactions spec "readPreference"): an
/// error unless primary.
pub(crate) fn read_preference(session: &ClientSession) -> Result<ReadPreference> {
    let rp = session.state().transaction.options.read_preference.clone().unwrap_or_default();
    if rp.mode != ReadPreferenceMode::Primary {
        return Err(Error::invalid_argument(format!(
            "read preference in a transaction must be primary, not {}",
            rp.mode
        )));
    }
    Ok(rp)
}

/// The mongos a transaction command must go to, if the session is pinned.
pub(crate) fn pinned(session: Option<&ClientSession>, role: Role) -> Option<ServerAddress> {
    if !role.in_transaction() {
        return None;
    }
    session.and_then(|s| s.state().transaction.pinned.clone())
}

/// After selecting `server_type` at `address` for a statement: pins the session to a mongos.
pub(crate) fn pin(
    session: Option<&ClientSession>,
    role: Role,
    server_type: ServerType,
    address: &ServerAddress,
) {
    if let (Some(s), Role::Statement { .. }) = (session, role)
        && server_type == ServerType::Mongos
    {
        let mut state = s.state();
        if state.transaction.pinned.is_none() {
            state.transaction.pinned = Some(address.clone());
        }
    }
}

/// The connection a transaction command must go on, if the session is pinned to one
/// (load-balanced mode).
pub(crate) fn pinned_connection(session: Option<&ClientSession>, role: Role) -> Option<PinnedConnection> {
    if !role.in_transaction() {
        return None;
    }
    session.and_then(|s| s.state().transaction.pinned_connection.clone())
}

/// Load-balanced mode, before a statement runs on `connection`: pins the session's
/// transaction to it (load balancer spec "Behaviour With Transactions"; released as
/// transactions spec "When to unpin" says).
pub(crate) async fn pin_connection(
    session: Option<&ClientSession>,
    role: Role,
    connection: &PinnedConnection,
) {
    let (Some(s), Role::Statement { .. }) = (session, role) else { return };
    {
        let mut state = s.state();
        if state.transaction.pinned_connection.is_some() {
            return;
        }
        state.transaction.pinned_connection = Some(connection.clone());
    }
    connection.lock().await.pin(PinPurpose::Transaction);
}

/// Unpins the session (from its mongos, or its connection in load-balanced mode).
pub(crate) fn unpin(session: Option<&ClientSession>) {
    if let Some(s) = session {
        let released = {
            let mut state = s.state();
            state.transaction.pinned = None;
            state.transaction.pinned_connection.take()
        };
        // Checked in (if no cursor holds it) outside the session's lock.
        drop(released);
    }
}

/// Labels a failed transaction command (transactions spec "TransientTransactionError"): a
/// network or server selection error of a statement is transient; a transient error unpins
/// the session.
pub(crate) fn label_failure(session: Option<&ClientSession>, role: Role, mut error: Error) -> Error {
    if let Role::Statement { .. } = role
        && (error.is_network_error()
            || error.is_pool_cleared()
            || matches!(*error.kind, ErrorKind::ServerSelection { .. }))
    {
        error.add_label(TRANSIENT_TRANSACTION_ERROR);
    }
    if role.in_transaction() && error.contains_label(TRANSIENT_TRANSACTION_ERROR) {
        unpin(session);
    }
    error
}

/// Adds the transaction fields to a command (transactions spec "Constructing the first
/// command within a transaction", "Constructing any other command within a transaction" and
/// "Interaction with Causal Consistency"): `txnNumber` and `autocommit: false` always;
/// `startTransaction: true` and the transaction's read concern (with `afterClusterTime` in a
/// causally consistent session) on the first statement; the `recoveryToken` on commit and
/// abort. Inherited read and write concerns were removed from the statements before.
pub(crate) fn decorate(
    body: &mut Document,
    state: &SessionState,
    causal_consistency: bool,
    role: Role,
    description: &StreamDescription,
) -> Result<()> {
    let Some(server) = state.server.as_ref() else {
        return Err(Error::invalid_argument("cannot use a session that has ended"));
    };
    body.insert("txnNumber", server.txn_number());
    match role {
        Role::None => return Ok(()),
        Role::Statement { first: true } => {
            let required = if description.server_type == ServerType::Mongos {
                SHARDED_TRANSACTIONS_WIRE_VERSION
            } else {
                TRANSACTIONS_WIRE_VERSION
            };
            if description.max_wire_version < required {
                return Err(Error::new(ErrorKind::IncompatibleWireVersion {
                    message: format!(
                        "Transactions are not supported by the server {} (wire version {}, {} needed)",
                        description.server_address, description.max_wire_version, required
                    ),
                }));
            }
            body.insert("startTransaction", true);
            let mut rc = state.transaction.options.read_concern.as_ref().map(ReadConcern::to_document);
            if causal_consistency && let Some(time) = state.operation_time {
                rc.get_or_insert_with(Document::new).insert("afterClusterTime", time);
            }
            if let Some(rc) = rc {
                body.insert("readConcern", rc);
            }
        }
        Role::Statement { first: false } => {}
        Role::End => {
            if let Some(token) = &state.transaction.recovery_token {
                body.insert("recoveryToken", token.clone());
            }
        }
    }
    body.insert("autocommit", false);
    Ok(())
}

/// After a transaction command was sent (whatever came back): the first statement moves the
/// transaction to "in progress"; a reply's `recoveryToken` is kept.
pub(crate) fn after_send(session: Option<&ClientSession>, role: Role, reply: Option<&Document>) {
    let Some(s) = session else { return };
    if !role.in_transaction() {
        return;
    }
    let mut state = s.state();
    if role == (Role::Statement { first: true }) && state.transaction.state == TransactionState::Starting {
        state.transaction.state = TransactionState::InProgress;
    }
    if let Some(token) = reply.and_then(|r| r.get_document("recoveryToken").ok()) {
        state.transaction.recovery_token = Some(token.clone());
    }
}

/// The write concern of a retried commit (transactions spec "commitTransaction"):
/// `w: "majority"`, the transaction's other fields kept, `wtimeout: 10000` unless set.
pub(crate) fn retry_commit_write_concern(write_concern: Option<&WriteConcern>) -> Document {
    let mut wc = write_concern.map(WriteConcern::to_document).unwrap_or_default();
    wc.insert("w", "majority");
    if !wc.contains_key("wtimeout") {
        wc.insert("wtimeout", Bson::Int64(10_000));
    }
    wc
}

/// The `writeConcern` of a first commit or an abort: the transaction's, unless it is the
/// server default.
pub(crate) fn end_write_concern(write_concern: Option<&WriteConcern>) -> Option<Document> {
    write_concern.filter(|wc| !wc.is_empty()).map(WriteConcern::to_document)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use bson::doc;

    use super::*;
    use crate::session::{ServerSessionPool, SessionOptions};

    fn session(snapshot: bool) -> ClientSession {
        let pool = Arc::new(ServerSessionPool::new());
        let options = SessionOptions { snapshot: Some(snapshot), ..SessionOptions::default() };
        ClientSession::new(pool.acquire(), pool, None, options, false)
    }

    #[test]
    fn retried_commits_use_majority_with_a_timeout() {
        assert_eq!(retry_commit_write_concern(None), doc! {"w": "majority", "wtimeout": 10_000_i64});
        let wc = WriteConcern::nodes(2).journal(true).w_timeout(Duration::from_millis(5));
        assert_eq!(
            retry_commit_write_concern(Some(&wc)),
            doc! {"w": "majority", "j": true, "wtimeout": 5_i64}
        );
        assert_eq!(end_write_concern(Some(&WriteConcern::default())), None);
        assert_eq!(end_write_concern(Some(&WriteConcern::nodes(1))), Some(doc! {"w": 1_i64}));
    }

    #[test]
    fn finished_transactions_reset_and_unpin() {
        let s = session(false);
        let address = ServerAddress::new("a", 1);
        {
            let mut state = s.state();
            state.transaction.state = TransactionState::Starting;
        }
        assert_eq!(prepare(Some(&s), false), Role::Statement { first: true });
        pin(Some(&s), Role::Statement { first: true }, ServerType::Mongos, &address);
        assert_eq!(s.pinned_server(), Some(address.clone()));
        after_send(Some(&s), Role::Statement { first: true }, Some(&doc! {"recoveryToken": {"t": 1}}));
        assert_eq!(s.transaction_state(), TransactionState::InProgress);
        assert_eq!(role(Some(&s), false), Role::Statement { first: false });
        let transient = label_failure(
            Some(&s),
            Role::Statement { first: false },
            Error::io("writing", std::io::Error::other("closed")),
        );
        assert!(transient.contains_label(TRANSIENT_TRANSACTION_ERROR));
        assert_eq!(s.pinned_server(), None, "a transient error unpins");
        pin(Some(&s), Role::Statement { first: false }, ServerType::Mongos, &address);
        s.state().transaction.state = TransactionState::Committed;
        assert_eq!(prepare(Some(&s), true), Role::End);
        assert_eq!(s.pinned_server(), Some(address), "commit keeps the pin");
        assert_eq!(prepare(Some(&s), false), Role::None);
        assert_eq!(s.transaction_state(), TransactionState::None);
        assert_eq!(s.pinned_server(), None);
        assert_eq!(s.state().transaction.recovery_token, None);
        // A replica set member is never pinned.
        let member = ServerAddress::new("b", 2);
        s.state().transaction.state = TransactionState::InProgress;
        pin(Some(&s), Role::Statement { first: false }, ServerType::RsPrimary, &member);
        assert_eq!(s.pinned_server(), None);
    }
}
