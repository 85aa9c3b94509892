//! The deployment a unified test runs against (`unified-test-format.rst`, "Test Runner
//! Implementation" and `runOnRequirement`): the simulator the generator chose from the
//! case's `runOnRequirements`, or, when `MONGODB_URI` is set, that real deployment, whose
//! version and topology are read from `buildInfo` and `hello` and against which the
//! requirements are then checked at run time (a case they exclude is skipped).

use std::path::Path;

use bson::{Bson, Document, doc};
use mongo_driver::Client;
use mongo_driver::client::ClientBuilder;
use mongo_driver::connection::Dialer;
use mongo_driver::options::ReadPreference;
use mongo_sim::{Config, Deployment, ServerVersion};
use spec_codegen::unified::model::{RunOnRequirement, Serverless, Topology};
use spec_codegen::unified::{TestFile, Version};

use super::matching::match_root;

/// Whose clock a case's timers run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// The wall clock: the simulator serves from a thread of its own, over TCP.
    Real,
    /// The test's paused tokio clock (`tokio::time::pause`): the simulator is served by the
    /// test's current-thread runtime and every client connects to it through in-memory
    /// streams, so the simulator's timers (a fail point's `blockTimeMS`) and the driver's
    /// (`socketTimeoutMS`, `timeoutMS`, selection) run on one virtual clock that moves only
    /// when every task waits, straight to the next timer. A 50 ms timeout against a 55 ms
    /// block is then decided by the timers' order, however loaded the machine is. Against
    /// `MONGODB_URI` the wall clock is kept.
    Virtual,
}

/// The simulated deployment a case runs on (chosen by the generator from its
/// `runOnRequirements`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sim {
    /// A standalone `mongod`.
    Single,
    /// A three-member replica set.
    ReplicaSet,
    /// Two `mongos` routers in front of a three-member replica-set shard.
    Sharded,
    /// [`Sim::Sharded`] behind two load balancers (one in front of the first router, one in
    /// front of both; load balancer spec tests' README).
    LoadBalanced,
}

/// Where and how one case runs: the simulated deployment the generator chose (`sim` at
/// `version`, with a user when `auth`), or the real one `target` names, on `clock`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The simulated deployment's shape.
    pub sim: Sim,
    /// The simulated servers' version.
    pub version: ServerVersion,
    /// Simulated, or `MONGODB_URI`'s deployment.
    pub target: Target,
    /// Whether the simulated deployment requires authentication (`runOnRequirements.auth`).
    pub auth: bool,
    /// Whose clock the case's timers run on.
    pub clock: Clock,
}

/// Where the tests run: chosen by `MONGODB_URI` ([`Target::from_env`]), or given
/// explicitly (tests of the runner itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A simulated deployment per case (the default).
    Simulated,
    /// The deployment this connection string names.
    Uri(String),
}

impl Target {
    /// [`Target::Uri`] when the environment variable `MONGODB_URI` is set (and not
    /// empty), else [`Target::Simulated`].
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`Target::from_env`] with the environment read through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        match lookup("MONGODB_URI") {
            Some(uri) if !uri.trim().is_empty() => Self::Uri(uri.trim().to_string()),
            _ => Self::Simulated,
        }
    }
}

/// What the runner learnt about a real deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    /// `buildInfo.version` (pre-release suffixes dropped).
    pub version: Version,
    /// From `hello`: `msg: "isdbgrid"` is sharded (sharded-replicaset when every shard
    /// `listShards` reports is a replica set), `setName` a replica set, else single;
    /// `loadBalanced=true` in the URI is load-balanced.
    pub topology: Topology,
    /// Whether the connection string carries credentials.
    pub auth: bool,
}

/// The deployment of one running case.
pub enum TestDeployment {
    /// A simulated deployment of this shape, started for the case.
    Simulated(Deployment, Sim),
    /// A real deployment (`MONGODB_URI`).
    Remote {
        /// Its connection string.
        uri: String,
        /// Its version and topology.
        info: ServerInfo,
    },
}

impl TestDeployment {
    /// Whether this is a simulated deployment.
    pub fn is_simulated(&self) -> bool {
        matches!(self, Self::Simulated(..))
    }

    /// The real deployment's version and topology (`None` when simulated).
    pub fn server_info(&self) -> Option<&ServerInfo> {
        match self {
            Self::Simulated(..) => None,
            Self::Remote { info, .. } => Some(info),
        }
    }

    /// A client builder for `uri` (one of this deployment's): with [`Clock::Virtual`], its
    /// connections are in-memory streams to the simulator in the test's runtime.
    pub fn client_builder(&self, uri: &str) -> ClientBuilder {
        let builder = Client::builder(uri);
        match self {
            Self::Simulated(deployment, _) if deployment.in_current_runtime() => {
                builder.dialer(in_memory_dialer(deployment))
            }
            _ => builder,
        }
    }

    /// The connection string of a client entity: on a sharded deployment, all routers
    /// only with `useMultipleMongoses: true`, else the first; load-balanced, the load
    /// balancer in front of both routers unless `useMultipleMongoses` is false, then the
    /// one in front of the first (unified test format "useMultipleMongoses").
    pub fn client_uri(&self, use_multiple_mongoses: Option<bool>) -> String {
        let multiple = use_multiple_mongoses == Some(true);
        match self {
            Self::Simulated(deployment, Sim::LoadBalanced) => {
                let balancers = deployment.load_balancer_hosts();
                let single = use_multiple_mongoses == Some(false);
                let host = if single { balancers.first() } else { balancers.get(1) };
                let host = host.map_or("127.0.0.1:0", String::as_str);
                with_sim_credentials(deployment, &format!("mongodb://{host}/?loadBalanced=true"))
            }
            Self::Simulated(deployment, Sim::Sharded) => {
                let hosts = deployment.router_hosts();
                let hosts = if multiple { hosts } else { hosts.into_iter().take(1).collect() };
                with_sim_credentials(deployment, &format!("mongodb://{}/", hosts.join(",")))
            }
            Self::Simulated(deployment, _) => {
                with_sim_credentials(deployment, deployment.connection_string())
            }
            Self::Remote { uri, info } => {
                let sharded = matches!(info.topology, Topology::Sharded | Topology::ShardedReplicaSet);
                if sharded && !multiple { first_host_only(uri) } else { uri.clone() }
            }
        }
    }
}

impl Placement {
    /// `sim` at `version` (with a user when `auth`), or `target`'s deployment, on the wall
    /// clock ([`Clock::Real`]).
    pub fn real_clock(sim: Sim, version: ServerVersion, target: Target, auth: bool) -> Self {
        Self { sim, version, target, auth, clock: Clock::Real }
    }
}

/// A dialer connecting each server of `deployment` in memory (see [`Clock::Virtual`]).
fn in_memory_dialer(deployment: &Deployment) -> Dialer {
    let connector = deployment.in_memory_connector();
    Dialer::in_memory(move |address| connector.connect(&address.to_string()))
}

/// The user of an auth-enabled simulated deployment (`runOnRequirements.auth: true`),
/// defined in `admin`: name and password.
pub const SIM_USER: (&str, &str) = ("unified-user", "unified-pencil");

/// `uri` (of `deployment`) with its first configured user's credentials, when it has one.
fn with_sim_credentials(deployment: &Deployment, uri: &str) -> String {
    match (deployment.config().users.first(), uri.strip_prefix("mongodb://")) {
        (Some(user), Some(rest)) => format!("mongodb://{}:{}@{rest}", user.name, user.password),
        _ => uri.to_string(),
    }
}

/// `uri` with only its first host (a `mongodb+srv://` string is kept as it is).
fn first_host_only(uri: &str) -> String {
    let Some(rest) = uri.strip_prefix("mongodb://") else { return uri.to_string() };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (userinfo, hosts) = match authority.rfind('@') {
        Some(at) => authority.split_at(at + 1),
        None => ("", authority),
    };
    let first = hosts.split(',').next().unwrap_or(hosts);
    format!("mongodb://{userinfo}{first}{tail}")
}

/// Starts (or connects to) the deployment of case `case` of `file` and its internal
/// client. `None`: the real deployment does not meet the case's `runOnRequirements`,
/// and the case is skipped (said on stderr).
pub async fn connect(
    path: &Path,
    file: &TestFile,
    case: usize,
    placement: Placement,
) -> Option<(TestDeployment, Client)> {
    let Placement { sim, version, target, auth, clock } = placement;
    match target {
        Target::Simulated => {
            // Shown with a failure: the deployment the generator chose from runOnRequirements
            // (the first listed topology the simulator supports, the newest version in range).
            eprintln!(
                "{} case {case}: simulated {sim:?}, server {}",
                path.display(),
                version.version_string()
            );
            let config = match sim {
                Sim::Single => Config::standalone(),
                Sim::ReplicaSet => Config::replica_set(3),
                Sim::Sharded => Config::sharded(2, 3),
                Sim::LoadBalanced => Config::load_balanced(2, 3),
            }
            .with_version(version);
            let config = if auth { config.with_user("admin", SIM_USER.0, SIM_USER.1) } else { config };
            let deployment = match clock {
                Clock::Real => Deployment::start(config).await,
                Clock::Virtual => {
                    // The simulator's timers and the driver's then follow one paused clock.
                    tokio::time::pause();
                    Deployment::start_in_current_runtime(config).await
                }
            };
            let deployment = deployment.unwrap_or_else(|e| panic!("the simulator starts: {e}"));
            let deployment = TestDeployment::Simulated(deployment, sim);
            let uri = match &deployment {
                TestDeployment::Simulated(d, _) => with_sim_credentials(d, d.connection_string()),
                TestDeployment::Remote { uri, .. } => uri.clone(),
            };
            let internal = deployment
                .client_builder(&uri)
                .build()
                .unwrap_or_else(|e| panic!("the internal client starts: {e}"));
            Some((deployment, internal))
        }
        Target::Uri(uri) => {
            let internal = Client::builder(&uri)
                .build()
                .unwrap_or_else(|e| panic!("MONGODB_URI: the internal client starts: {e}"));
            let info = probe(&internal, &uri).await.unwrap_or_else(|e| panic!("MONGODB_URI {uri}: {e}"));
            eprintln!(
                "{} case {case}: MONGODB_URI deployment, {:?}, server {}",
                path.display(),
                info.topology,
                info.version
            );
            let test = &file.tests[case];
            if let Some(reason) = unmet(
                &internal,
                &info,
                file.run_on_requirements.as_deref(),
                test.run_on_requirements.as_deref(),
            )
            .await
            {
                let reason = format!("runOnRequirements not met by {uri}: {reason}");
                eprintln!("skipped: {} case {case}: {reason}", path.display());
                super::valid_fail::record_skip(&reason);
                internal.shutdown().await;
                return None;
            }
            Some((TestDeployment::Remote { uri, info }, internal))
        }
    }
}

async fn admin_command(client: &Client, command: Document) -> Result<Document, String> {
    let name = command.keys().next().cloned().unwrap_or_default();
    client
        .database("admin")
        .run_command(command)
        .selection_criteria(ReadPreference::primary())
        .await
        .map_err(|e| format!("{name} failed: {e}"))
}

/// Reads a real deployment's version (`buildInfo`) and topology (`hello`, falling back
/// to the legacy `isMaster` before 4.4.2; `listShards` on a sharded cluster).
pub async fn probe(client: &Client, uri: &str) -> Result<ServerInfo, String> {
    let build_info = admin_command(client, doc! {"buildInfo": 1}).await?;
    let text = build_info.get_str("version").map_err(|_| "buildInfo has no version string")?;
    let numeric = text.split(['-', '+']).next().unwrap_or(text);
    let version =
        Version::parse(numeric).ok_or_else(|| format!("buildInfo version {text:?} is not a version"))?;
    let hello = match admin_command(client, doc! {"hello": 1}).await {
        Ok(reply) => reply,
        Err(_) => admin_command(client, doc! {"isMaster": 1}).await?,
    };
    let load_balanced = uri.to_ascii_lowercase().contains("loadbalanced=true");
    let topology = if load_balanced {
        Topology::LoadBalanced
    } else if hello.get_str("msg").is_ok_and(|m| m == "isdbgrid") {
        let shards = admin_command(client, doc! {"listShards": 1}).await?;
        let hosts: Vec<&str> = shards
            .get_array("shards")
            .map(|list| {
                list.iter().filter_map(|s| s.as_document()).filter_map(|s| s.get_str("host").ok()).collect()
            })
            .unwrap_or_default();
        if !hosts.is_empty() && hosts.iter().all(|h| h.contains('/')) {
            Topology::ShardedReplicaSet
        } else {
            Topology::Sharded
        }
    } else if hello.contains_key("setName") {
        Topology::ReplicaSet
    } else {
        Topology::Single
    };
    let authority = uri.split("://").nth(1).unwrap_or_default();
    let authority = authority.split(['/', '?']).next().unwrap_or_default();
    Ok(ServerInfo { version, topology, auth: authority.contains('@') })
}

/// Why neither the file's nor the case's `runOnRequirements` (each: any one entry must
/// hold) admit this deployment, if so.
pub async fn unmet(
    client: &Client,
    info: &ServerInfo,
    file: Option<&[RunOnRequirement]>,
    case: Option<&[RunOnRequirement]>,
) -> Option<String> {
    for (level, list) in [("file", file), ("test", case)] {
        let Some(list) = list else { continue };
        let mut why = Vec::new();
        for requirement in list {
            match requirement_unmet(client, info, requirement).await {
                None => {
                    why.clear();
                    break;
                }
                Some(reason) => why.push(reason),
            }
        }
        if !why.is_empty() {
            return Some(format!("{level}-level: {}", why.join("; or ")));
        }
    }
    None
}

/// Why one `runOnRequirement` does not hold, if so. Atlas Serverless is taken as not in
/// use, and client-side encryption as unsupported (the driver has none).
async fn requirement_unmet(client: &Client, info: &ServerInfo, r: &RunOnRequirement) -> Option<String> {
    if let Some(min) = r.min_server_version
        && info.version < min
    {
        return Some(format!("server {} is older than minServerVersion {min}", info.version));
    }
    if let Some(max) = r.max_server_version
        && info.version > max
    {
        return Some(format!("server {} is newer than maxServerVersion {max}", info.version));
    }
    if let Some(topologies) = &r.topologies {
        let fits = |t: &Topology| {
            t == &info.topology || (t == &Topology::Sharded && info.topology == Topology::ShardedReplicaSet)
        };
        if !topologies.iter().any(fits) {
            return Some(format!("topology {:?} is not one of {:?}", info.topology, topologies.0));
        }
    }
    if r.serverless == Some(Serverless::Require) {
        return Some("serverless required".into());
    }
    if let Some(auth) = r.auth
        && auth != info.auth
    {
        return Some(format!(
            "auth {auth} required, the connection string {} credentials",
            match info.auth {
                true => "has",
                false => "has no",
            }
        ));
    }
    if r.csfle.as_ref().is_some_and(|c| c.required()) {
        return Some("client-side field level encryption required (not in this driver)".into());
    }
    if let Some(mechanism) = &r.auth_mechanism {
        return Some(format!("authMechanism {mechanism} required (not checked against the deployment)"));
    }
    for (name, expected) in r.server_parameters.iter().flatten() {
        let actual = admin_command(client, doc! {"getParameter": 1, name.clone(): 1}).await.ok();
        let actual = actual.and_then(|reply| reply.get(name).cloned());
        let expected = super::matching::from_extended_json(expected.clone()).ok();
        let equal = match (&expected, &actual) {
            (Some(e), Some(a)) => match_root(e, a, &NoEntities).is_ok(),
            _ => false,
        };
        if !equal {
            return Some(format!("server parameter {name} is {actual:?}, not {expected:?}"));
        }
    }
    None
}

/// No entities: requirement values are compared with the flexible numeric rules only.
struct NoEntities;

impl super::matching::Entities for NoEntities {
    fn bson(&self, _id: &str) -> Option<Bson> {
        None
    }
    fn session_lsid(&self, _id: &str) -> Option<Document> {
        None
    }
}

#[cfg(test)]
mod tests {
    use futures::TryStreamExt;

    use super::*;
    use crate::unified::runner::Runner;
    use crate::unified::valid_fail::{Outcome, run};

    #[test]
    fn the_uri_comes_from_the_environment_lookup() {
        assert_eq!(Target::from_lookup(|_| None), Target::Simulated);
        assert_eq!(Target::from_lookup(|_| Some(" ".into())), Target::Simulated);
        let uri = Target::from_lookup(|name| (name == "MONGODB_URI").then(|| "mongodb://h:1/".into()));
        assert_eq!(uri, Target::Uri("mongodb://h:1/".into()));
    }

    #[test]
    fn a_single_mongos_is_the_first_host() {
        assert_eq!(first_host_only("mongodb://u:p@a:1,b:2/db?w=1"), "mongodb://u:p@a:1/db?w=1");
        assert_eq!(first_host_only("mongodb://a:1,b:2"), "mongodb://a:1");
        assert_eq!(first_host_only("mongodb+srv://c.example.com/"), "mongodb+srv://c.example.com/");
    }

    /// A unified file of our own: `requirements` at file level, one collection filled by
    /// `initialData` and read by the case.
    fn file_requiring(requirements: &str) -> String {
        format!(
            r#"{{"description": "uri mode", "schemaVersion": "1.4", "runOnRequirements": {requirements},
            "createEntities": [{{"client": {{"id": "c"}}}}],
            "initialData": [{{"databaseName": "urimode", "collectionName": "x", "documents": [{{"_id": 7}}]}}],
            "tests": [{{"description": "t", "operations": []}}]}}"#
        )
    }

    fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("conformance-{}-{name}.json", std::process::id()));
        if let Err(e) = std::fs::write(&path, text) {
            panic!("cannot write {}: {e}", path.display());
        }
        path
    }

    /// With a URI given (as `MONGODB_URI` would), the runner uses that deployment — here a
    /// 4.2 replica set of the simulator, while the generator's choice passed along is a
    /// 7.0 standalone — reads its version and topology, and checks the requirements
    /// against them: a case they admit runs with its initialData written there, the
    /// others are skipped.
    #[tokio::test]
    async fn mongodb_uri_mode_uses_the_given_deployment_and_its_requirements() {
        let given = Deployment::start(Config::replica_set(3).with_version(ServerVersion::V4_2))
            .await
            .unwrap_or_else(|e| panic!("the simulator starts: {e}"));
        let target = Target::Uri(given.connection_string().to_string());

        let admitted = temp_file(
            "uri-admitted",
            &file_requiring(r#"[{"minServerVersion": "4.2", "topologies": ["replicaset"]}]"#),
        );
        let runner =
            Runner::start_on(admitted.clone(), 0, Sim::Single, ServerVersion::V7_0, target.clone()).await;
        let Some(runner) = runner else { panic!("a case the deployment admits was skipped") };
        let info = runner.deployment().server_info().cloned();
        assert_eq!(
            info,
            Some(ServerInfo {
                version: Version { major: 4, minor: 2, patch: 0 },
                topology: Topology::ReplicaSet,
                auth: false
            })
        );
        // The initialData went to the given deployment.
        let own = Client::builder(given.connection_string()).build().unwrap_or_else(|e| panic!("{e}"));
        let cursor = own.database("urimode").collection::<Document>("x").find(doc! {}).await;
        let docs: Vec<Document> = match cursor {
            Ok(c) => c.try_collect().await.unwrap_or_else(|e| panic!("{e}")),
            Err(e) => panic!("{e}"),
        };
        assert_eq!(docs, vec![doc! {"_id": 7}]);
        runner.finish("unused: no snapshot against MONGODB_URI").await;

        for (name, requirements, reason) in [
            ("uri-newer", r#"[{"minServerVersion": "4.4"}]"#, "older than minServerVersion 4.4"),
            ("uri-older", r#"[{"maxServerVersion": "4.0.99"}]"#, "newer than maxServerVersion 4.0.99"),
            (
                "uri-sharded",
                r#"[{"topologies": ["sharded", "single"]}]"#,
                "topology ReplicaSet is not one of",
            ),
            ("uri-csfle", r#"[{"csfle": true}]"#, "client-side field level encryption"),
        ] {
            let path = temp_file(name, &file_requiring(requirements));
            let target = target.clone();
            let case = path.clone();
            let outcome = run(async move {
                let runner = Runner::start_on(case, 0, Sim::ReplicaSet, ServerVersion::V4_2, target).await;
                assert!(runner.is_none(), "not skipped");
            })
            .await;
            assert!(matches!(&outcome, Outcome::Skipped(r) if r.contains(reason)), "{name}: {outcome:?}");
            let _ = std::fs::remove_file(path);
        }
        let _ = std::fs::remove_file(admitted);
        own.shutdown().await;
    }
}
