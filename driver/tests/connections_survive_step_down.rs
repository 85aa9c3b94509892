//! The Connections Survive Primary Step Down prose tests (`connections-survive-step-down/tests/
//! README.rst` at the spec pin; founding text `seeds/connections-survive-step-down-tests.rst`),
//! through the public `Client` API against a simulated three-member replica set: one named test
//! per prose test per simulated server version it applies to, e.g.
//! `connections_survive_step_down::get_more_iteration::v4_2`.
//!
//! Each test verifies the pool both ways the spec offers: the CMAP events (no `PoolClearedEvent`,
//! or one) and the primary's `serverStatus` `connections.totalCreated` (unchanged, or one more).
//!
//! Error codes follow the spec at the pin, not the founding text: "not primary" is 10107
//! (NotWritablePrimary); the founding text's 11600 is InterruptedAtShutdown, a shutdown code that
//! resets the pool on every version (its own test below).

use std::sync::{Arc, Mutex};

use bson::{Document, doc};
use futures::TryStreamExt;
use mongo_driver::event::cmap::{CmapEvent, CmapEventKind};
use mongo_driver::options::{CreateCollectionOptions, WriteConcern};
use mongo_driver::{Client, Collection};
use mongo_sim::{Config, Deployment, ServerVersion};

/// The spec's test setup: a client with `retryWrites=false` recording CMAP events, and the
/// `step-down.step-down` collection dropped and created again with a majority write concern.
struct StepDown {
    sim: Deployment,
    client: Client,
    coll: Collection<Document>,
    cmap: Arc<Mutex<Vec<CmapEvent>>>,
}

impl StepDown {
    async fn setup(version: ServerVersion) -> Self {
        let sim = Deployment::start(Config::replica_set(3).with_version(version))
            .await
            .expect("the simulator starts");
        let cmap = Arc::new(Mutex::new(Vec::new()));
        let sink = cmap.clone();
        let uri =
            format!("{}{}retryWrites=false", sim.connection_string(), separator(sim.connection_string()));
        let client = Client::builder(uri)
            .cmap_event_handler(Arc::new(move |e: &CmapEvent| {
                sink.lock().expect("not poisoned").push(e.clone())
            }))
            .build()
            .expect("the client starts");
        let db = client.database("step-down");
        let coll = db.collection::<Document>("step-down");
        coll.drop().write_concern(WriteConcern::majority()).await.expect("drop with w: majority");
        db.create_collection("step-down")
            .with_options(CreateCollectionOptions::default().write_concern(WriteConcern::majority()))
            .await
            .expect("create with w: majority");
        Self { sim, client, coll, cmap }
    }

    /// How many events of `kind` were published so far.
    fn count(&self, kind: CmapEventKind) -> usize {
        self.cmap.lock().expect("not poisoned").iter().filter(|e| e.kind() == kind).count()
    }

    /// `connections.totalCreated` of the primary, asked through the test's client.
    async fn total_created(&self) -> i64 {
        total_created(&self.client).await
    }

    /// Sets `{failCommands: ["insert"], errorCode: code}` once on the primary.
    async fn fail_next_insert(&self, code: i32) {
        let fail = doc! {
            "configureFailPoint": "failCommand",
            "mode": { "times": 1 },
            "data": { "failCommands": ["insert"], "errorCode": code },
        };
        self.client.database("admin").run_command(fail).await.expect("configureFailPoint");
    }

    /// An insert of `{test: 1}` that the fail point makes fail with `code`.
    async fn insert_fails_with(&self, code: i32) {
        let error =
            self.coll.insert_one(doc! { "test": 1 }).await.expect_err("the fail point fails the insert");
        assert_eq!(error.code(), Some(code), "an operation failure with code {code}: {error}");
    }

    /// An insert of `{test: 1}` that succeeds (the driver survived the failover).
    async fn insert_succeeds(&self) {
        self.coll.insert_one(doc! { "test": 1 }).await.expect("the next insert succeeds");
    }
}

fn separator(uri: &str) -> char {
    if uri.contains('?') { '&' } else { '?' }
}

async fn total_created(client: &Client) -> i64 {
    let status =
        client.database("admin").run_command(doc! { "serverStatus": 1 }).await.expect("serverStatus");
    let connections = status.get_document("connections").expect("serverStatus has connections");
    connections
        .get_i64("totalCreated")
        .or_else(|_| connections.get_i32("totalCreated").map(i64::from))
        .expect("connections.totalCreated")
}

/// "getMore Iteration": a cursor opened before a step-down keeps working after it, and no pool
/// is cleared.
async fn get_more_iteration(version: ServerVersion) {
    let t = StepDown::setup(version).await;
    let docs: Vec<Document> = (0..5).map(|i| doc! { "_id": i }).collect();
    t.coll
        .insert_many(docs)
        .write_concern(WriteConcern::majority())
        .await
        .expect("insert 5 with w: majority");
    let mut cursor = t.coll.find(doc! {}).batch_size(2).await.expect("find");
    assert_ne!(cursor.id(), 0, "the find left a cursor open");
    assert_eq!(cursor.buffered(), 2, "the first batch holds 2 documents");
    // The old primary's connection count, on a direct connection (after the step-down the
    // test client's commands go to the new primary).
    let old_primary = t.sim.primary_host().expect("a primary");
    let direct =
        Client::builder(format!("mongodb://{old_primary}/?directConnection=true")).build().expect("client");
    let created_before = total_created(&direct).await;
    let secondary = t.sim.member_hosts().into_iter().find(|h| *h != old_primary).expect("a secondary");
    let to_secondary =
        Client::builder(format!("mongodb://{secondary}/?directConnection=true")).build().expect("client");
    to_secondary.database("admin").run_command(doc! { "replSetFreeze": 0 }).await.expect("replSetFreeze: 0");
    t.client
        .database("admin")
        .run_command(doc! { "replSetStepDown": 30, "force": true })
        .await
        .expect("replSetStepDown succeeds");
    // The first batch, then 3 documents that only getMores after the step-down can bring.
    let mut all = Vec::new();
    while let Some(d) = cursor.try_next().await.expect("the getMore after the step-down succeeds") {
        all.push(d);
    }
    assert_eq!(all.len(), 5, "every document: {all:?}");
    assert_eq!(t.count(CmapEventKind::PoolCleared), 0, "no PoolClearedEvent");
    assert_eq!(
        total_created(&direct).await,
        created_before,
        "connections.totalCreated unchanged on the old primary"
    );
    assert_ne!(t.sim.primary_host(), Some(old_primary), "a new primary was elected");
}

/// "Not Primary - Keep Connection Pool" (4.2+): a NotWritablePrimary error leaves the pool.
async fn not_primary_keep_pool(version: ServerVersion) {
    let t = StepDown::setup(version).await;
    let created_before = t.total_created().await;
    t.fail_next_insert(10107).await;
    t.insert_fails_with(10107).await;
    t.insert_succeeds().await;
    assert_eq!(t.count(CmapEventKind::PoolCleared), 0, "no PoolClearedEvent");
    assert_eq!(t.total_created().await, created_before, "connections.totalCreated unchanged");
}

/// "Not Primary - Reset Connection Pool" (before 4.2): a NotWritablePrimary error clears it.
async fn not_primary_reset_pool(version: ServerVersion) {
    reset_pool_on(version, 10107).await;
}

/// "Shutdown in progress - Reset Connection Pool": ShutdownInProgress (91) clears the pool.
async fn shutdown_reset_pool(version: ServerVersion) {
    reset_pool_on(version, 91).await;
}

/// "Interrupted at shutdown - Reset Connection Pool": InterruptedAtShutdown (11600) clears it.
async fn interrupted_at_shutdown_reset_pool(version: ServerVersion) {
    reset_pool_on(version, 11600).await;
}

/// The reset-pool tests: the insert fails with `code`, one `PoolClearedEvent` is published, the
/// next insert succeeds on a new connection (`connections.totalCreated` one more).
async fn reset_pool_on(version: ServerVersion, code: i32) {
    let t = StepDown::setup(version).await;
    let created_before = t.total_created().await;
    t.fail_next_insert(code).await;
    t.insert_fails_with(code).await;
    assert_eq!(t.count(CmapEventKind::PoolCleared), 1, "one PoolClearedEvent");
    t.insert_succeeds().await;
    assert_eq!(t.total_created().await, created_before + 1, "connections.totalCreated increased by 1");
}

/// One `#[tokio::test]` per listed server version, in a module named after the prose test.
macro_rules! per_version {
    ($test:ident: $($name:ident => $version:ident),+ $(,)?) => {
        pub mod $test {
            $(
                #[tokio::test]
                async fn $name() {
                    super::super::$test(mongo_sim::ServerVersion::$version).await;
                }
            )+
        }
    };
}

mod connections_survive_step_down {
    per_version!(get_more_iteration: v4_2 => V4_2, v4_4 => V4_4, v5_0 => V5_0, v6_0 => V6_0, v7_0 => V7_0);
    per_version!(not_primary_keep_pool: v4_2 => V4_2, v4_4 => V4_4, v5_0 => V5_0, v6_0 => V6_0, v7_0 => V7_0);
    per_version!(not_primary_reset_pool: v3_6 => V3_6, v4_0 => V4_0);
    // The spec at the pin says "all server versions >= 4.0"; the founding text says every
    // supported version, so 3.6 runs too.
    per_version!(shutdown_reset_pool:
        v3_6 => V3_6, v4_0 => V4_0, v4_2 => V4_2, v4_4 => V4_4, v5_0 => V5_0, v6_0 => V6_0, v7_0 => V7_0);
    per_version!(interrupted_at_shutdown_reset_pool:
        v4_0 => V4_0, v4_2 => V4_2, v4_4 => V4_4, v5_0 => V5_0, v6_0 => V6_0, v7_0 => V7_0);
}
