//! Connections and the MongoDB handshake against the simulated deployment and against fake
//! servers (tokio listeners speaking just enough wire protocol, or garbage).

use std::future::Future;
use std::time::Duration;

use bson::{Document, doc};
use mongo_driver::ErrorKind;
use mongo_driver::connection::{CommandMessage, Connection, ConnectionOptions, ServerApi};
use mongo_driver::sdam::{ServerAddress, ServerType};
use mongo_driver::wire::{self, Message, OpMsg, OpReply};
use mongo_sim::{Config, Deployment, ServerVersion};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const LIMIT: Duration = Duration::from_secs(20);

async fn start(config: Config) -> Deployment {
    Deployment::start(config).await.expect("the simulator starts")
}

fn address(host: &str) -> ServerAddress {
    host.parse().expect("the simulator's host parses")
}

async fn connect(host: &str, options: &ConnectionOptions) -> mongo_driver::Result<Connection> {
    tokio::time::timeout(LIMIT, Connection::connect(address(host), options, 1, 0)).await.expect("no hang")
}

async fn run(conn: &mut Connection, db: &str, body: Document) -> mongo_driver::Result<Document> {
    tokio::time::timeout(LIMIT, conn.send_command(CommandMessage::new(db, body))).await.expect("no hang")
}

/// A fake server on 127.0.0.1 handling each accepted stream with `serve`.
async fn fake_server<F, Fut>(serve: F) -> String
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let host = listener.local_addr().expect("local address").to_string();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream));
        }
    });
    host
}

fn hello_reply() -> Document {
    doc! {
        "helloOk": true, "isWritablePrimary": true, "maxBsonObjectSize": 1000,
        "maxMessageSizeBytes": 100_000, "maxWriteBatchSize": 10, "minWireVersion": 0,
        "maxWireVersion": 21, "connectionId": 5, "ok": 1.0,
    }
}

/// Reads one request with the driver's codec (the fake servers are test code).
async fn read_request(stream: &mut TcpStream) -> Option<(wire::Header, Message)> {
    wire::read_message(stream, 1 << 20).await.ok()
}

async fn send(stream: &mut TcpStream, message: Message, response_to: i32) {
    let bytes = message.encode(wire::next_request_id(), response_to).expect("encode");
    let _ = stream.write_all(&bytes).await;
}

#[tokio::test]
async fn handshake_and_ping_with_a_standalone() {
    let sim = start(Config::standalone()).await;
    let host = &sim.member_hosts()[0];
    let mut conn = connect(host, &ConnectionOptions::default()).await.expect("handshake");
    assert_eq!((conn.id(), conn.generation()), (1, 0));
    assert_eq!(conn.address(), &address(host));
    let description = conn.stream_description().expect("handshaken").clone();
    assert_eq!(description.server_type, ServerType::Standalone);
    assert_eq!(description.max_wire_version, ServerVersion::V7_0.max_wire_version());
    assert_eq!(description.max_bson_object_size, 16 * 1024 * 1024);
    assert_eq!(description.max_message_size_bytes, 48_000_000);
    assert_eq!(description.max_write_batch_size, 100_000);
    assert!(description.hello_ok, "legacy hello with helloOk: true to a 7.0 server");
    assert!(description.server_connection_id.is_some());
    assert!(description.topology_version.is_some());
    assert!(conn.handshake_round_trip_time().is_some());
    let server = conn.handshake_server_description().expect("parsed");
    assert_eq!(server.server_type, ServerType::Standalone);
    assert!(server.average_round_trip_time.is_some());

    let reply = run(&mut conn, "admin", doc! {"ping": 1}).await.expect("ping");
    assert_eq!(reply.get_f64("ok").ok(), Some(1.0), "{reply}");
    assert!(!conn.is_broken());
    // An `ok: 0` reply is returned, not turned into an error, and leaves the connection usable.
    let reply = run(&mut conn, "admin", doc! {"noSuchCommand": 1}).await.expect("a reply");
    let error = mongo_driver::Error::from_reply(&reply).expect("ok: 0");
    assert_eq!(error.code(), Some(59));
    assert!(!conn.is_broken());
    let reply = run(&mut conn, "admin", doc! {"ping": 1}).await.expect("ping again");
    assert_eq!(reply.get_f64("ok").ok(), Some(1.0));
}

#[tokio::test]
async fn the_server_records_the_application_name() {
    let sim = start(Config::standalone()).await;
    let host = &sim.member_hosts()[0];
    let mut options = ConnectionOptions::default();
    options.metadata.application_name = Some("conn-test-app".into());
    let mut conn = connect(host, &options).await.expect("handshake");
    // A fail point limited to this application name fails only this client's commands.
    let fail = doc! {
        "configureFailPoint": "failCommand", "mode": {"times": 1},
        "data": {"failCommands": ["ping"], "errorCode": 2, "appName": "conn-test-app"},
    };
    let mut other = connect(host, &ConnectionOptions::default()).await.expect("handshake");
    run(&mut other, "admin", fail).await.expect("fail point set");
    let reply = run(&mut other, "admin", doc! {"ping": 1}).await.expect("ping");
    assert_eq!(reply.get_f64("ok").ok(), Some(1.0), "another app name is not affected");
    let reply = run(&mut conn, "admin", doc! {"ping": 1}).await.expect("ping");
    assert_eq!(mongo_driver::Error::from_reply(&reply).and_then(|e| e.code()), Some(2), "{reply}");
}

#[tokio::test]
async fn handshake_with_replica_set_members() {
    let sim = start(Config::replica_set(3)).await;
    let hosts = sim.member_hosts();
    let primary = sim.primary_host().expect("a primary");
    for host in &hosts {
        let conn = connect(host, &ConnectionOptions::default()).await.expect("handshake");
        let server = conn.handshake_server_description().expect("parsed");
        let expected = if *host == primary { ServerType::RsPrimary } else { ServerType::RsSecondary };
        assert_eq!(server.server_type, expected, "{host}");
        assert_eq!(conn.stream_description().expect("handshaken").server_type, expected);
        assert_eq!(server.set_name.as_deref(), Some("rs0"));
        let listed: Vec<ServerAddress> = hosts.iter().map(|h| address(h)).collect();
        assert_eq!(server.hosts, listed);
        assert_eq!(server.me, Some(address(host)));
        assert_eq!(server.primary, Some(address(&primary)));
    }
    // Document sequences (kind-1 sections) reach the server.
    let mut conn = connect(&primary, &ConnectionOptions::default()).await.expect("handshake");
    let insert = CommandMessage::new("db", doc! {"insert": "coll"})
        .with_sequence("documents", vec![doc! {"_id": 1}, doc! {"_id": 2}]);
    let reply = conn.send_command(insert).await.expect("insert");
    assert_eq!(reply.get_i32("n").ok(), Some(2), "{reply}");
    let reply = run(&mut conn, "db", doc! {"count": "coll"}).await.expect("count");
    assert_eq!(reply.get_i32("n").ok(), Some(2), "{reply}");
}

#[tokio::test]
async fn legacy_handshake_is_op_query_and_later_commands_op_msg() {
    let host = fake_server(|mut stream| async move {
        let Some((header, Message::Query(query))) = read_request(&mut stream).await else { return };
        assert_eq!(query.full_collection_name, "admin.$cmd");
        assert_eq!(query.number_to_return, -1);
        let keys: Vec<&str> = query.query.keys().map(String::as_str).collect();
        assert_eq!(keys, ["isMaster", "client", "helloOk"], "{}", query.query);
        let client = query.query.get_document("client").expect("client metadata");
        assert_eq!(client.get_document("driver").and_then(|d| d.get_str("name")).ok(), Some("mongo-driver"));
        assert!(client.get_document("os").and_then(|d| d.get_str("type")).is_ok());
        let reply =
            OpReply { response_flags: 0, cursor_id: 0, starting_from: 0, documents: vec![hello_reply()] };
        send(&mut stream, Message::Reply(reply), header.request_id).await;
        // The next command must be an OP_MSG.
        let Some((header, Message::Msg(msg))) = read_request(&mut stream).await else { return };
        let answer = if msg.body == doc! {"ping": 1, "$db": "admin"} {
            doc! {"ok": 1.0, "pong": true}
        } else {
            doc! {"ok": 0.0, "errmsg": format!("unexpected {}", msg.body)}
        };
        send(&mut stream, Message::Msg(OpMsg::new(answer)), header.request_id).await;
    })
    .await;
    let mut conn = connect(&host, &ConnectionOptions::default()).await.expect("handshake");
    let description = conn.stream_description().expect("handshaken");
    assert_eq!(
        (
            description.max_bson_object_size,
            description.max_message_size_bytes,
            description.max_write_batch_size
        ),
        (1000, 100_000, 10)
    );
    assert_eq!(description.server_connection_id, Some(5));
    let reply = run(&mut conn, "admin", doc! {"ping": 1}).await.expect("ping");
    assert_eq!(reply, doc! {"ok": 1.0, "pong": true});
}

#[tokio::test]
async fn stable_api_handshake_is_hello_over_op_msg() {
    // A 4.0 server has no `hello` command: the legacy handshake works, an API-versioned one
    // (which must use `hello`) is refused.
    let sim = start(Config::standalone().with_version(ServerVersion::V4_0)).await;
    let host = &sim.member_hosts()[0];
    let conn = connect(host, &ConnectionOptions::default()).await.expect("legacy handshake");
    assert!(!conn.stream_description().expect("handshaken").hello_ok, "4.0 does not know helloOk");
    let api = ServerApi { version: "1".into(), strict: None, deprecation_errors: None };
    let options = ConnectionOptions { server_api: Some(api.clone()), ..ConnectionOptions::default() };
    let error = connect(host, &options).await.expect_err("no hello on 4.0");
    assert_eq!(error.code(), Some(59), "{error}");

    let sim = start(Config::standalone()).await;
    let mut conn = connect(&sim.member_hosts()[0], &options).await.expect("hello handshake");
    let mut ping = doc! {"ping": 1};
    api.apply(&mut ping);
    let reply = run(&mut conn, "admin", ping).await.expect("ping");
    assert_eq!(reply.get_f64("ok").ok(), Some(1.0), "{reply}");
}

#[tokio::test]
async fn load_balanced_needs_a_service_id() {
    let sim = start(Config::standalone()).await;
    let options = ConnectionOptions { load_balanced: true, ..ConnectionOptions::default() };
    let error = connect(&sim.member_hosts()[0], &options).await.expect_err("no serviceId");
    assert!(matches!(*error.kind, ErrorKind::InvalidResponse { .. }), "{error}");
    assert!(error.to_string().contains("serviceId"), "{error}");
}

#[tokio::test]
async fn failed_handshake_is_a_command_error() {
    let sim = start(Config::standalone()).await;
    let host = &sim.member_hosts()[0];
    let mut admin = connect(host, &ConnectionOptions::default()).await.expect("handshake");
    let fail = doc! {
        "configureFailPoint": "failCommand", "mode": {"times": 1},
        "data": {"failCommands": ["isMaster", "hello"], "errorCode": 11600},
    };
    run(&mut admin, "admin", fail).await.expect("fail point set");
    let error = connect(host, &ConnectionOptions::default()).await.expect_err("the handshake fails");
    assert!(matches!(*error.kind, ErrorKind::Command { code: 11600, .. }), "{error}");
    connect(host, &ConnectionOptions::default()).await.expect("only once");
}

#[tokio::test]
async fn closed_sockets_are_io_errors() {
    // Nobody listening.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let host = listener.local_addr().expect("address").to_string();
    drop(listener);
    let error = connect(&host, &ConnectionOptions::default()).await.expect_err("refused");
    assert!(error.is_network_error(), "{error}");

    // A server that closes the connection at once.
    let host = fake_server(|stream| async move { drop(stream) }).await;
    let error = connect(&host, &ConnectionOptions::default()).await.expect_err("closed");
    assert!(error.is_network_error(), "{error}");

    // A connection the server closes while a command runs.
    let sim = start(Config::standalone()).await;
    let mut conn = connect(&sim.member_hosts()[0], &ConnectionOptions::default()).await.expect("handshake");
    let fail = doc! {
        "configureFailPoint": "failCommand", "mode": {"times": 1},
        "data": {"failCommands": ["ping"], "closeConnection": true},
    };
    run(&mut conn, "admin", fail).await.expect("fail point set");
    let error = run(&mut conn, "admin", doc! {"ping": 1}).await.expect_err("closed");
    assert!(error.is_network_error(), "{error}");
    assert!(conn.is_broken());
    let error = run(&mut conn, "admin", doc! {"ping": 1}).await.expect_err("still broken");
    assert!(error.is_network_error(), "{error}");
}

#[tokio::test]
async fn garbage_is_an_invalid_response() {
    // An HTTP server: its reply's first four bytes announce a huge message.
    let host = fake_server(|mut stream| async move {
        let mut buf = [0u8; 64];
        let _ = stream.read(&mut buf).await;
        let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n").await;
        let _ = stream.read(&mut buf).await;
    })
    .await;
    let error = connect(&host, &ConnectionOptions::default()).await.expect_err("garbage");
    assert!(matches!(*error.kind, ErrorKind::InvalidResponse { .. }), "{error}");

    // A well-framed message with an unknown opcode.
    let host = fake_server(|mut stream| async move {
        let Some((header, _)) = read_request(&mut stream).await else { return };
        let mut bytes = Vec::new();
        for v in [20i32, 1, header.request_id, 9999] {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        bytes.extend_from_slice(&[0; 4]);
        let _ = stream.write_all(&bytes).await;
        let mut buf = [0u8; 1];
        let _ = stream.read(&mut buf).await;
    })
    .await;
    let error = connect(&host, &ConnectionOptions::default()).await.expect_err("garbage");
    assert!(matches!(*error.kind, ErrorKind::InvalidResponse { .. }), "{error}");

    // A reply to another request.
    let host = fake_server(|mut stream| async move {
        let Some((header, _)) = read_request(&mut stream).await else { return };
        let reply =
            OpReply { response_flags: 0, cursor_id: 0, starting_from: 0, documents: vec![hello_reply()] };
        send(&mut stream, Message::Reply(reply), header.request_id.wrapping_add(1000)).await;
        let mut buf = [0u8; 1];
        let _ = stream.read(&mut buf).await;
    })
    .await;
    let error = connect(&host, &ConnectionOptions::default()).await.expect_err("wrong responseTo");
    assert!(matches!(*error.kind, ErrorKind::InvalidResponse { .. }), "{error}");
    assert!(error.to_string().contains("answers request"), "{error}");
}

#[tokio::test]
async fn garbage_after_the_handshake_breaks_the_connection() {
    let host = fake_server(|mut stream| async move {
        let Some((header, _)) = read_request(&mut stream).await else { return };
        let reply =
            OpReply { response_flags: 0, cursor_id: 0, starting_from: 0, documents: vec![hello_reply()] };
        send(&mut stream, Message::Reply(reply), header.request_id).await;
        let Some((header, _)) = read_request(&mut stream).await else { return };
        // An OP_REPLY to an OP_MSG.
        let reply =
            OpReply { response_flags: 0, cursor_id: 0, starting_from: 0, documents: vec![doc! {"ok": 1}] };
        send(&mut stream, Message::Reply(reply), header.request_id).await;
        let mut buf = [0u8; 1];
        let _ = stream.read(&mut buf).await;
    })
    .await;
    let mut conn = connect(&host, &ConnectionOptions::default()).await.expect("handshake");
    let error = run(&mut conn, "admin", doc! {"ping": 1}).await.expect_err("wrong kind");
    assert!(matches!(*error.kind, ErrorKind::InvalidResponse { .. }), "{error}");
    assert!(conn.is_broken());
}

#[tokio::test]
async fn timeouts_are_network_errors() {
    // A server that accepts but never answers: connectTimeoutMS bounds the handshake.
    let silent = fake_server(|mut stream| async move {
        let mut buf = [0u8; 1024];
        while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
    })
    .await;
    let options = ConnectionOptions {
        connect_timeout: Some(Duration::from_millis(200)),
        ..ConnectionOptions::default()
    };
    let error = connect(&silent, &options).await.expect_err("timed out");
    assert!(error.is_network_error(), "{error}");
    assert!(error.to_string().contains("timed out"), "{error}");

    // socketTimeoutMS bounds later commands.
    let host = fake_server(|mut stream| async move {
        let Some((header, _)) = read_request(&mut stream).await else { return };
        let reply =
            OpReply { response_flags: 0, cursor_id: 0, starting_from: 0, documents: vec![hello_reply()] };
        send(&mut stream, Message::Reply(reply), header.request_id).await;
        let mut buf = [0u8; 1024];
        while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
    })
    .await;
    let options = ConnectionOptions {
        socket_timeout: Some(Duration::from_millis(200)),
        ..ConnectionOptions::default()
    };
    let mut conn = connect(&host, &options).await.expect("handshake");
    let error = run(&mut conn, "admin", doc! {"ping": 1}).await.expect_err("timed out");
    assert!(error.is_network_error(), "{error}");
    assert!(conn.is_broken());

    // A command abandoned by its caller midway leaves the connection broken.
    let mut conn = connect(&host, &ConnectionOptions::default()).await.expect("handshake");
    assert!(!conn.is_broken());
    let abandoned = tokio::time::timeout(
        Duration::from_millis(100),
        conn.send_command(CommandMessage::new("admin", doc! {"ping": 1})),
    )
    .await;
    assert!(abandoned.is_err(), "the fake server never answers");
    assert!(conn.is_broken());
}

#[tokio::test]
async fn oversized_commands_are_refused_unsent() {
    let host = fake_server(|mut stream| async move {
        let Some((header, _)) = read_request(&mut stream).await else { return };
        let reply =
            OpReply { response_flags: 0, cursor_id: 0, starting_from: 0, documents: vec![hello_reply()] };
        send(&mut stream, Message::Reply(reply), header.request_id).await;
        while let Some((header, Message::Msg(_))) = read_request(&mut stream).await {
            send(&mut stream, Message::Msg(OpMsg::new(doc! {"ok": 1.0})), header.request_id).await;
        }
    })
    .await;
    let mut conn = connect(&host, &ConnectionOptions::default()).await.expect("handshake");
    // The fake server's maxMessageSizeBytes is 100,000.
    let big = doc! {"insert": "c", "documents": [{"x": "y".repeat(200_000)}]};
    let error = run(&mut conn, "db", big).await.expect_err("too large");
    assert!(matches!(*error.kind, ErrorKind::InvalidArgument { .. }), "{error}");
    assert!(!conn.is_broken(), "nothing was written");
    let no_db = CommandMessage { body: doc! {"ping": 1}, sequences: Vec::new() };
    let error = conn.send_command(no_db).await.expect_err("no $db");
    assert!(matches!(*error.kind, ErrorKind::InvalidArgument { .. }), "{error}");
    let reply = run(&mut conn, "admin", doc! {"ping": 1}).await.expect("still usable");
    assert_eq!(reply, doc! {"ok": 1.0});
}

#[tokio::test]
async fn the_callers_request_id_goes_on_the_wire() {
    let host = fake_server(|mut stream| async move {
        let Some((header, Message::Query(_))) = read_request(&mut stream).await else { return };
        let reply =
            OpReply { response_flags: 0, cursor_id: 0, starting_from: 0, documents: vec![hello_reply()] };
        send(&mut stream, Message::Reply(reply), header.request_id).await;
        let Some((header, Message::Msg(_))) = read_request(&mut stream).await else { return };
        let answer = doc! {"ok": 1.0, "requestId": header.request_id};
        send(&mut stream, Message::Msg(OpMsg::new(answer)), header.request_id).await;
    })
    .await;
    let mut conn = connect(&host, &ConnectionOptions::default()).await.expect("handshake");
    let id = wire::next_request_id();
    let sent = conn.send_command_with_id(CommandMessage::new("admin", doc! {"ping": 1}), id);
    let reply = tokio::time::timeout(LIMIT, sent).await.expect("no hang").expect("ping");
    assert_eq!(reply.get_i32("requestId").ok(), Some(id), "{reply}");
}
