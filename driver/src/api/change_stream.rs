//! Change streams (change streams spec, "Driver API", "ChangeStream" and "Resume Process"):
//! `watch` on a [`Client`](crate::Client), [`Database`](crate::Database) or
//! [`Collection`](crate::Collection) opens an `aggregate` whose first stage is
//! `$changeStream`; the [`ChangeStream`] tracks the resume token and resumes once after each
//! resumable error of a `getMore`. Events are raw [`Document`]s; [`ChangeStream::events`]
//! gives the typed [`ChangeStreamEvent<T>`] form.

pub mod event;

pub use event::{ChangeNamespace, ChangeStreamEvent, OperationType, TruncatedArray, UpdateDescription};

use std::collections::VecDeque;
use std::future::IntoFuture;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use bson::{Bson, Document, Timestamp, doc};
use futures::future::BoxFuture;
use serde::de::DeserializeOwned;

use crate::api::defaults::Defaults;
use crate::commands::{AggregateCommand, Command, GenericArguments, OpMsgParts};
use crate::connection::StreamDescription;
use crate::error::{Error, ErrorKind, Result};
use crate::executor::{ExecutionContext, Executor, PinnedConnection, SessionArg};
use crate::operation::{CursorSpec, GetMore, KillCursors, Namespace, Operation, cursor_arg};
use crate::options::{ReadConcern, ReadPreference, millis};
use crate::sdam::ServerAddress;
use crate::session::{ClientSession, OpSession};
use crate::topology::SelectionCriteria;

/// The wire version of MongoDB 4.0 (`startAtOperationTime` is saved and used to resume).
const WIRE_VERSION_4_0: i32 = 7;
/// The wire version of MongoDB 4.4 (servers label resumable errors themselves; a change
/// stream's `comment` goes with its getMores).
const WIRE_VERSION_4_4: i32 = 9;

/// `CursorNotFound`: resumable on every server version.
const CURSOR_NOT_FOUND: i32 = 43;

/// The error label servers 4.4+ put on errors a change stream may resume after.
pub const RESUMABLE_CHANGE_STREAM_ERROR: &str = "ResumableChangeStreamError";

/// The server error codes a change stream resumes after on servers before 4.4 (change
/// streams spec "Resumable Error").
pub const RESUMABLE_CODES_BEFORE_4_4: &[i32] = &[
    6,     // HostUnreachable
    7,     // HostNotFound
    89,    // NetworkTimeout
    91,    // ShutdownInProgress
    189,   // PrimarySteppedDown
    262,   // ExceededTimeLimit
    9001,  // SocketException
    10107, // NotWritablePrimary
    11600, // InterruptedAtShutdown
    11602, // InterruptedDueToReplStateChange
    13435, // NotPrimaryNoSecondaryOk
    13436, // NotPrimaryOrSecondary
    63,    // StaleShardVersion
    150,   // StaleEpoch
    13388, // StaleConfig
    234,   // RetryChangeStream
    133,   // FailedToSatisfyReadPreference
];

/// Whether a change stream resumes after `error` from a `getMore` on a server of
/// `wire_version` (change streams spec "Resumable Error"): any error that is not a server
/// error (network errors, a cleared pool), `CursorNotFound`, and otherwise the
/// `ResumableChangeStreamError` label on 4.4+ or one of [`RESUMABLE_CODES_BEFORE_4_4`]
/// before. Errors of the `aggregate` itself are never resumable.
pub fn is_resumable(error: &Error, wire_version: i32) -> bool {
    match &*error.kind {
        ErrorKind::Io { .. }
        | ErrorKind::PoolCleared { .. }
        | ErrorKind::WaitQueueTimeout { .. }
        | ErrorKind::ServerSelection { .. } => true,
        ErrorKind::Command { code, .. } => {
            *code == CURSOR_NOT_FOUND
                || if wire_version >= WIRE_VERSION_4_4 {
                    error.contains_label(RESUMABLE_CHANGE_STREAM_ERROR)
                } else {
                    RESUMABLE_CODES_BEFORE_4_4.contains(code)
                }
        }
        _ => false,
    }
}

/// Options of a change stream (change streams spec `ChangeStreamOptions`). The
/// `$changeStream` stage's options are sent only when set; the server validates them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChangeStreamOptions {
    /// `fullDocument` (`default`, `updateLookup`, `whenAvailable`, `required`).
    pub full_document: Option<String>,
    /// `fullDocumentBeforeChange` (`whenAvailable`, `required`, `off`).
    pub full_document_before_change: Option<String>,
    /// `resumeAfter`: a resume token to start after.
    pub resume_after: Option<Document>,
    /// `startAfter`: a resume token to start after, even past an invalidate (4.2+).
    pub start_after: Option<Document>,
    /// `startAtOperationTime` (4.0+).
    pub start_at_operation_time: Option<Timestamp>,
    /// `showExpandedEvents` (6.0+).
    pub show_expanded_events: Option<bool>,
    /// `maxAwaitTimeMS`: the `maxTimeMS` of each `getMore`.
    pub max_await_time: Option<Duration>,
    /// `batchSize` of the aggregate and of each getMore.
    pub batch_size: Option<i32>,
    /// `collation` of the aggregate.
    pub collation: Option<Document>,
    /// `comment` of the aggregate (and of its getMores on 4.4+).
    pub comment: Option<Bson>,
    /// The read concern (default: the handle's).
    pub read_concern: Option<ReadConcern>,
    /// The read preference of the aggregate and of each resume (default: the handle's).
    pub selection_criteria: Option<ReadPreference>,
}

/// What a change stream watches.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// Every collection of every database (`aggregate: 1` on `admin`, `allChangesForCluster`).
    Cluster,
    /// Every collection of a database (`aggregate: 1`).
    Database(String),
    /// One collection.
    Collection(Namespace),
}

/// The `aggregate` that opens (or resumes) a change stream.
#[derive(Debug, Clone)]
pub struct ChangeStreamAggregate {
    target: Target,
    /// The `$changeStream` stage's options.
    stage: Document,
    pipeline: Vec<Document>,
    batch_size: Option<i32>,
    collation: Option<Document>,
    generic: GenericArguments,
    criteria: SelectionCriteria,
}

/// What the aggregate of a change stream gives back.
#[derive(Debug, Clone)]
pub struct ChangeStreamStart {
    /// The cursor.
    pub cursor: CursorSpec,
    /// `cursor.postBatchResumeToken` (4.0.7+).
    pub post_batch_resume_token: Option<Document>,
    /// The reply's `operationTime`.
    pub operation_time: Option<Timestamp>,
    /// The wire version of the connection the aggregate ran on.
    pub wire_version: i32,
}

impl Operation for ChangeStreamAggregate {
    type Output = ChangeStreamStart;

    fn name(&self) -> &str {
        "aggregate"
    }

    fn build(&mut self, _: &StreamDescription) -> Result<OpMsgParts> {
        let mut pipeline = vec![doc! {"$changeStream": self.stage.clone()}];
        pipeline.extend(self.pipeline.iter().cloned());
        let mut c = match &self.target {
            Target::Cluster => AggregateCommand::on_database("admin", pipeline),
            Target::Database(db) => AggregateCommand::on_database(db, pipeline),
            Target::Collection(ns) => AggregateCommand::new(&ns.db, &ns.coll, pipeline),
        };
        c = c.cursor(cursor_arg(self.batch_size)?);
        if let Some(v) = &self.collation {
            c = c.collation(v.clone());
        }
        c.with_generic_arguments(self.generic.clone()).to_op_msg()
    }

    fn handle_response(
        &mut self,
        reply: Document,
        description: &StreamDescription,
    ) -> Result<ChangeStreamStart> {
        let cursor = CursorSpec::from_initial(&reply, &description.server_address, self.batch_size, None)?;
        Ok(ChangeStreamStart {
            cursor,
            post_batch_resume_token: post_batch_resume_token(&reply)?,
            operation_time: reply.get_timestamp("operationTime").ok(),
            wire_version: description.max_wire_version,
        })
    }

    // Retryable reads spec: the watch helpers' initial aggregate is a retryable read.
    crate::operation::retryable_read!();
}

/// `cursor.postBatchResumeToken` of an aggregate or getMore reply, if present.
fn post_batch_resume_token(reply: &Document) -> Result<Option<Document>> {
    match reply.get_document("cursor").ok().and_then(|c| c.get("postBatchResumeToken")) {
        None => Ok(None),
        Some(Bson::Document(d)) => Ok(Some(d.clone())),
        Some(other) => {
            Err(Error::invalid_response(format!("postBatchResumeToken is not a document: {other}")))
        }
    }
}

/// A change stream's `getMore`: [`GetMore`] plus the batch's `postBatchResumeToken`.
#[derive(Debug, Clone)]
pub struct ChangeStreamGetMore {
    inner: GetMore,
}

/// One `getMore` batch of a change stream.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeStreamBatch {
    /// The change events.
    pub batch: VecDeque<Document>,
    /// The cursor id afterwards (0: the server closed the stream, e.g. after an invalidate).
    pub id: i64,
    /// `cursor.postBatchResumeToken` (4.0.7+).
    pub post_batch_resume_token: Option<Document>,
}

impl Operation for ChangeStreamGetMore {
    type Output = ChangeStreamBatch;

    fn name(&self) -> &str {
        "getMore"
    }

    fn build(&mut self, description: &StreamDescription) -> Result<OpMsgParts> {
        self.inner.build(description)
    }

    fn handle_response(
        &mut self,
        reply: Document,
        description: &StreamDescription,
    ) -> Result<ChangeStreamBatch> {
        let post_batch_resume_token = post_batch_resume_token(&reply)?;
        let result = self.inner.handle_response(reply, description)?;
        Ok(ChangeStreamBatch { batch: result.batch, id: result.id, post_batch_resume_token })
    }
}

/// A stream of change events, deserialized into `T` (change streams spec "ChangeStream").
///
/// [`ChangeStream::next`] waits for the next event; [`ChangeStream::next_if_any`] sends at
/// most one `getMore` and lets the caller read [`ChangeStream::resume_token`] between empty
/// batches. Either resumes the stream once after a resumable error. To keep a resume token
/// across restarts, store [`ChangeStream::resume_token`] after each call to `next_if_any`:
/// it is always the most recent one (the last event's `_id`, or the server's
/// `postBatchResumeToken`).
///
/// ```no_run
/// # async fn demo(coll: mongo_driver::Collection<bson::Document>) -> mongo_driver::Result<()> {
/// let mut stream = coll.watch().pipeline([bson::doc! {"$match": {"operationType": "insert"}}]).await?;
/// while let Some(event) = stream.next().await? {
///     println!("{event}; resume with {:?}", stream.resume_token());
/// }
/// # Ok(()) }
/// ```
pub struct ChangeStream<T = Document> {
    executor: Arc<Executor>,
    /// The aggregate, kept to resume (its `$changeStream` options are rewritten then).
    aggregate: ChangeStreamAggregate,
    /// The options given (to choose the resume option).
    options: ChangeStreamOptions,
    ns: Namespace,
    address: ServerAddress,
    id: i64,
    buffer: VecDeque<Document>,
    /// The current batch's `postBatchResumeToken`.
    post_batch_token: Option<Document>,
    /// The wire version of the connection of the last aggregate.
    wire_version: i32,
    /// The cached resume token ("Updating the Cached Resume Token").
    resume_token: Option<Document>,
    /// `startAtOperationTime` given, or the initial aggregate's `operationTime` (saved per
    /// "startAtOperationTime").
    operation_time: Option<Timestamp>,
    /// Whether an event was returned yet (a `startAfter` stream resumes with `startAfter`
    /// until then).
    returned_any: bool,
    /// The session of every command of the stream (the resume uses the same one).
    session: Option<ClientSession>,
    /// Load-balanced mode: the connection the open cursor is pinned to (its getMores and
    /// killCursors go there; load balancer spec "Behaviour With Cursors").
    pinned: Option<PinnedConnection>,
    operation_id: i64,
    _type: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for ChangeStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeStream")
            .field("ns", &self.ns)
            .field("address", &self.address)
            .field("id", &self.id)
            .field("buffered", &self.buffer.len())
            .field("resume_token", &self.resume_token)
            .finish_non_exhaustive()
    }
}

impl<T> ChangeStream<T> {
    /// The cached resume token: what an automatic resume would use now.
    pub fn resume_token(&self) -> Option<&Document> {
        self.resume_token.as_ref()
    }

    /// The server's cursor id (0 once the server closed the stream or it was closed).
    pub fn id(&self) -> i64 {
        self.id
    }

    /// Whether the stream is still open on the server or has buffered events.
    pub fn is_alive(&self) -> bool {
        self.id != 0 || !self.buffer.is_empty()
    }

    /// The next event if one arrives with at most one `getMore` (after a resumable error,
    /// one resume instead); `None` when that batch is empty or the stream is closed.
    pub async fn next_if_any(&mut self) -> Result<Option<T>>
    where
        T: DeserializeOwned,
    {
        if self.buffer.is_empty() && self.id != 0 {
            match self.get_more().await {
                Ok(()) => {}
                Err(error) if is_resumable(&error, self.wire_version) => {
                    tracing::debug!(target: "mongo_driver::change_stream", %error, "resuming");
                    self.resume().await?;
                }
                Err(error) => return Err(error),
            }
        }
        self.pop()
    }

    /// The next event, waiting for one (`None` only when the server closed the stream).
    pub async fn next(&mut self) -> Result<Option<T>>
    where
        T: DeserializeOwned,
    {
        loop {
            if let Some(event) = self.next_if_any().await? {
                return Ok(Some(event));
            }
            if !self.is_alive() {
                return Ok(None);
            }
        }
    }

    /// The events as a `futures::Stream` (each item as from [`ChangeStream::next`]; it ends
    /// when the server closes the stream). Dropping it closes the change stream.
    pub fn into_stream(self) -> impl futures::Stream<Item = Result<T>> + Send
    where
        T: DeserializeOwned + Send,
    {
        futures::stream::unfold(self, |mut stream| async move {
            match stream.next().await {
                Ok(Some(event)) => Some((Ok(event), stream)),
                Ok(None) => None,
                Err(error) => Some((Err(error), stream)),
            }
        })
    }

    /// Closes the stream: `killCursors` on its server (its errors are ignored).
    pub async fn close(mut self) {
        self.buffer.clear();
        self.kill_cursor().await;
    }

    /// Takes the next buffered event, updating the cached resume token.
    fn pop(&mut self) -> Result<Option<T>>
    where
        T: DeserializeOwned,
    {
        let Some(event) = self.buffer.pop_front() else {
            if let Some(token) = &self.post_batch_token {
                self.resume_token = Some(token.clone());
            }
            return Ok(None);
        };
        let Some(Bson::Document(id)) = event.get("_id") else {
            // Change streams spec: without a resume token the stream cannot resume; close it.
            self.buffer.clear();
            self.kill_in_background();
            return Err(Error::invalid_response(
                "Cannot provide resume functionality when the resume token is missing",
            ));
        };
        self.resume_token = match (&self.post_batch_token, self.buffer.is_empty()) {
            (Some(token), true) => Some(token.clone()),
            _ => Some(id.clone()),
        };
        self.returned_any = true;
        bson::deserialize_from_document(event).map(Some).map_err(|e| {
            Error::invalid_response(format!("cannot deserialize a change event of {}: {e}", self.ns))
        })
    }

    /// Takes over what an aggregate opened (on `pinned`, in load-balanced mode).
    fn adopt(&mut self, start: ChangeStreamStart, pinned: Option<PinnedConnection>) {
        self.pinned = pinned;
        self.ns = start.cursor.ns;
        self.address = start.cursor.address;
        self.id = start.cursor.id;
        self.buffer = start.cursor.first_batch;
        self.post_batch_token = start.post_batch_resume_token;
        self.wire_version = start.wire_version;
        if self.buffer.is_empty()
            && let Some(token) = &self.post_batch_token
        {
            self.resume_token = Some(token.clone());
        }
    }

    async fn get_more(&mut self) -> Result<()> {
        let mut get_more = GetMore::new(
            self.ns.clone(),
            self.id,
            self.options.batch_size,
            self.options.max_await_time.map(millis),
        );
        if self.wire_version >= WIRE_VERSION_4_4
            && let Some(comment) = &self.options.comment
        {
            get_more =
                get_more.generic(GenericArguments { comment: Some(comment.clone()), ..Default::default() });
        }
        let mut op = ChangeStreamGetMore { inner: get_more };
        let result = match &self.pinned {
            Some(pinned) => {
                self.executor.execute_pinned(pinned, &mut op, self.session.as_mut(), self.operation_id).await
            }
            None => {
                self.executor
                    .execute_on_in(&self.address, &mut op, self.session.as_mut(), self.operation_id)
                    .await
            }
        };
        let batch = match result {
            Ok(batch) => batch,
            Err(error) => {
                if self.pinned.is_some() && error.is_network_error() {
                    // The pinned connection is gone, and with it the only way to the cursor.
                    self.pinned = None;
                    self.id = 0;
                }
                return Err(error);
            }
        };
        self.id = batch.id;
        if batch.id == 0 {
            // Exhausted: a pinned connection goes back to the pool.
            self.pinned = None;
        }
        self.buffer = batch.batch;
        self.post_batch_token = batch.post_batch_resume_token;
        if self.buffer.is_empty()
            && let Some(token) = &self.post_batch_token
        {
            self.resume_token = Some(token.clone());
        }
        Ok(())
    }

    /// The resume process: select a server with the original read preference, kill the old
    /// cursor (errors ignored), and run the aggregate again from the cached resume token, or
    /// the saved operation time, or as first sent.
    async fn resume(&mut self) -> Result<()> {
        self.executor.topology().select_server(&self.aggregate.criteria).await?;
        self.buffer.clear();
        self.kill_cursor().await;
        let mut stage = self.aggregate.stage.clone();
        for key in ["resumeAfter", "startAfter", "startAtOperationTime"] {
            stage.remove(key);
        }
        if let Some(token) = &self.resume_token {
            let key = if self.options.start_after.is_some() && !self.returned_any {
                "startAfter"
            } else {
                "resumeAfter"
            };
            stage.insert(key, token.clone());
        } else if let Some(time) = self.operation_time.filter(|_| self.wire_version >= WIRE_VERSION_4_0) {
            stage.insert("startAtOperationTime", time);
        } else {
            stage = self.aggregate.stage.clone();
        }
        let mut op = ChangeStreamAggregate { stage, ..self.aggregate.clone() };
        let arg = match self.session.as_mut() {
            Some(s) => SessionArg::Explicit(s),
            None => SessionArg::None,
        };
        let (start, pinned) = self
            .executor
            .execute_pinning_in(&mut op, &ExecutionContext::default(), arg, self.operation_id, |s| {
                s.cursor.id
            })
            .await?;
        self.adopt(start, pinned);
        Ok(())
    }

    /// `killCursors` for the open server cursor, awaited; errors are ignored.
    async fn kill_cursor(&mut self) {
        // A pinned connection goes back to the pool once the cursor is killed on it.
        let pinned = self.pinned.take();
        if self.id == 0 {
            return;
        }
        let mut op = KillCursors::new(self.ns.clone(), vec![self.id]);
        self.id = 0;
        let session = self.session.as_mut().filter(|s| !s.has_ended());
        let result = match &pinned {
            Some(pinned) => self.executor.execute_pinned(pinned, &mut op, session, self.operation_id).await,
            None => self.executor.execute_on_in(&self.address, &mut op, session, self.operation_id).await,
        };
        if let Err(error) = result {
            tracing::debug!(target: "mongo_driver::change_stream", %error, "killCursors failed (ignored)");
        }
    }

    /// `killCursors` in the background (on drop, or after a fatal error).
    fn kill_in_background(&mut self) {
        let pinned = self.pinned.take();
        if self.id == 0 {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else { return };
        let executor = self.executor.clone();
        let address = self.address.clone();
        let mut op = KillCursors::new(self.ns.clone(), vec![self.id]);
        self.id = 0;
        let operation_id = self.operation_id;
        let mut session = self.session.take();
        handle.spawn(async move {
            let session = session.as_mut().filter(|s| !s.has_ended());
            let result = match &pinned {
                Some(pinned) => executor.execute_pinned(pinned, &mut op, session, operation_id).await,
                None => executor.execute_on_in(&address, &mut op, session, operation_id).await,
            };
            drop(pinned);
            if let Err(error) = result {
                tracing::debug!(target: "mongo_driver::change_stream", %error, "killCursors failed (ignored)");
            }
        });
    }
}

impl<T> Drop for ChangeStream<T> {
    fn drop(&mut self) {
        self.kill_in_background();
    }
}

/// The future of the `watch` helpers ([`crate::Client::watch`], [`crate::Database::watch`],
/// [`crate::Collection::watch`]): chain the pipeline and options, then `.await` it to run the
/// `aggregate` and get the [`ChangeStream`].
#[must_use = "an action does nothing until awaited"]
pub struct Watch<'a> {
    executor: &'a Arc<Executor>,
    target: Target,
    defaults: Defaults,
    pipeline: Vec<Document>,
    options: ChangeStreamOptions,
    session: Option<&'a mut ClientSession>,
}

impl<'a> Watch<'a> {
    fn new(executor: &'a Arc<Executor>, target: Target, defaults: Defaults) -> Self {
        Self {
            executor,
            target,
            defaults,
            pipeline: Vec::new(),
            options: ChangeStreamOptions::default(),
            session: None,
        }
    }

    /// A cluster-wide change stream (of the client whose executor runs it).
    pub(crate) fn cluster(executor: &'a Arc<Executor>, defaults: Defaults) -> Self {
        Self::new(executor, Target::Cluster, defaults)
    }

    /// A change stream of every collection of database `db`.
    pub(crate) fn database(executor: &'a Arc<Executor>, db: &str, defaults: Defaults) -> Self {
        Self::new(executor, Target::Database(db.to_string()), defaults)
    }

    /// A change stream of one collection.
    pub(crate) fn collection(executor: &'a Arc<Executor>, ns: Namespace, defaults: Defaults) -> Self {
        Self::new(executor, Target::Collection(ns), defaults)
    }

    /// Stages appended after `$changeStream` (e.g. `$match`, `$project`).
    pub fn pipeline(mut self, pipeline: impl IntoIterator<Item = Document>) -> Self {
        self.pipeline = pipeline.into_iter().collect();
        self
    }

    /// Runs the stream's commands in an explicit `session` started from this client.
    pub fn session(mut self, session: &'a mut ClientSession) -> Self {
        self.session = Some(session);
        self
    }

    /// Sets every option at once.
    pub fn with_options(mut self, options: ChangeStreamOptions) -> Self {
        self.options = options;
        self
    }

    /// Sets `fullDocument`.
    pub fn full_document(mut self, value: impl Into<String>) -> Self {
        self.options.full_document = Some(value.into());
        self
    }

    /// Sets `fullDocumentBeforeChange`.
    pub fn full_document_before_change(mut self, value: impl Into<String>) -> Self {
        self.options.full_document_before_change = Some(value.into());
        self
    }

    /// Sets `resumeAfter`.
    pub fn resume_after(mut self, token: Document) -> Self {
        self.options.resume_after = Some(token);
        self
    }

    /// Sets `startAfter`.
    pub fn start_after(mut self, token: Document) -> Self {
        self.options.start_after = Some(token);
        self
    }

    /// Sets `startAtOperationTime`.
    pub fn start_at_operation_time(mut self, time: Timestamp) -> Self {
        self.options.start_at_operation_time = Some(time);
        self
    }

    /// Sets `showExpandedEvents`.
    pub fn show_expanded_events(mut self, value: bool) -> Self {
        self.options.show_expanded_events = Some(value);
        self
    }

    /// Sets `maxAwaitTimeMS` (each getMore's `maxTimeMS`).
    pub fn max_await_time(mut self, value: Duration) -> Self {
        self.options.max_await_time = Some(value);
        self
    }

    /// Sets `batchSize`.
    pub fn batch_size(mut self, value: i32) -> Self {
        self.options.batch_size = Some(value);
        self
    }

    /// Sets `collation`.
    pub fn collation(mut self, value: Document) -> Self {
        self.options.collation = Some(value);
        self
    }

    /// Sets `comment`.
    pub fn comment(mut self, value: impl Into<Bson>) -> Self {
        self.options.comment = Some(value.into());
        self
    }

    /// Sets the read concern.
    pub fn read_concern(mut self, value: ReadConcern) -> Self {
        self.options.read_concern = Some(value);
        self
    }

    /// Sets the read preference.
    pub fn selection_criteria(mut self, value: ReadPreference) -> Self {
        self.options.selection_criteria = Some(value);
        self
    }

    /// The `$changeStream` stage's options.
    fn stage(&self) -> Document {
        let o = &self.options;
        let mut stage = Document::new();
        if self.target == Target::Cluster {
            stage.insert("allChangesForCluster", true);
        }
        if let Some(v) = &o.full_document {
            stage.insert("fullDocument", v.clone());
        }
        if let Some(v) = &o.full_document_before_change {
            stage.insert("fullDocumentBeforeChange", v.clone());
        }
        if let Some(v) = &o.resume_after {
            stage.insert("resumeAfter", v.clone());
        }
        if let Some(v) = &o.start_after {
            stage.insert("startAfter", v.clone());
        }
        if let Some(v) = o.start_at_operation_time {
            stage.insert("startAtOperationTime", v);
        }
        if let Some(v) = o.show_expanded_events {
            stage.insert("showExpandedEvents", v);
        }
        stage
    }

    async fn run(self) -> Result<ChangeStream<Document>> {
        // Client-side operations timeout spec "Change Streams": maxAwaitTimeMS must be
        // below a nonzero timeoutMS.
        if let (Some(timeout), Some(max_await)) = (self.defaults.timeout, self.options.max_await_time)
            && !timeout.is_zero()
            && max_await >= timeout
        {
            return Err(Error::invalid_argument(format!(
                "maxAwaitTimeMS ({} ms) must be less than timeoutMS ({} ms)",
                max_await.as_millis(),
                timeout.as_millis()
            )));
        }
        let mut generic = GenericArguments::default();
        if let Some(rc) = self.options.read_concern.as_ref().or(self.defaults.read_concern.as_ref()) {
            generic.read_concern = Some(rc.to_document());
        }
        generic.comment = self.options.comment.clone();
        let rp =
            self.options.selection_criteria.clone().unwrap_or_else(|| self.defaults.read_preference.clone());
        let mut aggregate = ChangeStreamAggregate {
            target: self.target.clone(),
            stage: self.stage(),
            pipeline: self.pipeline.clone(),
            batch_size: self.options.batch_size,
            collation: self.options.collation.clone(),
            generic,
            criteria: SelectionCriteria::Read(rp),
        };
        let executor = self.executor.clone();
        let operation_id = executor.next_operation_id();
        let mut session = OpSession::new(self.session);
        let mut op = aggregate.clone();
        // Client-side operations timeout spec "Change Streams": timeoutMS bounds the aggregate.
        let ctx = ExecutionContext { timeout: self.defaults.timeout, ..ExecutionContext::default() };
        let (start, pinned) =
            executor.execute_pinning_in(&mut op, &ctx, session.arg(), operation_id, |s| s.cursor.id).await?;
        // Resumes rebuild the stage from the options given, not from what the first attempt sent.
        aggregate.stage = op.stage;
        let options = self.options;
        let resume_token = options.start_after.clone().or_else(|| options.resume_after.clone());
        let operation_time = match options.start_at_operation_time {
            Some(t) => Some(t),
            None if resume_token.is_none()
                && start.wire_version >= WIRE_VERSION_4_0
                && start.cursor.first_batch.is_empty()
                && start.post_batch_resume_token.is_none() =>
            {
                start.operation_time
            }
            None => None,
        };
        let mut stream = ChangeStream {
            executor,
            aggregate,
            options,
            ns: start.cursor.ns.clone(),
            address: start.cursor.address.clone(),
            id: 0,
            buffer: VecDeque::new(),
            post_batch_token: None,
            wire_version: start.wire_version,
            resume_token,
            operation_time,
            returned_any: false,
            session: session.into_cursor_session(),
            pinned: None,
            operation_id,
            _type: PhantomData,
        };
        stream.adopt(start, pinned);
        Ok(stream)
    }
}

impl<'a> IntoFuture for Watch<'a> {
    type Output = Result<ChangeStream<Document>>;
    type IntoFuture = BoxFuture<'a, Result<ChangeStream<Document>>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

impl ChangeStream<Document> {
    /// The same stream returning typed events whose documents (`fullDocument`,
    /// `fullDocumentBeforeChange`) deserialize into `T`.
    ///
    /// ```no_run
    /// # #[derive(serde::Deserialize)] struct Order { item: String }
    /// # async fn demo(coll: mongo_driver::Collection<bson::Document>) -> mongo_driver::Result<()> {
    /// use mongo_driver::change_stream::OperationType;
    /// let mut stream = coll.watch().await?.events::<Order>();
    /// while let Some(event) = stream.next().await? {
    ///     if event.operation_type == OperationType::Insert {
    ///         println!("new order: {:?}", event.full_document.map(|o| o.item));
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn events<T>(self) -> ChangeStream<ChangeStreamEvent<T>> {
        self.with_type()
    }
}

impl<T> ChangeStream<T> {
    /// The same stream deserializing its events into `U`.
    pub fn with_type<U>(mut self) -> ChangeStream<U> {
        let session = self.session.take();
        let id = std::mem::replace(&mut self.id, 0);
        ChangeStream {
            executor: self.executor.clone(),
            aggregate: self.aggregate.clone(),
            options: self.options.clone(),
            ns: self.ns.clone(),
            address: self.address.clone(),
            id,
            buffer: std::mem::take(&mut self.buffer),
            post_batch_token: self.post_batch_token.take(),
            wire_version: self.wire_version,
            resume_token: self.resume_token.take(),
            operation_time: self.operation_time,
            returned_any: self.returned_any,
            session,
            pinned: self.pinned.take(),
            operation_id: self.operation_id,
            _type: PhantomData,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command_error(code: i32, labels: &[&str]) -> Error {
        let mut e = Error::command(code, "", "failed");
        for l in labels {
            e.add_label(*l);
        }
        e
    }

    #[test]
    fn resumable_errors_follow_the_wire_version() {
        let network = Error::io("reading", std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert!(is_resumable(&network, 9));
        assert!(is_resumable(&command_error(43, &[]), 9));
        assert!(is_resumable(&command_error(43, &[]), 6));
        // 4.4+: only the label counts.
        assert!(is_resumable(&command_error(280, &[RESUMABLE_CHANGE_STREAM_ERROR]), 9));
        assert!(!is_resumable(&command_error(6, &[]), 9));
        // Before 4.4: only the code list.
        assert!(is_resumable(&command_error(6, &[]), 8));
        assert!(!is_resumable(&command_error(280, &[RESUMABLE_CHANGE_STREAM_ERROR]), 8));
        assert!(!is_resumable(&command_error(11601, &[]), 8));
        assert!(!is_resumable(&Error::invalid_argument("x"), 9));
    }
}
