//! Cursor replies and the cursor commands (manual "getMore", "killCursors"): first batches,
//! open cursors, change-stream batches with their `postBatchResumeToken`.

use std::collections::VecDeque;

use bson::{Bson, Document, doc};

use super::args::{DEFAULT_MAX_BSON, Reply, coll_name, missing_field, non_negative, type_mismatch};
use crate::engine::cursor::{Cursor, DEFAULT_BATCH, take_batch};
use crate::engine::{CommandError, ExecContext, Store};

impl Store {
    pub(super) fn new_cursor_id(&mut self) -> i64 {
        // Cursor ids look like mongod's: large positive 64-bit numbers.
        let id = 0x2000_0000_0000 + self.next_cursor * 7919;
        self.next_cursor += 1;
        id
    }

    /// Builds a cursor reply, keeping a cursor open when results remain.
    pub(super) fn cursor_reply(
        &mut self,
        ns: String,
        docs: Vec<Document>,
        batch_size: Option<usize>,
        single_batch: bool,
        ctx: &ExecContext,
    ) -> Document {
        let mut queue: VecDeque<Document> = docs.into();
        let max = if ctx.max_bson_size == 0 { DEFAULT_MAX_BSON } else { ctx.max_bson_size };
        let batch = take_batch(&mut queue, Some(batch_size.unwrap_or(DEFAULT_BATCH)), max);
        // `batchSize: 0` asks for a cursor without running the query: mongod returns an open
        // cursor even when nothing would match.
        let deferred = batch_size == Some(0) && !single_batch;
        let id = if (queue.is_empty() && !deferred) || single_batch {
            0
        } else {
            let id = self.new_cursor_id();
            self.cursors.insert(
                id,
                Cursor {
                    ns: ns.clone(),
                    docs: queue,
                    lsid: ctx.lsid.clone(),
                    read_at: ctx.read_at,
                    stream: None,
                },
            );
            id
        };
        doc! {"cursor": {"firstBatch": batch, "id": id, "ns": ns}}
    }

    pub(super) fn cmd_get_more(&mut self, db: &str, cmd: &Document, ctx: &ExecContext) -> Reply {
        let id = match cmd.get("getMore") {
            Some(Bson::Int64(i)) => *i,
            Some(Bson::Int32(i)) => i64::from(*i),
            Some(other) => return Err(type_mismatch("getMore", "getMore", other, "long")),
            None => return Err(CommandError::new(9, "FailedToParse", "getMore needs a cursor id")),
        };
        let coll = match cmd.get("collection") {
            Some(Bson::String(s)) => s.clone(),
            Some(other) => return Err(type_mismatch("getMore", "collection", other, "string")),
            None => {
                return Err(missing_field("getMore.collection"));
            }
        };
        let batch_size = non_negative(cmd, "batchSize")?.filter(|b| *b > 0).map(|b| b as usize);
        let ns = format!("{db}.{coll}");
        let Some(cursor) = self.cursors.get_mut(&id) else {
            return Err(CommandError::new(43, "CursorNotFound", format!("cursor id {id} not found")));
        };
        if cursor.ns != ns && !cursor.ns.starts_with(&format!("{db}.$cmd")) {
            return Err(CommandError::new(
                13,
                "Unauthorized",
                format!(
                    "Requested getMore on namespace '{ns}', but cursor belongs to a different namespace {}",
                    cursor.ns
                ),
            ));
        }
        if cursor.lsid.is_some() && cursor.lsid != ctx.lsid {
            return Err(CommandError::new(
                50738,
                "Location50738",
                format!("Cannot run getMore on cursor {id}, which was created in a different session"),
            ));
        }
        if let Some(stream) = cursor.stream.take() {
            // A change stream stays open; each getMore returns the events since the last one.
            let result = self.stream_events(&stream, batch_size);
            let Some(cursor) = self.cursors.get_mut(&id) else {
                return Err(CommandError::new(43, "CursorNotFound", format!("cursor id {id} not found")));
            };
            let ns = cursor.ns.clone();
            let (batch, pos, invalidated) = match result {
                Ok(r) => r,
                Err(e) => {
                    cursor.stream = Some(stream);
                    return Err(e);
                }
            };
            let resume = crate::engine::change_stream::token(&pos);
            cursor.stream = Some(crate::engine::change_stream::Stream { pos, ..stream });
            let id = if invalidated {
                self.cursors.remove(&id);
                0
            } else {
                id
            };
            return Ok(
                doc! {"cursor": {"nextBatch": batch, "postBatchResumeToken": resume, "id": id, "ns": ns}},
            );
        }
        let max = if ctx.max_bson_size == 0 { DEFAULT_MAX_BSON } else { ctx.max_bson_size };
        let batch = take_batch(&mut cursor.docs, batch_size, max);
        let ns = cursor.ns.clone();
        let exhausted = cursor.docs.is_empty();
        if exhausted {
            self.cursors.remove(&id);
        }
        Ok(doc! {"cursor": {"nextBatch": batch, "id": if exhausted { 0 } else { id }, "ns": ns}})
    }

    pub(super) fn cmd_kill_cursors(&mut self, _db: &str, cmd: &Document) -> Reply {
        // Cursors of a database- or cluster-level aggregate (a `$changeStream` on a database)
        // live on the collectionless namespace `<db>.$cmd.aggregate`, which mongod accepts
        // here (NamespaceString::isCollectionlessAggregateNS, src/mongo/db/namespace_string.h).
        if cmd.get_str("killCursors").ok() != Some("$cmd.aggregate") {
            coll_name(cmd)?;
        }
        let ids = match cmd.get("cursors") {
            Some(Bson::Array(a)) => a.clone(),
            Some(other) => return Err(type_mismatch("killCursors", "cursors", other, "array")),
            None => {
                return Err(missing_field("killCursors.cursors"));
            }
        };
        let (mut killed, mut not_found) = (Vec::new(), Vec::new());
        for v in ids {
            let id = match v {
                Bson::Int64(i) => i,
                Bson::Int32(i) => i64::from(i),
                other => return Err(type_mismatch("killCursors", "cursors", &other, "long")),
            };
            if self.cursors.remove(&id).is_some() {
                killed.push(Bson::Int64(id));
            } else {
                not_found.push(Bson::Int64(id));
            }
        }
        Ok(doc! {
            "cursorsKilled": killed,
            "cursorsNotFound": not_found,
            "cursorsAlive": Vec::<Bson>::new(),
            "cursorsUnknown": Vec::<Bson>::new(),
        })
    }
}
