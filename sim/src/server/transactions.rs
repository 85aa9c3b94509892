//! Multi-document transactions on the server side (transactions spec: `startTransaction`,
//! `autocommit: false`, `commitTransaction`, `abortTransaction`, TransientTransactionError):
//! one transaction state per session, run through the engine's transaction API.

use std::collections::HashMap;

use crate::engine::transaction::Transaction;

/// Label mongod puts on errors after which the whole transaction may be retried.
pub const TRANSIENT_TRANSACTION_ERROR: &str = "TransientTransactionError";

/// Codes that are transient for statements inside a transaction (retriable errors), besides
/// those transient everywhere.
const TRANSIENT_IN_STATEMENTS: [i32; 13] =
    [6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436, 251];

/// Whether an error with `code` gets TransientTransactionError (`commit_or_abort`: the
/// command was `commitTransaction`/`abortTransaction`), as mongod decides: write conflicts,
/// lock timeouts, PreparedTransactionInProgress and snapshot errors always; NoSuchTransaction
/// always (no write-concern error here); retriable errors only for statements.
pub fn is_transient(code: i32, commit_or_abort: bool) -> bool {
    matches!(code, 112 | 24 | 267 | 239 | 246 | 251)
        || (!commit_or_abort && TRANSIENT_IN_STATEMENTS.contains(&code))
}

/// Where a session's latest transaction is.
#[derive(Debug)]
pub enum State {
    /// Running; its statements see its private snapshot.
    InProgress(Box<Transaction>),
    /// Committed (a repeated commit succeeds again).
    Committed,
    /// Aborted (explicitly, by an error, or by a newer transaction).
    Aborted,
}

/// A session's latest transaction.
#[derive(Debug)]
pub struct SessionTransaction {
    /// Its `txnNumber`.
    pub txn_number: i64,
    /// Its state.
    pub state: State,
    /// The `mongos` (its host) that started it, on a sharded cluster: only that router
    /// knows the transaction's participants and can commit it directly.
    pub router: Option<String>,
}

/// Every session's latest transaction, by session key.
#[derive(Debug, Default)]
pub struct Transactions {
    /// The table.
    pub by_session: HashMap<Vec<u8>, SessionTransaction>,
}

/// How a statement relates to the session's transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// `txnNumber` older than the session's latest.
    TooOld(i64),
    /// No such transaction is in progress (never started, aborted, or a new number without
    /// `startTransaction`).
    NoSuchTransaction(String),
    /// `startTransaction` for a number that was already used.
    AlreadyStarted,
    /// The transaction already committed (a statement or an abort after commit).
    Committed,
}

impl Transactions {
    /// Checks a statement (or commit/abort) for `txn_number` on `key`; starts a new
    /// transaction with `begin` when `start` is set.
    pub fn check(
        &mut self,
        key: &[u8],
        txn_number: i64,
        start: bool,
        begin: impl FnOnce() -> Transaction,
    ) -> Result<(), Refusal> {
        let current = self.by_session.get(key).map(|t| t.txn_number);
        match current {
            Some(n) if n > txn_number => return Err(Refusal::TooOld(n)),
            Some(n) if n == txn_number && start => return Err(Refusal::AlreadyStarted),
            _ => {}
        }
        if start {
            self.by_session.insert(
                key.to_vec(),
                SessionTransaction { txn_number, state: State::InProgress(Box::new(begin())), router: None },
            );
            return Ok(());
        }
        match self.by_session.get(key) {
            Some(t) if t.txn_number == txn_number => match t.state {
                State::InProgress(_) => Ok(()),
                State::Committed => Err(Refusal::Committed),
                State::Aborted => {
                    Err(Refusal::NoSuchTransaction(format!("Transaction {txn_number} has been aborted.")))
                }
            },
            _ => Err(Refusal::NoSuchTransaction(format!(
                "Given transaction number {txn_number} does not match any in-progress transactions."
            ))),
        }
    }

    /// The in-progress transaction of `key`, if any.
    pub fn in_progress(&mut self, key: &[u8]) -> Option<&mut Transaction> {
        match self.by_session.get_mut(key) {
            Some(SessionTransaction { state: State::InProgress(txn), .. }) => Some(txn),
            _ => None,
        }
    }

    /// Moves `key`'s transaction to `state`.
    pub fn finish(&mut self, key: &[u8], state: State) {
        if let Some(t) = self.by_session.get_mut(key) {
            t.state = state;
        }
    }

    /// Takes `key`'s in-progress transaction out (leaving it aborted until the caller
    /// finishes it).
    pub fn take(&mut self, key: &[u8]) -> Option<Box<Transaction>> {
        let t = self.by_session.get_mut(key)?;
        match std::mem::replace(&mut t.state, State::Aborted) {
            State::InProgress(txn) => Some(txn),
            other => {
                t.state = other;
                None
            }
        }
    }

    /// Aborts `key`'s transaction if it is in progress (its session ended or was killed).
    pub fn abort(&mut self, key: &[u8]) {
        if let Some(t) = self.by_session.get_mut(key) {
            if matches!(t.state, State::InProgress(_)) {
                t.state = State::Aborted;
            }
        }
    }

    /// Aborts every in-progress transaction (`killAllSessions`).
    pub fn abort_all(&mut self) {
        for t in self.by_session.values_mut() {
            if matches!(t.state, State::InProgress(_)) {
                t.state = State::Aborted;
            }
        }
    }

    /// The latest `txnNumber` of `key`.
    pub fn latest(&self, key: &[u8]) -> Option<i64> {
        self.by_session.get(key).map(|t| t.txn_number)
    }

    /// The state of `key`'s transaction `txn_number`, if it is the latest.
    pub fn state(&self, key: &[u8], txn_number: i64) -> Option<&State> {
        self.by_session.get(key).filter(|t| t.txn_number == txn_number).map(|t| &t.state)
    }

    /// Records the router (`host`) that started `key`'s latest transaction.
    pub fn started_on(&mut self, key: &[u8], host: &str) {
        if let Some(t) = self.by_session.get_mut(key) {
            t.router = Some(host.to_owned());
        }
    }

    /// The router that started `key`'s transaction `txn_number`, if a router did.
    pub fn router(&self, key: &[u8], txn_number: i64) -> Option<&str> {
        self.by_session.get(key).filter(|t| t.txn_number == txn_number).and_then(|t| t.router.as_deref())
    }
}
