//! The client session (driver sessions spec "ClientSession"; causal consistency spec; snapshot
//! reads spec): its options, its cluster and operation times, its server session, and ending
//! it.

use std::any::Any;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bson::{Document, Timestamp};

use super::cluster_time::cluster_timestamp;
use super::transaction::{Transaction, TransactionOptions, TransactionState};
use super::{ServerSession, ServerSessionPool};
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
    pub(crate) transaction: Transaction,
}

/// What a session needs from the client that started it. The API's `Client` implements it:
/// the session layer sits below the client and the executor, so it names them only through
/// this trait (the dependency is inverted).
pub(crate) trait SessionClient: fmt::Debug + Send + Sync {
    /// Starts an explicit session with `options` (driver sessions spec "startSession").
    fn start_session(&self, options: SessionOptions) -> Result<ClientSession>;

    /// The client's read concern, write concern and read preference: what a transaction's
    /// unset options inherit last (transactions spec "startTransaction").
    fn transaction_defaults(&self) -> TransactionOptions;

    /// Aborts, on `runtime`, the transaction that `ending` had in progress when it ended
    /// (transactions spec "endSession changes"; errors ignored).
    fn abort_in_background(&self, runtime: &tokio::runtime::Handle, ending: ClientSession);

    /// The client itself, for [`ClientSession::client`].
    fn as_any(&self) -> &dyn Any;
}

/// A client session (driver sessions spec "ClientSession"): pass it to operations with their
/// `.session(&mut session)` setter; it must come from the same [`Client`](crate::Client). Dropping it (or
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
    /// The client that started it (`None` for implicit sessions).
    client: Option<Arc<dyn SessionClient>>,
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
        client: Option<Arc<dyn SessionClient>>,
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
                transaction: Transaction::default(),
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

    /// The client that started the session, as the session layer sees it (`None` for the
    /// driver's implicit sessions); [`ClientSession::client`] is the typed `Client`.
    pub(crate) fn session_client(&self) -> Option<&Arc<dyn SessionClient>> {
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
            let mut ending = ClientSession::new(
                server,
                self.pool.clone(),
                Some(client.clone()),
                self.options.clone(),
                false,
            );
            ending.abort_on_end = false;
            ending.state().transaction = transaction;
            client.abort_in_background(&runtime, ending);
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

#[cfg(test)]
mod tests {
    use bson::doc;

    use super::*;
    use crate::session::greater_cluster_time;

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
