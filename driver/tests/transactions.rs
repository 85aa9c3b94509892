//! Transactions against the simulator (transactions spec: the state machine, the commands'
//! fields, commit retry and error labels, mongos pinning and the recoveryToken; convenient
//! API spec: `with_transaction` retries).

use std::time::Duration;

use bson::{Bson, Document, doc};
use futures::{FutureExt, TryStreamExt};
use mongo_driver::Collection;
use mongo_driver::error::ErrorKind;
use mongo_driver::options::{ReadPreference, WriteConcern};
use mongo_driver::session::transaction::{TRANSIENT_TRANSACTION_ERROR, UNKNOWN_TRANSACTION_COMMIT_RESULT};
use mongo_driver::session::{TransactionOptions, TransactionState};
use mongo_sim::Config;

mod common;

use common::Fixture;

impl Fixture {
    async fn new(config: Config) -> Self {
        Self::start(config, "serverSelectionTimeoutMS=5000").await
    }

    async fn rs() -> Self {
        Self::new(Config::replica_set(3)).await
    }

    fn coll(&self) -> Collection<Document> {
        self.client.database("txn").collection("items")
    }

    /// The started commands named `name`.
    fn named(&self, name: &str) -> Vec<Document> {
        self.started(name).into_iter().map(|s| s.command).collect()
    }

    async fn fail(&self, commands: &[&str], times: i32, data: Document) {
        let mut data = data;
        data.insert("failCommands", commands.iter().map(|c| Bson::String(c.to_string())).collect::<Vec<_>>());
        let command = doc! {"configureFailPoint": "failCommand", "mode": {"times": times}, "data": data};
        self.client.database("admin").run_command(command).await.expect("configureFailPoint");
    }

    async fn ids(&self) -> Vec<Bson> {
        let cursor = self.coll().find(doc! {}).sort(doc! {"_id": 1}).await.expect("find");
        let docs: Vec<Document> = cursor.try_collect().await.expect("documents");
        docs.into_iter().filter_map(|d| d.get("_id").cloned()).collect()
    }
}

/// Statements carry lsid, the same txnNumber and autocommit: false; only the first has
/// startTransaction; nothing is visible outside until the commit; commit goes to admin.
#[tokio::test]
async fn commit_applies_all_statements() {
    let f = Fixture::rs().await;
    f.coll().insert_one(doc! {"_id": 0}).await.expect("setup");
    let mut s = f.client.start_session().await.expect("session");
    assert_eq!(s.transaction_state(), TransactionState::None);
    s.start_transaction(None).expect("start");
    assert_eq!(s.transaction_state(), TransactionState::Starting);
    f.clear();
    f.coll().insert_one(doc! {"_id": 1}).session(&mut s).await.expect("insert 1");
    assert_eq!(s.transaction_state(), TransactionState::InProgress);
    f.coll().insert_one(doc! {"_id": 2}).session(&mut s).await.expect("insert 2");
    let inside = f.coll().find_one(doc! {"_id": 2}).session(&mut s).await.expect("find");
    assert!(inside.is_some(), "the transaction reads its own writes");
    assert_eq!(f.ids().await, vec![Bson::Int32(0)], "nothing visible before the commit");
    s.commit_transaction().await.expect("commit");
    assert_eq!(s.transaction_state(), TransactionState::Committed);
    assert_eq!(f.ids().await, vec![Bson::Int32(0), Bson::Int32(1), Bson::Int32(2)]);

    let inserts = f.named("insert");
    // The pooled server session may have served a retryable write before: its number goes on.
    let number = inserts[0].get_i64("txnNumber").expect("txnNumber");
    assert_eq!(inserts[0].get_bool("startTransaction").ok(), Some(true));
    assert!(!inserts[1].contains_key("startTransaction"));
    let finds = f.named("find");
    for c in inserts.iter().chain(&finds[..1]) {
        assert_eq!(c.get_i64("txnNumber").ok(), Some(number), "{c}");
        assert_eq!(c.get_bool("autocommit").ok(), Some(false), "{c}");
        assert_eq!(c.get_document("lsid").ok(), Some(s.id()));
        assert!(!c.contains_key("writeConcern") && !c.contains_key("readConcern"), "{c}");
    }
    let commit = &f.named("commitTransaction")[0];
    assert_eq!(commit.get_str("$db").ok(), Some("admin"));
    assert_eq!(commit.get_i64("txnNumber").ok(), Some(number));
    // An operation after the commit leaves the transaction and is no longer part of it.
    f.coll().insert_one(doc! {"_id": 3}).session(&mut s).await.expect("after");
    assert_eq!(s.transaction_state(), TransactionState::None);
    let last = f.named("insert").pop().expect("insert");
    assert!(!last.contains_key("autocommit"));
    assert_eq!(last.get_i64("txnNumber").ok(), Some(number + 1), "a retryable write takes the next number");
}

/// Abort discards the writes; the state machine refuses what the spec forbids.
#[tokio::test]
async fn abort_and_state_errors() {
    let f = Fixture::rs().await;
    let mut s = f.client.start_session().await.expect("session");
    let message = |e: mongo_driver::Error| e.to_string();
    assert!(message(s.commit_transaction().await.unwrap_err()).contains("No transaction started"));
    assert!(message(s.abort_transaction().await.unwrap_err()).contains("No transaction started"));
    s.start_transaction(None).expect("start");
    assert!(message(s.start_transaction(None).unwrap_err()).contains("Transaction already in progress"));
    f.coll().insert_one(doc! {"_id": 1}).session(&mut s).await.expect("insert");
    s.abort_transaction().await.expect("abort");
    assert_eq!(s.transaction_state(), TransactionState::Aborted);
    assert!(f.ids().await.is_empty());
    assert!(message(s.abort_transaction().await.unwrap_err()).contains("Cannot call abortTransaction twice"));
    assert!(
        message(s.commit_transaction().await.unwrap_err())
            .contains("Cannot call commitTransaction after calling abortTransaction")
    );
    s.start_transaction(None).expect("restart");
    s.commit_transaction().await.expect("empty commit");
    assert!(
        message(s.abort_transaction().await.unwrap_err())
            .contains("Cannot call abortTransaction after calling commitTransaction")
    );
    assert_eq!(f.named("commitTransaction").len(), 0, "an empty transaction sends no commit");
    assert_eq!(f.named("abortTransaction").len(), 1);
    // Unacknowledged transactions and non-primary reads are refused client-side.
    let unack = TransactionOptions::default().write_concern(WriteConcern::nodes(0));
    assert!(message(s.start_transaction(unack).unwrap_err()).contains("unacknowledged"));
    let secondary = TransactionOptions::default().read_preference(ReadPreference::secondary());
    s.start_transaction(secondary).expect("start");
    let e = f.coll().find_one(doc! {}).session(&mut s).await.unwrap_err();
    assert!(e.to_string().contains("read preference in a transaction must be primary"), "{e}");
    assert_eq!(s.transaction_state(), TransactionState::Starting, "client errors change nothing");
    f.coll().insert_one(doc! {"_id": 5}).session(&mut s).await.expect("writes are not checked");
    s.abort_transaction().await.expect("abort");
}

/// The transaction's read concern goes on the first command only (with afterClusterTime in a
/// causally consistent session); its write concern and maxCommitTimeMS on the commit.
#[tokio::test]
async fn options_are_inherited_and_placed() {
    let f = Fixture::rs().await;
    let defaults = TransactionOptions::default()
        .read_concern(mongo_driver::options::ReadConcern::majority())
        .write_concern(WriteConcern::nodes(1));
    let mut s = f.client.start_session().default_transaction_options(defaults).await.expect("session");
    f.coll().insert_one(doc! {"_id": 0}).session(&mut s).await.expect("causal write");
    f.clear();
    s.start_transaction(TransactionOptions::default().max_commit_time(Duration::from_millis(900)))
        .expect("start");
    f.coll().insert_one(doc! {"_id": 1}).session(&mut s).await.expect("first");
    f.coll().insert_one(doc! {"_id": 2}).session(&mut s).await.expect("second");
    s.commit_transaction().await.expect("commit");
    let inserts = f.named("insert");
    let rc = inserts[0].get_document("readConcern").expect("the first has the read concern");
    assert_eq!(rc.get_str("level").ok(), Some("majority"));
    assert!(rc.contains_key("afterClusterTime"));
    assert!(!inserts[1].contains_key("readConcern"));
    let commit = &f.named("commitTransaction")[0];
    assert_eq!(commit.get_document("writeConcern").ok(), Some(&doc! {"w": 1_i64}));
    assert_eq!(commit.get_i64("maxTimeMS").ok(), Some(900));
    // Committing again re-runs the commit with w: majority.
    s.commit_transaction().await.expect("second commit");
    let again = f.named("commitTransaction").pop().expect("commit");
    assert_eq!(
        again.get_document("writeConcern").ok(),
        Some(&doc! {"w": "majority", "wtimeout": 10_000_i64})
    );
}

/// A commit is retried once after a network error (w: majority on the retry); when the
/// retry fails too the error is labeled UnknownTransactionCommitResult.
#[tokio::test]
async fn commit_retry_and_unknown_result() {
    let f = Fixture::rs().await;
    let mut s = f.client.start_session().await.expect("session");
    s.start_transaction(None).expect("start");
    f.coll().insert_one(doc! {"_id": 1}).session(&mut s).await.expect("insert");
    f.fail(&["commitTransaction"], 1, doc! {"closeConnection": true}).await;
    s.commit_transaction().await.expect("the retry commits");
    let commits = f.named("commitTransaction");
    assert_eq!(commits.len(), 2);
    assert!(!commits[0].contains_key("writeConcern"));
    assert_eq!(
        commits[1].get_document("writeConcern").ok(),
        Some(&doc! {"w": "majority", "wtimeout": 10_000_i64})
    );
    assert_eq!(f.ids().await, vec![Bson::Int32(1)]);

    s.start_transaction(None).expect("start");
    f.coll().insert_one(doc! {"_id": 2}).session(&mut s).await.expect("insert");
    f.fail(&["commitTransaction"], 2, doc! {"closeConnection": true}).await;
    let e = s.commit_transaction().await.unwrap_err();
    assert!(e.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT), "{e}");
    assert!(!e.contains_label(TRANSIENT_TRANSACTION_ERROR), "{e}");
    s.commit_transaction().await.expect("the application's retry commits");
    assert_eq!(f.ids().await, vec![Bson::Int32(1), Bson::Int32(2)]);
}

/// A network error on a statement is labeled TransientTransactionError and never retried.
#[tokio::test]
async fn statement_network_errors_are_transient() {
    let f = Fixture::rs().await;
    let mut s = f.client.start_session().await.expect("session");
    s.start_transaction(None).expect("start");
    f.fail(&["insert"], 1, doc! {"closeConnection": true}).await;
    let e = f.coll().insert_one(doc! {"_id": 1}).session(&mut s).await.unwrap_err();
    assert!(matches!(*e.kind, ErrorKind::Io { .. }), "{e}");
    assert!(e.contains_label(TRANSIENT_TRANSACTION_ERROR), "{e}");
    assert!(!e.contains_label("RetryableWriteError"), "{e}");
    assert_eq!(f.named("insert").len(), 1, "not retried");
    s.abort_transaction().await.expect("abort");
}

/// with_transaction retries the whole transaction after a TransientTransactionError, and
/// commits; a non-transient callback error aborts and is returned.
#[tokio::test]
async fn with_transaction_retries_transient_errors() {
    let f = Fixture::rs().await;
    let coll = f.coll();
    let mut s = f.client.start_session().await.expect("session");
    // WriteConflict (112) is labeled TransientTransactionError by the server.
    f.fail(&["insert"], 1, doc! {"errorCode": 112}).await;
    let attempts = s
        .with_transaction(
            (&coll, 0_u32),
            |session, (coll, attempts)| {
                async move {
                    *attempts += 1;
                    coll.insert_one(doc! {"_id": 1}).session(session).await?;
                    Ok(*attempts)
                }
                .boxed()
            },
            None,
        )
        .await
        .expect("committed");
    assert_eq!(attempts, 2);
    assert_eq!(s.transaction_state(), TransactionState::Committed);
    let numbers: Vec<i64> = f.named("insert").iter().filter_map(|c| c.get_i64("txnNumber").ok()).collect();
    assert_eq!(numbers, vec![1, 2], "the retry is a new transaction");
    assert_eq!(f.ids().await, vec![Bson::Int32(1)]);

    let e = s
        .with_transaction(
            &coll,
            |session, coll| {
                async move {
                    coll.insert_one(doc! {"_id": 2}).session(session).await?;
                    coll.insert_one(doc! {"_id": 1}).session(session).await?;
                    Ok(())
                }
                .boxed()
            },
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(11000), "{e}");
    assert_eq!(s.transaction_state(), TransactionState::Aborted);
    assert_eq!(f.ids().await, vec![Bson::Int32(1)]);
}

/// On a sharded cluster the transaction is pinned to its first mongos and the commit carries
/// the recoveryToken; a transient error unpins; a non-transaction operation unpins.
#[tokio::test]
async fn sharded_transactions_pin_to_a_mongos() {
    let f = Fixture::new(Config::sharded(2, 3)).await;
    let mut s = f.client.start_session().await.expect("session");
    s.start_transaction(None).expect("start");
    assert_eq!(s.pinned_server(), None);
    for id in 1..=4 {
        f.coll().insert_one(doc! {"_id": id}).session(&mut s).await.expect("insert");
    }
    let pinned = s.pinned_server().expect("pinned after the first statement");
    s.commit_transaction().await.expect("commit");
    assert_eq!(s.pinned_server(), Some(pinned), "commit keeps the pin");
    let commit = &f.named("commitTransaction")[0];
    assert!(commit.get_document("recoveryToken").is_ok(), "{commit}");
    f.coll().find_one(doc! {}).session(&mut s).await.expect("read");
    assert_eq!(s.pinned_server(), None, "a non-transaction operation unpins");

    s.start_transaction(None).expect("start");
    f.coll().insert_one(doc! {"_id": 10}).session(&mut s).await.expect("insert");
    assert!(s.pinned_server().is_some());
    f.fail(&["insert"], 1, doc! {"errorCode": 112}).await;
    // The fail point is on one router; insert until the pinned one hits it (at most once).
    let e = f.coll().insert_one(doc! {"_id": 11}).session(&mut s).await;
    if let Err(e) = e {
        assert!(e.contains_label(TRANSIENT_TRANSACTION_ERROR), "{e}");
        assert_eq!(s.pinned_server(), None, "a transient error unpins");
    }
    s.abort_transaction().await.expect("abort");
    assert_eq!(s.pinned_server(), None, "abort unpins");
}

/// Ending a session with a transaction in progress aborts it.
#[tokio::test]
async fn ending_a_session_aborts_its_transaction() {
    let f = Fixture::rs().await;
    let mut s = f.client.start_session().await.expect("session");
    s.start_transaction(None).expect("start");
    f.coll().insert_one(doc! {"_id": 1}).session(&mut s).await.expect("insert");
    s.end_session();
    for _ in 0..100 {
        if !f.named("abortTransaction").is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(f.named("abortTransaction").len(), 1);
    assert!(f.ids().await.is_empty());
}

/// A snapshot session refuses transactions.
#[tokio::test]
async fn snapshot_sessions_refuse_transactions() {
    let f = Fixture::new(Config::replica_set(1)).await;
    let mut s = f.client.start_session().snapshot(true).await.expect("session");
    let e = s.start_transaction(None).unwrap_err();
    assert!(e.to_string().contains("Transactions are not supported in snapshot sessions"), "{e}");
}
