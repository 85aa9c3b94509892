//! What deployment to simulate: topology (SDAM spec: server types), size, version and ports.

use std::time::Duration;

use bson::Document;

use crate::version::ServerVersion;

/// The shape of a simulated deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topology {
    /// One `mongod` without replication.
    Standalone,
    /// A replica set: a primary and secondaries sharing one data set.
    ReplicaSet,
    /// `mongos` routers in front of a replica-set shard.
    Sharded,
}

impl std::str::FromStr for Topology {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "standalone" | "single" => Ok(Self::Standalone),
            "replicaset" | "replica-set" | "replset" => Ok(Self::ReplicaSet),
            "sharded" => Ok(Self::Sharded),
            other => Err(format!("unknown topology '{other}': expected standalone, replicaset or sharded")),
        }
    }
}

/// Configuration of a [`crate::Deployment`].
#[derive(Debug, Clone)]
pub struct Config {
    /// Standalone, replica set or sharded.
    pub topology: Topology,
    /// Replica-set members (the shard's members when sharded); ignored for a standalone.
    pub members: usize,
    /// `mongos` routers (sharded only).
    pub routers: usize,
    /// The server version every node reports.
    pub version: ServerVersion,
    /// First TCP port to listen on (the rest consecutive); `None` picks free ports.
    pub first_port: Option<u16>,
    /// The replica set's name (`setName`).
    pub set_name: String,
    /// The names replica-set members announce (`hosts`, `me`, `primary` in `hello`), by index,
    /// as a replica set configuration's `members[i].host` names them (e.g. `localhost:27017`);
    /// a member without one announces its listening address.
    pub member_names: Vec<String>,
    /// How long after a step-down (or a freeze ending) the next primary is elected.
    pub election_delay: Duration,
    /// `tags` of each member, by index (missing or empty: no `tags` field).
    pub member_tags: Vec<Document>,
    /// Users; when any is configured, authentication is on (commands need SCRAM first).
    pub users: Vec<User>,
    /// TLS: when set, every node requires it (`net.tls.mode: requireTLS`).
    pub tls: Option<crate::tls::TlsSettings>,
    /// Sharded only: two TCP load balancers in front of the routers (load balancer spec and
    /// its tests' README): one fronting the first router, one fronting every router in turn.
    /// Connections arriving through them must declare `loadBalanced: true` in their first
    /// `hello`, which then carries the router's `serviceId`.
    pub load_balanced: bool,
}

/// A user of an auth-enabled deployment (SCRAM-SHA-1 and SCRAM-SHA-256).
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// The database it is defined in (`authSource`).
    pub db: String,
    /// The user name.
    pub name: String,
    /// The password (ASCII: stored as is for SCRAM-SHA-256).
    pub password: String,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User").field("db", &self.db).field("name", &self.name).finish_non_exhaustive()
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            topology: Topology::Standalone,
            members: 1,
            routers: 0,
            version: ServerVersion::V7_0,
            first_port: None,
            set_name: "rs0".to_owned(),
            member_names: Vec::new(),
            election_delay: Duration::from_millis(50),
            member_tags: Vec::new(),
            users: Vec::new(),
            tls: None,
            load_balanced: false,
        }
    }
}

impl Config {
    /// A standalone `mongod`.
    pub fn standalone() -> Self {
        Self::default()
    }

    /// A replica set of `members` members (the first is primary).
    pub fn replica_set(members: usize) -> Self {
        Self { topology: Topology::ReplicaSet, members: members.max(1), ..Self::default() }
    }

    /// `routers` `mongos` routers in front of a replica set of `members` members.
    pub fn sharded(routers: usize, members: usize) -> Self {
        Self {
            topology: Topology::Sharded,
            members: members.max(1),
            routers: routers.max(1),
            ..Self::default()
        }
    }

    /// `routers` `mongos` routers in front of a replica set of `members` members, reached
    /// through load balancers (see [`Config::load_balanced`]).
    pub fn load_balanced(routers: usize, members: usize) -> Self {
        Self { load_balanced: true, ..Self::sharded(routers, members) }
    }

    /// The same configuration at another server version.
    pub fn with_version(mut self, version: ServerVersion) -> Self {
        self.version = version;
        self
    }

    /// The same configuration listening from `port` on.
    pub fn with_first_port(mut self, port: u16) -> Self {
        self.first_port = Some(port);
        self
    }

    /// The same configuration with authentication on and `user` (defined in `db`) added.
    pub fn with_user(mut self, db: &str, user: &str, password: &str) -> Self {
        self.users.push(User { db: db.to_owned(), name: user.to_owned(), password: password.to_owned() });
        self
    }

    /// The same configuration with authentication on and the MONGODB-X509 user `subject` (a
    /// client certificate's subject in RFC 2253 form, e.g. `CN=client,O=Example`) on `$external`.
    pub fn with_x509_user(mut self, subject: &str) -> Self {
        self.users.push(User {
            db: "$external".to_owned(),
            name: subject.to_owned(),
            password: String::new(),
        });
        self
    }

    /// The same configuration requiring TLS on every node.
    pub fn with_tls(mut self, tls: crate::tls::TlsSettings) -> Self {
        self.tls = Some(tls);
        self
    }

    /// The same configuration with replica-set name `name` (`setName`).
    pub fn with_set_name(mut self, name: &str) -> Self {
        self.set_name = name.to_owned();
        self
    }

    /// The same configuration with members announcing `names` (see [`Config::member_names`]);
    /// clients reach them through a dialer that maps the names to the listening addresses
    /// ([`crate::Deployment::member_addresses`]).
    pub fn with_member_names(mut self, names: &[&str]) -> Self {
        self.member_names = names.iter().map(|n| (*n).to_owned()).collect();
        self
    }

    /// The same configuration with another election delay.
    pub fn with_election_delay(mut self, delay: Duration) -> Self {
        self.election_delay = delay;
        self
    }
}
