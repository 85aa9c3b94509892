//! Runs the initial DNS seedlist discovery tests (`initial-dns-seedlist-discovery/tests/README`):
//! the README's DNS records are served by the driver's injected resolver, and the names the
//! records point at (`localhost.test.build.10gen.cc:27017`, …, which the README's A records put
//! on 127.0.0.1) are dialled on a simulated deployment laid out as the README's "Test Setup"
//! asks, with TLS on (the setup starts every cluster with SSL; the simulator also accepts plain
//! connections, as mongod's `preferTLS` does, for the case that turns `ssl` off).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use mongo_driver::Client;
use mongo_driver::connection::Dialer;
use mongo_driver::srv::StaticResolver;
use mongo_sim::{Config, Deployment, TestCertificates};
use serde_json::Value as Json;

use crate::connection_string::{Value, options_json};

/// The DNS records of the README's tables (parsed from it at build time).
#[derive(Debug)]
pub struct Records {
    /// `A` records: (name, address).
    pub a: &'static [(&'static str, &'static str)],
    /// `SRV` records: (name, port, target).
    pub srv: &'static [(&'static str, u16, &'static str)],
    /// `TXT` records: (name, character strings).
    pub txt: &'static [(&'static str, &'static [&'static str])],
}

/// The deployment a test folder runs against (README "Test Setup").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topology {
    /// `replica-set/`: a three-member replica set `repl0` on localhost:27017–27019.
    ReplicaSet,
    /// `sharded/`: routers on localhost:27017 and 27018.
    Sharded,
    /// `load-balanced/`: routers on localhost:27017 and 27018 behind a load balancer on port
    /// 8000 (the README's HAProxy).
    LoadBalanced,
}

/// One generated case; `None` fields are not asserted.
#[derive(Debug)]
pub struct Case {
    /// The full test name.
    pub name: &'static str,
    /// The deployment.
    pub topology: Topology,
    /// The `mongodb+srv` connection string.
    pub uri: &'static str,
    /// The initial seed list, as `host:port`.
    pub seeds: Option<&'static [&'static str]>,
    /// The initial seed list's size.
    pub num_seeds: Option<usize>,
    /// The topology's hosts once discovery completes.
    pub hosts: Option<&'static [&'static str]>,
    /// The number of the topology's hosts once discovery completes.
    pub num_hosts: Option<usize>,
    /// URI options and their expected values.
    pub options: Option<&'static [(&'static str, Value)]>,
    /// `user`, `password`, `db` / `auth_database` and their expected values.
    pub parsed_options: &'static [(&'static str, &'static str)],
    /// Whether creating the client must fail.
    pub error: bool,
    /// Whether to run a `ping` (unless `error`).
    pub ping: bool,
}

/// How long discovery may take to reach the expected hosts.
const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// The README's test setup: which simulated listener answers for each port of 127.0.0.1.
fn port_map(topology: Topology, deployment: &Deployment) -> BTreeMap<u16, String> {
    let mut ports = BTreeMap::new();
    let listeners: Vec<String> = match topology {
        Topology::ReplicaSet => deployment.member_addresses().to_vec(),
        Topology::Sharded | Topology::LoadBalanced => deployment.router_hosts(),
    };
    for (i, address) in listeners.into_iter().enumerate() {
        ports.insert(27017 + i as u16, address);
    }
    if topology == Topology::LoadBalanced {
        // The load balancer in front of every router (the simulator's second one).
        if let Some(balancer) = deployment.load_balancer_hosts().get(1) {
            ports.insert(8000, balancer.clone());
        }
    }
    ports
}

/// The names that mean 127.0.0.1: `localhost` and the README's A records for it.
fn loopback_names(records: &Records) -> Vec<String> {
    let mut names = vec!["localhost".to_owned()];
    names.extend(
        records.a.iter().filter(|(_, address)| *address == "127.0.0.1").map(|(n, _)| (*n).to_owned()),
    );
    names
}

fn resolver(records: &Records) -> StaticResolver {
    let mut resolver = StaticResolver::new();
    for (name, port, target) in records.srv {
        resolver = resolver.with_srv(name, target, *port);
    }
    for (name, strings) in records.txt {
        resolver = resolver.with_txt(name, strings);
    }
    resolver
}

fn dialer(names: Vec<String>, ports: BTreeMap<u16, String>) -> Dialer {
    Dialer::new(move |address| {
        if !names.iter().any(|n| n.eq_ignore_ascii_case(address.host())) {
            return None;
        }
        let listener = ports.get(&address.port())?;
        let (host, port) = listener.rsplit_once(':')?;
        Some((host.to_owned(), port.parse().ok()?))
    })
}

async fn start(topology: Topology, certificates: &TestCertificates) -> Deployment {
    let config = match topology {
        Topology::ReplicaSet => Config::replica_set(3).with_set_name("repl0").with_member_names(&[
            "localhost:27017",
            "localhost:27018",
            "localhost:27019",
        ]),
        Topology::Sharded => Config::sharded(2, 1),
        Topology::LoadBalanced => Config::load_balanced(2, 1),
    };
    let tls = certificates.settings().expect("the test certificate is usable").allowing_plain();
    Deployment::start(config.with_tls(tls)).await.expect("the simulator starts")
}

fn sorted(items: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut items: Vec<String> = items.into_iter().collect();
    items.sort();
    items
}

fn expected(list: &[&str]) -> Vec<String> {
    sorted(list.iter().map(|s| s.to_ascii_lowercase()))
}

/// Creates the client for `case.uri` against the README's records and the deployment of
/// `case.topology`, and asserts the case's expectations.
pub async fn check(case: &Case, records: &Records) {
    let name = case.name;
    let names = loopback_names(records);
    let cert_names: Vec<&str> = names.iter().map(String::as_str).collect();
    let certificates = TestCertificates::generate(&cert_names).expect("test certificates");
    let deployment = start(case.topology, &certificates).await;
    let ca_file = std::env::temp_dir().join(format!(
        "dns-seedlist-{}-{}.pem",
        std::process::id(),
        name.replace("::", "-")
    ));
    std::fs::write(&ca_file, &certificates.ca_pem).expect("the CA file is written");
    let result = Client::builder(case.uri)
        .resolver(Arc::new(resolver(records)))
        .dialer(dialer(names, port_map(case.topology, &deployment)))
        .tls_ca_file(ca_file.display().to_string())
        .connect()
        .await;
    let client = match (result, case.error) {
        (Err(_), true) => {
            let _ = std::fs::remove_file(&ca_file);
            return;
        }
        (Ok(client), true) => {
            let cs = client.connection_string().clone();
            client.shutdown().await;
            panic!("{name}: expected creating a client for {:?} to fail; it started with {cs:?}", case.uri)
        }
        (Err(e), false) => panic!("{name}: creating a client for {:?} failed: {e}", case.uri),
        (Ok(client), false) => client,
    };
    check_client(case, &client).await;
    client.shutdown().await;
    let _ = std::fs::remove_file(&ca_file);
}

async fn check_client(case: &Case, client: &Client) {
    let name = case.name;
    let cs = client.connection_string();
    let seeds = sorted(client.topology().options().settings.seeds.iter().map(|a| a.to_string()));
    let uri_hosts = sorted(cs.hosts.iter().map(|h| format!("{}:{}", h.host, h.port.unwrap_or(27017))));
    assert_eq!(seeds, uri_hosts, "{name}: the topology's seeds are the resolved connection string's hosts");
    if let Some(expected_seeds) = case.seeds {
        assert_eq!(seeds, expected(expected_seeds), "{name}: initial seeds");
    }
    if let Some(n) = case.num_seeds {
        assert_eq!(seeds.len(), n, "{name}: number of initial seeds ({seeds:?})");
    }
    if let Some(options) = case.options {
        let actual = options_json(&cs.options);
        for (key, value) in options {
            // `ssl` is the URI options spec's alias of `tls`.
            let key = if key.eq_ignore_ascii_case("ssl") { "tls" } else { key };
            let found = actual.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v);
            assert_eq!(
                found,
                Some(&value.to_json()),
                "{name}: option `{key}`; the client's options: {}",
                Json::Object(actual.clone())
            );
        }
    }
    for (key, value) in case.parsed_options {
        let actual = match *key {
            "user" => cs.username.as_deref(),
            "password" => cs.password.as_deref(),
            _ => cs.database.as_deref(),
        };
        assert_eq!(actual, Some(*value), "{name}: parsed `{key}`");
    }
    if let Some(hosts) = case.hosts {
        let want = expected(hosts);
        eventually(name, client, |now| *now == want, &format!("hosts {want:?}")).await;
    }
    if let Some(n) = case.num_hosts {
        eventually(name, client, |now| now.len() == n, &format!("{n} hosts")).await;
    }
    // A URI with user information is not pinged: the deployment has no such user (the later
    // README sets `ping: false` for these cases for that reason).
    if case.ping && cs.username.is_none() {
        let admin = client.database("admin");
        let ping = admin.run_command(bson::doc! {"ping": 1});
        match tokio::time::timeout(DISCOVERY_TIMEOUT, ping).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => panic!("{name}: ping failed: {e}"),
            Err(_) => panic!("{name}: ping did not finish within {DISCOVERY_TIMEOUT:?}"),
        }
    }
}

/// Waits until the topology's hosts satisfy `done`.
async fn eventually(name: &str, client: &Client, done: impl Fn(&Vec<String>) -> bool, what: &str) {
    let deadline = tokio::time::Instant::now() + DISCOVERY_TIMEOUT;
    loop {
        let now = sorted(client.topology().description().servers.keys().map(|a| a.to_string()));
        if done(&now) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name}: expected {what} after discovery; the topology has {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
