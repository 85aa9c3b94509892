//! Collections with per-document version history (for `readConcern: snapshot` reads at a
//! cluster time) and their indexes (MongoDB manual: "Indexes", "Unique Indexes").

use std::collections::BTreeMap;

use bson::{Bson, Document, Timestamp};

use super::CommandError;
use super::compare::{Key, display};
use super::matcher::{Filter, lookup_doc};

/// One index of a collection, as `createIndexes` recorded it.
#[derive(Debug, Clone)]
pub struct Index {
    /// The index name (`_id_` for the `_id` index).
    pub name: String,
    /// The key pattern.
    pub key: Document,
    /// Whether the index enforces uniqueness.
    pub unique: bool,
    /// Whether documents missing every key field are left out (`sparse`).
    pub sparse: bool,
    /// `partialFilterExpression`, compiled.
    pub partial: Option<Filter>,
    /// The full specification as `listIndexes` reports it.
    pub spec: Document,
}

impl Index {
    /// The `_id_` index every collection has.
    pub fn id_index() -> Index {
        Index {
            name: "_id_".into(),
            key: bson::doc! {"_id": 1},
            unique: true,
            sparse: false,
            partial: None,
            spec: bson::doc! {"v": 2, "key": {"_id": 1}, "name": "_id_"},
        }
    }

    /// The index key of a document (missing fields are null), or `None` when the document is
    /// not indexed (sparse or outside the partial filter).
    /// Every index key of a document: an array value contributes one key per element
    /// (a multikey index); missing fields are null. Empty when the document is not indexed
    /// (sparse, or outside the partial filter).
    fn keys_of(&self, doc: &Document) -> Vec<Document> {
        if self.partial.as_ref().is_some_and(|p| !p.matches(doc)) {
            return Vec::new();
        }
        let mut keys = vec![Document::new()];
        let mut any = false;
        let mut expanded = false;
        for field in self.key.keys() {
            let mut values: Vec<Bson> = Vec::new();
            for v in lookup_doc(doc, field) {
                match v {
                    None => values.push(Bson::Null),
                    Some(Bson::Array(items)) if !expanded => {
                        any = true;
                        if items.is_empty() {
                            values.push(Bson::Undefined);
                        }
                        values.extend(items.iter().cloned());
                    }
                    Some(other) => {
                        any = true;
                        values.push(other.clone());
                    }
                }
            }
            let mut unique: Vec<Bson> = Vec::with_capacity(values.len());
            for v in values {
                if !unique.iter().any(|u| super::compare::values_equal(u, &v)) {
                    unique.push(v);
                }
            }
            let values = unique;
            if values.len() > 1 {
                // Only one array field is expanded (mongod rejects parallel arrays).
                expanded = true;
            }
            let mut next = Vec::with_capacity(keys.len() * values.len().max(1));
            for k in &keys {
                for v in &values {
                    let mut nk = k.clone();
                    nk.insert(field.clone(), v.clone());
                    next.push(nk);
                }
            }
            keys = next;
        }
        if self.sparse && !any {
            return Vec::new();
        }
        keys
    }
}

/// A write error with the extra fields mongod puts in `writeErrors` entries.
#[derive(Debug, Clone)]
pub struct WriteError {
    /// Code, name and message.
    pub error: CommandError,
    /// Extra fields (`keyPattern`, `keyValue` for duplicate keys).
    pub extra: Option<Box<Document>>,
}

impl From<WriteError> for CommandError {
    /// The write error as a whole-command failure (e.g. `findAndModify`), keeping its extra
    /// fields in the reply.
    fn from(e: WriteError) -> Self {
        CommandError { extra: e.extra.or(e.error.extra), ..e.error }
    }
}

impl From<CommandError> for WriteError {
    fn from(error: CommandError) -> Self {
        WriteError { error, extra: None }
    }
}

#[derive(Debug, Clone)]
struct Record {
    /// (write time, document or `None` when deleted), oldest first.
    versions: Vec<(Timestamp, Option<Document>)>,
    /// Indexes into `versions` written by a whole-document replacement (for change events).
    replaced: Vec<usize>,
}

impl Record {
    fn latest(&self) -> Option<&Document> {
        self.versions.last().and_then(|(_, d)| d.as_ref())
    }
    fn at(&self, t: Timestamp) -> Option<&Document> {
        self.versions.iter().rev().find(|(ts, _)| *ts <= t).and_then(|(_, d)| d.as_ref())
    }
}

/// A collection: documents in natural (insertion) order, each with its history.
#[derive(Debug, Clone)]
pub struct Collection {
    records: Vec<Record>,
    id_index: BTreeMap<Key, usize>,
    /// Indexes, `_id_` first.
    pub indexes: Vec<Index>,
    /// Creation options (as `listCollections` reports them).
    pub options: Document,
    /// The collection's UUID.
    pub uuid: bson::Binary,
    /// When the collection was created.
    pub created_at: Timestamp,
    tombstones: usize,
    /// Live documents.
    live: usize,
    /// Whether `_id`s are unique (not in a time-series collection, which mongod stores as
    /// buckets without an `_id` index: its measurements may share an `_id`).
    unique_ids: bool,
}

/// One write found in a collection's history (see [`Collection::writes_from`]).
#[derive(Debug, Clone)]
pub struct Write<'a> {
    /// When it was written.
    pub ts: Timestamp,
    /// The record written.
    pub rid: usize,
    /// The version index within the record.
    pub vi: usize,
    /// The document before (`None`: inserted).
    pub prev: Option<&'a Document>,
    /// The document after (`None`: deleted).
    pub cur: Option<&'a Document>,
    /// Whether a whole-document replacement wrote it.
    pub replaced: bool,
}

/// A collection's state at one moment (see [`Collection::mark`]).
#[derive(Debug, Clone, Default)]
pub struct Mark {
    records: usize,
    versions: Vec<usize>,
}

/// A handle to one live document: its position in the collection.
pub type RecordId = usize;

impl Collection {
    /// An empty collection created at `ts`.
    pub fn new(options: Document, ts: Timestamp) -> Collection {
        let mut bytes = [0u8; 16];
        let seed = bson::oid::ObjectId::new().bytes();
        bytes[..12].copy_from_slice(&seed);
        bytes[12..].copy_from_slice(&(ts.increment ^ ts.time).to_be_bytes());
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        let unique_ids = !options.contains_key("timeseries");
        Collection {
            records: Vec::new(),
            id_index: BTreeMap::new(),
            indexes: vec![Index::id_index()],
            live: 0,
            unique_ids,
            options,
            uuid: bson::Binary { subtype: bson::spec::BinarySubtype::Uuid, bytes: bytes.to_vec() },
            created_at: ts,
            tombstones: 0,
        }
    }

    /// Number of live documents.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether there are no live documents.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Live documents in natural order.
    pub fn iter(&self) -> impl Iterator<Item = (RecordId, &Document)> {
        self.records.iter().enumerate().filter_map(|(i, r)| r.latest().map(|d| (i, d)))
    }

    /// Documents as of `t` (snapshot read), or the latest when `t` is `None`.
    pub fn snapshot(&self, t: Option<Timestamp>) -> Vec<Document> {
        match t {
            None => self.iter().map(|(_, d)| d.clone()).collect(),
            Some(t) => self.records.iter().filter_map(|r| r.at(t).cloned()).collect(),
        }
    }

    /// Documents visible at `t` (latest when `None`), by reference, in natural order.
    pub fn visible(&self, t: Option<Timestamp>) -> impl Iterator<Item = &Document> {
        self.records.iter().filter_map(move |r| match t {
            None => r.latest(),
            Some(t) => r.at(t),
        })
    }

    /// The live document with this `_id` (the first inserted, where `_id`s may repeat).
    pub fn by_id(&self, id: &Bson) -> Option<(RecordId, &Document)> {
        let i = *self.id_index.get(&Key(id.clone()))?;
        self.records.get(i).and_then(|r| r.latest()).map(|d| (i, d))
    }

    /// The live document at `rid`.
    pub fn get(&self, rid: RecordId) -> Option<&Document> {
        self.records.get(rid).and_then(Record::latest)
    }

    /// Total BSON size of the live documents.
    pub fn data_size(&self) -> u64 {
        self.iter().map(|(_, d)| d.to_vec().map_or(0, |v| v.len() as u64)).sum()
    }

    fn dup_error(&self, ns: &str, index: &Index, key: &Document) -> WriteError {
        let kv: Vec<String> = key.iter().map(|(k, v)| format!("{k}: {}", display(v))).collect();
        WriteError {
            error: CommandError::new(
                11000,
                "DuplicateKey",
                format!(
                    "E11000 duplicate key error collection: {ns} index: {} dup key: {{ {} }}",
                    index.name,
                    kv.join(", ")
                ),
            ),
            extra: Some(Box::new(bson::doc! {"keyPattern": index.key.clone(), "keyValue": key.clone()})),
        }
    }

    /// Checks every unique index for a document about to be stored at `rid` (`None`: new).
    pub fn check_unique(&self, ns: &str, doc: &Document, rid: Option<RecordId>) -> Result<(), WriteError> {
        if let Some(id) = doc.get("_id").filter(|_| self.unique_ids) {
            let other = self.id_index.get(&Key(id.clone())).copied();
            if other.is_some() && other != rid {
                let idx = Index::id_index();
                return Err(self.dup_error(ns, &idx, &bson::doc! {"_id": id.clone()}));
            }
        }
        for index in self.indexes.iter().filter(|i| i.unique && i.name != "_id_") {
            let keys = index.keys_of(doc);
            if keys.is_empty() {
                continue;
            }
            for (i, other) in self.iter() {
                if Some(i) == rid {
                    continue;
                }
                let theirs = index.keys_of(other);
                if let Some(key) =
                    keys.iter().find(|k| theirs.iter().any(|t| super::compare::compare_docs_values(k, t)))
                {
                    return Err(self.dup_error(ns, index, key));
                }
            }
        }
        Ok(())
    }

    /// Inserts a document (which must have an `_id`), enforcing unique indexes.
    pub fn insert(&mut self, ns: &str, doc: Document, ts: Timestamp) -> Result<RecordId, WriteError> {
        self.check_unique(ns, &doc, None)?;
        let id = doc.get("_id").cloned().unwrap_or(Bson::Null);
        self.records.push(Record { versions: vec![(ts, Some(doc))], replaced: Vec::new() });
        let rid = self.records.len() - 1;
        // Where `_id`s may repeat, the index keeps pointing at the first live one.
        self.id_index.entry(Key(id)).or_insert(rid);
        self.live += 1;
        Ok(rid)
    }

    /// Replaces the document at `rid` (same `_id`), enforcing unique indexes.
    pub fn replace(
        &mut self,
        ns: &str,
        rid: RecordId,
        doc: Document,
        ts: Timestamp,
    ) -> Result<(), WriteError> {
        self.check_unique(ns, &doc, Some(rid))?;
        if let Some(r) = self.records.get_mut(rid) {
            r.versions.push((ts, Some(doc)));
        }
        Ok(())
    }

    /// Like [`Collection::replace`], recorded as a whole-document replacement (a `replace`
    /// change event rather than an `update`).
    pub fn replace_whole(
        &mut self,
        ns: &str,
        rid: RecordId,
        doc: Document,
        ts: Timestamp,
    ) -> Result<(), WriteError> {
        self.replace(ns, rid, doc, ts)?;
        if let Some(r) = self.records.get_mut(rid) {
            r.replaced.push(r.versions.len() - 1);
        }
        Ok(())
    }

    /// The writes at or after `from`, in (time, record, version) order.
    pub fn writes_from(&self, from: Timestamp) -> Vec<Write<'_>> {
        let mut out = Vec::new();
        for (rid, r) in self.records.iter().enumerate() {
            for (vi, (ts, doc)) in r.versions.iter().enumerate() {
                if *ts < from {
                    continue;
                }
                let prev = vi.checked_sub(1).and_then(|p| r.versions.get(p)).and_then(|(_, d)| d.as_ref());
                out.push(Write {
                    ts: *ts,
                    rid,
                    vi,
                    prev,
                    cur: doc.as_ref(),
                    replaced: r.replaced.contains(&vi),
                });
            }
        }
        out.sort_by_key(|w| (w.ts, w.rid, w.vi));
        out
    }

    /// Deletes the document at `rid`.
    pub fn delete(&mut self, rid: RecordId, ts: Timestamp) {
        let Some(r) = self.records.get_mut(rid) else { return };
        let Some(id) = r.latest().and_then(|d| d.get("_id")).cloned() else { return };
        r.versions.push((ts, None));
        self.live -= 1;
        self.tombstones += 1;
        let key = Key(id);
        if self.id_index.get(&key) == Some(&rid) {
            self.id_index.remove(&key);
            if !self.unique_ids {
                let next = self.records.iter().position(|r| {
                    r.latest().and_then(|d| d.get("_id")).is_some_and(|x| Key(x.clone()) == key)
                });
                if let Some(next) = next {
                    self.id_index.insert(key, next);
                }
            }
        }
    }

    /// A mark of the collection's current state, for [`Collection::changes_since`].
    pub fn mark(&self) -> Mark {
        Mark {
            records: self.records.len(),
            versions: self.records.iter().map(|r| r.versions.len()).collect(),
        }
    }

    /// The documents written since `mark`: (`_id`, final state or `None` when deleted), in
    /// natural order, the last state of each `_id` winning.
    pub fn changes_since(&self, mark: &Mark) -> Vec<(Bson, Option<Document>)> {
        let mut out: Vec<(Bson, Option<Document>)> = Vec::new();
        for (i, r) in self.records.iter().enumerate() {
            let changed = i >= mark.records || mark.versions.get(i).is_some_and(|n| r.versions.len() > *n);
            if !changed {
                continue;
            }
            let Some(id) = r.versions.iter().find_map(|(_, d)| d.as_ref().and_then(|d| d.get("_id"))) else {
                continue;
            };
            let state = r.latest().cloned();
            match out.iter_mut().find(|(x, _)| super::compare::values_equal(x, id)) {
                // A live state wins over the deletion of an older record with the same `_id`.
                Some(slot) => {
                    if state.is_some() || slot.1.is_none() {
                        slot.1 = state;
                    }
                }
                None => out.push((id.clone(), state)),
            }
        }
        out
    }

    /// Whether the document with this `_id` was written (inserted, updated or deleted) after `t`.
    pub fn changed_after(&self, id: &Bson, t: Timestamp) -> bool {
        self.records.iter().any(|r| {
            r.versions.last().is_some_and(|(ts, _)| *ts > t)
                && r.versions
                    .iter()
                    .find_map(|(_, d)| d.as_ref().and_then(|d| d.get("_id")))
                    .is_some_and(|x| super::compare::values_equal(x, id))
        })
    }

    /// Deletes every document (as `$out` does before writing).
    pub fn clear(&mut self, ts: Timestamp) {
        let ids: Vec<RecordId> = self.iter().map(|(i, _)| i).collect();
        for i in ids {
            self.delete(i, ts);
        }
    }

    /// Adds an index, checking existing documents against a unique one.
    pub fn add_index(&mut self, ns: &str, index: Index) -> Result<(), WriteError> {
        if index.unique {
            let mut seen: Vec<Document> = Vec::new();
            for (_, d) in self.iter() {
                for k in index.keys_of(d) {
                    if seen.iter().any(|s| super::compare::compare_docs_values(s, &k)) {
                        return Err(self.dup_error(ns, &index, &k));
                    }
                    seen.push(k);
                }
            }
        }
        self.indexes.push(index);
        Ok(())
    }
}
