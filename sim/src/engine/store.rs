//! The store: every database of one deployment, its open cursors, the catalog history change
//! streams read, and the write locks of open transactions (the state the commands work on).

use std::collections::{BTreeMap, HashMap};

use bson::{Document, Timestamp};

use super::CommandError;
use super::change_stream::{
    DdlEvent, DdlKind, Position, Stream, collection_events, ddl_events, token_modified,
};
use super::collection::Collection;
use super::compare::Key;
use super::context::ExecContext;
use super::cursor::Cursor;

/// One database: its collections by name.
#[derive(Debug, Clone, Default)]
pub struct Database {
    /// Collections by name.
    pub collections: BTreeMap<String, Collection>,
}

/// All databases of one deployment (a replica set's members share one store).
///
/// `Clone` gives a full copy (e.g. for a transaction's rollback image).
#[derive(Debug, Clone)]
pub struct Store {
    /// Databases by name.
    pub(super) dbs: BTreeMap<String, Database>,
    /// Open cursors by id.
    pub(super) cursors: HashMap<i64, Cursor>,
    /// Sequence number of the next cursor id.
    pub(super) next_cursor: i64,
    /// The latest write time seen.
    pub(super) last_write: Timestamp,
    /// Documents written by open transactions: (db, collection, `_id`) → (transaction id,
    /// liveness of that transaction: a dropped [`super::transaction::Transaction`] releases
    /// its locks).
    pub(super) txn_locks: BTreeMap<(String, String, Key), (u64, std::sync::Weak<()>)>,
    /// The next transaction id.
    pub(super) next_txn: u64,
    /// Catalog changes, oldest first, for change streams (drop, rename, create, …).
    pub(super) ddl: Vec<DdlEvent>,
    /// Collections dropped or renamed while a change stream was open, kept for the events
    /// written before (db, name, collection, when it lost the name).
    pub(super) retired: Vec<(String, String, Collection, Timestamp)>,
    /// When a renamed collection got its current name (its earlier writes belong to the
    /// old name).
    pub(super) named_at: BTreeMap<(String, String), Timestamp>,
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

impl Store {
    /// An empty store.
    pub fn new() -> Self {
        Self {
            dbs: BTreeMap::new(),
            cursors: HashMap::new(),
            next_cursor: 1,
            last_write: Timestamp { time: 0, increment: 0 },
            txn_locks: BTreeMap::new(),
            next_txn: 1,
            ddl: Vec::new(),
            retired: Vec::new(),
            named_at: BTreeMap::new(),
        }
    }

    /// The session a cursor was opened in, if the cursor exists (`Some(None)`: no session).
    pub fn cursor_lsid(&self, id: i64) -> Option<Option<&Document>> {
        self.cursors.get(&id).map(|c| c.lsid.as_ref())
    }

    /// Keeps `c`, which loses its name `db.name` at `until`, for the change streams open now.
    pub(super) fn retire(&mut self, db: &str, name: &str, c: Collection, until: Timestamp) {
        if self.cursors.values().any(|cur| cur.stream.is_some()) {
            self.retired.push((db.to_string(), name.to_string(), c, until));
        }
        self.named_at.remove(&(db.to_string(), name.to_string()));
    }

    /// Whether cursor `id` is a change stream (`None`: no such cursor).
    pub fn cursor_is_stream(&self, id: i64) -> Option<bool> {
        self.cursors.get(&id).map(|c| c.stream.is_some())
    }

    /// Removes cursor `id` (a getMore that failed after checking it out).
    pub fn kill_cursor(&mut self, id: i64) {
        self.cursors.remove(&id);
    }

    /// Closes every cursor opened in the session `lsid` (for `endSessions`/`killSessions`);
    /// returns how many were closed.
    pub fn kill_session_cursors(&mut self, lsid: &Document) -> usize {
        let before = self.cursors.len();
        self.cursors.retain(|_, c| c.lsid.as_ref() != Some(lsid));
        before - self.cursors.len()
    }

    /// Number of open cursors.
    pub fn open_cursors(&self) -> usize {
        self.cursors.len()
    }

    /// A collection, if it exists.
    pub fn collection(&self, db: &str, coll: &str) -> Option<&Collection> {
        self.dbs.get(db).and_then(|d| d.collections.get(coll))
    }

    /// The names of the databases that hold at least one collection.
    pub fn database_names(&self) -> Vec<String> {
        self.dbs.iter().filter(|(_, d)| !d.collections.is_empty()).map(|(n, _)| n.clone()).collect()
    }

    /// The time a write of this command is stamped with (the store's clock advances to it).
    pub(super) fn stamp(&mut self, ctx: &ExecContext) -> Timestamp {
        let t = ctx.write_time.unwrap_or(self.last_write);
        if t > self.last_write {
            self.last_write = t;
        }
        t
    }

    /// Collection `db.coll`, created (empty, no options, at `ts`) when missing.
    pub(super) fn coll_mut(&mut self, db: &str, coll: &str, ts: Timestamp) -> &mut Collection {
        self.dbs
            .entry(db.to_string())
            .or_default()
            .collections
            .entry(coll.to_string())
            .or_insert_with(|| Collection::new(Document::new(), ts))
    }

    /// Collection `db.coll` for writing, if it exists.
    pub(super) fn existing_mut(&mut self, db: &str, coll: &str) -> Option<&mut Collection> {
        self.dbs.get_mut(db).and_then(|d| d.collections.get_mut(coll))
    }

    /// Records a catalog change at `ts` for change streams.
    pub(super) fn record_ddl(
        &mut self,
        ts: Timestamp,
        db: &str,
        coll: Option<&str>,
        kind: DdlKind,
        description: Document,
        uuid: Option<bson::Binary>,
    ) {
        self.ddl.push(DdlEvent {
            ts,
            db: db.to_string(),
            coll: coll.map(str::to_string),
            kind,
            description,
            uuid,
        });
    }

    /// The events after `stream.pos` (at most `limit` passing the stream's pipeline), the new
    /// position, and whether the stream was invalidated (its last event is `invalidate`; the
    /// server closes it then).
    pub(super) fn stream_events(
        &self,
        stream: &Stream,
        limit: Option<usize>,
    ) -> Result<(Vec<Document>, Position, bool), CommandError> {
        let mut events: Vec<(Position, Document)> = ddl_events(&self.ddl, stream);
        let in_scope = |db: &str, name: &str| {
            stream.db.as_ref().is_none_or(|x| x == db)
                && !matches!(db, "admin" | "config" | "local")
                && stream.coll.as_ref().is_none_or(|x| x == name)
                && !name.starts_with("system.")
        };
        for (db, d) in &self.dbs {
            for (name, c) in &d.collections {
                if in_scope(db, name) {
                    let since = self.named_at.get(&(db.clone(), name.clone())).copied();
                    collection_events(stream, db, name, c, since, None, &mut events)?;
                }
            }
        }
        for (db, name, c, until) in &self.retired {
            if in_scope(db, name) {
                collection_events(stream, db, name, c, None, Some(*until), &mut events)?;
            }
        }
        events.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out = Vec::new();
        let mut pos = stream.pos.clone();
        let mut invalidated = false;
        for (p, ev) in events {
            if limit.is_some_and(|l| out.len() >= l) {
                break;
            }
            let id = ev.get("_id").cloned();
            let invalidate = ev.get_str("operationType").is_ok_and(|o| o == "invalidate");
            pos = p;
            for shaped in stream.pipeline.run(vec![ev], &Default::default())? {
                if shaped.get("_id").cloned() != id {
                    return Err(token_modified());
                }
                out.push(shaped);
            }
            if invalidate {
                invalidated = true;
                break;
            }
        }
        Ok((out, pos, invalidated))
    }
}
