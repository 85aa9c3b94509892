//! The per-server monitor (server monitoring spec, "Multi-threaded or asynchronous
//! monitoring" and its "Polling Protocol"): one task per server, on its own connection,
//! checking the server with `hello` every `heartbeatFrequencyMS`.
//!
//! Each check publishes a heartbeat started event, then a succeeded or failed one, then the
//! server's new [`ServerDescription`] (Unknown with the error after a failure) through the
//! owner's callback; the topology runtime applies it
//! ([`TopologyState::apply_check`](crate::sdam::TopologyState::apply_check)). The first check
//! of a connection is its handshake (its duration is the first RTT sample); later checks send
//! `hello` (or the legacy `isMaster` when the server did not answer `helloOk: true`). A failed
//! check closes the connection and forgets the RTT average; the next check reconnects, at once
//! if the check failed with a network error and the server was known before, otherwise after
//! the usual wait. [`MonitorHandle::request_check`] wakes a sleeping monitor early, never less
//! than [`MIN_HEARTBEAT_FREQUENCY`] after the previous check ended; a request made while a
//! check runs is ignored.
//!
//! Against a server whose handshake reply carries `topologyVersion` (4.4+), the monitor
//! streams (server monitoring spec, "Streaming Protocol") unless [`ServerMonitoringMode`]
//! says otherwise: each later check is an awaitable `hello` (`topologyVersion`,
//! `maxAwaitTimeMS` = `heartbeatFrequencyMS`, OP_MSG `exhaustAllowed`) which the server
//! answers when its topology changes or the await time passes, and further replies arrive
//! unasked while the server sets `moreToCome`; their heartbeat events say `awaited: true`.
//! A separate RTT task then measures the round-trip time with a plain `hello` on its own
//! connection every `heartbeatFrequencyMS` ("Measuring RTT"). Older servers, and
//! `serverMonitoringMode=poll`, are polled.
//!
//! ```no_run
//! # async fn demo() -> mongo_driver::Result<()> {
//! use mongo_driver::monitor::{MonitorEvent, MonitorHandle, MonitorOptions};
//!
//! let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
//! let monitor = MonitorHandle::start("localhost:27017".parse()?, MonitorOptions::default(), move |event| {
//!     let _ = tx.send(event);
//! })?;
//! while let Some(event) = rx.recv().await {
//!     if let MonitorEvent::ServerChecked(description) = event {
//!         println!("{} is {}", description.address, description.server_type);
//!         break;
//!     }
//! }
//! monitor.stop().await; // the task has ended when this returns
//! # Ok(()) }
//! ```

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bson::Document;
use tokio::sync::watch;
use tokio::task::JoinHandle;
// The tokio clock, so a test that pauses it (the CSOT suite) also controls the monitor's
// heartbeats and round-trip times.
use tokio::time::Instant;

use crate::commands::{Command, HelloCommand, WithGenericArguments};
use crate::connection::{
    CommandMessage, Connection, ConnectionOptions, HANDSHAKE_DB, ServerApi, hello,
    server_description_from_hello,
};
use crate::error::{Error, Result};
pub use crate::options::monitoring_mode::{ServerMonitoringMode, is_faas};
use crate::sdam::event::{
    ServerHeartbeatFailedEvent, ServerHeartbeatStartedEvent, ServerHeartbeatSucceededEvent,
};
use crate::sdam::{ServerAddress, ServerDescription, ServerType};
use crate::selection::latency::average_round_trip_time;

/// `minHeartbeatFrequencyMS`: the least time between the end of a check and the start of the
/// next (500 ms, not configurable).
pub const MIN_HEARTBEAT_FREQUENCY: Duration = Duration::from_millis(500);

/// `heartbeatFrequencyMS` when none is given (10 seconds).
pub const DEFAULT_HEARTBEAT_FREQUENCY: Duration = Duration::from_secs(10);

/// How a monitor checks its server.
#[derive(Debug, Clone)]
pub struct MonitorOptions {
    /// `heartbeatFrequencyMS`: the time from the end of one check to the start of the next
    /// (raised to [`MIN_HEARTBEAT_FREQUENCY`] if lower); when streaming, the awaitable
    /// `hello`'s `maxAwaitTimeMS` and the RTT task's interval.
    pub heartbeat_frequency: Duration,
    /// `serverMonitoringMode`: whether to stream from servers that support it.
    pub mode: ServerMonitoringMode,
    /// How the monitoring connection is opened. Its `socketTimeoutMS` is ignored: a
    /// monitoring connection uses `connectTimeoutMS` for every check.
    pub connection: ConnectionOptions,
}

impl MonitorOptions {
    /// The options a connection string gives: `heartbeatFrequencyMS` (default 10 s) and the
    /// connection options of [`ConnectionOptions::from_uri_options`].
    pub fn from_uri_options(
        options: &crate::connection_string::UriOptions,
        driver_info: Option<&crate::connection::DriverInfo>,
    ) -> Result<Self> {
        Ok(Self {
            heartbeat_frequency: options.heartbeat_frequency.unwrap_or(DEFAULT_HEARTBEAT_FREQUENCY),
            mode: options.server_monitoring_mode.unwrap_or_default(),
            connection: ConnectionOptions::from_uri_options(options, driver_info)?,
        })
    }
}

impl Default for MonitorOptions {
    fn default() -> Self {
        Self {
            heartbeat_frequency: DEFAULT_HEARTBEAT_FREQUENCY,
            mode: ServerMonitoringMode::default(),
            connection: ConnectionOptions::default(),
        }
    }
}

/// What a monitor reports to its owner, in order: for each check a started event, a succeeded
/// or failed event, then the new description.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum MonitorEvent {
    /// A check began (before connecting, for a check that opens a connection).
    HeartbeatStarted(ServerHeartbeatStartedEvent),
    /// A check got an `ok: 1` reply.
    HeartbeatSucceeded(ServerHeartbeatSucceededEvent),
    /// A check failed: a network error, a timeout, a malformed reply or `ok: 0`.
    HeartbeatFailed(ServerHeartbeatFailedEvent),
    /// The server's description after the check: from the reply, with the monitor's
    /// average RTT, or Unknown with the error after a failure.
    ServerChecked(Box<ServerDescription>),
}

/// The owner's callback: called on the monitor's task, one event at a time.
pub type MonitorSink = Arc<dyn Fn(MonitorEvent) + Send + Sync>;

/// A running monitor. Dropping it, or [`MonitorHandle::stop`], ends the monitor's task and
/// closes its connection.
#[derive(Debug)]
pub struct MonitorHandle {
    address: ServerAddress,
    check_requests: watch::Sender<u64>,
    cancels: watch::Sender<u64>,
    task: Option<JoinHandle<()>>,
}

impl MonitorHandle {
    /// Starts monitoring `address` on a new task of the current tokio runtime (an error
    /// outside a runtime); the first check starts at once. `sink` receives every
    /// [`MonitorEvent`].
    pub fn start(
        address: ServerAddress,
        options: MonitorOptions,
        sink: impl Fn(MonitorEvent) + Send + Sync + 'static,
    ) -> Result<Self> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|e| Error::invalid_argument(format!("a monitor needs a tokio runtime: {e}")))?;
        let (check_requests, requests) = watch::channel(0u64);
        let (cancels, cancel_signals) = watch::channel(0u64);
        let monitor = Monitor::new(address.clone(), options, Arc::new(sink));
        let task = runtime.spawn(monitor.run(Signals { requests, cancels: cancel_signals }));
        Ok(Self { address, check_requests, cancels, task: Some(task) })
    }

    /// The monitored server.
    pub fn address(&self) -> &ServerAddress {
        &self.address
    }

    /// Asks for a check as soon as possible (server monitoring spec, "Requesting an immediate
    /// check"): a sleeping monitor wakes, but checks no sooner than
    /// [`MIN_HEARTBEAT_FREQUENCY`] after its previous check ended; ignored while a check runs.
    pub fn request_check(&self) {
        self.check_requests.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Cancels the check in progress and closes the monitoring connection (server monitoring
    /// spec, "hello or legacy hello Cancellation": the owner marked the server Unknown after a
    /// network error of an application connection). A cancelled check reports a heartbeat
    /// failure but no description; the monitor then waits as after a failed check, and its
    /// next check opens a new connection. While the monitor sleeps, only the connection is
    /// closed.
    pub fn cancel_check(&self) {
        self.cancels.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Stops the monitor and waits until its task has ended (its connection is closed then).
    pub async fn stop(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            // A cancelled task reports `Err(JoinError::Cancelled)`: that is the expected end.
            let _ = task.await;
        }
    }

    /// Whether the monitor's task has ended (only after [`MonitorHandle::stop`] or a panic
    /// in the owner's callback).
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(JoinHandle::is_finished)
    }
}

impl Drop for MonitorHandle {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// The monitor task's state.
struct Monitor {
    address: ServerAddress,
    heartbeat_frequency: Duration,
    connection_options: ConnectionOptions,
    sink: MonitorSink,
    connection: Option<Connection>,
    /// Whether the server answered the handshake with `helloOk: true` (or a Stable API
    /// version is declared): checks then use `hello`, otherwise legacy hello.
    hello_ok: bool,
    /// The average RTT since the current connection was opened (while streaming, the RTT
    /// task keeps it).
    average_rtt: Arc<Mutex<Option<Duration>>>,
    /// The id of the next monitoring connection.
    next_connection_id: u32,
    /// When the check in progress started.
    check_started: Option<Instant>,
    /// Whether the monitor may stream (`serverMonitoringMode`).
    may_stream: bool,
    /// The streaming protocol: the `topologyVersion` of the server's latest reply on the
    /// current connection, when that reply had one and the monitor may stream.
    topology_version: Option<Document>,
    /// Whether the server set `moreToCome` on its latest reply: the next one comes unasked.
    more_to_come: bool,
    /// The RTT task, while streaming.
    rtt_task: Option<JoinHandle<()>>,
}

impl Drop for Monitor {
    fn drop(&mut self) {
        if let Some(task) = self.rtt_task.take() {
            task.abort();
        }
    }
}

/// What the handle tells the task.
struct Signals {
    /// Bumped by [`MonitorHandle::request_check`].
    requests: watch::Receiver<u64>,
    /// Bumped by [`MonitorHandle::cancel_check`].
    cancels: watch::Receiver<u64>,
}

/// How a check ended.
struct Checked {
    description: ServerDescription,
    network_error: bool,
}

impl Monitor {
    fn new(address: ServerAddress, options: MonitorOptions, sink: MonitorSink) -> Self {
        let mut connection_options = options.connection;
        // Monitoring sockets use connectTimeoutMS as their socket timeout.
        connection_options.socket_timeout = connection_options.effective_connect_timeout();
        let hello_ok = connection_options.server_api.is_some();
        Self {
            address,
            heartbeat_frequency: options.heartbeat_frequency.max(MIN_HEARTBEAT_FREQUENCY),
            connection_options,
            sink,
            connection: None,
            hello_ok,
            average_rtt: Arc::new(Mutex::new(None)),
            next_connection_id: 1,
            check_started: None,
            may_stream: options.mode.streams(),
            topology_version: None,
            more_to_come: false,
            rtt_task: None,
        }
    }

    /// Whether the next check is an awaitable `hello` (the streaming protocol).
    fn streaming(&self) -> bool {
        self.connection.is_some() && self.topology_version.is_some()
    }

    fn average_rtt(&self) -> Option<Duration> {
        *self.average_rtt.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn set_average_rtt(&self, average: Option<Duration>) {
        *self.average_rtt.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = average;
    }

    /// Closes the monitoring connection, forgets the RTT average and stops streaming (and
    /// the RTT task); the next check opens a new connection.
    fn close_connection(&mut self) {
        self.connection = None;
        self.topology_version = None;
        self.more_to_come = false;
        if let Some(task) = self.rtt_task.take() {
            task.abort();
        }
        self.set_average_rtt(None);
    }

    /// Starts the RTT task if the monitor streams and it is not running.
    fn ensure_rtt_task(&mut self) {
        if self.rtt_task.as_ref().is_some_and(|t| !t.is_finished()) {
            return;
        }
        let rtt = RttMonitor {
            address: self.address.clone(),
            options: self.connection_options.clone(),
            interval: self.heartbeat_frequency,
            hello_ok: self.hello_ok,
            average: Arc::clone(&self.average_rtt),
        };
        self.rtt_task = Some(tokio::spawn(rtt.run()));
    }

    fn emit(&self, event: MonitorEvent) {
        (self.sink)(event);
    }

    async fn run(mut self, mut signals: Signals) {
        let mut previous_type = ServerType::Unknown;
        loop {
            signals.cancels.borrow_and_update();
            let checked = tokio::select! {
                checked = self.check() => Some(checked),
                changed = signals.cancels.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    None
                }
            };
            let check_ended = Instant::now();
            let Some(checked) = checked else {
                // Cancelled by the owner, who has marked the server Unknown itself: close the
                // connection, end the check's heartbeat, and wait before the next check.
                self.cancelled();
                previous_type = ServerType::Unknown;
                // The owner wants a fresh view: a check it requested while the cancelled one
                // ran (e.g. server selection waiting for the server) is kept, not dropped.
                if !self.wait(&mut signals, check_ended, true).await {
                    return;
                }
                continue;
            };
            let new_type = checked.description.server_type;
            self.emit(MonitorEvent::ServerChecked(Box::new(checked.description)));
            // A network error on a known server: check again at once (it may have been a
            // one-off, e.g. a connection the server closed on step-down). While streaming,
            // the next awaitable `hello` goes out at once: the server holds it.
            let retry_now = checked.network_error && previous_type != ServerType::Unknown;
            previous_type = new_type;
            if retry_now || self.streaming() {
                continue;
            }
            if !self.wait(&mut signals, check_ended, false).await {
                return;
            }
        }
    }

    /// After a cancelled check: the connection is closed, the RTT average forgotten, and the
    /// check's started event gets its failed event.
    fn cancelled(&mut self) {
        let awaited = self.streaming();
        self.close_connection();
        if let Some(started) = self.check_started.take() {
            self.emit(MonitorEvent::HeartbeatFailed(ServerHeartbeatFailedEvent {
                server_address: self.address.clone(),
                duration: started.elapsed(),
                failure: Error::io(
                    format!("the check of {} was cancelled", self.address),
                    std::io::Error::new(std::io::ErrorKind::Interrupted, "check cancelled"),
                ),
                awaited,
            }));
        }
    }

    /// Sleeps `heartbeatFrequencyMS`, or less if a check is requested, but at least
    /// `minHeartbeatFrequencyMS` since `check_ended`; a cancellation meanwhile closes the
    /// connection. Requests made before the wait are ignored unless `keep_requests`. `false`
    /// when the handle is gone.
    async fn wait(&mut self, signals: &mut Signals, check_ended: Instant, keep_requests: bool) -> bool {
        if !keep_requests {
            // Requests made while the check ran are ignored.
            signals.requests.borrow_and_update();
        }
        let heartbeat = tokio::time::sleep_until(check_ended + self.heartbeat_frequency);
        tokio::pin!(heartbeat);
        loop {
            tokio::select! {
                () = &mut heartbeat => return true,
                changed = signals.requests.changed() => {
                    if changed.is_err() {
                        return false;
                    }
                    break;
                }
                changed = signals.cancels.changed() => {
                    if changed.is_err() {
                        return false;
                    }
                    self.close_connection();
                }
            }
        }
        tokio::time::sleep_until(check_ended + MIN_HEARTBEAT_FREQUENCY).await;
        true
    }

    /// One check: connect and handshake if there is no connection, otherwise `hello` (an
    /// awaitable one, or the next streamed reply, when streaming).
    async fn check(&mut self) -> Checked {
        let awaited = self.streaming();
        self.emit(MonitorEvent::HeartbeatStarted(ServerHeartbeatStartedEvent {
            server_address: self.address.clone(),
            awaited,
        }));
        let started = Instant::now();
        self.check_started = Some(started);
        let result = self.call_hello().await.and_then(|(reply, sample)| {
            // While streaming the RTT task measures; a streamed reply is no sample.
            let previous = self.average_rtt();
            let average = match sample {
                Some(sample) => average_round_trip_time(previous, sample),
                None => previous.unwrap_or_default(),
            };
            let description = server_description_from_hello(
                self.address.clone(),
                &reply,
                Some(average),
                self.connection_options.load_balanced,
            );
            // An `ok: 1` reply the SDAM parser rejects (a malformed field) fails the check.
            match &description.error {
                Some(why) => Err(Error::invalid_response(why.clone())),
                None => Ok((reply, average, description)),
            }
        });
        self.check_started = None;
        let duration = started.elapsed();
        match result {
            Ok((reply, average, description)) => {
                self.set_average_rtt(Some(average));
                self.hello_ok = self.connection_options.server_api.is_some()
                    || reply.get_bool("helloOk").unwrap_or(false);
                self.topology_version = match reply.get_document("topologyVersion") {
                    Ok(tv) if self.may_stream => Some(tv.clone()),
                    _ => None,
                };
                if self.topology_version.is_some() {
                    self.ensure_rtt_task();
                } else {
                    self.more_to_come = false;
                }
                self.emit(MonitorEvent::HeartbeatSucceeded(ServerHeartbeatSucceededEvent {
                    server_address: self.address.clone(),
                    duration,
                    reply,
                    awaited,
                }));
                Checked { description, network_error: false }
            }
            Err(error) => {
                // Close the connection and forget the RTT average; the next check reconnects.
                self.close_connection();
                let network_error = error.is_network_error();
                let description = ServerDescription::check_failed(self.address.clone(), error.to_string());
                self.emit(MonitorEvent::HeartbeatFailed(ServerHeartbeatFailedEvent {
                    server_address: self.address.clone(),
                    duration,
                    failure: error,
                    awaited,
                }));
                Checked { description, network_error }
            }
        }
    }

    /// The reply of this check (an `Err` for `ok: 0`) and its RTT sample (none for an
    /// awaited reply, whose time is mostly the server's wait).
    async fn call_hello(&mut self) -> Result<(Document, Option<Duration>)> {
        let connection = match self.connection.as_mut() {
            Some(connection) => connection,
            None => {
                let id = self.next_connection_id;
                self.next_connection_id = self.next_connection_id.wrapping_add(1);
                let connection =
                    Connection::connect(self.address.clone(), &self.connection_options, id, 0).await?;
                let reply = connection.handshake_reply().cloned().unwrap_or_default();
                let sample = connection.handshake_round_trip_time().unwrap_or_default();
                self.connection = Some(connection);
                return Ok((reply, Some(sample)));
            }
        };
        let (reply, sample) = match &self.topology_version {
            Some(tv) => {
                // The socket timeout of an awaitable hello is connectTimeoutMS plus the await.
                let timeout = self.connection_options.socket_timeout.map(|t| t + self.heartbeat_frequency);
                let (reply, more) = if self.more_to_come {
                    connection.read_more_to_come(timeout).await?
                } else {
                    let command = awaitable_check_command(
                        self.hello_ok,
                        self.connection_options.server_api.as_ref(),
                        tv,
                        self.heartbeat_frequency,
                    )?;
                    connection.send_exhaust_command(command, timeout).await?
                };
                self.more_to_come = more;
                (reply, None)
            }
            None => {
                let command = check_command(self.hello_ok, self.connection_options.server_api.as_ref())?;
                let started = Instant::now();
                let reply = connection.send_command(command).await?;
                (reply, Some(started.elapsed()))
            }
        };
        if !hello::is_ok(&reply) {
            return Err(Error::from_reply(&reply).unwrap_or_else(|| Error::invalid_response("hello failed")));
        }
        Ok((reply, sample))
    }
}

/// The RTT task of a streaming monitor (server monitoring spec, "Measuring RTT"): on its own
/// connection, a plain `hello` every `heartbeatFrequencyMS` (the handshake being the first
/// sample), folded into the monitor's average. A failed sample closes the connection and the
/// next one reconnects; it changes no description.
struct RttMonitor {
    address: ServerAddress,
    options: ConnectionOptions,
    interval: Duration,
    hello_ok: bool,
    average: Arc<Mutex<Option<Duration>>>,
}

impl RttMonitor {
    async fn run(mut self) {
        let mut connection: Option<Connection> = None;
        loop {
            let sample = match connection.as_mut() {
                None => match Connection::connect(self.address.clone(), &self.options, 0, 0).await {
                    Ok(opened) => {
                        let sample = opened.handshake_round_trip_time();
                        self.hello_ok = self.options.server_api.is_some()
                            || opened
                                .handshake_reply()
                                .and_then(|r| r.get_bool("helloOk").ok())
                                .unwrap_or(false);
                        connection = Some(opened);
                        sample
                    }
                    Err(_) => None,
                },
                Some(open) => {
                    let started = Instant::now();
                    let ok = match check_command(self.hello_ok, self.options.server_api.as_ref()) {
                        Ok(command) => open.send_command(command).await.is_ok_and(|r| hello::is_ok(&r)),
                        Err(_) => false,
                    };
                    if ok {
                        Some(started.elapsed())
                    } else {
                        connection = None;
                        None
                    }
                }
            };
            if let Some(sample) = sample {
                let mut average = self.average.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                *average = Some(average_round_trip_time(*average, sample));
            }
            tokio::time::sleep(self.interval).await;
        }
    }
}

/// The awaitable `hello` of the streaming protocol: a regular check's command with the
/// server's latest `topologyVersion` and `maxAwaitTimeMS`.
fn awaitable_check_command(
    hello_ok: bool,
    server_api: Option<&ServerApi>,
    topology_version: &Document,
    max_await: Duration,
) -> Result<CommandMessage> {
    let mut command = check_command(hello_ok, server_api)?;
    command.body.insert("topologyVersion", topology_version.clone());
    command.body.insert("maxAwaitTimeMS", i64::try_from(max_await.as_millis()).unwrap_or(i64::MAX));
    Ok(command)
}

/// The command of a regular check: `hello` (or legacy hello) with `helloOk: true`, without
/// client metadata, with the Stable API arguments when declared.
fn check_command(hello_ok: bool, server_api: Option<&ServerApi>) -> Result<CommandMessage> {
    let mut hello = HelloCommand::new(HANDSHAKE_DB).hello_ok(true);
    if let Some(api) = server_api {
        hello = hello.api_version(api.version.clone());
        if let Some(strict) = api.strict {
            hello = hello.api_strict(strict);
        }
        if let Some(errors) = api.deprecation_errors {
            hello = hello.api_deprecation_errors(errors);
        }
    }
    let body = if hello_ok { hello.to_document()? } else { hello.to_legacy_document()? };
    Ok(CommandMessage { body, sequences: Vec::new() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_commands() {
        let modern = check_command(true, None).unwrap();
        assert_eq!(modern.body, bson::doc! {"hello": 1, "helloOk": true, "$db": "admin"});
        let legacy = check_command(false, None).unwrap();
        assert_eq!(legacy.body, bson::doc! {"isMaster": 1, "helloOk": true, "$db": "admin"});
        let api = ServerApi { version: "1".into(), strict: None, deprecation_errors: Some(true) };
        let versioned = check_command(true, Some(&api)).unwrap();
        assert_eq!(versioned.body.get_str("apiVersion").unwrap(), "1");
        assert!(versioned.body.get_bool("apiDeprecationErrors").unwrap());
        assert!(!versioned.body.contains_key("client"), "metadata only in the handshake");
    }

    #[test]
    fn options_from_a_connection_string() {
        let uri = crate::connection_string::ConnectionString::parse(
            "mongodb://h/?appName=app&heartbeatFrequencyMS=2000&connectTimeoutMS=300&socketTimeoutMS=400",
        )
        .unwrap();
        let options = MonitorOptions::from_uri_options(&uri.options, None).unwrap();
        assert_eq!(options.heartbeat_frequency, Duration::from_secs(2));
        assert_eq!(options.connection.connect_timeout, Some(Duration::from_millis(300)));
        assert_eq!(options.connection.metadata.application_name.as_deref(), Some("app"));
        let monitor = Monitor::new(ServerAddress::new("h", 1), options, Arc::new(|_| {}));
        // The monitoring socket times out after connectTimeoutMS, not socketTimeoutMS.
        assert_eq!(monitor.connection_options.socket_timeout, Some(Duration::from_millis(300)));
        let uri = crate::connection_string::ConnectionString::parse("mongodb://h/").unwrap();
        let options = MonitorOptions::from_uri_options(&uri.options, None).unwrap();
        assert_eq!(options.heartbeat_frequency, DEFAULT_HEARTBEAT_FREQUENCY);
    }

    #[test]
    fn heartbeat_frequency_has_a_floor() {
        let options =
            MonitorOptions { heartbeat_frequency: Duration::from_millis(10), ..MonitorOptions::default() };
        let monitor = Monitor::new(ServerAddress::new("a", 1), options, Arc::new(|_| {}));
        assert_eq!(monitor.heartbeat_frequency, MIN_HEARTBEAT_FREQUENCY);
        assert_eq!(
            monitor.connection_options.socket_timeout,
            Some(crate::connection::DEFAULT_CONNECT_TIMEOUT)
        );
    }
}
