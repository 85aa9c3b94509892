//! Engine transactions: snapshot isolation, own writes visible, write conflicts, and
//! all-or-nothing commit (manual "Transactions" and "Read Isolation").

use bson::{Document, Timestamp, doc};
use mongo_sim::engine::{ExecContext, Store};

fn at(t: u32) -> ExecContext {
    ExecContext { write_time: Some(Timestamp { time: t, increment: 0 }), ..ExecContext::default() }
}

fn ids(reply: &Document) -> Vec<i32> {
    reply
        .get_document("cursor")
        .unwrap()
        .get_array("firstBatch")
        .unwrap()
        .iter()
        .map(|d| d.as_document().unwrap().get_i32("_id").unwrap())
        .collect()
}

#[test]
fn writes_are_private_until_commit() {
    let mut s = Store::new();
    s.run("db", &doc! {"insert": "c", "documents": [{"_id": 1}]}, &at(1)).unwrap();
    let mut txn = s.begin_transaction();
    s.run_in_transaction(&mut txn, "db", &doc! {"insert": "c", "documents": [{"_id": 2}]}, &at(2)).unwrap();
    s.run_in_transaction(
        &mut txn,
        "db",
        &doc! {"delete": "c", "deletes": [{"q": {"_id": 1}, "limit": 1}]},
        &at(2),
    )
    .unwrap();
    // Outside: unchanged. Inside: own writes.
    assert_eq!(ids(&s.run("db", &doc! {"find": "c"}, &at(3)).unwrap()), vec![1]);
    assert_eq!(ids(&s.run_in_transaction(&mut txn, "db", &doc! {"find": "c"}, &at(3)).unwrap()), vec![2]);
    // A new collection created inside the transaction appears on commit.
    s.run_in_transaction(&mut txn, "db", &doc! {"insert": "n", "documents": [{"_id": 9}]}, &at(3)).unwrap();
    s.commit_transaction(&txn, Timestamp { time: 4, increment: 0 }).unwrap();
    assert_eq!(ids(&s.run("db", &doc! {"find": "c"}, &at(5)).unwrap()), vec![2]);
    assert_eq!(ids(&s.run("db", &doc! {"find": "n"}, &at(5)).unwrap()), vec![9]);
}

#[test]
fn abort_discards_and_snapshot_hides_later_writes() {
    let mut s = Store::new();
    s.run("db", &doc! {"insert": "c", "documents": [{"_id": 1}]}, &at(1)).unwrap();
    let mut txn = s.begin_transaction();
    s.run("db", &doc! {"insert": "c", "documents": [{"_id": 3}]}, &at(2)).unwrap();
    // The transaction reads its snapshot: the later insert is invisible.
    assert_eq!(ids(&s.run_in_transaction(&mut txn, "db", &doc! {"find": "c"}, &at(3)).unwrap()), vec![1]);
    s.run_in_transaction(&mut txn, "db", &doc! {"insert": "c", "documents": [{"_id": 2}]}, &at(3)).unwrap();
    s.abort_transaction(&txn);
    assert_eq!(ids(&s.run("db", &doc! {"find": "c"}, &at(4)).unwrap()), vec![1, 3]);
}

#[test]
fn conflicting_writes_and_unsupported_commands_fail() {
    let mut s = Store::new();
    s.run("db", &doc! {"insert": "c", "documents": [{"_id": 1, "v": 0}]}, &at(1)).unwrap();
    let mut txn = s.begin_transaction();
    s.run("db", &doc! {"update": "c", "updates": [{"q": {"_id": 1}, "u": {"$set": {"v": 1}}}]}, &at(2))
        .unwrap();
    let e = s
        .run_in_transaction(
            &mut txn,
            "db",
            &doc! {"update": "c", "updates": [{"q": {"_id": 1}, "u": {"$set": {"v": 2}}}]},
            &at(3),
        )
        .unwrap_err();
    assert_eq!((e.code, e.code_name.as_str()), (112, "WriteConflict"));
    assert!(s.commit_transaction(&txn, Timestamp { time: 4, increment: 0 }).is_err());
    let mut txn = s.begin_transaction();
    assert_eq!(s.run_in_transaction(&mut txn, "db", &doc! {"count": "c"}, &at(5)).unwrap_err().code, 263);
    s.abort_transaction(&txn);
    assert_eq!(
        s.run_in_transaction(
            &mut txn,
            "db",
            &doc! {"aggregate": "c", "pipeline": [{"$out": "o"}], "cursor": {}},
            &at(5)
        )
        .unwrap_err()
        .code,
        263
    );
}

#[test]
fn concurrent_transactions_conflict_on_the_same_document() {
    // Transactions spec "errors: write conflict commit": the second transaction's insert of
    // the same _id fails at once with WriteConflict; the first still commits.
    let mut s = Store::new();
    let mut t0 = s.begin_transaction();
    let mut t1 = s.begin_transaction();
    s.run_in_transaction(&mut t0, "db", &doc! {"insert": "c", "documents": [{"_id": 1}]}, &at(1)).unwrap();
    let e = s
        .run_in_transaction(&mut t1, "db", &doc! {"insert": "c", "documents": [{"_id": 1}]}, &at(2))
        .unwrap_err();
    assert_eq!(e.code_name, "WriteConflict");
    s.commit_transaction(&t0, Timestamp { time: 3, increment: 0 }).unwrap();
    s.abort_transaction(&t1);
    assert_eq!(ids(&s.run("db", &doc! {"find": "c"}, &at(4)).unwrap()), vec![1]);
    // Once t0 is over, a new transaction may write the document.
    let mut t2 = s.begin_transaction();
    s.run_in_transaction(
        &mut t2,
        "db",
        &doc! {"delete": "c", "deletes": [{"q": {"_id": 1}, "limit": 1}]},
        &at(5),
    )
    .unwrap();
    s.commit_transaction(&t2, Timestamp { time: 6, increment: 0 }).unwrap();
    assert!(ids(&s.run("db", &doc! {"find": "c"}, &at(7)).unwrap()).is_empty());
}

#[test]
fn a_dropped_transaction_releases_its_documents() {
    let mut s = Store::new();
    let mut t0 = s.begin_transaction();
    s.run_in_transaction(&mut t0, "db", &doc! {"insert": "c", "documents": [{"_id": 1}]}, &at(1)).unwrap();
    drop(t0);
    let mut t1 = s.begin_transaction();
    s.run_in_transaction(&mut t1, "db", &doc! {"insert": "c", "documents": [{"_id": 1}]}, &at(2)).unwrap();
    s.commit_transaction(&t1, Timestamp { time: 3, increment: 0 }).unwrap();
    assert_eq!(ids(&s.run("db", &doc! {"find": "c"}, &at(4)).unwrap()), vec![1]);
}

#[test]
fn new_indexes_only_on_collections_the_transaction_creates() {
    // jstests/core/txns/create_existing_indexes.js: an existing index may be "re-created",
    // a new one on a pre-existing collection fails with OperationNotSupportedInTransaction.
    let mut s = Store::new();
    s.run("db", &doc! {"insert": "c", "documents": [{"_id": 1}]}, &at(1)).unwrap();
    s.run("db", &doc! {"createIndexes": "c", "indexes": [{"key": {"a": 1}, "name": "a_1"}]}, &at(2)).unwrap();
    let mut txn = s.begin_transaction();
    let same = doc! {"createIndexes": "c", "indexes": [{"key": {"a": 1}, "name": "a_1"}]};
    assert!(s.run_in_transaction(&mut txn, "db", &same, &at(3)).is_ok());
    let new = doc! {"createIndexes": "c", "indexes": [{"key": {"b": 1}, "name": "b_1"}]};
    let err = s.run_in_transaction(&mut txn, "db", &new, &at(3)).unwrap_err();
    assert_eq!((err.code, err.code_name.as_str()), (263, "OperationNotSupportedInTransaction"));
    // A collection the transaction creates takes new indexes.
    let fresh = doc! {"createIndexes": "n", "indexes": [{"key": {"b": 1}, "name": "b_1"}]};
    assert!(s.run_in_transaction(&mut txn, "db", &fresh, &at(3)).is_ok());
}
