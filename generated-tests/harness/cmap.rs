//! Runner for the CMAP spec tests (`connection-monitoring-and-pooling/tests/README.rst`,
//! "Unit Test Runner" and "Spec Test Match Function"): the generated tests describe a
//! case with the driver's types and call [`run`], which performs the operations (on named
//! tokio tasks for `thread`s) against a pool whose connections come from the in-memory
//! connector, asserts the main thread's error and the expected events, and then takes an
//! insta snapshot (under `generated-tests/snapshots/`, named after the test) of every
//! event observed while the operations ran.

use crate::snapshot;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::pin::pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use mongo_driver::cmap::{
    HandshakeFault, InMemoryConnection, InMemoryConnector, Pool, PoolOptions, PooledConnection,
};
use mongo_driver::event::cmap::{CheckOutFailedReason, CmapEvent, CmapEventKind, ConnectionClosedReason};
use mongo_driver::{Error, ErrorKind};
use serde::Serialize;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

/// The address of the pool under test.
pub const ADDRESS: &str = "localhost:27017";

/// How long `waitForEvent` waits when the file gives no `timeout`, and how long
/// `waitForThread` waits: long enough for any spec case, short enough that a pool bug
/// fails the test instead of hanging it.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(10);

/// One CMAP spec test file.
#[derive(Debug, Clone)]
pub struct CmapCase {
    /// The test's full name (`connection_monitoring_and_pooling::pool_checkout_connection`); names the snapshot.
    pub name: &'static str,
    /// The file's `description`.
    pub description: &'static str,
    /// `poolOptions` (the pool's part).
    pub options: PoolOptions,
    /// `poolOptions.appName`: the app name the connections' handshake reports.
    pub app_name: Option<&'static str>,
    /// `failPoint`, as the in-memory connector's handshake fault.
    pub fault: Option<HandshakeFault>,
    /// `operations`.
    pub operations: Vec<Op>,
    /// `error`: the error the main thread must raise.
    pub error: Option<ExpectedError>,
    /// `events`.
    pub events: Vec<ExpectedEvent>,
    /// `ignore`.
    pub ignore: &'static [CmapEventKind],
}

/// One operation and the thread that runs it.
#[derive(Debug, Clone)]
pub struct Op {
    /// The thread's name; `None` is the main thread.
    pub thread: Option<&'static str>,
    /// What to do.
    pub action: Action,
}

/// The README's operations.
#[derive(Debug, Clone)]
pub enum Action {
    /// `start(target)`: start a thread.
    Start(&'static str),
    /// `wait(ms)`: sleep.
    Wait(Duration),
    /// `waitForThread(target)`: join a thread, taking on its error.
    WaitForThread(&'static str),
    /// `waitForEvent(event, count, timeout)`: wait until `count` events of `kind` were emitted
    /// since the start (ignored kinds included).
    WaitForEvent {
        /// The event kind.
        kind: CmapEventKind,
        /// How many.
        count: usize,
        /// The longest wait (default [`DEFAULT_WAIT`]).
        timeout: Option<Duration>,
    },
    /// `label = pool.checkOut()`.
    CheckOut {
        /// The label of the connection.
        label: Option<&'static str>,
    },
    /// `pool.checkIn(connection)`.
    CheckIn(&'static str),
    /// `pool.clear()`.
    Clear,
    /// `pool.close()`.
    Close,
    /// `pool.ready()`.
    Ready,
}

/// An expected value: not checked, any value, or exactly this one.
#[derive(Debug, Clone, PartialEq)]
pub enum Expect<T> {
    /// The field is absent from the expectation.
    Absent,
    /// `42` / `"42"`: any value, as long as there is one.
    Any,
    /// Exactly this value (for options: these fields).
    Is(T),
}

/// `error`: the main thread's expected error.
#[derive(Debug, Clone)]
pub struct ExpectedError {
    /// The error type (`PoolClosedError`, `WaitQueueTimeoutError`, `PoolClearedError`).
    pub kind: &'static str,
    /// The message, compared exactly.
    pub message: Option<&'static str>,
    /// The pool's address.
    pub address: Expect<&'static str>,
}

/// An expected event.
#[derive(Debug, Clone)]
pub struct ExpectedEvent {
    /// The kind.
    pub kind: CmapEventKind,
    /// The pool's address.
    pub address: Expect<&'static str>,
    /// The connection id.
    pub connection_id: Expect<u32>,
    /// `ConnectionPoolCreated`: the options that must be set (only the `Some` fields are compared).
    pub options: Expect<PoolOptions>,
    /// The reason, for `ConnectionClosed` and `ConnectionCheckOutFailed`.
    pub reason: Option<Reason>,
}

/// An expected event reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// A `ConnectionClosed` reason.
    Closed(ConnectionClosedReason),
    /// A `ConnectionCheckOutFailed` reason.
    CheckOutFailed(CheckOutFailedReason),
}

/// Why an operation failed: the driver's error, or the runner's (a wait that timed out, …).
#[derive(Debug)]
enum OpError {
    Driver(Error),
    Runner(String),
}

impl std::fmt::Display for OpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Driver(e) => write!(f, "driver error: {e}"),
            Self::Runner(m) => write!(f, "runner error: {m}"),
        }
    }
}

/// Every event the pool emitted, in order.
#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<CmapEvent>>,
    changed: Notify,
}

impl Recorder {
    fn push(&self, event: &CmapEvent) {
        self.events.lock().unwrap_or_else(PoisonError::into_inner).push(event.clone());
        self.changed.notify_waiters();
    }

    fn events(&self) -> Vec<CmapEvent> {
        self.events.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn count(&self, kind: CmapEventKind) -> usize {
        self.events.lock().unwrap_or_else(PoisonError::into_inner).iter().filter(|e| e.kind() == kind).count()
    }

    async fn wait_for(&self, kind: CmapEventKind, count: usize, timeout: Duration) -> Result<(), OpError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let mut notified = pin!(self.changed.notified());
            notified.as_mut().enable();
            let seen = self.count(kind);
            if seen >= count {
                return Ok(());
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(OpError::Runner(format!(
                    "timed out after {timeout:?} waiting for {count} {kind} events (saw {seen})"
                )));
            }
        }
    }
}

type Connection = PooledConnection<InMemoryConnection>;

/// What the threads share: the pool, the labelled connections, and the unlabelled
/// connections still checked out.
struct Shared {
    pool: Pool<InMemoryConnection>,
    labelled: Mutex<HashMap<&'static str, Connection>>,
    held: Mutex<Vec<Connection>>,
    recorder: Arc<Recorder>,
}

struct Thread {
    actions: mpsc::UnboundedSender<Action>,
    handle: JoinHandle<Result<(), OpError>>,
}

/// Runs the case and asserts its expectations (README "Unit Test Runner"), then records
/// the snapshot.
pub async fn run(case: CmapCase) {
    let name = case.name;
    let recorder = Arc::new(Recorder::default());
    let mut connector = InMemoryConnector::new();
    if let Some(app_name) = case.app_name {
        connector = connector.with_app_name(app_name);
    }
    connector.set_fault(case.fault.clone());
    let address = ADDRESS.parse().unwrap_or_else(|e| panic!("{name}: bad pool address: {e}"));
    let sink = recorder.clone();
    let pool = Pool::builder(address, Arc::new(connector))
        .options(case.options.clone())
        .event_handler(Arc::new(move |e: &CmapEvent| sink.push(e)))
        .build()
        .unwrap_or_else(|e| panic!("{name}: cannot create the pool: {e}"));
    let shared = Arc::new(Shared {
        pool: pool.clone(),
        labelled: Mutex::new(HashMap::new()),
        held: Mutex::new(Vec::new()),
        recorder: recorder.clone(),
    });

    let mut threads: HashMap<&'static str, Thread> = HashMap::new();
    let mut main_error = None;
    for op in &case.operations {
        let result = match op.thread {
            Some(thread) => match threads.get(thread) {
                // A thread that already failed has stopped taking operations.
                Some(t) => {
                    let _ = t.actions.send(op.action.clone());
                    Ok(())
                }
                None => Err(OpError::Runner(format!("thread `{thread}` was not started"))),
            },
            None => perform_main(&shared, &op.action, &mut threads).await,
        };
        if let Err(e) = result {
            main_error = Some(e);
            break;
        }
    }
    let observed = recorder.events();

    // Tear down: no task or connection outlives the test.
    pool.close();
    for (_, thread) in threads.drain() {
        thread.handle.abort();
    }
    let labelled: Vec<Connection> =
        shared.labelled.lock().unwrap_or_else(PoisonError::into_inner).drain().map(|(_, c)| c).collect();
    drop(labelled);
    drop(std::mem::take(&mut *shared.held.lock().unwrap_or_else(PoisonError::into_inner)));

    let listing = listing(&observed);
    match (&case.error, &main_error) {
        (None, None) => {}
        (None, Some(e)) => panic!("{name}: the main thread failed: {e}\nevents:\n{listing}"),
        (Some(expected), None) => {
            panic!(
                "{name}: expected a {} error, but the main thread succeeded\nevents:\n{listing}",
                expected.kind
            )
        }
        (Some(expected), Some(OpError::Runner(m))) => {
            panic!("{name}: expected a {} error, got a runner error: {m}\nevents:\n{listing}", expected.kind)
        }
        (Some(expected), Some(OpError::Driver(e))) => {
            if let Err(why) = match_error(expected, e) {
                panic!("{name}: {why}\nevents:\n{listing}");
            }
        }
    }

    let actual: Vec<&CmapEvent> = observed.iter().filter(|e| !case.ignore.contains(&e.kind())).collect();
    for (index, expected) in case.events.iter().enumerate() {
        let Some(event) = actual.get(index) else {
            panic!(
                "{name}: expected event {index} ({}) is missing; events (ignoring {:?}):\n{}",
                expected.kind,
                case.ignore,
                listing_of(&actual)
            );
        };
        if let Err(why) = match_event(expected, event) {
            panic!(
                "{name}: event {index}: {why}; events (ignoring {:?}):\n{}",
                case.ignore,
                listing_of(&actual)
            );
        }
    }

    snapshot(
        name,
        &Snapshot {
            description: case.description,
            error: main_error.map(|e| match e {
                OpError::Driver(e) => format!("{}: {}", error_type(&e), e.kind),
                OpError::Runner(m) => format!("runner: {m}"),
            }),
            events: observed.iter().map(describe).collect(),
        },
    );
}

/// Runs a main-thread operation (`start` and `waitForThread` need the thread table).
async fn perform_main(
    shared: &Arc<Shared>,
    action: &Action,
    threads: &mut HashMap<&'static str, Thread>,
) -> Result<(), OpError> {
    match action {
        Action::Start(target) => {
            let (tx, mut rx) = mpsc::unbounded_channel::<Action>();
            let worker = shared.clone();
            let handle = tokio::spawn(async move {
                while let Some(action) = rx.recv().await {
                    perform(&worker, &action).await?;
                }
                Ok(())
            });
            threads.insert(target, Thread { actions: tx, handle });
            Ok(())
        }
        Action::WaitForThread(target) => {
            let Thread { actions, handle } = threads
                .remove(target)
                .ok_or_else(|| OpError::Runner(format!("thread `{target}` was not started")))?;
            drop(actions);
            match tokio::time::timeout(DEFAULT_WAIT, handle).await {
                Err(_) => {
                    Err(OpError::Runner(format!("thread `{target}` did not finish within {DEFAULT_WAIT:?}")))
                }
                Ok(Err(join)) => {
                    Err(OpError::Runner(format!("thread `{target}` panicked or was cancelled: {join}")))
                }
                Ok(Ok(result)) => result,
            }
        }
        other => perform(shared, other).await,
    }
}

/// Runs one pool operation.
async fn perform(shared: &Shared, action: &Action) -> Result<(), OpError> {
    match action {
        Action::Wait(d) => tokio::time::sleep(*d).await,
        Action::WaitForEvent { kind, count, timeout } => {
            shared.recorder.wait_for(*kind, *count, timeout.unwrap_or(DEFAULT_WAIT)).await?
        }
        Action::CheckOut { label } => {
            let connection = shared.pool.check_out().await.map_err(OpError::Driver)?;
            match label {
                Some(label) => {
                    let previous = shared
                        .labelled
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert(label, connection);
                    // A reused label keeps the older connection checked out, as the spec runner's would.
                    if let Some(previous) = previous {
                        shared.held.lock().unwrap_or_else(PoisonError::into_inner).push(previous);
                    }
                }
                None => shared.held.lock().unwrap_or_else(PoisonError::into_inner).push(connection),
            }
        }
        Action::CheckIn(label) => {
            let connection =
                shared.labelled.lock().unwrap_or_else(PoisonError::into_inner).remove(label).ok_or_else(
                    || OpError::Runner(format!("no checked-out connection is labelled `{label}`")),
                )?;
            shared.pool.check_in(connection).map_err(OpError::Driver)?;
        }
        Action::Clear => shared.pool.clear(),
        Action::Close => shared.pool.close(),
        Action::Ready => shared.pool.ready(),
        Action::Start(_) | Action::WaitForThread(_) => {
            return Err(OpError::Runner("only the main thread starts and joins threads".into()));
        }
    }
    Ok(())
}

/// The spec's error type name for a driver error.
fn error_type(e: &Error) -> String {
    match &*e.kind {
        ErrorKind::PoolClosed { .. } => "PoolClosedError".into(),
        ErrorKind::PoolCleared { .. } => "PoolClearedError".into(),
        ErrorKind::WaitQueueTimeout { .. } => "WaitQueueTimeoutError".into(),
        other => format!("{other:?}").split([' ', '{', '(']).next().unwrap_or_default().to_string(),
    }
}

fn error_address(e: &Error) -> Option<String> {
    match &*e.kind {
        ErrorKind::PoolClosed { address }
        | ErrorKind::PoolCleared { address, .. }
        | ErrorKind::WaitQueueTimeout { address, .. } => Some(address.to_string()),
        _ => None,
    }
}

/// README "MATCH" of an error: type, message (exactly) and address.
fn match_error(expected: &ExpectedError, actual: &Error) -> Result<(), String> {
    let kind = error_type(actual);
    if kind != expected.kind {
        return Err(format!("expected a {} error, got {kind}: {actual}", expected.kind));
    }
    let message = actual.kind.to_string();
    if let Some(want) = expected.message
        && want != message
    {
        return Err(format!("expected the error message {want:?}, got {message:?}"));
    }
    match_value("address", &expected.address, error_address(actual).as_deref(), |w, a| *w == a)
}

fn match_value<T: std::fmt::Debug, A: std::fmt::Debug + Copy>(
    field: &str,
    expected: &Expect<T>,
    actual: Option<A>,
    eq: impl Fn(&T, A) -> bool,
) -> Result<(), String> {
    match (expected, actual) {
        (Expect::Absent, _) => Ok(()),
        (_, None) => Err(format!("expected a {field}, the event has none")),
        (Expect::Any, Some(_)) => Ok(()),
        (Expect::Is(want), Some(got)) if eq(want, got) => Ok(()),
        (Expect::Is(want), Some(got)) => Err(format!("expected {field} {want:?}, got {got:?}")),
    }
}

/// README "MATCH" of an event: the kind, and every field the expectation gives.
fn match_event(expected: &ExpectedEvent, actual: &CmapEvent) -> Result<(), String> {
    if actual.kind() != expected.kind {
        return Err(format!("expected {}, got {}", expected.kind, describe(actual)));
    }
    let address = actual.address().to_string();
    match_value("address", &expected.address, Some(address.as_str()), |w, a| *w == a)?;
    match_value("connectionId", &expected.connection_id, actual.connection_id(), |w, a| *w == a)?;
    let options = match actual {
        CmapEvent::PoolCreated(e) => Some(&e.options),
        _ => None,
    };
    match_value("options", &expected.options, options, options_match)?;
    let reason = match actual {
        CmapEvent::ConnectionClosed(e) => Some(Reason::Closed(e.reason)),
        CmapEvent::ConnectionCheckOutFailed(e) => Some(Reason::CheckOutFailed(e.reason)),
        _ => None,
    };
    if let Some(want) = expected.reason
        && reason != Some(want)
    {
        return Err(format!("expected reason {want:?}, got {}", describe(actual)));
    }
    Ok(())
}

/// Every option the expectation sets has the same value in the event.
fn options_match(want: &PoolOptions, got: &PoolOptions) -> bool {
    fn same<T: PartialEq>(want: &Option<T>, got: &Option<T>) -> bool {
        want.is_none() || want == got
    }
    same(&want.max_pool_size, &got.max_pool_size)
        && same(&want.min_pool_size, &got.min_pool_size)
        && same(&want.max_idle_time, &got.max_idle_time)
        && same(&want.max_connecting, &got.max_connecting)
        && same(&want.wait_queue_timeout, &got.wait_queue_timeout)
        && same(&want.background_interval, &got.background_interval)
}

/// One line per event: kind, connection id, reason, options.
fn describe(e: &CmapEvent) -> String {
    let mut line = e.kind().name().to_string();
    if let Some(id) = e.connection_id() {
        let _ = write!(line, " id={id}");
    }
    match e {
        CmapEvent::ConnectionClosed(c) => {
            let _ = write!(line, " reason={}", c.reason.name());
        }
        CmapEvent::ConnectionCheckOutFailed(c) => {
            let _ = write!(line, " reason={}", c.reason.name());
        }
        CmapEvent::PoolCreated(c) => {
            let o = &c.options;
            let mut set = Vec::new();
            if let Some(v) = o.max_pool_size {
                set.push(format!("maxPoolSize={v}"));
            }
            if let Some(v) = o.min_pool_size {
                set.push(format!("minPoolSize={v}"));
            }
            if let Some(v) = o.max_idle_time {
                set.push(format!("maxIdleTimeMS={}", v.as_millis()));
            }
            if let Some(v) = o.max_connecting {
                set.push(format!("maxConnecting={v}"));
            }
            if let Some(v) = o.wait_queue_timeout {
                set.push(format!("waitQueueTimeoutMS={}", v.as_millis()));
            }
            if !set.is_empty() {
                let _ = write!(line, " {}", set.join(" "));
            }
        }
        _ => {}
    }
    line
}

fn listing(events: &[CmapEvent]) -> String {
    events.iter().enumerate().map(|(i, e)| format!("  {i}: {}\n", describe(e))).collect()
}

fn listing_of(events: &[&CmapEvent]) -> String {
    events.iter().enumerate().map(|(i, e)| format!("  {i}: {}\n", describe(e))).collect()
}

#[derive(Serialize)]
struct Snapshot {
    description: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    events: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(operations: Vec<Op>, error: Option<ExpectedError>, events: Vec<ExpectedEvent>) -> CmapCase {
        CmapCase {
            name: "cmap_harness::self_check",
            description: "a case the runner must reject",
            options: PoolOptions::default(),
            app_name: None,
            fault: None,
            operations,
            error,
            events,
            ignore: &[],
        }
    }

    fn main(action: Action) -> Op {
        Op { thread: None, action }
    }

    fn checked_out(connection_id: Expect<u32>) -> ExpectedEvent {
        ExpectedEvent {
            kind: CmapEventKind::ConnectionCheckedOut,
            address: Expect::Any,
            connection_id,
            options: Expect::Absent,
            reason: None,
        }
    }

    #[tokio::test]
    #[should_panic(expected = "event 0: expected ConnectionCheckedOut, got ConnectionPoolCreated")]
    async fn an_event_of_another_kind_fails() {
        run(case(
            vec![main(Action::Ready), main(Action::CheckOut { label: None })],
            None,
            vec![checked_out(Expect::Any)],
        ))
        .await;
    }

    #[tokio::test]
    #[should_panic(expected = "expected connectionId 2, got 1")]
    async fn a_wrong_connection_id_fails() {
        let mut c = case(
            vec![main(Action::Ready), main(Action::CheckOut { label: None })],
            None,
            vec![checked_out(Expect::Is(2))],
        );
        c.ignore = &[
            CmapEventKind::PoolCreated,
            CmapEventKind::PoolReady,
            CmapEventKind::ConnectionCheckOutStarted,
            CmapEventKind::ConnectionCreated,
            CmapEventKind::ConnectionReady,
        ];
        run(c).await;
    }

    #[tokio::test]
    #[should_panic(expected = "expected a PoolClosedError error, but the main thread succeeded")]
    async fn a_missing_error_fails() {
        let error = ExpectedError { kind: "PoolClosedError", message: None, address: Expect::Any };
        run(case(vec![main(Action::Ready), main(Action::CheckOut { label: None })], Some(error), vec![]))
            .await;
    }

    #[tokio::test]
    #[should_panic(expected = "expected the error message")]
    async fn a_different_message_fails() {
        let error = ExpectedError { kind: "PoolClosedError", message: Some("closed"), address: Expect::Any };
        run(case(vec![main(Action::Close), main(Action::CheckOut { label: None })], Some(error), vec![]))
            .await;
    }

    #[tokio::test]
    #[should_panic(expected = "expected event 1 (ConnectionPoolClosed) is missing")]
    async fn a_missing_event_fails() {
        let closed = ExpectedEvent {
            kind: CmapEventKind::PoolClosed,
            address: Expect::Absent,
            connection_id: Expect::Absent,
            options: Expect::Absent,
            reason: None,
        };
        let created = ExpectedEvent { kind: CmapEventKind::PoolCreated, ..closed.clone() };
        run(case(vec![], None, vec![created, closed])).await;
    }

    /// The pool with real connections (TCP, handshake) to the simulated server: ids,
    /// reuse, and a connection broken by a fail point closed with reason `error` on check-in.
    #[tokio::test]
    async fn a_pool_of_real_connections_to_the_simulator() {
        use bson::doc;
        use mongo_driver::cmap::TcpConnector;
        use mongo_driver::connection::{CommandMessage, ConnectionOptions};

        let limit = Duration::from_secs(20);
        let sim = mongo_sim::Deployment::start(mongo_sim::Config::standalone())
            .await
            .expect("the simulator starts");
        let host = sim.member_hosts()[0].clone();
        let recorder = Arc::new(Recorder::default());
        let sink = recorder.clone();
        let pool = Pool::builder(
            host.parse().expect("address"),
            Arc::new(TcpConnector::new(ConnectionOptions::default())),
        )
        .options(PoolOptions { max_pool_size: Some(2), ..PoolOptions::default() })
        .event_handler(Arc::new(move |e: &CmapEvent| sink.push(e)))
        .build()
        .expect("pool");
        pool.ready();
        let (a, b) = tokio::time::timeout(limit, async { tokio::join!(pool.check_out(), pool.check_out()) })
            .await
            .expect("no hang");
        let (mut a, mut b) = (a.expect("check-out"), b.expect("check-out"));
        let mut ids = [a.id(), b.id()];
        ids.sort();
        assert_eq!(ids, [1, 2]);
        let ping = || CommandMessage::new("admin", doc! {"ping": 1});
        let reply =
            tokio::time::timeout(limit, a.send_command(ping())).await.expect("no hang").expect("ping");
        assert_eq!(reply.get_f64("ok").ok(), Some(1.0), "{reply}");
        let fail = doc! {
            "configureFailPoint": "failCommand", "mode": {"times": 1},
            "data": {"failCommands": ["ping"], "closeConnection": true},
        };
        tokio::time::timeout(limit, a.send_command(CommandMessage::new("admin", fail)))
            .await
            .expect("no hang")
            .expect("fail point set");
        let broken = tokio::time::timeout(limit, b.send_command(ping())).await.expect("no hang");
        assert!(broken.is_err() && b.is_broken(), "{broken:?}");
        let (a_id, b_id) = (a.id(), b.id());
        drop(a);
        drop(b);
        let last: Vec<String> = recorder.events().iter().rev().take(3).rev().map(describe).collect();
        assert_eq!(
            last,
            [
                format!("ConnectionCheckedIn id={a_id}"),
                format!("ConnectionCheckedIn id={b_id}"),
                format!("ConnectionClosed id={b_id} reason=error"),
            ]
        );
        let again = tokio::time::timeout(limit, pool.check_out()).await.expect("no hang").expect("check-out");
        assert_eq!(again.id(), a_id, "the healthy connection is reused");
        drop(again);
        pool.close();
        assert_eq!(pool.status().total, 0);
    }

    #[test]
    fn options_match_only_the_given_fields() {
        let got = PoolOptions { max_pool_size: Some(50), min_pool_size: Some(5), ..PoolOptions::default() };
        assert!(options_match(&PoolOptions { max_pool_size: Some(50), ..PoolOptions::default() }, &got));
        assert!(!options_match(&PoolOptions { max_pool_size: Some(10), ..PoolOptions::default() }, &got));
        assert!(!options_match(&PoolOptions { max_connecting: Some(1), ..PoolOptions::default() }, &got));
    }
}
