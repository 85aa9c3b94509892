//! `estimated_document_count` through the `count` command (CRUD spec "Count API Details").

use bson::Document;

use super::aggregate::count_value;
use super::{Namespace, Operation, Retryability};
use crate::commands::{Command, CountCommand, CountCommandReply, GenericArguments, OpMsgParts};
use crate::connection::StreamDescription;
use crate::error::Result;
use crate::options::{EstimatedDocumentCountOptions, millis};
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
        let mut generic = self.generic.clone();
        if let Some(t) = self.options.max_time {
            generic.max_time_ms = Some(millis(t));
        }
        if let Some(comment) = &self.options.comment {
            generic.comment = Some(comment.clone());
        }
        CountCommand::new(&self.ns.db, &self.ns.coll).with_generic_arguments(generic).to_op_msg()
    }

    fn handle_response(&mut self, reply: Document, _: &StreamDescription) -> Result<u64> {
        let parsed = CountCommandReply::from_document(&reply)?;
        count_value(Some(&parsed.n), "count")
    }

    fn selection_criteria(&self) -> SelectionCriteria {
        self.criteria.clone()
    }

    fn supports_read_concern(&self) -> bool {
        true
    }

    fn retryability(&self) -> Retryability {
        Retryability::Read
    }
}
