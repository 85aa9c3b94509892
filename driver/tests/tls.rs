//! TLS connections against the simulator serving TLS with certificates made at test time: a
//! trusted CA connects (connection and `Client`), and a wrong CA, a wrong host name, a plain
//! client to a TLS server and a TLS client to a plain server each fail fast with their own error.

use std::path::PathBuf;
use std::time::Duration;

use bson::doc;
use mongo_driver::connection::{CommandMessage, Connection, ConnectionOptions, TlsOptions};
use mongo_driver::sdam::ServerAddress;
use mongo_driver::{Client, ErrorKind};
use mongo_sim::{Config, Deployment, TestCertificates};

const LIMIT: Duration = Duration::from_secs(20);

struct TlsDeployment {
    deployment: Deployment,
    dir: PathBuf,
}

impl Drop for TlsDeployment {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl TlsDeployment {
    async fn start(name: &str) -> Self {
        Self::start_with(name, TestCertificates::generate(&[]).expect("test certificates")).await
    }

    async fn start_with(name: &str, certificates: TestCertificates) -> Self {
        let settings = certificates.settings().expect("server TLS settings");
        let deployment =
            Deployment::start(Config::standalone().with_tls(settings)).await.expect("the simulator starts");
        let dir = std::env::temp_dir().join(format!("mongo-driver-tls-{name}-{}", std::process::id()));
        certificates.write_to(&dir).expect("certificates written");
        Self { deployment, dir }
    }

    fn host(&self) -> String {
        self.deployment.member_hosts()[0].clone()
    }

    fn ca_file(&self) -> String {
        self.dir.join("ca.pem").display().to_string()
    }
}

fn options(tls: TlsOptions) -> ConnectionOptions {
    ConnectionOptions { tls: Some(tls.build().expect("TLS config builds")), ..ConnectionOptions::default() }
}

async fn connect(address: ServerAddress, options: &ConnectionOptions) -> mongo_driver::Result<Connection> {
    let options = ConnectionOptions { connect_timeout: Some(Duration::from_secs(5)), ..options.clone() };
    tokio::time::timeout(LIMIT, Connection::connect(address, &options, 1, 0)).await.expect("no hang")
}

fn io_message(result: mongo_driver::Result<Connection>) -> String {
    match result {
        Ok(_) => panic!("the connection should have failed"),
        Err(e) => {
            assert!(matches!(&*e.kind, ErrorKind::Io { .. }), "a network error: {e}");
            e.to_string()
        }
    }
}

#[tokio::test]
async fn a_trusted_ca_connects_and_runs_commands() {
    let sim = TlsDeployment::start("trusted").await;
    let tls = TlsOptions { ca_file: Some(sim.ca_file()), ..TlsOptions::default() };
    let address = format!("localhost:{}", sim.host().rsplit(':').next().unwrap_or_default());
    let mut conn = connect(address.parse().expect("address"), &options(tls)).await.expect("TLS connects");
    let reply = conn.send_command(CommandMessage::new("admin", doc! {"ping": 1})).await.expect("ping");
    assert_eq!(reply.get_f64("ok").ok(), Some(1.0));
    // The certificate also names 127.0.0.1, so an IP address verifies too.
    let tls = TlsOptions { ca_file: Some(sim.ca_file()), ..TlsOptions::default() };
    assert!(connect(sim.host().parse().expect("address"), &options(tls)).await.is_ok());
}

#[tokio::test]
async fn a_client_over_tls_runs_crud() {
    let sim = TlsDeployment::start("client").await;
    let uri = format!(
        "mongodb://{}/?tls=true&tlsCAFile={}&serverSelectionTimeoutMS=5000",
        sim.host(),
        sim.ca_file()
    );
    let client = Client::with_uri_str(&uri).await.expect("client");
    let coll = client.database("tls").collection::<bson::Document>("c");
    coll.insert_one(doc! {"x": 1}).await.expect("insert over TLS");
    let found = coll.find_one(doc! {"x": 1}).await.expect("find over TLS");
    assert_eq!(found.and_then(|d| d.get_i32("x").ok()), Some(1));
    client.shutdown().await;
}

#[tokio::test]
async fn an_untrusted_ca_is_refused() {
    let sim = TlsDeployment::start("untrusted").await;
    let other = TestCertificates::generate(&[]).expect("another CA");
    let dir = sim.dir.join("other");
    let other_ca = other.write_to(&dir).expect("written").display().to_string();
    let message = io_message(
        connect(
            sim.host().parse().expect("address"),
            &options(TlsOptions { ca_file: Some(other_ca.clone()), ..TlsOptions::default() }),
        )
        .await,
    );
    assert!(message.contains("not signed by a trusted CA"), "{message}");
    // The default roots do not trust the test CA either.
    let message =
        io_message(connect(sim.host().parse().expect("address"), &options(TlsOptions::default())).await);
    assert!(message.contains("not signed by a trusted CA"), "{message}");
    // tlsAllowInvalidCertificates accepts it.
    let tls =
        TlsOptions { ca_file: Some(other_ca), allow_invalid_certificates: true, ..TlsOptions::default() };
    assert!(connect(sim.host().parse().expect("address"), &options(tls)).await.is_ok());
}

#[tokio::test]
async fn a_wrong_host_name_is_refused_unless_allowed() {
    let certificates = TestCertificates::generate_for(&["db.example.test"]).expect("certificates");
    let sim = TlsDeployment::start_with("hostname", certificates).await;
    let port = sim.host().rsplit(':').next().unwrap_or_default().to_owned();
    // The certificate names only db.example.test; localhost reaches the server all the same.
    let wrong: ServerAddress = format!("localhost:{port}").parse().expect("address");
    let tls = TlsOptions { ca_file: Some(sim.ca_file()), ..TlsOptions::default() };
    let message = io_message(connect(wrong.clone(), &options(tls)).await);
    assert!(message.contains("not valid for the host name"), "{message}");
    let tls =
        TlsOptions { ca_file: Some(sim.ca_file()), allow_invalid_hostnames: true, ..TlsOptions::default() };
    assert!(connect(wrong, &options(tls)).await.is_ok(), "tlsAllowInvalidHostnames skips the name check");
}

#[tokio::test]
async fn a_plain_client_to_a_tls_server_is_told_to_use_tls() {
    let sim = TlsDeployment::start("plain-client").await;
    let message =
        io_message(connect(sim.host().parse().expect("address"), &ConnectionOptions::default()).await);
    assert!(message.contains("tls=true"), "{message}");
}

#[tokio::test]
async fn a_tls_client_to_a_plain_server_is_told_the_server_has_no_tls() {
    let deployment = Deployment::start(Config::standalone()).await.expect("the simulator starts");
    let host = deployment.member_hosts()[0].clone();
    let tls = TlsOptions { allow_invalid_certificates: true, ..TlsOptions::default() };
    let message = io_message(connect(host.parse().expect("address"), &options(tls)).await);
    assert!(message.contains("is TLS enabled on the server?"), "{message}");
}

#[tokio::test]
async fn unsupported_tls_options_fail_the_client() {
    for uri in [
        "mongodb://localhost/?tls=true&tlsCertificateKeyFilePassword=secret",
        "mongodb://localhost/?tls=true&tlsDisableOCSPEndpointCheck=false",
        "mongodb://localhost/?tls=true&tlsCAFile=/nonexistent/ca.pem",
    ] {
        assert!(Client::with_uri_str(uri).await.is_err(), "{uri} should fail");
    }
}
