//! Wire-level tests against a running deployment: handshakes, replies, and malformed
//! messages that must close the connection without taking the server down.

use std::time::Duration;

use bson::{Document, doc};
use mongo_sim::wire::{self, MORE_TO_COME};
use mongo_sim::{Config, Deployment, ServerVersion};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn connect(host: &str) -> TcpStream {
    TcpStream::connect(host).await.unwrap_or_else(|e| panic!("connect {host}: {e}"))
}

async fn read_reply(stream: &mut TcpStream) -> Option<(wire::Header, Document)> {
    let mut header = [0u8; wire::HEADER_LEN];
    stream.read_exact(&mut header).await.ok()?;
    let len = wire::Header::parse(&header).message_length as usize;
    let mut message = header.to_vec();
    message.resize(len, 0);
    stream.read_exact(&mut message[wire::HEADER_LEN..]).await.ok()?;
    wire::parse_reply(&message).ok()
}

async fn command(stream: &mut TcpStream, id: i32, body: Document) -> Document {
    let bytes = wire::encode_op_msg(id, 0, 0, &body).unwrap_or_else(|e| panic!("{e}"));
    stream.write_all(&bytes).await.unwrap_or_else(|e| panic!("write: {e}"));
    let (header, reply) = read_reply(stream).await.unwrap_or_else(|| panic!("no reply to {body}"));
    assert_eq!(header.response_to, id);
    reply
}

async fn is_closed(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 1];
    matches!(
        tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

fn host(d: &Deployment) -> String {
    d.member_hosts().first().cloned().unwrap_or_default()
}

#[tokio::test]
async fn legacy_op_query_handshake_gets_op_reply() {
    let d = Deployment::start(Config::replica_set(3)).await.unwrap_or_else(|e| panic!("{e}"));
    let mut s = connect(&host(&d)).await;
    let q =
        wire::encode_op_query(1, "admin.$cmd", &doc! { "isMaster": 1, "helloOk": true }).unwrap_or_default();
    s.write_all(&q).await.unwrap_or_else(|e| panic!("{e}"));
    let (header, reply) = read_reply(&mut s).await.unwrap_or_else(|| panic!("no reply"));
    assert_eq!((header.op_code, header.response_to), (wire::OP_REPLY, 1));
    assert_eq!(reply.get_bool("ismaster").ok(), Some(true));
    assert_eq!(reply.get_bool("helloOk").ok(), Some(true));
    assert_eq!(reply.get_str("setName").ok(), Some("rs0"));
    assert_eq!(reply.get_i32("maxWireVersion").ok(), Some(21));
    assert_eq!(reply.get_array("hosts").ok().map(|h| h.len()), Some(3));
    assert!(reply.get_document("topologyVersion").is_ok());
    assert!(reply.get_document("$clusterTime").is_ok());
}

#[tokio::test]
async fn hello_on_each_topology_and_version() {
    let standalone = Deployment::start(Config::standalone().with_version(ServerVersion::V4_0))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut s = connect(&host(&standalone)).await;
    let reply = command(&mut s, 1, doc! { "isMaster": 1, "$db": "admin" }).await;
    assert_eq!(reply.get_i32("maxWireVersion").ok(), Some(7));
    assert!(
        !reply.contains_key("setName")
            && !reply.contains_key("$clusterTime")
            && !reply.contains_key("topologyVersion")
    );
    let hello = command(&mut s, 2, doc! { "hello": 1, "$db": "admin" }).await;
    assert_eq!(hello.get_i32("code").ok(), Some(59), "hello is unknown before 4.4: {hello}");

    let sharded = Deployment::start(Config::sharded(2, 1)).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sharded.router_hosts().len(), 2);
    let mut s = connect(&sharded.router_hosts()[0]).await;
    let reply = command(&mut s, 1, doc! { "hello": 1, "$db": "admin" }).await;
    assert_eq!(reply.get_str("msg").ok(), Some("isdbgrid"));
    assert_eq!(reply.get_bool("isWritablePrimary").ok(), Some(true));
    assert!(reply.get_timestamp("operationTime").is_ok());
}

#[tokio::test]
async fn malformed_messages_close_only_their_connection() {
    let d = Deployment::start(Config::replica_set(1)).await.unwrap_or_else(|e| panic!("{e}"));
    let h = host(&d);
    let good = wire::encode_op_msg(1, 0, 0, &doc! { "ping": 1, "$db": "admin" }).unwrap_or_default();
    let mut bad_messages: Vec<Vec<u8>> = Vec::new();
    // Length below the header size, and above maxMessageSizeBytes.
    bad_messages.push([8i32.to_le_bytes(), [0; 4], [0; 4], 2013i32.to_le_bytes()].concat());
    bad_messages.push([60_000_000i32.to_le_bytes(), [0; 4], [0; 4], 2013i32.to_le_bytes()].concat());
    // Unknown opcode.
    let mut m = good.clone();
    m[12..16].copy_from_slice(&2010i32.to_le_bytes());
    bad_messages.push(m);
    // Unknown required flag bit.
    let mut m = good.clone();
    m[16] = 0x04;
    bad_messages.push(m);
    // Corrupt BSON length inside the body.
    let mut m = good.clone();
    m[21] = 0xFF;
    bad_messages.push(m);
    for (i, bad) in bad_messages.iter().enumerate() {
        let mut s = connect(&h).await;
        s.write_all(bad).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(is_closed(&mut s).await, "malformed message {i} did not close the connection");
    }
    // The server still serves new connections.
    let mut s = connect(&h).await;
    assert_eq!(command(&mut s, 5, doc! { "ping": 1, "$db": "admin" }).await.get_f64("ok").ok(), Some(1.0));
}

#[tokio::test]
async fn more_to_come_gets_no_reply_and_checksums_are_accepted() {
    let d = Deployment::start(Config::standalone()).await.unwrap_or_else(|e| panic!("{e}"));
    let mut s = connect(&host(&d)).await;
    let quiet =
        wire::encode_op_msg(1, 0, MORE_TO_COME, &doc! { "ping": 1, "$db": "admin" }).unwrap_or_default();
    s.write_all(&quiet).await.unwrap_or_else(|e| panic!("{e}"));
    // The next reply answers request 2, proving request 1 got none.
    let with_crc = wire::encode_op_msg(2, 0, wire::CHECKSUM_PRESENT, &doc! { "ping": 1, "$db": "admin" })
        .unwrap_or_default();
    s.write_all(&with_crc).await.unwrap_or_else(|e| panic!("{e}"));
    let (header, reply) = read_reply(&mut s).await.unwrap_or_else(|| panic!("no reply"));
    assert_eq!(header.response_to, 2);
    assert_eq!(reply.get_f64("ok").ok(), Some(1.0));
}

#[tokio::test]
async fn errors_fail_points_and_connection_counters() {
    let d = Deployment::start(Config::replica_set(2)).await.unwrap_or_else(|e| panic!("{e}"));
    let hosts = d.member_hosts();
    let mut s = connect(&hosts[0]).await;
    let unknown = command(&mut s, 1, doc! { "frobnicate": 1, "$db": "admin" }).await;
    assert_eq!(
        (unknown.get_f64("ok").ok(), unknown.get_i32("code").ok(), unknown.get_str("codeName").ok()),
        (Some(0.0), Some(59), Some("CommandNotFound"))
    );
    let fp = command(
        &mut s,
        2,
        doc! { "configureFailPoint": "failCommand", "mode": { "times": 1 },
        "data": { "failCommands": ["ping"], "errorCode": 91 }, "$db": "admin" },
    )
    .await;
    assert_eq!(fp.get_f64("ok").ok(), Some(1.0), "{fp}");
    let failed = command(&mut s, 3, doc! { "ping": 1, "$db": "admin" }).await;
    assert_eq!(
        (failed.get_i32("code").ok(), failed.get_str("codeName").ok()),
        (Some(91), Some("ShutdownInProgress"))
    );
    assert_eq!(command(&mut s, 4, doc! { "ping": 1, "$db": "admin" }).await.get_f64("ok").ok(), Some(1.0));
    command(
        &mut s,
        5,
        doc! { "configureFailPoint": "failCommand", "mode": { "times": 1 },
        "data": { "failCommands": ["ping"], "closeConnection": true }, "$db": "admin" },
    )
    .await;
    let ping = wire::encode_op_msg(6, 0, 0, &doc! { "ping": 1, "$db": "admin" }).unwrap_or_default();
    s.write_all(&ping).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(is_closed(&mut s).await);
    let mut s = connect(&hosts[0]).await;
    let status = command(&mut s, 1, doc! { "serverStatus": 1, "$db": "admin" }).await;
    let conns = status.get_document("connections").ok().cloned().unwrap_or_default();
    assert_eq!(conns.get_i64("totalCreated").ok(), Some(2));
    // Retryable-write numbers on a secondary's reads are refused; writes there are NotWritablePrimary.
    let mut secondary = connect(&hosts[1]).await;
    let step = command(&mut secondary, 1, doc! { "replSetStepDown": 1, "$db": "admin" }).await;
    assert_eq!(step.get_i32("code").ok(), Some(10107), "{step}");
    let not_admin = command(
        &mut secondary,
        2,
        doc! { "configureFailPoint": "failCommand", "mode": "off", "$db": "test" },
    )
    .await;
    assert_eq!(not_admin.get_i32("code").ok(), Some(13));
}

#[tokio::test]
async fn step_down_elects_another_primary_and_bumps_topology_version() {
    let d = Deployment::start(Config::replica_set(3).with_election_delay(Duration::from_millis(10)))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let hosts = d.member_hosts();
    assert_eq!(d.primary_host().as_deref(), Some(hosts[0].as_str()));
    let mut s = connect(&hosts[0]).await;
    let before = command(&mut s, 1, doc! { "hello": 1, "$db": "admin" }).await;
    let tv = before.get_document("topologyVersion").ok().cloned().unwrap_or_default();
    let election_before = before.get_object_id("electionId").ok();
    let step = command(&mut s, 2, doc! { "replSetStepDown": 5, "force": true, "$db": "admin" }).await;
    assert_eq!(step.get_f64("ok").ok(), Some(1.0), "{step}");
    // Awaitable hello returns at the next change (the election).
    let mut s2 = connect(&hosts[1]).await;
    let mut new_primary = None;
    for i in 0..50 {
        let r = command(&mut s2, 10 + i, doc! { "hello": 1, "$db": "admin" }).await;
        if let Ok(p) = r.get_str("primary") {
            new_primary = Some(p.to_owned());
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(new_primary.as_deref(), Some(hosts[1].as_str()));
    let after = command(
        &mut s,
        3,
        doc! { "hello": 1, "topologyVersion": tv.clone(), "maxAwaitTimeMS": 10, "$db": "admin" },
    )
    .await;
    assert_eq!(after.get_bool("isWritablePrimary").ok(), Some(false));
    assert!(
        after.get_document("topologyVersion").ok().and_then(|t| t.get_i64("counter").ok())
            > tv.get_i64("counter").ok()
    );
    let mut p = connect(&hosts[1]).await;
    let primary = command(&mut p, 1, doc! { "hello": 1, "$db": "admin" }).await;
    assert!(primary.get_object_id("electionId").ok() > election_before);
}

#[tokio::test]
async fn step_down_on_4_0_closes_connections() {
    let d = Deployment::start(Config::replica_set(2).with_version(ServerVersion::V4_0))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let hosts = d.member_hosts();
    let mut bystander = connect(&hosts[0]).await;
    command(&mut bystander, 1, doc! { "ping": 1, "$db": "admin" }).await;
    let mut s = connect(&hosts[0]).await;
    let step = wire::encode_op_msg(2, 0, 0, &doc! { "replSetStepDown": 5, "force": true, "$db": "admin" })
        .unwrap_or_default();
    s.write_all(&step).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(is_closed(&mut s).await);
    assert!(is_closed(&mut bystander).await);
}

fn lsid() -> Document {
    doc! { "id": bson::Binary { subtype: bson::spec::BinarySubtype::Uuid, bytes: vec![7; 16] } }
}

#[tokio::test]
async fn retryable_write_rules_and_server_added_labels() {
    // Standalone: transaction numbers are refused.
    let single = Deployment::start(Config::standalone()).await.unwrap_or_else(|e| panic!("{e}"));
    let mut s = connect(&host(&single)).await;
    let r = command(
        &mut s,
        1,
        doc! { "insert": "c", "documents": [{ "_id": 1 }], "lsid": lsid(),
        "txnNumber": 1_i64, "$db": "test" },
    )
    .await;
    assert_eq!((r.get_i32("code").ok(), r.get_str("codeName").ok()), (Some(20), Some("IllegalOperation")));
    assert!(!r.contains_key("$clusterTime"), "standalone gossips cluster time: {r}");

    for (version, labelled) in [(ServerVersion::V4_2, false), (ServerVersion::V4_4, true)] {
        let rs = Deployment::start(Config::replica_set(1).with_version(version))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let mut s = connect(&host(&rs)).await;
        command(
            &mut s,
            1,
            doc! { "configureFailPoint": "failCommand", "mode": { "times": 1 },
            "data": { "failCommands": ["insert"], "errorCode": 189 }, "$db": "admin" },
        )
        .await;
        let insert = doc! { "insert": "c", "documents": [{ "_id": 1 }], "lsid": lsid(), "txnNumber": 3_i64, "$db": "test" };
        let failed = command(&mut s, 2, insert.clone()).await;
        assert_eq!(failed.get_i32("code").ok(), Some(189));
        let labels = failed.get_array("errorLabels").map(|a| a.len()).unwrap_or(0);
        assert_eq!(labels > 0, labelled, "{version}: {failed}");
        // The retry applies; a second retry replays the record; an older number is refused.
        let first = command(&mut s, 3, insert.clone()).await;
        assert_eq!(first.get_i32("n").ok(), Some(1), "{first}");
        let replay = command(&mut s, 4, insert.clone()).await;
        assert_eq!(replay.get_i32("n").ok(), Some(1), "replayed reply differs: {replay}");
        let count = command(&mut s, 5, doc! { "count": "c", "$db": "test" }).await;
        assert_eq!(count.get_i32("n").ok(), Some(1), "retried insert applied twice: {count}");
        let mut old = insert.clone();
        old.insert("txnNumber", 2_i64);
        assert_eq!(command(&mut s, 6, old).await.get_i32("code").ok(), Some(225));
        let find = doc! { "find": "c", "lsid": lsid(), "txnNumber": 4_i64, "$db": "test" };
        assert_eq!(command(&mut s, 7, find).await.get_i32("code").ok(), Some(50768));
    }
}

#[tokio::test]
async fn snapshot_reads_by_version_and_topology() {
    let snap_find = doc! { "find": "c", "readConcern": { "level": "snapshot" }, "$db": "test" };
    let rs = Deployment::start(Config::replica_set(2)).await.unwrap_or_else(|e| panic!("{e}"));
    let mut s = connect(&host(&rs)).await;
    command(&mut s, 1, doc! { "insert": "c", "documents": [{ "_id": 1 }], "$db": "test" }).await;
    let ok = command(&mut s, 2, snap_find.clone()).await;
    let at = ok.get_document("cursor").ok().and_then(|c| c.get_timestamp("atClusterTime").ok());
    assert!(at.is_some(), "no cursor.atClusterTime: {ok}");
    assert_eq!(ok.get_timestamp("operationTime").ok(), at);
    let write = doc! { "insert": "c", "documents": [{ "_id": 2 }], "readConcern": { "level": "snapshot" }, "$db": "test" };
    assert_eq!(command(&mut s, 3, write).await.get_i32("code").ok(), Some(72));
    // A secondary refuses reads without secondaryOk and writes altogether.
    let mut sec = connect(&rs.member_hosts()[1]).await;
    let read = command(&mut sec, 1, doc! { "find": "c", "$db": "test" }).await;
    assert_eq!(read.get_i32("code").ok(), Some(13435));
    let read =
        command(&mut sec, 2, doc! { "find": "c", "$readPreference": { "mode": "secondary" }, "$db": "test" })
            .await;
    assert_eq!(read.get_f64("ok").ok(), Some(1.0), "{read}");
    let write =
        command(&mut sec, 3, doc! { "insert": "c", "documents": [{ "_id": 3 }], "$db": "test" }).await;
    assert_eq!(
        (write.get_i32("code").ok(), write.get_str("codeName").ok()),
        (Some(10107), Some("NotWritablePrimary"))
    );

    let old = Deployment::start(Config::replica_set(1).with_version(ServerVersion::V4_4))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut s = connect(&host(&old)).await;
    assert_eq!(command(&mut s, 1, snap_find.clone()).await.get_i32("code").ok(), Some(72));
    let single = Deployment::start(Config::standalone()).await.unwrap_or_else(|e| panic!("{e}"));
    let mut s = connect(&host(&single)).await;
    assert_eq!(command(&mut s, 1, snap_find).await.get_i32("code").ok(), Some(123));
}

#[tokio::test]
async fn binary_prints_its_connection_string_first() {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_mongo-sim"))
        .args(["--topology", "replicaset", "--members", "2", "--version", "5.0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("spawn mongo-sim: {e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let mut line = String::new();
    tokio::io::BufReader::new(stdout).read_line(&mut line).await.unwrap_or_else(|e| panic!("{e}"));
    let uri = line.trim();
    assert!(uri.starts_with("mongodb://127.0.0.1:") && uri.ends_with("/?replicaSet=rs0"), "{uri}");
    let first = uri.trim_start_matches("mongodb://").split(['/', ',']).next().unwrap_or_default().to_owned();
    let mut s = connect(&first).await;
    let hello = command(&mut s, 1, doc! { "hello": 1, "$db": "admin" }).await;
    assert_eq!(hello.get_i32("maxWireVersion").ok(), Some(13));
    let build = command(&mut s, 2, doc! { "buildInfo": 1, "$db": "admin" }).await;
    assert_eq!(build.get_str("version").ok(), Some("5.0.0"));
    let _ = child.kill().await;
}

#[tokio::test]
async fn step_down_without_force_needs_an_electable_secondary() {
    let d = Deployment::start(Config::replica_set(1)).await.unwrap_or_else(|e| panic!("{e}"));
    let mut s = connect(&host(&d)).await;
    let r = command(&mut s, 1, doc! { "replSetStepDown": 1, "$db": "admin" }).await;
    assert_eq!(r.get_i32("code").ok(), Some(262), "{r}");
    let r = command(&mut s, 2, doc! { "replSetStepDown": 1, "force": true, "$db": "admin" }).await;
    assert_eq!(r.get_f64("ok").ok(), Some(1.0), "{r}");
    assert_eq!(d.primary_host(), None);
    // Frozen secondaries stay secondaries: a 1-member set re-elects itself once unfrozen.
    let r = command(&mut s, 3, doc! { "replSetFreeze": 0, "$db": "admin" }).await;
    assert_eq!(r.get_str("info").ok(), Some("unfreezing"), "{r}");
    for _ in 0..100 {
        if d.primary_host().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(d.primary_host(), Some(host(&d)));
}

#[tokio::test]
async fn exhaust_hello_streams_topology_changes() {
    let d = Deployment::start(Config::replica_set(2).with_election_delay(Duration::from_millis(5)))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let primary = host(&d);
    let mut monitor = connect(&d.member_hosts()[1]).await;
    let first = command(&mut monitor, 1, doc! { "hello": 1, "$db": "admin" }).await;
    let tv = first.get_document("topologyVersion").ok().cloned().unwrap_or_default();
    let awaitable =
        doc! { "hello": 1, "topologyVersion": tv.clone(), "maxAwaitTimeMS": 5000, "$db": "admin" };
    let bytes = wire::encode_op_msg(2, 0, wire::EXHAUST_ALLOWED, &awaitable).unwrap_or_default();
    monitor.write_all(&bytes).await.unwrap_or_else(|e| panic!("{e}"));
    let mut s = connect(&primary).await;
    command(&mut s, 1, doc! { "replSetStepDown": 5, "force": true, "$db": "admin" }).await;
    let mut last = tv.get_i64("counter").ok();
    let mut became_primary = false;
    for _ in 0..2 {
        let (header, reply) = tokio::time::timeout(Duration::from_secs(3), read_reply(&mut monitor))
            .await
            .unwrap_or_else(|_| panic!("no streamed hello after a topology change"))
            .unwrap_or_else(|| panic!("monitor connection closed"));
        assert_ne!(header.response_to, 0);
        let counter = reply.get_document("topologyVersion").ok().and_then(|t| t.get_i64("counter").ok());
        assert!(counter > last, "topology counter did not advance: {reply}");
        last = counter;
        became_primary |= reply.get_bool("isWritablePrimary").ok() == Some(true);
    }
    assert!(became_primary, "the secondary never reported itself primary");
}

#[tokio::test]
async fn on_primary_transactional_write_commits_then_closes_or_fails_before_commit() {
    let d = Deployment::start(Config::replica_set(1)).await.unwrap_or_else(|e| panic!("{e}"));
    let mut s = connect(&host(&d)).await;
    command(
        &mut s,
        1,
        doc! { "configureFailPoint": "onPrimaryTransactionalWrite", "mode": { "times": 1 }, "$db": "admin" },
    )
    .await;
    let insert = doc! { "insert": "c", "documents": [{ "_id": 1 }], "lsid": lsid(), "txnNumber": 1_i64, "$db": "test" };
    let bytes = wire::encode_op_msg(2, 0, 0, &insert).unwrap_or_default();
    s.write_all(&bytes).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(is_closed(&mut s).await, "connection not closed before the reply");
    let mut s = connect(&host(&d)).await;
    let retry = command(&mut s, 1, insert).await;
    assert_eq!(retry.get_i32("n").ok(), Some(1), "{retry}");
    assert_eq!(command(&mut s, 2, doc! { "count": "c", "$db": "test" }).await.get_i32("n").ok(), Some(1));
    // Not committed: the error code, nothing written.
    command(
        &mut s,
        3,
        doc! { "configureFailPoint": "onPrimaryTransactionalWrite", "mode": { "times": 1 },
        "data": { "failBeforeCommitExceptionCode": 1, "closeConnection": false }, "$db": "admin" },
    )
    .await;
    let insert = doc! { "insert": "c", "documents": [{ "_id": 2 }], "lsid": lsid(), "txnNumber": 2_i64, "$db": "test" };
    assert_eq!(command(&mut s, 4, insert.clone()).await.get_i32("code").ok(), Some(1));
    assert_eq!(command(&mut s, 5, doc! { "count": "c", "$db": "test" }).await.get_i32("n").ok(), Some(1));
    assert_eq!(command(&mut s, 6, insert).await.get_i32("n").ok(), Some(1));
}

#[tokio::test]
async fn unsatisfiable_write_concern_and_foreign_get_more() {
    let d = Deployment::start(Config::replica_set(2)).await.unwrap_or_else(|e| panic!("{e}"));
    let mut s = connect(&host(&d)).await;
    let r = command(
        &mut s,
        1,
        doc! { "insert": "c", "documents": [{ "_id": 1 }, { "_id": 2 }, { "_id": 3 }],
        "writeConcern": { "w": 3 }, "$db": "test" },
    )
    .await;
    assert_eq!(
        r.get_document("writeConcernError").ok().and_then(|w| w.get_i32("code").ok()),
        Some(100),
        "{r}"
    );
    let r = command(
        &mut s,
        2,
        doc! { "insert": "c", "documents": [{ "_id": 4 }], "writeConcern": { "w": "majority" },
        "$db": "test" },
    )
    .await;
    assert!(!r.contains_key("writeConcernError"), "{r}");
    let find = command(&mut s, 3, doc! { "find": "c", "batchSize": 1, "lsid": lsid(), "$db": "test" }).await;
    let id = find.get_document("cursor").ok().and_then(|c| c.get_i64("id").ok()).unwrap_or(0);
    assert_ne!(id, 0, "{find}");
    let other = doc! { "id": bson::Binary { subtype: bson::spec::BinarySubtype::Uuid, bytes: vec![9; 16] } };
    let r = command(&mut s, 4, doc! { "getMore": id, "collection": "c", "lsid": other, "$db": "test" }).await;
    assert_eq!(r.get_i32("code").ok(), Some(50738), "{r}");
    let r = command(&mut s, 5, doc! { "getMore": id, "collection": "c", "$db": "test" }).await;
    assert_eq!(r.get_i32("code").ok(), Some(50737), "{r}");
    let r =
        command(&mut s, 6, doc! { "getMore": id, "collection": "c", "lsid": lsid(), "$db": "test" }).await;
    assert_eq!(r.get_f64("ok").ok(), Some(1.0), "{r}");
}

#[tokio::test]
async fn kill_all_sessions_aborts_transactions() {
    let d = Deployment::start(Config::replica_set(1)).await.unwrap_or_else(|e| panic!("{e}"));
    let mut s = connect(&host(&d)).await;
    let txn = |extra: Document| {
        let mut cmd = doc! { "insert": "c", "documents": [{ "_id": 1 }], "lsid": lsid(), "txnNumber": 1_i64,
        "autocommit": false, "$db": "test" };
        cmd.extend(extra);
        cmd
    };
    let r = command(&mut s, 1, txn(doc! { "startTransaction": true })).await;
    assert_eq!(r.get_i32("n").ok(), Some(1), "{r}");
    command(&mut s, 2, doc! { "killAllSessions": [], "$db": "admin" }).await;
    let commit = doc! { "commitTransaction": 1, "lsid": lsid(), "txnNumber": 1_i64, "autocommit": false, "$db": "admin" };
    let r = command(&mut s, 3, commit).await;
    assert_eq!(r.get_i32("code").ok(), Some(251), "{r}");
    let labels: Vec<String> = r
        .get_array("errorLabels")
        .map(|a| a.iter().filter_map(|l| l.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    assert_eq!(labels, vec!["TransientTransactionError".to_owned()]);
    assert_eq!(command(&mut s, 4, doc! { "count": "c", "$db": "test" }).await.get_i32("n").ok(), Some(0));
}

#[tokio::test]
async fn app_name_fail_point_matches_the_handshake_that_names_the_app() {
    let d = Deployment::start(Config::replica_set(1)).await.unwrap_or_else(|e| panic!("{e}"));
    let mut admin = connect(&host(&d)).await;
    let fp = command(
        &mut admin,
        1,
        doc! { "configureFailPoint": "failCommand", "mode": { "times": 1 },
        "data": { "failCommands": ["hello"], "errorCode": 91, "appName": "monitor-app" }, "$db": "admin" },
    )
    .await;
    assert_eq!(fp.get_f64("ok").ok(), Some(1.0), "{fp}");
    // Another application's handshake is not affected.
    let mut other = connect(&host(&d)).await;
    let hello = doc! { "hello": 1, "client": { "application": { "name": "other" } }, "$db": "admin" };
    assert_eq!(command(&mut other, 1, hello).await.get_f64("ok").ok(), Some(1.0));
    // The first handshake of the named application fails, on that very hello.
    let mut named = connect(&host(&d)).await;
    let hello = doc! { "hello": 1, "client": { "application": { "name": "monitor-app" } }, "$db": "admin" };
    let failed = command(&mut named, 1, hello).await;
    assert_eq!(failed.get_i32("code").ok(), Some(91), "{failed}");
}

/// Load balancer spec ("Connection Establishment", "Downstream Visible Behavioral Changes"):
/// through a load balancer the first hello must say `loadBalanced: true` and only it gets the
/// router's `serviceId`; a router reached directly ignores `loadBalanced`; the balancer in
/// front of both routers alternates between them; fail points set through it act on the
/// router behind it.
#[tokio::test]
async fn load_balancers_front_the_routers() {
    let d = Deployment::start(Config::load_balanced(2, 3)).await.unwrap_or_else(|e| panic!("{e}"));
    let balancers = d.load_balancer_hosts().to_vec();
    assert_eq!(balancers.len(), 2);
    assert_eq!(d.connection_string(), format!("mongodb://{}/?loadBalanced=true", balancers[0]));
    let hello = |lb: bool| match lb {
        true => doc! { "hello": 1, "loadBalanced": true, "$db": "admin" },
        false => doc! { "hello": 1, "$db": "admin" },
    };

    let mut plain = connect(&balancers[0]).await;
    let refused = command(&mut plain, 1, hello(false)).await;
    assert_eq!(
        (refused.get_i32("code").ok(), refused.get_str("codeName").ok()),
        (Some(354), Some("LoadBalancerSupportMismatch")),
        "{refused}"
    );

    let mut single = connect(&balancers[0]).await;
    let first = command(&mut single, 1, hello(true)).await;
    assert_eq!(first.get_str("msg").ok(), Some("isdbgrid"), "{first}");
    let service = first.get_object_id("serviceId").unwrap_or_else(|_| panic!("no serviceId: {first}"));
    let again = command(&mut single, 2, hello(true)).await;
    assert!(!again.contains_key("serviceId"), "only the initial hello reports the service: {again}");

    let mut direct = connect(&d.router_hosts()[0]).await;
    let ignored = command(&mut direct, 1, hello(true)).await;
    assert_eq!(ignored.get_f64("ok").ok(), Some(1.0));
    assert!(!ignored.contains_key("serviceId"), "{ignored}");

    let mut services = Vec::new();
    for _ in 0..2 {
        let mut s = connect(&balancers[1]).await;
        let reply = command(&mut s, 1, hello(true)).await;
        services.push(reply.get_object_id("serviceId").unwrap_or_else(|_| panic!("{reply}")));
    }
    assert_ne!(services[0], services[1], "the second balancer alternates between the routers");
    assert!(services.contains(&service));

    let fp = command(
        &mut single,
        3,
        doc! { "configureFailPoint": "failCommand", "mode": { "times": 1 },
        "data": { "failCommands": ["ping"], "errorCode": 7 }, "$db": "admin" },
    )
    .await;
    assert_eq!(fp.get_f64("ok").ok(), Some(1.0), "{fp}");
    let failed = command(&mut direct, 2, doc! { "ping": 1, "$db": "admin" }).await;
    assert_eq!(failed.get_i32("code").ok(), Some(7), "the fail point is the first router's: {failed}");
}

#[tokio::test]
async fn failed_commands_carry_extra_info_and_write_concern_errors() {
    let d = Deployment::start(Config::replica_set(2)).await.unwrap_or_else(|e| panic!("{e}"));
    let mut s = connect(&d.member_hosts()[0]).await;
    command(&mut s, 1, doc! { "insert": "c", "documents": [{"_id": 1, "x": "foo"}], "$db": "t" }).await;
    let ix = doc! { "createIndexes": "c", "indexes": [{"key": {"x": 1}, "name": "x_1", "unique": true}], "$db": "t" };
    command(&mut s, 2, ix).await;
    // A DuplicateKey failing the whole command keeps keyPattern/keyValue (duplicate_key_error_info.cpp).
    let fam = command(
        &mut s,
        3,
        doc! { "findAndModify": "c", "query": {"_id": 2}, "update": {"$set": {"x": "foo"}}, "upsert": true, "$db": "t" },
    )
    .await;
    assert_eq!(fam.get_i32("code").ok(), Some(11000), "{fam}");
    assert_eq!(fam.get_document("keyPattern").ok(), Some(&doc! {"x": 1}), "{fam}");
    assert_eq!(fam.get_document("keyValue").ok(), Some(&doc! {"x": "foo"}), "{fam}");
    // $merge whenMatched: "fail" fails as the _id index does.
    let merge = command(
        &mut s,
        4,
        doc! { "aggregate": 1, "pipeline": [{"$documents": [{"_id": 1}]}, {"$merge": {"into": "c", "whenMatched": "fail"}}],
        "cursor": {}, "$db": "t" },
    )
    .await;
    assert_eq!(merge.get_i32("code").ok(), Some(11000), "{merge}");
    assert_eq!(merge.get_document("keyValue").ok(), Some(&doc! {"_id": 1}), "{merge}");
    // A failed write command still reports its unsatisfiable write concern
    // (jstests/replsets/noop_writes_wait_for_write_concern.js).
    let create = command(&mut s, 5, doc! { "create": "c", "writeConcern": {"w": 3}, "$db": "t" }).await;
    assert_eq!(create.get_i32("code").ok(), Some(48), "{create}");
    let wce = create.get_document("writeConcernError").ok().cloned().unwrap_or_default();
    assert_eq!(wce.get_i32("code").ok(), Some(100), "{create}");
}

#[tokio::test]
async fn awaitable_hello_argument_errors_use_mongod_codes() {
    let d = Deployment::start(Config::replica_set(1)).await.unwrap_or_else(|e| panic!("{e}"));
    let mut s = connect(&host(&d)).await;
    let first = command(&mut s, 1, doc! { "hello": 1, "$db": "admin" }).await;
    let tv = first.get_document("topologyVersion").ok().cloned().unwrap_or_default();
    let pid = tv.get_object_id("processId").unwrap_or_else(|e| panic!("{e}: {first}"));
    let code = |r: &Document| r.get_i32("code").ok();
    let r = command(&mut s, 2, doc! { "hello": 1, "topologyVersion": tv.clone(), "$db": "admin" }).await;
    assert_eq!(code(&r), Some(31368), "{r}");
    let r = command(&mut s, 3, doc! { "hello": 1, "maxAwaitTimeMS": 10, "$db": "admin" }).await;
    assert_eq!(code(&r), Some(31368), "{r}");
    let r = command(
        &mut s,
        4,
        doc! { "hello": 1, "topologyVersion": tv.clone(), "maxAwaitTimeMS": -1, "$db": "admin" },
    )
    .await;
    assert_eq!(code(&r), Some(31373), "{r}");
    let negative = doc! { "processId": pid, "counter": -1_i64 };
    let r = command(
        &mut s,
        5,
        doc! { "hello": 1, "topologyVersion": negative, "maxAwaitTimeMS": 10, "$db": "admin" },
    )
    .await;
    assert_eq!(code(&r), Some(31372), "{r}");
    let ahead = doc! { "processId": pid, "counter": 1000_i64 };
    let r = command(
        &mut s,
        6,
        doc! { "hello": 1, "topologyVersion": ahead, "maxAwaitTimeMS": 10, "$db": "admin" },
    )
    .await;
    assert_eq!(code(&r), Some(31382), "{r}");
    // Another process id (a restarted server) answers at once, without waiting.
    let other = doc! { "processId": bson::oid::ObjectId::new(), "counter": 0_i64 };
    let started = std::time::Instant::now();
    let r = command(
        &mut s,
        7,
        doc! { "hello": 1, "topologyVersion": other, "maxAwaitTimeMS": 5000, "$db": "admin" },
    )
    .await;
    assert_eq!(r.get_f64("ok").ok(), Some(1.0), "{r}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn not_primary_errors_carry_the_topology_version_from_4_4() {
    for (version, expected) in [(ServerVersion::V4_2, false), (ServerVersion::V4_4, true)] {
        let d = Deployment::start(Config::replica_set(2).with_version(version))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let mut s = connect(&host(&d)).await;
        // A failCommand NotPrimary error, a NotPrimary writeConcernError, and a shutdown
        // error (which carries none outside quiesce mode).
        for (i, (data, carries)) in [
            (doc! { "failCommands": ["insert"], "errorCode": 10107 }, expected),
            (
                doc! { "failCommands": ["insert"], "writeConcernError": { "code": 189, "errmsg": "x" } },
                expected,
            ),
            (doc! { "failCommands": ["insert"], "errorCode": 91 }, false),
        ]
        .into_iter()
        .enumerate()
        {
            let id = 10 * i as i32;
            let fp = command(
                &mut s,
                id + 1,
                doc! { "configureFailPoint": "failCommand", "mode": { "times": 1 }, "data": data, "$db": "admin" },
            )
            .await;
            assert_eq!(fp.get_f64("ok").ok(), Some(1.0), "{fp}");
            let r = command(&mut s, id + 2, doc! { "insert": "c", "documents": [{}], "$db": "test" }).await;
            assert_eq!(r.contains_key("topologyVersion"), carries, "{version:?}: {r}");
        }
        // A real NotPrimary refusal: a write on the secondary.
        let mut secondary = connect(&d.member_hosts()[1]).await;
        let r = command(&mut secondary, 1, doc! { "insert": "c", "documents": [{}], "$db": "test" }).await;
        assert_eq!(r.get_i32("code").ok(), Some(10107), "{r}");
        assert_eq!(r.contains_key("topologyVersion"), expected, "{version:?}: {r}");
    }
}
