//! Change streams over the engine's history (manual "Change Events"): insert, update,
//! replace and delete events, scopes, resume tokens and the stream's own pipeline.

use bson::{Bson, Document, Timestamp, doc};
use mongo_sim::engine::{ExecContext, Store};

fn at(t: u32) -> ExecContext {
    ExecContext { write_time: Some(Timestamp { time: t, increment: 0 }), ..ExecContext::default() }
}

fn batch(reply: &Document) -> Vec<Document> {
    let c = reply.get_document("cursor").unwrap();
    let b = c.get_array("firstBatch").or_else(|_| c.get_array("nextBatch")).unwrap();
    b.iter().map(|d| d.as_document().unwrap().clone()).collect()
}

fn get_more(s: &mut Store, db: &str, coll: &str, id: i64) -> Vec<Document> {
    batch(&s.run(db, &doc! {"getMore": id, "collection": coll}, &at(100)).unwrap())
}

#[test]
fn collection_stream_sees_each_kind_of_write() {
    let mut s = Store::new();
    s.run("db", &doc! {"insert": "c", "documents": [{"_id": 0}]}, &at(1)).unwrap();
    let r = s
        .run("db", &doc! {"aggregate": "c", "pipeline": [{"$changeStream": {}}], "cursor": {}}, &at(2))
        .unwrap();
    assert!(batch(&r).is_empty(), "events before the stream opened are not reported");
    let id = r.get_document("cursor").unwrap().get_i64("id").unwrap();
    assert_ne!(id, 0);
    assert!(r.get_document("cursor").unwrap().contains_key("postBatchResumeToken"));

    s.run("db", &doc! {"insert": "c", "documents": [{"_id": 1, "x": 1}]}, &at(3)).unwrap();
    s.run(
        "db",
        &doc! {"update": "c", "updates": [{"q": {"_id": 1}, "u": {"$set": {"x": 2}, "$unset": {"y": 1}}}]},
        &at(4),
    )
    .unwrap();
    s.run("db", &doc! {"update": "c", "updates": [{"q": {"_id": 1}, "u": {"z": 3}}]}, &at(5)).unwrap();
    s.run("db", &doc! {"delete": "c", "deletes": [{"q": {"_id": 1}, "limit": 1}]}, &at(6)).unwrap();
    s.run("db", &doc! {"insert": "other", "documents": [{"_id": 9}]}, &at(7)).unwrap();
    let events = get_more(&mut s, "db", "c", id);
    let ops: Vec<&str> = events.iter().map(|e| e.get_str("operationType").unwrap()).collect();
    assert_eq!(ops, vec!["insert", "update", "replace", "delete"]);
    assert_eq!(events[0].get_document("fullDocument").unwrap(), &doc! {"_id": 1, "x": 1});
    assert_eq!(events[0].get_document("ns").unwrap(), &doc! {"db": "db", "coll": "c"});
    assert_eq!(events[0].get_document("documentKey").unwrap(), &doc! {"_id": 1});
    assert_eq!(
        events[1].get_document("updateDescription").unwrap().get_document("updatedFields").unwrap(),
        &doc! {"x": 2}
    );
    assert_eq!(events[2].get_document("fullDocument").unwrap(), &doc! {"_id": 1, "z": 3});
    assert!(matches!(events[3].get("clusterTime"), Some(Bson::Timestamp(t)) if t.time == 6));
    // Nothing new: an empty batch, and the cursor stays open.
    assert!(get_more(&mut s, "db", "c", id).is_empty());

    // Resuming after the first event replays the rest.
    let token = events[0].get_document("_id").unwrap().clone();
    let r = s
        .run(
            "db",
            &doc! {"aggregate": "c", "pipeline": [{"$changeStream": {"resumeAfter": token}}], "cursor": {}},
            &at(8),
        )
        .unwrap();
    assert_eq!(batch(&r).len(), 3);
}

#[test]
fn database_and_cluster_streams_with_a_pipeline() {
    let mut s = Store::new();
    let r = s
        .run(
            "admin",
            &doc! {"aggregate": 1, "pipeline": [{"$changeStream": {"allChangesForCluster": true}}, {"$match": {"operationType": "insert"}}], "cursor": {}},
            &at(1),
        )
        .unwrap();
    let all = r.get_document("cursor").unwrap().get_i64("id").unwrap();
    let r = s
        .run("d1", &doc! {"aggregate": 1, "pipeline": [{"$changeStream": {}}], "cursor": {}}, &at(1))
        .unwrap();
    let d1 = r.get_document("cursor").unwrap().get_i64("id").unwrap();
    s.run("d2", &doc! {"insert": "b", "documents": [{"_id": 1, "x": 1}]}, &at(2)).unwrap();
    s.run("d1", &doc! {"insert": "a", "documents": [{"_id": 1, "y": 1}]}, &at(3)).unwrap();
    s.run("d1", &doc! {"delete": "a", "deletes": [{"q": {}, "limit": 0}]}, &at(4)).unwrap();
    let events = get_more(&mut s, "admin", "$cmd.aggregate", all);
    let names: Vec<String> =
        events.iter().map(|e| e.get_document("ns").unwrap().get_str("db").unwrap().to_string()).collect();
    assert_eq!(names, vec!["d2", "d1"]);
    assert_eq!(get_more(&mut s, "d1", "$cmd.aggregate", d1).len(), 2);
    // allChangesForCluster only on admin; a plain stream not on admin.
    assert!(
        s.run("db", &doc! {"aggregate": 1, "pipeline": [{"$changeStream": {"allChangesForCluster": true}}], "cursor": {}}, &at(5))
            .is_err()
    );
    assert!(
        s.run("admin", &doc! {"aggregate": 1, "pipeline": [{"$changeStream": {}}], "cursor": {}}, &at(5))
            .is_err()
    );
}

#[test]
fn start_at_operation_time_includes_that_time() {
    let mut s = Store::new();
    s.run("db", &doc! {"insert": "c", "documents": [{"_id": 1}]}, &at(5)).unwrap();
    s.run("db", &doc! {"insert": "c", "documents": [{"_id": 2}]}, &at(6)).unwrap();
    let t = Timestamp { time: 6, increment: 0 };
    let r = s
        .run("db", &doc! {"aggregate": "c", "pipeline": [{"$changeStream": {"startAtOperationTime": t}}], "cursor": {}}, &at(7))
        .unwrap();
    let ids: Vec<i32> =
        batch(&r).iter().map(|e| e.get_document("documentKey").unwrap().get_i32("_id").unwrap()).collect();
    assert_eq!(ids, vec![2]);
}

#[test]
fn the_post_batch_resume_token_of_an_empty_stream_resumes() {
    let mut s = Store::new();
    s.run("db", &doc! {"insert": "c", "documents": [{"_id": 0}]}, &at(1)).unwrap();
    let r = s
        .run("db", &doc! {"aggregate": "c", "pipeline": [{"$changeStream": {}}], "cursor": {}}, &at(2))
        .unwrap();
    assert!(batch(&r).is_empty());
    let token = r.get_document("cursor").unwrap().get_document("postBatchResumeToken").unwrap().clone();
    s.run("db", &doc! {"insert": "c", "documents": [{"_id": 1}]}, &at(3)).unwrap();
    let resumed = s
        .run(
            "db",
            &doc! {"aggregate": "c", "pipeline": [{"$changeStream": {"resumeAfter": token}}], "cursor": {}},
            &at(4),
        )
        .unwrap();
    let events = batch(&resumed);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].get_document("documentKey").unwrap(), &doc! {"_id": 1});
}

#[test]
fn only_start_after_resumes_after_an_invalidate() {
    let mut s = Store::new();
    s.run("db", &doc! {"insert": "c", "documents": [{"_id": 0}]}, &at(1)).unwrap();
    let open = doc! {"aggregate": "c", "pipeline": [{"$changeStream": {}}], "cursor": {}};
    let id = s.run("db", &open, &at(2)).unwrap().get_document("cursor").unwrap().get_i64("id").unwrap();
    s.run("db", &doc! {"drop": "c"}, &at(3)).unwrap();
    let events = get_more(&mut s, "db", "c", id);
    let invalidate = events.iter().find(|e| e.get_str("operationType").ok() == Some("invalidate")).unwrap();
    let token = invalidate.get_document("_id").unwrap().clone();
    let resume = |key: &str| doc! {"aggregate": "c", "pipeline": [{"$changeStream": {key: token.clone()}}], "cursor": {}};
    let err = s.run("db", &resume("resumeAfter"), &at(4)).unwrap_err();
    assert_eq!((err.code, err.code_name.as_str()), (260, "InvalidResumeToken"));
    assert!(s.run("db", &resume("startAfter"), &at(4)).is_ok());
    // A database stream's cursor is killed on its collectionless namespace.
    let db_stream = doc! {"aggregate": 1, "pipeline": [{"$changeStream": {}}], "cursor": {}};
    let id = s.run("db", &db_stream, &at(5)).unwrap().get_document("cursor").unwrap().get_i64("id").unwrap();
    let killed = s.run("db", &doc! {"killCursors": "$cmd.aggregate", "cursors": [id]}, &at(5)).unwrap();
    assert_eq!(killed.get_array("cursorsKilled").unwrap(), &vec![Bson::Int64(id)]);
}
