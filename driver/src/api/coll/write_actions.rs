//! The collection's write actions (CRUD spec "Write"): insertOne, insertMany, update,
//! replace and delete, and the setter macros every action uses.

use super::*;

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

session_setter!(InsertOne, InsertMany, UpdateAction, ReplaceOne, DeleteAction);

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
pub(crate) use action_future;

/// The future of [`Collection::insert_one`].
#[must_use = "an action does nothing until awaited"]
pub struct InsertOne<'a, T> {
    pub(super) coll: &'a Collection<T>,
    pub(super) session: Option<&'a mut ClientSession>,
    pub(super) document: Result<Document>,
    pub(super) options: InsertOneOptions,
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
    pub(super) coll: &'a Collection<T>,
    pub(super) session: Option<&'a mut ClientSession>,
    pub(super) documents: Result<Vec<Document>>,
    pub(super) options: InsertManyOptions,
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
pub(super) fn bulk_error(failure: BulkWriteFailure) -> Error {
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
    pub(super) coll: &'a Collection<T>,
    pub(super) session: Option<&'a mut ClientSession>,
    pub(super) filter: Document,
    pub(super) update: UpdateModifications,
    pub(super) multi: bool,
    pub(super) options: UpdateOptions,
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
    pub(super) coll: &'a Collection<T>,
    pub(super) session: Option<&'a mut ClientSession>,
    pub(super) filter: Document,
    pub(super) replacement: Result<Document>,
    pub(super) options: UpdateOptions,
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
    pub(super) coll: &'a Collection<T>,
    pub(super) session: Option<&'a mut ClientSession>,
    pub(super) filter: Document,
    pub(super) multi: bool,
    pub(super) options: DeleteOptions,
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
