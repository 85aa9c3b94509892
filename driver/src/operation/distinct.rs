//! `distinct` (CRUD spec "Distinct").

use bson::{Bson, Document};

use super::generic_with;
use super::{Namespace, Operation};
use crate::commands::{Command, DistinctCommand, GenericArguments, OpMsgParts};
use crate::connection::StreamDescription;
use crate::error::{Error, Result};
use crate::options::DistinctOptions;
use crate::topology::SelectionCriteria;

/// The distinct values of a field among the matching documents.
#[derive(Debug, Clone)]
pub struct Distinct {
    ns: Namespace,
    key: String,
    filter: Document,
    options: DistinctOptions,
    generic: GenericArguments,
    criteria: SelectionCriteria,
}

impl Distinct {
    /// The distinct values of `key` in the documents of `ns` matching `filter`.
    pub fn new(
        ns: Namespace,
        key: impl Into<String>,
        filter: Document,
        options: DistinctOptions,
        generic: GenericArguments,
        criteria: SelectionCriteria,
    ) -> Self {
        Self { ns, key: key.into(), filter, options, generic, criteria }
    }
}

impl Operation for Distinct {
    type Output = Vec<Bson>;

    fn name(&self) -> &str {
        "distinct"
    }

    fn build(&mut self, _: &StreamDescription) -> Result<OpMsgParts> {
        let mut c = DistinctCommand::new(&self.ns.db, &self.ns.coll, &self.key).query(self.filter.clone());
        if let Some(v) = &self.options.collation {
            c = c.collation(v.clone());
        }
        let generic = generic_with(&self.generic, self.options.max_time, self.options.comment.as_ref());
        c.with_generic_arguments(generic).to_op_msg()
    }

    fn handle_response(&mut self, reply: Document, _: &StreamDescription) -> Result<Vec<Bson>> {
        // The IDL gives `distinct` no reply type: `values` is read by hand.
        reply.get_array("values").cloned().map_err(|_| {
            Error::invalid_response(format!("distinct: the reply has no `values` array: {reply}"))
        })
    }

    crate::operation::retryable_read!();
}
