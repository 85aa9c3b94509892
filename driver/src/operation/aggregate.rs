//! `aggregate` (CRUD spec "Aggregate"), and `count_documents` as the aggregation the CRUD
//! spec prescribes (`$match`, `$skip`, `$limit`, `$group`).

use bson::{Bson, Document, doc};

use super::generic_with;
use super::{CursorSpec, Namespace, Operation, Retryability, batch_size_arg};
use crate::commands::{AggregateCommand, Command, CursorInitialReply, GenericArguments, OpMsgParts};
use crate::connection::StreamDescription;
use crate::error::{Error, Result};
use crate::options::{AggregateOptions, CountOptions};
use crate::topology::SelectionCriteria;

/// An `aggregate` on a collection, or on a database (`aggregate: 1`) when the collection
/// is `None`.
#[derive(Debug, Clone)]
pub struct Aggregate {
    db: String,
    coll: Option<String>,
    pipeline: Vec<Document>,
    options: AggregateOptions,
    generic: GenericArguments,
    criteria: SelectionCriteria,
}

impl Aggregate {
    /// Runs `pipeline`. A pipeline ending in `$out` or `$merge` is a write: it goes to a
    /// writable server, carries the write concern and is not retried as a read.
    pub fn new(
        db: impl Into<String>,
        coll: Option<String>,
        pipeline: Vec<Document>,
        options: AggregateOptions,
        generic: GenericArguments,
        criteria: SelectionCriteria,
    ) -> Self {
        Self { db: db.into(), coll, pipeline, options, generic, criteria }
    }

    /// Whether the last stage is `$out` or `$merge`.
    pub fn writes(&self) -> bool {
        self.pipeline.last().and_then(|s| s.keys().next()).is_some_and(|k| k == "$out" || k == "$merge")
    }
}

impl Operation for Aggregate {
    type Output = CursorSpec;

    fn name(&self) -> &str {
        "aggregate"
    }

    fn build(&mut self, _: &StreamDescription) -> Result<OpMsgParts> {
        let o = &self.options;
        let mut c = match &self.coll {
            Some(coll) => AggregateCommand::new(&self.db, coll, self.pipeline.clone()),
            None => AggregateCommand::on_database(&self.db, self.pipeline.clone()),
        };
        let mut cursor = Document::new();
        if let Some(b) = batch_size_arg(o.batch_size)?
            && !self.writes()
        {
            cursor.insert("batchSize", b);
        }
        c = c.cursor(cursor);
        if let Some(v) = o.allow_disk_use {
            c = c.allow_disk_use(v);
        }
        if let Some(v) = o.bypass_document_validation {
            c = c.bypass_document_validation(v);
        }
        if let Some(v) = &o.collation {
            c = c.collation(v.clone());
        }
        if let Some(v) = &o.hint {
            c = c.hint(v.clone());
        }
        if let Some(v) = &o.let_vars {
            c = c.let_(v.clone());
        }
        let generic = generic_with(&self.generic, o.max_time, o.comment.as_ref());
        c.with_generic_arguments(generic).to_op_msg()
    }

    fn handle_response(&mut self, reply: Document, description: &StreamDescription) -> Result<CursorSpec> {
        CursorSpec::from_initial(&reply, &description.server_address, self.options.batch_size, None)
            .map(|c| c.with_comment(self.options.comment.clone()))
    }

    fn selection_criteria(&self) -> SelectionCriteria {
        match &self.criteria {
            SelectionCriteria::Read(rp) if self.writes() => SelectionCriteria::WriteStage(rp.clone()),
            _ if self.writes() => SelectionCriteria::Write,
            other => other.clone(),
        }
    }

    fn supports_read_concern(&self) -> bool {
        true
    }

    fn retryability(&self) -> Retryability {
        if self.writes() { Retryability::None } else { Retryability::Read }
    }
}

/// `count_documents`: an `aggregate` that counts the matching documents in one batch.
#[derive(Debug, Clone)]
pub struct CountDocuments {
    ns: Namespace,
    filter: Document,
    options: CountOptions,
    generic: GenericArguments,
    criteria: SelectionCriteria,
}

impl CountDocuments {
    /// Counts the documents of `ns` matching `filter`.
    pub fn new(
        ns: Namespace,
        filter: Document,
        options: CountOptions,
        generic: GenericArguments,
        criteria: SelectionCriteria,
    ) -> Self {
        Self { ns, filter, options, generic, criteria }
    }

    /// The pipeline the CRUD spec prescribes.
    pub fn pipeline(&self) -> Vec<Document> {
        let mut pipeline = vec![doc! {"$match": self.filter.clone()}];
        if let Some(skip) = self.options.skip {
            pipeline.push(doc! {"$skip": skip});
        }
        if let Some(limit) = self.options.limit {
            pipeline.push(doc! {"$limit": limit});
        }
        pipeline.push(doc! {"$group": {"_id": 1, "n": {"$sum": 1}}});
        pipeline
    }
}

impl Operation for CountDocuments {
    type Output = u64;

    fn name(&self) -> &str {
        "aggregate"
    }

    fn build(&mut self, _: &StreamDescription) -> Result<OpMsgParts> {
        let o = &self.options;
        let mut c =
            AggregateCommand::new(&self.ns.db, &self.ns.coll, self.pipeline()).cursor(Document::new());
        if let Some(v) = &o.collation {
            c = c.collation(v.clone());
        }
        if let Some(v) = &o.hint {
            c = c.hint(v.clone());
        }
        let generic = generic_with(&self.generic, o.max_time, o.comment.as_ref());
        c.with_generic_arguments(generic).to_op_msg()
    }

    fn handle_response(&mut self, reply: Document, _: &StreamDescription) -> Result<u64> {
        let parsed = CursorInitialReply::from_document(&reply)?;
        let cursor = parsed
            .cursor
            .ok_or_else(|| Error::invalid_response("count_documents: no cursor in the reply"))?;
        let Some(first) = cursor.first_batch.first() else { return Ok(0) };
        count_value(first.get("n"), "count_documents")
    }

    crate::operation::retryable_read!();
}

/// A non-negative integral count from a reply.
pub(crate) fn count_value(value: Option<&Bson>, what: &str) -> Result<u64> {
    let n = match value {
        Some(Bson::Int32(n)) => i64::from(*n),
        Some(Bson::Int64(n)) => *n,
        Some(Bson::Double(n)) if n.fract() == 0.0 => *n as i64,
        other => {
            return Err(Error::invalid_response(format!("{what}: the count is {other:?}, not an integer")));
        }
    };
    u64::try_from(n).map_err(|_| Error::invalid_response(format!("{what}: negative count {n}")))
}
