//! Transactions (transactions spec "ClientSession changes", "Constructing commands within a
//! transaction", "Mongos Pinning", "recoveryToken field" and "Error Reporting and Retrying
//! Transactions"; convenient API for transactions spec "withTransaction"): the session's
//! transaction state machine ([`TransactionState`], its options), starting a transaction,
//! and the helpers the executor calls to decorate a transaction's commands and to label
//! their errors. Committing and aborting run commands, so they live above the executor, in
//! the API ([`crate::api::session`]).
//!
//! A transaction is started with [`ClientSession::start_transaction`]; every operation run
//! with the session is then part of it until [`ClientSession::commit_transaction`] or
//! [`ClientSession::abort_transaction`]. [`ClientSession::with_transaction`] runs a callback
//! in a transaction and retries it (and its commit) as the convenient API spec says.

mod seam;
mod start;
mod state;

pub(crate) use seam::{
    Role, after_send, decorate, end_write_concern, label_failure, pin, pin_connection, pinned,
    pinned_connection, prepare, read_preference, retry_commit_write_concern, role, unpin,
};
pub(crate) use state::Transaction;
pub use state::{
    TRANSIENT_TRANSACTION_ERROR, TransactionOptions, TransactionState, UNKNOWN_TRANSACTION_COMMIT_RESULT,
};
