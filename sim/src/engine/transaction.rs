//! Multi-document transactions (MongoDB manual: "Transactions" — snapshot isolation, a
//! transaction sees its own writes, write conflicts abort it, commit applies all or nothing).
//!
//! The server layer keeps one [`Transaction`] per session/txnNumber, runs the transaction's
//! commands with [`Store::run_in_transaction`], and ends it with
//! [`Store::commit_transaction`] or [`Store::abort_transaction`] (dropping the
//! [`Transaction`] also releases it). A document written by one open transaction makes
//! another transaction's write to it fail with WriteConflict.

use std::collections::BTreeMap;
use std::sync::Arc;

use bson::{Bson, Document, Timestamp};

use super::collection::{Collection, Mark};
use super::compare::Key;
use super::{CommandError, ExecContext, Store};

/// A transaction's private view of the data: a copy taken when it started, plus its writes.
#[derive(Debug, Clone)]
pub struct Transaction {
    id: u64,
    /// Held while the transaction exists; its locks die with it.
    alive: Arc<()>,
    data: Store,
    start: Timestamp,
    marks: BTreeMap<(String, String), Mark>,
}

/// The commands a transaction may run (others fail with OperationNotSupportedInTransaction).
const IN_TRANSACTION: &[&str] = &[
    "find",
    "getMore",
    "killCursors",
    "insert",
    "update",
    "delete",
    "findAndModify",
    "findandmodify",
    "aggregate",
    "distinct",
    "create",
    "createIndexes",
];

fn write_conflict() -> CommandError {
    CommandError::new(
        112,
        "WriteConflict",
        "WriteConflict error: this operation conflicted with another operation. Please retry your operation or multi-document transaction.",
    )
}

impl Transaction {
    /// When the transaction's snapshot was taken.
    pub fn start(&self) -> Timestamp {
        self.start
    }

    fn written(&self) -> Vec<(String, String, Bson, Option<Document>)> {
        let mut out = Vec::new();
        for (db, d) in &self.data.dbs {
            for (name, c) in &d.collections {
                let mark = self.marks.get(&(db.clone(), name.clone())).cloned().unwrap_or_default();
                for (id, state) in c.changes_since(&mark) {
                    out.push((db.clone(), name.clone(), id, state));
                }
            }
        }
        out
    }
}

impl Transaction {
    /// mongod 4.4+ builds indexes in a transaction only on a collection the transaction
    /// creates: a new index on a collection that existed before it fails with
    /// OperationNotSupportedInTransaction, while re-creating an existing index succeeds and a
    /// conflicting one fails as outside (jstests/core/txns/create_existing_indexes.js).
    fn check_new_indexes(&self, db: &str, cmd: &Document) -> Result<(), CommandError> {
        let coll = cmd.get_str("createIndexes").unwrap_or_default();
        if !self.marks.contains_key(&(db.to_owned(), coll.to_owned())) {
            return Ok(());
        }
        let Some(existing) = self.data.collection(db, coll) else { return Ok(()) };
        let specs = cmd.get_array("indexes").map(|a| a.as_slice()).unwrap_or_default();
        let new = specs.iter().filter_map(Bson::as_document).any(|spec| {
            let name = spec.get_str("name").ok();
            let key = spec.get_document("key").ok();
            !existing.indexes.iter().any(|i| Some(i.name.as_str()) == name || Some(&i.key) == key)
        });
        if new {
            return Err(CommandError::new(
                263,
                "OperationNotSupportedInTransaction",
                format!(
                    "Cannot create new indexes on existing collection {db}.{coll} in a multi-document transaction."
                ),
            ));
        }
        Ok(())
    }
}

impl Store {
    /// Starts a transaction reading the current data (snapshot isolation).
    pub fn begin_transaction(&mut self) -> Transaction {
        let id = self.next_txn;
        self.next_txn += 1;
        let mut data = Store::new();
        data.dbs = self.dbs.clone();
        data.last_write = self.last_write;
        data.next_cursor = self.next_cursor + 1_000_000;
        let mut marks = BTreeMap::new();
        for (db, d) in &self.dbs {
            for (name, c) in &d.collections {
                marks.insert((db.clone(), name.clone()), c.mark());
            }
        }
        Transaction { id, alive: Arc::new(()), data, start: self.last_write, marks }
    }

    /// Runs one command inside `txn`: it sees the transaction's snapshot and its own writes;
    /// a write to a document another writer changed after the snapshot fails with
    /// WriteConflict (112), after which the transaction must be aborted.
    pub fn run_in_transaction(
        &mut self,
        txn: &mut Transaction,
        db: &str,
        cmd: &Document,
        ctx: &ExecContext,
    ) -> Result<Document, CommandError> {
        let name = cmd.keys().next().map(String::as_str).unwrap_or("");
        if !IN_TRANSACTION.contains(&name) {
            return Err(CommandError::new(
                263,
                "OperationNotSupportedInTransaction",
                format!("Cannot run '{name}' in a multi-document transaction."),
            ));
        }
        if name == "aggregate" && Store::is_write_command(cmd) {
            return Err(CommandError::new(
                263,
                "OperationNotSupportedInTransaction",
                "$out and $merge cannot be used in a transaction",
            ));
        }
        if name == "createIndexes" {
            txn.check_new_indexes(db, cmd)?;
        }
        let inner = ExecContext { read_at: None, ..ctx.clone() };
        let reply = txn.data.run(db, cmd, &inner)?;
        let written = txn.written();
        // Locks of transactions that no longer exist (dropped without commit/abort) lapse.
        self.txn_locks.retain(|_, (_, alive)| alive.strong_count() > 0);
        for (tdb, tcoll, id, _) in &written {
            // Another writer changed the document after our snapshot, or another open
            // transaction has written it.
            let changed = self.collection(tdb, tcoll).is_some_and(|c| c.changed_after(id, txn.start));
            let key = (tdb.clone(), tcoll.clone(), Key(id.clone()));
            let locked = self.txn_locks.get(&key).is_some_and(|(owner, _)| *owner != txn.id);
            if changed || locked {
                return Err(write_conflict());
            }
        }
        for (tdb, tcoll, id, _) in written {
            self.txn_locks.insert((tdb, tcoll, Key(id)), (txn.id, Arc::downgrade(&txn.alive)));
        }
        Ok(reply)
    }

    /// Ends a transaction without applying its writes (releases the documents it wrote).
    pub fn abort_transaction(&mut self, txn: &Transaction) {
        self.txn_locks.retain(|_, (owner, _)| *owner != txn.id);
    }

    /// Applies a transaction's writes at `ts`, all or nothing; either way the transaction is
    /// over afterwards.
    pub fn commit_transaction(&mut self, txn: &Transaction, ts: Timestamp) -> Result<(), CommandError> {
        self.abort_transaction(txn);
        let writes = txn.written();
        for (db, coll, id, _) in &writes {
            if self.collection(db, coll).is_some_and(|c| c.changed_after(id, txn.start)) {
                return Err(write_conflict());
            }
        }
        if ts > self.last_write {
            self.last_write = ts;
        }
        // Collections (and their indexes) the transaction created.
        for (db, d) in &txn.data.dbs {
            for (name, c) in &d.collections {
                if self.collection(db, name).is_none() && !txn.marks.contains_key(&(db.clone(), name.clone()))
                {
                    let mut fresh = Collection::new(c.options.clone(), ts);
                    fresh.indexes = c.indexes.clone();
                    self.dbs.entry(db.clone()).or_default().collections.insert(name.clone(), fresh);
                }
            }
        }
        let mut next = self.clone();
        for (db, coll, id, state) in writes {
            let ns = format!("{db}.{coll}");
            let c = next.coll_mut(&db, &coll, ts);
            let existing = c.by_id(&id).map(|(rid, _)| rid);
            let r = match (existing, state) {
                (Some(rid), Some(doc)) => c.replace(&ns, rid, doc, ts),
                (Some(rid), None) => {
                    c.delete(rid, ts);
                    Ok(())
                }
                (None, Some(doc)) => c.insert(&ns, doc, ts).map(|_| ()),
                (None, None) => Ok(()),
            };
            r.map_err(|e| e.error)?;
        }
        *self = next;
        Ok(())
    }
}
