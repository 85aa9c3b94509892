//! `estimated_document_count`, and the deprecated `count` helper, through the `count`
//! command (CRUD spec "Count API Details").

use bson::Document;

use super::aggregate::count_value;
use super::generic_with;
use super::{Namespace, Operation};
use crate::commands::{Command, CountCommand, CountCommandReply, GenericArguments, OpMsgParts};
use crate::connection::StreamDescription;
use crate::error::Result;
use crate::options::{CountOptions, EstimatedDocumentCountOptions};
use crate::topology::SelectionCriteria;

/// `count` without a filter: the collection's metadata count.
#[derive(Debug, Clone)]
pub struct EstimatedDocumentCount {
    ns: Namespace,
    options: EstimatedDocumentCountOptions,
    generic: GenericArguments,
    criteria: SelectionCriteria,
}

impl EstimatedDocumentCount {
    /// Estimates the number of documents in `ns`.
    pub fn new(
        ns: Namespace,
        options: EstimatedDocumentCountOptions,
        generic: GenericArguments,
        criteria: SelectionCriteria,
    ) -> Self {
        Self { ns, options, generic, criteria }
    }
}

impl Operation for EstimatedDocumentCount {
    type Output = u64;

    fn name(&self) -> &str {
        "count"
    }

    fn build(&mut self, _: &StreamDescription) -> Result<OpMsgParts> {
        let generic = generic_with(&self.generic, self.options.max_time, self.options.comment.as_ref());
        CountCommand::new(&self.ns.db, &self.ns.coll).with_generic_arguments(generic).to_op_msg()
    }

    fn handle_response(&mut self, reply: Document, _: &StreamDescription) -> Result<u64> {
        let parsed = CountCommandReply::from_document(&reply)?;
        count_value(Some(&parsed.n), "count")
    }

    crate::operation::retryable_read!();
}

/// The deprecated `count` helper: the `count` command with a filter (CRUD spec, "Count API
/// Details": drivers that kept `count` run this command; its result may be inexact on a
/// sharded cluster or after an unclean shutdown).
#[derive(Debug, Clone)]
pub struct Count {
    ns: Namespace,
    filter: Document,
    options: CountOptions,
    generic: GenericArguments,
    criteria: SelectionCriteria,
}

impl Count {
    /// Counts the documents of `ns` matching `filter` with the `count` command.
    pub fn new(
        ns: Namespace,
        filter: Document,
        options: CountOptions,
        generic: GenericArguments,
        criteria: SelectionCriteria,
    ) -> Self {
        Self { ns, filter, options, generic, criteria }
    }
}

impl Operation for Count {
    type Output = u64;

    fn name(&self) -> &str {
        "count"
    }

    fn build(&mut self, _: &StreamDescription) -> Result<OpMsgParts> {
        let o = &self.options;
        let mut c = CountCommand::new(&self.ns.db, &self.ns.coll).query(self.filter.clone());
        if let Some(v) = o.limit {
            c = c.limit(v);
        }
        if let Some(v) = o.skip {
            c = c.skip(v);
        }
        if let Some(v) = &o.hint {
            c = c.hint(v.clone());
        }
        if let Some(v) = &o.collation {
            c = c.collation(v.clone());
        }
        let generic = generic_with(&self.generic, o.max_time, o.comment.as_ref());
        c.with_generic_arguments(generic).to_op_msg()
    }

    fn handle_response(&mut self, reply: Document, _: &StreamDescription) -> Result<u64> {
        let parsed = CountCommandReply::from_document(&reply)?;
        count_value(Some(&parsed.n), "count")
    }

    crate::operation::retryable_read!();
}
