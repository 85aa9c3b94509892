//! Sessions (driver sessions spec; causal consistency spec; snapshot reads spec): the public
//! [`ClientSession`] with its options, cluster time and operation time, and the
//! [`ServerSessionPool`] the client keeps. The executor ([`crate::executor`]) is the one place
//! that attaches sessions to commands (implicit sessions, `lsid`, `txnNumber`, `$clusterTime`,
//! `afterClusterTime`, `atClusterTime`) and reads their replies.
//!
//! A `ClientSession` is for one task at a time (like every driver's, it is not meant for
//! concurrent use). A session unused for a minute less than the server's
//! `logicalSessionTimeoutMinutes` may be stale on the server. Unacknowledged writes
//! (`w: 0`) never carry a session id: with an explicit session they are refused, and they get
//! no implicit session; causally consistent reads are therefore not ordered after them.

mod pool;
pub mod transaction;

pub use pool::{ServerSession, ServerSessionPool};
pub use transaction::{TransactionOptions, TransactionState};

use std::future::IntoFuture;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bson::{Document, Timestamp};
use futures::future::BoxFuture;

use crate::api::client::Client;
use crate::error::{Error, Result};

/// Options of a session (driver sessions, causal consistency and snapshot reads specs).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionOptions {
    /// Causally consistent reads (default: true unless `snapshot`).
    pub causal_consistency: Option<bool>,
    /// Snapshot reads (default: false; not together with `causal_consistency: true`).
    pub snapshot: Option<bool>,
    /// The default options of transactions started on the session (transactions spec
    /// "defaultTransactionOptions").
    pub default_transaction_options: Option<TransactionOptions>,
    /// `defaultTimeoutMS` (client-side operations timeout spec "Sessions"): the `timeoutMS`
    /// of the session's `commitTransaction`, `abortTransaction` and `withTransaction`
    /// (`None`: the client's `timeoutMS`; zero: no limit).
    pub default_timeout: Option<std::time::Duration>,
}

/// The `clusterTime` timestamp of a `$clusterTime` document.
pub(crate) fn cluster_timestamp(doc: &Document) -> Option<Timestamp> {
    doc.get_timestamp("clusterTime").ok()
}

/// The greater of two `$clusterTime` documents (by their `clusterTime`).
pub(crate) fn greater_cluster_time<'a>(
    a: Option<&'a Document>,
    b: Option<&'a Document>,
) -> Option<&'a Document> {
    match (a, b) {
        (Some(x), Some(y)) => {
            if cluster_timestamp(y) > cluster_timestamp(x) {
                Some(y)
            } else {
                Some(x)
            }
        }
        (x, None) => x,
        (None, y) => y,
    }
}

/// What a session tracks besides its fixed id and options.
#[derive(Debug)]
pub(crate) struct SessionState {
    /// The server session (`None` once the session ended).
    pub(crate) server: Option<ServerSession>,
    pub(crate) cluster_time: Option<Document>,
    pub(crate) operation_time: Option<Timestamp>,
    /// The snapshot's `atClusterTime`, from the first snapshot read's reply.
    pub(crate) snapshot_time: Option<Timestamp>,
    /// The latest transaction (transactions spec).
    pub(crate) transaction: transaction::Transaction,
}

/// A client session (driver sessions spec "ClientSession"): pass it to operations with their
/// `.session(&mut session)` setter; it must come from the same [`Client`]. Dropping it (or
/// [`ClientSession::end_session`]) returns its server session to the client's pool.
///
/// ```no_run
/// # async fn demo(client: mongo_driver::Client) -> mongo_driver::Result<()> {
/// use bson::{Document, doc};
/// let mut session = client.start_session().causal_consistency(true).await?;
/// let coll = client.database("app").collection::<Document>("items");
/// coll.insert_one(doc! {"x": 1}).session(&mut session).await?;
/// // Reads after the write in this session: `afterClusterTime` is the write's operationTime.
/// let _ = coll.find_one(doc! {"x": 1}).session(&mut session).await?;
/// session.end_session();
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ClientSession {
    id: Document,
    options: SessionOptions,
    state: Arc<Mutex<SessionState>>,
    pool: Arc<ServerSessionPool>,
    client: Option<Client>,
    /// Whether this handle owns the server session (returns it when dropped): false for the
    /// handle a cursor keeps of an explicit session.
    owner: bool,
    implicit: bool,
    /// Whether ending the session aborts a transaction in progress (false for the session
    /// that runs that abort, so that dropping it unpolled cannot start another).
    abort_on_end: bool,
}

impl ClientSession {
    pub(crate) fn new(
        server: ServerSession,
        pool: Arc<ServerSessionPool>,
        client: Option<Client>,
        options: SessionOptions,
        implicit: bool,
    ) -> Self {
        Self {
            id: server.id().clone(),
            options,
            state: Arc::new(Mutex::new(SessionState {
                server: Some(server),
                cluster_time: None,
                operation_time: None,
                snapshot_time: None,
                transaction: transaction::Transaction::default(),
            })),
            pool,
            client,
            owner: true,
            implicit,
            abort_on_end: true,
        }
    }

    /// A non-owning handle to the same session (a cursor's getMores run in it).
    pub(crate) fn handle(&self) -> Self {
        Self {
            id: self.id.clone(),
            options: self.options.clone(),
            state: self.state.clone(),
            pool: self.pool.clone(),
            client: self.client.clone(),
            owner: false,
            implicit: self.implicit,
            abort_on_end: self.abort_on_end,
        }
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, SessionState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the driver started it for one operation.
    pub(crate) fn is_implicit(&self) -> bool {
        self.implicit
    }

    /// The session id (`lsid`).
    pub fn id(&self) -> &Document {
        &self.id
    }

    /// The client that started the session (`None` for the driver's implicit sessions).
    pub fn client(&self) -> Option<&Client> {
        self.client.as_ref()
    }

    /// The options the session was started with.
    pub fn options(&self) -> &SessionOptions {
        &self.options
    }

    /// Whether reads are causally consistent (causal consistency spec: default true, false
    /// for snapshot sessions; never for implicit sessions, e.g. the one a change stream keeps
    /// for its resumes).
    pub fn causal_consistency(&self) -> bool {
        !self.implicit && self.options.causal_consistency.unwrap_or(!self.is_snapshot())
    }

    /// Whether this is a snapshot session.
    pub fn is_snapshot(&self) -> bool {
        self.options.snapshot.unwrap_or(false)
    }

    /// The highest `$clusterTime` this session has seen (or was advanced to).
    pub fn cluster_time(&self) -> Option<Document> {
        self.state().cluster_time.clone()
    }

    /// The `operationTime` of the session's latest operation (or what it was advanced to).
    pub fn operation_time(&self) -> Option<Timestamp> {
        self.state().operation_time
    }

    /// The snapshot time of a snapshot session, once its first read replied.
    pub fn snapshot_time(&self) -> Option<Timestamp> {
        self.state().snapshot_time
    }

    /// Advances the session's cluster time to `cluster_time` if it is greater (never the
    /// client's: driver sessions spec "advanceClusterTime").
    pub fn advance_cluster_time(&mut self, cluster_time: &Document) {
        self.advance_cluster_time_shared(cluster_time);
    }

    pub(crate) fn advance_cluster_time_shared(&self, cluster_time: &Document) {
        let Some(new) = cluster_timestamp(cluster_time) else { return };
        let mut state = self.state();
        if state.cluster_time.as_ref().and_then(cluster_timestamp).is_none_or(|old| new > old) {
            state.cluster_time = Some(cluster_time.clone());
        }
    }

    /// Advances the session's operation time to `operation_time` if it is greater.
    pub fn advance_operation_time(&mut self, operation_time: Timestamp) {
        self.advance_operation_time_shared(operation_time);
    }

    pub(crate) fn advance_operation_time_shared(&self, operation_time: Timestamp) {
        let mut state = self.state();
        if state.operation_time.is_none_or(|old| operation_time > old) {
            state.operation_time = Some(operation_time);
        }
    }

    /// Whether a network error made the server session dirty (it will not be reused).
    pub fn is_dirty(&self) -> bool {
        self.state().server.as_ref().is_some_and(ServerSession::is_dirty)
    }

    /// Whether the session has ended.
    pub fn has_ended(&self) -> bool {
        self.state().server.is_none()
    }

    /// Ends the session: its server session goes back to the client's pool (or is
    /// discarded if dirty or about to expire). Later calls do nothing; operations with an
    /// ended session fail.
    pub fn end_session(&mut self) {
        self.end();
    }

    fn end(&self) {
        let (server, in_progress) = {
            let mut state = self.state();
            let in_progress = self.abort_on_end && state.transaction.state == TransactionState::InProgress;
            (state.server.take(), in_progress.then(|| std::mem::take(&mut state.transaction)))
        };
        let Some(server) = server else { return };
        // Transactions spec "endSession changes": a transaction in progress is aborted (its
        // errors ignored); the server session returns to the pool once the abort is done.
        if let (Some(transaction), Some(client), Ok(runtime)) =
            (in_progress, self.client.clone(), tokio::runtime::Handle::try_current())
        {
            let mut ending =
                ClientSession::new(server, self.pool.clone(), Some(client), self.options.clone(), false);
            ending.abort_on_end = false;
            ending.state().transaction = transaction;
            runtime.spawn(async move {
                let _ = ending.abort_transaction().await;
            });
            return;
        }
        self.pool.release(server);
    }

    /// Fails if the session has ended or does not belong to the client whose pool is `pool`.
    pub(crate) fn check_usable(&self, pool: &Arc<ServerSessionPool>) -> Result<()> {
        if !Arc::ptr_eq(&self.pool, pool) {
            return Err(Error::invalid_argument(
                "the session was started by another client than the one running the operation",
            ));
        }
        if self.has_ended() {
            return Err(Error::invalid_argument("cannot use a session that has ended"));
        }
        Ok(())
    }
}

impl Drop for ClientSession {
    fn drop(&mut self) {
        if self.owner {
            self.end();
        }
    }
}

/// The session of one operation: the application's explicit session, or an implicit slot
/// the executor fills after check-out and that is kept across the operation's commands (a
/// bulk write's batches, a cursor's getMores).
#[derive(Debug, Default)]
pub(crate) struct OpSession<'a> {
    explicit: Option<&'a mut ClientSession>,
    implicit: Option<ClientSession>,
}

impl<'a> OpSession<'a> {
    pub(crate) fn new(explicit: Option<&'a mut ClientSession>) -> Self {
        Self { explicit, implicit: None }
    }

    /// The argument for one command of the operation.
    pub(crate) fn arg(&mut self) -> crate::executor::SessionArg<'_> {
        match &mut self.explicit {
            Some(s) => crate::executor::SessionArg::Explicit(s),
            None => crate::executor::SessionArg::Implicit(&mut self.implicit),
        }
    }

    /// What a cursor keeps: a handle of the explicit session, or the implicit session.
    pub(crate) fn into_cursor_session(self) -> Option<ClientSession> {
        match self.explicit {
            Some(s) => Some(s.handle()),
            None => self.implicit,
        }
    }
}

/// The future of [`Client::start_session`]: chain option setters, then `.await` it.
#[must_use = "an action does nothing until awaited"]
pub struct StartSession<'a> {
    client: &'a Client,
    options: SessionOptions,
}

impl<'a> StartSession<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Self { client, options: SessionOptions::default() }
    }

    /// Sets `causalConsistency`.
    pub fn causal_consistency(mut self, value: bool) -> Self {
        self.options.causal_consistency = Some(value);
        self
    }

    /// Sets `snapshot`.
    pub fn snapshot(mut self, value: bool) -> Self {
        self.options.snapshot = Some(value);
        self
    }

    /// Sets the default transaction options.
    pub fn default_transaction_options(mut self, value: TransactionOptions) -> Self {
        self.options.default_transaction_options = Some(value);
        self
    }

    /// Sets `defaultTimeoutMS`: the `timeoutMS` of the session's `commitTransaction`,
    /// `abortTransaction` and `withTransaction` (zero: no limit); unset, the client's.
    pub fn default_timeout(mut self, value: std::time::Duration) -> Self {
        self.options.default_timeout = Some(value);
        self
    }

    /// Sets every option at once.
    pub fn with_options(mut self, options: SessionOptions) -> Self {
        self.options = options;
        self
    }
}

impl<'a> IntoFuture for StartSession<'a> {
    type Output = Result<ClientSession>;
    type IntoFuture = BoxFuture<'a, Result<ClientSession>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move { self.client.executor().start_session(self.client, self.options) })
    }
}

#[cfg(test)]
mod tests {
    use bson::doc;

    use super::*;

    fn session() -> ClientSession {
        let pool = Arc::new(ServerSessionPool::new());
        ClientSession::new(pool.acquire(), pool, None, SessionOptions::default(), false)
    }

    #[test]
    fn advancing_only_moves_forward() {
        let mut s = session();
        assert_eq!(s.operation_time(), None);
        assert_eq!(s.cluster_time(), None);
        let t = |time| Timestamp { time, increment: 1 };
        s.advance_operation_time(t(5));
        s.advance_operation_time(t(3));
        assert_eq!(s.operation_time(), Some(t(5)));
        let ct = |time| doc! {"clusterTime": t(time), "signature": {"keyId": 0_i64}};
        s.advance_cluster_time(&ct(7));
        s.advance_cluster_time(&ct(6));
        assert_eq!(s.cluster_time(), Some(ct(7)));
        assert_eq!(greater_cluster_time(Some(&ct(1)), Some(&ct(2))), Some(&ct(2)));
        assert_eq!(greater_cluster_time(None, Some(&ct(2))), Some(&ct(2)));
    }

    #[test]
    fn ending_returns_the_server_session_once() {
        let mut s = session();
        let pool = s.pool.clone();
        let handle = s.handle();
        drop(handle);
        assert!(pool.is_empty(), "a non-owning handle does not end the session");
        s.end_session();
        s.end_session();
        assert_eq!(pool.len(), 1);
        assert!(s.has_ended());
        assert!(s.check_usable(&pool).is_err());
        drop(s);
        assert_eq!(pool.len(), 1);
        assert!(session().check_usable(&pool).is_err(), "another pool is another client");
    }
}
