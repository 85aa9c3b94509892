//! A running simulated deployment: its listeners on 127.0.0.1 (and its load balancers', load
//! balancer spec tests' README), its own runtime thread, and its connection string
//! (connection-string spec).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;

use tokio::net::TcpListener;
use tokio::runtime::Handle;
use tokio::sync::oneshot;
use tokio::task::JoinHandle as TaskHandle;

use crate::config::{Config, Topology};
use crate::server::{Cluster, Node, Role, connection};

/// Why a deployment could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A port could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The OS error.
        source: io::Error,
    },
    /// The runtime thread could not be started or died while starting.
    #[error("cannot start the simulator's runtime: {0}")]
    Runtime(String),
}

/// A simulated deployment serving on 127.0.0.1 until dropped.
///
/// It runs on its own thread and runtime, so it serves even while the caller blocks.
///
/// ```no_run
/// # async fn demo() -> Result<(), mongo_sim::StartError> {
/// let deployment = mongo_sim::Deployment::start(mongo_sim::Config::replica_set(3)).await?;
/// println!("{}", deployment.connection_string()); // mongodb://127.0.0.1:…/?replicaSet=rs0
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Deployment {
    cluster: Arc<Cluster>,
    connection_string: String,
    /// The members' listening `host:port` (what their names map to).
    member_addresses: Vec<String>,
    /// The load balancers' `host:port`: in front of the first router, in front of all.
    load_balancers: Vec<String>,
    shutdown: Option<oneshot::Sender<()>>,
    /// The runtime thread (`None` when it serves in the caller's runtime).
    thread: Option<JoinHandle<()>>,
    /// Opens in-memory connections, served by the deployment's runtime.
    connector: InMemoryConnector,
}

/// Opens in-memory connections to a deployment's servers ([`Deployment::in_memory_connector`]).
#[derive(Debug, Clone)]
pub struct InMemoryConnector {
    cluster: Arc<Cluster>,
    /// The load balancers' `host:port`.
    load_balancers: Vec<String>,
    /// The runtime serving the deployment.
    runtime: Handle,
    /// Turns of the load balancer in front of every router.
    turn: Arc<AtomicUsize>,
}

impl InMemoryConnector {
    /// Opens an in-memory connection to the server announced as `host` (a member, a router,
    /// or a load balancer's `host:port`), served by the deployment's runtime like an accepted
    /// TCP connection without TLS: the client's end, or `None` for an unknown host.
    pub fn connect(&self, host: &str) -> Option<tokio::io::DuplexStream> {
        let routers = || self.cluster.nodes.iter().filter(|n| n.role == Role::Router);
        let (node, behind_balancer) = match self.load_balancers.iter().position(|h| h == host) {
            Some(0) => (routers().next()?, true),
            Some(_) => {
                let count = routers().count().max(1);
                let turn = self.turn.fetch_add(1, Ordering::Relaxed) % count;
                (routers().nth(turn)?, true)
            }
            None => (self.cluster.nodes.iter().find(|n| n.host == host)?, false),
        };
        let (client, server) = tokio::io::duplex(IN_MEMORY_BUFFER);
        let serve =
            connection::serve_in_memory(Arc::clone(&self.cluster), Arc::clone(node), server, behind_balancer);
        self.runtime.spawn(serve);
        Some(client)
    }
}

/// The shared state, the load balancers' hosts, the members' listening addresses and the
/// runtime serving them.
type Started = Result<(Arc<Cluster>, Vec<String>, Vec<String>, Handle), StartError>;

/// The runtime thread being started: its start report, its shutdown trigger, its handle.
type Launched = (oneshot::Receiver<Started>, oneshot::Sender<()>, JoinHandle<()>);

/// The bytes an in-memory connection buffers each way before a writer waits for its reader.
const IN_MEMORY_BUFFER: usize = 1 << 20;

/// Binds `count` listeners from `first` (or on free ports).
async fn bind(count: usize, first: Option<u16>) -> Result<Vec<TcpListener>, StartError> {
    let mut listeners = Vec::with_capacity(count);
    for i in 0..count {
        let port = first.map_or(0, |p| p.saturating_add(i as u16));
        let addr = format!("127.0.0.1:{port}");
        let listener = TcpListener::bind(&addr).await.map_err(|source| StartError::Bind { addr, source })?;
        listeners.push(listener);
    }
    Ok(listeners)
}

fn host_of(listener: &TcpListener) -> String {
    listener.local_addr().map_or_else(|_| "127.0.0.1:0".to_owned(), |a: SocketAddr| a.to_string())
}

async fn accept_loop(cluster: Arc<Cluster>, node: Arc<Node>, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(connection::serve(Arc::clone(&cluster), Arc::clone(&node), stream));
            }
            Err(e) => {
                tracing::warn!(node = %node.host, error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}

/// A TCP load balancer: hands each connection it accepts to the next of `backends` (routers)
/// in turn, as a layer-4 balancer does; the router knows it came through a load balancer.
async fn load_balancer_loop(cluster: Arc<Cluster>, backends: Vec<Arc<Node>>, listener: TcpListener) {
    let next = AtomicUsize::new(0);
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let i = next.fetch_add(1, Ordering::Relaxed) % backends.len().max(1);
                let Some(node) = backends.get(i) else { continue };
                tokio::spawn(connection::serve_behind_load_balancer(
                    Arc::clone(&cluster),
                    Arc::clone(node),
                    stream,
                ));
            }
            Err(e) => {
                tracing::warn!(error = %e, "load balancer: accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}

/// Binds every node and serves until `shutdown` fires.
async fn serve(config: Config, started: oneshot::Sender<Started>, shutdown: oneshot::Receiver<()>) {
    let (members, routers) = match config.topology {
        Topology::Standalone => (1, 0),
        Topology::ReplicaSet => (config.members.max(1), 0),
        Topology::Sharded => (config.members.max(1), config.routers.max(1)),
    };
    // Routers take the first ports (they are what clients connect to), then the members.
    let router_listeners = match bind(routers, config.first_port).await {
        Ok(l) => l,
        Err(e) => {
            let _ = started.send(Err(e));
            return;
        }
    };
    let member_first = config.first_port.map(|p| p.saturating_add(routers as u16));
    let member_listeners = match bind(members, member_first).await {
        Ok(l) => l,
        Err(e) => {
            let _ = started.send(Err(e));
            return;
        }
    };
    // Load balancers: after the members, one in front of the first router, one in front of all.
    let balancers = if config.load_balanced && config.topology == Topology::Sharded { 2 } else { 0 };
    let balancer_first = member_first.map(|p| p.saturating_add(members as u16));
    let balancer_listeners = match bind(balancers, balancer_first).await {
        Ok(l) => l,
        Err(e) => {
            let _ = started.send(Err(e));
            return;
        }
    };
    let member_addresses: Vec<String> = member_listeners.iter().map(host_of).collect();
    let member_hosts = member_addresses
        .iter()
        .enumerate()
        .map(|(i, address)| config.member_names.get(i).cloned().unwrap_or_else(|| address.clone()))
        .collect();
    let router_hosts = router_listeners.iter().map(host_of).collect();
    let balancer_hosts: Vec<String> = balancer_listeners.iter().map(host_of).collect();
    let cluster = Arc::new(Cluster::new(config, member_hosts, router_hosts));
    let listeners = member_listeners.into_iter().chain(router_listeners);
    let mut tasks: Vec<TaskHandle<()>> = Vec::new();
    for (node, listener) in cluster.nodes.iter().zip(listeners) {
        tasks.push(tokio::spawn(accept_loop(Arc::clone(&cluster), Arc::clone(node), listener)));
    }
    let routers: Vec<Arc<Node>> = cluster.nodes.iter().filter(|n| n.role == Role::Router).cloned().collect();
    for (i, listener) in balancer_listeners.into_iter().enumerate() {
        let backends = if i == 0 { routers.iter().take(1).cloned().collect() } else { routers.clone() };
        tasks.push(tokio::spawn(load_balancer_loop(Arc::clone(&cluster), backends, listener)));
    }
    let report = (Arc::clone(&cluster), balancer_hosts, member_addresses, Handle::current());
    if started.send(Ok(report)).is_ok() {
        let _ = shutdown.await;
    }
    // Serving in a runtime that outlives the deployment: stop listening with it.
    for task in tasks {
        task.abort();
    }
}

impl Deployment {
    fn launch(config: Config) -> Result<Launched, StartError> {
        let (started_tx, started_rx) = oneshot::channel();
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("mongo-sim".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = started_tx.send(Err(StartError::Runtime(e.to_string())));
                        return;
                    }
                };
                runtime.block_on(serve(config, started_tx, shutdown_rx));
            })
            .map_err(|e| StartError::Runtime(e.to_string()))?;
        Ok((started_rx, shutdown_tx, thread))
    }

    fn assemble(
        (cluster, load_balancers, member_addresses, runtime): (
            Arc<Cluster>,
            Vec<String>,
            Vec<String>,
            Handle,
        ),
        shutdown: oneshot::Sender<()>,
        thread: Option<JoinHandle<()>>,
    ) -> Self {
        let connection_string = match load_balancers.first() {
            Some(single) => format!("mongodb://{single}/?loadBalanced=true"),
            None => connection_string(&cluster, &member_addresses),
        };
        Self {
            connector: InMemoryConnector {
                cluster: Arc::clone(&cluster),
                load_balancers: load_balancers.clone(),
                runtime,
                turn: Arc::default(),
            },
            cluster,
            connection_string,
            member_addresses,
            load_balancers,
            shutdown: Some(shutdown),
            thread,
        }
    }

    /// Starts a deployment; it listens once this returns.
    pub async fn start(config: Config) -> Result<Self, StartError> {
        let (started, shutdown, thread) = Self::launch(config)?;
        let cluster = started.await.map_err(|_| StartError::Runtime("runtime thread exited".into()))??;
        Ok(Self::assemble(cluster, shutdown, Some(thread)))
    }

    /// Starts a deployment served by tasks of the caller's tokio runtime instead of a thread
    /// of its own, so that its timers (fail points' `blockTimeMS`, awaited `hello`s, elections)
    /// follow that runtime's clock: under `tokio::time::pause()` the deployment and a driver
    /// connected through [`Deployment::connect_in_memory`] share one virtual clock, which
    /// advances only when every task waits, so a 50 ms timeout against a 55 ms block is
    /// decided by the timers' order, not by the machine's load. It also listens on
    /// 127.0.0.1 (its hosts are those ports), but stops when dropped.
    pub async fn start_in_current_runtime(config: Config) -> Result<Self, StartError> {
        let (started_tx, started_rx) = oneshot::channel();
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        tokio::spawn(serve(config, started_tx, shutdown_rx));
        let cluster =
            started_rx.await.map_err(|_| StartError::Runtime("the serving task exited".into()))??;
        Ok(Self::assemble(cluster, shutdown_tx, None))
    }

    /// Opens an in-memory connection to the server announced as `host` (see
    /// [`InMemoryConnector::connect`]).
    pub fn connect_in_memory(&self, host: &str) -> Option<tokio::io::DuplexStream> {
        self.connector.connect(host)
    }

    /// What opens in-memory connections to this deployment's servers (clonable, e.g. for a
    /// driver's dialer); they work as long as the deployment runs.
    pub fn in_memory_connector(&self) -> InMemoryConnector {
        self.connector.clone()
    }

    /// Whether it is served by the caller's runtime ([`Deployment::start_in_current_runtime`]).
    pub fn in_current_runtime(&self) -> bool {
        self.thread.is_none()
    }

    /// Starts a deployment from synchronous code (not from inside an async runtime).
    pub fn start_blocking(config: Config) -> Result<Self, StartError> {
        let (started, shutdown, thread) = Self::launch(config)?;
        let cluster =
            started.blocking_recv().map_err(|_| StartError::Runtime("runtime thread exited".into()))??;
        Ok(Self::assemble(cluster, shutdown, Some(thread)))
    }

    /// The MongoDB connection string that reaches this deployment (load-balanced: the load
    /// balancer in front of one router, with `loadBalanced=true`).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), mongo_sim::StartError> {
    /// let lb = mongo_sim::Deployment::start(mongo_sim::Config::load_balanced(2, 3)).await?;
    /// println!("{}", lb.connection_string()); // mongodb://127.0.0.1:…/?loadBalanced=true
    /// println!("{:?}", lb.load_balancer_hosts()); // [one router behind it, both routers]
    /// # Ok(()) }
    /// ```
    pub fn connection_string(&self) -> &str {
        &self.connection_string
    }

    /// The configuration it runs.
    pub fn config(&self) -> &Config {
        &self.cluster.config
    }

    /// Replica-set members' (or the standalone's) `host:port`, in member order: the names they
    /// announce (their listening addresses unless [`Config::member_names`] names them).
    pub fn member_hosts(&self) -> Vec<String> {
        self.hosts_where(|r| !matches!(r, Role::Router))
    }

    /// Replica-set members' (or the standalone's) listening `host:port`, in member order.
    pub fn member_addresses(&self) -> &[String] {
        &self.member_addresses
    }

    /// The load balancers' `host:port` (load-balanced only): the one in front of the first
    /// router, then the one in front of every router (the tests' `SINGLE_MONGOS_LB_URI`
    /// and `MULTI_MONGOS_LB_URI`).
    pub fn load_balancer_hosts(&self) -> &[String] {
        &self.load_balancers
    }

    /// Routers' `host:port` (sharded only).
    pub fn router_hosts(&self) -> Vec<String> {
        self.hosts_where(|r| matches!(r, Role::Router))
    }

    /// The current primary's `host:port`, if there is one (replica set and shard).
    pub fn primary_host(&self) -> Option<String> {
        let primary = self.cluster.replica_set.as_ref()?.state().primary?;
        self.member_hosts().get(primary).cloned()
    }

    fn hosts_where(&self, keep: impl Fn(Role) -> bool) -> Vec<String> {
        self.cluster.nodes.iter().filter(|n| keep(n.role)).map(|n| n.host.clone()).collect()
    }
}

fn connection_string(cluster: &Cluster, member_addresses: &[String]) -> String {
    let routers = cluster
        .nodes
        .iter()
        .filter(|n| n.role == Role::Router)
        .map(|n| n.host.as_str())
        .collect::<Vec<_>>()
        .join(",");
    let members = member_addresses.join(",");
    match cluster.config.topology {
        Topology::Standalone => format!("mongodb://{members}/"),
        Topology::ReplicaSet => format!("mongodb://{members}/?replicaSet={}", cluster.config.set_name),
        Topology::Sharded => format!("mongodb://{routers}/"),
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
