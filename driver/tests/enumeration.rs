//! Enumeration and index management against the simulated replica set
//! (enumerate-databases, enumerate-collections and index-management specs): the commands
//! sent, their options, the results, and the client-side refusals.

use std::sync::{Arc, Mutex};

use bson::{Bson, Document, doc};
use futures::TryStreamExt;
use mongo_driver::Client;
use mongo_driver::error::ErrorKind;
use mongo_driver::event::command::{CommandEvent, CommandStartedEvent};
use mongo_driver::index_management::{IndexModel, IndexOptions};
use mongo_driver::options::{CreateIndexOptions, ListCollectionsOptions, ListDatabasesOptions};
use mongo_sim::{Config, Deployment, ServerVersion};

/// A client on a fresh replica set at `version`, recording its started events.
async fn fixture(version: ServerVersion) -> (Deployment, Client, Arc<Mutex<Vec<CommandStartedEvent>>>) {
    let sim =
        Deployment::start(Config::replica_set(3).with_version(version)).await.expect("the simulator starts");
    let started = Arc::new(Mutex::new(Vec::new()));
    let sink = started.clone();
    let client = Client::builder(sim.connection_string())
        .command_event_handler(Arc::new(move |e: &CommandEvent| {
            if let CommandEvent::Started(s) = e {
                sink.lock().expect("not poisoned").push(s.clone());
            }
        }))
        .build()
        .expect("the client starts");
    (sim, client, started)
}

/// The last started command named `name`.
fn last(started: &Mutex<Vec<CommandStartedEvent>>, name: &str) -> Document {
    let events = started.lock().expect("not poisoned");
    match events.iter().rev().find(|e| e.command_name == name) {
        Some(e) => e.command.clone(),
        None => panic!("no {name} command was sent"),
    }
}

#[tokio::test]
async fn indexes_are_created_listed_and_dropped() {
    let (_sim, client, started) = fixture(ServerVersion::new(7, 0)).await;
    let coll = client.database("enum").collection::<Document>("items");
    coll.insert_one(doc! {"_id": 1, "x": 1, "y": 2}).await.expect("insert");

    let created = coll
        .create_index(IndexModel::new(doc! {"x": 1, "y": -1}).options(IndexOptions::default().unique(true)))
        .await
        .expect("createIndexes");
    assert_eq!(created.index_name, "x_1_y_-1");
    let sent = last(&started, "createIndexes");
    assert_eq!(sent.get_str("createIndexes").ok(), Some("items"));
    assert_eq!(
        sent.get_array("indexes").expect("indexes"),
        &vec![Bson::Document(doc! {"key": {"x": 1, "y": -1}, "name": "x_1_y_-1", "unique": true})]
    );

    let both = coll
        .create_indexes([
            IndexModel::new(doc! {"z": 1}),
            IndexModel::new(doc! {"w": 1}).options(IndexOptions::default().name("by_w")),
        ])
        .with_options(CreateIndexOptions::default().commit_quorum("majority"))
        .await
        .expect("createIndexes");
    assert_eq!(both.index_names, vec!["z_1".to_string(), "by_w".to_string()]);
    assert_eq!(last(&started, "createIndexes").get_str("commitQuorum").ok(), Some("majority"));

    let names = coll.list_index_names().await.expect("listIndexes");
    assert_eq!(names, vec!["_id_", "x_1_y_-1", "z_1", "by_w"]);
    let specs: Vec<Document> =
        coll.list_indexes().batch_size(1).await.expect("listIndexes").try_collect().await.expect("getMore");
    assert_eq!(specs.len(), 4, "every batch is read: {specs:?}");
    assert_eq!(specs[1].get_bool("unique").ok(), Some(true));

    // Index-management spec: `drop_index("*")` is refused before anything is sent.
    let before = started.lock().expect("not poisoned").len();
    let refused = coll.drop_index("*").await.expect_err("`*` is refused");
    assert!(matches!(*refused.kind, ErrorKind::InvalidArgument { .. }), "{refused:?}");
    assert_eq!(started.lock().expect("not poisoned").len(), before);

    coll.drop_index("z_1").await.expect("dropIndexes");
    assert_eq!(last(&started, "dropIndexes").get_str("index").ok(), Some("z_1"));
    let missing = coll.drop_index("z_1").await.expect_err("the index is gone");
    assert_eq!(missing.code(), Some(27), "IndexNotFound: {missing:?}");
    coll.drop_indexes().await.expect("dropIndexes *");
    assert_eq!(last(&started, "dropIndexes").get_str("index").ok(), Some("*"));
    assert_eq!(coll.list_index_names().await.expect("listIndexes"), vec!["_id_"]);

    let absent = client.database("enum").collection::<Document>("absent").list_index_names().await;
    assert_eq!(absent.expect_err("no such collection").code(), Some(26), "NamespaceNotFound");
}

#[tokio::test]
async fn commit_quorum_is_refused_before_4_4() {
    let (_sim, client, started) = fixture(ServerVersion::new(4, 2)).await;
    let coll = client.database("enum").collection::<Document>("items");
    let error = coll
        .create_index(IndexModel::new(doc! {"x": 1}))
        .commit_quorum(2)
        .await
        .expect_err("commitQuorum needs 4.4");
    assert!(matches!(*error.kind, ErrorKind::IncompatibleWireVersion { .. }), "{error:?}");
    assert!(started.lock().expect("not poisoned").iter().all(|e| e.command_name != "createIndexes"));
}

#[tokio::test]
async fn collections_and_databases_are_listed() {
    let (_sim, client, started) = fixture(ServerVersion::new(7, 0)).await;
    let db = client.database("enum");
    for name in ["a", "b", "c"] {
        db.create_collection(name).await.expect("create");
    }
    client.database("other").collection::<Document>("x").insert_one(doc! {}).await.expect("insert");

    let all: Vec<Document> = db
        .list_collections()
        .batch_size(2)
        .await
        .expect("listCollections")
        .try_collect()
        .await
        .expect("getMore");
    let mut names: Vec<&str> = all.iter().filter_map(|d| d.get_str("name").ok()).collect();
    names.sort_unstable();
    assert_eq!(names, vec!["a", "b", "c"]);
    assert!(all.iter().all(|d| d.get_str("type").ok() == Some("collection") && d.contains_key("options")));
    assert_eq!(
        last(&started, "listCollections").get_document("cursor").ok(),
        Some(&doc! {"batchSize": 2i64})
    );

    let filtered: Vec<Document> = db
        .list_collections()
        .with_options(
            ListCollectionsOptions::default()
                .filter(doc! {"name": "b"})
                .name_only(true)
                .authorized_collections(true),
        )
        .await
        .expect("listCollections")
        .try_collect()
        .await
        .expect("cursor");
    assert_eq!(filtered, vec![doc! {"name": "b", "type": "collection"}]);
    let sent = last(&started, "listCollections");
    assert_eq!(
        (sent.get_bool("nameOnly").ok(), sent.get_bool("authorizedCollections").ok()),
        (Some(true), Some(true))
    );

    let databases = client.list_databases().await.expect("listDatabases");
    let mut db_names: Vec<&str> = databases.iter().filter_map(|d| d.get_str("name").ok()).collect();
    db_names.sort_unstable();
    assert!(db_names.contains(&"enum") && db_names.contains(&"other"), "{db_names:?}");
    assert!(databases.iter().all(|d| d.contains_key("sizeOnDisk")));
    let sent = last(&started, "listDatabases");
    assert_eq!((sent.get_str("$db").ok(), sent.contains_key("nameOnly")), (Some("admin"), false));

    let names = client
        .list_database_names()
        .filter(doc! {"name": "other"})
        .authorized_databases(true)
        .await
        .expect("listDatabases");
    assert_eq!(names, vec!["other".to_string()]);
    let sent = last(&started, "listDatabases");
    assert_eq!(sent.get_bool("nameOnly").ok(), Some(true));
    assert_eq!(sent.get_bool("authorizedDatabases").ok(), Some(true));
    assert_eq!(sent.get_document("filter").ok(), Some(&doc! {"name": "other"}));

    let with_options = client
        .list_databases()
        .with_options(ListDatabasesOptions::default().name_only(true))
        .await
        .expect("listDatabases");
    assert!(with_options.iter().all(|d| d.keys().eq(["name"].iter())), "{with_options:?}");
}
