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

/// Adds `.session(&mut session)` to actions with a `session` field: collection actions
/// (`Action<'a, T>`), or, after `"whose";`, actions `Action<'a>` of a database or client.
macro_rules! session_setter {
    ($whose:literal; $($action:ident),* $(,)?) => {
        $(
            impl<'a> $action<'a> {
                #[doc = concat!(
                    "Runs the operation in an explicit `session` started from ", $whose,
                    " client\n(driver sessions spec); without it, an implicit session is used."
                )]
                pub fn session(mut self, session: &'a mut $crate::session::ClientSession) -> Self {
                    self.session = Some(session);
                    self
                }
            }
        )*
    };
    ($($action:ident),* $(,)?) => {
        $(
            impl<'a, T> $action<'a, T> {
                /// Runs the operation in an explicit `session` started from this collection's
                /// client (driver sessions spec); without it, an implicit session is used.
                pub fn session(mut self, session: &'a mut $crate::session::ClientSession) -> Self {
                    self.session = Some(session);
                    self
                }
            }
        )*
    };
}
pub(crate) use session_setter;

session_setter!(
    InsertOne,
    InsertMany,
    UpdateAction,
    ReplaceOne,
    DeleteAction,
    Find,
    FindOne,
    FindOneAndModify,
    DistinctAction,
    CountDocuments,
    CountAction,
    DropCollection,
    BulkWrite,
);

impl<'a> Aggregate<'a> {
    /// Runs the aggregation in an explicit `session` started from this client (driver
    /// sessions spec); without it, an implicit session is used.
    pub fn session(mut self, session: &'a mut ClientSession) -> Self {
        self.session = Some(session);
        self
    }
}

/// Defines chainable setters on an action that fill its `options` field: `with_options` when
/// the options type is given first, then one setter a field (documented by the doc comments
/// written before the field, or else as "Sets the `field` option.").
macro_rules! option_setters {
    (@setter [] $field:ident : $ty:ty) => {
        $crate::api::coll::option_setters!(
            @setter [#[doc = concat!("Sets the `", stringify!($field), "` option.")]] $field: $ty
        );
    };
    (@setter [$(#[$attr:meta])+] $field:ident : $ty:ty) => {
        $(#[$attr])+
        pub fn $field(mut self, value: impl Into<$ty>) -> Self {
            self.options.$field = Some(value.into());
            self
        }
    };
    ($options:ty; $($fields:tt)*) => {
        /// Sets every option at once.
        pub fn with_options(mut self, options: $options) -> Self {
            self.options = options;
            self
        }
        $crate::api::coll::option_setters!($($fields)*);
    };
    ($( $(#[$attr:meta])* $field:ident : $ty:ty ),* $(,)?) => {
        $( $crate::api::coll::option_setters!(@setter [$(#[$attr])*] $field: $ty); )*
    };
}
pub(crate) use option_setters;

/// Implements `IntoFuture` for an action over a `Collection<T>`, with the body given.
macro_rules! action_future {
    ($action:ident, $out:ty, $($bound:tt)*) => {
        impl<'a, T> IntoFuture for $action<'a, T>
        where
            T: $($bound)*,
        {
            type Output = Result<$out>;
            type IntoFuture = BoxFuture<'a, Result<$out>>;

            fn into_future(self) -> Self::IntoFuture {
                Box::pin(self.run())
            }
        }
    };
}

/// The future of [`Collection::insert_one`].
#[must_use = "an action does nothing until awaited"]
pub struct InsertOne<'a, T> {
    coll: &'a Collection<T>,
    session: Option<&'a mut ClientSession>,
    document: Result<Document>,
    options: InsertOneOptions,
}

impl<'a, T: Send + Sync> InsertOne<'a, T> {
    option_setters!(InsertOneOptions; bypass_document_validation: bool, write_concern: WriteConcern, comment: Bson);

    async fn run(self) -> Result<InsertOneResult> {
        let mut document = self.document?;
        let inserted_id = ensure_id(&mut document);
        let o = &self.options;
        let mut op = operation::Insert::new(self.coll.ns.clone(), vec![document], true)
            .bypass_document_validation(o.bypass_document_validation)
            .generic(self.coll.write_args(o.write_concern.as_ref(), o.comment.as_ref()));
        let outcome = self.coll.run_in(&mut op, self.session).await?;
        match self.coll.single_write_error(&outcome) {
            Some(error) => Err(error),
            None => Ok(InsertOneResult { inserted_id, acknowledged: !outcome.unacknowledged }),
        }
    }
}
action_future!(InsertOne, InsertOneResult, Send + Sync + 'a);

/// The future of [`Collection::insert_many`].
#[must_use = "an action does nothing until awaited"]
pub struct InsertMany<'a, T> {
    coll: &'a Collection<T>,
    session: Option<&'a mut ClientSession>,
    documents: Result<Vec<Document>>,
    options: InsertManyOptions,
}

impl<'a, T: Send + Sync> InsertMany<'a, T> {
    option_setters!(InsertManyOptions; bypass_document_validation: bool, ordered: bool, write_concern: WriteConcern, comment: Bson);

    async fn run(self) -> Result<InsertManyResult> {
        let mut documents = self.documents?;
        let ids: Vec<Bson> = documents.iter_mut().map(ensure_id).collect();
        let o = &self.options;
        let ordered = o.ordered.unwrap_or(true);
        let mut op = operation::Insert::new(self.coll.ns.clone(), documents, ordered)
            .bypass_document_validation(o.bypass_document_validation)
            .generic(self.coll.write_args(o.write_concern.as_ref(), o.comment.as_ref()));
        let ctx = self.coll.operation_context();
        let outcomes = self.coll.run_batched(&mut op, &mut OpSession::new(self.session), &ctx).await?;
        let mut failure = BulkWriteFailure::default();
        let mut sent = 0;
        let mut acknowledged = true;
        for outcome in outcomes {
            sent += outcome.sent;
            acknowledged &= !outcome.unacknowledged;
            failure.write_errors.extend(outcome.write_errors);
            if outcome.write_concern_error.is_some() {
                failure.write_concern_error = outcome.write_concern_error;
            }
        }
        let failed: BTreeSet<usize> = failure.write_errors.iter().map(|e| e.index).collect();
        let limit = if ordered { failed.first().copied().unwrap_or(sent) } else { sent };
        let inserted_ids: BTreeMap<usize, Bson> =
            ids.into_iter().enumerate().take(limit).filter(|(i, _)| !failed.contains(i)).collect();
        if failure.write_errors.is_empty() && failure.write_concern_error.is_none() {
            return Ok(InsertManyResult { inserted_ids, acknowledged });
        }
        failure.partial_result.inserted_count = inserted_ids.len() as u64;
        failure.partial_result.inserted_ids = inserted_ids;
        Err(bulk_error(failure))
    }
}
action_future!(InsertMany, InsertManyResult, Send + Sync + 'a);

/// A bulk failure as an error, carrying the write concern error's labels.
fn bulk_error(failure: BulkWriteFailure) -> Error {
    let labels = failure.write_concern_error.as_ref().map(|w| w.labels.clone()).unwrap_or_default();
    let mut error = Error::new(ErrorKind::BulkWrite(failure));
    for label in labels {
        error.add_label(label);
    }
    error
}

/// The future of [`Collection::update_one`] and [`Collection::update_many`].
#[must_use = "an action does nothing until awaited"]
pub struct UpdateAction<'a, T> {
    coll: &'a Collection<T>,
    session: Option<&'a mut ClientSession>,
    filter: Document,
    update: UpdateModifications,
    multi: bool,
    options: UpdateOptions,
}

/// Runs one update statement and reads its result.
async fn run_update<T: Send + Sync>(
    coll: &Collection<T>,
    session: Option<&mut ClientSession>,
    statement: Document,
    options: &UpdateOptions,
) -> Result<UpdateResult> {
    let mut op = operation::Update::new(coll.ns.clone(), vec![statement], true)
        .bypass_document_validation(options.bypass_document_validation)
        .let_vars(options.let_vars.clone())
        .generic(coll.write_args(options.write_concern.as_ref(), options.comment.as_ref()));
    let outcome = coll.run_in(&mut op, session).await?;
    if let Some(error) = coll.single_write_error(&outcome) {
        return Err(error);
    }
    let upserted_id = outcome.upserted.first().map(|(_, id)| id.clone());
    let upserts = u64::from(upserted_id.is_some());
    Ok(UpdateResult {
        matched_count: outcome.n.saturating_sub(upserts),
        modified_count: outcome.n_modified,
        upserted_id,
        acknowledged: !outcome.unacknowledged,
    })
}

impl<'a, T: Send + Sync> UpdateAction<'a, T> {
    option_setters!(UpdateOptions;
        array_filters: Vec<Document>,
        bypass_document_validation: bool,
        collation: Document,
        hint: Hint,
        upsert: bool,
        let_vars: Document,
        write_concern: WriteConcern,
        comment: Bson,
    );

    async fn run(self) -> Result<UpdateResult> {
        self.update.validate()?;
        let statement =
            update_statement(self.filter, self.update.to_bson(), self.multi, &self.options, false);
        run_update(self.coll, self.session, statement, &self.options).await
    }
}
action_future!(UpdateAction, UpdateResult, Send + Sync + 'a);

/// The future of [`Collection::replace_one`].
#[must_use = "an action does nothing until awaited"]
pub struct ReplaceOne<'a, T> {
    coll: &'a Collection<T>,
    session: Option<&'a mut ClientSession>,
    filter: Document,
    replacement: Result<Document>,
    options: UpdateOptions,
}

impl<'a, T: Send + Sync> ReplaceOne<'a, T> {
    option_setters!(UpdateOptions;
        bypass_document_validation: bool,
        collation: Document,
        hint: Hint,
        upsert: bool,
        let_vars: Document,
        write_concern: WriteConcern,
        comment: Bson,
    );

    async fn run(self) -> Result<UpdateResult> {
        let replacement = self.replacement?;
        validate_replacement(&replacement)?;
        let statement =
            update_statement(self.filter, Bson::Document(replacement), false, &self.options, true);
        run_update(self.coll, self.session, statement, &self.options).await
    }
}
action_future!(ReplaceOne, UpdateResult, Send + Sync + 'a);

/// The future of [`Collection::delete_one`] and [`Collection::delete_many`].
#[must_use = "an action does nothing until awaited"]
pub struct DeleteAction<'a, T> {
    coll: &'a Collection<T>,
    session: Option<&'a mut ClientSession>,
    filter: Document,
    multi: bool,
    options: DeleteOptions,
}

impl<'a, T: Send + Sync> DeleteAction<'a, T> {
    option_setters!(DeleteOptions; collation: Document, hint: Hint, let_vars: Document, write_concern: WriteConcern, comment: Bson);

    async fn run(self) -> Result<DeleteResult> {
        let o = &self.options;
        let statement = delete_statement(self.filter, self.multi, o.collation.as_ref(), o.hint.as_ref());
        let mut op = operation::Delete::new(self.coll.ns.clone(), vec![statement], true)
            .let_vars(o.let_vars.clone())
            .generic(self.coll.write_args(o.write_concern.as_ref(), o.comment.as_ref()));
        let outcome = self.coll.run_in(&mut op, self.session).await?;
        match self.coll.single_write_error(&outcome) {
            Some(error) => Err(error),
            None => Ok(DeleteResult { deleted_count: outcome.n, acknowledged: !outcome.unacknowledged }),
        }
    }
}
action_future!(DeleteAction, DeleteResult, Send + Sync + 'a);

/// The future of [`Collection::find`].
#[must_use = "an action does nothing until awaited"]
pub struct Find<'a, T> {
    coll: &'a Collection<T>,
    session: Option<&'a mut ClientSession>,
    filter: Document,
    options: FindOptions,
}

impl<'a, T: Send + Sync> Find<'a, T> {
    option_setters!(FindOptions;
        allow_disk_use: bool,
        allow_partial_results: bool,
        batch_size: i32,
        collation: Document,
        comment: Bson,
        hint: Hint,
        let_vars: Document,
        limit: i64,
        max: Document,
        max_await_time: std::time::Duration,
        max_time: std::time::Duration,
        min: Document,
        no_cursor_timeout: bool,
        projection: Document,
        read_concern: ReadConcern,
        selection_criteria: ReadPreference,
        return_key: bool,
        show_record_id: bool,
        skip: i64,
        sort: Document,
        tailable: bool,
        await_data: bool,
    );

    async fn run(self) -> Result<Cursor<T>> {
        let coll = self.coll;
        let generic = coll.read_args(self.options.read_concern.as_ref());
        let criteria = coll.read_criteria(self.options.selection_criteria.as_ref());
        let mut op = operation::Find::new(coll.ns.clone(), self.filter, self.options, generic, criteria);
        open_cursor(coll.executor(), coll.defaults.timeout, &mut op, self.session).await
    }
}
action_future!(Find, Cursor<T>, Send + Sync + 'a);

/// The future of [`Collection::find_one`].
#[must_use = "an action does nothing until awaited"]
pub struct FindOne<'a, T> {
    coll: &'a Collection<T>,
    session: Option<&'a mut ClientSession>,
    filter: Document,
    options: FindOptions,
}

impl<'a, T: Send + Sync> FindOne<'a, T> {
    option_setters!(
        collation: Document,
        comment: Bson,
        hint: Hint,
        let_vars: Document,
        max_time: std::time::Duration,
        projection: Document,
        read_concern: ReadConcern,
        selection_criteria: ReadPreference,
        show_record_id: bool,
        skip: i64,
        sort: Document,
    );

    /// Sets every option at once (`limit` and `batch_size` are ignored).
    pub fn with_options(mut self, options: FindOptions) -> Self {
        self.options = options;
        self
    }

    async fn run(self) -> Result<Option<T>>
    where
        T: DeserializeOwned,
    {
        use futures::TryStreamExt;
        // CRUD spec: find_one is a find with a limit of -1 (one batch of one document).
        let mut options = self.options;
        options.limit = Some(-1);
        options.batch_size = None;
        let mut cursor =
            Find { coll: self.coll, session: self.session, filter: self.filter, options }.run().await?;
        cursor.try_next().await
    }
}
action_future!(FindOne, Option<T>, DeserializeOwned + Send + Sync + 'a);

/// The future of [`Collection::find_one_and_delete`], [`Collection::find_one_and_update`]
/// and [`Collection::find_one_and_replace`].
#[must_use = "an action does nothing until awaited"]
pub struct FindOneAndModify<'a, T> {
    coll: &'a Collection<T>,
    session: Option<&'a mut ClientSession>,
    filter: Document,
    modification: Result<Modification>,
    options: FindOneAndModifyOptions,
}

impl<'a, T: Send + Sync> FindOneAndModify<'a, T> {
    option_setters!(FindOneAndModifyOptions;
        array_filters: Vec<Document>,
        bypass_document_validation: bool,
        collation: Document,
        hint: Hint,
        max_time: std::time::Duration,
        projection: Document,
        return_document_after: bool,
        sort: Document,
        upsert: bool,
        let_vars: Document,
        write_concern: WriteConcern,
        comment: Bson,
    );

    async fn run(self) -> Result<Option<T>>
    where
        T: DeserializeOwned,
    {
        let modification = self.modification?;
        let generic = self.coll.write_args(self.options.write_concern.as_ref(), None);
        let mut op = operation::FindAndModify::new(
            self.coll.ns.clone(),
            self.filter,
            modification,
            self.options,
            generic,
        );
        let value = self.coll.run_in(&mut op, self.session).await?;
        value
            .map(|d| {
                bson::deserialize_from_document(d).map_err(|e| {
                    Error::invalid_response(format!("cannot deserialize the findAndModify value: {e}"))
                })
            })
            .transpose()
    }
}
action_future!(FindOneAndModify, Option<T>, DeserializeOwned + Send + Sync + 'a);

/// The future of [`Collection::aggregate`] and [`crate::Database::aggregate`].
#[must_use = "an action does nothing until awaited"]
pub struct Aggregate<'a> {
    client: &'a Client,
    session: Option<&'a mut ClientSession>,
    db: String,
    coll: Option<String>,
    pipeline: Vec<Document>,
    defaults: Defaults,
    options: AggregateOptions,
}

impl<'a> Aggregate<'a> {
    pub(crate) fn new(
        client: &'a Client,
        db: String,
        coll: Option<String>,
        pipeline: Vec<Document>,
        defaults: Defaults,
    ) -> Self {
        Self { client, session: None, db, coll, pipeline, defaults, options: AggregateOptions::default() }
    }

    option_setters!(AggregateOptions;
        allow_disk_use: bool,
        batch_size: i32,
        bypass_document_validation: bool,
        collation: Document,
        comment: Bson,
        hint: Hint,
        let_vars: Document,
        max_time: std::time::Duration,
        read_concern: ReadConcern,
        selection_criteria: ReadPreference,
        write_concern: WriteConcern,
    );
}

impl<'a> IntoFuture for Aggregate<'a> {
    type Output = Result<Cursor<Document>>;
    type IntoFuture = BoxFuture<'a, Result<Cursor<Document>>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let mut generic = GenericArguments::default();
            if let Some(rc) = self.options.read_concern.as_ref().or(self.defaults.read_concern.as_ref()) {
                generic.read_concern = Some(rc.to_document());
            }
            let writes = self
                .pipeline
                .last()
                .and_then(|s| s.keys().next())
                .is_some_and(|k| k == "$out" || k == "$merge");
            if writes
                && let Some(wc) = self
                    .options
                    .write_concern
                    .as_ref()
                    .or(self.defaults.write_concern.as_ref())
                    .filter(|w| !w.is_empty())
            {
                generic.write_concern = Some(wc.to_document());
            }
            let rp = self
                .options
                .selection_criteria
                .clone()
                .unwrap_or_else(|| self.defaults.read_preference.clone());
            let mut op = operation::Aggregate::new(
                self.db,
                self.coll,
                self.pipeline,
                self.options,
                generic,
                SelectionCriteria::Read(rp),
            );
            open_cursor(self.client.executor(), self.defaults.timeout, &mut op, self.session).await
        })
    }
}

/// The future of [`Collection::distinct`].
#[must_use = "an action does nothing until awaited"]
pub struct DistinctAction<'a, T> {
    coll: &'a Collection<T>,
    session: Option<&'a mut ClientSession>,
    field: String,
    filter: Document,
    options: DistinctOptions,
}

impl<'a, T: Send + Sync> DistinctAction<'a, T> {
    option_setters!(
        collation: Document,
        comment: Bson,
        max_time: std::time::Duration,
        read_concern: ReadConcern,
        selection_criteria: ReadPreference,
    );

    async fn run(self) -> Result<Vec<Bson>> {
        let coll = self.coll;
        let generic = coll.read_args(self.options.read_concern.as_ref());
        let criteria = coll.read_criteria(self.options.selection_criteria.as_ref());
        let mut op = operation::Distinct::new(
            coll.ns.clone(),
            self.field,
            self.filter,
            self.options,
            generic,
            criteria,
        );
        coll.run_in(&mut op, self.session).await
    }
}
action_future!(DistinctAction, Vec<Bson>, Send + Sync + 'a);

/// Defines the future of a count that takes a filter and [`CountOptions`]
/// (`countDocuments`, and the deprecated `count`), running the operation `$op` builds.
macro_rules! count_future {
    ($(#[$attr:meta])* $action:ident, $op:path) => {
        $(#[$attr])*
        #[must_use = "an action does nothing until awaited"]
        pub struct $action<'a, T> {
            coll: &'a Collection<T>,
            session: Option<&'a mut ClientSession>,
            filter: Document,
            options: CountOptions,
        }

        impl<'a, T: Send + Sync> $action<'a, T> {
            option_setters!(
                collation: Document,
                comment: Bson,
                hint: Hint,
                limit: i64,
                max_time: std::time::Duration,
                read_concern: ReadConcern,
                selection_criteria: ReadPreference,
                skip: i64,
            );

            async fn run(self) -> Result<u64> {
                let coll = self.coll;
                let generic = coll.read_args(self.options.read_concern.as_ref());
                let criteria = coll.read_criteria(self.options.selection_criteria.as_ref());
                let mut op = $op(coll.ns.clone(), self.filter, self.options, generic, criteria);
                coll.run_in(&mut op, self.session).await
            }
        }
        action_future!($action, u64, Send + Sync + 'a);
    };
}

count_future!(
    /// The future of [`Collection::count_documents`].
    CountDocuments,
    operation::CountDocuments::new
);
count_future!(
    /// The future of the deprecated [`Collection::count`].
    CountAction,
    operation::Count::new
);

/// The future of [`Collection::estimated_document_count`].
#[must_use = "an action does nothing until awaited"]
pub struct EstimatedDocumentCount<'a, T> {
    coll: &'a Collection<T>,
    options: EstimatedDocumentCountOptions,
}

impl<'a, T: Send + Sync> EstimatedDocumentCount<'a, T> {
    option_setters!(
        comment: Bson,
        max_time: std::time::Duration,
        read_concern: ReadConcern,
        selection_criteria: ReadPreference,
    );

    async fn run(self) -> Result<u64> {
        let coll = self.coll;
        let generic = coll.read_args(self.options.read_concern.as_ref());
        let criteria = coll.read_criteria(self.options.selection_criteria.as_ref());
        let mut op = operation::EstimatedDocumentCount::new(coll.ns.clone(), self.options, generic, criteria);
        coll.run_in(&mut op, None).await
    }
}
action_future!(EstimatedDocumentCount, u64, Send + Sync + 'a);

/// The future of [`Collection::drop`].
#[must_use = "an action does nothing until awaited"]
pub struct DropCollection<'a, T> {
    coll: &'a Collection<T>,
    session: Option<&'a mut ClientSession>,
    options: DropCollectionOptions,
}

impl<'a, T: Send + Sync> DropCollection<'a, T> {
    option_setters!(write_concern: WriteConcern);

    async fn run(self) -> Result<()> {
        let generic = self.coll.write_args(self.options.write_concern.as_ref(), None);
        let mut op = operation::DropCollection::new(self.coll.ns.clone(), generic);
        match self.coll.run_in(&mut op, self.session).await {
            Err(e)
                if e.code() == Some(NAMESPACE_NOT_FOUND) && matches!(*e.kind, ErrorKind::Command { .. }) =>
            {
                Ok(())
            }
            other => other,
        }
    }
}
action_future!(DropCollection, (), Send + Sync + 'a);

/// The future of [`Collection::rename`].
#[must_use = "an action does nothing until awaited"]
pub struct RenameCollection<'a, T> {
    coll: &'a Collection<T>,
    to: String,
    drop_target: Option<bool>,
    session: Option<&'a mut ClientSession>,
}

impl<'a, T: Send + Sync> RenameCollection<'a, T> {
    /// Replaces an existing target collection (`dropTarget`).
    pub fn drop_target(mut self, value: bool) -> Self {
        self.drop_target = Some(value);
        self
    }

    /// Runs the command in an explicit session.
    pub fn session(mut self, session: &'a mut ClientSession) -> Self {
        self.session = Some(session);
        self
    }

    async fn run(self) -> Result<()> {
        let generic = self.coll.write_args(None, None);
        let to = Namespace { db: self.coll.ns.db.clone(), coll: self.to.clone() };
        let mut op = operation::RenameCollection::new(self.coll.ns.clone(), to, self.drop_target, generic);
        self.coll.run_in(&mut op, self.session).await
    }
}
action_future!(RenameCollection, (), Send + Sync + 'a);

/// The future of [`Collection::bulk_write`].
#[must_use = "an action does nothing until awaited"]
pub struct BulkWrite<'a, T> {
    coll: &'a Collection<T>,
    session: Option<&'a mut ClientSession>,
    models: Vec<WriteModel>,
    options: BulkWriteOptions,
}

impl<'a, T: Send + Sync> BulkWrite<'a, T> {
    option_setters!(BulkWriteOptions;
        bypass_document_validation: bool,
        ordered: bool,
        let_vars: Document,
        write_concern: WriteConcern,
        comment: Bson,
    );

    /// Turns each model into (command kind, statement, inserted `_id`).
    fn statements(models: Vec<WriteModel>) -> Result<Vec<(WriteKind, Document, Option<Bson>)>> {
        let update = |filter, update: UpdateModifications, multi, options: UpdateOptions| {
            update.validate()?;
            let statement = update_statement(filter, update.to_bson(), multi, &options, false);
            Ok::<_, Error>((WriteKind::Update, statement, None))
        };
        models
            .into_iter()
            .map(|model| match model {
                WriteModel::InsertOne { mut document } => {
                    let id = ensure_id(&mut document);
                    Ok((WriteKind::Insert, document, Some(id)))
                }
                WriteModel::UpdateOne { filter, update: u, upsert, array_filters, collation, hint } => {
                    let options =
                        UpdateOptions { upsert, array_filters, collation, hint, ..Default::default() };
                    update(filter, u, false, options)
                }
                WriteModel::UpdateMany { filter, update: u, upsert, array_filters, collation, hint } => {
                    let options =
                        UpdateOptions { upsert, array_filters, collation, hint, ..Default::default() };
                    update(filter, u, true, options)
                }
                WriteModel::ReplaceOne { filter, replacement, upsert, collation, hint } => {
                    validate_replacement(&replacement)?;
                    let options = UpdateOptions { upsert, collation, hint, ..Default::default() };
                    let statement =
                        update_statement(filter, Bson::Document(replacement), false, &options, true);
                    Ok((WriteKind::Update, statement, None))
                }
                WriteModel::DeleteOne { filter, collation, hint } => Ok((
                    WriteKind::Delete,
                    delete_statement(filter, false, collation.as_ref(), hint.as_ref()),
                    None,
                )),
                WriteModel::DeleteMany { filter, collation, hint } => Ok((
                    WriteKind::Delete,
                    delete_statement(filter, true, collation.as_ref(), hint.as_ref()),
                    None,
                )),
            })
            .collect()
    }

    async fn run(self) -> Result<BulkWriteResult> {
        if self.models.is_empty() {
            return Err(Error::invalid_argument("bulk_write needs at least one write model"));
        }
        let coll = self.coll;
        let o = &self.options;
        let ordered = o.ordered.unwrap_or(true);
        let generic = coll.write_args(o.write_concern.as_ref(), o.comment.as_ref());
        let statements = Self::statements(self.models)?;
        let mut session = OpSession::new(self.session);
        let ctx = coll.operation_context();
        let mut result = BulkWriteResult::default();
        let mut failure = BulkWriteFailure::default();
        // Consecutive models of one kind go in one command (ordered or not: order is kept).
        let mut start = 0;
        while start < statements.len() {
            let kind = statements[start].0;
            let end =
                statements[start..].iter().position(|s| s.0 != kind).map_or(statements.len(), |p| start + p);
            let group: Vec<Document> = statements[start..end].iter().map(|s| s.1.clone()).collect();
            let outcomes = match kind {
                WriteKind::Insert => {
                    let mut op = operation::Insert::new(coll.ns.clone(), group, ordered)
                        .bypass_document_validation(o.bypass_document_validation)
                        .generic(generic.clone());
                    coll.run_batched(&mut op, &mut session, &ctx).await?
                }
                WriteKind::Update => {
                    let mut op = operation::Update::new(coll.ns.clone(), group, ordered)
                        .bypass_document_validation(o.bypass_document_validation)
                        .let_vars(o.let_vars.clone())
                        .generic(generic.clone());
                    coll.run_batched(&mut op, &mut session, &ctx).await?
                }
                WriteKind::Delete => {
                    let mut op = operation::Delete::new(coll.ns.clone(), group, ordered)
                        .let_vars(o.let_vars.clone())
                        .generic(generic.clone());
                    coll.run_batched(&mut op, &mut session, &ctx).await?
                }
            };
            let mut sent = 0;
            let mut failed = BTreeSet::new();
            for outcome in outcomes {
                sent += outcome.sent;
                result.acknowledged &= !outcome.unacknowledged;
                match kind {
                    WriteKind::Insert => result.inserted_count += outcome.n,
                    WriteKind::Update => {
                        result.matched_count += outcome.n.saturating_sub(outcome.upserted.len() as u64);
                        result.modified_count += outcome.n_modified;
                        result.upserted_count += outcome.upserted.len() as u64;
                        for (i, id) in outcome.upserted {
                            result.upserted_ids.insert(start + i, id);
                        }
                    }
                    WriteKind::Delete => result.deleted_count += outcome.n,
                }
                for mut e in outcome.write_errors {
                    e.index += start;
                    failed.insert(e.index);
                    failure.write_errors.push(e);
                }
                if outcome.write_concern_error.is_some() {
                    failure.write_concern_error = outcome.write_concern_error;
                }
            }
            if kind == WriteKind::Insert {
                let limit =
                    if ordered { failed.first().copied().unwrap_or(start + sent) } else { start + sent };
                for (i, statement) in statements.iter().enumerate().take(limit).skip(start) {
                    if !failed.contains(&i)
                        && let Some(id) = &statement.2
                    {
                        result.inserted_ids.insert(i, id.clone());
                    }
                }
            }
            if ordered && !failed.is_empty() {
                break;
            }
            start = end;
        }
        if failure.write_errors.is_empty() && failure.write_concern_error.is_none() {
            return Ok(result);
        }
        failure.partial_result = result;
        Err(bulk_error(failure))
    }
}
action_future!(BulkWrite, BulkWriteResult, Send + Sync + 'a);
