//! Change streams against the simulator (change streams spec "Resumable Error", "Resume
//! Process" and "Updating the Cached Resume Token"): which getMore errors resume the stream
//! (by label on 4.4+, by code before), which option a resume sends, the cached resume token
//! after documents and after empty batches, the missing-token error, and the scopes of the
//! three `watch` helpers.

use bson::{Document, doc};
use mongo_driver::change_stream::RESUMABLE_CHANGE_STREAM_ERROR;
use mongo_driver::{ChangeStream, Collection};
use mongo_sim::{Config, ServerVersion};

mod common;

use common::Fixture;

impl Fixture {
    async fn new(version: ServerVersion) -> Self {
        Self::start(Config::replica_set(1).with_version(version), "serverSelectionTimeoutMS=5000").await
    }

    fn coll(&self) -> Collection<Document> {
        self.client.database("cs").collection("c")
    }

    /// The `$changeStream` stage of the last aggregate sent.
    fn last_stage(&self) -> Document {
        let aggregate = self.started("aggregate").pop().expect("an aggregate was sent");
        let pipeline = aggregate.command.get_array("pipeline").expect("a pipeline");
        let first = pipeline.first().and_then(|s| s.as_document()).expect("a first stage");
        first.get_document("$changeStream").expect("a $changeStream stage").clone()
    }

    async fn fail_get_more(&self, data: Document) {
        let mut data = data;
        data.insert("failCommands", vec!["getMore"]);
        self.client
            .database("admin")
            .run_command(doc! {"configureFailPoint": "failCommand", "mode": {"times": 1}, "data": data})
            .await
            .expect("the fail point is set");
    }

    async fn insert(&self, x: i32) {
        self.coll().insert_one(doc! {"x": x}).await.expect("the insert succeeds");
    }
}

async fn next(stream: &mut ChangeStream) -> Document {
    stream.next().await.expect("no error").expect("an event")
}

#[tokio::test]
async fn a_labelled_error_resumes_on_4_4_and_an_unlabelled_one_does_not() {
    let f = Fixture::new(ServerVersion::V4_4).await;
    let mut stream = f.coll().watch().await.expect("the stream opens");
    f.insert(1).await;
    let first = next(&mut stream).await;
    assert_eq!(first.get_document("fullDocument").expect("a full document").get_i32("x").ok(), Some(1));

    f.fail_get_more(doc! {"errorCode": 6, "errorLabels": [RESUMABLE_CHANGE_STREAM_ERROR]}).await;
    f.insert(2).await;
    let second = next(&mut stream).await;
    assert_eq!(second.get_document("fullDocument").expect("a full document").get_i32("x").ok(), Some(2));
    assert_eq!(f.started("aggregate").len(), 2, "one resume");
    // The resume starts after the last event returned.
    assert_eq!(f.last_stage().get_document("resumeAfter").ok(), first.get_document("_id").ok());

    // 4.4+: the code alone is not enough.
    f.fail_get_more(doc! {"errorCode": 6}).await;
    let error = stream.next().await.expect_err("the error is returned");
    assert_eq!(error.code(), Some(6));
    assert_eq!(f.started("aggregate").len(), 2, "no resume");
}

#[tokio::test]
async fn before_4_4_the_code_list_decides() {
    let f = Fixture::new(ServerVersion::V4_2).await;
    let mut stream = f.coll().watch().await.expect("the stream opens");
    f.fail_get_more(doc! {"errorCode": 6}).await;
    f.insert(1).await;
    next(&mut stream).await;
    assert_eq!(f.started("aggregate").len(), 2, "HostUnreachable resumes before 4.4");
    // A label does not make another code resumable before 4.4.
    f.fail_get_more(doc! {"errorCode": 11601, "errorLabels": [RESUMABLE_CHANGE_STREAM_ERROR]}).await;
    let error = stream.next().await.expect_err("Interrupted is not resumable");
    assert_eq!(error.code(), Some(11601));
}

#[tokio::test]
async fn cursor_not_found_and_network_errors_resume() {
    let f = Fixture::new(ServerVersion::V6_0).await;
    let mut stream = f.coll().watch().await.expect("the stream opens");
    f.fail_get_more(doc! {"errorCode": 43}).await;
    f.insert(1).await;
    next(&mut stream).await;
    f.fail_get_more(doc! {"closeConnection": true}).await;
    f.insert(2).await;
    next(&mut stream).await;
    assert_eq!(f.started("aggregate").len(), 3);
}

#[tokio::test]
async fn the_resume_token_follows_documents_and_empty_batches() {
    let f = Fixture::new(ServerVersion::V6_0).await;
    let mut stream = f.coll().watch().batch_size(5).await.expect("the stream opens");
    // No event yet: the initial postBatchResumeToken.
    let initial = stream.resume_token().cloned().expect("a token from the aggregate");
    f.insert(1).await;
    f.insert(2).await;
    let first = next(&mut stream).await;
    // Not the last of its batch: the event's own _id.
    assert_eq!(stream.resume_token(), first.get_document("_id").ok());
    assert_ne!(stream.resume_token(), Some(&initial));
    let second = next(&mut stream).await;
    assert_eq!(stream.resume_token(), second.get_document("_id").ok());
    // An empty batch keeps the token current.
    assert!(stream.next_if_any().await.expect("no error").is_none());
    assert!(stream.resume_token().is_some());
    // A stream opened from the token sees only later events.
    let mut resumed = f
        .coll()
        .watch()
        .resume_after(stream.resume_token().cloned().expect("a token"))
        .await
        .expect("the stream opens");
    f.insert(3).await;
    let third = next(&mut resumed).await;
    assert_eq!(third.get_document("fullDocument").expect("a full document").get_i32("x").ok(), Some(3));
}

#[tokio::test]
async fn a_start_after_stream_resumes_with_start_after_until_it_returns_an_event() {
    let f = Fixture::new(ServerVersion::V6_0).await;
    let mut probe = f.coll().watch().await.expect("the stream opens");
    f.insert(1).await;
    let token = next(&mut probe).await.get_document("_id").expect("a token").clone();
    let mut stream = f.coll().watch().start_after(token.clone()).await.expect("the stream opens");
    assert_eq!(f.last_stage().get_document("startAfter").ok(), Some(&token));
    f.fail_get_more(doc! {"closeConnection": true}).await;
    assert!(stream.next_if_any().await.expect("resumed").is_none());
    let stage = f.last_stage();
    assert!(stage.contains_key("startAfter") && !stage.contains_key("resumeAfter"), "{stage}");
    f.insert(2).await;
    next(&mut stream).await;
    f.fail_get_more(doc! {"closeConnection": true}).await;
    assert!(stream.next_if_any().await.expect("resumed").is_none());
    let stage = f.last_stage();
    assert!(stage.contains_key("resumeAfter") && !stage.contains_key("startAfter"), "{stage}");
}

#[tokio::test]
async fn an_event_without_a_resume_token_is_an_error() {
    let f = Fixture::new(ServerVersion::V6_0).await;
    let mut stream =
        f.coll().watch().pipeline([doc! {"$project": {"_id": 0}}]).await.expect("the stream opens");
    f.insert(1).await;
    // The server refuses to return it (ChangeStreamFatalError, not resumable), as mongod 4.2+.
    let error = stream.next().await.expect_err("no resume token");
    assert_eq!(error.code(), Some(280), "{error}");
    assert!(error.contains_label("NonResumableChangeStreamError"), "{error}");
    assert_eq!(f.started("aggregate").len(), 1, "no resume");
}

#[tokio::test]
async fn database_and_cluster_streams() {
    let f = Fixture::new(ServerVersion::V6_0).await;
    let mut db_stream = f.client.database("cs").watch().await.expect("the stream opens");
    let mut all = f.client.watch().full_document("updateLookup").await.expect("the stream opens");
    let aggregates = f.started("aggregate");
    assert_eq!(aggregates[0].command.get_i32("aggregate").ok(), Some(1));
    assert_eq!(aggregates[0].database_name, "cs");
    assert_eq!(aggregates[1].database_name, "admin");
    assert_eq!(f.last_stage(), doc! {"allChangesForCluster": true, "fullDocument": "updateLookup"});
    f.client.database("other").collection::<Document>("d").insert_one(doc! {"y": 1}).await.expect("inserted");
    f.insert(1).await;
    let event = next(&mut db_stream).await;
    assert_eq!(event.get_document("ns").expect("ns"), &doc! {"db": "cs", "coll": "c"});
    let event = next(&mut all).await;
    assert_eq!(event.get_document("ns").expect("ns"), &doc! {"db": "other", "coll": "d"});
    // getMores name the collection the aggregate's `ns` gave.
    let get_more = f.started("getMore").into_iter().next().expect("a getMore");
    assert_eq!(get_more.command.get_str("collection").ok(), Some("$cmd.aggregate"));
    db_stream.close().await;
    assert_eq!(f.started("killCursors").len(), 1);
    // As a futures::Stream.
    let mut events = Box::pin(all.into_stream());
    f.insert(2).await;
    let event = futures::TryStreamExt::try_next(&mut events).await.expect("no error").expect("an event");
    assert_eq!(event.get_document("ns").expect("ns"), &doc! {"db": "cs", "coll": "c"});
}

#[derive(Debug, PartialEq, serde::Deserialize)]
struct Item {
    x: i32,
}

#[tokio::test]
async fn typed_events_carry_their_kind_documents_and_update_description() {
    use mongo_driver::change_stream::OperationType;
    let f = Fixture::new(ServerVersion::V6_0).await;
    let mut stream =
        f.coll().watch().full_document("updateLookup").await.expect("the stream opens").events::<Item>();
    f.insert(1).await;
    f.coll().update_one(doc! {"x": 1}, doc! {"$set": {"x": 2}}).await.expect("the update succeeds");

    let insert = stream.next().await.expect("no error").expect("an insert event");
    assert_eq!(insert.operation_type, OperationType::Insert);
    assert_eq!(insert.full_document, Some(Item { x: 1 }));
    let ns = insert.ns.as_ref().expect("a namespace");
    assert_eq!((ns.db.as_str(), ns.coll.as_deref()), ("cs", Some("c")));
    assert!(insert.cluster_time.is_some() && insert.wall_time.is_some(), "6.0 events carry both times");
    let id = insert.document_id().cloned().expect("a document key");

    let update = stream.next().await.expect("no error").expect("an update event");
    assert_eq!(update.operation_type, OperationType::Update);
    assert_eq!(update.document_id(), Some(&id));
    let description = update.update_description.expect("an update description");
    assert_eq!(description.updated_fields, doc! {"x": 2});
    assert_eq!(update.full_document, Some(Item { x: 2 }), "updateLookup");

    f.coll().delete_one(doc! {"x": 2}).await.expect("the delete succeeds");

    let delete = stream.next().await.expect("no error").expect("a delete event");
    assert_eq!(delete.operation_type, OperationType::Delete);
    assert_eq!(delete.full_document, None);
    // The typed stream caches the resume token like the raw one.
    assert_eq!(stream.resume_token(), Some(&delete.id));
}
