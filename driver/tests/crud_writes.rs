//! CRUD spec write details against the simulated deployment: per-model options of
//! `bulk_write` ("Write Models"), hints refused client-side by server version ("hint" of
//! UpdateOptions, DeleteOptions and FindOneAndModifyOptions) and unacknowledged writes sent
//! with `moreToCome` (OP_MSG spec "moreToCome On Requests").

use bson::{Bson, Document, doc};
use mongo_driver::Collection;
use mongo_driver::coll::WriteModel;
use mongo_driver::error::ErrorKind;
use mongo_driver::event::command::{CommandEvent, CommandStartedEvent};
use mongo_driver::options::{Hint, WriteConcern};
use mongo_sim::{Config, ServerVersion};

mod common;

use common::Fixture;

impl Fixture {
    async fn new(config: Config) -> Self {
        Self::start(config, "serverSelectionTimeoutMS=5000").await
    }

    async fn standalone(version: ServerVersion) -> Self {
        Self::new(Config::standalone().with_version(version)).await
    }

    fn coll(&self, name: &str) -> Collection<Document> {
        self.client.database("crud").collection(name)
    }
}

fn statements(event: &CommandStartedEvent, key: &str) -> Vec<Document> {
    match event.command.get(key) {
        Some(Bson::Array(items)) => items.iter().filter_map(|i| i.as_document().cloned()).collect(),
        other => panic!("no `{key}` array in {}: {other:?}", event.command),
    }
}

#[tokio::test]
async fn bulk_write_models_send_their_options() {
    let f = Fixture::standalone(ServerVersion::V7_0).await;
    let coll = f.coll("models");
    coll.insert_many([
        doc! {"_id": 1, "y": [{"b": 3}, {"b": 1}]},
        doc! {"_id": 2, "y": [{"b": 0}, {"b": 1}]},
        doc! {"_id": 3, "name": "a"},
    ])
    .await
    .unwrap();
    f.clear();
    let collation = doc! {"locale": "en_US", "strength": 2};
    let result = coll
        .bulk_write([
            WriteModel::UpdateOne {
                filter: doc! {"_id": 1},
                update: doc! {"$set": {"y.$[i].b": 2}}.into(),
                upsert: None,
                array_filters: Some(vec![doc! {"i.b": 3}]),
                collation: None,
                hint: Some(Hint::Name("_id_".into())),
            },
            WriteModel::UpdateMany {
                filter: doc! {"_id": 99},
                update: doc! {"$set": {"x": 1}}.into(),
                upsert: Some(true),
                array_filters: None,
                collation: Some(collation.clone()),
                hint: Some(Hint::Keys(doc! {"_id": 1})),
            },
            WriteModel::ReplaceOne {
                filter: doc! {"_id": 3},
                replacement: doc! {"name": "b"},
                upsert: Some(false),
                collation: None,
                hint: Some(Hint::Name("_id_".into())),
            },
            WriteModel::DeleteOne { filter: doc! {"_id": 2}, collation: Some(collation.clone()), hint: None },
            WriteModel::DeleteMany {
                filter: doc! {"_id": {"$gt": 100}},
                collation: None,
                hint: Some(Hint::Name("_id_".into())),
            },
        ])
        .await
        .unwrap();
    assert_eq!(
        (result.matched_count, result.modified_count, result.upserted_count, result.deleted_count),
        (2, 2, 1, 1)
    );
    assert_eq!(result.upserted_ids.get(&1), Some(&Bson::Int32(99)));

    let updates = f.started("update");
    assert_eq!(updates.len(), 1, "consecutive updates go in one command");
    let sent = statements(&updates[0], "updates");
    assert_eq!(
        sent[0],
        doc! {"q": {"_id": 1}, "u": {"$set": {"y.$[i].b": 2}}, "arrayFilters": [{"i.b": 3}], "hint": "_id_"}
    );
    assert_eq!(
        sent[1],
        doc! {"q": {"_id": 99}, "u": {"$set": {"x": 1}}, "upsert": true, "multi": true,
        "collation": collation.clone(), "hint": {"_id": 1}}
    );
    assert_eq!(sent[2], doc! {"q": {"_id": 3}, "u": {"name": "b"}, "upsert": false, "hint": "_id_"});
    let deletes = statements(&f.started("delete")[0], "deletes");
    assert_eq!(deletes[0], doc! {"q": {"_id": 2}, "limit": 1, "collation": collation});
    assert_eq!(deletes[1], doc! {"q": {"_id": {"$gt": 100}}, "limit": 0, "hint": "_id_"});
    let first = coll.find_one(doc! {"_id": 1}).await.unwrap().unwrap();
    assert_eq!(first.get_array("y").unwrap()[0], Bson::Document(doc! {"b": 2}));
}

fn assert_client_error(result: mongo_driver::Result<impl std::fmt::Debug>, what: &str) {
    match result {
        Err(e) if matches!(*e.kind, ErrorKind::InvalidArgument { .. }) => {
            assert!(e.to_string().contains("hint"), "{what}: {e}")
        }
        other => panic!("{what}: expected a client-side error, got {other:?}"),
    }
}

#[tokio::test]
async fn hints_are_refused_where_the_server_is_too_old() {
    // 4.0: no findAndModify hints; unacknowledged update and delete hints neither.
    let f = Fixture::standalone(ServerVersion::V4_0).await;
    let coll = f.coll("hints");
    let unack = coll.clone().with_write_concern(WriteConcern::nodes(0));
    assert_client_error(
        coll.find_one_and_update(doc! {}, doc! {"$set": {"x": 1}}).hint(Hint::Name("_id_".into())).await,
        "findOneAndUpdate on 4.0",
    );
    assert_client_error(
        coll.find_one_and_delete(doc! {}).hint(Hint::Keys(doc! {"_id": 1})).await,
        "findOneAndDelete on 4.0",
    );
    assert_client_error(
        unack.update_one(doc! {}, doc! {"$set": {"x": 1}}).hint(Hint::Name("_id_".into())).await,
        "unacknowledged updateOne on 4.0",
    );
    assert_client_error(
        unack
            .bulk_write([WriteModel::DeleteOne {
                filter: doc! {},
                collation: None,
                hint: Some(Hint::Name("_id_".into())),
            }])
            .await,
        "unacknowledged bulk deleteOne on 4.0",
    );
    assert!(f.started("findAndModify").is_empty() && f.started("update").is_empty());
    assert!(f.started("delete").is_empty(), "a refused hint sends nothing");
    // Acknowledged update and delete hints go to the server (3.4+ report their own error).
    let _ = coll.update_one(doc! {}, doc! {"$set": {"x": 1}}).hint(Hint::Name("_id_".into())).await;
    let _ = coll.delete_one(doc! {}).hint(Hint::Name("_id_".into())).await;
    assert_eq!((f.started("update").len(), f.started("delete").len()), (1, 1));

    // 4.2: unacknowledged update hints are allowed, unacknowledged delete and
    // findAndModify hints are not; acknowledged findAndModify hints go to the server.
    let f = Fixture::standalone(ServerVersion::V4_2).await;
    let coll = f.coll("hints");
    let unack = coll.clone().with_write_concern(WriteConcern::nodes(0));
    unack.update_many(doc! {}, doc! {"$set": {"x": 1}}).hint(Hint::Name("_id_".into())).await.unwrap();
    assert_eq!(f.started("update").len(), 1);
    assert_client_error(
        unack.delete_many(doc! {}).hint(Hint::Name("_id_".into())).await,
        "unacknowledged deleteMany on 4.2",
    );
    assert_client_error(
        unack.find_one_and_replace(doc! {}, doc! {"x": 2}).hint(Hint::Name("_id_".into())).await,
        "unacknowledged findOneAndReplace on 4.2",
    );
    let _ = coll.find_one_and_delete(doc! {}).hint(Hint::Name("_id_".into())).await;
    assert_eq!((f.started("delete").len(), f.started("findAndModify").len()), (0, 1));

    // 4.4: every hint goes out, acknowledged or not.
    let f = Fixture::standalone(ServerVersion::V4_4).await;
    let unack = f.coll("hints").with_write_concern(WriteConcern::nodes(0));
    unack.delete_one(doc! {}).hint(Hint::Name("_id_".into())).await.unwrap();
    unack.find_one_and_delete(doc! {}).hint(Hint::Name("_id_".into())).await.unwrap();
    assert_eq!((f.started("delete").len(), f.started("findAndModify").len()), (1, 1));
}

/// The succeeded events of `name`, in order.
fn succeeded(f: &Fixture, name: &str) -> Vec<Document> {
    let events = f.events.lock().expect("not poisoned");
    events
        .iter()
        .filter_map(|e| match e {
            CommandEvent::Succeeded(s) if s.command_name == name => Some(s.reply.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn unacknowledged_writes_expect_no_reply() {
    let f = Fixture::new(Config::replica_set(1)).await;
    let acked = f.coll("unack");
    acked.insert_one(doc! {"_id": 1, "x": 1}).await.unwrap();
    let coll = acked.clone().with_write_concern(WriteConcern::nodes(0));
    f.clear();

    // A duplicate key is silently dropped by the server: no reply, no error.
    let inserted = coll.insert_one(doc! {"_id": 1}).await.unwrap();
    assert!(!inserted.acknowledged);
    let inserted = coll.insert_many([doc! {"_id": 2}, doc! {"_id": 3}]).await.unwrap();
    assert!(!inserted.acknowledged);
    let updated = coll.update_one(doc! {"_id": 1}, doc! {"$set": {"x": 2}}).await.unwrap();
    assert!(!updated.acknowledged && updated.matched_count == 0);
    let deleted = coll.delete_many(doc! {"_id": 3}).await.unwrap();
    assert!(!deleted.acknowledged);
    let bulk = coll
        .bulk_write([WriteModel::insert_one(doc! {"_id": 4}), WriteModel::delete_one(doc! {"_id": 2})])
        .ordered(false)
        .await
        .unwrap();
    assert!(!bulk.acknowledged);
    // findAndModify with w: 0 returns no document.
    let found = coll.find_one_and_update(doc! {"_id": 1}, doc! {"$set": {"y": 1}}).await.unwrap();
    assert_eq!(found, None);

    for name in ["insert", "update", "delete", "findAndModify"] {
        let started = f.started(name);
        assert!(!started.is_empty(), "{name} was sent");
        for s in &started {
            assert_eq!(s.command.get_document("writeConcern").unwrap(), &doc! {"w": 0_i64});
            assert!(!s.command.contains_key("lsid"), "no implicit session on a w: 0 write: {}", s.command);
            assert!(!s.command.contains_key("txnNumber"), "{}", s.command);
        }
        // Command monitoring spec: the reply of an unacknowledged write is {ok: 1}.
        for reply in succeeded(&f, name) {
            assert_eq!(reply, doc! {"ok": 1}, "{name}");
        }
    }

    // The writes reached the server (in order, on whichever connection they went).
    let expected = vec![doc! {"_id": 1, "x": 2, "y": 1}, doc! {"_id": 4}];
    let mut seen = Vec::new();
    for _ in 0..100 {
        use futures::TryStreamExt;
        seen = acked.find(doc! {}).sort(doc! {"_id": 1}).await.unwrap().try_collect().await.unwrap();
        if seen == expected {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(seen, expected);

    // An explicit session cannot carry an unacknowledged write.
    let mut session = f.client.start_session().await.unwrap();
    let err = coll.insert_one(doc! {"_id": 5}).session(&mut session).await.unwrap_err();
    assert!(matches!(*err.kind, ErrorKind::InvalidArgument { .. }), "{err}");
}

#[tokio::test]
async fn write_stage_aggregates_follow_the_read_preference_on_5_0() {
    use futures::TryStreamExt;
    use mongo_driver::options::ReadPreference;
    for (version, sends_read_preference) in [(ServerVersion::V5_0, true), (ServerVersion::V4_4, false)] {
        let f = Fixture::new(Config::replica_set(2).with_version(version)).await;
        let source = f.coll("source");
        source.insert_many([doc! {"_id": 1}, doc! {"_id": 2}]).await.unwrap();
        f.clear();
        let secondary = source.clone().with_read_preference(ReadPreference::secondary());
        let out: Vec<Document> = secondary
            .aggregate([doc! {"$match": {"_id": {"$gt": 1}}}, doc! {"$out": "target"}])
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        assert!(out.is_empty());
        let started = f.started("aggregate");
        let rp = started[0].command.get_document("$readPreference").ok();
        if sends_read_preference {
            assert_eq!(rp, Some(&doc! {"mode": "secondary"}), "{version:?}");
        } else {
            assert_eq!(rp, None, "{version:?}: before 5.0 the pipeline goes to the primary");
        }
        // Plain reads keep their read preference on any version.
        let _ = secondary.aggregate([doc! {"$match": {}}]).await.unwrap();
        assert!(f.started("aggregate")[1].command.contains_key("$readPreference"));
        let written: Vec<Document> =
            f.coll("target").find(doc! {}).await.unwrap().try_collect().await.unwrap();
        assert_eq!(written, vec![doc! {"_id": 2}], "{version:?}");
    }
}
