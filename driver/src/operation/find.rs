//! `find` (find/getMore/killCursors commands spec "find"; CRUD spec "Find").

use bson::Document;

use super::generic_with;
use super::{CursorSpec, Namespace, Operation, batch_size_arg};
use crate::commands::{Command, FindCommand, GenericArguments, OpMsgParts};
use crate::connection::StreamDescription;
use crate::error::Result;
use crate::options::{FindOptions, millis};
use crate::topology::SelectionCriteria;

/// A `find` opening a cursor.
#[derive(Debug, Clone)]
pub struct Find {
    ns: Namespace,
    filter: Document,
    options: FindOptions,
    generic: GenericArguments,
    criteria: SelectionCriteria,
}

impl Find {
    /// Finds the documents of `ns` matching `filter`. `generic` carries what the executor
    /// does not add (read concern, comment); `criteria` the read preference.
    pub fn new(
        ns: Namespace,
        filter: Document,
        options: FindOptions,
        generic: GenericArguments,
        criteria: SelectionCriteria,
    ) -> Self {
        Self { ns, filter, options, generic, criteria }
    }
}

impl Operation for Find {
    type Output = CursorSpec;

    fn name(&self) -> &str {
        "find"
    }

    fn build(&mut self, _: &StreamDescription) -> Result<OpMsgParts> {
        let o = &self.options;
        let mut c = FindCommand::new(&self.ns.db, &self.ns.coll).filter(self.filter.clone());
        if let Some(v) = &o.projection {
            c = c.projection(v.clone());
        }
        if let Some(v) = &o.sort {
            c = c.sort(v.clone());
        }
        if let Some(v) = o.skip {
            c = c.skip(v);
        }
        match o.limit {
            // CRUD spec: a negative limit asks for one batch of at most |limit| documents.
            Some(l) if l < 0 => c = c.limit(-l).single_batch(true),
            Some(l) if l > 0 => c = c.limit(l),
            _ => {}
        }
        if let Some(b) = batch_size_arg(o.batch_size)? {
            // A batchSize equal to the limit lets the server close the cursor at once.
            c = c.batch_size(b);
        }
        if let Some(v) = &o.hint {
            c = c.hint(v.clone());
        }
        if let Some(v) = &o.collation {
            c = c.collation(v.clone());
        }
        if let Some(v) = o.allow_disk_use {
            c = c.allow_disk_use(v);
        }
        if let Some(v) = o.allow_partial_results {
            c = c.allow_partial_results(v);
        }
        if let Some(v) = &o.max {
            c = c.max(v.clone());
        }
        if let Some(v) = &o.min {
            c = c.min(v.clone());
        }
        if let Some(v) = o.no_cursor_timeout {
            c = c.no_cursor_timeout(v);
        }
        if let Some(v) = o.return_key {
            c = c.return_key(v);
        }
        if let Some(v) = o.show_record_id {
            c = c.show_record_id(v);
        }
        if let Some(v) = &o.let_vars {
            c = c.let_(v.clone());
        }
        if let Some(v) = o.tailable {
            c = c.tailable(v);
        }
        if let Some(v) = o.await_data {
            c = c.await_data(v);
        }
        let generic = generic_with(&self.generic, o.max_time, o.comment.as_ref());
        c.with_generic_arguments(generic).to_op_msg()
    }

    fn handle_response(&mut self, reply: Document, description: &StreamDescription) -> Result<CursorSpec> {
        CursorSpec::from_initial(
            &reply,
            &description.server_address,
            self.options.batch_size,
            // find/getMore spec: maxAwaitTimeMS becomes the getMore's maxTimeMS, only for
            // tailable awaitData cursors.
            self.options.max_await_time.filter(|_| self.options.await_data == Some(true)).map(millis),
        )
        .map(|c| c.with_comment(self.options.comment.clone()).with_limit(self.options.limit))
    }

    crate::operation::retryable_read!();
}
