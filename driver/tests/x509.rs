//! MONGODB-X509 end to end (auth spec "MONGODB-X509"): a TLS client certificate signed by the
//! simulator's test CA authenticates as its subject; a wrong `user`, an unknown subject and a
//! missing certificate are refused.

use std::path::PathBuf;
use std::time::Duration;

use bson::{Document, doc};
use mongo_driver::Client;
use mongo_sim::{Config, Deployment, TestCertificates};

/// A standalone that verifies client certificates, with the user `CN=client` on `$external`.
struct Setup {
    deployment: Deployment,
    dir: PathBuf,
}

async fn setup(name: &str) -> Setup {
    let certificates = TestCertificates::generate(&[]).expect("test certificates");
    let settings = certificates.settings_verifying_clients().expect("TLS settings");
    let config = Config::standalone().with_tls(settings).with_x509_user("CN=client");
    let deployment = Deployment::start(config).await.expect("the simulator starts");
    let dir = std::env::temp_dir().join(format!("x509-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("ca.pem"), &certificates.ca_pem).expect("ca.pem");
    for subject in ["client", "stranger"] {
        let pem = certificates.client_certificate_key_pem(subject).expect("client certificate");
        std::fs::write(dir.join(format!("{subject}.pem")), pem).expect("client pem");
    }
    Setup { deployment, dir }
}

impl Setup {
    fn uri(&self, user: &str, certificate: Option<&str>) -> String {
        let base = self.deployment.connection_string().trim_end_matches('/');
        let base = base.replacen("mongodb://", &format!("mongodb://{user}"), 1);
        let mut uri = format!(
            "{base}/?tls=true&tlsCAFile={}&authMechanism=MONGODB-X509&serverSelectionTimeoutMS=2000",
            self.dir.join("ca.pem").display()
        );
        if let Some(subject) = certificate {
            uri.push_str(&format!(
                "&tlsCertificateKeyFile={}",
                self.dir.join(format!("{subject}.pem")).display()
            ));
        }
        uri
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Inserts a document with a fresh `_id` through a new client for `uri` and reads it back.
async fn insert_and_find(uri: &str) -> mongo_driver::Result<Option<Document>> {
    static NEXT: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);
    let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let client = Client::with_uri_str(uri).await?;
    let coll = client.database("app").collection::<Document>("items");
    let run = async {
        coll.insert_one(doc! {"_id": id, "by": "x509"}).await?;
        coll.find_one(doc! {"_id": id}).await
    };
    let result = tokio::time::timeout(Duration::from_secs(10), run).await.expect("no hang");
    client.shutdown().await;
    result
}

#[tokio::test]
async fn the_certificate_subject_authenticates_with_or_without_a_user() {
    let setup = setup("ok").await;
    let found = insert_and_find(&setup.uri("", Some("client"))).await.expect("authenticated");
    assert_eq!(found.and_then(|d| d.get_str("by").ok().map(str::to_owned)).as_deref(), Some("x509"));
    let found = insert_and_find(&setup.uri("CN%3Dclient@", Some("client"))).await.expect("authenticated");
    assert!(found.is_some());
}

#[tokio::test]
async fn a_wrong_user_or_an_unknown_subject_is_refused() {
    let setup = setup("refused").await;
    for (user, certificate) in [("CN%3Dsomeone@", "client"), ("", "stranger")] {
        let error = insert_and_find(&setup.uri(user, Some(certificate))).await.expect_err("refused");
        assert!(
            error.is_authentication_error() || error.to_string().contains("MONGODB-X509"),
            "{user}/{certificate}: {error}"
        );
    }
}

#[tokio::test]
async fn without_a_client_certificate_the_client_says_why() {
    let setup = setup("nocert").await;
    let error = insert_and_find(&setup.uri("", None)).await.expect_err("no certificate");
    assert!(error.to_string().contains("tlsCertificateKeyFile"), "{error}");
}
