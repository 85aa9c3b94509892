//! SCRAM authentication against the simulator's auth-enabled mode (auth spec "SCRAM-SHA-1",
//! "SCRAM-SHA-256", default mechanism negotiation): credentials from the URI, the
//! conversation unmonitored, and refusals as authentication errors with the server's code.

use std::sync::{Arc, Mutex};

use bson::{Document, doc};
use mongo_driver::Client;
use mongo_driver::event::command::CommandEvent;
use mongo_sim::{Config, Deployment};

/// A standalone with `alice` in `admin` and `bob` in `app`.
async fn deployment() -> Deployment {
    let config =
        Config::standalone().with_user("admin", "alice", "wonderland").with_user("app", "bob", "builder");
    Deployment::start(config).await.expect("the simulator starts")
}

/// The deployment's URI with `userinfo@` and `query` added.
fn uri(sim: &Deployment, userinfo: &str, query: &str) -> String {
    let rest = sim.connection_string().strip_prefix("mongodb://").expect("a mongodb:// URI");
    let hosts = rest.split(['/', '?']).next().unwrap_or(rest);
    format!("mongodb://{userinfo}{hosts}/{query}")
}

/// A client whose started command names are recorded.
fn client(uri: &str) -> (Client, Arc<Mutex<Vec<String>>>) {
    let names = Arc::new(Mutex::new(Vec::new()));
    let sink = names.clone();
    let client = Client::builder(uri)
        .command_event_handler(Arc::new(move |e: &CommandEvent| {
            if let CommandEvent::Started(s) = e {
                sink.lock().expect("not poisoned").push(s.command_name.clone());
            }
        }))
        .build()
        .expect("the client starts");
    (client, names)
}

#[tokio::test]
async fn negotiated_and_explicit_mechanisms_authenticate() {
    let sim = deployment().await;
    for (userinfo, query) in [
        ("alice:wonderland@", ""),
        ("alice:wonderland@", "?authMechanism=SCRAM-SHA-1"),
        ("alice:wonderland@", "?authMechanism=SCRAM-SHA-256"),
        ("bob:builder@", "?authSource=app&authMechanism=SCRAM-SHA-1"),
        ("bob:builder@", "?authSource=app"),
    ] {
        let (client, names) = client(&uri(&sim, userinfo, query));
        let coll = client.database("auth_test").collection::<Document>("c");
        coll.insert_one(doc! {"x": 1}).await.unwrap_or_else(|e| panic!("{userinfo}{query}: {e}"));
        let names = names.lock().expect("not poisoned").clone();
        assert_eq!(names, ["insert"], "{userinfo}{query}: the SASL conversation is not monitored");
    }
}

#[tokio::test]
async fn refusals_are_authentication_errors_with_the_server_code() {
    let sim = deployment().await;
    for (userinfo, query) in [
        ("alice:wrong@", ""),
        ("alice:wrong@", "?authMechanism=SCRAM-SHA-1"),
        ("nobody:x@", ""),
        ("bob:builder@", ""), // bob is defined in `app`, not `admin`
    ] {
        let (client, _) = client(&uri(
            &sim,
            userinfo,
            &format!("{query}{}serverSelectionTimeoutMS=2000", if query.is_empty() { "?" } else { "&" }),
        ));
        let error = client
            .database("auth_test")
            .collection::<Document>("c")
            .insert_one(doc! {"x": 1})
            .await
            .expect_err("authentication fails");
        assert!(error.is_authentication_error(), "{userinfo}{query}: {error}");
        assert_eq!(error.code(), Some(18), "{userinfo}{query}: {error}");
    }
    // Without credentials the server refuses the command itself.
    let (client, _) = client(&uri(&sim, "", ""));
    let error = client
        .database("auth_test")
        .collection::<Document>("c")
        .insert_one(doc! {"x": 1})
        .await
        .expect_err("refused");
    assert_eq!(error.code(), Some(13), "{error}");
    assert!(!error.is_authentication_error());
}

/// A mechanism the URI names but this driver cannot run parses into a credential, and
/// connecting fails with an authentication error naming it: never a fallback to SCRAM
/// (which would succeed here, as the user exists with a SCRAM password). MONGODB-X509 is run
/// (see `tests/x509.rs`).
#[tokio::test]
async fn mechanisms_the_driver_cannot_run_fail_at_connect_time_naming_the_mechanism() {
    let sim = deployment().await;
    for (userinfo, query, mechanism) in [
        ("alice:wonderland@", "?authMechanism=PLAIN", "PLAIN"),
        ("alice:wonderland@", "?authMechanism=MONGODB-CR", "MONGODB-CR"),
        ("alice@", "?authMechanism=GSSAPI", "GSSAPI"),
        ("", "?authMechanism=MONGODB-AWS", "MONGODB-AWS"),
        ("", "?authMechanism=MONGODB-OIDC", "MONGODB-OIDC"),
    ] {
        let (client, names) = client(&uri(&sim, userinfo, &format!("{query}&serverSelectionTimeoutMS=2000")));
        let error = client
            .database("auth_test")
            .collection::<Document>("c")
            .insert_one(doc! {"x": 1})
            .await
            .expect_err("the driver cannot authenticate with this mechanism");
        assert!(error.is_authentication_error(), "{mechanism}: {error}");
        let text = error.to_string();
        assert!(text.contains(mechanism) && text.contains("cannot authenticate"), "{mechanism}: {text}");
        assert!(names.lock().expect("not poisoned").is_empty(), "{mechanism}: no command was sent");
    }
    // An unknown mechanism name is refused when the client is built.
    assert!(Client::builder(uri(&sim, "alice:wonderland@", "?authMechanism=SCRAM-SHA-512")).build().is_err());
}

#[tokio::test]
async fn speculative_authentication_skips_sasl_start() {
    let sim = deployment().await;
    let (admin, _) = client(&uri(&sim, "alice:wonderland@", ""));
    // Any saslStart now fails: a client that still authenticates sent none.
    admin
        .database("admin")
        .run_command(doc! {
            "configureFailPoint": "failCommand",
            "mode": "alwaysOn",
            "data": { "failCommands": ["saslStart"], "errorCode": 18 },
        })
        .await
        .expect("fail point set");
    for query in ["", "?authMechanism=SCRAM-SHA-1"] {
        let (client, _) = client(&uri(&sim, "alice:wonderland@", query));
        let coll = client.database("auth_test").collection::<Document>("c");
        coll.insert_one(doc! {"x": 1}).await.unwrap_or_else(|e| panic!("{query}: {e}"));
    }
}
