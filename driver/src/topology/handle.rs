//! The [`Topology`] handle (SDAM runtime; server selection spec "Server Selection
//! Algorithm" for multi-threaded drivers): starting, the selection loop that waits for the
//! topology to change, check-out, error reports, SRV polling and shutdown.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::options::*;
use super::runtime::*;
use crate::cmap::{Pool, PooledConnection, TcpConnector};
use crate::connection::Connection;
use crate::connection_string::ConnectionString;
use crate::error::{Error, ErrorKind, Result};
use crate::monitor::MonitorHandle;
use crate::sdam::{
    ErrorAction, HandshakePhase, ServerAddress, TopologyDescription, TopologyState, TopologyType,
};
use crate::selection::{self, Operation, ReadPreference, write_stage};

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
    use crate::monitor::MonitorEvent;
    use crate::sdam::ServerDescription;

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
