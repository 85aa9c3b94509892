//! GridFS spec "Indexes": before a bucket's first write, the files collection gets a
//! `{filename: 1, uploadDate: 1}` index and the chunks collection a unique
//! `{files_id: 1, n: 1}` index, unless the files collection already holds a file. The
//! `listIndexes` and `createIndexes` commands have no IDL in the server data, so their
//! documents are written here.

use bson::{Bson, Document, doc};
use futures::TryStreamExt;

use crate::api::cursor::Cursor;
use crate::commands::OpMsgParts;
use crate::connection::StreamDescription;
use crate::error::Result;
use crate::operation::{CursorSpec, Namespace, Operation, Retryability};
use crate::options::{ReadPreference, WriteConcern};
use crate::session::OpSession;
use crate::topology::SelectionCriteria;

use super::GridFsBucket;

/// `NamespaceNotFound`: listing the indexes of a collection that does not exist yet.
const NAMESPACE_NOT_FOUND: i32 = 26;

/// Lists a collection's indexes (a cursor of index specifications), on the primary.
#[derive(Debug, Clone)]
pub(crate) struct ListIndexes {
    ns: Namespace,
}

impl Operation for ListIndexes {
    type Output = CursorSpec;

    fn name(&self) -> &str {
        "listIndexes"
    }

    fn build(&mut self, _: &StreamDescription) -> Result<OpMsgParts> {
        let body = doc! {"listIndexes": self.ns.coll.clone(), "cursor": {}, "$db": self.ns.db.clone()};
        Ok(OpMsgParts { body, sequences: Vec::new() })
    }

    fn handle_response(&mut self, reply: Document, description: &StreamDescription) -> Result<CursorSpec> {
        CursorSpec::from_initial(&reply, &description.server_address, None, None)
    }

    fn selection_criteria(&self) -> SelectionCriteria {
        SelectionCriteria::Read(ReadPreference::primary())
    }

    fn retryability(&self) -> Retryability {
        Retryability::Read
    }
}

/// Creates one index on a collection.
#[derive(Debug, Clone)]
pub(crate) struct CreateIndex {
    ns: Namespace,
    keys: Document,
    name: String,
    unique: bool,
    write_concern: Option<WriteConcern>,
}

impl Operation for CreateIndex {
    type Output = ();

    fn name(&self) -> &str {
        "createIndexes"
    }

    fn build(&mut self, _: &StreamDescription) -> Result<OpMsgParts> {
        let mut index = doc! {"key": self.keys.clone(), "name": self.name.clone()};
        if self.unique {
            index.insert("unique", true);
        }
        let mut body = doc! {"createIndexes": self.ns.coll.clone(), "indexes": [index]};
        if let Some(wc) = self.write_concern.as_ref().filter(|wc| !wc.is_empty()) {
            body.insert("writeConcern", wc.to_document());
        }
        body.insert("$db", self.ns.db.clone());
        Ok(OpMsgParts { body, sequences: Vec::new() })
    }

    fn handle_response(&mut self, _: Document, _: &StreamDescription) -> Result<()> {
        Ok(())
    }
}

/// Whether two index key patterns are the same: the same fields in the same order, with
/// numerically equal directions (`1`, `1.0` and `NumberLong(1)` are one direction, as
/// the spec asks of drivers comparing the output of `listIndexes`).
pub(crate) fn same_keys(a: &Document, b: &Document) -> bool {
    fn direction(v: &Bson) -> Option<f64> {
        match v {
            Bson::Int32(i) => Some(f64::from(*i)),
            Bson::Int64(i) => Some(*i as f64),
            Bson::Double(d) => Some(*d),
            _ => None,
        }
    }
    a.len() == b.len()
        && a.iter().zip(b.iter()).all(|((ka, va), (kb, vb))| {
            ka == kb
                && match (direction(va), direction(vb)) {
                    (Some(x), Some(y)) => x == y,
                    _ => va == vb,
                }
        })
}

impl GridFsBucket {
    /// The key patterns of the indexes of `ns` (none when the collection does not exist).
    async fn index_keys(&self, ns: Namespace) -> Result<Vec<Document>> {
        let executor = self.db.client().executor();
        let mut op = ListIndexes { ns };
        let cursor: Cursor<Document> =
            match crate::api::coll::open_cursor(executor, self.db.timeout(), &mut op, None).await {
                Ok(c) => c,
                Err(e) if e.code() == Some(NAMESPACE_NOT_FOUND) => return Ok(Vec::new()),
                Err(e) => return Err(e),
            };
        let specs: Vec<Document> = cursor.try_collect().await?;
        Ok(specs.into_iter().filter_map(|spec| spec.get_document("key").ok().cloned()).collect())
    }

    /// Creates index `name` on `keys` in `ns` unless an index with the same keys exists.
    async fn ensure_index(&self, ns: Namespace, keys: Document, name: &str, unique: bool) -> Result<()> {
        let existing = self.index_keys(ns.clone()).await?;
        if existing.iter().any(|k| same_keys(k, &keys)) {
            return Ok(());
        }
        let mut op = CreateIndex {
            ns,
            keys,
            name: name.to_string(),
            unique,
            write_concern: self.files.write_concern().cloned(),
        };
        crate::api::coll::run_op(
            self.db.client().executor(),
            self.db.timeout(),
            &mut op,
            &mut OpSession::new(None),
        )
        .await
    }

    /// GridFS spec "Before write operations": once per bucket, unless the files collection
    /// already holds a document (read on the primary), the two indexes are made sure of.
    pub(super) async fn ensure_indexes(&self) -> Result<()> {
        if self.indexes_checked.load(std::sync::atomic::Ordering::Acquire) {
            return Ok(());
        }
        let any_file = self
            .files
            .find_one(Document::new())
            .projection(doc! {"_id": 1})
            .selection_criteria(ReadPreference::primary())
            .await?;
        if any_file.is_none() {
            let db = self.db.name();
            self.ensure_index(
                Namespace::new(db, self.files.name()),
                doc! {"filename": 1, "uploadDate": 1},
                "filename_1_uploadDate_1",
                false,
            )
            .await?;
            self.ensure_index(
                Namespace::new(db, self.chunks.name()),
                doc! {"files_id": 1, "n": 1},
                "files_id_1_n_1",
                true,
            )
            .await?;
        }
        self.indexes_checked.store(true, std::sync::atomic::Ordering::Release);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_patterns_compare_numerically_and_in_order() {
        assert!(same_keys(&doc! {"files_id": 1, "n": 1}, &doc! {"files_id": 1.0, "n": 1_i64}));
        assert!(!same_keys(&doc! {"files_id": 1, "n": 1}, &doc! {"n": 1, "files_id": 1}));
        assert!(!same_keys(&doc! {"files_id": 1, "n": 1}, &doc! {"files_id": 1, "n": -1}));
        assert!(!same_keys(&doc! {"files_id": 1}, &doc! {"files_id": 1, "n": 1}));
        assert!(!same_keys(&doc! {"filename": 1}, &doc! {"filename": "text"}));
    }
}
