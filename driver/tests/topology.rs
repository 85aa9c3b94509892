//! The topology runtime against the simulated deployment: discovery from one seed,
//! finding the new primary after a step-down (with and without a pool clear, by server
//! version), the server selection timeout error, and shutdown.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bson::{Document, doc};
use mongo_driver::connection::{CommandMessage, Connection, ConnectionOptions};
use mongo_driver::error::ErrorKind;
use mongo_driver::event::cmap::{CmapEvent, CmapEventKind};
use mongo_driver::event::sdam::SdamEvent;
use mongo_driver::sdam::{ServerAddress, ServerType, TopologyType};
use mongo_driver::selection::{ReadPreference, TagSet};
use mongo_driver::topology::{EventHandlers, SelectionCriteria, Topology};
use mongo_driver::{Error, Result};
use mongo_sim::{Config, Deployment, ServerVersion};

const LIMIT: Duration = Duration::from_secs(10);

async fn start(config: Config) -> Deployment {
    Deployment::start(config).await.expect("the simulator starts")
}

fn address(host: &str) -> ServerAddress {
    host.parse().expect("the simulator's host parses")
}

/// Every SDAM and CMAP event a topology published, in order.
#[derive(Clone, Default)]
struct Recorded {
    sdam: Arc<Mutex<Vec<SdamEvent>>>,
    cmap: Arc<Mutex<Vec<CmapEvent>>>,
}

impl Recorded {
    fn handlers(&self) -> EventHandlers {
        let sdam = self.sdam.clone();
        let cmap = self.cmap.clone();
        EventHandlers {
            sdam: Some(Arc::new(move |e: &SdamEvent| sdam.lock().expect("not poisoned").push(e.clone()))),
            cmap: Some(Arc::new(move |e: &CmapEvent| cmap.lock().expect("not poisoned").push(e.clone()))),
        }
    }

    fn cmap_of(&self, kind: CmapEventKind, address: &ServerAddress) -> usize {
        let events = self.cmap.lock().expect("not poisoned");
        events.iter().filter(|e| e.kind() == kind && e.address() == address).count()
    }
}

/// A topology on `uri` plus extra options, recording its events.
fn topology(uri: &str, extra: &str) -> (Topology, Recorded) {
    let recorded = Recorded::default();
    let separator = if uri.contains('?') { "&" } else { "?" };
    let uri = format!("{uri}{separator}heartbeatFrequencyMS=500&serverSelectionTimeoutMS=5000{extra}");
    let topology = Topology::from_uri(&uri, recorded.handlers()).expect("the topology starts");
    (topology, recorded)
}

/// Polls the topology description until `done` holds.
async fn wait_until(
    topology: &Topology,
    what: &str,
    done: impl Fn(&mongo_driver::sdam::TopologyDescription) -> bool,
) {
    let started = Instant::now();
    loop {
        if done(&topology.description()) {
            return;
        }
        assert!(started.elapsed() < LIMIT, "{what}: still {:?}", topology.description());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs `body` on a fresh connection to `host`.
async fn command(host: &str, body: Document) -> Document {
    let mut conn =
        Connection::connect(address(host), &ConnectionOptions::default(), 1, 0).await.expect("connect");
    conn.send_command(CommandMessage::new("admin", body)).await.expect("a reply")
}

/// Sends `body` on `conn`, turning an `ok: 0` reply into its error.
async fn run(conn: &mut Connection, db: &str, body: Document) -> Result<Document> {
    let reply = conn.send_command(CommandMessage::new(db, body)).await?;
    match Error::from_reply(&reply) {
        Some(error) => Err(error),
        None => Ok(reply),
    }
}

#[tokio::test]
async fn discovers_every_member_from_one_seed() {
    let sim = start(Config::replica_set(3)).await;
    let hosts = sim.member_hosts();
    let (topology, recorded) = topology(&format!("mongodb://{}/?replicaSet=rs0", hosts[0]), "");
    wait_until(&topology, "three known members", |d| {
        d.topology_type == TopologyType::ReplicaSetWithPrimary
            && d.servers.len() == 3
            && d.servers().all(|s| matches!(s.server_type, ServerType::RsPrimary | ServerType::RsSecondary))
    })
    .await;
    let members: Vec<ServerAddress> = topology.description().servers.keys().cloned().collect();
    let mut expected: Vec<ServerAddress> = hosts.iter().map(|h| address(h)).collect();
    expected.sort();
    assert_eq!(members, expected);
    // Every discovered server got a pool (and a ServerOpening event).
    for member in &expected {
        assert!(topology.pool(member).is_some(), "{member}");
    }
    let opened = recorded
        .sdam
        .lock()
        .expect("not poisoned")
        .iter()
        .filter(|e| matches!(e, SdamEvent::ServerOpening(_)))
        .count();
    assert_eq!(opened, 3);
    let primary = sim.primary_host().expect("a primary");
    let selected = topology.select_server(&SelectionCriteria::Write).await.expect("a primary");
    assert_eq!(selected.address(), &address(&primary));
    let secondary = topology
        .select_server(&SelectionCriteria::Read(ReadPreference::secondary()))
        .await
        .expect("a secondary");
    assert_ne!(secondary.address(), &address(&primary));
    assert_eq!(secondary.description().server_type, ServerType::RsSecondary);
    // A selected server's pool is ready: a connection runs a command.
    let mut conn = topology.check_out(&selected).await.expect("a connection");
    let reply = run(&mut conn, "admin", doc! { "ping": 1 }).await.expect("ping");
    assert_eq!(reply.get_f64("ok").ok(), Some(1.0));
    drop(conn);
    topology.shutdown().await;
}

#[tokio::test]
async fn step_down_on_4_2_plus_keeps_the_pool() {
    let sim = start(Config::replica_set(3).with_version(ServerVersion::V4_4)).await;
    let (topology, recorded) = topology(sim.connection_string(), "&retryWrites=false");
    let old = topology.select_server(&SelectionCriteria::Write).await.expect("a primary");
    let old_address = old.address().clone();
    let mut conn = topology.check_out(&old).await.expect("a connection");
    let first_id = conn.id();
    let docs: Vec<Document> = (0..5).map(|i| doc! { "test": i }).collect();
    run(&mut conn, "step-down", doc! { "insert": "step-down", "documents": docs })
        .await
        .expect("the first insert");
    // The seed's "getMore Iteration": a cursor opened before the step-down keeps working.
    let found =
        run(&mut conn, "step-down", doc! { "find": "step-down", "batchSize": 2 }).await.expect("find");
    let cursor_id = found.get_document("cursor").and_then(|c| c.get_i64("id")).expect("a cursor id");
    assert_ne!(cursor_id, 0);
    let reply = command(&old_address.to_string(), doc! { "replSetStepDown": 5, "force": true }).await;
    assert_eq!(reply.get_f64("ok").ok(), Some(1.0), "{reply}");
    let next =
        run(&mut conn, "step-down", doc! { "getMore": cursor_id, "collection": "step-down", "batchSize": 2 })
            .await
            .expect("getMore after the step-down");
    let batch = next.get_document("cursor").and_then(|c| c.get_array("nextBatch")).expect("a batch");
    assert_eq!(batch.len(), 2);
    let error = run(&mut conn, "step-down", doc! { "insert": "step-down", "documents": [{ "test": 6 }] })
        .await
        .expect_err("the old primary refuses writes");
    assert_eq!(error.code(), Some(10107), "{error}");
    let action = topology.handle_connection_error(&conn, &error);
    assert!(!action.clear_pool, "{action:?}");
    drop(conn);
    drop(old);
    let new = wait_for_new_primary(&topology, &old_address).await;
    assert_ne!(new, old_address);
    assert_eq!(sim.primary_host().map(|h| address(&h)), Some(new));
    // No pool clear: the old primary's pool keeps generation 0 and its connection.
    assert_eq!(topology.pool_generation(&old_address), Some(0));
    assert_eq!(recorded.cmap_of(CmapEventKind::PoolCleared, &old_address), 0);
    let read = topology
        .select_server(&SelectionCriteria::Read(ReadPreference::nearest()))
        .await
        .expect("any member");
    drop(read);
    let pool = topology.pool(&old_address).expect("still a member");
    let again = pool.check_out().await.expect("the old connection");
    assert_eq!(again.id(), first_id, "the connection survived the step-down");
    assert_eq!(recorded.cmap_of(CmapEventKind::ConnectionCreated, &old_address), 1);
    drop(again);
    topology.shutdown().await;
}

#[tokio::test]
async fn step_down_on_4_0_clears_the_pool() {
    let sim = start(Config::replica_set(3).with_version(ServerVersion::V4_0)).await;
    let (topology, recorded) = topology(sim.connection_string(), "&retryWrites=false");
    let old = topology.select_server(&SelectionCriteria::Write).await.expect("a primary");
    let old_address = old.address().clone();
    let mut conn = topology.check_out(&old).await.expect("a connection");
    run(&mut conn, "step-down", doc! { "insert": "step-down", "documents": [{ "test": 0 }] })
        .await
        .expect("the first insert");
    assert_eq!(recorded.cmap_of(CmapEventKind::PoolCleared, &old_address), 0);
    // 4.0 closes every connection on step-down, possibly before the reply: not checked.
    let mut admin =
        Connection::connect(old_address.clone(), &ConnectionOptions::default(), 1, 0).await.expect("connect");
    let _ =
        admin.send_command(CommandMessage::new("admin", doc! { "replSetStepDown": 5, "force": true })).await;
    let error = run(&mut conn, "step-down", doc! { "insert": "step-down", "documents": [{ "test": 1 }] })
        .await
        .expect_err("the old primary refuses writes");
    // A network error (the closed connection) or NotWritablePrimary from a pre-4.2 server:
    // either way the pool is cleared.
    assert!(error.is_network_error() || error.code() == Some(10107), "{error}");
    topology.handle_connection_error(&conn, &error);
    drop(conn);
    drop(old);
    let new = wait_for_new_primary(&topology, &old_address).await;
    assert_eq!(sim.primary_host().map(|h| address(&h)), Some(new));
    assert!(topology.pool_generation(&old_address).is_some_and(|g| g >= 1));
    assert!(recorded.cmap_of(CmapEventKind::PoolCleared, &old_address) >= 1);
    let pool = topology.pool(&old_address).expect("still a member");
    assert!(pool.status().generation >= 1);
    topology.shutdown().await;
}

/// A state-change error (by fail point, no step-down) clears the pool of a pre-4.2 server,
/// and of any server when it is shutting down (SDAM "Not writable primary and node is
/// recovering"; the 2022 connections-survive-step-down tests "Not Primary - Keep/Reset
/// Connection Pool", "Shutdown in progress" and "Interrupted at shutdown - Reset Connection
/// Pool": 11600 resets the pool on every version, unlike in the older seed text).
#[tokio::test]
async fn state_change_errors_clear_the_pool_before_4_2_or_on_shutdown() {
    let cases = [
        (ServerVersion::V4_0, 10107, true),
        (ServerVersion::V4_2, 10107, false),
        (ServerVersion::V4_0, 11600, true),
        (ServerVersion::V4_4, 11600, true),
        (ServerVersion::V4_4, 91, true),
    ];
    for (version, code, clears) in cases {
        let sim = start(Config::replica_set(1).with_version(version)).await;
        let (topology, recorded) = topology(sim.connection_string(), "&retryWrites=false");
        let server = topology.select_server(&SelectionCriteria::Write).await.expect("a primary");
        let primary = server.address().clone();
        let fail = doc! { "configureFailPoint": "failCommand", "mode": { "times": 1 },
        "data": { "failCommands": ["insert"], "errorCode": code } };
        let reply = command(&primary.to_string(), fail).await;
        assert_eq!(reply.get_f64("ok").ok(), Some(1.0), "{reply}");
        let mut conn = topology.check_out(&server).await.expect("a connection");
        let error = run(&mut conn, "db", doc! { "insert": "c", "documents": [{ "x": 1 }] })
            .await
            .expect_err("the fail point");
        assert_eq!(error.code(), Some(code), "{error}");
        let action = topology.handle_connection_error(&conn, &error);
        assert!(action.mark_unknown && action.request_check, "{version:?} {code}: {action:?}");
        assert_eq!(action.clear_pool, clears, "{version:?} {code}");
        assert_eq!(recorded.cmap_of(CmapEventKind::PoolCleared, &primary), usize::from(clears));
        assert_eq!(topology.pool_generation(&primary), Some(u32::from(clears)));
        drop(conn);
        drop(server);
        // The requested check finds the primary again.
        let again = topology.select_server(&SelectionCriteria::Write).await.expect("the primary again");
        assert_eq!(again.address(), &primary);
        let mut conn = topology.check_out(&again).await.expect("a connection");
        run(&mut conn, "db", doc! { "insert": "c", "documents": [{ "x": 2 }] })
            .await
            .expect("the next insert");
        drop(conn);
        drop(again);
        topology.shutdown().await;
    }
}

async fn wait_for_new_primary(topology: &Topology, old: &ServerAddress) -> ServerAddress {
    let started = Instant::now();
    loop {
        let new = topology.select_server(&SelectionCriteria::Write).await.expect("a primary");
        if new.address() != old {
            return new.address().clone();
        }
        assert!(started.elapsed() < LIMIT, "the old primary is still selected");
        drop(new);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn selection_timeout_names_the_read_preference_and_the_topology() {
    let sim = start(Config::replica_set(3)).await;
    let (topology, _) = topology(sim.connection_string(), "");
    drop(topology.select_server(&SelectionCriteria::Write).await.expect("a primary"));
    wait_until(&topology, "all members known", |d| d.servers().all(|s| s.server_type != ServerType::Unknown))
        .await;
    let rp = ReadPreference::secondary().with_tag_sets([TagSet::from_iter([("dc", "mars")])]);
    let started = Instant::now();
    let error = topology
        .select_server_within(&SelectionCriteria::Read(rp), Duration::from_millis(300))
        .await
        .expect_err("no member is tagged dc: mars");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(300) && waited < Duration::from_secs(3), "{waited:?}");
    let ErrorKind::ServerSelection { message } = &*error.kind else { panic!("{error:?}") };
    for part in ["secondary", "mars", "300 ms", "ReplicaSetWithPrimary", "RSPrimary", "RSSecondary"] {
        assert!(message.contains(part), "`{part}` missing from: {message}");
    }
    for host in sim.member_hosts() {
        assert!(message.contains(&host), "{host} missing from: {message}");
    }
    topology.shutdown().await;
    let closed = topology.select_server(&SelectionCriteria::Write).await.expect_err("shut down");
    assert!(matches!(*closed.kind, ErrorKind::ServerSelection { .. }), "{closed}");
}

#[tokio::test]
async fn invalid_read_preference_fails_at_once() {
    let sim = start(Config::replica_set(1)).await;
    let (topology, _) = topology(sim.connection_string(), "");
    // A max staleness below 90 seconds is invalid.
    let rp = ReadPreference::secondary().with_max_staleness_seconds(10);
    let started = Instant::now();
    let error = topology.select_server(&SelectionCriteria::Read(rp)).await.expect_err("invalid");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(!matches!(*error.kind, ErrorKind::ServerSelection { .. }), "{error}");
    topology.shutdown().await;
}

/// `serverStatus.connections.current` of each member, counted on one connection per member
/// (the counting connection is included).
async fn connection_counts(counters: &mut [(String, Connection)]) -> Vec<i64> {
    let mut out = Vec::new();
    for (_, conn) in counters.iter_mut() {
        let reply = conn
            .send_command(CommandMessage::new("admin", doc! { "serverStatus": 1 }))
            .await
            .expect("serverStatus");
        let current = reply.get_document("connections").ok().and_then(|c| c.get_i32("current").ok());
        out.push(i64::from(current.expect("connections.current")));
    }
    out
}

async fn counters(sim: &Deployment) -> Vec<(String, Connection)> {
    let mut out = Vec::new();
    for (i, host) in sim.member_hosts().into_iter().enumerate() {
        let conn = Connection::connect(address(&host), &ConnectionOptions::default(), 100 + i as u32, 0)
            .await
            .expect("connect");
        out.push((host, conn));
    }
    out
}

async fn wait_for_counts(counters: &mut [(String, Connection)], expected: &[i64]) {
    let started = Instant::now();
    loop {
        let counts = connection_counts(counters).await;
        if counts == expected {
            return;
        }
        assert!(started.elapsed() < LIMIT, "connections {counts:?}, expected {expected:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn shutdown_leaves_no_connections_or_events_behind() {
    let sim = start(Config::replica_set(3)).await;
    let mut counters = counters(&sim).await;
    let baseline = connection_counts(&mut counters).await;
    let (topology, recorded) = topology(sim.connection_string(), "&minPoolSize=1");
    let selected = topology.select_server(&SelectionCriteria::Write).await.expect("a primary");
    let mut conn = topology.check_out(&selected).await.expect("a connection");
    run(&mut conn, "admin", doc! { "ping": 1 }).await.expect("ping");
    drop(conn);
    drop(selected);
    wait_until(&topology, "all members known", |d| d.servers().all(|s| s.server_type != ServerType::Unknown))
        .await;
    let open = connection_counts(&mut counters).await;
    assert!(open.iter().zip(&baseline).all(|(o, b)| o > b), "monitors connected: {open:?} vs {baseline:?}");
    topology.shutdown().await;
    wait_for_counts(&mut counters, &baseline).await;
    let events = recorded.sdam.lock().expect("not poisoned").len();
    assert!(matches!(recorded.sdam.lock().expect("not poisoned").last(), Some(SdamEvent::TopologyClosed(_))));
    let closed = recorded
        .cmap
        .lock()
        .expect("not poisoned")
        .iter()
        .filter(|e| e.kind() == CmapEventKind::PoolClosed)
        .count();
    assert_eq!(closed, 3);
    // Nothing runs any more: no heartbeat after a full heartbeat period.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(recorded.sdam.lock().expect("not poisoned").len(), events);
    assert_eq!(connection_counts(&mut counters).await, baseline);
}

#[tokio::test]
async fn dropping_the_topology_closes_its_connections() {
    let sim = start(Config::replica_set(2)).await;
    let mut counters = counters(&sim).await;
    let baseline = connection_counts(&mut counters).await;
    let (topology, _) = topology(sim.connection_string(), "");
    drop(topology.select_server(&SelectionCriteria::Write).await.expect("a primary"));
    wait_until(&topology, "all members known", |d| d.servers().all(|s| s.server_type != ServerType::Unknown))
        .await;
    drop(topology);
    wait_for_counts(&mut counters, &baseline).await;
}
