//! Collections (CRUD spec "Collection"): typed CRUD on `Collection<T>`. Each method returns
//! an action: chain its option setters, then `.await` it (the actions implement
//! `IntoFuture`), e.g. `coll.find(filter).sort(doc! {"x": 1}).limit(5).await?`.

use std::collections::{BTreeMap, BTreeSet};
use std::future::IntoFuture;
use std::marker::PhantomData;

use bson::oid::ObjectId;
use bson::{Bson, Document, doc};
use futures::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::client::{Client, Defaults};
use crate::api::cursor::Cursor;
use crate::commands::GenericArguments;
use crate::error::{Error, ErrorKind, Result};
use crate::executor::{ExecutionContext, Executor};
use crate::operation::{self, BatchedWrite, Modification, Namespace, WriteBatchOutcome};
use crate::options::{
    AggregateOptions, BulkWriteOptions, CountOptions, DeleteOptions, DistinctOptions, DropCollectionOptions,
    EstimatedDocumentCountOptions, FindOneAndModifyOptions, FindOptions, Hint, InsertManyOptions,
    InsertOneOptions, ReadConcern, ReadPreference, UpdateOptions, WriteConcern,
};
use crate::results::{
    BulkWriteFailure, BulkWriteResult, DeleteResult, InsertManyResult, InsertOneResult, UpdateResult,
};
use crate::session::{ClientSession, OpSession};
use crate::topology::SelectionCriteria;

mod admin_actions;
mod read_actions;
mod write_actions;

pub use admin_actions::*;
pub use read_actions::*;
pub use write_actions::*;

/// `NamespaceNotFound`: dropping a collection that does not exist is not an error.
const NAMESPACE_NOT_FOUND: i32 = 26;

/// A handle to a collection whose documents (de)serialize as `T` (cheap to clone).
pub struct Collection<T> {
    client: Client,
    ns: Namespace,
    defaults: Defaults,
    _type: PhantomData<fn() -> T>,
}

impl<T> Clone for Collection<T> {
    fn clone(&self) -> Self {
        Self {
            client: self.client.clone(),
            ns: self.ns.clone(),
            defaults: self.defaults.clone(),
            _type: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for Collection<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collection").field("ns", &self.ns).field("defaults", &self.defaults).finish()
    }
}

/// An update: an update document (`{$set: …}`) or an aggregation pipeline.
#[derive(Debug, Clone, PartialEq)]
pub enum UpdateModifications {
    /// An update document whose keys are update operators.
    Document(Document),
    /// An update pipeline.
    Pipeline(Vec<Document>),
}

impl From<Document> for UpdateModifications {
    fn from(d: Document) -> Self {
        Self::Document(d)
    }
}

impl From<Vec<Document>> for UpdateModifications {
    fn from(p: Vec<Document>) -> Self {
        Self::Pipeline(p)
    }
}

impl UpdateModifications {
    /// CRUD spec "Update vs. Replace Validation": an update document's first key must be an
    /// operator.
    fn validate(&self) -> Result<()> {
        match self {
            Self::Document(d) => match d.keys().next() {
                Some(k) if k.starts_with('$') => Ok(()),
                Some(k) => Err(Error::invalid_argument(format!(
                    "an update document must contain only update operators, but starts with `{k}`"
                ))),
                None => Err(Error::invalid_argument("an update document must not be empty")),
            },
            Self::Pipeline(_) => Ok(()),
        }
    }

    fn to_bson(&self) -> Bson {
        match self {
            Self::Document(d) => Bson::Document(d.clone()),
            Self::Pipeline(p) => Bson::Array(p.iter().cloned().map(Bson::Document).collect()),
        }
    }
}

/// CRUD spec "Update vs. Replace Validation": a replacement's first key must not be an operator.
fn validate_replacement(replacement: &Document) -> Result<()> {
    match replacement.keys().next() {
        Some(k) if k.starts_with('$') => Err(Error::invalid_argument(format!(
            "a replacement document must not contain update operators (`{k}`)"
        ))),
        _ => Ok(()),
    }
}

/// One write of a collection-level [`Collection::bulk_write`] (CRUD spec "Write Models").
/// Options left `None` are not sent. The constructors ([`WriteModel::update_one`], …) build a
/// model without options.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteModel {
    /// Inserts a document (an `_id` is generated when missing).
    InsertOne {
        /// The document.
        document: Document,
    },
    /// Updates the first matching document.
    UpdateOne {
        /// The filter.
        filter: Document,
        /// The update.
        update: UpdateModifications,
        /// Insert when nothing matches.
        upsert: Option<bool>,
        /// Which array elements an update operator applies to.
        array_filters: Option<Vec<Document>>,
        /// The collation.
        collation: Option<Document>,
        /// The index to use (update hints need MongoDB 4.2, or 4.2 too when unacknowledged).
        hint: Option<Hint>,
    },
    /// Updates every matching document.
    UpdateMany {
        /// The filter.
        filter: Document,
        /// The update.
        update: UpdateModifications,
        /// Insert when nothing matches.
        upsert: Option<bool>,
        /// Which array elements an update operator applies to.
        array_filters: Option<Vec<Document>>,
        /// The collation.
        collation: Option<Document>,
        /// The index to use.
        hint: Option<Hint>,
    },
    /// Replaces the first matching document.
    ReplaceOne {
        /// The filter.
        filter: Document,
        /// The replacement.
        replacement: Document,
        /// Insert when nothing matches.
        upsert: Option<bool>,
        /// The collation.
        collation: Option<Document>,
        /// The index to use.
        hint: Option<Hint>,
    },
    /// Deletes the first matching document.
    DeleteOne {
        /// The filter.
        filter: Document,
        /// The collation.
        collation: Option<Document>,
        /// The index to use (delete hints need MongoDB 4.4 when unacknowledged).
        hint: Option<Hint>,
    },
    /// Deletes every matching document.
    DeleteMany {
        /// The filter.
        filter: Document,
        /// The collation.
        collation: Option<Document>,
        /// The index to use.
        hint: Option<Hint>,
    },
}

impl WriteModel {
    /// An [`WriteModel::InsertOne`].
    pub fn insert_one(document: Document) -> Self {
        Self::InsertOne { document }
    }

    /// An [`WriteModel::UpdateOne`] without options.
    pub fn update_one(filter: Document, update: impl Into<UpdateModifications>) -> Self {
        Self::UpdateOne {
            filter,
            update: update.into(),
            upsert: None,
            array_filters: None,
            collation: None,
            hint: None,
        }
    }

    /// An [`WriteModel::UpdateMany`] without options.
    pub fn update_many(filter: Document, update: impl Into<UpdateModifications>) -> Self {
        Self::UpdateMany {
            filter,
            update: update.into(),
            upsert: None,
            array_filters: None,
            collation: None,
            hint: None,
        }
    }

    /// An [`WriteModel::ReplaceOne`] without options.
    pub fn replace_one(filter: Document, replacement: Document) -> Self {
        Self::ReplaceOne { filter, replacement, upsert: None, collation: None, hint: None }
    }

    /// An [`WriteModel::DeleteOne`] without options.
    pub fn delete_one(filter: Document) -> Self {
        Self::DeleteOne { filter, collation: None, hint: None }
    }

    /// An [`WriteModel::DeleteMany`] without options.
    pub fn delete_many(filter: Document) -> Self {
        Self::DeleteMany { filter, collation: None, hint: None }
    }
}

/// Which write command a model goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriteKind {
    Insert,
    Update,
    Delete,
}

/// Serializes a `T` into a document.
fn to_document<T: Serialize>(value: &T) -> Result<Document> {
    bson::serialize_to_document(value)
        .map_err(|e| Error::invalid_argument(format!("cannot serialize the document: {e}")))
}

/// Gives `doc` an `_id` (a new ObjectId, first) when it has none; returns the `_id`.
fn ensure_id(doc: &mut Document) -> Bson {
    if let Some(id) = doc.get("_id") {
        return id.clone();
    }
    let id = Bson::ObjectId(ObjectId::new());
    let mut with_id = doc! {"_id": id.clone()};
    with_id.extend(std::mem::take(doc));
    *doc = with_id;
    id
}

/// One update statement (server write commands spec "update").
fn update_statement(
    filter: Document,
    update: Bson,
    multi: bool,
    options: &UpdateOptions,
    replacement: bool,
) -> Document {
    let mut s = doc! {"q": filter, "u": update};
    if let Some(v) = options.upsert {
        s.insert("upsert", v);
    }
    if multi {
        s.insert("multi", true);
    }
    if !replacement && let Some(v) = &options.array_filters {
        s.insert("arrayFilters", v.iter().cloned().map(Bson::Document).collect::<Vec<_>>());
    }
    if let Some(v) = &options.collation {
        s.insert("collation", v.clone());
    }
    if let Some(v) = &options.hint {
        s.insert("hint", Bson::from(v.clone()));
    }
    s
}

/// One delete statement.
fn delete_statement(
    filter: Document,
    multi: bool,
    collation: Option<&Document>,
    hint: Option<&Hint>,
) -> Document {
    let mut s = doc! {"q": filter, "limit": if multi { 0 } else { 1 }};
    if let Some(v) = collation {
        s.insert("collation", v.clone());
    }
    if let Some(v) = hint {
        s.insert("hint", Bson::from(v.clone()));
    }
    s
}

impl<T: Send + Sync> Collection<T> {
    pub(crate) fn new(client: Client, ns: Namespace, defaults: Defaults) -> Self {
        Self { client, ns, defaults, _type: PhantomData }
    }

    /// The collection's name.
    pub fn name(&self) -> &str {
        &self.ns.coll
    }

    /// The namespace (`db.coll`).
    pub fn namespace(&self) -> &Namespace {
        &self.ns
    }

    /// This collection with documents typed as `U`.
    pub fn clone_with_type<U: Send + Sync>(&self) -> Collection<U> {
        Collection::new(self.client.clone(), self.ns.clone(), self.defaults.clone())
    }

    /// This handle with another default read preference.
    pub fn with_read_preference(mut self, read_preference: ReadPreference) -> Self {
        self.defaults.read_preference = read_preference;
        self
    }

    /// This handle with another default read concern.
    pub fn with_read_concern(mut self, read_concern: ReadConcern) -> Self {
        self.defaults.read_concern = Some(read_concern);
        self
    }

    /// This handle with another default write concern.
    pub fn with_write_concern(mut self, write_concern: WriteConcern) -> Self {
        self.defaults.write_concern = Some(write_concern);
        self
    }

    /// The default write concern of this handle's writes (`None`: the server's default).
    pub fn write_concern(&self) -> Option<&WriteConcern> {
        self.defaults.write_concern.as_ref()
    }

    pub(crate) fn executor(&self) -> &std::sync::Arc<Executor> {
        self.client.executor()
    }

    /// This handle with another `timeoutMS` (client-side operations timeout spec): each
    /// operation through it must finish within `timeout`, zero meaning no limit.
    pub fn with_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.defaults.timeout = Some(timeout);
        self
    }

    /// The `timeoutMS` of operations through this handle (`None`: unset).
    pub fn timeout(&self) -> Option<std::time::Duration> {
        self.defaults.timeout
    }

    /// The generic arguments of a read: the read concern.
    fn read_args(&self, read_concern: Option<&ReadConcern>) -> GenericArguments {
        let mut g = GenericArguments::default();
        if let Some(rc) = read_concern.or(self.defaults.read_concern.as_ref()) {
            g.read_concern = Some(rc.to_document());
        }
        g
    }

    /// The generic arguments of a write: the write concern (unless empty) and comment.
    pub(crate) fn write_args(
        &self,
        write_concern: Option<&WriteConcern>,
        comment: Option<&Bson>,
    ) -> GenericArguments {
        let mut g = GenericArguments::default();
        if let Some(wc) = write_concern.or(self.defaults.write_concern.as_ref()).filter(|w| !w.is_empty()) {
            g.write_concern = Some(wc.to_document());
        }
        g.comment = comment.cloned();
        g
    }

    fn read_criteria(&self, read_preference: Option<&ReadPreference>) -> SelectionCriteria {
        SelectionCriteria::Read(read_preference.unwrap_or(&self.defaults.read_preference).clone())
    }

    /// Runs a batched write until every statement was sent (or, ordered, until one failed).
    async fn run_batched<O: BatchedWrite>(
        &self,
        op: &mut O,
        session: &mut OpSession<'_>,
        ctx: &ExecutionContext,
    ) -> Result<Vec<WriteBatchOutcome>> {
        let mut outcomes = Vec::new();
        loop {
            let operation_id = self.executor().next_operation_id();
            let outcome = self.executor().execute_in(op, ctx, session.arg(), operation_id).await?;
            let stop = op.ordered() && !outcome.write_errors.is_empty();
            outcomes.push(outcome);
            if stop || op.done() {
                return Ok(outcomes);
            }
        }
    }

    /// The execution context of an operation of several commands (client-side operations
    /// timeout spec "Batching"): this handle's `timeoutMS`, with one deadline from now for
    /// all of them.
    fn operation_context(&self) -> ExecutionContext {
        let timeout = self.defaults.timeout;
        let deadline = timeout.filter(|t| !t.is_zero()).map(|t| tokio::time::Instant::now() + t);
        ExecutionContext { timeout, deadline, ..ExecutionContext::default() }
    }

    /// Runs `op` in `session` (explicit) or an implicit session.
    pub(crate) async fn run_in<O: crate::operation::Operation>(
        &self,
        op: &mut O,
        session: Option<&mut ClientSession>,
    ) -> Result<O::Output> {
        run_op(self.executor(), self.defaults.timeout, op, &mut OpSession::new(session)).await
    }

    /// The error of a single-statement write: its write error, else its write concern error.
    fn single_write_error(&self, outcome: &WriteBatchOutcome) -> Option<Error> {
        let csot = self.defaults.timeout.is_some();
        if let Some(e) = outcome.write_errors.first() {
            return Some(e.clone().into_error().max_time_as_timeout(csot));
        }
        outcome.write_concern_error.clone().map(|e| e.into_error().max_time_as_timeout(csot))
    }

    /// Inserts one document.
    pub fn insert_one(&self, document: impl std::borrow::Borrow<T>) -> InsertOne<'_, T>
    where
        T: Serialize,
    {
        InsertOne {
            coll: self,
            session: None,
            document: to_document(document.borrow()),
            options: InsertOneOptions::default(),
        }
    }

    /// Inserts documents, in batches that fit the server's limits.
    pub fn insert_many(
        &self,
        documents: impl IntoIterator<Item = impl std::borrow::Borrow<T>>,
    ) -> InsertMany<'_, T>
    where
        T: Serialize,
    {
        let documents = documents.into_iter().map(|d| to_document(d.borrow())).collect();
        InsertMany { coll: self, session: None, documents, options: InsertManyOptions::default() }
    }

    /// Updates the first document matching `filter`.
    pub fn update_one(
        &self,
        filter: Document,
        update: impl Into<UpdateModifications>,
    ) -> UpdateAction<'_, T> {
        UpdateAction {
            coll: self,
            session: None,
            filter,
            update: update.into(),
            multi: false,
            options: UpdateOptions::default(),
        }
    }

    /// Updates every document matching `filter`.
    pub fn update_many(
        &self,
        filter: Document,
        update: impl Into<UpdateModifications>,
    ) -> UpdateAction<'_, T> {
        UpdateAction {
            coll: self,
            session: None,
            filter,
            update: update.into(),
            multi: true,
            options: UpdateOptions::default(),
        }
    }

    /// Replaces the first document matching `filter`.
    pub fn replace_one(&self, filter: Document, replacement: impl std::borrow::Borrow<T>) -> ReplaceOne<'_, T>
    where
        T: Serialize,
    {
        ReplaceOne {
            coll: self,
            session: None,
            filter,
            replacement: to_document(replacement.borrow()),
            options: UpdateOptions::default(),
        }
    }

    /// Deletes the first document matching `filter`.
    pub fn delete_one(&self, filter: Document) -> DeleteAction<'_, T> {
        DeleteAction { coll: self, session: None, filter, multi: false, options: DeleteOptions::default() }
    }

    /// Deletes every document matching `filter`.
    pub fn delete_many(&self, filter: Document) -> DeleteAction<'_, T> {
        DeleteAction { coll: self, session: None, filter, multi: true, options: DeleteOptions::default() }
    }

    /// Finds the documents matching `filter`: a [`Cursor`].
    pub fn find(&self, filter: Document) -> Find<'_, T> {
        Find { coll: self, session: None, filter, options: FindOptions::default() }
    }

    /// The first document matching `filter`, if any.
    pub fn find_one(&self, filter: Document) -> FindOne<'_, T> {
        FindOne { coll: self, session: None, filter, options: FindOptions::default() }
    }

    /// Deletes the first document matching `filter` and returns it.
    pub fn find_one_and_delete(&self, filter: Document) -> FindOneAndModify<'_, T> {
        FindOneAndModify {
            coll: self,
            session: None,
            filter,
            modification: Ok(Modification::Delete),
            options: FindOneAndModifyOptions::default(),
        }
    }

    /// Updates the first document matching `filter` and returns it (before the update,
    /// unless `return_document_after(true)`).
    pub fn find_one_and_update(
        &self,
        filter: Document,
        update: impl Into<UpdateModifications>,
    ) -> FindOneAndModify<'_, T> {
        let update = update.into();
        let modification = update.validate().map(|()| Modification::Update(update.to_bson()));
        FindOneAndModify {
            coll: self,
            session: None,
            filter,
            modification,
            options: FindOneAndModifyOptions::default(),
        }
    }

    /// Replaces the first document matching `filter` and returns it (before the replacement,
    /// unless `return_document_after(true)`).
    pub fn find_one_and_replace(
        &self,
        filter: Document,
        replacement: impl std::borrow::Borrow<T>,
    ) -> FindOneAndModify<'_, T>
    where
        T: Serialize,
    {
        let modification = to_document(replacement.borrow())
            .and_then(|r| validate_replacement(&r).map(|()| Modification::Replace(r)));
        FindOneAndModify {
            coll: self,
            session: None,
            filter,
            modification,
            options: FindOneAndModifyOptions::default(),
        }
    }

    /// Runs an aggregation pipeline on the collection (results as documents).
    pub fn aggregate(&self, pipeline: impl IntoIterator<Item = Document>) -> Aggregate<'_> {
        Aggregate::new(
            &self.client,
            self.ns.db.clone(),
            Some(self.ns.coll.clone()),
            pipeline.into_iter().collect(),
            self.defaults.clone(),
        )
    }

    /// A change stream of the collection (change streams spec `Collection.watch`).
    pub fn watch(&self) -> crate::api::change_stream::Watch<'_> {
        crate::api::change_stream::Watch::collection(
            self.client.executor(),
            self.ns.clone(),
            self.defaults.clone(),
        )
    }

    /// The distinct values of `field` among the documents matching `filter`.
    pub fn distinct(&self, field: &str, filter: Document) -> DistinctAction<'_, T> {
        DistinctAction {
            coll: self,
            session: None,
            field: field.to_string(),
            filter,
            options: DistinctOptions::default(),
        }
    }

    /// How many documents match `filter` (an exact count by aggregation).
    pub fn count_documents(&self, filter: Document) -> CountDocuments<'_, T> {
        CountDocuments { coll: self, session: None, filter, options: CountOptions::default() }
    }

    /// Deprecated: how many documents match `filter`, by the `count` command. The CRUD spec
    /// replaced this helper with [`Collection::count_documents`] (exact, by aggregation) and
    /// [`Collection::estimated_document_count`] (from metadata); `count` may be inexact on a
    /// sharded cluster and cannot run in a transaction (the server refuses it there). It is
    /// kept for code written against drivers that still offer it.
    pub fn count(&self, filter: Document) -> CountAction<'_, T> {
        CountAction { coll: self, session: None, filter, options: CountOptions::default() }
    }

    /// The collection's document count from its metadata (fast, possibly inexact).
    pub fn estimated_document_count(&self) -> EstimatedDocumentCount<'_, T> {
        EstimatedDocumentCount { coll: self, options: EstimatedDocumentCountOptions::default() }
    }

    /// Runs inserts, updates, replacements and deletes in as few commands as possible.
    pub fn bulk_write(&self, models: impl IntoIterator<Item = WriteModel>) -> BulkWrite<'_, T> {
        BulkWrite {
            coll: self,
            session: None,
            models: models.into_iter().collect(),
            options: BulkWriteOptions::default(),
        }
    }

    /// Drops the collection (dropping one that does not exist succeeds).
    pub fn drop(&self) -> DropCollection<'_, T> {
        DropCollection { coll: self, session: None, options: DropCollectionOptions::default() }
    }

    /// Renames the collection to `to` in the same database (`renameCollection`); chain
    /// `.drop_target(true)` to replace an existing collection of that name.
    pub fn rename(&self, to: &str) -> RenameCollection<'_, T> {
        RenameCollection { coll: self, to: to.to_string(), drop_target: None, session: None }
    }
}

/// Runs `op` in the operation's session (driver sessions spec: explicit, or implicit).
pub(crate) async fn run_op<O: crate::operation::Operation>(
    executor: &Executor,
    timeout: Option<std::time::Duration>,
    op: &mut O,
    session: &mut OpSession<'_>,
) -> Result<O::Output> {
    let operation_id = executor.next_operation_id();
    let ctx = ExecutionContext { timeout, ..ExecutionContext::default() };
    executor.execute_in(op, &ctx, session.arg(), operation_id).await
}

/// Runs a cursor-opening `op` in `session` (or an implicit one) and wraps the cursor, which
/// keeps the session for its getMores (driver sessions spec "Sessions and Cursors").
pub(crate) async fn open_cursor<O, T>(
    executor: &std::sync::Arc<Executor>,
    timeout: Option<std::time::Duration>,
    op: &mut O,
    session: Option<&mut ClientSession>,
) -> Result<Cursor<T>>
where
    O: crate::operation::Operation<Output = crate::operation::CursorSpec>,
{
    let operation_id = executor.next_operation_id();
    let mut session = OpSession::new(session);
    let (spec, pinned) = executor
        .execute_cursor_in(
            op,
            &ExecutionContext { timeout, ..ExecutionContext::default() },
            session.arg(),
            operation_id,
        )
        .await?;
    Ok(Cursor::new(executor.clone(), spec, operation_id)
        .with_session(session.into_cursor_session())
        .with_pinned(pinned))
}

/// The `name` of each entry a listing command returned (`listIndexes`, `listCollections`,
/// `listDatabases`); `what` names an entry in the error, e.g. `"listIndexes: an index"`.
pub(crate) fn entry_names(docs: &[Document], what: &str) -> Result<Vec<String>> {
    docs.iter()
        .map(|d| match d.get("name") {
            Some(Bson::String(name)) => Ok(name.clone()),
            _ => Err(Error::invalid_response(format!("{what} without a name: {d}"))),
        })
        .collect()
}
