//! The engine's data commands through `Store::run`, with replies checked against the shapes
//! and codes documented for mongod (manual "Database Commands").

use bson::{Bson, Document, Timestamp, doc};
use mongo_sim::engine::{CommandError, ExecContext, Store};

fn ts(t: u32) -> Timestamp {
    Timestamp { time: t, increment: 1 }
}

fn ctx_at(t: u32) -> ExecContext {
    ExecContext { write_time: Some(ts(t)), ..ExecContext::default() }
}

fn run(s: &mut Store, cmd: Document) -> Document {
    s.run("db", &cmd, &ctx_at(1)).unwrap_or_else(|e| panic!("{cmd}: {e}"))
}

fn run_err(s: &mut Store, cmd: Document) -> CommandError {
    match s.run("db", &cmd, &ctx_at(1)) {
        Ok(r) => panic!("expected an error for {cmd}, got {r}"),
        Err(e) => e,
    }
}

fn first_batch(reply: &Document) -> Vec<Document> {
    let c = reply.get_document("cursor").unwrap();
    let b = c.get_array("firstBatch").or_else(|_| c.get_array("nextBatch")).unwrap();
    b.iter().map(|d| d.as_document().unwrap().clone()).collect()
}

fn cursor_id(reply: &Document) -> i64 {
    reply.get_document("cursor").unwrap().get_i64("id").unwrap()
}

fn seeded() -> Store {
    let mut s = Store::new();
    run(
        &mut s,
        doc! {"insert": "c", "documents": [
            {"_id": 1, "x": 11, "tags": ["a", "b"]},
            {"_id": 2, "x": 22, "tags": ["b"]},
            {"_id": 3, "x": 33},
            {"_id": 4, "x": 44, "y": null},
            {"_id": 5, "x": 55},
        ]},
    );
    s
}

#[test]
fn insert_generates_id_first_and_reports_duplicates() {
    let mut s = Store::new();
    let r = run(&mut s, doc! {"insert": "c", "documents": [{"a": 1, "_id": 7}, {"b": 2}]});
    assert_eq!(r, doc! {"n": 2});
    let docs = first_batch(&run(&mut s, doc! {"find": "c", "filter": {}}));
    assert_eq!(docs[0], doc! {"_id": 7, "a": 1});
    assert!(matches!(docs[1].get("_id"), Some(Bson::ObjectId(_))));
    assert_eq!(docs[1].keys().next().map(String::as_str), Some("_id"));

    // Ordered: stops at the first error.
    let r = run(&mut s, doc! {"insert": "c", "documents": [{"_id": 8}, {"_id": 7}, {"_id": 9}]});
    assert_eq!(r.get_i32("n").unwrap(), 1);
    let errs = r.get_array("writeErrors").unwrap();
    assert_eq!(errs.len(), 1);
    let e = errs[0].as_document().unwrap();
    assert_eq!(e.get_i32("index").unwrap(), 1);
    assert_eq!(e.get_i32("code").unwrap(), 11000);
    assert_eq!(e.get_document("keyPattern").unwrap(), &doc! {"_id": 1});
    assert_eq!(e.get_document("keyValue").unwrap(), &doc! {"_id": 7});
    assert_eq!(
        e.get_str("errmsg").unwrap(),
        "E11000 duplicate key error collection: db.c index: _id_ dup key: { _id: 7 }"
    );

    // Unordered: keeps going.
    let r = run(&mut s, doc! {"insert": "c", "documents": [{"_id": 7}, {"_id": 10}], "ordered": false});
    assert_eq!(r.get_i32("n").unwrap(), 1);
    // Numeric _id values collide across types (1 == 1.0).
    let r = run(&mut s, doc! {"insert": "c", "documents": [{"_id": 7.0}]});
    assert_eq!(r.get_array("writeErrors").unwrap().len(), 1);
}

#[test]
fn find_filter_sort_skip_limit_projection() {
    let mut s = seeded();
    let r = run(
        &mut s,
        doc! {"find": "c", "filter": {"x": {"$gt": 11}}, "sort": {"x": -1}, "skip": 1, "limit": 2, "projection": {"x": 1, "_id": 0}},
    );
    assert_eq!(first_batch(&r), vec![doc! {"x": 44}, doc! {"x": 33}]);
    assert_eq!(cursor_id(&r), 0);
    assert_eq!(r.get_document("cursor").unwrap().get_str("ns").unwrap(), "db.c");
    // Equality to null matches the explicit null and the missing field.
    let r = run(&mut s, doc! {"find": "c", "filter": {"y": null}});
    assert_eq!(first_batch(&r).len(), 5);
    let r = run(&mut s, doc! {"find": "c", "filter": {"tags": "b"}});
    assert_eq!(first_batch(&r).len(), 2);
    let r = run(&mut s, doc! {"find": "c", "filter": {"_id": 3}});
    assert_eq!(first_batch(&r), vec![doc! {"_id": 3, "x": 33}]);
    // A missing collection reads as empty.
    assert!(first_batch(&run(&mut s, doc! {"find": "nope"})).is_empty());
    assert_eq!(run_err(&mut s, doc! {"find": "c", "filter": 1}).code, 14);
    assert_eq!(run_err(&mut s, doc! {"find": "c", "filter": {"$bad": 1}}).code, 2);
    assert_eq!(run_err(&mut s, doc! {"find": "c", "skip": -1}).code, 51024);
}

#[test]
fn cursors_batch_and_get_more() {
    let mut s = seeded();
    let r = run(&mut s, doc! {"find": "c", "batchSize": 2});
    assert_eq!(first_batch(&r).len(), 2);
    let id = cursor_id(&r);
    assert_ne!(id, 0);
    let r = run(&mut s, doc! {"getMore": id, "collection": "c", "batchSize": 2});
    assert_eq!(first_batch(&r).iter().map(|d| d.get_i32("_id").unwrap()).collect::<Vec<_>>(), vec![3, 4]);
    assert_eq!(cursor_id(&r), id);
    let r = run(&mut s, doc! {"getMore": id, "collection": "c"});
    assert_eq!(first_batch(&r).len(), 1);
    assert_eq!(cursor_id(&r), 0);
    assert_eq!(run_err(&mut s, doc! {"getMore": id, "collection": "c"}).code, 43);

    // A negative limit is a single batch.
    let r = run(&mut s, doc! {"find": "c", "limit": -2});
    assert_eq!((first_batch(&r).len(), cursor_id(&r)), (2, 0));

    let r = run(&mut s, doc! {"find": "c", "batchSize": 1});
    let id = cursor_id(&r);
    let k = run(&mut s, doc! {"killCursors": "c", "cursors": [id, 12345_i64]});
    assert_eq!(
        k,
        doc! {"cursorsKilled": [id], "cursorsNotFound": [12345_i64], "cursorsAlive": [], "cursorsUnknown": []}
    );
    assert_eq!(s.open_cursors(), 0);
}

#[test]
fn cursors_remember_their_session() {
    let mut s = seeded();
    let lsid = doc! {"id": 1};
    let ctx = ExecContext { lsid: Some(lsid.clone()), ..ExecContext::default() };
    let r = s.run("db", &doc! {"find": "c", "batchSize": 1}, &ctx).unwrap();
    let id = cursor_id(&r);
    assert_eq!(s.cursor_lsid(id), Some(Some(&lsid)));
    assert!(s.run("db", &doc! {"getMore": id, "collection": "c"}, &ExecContext::default()).is_err());
    assert_eq!(s.kill_session_cursors(&lsid), 1);
}

#[test]
fn update_operators_upsert_and_multi() {
    let mut s = seeded();
    let r = run(
        &mut s,
        doc! {"update": "c", "updates": [
            {"q": {"x": {"$gte": 44}}, "u": {"$inc": {"x": 1}}, "multi": true},
            {"q": {"_id": 1}, "u": {"$set": {"x": 11}}},
            {"q": {"_id": 100}, "u": {"$set": {"z": 1}}, "upsert": true},
            {"q": {"k": 5}, "u": {"v": 6}, "upsert": true},
        ]},
    );
    assert_eq!(r.get_i32("n").unwrap(), 5);
    // The second statement matched but changed nothing.
    assert_eq!(r.get_i32("nModified").unwrap(), 2);
    let up = r.get_array("upserted").unwrap();
    assert_eq!(up[0].as_document().unwrap(), &doc! {"index": 2, "_id": 100});
    assert_eq!(up[1].as_document().unwrap().get_i32("index").unwrap(), 3);
    let docs = first_batch(&run(&mut s, doc! {"find": "c", "filter": {"_id": {"$in": [4, 5, 100]}}}));
    assert_eq!(
        docs,
        vec![doc! {"_id": 4, "x": 45, "y": null}, doc! {"_id": 5, "x": 56}, doc! {"_id": 100, "z": 1}]
    );
    let docs = first_batch(&run(&mut s, doc! {"find": "c", "filter": {"v": 6}, "projection": {"_id": 0}}));
    // A replacement upsert does not take the query's equality fields.
    assert_eq!(docs, vec![doc! {"v": 6}]);

    // Per-statement errors are write errors.
    let r = run(&mut s, doc! {"update": "c", "updates": [{"q": {"_id": 2}, "u": {"$set": {"_id": 9}}}]});
    assert_eq!(r.get_array("writeErrors").unwrap()[0].as_document().unwrap().get_i32("code").unwrap(), 66);
    let r = run(
        &mut s,
        doc! {"update": "c", "updates": [{"q": {}, "u": {"$set": {"a": 1}, "$unset": {"a": 1}}}]},
    );
    assert_eq!(r.get_array("writeErrors").unwrap()[0].as_document().unwrap().get_i32("code").unwrap(), 40);
    let r = run(&mut s, doc! {"update": "c", "updates": [{"q": {}, "u": {"$bogus": {"a": 1}}}]});
    assert_eq!(r.get_array("writeErrors").unwrap()[0].as_document().unwrap().get_i32("code").unwrap(), 9);
}

#[test]
fn delete_with_limits() {
    let mut s = seeded();
    let r = run(&mut s, doc! {"delete": "c", "deletes": [{"q": {"x": {"$gt": 20}}, "limit": 1}]});
    assert_eq!(r, doc! {"n": 1});
    let r = run(&mut s, doc! {"delete": "c", "deletes": [{"q": {"x": {"$gt": 20}}, "limit": 0}]});
    assert_eq!(r, doc! {"n": 3});
    assert_eq!(run(&mut s, doc! {"count": "c"}), doc! {"n": 1});
    // A deleted _id can be inserted again.
    assert_eq!(run(&mut s, doc! {"insert": "c", "documents": [{"_id": 2}]}), doc! {"n": 1});
}

#[test]
fn find_and_modify_forms() {
    let mut s = seeded();
    let r = run(
        &mut s,
        doc! {"findAndModify": "c", "query": {"x": {"$gt": 20}}, "sort": {"x": -1}, "update": {"$set": {"w": 1}}},
    );
    assert_eq!(r, doc! {"lastErrorObject": {"n": 1, "updatedExisting": true}, "value": {"_id": 5, "x": 55}});
    let r = run(
        &mut s,
        doc! {"findAndModify": "c", "query": {"_id": 5}, "update": {"$inc": {"w": 1}}, "new": true, "fields": {"w": 1}},
    );
    assert_eq!(r.get_document("value").unwrap(), &doc! {"_id": 5, "w": 2});
    let r = run(
        &mut s,
        doc! {"findAndModify": "c", "query": {"_id": 50}, "update": {"$set": {"a": 1}}, "upsert": true},
    );
    assert_eq!(
        r,
        doc! {"lastErrorObject": {"n": 1, "updatedExisting": false, "upserted": 50}, "value": null}
    );
    let r = run(&mut s, doc! {"findAndModify": "c", "query": {"_id": 1}, "remove": true});
    assert_eq!(r.get_document("lastErrorObject").unwrap(), &doc! {"n": 1});
    assert_eq!(r.get_document("value").unwrap().get_i32("_id").unwrap(), 1);
    let r = run(&mut s, doc! {"findAndModify": "c", "query": {"_id": 1}, "remove": true});
    assert_eq!(r, doc! {"lastErrorObject": {"n": 0}, "value": null});
    assert_eq!(run_err(&mut s, doc! {"findAndModify": "c", "query": {}}).code, 9);
    assert_eq!(run_err(&mut s, doc! {"findAndModify": "c", "remove": true, "update": {"a": 1}}).code, 9);
}

#[test]
fn aggregate_distinct_count() {
    let mut s = seeded();
    let r = run(
        &mut s,
        doc! {"aggregate": "c", "pipeline": [
            {"$unwind": "$tags"},
            {"$group": {"_id": "$tags", "n": {"$sum": 1}, "xs": {"$push": "$x"}}},
            {"$sort": {"_id": 1}},
        ], "cursor": {}},
    );
    assert_eq!(
        first_batch(&r),
        vec![doc! {"_id": "a", "n": 1, "xs": [11]}, doc! {"_id": "b", "n": 2, "xs": [11, 22]}]
    );
    let r = run(&mut s, doc! {"aggregate": "c", "pipeline": [], "cursor": {"batchSize": 0}});
    assert!(first_batch(&r).is_empty());
    assert_ne!(cursor_id(&r), 0);
    // Even with no results, batchSize 0 yields an open cursor; its getMore ends it.
    let r = run(&mut s, doc! {"find": "c", "filter": {"x": -1}, "batchSize": 0});
    let id = cursor_id(&r);
    assert_ne!(id, 0);
    let r = run(&mut s, doc! {"getMore": id, "collection": "c"});
    assert_eq!((first_batch(&r).len(), cursor_id(&r)), (0, 0));
    assert_eq!(run_err(&mut s, doc! {"aggregate": "c", "pipeline": []}).code, 9);
    assert_eq!(
        run_err(&mut s, doc! {"aggregate": "c", "pipeline": [{"$bogus": 1}], "cursor": {}}).code,
        40324
    );

    let r = run(
        &mut s,
        doc! {"aggregate": "c", "pipeline": [{"$match": {"x": {"$lt": 30}}}, {"$out": "o"}], "cursor": {}},
    );
    assert!(first_batch(&r).is_empty());
    assert_eq!(run(&mut s, doc! {"count": "o"}), doc! {"n": 2});

    let r = run(&mut s, doc! {"distinct": "c", "key": "tags"});
    assert_eq!(r, doc! {"values": ["a", "b"]});
    let r = run(&mut s, doc! {"distinct": "c", "key": "x", "query": {"x": {"$lt": 30}}});
    assert_eq!(r, doc! {"values": [11, 22]});
    assert_eq!(
        run(&mut s, doc! {"count": "c", "query": {"x": {"$gt": 20}}, "skip": 1, "limit": 2}),
        doc! {"n": 2}
    );
}

#[test]
fn catalog_commands() {
    let mut s = Store::new();
    assert_eq!(run(&mut s, doc! {"create": "a"}), doc! {});
    assert_eq!(run_err(&mut s, doc! {"create": "a"}).code, 48);
    assert_eq!(run_err(&mut s, doc! {"create": "capped", "capped": true}).code, 72);
    run(&mut s, doc! {"insert": "b", "documents": [{"_id": 1, "u": 1}, {"_id": 2, "u": 2}]});
    let r = run(&mut s, doc! {"listCollections": 1, "nameOnly": true});
    assert_eq!(
        first_batch(&r),
        vec![doc! {"name": "a", "type": "collection"}, doc! {"name": "b", "type": "collection"}]
    );
    assert_eq!(r.get_document("cursor").unwrap().get_str("ns").unwrap(), "db.$cmd.listCollections");
    let r = run(&mut s, doc! {"listCollections": 1, "filter": {"name": "b"}});
    let full = &first_batch(&r)[0];
    assert_eq!(full.get_str("name").unwrap(), "b");
    assert!(full.get_document("info").unwrap().contains_key("uuid"));

    let r = run(
        &mut s,
        doc! {"createIndexes": "b", "indexes": [{"key": {"u": 1}, "name": "u_1", "unique": true}]},
    );
    assert_eq!(
        r,
        doc! {"numIndexesBefore": 1, "numIndexesAfter": 2, "createdCollectionAutomatically": false}
    );
    let r = run(&mut s, doc! {"insert": "b", "documents": [{"_id": 3, "u": 1}]});
    let e = r.get_array("writeErrors").unwrap()[0].as_document().unwrap().clone();
    assert_eq!(
        e.get_str("errmsg").unwrap(),
        "E11000 duplicate key error collection: db.b index: u_1 dup key: { u: 1 }"
    );
    let names: Vec<String> = first_batch(&run(&mut s, doc! {"listIndexes": "b"}))
        .iter()
        .map(|d| d.get_str("name").unwrap().to_string())
        .collect();
    assert_eq!(names, vec!["_id_", "u_1"]);
    assert_eq!(run_err(&mut s, doc! {"listIndexes": "zz"}).code, 26);
    assert_eq!(run_err(&mut s, doc! {"dropIndexes": "b", "index": "_id_"}).code, 72);
    assert_eq!(run_err(&mut s, doc! {"dropIndexes": "b", "index": "nope"}).code, 27);
    assert_eq!(run(&mut s, doc! {"dropIndexes": "b", "index": "*"}), doc! {"nIndexesWas": 2});

    let r = s.run("admin", &doc! {"listDatabases": 1, "nameOnly": true}, &ExecContext::default()).unwrap();
    assert_eq!(r, doc! {"databases": [{"name": "db"}]});
    let r = s.run("admin", &doc! {"listDatabases": 1}, &ExecContext::default()).unwrap();
    assert!(r.get_i64("totalSize").unwrap() > 0);
    assert_eq!(run(&mut s, doc! {"drop": "a"}), doc! {"nIndexesWas": 1, "ns": "db.a"});
    // Before 7.0 (wire version 21) dropping a missing collection fails; from 7.0 it succeeds.
    let old = ExecContext { max_wire_version: 17, ..ExecContext::default() };
    assert_eq!(s.run("db", &doc! {"drop": "a"}, &old).unwrap_err().code, 26);
    assert_eq!(run(&mut s, doc! {"drop": "a"}), doc! {});
    assert_eq!(run(&mut s, doc! {"dropDatabase": 1}), doc! {"dropped": "db"});
    assert!(s.database_names().is_empty());
}

#[test]
fn snapshot_reads_see_history() {
    let mut s = Store::new();
    s.run("db", &doc! {"insert": "c", "documents": [{"_id": 1, "v": 1}]}, &ctx_at(10)).unwrap();
    s.run("db", &doc! {"update": "c", "updates": [{"q": {"_id": 1}, "u": {"$set": {"v": 2}}}]}, &ctx_at(20))
        .unwrap();
    s.run("db", &doc! {"insert": "c", "documents": [{"_id": 2}]}, &ctx_at(30)).unwrap();
    s.run("db", &doc! {"delete": "c", "deletes": [{"q": {"_id": 1}, "limit": 1}]}, &ctx_at(40)).unwrap();
    let at = |t: u32| ExecContext { read_at: Some(ts(t)), ..ExecContext::default() };
    let mut s2 = s.clone();
    let find = |s: &mut Store, t: u32| first_batch(&s.run("db", &doc! {"find": "c"}, &at(t)).unwrap());
    assert_eq!(find(&mut s2, 15), vec![doc! {"_id": 1, "v": 1}]);
    assert_eq!(find(&mut s2, 25), vec![doc! {"_id": 1, "v": 2}]);
    assert_eq!(find(&mut s2, 35), vec![doc! {"_id": 1, "v": 2}, doc! {"_id": 2}]);
    assert_eq!(find(&mut s2, 45), vec![doc! {"_id": 2}]);
    assert!(find(&mut s2, 5).is_empty());
    let r = s.run("db", &doc! {"find": "c", "filter": {"_id": 1}}, &at(25)).unwrap();
    assert_eq!(first_batch(&r), vec![doc! {"_id": 1, "v": 2}]);
    let r = s.run("db", &doc! {"aggregate": "c", "pipeline": [], "cursor": {}}, &at(15)).unwrap();
    assert_eq!(first_batch(&r).len(), 1);
}

#[test]
fn command_classification_and_bad_input_never_panics() {
    assert!(Store::handles("find") && Store::handles("findAndModify") && !Store::handles("hello"));
    assert!(Store::is_write("insert") && !Store::is_write("find"));
    assert!(Store::is_write_command(&doc! {"aggregate": "c", "pipeline": [{"$out": "x"}]}));
    assert!(!Store::is_write_command(&doc! {"aggregate": "c", "pipeline": [{"$match": {}}]}));
    let mut s = seeded();
    let weird = [
        doc! {"find": 1},
        doc! {"find": ""},
        doc! {"insert": "c"},
        doc! {"insert": "c", "documents": [1]},
        doc! {"insert": "c", "documents": []},
        doc! {"update": "c", "updates": [{"q": 1, "u": {}}]},
        doc! {"update": "c", "updates": [{"u": {}}]},
        doc! {"update": "c", "updates": [{"q": {}, "u": 5}]},
        doc! {"delete": "c", "deletes": [{"q": {}, "limit": 5}]},
        doc! {"getMore": "x", "collection": "c"},
        doc! {"killCursors": "c", "cursors": "x"},
        doc! {"aggregate": "c", "pipeline": [1], "cursor": {}},
        doc! {"aggregate": "c", "pipeline": [{"$group": {"_id": {"$bogus": 1}}}], "cursor": {}},
        doc! {"aggregate": "c", "pipeline": [{"$project": {"a": {"$divide": [1, 0]}}}], "cursor": {}},
        doc! {"distinct": "c"},
        doc! {"createIndexes": "c", "indexes": [{"name": "x"}]},
        doc! {"find": "c", "filter": {"a": {"$regex": "("}}},
        doc! {"find": "c", "sort": {"a": "x"}},
        doc! {"find": "c", "projection": {"a": 1, "b": 0}},
        doc! {"renameCollection": 1},
        doc! {"bogus": 1},
        doc! {},
    ];
    // An _id holding '$'-prefixed fields is not storable (CRUD spec "dots and dollars").
    let r = s
        .run("db", &doc! {"insert": "c", "documents": [{"_id": {"$a": 1}}]}, &ExecContext::default())
        .unwrap();
    assert_eq!(r.get_array("writeErrors").unwrap()[0].as_document().unwrap().get_i32("code").unwrap(), 52);
    // An array _id is a write error, not a command error.
    let r = s.run("db", &doc! {"insert": "c", "documents": [{"_id": [1]}]}, &ExecContext::default()).unwrap();
    assert_eq!(r.get_array("writeErrors").unwrap()[0].as_document().unwrap().get_i32("code").unwrap(), 53);
    for cmd in weird {
        let r = s.run("db", &cmd, &ExecContext::default());
        let e = r.expect_err(&format!("{cmd} should fail"));
        assert!(e.code != 0 && !e.code_name.is_empty(), "{cmd}: {e:?}");
    }
}

#[test]
fn let_variables_bind_in_expr_and_pipelines() {
    let mut s = seeded();
    let r = run(&mut s, doc! {"find": "c", "filter": {"$expr": {"$eq": ["$_id", "$$id"]}}, "let": {"id": 3}});
    assert_eq!(first_batch(&r), vec![doc! {"_id": 3, "x": 33}]);
    let r = run(
        &mut s,
        doc! {"aggregate": "c", "pipeline": [{"$match": {"$expr": {"$gt": ["$x", "$$min"]}}}, {"$project": {"_id": 1, "k": "$$k"}}], "cursor": {}, "let": {"min": 40, "k": "v"}},
    );
    assert_eq!(first_batch(&r), vec![doc! {"_id": 4, "k": "v"}, doc! {"_id": 5, "k": "v"}]);
    let r = run(
        &mut s,
        doc! {"update": "c", "updates": [{"q": {"$expr": {"$eq": ["$_id", "$$id"]}}, "u": [{"$set": {"x": "$$nx"}}]}], "let": {"id": 1, "nx": 0}},
    );
    assert_eq!((r.get_i32("n").unwrap(), r.get_i32("nModified").unwrap()), (1, 1));
    let r = run(
        &mut s,
        doc! {"delete": "c", "deletes": [{"q": {"$expr": {"$lt": ["$x", "$$lim"]}}, "limit": 0}], "let": {"lim": 1}},
    );
    assert_eq!(r, doc! {"n": 1});
    assert_eq!(run_err(&mut s, doc! {"find": "c", "let": {"Bad": 1}}).code, 16870);
}

#[test]
fn validators_reject_unless_bypassed() {
    let mut s = Store::new();
    run(&mut s, doc! {"create": "v", "validator": {"n": {"$type": "int"}}});
    let r = run(&mut s, doc! {"insert": "v", "documents": [{"_id": 1, "n": 1}, {"_id": 2, "n": "x"}]});
    assert_eq!(r.get_i32("n").unwrap(), 1);
    let e = r.get_array("writeErrors").unwrap()[0].as_document().unwrap().clone();
    assert_eq!((e.get_i32("index").unwrap(), e.get_i32("code").unwrap()), (1, 121));
    assert_eq!(e.get_document("errInfo").unwrap().get_i32("failingDocumentId").unwrap(), 2);
    let r = run(&mut s, doc! {"update": "v", "updates": [{"q": {"_id": 1}, "u": {"$set": {"n": "y"}}}]});
    assert_eq!(r.get_array("writeErrors").unwrap().len(), 1);
    let r = run(
        &mut s,
        doc! {"insert": "v", "documents": [{"_id": 2, "n": "x"}], "bypassDocumentValidation": true},
    );
    assert_eq!(r, doc! {"n": 1});
}

#[test]
fn hints_must_name_an_index_and_natural_order_reverses() {
    let mut s = seeded();
    assert_eq!(first_batch(&run(&mut s, doc! {"find": "c", "hint": "_id_", "limit": 1})).len(), 1);
    assert_eq!(first_batch(&run(&mut s, doc! {"find": "c", "hint": {"_id": 1}, "limit": 1})).len(), 1);
    assert_eq!(run_err(&mut s, doc! {"find": "c", "hint": "nope"}).code, 2);
    assert_eq!(run_err(&mut s, doc! {"count": "c", "hint": {"zz": 1}}).code, 2);
    let r =
        run(&mut s, doc! {"update": "c", "updates": [{"q": {}, "u": {"$set": {"a": 1}}, "hint": "nope"}]});
    assert_eq!(r.get_array("writeErrors").unwrap()[0].as_document().unwrap().get_i32("code").unwrap(), 2);
    let r = run(&mut s, doc! {"find": "c", "sort": {"$natural": -1}, "limit": 2});
    assert_eq!(first_batch(&r).iter().map(|d| d.get_i32("_id").unwrap()).collect::<Vec<_>>(), vec![5, 4]);
}

#[test]
fn collectionless_aggregates() {
    let mut s = Store::new();
    let ctx = ExecContext { lsid: Some(doc! {"id": 7}), ..ExecContext::default() };
    let cmd = doc! {"aggregate": 1, "pipeline": [
        {"$listLocalSessions": {}}, {"$limit": 1}, {"$addFields": {"dummy": "dummy field"}}, {"$project": {"_id": 0, "dummy": 1}},
    ], "cursor": {}};
    let r = s.run("admin", &cmd, &ctx).unwrap();
    assert_eq!(first_batch(&r), vec![doc! {"dummy": "dummy field"}]);
    assert_eq!(r.get_document("cursor").unwrap().get_str("ns").unwrap(), "admin.$cmd.aggregate");
    let r = run(
        &mut s,
        doc! {"aggregate": 1, "pipeline": [{"$documents": [{"a": 1}, {"a": 2}]}, {"$match": {"a": 2}}], "cursor": {}},
    );
    assert_eq!(first_batch(&r), vec![doc! {"a": 2}]);
    assert_eq!(run_err(&mut s, doc! {"aggregate": 1, "pipeline": [{"$match": {}}], "cursor": {}}).code, 73);
}

#[test]
fn dots_and_dollars_through_pipeline_updates() {
    let mut s = Store::new();
    run(&mut s, doc! {"insert": "c", "documents": [{"_id": 1, "foo": {}}]});
    let u = doc! {"update": "c", "updates": [{"q": {"_id": 1}, "u": [
        {"$replaceWith": {"$setField": {"field": {"$literal": "$a"}, "value": 1, "input": "$$ROOT"}}},
        {"$set": {"foo": {"$setField": {"field": {"$literal": "a.b"}, "value": 2, "input": "$foo"}}}},
    ]}]};
    assert_eq!(run(&mut s, u), doc! {"n": 1, "nModified": 1});
    let docs = first_batch(&run(&mut s, doc! {"find": "c"}));
    assert_eq!(docs, vec![doc! {"_id": 1, "foo": {"a.b": 2}, "$a": 1}]);
}

#[test]
fn fields_newer_than_the_emulated_server_are_rejected() {
    let mut s = seeded();
    let v44 = ExecContext { max_wire_version: 9, ..ExecContext::default() };
    let v40 = ExecContext { max_wire_version: 7, ..ExecContext::default() };
    let err = |s: &mut Store, cmd: Document, ctx: &ExecContext| s.run("db", &cmd, ctx).unwrap_err().message;
    // `let` arrived in 5.0; update hints in 4.2; delete and findAndModify hints in 4.4.
    assert!(err(&mut s, doc! {"find": "c", "let": {"a": 1}}, &v44).contains("Unrecognized field 'let'"));
    assert!(
        err(&mut s, doc! {"aggregate": "c", "pipeline": [], "cursor": {}, "let": {"a": 1}}, &v44)
            .contains("unrecognized field 'let'")
    );
    assert!(
        err(&mut s, doc! {"update": "c", "updates": [{"q": {}, "u": {}}], "let": {"a": 1}}, &v44)
            .contains("'update.let' is an unknown field")
    );
    assert!(
        err(&mut s, doc! {"delete": "c", "deletes": [{"q": {}, "limit": 0}], "let": {"a": 1}}, &v44)
            .contains("'delete.let' is an unknown field")
    );
    assert!(
        err(&mut s, doc! {"findAndModify": "c", "remove": true, "let": {"a": 1}}, &v44)
            .contains("field 'let' is an unknown field")
    );
    assert!(
        s.run("db", &doc! {"update": "c", "updates": [{"q": {}, "u": {}, "hint": "_id_"}]}, &v40).is_err()
    );
    assert!(
        s.run("db", &doc! {"update": "c", "updates": [{"q": {}, "u": {}, "hint": "_id_"}]}, &v44).is_ok()
    );
    // Nothing was deleted by the rejected commands.
    assert_eq!(run(&mut s, doc! {"count": "c"}), doc! {"n": 5});
}

#[test]
fn positional_projection_keeps_the_matched_element() {
    let mut s = Store::new();
    run(&mut s, doc! {"insert": "c", "documents": [{"_id": 1, "grades": [70, 85, 90], "n": 1}]});
    // Manual "$ (projection)": the first element that matches the query condition on the array.
    let r =
        run(&mut s, doc! {"find": "c", "filter": {"grades": {"$gte": 80}}, "projection": {"grades.$": 1}});
    assert_eq!(first_batch(&r), vec![doc! {"_id": 1, "grades": [85]}]);
}

#[test]
fn extreme_numbers_are_errors_not_panics() {
    let mut s = seeded();
    let r = run(
        &mut s,
        doc! {"update": "c", "updates": [{"q": {"_id": 1}, "u": {"$set": {"tags.99999999999": 1}}}]},
    );
    assert_eq!(r.get_array("writeErrors").unwrap().len(), 1);
    let r = run(
        &mut s,
        doc! {"update": "c", "updates": [{"q": {"_id": 1}, "u": {"$push": {"tags": {"$each": [1], "$slice": i64::MIN}}}}]},
    );
    assert_eq!(r.get_i32("n").unwrap(), 1);
    let r = run(
        &mut s,
        doc! {"aggregate": "c", "pipeline": [{"$project": {"s": {"$substr": ["abc", 1, 1e300]}, "r": {"$arrayElemAt": [[1], i64::MIN]}}}], "cursor": {}},
    );
    assert_eq!(first_batch(&r)[0].get_str("s").unwrap(), "bc");
    let r = run(&mut s, doc! {"find": "c", "limit": i64::MIN, "skip": i64::MAX, "batchSize": i64::MAX});
    assert!(first_batch(&r).is_empty());
    let r = run(
        &mut s,
        doc! {"find": "c", "filter": {"x": {"$mod": [-1, 0]}}, "projection": {"tags": {"$slice": [i64::MIN, i64::MAX]}}},
    );
    assert_eq!(first_batch(&r).len(), 5);
}

#[test]
fn unique_indexes_are_multikey_and_honour_sparse() {
    let mut s = Store::new();
    run(
        &mut s,
        doc! {"createIndexes": "m", "indexes": [
            {"key": {"tags": 1}, "name": "tags_1", "unique": true},
            {"key": {"e": 1}, "name": "e_1", "unique": true, "sparse": true},
        ]},
    );
    // Manual "Unique Constraint Across Separate Documents": array elements are index keys;
    // a document may repeat a value within its own array.
    assert_eq!(
        run(&mut s, doc! {"insert": "m", "documents": [{"_id": 1, "tags": [1, 2, 1]}]}),
        doc! {"n": 1}
    );
    let r = run(&mut s, doc! {"insert": "m", "documents": [{"_id": 2, "tags": [3, 2]}]});
    let e = r.get_array("writeErrors").unwrap()[0].as_document().unwrap().clone();
    assert_eq!(
        e.get_str("errmsg").unwrap(),
        "E11000 duplicate key error collection: db.m index: tags_1 dup key: { tags: 2 }"
    );
    // Sparse: documents without the field are not indexed, so several may lack it.
    assert_eq!(
        run(&mut s, doc! {"insert": "m", "documents": [{"_id": 3, "tags": 7}, {"_id": 4, "tags": 8}]}),
        doc! {"n": 2}
    );
    // Non-sparse: two documents missing `tags` collide on null.
    let r = run(&mut s, doc! {"insert": "m", "documents": [{"_id": 5}, {"_id": 6}]});
    assert_eq!(r.get_i32("n").unwrap(), 1);
    // Building a unique index over existing duplicates fails.
    run(&mut s, doc! {"insert": "d", "documents": [{"_id": 1, "k": 1}, {"_id": 2, "k": 1.0}]});
    assert_eq!(
        run_err(
            &mut s,
            doc! {"createIndexes": "d", "indexes": [{"key": {"k": 1}, "name": "k_1", "unique": true}]}
        )
        .code,
        11000
    );
}

#[test]
fn merge_stage_modes() {
    let mut s = Store::new();
    run(&mut s, doc! {"insert": "src", "documents": [{"_id": 1, "a": 1}, {"_id": 2, "a": 2}]});
    run(&mut s, doc! {"insert": "dst", "documents": [{"_id": 1, "b": 9}]});
    // Manual "$merge": the default whenMatched "merge" keeps the target's other fields.
    run(&mut s, doc! {"aggregate": "src", "pipeline": [{"$merge": {"into": "dst"}}], "cursor": {}});
    let docs = first_batch(&run(&mut s, doc! {"find": "dst"}));
    assert_eq!(docs, vec![doc! {"_id": 1, "b": 9, "a": 1}, doc! {"_id": 2, "a": 2}]);
    run(
        &mut s,
        doc! {"aggregate": "src", "pipeline": [{"$set": {"a": 5}}, {"$merge": {"into": "dst", "whenMatched": "replace", "whenNotMatched": "discard"}}], "cursor": {}},
    );
    let docs = first_batch(&run(&mut s, doc! {"find": "dst"}));
    assert_eq!(docs, vec![doc! {"_id": 1, "a": 5}, doc! {"_id": 2, "a": 5}]);
    let e = run_err(
        &mut s,
        doc! {"aggregate": "src", "pipeline": [{"$merge": {"into": "dst", "whenMatched": "fail"}}], "cursor": {}},
    );
    assert_eq!(e.code, 11000);
    // $out replaces the whole target collection.
    run(
        &mut s,
        doc! {"aggregate": "src", "pipeline": [{"$match": {"_id": 2}}, {"$out": "dst"}], "cursor": {}},
    );
    assert_eq!(first_batch(&run(&mut s, doc! {"find": "dst"})), vec![doc! {"_id": 2, "a": 2}]);
}

#[test]
fn collection_statistics() {
    let mut s = Store::new();
    run(&mut s, doc! {"create": "cap", "capped": true, "size": 4096});
    run(&mut s, doc! {"insert": "cap", "documents": [{"_id": 1, "x": 11}]});
    let r = run(&mut s, doc! {"collStats": "cap", "scale": 1});
    assert_eq!((r.get_bool("capped").unwrap(), r.get_i64("maxSize").unwrap()), (true, 4096));
    assert_eq!(r.get_i32("count").unwrap(), 1);
    assert_eq!(run_err(&mut s, doc! {"collStats": "nope"}).code, 26);
    // estimatedDocumentCount on 4.9-5.0.8 servers: $collStats then $group.
    let r = run(
        &mut s,
        doc! {"aggregate": "cap", "pipeline": [{"$collStats": {"count": {}}}, {"$group": {"_id": 1, "n": {"$sum": "$count"}}}], "cursor": {}},
    );
    assert_eq!(first_batch(&r), vec![doc! {"_id": 1, "n": 1}]);
}

#[test]
fn time_series_measurements_may_share_an_id() {
    // mongod stores a time-series collection as buckets, without an `_id` index.
    let mut s = Store::new();
    run(&mut s, doc! {"create": "ts", "timeseries": {"timeField": "t"}});
    let r = run(&mut s, doc! {"insert": "ts", "documents": [{"_id": 1, "t": 1}, {"_id": 1, "t": 2}]});
    assert_eq!(r, doc! {"n": 2});
    assert_eq!(run(&mut s, doc! {"count": "ts"}).get_i32("n").ok(), Some(2));
    run(&mut s, doc! {"delete": "ts", "deletes": [{"q": {"t": 1}, "limit": 1}]});
    let left = first_batch(&run(&mut s, doc! {"find": "ts", "filter": {"_id": 1}}));
    assert_eq!(left, vec![doc! {"_id": 1, "t": 2}]);
    // An ordinary collection still refuses the duplicate.
    let r = run(&mut s, doc! {"insert": "c", "documents": [{"_id": 1}, {"_id": 1}]});
    assert_eq!(r.get_i32("n").ok(), Some(1));
    assert!(r.get_array("writeErrors").is_ok_and(|e| e.len() == 1));
}

#[test]
fn shard_collection_is_a_router_command() {
    let mut s = Store::new();
    let cmd = doc! {"shardCollection": "db.sharded", "key": {"_id": 1}};
    let on_mongod = s.run("admin", &cmd, &ctx_at(1)).map(|_| ()).unwrap_err();
    assert_eq!(on_mongod.code, 59);
    let router = ExecContext { router: true, ..ctx_at(2) };
    let r = s.run("admin", &cmd, &router).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.get_str("collectionsharded").ok(), Some("db.sharded"));
    // The collection exists afterwards (mongos creates it).
    let names = first_batch(&run(&mut s, doc! {"listCollections": 1, "nameOnly": true}));
    assert!(names.iter().any(|c| c.get_str("name").ok() == Some("sharded")), "{names:?}");
    let bad = s.run("admin", &doc! {"shardCollection": "nodot", "key": {"_id": 1}}, &router);
    assert_eq!(bad.map(|_| ()).unwrap_err().code, 73);
}

#[test]
fn explain_describes_without_writing_and_validate_reports_valid() {
    let mut s = Store::new();
    run(&mut s, doc! {"insert": "c", "documents": [{"_id": 1, "x": 1}, {"_id": 2, "x": 2}]});
    let find =
        run(&mut s, doc! {"explain": {"find": "c", "filter": {"x": 1}}, "verbosity": "executionStats"});
    let planner = find.get_document("queryPlanner").unwrap();
    assert_eq!(planner.get_str("namespace").unwrap(), "db.c");
    assert_eq!(planner.get_document("parsedQuery").unwrap(), &doc! {"x": 1});
    assert_eq!(find.get_document("executionStats").unwrap().get_i64("nReturned").unwrap(), 1);
    let delete =
        doc! {"explain": {"delete": "c", "deletes": [{"q": {}, "limit": 0}]}, "verbosity": "queryPlanner"};
    let planned = run(&mut s, delete);
    assert!(!planned.contains_key("executionStats"));
    assert_eq!(first_batch(&run(&mut s, doc! {"find": "c"})).len(), 2, "explain of a delete deletes nothing");
    assert_eq!(run_err(&mut s, doc! {"explain": {"insert": "c", "documents": [{}]}}).code, 20);
    assert_eq!(run_err(&mut s, doc! {"explain": {"frobnicate": "c"}}).code, 59);
    assert_eq!(run_err(&mut s, doc! {"explain": {"find": "c"}, "verbosity": "loud"}).code, 2);

    let valid = run(&mut s, doc! {"validate": "c"});
    assert_eq!((valid.get_bool("valid").ok(), valid.get_i64("nrecords").ok()), (Some(true), Some(2)));
    assert_eq!(run_err(&mut s, doc! {"validate": "missing"}).code, 26);
}
