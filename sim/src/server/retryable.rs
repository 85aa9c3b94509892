//! Retryable writes (retryable-writes spec): the `lsid` + `txnNumber` records that make a
//! retried write return the first attempt's reply instead of applying twice.

use std::collections::HashMap;

use bson::Document;

/// Commands that may carry a `txnNumber` outside a transaction, when every statement is
/// retryable (see [`is_retryable_write`]).
const RETRYABLE_COMMANDS: [&str; 4] = ["insert", "update", "delete", "findAndModify"];

/// Whether `cmd` (named `name`) is a retryable write: a supported command whose statements
/// are all single-document (no `multi: true` update, no `limit: 0` delete).
pub fn is_retryable_write(name: &str, cmd: &Document) -> bool {
    if !RETRYABLE_COMMANDS.contains(&name) {
        return false;
    }
    let statements = |field: &str| {
        cmd.get_array(field)
            .map(|a| a.iter().filter_map(|s| s.as_document()).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    match name {
        "update" => statements("updates").iter().all(|u| !u.get_bool("multi").unwrap_or(false)),
        "delete" => statements("deletes").iter().all(|d| {
            d.get("limit").is_some_and(|l| {
                matches!(l, bson::Bson::Int32(1) | bson::Bson::Int64(1)) || l.as_f64() == Some(1.0)
            })
        }),
        _ => true,
    }
}

/// The outcome a session's latest retryable write recorded.
#[derive(Debug, Clone)]
struct Record {
    txn_number: i64,
    reply: Document,
}

/// What to do with an incoming retryable write.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    /// First attempt: execute it.
    Execute,
    /// Already executed: return this reply.
    Replay(Document),
    /// A newer `txnNumber` already ran on the session.
    TooOld {
        /// The session's newest `txnNumber`.
        newest: i64,
    },
}

/// Every session's latest retryable-write record (shared by a replica set's members, as the
/// transaction table is replicated).
#[derive(Debug, Default)]
pub struct RetryableWrites {
    records: HashMap<Vec<u8>, Record>,
}

impl RetryableWrites {
    /// What to do with write `txn_number` on session `key`.
    pub fn lookup(&self, key: &[u8], txn_number: i64) -> Lookup {
        match self.records.get(key) {
            Some(r) if r.txn_number == txn_number => Lookup::Replay(r.reply.clone()),
            Some(r) if r.txn_number > txn_number => Lookup::TooOld { newest: r.txn_number },
            _ => Lookup::Execute,
        }
    }

    /// Records the reply of write `txn_number` on session `key`.
    pub fn record(&mut self, key: Vec<u8>, txn_number: i64, reply: Document) {
        self.records.insert(key, Record { txn_number, reply });
    }
}

#[cfg(test)]
mod tests {
    use bson::doc;

    use super::*;

    #[test]
    fn multi_statement_updates_and_deletes_are_not_retryable() {
        assert!(is_retryable_write("insert", &doc! { "insert": "c" }));
        assert!(is_retryable_write("update", &doc! { "updates": [{ "q": {}, "u": {} }] }));
        assert!(!is_retryable_write("update", &doc! { "updates": [{ "q": {}, "u": {}, "multi": true }] }));
        assert!(is_retryable_write("delete", &doc! { "deletes": [{ "q": {}, "limit": 1 }] }));
        assert!(!is_retryable_write("delete", &doc! { "deletes": [{ "q": {}, "limit": 0 }] }));
        assert!(!is_retryable_write("find", &doc! {}));
    }

    #[test]
    fn records_replay_and_reject_old_numbers() {
        let mut w = RetryableWrites::default();
        assert_eq!(w.lookup(b"s", 1), Lookup::Execute);
        w.record(b"s".to_vec(), 1, doc! { "n": 1 });
        assert_eq!(w.lookup(b"s", 1), Lookup::Replay(doc! { "n": 1 }));
        w.record(b"s".to_vec(), 3, doc! { "n": 2 });
        assert_eq!(w.lookup(b"s", 2), Lookup::TooOld { newest: 3 });
        assert_eq!(w.lookup(b"s", 4), Lookup::Execute);
    }
}
