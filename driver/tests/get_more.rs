//! What a cursor's getMores carry (find/getMore/killCursors spec "Combining Limit and
//! Batch Size"; CRUD spec "comment" of find and aggregate), against the simulated server.

use std::sync::{Arc, Mutex};

use bson::{Bson, Document, doc};
use futures::TryStreamExt;
use mongo_driver::Client;
use mongo_driver::event::command::CommandEvent;
use mongo_sim::{Config, Deployment, ServerVersion};

/// The getMore commands a `run` sends against a standalone of `version` holding ten documents.
async fn get_mores<F, Fut>(version: ServerVersion, run: F) -> Vec<Document>
where
    F: FnOnce(mongo_driver::Collection<Document>) -> Fut,
    Fut: std::future::Future<Output = Vec<Document>>,
{
    let sim =
        Deployment::start(Config::standalone().with_version(version)).await.expect("the simulator starts");
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let client = Client::builder(sim.connection_string())
        .command_event_handler(Arc::new(move |e: &CommandEvent| {
            if let CommandEvent::Started(s) = e
                && s.command_name == "getMore"
            {
                sink.lock().expect("not poisoned").push(s.command.clone());
            }
        }))
        .build()
        .expect("the client starts");
    let coll = client.database("cursors").collection::<Document>("c");
    coll.insert_many((1..=10).map(|i| doc! {"_id": i})).await.unwrap();
    let docs = run(coll).await;
    assert!(!docs.is_empty());
    events.lock().expect("not poisoned").clone()
}

#[tokio::test]
async fn get_more_batch_size_stays_under_the_limit() {
    let sent = get_mores(ServerVersion::V7_0, |coll| async move {
        let docs: Vec<Document> =
            coll.find(doc! {}).batch_size(3).limit(7).await.unwrap().try_collect().await.unwrap();
        assert_eq!(docs.len(), 7);
        docs
    })
    .await;
    let sizes: Vec<_> = sent.iter().map(|c| c.get("batchSize").cloned()).collect();
    assert_eq!(sizes, [Some(Bson::Int64(3)), Some(Bson::Int64(1))]);
    // A limit without a batch size: the getMore asks for what is left.
    let sent = get_mores(ServerVersion::V7_0, |coll| async move {
        let mut cursor = coll.find(doc! {}).limit(6).batch_size(4).await.unwrap();
        let mut docs = Vec::new();
        while let Some(d) = cursor.try_next().await.unwrap() {
            docs.push(d);
        }
        assert_eq!(docs.len(), 6);
        docs
    })
    .await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].get("batchSize"), Some(&Bson::Int64(2)));
}

#[tokio::test]
async fn get_more_carries_the_comment_from_4_4() {
    for (version, expected) in
        [(ServerVersion::V4_4, Some(Bson::String("c".into()))), (ServerVersion::V4_2, None)]
    {
        let sent = get_mores(version, |coll| async move {
            let mut docs: Vec<Document> =
                coll.find(doc! {}).batch_size(5).comment("c").await.unwrap().try_collect().await.unwrap();
            let aggregated: Vec<Document> = coll
                .aggregate([doc! {"$match": {}}])
                .batch_size(5)
                .comment("c")
                .await
                .unwrap()
                .try_collect()
                .await
                .unwrap();
            docs.extend(aggregated);
            docs
        })
        .await;
        assert!(sent.len() >= 2, "{version:?}: a find and an aggregate getMore");
        for command in &sent {
            assert_eq!(command.get("comment").cloned(), expected, "{version:?}: {command}");
        }
    }
}
