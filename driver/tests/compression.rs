//! Wire compression against the simulator: each compressor is negotiated in the handshake,
//! CRUD runs over OP_COMPRESSED in both directions (the simulator's own counters show bytes
//! through its decompressor and compressor), authentication works beside it, and a client
//! offering nothing leaves the connection uncompressed.

use std::time::Duration;

use bson::{Document, doc};
use mongo_driver::Client;
use mongo_driver::connection::{CommandMessage, Connection, ConnectionOptions};
use mongo_driver::wire::Compressor;
use mongo_sim::{Config, Deployment};

const LIMIT: Duration = Duration::from_secs(20);

async fn server_status(host: &str) -> Document {
    let options = ConnectionOptions::default();
    let mut conn =
        Connection::connect(host.parse().expect("address"), &options, 99, 0).await.expect("connects");
    conn.send_command(CommandMessage::new("admin", doc! {"serverStatus": 1})).await.expect("serverStatus")
}

fn counter(status: &Document, name: &str, side: &str, field: &str) -> i64 {
    status
        .get_document("network")
        .and_then(|n| n.get_document("compression"))
        .and_then(|c| c.get_document(name))
        .and_then(|c| c.get_document(side))
        .and_then(|s| s.get_i64(field))
        .unwrap_or_else(|e| panic!("serverStatus has network.compression.{name}.{side}.{field}: {e}"))
}

#[tokio::test]
async fn each_compressor_is_negotiated_and_used_both_ways() {
    for name in ["snappy", "zlib", "zstd"] {
        let deployment = Deployment::start(Config::standalone()).await.expect("the simulator starts");
        let host = deployment.member_hosts()[0].clone();
        let uri = format!(
            "mongodb://{host}/?compressors={name}&zlibCompressionLevel=4&serverSelectionTimeoutMS=5000"
        );
        let client = Client::with_uri_str(&uri).await.expect("client");
        let coll = client.database("z").collection::<Document>("c");
        let docs: Vec<Document> = (0..50).map(|i| doc! {"i": i, "pad": "abc".repeat(100)}).collect();
        tokio::time::timeout(LIMIT, coll.insert_many(docs)).await.expect("no hang").expect("insert_many");
        let found =
            tokio::time::timeout(LIMIT, coll.find_one(doc! {"i": 7})).await.expect("no hang").expect("find");
        assert_eq!(found.and_then(|d| d.get_i32("i").ok()), Some(7), "{name}");
        client.shutdown().await;
        let status = server_status(&host).await;
        let inflated = counter(&status, name, "decompressor", "bytesOut");
        let deflated = counter(&status, name, "decompressor", "bytesIn");
        assert!(inflated > 15_000, "{name}: the server decompressed the inserts ({inflated} bytes)");
        assert!(deflated < inflated, "{name}: requests were smaller on the wire ({deflated} < {inflated})");
        assert!(counter(&status, name, "compressor", "bytesIn") > 0, "{name}: replies were compressed");
        for other in ["snappy", "zlib", "zstd"].iter().filter(|o| **o != name) {
            assert_eq!(counter(&status, other, "decompressor", "bytesIn"), 0, "{name}: {other} unused");
        }
    }
}

#[tokio::test]
async fn the_first_client_compressor_the_server_lists_wins() {
    let deployment = Deployment::start(Config::standalone()).await.expect("the simulator starts");
    let host = deployment.member_hosts()[0].clone();
    let options = ConnectionOptions {
        compressors: vec![Compressor::Zstd, Compressor::Snappy],
        ..ConnectionOptions::default()
    };
    let mut conn =
        Connection::connect(host.parse().expect("address"), &options, 1, 0).await.expect("connects");
    assert_eq!(conn.compressor(), Some(Compressor::Zstd));
    assert_eq!(
        conn.handshake_reply().and_then(|r| r.get_array("compression").ok()).map(|a| a.len()),
        Some(2),
        "the server answers with the common compressors"
    );
    let reply = conn.send_command(CommandMessage::new("admin", doc! {"ping": 1})).await.expect("ping");
    assert_eq!(reply.get_f64("ok").ok(), Some(1.0));
    // Without compressors nothing is negotiated.
    let plain = Connection::connect(host.parse().expect("address"), &ConnectionOptions::default(), 2, 0)
        .await
        .expect("connects");
    assert_eq!(plain.compressor(), None);
    assert!(plain.handshake_reply().is_some_and(|r| !r.contains_key("compression")));
}

#[tokio::test]
async fn authentication_runs_beside_compression() {
    // saslStart/saslContinue go uncompressed (unit-tested in wire::compression); the
    // authenticated commands after them are compressed.
    let deployment = Deployment::start(Config::standalone().with_user("admin", "ann", "pw"))
        .await
        .expect("the simulator starts");
    let host = deployment.member_hosts()[0].clone();
    let uri = format!("mongodb://ann:pw@{host}/?compressors=zlib&serverSelectionTimeoutMS=5000");
    let client = Client::with_uri_str(&uri).await.expect("client");
    let status = tokio::time::timeout(LIMIT, client.database("admin").run_command(doc! {"serverStatus": 1}))
        .await
        .expect("no hang")
        .expect("an authenticated command over zlib");
    assert!(counter(&status, "zlib", "decompressor", "bytesOut") > 0);
    client.shutdown().await;
}
