//! The collection's read actions (CRUD spec "Read"): find, findOne, the find-and-modify
//! family, aggregate, distinct and the counts.

use super::*;

/// The future of [`Collection::find`].
#[must_use = "an action does nothing until awaited"]
pub struct Find<'a, T> {
    pub(super) coll: &'a Collection<T>,
    pub(super) session: Option<&'a mut ClientSession>,
    pub(super) filter: Document,
    pub(super) options: FindOptions,
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
    pub(super) coll: &'a Collection<T>,
    pub(super) session: Option<&'a mut ClientSession>,
    pub(super) filter: Document,
    pub(super) options: FindOptions,
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
    pub(super) coll: &'a Collection<T>,
    pub(super) session: Option<&'a mut ClientSession>,
    pub(super) filter: Document,
    pub(super) modification: Result<Modification>,
    pub(super) options: FindOneAndModifyOptions,
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
    pub(super) client: &'a Client,
    pub(super) session: Option<&'a mut ClientSession>,
    pub(super) db: String,
    pub(super) coll: Option<String>,
    pub(super) pipeline: Vec<Document>,
    pub(super) defaults: Defaults,
    pub(super) options: AggregateOptions,
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
    pub(super) coll: &'a Collection<T>,
    pub(super) session: Option<&'a mut ClientSession>,
    pub(super) field: String,
    pub(super) filter: Document,
    pub(super) options: DistinctOptions,
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
            pub(super) coll: &'a Collection<T>,
            pub(super) session: Option<&'a mut ClientSession>,
            pub(super) filter: Document,
            pub(super) options: CountOptions,
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
    pub(super) coll: &'a Collection<T>,
    pub(super) options: EstimatedDocumentCountOptions,
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

session_setter!(Find, FindOne, FindOneAndModify, DistinctAction, CountDocuments, CountAction);

impl<'a> Aggregate<'a> {
    /// Runs the aggregation in an explicit `session` started from this client (driver
    /// sessions spec); without it, an implicit session is used.
    pub fn session(mut self, session: &'a mut ClientSession) -> Self {
        self.session = Some(session);
        self
    }
}
