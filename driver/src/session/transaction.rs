//! Transactions (transactions spec "ClientSession changes", "Constructing commands within a
//! transaction", "Mongos Pinning", "recoveryToken field" and "Error Reporting and Retrying
//! Transactions"; convenient API for transactions spec "withTransaction"): the session's
//! transaction state machine, its options, and the helpers the executor calls to decorate a
//! transaction's commands and to label their errors.
//!
//! A transaction is started with [`ClientSession::start_transaction`]; every operation run
//! with the session is then part of it until [`ClientSession::commit_transaction`] or
//! [`ClientSession::abort_transaction`]. [`ClientSession::with_transaction`] runs a callback
//! in a transaction and retries it (and its commit) as the convenient API spec says.

use std::time::{Duration, Instant};

use bson::{Bson, Document};
use futures::future::BoxFuture;

use super::{ClientSession, SessionState};
use crate::cmap::PinPurpose;
use crate::connection::StreamDescription;
use crate::error::{Error, ErrorKind, Result};
use crate::executor::{ExecutionContext, PinnedConnection, SessionArg};
use crate::operation::{AbortTransaction, CommitTransaction};
use crate::options::{ReadConcern, ReadPreference, ReadPreferenceMode, WriteConcern};
use crate::sdam::{ServerAddress, ServerType};

/// The label of errors after which the whole transaction may be retried.
pub const TRANSIENT_TRANSACTION_ERROR: &str = "TransientTransactionError";

/// The label of commit errors after which the outcome of the commit is unknown (calling
/// [`ClientSession::commit_transaction`] again is safe).
pub const UNKNOWN_TRANSACTION_COMMIT_RESULT: &str = "UnknownTransactionCommitResult";

/// How long [`ClientSession::with_transaction`] keeps retrying (convenient API spec).
const WITH_TRANSACTION_TIMEOUT: Duration = Duration::from_secs(120);

/// The first wire versions with transactions: 4.0 on replica sets, 4.2 on sharded clusters.
const TRANSACTIONS_WIRE_VERSION: i32 = 7;
const SHARDED_TRANSACTIONS_WIRE_VERSION: i32 = 8;

/// `MaxTimeMSExpired`.
const MAX_TIME_MS_EXPIRED: i32 = 50;
/// `WriteConcernFailed` (a write concern timeout).
const WRITE_CONCERN_FAILED: i32 = 64;
/// Write concern errors that say the write concern is invalid: retrying cannot help, so a
/// commit failing with them is not labeled UnknownTransactionCommitResult.
const UNSATISFIABLE_WRITE_CONCERN: [i32; 2] = [100, 79];

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
    fn or(self, defaults: &TransactionOptions) -> Self {
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
    commit_was_empty: bool,
    /// While `withTransaction` runs with a `timeoutMS`: its deadline and that `timeoutMS`,
    /// which the operations run with this session take instead of their own (client-side
    /// operations timeout spec "Convenient Transactions API": the timeout is kept on the
    /// session, private, for the callback's operations).
    pub(crate) deadline: Option<(tokio::time::Instant, Duration)>,
}

impl Transaction {
    /// Leaves a finished transaction for "no transaction" (any operation but commit/abort
    /// does), and unpins: an operation outside a transaction is never pinned.
    fn leave_finished(&mut self) {
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

/// Whether a failed commit's outcome is unknown (transactions spec
/// "UnknownTransactionCommitResult"): network and server selection errors, retryable
/// errors, MaxTimeMSExpired, and write concern errors other than an unsatisfiable one.
fn commit_result_unknown(error: &Error) -> bool {
    match &*error.kind {
        ErrorKind::ServerSelection { .. } | ErrorKind::Io { .. } | ErrorKind::PoolCleared { .. } => true,
        ErrorKind::WriteConcern { code, .. } => !UNSATISFIABLE_WRITE_CONCERN.contains(code),
        ErrorKind::Command { code, .. } => {
            error.contains_label(crate::executor::RETRYABLE_WRITE_ERROR)
                || *code == MAX_TIME_MS_EXPIRED
                || *code == WRITE_CONCERN_FAILED
        }
        _ => error.contains_label(crate::executor::RETRYABLE_WRITE_ERROR),
    }
}

/// Whether the error is MaxTimeMSExpired (as a command error or a write concern error).
fn is_max_time_expired(error: &Error) -> bool {
    matches!(
        &*error.kind,
        ErrorKind::Command { code: MAX_TIME_MS_EXPIRED, .. }
            | ErrorKind::WriteConcern { code: MAX_TIME_MS_EXPIRED, .. }
    )
}

impl ClientSession {
    /// The state of the session's latest transaction.
    pub fn transaction_state(&self) -> TransactionState {
        self.state().transaction.state
    }

    /// Whether a transaction is starting or in progress.
    pub fn in_transaction(&self) -> bool {
        matches!(self.transaction_state(), TransactionState::Starting | TransactionState::InProgress)
    }

    /// The mongos the session's transaction is pinned to (sharded clusters), if any.
    pub fn pinned_server(&self) -> Option<ServerAddress> {
        self.state().transaction.pinned.clone()
    }

    /// The options of the current (or latest) transaction, as resolved when it started.
    pub fn transaction_options(&self) -> TransactionOptions {
        self.state().transaction.options.clone()
    }

    /// Starts a transaction (transactions spec "startTransaction"): the operations run with
    /// the session from now on are its statements. Options left unset come from the
    /// session's `default_transaction_options`, then from the client. Fails (changing
    /// nothing) in a snapshot session, when a transaction is already in progress, or when
    /// the write concern is unacknowledged.
    ///
    /// ```no_run
    /// # async fn demo(client: mongo_driver::Client) -> mongo_driver::Result<()> {
    /// use bson::{Document, doc};
    /// let coll = client.database("bank").collection::<Document>("accounts");
    /// let mut session = client.start_session().await?;
    /// session.start_transaction(None)?;
    /// coll.update_one(doc! {"_id": 1}, doc! {"$inc": {"balance": -10}}).session(&mut session).await?;
    /// coll.update_one(doc! {"_id": 2}, doc! {"$inc": {"balance": 10}}).session(&mut session).await?;
    /// session.commit_transaction().await?;
    /// # Ok(()) }
    /// ```
    pub fn start_transaction(&mut self, options: impl Into<Option<TransactionOptions>>) -> Result<()> {
        if self.is_snapshot() {
            return Err(Error::invalid_argument("Transactions are not supported in snapshot sessions"));
        }
        if self.in_transaction() {
            return Err(Error::invalid_argument("Transaction already in progress"));
        }
        let Some(client) = self.client.as_ref() else {
            return Err(Error::invalid_argument("an implicit session cannot start a transaction"));
        };
        let client_defaults = client.defaults();
        let inherited = TransactionOptions {
            read_concern: client_defaults.read_concern.clone(),
            write_concern: client_defaults.write_concern.clone(),
            read_preference: Some(client_defaults.read_preference.clone()),
            max_commit_time: None,
        };
        let session_defaults = self.options.default_transaction_options.clone().unwrap_or_default();
        let options = options.into().unwrap_or_default().or(&session_defaults).or(&inherited);
        if options.write_concern.as_ref().is_some_and(|wc| !wc.is_acknowledged()) {
            return Err(Error::invalid_argument("transactions do not support unacknowledged write concerns"));
        }
        let mut state = self.state();
        let Some(server) = state.server.as_mut() else {
            return Err(Error::invalid_argument("cannot use a session that has ended"));
        };
        server.next_txn_number();
        state.transaction = Transaction {
            state: TransactionState::Starting,
            options,
            pinned: None,
            pinned_connection: None,
            recovery_token: None,
            commit_was_empty: false,
            // withTransaction's deadline spans its retries.
            deadline: state.transaction.deadline,
        };
        Ok(())
    }

    /// Commits the transaction (transactions spec "commitTransaction"): sends
    /// `commitTransaction` (none when the transaction ran no command), retried once after a
    /// retryable error with `w: "majority"`. Calling it again after it committed runs the
    /// commit again. Errors whose outcome is unknown carry
    /// [`UNKNOWN_TRANSACTION_COMMIT_RESULT`].
    pub async fn commit_transaction(&mut self) -> Result<()> {
        self.commit_transaction_within(None).await
    }

    /// [`ClientSession::commit_transaction`] with its own `timeoutMS` (client-side
    /// operations timeout spec; zero: no limit), instead of the session's `defaultTimeoutMS`
    /// or the client's `timeoutMS`. With a `timeoutMS` in force, the transaction's
    /// `maxCommitTimeMS` and the write concern's `wtimeout` are not sent.
    pub async fn commit_transaction_with_timeout(&mut self, timeout: Duration) -> Result<()> {
        self.commit_transaction_within(Some(timeout)).await
    }

    async fn commit_transaction_within(&mut self, timeout: Option<Duration>) -> Result<()> {
        let (previous, write_concern, max_commit_time) = {
            let mut state = self.state();
            let t = &mut state.transaction;
            let previous = t.state;
            match previous {
                TransactionState::None => return Err(Error::invalid_argument("No transaction started")),
                TransactionState::Aborted => {
                    return Err(Error::invalid_argument(
                        "Cannot call commitTransaction after calling abortTransaction",
                    ));
                }
                TransactionState::Starting => {
                    t.state = TransactionState::Committed;
                    t.commit_was_empty = true;
                    return Ok(());
                }
                TransactionState::Committed if t.commit_was_empty => return Ok(()),
                TransactionState::InProgress | TransactionState::Committed => {
                    t.state = TransactionState::Committed;
                }
            }
            (previous, t.options.write_concern.clone(), t.options.max_commit_time)
        };
        let mut op =
            CommitTransaction::new(write_concern, max_commit_time, previous == TransactionState::Committed);
        match self.run_end(&mut op, timeout, false).await {
            Ok(()) => Ok(()),
            Err(mut error) => {
                if commit_result_unknown(&error) {
                    error.add_label(UNKNOWN_TRANSACTION_COMMIT_RESULT);
                }
                if error.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT)
                    || error.contains_label(TRANSIENT_TRANSACTION_ERROR)
                {
                    unpin(Some(self));
                }
                Err(error)
            }
        }
    }

    /// Aborts the transaction (transactions spec "abortTransaction"): sends
    /// `abortTransaction` (none when the transaction ran no command), retried once after a
    /// retryable error; its errors are ignored. The session is unpinned.
    pub async fn abort_transaction(&mut self) -> Result<()> {
        self.abort_transaction_within(None, false).await
    }

    /// [`ClientSession::abort_transaction`] with its own `timeoutMS` (client-side operations
    /// timeout spec; zero: no limit), instead of the session's `defaultTimeoutMS` or the
    /// client's `timeoutMS`.
    pub async fn abort_transaction_with_timeout(&mut self, timeout: Duration) -> Result<()> {
        self.abort_transaction_within(Some(timeout), false).await
    }

    /// `refresh`: a fresh deadline even inside `withTransaction` (whose callback failed).
    async fn abort_transaction_within(&mut self, timeout: Option<Duration>, refresh: bool) -> Result<()> {
        let write_concern = {
            let mut state = self.state();
            let t = &mut state.transaction;
            match t.state {
                TransactionState::None => return Err(Error::invalid_argument("No transaction started")),
                TransactionState::Committed => {
                    return Err(Error::invalid_argument(
                        "Cannot call abortTransaction after calling commitTransaction",
                    ));
                }
                TransactionState::Aborted => {
                    return Err(Error::invalid_argument("Cannot call abortTransaction twice"));
                }
                TransactionState::Starting => {
                    t.state = TransactionState::Aborted;
                    t.pinned = None;
                    t.pinned_connection = None;
                    return Ok(());
                }
                TransactionState::InProgress => t.state = TransactionState::Aborted,
            }
            t.options.write_concern.clone()
        };
        let mut op = AbortTransaction::new(write_concern);
        if let Err(error) = self.run_end(&mut op, timeout, refresh).await {
            tracing::debug!(target: "mongo_driver::session", %error, "abortTransaction failed (ignored)");
        }
        unpin(Some(self));
        Ok(())
    }

    /// Runs `commitTransaction` or `abortTransaction` through the client's executor, within
    /// `timeout`, else the session's `defaultTimeoutMS`, else the client's `timeoutMS`
    /// (client-side operations timeout spec "Sessions"); inside `withTransaction`, within its
    /// deadline unless `refresh` (an abort after the callback failed gets the whole
    /// `timeoutMS` again: "withTransaction refreshes the timeout for abortTransaction").
    async fn run_end<O: crate::operation::Operation<Output = ()>>(
        &mut self,
        op: &mut O,
        timeout: Option<Duration>,
        refresh: bool,
    ) -> Result<()> {
        let Some(client) = self.client.clone() else {
            return Err(Error::invalid_argument("an implicit session has no transaction"));
        };
        let executor = client.executor();
        let id = executor.next_operation_id();
        let session_deadline = self.state().transaction.deadline;
        let ctx = match session_deadline {
            Some((deadline, within)) if timeout.is_none() && !refresh => ExecutionContext {
                timeout: Some(within),
                deadline: Some(deadline),
                ..ExecutionContext::default()
            },
            Some((_, within)) if timeout.is_none() => {
                ExecutionContext { timeout: Some(within), ..ExecutionContext::default() }
            }
            _ => ExecutionContext {
                timeout: timeout.or(self.options().default_timeout).or(client.defaults().timeout),
                ..ExecutionContext::default()
            },
        };
        // The session's deadline is not the end operation's own (the executor would take it).
        let kept = self.state().transaction.deadline.take();
        let result = executor.execute_in(op, &ctx, SessionArg::Explicit(self), id).await;
        self.state().transaction.deadline = kept;
        result
    }

    /// Runs `callback` in a transaction and commits it (convenient API for transactions spec
    /// "withTransaction"): the whole transaction is retried after an error labeled
    /// [`TRANSIENT_TRANSACTION_ERROR`], the commit after one labeled
    /// [`UNKNOWN_TRANSACTION_COMMIT_RESULT`], for up to 120 seconds. When the callback fails
    /// otherwise, the transaction is aborted and its error returned. The callback may commit
    /// or abort the transaction itself. `context` is handed to each call of the callback
    /// (the callback's future may borrow it together with the session).
    ///
    /// ```no_run
    /// # async fn demo(client: mongo_driver::Client) -> mongo_driver::Result<()> {
    /// use bson::{Document, doc};
    /// use futures::FutureExt;
    /// let coll = client.database("shop").collection::<Document>("orders");
    /// let mut session = client.start_session().await?;
    /// session
    ///     .with_transaction(
    ///         &coll,
    ///         |session, coll| {
    ///             async move {
    ///                 coll.insert_one(doc! {"item": "pen"}).session(session).await?;
    ///                 Ok(())
    ///             }
    ///             .boxed()
    ///         },
    ///         None,
    ///     )
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn with_transaction<C, R, F>(
        &mut self,
        context: C,
        callback: F,
        options: impl Into<Option<TransactionOptions>>,
    ) -> Result<R>
    where
        F: for<'a> FnMut(&'a mut ClientSession, &'a mut C) -> BoxFuture<'a, Result<R>>,
    {
        self.with_transaction_within(None, context, callback, options).await
    }

    /// [`ClientSession::with_transaction`] within its own `timeoutMS` (client-side operations
    /// timeout spec "Convenient Transactions API"; zero: no limit) instead of the session's
    /// `defaultTimeoutMS` or the client's `timeoutMS`. With a `timeoutMS` in force, one
    /// deadline covers the whole call, retries included (instead of the 120 seconds), and
    /// the callback's operations run with this session take it: they must not set a
    /// `timeoutMS` of their own. Operations the callback runs without the session do not
    /// get it. An abort after the callback failed gets the whole `timeoutMS` again.
    pub async fn with_transaction_with_timeout<C, R, F>(
        &mut self,
        timeout: Duration,
        context: C,
        callback: F,
        options: impl Into<Option<TransactionOptions>>,
    ) -> Result<R>
    where
        F: for<'a> FnMut(&'a mut ClientSession, &'a mut C) -> BoxFuture<'a, Result<R>>,
    {
        self.with_transaction_within(Some(timeout), context, callback, options).await
    }

    async fn with_transaction_within<C, R, F>(
        &mut self,
        timeout: Option<Duration>,
        context: C,
        callback: F,
        options: impl Into<Option<TransactionOptions>>,
    ) -> Result<R>
    where
        F: for<'a> FnMut(&'a mut ClientSession, &'a mut C) -> BoxFuture<'a, Result<R>>,
    {
        let inherited = self.client.as_ref().and_then(|c| c.defaults().timeout);
        let timeout = timeout.or(self.options().default_timeout).or(inherited).filter(|t| !t.is_zero());
        let deadline = timeout.map(|t| (tokio::time::Instant::now() + t, t));
        self.state().transaction.deadline = deadline;
        let result = self.run_with_transaction(context, callback, options.into()).await;
        self.state().transaction.deadline = None;
        result
    }

    async fn run_with_transaction<C, R, F>(
        &mut self,
        mut context: C,
        mut callback: F,
        options: Option<TransactionOptions>,
    ) -> Result<R>
    where
        F: for<'a> FnMut(&'a mut ClientSession, &'a mut C) -> BoxFuture<'a, Result<R>>,
    {
        let start = Instant::now();
        let deadline = self.state().transaction.deadline.map(|(at, _)| at);
        // Time left to retry: until the deadline with timeoutMS, else for 120 seconds.
        let time_left = || match deadline {
            Some(at) => tokio::time::Instant::now() < at,
            None => start.elapsed() < WITH_TRANSACTION_TIMEOUT,
        };
        'transaction: loop {
            self.start_transaction(options.clone())?;
            let value = match callback(self, &mut context).await {
                Ok(value) => value,
                Err(error) => {
                    if self.in_transaction() {
                        // Abort errors are ignored (abort only fails on a wrong state).
                        let _ = self.abort_transaction_within(None, true).await;
                    }
                    if error.contains_label(TRANSIENT_TRANSACTION_ERROR) && time_left() {
                        continue 'transaction;
                    }
                    return Err(error);
                }
            };
            if !self.in_transaction() {
                // The callback committed or aborted the transaction itself.
                return Ok(value);
            }
            loop {
                match self.commit_transaction().await {
                    Ok(()) => return Ok(value),
                    Err(error) => {
                        if time_left() && !is_max_time_expired(&error) {
                            if error.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT) {
                                continue;
                            }
                            if error.contains_label(TRANSIENT_TRANSACTION_ERROR) {
                                continue 'transaction;
                            }
                        }
                        return Err(error);
                    }
                }
            }
        }
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
    fn commit_errors_with_an_unknown_outcome() {
        let wce = |code| {
            Error::new(ErrorKind::WriteConcern { code, code_name: String::new(), message: String::new() })
        };
        assert!(commit_result_unknown(&wce(64)));
        assert!(commit_result_unknown(&wce(91)));
        assert!(!commit_result_unknown(&wce(100)));
        assert!(!commit_result_unknown(&wce(79)));
        assert!(commit_result_unknown(&Error::command(50, "MaxTimeMSExpired", "")));
        assert!(!commit_result_unknown(&Error::command(251, "NoSuchTransaction", "")));
        let mut retryable = Error::command(189, "PrimarySteppedDown", "");
        retryable.add_label(crate::executor::RETRYABLE_WRITE_ERROR);
        assert!(commit_result_unknown(&retryable));
        let io = Error::io("reading", std::io::Error::other("closed"));
        assert!(commit_result_unknown(&io));
        assert!(is_max_time_expired(&Error::command(50, "", "")));
        assert!(is_max_time_expired(&wce(50)));
    }

    #[test]
    fn state_machine_without_a_client() {
        // Snapshot sessions refuse transactions; a session without a client cannot start one.
        let mut s = session(true);
        let e = s.start_transaction(None).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("Transactions are not supported in snapshot sessions"), "{e}");
        let mut s = session(false);
        assert!(s.start_transaction(None).is_err());
        assert_eq!(s.transaction_state(), TransactionState::None);
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
