//! The per-server monitor against the simulated deployment: what it reports, how it reacts
//! to step-down, network errors and check requests, and that it stops.

use std::time::{Duration, Instant};

use bson::{Document, doc};
use mongo_driver::connection::{CommandMessage, Connection, ConnectionOptions};
use mongo_driver::monitor::{
    MIN_HEARTBEAT_FREQUENCY, MonitorEvent, MonitorHandle, MonitorOptions, ServerMonitoringMode,
};
use mongo_driver::sdam::{ServerAddress, ServerDescription, ServerType};
use mongo_sim::{Config, Deployment, ServerVersion};
use tokio::net::TcpListener;
use tokio::sync::mpsc::{UnboundedReceiver, error::TryRecvError, unbounded_channel};

const LIMIT: Duration = Duration::from_secs(20);

async fn start(config: Config) -> Deployment {
    Deployment::start(config).await.expect("the simulator starts")
}

fn address(host: &str) -> ServerAddress {
    host.parse().expect("the simulator's host parses")
}

fn monitor(host: &str, options: MonitorOptions) -> (MonitorHandle, UnboundedReceiver<MonitorEvent>) {
    let (tx, rx) = unbounded_channel();
    let handle = MonitorHandle::start(address(host), options, move |event| {
        let _ = tx.send(event);
    })
    .expect("inside a runtime");
    (handle, rx)
}

fn options(heartbeat: Duration) -> MonitorOptions {
    MonitorOptions { heartbeat_frequency: heartbeat, ..MonitorOptions::default() }
}

/// Options of a monitor that polls (`serverMonitoringMode=poll`) even a 4.4+ server.
fn polling(heartbeat: Duration) -> MonitorOptions {
    MonitorOptions { mode: ServerMonitoringMode::Poll, ..options(heartbeat) }
}

/// The next description the monitor reports.
async fn next_description(rx: &mut UnboundedReceiver<MonitorEvent>) -> ServerDescription {
    let wait = async {
        loop {
            match rx.recv().await {
                Some(MonitorEvent::ServerChecked(description)) => return *description,
                Some(_) => {}
                None => panic!("the monitor stopped"),
            }
        }
    };
    tokio::time::timeout(LIMIT, wait).await.expect("a check within the limit")
}

/// Waits for a description of type `ty`.
async fn wait_for(rx: &mut UnboundedReceiver<MonitorEvent>, ty: ServerType) -> ServerDescription {
    loop {
        let description = next_description(rx).await;
        if description.server_type == ty {
            return description;
        }
    }
}

async fn command(host: &str, body: Document) -> Document {
    let mut conn =
        Connection::connect(address(host), &ConnectionOptions::default(), 1, 0).await.expect("connect");
    conn.send_command(CommandMessage::new("admin", body)).await.expect("a reply")
}

#[tokio::test]
async fn monitor_sees_step_down() {
    let sim = start(Config::replica_set(3)).await;
    let hosts = sim.member_hosts();
    let primary = sim.primary_host().expect("a primary");
    let mut monitors: Vec<_> =
        hosts.iter().map(|h| (h.clone(), monitor(h, options(MIN_HEARTBEAT_FREQUENCY)))).collect();
    for (host, (_, rx)) in &mut monitors {
        let expected = if *host == primary { ServerType::RsPrimary } else { ServerType::RsSecondary };
        let description = next_description(rx).await;
        assert_eq!(description.server_type, expected, "{host}");
        assert!(description.average_round_trip_time.is_some());
        assert_eq!(description.set_name.as_deref(), Some("rs0"));
    }

    let reply = command(&primary, doc! {"replSetStepDown": 30, "secondaryCatchUpPeriodSecs": 0}).await;
    assert_eq!(reply.get_f64("ok").ok(), Some(1.0), "{reply}");
    for (_, (handle, _)) in &monitors {
        handle.request_check();
    }
    let (_, (_, rx)) = monitors.iter_mut().find(|(h, _)| *h == primary).expect("monitored");
    let stepped_down = wait_for(rx, ServerType::RsSecondary).await;
    assert_eq!(stepped_down.address, address(&primary));
    // Another member wins the election and its monitor reports it primary.
    let new_primary = loop {
        if let Some(host) = sim.primary_host().filter(|h| *h != primary) {
            break host;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let (_, (_, rx)) = monitors.iter_mut().find(|(h, _)| *h == new_primary).expect("monitored");
    let description = wait_for(rx, ServerType::RsPrimary).await;
    assert_eq!(description.primary, Some(address(&new_primary)));
    for (_, (handle, _)) in monitors {
        handle.stop().await;
    }
}

#[tokio::test]
async fn each_check_reports_heartbeat_events_then_the_description() {
    let sim = start(Config::standalone()).await;
    let host = &sim.member_hosts()[0];
    let (handle, mut rx) = monitor(host, polling(MIN_HEARTBEAT_FREQUENCY));
    let mut kinds = Vec::new();
    let mut rtts = Vec::new();
    while kinds.len() < 6 {
        let event = tokio::time::timeout(LIMIT, rx.recv()).await.expect("in time").expect("running");
        kinds.push(match event {
            MonitorEvent::HeartbeatStarted(e) => {
                assert_eq!(e.server_address, address(host));
                assert!(!e.awaited);
                "started"
            }
            MonitorEvent::HeartbeatSucceeded(e) => {
                assert_eq!(e.reply.get_f64("ok").ok(), Some(1.0));
                rtts.push(e.duration);
                "succeeded"
            }
            MonitorEvent::HeartbeatFailed(e) => panic!("failed check: {}", e.failure),
            MonitorEvent::ServerChecked(d) => {
                assert_eq!(d.server_type, ServerType::Standalone);
                let average = d.average_round_trip_time.expect("an RTT");
                // The first average is the handshake's duration (part of the first check).
                if rtts.len() == 1 {
                    assert!(average <= rtts[0], "{average:?} > {:?}", rtts[0]);
                }
                "checked"
            }
            other => panic!("unexpected {other:?}"),
        });
    }
    assert_eq!(kinds, ["started", "succeeded", "checked", "started", "succeeded", "checked"]);
    handle.stop().await;
}

#[tokio::test]
async fn unreachable_servers_are_unknown_with_the_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let host = listener.local_addr().expect("address").to_string();
    drop(listener);
    let (handle, mut rx) = monitor(&host, options(MIN_HEARTBEAT_FREQUENCY));
    let first = tokio::time::timeout(LIMIT, rx.recv()).await.expect("in time");
    assert!(matches!(first, Some(MonitorEvent::HeartbeatStarted(_))));
    let failed = tokio::time::timeout(LIMIT, rx.recv()).await.expect("in time");
    let Some(MonitorEvent::HeartbeatFailed(failed)) = failed else {
        panic!("expected a failure, got {failed:?}")
    };
    assert!(failed.failure.is_network_error(), "{}", failed.failure);
    let description = next_description(&mut rx).await;
    assert_eq!(description.server_type, ServerType::Unknown);
    assert!(description.error.is_some());
    assert_eq!(description.average_round_trip_time, None);
    handle.stop().await;
}

#[tokio::test]
async fn network_error_retries_at_once_then_reconnects() {
    let sim = start(Config::standalone()).await;
    let host = &sim.member_hosts()[0];
    // The default heartbeat (10 s): every check in this test comes sooner, by the
    // immediate retry or by a request.
    let (handle, mut rx) = monitor(host, polling(Duration::from_secs(10)));
    assert_eq!(next_description(&mut rx).await.server_type, ServerType::Standalone);

    // The next two checks (the check, then the immediate retry's handshake) have their
    // connection closed. (No `appName` filter: the simulator matches it only after a
    // connection's handshake, where a real server matches the handshake too.)
    let fail = doc! {
        "configureFailPoint": "failCommand", "mode": {"times": 2},
        "data": {"failCommands": ["hello", "isMaster"], "closeConnection": true},
    };
    let reply = command(host, fail).await;
    assert_eq!(reply.get_f64("ok").ok(), Some(1.0), "{reply}");
    let requested = Instant::now();
    handle.request_check();
    let failed = next_description(&mut rx).await;
    assert_eq!(failed.server_type, ServerType::Unknown);
    // A network error on a known server: retried at once, long before the 10 s heartbeat.
    let retried = next_description(&mut rx).await;
    assert_eq!(retried.server_type, ServerType::Unknown, "the retry's handshake fails too");
    assert!(requested.elapsed() < Duration::from_secs(8), "retried without waiting a heartbeat");
    // Now Unknown: no immediate retry; a requested check reconnects.
    let before = Instant::now();
    handle.request_check();
    let back = next_description(&mut rx).await;
    assert_eq!(back.server_type, ServerType::Standalone);
    assert!(back.average_round_trip_time.is_some(), "a fresh RTT from the new handshake");
    assert!(before.elapsed() < Duration::from_secs(8), "the request woke the monitor");
    handle.stop().await;
}

#[tokio::test]
async fn requests_during_sleep_wake_the_monitor() {
    let sim = start(Config::standalone()).await;
    let host = &sim.member_hosts()[0];
    let (handle, mut rx) = monitor(host, polling(Duration::from_secs(30)));
    next_description(&mut rx).await;
    for _ in 0..2 {
        let before = Instant::now();
        handle.request_check();
        let description = next_description(&mut rx).await;
        assert_eq!(description.server_type, ServerType::Standalone);
        assert!(before.elapsed() < Duration::from_secs(15), "woken long before the 30 s heartbeat");
    }
    handle.stop().await;
}

#[tokio::test]
async fn stopping_or_dropping_ends_the_task() {
    let sim = start(Config::standalone()).await;
    let host = &sim.member_hosts()[0];

    let (handle, mut rx) = monitor(host, options(MIN_HEARTBEAT_FREQUENCY));
    next_description(&mut rx).await;
    handle.stop().await;
    // The task (and the callback holding the channel's sender) is gone once stop returns.
    loop {
        match rx.try_recv() {
            Ok(_) => {}
            Err(TryRecvError::Disconnected) => break,
            Err(TryRecvError::Empty) => panic!("the monitor task outlived stop()"),
        }
    }

    let (handle, mut rx) = monitor(host, options(MIN_HEARTBEAT_FREQUENCY));
    next_description(&mut rx).await;
    drop(handle);
    let drained = tokio::time::timeout(LIMIT, async { while rx.recv().await.is_some() {} }).await;
    assert!(drained.is_ok(), "the monitor task ends when its handle is dropped");
}

#[tokio::test]
async fn cancelling_a_check_closes_the_connection() {
    let sim = start(Config::standalone()).await;
    let host = &sim.member_hosts()[0];
    let (handle, mut rx) = monitor(host, options(Duration::from_secs(30)));
    let connection_id = |event: &MonitorEvent| match event {
        MonitorEvent::HeartbeatSucceeded(e) => e.reply.get("connectionId").cloned(),
        _ => None,
    };
    let mut first_connection = None;
    loop {
        let event = tokio::time::timeout(LIMIT, rx.recv()).await.expect("in time").expect("running");
        first_connection = first_connection.or_else(|| connection_id(&event));
        if matches!(event, MonitorEvent::ServerChecked(_)) {
            break;
        }
    }
    // The next `hello` hangs for 10 s; the handshake (legacy `isMaster`) is not affected.
    let block = doc! {
        "configureFailPoint": "failCommand", "mode": {"times": 1},
        "data": {"failCommands": ["hello"], "blockConnection": true, "blockTimeMS": 10_000},
    };
    command(host, block).await;
    let cancelled_at = Instant::now();
    handle.request_check();
    let event = tokio::time::timeout(LIMIT, rx.recv()).await.expect("in time").expect("running");
    assert!(matches!(event, MonitorEvent::HeartbeatStarted(_)), "{event:?}");
    handle.cancel_check();
    let event = tokio::time::timeout(LIMIT, rx.recv()).await.expect("in time").expect("running");
    let MonitorEvent::HeartbeatFailed(failed) = event else { panic!("expected a failure, got {event:?}") };
    assert!(failed.failure.to_string().contains("cancelled"), "{}", failed.failure);
    assert!(cancelled_at.elapsed() < Duration::from_secs(8), "not waiting for the blocked hello");
    // The next check (requested) opens a new connection.
    handle.request_check();
    let mut second_connection = None;
    loop {
        let event = tokio::time::timeout(LIMIT, rx.recv()).await.expect("in time").expect("running");
        second_connection = second_connection.or_else(|| connection_id(&event));
        if let MonitorEvent::ServerChecked(description) = event {
            assert_eq!(description.server_type, ServerType::Standalone);
            break;
        }
    }
    assert!(first_connection.is_some() && second_connection.is_some());
    assert_ne!(first_connection, second_connection, "a new monitoring connection");
    handle.stop().await;
}

/// A fake server answering the handshake with `handshake` and every later OP_MSG with
/// `{ok: 1}` plus the handshake's fields, reporting each later command's name.
async fn fake_server(handshake: Document) -> (String, UnboundedReceiver<String>) {
    use mongo_driver::wire::{self, Message, OpMsg, OpReply};
    use tokio::io::AsyncWriteExt;

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let host = listener.local_addr().expect("address").to_string();
    let (tx, rx) = unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let (handshake, tx) = (handshake.clone(), tx.clone());
            tokio::spawn(async move {
                while let Ok((header, message)) = wire::read_message(&mut stream, 1 << 20).await {
                    let reply = match message {
                        Message::Query(_) => Message::Reply(OpReply {
                            response_flags: 0,
                            cursor_id: 0,
                            starting_from: 0,
                            documents: vec![handshake.clone()],
                        }),
                        Message::Msg(msg) => {
                            let _ = tx.send(msg.body.keys().next().cloned().unwrap_or_default());
                            Message::Msg(OpMsg::new(handshake.clone()))
                        }
                        Message::Reply(_) => return,
                    };
                    let bytes = reply.encode(wire::next_request_id(), header.request_id).expect("encode");
                    if stream.write_all(&bytes).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (host, rx)
}

#[tokio::test]
async fn checks_use_legacy_hello_unless_the_server_says_hello_ok() {
    for (hello_ok, expected) in [(false, "isMaster"), (true, "hello")] {
        let mut reply = doc! {"ok": 1.0, "ismaster": true, "maxWireVersion": 21};
        if hello_ok {
            reply.insert("helloOk", true);
        }
        let (host, mut commands) = fake_server(reply).await;
        let (handle, mut rx) = monitor(&host, options(MIN_HEARTBEAT_FREQUENCY));
        assert_eq!(next_description(&mut rx).await.server_type, ServerType::Standalone);
        assert_eq!(next_description(&mut rx).await.server_type, ServerType::Standalone);
        let name = tokio::time::timeout(LIMIT, commands.recv()).await.expect("in time").expect("a command");
        assert_eq!(name, expected, "helloOk: {hello_ok}");
        handle.stop().await;
    }
}

#[tokio::test]
async fn malformed_replies_fail_the_check() {
    let reply =
        doc! {"ok": 1.0, "ismaster": true, "setName": "rs", "hosts": ["a:notaport"], "maxWireVersion": 21};
    let (host, _commands) = fake_server(reply).await;
    let (handle, mut rx) = monitor(&host, options(MIN_HEARTBEAT_FREQUENCY));
    let mut saw_failure = false;
    loop {
        let event = tokio::time::timeout(LIMIT, rx.recv()).await.expect("in time").expect("running");
        match event {
            MonitorEvent::HeartbeatSucceeded(_) => panic!("a malformed reply is no success"),
            MonitorEvent::HeartbeatFailed(e) => {
                assert!(
                    matches!(*e.failure.kind, mongo_driver::ErrorKind::InvalidResponse { .. }),
                    "{}",
                    e.failure
                );
                saw_failure = true;
            }
            MonitorEvent::ServerChecked(d) => {
                assert_eq!(d.server_type, ServerType::Unknown);
                assert!(d.error.is_some_and(|e| e.contains("hosts")));
                break;
            }
            _ => {}
        }
    }
    assert!(saw_failure);
    handle.stop().await;
}

/// The next heartbeat started/succeeded/failed event's `awaited` flag.
async fn next_heartbeat(rx: &mut UnboundedReceiver<MonitorEvent>) -> (&'static str, bool) {
    loop {
        let event = tokio::time::timeout(LIMIT, rx.recv()).await.expect("in time").expect("running");
        match event {
            MonitorEvent::HeartbeatStarted(e) => return ("started", e.awaited),
            MonitorEvent::HeartbeatSucceeded(e) => return ("succeeded", e.awaited),
            MonitorEvent::HeartbeatFailed(e) => return ("failed", e.awaited),
            _ => {}
        }
    }
}

#[tokio::test]
async fn a_4_4_server_is_streamed_and_a_step_down_seen_without_waiting_a_heartbeat() {
    let sim = start(Config::replica_set(2).with_election_delay(Duration::from_millis(20))).await;
    let hosts = sim.member_hosts();
    let primary = sim.primary_host().expect("a primary");
    let secondary = hosts.iter().find(|h| **h != primary).expect("a secondary").clone();
    // A heartbeat far longer than the test: only streaming can see the change in time.
    let (handle, mut rx) = monitor(&secondary, options(Duration::from_secs(60)));
    // The handshake is not awaited; the awaitable hello that follows is.
    assert_eq!(next_heartbeat(&mut rx).await, ("started", false));
    assert_eq!(next_heartbeat(&mut rx).await, ("succeeded", false));
    assert_eq!(wait_for(&mut rx, ServerType::RsSecondary).await.address, address(&secondary));
    assert_eq!(next_heartbeat(&mut rx).await, ("started", true));
    let stepped = Instant::now();
    let reply = command(&primary, doc! { "replSetStepDown": 30, "force": true }).await;
    assert_eq!(reply.get_f64("ok").ok(), Some(1.0), "{reply}");
    let promoted = wait_for(&mut rx, ServerType::RsPrimary).await;
    assert!(stepped.elapsed() < Duration::from_secs(10), "seen in {:?}", stepped.elapsed());
    assert!(promoted.average_round_trip_time.is_some(), "the RTT task's average");
    handle.stop().await;
}

#[tokio::test]
async fn poll_mode_and_pre_4_4_servers_are_polled() {
    for (config, options) in [
        (Config::standalone(), polling(MIN_HEARTBEAT_FREQUENCY)),
        (Config::standalone().with_version(ServerVersion::V4_2), options(MIN_HEARTBEAT_FREQUENCY)),
    ] {
        let sim = start(config).await;
        let host = &sim.member_hosts()[0];
        let (handle, mut rx) = monitor(host, options);
        for _ in 0..4 {
            let (_, awaited) = next_heartbeat(&mut rx).await;
            assert!(!awaited, "a polled check is not awaited");
        }
        handle.stop().await;
    }
}
