//! The in-memory dialer against a simulated deployment served by the test's own runtime, on
//! a paused tokio clock (the seam the CSOT suite's `Clock::Virtual` uses): a 50 ms
//! `socketTimeoutMS` against a fail point blocking 55 ms, and against one blocking 45 ms, is
//! decided by virtual time alone, and the virtual time the operation took is known to the
//! millisecond.

use std::time::Duration;

use bson::{Document, doc};
use mongo_driver::Client;
use mongo_driver::connection::Dialer;
use mongo_sim::{Config, Deployment};

async fn setup() -> (Deployment, Client) {
    tokio::time::pause();
    let deployment =
        Deployment::start_in_current_runtime(Config::standalone()).await.expect("the simulator starts");
    let connector = deployment.in_memory_connector();
    let uri = format!("{}?socketTimeoutMS=50&retryWrites=false", deployment.connection_string());
    let client = Client::builder(uri)
        .dialer(Dialer::in_memory(move |address| connector.connect(&address.to_string())))
        .build()
        .expect("the client starts");
    (deployment, client)
}

async fn block_next_insert(client: &Client, ms: i32) {
    let command = doc! {
        "configureFailPoint": "failCommand",
        "mode": {"times": 1},
        "data": {"failCommands": ["insert"], "blockConnection": true, "blockTimeMS": ms},
    };
    client.database("admin").run_command(command).await.expect("configureFailPoint");
}

#[tokio::test]
async fn a_block_longer_than_the_socket_timeout_times_out_on_virtual_time() {
    let (_deployment, client) = setup().await;
    let coll = client.database("db").collection::<Document>("c");
    coll.insert_one(doc! {"warm": 1}).await.expect("the first insert");

    block_next_insert(&client, 55).await;
    let started = tokio::time::Instant::now();
    let error = coll.insert_one(doc! {"x": 1}).await.expect_err("the blocked insert times out");
    assert!(error.is_network_timeout(), "{error}");
    // The socket timeout fired, before the block ended (tokio timers tick by the millisecond).
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(50) && took < Duration::from_millis(52), "{took:?}");

    block_next_insert(&client, 45).await;
    let started = tokio::time::Instant::now();
    coll.insert_one(doc! {"x": 2}).await.expect("a 45 ms block is within the 50 ms");
    // A fresh connection (the timed-out one was closed), then the 45 ms block.
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(45) && took < Duration::from_millis(47), "{took:?}");
    client.shutdown().await;
}

#[tokio::test]
async fn an_unknown_host_has_no_in_memory_connection() {
    let deployment =
        Deployment::start_in_current_runtime(Config::standalone()).await.expect("the simulator starts");
    assert!(deployment.in_current_runtime());
    assert!(deployment.connect_in_memory("127.0.0.1:1").is_none());
    assert!(deployment.connect_in_memory(&deployment.member_hosts()[0]).is_some());
}
