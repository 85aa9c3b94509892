//! Pool behaviours the spec's JSON tests do not reach: cancellation, foreign and errored
//! check-ins, population error handling, option validation, background task lifetime.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::ErrorKind;
use crate::cmap::event::{CheckOutFailedReason, CmapEvent, CmapEventKind, ConnectionClosedReason};

fn address() -> crate::options::ServerAddress {
    crate::options::ServerAddress::new("localhost", 27017)
}

type Events = Arc<Mutex<Vec<CmapEvent>>>;

fn pool_with(options: PoolOptions, connector: InMemoryConnector) -> (Pool<InMemoryConnection>, Events) {
    let events: Events = Arc::default();
    let sink = events.clone();
    let pool = Pool::builder(address(), Arc::new(connector))
        .options(options)
        .event_handler(Arc::new(move |e: &CmapEvent| sink.lock().unwrap().push(e.clone())))
        .build()
        .unwrap();
    (pool, events)
}

fn kinds(events: &Events) -> Vec<CmapEventKind> {
    events.lock().unwrap().iter().map(|e| e.kind()).collect()
}

#[tokio::test]
async fn a_cancelled_waiter_leaves_the_queue() {
    let options = PoolOptions { max_pool_size: Some(1), ..Default::default() };
    let (pool, _) = pool_with(options, InMemoryConnector::new());
    pool.ready();
    let held = pool.check_out().await.unwrap();
    // This check-out waits at the front of the queue, then is cancelled.
    assert!(tokio::time::timeout(Duration::from_millis(20), pool.check_out()).await.is_err());
    assert_eq!(pool.status().waiting, 0);
    let next = tokio::spawn({
        let pool = pool.clone();
        async move { pool.check_out().await.map(|c| c.id()) }
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    drop(held);
    assert_eq!(next.await.unwrap().unwrap(), 1);
}

#[tokio::test]
async fn a_cancelled_establishment_keeps_its_connection() {
    let connector = InMemoryConnector::new();
    connector
        .set_fault(Some(HandshakeFault { block: Some(Duration::from_millis(50)), ..Default::default() }));
    let (pool, events) = pool_with(PoolOptions::default(), connector);
    pool.ready();
    assert!(tokio::time::timeout(Duration::from_millis(10), pool.check_out()).await.is_err());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let status = pool.status();
    assert_eq!((status.total, status.available, status.pending), (1, 1, 0));
    assert!(kinds(&events).contains(&CmapEventKind::ConnectionReady));
    assert_eq!(pool.check_out().await.unwrap().id(), 1);
}

#[tokio::test]
async fn errored_connections_are_closed_on_check_in() {
    let (pool, events) = pool_with(PoolOptions::default(), InMemoryConnector::new());
    pool.ready();
    let mut conn = pool.check_out().await.unwrap();
    conn.mark_errored();
    pool.check_in(conn).unwrap();
    let last = events.lock().unwrap().last().cloned();
    assert!(matches!(
        last,
        Some(CmapEvent::ConnectionClosed(e)) if e.reason == ConnectionClosedReason::Error && e.connection_id == 1
    ));
    assert_eq!(pool.status().total, 0);
}

#[tokio::test]
async fn a_connection_from_another_pool_is_refused() {
    let (a, _) = pool_with(PoolOptions::default(), InMemoryConnector::new());
    let (b, _) = pool_with(PoolOptions::default(), InMemoryConnector::new());
    a.ready();
    let conn = a.check_out().await.unwrap();
    let err = b.check_in(conn).unwrap_err();
    assert!(matches!(*err.kind, ErrorKind::InvalidArgument { .. }), "{err}");
    // It went back to its own pool.
    assert_eq!(a.status().available, 1);
}

#[tokio::test]
async fn a_paused_pool_fails_check_out_with_a_retryable_pool_cleared_error() {
    let (pool, events) = pool_with(PoolOptions::default(), InMemoryConnector::new());
    pool.ready();
    let cause = crate::Error::io("reading a reply", std::io::Error::other("reset"));
    pool.clear_with_cause(&cause);
    let err = pool.check_out().await.unwrap_err();
    assert!(err.is_pool_cleared() && !err.is_network_error(), "{err}");
    assert!(err.to_string().contains("localhost:27017") && err.to_string().contains("reset"), "{err}");
    let last = events.lock().unwrap().last().cloned();
    assert!(matches!(
        last,
        Some(CmapEvent::ConnectionCheckOutFailed(e)) if e.reason == CheckOutFailedReason::ConnectionError
    ));
}

#[tokio::test]
async fn a_population_error_goes_to_the_handler() {
    let connector = InMemoryConnector::new();
    connector.set_fault(Some(HandshakeFault {
        close_connection: true,
        times: Some(1),
        ..Default::default()
    }));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let pool = Pool::builder(address(), Arc::new(connector))
        .options(PoolOptions { min_pool_size: Some(1), ..Default::default() })
        .population_error_handler(Arc::new(move |e: PopulationError| {
            sink.lock().unwrap().push((e.generation, e.error.is_network_error()))
        }))
        .build()
        .unwrap();
    pool.ready();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(seen.lock().unwrap().as_slice(), &[(0, true)]);
    // The handler did not clear the pool, so the next run made the connection.
    assert_eq!(pool.status().state, PoolState::Ready);
    assert_eq!(pool.status().available, 1);
}

#[tokio::test]
async fn invalid_options_are_refused() {
    let build =
        |options| Pool::builder(address(), Arc::new(InMemoryConnector::new())).options(options).build();
    assert!(build(PoolOptions { max_connecting: Some(0), ..Default::default() }).is_err());
    assert!(
        build(PoolOptions { min_pool_size: Some(5), max_pool_size: Some(2), ..Default::default() }).is_err()
    );
    assert!(
        build(PoolOptions { min_pool_size: Some(5), max_pool_size: Some(0), ..Default::default() }).is_ok()
    );
    let zero = Some(BackgroundInterval::Every(Duration::ZERO));
    assert!(build(PoolOptions { background_interval: zero, ..Default::default() }).is_err());
}

#[test]
fn background_runs_need_a_runtime() {
    let pool = Pool::builder(address(), Arc::new(InMemoryConnector::new())).build();
    assert!(pool.is_err());
    let never = PoolOptions { background_interval: Some(BackgroundInterval::Never), ..Default::default() };
    assert!(Pool::builder(address(), Arc::new(InMemoryConnector::new())).options(never).build().is_ok());
}

#[tokio::test]
async fn closing_or_dropping_the_pool_stops_its_tasks() {
    let metrics = tokio::runtime::Handle::current().metrics();
    let before = metrics.num_alive_tasks();
    let (pool, _) = pool_with(PoolOptions::default(), InMemoryConnector::new());
    tokio::task::yield_now().await;
    assert_eq!(metrics.num_alive_tasks(), before + 1);
    pool.close();
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(metrics.num_alive_tasks(), before);

    let (pool, _) = pool_with(PoolOptions::default(), InMemoryConnector::new());
    tokio::task::yield_now().await;
    assert_eq!(metrics.num_alive_tasks(), before + 1);
    drop(pool);
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(metrics.num_alive_tasks(), before);
}

#[tokio::test]
async fn close_cancels_establishments() {
    let connector = InMemoryConnector::new();
    connector.set_fault(Some(HandshakeFault { block: Some(Duration::from_secs(30)), ..Default::default() }));
    let (pool, events) = pool_with(PoolOptions::default(), connector);
    pool.ready();
    let waiter = tokio::spawn({
        let pool = pool.clone();
        async move { pool.check_out().await.map(|c| c.id()) }
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(pool.status().pending, 1);
    pool.close();
    let err = waiter.await.unwrap().unwrap_err();
    assert!(matches!(*err.kind, ErrorKind::PoolClosed { .. }), "{err}");
    let status = pool.status();
    assert_eq!((status.total, status.pending), (0, 0));
    let closed = events.lock().unwrap().iter().any(
        |e| matches!(e, CmapEvent::ConnectionClosed(c) if c.reason == ConnectionClosedReason::PoolClosed),
    );
    assert!(closed);
}

#[test]
fn pool_options_come_from_the_connection_string() {
    let uri = crate::connection_string::ConnectionString::parse(
        "mongodb://h/?maxPoolSize=7&minPoolSize=2&maxIdleTimeMS=300&maxConnecting=3&waitQueueTimeoutMS=40",
    )
    .unwrap();
    let options = PoolOptions::from_uri_options(&uri.options);
    assert_eq!(
        options,
        PoolOptions {
            max_pool_size: Some(7),
            min_pool_size: Some(2),
            max_idle_time: Some(Duration::from_millis(300)),
            max_connecting: Some(3),
            wait_queue_timeout: Some(Duration::from_millis(40)),
            background_interval: None,
        }
    );
}

/// Connections with odd ids belong to service A, even ids to service B.
struct TwoServices {
    a: bson::oid::ObjectId,
    b: bson::oid::ObjectId,
}

impl Connector for TwoServices {
    type Connection = (u32, bson::oid::ObjectId);

    fn connect(
        &self,
        request: ConnectRequest,
    ) -> futures::future::BoxFuture<'static, crate::Result<Self::Connection>> {
        let service = if request.id % 2 == 1 { self.a } else { self.b };
        Box::pin(async move { Ok((request.id, service)) })
    }

    fn service_id(&self, connection: &Self::Connection) -> Option<bson::oid::ObjectId> {
        Some(connection.1)
    }
}

#[tokio::test]
async fn load_balanced_pools_clear_one_service() {
    let (a, b) = (bson::oid::ObjectId::new(), bson::oid::ObjectId::new());
    let events: Events = Arc::default();
    let sink = events.clone();
    let pool = Pool::builder(address(), Arc::new(TwoServices { a, b }))
        .load_balanced(true)
        .event_handler(Arc::new(move |e: &CmapEvent| sink.lock().unwrap().push(e.clone())))
        .build()
        .unwrap();
    pool.ready();
    let first = pool.check_out().await.unwrap();
    let second = pool.check_out().await.unwrap();
    assert_eq!((first.1, second.1), (a, b));
    drop(second);
    drop(first);
    pool.clear_service(a);
    assert_eq!(pool.status().state, PoolState::Ready, "a service clear does not pause the pool");
    let cleared = events.lock().unwrap().last().cloned();
    assert!(matches!(cleared, Some(CmapEvent::PoolCleared(e)) if e.service_id == Some(a)));
    // Connection 1 (service A, checked in last) is stale and closed; connection 2
    // (service B) is not.
    let conn = pool.check_out().await.unwrap();
    assert_eq!(conn.id(), 2);
    let stale = events.lock().unwrap().iter().any(|e| {
        matches!(e, CmapEvent::ConnectionClosed(c) if c.connection_id == 1 && c.reason == ConnectionClosedReason::Stale)
    });
    assert!(stale);
    let fresh = pool.check_out().await.unwrap();
    assert_eq!((fresh.id(), fresh.1), (3, a));
    // The pool-wide generation did not move.
    assert_eq!(pool.status().generation, 0);
}
