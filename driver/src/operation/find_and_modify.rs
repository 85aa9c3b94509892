//! `findAndModify` behind `find_one_and_delete`, `find_one_and_update` and
//! `find_one_and_replace` (CRUD spec "Find And Modify").

use bson::{Bson, Document};

use super::generic_with;
use super::write_hint::{HintedWrite, check_hint};
use super::{Namespace, Operation, Retryability};
use crate::commands::{
    Command, FindAndModifyCommand, FindAndModifyCommandReply, GenericArguments, OpMsgParts,
};
use crate::connection::StreamDescription;
use crate::error::Result;
use crate::options::FindOneAndModifyOptions;
use crate::results::WriteConcernError;

/// What `findAndModify` does to the document it finds.
#[derive(Debug, Clone, PartialEq)]
pub enum Modification {
    /// Deletes it.
    Delete,
    /// Applies an update document or pipeline.
    Update(Bson),
    /// Replaces it.
    Replace(Document),
}

/// A `findAndModify`; the output is the document before (or after) the change.
#[derive(Debug, Clone)]
pub struct FindAndModify {
    ns: Namespace,
    filter: Document,
    modification: Modification,
    options: FindOneAndModifyOptions,
    generic: GenericArguments,
}

impl FindAndModify {
    /// Finds one document of `ns` matching `filter` and applies `modification`.
    pub fn new(
        ns: Namespace,
        filter: Document,
        modification: Modification,
        options: FindOneAndModifyOptions,
        generic: GenericArguments,
    ) -> Self {
        Self { ns, filter, modification, options, generic }
    }
}

impl Operation for FindAndModify {
    type Output = Option<Document>;

    fn name(&self) -> &str {
        "findAndModify"
    }

    fn build(&mut self, description: &StreamDescription) -> Result<OpMsgParts> {
        let o = &self.options;
        if o.hint.is_some() {
            check_hint(HintedWrite::FindAndModify, description, self.generic.write_concern.as_ref())?;
        }
        let mut c = FindAndModifyCommand::new(&self.ns.db, &self.ns.coll).query(self.filter.clone());
        match &self.modification {
            Modification::Delete => c = c.remove(true),
            Modification::Update(u) => {
                c = c.update(u.clone());
                if let Some(v) = &o.array_filters {
                    c = c.array_filters(v.clone());
                }
            }
            Modification::Replace(r) => c = c.update(r.clone()),
        }
        if !matches!(self.modification, Modification::Delete) {
            if let Some(v) = o.return_document_after {
                c = c.new_(v);
            }
            if let Some(v) = o.upsert {
                c = c.upsert(v);
            }
            if let Some(v) = o.bypass_document_validation {
                c = c.bypass_document_validation(v);
            }
        }
        if let Some(v) = &o.projection {
            c = c.fields(v.clone());
        }
        if let Some(v) = &o.sort {
            c = c.sort(v.clone());
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

    fn handle_response(&mut self, reply: Document, _: &StreamDescription) -> Result<Option<Document>> {
        if let Some(wce) = WriteConcernError::from_reply(&reply) {
            return Err(wce.into_error());
        }
        Ok(FindAndModifyCommandReply::from_document(&reply)?.value)
    }

    fn retryability(&self) -> Retryability {
        Retryability::Write
    }

    fn may_be_unacknowledged(&self) -> bool {
        true
    }

    /// Unacknowledged: no document comes back.
    fn handle_unacknowledged(&mut self, _: &StreamDescription) -> Result<Option<Document>> {
        Ok(None)
    }
}
