//! The collection's catalog and bulk actions: drop, rename, and bulkWrite (CRUD spec
//! "Bulk Write").

use super::*;

/// The future of [`Collection::drop`].
#[must_use = "an action does nothing until awaited"]
pub struct DropCollection<'a, T> {
    pub(super) coll: &'a Collection<T>,
    pub(super) session: Option<&'a mut ClientSession>,
    pub(super) options: DropCollectionOptions,
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
    pub(super) coll: &'a Collection<T>,
    pub(super) to: String,
    pub(super) drop_target: Option<bool>,
    pub(super) session: Option<&'a mut ClientSession>,
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
    pub(super) coll: &'a Collection<T>,
    pub(super) session: Option<&'a mut ClientSession>,
    pub(super) models: Vec<WriteModel>,
    pub(super) options: BulkWriteOptions,
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

session_setter!(DropCollection, BulkWrite);
