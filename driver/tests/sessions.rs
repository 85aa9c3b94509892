//! Driver sessions against the simulator (driver sessions spec prose tests, from the
//! sessions test READMEs of 2019 and 2022; causal consistency and snapshot reads specs):
//! the server session pool, explicit and implicit `lsid`s, cursors, dirty sessions, cluster
//! time gossip, causal consistency, snapshot reads, session validation, `endSessions` on
//! shutdown, unacknowledged writes and retryable writes through implicit sessions.

use std::collections::HashSet;

use bson::{Bson, Document, doc};
use futures::TryStreamExt;
use mongo_driver::coll::WriteModel;
use mongo_driver::error::ErrorKind;
use mongo_driver::event::command::{CommandEvent, CommandStartedEvent};
use mongo_driver::options::{ReadConcern, WriteConcern};
use mongo_driver::{ClientSession, Collection};
use mongo_sim::{Config, ServerVersion};

mod common;

use common::Fixture;

impl Fixture {
    async fn new(config: Config) -> Self {
        Self::with_options(config, "").await
    }

    async fn with_options(config: Config, options: &str) -> Self {
        let options = format!("heartbeatFrequencyMS=60000&serverSelectionTimeoutMS=5000{options}");
        Self::start(config, &options).await
    }

    async fn rs() -> Self {
        Self::new(Config::replica_set(1)).await
    }

    fn coll(&self, name: &str) -> Collection<Document> {
        self.client.database("sessions").collection(name)
    }

    fn last_started(&self) -> CommandStartedEvent {
        self.all_started().pop().expect("a command was sent")
    }

    /// The reply of the last succeeded event.
    fn last_reply(&self) -> Document {
        let events = self.events.lock().expect("not poisoned");
        events
            .iter()
            .rev()
            .find_map(|e| match e {
                CommandEvent::Succeeded(s) => Some(s.reply.clone()),
                _ => None,
            })
            .expect("a command succeeded")
    }

    async fn fail_point(&self, command: Document) {
        self.client.database("admin").run_command(command).await.expect("configureFailPoint");
    }
}

fn lsid(e: &CommandStartedEvent) -> Option<Document> {
    e.command.get_document("lsid").ok().cloned()
}

fn after_cluster_time(e: &CommandStartedEvent) -> Option<bson::Timestamp> {
    e.command.get_document("readConcern").ok().and_then(|rc| rc.get_timestamp("afterClusterTime").ok())
}

/// Prose 1: `snapshot` and `causalConsistency` together are refused by the driver.
#[tokio::test]
async fn snapshot_with_causal_consistency_is_a_client_error() {
    let f = Fixture::rs().await;
    let err = f.client.start_session().snapshot(true).causal_consistency(true).await.unwrap_err();
    assert!(matches!(*err.kind, ErrorKind::InvalidArgument { .. }), "{err}");
    assert!(f.all_started().is_empty());
}

/// Prose 2: the server session pool is LIFO.
#[tokio::test]
async fn pool_is_lifo() {
    let f = Fixture::rs().await;
    let mut a = f.client.start_session().await.unwrap();
    let mut b = f.client.start_session().await.unwrap();
    let (ida, idb) = (a.id().clone(), b.id().clone());
    assert_ne!(ida, idb);
    a.end_session();
    b.end_session();
    let c = f.client.start_session().await.unwrap();
    assert_eq!(c.id(), &idb);
    let d = f.client.start_session().await.unwrap();
    assert_eq!(d.id(), &ida);
}

/// Prose 3: `$clusterTime` in commands equals the previous reply's, for run_command,
/// aggregate, find and insert_one.
#[tokio::test]
async fn cluster_time_is_gossiped_from_the_previous_reply() {
    let f = Fixture::rs().await;
    let coll = f.coll("gossip");
    let db = f.client.database("sessions");
    // The monitors' hello replies are gossiped too: once the client knows its servers, even
    // its first command carries a cluster time.
    db.run_command(doc! {"ping": 1}).await.unwrap();
    assert!(f.last_started().command.contains_key("$clusterTime"), "{}", f.last_started().command);
    for step in 0..4 {
        let run = || async {
            match step {
                0 => db.run_command(doc! {"ping": 1}).await.map(|_| ()),
                1 => coll.aggregate([doc! {"$match": {}}]).await.map(|_| ()),
                2 => coll.find(doc! {}).await.map(|_| ()),
                _ => coll.insert_one(doc! {}).await.map(|_| ()),
            }
        };
        run().await.unwrap();
        let first = f.last_started();
        assert!(first.command.contains_key("$clusterTime"), "wire ≥ 6 gets $clusterTime: {}", first.command);
        let reply_time =
            f.last_reply().get_document("$clusterTime").cloned().expect("the reply has $clusterTime");
        run().await.unwrap();
        let second = f.last_started();
        assert_eq!(second.command.get_document("$clusterTime").ok(), Some(&reply_time), "step {step}");
    }
    // The session's cluster time advances with replies too.
    let mut session = f.client.start_session().await.unwrap();
    assert_eq!(session.cluster_time(), None);
    coll.find_one(doc! {}).session(&mut session).await.unwrap();
    assert_eq!(session.cluster_time().as_ref(), f.last_reply().get_document("$clusterTime").ok());
}

/// A session's `advance_cluster_time` with a time above the client's is what is sent in
/// that session only (driver sessions spec "How to compute the $clusterTime").
#[tokio::test]
async fn a_session_cluster_time_above_the_clients_is_sent_in_that_session_only() {
    let f = Fixture::rs().await;
    let coll = f.coll("advance");
    coll.find_one(doc! {}).await.unwrap();
    let future = doc! {"clusterTime": bson::Timestamp { time: u32::MAX - 1, increment: 1 }, "signature": {"hash": bson::Binary { subtype: bson::spec::BinarySubtype::Generic, bytes: vec![0; 20] }, "keyId": 0_i64}};
    let mut session = f.client.start_session().await.unwrap();
    session.advance_cluster_time(&future);
    assert_eq!(session.cluster_time().as_ref(), Some(&future));
    // The client's cluster time is not advanced by it.
    coll.find_one(doc! {}).await.unwrap();
    assert_ne!(f.last_started().command.get_document("$clusterTime").ok(), Some(&future));
    coll.find_one(doc! {}).session(&mut session).await.unwrap();
    assert_eq!(f.last_started().command.get_document("$clusterTime").ok(), Some(&future));
}

/// Prose 4: every method taking a session sends its lsid; without one, an implicit lsid.
#[tokio::test]
async fn explicit_and_implicit_session_arguments() {
    let f = Fixture::rs().await;
    let coll = f.coll("args");
    let db = f.client.database("sessions");
    let mut s = f.client.start_session().await.unwrap();
    let id = s.id().clone();
    coll.insert_many([doc! {"_id": 1, "x": 1}, doc! {"_id": 2, "x": 2}]).await.unwrap();
    f.clear();
    macro_rules! both {
        ($name:literal, $explicit:expr, $implicit:expr) => {{
            $explicit.await.unwrap();
            let e = f.last_started();
            assert_eq!(e.command_name, $name);
            assert_eq!(lsid(&e).as_ref(), Some(&id), "{} with an explicit session", $name);
            $implicit.await.unwrap();
            let e = f.last_started();
            assert_eq!(e.command_name, $name);
            let implicit = lsid(&e).unwrap_or_else(|| panic!("{} without a session has an lsid", $name));
            assert_ne!(implicit, id);
        }};
    }
    both!("insert", coll.insert_one(doc! {"_id": 3}).session(&mut s), coll.insert_one(doc! {"_id": 4}));
    both!("insert", coll.insert_many([doc! {"_id": 5}]).session(&mut s), coll.insert_many([doc! {"_id": 6}]));
    both!(
        "update",
        coll.update_one(doc! {"_id": 1}, doc! {"$set": {"y": 1}}).session(&mut s),
        coll.update_one(doc! {"_id": 1}, doc! {"$set": {"y": 2}})
    );
    both!(
        "update",
        coll.update_many(doc! {}, doc! {"$set": {"z": 1}}).session(&mut s),
        coll.update_many(doc! {}, doc! {"$set": {"z": 2}})
    );
    both!(
        "update",
        coll.replace_one(doc! {"_id": 3}, doc! {"r": 1}).session(&mut s),
        coll.replace_one(doc! {"_id": 3}, doc! {"r": 2})
    );
    both!("delete", coll.delete_one(doc! {"_id": 5}).session(&mut s), coll.delete_one(doc! {"_id": 6}));
    both!("delete", coll.delete_many(doc! {"_id": 99}).session(&mut s), coll.delete_many(doc! {"_id": 98}));
    both!("find", coll.find(doc! {}).session(&mut s), coll.find(doc! {}));
    both!("find", coll.find_one(doc! {}).session(&mut s), coll.find_one(doc! {}));
    both!(
        "findAndModify",
        coll.find_one_and_update(doc! {"_id": 1}, doc! {"$inc": {"n": 1}}).session(&mut s),
        coll.find_one_and_update(doc! {"_id": 1}, doc! {"$inc": {"n": 1}})
    );
    both!(
        "findAndModify",
        coll.find_one_and_replace(doc! {"_id": 4}, doc! {"q": 1}).session(&mut s),
        coll.find_one_and_replace(doc! {"_id": 4}, doc! {"q": 2})
    );
    both!(
        "findAndModify",
        coll.find_one_and_delete(doc! {"_id": 77}).session(&mut s),
        coll.find_one_and_delete(doc! {"_id": 78})
    );
    both!(
        "aggregate",
        coll.aggregate([doc! {"$match": {}}]).session(&mut s),
        coll.aggregate([doc! {"$match": {}}])
    );
    both!("aggregate", coll.count_documents(doc! {}).session(&mut s), coll.count_documents(doc! {}));
    both!("distinct", coll.distinct("x", doc! {}).session(&mut s), coll.distinct("x", doc! {}));
    both!(
        "insert",
        coll.bulk_write([WriteModel::InsertOne { document: doc! {"_id": 10} }]).session(&mut s),
        coll.bulk_write([WriteModel::InsertOne { document: doc! {"_id": 11} }])
    );
    both!("ping", db.run_command(doc! {"ping": 1}).session(&mut s), db.run_command(doc! {"ping": 1}));
    both!("create", db.create_collection("c1").session(&mut s), db.create_collection("c2"));
    both!("listCollections", db.list_collection_names().session(&mut s), db.list_collection_names());
    both!("drop", f.coll("c1").drop().session(&mut s), f.coll("c2").drop());
    // estimatedDocumentCount takes no explicit session but still sends an implicit one.
    coll.estimated_document_count().await.unwrap();
    assert!(lsid(&f.last_started()).is_some());
    // Prose 10: only the explicit session is still checked out; none once it ends.
    assert_eq!(f.client.checked_out_sessions(), 1);
    drop(s);
    assert_eq!(f.client.checked_out_sessions(), 0);
}

/// Prose 5 and 6: a session from another client, or an ended one, is a client error and
/// nothing is sent.
#[tokio::test]
async fn foreign_and_ended_sessions_are_rejected() {
    let f = Fixture::rs().await;
    let other = Fixture::rs().await;
    let coll = f.coll("reject");
    let db = f.client.database("sessions");
    let mut foreign = other.client.start_session().await.unwrap();
    let mut ended = f.client.start_session().await.unwrap();
    ended.end_session();
    ended.end_session(); // a second end is ignored
    assert!(ended.has_ended());
    f.clear();
    for session in [&mut foreign, &mut ended] {
        let errors = vec![
            coll.insert_one(doc! {}).session(session).await.map(|_| ()).unwrap_err(),
            coll.insert_many([doc! {}]).session(session).await.map(|_| ()).unwrap_err(),
            coll.update_one(doc! {}, doc! {"$set": {"a": 1}}).session(session).await.map(|_| ()).unwrap_err(),
            coll.delete_many(doc! {}).session(session).await.map(|_| ()).unwrap_err(),
            coll.find(doc! {}).session(session).await.map(|_| ()).unwrap_err(),
            coll.find_one(doc! {}).session(session).await.map(|_| ()).unwrap_err(),
            coll.find_one_and_delete(doc! {}).session(session).await.map(|_| ()).unwrap_err(),
            coll.aggregate([]).session(session).await.map(|_| ()).unwrap_err(),
            coll.count_documents(doc! {}).session(session).await.map(|_| ()).unwrap_err(),
            coll.distinct("a", doc! {}).session(session).await.map(|_| ()).unwrap_err(),
            coll.bulk_write([WriteModel::delete_one(doc! {})])
                .session(session)
                .await
                .map(|_| ())
                .unwrap_err(),
            coll.drop().session(session).await.map(|_| ()).unwrap_err(),
            db.run_command(doc! {"ping": 1}).session(session).await.map(|_| ()).unwrap_err(),
            db.list_collection_names().session(session).await.map(|_| ()).unwrap_err(),
        ];
        for e in errors {
            assert!(matches!(*e.kind, ErrorKind::InvalidArgument { .. }), "{e}");
        }
    }
    assert!(f.all_started().is_empty(), "nothing was sent: {:?}", f.all_started());
    // Dropping a session ends it as well.
    let id = {
        let s = f.client.start_session().await.unwrap();
        s.id().clone()
    };
    assert_eq!(f.client.start_session().await.unwrap().id(), &id);
}

/// Prose 8: a cursor exhausted by its first batch returns the implicit session at once.
#[tokio::test]
async fn an_exhausted_first_batch_returns_the_implicit_session() {
    let f = Fixture::rs().await;
    let coll = f.coll("exhaust");
    coll.insert_many([doc! {"_id": 1}, doc! {"_id": 2}]).await.unwrap();
    let mut cursor = coll.find(doc! {}).await.unwrap();
    assert_eq!(cursor.id(), 0);
    let find_lsid = lsid(&f.last_started()).expect("find has an lsid");
    cursor.try_next().await.unwrap();
    // The pooled session is the find's: the next operation reuses it.
    coll.find_one(doc! {}).await.unwrap();
    assert_eq!(lsid(&f.last_started()), Some(find_lsid));
}

/// Prose 9 and 11: find and getMore send the same lsid, and the implicit session returns to
/// the pool when the getMore exhausts the cursor, before the last document is consumed.
#[tokio::test]
async fn get_more_uses_the_find_session_and_returns_it_when_exhausted() {
    let f = Fixture::rs().await;
    let coll = f.coll("getmore");
    coll.insert_many((0..5).map(|i| doc! {"_id": i})).await.unwrap();
    f.clear();
    let mut cursor = coll.find(doc! {}).batch_size(3).await.unwrap();
    assert_eq!(f.client.checked_out_sessions(), 1, "the open cursor holds its implicit session");
    let find_lsid = lsid(&f.last_started()).expect("find has an lsid");
    for _ in 0..4 {
        cursor.try_next().await.unwrap().expect("a document");
    }
    let get_mores = f.started("getMore");
    assert_eq!(get_mores.len(), 1);
    assert_eq!(lsid(&get_mores[0]).as_ref(), Some(&find_lsid));
    assert!(cursor.id() == 0 && cursor.buffered() == 1);
    // Before the fifth document is consumed, the session is back in the pool.
    let s = f.client.start_session().await.unwrap();
    assert_eq!(s.id(), &find_lsid);
    drop(s);
    assert_eq!(f.client.checked_out_sessions(), 0);
    cursor.try_next().await.unwrap().expect("the last document");

    // An explicit session: the getMore carries it too.
    let mut session = f.client.start_session().await.unwrap();
    f.clear();
    let cursor = coll.find(doc! {}).batch_size(2).session(&mut session).await.unwrap();
    let docs: Vec<Document> = cursor.try_collect().await.unwrap();
    assert_eq!(docs.len(), 5);
    for e in f.all_started() {
        assert_eq!(lsid(&e).as_ref(), Some(session.id()), "{}", e.command_name);
    }
    assert_eq!(f.started("getMore").len(), 2);
}

/// A cursor dropped early kills its server cursor in its session, then frees the session.
#[tokio::test]
async fn a_dropped_cursor_kills_in_its_session_and_frees_it() {
    let f = Fixture::rs().await;
    let coll = f.coll("kill");
    coll.insert_many((0..5).map(|i| doc! {"_id": i})).await.unwrap();
    let cursor = coll.find(doc! {}).batch_size(2).await.unwrap();
    let find_lsid = lsid(&f.last_started()).expect("find has an lsid");
    drop(cursor);
    for _ in 0..100 {
        if !f.started("killCursors").is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let kill = f.started("killCursors");
    assert_eq!(kill.len(), 1);
    assert_eq!(lsid(&kill[0]).as_ref(), Some(&find_lsid));
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(f.client.start_session().await.unwrap().id(), &find_lsid);
}

/// Prose 14: with maxPoolSize=1, concurrent operations share fewer server sessions than
/// there are operations (sessions are taken after check-out).
#[tokio::test]
async fn implicit_sessions_are_taken_after_check_out() {
    let f = Fixture::with_options(Config::replica_set(1), "&maxPoolSize=1&retryWrites=true").await;
    let coll = f.coll("checkout");
    coll.insert_one(doc! {"_id": 0}).await.unwrap();
    let mut one_session_seen = false;
    for _ in 0..5 {
        f.clear();
        let (a, b, c, d, e, g, h, i) = tokio::join!(
            coll.insert_one(doc! {}),
            coll.delete_one(doc! {"_id": -1}),
            coll.update_one(doc! {}, doc! {"$set": {"a": 1}}),
            coll.bulk_write([WriteModel::update_one(doc! {}, doc! {"$set": {"a": 1}})]),
            coll.find_one_and_delete(doc! {"_id": -2}),
            coll.find_one_and_update(doc! {}, doc! {"$set": {"a": 1}}),
            coll.find_one_and_replace(doc! {"_id": -3}, doc! {"a": 1}),
            async { coll.find(doc! {}).await?.try_collect::<Vec<_>>().await },
        );
        a.unwrap();
        b.unwrap();
        c.unwrap();
        d.unwrap();
        e.unwrap();
        g.unwrap();
        h.unwrap();
        i.unwrap();
        let ids: HashSet<Vec<u8>> =
            f.all_started().iter().filter_map(lsid).map(|l| l.to_vec().expect("bson")).collect();
        assert!(!ids.is_empty() && ids.len() < 8, "{} sessions for 8 operations", ids.len());
        one_session_seen |= ids.len() == 1;
    }
    assert!(one_session_seen, "one session served all operations at least once");
}

/// Dirty sessions (2019 README's assertSessionDirty / assertDifferentLsidOnLastTwoCommands):
/// a network error marks the explicit session dirty, the retried insert keeps its lsid and
/// txnNumber, the session stays dirty, and it is discarded when ended.
#[tokio::test]
async fn a_dirty_session_is_discarded() {
    let f = Fixture::rs().await;
    let coll = f.coll("dirty");
    let mut session = f.client.start_session().await.unwrap();
    f.fail_point(doc! {"configureFailPoint": "failCommand", "mode": {"times": 1}, "data": {"failCommands": ["insert"], "closeConnection": true}}).await;
    f.clear();
    assert!(!session.is_dirty());
    coll.insert_one(doc! {"_id": 2}).session(&mut session).await.unwrap();
    assert!(session.is_dirty());
    coll.insert_one(doc! {"_id": 3}).session(&mut session).await.unwrap();
    assert!(session.is_dirty(), "dirty for the rest of its life");
    let inserts = f.started("insert");
    let txns: Vec<_> = inserts.iter().map(|e| e.command.get_i64("txnNumber").ok()).collect();
    assert_eq!(txns, [Some(1), Some(1), Some(2)]);
    let id = session.id().clone();
    session.end_session();
    coll.find(doc! {"_id": -1}).await.unwrap();
    assert_ne!(lsid(&f.last_started()), Some(id), "the dirty session was not pooled");

    // An implicit session in a network error is discarded too; a clean one is reused.
    coll.find_one(doc! {}).await.unwrap();
    let clean = lsid(&f.last_started());
    coll.find_one(doc! {}).await.unwrap();
    assert_eq!(lsid(&f.last_started()), clean);
    f.fail_point(doc! {"configureFailPoint": "failCommand", "mode": {"times": 2}, "data": {"failCommands": ["find"], "closeConnection": true}}).await;
    coll.find_one(doc! {}).await.unwrap_err();
    let failed = lsid(&f.last_started());
    coll.find_one(doc! {}).await.unwrap();
    assert_ne!(lsid(&f.last_started()), failed);
}

/// Retryable writes through implicit sessions: an insert whose connection closes is retried
/// once with the same lsid and txnNumber and applied exactly once, both when the server
/// closed before applying it and after (onPrimaryTransactionalWrite).
#[tokio::test]
async fn a_retryable_insert_after_close_connection_is_applied_once() {
    let f = Fixture::rs().await;
    let coll = f.coll("retry");
    for (i, fail_point) in [
        doc! {"configureFailPoint": "failCommand", "mode": {"times": 1}, "data": {"failCommands": ["insert"], "closeConnection": true}},
        doc! {"configureFailPoint": "onPrimaryTransactionalWrite", "mode": {"times": 1}, "data": {"closeConnection": true}},
    ]
    .into_iter()
    .enumerate()
    {
        f.fail_point(fail_point).await;
        f.clear();
        coll.insert_one(doc! {"_id": i as i32}).await.unwrap();
        let inserts = f.started("insert");
        assert_eq!(inserts.len(), 2, "attempt and retry");
        assert_eq!(lsid(&inserts[0]), lsid(&inserts[1]));
        assert!(lsid(&inserts[0]).is_some());
        let txn = inserts[0].command.get_i64("txnNumber").expect("txnNumber");
        assert_eq!(inserts[1].command.get_i64("txnNumber").ok(), Some(txn));
        assert_eq!(coll.count_documents(doc! {"_id": i as i32}).await.unwrap(), 1);
    }
    // Each retryable write in a session takes the next transaction number.
    let mut s = f.client.start_session().await.unwrap();
    f.clear();
    coll.insert_one(doc! {"_id": 10}).session(&mut s).await.unwrap();
    coll.update_one(doc! {"_id": 10}, doc! {"$set": {"a": 1}}).session(&mut s).await.unwrap();
    coll.update_many(doc! {}, doc! {"$set": {"b": 1}}).session(&mut s).await.unwrap();
    coll.delete_one(doc! {"_id": 10}).session(&mut s).await.unwrap();
    let txns: Vec<_> = f.all_started().iter().map(|e| e.command.get_i64("txnNumber").ok()).collect();
    assert_eq!(txns, [Some(1), Some(2), None, Some(3)], "update_many is not retryable");
}

/// Retryable writes need a replica set or sharded cluster: a standalone gets no txnNumber.
#[tokio::test]
async fn a_standalone_gets_sessions_but_no_transaction_numbers() {
    let f = Fixture::new(Config::standalone()).await;
    let coll = f.coll("standalone");
    coll.insert_one(doc! {"_id": 1}).await.unwrap();
    let e = f.last_started();
    assert!(lsid(&e).is_some());
    assert!(!e.command.contains_key("txnNumber"));
    // No $clusterTime nor operationTime from a standalone: reads stay without afterClusterTime.
    let mut s = f.client.start_session().causal_consistency(true).await.unwrap();
    coll.find_one(doc! {}).session(&mut s).await.unwrap();
    coll.find_one(doc! {}).session(&mut s).await.unwrap();
    assert_eq!(s.operation_time(), None);
    assert_eq!(after_cluster_time(&f.last_started()), None);
}

/// Unacknowledged writes carry no lsid; with an explicit session they are refused.
#[tokio::test]
async fn unacknowledged_writes_have_no_session() {
    let f = Fixture::rs().await;
    let coll = f.coll("w0");
    coll.insert_one(doc! {"_id": 1}).write_concern(WriteConcern::nodes(0)).await.unwrap();
    let e = f.last_started();
    assert_eq!(e.command_name, "insert");
    assert!(!e.command.contains_key("lsid"), "{}", e.command);
    assert!(!e.command.contains_key("txnNumber"));
    let mut s = f.client.start_session().await.unwrap();
    f.clear();
    let err = coll
        .insert_one(doc! {"_id": 2})
        .write_concern(WriteConcern::nodes(0))
        .session(&mut s)
        .await
        .unwrap_err();
    assert!(matches!(*err.kind, ErrorKind::InvalidArgument { .. }), "{err}");
    assert!(f.all_started().is_empty());
}

/// Causal consistency spec test plan 1-9: operationTime, afterClusterTime on reads after
/// the first operation, none in a non-causal session nor on run_command, merged with the
/// operation's read concern level.
#[tokio::test]
async fn causally_consistent_reads_send_after_cluster_time() {
    let f = Fixture::rs().await;
    let coll = f.coll("causal");
    let mut s = f.client.start_session().causal_consistency(true).await.unwrap();
    assert_eq!(s.operation_time(), None, "1: no operation time at first");
    coll.find_one(doc! {}).session(&mut s).await.unwrap();
    assert_eq!(after_cluster_time(&f.last_started()), None, "2: the first read sends none");
    let reply_time = f.last_reply().get_timestamp("operationTime").ok();
    assert!(reply_time.is_some());
    assert_eq!(s.operation_time(), reply_time, "3: operationTime from the reply");

    // 4: a read after a read.
    let op_time = s.operation_time();
    coll.count_documents(doc! {}).session(&mut s).await.unwrap();
    assert_eq!(after_cluster_time(&f.last_started()), op_time);
    coll.distinct("x", doc! {}).session(&mut s).await.unwrap();
    assert!(after_cluster_time(&f.last_started()).is_some());
    coll.aggregate([]).session(&mut s).await.unwrap();
    assert!(after_cluster_time(&f.last_started()).is_some());

    // 5: a read after a write (also after a failed write).
    coll.insert_one(doc! {"_id": 1}).session(&mut s).await.unwrap();
    let write_time = s.operation_time();
    assert_eq!(write_time, f.last_reply().get_timestamp("operationTime").ok());
    coll.find_one(doc! {}).session(&mut s).await.unwrap();
    assert_eq!(after_cluster_time(&f.last_started()), write_time);
    coll.insert_one(doc! {"_id": 1}).session(&mut s).await.unwrap_err();
    let failed_time = s.operation_time();
    assert!(failed_time >= write_time);
    coll.find_one(doc! {}).session(&mut s).await.unwrap();
    assert_eq!(after_cluster_time(&f.last_started()), failed_time);

    // 8: no level with the server's default read concern; 9: merged with a custom one.
    let rc = f.last_started().command.get_document("readConcern").cloned().unwrap();
    assert!(!rc.contains_key("level"), "{rc}");
    coll.find_one(doc! {}).read_concern(ReadConcern::majority()).session(&mut s).await.unwrap();
    let rc = f.last_started().command.get_document("readConcern").cloned().unwrap();
    assert_eq!(rc.get_str("level").ok(), Some("majority"));
    assert!(rc.contains_key("afterClusterTime"));

    // run_command never gets a readConcern added.
    f.client.database("sessions").run_command(doc! {"count": "causal"}).session(&mut s).await.unwrap();
    assert!(!f.last_started().command.contains_key("readConcern"));
    // Writes get no afterClusterTime.
    coll.insert_one(doc! {"_id": 5}).session(&mut s).await.unwrap();
    assert!(!f.last_started().command.contains_key("readConcern"));

    // 6: a session that is not causally consistent sends none.
    let mut plain = f.client.start_session().causal_consistency(false).await.unwrap();
    coll.find_one(doc! {}).session(&mut plain).await.unwrap();
    coll.find_one(doc! {}).session(&mut plain).await.unwrap();
    assert!(plain.operation_time().is_some());
    assert_eq!(after_cluster_time(&f.last_started()), None);
    // advance_operation_time is what the next read waits for.
    let mut other = f.client.start_session().await.unwrap();
    other.advance_operation_time(write_time.unwrap());
    coll.find_one(doc! {}).session(&mut other).await.unwrap();
    assert_eq!(after_cluster_time(&f.last_started()), write_time);
}

/// Snapshot reads on a 5.0 replica set: the first read's atClusterTime is reused, so a
/// later write is not seen; writes in the session get the snapshot read concern and fail.
#[tokio::test]
async fn snapshot_reads_ignore_later_writes() {
    let f = Fixture::new(Config::replica_set(1).with_version(ServerVersion::V5_0)).await;
    let coll = f.coll("snapshot");
    coll.insert_one(doc! {"_id": 1, "x": 1}).await.unwrap();
    let mut s = f.client.start_session().snapshot(true).await.unwrap();
    assert!(!s.causal_consistency());
    let first = coll.find_one(doc! {"_id": 1}).session(&mut s).await.unwrap().unwrap();
    assert_eq!(first.get_i32("x").ok(), Some(1));
    let rc = f.started("find").last().unwrap().command.get_document("readConcern").cloned().unwrap();
    assert_eq!(rc, doc! {"level": "snapshot"});
    let at = s.snapshot_time().expect("atClusterTime from the first read");

    coll.update_one(doc! {"_id": 1}, doc! {"$set": {"x": 2}}).await.unwrap();
    let again = coll.find_one(doc! {"_id": 1}).session(&mut s).await.unwrap().unwrap();
    assert_eq!(again.get_i32("x").ok(), Some(1), "the snapshot does not see the later write");
    let rc = f.last_started().command.get_document("readConcern").cloned().unwrap();
    assert_eq!(rc, doc! {"level": "snapshot", "atClusterTime": at});
    let values = coll.distinct("x", doc! {}).session(&mut s).await.unwrap();
    assert_eq!(values, vec![Bson::Int32(1)]);
    let agg: Vec<Document> = coll.aggregate([]).session(&mut s).await.unwrap().try_collect().await.unwrap();
    assert_eq!(agg[0].get_i32("x").ok(), Some(1));
    // Outside the session the write is visible.
    assert_eq!(coll.find_one(doc! {"_id": 1}).await.unwrap().unwrap().get_i32("x").ok(), Some(2));
    // A write in a snapshot session carries the snapshot read concern; the server refuses it.
    let err = coll.insert_one(doc! {"_id": 2}).session(&mut s).await.unwrap_err();
    assert!(matches!(*err.kind, ErrorKind::Command { .. }), "{err}");
    let insert = f.started("insert").pop().unwrap();
    assert_eq!(
        insert.command.get_document("readConcern").ok().and_then(|r| r.get_str("level").ok()),
        Some("snapshot")
    );
}

/// Snapshot reads below 5.0 are a client error and nothing is sent.
#[tokio::test]
async fn snapshot_reads_below_5_0_are_a_client_error() {
    let f = Fixture::new(Config::replica_set(1).with_version(ServerVersion::V4_4)).await;
    let coll = f.coll("old");
    let mut s = f.client.start_session().snapshot(true).await.unwrap();
    f.clear();
    let errors = [
        coll.find(doc! {}).session(&mut s).await.map(|_| ()).unwrap_err(),
        coll.aggregate([]).session(&mut s).await.map(|_| ()).unwrap_err(),
        coll.distinct("x", doc! {}).session(&mut s).await.map(|_| ()).unwrap_err(),
    ];
    for e in errors {
        assert!(e.to_string().contains("Snapshot reads require MongoDB 5.0 or later"), "{e}");
        assert!(!matches!(*e.kind, ErrorKind::Command { .. }));
    }
    assert!(f.all_started().is_empty());
}

/// `endSessions` on shutdown for every pooled session, at most 10,000 per command.
#[tokio::test]
async fn shutdown_ends_pooled_sessions_in_batches() {
    let f = Fixture::rs().await;
    f.coll("end").find_one(doc! {}).await.unwrap();
    let mut sessions: Vec<ClientSession> = Vec::new();
    for _ in 0..10_001 {
        sessions.push(f.client.start_session().await.unwrap());
    }
    let ids: HashSet<Vec<u8>> = sessions.iter().map(|s| s.id().to_vec().unwrap()).collect();
    drop(sessions);
    f.clear();
    f.client.shutdown().await;
    let ends = f.started("endSessions");
    assert_eq!(ends.len(), 2);
    assert_eq!(ends[0].database_name, "admin");
    let mut ended = HashSet::new();
    let mut sizes = Vec::new();
    for e in &ends {
        let batch = e.command.get_array("endSessions").unwrap();
        sizes.push(batch.len());
        for id in batch {
            ended.insert(id.as_document().unwrap().to_vec().unwrap());
        }
    }
    // The first explicit session reused the find's pooled implicit one.
    assert_eq!(sizes, [10_000, 1]);
    assert!(ids.is_subset(&ended));
}

/// Through mongos: implicit sessions, retryable writes with txnNumber and cluster time
/// gossip work the same way.
#[tokio::test]
async fn sessions_through_a_sharded_cluster() {
    let f = Fixture::new(Config::sharded(1, 1)).await;
    let coll = f.coll("sharded");
    f.fail_point(doc! {"configureFailPoint": "failCommand", "mode": {"times": 1}, "data": {"failCommands": ["insert"], "closeConnection": true}}).await;
    f.clear();
    coll.insert_one(doc! {"_id": 1}).await.unwrap();
    let inserts = f.started("insert");
    assert_eq!(inserts.len(), 2);
    assert_eq!(inserts[1].command.get_i64("txnNumber").ok(), Some(1));
    assert!(inserts[1].command.contains_key("$clusterTime"));
    assert_eq!(coll.count_documents(doc! {}).await.unwrap(), 1);
    let mut s = f.client.start_session().await.unwrap();
    coll.find_one(doc! {}).session(&mut s).await.unwrap();
    coll.find_one(doc! {}).session(&mut s).await.unwrap();
    assert_eq!(after_cluster_time(&f.last_started()), s.operation_time());
    assert!(s.operation_time().is_some());
}
