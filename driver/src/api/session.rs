//! Sessions and transactions at the API (driver sessions spec "startSession"; transactions
//! spec "commitTransaction" and "abortTransaction"; convenient API for transactions spec
//! "withTransaction"): the [`ClientSession`] methods that run commands through the client's
//! executor, and the client's side of the session seam ([`SessionClient`]).

use std::any::Any;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;

use crate::api::client::Client;
use crate::error::{Error, ErrorKind, Result};
use crate::executor::{ExecutionContext, RETRYABLE_WRITE_ERROR};
use crate::operation::{AbortTransaction, CommitTransaction, Operation};
use crate::session::transaction::{
    TRANSIENT_TRANSACTION_ERROR, TransactionOptions, TransactionState, UNKNOWN_TRANSACTION_COMMIT_RESULT,
    unpin,
};
use crate::session::{ClientSession, SessionArg, SessionClient, SessionOptions};

/// How long [`ClientSession::with_transaction`] keeps retrying (convenient API spec).
const WITH_TRANSACTION_TIMEOUT: Duration = Duration::from_secs(120);

/// `MaxTimeMSExpired`.
const MAX_TIME_MS_EXPIRED: i32 = 50;
/// `WriteConcernFailed` (a write concern timeout).
const WRITE_CONCERN_FAILED: i32 = 64;
/// Write concern errors that say the write concern is invalid: retrying cannot help, so a
/// commit failing with them is not labeled UnknownTransactionCommitResult.
const UNSATISFIABLE_WRITE_CONCERN: [i32; 2] = [100, 79];

impl SessionClient for Client {
    fn start_session(&self, options: SessionOptions) -> Result<ClientSession> {
        self.executor().start_session(Arc::new(self.clone()), options)
    }

    fn transaction_defaults(&self) -> TransactionOptions {
        let defaults = self.defaults();
        TransactionOptions {
            read_concern: defaults.read_concern.clone(),
            write_concern: defaults.write_concern.clone(),
            read_preference: Some(defaults.read_preference.clone()),
            max_commit_time: None,
        }
    }

    fn abort_in_background(&self, runtime: &tokio::runtime::Handle, mut ending: ClientSession) {
        runtime.spawn(async move {
            let _ = ending.abort_transaction().await;
        });
    }

    fn as_any(&self) -> &dyn Any {
        self
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
            error.contains_label(RETRYABLE_WRITE_ERROR)
                || *code == MAX_TIME_MS_EXPIRED
                || *code == WRITE_CONCERN_FAILED
        }
        _ => error.contains_label(RETRYABLE_WRITE_ERROR),
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
    /// The client that started the session (`None` for the driver's implicit sessions).
    pub fn client(&self) -> Option<&Client> {
        self.session_client().and_then(|c| c.as_any().downcast_ref::<Client>())
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
    async fn run_end<O: Operation<Output = ()>>(
        &mut self,
        op: &mut O,
        timeout: Option<Duration>,
        refresh: bool,
    ) -> Result<()> {
        let Some(client) = self.client().cloned() else {
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
        let inherited = self.client().and_then(|c| c.defaults().timeout);
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
