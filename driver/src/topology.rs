//! The topology runtime (SDAM "Multi-threaded and asynchronous client implementation" and
//! server selection spec "Server Selection Algorithm" for multi-threaded drivers): one
//! monitor and one connection pool per server, every check applied under one lock, and the
//! selection loop that waits for the topology to change.
//!
//! [`Topology::start`] opens the [`TopologyState`], then for each server starts a
//! [`MonitorHandle`] and builds a [`Pool`] of [`TcpConnector`] connections. Each monitor
//! result goes through [`TopologyState::apply_check`] with the lock held, and the runtime
//! carries out the [`CheckOutcome`] before releasing it (events, monitors and pools for
//! added and removed servers, pools marked ready or cleared, immediate checks) and wakes
//! the operations waiting in [`Topology::select_server`]. The operation executor reports
//! its errors to [`Topology::handle_application_error`]. [`Topology::shutdown`] (or dropping
//! the topology) stops every monitor and closes every pool.
//!
//! ```no_run
//! # async fn demo() -> mongo_driver::Result<()> {
//! use mongo_driver::connection_string::ConnectionString;
//! use mongo_driver::topology::{EventHandlers, SelectionCriteria, Topology, TopologyOptions};
//!
//! let uri = ConnectionString::parse("mongodb://localhost:27017/?replicaSet=rs0")?;
//! let topology = Topology::start(TopologyOptions::from_connection_string(&uri)?, EventHandlers::default())?;
//! let server = topology.select_server(&SelectionCriteria::Write).await?;
//! let connection = topology.check_out(&server).await?;
//! drop(connection);
//! topology.shutdown().await;
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::cmap::event::SharedCmapEventHandler;
use crate::cmap::{Pool, PoolOptions, PooledConnection, PopulationError, TcpConnector};
use crate::connection::{Connection, ConnectionOptions};
use crate::connection_string::ConnectionString;
use crate::error::{Error, ErrorKind, Result};
use crate::monitor::{MonitorEvent, MonitorHandle, MonitorOptions};
use crate::sdam::event::SdamEvent;
use crate::sdam::{
    CheckOutcome, ErrorAction, HandshakePhase, ServerAddress, ServerDescription, TopologyDescription,
    TopologySettings, TopologyState, TopologyType,
};
use crate::selection::{
    self, Operation, ReadPreference, SelectionOptions, latency::DEFAULT_LOCAL_THRESHOLD, write_stage,
};

/// The `clusterTime` timestamp of a `$clusterTime` document (sessions spec, "Gossipping
/// the cluster time").
pub(crate) fn cluster_timestamp(doc: &bson::Document) -> Option<bson::Timestamp> {
    doc.get_timestamp("clusterTime").ok()
}

/// `serverSelectionTimeoutMS` when none is given (30 seconds).
pub const DEFAULT_SERVER_SELECTION_TIMEOUT: Duration = Duration::from_secs(30);

/// Receives SDAM monitoring events (SDAM monitoring spec), heartbeats included. Called
/// with the topology lock held, in the order the changes were applied: it must be quick
/// and must not call back into the topology.
pub type SdamEventHandler = Arc<dyn Fn(&SdamEvent) + Send + Sync>;

/// The monitoring event handlers of a topology.
#[derive(Clone, Default)]
pub struct EventHandlers {
    /// SDAM events (topology, server and heartbeat events).
    pub sdam: Option<SdamEventHandler>,
    /// CMAP events of every pool.
    pub cmap: Option<SharedCmapEventHandler>,
}

impl fmt::Debug for EventHandlers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventHandlers")
            .field("sdam", &self.sdam.is_some())
            .field("cmap", &self.cmap.is_some())
            .finish()
    }
}

/// Everything the runtime needs from the client's configuration.
#[derive(Debug, Clone)]
pub struct TopologyOptions {
    /// Seeds, initial topology type and replica set name.
    pub settings: TopologySettings,
    /// How monitors check their servers (`heartbeatFrequencyMS`, the monitoring connection).
    pub monitor: MonitorOptions,
    /// How pooled connections are opened and handshaken.
    pub connection: ConnectionOptions,
    /// The pools' CMAP options.
    pub pool: PoolOptions,
    /// `localThresholdMS` and `heartbeatFrequencyMS` as server selection uses them.
    pub selection: SelectionOptions,
    /// `serverSelectionTimeoutMS` (default [`DEFAULT_SERVER_SELECTION_TIMEOUT`]).
    pub server_selection_timeout: Duration,
    /// SRV polling, for a `mongodb+srv` client that is not load balanced (set by the client
    /// after resolving the seed list).
    pub srv_polling: Option<crate::srv::SrvPolling>,
}

impl TopologyOptions {
    /// The options a connection string gives (SDAM, CMAP and server selection options).
    pub fn from_connection_string(uri: &ConnectionString) -> Result<Self> {
        let o = &uri.options;
        let monitor = MonitorOptions::from_uri_options(o, None)?;
        let connection = ConnectionOptions {
            credential: crate::auth::Credential::from_connection_string(uri)?,
            ..ConnectionOptions::from_uri_options(o, None)?
        };
        if connection.credential.as_ref().is_some_and(crate::auth::Credential::is_x509) {
            // Said when the client is made rather than on every connection attempt.
            crate::auth::x509::check_tls(
                connection.tls.as_ref().is_some_and(crate::connection::TlsConfig::has_client_certificate),
            )?;
        }
        Ok(Self {
            settings: TopologySettings::from_connection_string(uri)?,
            connection,
            pool: PoolOptions::from_uri_options(o),
            selection: SelectionOptions {
                local_threshold: o.local_threshold.unwrap_or(DEFAULT_LOCAL_THRESHOLD),
                heartbeat_frequency: monitor.heartbeat_frequency,
            },
            server_selection_timeout: o.server_selection_timeout.unwrap_or(DEFAULT_SERVER_SELECTION_TIMEOUT),
            srv_polling: None,
            monitor,
        })
    }
}

/// What an operation needs from its server (server selection spec "Read preference" and
/// "Selecting servers for writes").
#[derive(Debug, Clone, PartialEq)]
pub enum SelectionCriteria {
    /// A read with this read preference.
    Read(ReadPreference),
    /// A write: a primary, mongos, load balancer or single server.
    Write,
    /// An aggregation with a write stage (`$out`, `$merge`): a read with this read
    /// preference when every available server is 5.0+, else a write (CRUD spec
    /// "Aggregation Pipelines with Write Stages"; resolved in each selection attempt).
    WriteStage(ReadPreference),
}

impl fmt::Display for SelectionCriteria {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read(rp) => write!(f, "read preference {rp}"),
            Self::Write => f.write_str("a writable server"),
            Self::WriteStage(rp) => write!(f, "a pipeline with a write stage (read preference {rp})"),
        }
    }
}

/// A selected server: its description at selection time and its pool. It counts as one
/// operation in progress on the server (the in-window choice prefers less busy servers)
/// until dropped.
#[derive(Debug)]
pub struct SelectedServer {
    description: ServerDescription,
    pool: Pool<Connection>,
    operations: Arc<AtomicU32>,
    criteria: SelectionCriteria,
}

impl SelectedServer {
    /// What the server was selected for: the criteria asked for, with a
    /// [`SelectionCriteria::WriteStage`] resolved to `Read` or `Write` (so the command's
    /// `$readPreference` follows the read preference actually used).
    pub fn criteria(&self) -> &SelectionCriteria {
        &self.criteria
    }

    /// The server's address.
    pub fn address(&self) -> &ServerAddress {
        &self.description.address
    }

    /// The server's description when it was selected.
    pub fn description(&self) -> &ServerDescription {
        &self.description
    }

    /// The server's connection pool.
    pub fn pool(&self) -> &Pool<Connection> {
        &self.pool
    }
}

impl Drop for SelectedServer {
    fn drop(&mut self) {
        self.operations.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One server's runtime parts.
struct Server {
    pool: Pool<Connection>,
    monitor: Option<MonitorHandle>,
    operations: Arc<AtomicU32>,
}

/// What the topology lock guards.
struct Runtime {
    state: TopologyState,
    servers: BTreeMap<ServerAddress, Server>,
    closed: bool,
}

struct Inner {
    options: TopologyOptions,
    handlers: EventHandlers,
    connector: Arc<TcpConnector>,
    runtime: Mutex<Runtime>,
    /// Bumped after every applied change (and at shutdown): wakes server selection.
    changed: watch::Sender<u64>,
    /// The highest `$clusterTime` seen, in command replies and monitors' `hello` replies
    /// (sessions spec "Gossipping the cluster time").
    cluster_time: Mutex<Option<bson::Document>>,
}

/// A running topology: the SDAM state, its monitors and its pools. Dropping it stops the
/// monitors and closes the pools without waiting; [`Topology::shutdown`] also waits for the
/// monitor tasks to end.
pub struct Topology {
    inner: Arc<Inner>,
}

impl fmt::Debug for Topology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Topology").field("description", &self.description()).finish_non_exhaustive()
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Runtime> {
        self.runtime.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn publish(&self, event: &SdamEvent) {
        if let Some(handler) = &self.handlers.sdam {
            handler(event);
        }
    }

    /// Keeps `reply`'s `$clusterTime` if it is newer than the one held.
    fn advance_cluster_time(&self, reply: &bson::Document) {
        let Ok(new) = reply.get_document("$clusterTime") else { return };
        let Some(new_ts) = cluster_timestamp(new) else { return };
        let mut held = self.cluster_time.lock().unwrap_or_else(PoisonError::into_inner);
        if held.as_ref().and_then(cluster_timestamp).is_none_or(|old| new_ts > old) {
            *held = Some(new.clone());
        }
    }

    fn wake(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Creates the pool and (unless load balanced) the monitor of `address`.
    fn add_server(self: &Arc<Self>, rt: &mut Runtime, address: &ServerAddress) -> Result<()> {
        if rt.servers.contains_key(address) {
            return Ok(());
        }
        let weak = Arc::downgrade(self);
        let population_errors = {
            let weak = weak.clone();
            let address = address.clone();
            Arc::new(move |e: PopulationError| {
                if let Some(inner) = weak.upgrade() {
                    inner.population_failed(&address, &e);
                }
            })
        };
        let load_balanced = rt.state.description().topology_type == TopologyType::LoadBalanced;
        let mut builder = Pool::builder(address.clone(), self.connector.clone())
            .options(self.options.pool.clone())
            .load_balanced(load_balanced)
            .population_error_handler(population_errors);
        if let Some(cmap) = &self.handlers.cmap {
            builder = builder.event_handler(cmap.clone());
        }
        let pool = builder.build()?;
        let monitor = if load_balanced {
            pool.ready();
            None
        } else {
            Some(MonitorHandle::start(address.clone(), self.options.monitor.clone(), move |event| {
                if let Some(inner) = weak.upgrade() {
                    inner.monitor_event(event);
                }
            })?)
        };
        rt.servers.insert(address.clone(), Server { pool, monitor, operations: Arc::default() });
        Ok(())
    }

    /// A monitor's report: heartbeats are published, descriptions applied.
    fn monitor_event(self: &Arc<Self>, event: MonitorEvent) {
        match event {
            MonitorEvent::HeartbeatStarted(e) => self.publish(&SdamEvent::ServerHeartbeatStarted(e)),
            MonitorEvent::HeartbeatSucceeded(e) => {
                // Monitors gossip too: a `hello` reply's `$clusterTime` advances the client's.
                self.advance_cluster_time(&e.reply);
                self.publish(&SdamEvent::ServerHeartbeatSucceeded(e));
            }
            MonitorEvent::HeartbeatFailed(e) => self.publish(&SdamEvent::ServerHeartbeatFailed(e)),
            MonitorEvent::ServerChecked(description) => {
                let mut rt = self.lock();
                if rt.closed || !rt.servers.contains_key(&description.address) {
                    return;
                }
                let cause = description.error.as_ref().map(|e| {
                    Error::io(format!("checking {}", description.address), std::io::Error::other(e.clone()))
                });
                let outcome = rt.state.apply_check(*description);
                self.carry_out(&mut rt, outcome, cause.as_ref());
            }
        }
    }

    /// An establishment failed (for a check-out, or in the background for minPoolSize): an
    /// error before the handshake completed (CMAP "Populating the Pool with a Connection"
    /// defers it to SDAM).
    fn population_failed(self: &Arc<Self>, address: &ServerAddress, e: &PopulationError) {
        let mut rt = self.lock();
        let wire = rt.state.description().server(address).map_or(0, |s| s.max_wire_version);
        let source = ErrorSource {
            when: HandshakePhase::BeforeHandshakeCompletes,
            generation: e.generation,
            max_wire_version: wire,
            // Load-balanced: an error after the hello (authentication) names the service
            // whose connections are then cleared.
            service_id: e.error.service_id(),
        };
        self.handle_error(&mut rt, address, &e.error, source);
    }

    /// Carries out a check outcome with the lock held: events first (a server is marked
    /// Unknown before its pool is cleared), then monitors and pools, then wakes selection.
    fn carry_out(self: &Arc<Self>, rt: &mut Runtime, outcome: CheckOutcome, cause: Option<&Error>) {
        if !outcome.applied {
            return;
        }
        for event in &outcome.events {
            self.publish(event);
        }
        for address in &outcome.start_monitoring {
            if let Err(error) = self.add_server(rt, address) {
                tracing::warn!(%address, %error, "could not start monitoring a new server");
            }
        }
        for address in &outcome.stop_monitoring {
            if let Some(server) = rt.servers.remove(address) {
                server.pool.close();
                // Dropping the handle ends the monitor's task.
                drop(server.monitor);
            }
        }
        for address in &outcome.clear_pools {
            sync_pool_generation(rt, address, cause);
        }
        if let Some(server) = outcome.mark_pool_ready.as_ref().and_then(|a| rt.servers.get(a)) {
            server.pool.ready();
        }
        for address in &outcome.request_checks {
            if let Some(monitor) = rt.servers.get(address).and_then(|s| s.monitor.as_ref()) {
                monitor.request_check();
            }
        }
        self.wake();
    }

    fn handle_error(
        self: &Arc<Self>,
        rt: &mut Runtime,
        address: &ServerAddress,
        error: &Error,
        source: ErrorSource,
    ) -> ErrorAction {
        if rt.closed {
            return ErrorAction { stale: true, ..ErrorAction::default() };
        }
        // Load-balanced pools count generations per service (load balancer spec): the
        // pool decides staleness there, and a clear is for the connection's service only.
        let load_balanced = rt.state.description().topology_type == TopologyType::LoadBalanced;
        let generation = match load_balanced {
            true => rt.state.pool_generation(address).unwrap_or(source.generation),
            false => source.generation,
        };
        let action = rt.state.handle_application_error(
            address,
            error,
            source.when,
            generation,
            source.max_wire_version,
        );
        if action.stale {
            return action;
        }
        self.carry_out(rt, action.change.clone(), Some(error));
        if action.clear_pool {
            if load_balanced {
                // Before the hello answered there is no service id: nothing to clear.
                // An establishment error (its connection had no service generation yet)
                // clears the service whatever its generation.
                let generation =
                    (source.when == HandshakePhase::AfterHandshakeCompletes).then_some(source.generation);
                if let (Some(server), Some(service_id)) = (rt.servers.get(address), source.service_id) {
                    server.pool.clear_service_from(service_id, generation);
                }
            } else {
                sync_pool_generation(rt, address, Some(error));
            }
        }
        if let Some(monitor) = rt.servers.get(address).and_then(|s| s.monitor.as_ref()) {
            if action.cancel_check {
                monitor.cancel_check();
            }
            if action.request_check {
                monitor.request_check();
            }
        }
        self.wake();
        action
    }

    /// Takes everything out of the runtime and returns what must be stopped and published.
    fn close(&self) -> Option<(Vec<Server>, Vec<SdamEvent>)> {
        let mut rt = self.lock();
        if rt.closed {
            return None;
        }
        rt.closed = true;
        let servers: Vec<Server> = std::mem::take(&mut rt.servers).into_values().collect();
        for server in &servers {
            server.pool.close();
        }
        let events = rt.state.close();
        drop(rt);
        self.wake();
        Some((servers, events))
    }
}

/// Where an application error happened: the connection's handshake phase, pool generation,
/// server wire version and (load-balanced mode) service id.
#[derive(Debug, Clone, Copy)]
struct ErrorSource {
    when: HandshakePhase,
    generation: u32,
    max_wire_version: i32,
    service_id: Option<bson::oid::ObjectId>,
}

/// Clears the pool of `address` until its generation reaches the one the topology state
/// counts (the state advanced it when it decided the clear).
fn sync_pool_generation(rt: &Runtime, address: &ServerAddress, cause: Option<&Error>) {
    let (Some(server), Some(target)) = (rt.servers.get(address), rt.state.pool_generation(address)) else {
        return;
    };
    while server.pool.status().generation < target {
        match cause {
            Some(cause) => server.pool.clear_with_cause(cause),
            None => server.pool.clear(),
        }
    }
}

impl Topology {
    /// Starts a topology (SDAM "Initial TopologyDescription"): publishes the opening
    /// events, then creates a pool and starts a monitor for each seed (in LoadBalanced mode
    /// no monitor: the pool is ready at once). Must be called inside a Tokio runtime.
    pub fn start(options: TopologyOptions, handlers: EventHandlers) -> Result<Self> {
        tokio::runtime::Handle::try_current()
            .map_err(|e| Error::invalid_argument(format!("a topology needs a tokio runtime: {e}")))?;
        let (state, events) = TopologyState::open(&options.settings);
        let connector = Arc::new(TcpConnector::new(options.connection.clone()));
        let (changed, _) = watch::channel(0);
        let inner = Arc::new(Inner {
            options,
            handlers,
            connector,
            runtime: Mutex::new(Runtime { state, servers: BTreeMap::new(), closed: false }),
            changed,
            cluster_time: Mutex::new(None),
        });
        {
            let mut rt = inner.lock();
            for event in &events {
                inner.publish(event);
            }
            let seeds: Vec<ServerAddress> = rt.state.description().servers.keys().cloned().collect();
            for address in &seeds {
                inner.add_server(&mut rt, address)?;
            }
        }
        if let Some(polling) = inner.options.srv_polling.clone()
            && inner.options.settings.initial_type != TopologyType::LoadBalanced
        {
            tokio::spawn(poll_srv(Arc::downgrade(&inner), polling));
        }
        Ok(Self { inner })
    }

    /// Starts a topology from a connection string with its options.
    pub fn from_uri(uri: &str, handlers: EventHandlers) -> Result<Self> {
        Self::start(TopologyOptions::from_connection_string(&ConnectionString::parse(uri)?)?, handlers)
    }

    /// The options the topology runs with.
    pub fn options(&self) -> &TopologyOptions {
        &self.inner.options
    }

    /// A copy of the current topology description.
    /// The highest `$clusterTime` the client has seen, from command replies and from its
    /// monitors' `hello` replies (sessions spec "Gossipping the cluster time").
    pub fn cluster_time(&self) -> Option<bson::Document> {
        self.inner.cluster_time.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Keeps `reply`'s `$clusterTime` as the client's if it is newer than the one held.
    pub fn advance_cluster_time(&self, reply: &bson::Document) {
        self.inner.advance_cluster_time(reply);
    }

    pub fn description(&self) -> TopologyDescription {
        self.inner.lock().state.description().clone()
    }

    /// The pool generation the topology counts for `address` (`None` if it left the topology).
    pub fn pool_generation(&self, address: &ServerAddress) -> Option<u32> {
        self.inner.lock().state.pool_generation(address)
    }

    /// The pool of `address`, if the server is in the topology.
    pub fn pool(&self, address: &ServerAddress) -> Option<Pool<Connection>> {
        self.inner.lock().servers.get(address).map(|s| s.pool.clone())
    }

    /// The connections checked out of all the pools now (sessions spec prose test 10).
    pub fn checked_out_connections(&self) -> usize {
        let pools: Vec<Pool<Connection>> =
            self.inner.lock().servers.values().map(|s| s.pool.clone()).collect();
        pools.iter().map(|p| p.status().in_use).sum()
    }

    /// Asks every monitor for an immediate check.
    pub fn request_immediate_checks(&self) {
        let rt = self.inner.lock();
        for monitor in rt.servers.values().filter_map(|s| s.monitor.as_ref()) {
            monitor.request_check();
        }
    }

    /// Selects a server within `serverSelectionTimeoutMS` (see [`Topology::select_server_within`]).
    pub async fn select_server(&self, criteria: &SelectionCriteria) -> Result<SelectedServer> {
        self.select_server_within(criteria, self.inner.options.server_selection_timeout).await
    }

    /// Selects a server for `criteria` (server selection spec, "Multi-threaded or
    /// asynchronous server selection"): validates the read preference, finds the suitable
    /// servers in the latency window and picks one by operation count; when there is none,
    /// requests immediate checks and waits for the topology to change, until `timeout`.
    /// Fails at once with [`ErrorKind::IncompatibleWireVersion`] (or an invalid read
    /// preference), and after `timeout` with [`ErrorKind::ServerSelection`] naming the
    /// criteria and the last topology description seen.
    pub async fn select_server_within(
        &self,
        criteria: &SelectionCriteria,
        timeout: Duration,
    ) -> Result<SelectedServer> {
        let deadline = Instant::now() + timeout;
        if let SelectionCriteria::Read(rp) | SelectionCriteria::WriteStage(rp) = criteria {
            rp.validate()?;
        }
        let mut changes = self.inner.changed.subscribe();
        loop {
            changes.borrow_and_update();
            let seen = {
                let rt = self.inner.lock();
                if rt.closed {
                    return Err(Error::new(ErrorKind::ServerSelection {
                        message: format!("cannot select {criteria}: the topology was shut down"),
                    }));
                }
                let description = rt.state.description();
                let resolved = match criteria {
                    SelectionCriteria::WriteStage(rp) if write_stage::applies(rp, description) => {
                        SelectionCriteria::Read(rp.clone())
                    }
                    SelectionCriteria::WriteStage(_) => SelectionCriteria::Write,
                    other => other.clone(),
                };
                let (operation, read_preference) = match &resolved {
                    SelectionCriteria::Read(rp) => (Operation::Read, rp.clone()),
                    _ => (Operation::Write, ReadPreference::primary()),
                };
                let selection = selection::evaluate(
                    description,
                    operation,
                    &read_preference,
                    &self.inner.options.selection,
                )?;
                let count = |a: &ServerAddress| {
                    rt.servers.get(a).map_or(u32::MAX, |s| s.operations.load(Ordering::SeqCst))
                };
                let chosen = selection.choose(count, &mut rand::rng());
                if let Some(server) = chosen.and_then(|d| rt.servers.get(&d.address).map(|s| (d, s))) {
                    let (description, server) = server;
                    server.operations.fetch_add(1, Ordering::SeqCst);
                    return Ok(SelectedServer {
                        description: description.clone(),
                        pool: server.pool.clone(),
                        operations: server.operations.clone(),
                        criteria: resolved,
                    });
                }
                for monitor in rt.servers.values().filter_map(|s| s.monitor.as_ref()) {
                    monitor.request_check();
                }
                summarize(description)
            };
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => {
                    return Err(Error::new(ErrorKind::ServerSelection {
                        message: format!(
                            "Server selection timeout: no server matched {criteria} within {} ms. Topology description: {seen}",
                            timeout.as_millis()
                        ),
                    }));
                }
            }
        }
    }

    /// Selects the server at `address` without evaluating a read preference (transactions
    /// spec "Mongos Pinning": a pinned transaction's commands all go to its mongos). Fails with
    /// [`ErrorKind::ServerSelection`] when the server is no longer in the topology or its
    /// type is unknown. `criteria` is what the command asked for (a write stage counts as a
    /// write: a transaction reads from the primary).
    pub fn select_pinned(
        &self,
        address: &ServerAddress,
        criteria: &SelectionCriteria,
    ) -> Result<SelectedServer> {
        let rt = self.inner.lock();
        let description = rt.state.description().server(address).filter(|d| d.server_type.is_available());
        match (description, rt.servers.get(address)) {
            (Some(description), Some(server)) if !rt.closed => {
                server.operations.fetch_add(1, Ordering::SeqCst);
                Ok(SelectedServer {
                    description: description.clone(),
                    pool: server.pool.clone(),
                    operations: server.operations.clone(),
                    criteria: match criteria {
                        SelectionCriteria::WriteStage(_) => SelectionCriteria::Write,
                        other => other.clone(),
                    },
                })
            }
            _ => Err(Error::new(ErrorKind::ServerSelection {
                message: format!("the pinned server {address} is not available"),
            })),
        }
    }

    /// Checks out a connection from the selected server's pool. An error while establishing
    /// a new connection (before its handshake completed) has been handled as SDAM says by
    /// the time it is returned (the pool reports it to the topology before closing the
    /// connection); pool errors (`PoolClearedError`, closed pool, wait queue timeout) are not.
    pub async fn check_out(&self, server: &SelectedServer) -> Result<PooledConnection<Connection>> {
        server.pool.check_out().await
    }

    /// Handles an operation's error from `address` on a connection of pool `generation` to
    /// a server of `max_wire_version` (SDAM "Error handling"; see
    /// [`TopologyState::handle_application_error`]) and carries out the [`ErrorAction`]:
    /// the server is marked Unknown (its events published) before its pool is cleared, then
    /// the monitor's check is cancelled or an immediate check requested. Returns the action.
    pub fn handle_application_error(
        &self,
        address: &ServerAddress,
        error: &Error,
        when: HandshakePhase,
        generation: u32,
        max_wire_version: i32,
    ) -> ErrorAction {
        let source = ErrorSource { when, generation, max_wire_version, service_id: None };
        let mut rt = self.inner.lock();
        self.inner.handle_error(&mut rt, address, error, source)
    }

    /// [`Topology::handle_application_error`] for an error on `connection` after its
    /// handshake (its address, generation and server wire version). In LoadBalanced mode a
    /// clear is for the connection's service only (load balancer spec).
    pub fn handle_connection_error(
        &self,
        connection: &PooledConnection<Connection>,
        error: &Error,
    ) -> ErrorAction {
        let description = connection.stream_description().ok();
        let source = ErrorSource {
            when: HandshakePhase::AfterHandshakeCompletes,
            generation: connection.generation(),
            max_wire_version: description.map_or(0, |d| d.max_wire_version),
            service_id: description.and_then(|d| d.service_id),
        };
        let mut rt = self.inner.lock();
        self.inner.handle_error(&mut rt, connection.address(), error, source)
    }

    /// Shuts the topology down: closes every pool, stops every monitor and waits for its
    /// task to end, then publishes ServerClosed per server and TopologyClosed last. Later
    /// selections fail; connections still checked out are closed when checked in.
    pub async fn shutdown(&self) {
        let Some((servers, events)) = self.inner.close() else {
            return;
        };
        for server in servers {
            if let Some(monitor) = server.monitor {
                monitor.stop().await;
            }
        }
        for event in &events {
            self.inner.publish(event);
        }
    }

    /// Whether every monitor task has ended (true after [`Topology::shutdown`]).
    pub fn monitors_finished(&self) -> bool {
        self.inner.lock().servers.values().filter_map(|s| s.monitor.as_ref()).all(MonitorHandle::is_finished)
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        // Pools closed; the monitor handles dropped here abort their tasks.
        if let Some((servers, events)) = self.inner.close() {
            drop(servers);
            for event in &events {
                self.inner.publish(event);
            }
        }
    }
}

/// The topology description as a selection error shows it: type, set name, and each
/// server's address, type and error.
/// SRV polling (polling-srv-records spec): every `rescanSRVIntervalMS` (the records' smallest
/// TTL, at least 60 seconds, unless [`crate::srv::SrvPolling::fixed_interval`]; `heartbeatFrequencyMS` after a
/// failed or empty lookup) the SRV records are read again and the servers of a Sharded or
/// Unknown topology follow them. Stops when the topology closes or becomes another type.
async fn poll_srv(topology: std::sync::Weak<Inner>, polling: crate::srv::SrvPolling) {
    let query = polling.name.query(&polling.service);
    let mut interval = polling.interval_after(&[]);
    loop {
        tokio::time::sleep(interval).await;
        let heartbeat = {
            let Some(inner) = topology.upgrade() else { return };
            let rt = inner.lock();
            if rt.closed
                || !matches!(
                    rt.state.description().topology_type,
                    TopologyType::Sharded | TopologyType::Unknown
                )
            {
                return;
            }
            inner.options.monitor.heartbeat_frequency
        };
        let lookup = polling.resolver.srv(&query).await;
        let Some(inner) = topology.upgrade() else { return };
        let mut rt = inner.lock();
        if rt.closed {
            return;
        }
        let current: Vec<ServerAddress> = rt.state.description().servers.keys().cloned().collect();
        match crate::srv::rescan(&polling.name, &query, &lookup, &current, polling.max_hosts) {
            Some(hosts) => {
                if let Ok(records) = &lookup {
                    interval = polling.interval_after(records);
                }
                let outcome = rt.state.apply_srv_hosts(&hosts);
                inner.carry_out(&mut rt, outcome, None);
            }
            None => interval = heartbeat,
        }
    }
}

fn summarize(description: &TopologyDescription) -> String {
    let mut out = format!("{{ type: {}", description.topology_type);
    if let Some(set) = &description.set_name {
        let _ = write!(out, ", setName: {set}");
    }
    out.push_str(", servers: [");
    for (i, server) in description.servers().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{{ address: {}, type: {}", server.address, server.server_type);
        if !server.tags.is_empty() {
            let _ = write!(out, ", tags: {}", server.tags);
        }
        if let Some(error) = &server.error {
            let _ = write!(out, ", error: {error}");
        }
        out.push_str(" }");
    }
    out.push_str("] }");
    out
}

#[cfg(test)]
mod tests {
    use bson::{Document, doc};
    use tokio::net::TcpListener;

    use super::*;

    /// A server that accepts connections and never answers: its monitor stays in its
    /// first check (until connectTimeoutMS), so the tests decide every description.
    async fn silent_server() -> (TcpListener, ServerAddress) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string().parse().unwrap();
        (listener, address)
    }

    fn report(topology: &Topology, address: &ServerAddress, hello: Document) {
        let description =
            ServerDescription::from_hello(address.clone(), &hello, Some(Duration::from_millis(1)));
        topology.inner.monitor_event(MonitorEvent::ServerChecked(Box::new(description)));
    }

    #[tokio::test]
    async fn an_incompatible_server_fails_selection_at_once() {
        let (_listener, a) = silent_server().await;
        let topology =
            Topology::from_uri(&format!("mongodb://{a}/?directConnection=true"), EventHandlers::default())
                .unwrap();
        report(
            &topology,
            &a,
            doc! { "ok": 1, "isWritablePrimary": true, "minWireVersion": 0, "maxWireVersion": 2 },
        );
        let started = Instant::now();
        let error = topology.select_server(&SelectionCriteria::Write).await.unwrap_err();
        assert!(matches!(*error.kind, ErrorKind::IncompatibleWireVersion { .. }), "{error}");
        assert!(started.elapsed() < Duration::from_secs(1));
        topology.shutdown().await;
    }

    #[tokio::test]
    async fn a_waiting_selection_wakes_on_a_topology_change() {
        let (_listener, a) = silent_server().await;
        let topology = Topology::from_uri(&format!("mongodb://{a}/"), EventHandlers::default()).unwrap();
        let started = Instant::now();
        let select = topology.select_server_within(&SelectionCriteria::Write, Duration::from_secs(5));
        let change = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            report(&topology, &a, doc! { "ok": 1, "isWritablePrimary": true, "maxWireVersion": 17 });
        };
        let (selected, ()) = tokio::join!(select, change);
        let selected = selected.unwrap();
        assert_eq!(selected.address(), &a);
        assert_eq!(selected.description().server_type, crate::sdam::ServerType::Standalone);
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(100) && waited < Duration::from_secs(2), "{waited:?}");
        drop(selected);
        topology.shutdown().await;
    }

    #[tokio::test]
    async fn the_busier_of_two_servers_in_the_window_is_not_chosen() {
        let (_l1, a) = silent_server().await;
        let (_l2, b) = silent_server().await;
        let topology = Topology::from_uri(&format!("mongodb://{a},{b}/"), EventHandlers::default()).unwrap();
        for server in [&a, &b] {
            report(&topology, server, doc! { "ok": 1, "msg": "isdbgrid", "maxWireVersion": 17 });
        }
        assert_eq!(topology.description().topology_type, TopologyType::Sharded);
        let busy = topology.select_server(&SelectionCriteria::Write).await.unwrap();
        for _ in 0..20 {
            let other = topology.select_server(&SelectionCriteria::Write).await.unwrap();
            assert_ne!(other.address(), busy.address());
        }
        // Released: both are chosen again.
        drop(busy);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..50 {
            seen.insert(topology.select_server(&SelectionCriteria::Write).await.unwrap().address().clone());
        }
        assert_eq!(seen.len(), 2);
        topology.shutdown().await;
    }

    #[tokio::test]
    async fn removed_servers_lose_their_pool_and_errors_from_them_are_stale() {
        let (_l1, a) = silent_server().await;
        let (_l2, c) = silent_server().await;
        let uri = format!("mongodb://{a},{c}/?replicaSet=rs");
        let topology = Topology::from_uri(&uri, EventHandlers::default()).unwrap();
        let pool_c = topology.pool(&c).unwrap();
        report(
            &topology,
            &a,
            doc! { "ok": 1, "isWritablePrimary": true, "setName": "rs", "hosts": [a.to_string()], "maxWireVersion": 17 },
        );
        assert!(topology.pool(&c).is_none());
        assert_eq!(pool_c.status().state, crate::cmap::PoolState::Closed);
        let error = Error::command(10107, "NotWritablePrimary", "not primary");
        let action =
            topology.handle_application_error(&c, &error, HandshakePhase::AfterHandshakeCompletes, 0, 17);
        assert!(action.stale);
        // The primary's pool is ready; a network error marks it Unknown and clears it.
        let pool_a = topology.pool(&a).unwrap();
        assert_eq!(pool_a.status().state, crate::cmap::PoolState::Ready);
        let network = Error::io("reading", std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset"));
        let action =
            topology.handle_application_error(&a, &network, HandshakePhase::AfterHandshakeCompletes, 0, 17);
        assert!(action.mark_unknown && action.clear_pool);
        assert_eq!(pool_a.status().generation, 1);
        assert_eq!(pool_a.status().state, crate::cmap::PoolState::Paused);
        assert_eq!(topology.description().topology_type, TopologyType::ReplicaSetNoPrimary);
        topology.shutdown().await;
    }

    #[test]
    fn the_runtime_types_cross_tasks() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Topology>();
        send_sync::<SelectedServer>();
    }

    #[tokio::test]
    async fn a_load_balancer_is_selected_at_once_and_its_pool_never_pauses() {
        let (_listener, a) = silent_server().await;
        let topology =
            Topology::from_uri(&format!("mongodb://{a}/?loadBalanced=true"), EventHandlers::default())
                .unwrap();
        let started = Instant::now();
        let selected = topology.select_server(&SelectionCriteria::Write).await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(selected.description().server_type, crate::sdam::ServerType::LoadBalancer);
        assert_eq!(selected.pool().status().state, crate::cmap::PoolState::Ready);
        let network = Error::io("reading", std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset"));
        let action =
            topology.handle_application_error(&a, &network, HandshakePhase::AfterHandshakeCompletes, 0, 17);
        assert!(action.clear_pool && !action.mark_unknown, "{action:?}");
        // Without a service id nothing is cleared, and the pool stays ready.
        assert_eq!(selected.pool().status().state, crate::cmap::PoolState::Ready);
        assert_eq!(selected.pool().status().generation, 0);
        assert_eq!(topology.description().topology_type, TopologyType::LoadBalanced);
        drop(selected);
        topology.shutdown().await;
    }
}
