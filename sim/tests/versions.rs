//! Behaviour that differs between the emulated server releases, as the driver specs' tests
//! expect it: `comment` before 4.4, `$`-prefixed field names before 5.0, `find`'s
//! `returnKey`/`showRecordId`, `connectionId` in `hello` (4.2+) and `getnonce` (before 6.2).

use bson::{Bson, Document, Timestamp, doc};
use mongo_sim::engine::{CommandError, ExecContext, Store};
use mongo_sim::wire;
use mongo_sim::{Config, Deployment, ServerVersion};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// An execution context emulating `version`.
fn at(version: ServerVersion) -> ExecContext {
    ExecContext {
        write_time: Some(Timestamp { time: 1, increment: 1 }),
        max_wire_version: version.max_wire_version(),
        ..ExecContext::default()
    }
}

fn run(s: &mut Store, v: ServerVersion, cmd: Document) -> Result<Document, CommandError> {
    s.run("db", &cmd, &at(v))
}

fn seeded() -> Store {
    let mut s = Store::new();
    let docs: Vec<Bson> = (1..=3).map(|i| Bson::Document(doc! {"_id": i, "x": i * 11})).collect();
    run(&mut s, ServerVersion::V7_0, doc! {"insert": "c", "documents": docs})
        .unwrap_or_else(|e| panic!("seed: {e}"));
    s
}

fn code(r: Result<Document, CommandError>) -> Option<i32> {
    r.err().map(|e| e.code)
}

/// The codes of a write reply's `writeErrors`.
fn write_error_codes(r: &Result<Document, CommandError>) -> Vec<i32> {
    r.as_ref()
        .ok()
        .and_then(|d| d.get_array("writeErrors").ok())
        .map(|errs| errs.iter().filter_map(|e| e.as_document()?.get_i32("code").ok()).collect())
        .unwrap_or_default()
}

fn first_batch(r: Result<Document, CommandError>) -> Vec<Document> {
    let reply = r.unwrap_or_else(|e| panic!("find: {e}"));
    let batch = reply.get_document("cursor").and_then(|c| c.get_array("firstBatch")).cloned();
    batch.unwrap_or_default().into_iter().filter_map(|d| d.as_document().cloned()).collect()
}

#[test]
fn writes_take_a_comment_only_from_4_4() {
    use ServerVersion as V;
    let writes = [
        doc! {"insert": "c", "documents": [{"_id": 9}], "comment": "c"},
        doc! {"update": "c", "updates": [{"q": {"_id": 1}, "u": {"$set": {"y": 1}}}], "comment": "c"},
        doc! {"delete": "c", "deletes": [{"q": {"_id": 2}, "limit": 1}], "comment": "c"},
    ];
    for cmd in &writes {
        for v in [V::V3_6, V::V4_0, V::V4_2] {
            assert_eq!(code(run(&mut seeded(), v, cmd.clone())), Some(40415), "{v}: {cmd}");
        }
        for v in [V::V4_4, V::V5_0, V::V7_0] {
            let mut doc_comment = cmd.clone();
            doc_comment.insert("comment", doc! {"k": "v"});
            assert_eq!(code(run(&mut seeded(), v, doc_comment)), None, "{v}: {cmd}");
        }
    }
    // findAndModify: 3.6 and 4.0 ignore unknown fields, 4.2 refuses them.
    let fam = doc! {"findAndModify": "c", "query": {"_id": 1}, "remove": true, "comment": "c"};
    assert_eq!(code(run(&mut seeded(), V::V4_0, fam.clone())), None);
    assert_eq!(code(run(&mut seeded(), V::V4_2, fam.clone())), Some(51177));
    assert_eq!(code(run(&mut seeded(), V::V4_4, fam)), None);
}

#[test]
fn reads_take_a_document_comment_from_4_4_or_4_4_14() {
    use ServerVersion as V;
    let with = |mut cmd: Document, comment: Bson| {
        cmd.insert("comment", comment);
        cmd
    };
    let object = || Bson::Document(doc! {"k": "v"});
    let string = || Bson::String("c".into());
    let find = doc! {"find": "c", "filter": {}};
    let agg = doc! {"aggregate": "c", "pipeline": [], "cursor": {}};
    for (cmd, refused) in [(find, 9), (agg, 14)] {
        assert_eq!(code(run(&mut seeded(), V::V3_6, with(cmd.clone(), string()))), None);
        assert_eq!(code(run(&mut seeded(), V::V4_2, with(cmd.clone(), object()))), Some(refused));
        assert_eq!(code(run(&mut seeded(), V::V4_4, with(cmd, object()))), None);
    }
    // count and distinct typed their comment as a string until 4.4.14 (the simulated 4.4 is 4.4.0).
    for cmd in [doc! {"count": "c"}, doc! {"distinct": "c", "key": "x"}] {
        assert_eq!(code(run(&mut seeded(), V::V4_4, with(cmd.clone(), string()))), None);
        assert_eq!(code(run(&mut seeded(), V::V4_4, with(cmd.clone(), object()))), Some(14));
        assert_eq!(code(run(&mut seeded(), V::V5_0, with(cmd, object()))), None);
    }
}

#[test]
fn dollar_prefixed_names_are_storable_from_5_0() {
    use ServerVersion as V;
    let top = doc! {"insert": "c", "documents": [{"_id": 9, "$a": 1}]};
    let nested = doc! {"insert": "c", "documents": [{"_id": 10, "a": {"$b": 1}, "c.d": 1}]};
    let replace = doc! {"update": "c", "updates": [{"q": {"_id": 1}, "u": {"_id": 1, "a": {"$b": 1}}}]};
    let upsert =
        doc! {"update": "c", "updates": [{"q": {"_id": 8}, "u": {"a": [{"$b": 1}]}, "upsert": true}]};
    let dbref = doc! {"update": "c", "updates": [{"q": {"_id": 1}, "u": {"a": {"$ref": "c", "$id": 2}}}]};
    let fam = doc! {"findAndModify": "c", "query": {"_id": 1}, "update": {"_id": 1, "a": {"$b": 1}}};
    for v in [V::V3_6, V::V4_4] {
        assert_eq!(write_error_codes(&run(&mut seeded(), v, top.clone())), vec![2], "{v}");
        assert_eq!(write_error_codes(&run(&mut seeded(), v, nested.clone())), Vec::<i32>::new(), "{v}");
        assert_eq!(write_error_codes(&run(&mut seeded(), v, replace.clone())), vec![52], "{v}");
        assert_eq!(write_error_codes(&run(&mut seeded(), v, upsert.clone())), vec![52], "{v}");
        assert_eq!(write_error_codes(&run(&mut seeded(), v, dbref.clone())), Vec::<i32>::new(), "{v}");
        assert_eq!(code(run(&mut seeded(), v, fam.clone())), Some(52), "{v}");
    }
    for v in [V::V5_0, V::V7_0] {
        let mut s = seeded();
        for cmd in [&top, &nested, &replace, &upsert, &fam] {
            let r = run(&mut s, v, cmd.clone());
            assert!(r.is_ok() && write_error_codes(&r).is_empty(), "{v}: {cmd}: {r:?}");
        }
        let stored = first_batch(run(&mut s, v, doc! {"find": "c", "filter": {"_id": 1}}));
        assert_eq!(stored, vec![doc! {"_id": 1, "a": {"$b": 1}}]);
    }
}

#[test]
fn find_returns_index_keys_and_record_ids() {
    let v = ServerVersion::V7_0;
    let mut s = seeded();
    let keys = first_batch(run(
        &mut s,
        v,
        doc! {"find": "c", "filter": {}, "sort": {"_id": -1}, "returnKey": true, "showRecordId": true},
    ));
    assert_eq!(keys, vec![doc! {"_id": 3}, doc! {"_id": 2}, doc! {"_id": 1}]);
    // A collection scan has no index key to return.
    let scan = first_batch(run(&mut s, v, doc! {"find": "c", "filter": {"x": 22}, "returnKey": true}));
    assert_eq!(scan, vec![doc! {}]);
    let ids = first_batch(run(
        &mut s,
        v,
        doc! {"find": "c", "filter": {"_id": {"$gte": 2}}, "projection": {"x": 0}, "showRecordId": true},
    ));
    assert_eq!(ids, vec![doc! {"_id": 2, "$recordId": 2_i64}, doc! {"_id": 3, "$recordId": 3_i64}]);
}

async fn command(stream: &mut TcpStream, id: i32, body: Document) -> Document {
    let bytes = wire::encode_op_msg(id, 0, 0, &body).unwrap_or_else(|e| panic!("{e}"));
    stream.write_all(&bytes).await.unwrap_or_else(|e| panic!("write: {e}"));
    let mut header = [0u8; wire::HEADER_LEN];
    stream.read_exact(&mut header).await.unwrap_or_else(|e| panic!("read: {e}"));
    let mut message = header.to_vec();
    message.resize(wire::Header::parse(&header).message_length as usize, 0);
    stream.read_exact(&mut message[wire::HEADER_LEN..]).await.unwrap_or_else(|e| panic!("read: {e}"));
    wire::parse_reply(&message).map(|(_, d)| d).unwrap_or_else(|e| panic!("reply: {e}"))
}

/// One connection to a standalone of `version`.
async fn standalone(version: ServerVersion) -> (Deployment, TcpStream) {
    let d = Deployment::start(Config::standalone().with_version(version))
        .await
        .unwrap_or_else(|e| panic!("{version}: {e}"));
    let host = d.member_hosts().first().cloned().unwrap_or_default();
    let s = TcpStream::connect(&host).await.unwrap_or_else(|e| panic!("connect {host}: {e}"));
    (d, s)
}

#[tokio::test]
async fn hello_reports_connection_id_from_4_2() {
    for (version, reported) in
        [(ServerVersion::V3_6, false), (ServerVersion::V4_0, false), (ServerVersion::V4_2, true)]
    {
        let (_d, mut s) = standalone(version).await;
        let reply = command(&mut s, 1, doc! {"isMaster": 1, "$db": "admin"}).await;
        assert_eq!(reply.contains_key("connectionId"), reported, "{version}: {reply}");
    }
}

#[tokio::test]
async fn getnonce_answers_until_6_0() {
    let (_d, mut s) = standalone(ServerVersion::V6_0).await;
    let reply = command(&mut s, 1, doc! {"getnonce": 1, "$db": "admin"}).await;
    assert_eq!(reply.get_str("nonce").ok().map(str::len), Some(16), "{reply}");
    assert_eq!(reply.get_f64("ok").ok(), Some(1.0));
    let (_d, mut s) = standalone(ServerVersion::V7_0).await;
    let reply = command(&mut s, 1, doc! {"getnonce": 1, "$db": "admin"}).await;
    assert_eq!(reply.get_i32("code").ok(), Some(59), "{reply}");
}
