//! Both halves of each operation without a network: the commands built (with batch
//! splitting by the connection's limits) and the replies read (typed outputs, write errors,
//! write concern errors, malformed replies).

use bson::{Bson, Document, doc};

use super::*;
use crate::commands::OpMsgParts;
use crate::error::ErrorKind;
use crate::options::{AggregateOptions, CountOptions, DistinctOptions, FindOneAndModifyOptions, FindOptions};
use crate::sdam::ServerType;
use crate::selection::ReadPreference;

/// A replica-set primary's connection (wire version 17, the default size limits).
pub(super) fn description() -> StreamDescription {
    StreamDescription {
        server_address: ServerAddress::new("a", 27017),
        server_type: ServerType::RsPrimary,
        min_wire_version: 0,
        max_wire_version: 17,
        max_bson_object_size: 16 * 1024 * 1024,
        max_message_size_bytes: 48_000_000,
        max_write_batch_size: 100_000,
        hello_ok: true,
        logical_session_timeout: None,
        service_id: None,
        server_connection_id: None,
        sasl_supported_mechs: None,
        topology_version: None,
    }
}

fn ns() -> Namespace {
    Namespace::new("db", "coll")
}

fn docs(n: i32) -> Vec<Document> {
    (0..n).map(|i| doc! {"_id": i, "pad": "x".repeat(100)}).collect()
}

fn sequence(parts: &OpMsgParts, name: &str) -> Vec<Document> {
    parts.sequences.iter().find(|(id, _)| id == name).map(|(_, d)| d.clone()).unwrap_or_default()
}

fn read() -> SelectionCriteria {
    SelectionCriteria::Read(ReadPreference::secondary())
}

#[test]
fn insert_splits_by_max_write_batch_size_and_offsets_write_errors() {
    let mut d = description();
    d.max_write_batch_size = 2;
    let mut op = Insert::new(ns(), docs(5), false);
    let mut sizes = Vec::new();
    let mut outcomes = Vec::new();
    while !op.done() {
        let parts = op.build(&d).unwrap();
        assert_eq!(parts.body.get_str("insert").unwrap(), "coll");
        assert!(!parts.body.get_bool("ordered").unwrap());
        let batch = sequence(&parts, "documents");
        sizes.push(batch.len());
        // The server reports the second statement of each batch as a duplicate.
        let reply = if batch.len() == 2 {
            doc! {"ok": 1, "n": 1, "writeErrors": [{"index": 1, "code": 11000, "errmsg": "dup"}]}
        } else {
            doc! {"ok": 1, "n": 1}
        };
        outcomes.push(op.handle_response(reply, &d).unwrap());
    }
    assert_eq!(sizes, [2, 2, 1]);
    let indexes: Vec<usize> = outcomes.iter().flat_map(|o| o.write_errors.iter().map(|e| e.index)).collect();
    assert_eq!(indexes, [1, 3]);
    assert_eq!(outcomes[0].write_errors[0].code_name, "DuplicateKey", "the code name comes from the table");
    assert_eq!(outcomes.iter().map(|o| o.sent).sum::<usize>(), 5);
}

#[test]
fn insert_splits_by_message_size_and_refuses_oversized_documents() {
    let mut d = description();
    let one = bson::Document::to_vec(&docs(1)[0]).unwrap().len() as i64;
    d.max_message_size_bytes = 16 * 1024 + one * 3;
    let mut op = Insert::new(ns(), docs(7), true);
    let mut sizes = Vec::new();
    while !op.done() {
        let parts = op.build(&d).unwrap();
        let n = sequence(&parts, "documents").len();
        sizes.push(n);
        op.handle_response(doc! {"ok": 1, "n": n as i32}, &d).unwrap();
    }
    assert_eq!(sizes, [3, 3, 1]);

    d.max_bson_object_size = 50;
    let err = Insert::new(ns(), docs(1), true).build(&d).unwrap_err();
    assert!(matches!(*err.kind, ErrorKind::InvalidArgument { .. }), "{err}");
    let err = Insert::new(ns(), Vec::new(), true).build(&description()).unwrap_err();
    assert!(matches!(*err.kind, ErrorKind::InvalidArgument { .. }), "{err}");
}

#[test]
fn insert_carries_generic_arguments_and_reads_write_concern_errors() {
    let generic = crate::commands::GenericArguments::default().write_concern(doc! {"w": "majority"});
    let mut op = Insert::new(ns(), docs(1), true).bypass_document_validation(Some(true)).generic(generic);
    let parts = op.build(&description()).unwrap();
    assert_eq!(parts.body.get_document("writeConcern").unwrap(), &doc! {"w": "majority"});
    assert!(parts.body.get_bool("bypassDocumentValidation").unwrap());
    assert_eq!(parts.body.get_str("$db").unwrap(), "db");
    let reply = doc! {"ok": 1, "n": 1, "writeConcernError": {"code": 64, "codeName": "WriteConcernFailed", "errmsg": "waiting"}, "errorLabels": ["RetryableWriteError"]};
    let outcome = op.handle_response(reply, &description()).unwrap();
    let wce = outcome.write_concern_error.unwrap();
    assert_eq!((wce.code, wce.code_name.as_str()), (64, "WriteConcernFailed"));
    let err = wce.into_error();
    assert!(err.contains_label("RetryableWriteError"));
    assert_eq!(err.code(), Some(64));
    assert_eq!(op.retryability(), Retryability::Write);
}

#[test]
fn update_reads_counts_and_offsets_upserts() {
    let mut d = description();
    d.max_write_batch_size = 1;
    let statements = vec![
        doc! {"q": {"a": 1}, "u": {"$set": {"b": 1}}},
        doc! {"q": {"a": 2}, "u": {"$set": {"b": 1}}, "upsert": true},
    ];
    let mut op = Update::new(ns(), statements, true).let_vars(Some(doc! {"v": 1}));
    assert_eq!(op.retryability(), Retryability::Write);
    let parts = op.build(&d).unwrap();
    assert_eq!(parts.body.get_document("let").unwrap(), &doc! {"v": 1});
    let first = op.handle_response(doc! {"ok": 1, "n": 1, "nModified": 1}, &d).unwrap();
    assert_eq!((first.n, first.n_modified, first.upserted.len()), (1, 1, 0));
    op.build(&d).unwrap();
    let second = op
        .handle_response(doc! {"ok": 1, "n": 1, "nModified": 0, "upserted": [{"index": 0, "_id": 7}]}, &d)
        .unwrap();
    assert_eq!(second.upserted, vec![(1, Bson::Int32(7))]);
    assert!(op.done());

    let multi = Update::new(ns(), vec![doc! {"q": {}, "u": {"$set": {"b": 1}}, "multi": true}], true);
    assert_eq!(multi.retryability(), Retryability::None);
    let err = Update::new(ns(), vec![doc! {"q": {}}], true)
        .handle_response(doc! {"ok": 1, "n": "three"}, &d)
        .unwrap_err();
    assert!(matches!(*err.kind, ErrorKind::InvalidResponse { .. }), "{err}");
}

#[test]
fn delete_builds_statements_and_knows_multi_deletes_are_not_retryable() {
    let mut op = Delete::new(ns(), vec![doc! {"q": {"a": 1}, "limit": 1}], true);
    let parts = op.build(&description()).unwrap();
    assert_eq!(sequence(&parts, "deletes"), vec![doc! {"q": {"a": 1}, "limit": 1}]);
    assert_eq!(op.handle_response(doc! {"ok": 1, "n": 1}, &description()).unwrap().n, 1);
    assert_eq!(op.retryability(), Retryability::Write);
    assert_eq!(Delete::new(ns(), vec![doc! {"q": {}, "limit": 0}], true).retryability(), Retryability::None);
}

#[test]
fn find_maps_options_and_reads_the_cursor() {
    let options = FindOptions::default()
        .sort(doc! {"x": 1})
        .projection(doc! {"x": 1})
        .skip(2)
        .limit(-3)
        .batch_size(5)
        .comment("c")
        .max_time(std::time::Duration::from_millis(200));
    let mut op = Find::new(ns(), doc! {"x": {"$gt": 1}}, options, Default::default(), read());
    assert_eq!(op.selection_criteria(), read());
    assert_eq!(op.retryability(), Retryability::Read);
    let body = op.build(&description()).unwrap().body;
    assert_eq!(body.get_document("filter").unwrap(), &doc! {"x": {"$gt": 1}});
    assert_eq!(body.get_i64("limit").unwrap(), 3, "a negative limit is sent as its absolute value");
    assert!(body.get_bool("singleBatch").unwrap());
    assert_eq!(body.get_i64("skip").unwrap(), 2);
    assert_eq!(body.get_i64("batchSize").unwrap(), 5);
    assert_eq!(body.get_i64("maxTimeMS").unwrap(), 200);
    assert_eq!(body.get_str("comment").unwrap(), "c");

    let reply = doc! {"ok": 1, "cursor": {"id": 42i64, "ns": "db.coll.sub", "firstBatch": [{"x": 2}]}};
    let spec = op.handle_response(reply, &description()).unwrap();
    assert_eq!((spec.id, spec.ns.coll.as_str(), spec.first_batch.len()), (42, "coll.sub", 1));
    assert_eq!(spec.address, ServerAddress::new("a", 27017));
    assert_eq!(spec.batch_size, Some(5));
    assert_eq!(spec.max_await_time_ms, None, "maxAwaitTimeMS only applies to awaitData cursors");

    let tailable = FindOptions::default()
        .tailable(true)
        .await_data(true)
        .max_await_time(std::time::Duration::from_millis(30));
    let mut op = Find::new(ns(), doc! {}, tailable, Default::default(), read());
    let body = op.build(&description()).unwrap().body;
    assert!(body.get_bool("tailable").unwrap() && body.get_bool("awaitData").unwrap());
    assert!(!body.contains_key("maxTimeMS"), "maxAwaitTimeMS is not the find's maxTimeMS");
    let reply = doc! {"ok": 1, "cursor": {"id": 5i64, "ns": "db.coll", "firstBatch": []}};
    assert_eq!(op.handle_response(reply, &description()).unwrap().max_await_time_ms, Some(30));

    let err = op.handle_response(doc! {"ok": 1}, &description()).unwrap_err();
    assert!(matches!(*err.kind, ErrorKind::InvalidResponse { .. }), "{err}");
    let err = Find::new(ns(), doc! {}, FindOptions::default().batch_size(-1), Default::default(), read())
        .build(&description())
        .unwrap_err();
    assert!(matches!(*err.kind, ErrorKind::InvalidArgument { .. }), "{err}");
}

#[test]
fn get_more_and_kill_cursors() {
    let mut op = GetMore::new(ns(), 42, Some(0), Some(10));
    let body = op.build(&description()).unwrap().body;
    assert_eq!(body.get_i64("getMore").unwrap(), 42);
    assert_eq!(body.get_str("collection").unwrap(), "coll");
    assert!(!body.contains_key("batchSize"), "batchSize 0 is not sent with getMore");
    assert_eq!(body.get_i64("maxTimeMS").unwrap(), 10);
    let more = op
        .handle_response(
            doc! {"ok": 1, "cursor": {"id": 0i64, "ns": "db.coll", "nextBatch": [{"a": 1}, {"a": 2}]}},
            &description(),
        )
        .unwrap();
    assert_eq!((more.id, more.batch.len()), (0, 2));
    let err = op
        .handle_response(
            doc! {"ok": 1, "cursor": {"id": 7i64, "ns": "db.coll", "nextBatch": []}},
            &description(),
        )
        .unwrap_err();
    assert!(matches!(*err.kind, ErrorKind::InvalidResponse { .. }), "{err}");
    let body = KillCursors::new(ns(), vec![42]).build(&description()).unwrap().body;
    assert_eq!(body, doc! {"killCursors": "coll", "cursors": [42i64], "$db": "db"});
}

#[test]
fn find_and_modify_builds_each_modification_and_raises_write_concern_errors() {
    let options =
        FindOneAndModifyOptions::default().return_document_after(true).upsert(true).sort(doc! {"a": -1});
    let mut op = FindAndModify::new(
        ns(),
        doc! {"a": 1},
        Modification::Update(Bson::Document(doc! {"$inc": {"a": 1}})),
        options.clone(),
        Default::default(),
    );
    let body = op.build(&description()).unwrap().body;
    assert_eq!(body.get_document("update").unwrap(), &doc! {"$inc": {"a": 1}});
    assert_eq!((body.get_bool("new").unwrap(), body.get_bool("upsert").unwrap()), (true, true));
    let value = op
        .handle_response(doc! {"ok": 1, "lastErrorObject": {"n": 1}, "value": {"a": 2}}, &description())
        .unwrap();
    assert_eq!(value, Some(doc! {"a": 2}));
    let none = op
        .handle_response(doc! {"ok": 1, "lastErrorObject": {"n": 0}, "value": null}, &description())
        .unwrap();
    assert_eq!(none, None);
    let err = op
        .handle_response(
            doc! {"ok": 1, "lastErrorObject": {"n": 1}, "value": {"a": 2}, "writeConcernError": {"code": 100, "errmsg": "no"}},
            &description(),
        )
        .unwrap_err();
    assert!(matches!(*err.kind, ErrorKind::WriteConcern { code: 100, .. }), "{err}");

    let mut delete = FindAndModify::new(ns(), doc! {}, Modification::Delete, options, Default::default());
    let body = delete.build(&description()).unwrap().body;
    assert!(body.get_bool("remove").unwrap());
    assert!(!body.contains_key("new") && !body.contains_key("upsert"), "{body}");
}

#[test]
fn aggregate_with_out_is_a_write_and_count_documents_reads_its_group() {
    let options = AggregateOptions::default().batch_size(3);
    let mut read_agg = Aggregate::new(
        "db",
        Some("coll".into()),
        vec![doc! {"$match": {}}],
        options.clone(),
        Default::default(),
        read(),
    );
    assert_eq!(read_agg.selection_criteria(), read());
    assert_eq!(
        read_agg.build(&description()).unwrap().body.get_document("cursor").unwrap(),
        &doc! {"batchSize": 3i64}
    );
    let mut out = Aggregate::new(
        "db",
        Some("coll".into()),
        vec![doc! {"$out": "other"}],
        options,
        Default::default(),
        read(),
    );
    // CRUD spec "Aggregation Pipelines with Write Stages": the read preference is kept for
    // selection to resolve (5.0+ servers only).
    let SelectionCriteria::Read(rp) = read() else { panic!("read() is a read") };
    assert_eq!(out.selection_criteria(), SelectionCriteria::WriteStage(rp));
    assert_eq!(out.retryability(), Retryability::None);
    assert_eq!(out.build(&description()).unwrap().body.get_document("cursor").unwrap(), &doc! {});
    let mut db_level = Aggregate::new(
        "admin",
        None,
        vec![doc! {"$currentOp": {}}],
        AggregateOptions::default(),
        Default::default(),
        read(),
    );
    assert_eq!(db_level.build(&description()).unwrap().body.get("aggregate"), Some(&Bson::Int32(1)));

    let mut count = CountDocuments::new(
        ns(),
        doc! {"a": 1},
        CountOptions::default().skip(1).limit(5),
        Default::default(),
        read(),
    );
    let body = count.build(&description()).unwrap().body;
    let pipeline = body.get_array("pipeline").unwrap();
    assert_eq!(pipeline.len(), 4, "$match, $skip, $limit, $group: {pipeline:?}");
    let reply = doc! {"ok": 1, "cursor": {"id": 0i64, "ns": "db.coll", "firstBatch": [{"_id": 1, "n": 4}]}};
    assert_eq!(count.handle_response(reply, &description()).unwrap(), 4);
    let empty = doc! {"ok": 1, "cursor": {"id": 0i64, "ns": "db.coll", "firstBatch": []}};
    assert_eq!(count.handle_response(empty, &description()).unwrap(), 0);
}

#[test]
fn distinct_estimated_count_create_drop_list_and_run_command() {
    let mut distinct =
        Distinct::new(ns(), "a", doc! {"b": 1}, DistinctOptions::default(), Default::default(), read());
    let body = distinct.build(&description()).unwrap().body;
    assert_eq!((body.get_str("key").unwrap(), body.get_document("query").unwrap()), ("a", &doc! {"b": 1}));
    assert_eq!(distinct.handle_response(doc! {"ok": 1, "values": [1, 2]}, &description()).unwrap().len(), 2);
    assert!(distinct.handle_response(doc! {"ok": 1}, &description()).is_err());

    let mut count = EstimatedDocumentCount::new(ns(), Default::default(), Default::default(), read());
    assert_eq!(count.build(&description()).unwrap().body.get_str("count").unwrap(), "coll");
    assert_eq!(count.handle_response(doc! {"ok": 1, "n": 12.0}, &description()).unwrap(), 12);
    assert!(count.handle_response(doc! {"ok": 1, "n": -1}, &description()).is_err());

    let options = crate::options::CreateCollectionOptions::default().capped(true).size(4096);
    let body = Create::new(ns(), options, Default::default()).build(&description()).unwrap().body;
    assert_eq!((body.get_bool("capped").unwrap(), body.get_i64("size").unwrap()), (true, 4096));
    let body = DropCollection::new(ns(), Default::default()).build(&description()).unwrap().body;
    assert_eq!(body, doc! {"drop": "coll", "$db": "db"});

    let mut list = ListCollections::new("db", true, Default::default());
    let body = list.build(&description()).unwrap().body;
    assert!(body.get_bool("nameOnly").unwrap());
    let reply = doc! {"ok": 1, "cursor": {"id": 0i64, "ns": "db.$cmd.listCollections", "firstBatch": [{"name": "coll"}]}};
    assert_eq!(list.handle_response(reply, &description()).unwrap().first_batch.len(), 1);

    let mut run = RunCommand::new("admin", doc! {"ping": 1}, SelectionCriteria::Write).unwrap();
    assert_eq!(run.name(), "ping");
    assert_eq!(run.build(&description()).unwrap().body, doc! {"ping": 1, "$db": "admin"});
    assert!(RunCommand::new("admin", doc! {}, SelectionCriteria::Write).is_err());
    assert!(RunCommand::new("admin", doc! {"ping": 1, "$db": "x"}, SelectionCriteria::Write).is_err());
}

#[test]
fn write_hints_follow_the_server_version() {
    use super::write_hint::{HintedWrite, check_hint, is_unacknowledged};
    let at = |wire| StreamDescription { max_wire_version: wire, ..description() };
    let w0 = doc! {"w": 0};
    let w1 = doc! {"w": 1};
    // (command, unacknowledged, lowest wire version that may receive the hint)
    for (command, unacknowledged, min) in [
        (HintedWrite::Update, false, 5),
        (HintedWrite::Delete, false, 5),
        (HintedWrite::Update, true, 8),
        (HintedWrite::Delete, true, 9),
        (HintedWrite::FindAndModify, false, 8),
        (HintedWrite::FindAndModify, true, 9),
    ] {
        let wc = if unacknowledged { &w0 } else { &w1 };
        assert!(check_hint(command, &at(min), Some(wc)).is_ok(), "{command:?} {unacknowledged} at {min}");
        let err = check_hint(command, &at(min - 1), Some(wc)).unwrap_err();
        assert!(matches!(*err.kind, ErrorKind::InvalidArgument { .. }), "{command:?}: {err}");
    }
    assert!(is_unacknowledged(Some(&doc! {"w": 0_i64})));
    assert!(!is_unacknowledged(Some(&doc! {"w": 0, "j": true})), "j: true asks for an acknowledgement");
    assert!(!is_unacknowledged(Some(&doc! {"w": "majority"})) && !is_unacknowledged(None));
}
