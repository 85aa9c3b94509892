//! Server-side cursors (MongoDB manual: "Cursors"; find/getMore/killCursors command replies).

use std::collections::VecDeque;

use bson::{Bson, Document, Timestamp};

/// An open cursor: the not-yet-returned results, materialised when the cursor was created.
#[derive(Debug, Clone)]
pub struct Cursor {
    /// `db.collection` (or `db.$cmd.listCollections` etc.).
    pub ns: String,
    /// Results still to return.
    pub docs: VecDeque<Document>,
    /// The session the cursor belongs to.
    pub lsid: Option<Document>,
    /// The snapshot time the cursor read at.
    pub read_at: Option<Timestamp>,
    /// For a change stream: where it is and what it watches (its `docs` stay empty).
    pub stream: Option<super::change_stream::Stream>,
}

/// The default first-batch size of `find` and `aggregate`.
pub const DEFAULT_BATCH: usize = 101;

/// Takes one batch: at most `limit` documents (unbounded when `None`) and at most
/// `max_bytes` of BSON (but always at least one document).
pub fn take_batch(docs: &mut VecDeque<Document>, limit: Option<usize>, max_bytes: usize) -> Vec<Bson> {
    let mut out = Vec::new();
    let mut bytes = 0usize;
    while let Some(d) = docs.front() {
        if limit.is_some_and(|l| out.len() >= l) {
            break;
        }
        let size = d.to_vec().map_or(0, |v| v.len());
        if !out.is_empty() && bytes + size > max_bytes {
            break;
        }
        bytes += size;
        if let Some(d) = docs.pop_front() {
            out.push(Bson::Document(d));
        }
    }
    out
}
