//! Cursors (find/getMore/killCursors commands spec; CRUD spec "Find"): a [`Cursor`] is a
//! `futures::Stream` of documents that sends `getMore` to the cursor's server when its batch
//! runs out, and `killCursors` when dropped before the server exhausted it. In load-balanced
//! mode both go on the connection the cursor was opened on (load balancer spec "Behaviour
//! With Cursors").

use std::collections::VecDeque;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bson::Document;
use futures::Stream;
use futures::future::BoxFuture;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::executor::{ExecutionContext, Executor, PinnedConnection};
use crate::operation::{CursorSpec, GetMore, GetMoreResult, KillCursors, Namespace};
use crate::sdam::ServerAddress;
use crate::session::ClientSession;

/// What a pending getMore gives back: its result and the cursor's session.
type GetMoreOutput = (Result<GetMoreResult>, Option<ClientSession>);

/// A stream of query results, deserialized into `T`.
///
/// ```no_run
/// # async fn demo(coll: mongo_driver::Collection<bson::Document>) -> mongo_driver::Result<()> {
/// use futures::TryStreamExt;
/// let docs: Vec<bson::Document> = coll.find(bson::doc! {"x": {"$gt": 1}}).batch_size(2).await?.try_collect().await?;
/// # Ok(()) }
/// ```
pub struct Cursor<T> {
    executor: Arc<Executor>,
    ns: Namespace,
    address: ServerAddress,
    id: i64,
    batch_size: Option<i32>,
    max_time_ms: Option<i64>,
    /// The comment each getMore carries (4.4+).
    comment: Option<bson::Bson>,
    /// How many documents the limit still allows (`None`: no limit).
    remaining: Option<i64>,
    operation_id: i64,
    buffer: VecDeque<Document>,
    pending: Option<BoxFuture<'static, GetMoreOutput>>,
    /// The session of the cursor's commands (driver sessions spec "Sessions and Cursors"):
    /// an implicit session it owns (back to the pool once the cursor is exhausted or
    /// killed), or a handle of the application's explicit session.
    session: Option<ClientSession>,
    /// Load-balanced mode: the connection the cursor is pinned to while it is open (and,
    /// after a getMore failed, until it is closed).
    pinned: Option<PinnedConnection>,
    /// A getMore on the pinned connection failed: no more getMores (the cursor is still
    /// killed on close unless the error was a network error).
    failed: bool,
    _type: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for Cursor<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cursor")
            .field("ns", &self.ns)
            .field("address", &self.address)
            .field("id", &self.id)
            .field("buffered", &self.buffer.len())
            .finish_non_exhaustive()
    }
}

impl<T> Cursor<T> {
    /// A cursor over what the server opened with `spec`.
    pub(crate) fn new(executor: Arc<Executor>, spec: CursorSpec, operation_id: i64) -> Self {
        Self {
            executor,
            ns: spec.ns,
            address: spec.address,
            id: spec.id,
            batch_size: spec.batch_size,
            max_time_ms: spec.max_await_time_ms,
            comment: spec.comment,
            remaining: spec.limit.map(|l| l - spec.first_batch.len() as i64),
            operation_id,
            buffer: spec.first_batch,
            pending: None,
            session: None,
            pinned: None,
            failed: false,
            _type: PhantomData,
        }
    }

    /// The cursor pinned to `connection` (load-balanced mode), while the server cursor is open.
    pub(crate) fn with_pinned(mut self, connection: Option<PinnedConnection>) -> Self {
        if self.id != 0 {
            self.pinned = connection;
        }
        self
    }

    /// The cursor with the session its getMores run in (kept only while the server cursor
    /// is open).
    pub(crate) fn with_session(mut self, session: Option<ClientSession>) -> Self {
        if self.id != 0 {
            self.session = session;
        }
        self
    }

    /// The server's cursor id (0 once the server has no more results).
    pub fn id(&self) -> i64 {
        self.id
    }

    /// The server holding the cursor.
    pub fn address(&self) -> &ServerAddress {
        &self.address
    }

    /// The cursor's namespace.
    pub fn namespace(&self) -> &Namespace {
        &self.ns
    }

    /// Whether every result was received and consumed.
    pub fn is_exhausted(&self) -> bool {
        (self.id == 0 || self.failed) && self.buffer.is_empty()
    }

    /// The documents received but not yet consumed.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// Closes the cursor now: `killCursors` on its server when it is still open there,
    /// awaited (its errors are ignored, as on drop).
    pub async fn close(mut self) {
        self.buffer.clear();
        // A getMore in flight is abandoned with its connection.
        self.pending = None;
        if self.id == 0 {
            return;
        }
        let mut op = KillCursors::new(self.ns.clone(), vec![self.id]);
        self.id = 0;
        let session = self.session.as_mut().filter(|s| !s.has_ended());
        let result = match (&self.pinned, session) {
            (Some(pinned), session) => {
                self.executor.execute_pinned(pinned, &mut op, session, self.operation_id).await
            }
            (None, Some(s)) => {
                self.executor.execute_on_in(&self.address, &mut op, Some(s), self.operation_id).await
            }
            (None, None) => {
                let ctx = ExecutionContext::default();
                self.executor.execute_on(&self.address, &mut op, &ctx, self.operation_id).await
            }
        };
        if let Err(error) = result {
            tracing::debug!(target: "mongo_driver::cursor", %error, "killCursors failed");
        }
        // The pinned connection goes back to the pool whatever killCursors gave.
        self.pinned = None;
    }

    fn get_more(&mut self) -> BoxFuture<'static, GetMoreOutput> {
        let executor = self.executor.clone();
        let address = self.address.clone();
        // find/getMore spec: never ask for more than the limit leaves.
        let batch_size = match self.remaining {
            Some(left) => {
                let left = i32::try_from(left.max(1)).unwrap_or(i32::MAX);
                Some(self.batch_size.filter(|b| *b > 0).map_or(left, |b| b.min(left)))
            }
            None => self.batch_size,
        };
        let mut op = GetMore::new(self.ns.clone(), self.id, batch_size, self.max_time_ms)
            .comment(self.comment.clone());
        let operation_id = self.operation_id;
        let mut session = self.session.take();
        let pinned = self.pinned.clone();
        Box::pin(async move {
            let result = match (pinned, session.as_mut()) {
                (Some(pinned), session) => {
                    executor.execute_pinned(&pinned, &mut op, session, operation_id).await
                }
                (None, Some(s)) => executor.execute_on_in(&address, &mut op, Some(s), operation_id).await,
                (None, None) => {
                    executor.execute_on(&address, &mut op, &ExecutionContext::default(), operation_id).await
                }
            };
            (result, session)
        })
    }
}

impl<T: DeserializeOwned> Stream for Cursor<T> {
    type Item = Result<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(doc) = this.buffer.pop_front() {
                let item = bson::deserialize_from_document(doc).map_err(|e| {
                    Error::invalid_response(format!("cannot deserialize a result of {}: {e}", this.ns))
                });
                return Poll::Ready(Some(item));
            }
            if this.id == 0 || this.failed {
                return Poll::Ready(None);
            }
            if this.pending.is_none() {
                this.pending = Some(this.get_more());
            }
            let Some(pending) = this.pending.as_mut() else { continue };
            match pending.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready((result, session)) => {
                    this.pending = None;
                    match result {
                        Ok(GetMoreResult { batch, id }) => {
                            this.id = id;
                            if let Some(left) = this.remaining.as_mut() {
                                *left -= batch.len() as i64;
                            }
                            this.buffer = batch;
                            // Exhausted: an implicit session goes back to the pool now, and
                            // a pinned connection too.
                            this.session = if id == 0 { None } else { session };
                            if id == 0 {
                                this.pinned = None;
                            }
                        }
                        Err(error) if this.pinned.is_some() => {
                            // Load balancer spec "Behaviour With Cursors": the connection stays
                            // pinned until the cursor is closed, which kills the cursor on it
                            // unless the connection itself failed.
                            this.failed = true;
                            if error.is_network_error() {
                                this.id = 0;
                            }
                            this.session = session;
                            return Poll::Ready(Some(Err(error)));
                        }
                        Err(error) => {
                            // The server's cursor is in an unknown state: do not getMore again
                            // and do not kill it on drop (find/getMore spec leaves it to time out).
                            this.id = 0;
                            drop(session);
                            return Poll::Ready(Some(Err(error)));
                        }
                    }
                }
            }
        }
    }
}

impl<T> Drop for Cursor<T> {
    fn drop(&mut self) {
        if self.id == 0 {
            // A pinned connection (kept after a network error) goes back to the pool.
            return;
        }
        // Closed early: killCursors in the background on the cursor's server. A getMore
        // still in flight is dropped with its connection (which is then closed as broken).
        let Ok(handle) = tokio::runtime::Handle::try_current() else { return };
        let executor = self.executor.clone();
        let address = self.address.clone();
        let mut op = KillCursors::new(self.ns.clone(), vec![self.id]);
        let operation_id = self.operation_id;
        // The session goes with killCursors; an implicit one returns to the pool after it.
        let mut session = self.session.take();
        // So does a pinned connection (load-balanced mode).
        let pinned = self.pinned.take();
        handle.spawn(async move {
            let usable = session.as_mut().filter(|s| !s.has_ended());
            let result = match (&pinned, usable) {
                (Some(pinned), session) => {
                    executor.execute_pinned(pinned, &mut op, session, operation_id).await
                }
                // An explicit session the application ended meanwhile: kill without it.
                (None, Some(s)) => executor.execute_on_in(&address, &mut op, Some(s), operation_id).await,
                (None, None) => {
                    executor.execute_on(&address, &mut op, &ExecutionContext::default(), operation_id).await
                }
            };
            drop(pinned);
            if let Err(error) = result {
                tracing::debug!(target: "mongo_driver::cursor", %error, "killCursors failed");
            }
            drop(session);
        });
    }
}
