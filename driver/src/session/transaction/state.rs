//! The transaction state (transactions spec "ClientSession changes" and
//! "TransactionOptions"): what a session knows about its latest transaction, and the error
//! labels of the transactions spec.

use std::time::Duration;

use bson::Document;

use crate::options::{ReadConcern, ReadPreference, WriteConcern};
use crate::sdam::ServerAddress;
use crate::session::PinnedConnection;

/// The label of errors after which the whole transaction may be retried.
pub const TRANSIENT_TRANSACTION_ERROR: &str = "TransientTransactionError";

/// The label of commit errors after which the outcome of the commit is unknown (calling
/// [`ClientSession::commit_transaction`] again is safe).
pub const UNKNOWN_TRANSACTION_COMMIT_RESULT: &str = "UnknownTransactionCommitResult";

/// The transaction state of a session (transactions spec "ClientSession changes").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TransactionState {
    /// No transaction ("no transaction").
    #[default]
    None,
    /// Started, no command sent yet ("starting transaction").
    Starting,
    /// At least one command sent ("transaction in progress").
    InProgress,
    /// Committed, or the commit was attempted ("transaction committed").
    Committed,
    /// Aborted ("transaction aborted").
    Aborted,
}

impl TransactionState {
    /// The unified test format's name of the state (`none`, `starting`, `in_progress`,
    /// `committed`, `aborted`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Starting => "starting",
            Self::InProgress => "in_progress",
            Self::Committed => "committed",
            Self::Aborted => "aborted",
        }
    }
}

/// Options of a transaction (transactions spec "TransactionOptions"). An option left unset
/// is inherited from the session's `default_transaction_options`, then from the client.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct TransactionOptions {
    /// The read concern of the transaction's first command.
    pub read_concern: Option<ReadConcern>,
    /// The write concern of `commitTransaction` and `abortTransaction`.
    pub write_concern: Option<WriteConcern>,
    /// The read preference of the transaction's reads (must be primary when a read runs).
    pub read_preference: Option<ReadPreference>,
    /// The `maxTimeMS` of `commitTransaction`.
    pub max_commit_time: Option<Duration>,
}

impl TransactionOptions {
    /// Sets the read concern.
    pub fn read_concern(mut self, value: ReadConcern) -> Self {
        self.read_concern = Some(value);
        self
    }

    /// Sets the write concern.
    pub fn write_concern(mut self, value: WriteConcern) -> Self {
        self.write_concern = Some(value);
        self
    }

    /// Sets the read preference.
    pub fn read_preference(mut self, value: ReadPreference) -> Self {
        self.read_preference = Some(value);
        self
    }

    /// Sets `maxCommitTimeMS`.
    pub fn max_commit_time(mut self, value: Duration) -> Self {
        self.max_commit_time = Some(value);
        self
    }

    /// Each option unset here taken from `defaults`.
    pub(crate) fn or(self, defaults: &TransactionOptions) -> Self {
        Self {
            read_concern: self.read_concern.or_else(|| defaults.read_concern.clone()),
            write_concern: self.write_concern.or_else(|| defaults.write_concern.clone()),
            read_preference: self.read_preference.or_else(|| defaults.read_preference.clone()),
            max_commit_time: self.max_commit_time.or(defaults.max_commit_time),
        }
    }
}

/// What a session knows about its latest transaction.
#[derive(Debug, Default)]
pub(crate) struct Transaction {
    pub(crate) state: TransactionState,
    /// The options resolved at start (explicit, then session defaults, then client).
    pub(crate) options: TransactionOptions,
    /// The mongos the transaction's commands go to (sharded clusters).
    pub(crate) pinned: Option<ServerAddress>,
    /// The connection the transaction's commands go on (load-balanced mode).
    pub(crate) pinned_connection: Option<PinnedConnection>,
    /// The latest `recoveryToken` a mongos returned (sent with commit and abort).
    pub(crate) recovery_token: Option<Document>,
    /// Whether the commit ran no command (the transaction had no statement).
    pub(crate) commit_was_empty: bool,
    /// While `withTransaction` runs with a `timeoutMS`: its deadline and that `timeoutMS`,
    /// which the operations run with this session take instead of their own (client-side
    /// operations timeout spec "Convenient Transactions API": the timeout is kept on the
    /// session, private, for the callback's operations).
    pub(crate) deadline: Option<(tokio::time::Instant, Duration)>,
}

impl Transaction {
    /// Leaves a finished transaction for "no transaction" (any operation but commit/abort
    /// does), and unpins: an operation outside a transaction is never pinned.
    pub(crate) fn leave_finished(&mut self) {
        if matches!(self.state, TransactionState::Committed | TransactionState::Aborted) {
            self.state = TransactionState::None;
            self.recovery_token = None;
        }
        if self.state == TransactionState::None {
            self.pinned = None;
            self.pinned_connection = None;
        }
    }
}
