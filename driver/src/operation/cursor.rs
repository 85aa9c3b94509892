//! `getMore` and `killCursors` (find/getMore/killCursors commands spec).

use std::collections::VecDeque;

use bson::{Bson, Document};

/// The wire version of MongoDB 4.4, the first to take a `comment` on getMore.
const GET_MORE_COMMENT_WIRE_VERSION: i32 = 9;

use super::{Namespace, Operation, batch_size_arg};
use crate::commands::{
    Command, CursorGetMoreReply, GenericArguments, GetMoreCommand, KillCursorsCommand, OpMsgParts,
};
use crate::connection::StreamDescription;
use crate::error::{Error, Result};

/// The next batch of a cursor.
#[derive(Debug, Clone, PartialEq)]
pub struct GetMoreResult {
    /// The documents.
    pub batch: VecDeque<Document>,
    /// The cursor id afterwards (0: exhausted).
    pub id: i64,
}

/// A `getMore` on an open cursor (run on the server that holds it; never retried).
#[derive(Debug, Clone)]
pub struct GetMore {
    ns: Namespace,
    id: i64,
    batch_size: Option<i32>,
    max_time_ms: Option<i64>,
    generic: GenericArguments,
    comment: Option<Bson>,
}

impl GetMore {
    /// The next batch of cursor `id` on `ns`.
    pub fn new(ns: Namespace, id: i64, batch_size: Option<i32>, max_time_ms: Option<i64>) -> Self {
        Self { ns, id, batch_size, max_time_ms, generic: GenericArguments::default(), comment: None }
    }
    /// Sets the cursor's `comment`, sent only to 4.4+ servers (older ones refuse it on
    /// getMore).
    pub fn comment(mut self, comment: Option<Bson>) -> Self {
        self.comment = comment;
        self
    }
    /// Sets the generic arguments (e.g. `comment`).
    pub fn generic(mut self, generic: GenericArguments) -> Self {
        self.generic = generic;
        self
    }
}

impl Operation for GetMore {
    type Output = GetMoreResult;

    fn name(&self) -> &str {
        "getMore"
    }

    fn build(&mut self, description: &StreamDescription) -> Result<OpMsgParts> {
        let mut c = GetMoreCommand::new(&self.ns.db, self.id, &self.ns.coll);
        // batchSize 0 means "the server's default" for find but is invalid for getMore.
        if let Some(b) = batch_size_arg(self.batch_size)?.filter(|b| *b > 0) {
            c = c.batch_size(b);
        }
        let mut generic = self.generic.clone();
        if let Some(t) = self.max_time_ms {
            generic.max_time_ms = Some(t);
        }
        if description.max_wire_version >= GET_MORE_COMMENT_WIRE_VERSION
            && let Some(comment) = &self.comment
        {
            generic.comment = Some(comment.clone());
        }
        c.with_generic_arguments(generic).to_op_msg()
    }

    fn handle_response(&mut self, reply: Document, _: &StreamDescription) -> Result<GetMoreResult> {
        let parsed = CursorGetMoreReply::from_document(&reply)?;
        if parsed.cursor.id != 0 && parsed.cursor.id != self.id {
            return Err(Error::invalid_response(format!(
                "getMore on cursor {} answered for cursor {}",
                self.id, parsed.cursor.id
            )));
        }
        Ok(GetMoreResult { batch: parsed.cursor.next_batch.into(), id: parsed.cursor.id })
    }
}

/// A `killCursors` for cursors the application abandoned.
#[derive(Debug, Clone)]
pub struct KillCursors {
    ns: Namespace,
    ids: Vec<i64>,
}

impl KillCursors {
    /// Kills cursors `ids` on `ns`.
    pub fn new(ns: Namespace, ids: Vec<i64>) -> Self {
        Self { ns, ids }
    }
}

impl Operation for KillCursors {
    type Output = ();

    fn name(&self) -> &str {
        "killCursors"
    }

    fn build(&mut self, _: &StreamDescription) -> Result<OpMsgParts> {
        KillCursorsCommand::new(&self.ns.db, &self.ns.coll, self.ids.clone()).to_op_msg()
    }

    fn handle_response(&mut self, _: Document, _: &StreamDescription) -> Result<()> {
        Ok(())
    }
}
