//! Load balancer spec against the simulator's load balancers: the handshake's `serviceId`,
//! connections pinned to cursors ("Behaviour With Cursors") and transactions ("Behaviour
//! With Transactions") and released when they end, and the wait queue timeout message
//! ("Connection Tracking").

mod common;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use bson::{Document, doc};
use common::Fixture;
use futures::TryStreamExt;
use mongo_driver::Client;
use mongo_driver::event::cmap::{CmapEvent, CmapEventKind};
use mongo_driver::event::command::CommandEvent;
use mongo_sim::Config;

/// A client on the load balancer in front of both routers, with its connections checked
/// out counted from the CMAP events.
struct Balanced {
    f: Fixture,
    client: Client,
    checked_out: Arc<AtomicI64>,
    events: Arc<Mutex<Vec<CommandEvent>>>,
}

impl Balanced {
    async fn start(options: &str) -> Self {
        let f = Fixture::start(Config::load_balanced(2, 3), "").await;
        let multi = f.sim.load_balancer_hosts()[1].clone();
        let checked_out: Arc<AtomicI64> = Arc::default();
        let counter = checked_out.clone();
        let events: Arc<Mutex<Vec<CommandEvent>>> = Arc::default();
        let sink = events.clone();
        let client = Client::builder(format!("mongodb://{multi}/?loadBalanced=true{options}"))
            .cmap_event_handler(Arc::new(move |e: &CmapEvent| match e.kind() {
                CmapEventKind::ConnectionCheckedOut => {
                    counter.fetch_add(1, Ordering::SeqCst);
                }
                CmapEventKind::ConnectionCheckedIn => {
                    counter.fetch_sub(1, Ordering::SeqCst);
                }
                _ => {}
            }))
            .command_event_handler(Arc::new(move |e: &CommandEvent| {
                sink.lock().expect("not poisoned").push(e.clone())
            }))
            .build()
            .expect("the client starts");
        let docs: Vec<Document> = (0..5).map(|i| doc! {"_id": i}).collect();
        f.client.database("lb").collection::<Document>("c").insert_many(docs).await.expect("setup");
        Self { f, client, checked_out, events }
    }

    fn coll(&self) -> mongo_driver::Collection<Document> {
        self.client.database("lb").collection("c")
    }

    fn checked_out(&self) -> i64 {
        self.checked_out.load(Ordering::SeqCst)
    }

    /// (command name, connection id, service id) of every started command.
    fn started(&self) -> Vec<(String, u32, Option<bson::oid::ObjectId>)> {
        let events = self.events.lock().expect("not poisoned");
        events
            .iter()
            .filter_map(|e| match e {
                CommandEvent::Started(s) => Some((s.command_name.clone(), s.connection_id, s.service_id)),
                _ => None,
            })
            .collect()
    }
}

#[tokio::test]
async fn a_cursor_keeps_its_connection_until_exhausted() {
    let b = Balanced::start("").await;
    let mut cursor = b.coll().find(doc! {}).batch_size(2).await.expect("find");
    assert_eq!(b.checked_out(), 1, "the open cursor holds its connection");
    let mut seen = 0;
    while cursor.try_next().await.expect("next").is_some() {
        seen += 1;
    }
    assert_eq!(seen, 5);
    assert_eq!(b.checked_out(), 0, "exhausted: the connection is back");
    let started = b.started();
    let names: Vec<&str> = started.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(names, ["find", "getMore", "getMore"]);
    assert!(started[0].2.is_some(), "command events carry the serviceId");
    assert!(started.iter().all(|s| s.1 == started[0].1 && s.2 == started[0].2), "{started:?}");

    // All in the first batch: nothing stays pinned.
    let all: Vec<Document> = b.coll().find(doc! {}).await.expect("find").try_collect().await.expect("all");
    assert_eq!(all.len(), 5);
    assert_eq!(b.checked_out(), 0);
}

#[tokio::test]
async fn closing_a_cursor_kills_it_on_its_connection_and_releases_it() {
    let b = Balanced::start("").await;
    let cursor = b.coll().find(doc! {}).batch_size(2).await.expect("find");
    assert_eq!(b.checked_out(), 1);
    cursor.close().await;
    assert_eq!(b.checked_out(), 0);
    let started = b.started();
    let names: Vec<&str> = started.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(names, ["find", "killCursors"]);
    assert_eq!((started[1].1, started[1].2), (started[0].1, started[0].2));
}

#[tokio::test]
async fn a_transaction_keeps_its_connection_until_it_ends() {
    let b = Balanced::start("").await;
    let mut s = b.client.start_session().await.expect("session");
    s.start_transaction(None).expect("start");
    for i in 10..14 {
        b.coll().insert_one(doc! {"_id": i}).session(&mut s).await.expect("insert");
        assert_eq!(b.checked_out(), 1, "the transaction holds its connection");
    }
    // A cursor in the transaction shares the connection; closing it keeps the pin.
    let cursor = b.coll().find(doc! {}).batch_size(2).session(&mut s).await.expect("find");
    assert_eq!(b.checked_out(), 1);
    cursor.close().await;
    assert_eq!(b.checked_out(), 1);
    s.commit_transaction().await.expect("commit");
    assert_eq!(b.checked_out(), 1, "a committed transaction stays pinned (it may be committed again)");
    s.start_transaction(None).expect("start again");
    assert_eq!(b.checked_out(), 0, "a new transaction unpins");
    b.coll().insert_one(doc! {"_id": 20}).session(&mut s).await.expect("insert");
    s.abort_transaction().await.expect("abort");
    assert_eq!(b.checked_out(), 0, "abort releases the connection");

    let started = b.started();
    let commit = started.iter().position(|c| c.0 == "commitTransaction").expect("a commit");
    assert!(
        started[..=commit].iter().all(|c| c.1 == started[0].1),
        "one connection for the transaction: {started:?}"
    );
    let count = b.f.client.database("lb").collection::<Document>("c").count_documents(doc! {}).await;
    assert_eq!(count.expect("count"), 9, "the committed inserts only");
}

#[tokio::test]
async fn a_wait_queue_timeout_says_what_holds_the_connections() {
    let b = Balanced::start("&maxPoolSize=1&waitQueueTimeoutMS=50").await;
    let cursor = b.coll().find(doc! {}).batch_size(2).await.expect("find");
    let error = b.coll().insert_one(doc! {"x": 1}).await.expect_err("the only connection is pinned");
    assert!(
        error.to_string().contains(
            "maxPoolSize: 1, connections in use by cursors: 1, connections in use by transactions: 0, \
             connections in use by other operations: 0"
        ),
        "{error}"
    );
    cursor.close().await;
    b.coll().insert_one(doc! {"x": 1}).await.expect("the connection is free again");
}
