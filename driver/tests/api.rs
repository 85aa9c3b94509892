//! The public API (`Client`, `Database`, `Collection<T>`, `Cursor<T>`) against the simulated
//! replica set: every public CRUD method, cursors (getMore, killCursors on drop), command
//! monitoring events (with redaction), retryable reads, and the error paths (duplicate key,
//! bad filter, server error codes with code name and labels, write concern errors).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bson::{Bson, Document, doc};
use futures::{StreamExt, TryStreamExt};
use mongo_driver::coll::{UpdateModifications, WriteModel};
use mongo_driver::error::ErrorKind;
use mongo_driver::event::command::CommandEvent;
use mongo_driver::options::{ReadPreference, WriteConcern};
use mongo_driver::sdam::ServerType;
use mongo_driver::{Client, Collection};
use mongo_sim::{Config, Deployment};
use serde::{Deserialize, Serialize};

mod common;

use common::Fixture;

impl Fixture {
    async fn new() -> Self {
        Self::start(Config::replica_set(3), "heartbeatFrequencyMS=500&serverSelectionTimeoutMS=5000").await
    }

    fn coll<T: Send + Sync>(&self, name: &str) -> Collection<T> {
        self.client.database("api").collection(name)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Item {
    #[serde(rename = "_id")]
    id: i32,
    name: String,
    qty: i32,
}

fn item(id: i32, qty: i32) -> Item {
    Item { id, name: format!("item{id}"), qty }
}

#[tokio::test]
async fn typed_crud_round_trip() {
    let f = Fixture::new().await;
    let coll = f.coll::<Item>("items");

    let one = coll.insert_one(item(1, 10)).await.unwrap();
    assert_eq!(one.inserted_id, Bson::Int32(1));
    let many = coll.insert_many((2..=6).map(|i| item(i, i * 10))).await.unwrap();
    assert_eq!(many.inserted_ids.len(), 5);
    assert_eq!(many.inserted_ids[&0], Bson::Int32(2));

    // find: filter, sort, skip, limit, projection-free typed results.
    let found: Vec<Item> = coll
        .find(doc! {"qty": {"$gte": 20}})
        .sort(doc! {"qty": -1})
        .skip(1)
        .limit(3)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(found.iter().map(|i| i.id).collect::<Vec<_>>(), [5, 4, 3]);
    assert_eq!(coll.find_one(doc! {"_id": 4}).await.unwrap(), Some(item(4, 40)));
    assert_eq!(coll.find_one(doc! {"_id": 99}).await.unwrap(), None);

    // A projection through a Document-typed handle.
    let docs = coll.clone_with_type::<Document>();
    let projected = docs.find_one(doc! {"_id": 1}).projection(doc! {"name": 1, "_id": 0}).await.unwrap();
    assert_eq!(projected, Some(doc! {"name": "item1"}));

    let updated = coll.update_one(doc! {"_id": 1}, doc! {"$inc": {"qty": 1}}).await.unwrap();
    assert_eq!((updated.matched_count, updated.modified_count, updated.upserted_id), (1, 1, None));
    let updated = coll.update_many(doc! {"qty": {"$gte": 40}}, doc! {"$set": {"big": true}}).await.unwrap();
    assert_eq!((updated.matched_count, updated.modified_count), (3, 3));
    let upserted = coll
        .update_one(doc! {"_id": 7}, doc! {"$set": {"name": "item7", "qty": 70}})
        .upsert(true)
        .await
        .unwrap();
    assert_eq!((upserted.matched_count, upserted.upserted_id), (0, Some(Bson::Int32(7))));
    let pipeline = coll
        .update_one(
            doc! {"_id": 7},
            UpdateModifications::Pipeline(vec![doc! {"$set": {"qty": {"$add": ["$qty", 1]}}}]),
        )
        .await
        .unwrap();
    assert_eq!(pipeline.modified_count, 1);
    let replaced = coll.replace_one(doc! {"_id": 2}, item(2, 21)).await.unwrap();
    assert_eq!(replaced.modified_count, 1);
    assert_eq!(coll.find_one(doc! {"_id": 2}).await.unwrap(), Some(item(2, 21)));

    assert_eq!(coll.count_documents(doc! {"big": true}).await.unwrap(), 3);
    assert_eq!(coll.count_documents(doc! {}).skip(2).limit(3).await.unwrap(), 3);
    assert_eq!(coll.estimated_document_count().await.unwrap(), 7);
    let mut names = coll.distinct("name", doc! {"qty": {"$lt": 30}}).await.unwrap();
    names.sort_by_key(|b| b.to_string());
    assert_eq!(names, [Bson::from("item1"), Bson::from("item2")]);

    let before = coll.find_one_and_update(doc! {"_id": 3}, doc! {"$set": {"qty": 31}}).await.unwrap();
    assert_eq!(before, Some(item(3, 30)));
    let after =
        coll.find_one_and_replace(doc! {"_id": 3}, item(3, 32)).return_document_after(true).await.unwrap();
    assert_eq!(after, Some(item(3, 32)));
    let deleted = coll.find_one_and_delete(doc! {"_id": 3}).await.unwrap();
    assert_eq!(deleted, Some(item(3, 32)));
    assert_eq!(coll.find_one_and_delete(doc! {"_id": 3}).await.unwrap(), None);

    let sums: Vec<Document> = coll
        .aggregate([
            doc! {"$match": {"qty": {"$gte": 40}}},
            doc! {"$group": {"_id": null, "total": {"$sum": "$qty"}}},
        ])
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(sums.len(), 1);
    assert_eq!(sums[0].get("total").and_then(Bson::as_i32), Some(40 + 50 + 60 + 71));

    assert_eq!(coll.delete_one(doc! {"_id": 1}).await.unwrap().deleted_count, 1);
    assert_eq!(coll.delete_many(doc! {"qty": {"$gte": 40}}).await.unwrap().deleted_count, 4);
    assert_eq!(coll.count_documents(doc! {}).await.unwrap(), 1);
}

#[tokio::test]
async fn bulk_write_collection_and_database_helpers() {
    let f = Fixture::new().await;
    let db = f.client.database("api");
    db.create_collection("bulk").await.unwrap();
    let err = db.create_collection("bulk").await.unwrap_err();
    assert_eq!((err.code(), err.code_name()), (Some(48), Some("NamespaceExists")), "{err}");

    let coll = db.collection::<Document>("bulk");
    let result = coll
        .bulk_write([
            WriteModel::InsertOne { document: doc! {"_id": 1, "x": 1} },
            WriteModel::InsertOne { document: doc! {"x": 2} },
            WriteModel::update_one(doc! {"_id": 1}, doc! {"$inc": {"x": 10}}),
            WriteModel::update_many(doc! {}, doc! {"$set": {"seen": true}}),
            WriteModel::ReplaceOne {
                filter: doc! {"_id": 9},
                replacement: doc! {"x": 9},
                upsert: Some(true),
                collation: None,
                hint: None,
            },
            WriteModel::delete_one(doc! {"x": 2}),
            WriteModel::delete_many(doc! {"x": {"$gt": 100}}),
        ])
        .await
        .unwrap();
    assert_eq!(result.inserted_count, 2);
    assert_eq!(result.inserted_ids.len(), 2);
    assert!(matches!(result.inserted_ids[&1], Bson::ObjectId(_)), "a generated _id");
    assert_eq!((result.matched_count, result.modified_count), (3, 3));
    assert_eq!((result.upserted_count, result.upserted_ids.get(&4)), (1, Some(&Bson::Int32(9))));
    assert_eq!(result.deleted_count, 1);
    assert_eq!(f.started("update").len(), 1, "consecutive updates and replacements go in one command");

    let mut names = db.list_collection_names().await.unwrap();
    names.sort();
    assert_eq!(names, ["bulk"]);
    let ping = db.run_command(doc! {"ping": 1}).await.unwrap();
    assert_eq!(
        ping.get("ok")
            .and_then(Bson::as_f64)
            .or_else(|| ping.get("ok").and_then(Bson::as_i32).map(f64::from)),
        Some(1.0)
    );
    let from_secondary =
        db.run_command(doc! {"ping": 1}).selection_criteria(ReadPreference::secondary()).await.unwrap();
    assert!(from_secondary.contains_key("ok"));

    coll.drop().await.unwrap();
    coll.drop().await.unwrap();
    assert!(db.list_collection_names().await.unwrap().is_empty());
}

#[tokio::test]
async fn cursors_get_more_and_kill_when_dropped_early() {
    let f = Fixture::new().await;
    let coll = f.coll::<Document>("cursor");
    coll.insert_many((0..10).map(|i| doc! {"_id": i})).await.unwrap();
    f.clear();

    let all: Vec<Document> = coll.find(doc! {}).batch_size(3).await.unwrap().try_collect().await.unwrap();
    assert_eq!(all.len(), 10);
    let get_mores = f.started("getMore");
    assert_eq!(get_mores.len(), 3, "10 documents in batches of 3");
    let find = &f.started("find")[0];
    assert!(get_mores.iter().all(|g| g.address == find.address && g.operation_id == find.operation_id));
    assert_eq!(get_mores[0].command.get_i64("batchSize").ok(), Some(3));
    assert!(f.started("killCursors").is_empty(), "an exhausted cursor is not killed");

    // limit with a smaller batch size: the server stops at the limit across getMores.
    let limited: Vec<Document> =
        coll.find(doc! {}).limit(5).batch_size(2).await.unwrap().try_collect().await.unwrap();
    assert_eq!(limited.len(), 5);
    // find_one asks for a single batch of one: no cursor is left open.
    f.clear();
    assert!(coll.find_one(doc! {}).await.unwrap().is_some());
    let find = &f.started("find")[0];
    assert_eq!(
        (find.command.get_i64("limit").ok(), find.command.get_bool("singleBatch").ok()),
        (Some(1), Some(true))
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(f.started("killCursors").is_empty() && f.started("getMore").is_empty());

    // Dropped after one document: killCursors goes to the cursor's server.
    let mut cursor = coll.find(doc! {}).batch_size(2).await.unwrap();
    let id = cursor.id();
    assert_ne!(id, 0);
    assert!(cursor.next().await.is_some());
    drop(cursor);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while f.started("killCursors").is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let kill = f.started("killCursors");
    assert_eq!(kill.len(), 1);
    assert_eq!(kill[0].command.get_array("cursors").unwrap(), &vec![Bson::Int64(id)]);

    // Reads from a secondary: the getMore follows the cursor to the same secondary.
    let secondary = coll.clone().with_read_preference(ReadPreference::secondary());
    f.clear();
    let n = secondary.find(doc! {}).batch_size(4).await.unwrap().count().await;
    assert_eq!(n, 10);
    let find = &f.started("find")[0];
    assert_eq!(find.command.get_document("$readPreference").unwrap().get_str("mode").unwrap(), "secondary");
    assert!(f.started("getMore").iter().all(|g| g.address == find.address));
    assert_eq!(f.client.topology().description().servers[&find.address].server_type, ServerType::RsSecondary);
}

#[tokio::test]
async fn command_monitoring_events() {
    let f = Fixture::new().await;
    let coll = f.coll::<Document>("events");
    coll.insert_many([doc! {"_id": 1}, doc! {"_id": 2}]).await.unwrap();
    let _ = f.client.database("api").run_command(doc! {"noSuchCommand": 1}).await.unwrap_err();
    let _ = f.client.database("admin").run_command(doc! {"saslStart": 1, "payload": "secret"}).await;

    let events = f.events.lock().unwrap().clone();
    let started: Vec<_> =
        events.iter().filter_map(|e| if let CommandEvent::Started(s) = e { Some(s) } else { None }).collect();
    let insert = started.iter().find(|s| s.command_name == "insert").unwrap();
    assert_eq!(insert.database_name, "api");
    assert_eq!(
        insert.command.get_array("documents").unwrap().len(),
        2,
        "document sequences are folded into the command"
    );
    let succeeded = events
        .iter()
        .find_map(|e| match e {
            CommandEvent::Succeeded(s) if s.request_id == insert.request_id => Some(s),
            _ => None,
        })
        .unwrap();
    assert_eq!(succeeded.reply.get_i32("n").ok(), Some(2));
    assert_eq!(succeeded.address, insert.address);

    let unknown = started.iter().find(|s| s.command_name == "noSuchCommand").unwrap();
    let failed = events
        .iter()
        .find_map(|e| match e {
            CommandEvent::Failed(x) if x.request_id == unknown.request_id => Some(x),
            _ => None,
        })
        .unwrap();
    assert_eq!((failed.failure.code(), failed.failure.code_name()), (Some(59), Some("CommandNotFound")));

    let sasl = started.iter().find(|s| s.command_name == "saslStart").unwrap();
    assert!(sasl.command.is_empty(), "a sensitive command is redacted: {}", sasl.command);
    let finished = events
        .iter()
        .find(|e| !matches!(e, CommandEvent::Started(_)) && e.request_id() == sasl.request_id)
        .unwrap();
    match finished {
        CommandEvent::Succeeded(s) => assert!(s.reply.is_empty()),
        CommandEvent::Failed(x) => assert_eq!(x.failure.server_message(), Some("")),
        CommandEvent::Started(_) => unreachable!(),
    }
    // Every started event has exactly one finishing event with its request id.
    for s in &started {
        let n = events
            .iter()
            .filter(|e| !matches!(e, CommandEvent::Started(_)) && e.request_id() == s.request_id)
            .count();
        assert_eq!(n, 1, "{}", s.command_name);
    }
}

#[tokio::test]
async fn write_errors_and_server_errors() {
    let f = Fixture::new().await;
    let coll = f.coll::<Document>("errors");
    coll.insert_one(doc! {"_id": 1}).await.unwrap();

    let dup = coll.insert_one(doc! {"_id": 1}).await.unwrap_err();
    assert!(matches!(*dup.kind, ErrorKind::Write { code: 11000, .. }), "{dup}");
    assert_eq!(dup.code_name(), Some("DuplicateKey"));

    // Ordered: stops at the duplicate; the partial result names what was inserted.
    let err = coll.insert_many([doc! {"_id": 2}, doc! {"_id": 1}, doc! {"_id": 3}]).await.unwrap_err();
    let ErrorKind::BulkWrite(failure) = &*err.kind else { panic!("{err}") };
    assert_eq!(failure.write_errors.len(), 1);
    assert_eq!((failure.write_errors[0].index, failure.write_errors[0].code), (1, 11000));
    assert_eq!(failure.partial_result.inserted_ids.keys().copied().collect::<Vec<_>>(), [0]);
    assert_eq!(coll.count_documents(doc! {}).await.unwrap(), 2);
    // Unordered: continues past it.
    let err = coll.insert_many([doc! {"_id": 1}, doc! {"_id": 4}]).ordered(false).await.unwrap_err();
    let ErrorKind::BulkWrite(failure) = &*err.kind else { panic!("{err}") };
    assert_eq!(failure.partial_result.inserted_ids.keys().copied().collect::<Vec<_>>(), [1]);
    assert_eq!(coll.count_documents(doc! {}).await.unwrap(), 3);

    // A bad filter: the server's error with its code and code name.
    let bad = coll.find(doc! {"$bogus": 1}).await.unwrap_err();
    assert!(matches!(*bad.kind, ErrorKind::Command { .. }), "{bad}");
    assert_eq!(bad.code_name(), Some("BadValue"), "{bad}");
    let bad = coll.count_documents(doc! {"x": {"$nope": 1}}).await.unwrap_err();
    assert!(bad.code().is_some(), "{bad}");

    // Client-side validation.
    let invalid = coll.update_one(doc! {}, doc! {"x": 1}).await.unwrap_err();
    assert!(matches!(*invalid.kind, ErrorKind::InvalidArgument { .. }), "{invalid}");
    let invalid = coll.replace_one(doc! {}, doc! {"$set": {"x": 1}}).await.unwrap_err();
    assert!(matches!(*invalid.kind, ErrorKind::InvalidArgument { .. }), "{invalid}");
    let invalid = coll.find_one_and_update(doc! {}, doc! {"x": 1}).await.unwrap_err();
    assert!(matches!(*invalid.kind, ErrorKind::InvalidArgument { .. }), "{invalid}");
    let invalid = coll.insert_many(Vec::<Document>::new()).await.unwrap_err();
    assert!(matches!(*invalid.kind, ErrorKind::InvalidArgument { .. }), "{invalid}");

    // An unsatisfiable write concern: the write happens, the write concern error is raised.
    let wce = coll.insert_one(doc! {"_id": 10}).write_concern(WriteConcern::nodes(100)).await.unwrap_err();
    assert!(matches!(*wce.kind, ErrorKind::WriteConcern { .. }), "{wce}");
    assert!(wce.code_name().is_some(), "{wce}");
    assert_eq!(coll.count_documents(doc! {"_id": 10}).await.unwrap(), 1);

    // A server error code with labels, through a fail point (twice: the retryable delete,
    // in its implicit session, is retried once).
    let admin = f.client.database("admin");
    admin
        .run_command(doc! {
            "configureFailPoint": "failCommand",
            "mode": {"times": 2},
            "data": {"failCommands": ["delete"], "errorCode": 91, "errorLabels": ["RetryableWriteError"]},
        })
        .await
        .unwrap();
    let err = coll.delete_one(doc! {"_id": 1}).await.unwrap_err();
    assert_eq!((err.code(), err.code_name()), (Some(91), Some("ShutdownInProgress")), "{err}");
    assert!(err.contains_label("RetryableWriteError"), "{err}");
}

#[tokio::test]
async fn a_read_is_retried_once_after_a_network_error() {
    let f = Fixture::new().await;
    let coll = f.coll::<Document>("retry");
    coll.insert_one(doc! {"_id": 1}).await.unwrap();
    let admin = f.client.database("admin");
    admin
        .run_command(doc! {
            "configureFailPoint": "failCommand",
            "mode": {"times": 1},
            "data": {"failCommands": ["find"], "closeConnection": true},
        })
        .await
        .unwrap();
    f.clear();
    assert_eq!(coll.find_one(doc! {"_id": 1}).await.unwrap(), Some(doc! {"_id": 1}));
    assert_eq!(f.started("find").len(), 2, "the first attempt failed, the retry succeeded");

    // Twice: the retry fails too, and its error is returned.
    admin
        .run_command(doc! {
            "configureFailPoint": "failCommand",
            "mode": {"times": 2},
            "data": {"failCommands": ["find"], "closeConnection": true},
        })
        .await
        .unwrap();
    let err = coll.find_one(doc! {"_id": 1}).await.unwrap_err();
    assert!(err.is_network_error(), "{err}");
}

#[tokio::test]
async fn cluster_time_is_gossiped_and_shutdown_stops_operations() {
    let f = Fixture::new().await;
    let coll = f.coll::<Document>("gossip");
    coll.insert_one(doc! {"x": 1}).await.unwrap();
    coll.insert_one(doc! {"x": 2}).await.unwrap();
    let inserts = f.started("insert");
    assert!(
        inserts[1].command.get_document("$clusterTime").is_ok(),
        "the second command carries the cluster time"
    );
    f.client.shutdown().await;
    let err = coll.find_one(doc! {}).await.unwrap_err();
    assert!(matches!(*err.kind, ErrorKind::ServerSelection { .. }), "{err}");
}

#[tokio::test]
async fn a_declared_server_api_goes_with_every_command() {
    use mongo_driver::connection::ServerApi;
    let sim = Deployment::start(Config::replica_set(1)).await.expect("the simulator starts");
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let api = ServerApi { version: "1".into(), strict: Some(false), deprecation_errors: None };
    let client = Client::builder(sim.connection_string())
        .server_api(api)
        .command_event_handler(Arc::new(move |e: &CommandEvent| {
            sink.lock().expect("not poisoned").push(e.clone())
        }))
        .build()
        .unwrap();
    let coll = client.database("api").collection::<Document>("stable");
    coll.insert_many((0..4).map(|i| doc! {"_id": i})).await.unwrap();
    let n = coll.find(doc! {}).batch_size(1).await.unwrap().count().await;
    assert_eq!(n, 4);
    let events = events.lock().unwrap();
    let started: Vec<_> =
        events.iter().filter_map(|e| if let CommandEvent::Started(s) = e { Some(s) } else { None }).collect();
    assert!(started.iter().any(|s| s.command_name == "getMore"));
    for s in started {
        assert_eq!(s.command.get_str("apiVersion").ok(), Some("1"), "{}", s.command_name);
        assert_eq!(s.command.get_bool("apiStrict").ok(), Some(false), "{}", s.command_name);
    }
}

#[tokio::test]
async fn insert_many_splits_batches_larger_than_max_message_size() {
    let f = Fixture::new().await;
    let coll = f.coll::<Document>("large");
    // Four documents of ~14 MB: 56 MB does not fit one 48 MB message.
    let big = "x".repeat(14 * 1024 * 1024);
    let result = coll.insert_many((0..4).map(|i| doc! {"_id": i, "s": big.clone()})).await.unwrap();
    assert_eq!(result.inserted_ids.len(), 4);
    let inserts = f.started("insert");
    assert!(inserts.len() >= 2, "{} insert commands", inserts.len());
    let sent: usize = inserts.iter().map(|s| s.command.get_array("documents").map_or(0, Vec::len)).sum();
    assert_eq!(sent, 4);
    assert_eq!(coll.count_documents(doc! {}).await.unwrap(), 4);
}

#[tokio::test]
async fn a_direct_connection_to_a_secondary_reads_with_primary_preferred() {
    let f = Fixture::new().await;
    f.coll::<Document>("direct")
        .insert_one(doc! {"_id": 1})
        .write_concern(WriteConcern::nodes(3))
        .await
        .unwrap();
    let primary = f.sim.primary_host().expect("a primary");
    let secondary = f.sim.member_hosts().into_iter().find(|h| *h != primary).expect("a secondary");
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let client = Client::builder(format!("mongodb://{secondary}/?directConnection=true"))
        .command_event_handler(Arc::new(move |e: &CommandEvent| {
            sink.lock().expect("not poisoned").push(e.clone())
        }))
        .build()
        .unwrap();
    let coll = client.database("api").collection::<Document>("direct");
    assert_eq!(coll.find_one(doc! {"_id": 1}).await.unwrap(), Some(doc! {"_id": 1}));
    let first = events.lock().unwrap().first().cloned();
    let Some(CommandEvent::Started(find)) = first else { panic!("no started event") };
    assert_eq!(find.command.get_document("$readPreference").unwrap(), &doc! {"mode": "primaryPreferred"});
    // Writes to a secondary fail with the server's NotWritablePrimary.
    let err = coll.insert_one(doc! {"_id": 2}).await.unwrap_err();
    assert_eq!(err.code_name(), Some("NotWritablePrimary"), "{err}");
}

/// The executor's retryable-write seam: with a session id and a transaction number (which
/// the sessions layer will provide), a write that hits a network error is retried once
/// with the same `txnNumber`, and the server applies it exactly once.
#[tokio::test]
async fn a_write_with_a_transaction_number_is_retried_once() {
    use mongo_driver::executor::{ExecutionContext, Executor};
    use mongo_driver::operation::{Insert, Namespace};
    use mongo_driver::topology::{EventHandlers, Topology};

    let sim = Deployment::start(Config::replica_set(1)).await.expect("the simulator starts");
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let topology = Topology::from_uri(sim.connection_string(), EventHandlers::default()).unwrap();
    let handler: mongo_driver::event::command::CommandEventHandler =
        Arc::new(move |e: &CommandEvent| sink.lock().expect("not poisoned").push(e.clone()));
    let executor = Executor::new(topology, Some(handler), true);
    let lsid = doc! {"id": bson::Uuid::new()};
    let ctx =
        ExecutionContext { lsid: Some(lsid.clone()), txn_number: Some(1), ..ExecutionContext::default() };
    let fail = mongo_driver::operation::RunCommand::new(
        "admin",
        doc! {"configureFailPoint": "failCommand", "mode": {"times": 1}, "data": {"failCommands": ["insert"], "closeConnection": true}},
        mongo_driver::topology::SelectionCriteria::Write,
    );
    executor.execute(&mut fail.unwrap(), &ExecutionContext::default()).await.unwrap();

    let mut insert = Insert::new(Namespace::new("api", "retry"), vec![doc! {"_id": 1}], true);
    let outcome = executor.execute(&mut insert, &ctx).await.unwrap();
    assert_eq!(outcome.n, 1);
    let started: Vec<_> = events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            CommandEvent::Started(s) if s.command_name == "insert" => Some(s.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(started.len(), 2, "the first attempt failed, the retry succeeded");
    for s in &started {
        assert_eq!(s.command.get_i64("txnNumber").ok(), Some(1));
        assert_eq!(s.command.get_document("lsid").ok(), Some(&lsid));
    }
    assert_ne!(started[0].request_id, started[1].request_id);
    assert_eq!(started[0].operation_id, started[1].operation_id);

    // Without a transaction number the same failure is not retried.
    let fail = mongo_driver::operation::RunCommand::new(
        "admin",
        doc! {"configureFailPoint": "failCommand", "mode": {"times": 1}, "data": {"failCommands": ["insert"], "closeConnection": true}},
        mongo_driver::topology::SelectionCriteria::Write,
    );
    executor.execute(&mut fail.unwrap(), &ExecutionContext::default()).await.unwrap();
    let mut insert = Insert::new(Namespace::new("api", "retry"), vec![doc! {"_id": 2}], true);
    let err = executor.execute(&mut insert, &ExecutionContext::default()).await.unwrap_err();
    assert!(err.is_network_error() && !err.contains_label("RetryableWriteError"), "{err}");
}

#[tokio::test]
async fn defaults_flow_from_the_uri_through_database_and_collection_handles() {
    let sim = Deployment::start(Config::replica_set(1)).await.expect("the simulator starts");
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    // The replica set's connection string is `mongodb://hosts/?replicaSet=…`.
    let uri =
        format!("{}&w=majority&readConcernLevel=local", sim.connection_string().replacen("/?", "/app?", 1));
    let client = Client::builder(&uri)
        .command_event_handler(Arc::new(move |e: &CommandEvent| {
            sink.lock().expect("not poisoned").push(e.clone())
        }))
        .build()
        .unwrap();
    let db = client.default_database().expect("the URI names a database");
    assert_eq!(db.name(), "app");
    assert_eq!(client.defaults().write_concern, Some(WriteConcern::majority()));

    let coll = db.collection::<Document>("defaults");
    coll.insert_one(doc! {"_id": 1}).await.unwrap();
    coll.find_one(doc! {}).await.unwrap();
    let strict = db
        .clone()
        .with_read_concern(mongo_driver::options::ReadConcern::majority())
        .with_write_concern(WriteConcern::nodes(1))
        .collection::<Document>("defaults");
    strict.insert_one(doc! {"_id": 2}).await.unwrap();
    strict.find_one(doc! {}).await.unwrap();
    let overridden = coll.clone().with_write_concern(WriteConcern::nodes(1).journal(true));
    overridden.delete_one(doc! {"_id": 2}).write_concern(WriteConcern::majority()).await.unwrap();

    let documents: Vec<Document> =
        db.aggregate([doc! {"$documents": [{"a": 1}, {"a": 2}]}]).await.unwrap().try_collect().await.unwrap();
    assert_eq!(documents.len(), 2);

    let events = events.lock().unwrap();
    let started: Vec<_> = events
        .iter()
        .filter_map(|e| if let CommandEvent::Started(s) = e { Some(s.command.clone()) } else { None })
        .collect();
    let of = |name: &str| started.iter().filter(|c| c.contains_key(name)).cloned().collect::<Vec<Document>>();
    let inserts = of("insert");
    assert_eq!(inserts[0].get_document("writeConcern").unwrap(), &doc! {"w": "majority"});
    assert_eq!(inserts[1].get_document("writeConcern").unwrap(), &doc! {"w": 1i64});
    let finds = of("find");
    assert_eq!(finds[0].get_document("readConcern").unwrap(), &doc! {"level": "local"});
    assert_eq!(finds[1].get_document("readConcern").unwrap(), &doc! {"level": "majority"});
    assert_eq!(
        of("delete")[0].get_document("writeConcern").unwrap(),
        &doc! {"w": "majority"},
        "the operation's own wins"
    );
    assert_eq!(of("aggregate")[0].get("aggregate"), Some(&Bson::Int32(1)));
}
