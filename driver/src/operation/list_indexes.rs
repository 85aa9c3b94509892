//! `listIndexes` (index-management spec "Index View API" / `listIndexes`): a cursor of a
//! collection's index descriptions.

use bson::{Document, doc};

use super::{CursorSpec, Namespace, Operation, Retryability, cursor_arg};
use crate::commands::OpMsgParts;
use crate::connection::StreamDescription;
use crate::error::Result;
use crate::options::ListIndexesOptions;
use crate::selection::ReadPreference;
use crate::topology::SelectionCriteria;

/// Lists the indexes of a collection.
#[derive(Debug, Clone)]
pub struct ListIndexes {
    ns: Namespace,
    options: ListIndexesOptions,
}

impl ListIndexes {
    /// Lists the indexes of `ns`.
    pub fn new(ns: Namespace, options: ListIndexesOptions) -> Self {
        Self { ns, options }
    }
}

impl Operation for ListIndexes {
    type Output = CursorSpec;

    fn name(&self) -> &str {
        "listIndexes"
    }

    fn build(&mut self, _: &StreamDescription) -> Result<OpMsgParts> {
        let cursor = cursor_arg(self.options.batch_size)?;
        let mut body = doc! {"listIndexes": self.ns.coll.clone(), "cursor": cursor};
        if let Some(max_time) = self.options.max_time {
            body.insert("maxTimeMS", crate::options::millis(max_time));
        }
        if let Some(c) = &self.options.comment {
            body.insert("comment", c.clone());
        }
        body.insert("$db", self.ns.db.clone());
        Ok(OpMsgParts { body, sequences: Vec::new() })
    }

    fn handle_response(&mut self, reply: Document, description: &StreamDescription) -> Result<CursorSpec> {
        CursorSpec::from_initial(&reply, &description.server_address, self.options.batch_size, None)
    }

    fn selection_criteria(&self) -> SelectionCriteria {
        SelectionCriteria::Read(ReadPreference::primary())
    }

    fn retryability(&self) -> Retryability {
        Retryability::Read
    }
}
