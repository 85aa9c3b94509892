//! The server layer: nodes (mongod/mongos), their shared deployment state, connections and
//! the command pipeline around the data engine.

pub mod admin;
pub mod api_version;
pub mod auth;
pub mod cluster_time;
pub mod connection;
pub mod dispatch;
pub mod errors;
pub mod fail_point;
pub mod handshake;
pub mod legacy_auth;
pub mod read_concern;
pub mod replica_set;
pub mod retryable;
pub mod sessions;
pub mod transactions;

use std::sync::atomic::{AtomicI32, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bson::oid::ObjectId;
use bson::{Document, doc};
use tokio::sync::watch;

use crate::config::{Config, Topology};
use crate::engine::Store;

use cluster_time::ClusterClock;
use fail_point::FailPoints;
use replica_set::{Election, ReplicaSet};
use retryable::RetryableWrites;
use sessions::Sessions;
use transactions::Transactions;

/// `maxBsonObjectSize`.
pub const MAX_BSON_OBJECT_SIZE: usize = 16 * 1024 * 1024;
pub use crate::wire::MAX_MESSAGE_SIZE;
/// `maxWriteBatchSize`.
pub const MAX_WRITE_BATCH_SIZE: i32 = 100_000;
/// Connections a node admits (`connections.available` counts down from it).
pub const MAX_CONNECTIONS: i64 = 838_860;

/// Locks a mutex, recovering from poisoning (a panicked holder cannot corrupt plain data
/// here more than the panic already did).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A standalone `mongod`.
    Standalone,
    /// Replica-set member number `n`.
    Member(usize),
    /// A `mongos` router.
    Router,
}

/// Connection counters of one node (`serverStatus.connections`).
#[derive(Debug, Default)]
pub struct ConnectionStats {
    /// Connections ever accepted.
    pub total_created: AtomicU64,
    /// Connections open now.
    pub current: AtomicI64,
    next_id: AtomicI64,
}

impl ConnectionStats {
    /// Counts a new connection and returns its `connectionId`.
    pub fn opened(&self) -> i64 {
        self.total_created.fetch_add(1, Ordering::SeqCst);
        self.current.fetch_add(1, Ordering::SeqCst);
        self.next_id.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Counts a closed connection.
    pub fn closed(&self) {
        self.current.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One server process: a standalone, a member or a router.
#[derive(Debug)]
pub struct Node {
    /// What it is.
    pub role: Role,
    /// `127.0.0.1:port`.
    pub host: String,
    /// `topologyVersion.processId`.
    pub process_id: ObjectId,
    /// `topologyVersion.counter`; awaitable `hello` waits on it.
    pub topology_counter: watch::Sender<i64>,
    /// The node's `failCommand` fail point.
    pub fail_points: Mutex<FailPoints>,
    /// Connection counters.
    pub connections: ConnectionStats,
    /// Bumped to close every client connection (step-down on 4.0 and older).
    pub close_epoch: watch::Sender<u64>,
    /// Server parameters (`getParameter`/`setParameter`).
    pub parameters: Mutex<Document>,
    /// Wire compression counters.
    pub compression: crate::compression::CompressionStats,
}

impl Node {
    fn new(role: Role, host: String, version: crate::ServerVersion) -> Self {
        Self {
            role,
            host,
            process_id: ObjectId::new(),
            topology_counter: watch::Sender::new(0),
            fail_points: Mutex::new(FailPoints::default()),
            connections: ConnectionStats::default(),
            close_epoch: watch::Sender::new(0),
            compression: Default::default(),
            parameters: Mutex::new(doc! {
                "featureCompatibilityVersion": { "version": version.to_string() },
                "enableTestCommands": true,
                "acceptApiVersion2": false,
                "logLevel": 0,
                "transactionLifetimeLimitSeconds": 60,
                "requireApiVersion": false,
                "cursorTimeoutMillis": 600_000_i64,
            }),
        }
    }

    /// The node's `topologyVersion` now: `{processId, counter}`.
    pub fn topology_version(&self) -> Document {
        doc! { "processId": self.process_id, "counter": *self.topology_counter.borrow() }
    }

    /// Increments `topologyVersion.counter`, waking awaitable `hello`s.
    pub fn bump_topology(&self) {
        self.topology_counter.send_modify(|c| *c += 1);
    }
}

/// The state every node of a deployment shares.
#[derive(Debug)]
pub struct Cluster {
    /// The deployment's configuration.
    pub config: Config,
    /// The data (one store per deployment).
    pub store: Mutex<Store>,
    /// The cluster time.
    pub clock: ClusterClock,
    /// Known sessions.
    pub sessions: Sessions,
    /// Retryable-write records.
    pub retryable: Mutex<RetryableWrites>,
    /// Each session's latest multi-document transaction (lock before `store`).
    pub transactions: Mutex<Transactions>,
    /// The replica set (replica set and sharded topologies).
    pub replica_set: Option<ReplicaSet>,
    /// Replica-set members (or the standalone) then routers.
    pub nodes: Vec<Arc<Node>>,
    /// When the deployment started.
    pub started: Instant,
    /// The users (authentication is on when there are any).
    pub users: auth::Users,
    /// Woken after every command but getMore: an awaiting change-stream getMore
    /// (`maxTimeMS`) looks for new events then.
    pub changes: tokio::sync::Notify,
    request_ids: AtomicI32,
}

impl Cluster {
    /// Shared state for `config` whose nodes listen on `member_hosts` and `router_hosts`.
    pub fn new(config: Config, member_hosts: Vec<String>, router_hosts: Vec<String>) -> Self {
        let version = config.version;
        let mut nodes = Vec::new();
        for (i, host) in member_hosts.into_iter().enumerate() {
            let role =
                if config.topology == Topology::Standalone { Role::Standalone } else { Role::Member(i) };
            nodes.push(Arc::new(Node::new(role, host, version)));
        }
        for host in router_hosts {
            nodes.push(Arc::new(Node::new(Role::Router, host, version)));
        }
        let replica_set = (config.topology != Topology::Standalone).then(|| ReplicaSet::new(config.members));
        let users = auth::Users::new(&config.users);
        Self {
            users,
            config,
            store: Mutex::new(Store::new()),
            clock: ClusterClock::default(),
            sessions: Sessions::default(),
            retryable: Mutex::new(RetryableWrites::default()),
            transactions: Mutex::new(Transactions::default()),
            replica_set,
            nodes,
            started: Instant::now(),
            changes: tokio::sync::Notify::new(),
            request_ids: AtomicI32::new(1),
        }
    }

    /// A fresh `requestID` for a server reply.
    pub fn next_request_id(&self) -> i32 {
        self.request_ids.fetch_add(1, Ordering::Relaxed)
    }

    /// The member hosts of the replica set, in order.
    pub fn member_hosts(&self) -> Vec<String> {
        self.nodes.iter().filter(|n| matches!(n.role, Role::Member(_))).map(|n| n.host.clone()).collect()
    }

    /// Whether replies carry `$clusterTime` and `operationTime` (replica sets and routers).
    pub fn gossips_cluster_time(&self) -> bool {
        self.config.topology != Topology::Standalone
    }

    /// Whether `role` accepts writes now.
    pub fn is_writable(&self, role: Role) -> bool {
        match role {
            Role::Standalone => true,
            Role::Member(i) => self.replica_set.as_ref().is_some_and(|rs| rs.state().primary == Some(i)),
            Role::Router => self.replica_set.as_ref().is_some_and(|rs| rs.state().primary.is_some()),
        }
    }

    /// Waits up to `timeout` for the replica set to have a primary.
    pub async fn wait_for_primary(&self, timeout: Duration) -> bool {
        let Some(rs) = &self.replica_set else { return true };
        let mut rx = rs.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|s| s.primary.is_some())).await.is_ok_and(|r| r.is_ok())
    }

    /// Tells every node that the set's state changed.
    pub fn bump_all_topologies(&self) {
        for node in &self.nodes {
            node.bump_topology();
        }
    }

    /// Elects a new primary after the configured delay (and again later while every member
    /// is ineligible).
    pub fn schedule_election(self: &Arc<Self>) {
        let cluster = Arc::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep(cluster.config.election_delay).await;
            while let Some(rs) = &cluster.replica_set {
                match rs.try_elect() {
                    Election::HasPrimary => break,
                    Election::Elected(winner) => {
                        tracing::info!(member = winner, "elected primary");
                        cluster.bump_all_topologies();
                        break;
                    }
                    Election::Retry(wait) => tokio::time::sleep(wait).await,
                }
            }
        });
    }
}
