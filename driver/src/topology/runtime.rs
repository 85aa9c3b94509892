//! The topology's state under its lock (SDAM "Multi-threaded and asynchronous client
//! implementation"): servers with their monitor and pool, applying monitor results and
//! application errors, adding and removing servers, closing.

use std::collections::BTreeMap;
use std::fmt::{self};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;

use super::options::*;
use crate::cmap::{Pool, PopulationError, TcpConnector};
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::monitor::{MonitorEvent, MonitorHandle};
use crate::sdam::event::SdamEvent;
use crate::sdam::{
    CheckOutcome, ErrorAction, HandshakePhase, ServerAddress, ServerDescription, TopologyState, TopologyType,
};

/// A selected server: its description at selection time and its pool. It counts as one
/// operation in progress on the server (the in-window choice prefers less busy servers)
/// until dropped.
#[derive(Debug)]
pub struct SelectedServer {
    pub(super) description: ServerDescription,
    pub(super) pool: Pool<Connection>,
    pub(super) operations: Arc<AtomicU32>,
    pub(super) criteria: SelectionCriteria,
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
pub(super) struct Server {
    pub(super) pool: Pool<Connection>,
    pub(super) monitor: Option<MonitorHandle>,
    pub(super) operations: Arc<AtomicU32>,
}

/// What the topology lock guards.
pub(super) struct Runtime {
    pub(super) state: TopologyState,
    pub(super) servers: BTreeMap<ServerAddress, Server>,
    pub(super) closed: bool,
}

pub(super) struct Inner {
    pub(super) options: TopologyOptions,
    pub(super) handlers: EventHandlers,
    pub(super) connector: Arc<TcpConnector>,
    pub(super) runtime: Mutex<Runtime>,
    /// Bumped after every applied change (and at shutdown): wakes server selection.
    pub(super) changed: watch::Sender<u64>,
    /// The highest `$clusterTime` seen, in command replies and monitors' `hello` replies
    /// (sessions spec "Gossipping the cluster time").
    pub(super) cluster_time: Mutex<Option<bson::Document>>,
}

/// A running topology: the SDAM state, its monitors and its pools. Dropping it stops the
/// monitors and closes the pools without waiting; [`Topology::shutdown`] also waits for the
/// monitor tasks to end.
pub struct Topology {
    pub(super) inner: Arc<Inner>,
}

impl fmt::Debug for Topology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Topology").field("description", &self.description()).finish_non_exhaustive()
    }
}

impl Inner {
    pub(super) fn lock(&self) -> MutexGuard<'_, Runtime> {
        self.runtime.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn publish(&self, event: &SdamEvent) {
        if let Some(handler) = &self.handlers.sdam {
            handler(event);
        }
    }

    /// Keeps `reply`'s `$clusterTime` if it is newer than the one held.
    pub(super) fn advance_cluster_time(&self, reply: &bson::Document) {
        let Ok(new) = reply.get_document("$clusterTime") else { return };
        let Some(new_ts) = cluster_timestamp(new) else { return };
        let mut held = self.cluster_time.lock().unwrap_or_else(PoisonError::into_inner);
        if held.as_ref().and_then(cluster_timestamp).is_none_or(|old| new_ts > old) {
            *held = Some(new.clone());
        }
    }

    pub(super) fn wake(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Creates the pool and (unless load balanced) the monitor of `address`.
    pub(super) fn add_server(self: &Arc<Self>, rt: &mut Runtime, address: &ServerAddress) -> Result<()> {
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
    pub(super) fn monitor_event(self: &Arc<Self>, event: MonitorEvent) {
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
    pub(super) fn population_failed(self: &Arc<Self>, address: &ServerAddress, e: &PopulationError) {
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
    pub(super) fn carry_out(
        self: &Arc<Self>,
        rt: &mut Runtime,
        outcome: CheckOutcome,
        cause: Option<&Error>,
    ) {
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

    pub(super) fn handle_error(
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
    pub(super) fn close(&self) -> Option<(Vec<Server>, Vec<SdamEvent>)> {
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
pub(super) struct ErrorSource {
    pub(super) when: HandshakePhase,
    pub(super) generation: u32,
    pub(super) max_wire_version: i32,
    pub(super) service_id: Option<bson::oid::ObjectId>,
}

/// Clears the pool of `address` until its generation reaches the one the topology state
/// counts (the state advanced it when it decided the clear).
pub(super) fn sync_pool_generation(rt: &Runtime, address: &ServerAddress, cause: Option<&Error>) {
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
