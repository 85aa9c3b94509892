//! `mongodb+srv` through the client with an injected resolver: the seed list reaches a
//! simulated sharded cluster (its routers given DNS names by a dialer), and the SRV polling
//! spec's prose tests (`polling-srv-records-for-mongos-discovery/tests/README.rst`, 1–12):
//! records added, removed and replaced, lookups failing or empty, no polling when load
//! balanced, and `srvMaxHosts`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use mongo_driver::Client;
use mongo_driver::connection::Dialer;
use mongo_driver::srv::StaticResolver;
use mongo_sim::{Config, Deployment};

const NAME: &str = "_mongodb._tcp.test1.test.build.10gen.cc";
const HOST: &str = "localhost.test.build.10gen.cc";
const RESCAN: Duration = Duration::from_millis(50);

/// A sharded cluster whose four routers answer as `localhost.test.build.10gen.cc:27017…27020`.
struct Routers {
    _deployment: Deployment,
    dialer: Dialer,
}

async fn routers() -> Routers {
    let deployment = Deployment::start(Config::sharded(4, 1)).await.expect("the simulator starts");
    let mut map = BTreeMap::new();
    for (i, host) in deployment.router_hosts().iter().enumerate() {
        let port: u16 = host.rsplit(':').next().and_then(|p| p.parse().ok()).expect("router port");
        map.insert(27017 + i as u16, port);
    }
    let dialer = Dialer::new(move |address| {
        (address.host() == HOST)
            .then(|| map.get(&address.port()).map(|p| ("127.0.0.1".to_owned(), *p)))
            .flatten()
    });
    Routers { _deployment: deployment, dialer }
}

fn test1(ports: &[u16]) -> Arc<StaticResolver> {
    let resolver = StaticResolver::new().with_srv("_mongodb._tcp.test3.test.build.10gen.cc", HOST, 27017);
    let records: Vec<(&str, u16)> = ports.iter().map(|p| (HOST, *p)).collect();
    resolver.set_srv(NAME, &records);
    Arc::new(resolver)
}

async fn client(routers: &Routers, uri: &str, resolver: Arc<StaticResolver>) -> Client {
    Client::builder(uri)
        .resolver(resolver)
        .dialer(routers.dialer.clone())
        .tls(false)
        .srv_rescan_interval(RESCAN)
        .connect()
        .await
        .expect("the client starts")
}

fn ports(client: &Client) -> Vec<u16> {
    let mut ports: Vec<u16> = client.topology().description().servers.keys().map(|a| a.port()).collect();
    ports.sort_unstable();
    ports
}

/// Waits until the topology's ports are `expected` (a few rescans).
async fn eventually(client: &Client, expected: &[u16]) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while ports(client) != expected {
        assert!(tokio::time::Instant::now() < deadline, "hosts {:?}, expected {expected:?}", ports(client));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn ping(client: &Client) {
    let admin = client.database("admin");
    let ping = admin.run_command(bson::doc! {"ping": 1});
    tokio::time::timeout(Duration::from_secs(10), ping)
        .await
        .expect("no hang")
        .expect("ping through a router");
}

#[tokio::test]
async fn the_seed_list_comes_from_srv_and_reaches_the_routers() {
    let routers = routers().await;
    let client = client(&routers, "mongodb+srv://test1.test.build.10gen.cc/", test1(&[27017, 27018])).await;
    assert_eq!(ports(&client), [27017, 27018]);
    ping(&client).await;
    client.shutdown().await;
}

#[tokio::test]
async fn prose_1_to_5_records_added_removed_and_replaced() {
    let routers = routers().await;
    let resolver = test1(&[27017, 27018]);
    let client = client(&routers, "mongodb+srv://test1.test.build.10gen.cc/", resolver.clone()).await;
    ping(&client).await;
    // 1. Addition.
    resolver.set_srv(NAME, &[(HOST, 27017), (HOST, 27018), (HOST, 27019)]);
    eventually(&client, &[27017, 27018, 27019]).await;
    // 2. Removal.
    resolver.set_srv(NAME, &[(HOST, 27017), (HOST, 27019)]);
    eventually(&client, &[27017, 27019]).await;
    // 3. Replacement.
    resolver.set_srv(NAME, &[(HOST, 27017), (HOST, 27018)]);
    eventually(&client, &[27017, 27018]).await;
    // 4. Both replaced with one.
    resolver.set_srv(NAME, &[(HOST, 27019)]);
    eventually(&client, &[27019]).await;
    // 5. Both replaced with two.
    resolver.set_srv(NAME, &[(HOST, 27019), (HOST, 27020)]);
    eventually(&client, &[27019, 27020]).await;
    ping(&client).await;
    client.shutdown().await;
}

#[tokio::test]
async fn prose_6_to_8_failures_and_empty_answers_change_nothing() {
    let routers = routers().await;
    let resolver = test1(&[27017, 27018]);
    let client = client(
        &routers,
        "mongodb+srv://test1.test.build.10gen.cc/?heartbeatFrequencyMS=500",
        resolver.clone(),
    )
    .await;
    ping(&client).await;
    // 6/7. Lookups time out or fail.
    resolver.set_failing(NAME, true);
    tokio::time::sleep(RESCAN * 6).await;
    assert_eq!(ports(&client), [27017, 27018]);
    resolver.set_failing(NAME, false);
    // 8. No records at all; then a record outside the domain only.
    resolver.set_srv(NAME, &[]);
    tokio::time::sleep(RESCAN * 6).await;
    assert_eq!(ports(&client), [27017, 27018]);
    resolver.set_srv(NAME, &[("localhost.evil.build.10gen.cc", 27019)]);
    tokio::time::sleep(RESCAN * 6).await;
    assert_eq!(ports(&client), [27017, 27018]);
    // A foreign record beside a valid one is left out (after a failed lookup the next one
    // comes after heartbeatFrequencyMS, here 500 ms).
    resolver.set_srv(NAME, &[("localhost.evil.build.10gen.cc", 27019), (HOST, 27020)]);
    eventually(&client, &[27020]).await;
    client.shutdown().await;
}

#[tokio::test]
async fn prose_9_no_polling_when_load_balanced() {
    let routers = routers().await;
    let resolver = test1(&[]);
    let client = Client::builder("mongodb+srv://test3.test.build.10gen.cc/?loadBalanced=true")
        .resolver(resolver.clone())
        .dialer(routers.dialer.clone())
        .tls(false)
        .srv_rescan_interval(RESCAN)
        .connect()
        .await
        .expect("the client starts");
    resolver.set_srv("_mongodb._tcp.test3.test.build.10gen.cc", &[(HOST, 27017), (HOST, 27018)]);
    tokio::time::sleep(RESCAN * 6).await;
    assert_eq!(ports(&client), [27017]);
    client.shutdown().await;
}

#[tokio::test]
async fn prose_10_to_12_srv_max_hosts() {
    let routers = routers().await;
    // 10. srvMaxHosts=0: every record.
    let resolver = test1(&[27017, 27018]);
    let c =
        client(&routers, "mongodb+srv://test1.test.build.10gen.cc/?srvMaxHosts=0", resolver.clone()).await;
    resolver.set_srv(NAME, &[(HOST, 27017), (HOST, 27019), (HOST, 27020)]);
    eventually(&c, &[27017, 27019, 27020]).await;
    c.shutdown().await;
    // 11. srvMaxHosts=2, both replaced by two.
    let resolver = test1(&[27017, 27018]);
    let c =
        client(&routers, "mongodb+srv://test1.test.build.10gen.cc/?srvMaxHosts=2", resolver.clone()).await;
    resolver.set_srv(NAME, &[(HOST, 27019), (HOST, 27020)]);
    eventually(&c, &[27019, 27020]).await;
    c.shutdown().await;
    // 12. srvMaxHosts=2, one replaced by two: 27017 stays, one of the new ones joins.
    let resolver = test1(&[27017, 27018]);
    let c =
        client(&routers, "mongodb+srv://test1.test.build.10gen.cc/?srvMaxHosts=2", resolver.clone()).await;
    resolver.set_srv(NAME, &[(HOST, 27017), (HOST, 27019), (HOST, 27020)]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let now = ports(&c);
        if now.len() == 2 && now[0] == 27017 && (now[1] == 27019 || now[1] == 27020) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "hosts {now:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    c.shutdown().await;
}

#[tokio::test]
async fn srv_turns_tls_on_and_a_plain_build_is_refused() {
    let resolver = test1(&[27017]);
    let uri = "mongodb+srv://test1.test.build.10gen.cc/";
    let parsed = mongo_driver::connection_string::ConnectionString::parse(uri).expect("parses");
    let resolved = mongo_driver::srv::resolve(&parsed, resolver.as_ref()).await.expect("resolves");
    assert_eq!(resolved.options.tls, Some(true));
    assert!(Client::builder(uri).build().is_err(), "build() cannot resolve DNS");
}
