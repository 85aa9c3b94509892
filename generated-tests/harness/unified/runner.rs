//! The runtime of the Unified Test Format runner (`unified-test-format.rst`, "Executing a
//! Test"): a simulated deployment per case (or `MONGODB_URI`'s, see `deployment`),
//! `initialData`, entities, the checks of each operation's result or error
//! ("expectedError"), of the events seen ("expectedEvent") and of the final collection
//! contents (`outcome`). The generated test calls the driver
//! itself, one statement per operation, and hands each result to [`Runner::check`].

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bson::{Bson, Document, doc};
use mongo_driver::coll::{UpdateModifications, WriteModel};
use mongo_driver::connection::ServerApi;
use mongo_driver::error::{Error, ErrorKind};
use mongo_driver::event::cmap::{CmapEvent, CmapEventKind};
use mongo_driver::event::command::{CommandEvent, SENSITIVE_COMMANDS};
use mongo_driver::options::{Hint, ReadConcern, ReadPreference, ReadPreferenceMode, WriteConcern};
use mongo_driver::results::{BulkWriteResult, DeleteResult, InsertManyResult, InsertOneResult, UpdateResult};
use mongo_driver::session::ClientSession;
use mongo_driver::{Client, Collection, Database};
use mongo_sim::ServerVersion;
use spec_codegen::unified::TestFile;
use spec_codegen::unified::model::{
    CollectionData, CollectionOrDatabaseOptions, Entity, ExpectedCmapEvent, ExpectedCommandEvent,
    ExpectedError, ExpectedEvents, ObservedEvent, Operation, TestCase,
};

use super::deployment::{Target, TestDeployment};
use super::failure::{FailureKind, ensure, fail};
use super::matching::{Entities, from_extended_json, match_root, match_root_array};

#[path = "bucket.rs"]
mod bucket;
#[path = "events.rs"]
mod events;
#[path = "test_runner_ops.rs"]
mod test_runner_ops;
use test_runner_ops::EventList;
mod transactions;

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

/// The command events one client entity observed, filtered as the spec requires.
type EventLog = Arc<Mutex<Vec<CommandEvent>>>;

struct ClientEntity {
    client: Client,
    events: EventLog,
    /// Every command event of the client, unfiltered (for the snapshot).
    all: EventLog,
    /// The observed CMAP events' kinds.
    cmap: Arc<Mutex<Vec<ObservedCmap>>>,
    /// The observed SDAM events.
    sdam: events::SdamLog,
    /// Connections checked out and not yet checked in (`assertNumberConnectionsCheckedOut`).
    checked_out: Arc<AtomicI64>,
}

/// The CMAP event kind an `observeEvents` entry names, if it is one.
fn cmap_kind(event: ObservedEvent) -> Option<CmapEventKind> {
    use ObservedEvent as O;
    Some(match event {
        O::PoolCreatedEvent => CmapEventKind::PoolCreated,
        O::PoolReadyEvent => CmapEventKind::PoolReady,
        O::PoolClearedEvent => CmapEventKind::PoolCleared,
        O::PoolClosedEvent => CmapEventKind::PoolClosed,
        O::ConnectionCreatedEvent => CmapEventKind::ConnectionCreated,
        O::ConnectionReadyEvent => CmapEventKind::ConnectionReady,
        O::ConnectionClosedEvent => CmapEventKind::ConnectionClosed,
        O::ConnectionCheckOutStartedEvent => CmapEventKind::ConnectionCheckOutStarted,
        O::ConnectionCheckOutFailedEvent => CmapEventKind::ConnectionCheckOutFailed,
        O::ConnectionCheckedOutEvent => CmapEventKind::ConnectionCheckedOut,
        O::ConnectionCheckedInEvent => CmapEventKind::ConnectionCheckedIn,
        _ => return None,
    })
}

/// An observed CMAP event: its kind and the fields expectations may name.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ObservedCmap {
    pub(crate) kind: CmapEventKind,
    /// `PoolClearedEvent`: whether it carries a service id.
    has_service_id: bool,
    /// `ConnectionClosedEvent` / `ConnectionCheckOutFailedEvent`: the reason.
    reason: Option<&'static str>,
}

impl ObservedCmap {
    fn of(event: &CmapEvent) -> Self {
        let (has_service_id, reason) = match event {
            CmapEvent::PoolCleared(e) => (e.service_id.is_some(), None),
            CmapEvent::ConnectionClosed(e) => (false, Some(e.reason.name())),
            CmapEvent::ConnectionCheckOutFailed(e) => (false, Some(e.reason.name())),
            _ => (false, None),
        };
        Self { kind: event.kind(), has_service_id, reason }
    }

    /// Why this event does not match `expected` (same kind, then its `hasServiceId` and
    /// `reason` when given), if it does not.
    fn mismatch(&self, expected: &ExpectedCmapEvent) -> Option<String> {
        use ExpectedCmapEvent as E;
        let kind = expected_cmap_kind(expected);
        if self.kind != kind {
            return Some(format!("expected {kind:?}, saw {:?}", self.kind));
        }
        match expected {
            E::PoolClearedEvent(p) => match p.has_service_id {
                Some(has) if has != self.has_service_id => {
                    Some(format!("{kind:?}: hasServiceId expected {has}, saw {}", self.has_service_id))
                }
                _ => None,
            },
            E::ConnectionClosedEvent(w) | E::ConnectionCheckOutFailedEvent(w) => match &w.reason {
                Some(reason) if Some(reason.as_str()) != self.reason => {
                    Some(format!("{kind:?}: reason expected {reason}, saw {:?}", self.reason))
                }
                _ => None,
            },
            _ => None,
        }
    }
}

/// The kind of an expected CMAP event.
fn expected_cmap_kind(event: &ExpectedCmapEvent) -> CmapEventKind {
    use ExpectedCmapEvent as E;
    match event {
        E::PoolCreatedEvent(_) => CmapEventKind::PoolCreated,
        E::PoolReadyEvent(_) => CmapEventKind::PoolReady,
        E::PoolClearedEvent(_) => CmapEventKind::PoolCleared,
        E::PoolClosedEvent(_) => CmapEventKind::PoolClosed,
        E::ConnectionCreatedEvent(_) => CmapEventKind::ConnectionCreated,
        E::ConnectionReadyEvent(_) => CmapEventKind::ConnectionReady,
        E::ConnectionClosedEvent(_) => CmapEventKind::ConnectionClosed,
        E::ConnectionCheckOutStartedEvent(_) => CmapEventKind::ConnectionCheckOutStarted,
        E::ConnectionCheckOutFailedEvent(_) => CmapEventKind::ConnectionCheckOutFailed,
        E::ConnectionCheckedOutEvent(_) => CmapEventKind::ConnectionCheckedOut,
        E::ConnectionCheckedInEvent(_) => CmapEventKind::ConnectionCheckedIn,
    }
}

/// The `heartbeatFrequencyMS` of client entities in cases that set fail points (see
/// [`Runner::sets_fail_points`]): the smallest the SDAM spec allows (its
/// `minHeartbeatFrequencyMS`, 500 ms).
const FAIL_POINT_HEARTBEAT_MS: u64 = 500;

/// One running case: its file, deployment, entities and saved results.
pub struct Runner {
    pub(super) path: PathBuf,
    file: TestFile,
    pub(super) case: usize,
    deployment: TestDeployment,
    /// Fail points set on a real deployment (`MONGODB_URI`), turned off by `finish`.
    fail_points: Vec<(Client, String)>,
    internal: Client,
    clients: HashMap<String, ClientEntity>,
    databases: HashMap<String, Database>,
    collections: HashMap<String, Collection<Document>>,
    /// Session entities not yet ended-and-dropped, by id (lent out during an operation).
    sessions: HashMap<String, ClientSession>,
    /// The client entity of each session entity.
    session_clients: HashMap<String, String>,
    /// Each session entity's lsid, kept after the session ends (`$$sessionLsid`).
    lsids: HashMap<String, Document>,
    saved: HashMap<String, Bson>,
    /// GridFS bucket entities (see `bucket.rs`).
    buckets: HashMap<String, mongo_driver::gridfs::GridFsBucket>,
    /// Event list entities (`storeEventsAsEntities`), filled while the case runs.
    event_lists: HashMap<String, EventList>,
    /// Cursor and change-stream entities.
    pub(super) iterables: super::cursor_entities::Iterables,
    /// Threads and recorded topology descriptions (`events`).
    extra: events::State,
}

impl Entities for Runner {
    fn bson(&self, id: &str) -> Option<Bson> {
        self.saved.get(id).cloned().or_else(|| self.event_lists.get(id).map(test_runner_ops::event_list_bson))
    }
    fn session_lsid(&self, id: &str) -> Option<Document> {
        self.lsids.get(id).cloned()
    }
}

/// Converts a spec value (Extended JSON) to BSON, failing the test with its location.
fn ejson(path: &Path, pointer: &str, value: &serde_json::Value) -> Bson {
    from_extended_json(value.clone()).unwrap_or_else(|e| panic!("{}#{pointer}: {e}", path.display()))
}

fn ejson_doc(path: &Path, pointer: &str, map: &serde_json::Map<String, serde_json::Value>) -> Document {
    match ejson(path, pointer, &serde_json::Value::Object(map.clone())) {
        Bson::Document(d) => d,
        other => panic!("{}#{pointer}: expected a document, found {other}", path.display()),
    }
}

/// A URI option's value as text.
fn uri_value(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Applies the `(readConcern, writeConcern, readPreference)` an entity's options give to a
/// database or collection handle (both have the same `with_*` methods).
macro_rules! with_concerns {
    ($handle:expr, $concerns:expr) => {{
        let (rc, wc, rp) = $concerns;
        let mut handle = $handle;
        if let Some(rc) = rc {
            handle = handle.with_read_concern(rc);
        }
        if let Some(wc) = wc {
            handle = handle.with_write_concern(wc);
        }
        if let Some(rp) = rp {
            handle = handle.with_read_preference(rp);
        }
        handle
    }};
}

impl Runner {
    /// Loads case `case` of the file at `path`, starts the deployment, inserts the
    /// `initialData` and creates the file's entities. `None`: the case is skipped.
    /// The deployment is the simulated `sim` at `version` (the generator's choice), or the
    /// one `MONGODB_URI` names (see [`super::deployment`]).
    pub async fn start(path: PathBuf, case: usize, sim: Sim, version: ServerVersion) -> Option<Self> {
        Self::start_on(path, case, sim, version, Target::from_env()).await
    }

    /// [`Runner::start`] on the test-controlled clock ([`Clock::Virtual`]); the test must run
    /// on a current-thread runtime (`#[tokio::test]`).
    pub async fn start_virtual(path: PathBuf, case: usize, sim: Sim, version: ServerVersion) -> Option<Self> {
        let file = spec_codegen::unified::load(&path).unwrap_or_else(|e| panic!("{e}"));
        Self::start_file(path, file, case, sim, version, Target::from_env(), false, Clock::Virtual).await
    }

    /// [`Runner::start`] for a case requiring authentication (`runOnRequirements.auth`): the
    /// simulated deployment has a user, and every client's URI carries its credentials.
    pub async fn start_with_auth(
        path: PathBuf,
        case: usize,
        sim: Sim,
        version: ServerVersion,
    ) -> Option<Self> {
        Self::start_on_with(path, case, sim, version, Target::from_env(), true).await
    }

    /// [`Runner::start`] on an explicit target.
    pub async fn start_on(
        path: PathBuf,
        case: usize,
        sim: Sim,
        version: ServerVersion,
        target: Target,
    ) -> Option<Self> {
        Self::start_on_with(path, case, sim, version, target, false).await
    }

    /// [`Runner::start`] for case `case` of a file in another format (e.g. CRUD legacy-v1)
    /// that `load` translates into a unified test file (see `spec_codegen::crud_v1`).
    pub async fn start_translated(
        load: fn(&Path, usize) -> Result<TestFile, spec_codegen::SpecError>,
        path: PathBuf,
        case: usize,
        sim: Sim,
        version: ServerVersion,
    ) -> Option<Self> {
        let file = load(&path, case).unwrap_or_else(|e| panic!("{e}"));
        Self::start_file(path, file, case, sim, version, Target::from_env(), false, Clock::Real).await
    }

    /// [`Runner::start_on`], with a simulated deployment requiring authentication when `auth`.
    pub async fn start_on_with(
        path: PathBuf,
        case: usize,
        sim: Sim,
        version: ServerVersion,
        target: Target,
        auth: bool,
    ) -> Option<Self> {
        let file = spec_codegen::unified::load(&path).unwrap_or_else(|e| panic!("{e}"));
        Self::start_file(path, file, case, sim, version, target, auth, Clock::Real).await
    }

    /// [`Runner::start`] for case `case` of a Transactions-format ("legacy") file, which
    /// the generator's translator turns into a unified file (`spec_codegen::legacy`).
    pub async fn start_legacy(path: PathBuf, case: usize, sim: Sim, version: ServerVersion) -> Option<Self> {
        let file = spec_codegen::legacy::load_case(&path, case).unwrap_or_else(|e| panic!("{e}"));
        Self::start_file(path, file, case, sim, version, Target::from_env(), false, Clock::Real).await
    }

    /// [`Runner::start_on_with`] for a file already loaded from `path`, on `clock`.
    #[allow(clippy::too_many_arguments)]
    async fn start_file(
        path: PathBuf,
        file: TestFile,
        case: usize,
        sim: Sim,
        version: ServerVersion,
        target: Target,
        auth: bool,
        clock: Clock,
    ) -> Option<Self> {
        let (deployment, internal) =
            super::deployment::connect(&path, &file, case, sim, version, target, auth, clock).await?;
        let mut runner = Self {
            path,
            file,
            case,
            deployment,
            fail_points: Vec::new(),
            internal,
            clients: HashMap::new(),
            databases: HashMap::new(),
            collections: HashMap::new(),
            sessions: HashMap::new(),
            session_clients: HashMap::new(),
            lsids: HashMap::new(),
            saved: HashMap::new(),
            buckets: HashMap::new(),
            event_lists: HashMap::new(),
            iterables: Default::default(),
            extra: events::State::new(),
        };
        runner.initial_data().await;
        let entities = runner.file.create_entities.clone().map(|e| e.0).unwrap_or_default();
        runner.create_entities(&entities, "/createEntities").await;
        Some(runner)
    }

    /// The deployment the case runs on.
    pub fn deployment(&self) -> &TestDeployment {
        &self.deployment
    }

    pub(super) fn test(&self) -> &TestCase {
        &self.file.tests[self.case]
    }

    /// Whether the case configures a fail point (a `failPoint` or `targetedFailPoint`
    /// operation of the test runner).
    fn sets_fail_points(&self) -> bool {
        self.test()
            .operations
            .iter()
            .any(|o| o.object == "testRunner" && matches!(o.name.as_str(), "failPoint" | "targetedFailPoint"))
    }

    /// `initialData`: each collection dropped, created (with its `createOptions`) and
    /// filled with a majority write concern, through the internal client.
    async fn initial_data(&self) {
        let Some(data) = self.file.initial_data.clone() else { return };
        for (i, CollectionData { collection_name, database_name, create_options, documents }) in
            data.0.into_iter().enumerate()
        {
            let pointer = format!("/initialData/{i}");
            let db = self.internal.database(&database_name);
            let coll =
                db.collection::<Document>(&collection_name).with_write_concern(WriteConcern::majority());
            if let Err(e) = coll.drop().await {
                panic!("{}{pointer}: initialData: drop failed: {e}", self.path.display());
            }
            let mut create = doc! {"create": collection_name.clone()};
            if let Some(options) = &create_options {
                create.extend(ejson_doc(&self.path, &format!("{pointer}/createOptions"), options));
            }
            create.insert("writeConcern", doc! {"w": "majority"});
            if let Err(e) = db.run_command(create).await {
                panic!("{}#{pointer}: initialData: create failed: {e}", self.path.display());
            }
            if !documents.is_empty() {
                let docs: Vec<Document> = documents
                    .iter()
                    .enumerate()
                    .map(|(j, d)| ejson_doc(&self.path, &format!("{pointer}/documents/{j}"), d))
                    .collect();
                if let Err(e) = coll.insert_many(docs).await {
                    panic!("{}#{pointer}: initialData: insert failed: {e}", self.path.display());
                }
            }
        }
    }

    /// Creates `entities` (the file's `createEntities`, or a `createEntities` operation's,
    /// located at `base`).
    async fn create_entities(&mut self, entities: &[Entity], base: &str) {
        for (i, entity) in entities.iter().enumerate() {
            let pointer = format!("{base}/{i}");
            self.check_new_entity_id(entity.id(), &pointer);
            match entity {
                Entity::Client(c) => {
                    let mut uri = self.deployment.client_uri(c.use_multiple_mongoses);
                    let mut params: Vec<String> = Vec::new();
                    for (k, v) in c.uri_options.iter().flatten() {
                        params.push(format!("{k}={}", uri_value(v)));
                    }
                    if self.sets_fail_points()
                        && c.uri_options.as_ref().is_none_or(|o| !o.contains_key("heartbeatFrequencyMS"))
                    {
                        // Unified test format, "Executing a Test": a runner MAY lower
                        // heartbeatFrequencyMS for the clients of a case that configures
                        // fail points, unless the client sets it. A server marked Unknown
                        // after a fail point's state-change error is then found again
                        // within half a second: a streaming monitor's awaitable hello
                        // (maxAwaitTimeMS = heartbeatFrequencyMS) ignores an immediate-check
                        // request, so with the default 10 s the rediscovery raced the
                        // runner's own 10 s limits.
                        params.push(format!("heartbeatFrequencyMS={FAIL_POINT_HEARTBEAT_MS}"));
                    }
                    if !params.is_empty() {
                        if !uri.contains('?') {
                            if !uri.trim_start_matches("mongodb://").contains('/') {
                                uri.push('/');
                            }
                            uri.push('?');
                        } else {
                            uri.push('&');
                        }
                        uri.push_str(&params.join("&"));
                    }
                    let events: EventLog = Arc::new(Mutex::new(Vec::new()));
                    let observe: Vec<ObservedEvent> =
                        c.observe_events.clone().map(|o| o.0).unwrap_or_default();
                    let started = observe.contains(&ObservedEvent::CommandStartedEvent);
                    let succeeded = observe.contains(&ObservedEvent::CommandSucceededEvent);
                    let failed = observe.contains(&ObservedEvent::CommandFailedEvent);
                    let mut ignored_names: Vec<String> =
                        c.ignore_command_monitoring_events.clone().map(|l| l.0).unwrap_or_default();
                    ignored_names.push("configureFailPoint".into());
                    let sensitive = c.observe_sensitive_commands == Some(true);
                    let ignored_requests: Arc<Mutex<BTreeSet<i32>>> = Arc::default();
                    let sink = events.clone();
                    let all: EventLog = Arc::new(Mutex::new(Vec::new()));
                    let all_sink = all.clone();
                    let observing = started || succeeded || failed;
                    let stores = self.event_stores(c, &pointer);
                    let command_stores = stores.clone();
                    let builder = self.deployment.client_builder(&uri).command_event_handler(Arc::new(
                        move |e: &CommandEvent| {
                            all_sink.lock().unwrap_or_else(|p| p.into_inner()).push(e.clone());
                            command_stores.command(e);
                            if !observing {
                                return;
                            }
                            let mut ignored = ignored_requests.lock().unwrap_or_else(|p| p.into_inner());
                            if let CommandEvent::Started(s) = e {
                                let lower = s.command_name.to_ascii_lowercase();
                                let redacted_hello =
                                    matches!(lower.as_str(), "hello" | "ismaster") && s.command.is_empty();
                                let is_sensitive =
                                    SENSITIVE_COMMANDS.contains(&lower.as_str()) || redacted_hello;
                                if ignored_names.iter().any(|n| n == &s.command_name)
                                    || (is_sensitive && !sensitive)
                                {
                                    ignored.insert(s.request_id);
                                }
                            }
                            if ignored.contains(&e.request_id()) {
                                return;
                            }
                            let keep = match e {
                                CommandEvent::Started(_) => started,
                                CommandEvent::Succeeded(_) => succeeded,
                                CommandEvent::Failed(_) => failed,
                            };
                            if keep {
                                sink.lock().unwrap_or_else(|p| p.into_inner()).push(e.clone());
                            }
                        },
                    ));
                    let cmap: Arc<Mutex<Vec<ObservedCmap>>> = Arc::default();
                    let cmap_kinds: Vec<CmapEventKind> =
                        observe.iter().copied().filter_map(cmap_kind).collect();
                    let checked_out: Arc<AtomicI64> = Arc::default();
                    let cmap_sink = cmap.clone();
                    let counter = checked_out.clone();
                    let mut builder = builder.cmap_event_handler(Arc::new(move |e: &CmapEvent| {
                        match e.kind() {
                            CmapEventKind::ConnectionCheckedOut => counter.fetch_add(1, Ordering::SeqCst),
                            CmapEventKind::ConnectionCheckedIn => counter.fetch_sub(1, Ordering::SeqCst),
                            _ => 0,
                        };
                        stores.cmap(e);
                        if cmap_kinds.contains(&e.kind()) {
                            cmap_sink.lock().unwrap_or_else(|p| p.into_inner()).push(ObservedCmap::of(e));
                        }
                    }));
                    if let Some(api) = &c.server_api {
                        builder = builder.server_api(ServerApi {
                            version: api.version.clone(),
                            strict: api.strict,
                            deprecation_errors: api.deprecation_errors,
                        });
                    }
                    let (builder, sdam) = events::observe_sdam(builder, &observe);
                    let client = builder.build().unwrap_or_else(|e| {
                        fail(
                            FailureKind::Entity,
                            format!("{}#{pointer}", self.path.display()),
                            format!("the driver rejects client `{}` ({uri}): {e}", c.id),
                        )
                    });
                    if let Some(ms) = c.await_min_pool_size_ms {
                        let min = c
                            .uri_options
                            .as_ref()
                            .and_then(|o| o.get("minPoolSize"))
                            .and_then(|v| v.as_u64());
                        if let Some(min) = min.filter(|&m| m > 0) {
                            await_min_pool_size(
                                &client,
                                min,
                                ms,
                                &format!("{}#{pointer}", self.path.display()),
                            )
                            .await;
                            // Events of the population are not the test's (unified format,
                            // `awaitMinPoolSizeMS`).
                            for log in [&events, &all] {
                                log.lock().unwrap_or_else(|p| p.into_inner()).clear();
                            }
                            cmap.lock().unwrap_or_else(|p| p.into_inner()).clear();
                            sdam.lock().unwrap_or_else(|p| p.into_inner()).clear();
                        }
                    }
                    self.clients
                        .insert(c.id.clone(), ClientEntity { client, events, all, cmap, checked_out, sdam });
                }
                Entity::Database(d) => {
                    let Some(client) = self.clients.get(&d.client) else {
                        panic!("{}#{pointer}: client `{}` is not defined", self.path.display(), d.client)
                    };
                    let mut db = client.client.database(&d.database_name);
                    if let Some(o) = &d.database_options {
                        let concerns = self.concerns(&format!("{pointer}/database/databaseOptions"), o);
                        db = with_concerns!(db, concerns);
                        if let Some(ms) = o.timeout_ms {
                            db = db.with_timeout(timeout_millis(&self.path, &pointer, ms));
                        }
                    }
                    self.databases.insert(d.id.clone(), db);
                }
                Entity::Collection(c) => {
                    let Some(db) = self.databases.get(&c.database) else {
                        panic!("{}#{pointer}: database `{}` is not defined", self.path.display(), c.database)
                    };
                    let mut coll = db.collection::<Document>(&c.collection_name);
                    if let Some(o) = &c.collection_options {
                        let concerns = self.concerns(&format!("{pointer}/collection/collectionOptions"), o);
                        coll = with_concerns!(coll, concerns);
                        if let Some(ms) = o.timeout_ms {
                            coll = coll.with_timeout(timeout_millis(&self.path, &pointer, ms));
                        }
                    }
                    self.collections.insert(c.id.clone(), coll);
                }
                Entity::Session(e) => {
                    let Some(client) = self.clients.get(&e.client) else {
                        panic!("{}#{pointer}: client `{}` is not defined", self.path.display(), e.client)
                    };
                    let mut start = client.client.start_session();
                    for (key, value) in e.session_options.iter().flatten() {
                        let here = format!("{}#{pointer}/session/sessionOptions/{key}", self.path.display());
                        start = match (key.as_str(), value) {
                            ("causalConsistency", serde_json::Value::Bool(b)) => start.causal_consistency(*b),
                            ("snapshot", serde_json::Value::Bool(b)) => start.snapshot(*b),
                            ("defaultTimeoutMS", ms) => match ms.as_i64() {
                                Some(ms) => start.default_timeout(timeout_millis(&self.path, &pointer, ms)),
                                None => panic!("{here}: {ms} is not an integer"),
                            },
                            ("defaultTransactionOptions", serde_json::Value::Object(o)) => start
                                .default_transaction_options(transactions::options(
                                    &here,
                                    &ejson_doc(&self.path, &pointer, o),
                                )),
                            _ => panic!("{here}: not supported by the runner"),
                        };
                    }
                    let session = start.await.unwrap_or_else(|err| {
                        panic!("{}#{pointer}: the session starts: {err}", self.path.display())
                    });
                    self.lsids.insert(e.id.clone(), session.id().clone());
                    self.session_clients.insert(e.id.clone(), e.client.clone());
                    self.sessions.insert(e.id.clone(), session);
                }
                Entity::Bucket(b) => self.create_bucket(&pointer, b),
                Entity::Thread(t) => self.extra.add_thread(&t.id),
                Entity::ClientEncryption(e) => {
                    let at =
                        format!("{}#{pointer}/clientEncryption/clientEncryptionOpts", self.path.display());
                    if let Some(problem) = e.client_encryption_opts.kms_providers.problem() {
                        fail(FailureKind::Entity, at, format!("clientEncryption `{}`: {problem}", e.id));
                    }
                    fail(FailureKind::CannotRun, at, "driver: no client-side field level encryption");
                }
            }
        }
    }

    /// Read concern, write concern and read preference of database or collection options.
    fn concerns(
        &self,
        pointer: &str,
        o: &CollectionOrDatabaseOptions,
    ) -> (Option<ReadConcern>, Option<WriteConcern>, Option<ReadPreference>) {
        let rc = o.read_concern.as_ref().map(|rc| match rc.get("level").and_then(|l| l.as_str()) {
            Some(level) => ReadConcern::custom(level),
            None => panic!("{}#{pointer}/readConcern: no level", self.path.display()),
        });
        let wc = o.write_concern.as_ref().map(|wc| write_concern(&ejson_doc(&self.path, pointer, wc)));
        let rp = o.read_preference.as_ref().map(|rp| {
            let mode = rp.get("mode").and_then(|m| m.as_str()).unwrap_or("primary");
            let mut pref = match mode.parse::<ReadPreferenceMode>() {
                Ok(mode) => ReadPreference::new(mode),
                Err(e) => panic!("{}#{pointer}/readPreference: {e}", self.path.display()),
            };
            for key in rp.keys() {
                match key.as_str() {
                    "mode" => {}
                    "maxStalenessSeconds" => match rp.get(key).and_then(|v| v.as_i64()) {
                        Some(seconds) => pref = pref.with_max_staleness_seconds(seconds),
                        None => {
                            panic!("{}#{pointer}/readPreference/{key}: not an integer", self.path.display())
                        }
                    },
                    other => panic!(
                        "{}#{pointer}/readPreference/{other}: not supported by the runner",
                        self.path.display()
                    ),
                }
            }
            pref
        });
        (rc, wc, rp)
    }

    /// Stands for an operation the generator could not emit (the case is ignored).
    pub fn not_generated(&self, reason: &str) {
        fail(FailureKind::CannotRun, format!("{}#/tests/{}", self.path.display(), self.case), reason);
    }

    /// The arguments of operation `i`.
    pub fn op(&self, i: usize) -> Args {
        let pointer = format!("/tests/{}/operations/{i}/arguments", self.case);
        let arguments = self.test().operations[i]
            .arguments
            .as_ref()
            .map(|a| ejson_doc(&self.path, &pointer, a))
            .unwrap_or_default();
        Args { path: self.path.clone(), pointer, arguments }
    }

    /// The collection entity `id`.
    pub fn collection(&self, id: &str) -> Collection<Document> {
        match self.collections.get(id) {
            Some(c) => c.clone(),
            None => panic!("{}: collection entity `{id}` is not defined", self.path.display()),
        }
    }

    /// Lends session entity `id` to an operation; [`Runner::put_session`] gives it back.
    pub fn take_session(&mut self, id: &str) -> ClientSession {
        match self.sessions.remove(id) {
            Some(s) => s,
            None => panic!("{}: session entity `{id}` is not defined", self.path.display()),
        }
    }

    /// Returns a session lent by [`Runner::take_session`].
    pub fn put_session(&mut self, id: &str, session: ClientSession) {
        self.sessions.insert(id.to_string(), session);
    }

    /// `endSession` on session entity `id`: the server session goes back to the pool.
    pub fn end_session(&mut self, id: &str) {
        match self.sessions.get_mut(id) {
            Some(s) => s.end_session(),
            None => panic!("{}: session entity `{id}` is not defined", self.path.display()),
        }
    }

    /// `assertSessionDirty` / `assertSessionNotDirty` (special test operations, operation `i`).
    pub fn assert_session_dirty(&self, i: usize, dirty: bool) {
        let args = self.op(i);
        let id = args.string("session");
        let Some(session) = self.sessions.get(&id) else {
            panic!("{}#{}: session entity `{id}` is not defined", self.path.display(), args.pointer)
        };
        let at = format!("{}#/tests/{}/operations/{i}", self.path.display(), self.case);
        ensure(session.is_dirty() == dirty, &at, || format!("session `{id}`: expected dirty {dirty}"));
    }

    /// `assertSameLsidOnLastTwoCommands` (`same`) / `assertDifferentLsidOnLastTwoCommands`
    /// (special test operations, operation `i`): the lsids of the last two command started
    /// events the client observed.
    pub fn assert_lsid_on_last_two_commands(&self, i: usize, same: bool) {
        let args = self.op(i);
        let here = format!("{}#/tests/{}/operations/{i}", self.path.display(), self.case);
        let id = args.string("client");
        let Some(client) = self.clients.get(&id) else { panic!("{here}: client `{id}` is not defined") };
        let events = client.events.lock().unwrap_or_else(|p| p.into_inner());
        let lsids: Vec<Option<&Bson>> = events
            .iter()
            .filter_map(|e| match e {
                CommandEvent::Started(s) => Some(s.command.get("lsid")),
                _ => None,
            })
            .collect();
        let [.., Some(a), Some(b)] = lsids.as_slice() else {
            panic!(
                "{here}: the last two command started events of `{id}` do not both carry an lsid: {lsids:?}"
            )
        };
        if same {
            ensure(a == b, &here, || format!("the last two commands should share an lsid: {a} vs {b}"));
        } else {
            ensure(a != b, &here, || format!("the last two commands should have different lsids: {a}"));
        }
    }

    /// `assertNumberConnectionsCheckedOut` (special test operation `i`): the connections
    /// checked out of the client's pools (CMAP events) equal `connections`.
    pub fn assert_number_connections_checked_out(&self, i: usize) {
        let args = self.op(i);
        let here = format!("{}#/tests/{}/operations/{i}", self.path.display(), self.case);
        let id = args.string("client");
        let expected = args.i64("connections");
        let Some(client) = self.clients.get(&id) else {
            fail(FailureKind::Entity, here, format!("client entity `{id}` is not defined"))
        };
        let actual = client.checked_out.load(Ordering::SeqCst);
        if actual != expected {
            fail(
                FailureKind::Mismatch,
                here,
                format!("expected {expected} connections checked out of `{id}`, found {actual}"),
            );
        }
    }

    /// The database entity `id`.
    pub fn database(&self, id: &str) -> Database {
        match self.databases.get(id) {
            Some(d) => d.clone(),
            None => panic!("{}: database entity `{id}` is not defined", self.path.display()),
        }
    }

    /// `failPoint` (special test operation): runs the `configureFailPoint` command on the
    /// primary through the named client entity. A simulated deployment lives only for this
    /// case; on a real one, [`Runner::finish`] turns the fail point off.
    pub async fn fail_point(&mut self, i: usize) {
        let args = self.op(i);
        let client_id = args.string("client");
        let command = args.doc("failPoint");
        let Some(client) = self.clients.get(&client_id) else {
            panic!("{}#{}: client `{client_id}` is not defined", self.path.display(), args.pointer)
        };
        let name = command.get_str("configureFailPoint").unwrap_or_default().to_string();
        if let Err(e) = client
            .client
            .database("admin")
            .run_command(command)
            .selection_criteria(ReadPreference::primary())
            .await
        {
            panic!("{}#{}: configureFailPoint failed: {e}", self.path.display(), args.pointer);
        }
        if !self.deployment.is_simulated() {
            self.fail_points.push((client.client.clone(), name));
        }
    }

    /// Checks the outcome of operation `i` against its `expectResult` / `expectError`, and
    /// saves the result when `saveResultAsEntity` asks for it.
    pub fn check(&mut self, i: usize, result: Result<Bson, Error>) {
        let op = self.test().operations[i].clone();
        let pointer = format!("/tests/{}/operations/{i}", self.case);
        let _ = self.check_operation(&op, &pointer, result);
    }

    /// [`Runner::check`] for the operation `op` at `pointer`; gives back the error the
    /// operation failed with, once checked (a `withTransaction` callback propagates it).
    pub(crate) fn check_operation(
        &mut self,
        op: &Operation,
        pointer: &str,
        result: Result<Bson, Error>,
    ) -> Result<(), Error> {
        let here = format!("{}#{pointer} ({})", self.path.display(), op.name);
        if op.ignore_result_and_error == Some(true) {
            return result.map(|_| ());
        }
        if let Some(expected) = &op.expect_error {
            match result {
                Ok(value) => {
                    fail(FailureKind::Mismatch, here, format!("expected an error, got the result {value}"))
                }
                Err(error) => {
                    self.check_error(&here, expected, &error);
                    return Err(error);
                }
            }
        }
        let value = match result {
            Ok(v) => v,
            Err(e) => fail(
                FailureKind::OperationError,
                here,
                format!("unexpected error: {e} (code {:?}, codeName {:?}; {e:?})", e.code(), e.code_name()),
            ),
        };
        if let Some(expected) = &op.expect_result {
            let expected = ejson(&self.path, &format!("{pointer}/expectResult"), expected);
            let verdict = match (&expected, &value) {
                (Bson::Array(e), Bson::Array(a)) => match_root_array(e, a, self),
                _ => match_root(&expected, &value, self),
            };
            if let Err(m) = verdict {
                fail(
                    FailureKind::Mismatch,
                    here,
                    format!("result mismatch: {m}\nexpected: {expected}\nactual:   {value}"),
                );
            }
        }
        if let Some(id) = &op.save_result_as_entity {
            self.saved.insert(id.clone(), value);
        }
        Ok(())
    }

    fn check_error(&self, here: &str, expected: &ExpectedError, error: &Error) {
        let text = error.to_string();
        let ensure = |ok: bool, message: String| {
            if !ok {
                fail(FailureKind::Mismatch, here, message);
            }
        };
        if let Some(client) = expected.is_client_error {
            ensure(is_client_error(error) == client, format!("isClientError {client}, got {error:?}"));
        }
        if let Some(timeout) = expected.is_timeout_error {
            ensure(error.is_timeout() == timeout, format!("isTimeoutError {timeout}, got {error:?}"));
        }
        if let Some(part) = &expected.error_contains {
            ensure(
                text.to_lowercase().contains(&part.to_lowercase()),
                format!("the error message does not contain `{part}`: {text}"),
            );
        }
        if let Some(code) = expected.error_code {
            ensure(error.code().map(i64::from) == Some(code), format!("errorCode {code}, got {error:?}"));
        }
        if let Some(name) = &expected.error_code_name {
            ensure(error.code_name() == Some(name.as_str()), format!("errorCodeName {name}, got {error:?}"));
        }
        for label in expected.error_labels_contain.iter().flat_map(|l| l.iter()) {
            ensure(error.contains_label(label), format!("the error lacks label {label}: {error:?}"));
        }
        for label in expected.error_labels_omit.iter().flat_map(|l| l.iter()) {
            ensure(!error.contains_label(label), format!("the error has label {label}: {error:?}"));
        }
        if let Some(expected_result) = &expected.expect_result {
            let expected_result = ejson(&self.path, "expectError/expectResult", expected_result);
            let actual = match &*error.kind {
                ErrorKind::BulkWrite(failure) => Outcome::bulk_write(&failure.partial_result),
                _ => fail(
                    FailureKind::Mismatch,
                    here,
                    format!("expected a partial result, but the error carries none: {error:?}"),
                ),
            };
            if let Err(m) = match_root(&expected_result, &actual, self) {
                fail(
                    FailureKind::Mismatch,
                    here,
                    format!("partial result mismatch: {m}\nexpected: {expected_result}\nactual:   {actual}"),
                );
            }
        }
    }

    /// After the operations: the expected events of each client, then the `outcome`,
    /// then the snapshot `name` of every command event of every client (see [`snapshot`]).
    pub async fn finish(self, name: &str) {
        self.finish_with(Some(name)).await
    }

    /// [`Runner::finish`] of a legacy-format case: first waits until the commands the
    /// sessions' ending sent (an open transaction's `abortTransaction`) have completed, then
    /// checks; records the snapshot `name` only when `record` (the first deployment a case
    /// runs on).
    pub async fn finish_legacy(self, name: &str, record: bool) {
        self.settle().await;
        self.finish_with(record.then_some(name)).await
    }

    /// Waits (up to 5 s) until every client's started commands have completed and no new
    /// one started for a few milliseconds.
    async fn settle(&self) {
        let pending = |runner: &Self| -> (usize, bool) {
            let mut total = 0;
            let mut open = false;
            for client in runner.clients.values() {
                let events = client.all.lock().unwrap_or_else(|p| p.into_inner());
                total += events.len();
                let started = events.iter().filter(|e| matches!(e, CommandEvent::Started(_))).count();
                open |= started * 2 != events.len();
            }
            (total, open)
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let mut last = pending(self);
        loop {
            tokio::time::sleep(Duration::from_millis(15)).await;
            let now = pending(self);
            if (now == last && !now.1) || std::time::Instant::now() > deadline {
                break;
            }
            last = now;
        }
    }

    /// [`Runner::finish`], recording the snapshot `name` when given.
    pub async fn finish_with(mut self, name: Option<&str>) {
        let case = self.test().clone();
        for (k, expected) in case.expect_events.iter().flat_map(|e| e.iter()).enumerate() {
            let here = format!("{}#/tests/{}/expectEvents/{k}", self.path.display(), self.case);
            let Some(client) = self.clients.get(&expected.client) else {
                panic!("{here}: client `{}` is not defined", expected.client)
            };
            let events = match &expected.typed {
                ExpectedEvents::Command(events) => events,
                ExpectedEvents::Cmap(events) => {
                    let actual = client.cmap.lock().unwrap_or_else(|p| p.into_inner()).clone();
                    let expected_kinds: Vec<CmapEventKind> = events.iter().map(expected_cmap_kind).collect();
                    let shown: Vec<&str> = actual.iter().map(|e| e.kind.name()).collect();
                    let enough = match expected.ignore_extra_events == Some(true) {
                        true => actual.len() >= expected_kinds.len(),
                        false => actual.len() == expected_kinds.len(),
                    };
                    ensure(enough, &here, || {
                        format!("CMAP events differ: expected {expected_kinds:?}, saw {shown:?}")
                    });
                    for (j, (e, a)) in events.iter().zip(&actual).enumerate() {
                        if let Some(why) = a.mismatch(e) {
                            ensure(false, &format!("{here}/events/{j}"), || {
                                format!("{why}; expected {expected_kinds:?}, saw {shown:?}")
                            });
                        }
                    }
                    continue;
                }
                ExpectedEvents::Sdam(_) => {
                    panic!(
                        "{here}: SDAM events are not checked (the generator should have ignored this case)"
                    )
                }
            };
            let actual = client.events.lock().unwrap_or_else(|p| p.into_inner()).clone();
            let names: Vec<String> = actual.iter().map(describe).collect();
            if expected.ignore_extra_events == Some(true) {
                ensure(actual.len() >= events.len(), &here, || {
                    format!("expected at least {} events, saw {names:?}", events.len())
                });
            } else {
                ensure(actual.len() == events.len(), &here, || {
                    format!("expected {} events, saw {names:?}", events.len())
                });
            }
            for (j, (e, a)) in events.iter().zip(&actual).enumerate() {
                let at = format!("{here}/events/{j}");
                self.check_event(&at, e, a, &names);
            }
        }
        self.iterables.close_all().await;
        for (k, data) in case.outcome.iter().flat_map(|o| o.iter()).enumerate() {
            let here = format!("{}#/tests/{}/outcome/{k}", self.path.display(), self.case);
            let coll = self
                .internal
                .database(&data.database_name)
                .collection::<Document>(&data.collection_name)
                .with_read_concern(ReadConcern::local())
                .with_read_preference(ReadPreference::primary());
            let cursor = match coll.find(doc! {}).sort(doc! {"_id": 1}).await {
                Ok(c) => c,
                Err(e) => panic!("{here}: reading the collection failed: {e}"),
            };
            let actual: Vec<Document> =
                match futures::TryStreamExt::try_collect::<Vec<Document>>(cursor).await {
                    Ok(d) => d,
                    Err(e) => panic!("{here}: reading the collection failed: {e}"),
                };
            let expected: Vec<Bson> = data
                .documents
                .iter()
                .enumerate()
                .map(|(j, d)| Bson::Document(ejson_doc(&self.path, &format!("{here}/documents/{j}"), d)))
                .collect();
            let actual_bson: Vec<Bson> = actual.into_iter().map(Bson::Document).collect();
            // Outcome documents must be equal: matched as nested documents (no extra keys).
            let verdict = if expected.len() != actual_bson.len() {
                Err(format!("expected {} documents, found {}", expected.len(), actual_bson.len()))
            } else {
                expected.iter().zip(&actual_bson).try_for_each(|(e, a)| {
                    super::matching::match_nested(e, a, &self).map_err(|m| m.to_string())
                })
            };
            if let Err(m) = verdict {
                fail(
                    FailureKind::Mismatch,
                    here,
                    format!(
                        "collection contents differ: {m}\nexpected: {expected:?}\nactual:   {actual_bson:?}"
                    ),
                );
            }
        }
        let mut ids: Vec<&String> = self.clients.keys().collect();
        ids.sort();
        let logs: Vec<(String, Vec<CommandEvent>)> = ids
            .into_iter()
            .map(|id| (id.clone(), self.clients[id].all.lock().unwrap_or_else(|p| p.into_inner()).clone()))
            .collect();
        // The snapshot records the simulator's replies; a real deployment's differ. Operations
        // on threads interleave differently from run to run: no snapshot then either.
        // A case that expects a client-side timeout sends as many attempts as fit before the
        // wall-clock deadline, which varies with the machine's load: no snapshot either.
        let times_out = self.file.tests[self.case]
            .operations
            .iter()
            .any(|op| op.expect_error.as_ref().is_some_and(|e| e.is_timeout_error == Some(true)));
        if let Some(name) =
            name.filter(|_| self.deployment.is_simulated() && !self.extra.ran_threads() && !times_out)
        {
            // A maxTimeMS derived from timeoutMS is the time remaining: it varies (files that
            // never set timeoutMS keep their maxTimeMS values).
            let derived = name.starts_with("client_side_operations_timeout::")
                && std::fs::read_to_string(&self.path).is_ok_and(|text| text.contains("\"timeoutMS\""));
            crate::snapshot(name, &snapshot_with(&logs, derived));
        }
        for (client, fail_point) in &self.fail_points {
            let off = doc! {"configureFailPoint": fail_point.as_str(), "mode": "off"};
            let done =
                client.database("admin").run_command(off).selection_criteria(ReadPreference::primary()).await;
            if let Err(e) = done {
                eprintln!("{}: turning fail point {fail_point} off failed: {e}", self.path.display());
            }
        }
        self.assert_nothing_checked_out().await;
        for client in self.clients.values() {
            client.client.shutdown().await;
        }
        self.internal.shutdown().await;
    }

    /// Sessions spec prose test 10, after every case: ends every session entity (an open
    /// transaction is aborted), closes the cursor entities, then fails unless every client
    /// (and the runner's own) has no session and no connection checked out.
    async fn assert_nothing_checked_out(&mut self) {
        for (_, mut session) in self.sessions.drain() {
            session.end_session();
        }
        self.iterables.close_all().await;
        let mut ids: Vec<&String> = self.clients.keys().collect();
        ids.sort();
        let mut clients: Vec<(&str, &Client)> =
            ids.into_iter().map(|id| (id.as_str(), &self.clients[id].client)).collect();
        clients.push(("(runner's internal client)", &self.internal));
        let leaks = super::leaks::checked_out(&clients, Duration::from_secs(5)).await;
        if !leaks.is_empty() {
            fail(
                FailureKind::Mismatch,
                format!("{}#/tests/{}", self.path.display(), self.case),
                format!("after the case (sessions spec prose test 10): {}", super::leaks::describe(&leaks)),
            );
        }
    }

    fn check_event(
        &self,
        at: &str,
        expected: &ExpectedCommandEvent,
        actual: &CommandEvent,
        names: &[String],
    ) {
        // The fields every kind of expected command event may give.
        let common = |name: &Option<String>,
                      has_service: Option<bool>,
                      has_connection: Option<bool>,
                      actual_name: &str,
                      service: bool,
                      connection: bool| {
            if let Some(name) = name {
                ensure(actual_name == name, at, || {
                    format!("commandName: expected {name}, found {actual_name}; events {names:?}")
                });
            }
            if let Some(has) = has_service {
                ensure(service == has, at, || format!("hasServiceId: expected {has}"));
            }
            if let Some(has) = has_connection {
                ensure(connection == has, at, || format!("hasServerConnectionId: expected {has}"));
            }
        };
        // An expected `command` or `reply` matched as a root document.
        let document =
            |what: &str, expected: &serde_json::Map<String, serde_json::Value>, actual: &Document| {
                let expected = Bson::Document(ejson_doc(&self.path, at, expected));
                let actual = Bson::Document(actual.clone());
                if let Err(m) = match_root(&expected, &actual, self) {
                    let message = format!("{what} mismatch: {m}\nexpected: {expected}\nactual:   {actual}");
                    fail(FailureKind::Mismatch, at, message);
                }
            };
        match (expected, actual) {
            (ExpectedCommandEvent::CommandStartedEvent(e), CommandEvent::Started(a)) => {
                common(
                    &e.command_name,
                    e.has_service_id,
                    e.has_server_connection_id,
                    &a.command_name,
                    a.service_id.is_some(),
                    a.server_connection_id.is_some(),
                );
                if let Some(db) = &e.database_name {
                    ensure(&a.database_name == db, at, || {
                        format!("databaseName: expected {db}, found {}", a.database_name)
                    });
                }
                if let Some(command) = &e.command {
                    document("command", command, &a.command);
                }
            }
            (ExpectedCommandEvent::CommandSucceededEvent(e), CommandEvent::Succeeded(a)) => {
                common(
                    &e.command_name,
                    e.has_service_id,
                    e.has_server_connection_id,
                    &a.command_name,
                    a.service_id.is_some(),
                    a.server_connection_id.is_some(),
                );
                if let Some(db) = &e.database_name {
                    ensure(&a.database_name == db, at, || {
                        format!("databaseName: expected {db}, found {}", a.database_name)
                    });
                }
                if let Some(reply) = &e.reply {
                    document("reply", reply, &a.reply);
                }
            }
            (ExpectedCommandEvent::CommandFailedEvent(e), CommandEvent::Failed(a)) => {
                common(
                    &e.command_name,
                    e.has_service_id,
                    e.has_server_connection_id,
                    &a.command_name,
                    a.service_id.is_some(),
                    a.server_connection_id.is_some(),
                );
                if let Some(db) = &e.database_name {
                    ensure(&a.database_name == db, at, || {
                        format!("databaseName: expected {db}, found {}", a.database_name)
                    });
                }
            }
            (e, a) => fail(
                FailureKind::Mismatch,
                at,
                format!("expected {e:?}, saw {}; events {names:?}", describe(a)),
            ),
        }
    }
}

/// The command events of each client as a reviewable list: lsids become `<lsid #k>`,
/// ObjectIds `<ObjectId #k>`, cursor ids `<cursor #k>` and resume tokens `<resume token #k>`
/// (numbered in order of first appearance, so equal values stay equal), as do `host:port`
/// addresses and UUIDs (`<uuid #k>`); cluster and operation times are `<redacted>`, dates `<date>`, `$rand` results
/// `<random>`.
pub fn snapshot(logs: &[(String, Vec<CommandEvent>)]) -> serde_json::Value {
    snapshot_with(logs, false)
}

/// [`snapshot`]; with `derived_max_time` (a case whose clients set `timeoutMS`), `maxTimeMS`
/// values are `<remaining timeoutMS>` (the time left when the command was sent) and the
/// durations in error messages `<duration>`.
pub fn snapshot_with(logs: &[(String, Vec<CommandEvent>)], derived_max_time: bool) -> serde_json::Value {
    let mut r = Redactor { derived_max_time, ..Redactor::default() };
    let mut out = Vec::new();
    for (client, events) in logs {
        for e in events {
            let entry = match e {
                CommandEvent::Started(s) => serde_json::json!({
                    "client": client,
                    "started": s.command_name,
                    "databaseName": s.database_name,
                    "command": r.value(Bson::Document(s.command.clone()), ""),
                }),
                CommandEvent::Succeeded(s) => serde_json::json!({
                    "client": client,
                    "succeeded": s.command_name,
                    "reply": r.value(Bson::Document(fail_point_reply(&s.command_name, &s.reply)), ""),
                }),
                CommandEvent::Failed(s) => serde_json::json!({
                    "client": client,
                    "failed": s.command_name,
                    "failure": r.message(&s.failure.to_string()),
                }),
            };
            out.push(entry);
        }
    }
    serde_json::Value::Array(out)
}

/// A `configureFailPoint` reply with a nonzero `count` (how often the previous fail point
/// fired, which background monitoring makes vary) as `<times fired>`; other replies as they are.
fn fail_point_reply(command_name: &str, reply: &Document) -> Document {
    let mut reply = reply.clone();
    if command_name == "configureFailPoint"
        && reply.get("count").is_some_and(|c| c.as_i64().or_else(|| c.as_i32().map(i64::from)) != Some(0))
    {
        reply.insert("count", "<times fired>");
    }
    reply
}

/// Numbers values that differ from run to run.
#[derive(Default)]
struct Redactor {
    lsids: Vec<Bson>,
    oids: Vec<bson::oid::ObjectId>,
    cursors: Vec<i64>,
    hosts: Vec<String>,
    /// Change streams' resume tokens (`_data` strings, which encode the cluster time).
    tokens: Vec<String>,
    /// UUIDs (e.g. the session ids `$listLocalSessions` returns).
    uuids: Vec<bson::Binary>,
    /// Whether `maxTimeMS` values and durations in messages vary (derived from `timeoutMS`).
    derived_max_time: bool,
}

/// Whether `word` is a duration as `Duration`'s `Debug` prints it (`49.3ms`, `12µs`, `1.5s`).
fn is_duration(word: &str) -> bool {
    let digits = word.trim_end_matches(|c: char| c.is_ascii_alphabetic() || c == 'µ');
    let unit = &word[digits.len()..];
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && ["ns", "µs", "ms", "s"].contains(&unit)
}

/// Whether `text` is a `host:port` address (hello replies name the simulator's ports).
fn is_host(text: &str) -> bool {
    text.rsplit_once(':').is_some_and(|(host, port)| {
        !host.is_empty()
            && host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
            && !port.is_empty()
            && port.bytes().all(|b| b.is_ascii_digit())
    })
}

fn number_of<T: PartialEq + Clone>(seen: &mut Vec<T>, value: &T) -> usize {
    match seen.iter().position(|v| v == value) {
        Some(i) => i,
        None => {
            seen.push(value.clone());
            seen.len() - 1
        }
    }
}

impl Redactor {
    /// An error message with the `host:port` addresses in it numbered.
    fn message(&mut self, text: &str) -> String {
        let words: Vec<String> = text
            .split(' ')
            .map(|word| {
                let core = word.trim_start_matches('(').trim_end_matches([',', ';', ':', ')', '.']);
                if is_host(core) {
                    word.replace(core, &format!("<host #{}>", number_of(&mut self.hosts, &core.to_string())))
                } else if self.derived_max_time && is_duration(core) {
                    word.replace(core, "<duration>")
                } else {
                    word.to_string()
                }
            })
            .collect();
        words.join(" ")
    }

    fn value(&mut self, value: Bson, key: &str) -> serde_json::Value {
        const CURSOR_KEYS: &[&str] = &[
            "id",
            "getMore",
            "cursors",
            "cursorsKilled",
            "cursorsNotFound",
            "cursorsAlive",
            "cursorsUnknown",
        ];
        match value {
            Bson::Document(d) => {
                let mut map = serde_json::Map::new();
                for (k, v) in d {
                    let redacted = match k.as_str() {
                        "lsid" => {
                            serde_json::Value::String(format!("<lsid #{}>", number_of(&mut self.lsids, &v)))
                        }
                        "$clusterTime" | "clusterTime" | "operationTime" | "electionId" | "opTime" => {
                            serde_json::Value::String("<redacted>".into())
                        }
                        "maxTimeMS" if self.derived_max_time => {
                            serde_json::Value::String("<remaining timeoutMS>".into())
                        }
                        _ => self.value(v, &k),
                    };
                    map.insert(k, redacted);
                }
                serde_json::Value::Object(map)
            }
            Bson::Array(items) => {
                serde_json::Value::Array(items.into_iter().map(|v| self.value(v, key)).collect())
            }
            Bson::ObjectId(oid) => {
                serde_json::Value::String(format!("<ObjectId #{}>", number_of(&mut self.oids, &oid)))
            }
            Bson::Int64(id) if id != 0 && CURSOR_KEYS.contains(&key) => {
                serde_json::Value::String(format!("<cursor #{}>", number_of(&mut self.cursors, &id)))
            }
            Bson::Timestamp(_) => serde_json::Value::String("<timestamp>".into()),
            Bson::DateTime(_) => serde_json::Value::String("<date>".into()),
            Bson::Binary(b) if b.subtype == bson::spec::BinarySubtype::Uuid => {
                serde_json::Value::String(format!("<uuid #{}>", number_of(&mut self.uuids, &b)))
            }
            // `$rand` results (the CRUD `let` tests).
            Bson::Double(_) if key == "rand" => serde_json::Value::String("<random>".into()),
            Bson::String(text) if key == "_data" => {
                serde_json::Value::String(format!("<resume token #{}>", number_of(&mut self.tokens, &text)))
            }
            Bson::String(text) if is_host(&text) => {
                serde_json::Value::String(format!("<host #{}>", number_of(&mut self.hosts, &text)))
            }
            other => serde_json::to_value(&other)
                .unwrap_or_else(|e| serde_json::Value::String(format!("<unserializable: {e}>"))),
        }
    }
}

/// A short description of an event for failure messages.
fn describe(e: &CommandEvent) -> String {
    match e {
        CommandEvent::Started(s) => format!("started {}", s.command_name),
        CommandEvent::Succeeded(s) => format!("succeeded {}", s.command_name),
        CommandEvent::Failed(s) => format!("failed {} ({})", s.command_name, s.failure),
    }
}

/// Whether the error originates in the client rather than in a server's reply: the unified
/// format counts validation errors before a command is sent and network errors as client errors.
fn is_client_error(error: &Error) -> bool {
    matches!(
        &*error.kind,
        ErrorKind::InvalidArgument { .. }
            | ErrorKind::Io { .. }
            | ErrorKind::IncompatibleWireVersion { .. }
            | ErrorKind::ServerSelection { .. }
            | ErrorKind::PoolClosed { .. }
            | ErrorKind::WaitQueueTimeout { .. }
            | ErrorKind::GridFs(_)
    )
}

/// A write concern from its document (`w`, `journal` or `j`, `wtimeoutMS` or `wtimeout`).
fn write_concern(d: &Document) -> WriteConcern {
    let mut wc = match d.get("w") {
        Some(Bson::String(s)) if s == "majority" => WriteConcern::majority(),
        Some(Bson::String(s)) => WriteConcern {
            w: Some(mongo_driver::options::Acknowledgment::Custom(s.clone())),
            ..WriteConcern::default()
        },
        Some(n) => WriteConcern::nodes(n.as_i64().or_else(|| n.as_i32().map(i64::from)).unwrap_or(0) as u32),
        None => WriteConcern::default(),
    };
    // The unified format names the fields `journal` and `wtimeoutMS`; the legacy files (and
    // the server) `j` and `wtimeout`.
    if let Ok(j) = d.get_bool("journal").or_else(|_| d.get_bool("j")) {
        wc = wc.journal(j);
    }
    let ms = d.get("wtimeoutMS").or_else(|| d.get("wtimeout"));
    if let Some(ms) = ms.and_then(|v| v.as_i64().or_else(|| v.as_i32().map(i64::from))) {
        wc = wc.w_timeout(Duration::from_millis(ms.max(0) as u64));
    }
    wc
}

/// The arguments of one operation, converted for the driver's API.
pub struct Args {
    path: PathBuf,
    pointer: String,
    arguments: Document,
}

impl Args {
    fn get(&self, key: &str) -> &Bson {
        match self.arguments.get(key) {
            Some(v) => v,
            None => fail(
                FailureKind::InvalidArgument,
                format!("{}#{}", self.path.display(), self.pointer),
                format!("missing argument `{key}`"),
            ),
        }
    }

    fn wrong(&self, key: &str, what: &str) -> ! {
        fail(
            FailureKind::InvalidArgument,
            format!("{}#{}/{key}", self.path.display(), self.pointer),
            format!("expected {what}, found {}", self.get(key)),
        )
    }

    /// A document argument.
    pub fn doc(&self, key: &str) -> Document {
        match self.get(key) {
            Bson::Document(d) => d.clone(),
            _ => self.wrong(key, "a document"),
        }
    }

    /// A document argument, `{}` when absent.
    pub fn doc_or_empty(&self, key: &str) -> Document {
        if self.arguments.contains_key(key) { self.doc(key) } else { Document::new() }
    }

    /// Any value.
    pub fn bson(&self, key: &str) -> Bson {
        self.get(key).clone()
    }

    /// A boolean.
    pub fn bool(&self, key: &str) -> bool {
        match self.get(key) {
            Bson::Boolean(b) => *b,
            _ => self.wrong(key, "a boolean"),
        }
    }

    /// An integer.
    pub fn i64(&self, key: &str) -> i64 {
        match self.get(key) {
            Bson::Int32(v) => i64::from(*v),
            Bson::Int64(v) => *v,
            Bson::Double(v) if v.fract() == 0.0 => *v as i64,
            _ => self.wrong(key, "an integer"),
        }
    }

    /// A 32-bit integer.
    pub fn i32(&self, key: &str) -> i32 {
        i32::try_from(self.i64(key)).unwrap_or_else(|_| self.wrong(key, "a 32-bit integer"))
    }

    /// Milliseconds as a duration.
    pub fn millis(&self, key: &str) -> Duration {
        Duration::from_millis(
            u64::try_from(self.i64(key)).unwrap_or_else(|_| self.wrong(key, "a non-negative integer")),
        )
    }

    /// A string.
    pub fn string(&self, key: &str) -> String {
        match self.get(key) {
            Bson::String(s) => s.clone(),
            _ => self.wrong(key, "a string"),
        }
    }

    /// An index hint (name or key pattern).
    pub fn hint(&self, key: &str) -> Hint {
        match self.get(key) {
            Bson::String(s) => Hint::Name(s.clone()),
            Bson::Document(d) => Hint::Keys(d.clone()),
            _ => self.wrong(key, "an index name or key pattern"),
        }
    }

    /// An array of documents.
    pub fn docs(&self, key: &str) -> Vec<Document> {
        match self.get(key) {
            Bson::Array(items) => items
                .iter()
                .map(|item| match item {
                    Bson::Document(d) => d.clone(),
                    _ => self.wrong(key, "an array of documents"),
                })
                .collect(),
            _ => self.wrong(key, "an array of documents"),
        }
    }

    /// An update document or pipeline.
    pub fn update(&self, key: &str) -> UpdateModifications {
        match self.get(key) {
            Bson::Document(d) => UpdateModifications::Document(d.clone()),
            Bson::Array(_) => UpdateModifications::Pipeline(self.docs(key)),
            _ => self.wrong(key, "an update document or pipeline"),
        }
    }

    /// `returnDocument`: whether it is `After`.
    pub fn return_document_after(&self, key: &str) -> bool {
        match self.string(key).as_str() {
            "After" => true,
            "Before" => false,
            _ => self.wrong(key, "`Before` or `After`"),
        }
    }

    /// The `requests` of a `bulkWrite`.
    pub fn write_models(&self, key: &str) -> Vec<WriteModel> {
        let Bson::Array(items) = self.get(key) else { self.wrong(key, "an array of write models") };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let sub = Args {
                    path: self.path.clone(),
                    pointer: format!("{}/{key}/{i}", self.pointer),
                    arguments: match item {
                        Bson::Document(d) => d.clone(),
                        _ => self.wrong(key, "an array of write models"),
                    },
                };
                let Some((kind, Bson::Document(fields))) = sub.arguments.iter().next() else {
                    sub.wrong("", "a one-key write model")
                };
                let f = Args {
                    path: self.path.clone(),
                    pointer: format!("{}/{kind}", sub.pointer),
                    arguments: fields.clone(),
                };
                let opt = |key: &str| fields.contains_key(key);
                let upsert = opt("upsert").then(|| f.bool("upsert"));
                let array_filters = opt("arrayFilters").then(|| f.docs("arrayFilters"));
                let collation = opt("collation").then(|| f.doc("collation"));
                let hint = opt("hint").then(|| f.hint("hint"));
                match kind.as_str() {
                    "insertOne" => WriteModel::InsertOne { document: f.doc("document") },
                    "updateOne" => WriteModel::UpdateOne {
                        filter: f.doc("filter"),
                        update: f.update("update"),
                        upsert,
                        array_filters,
                        collation,
                        hint,
                    },
                    "updateMany" => WriteModel::UpdateMany {
                        filter: f.doc("filter"),
                        update: f.update("update"),
                        upsert,
                        array_filters,
                        collation,
                        hint,
                    },
                    "replaceOne" => WriteModel::ReplaceOne {
                        filter: f.doc("filter"),
                        replacement: f.doc("replacement"),
                        upsert,
                        collation,
                        hint,
                    },
                    "deleteOne" => WriteModel::DeleteOne { filter: f.doc("filter"), collation, hint },
                    "deleteMany" => WriteModel::DeleteMany { filter: f.doc("filter"), collation, hint },
                    other => panic!("{}#{}: unknown write model {other}", self.path.display(), sub.pointer),
                }
            })
            .collect()
    }
}

/// The driver's results as the documents the spec's `expectResult` describes (CRUD spec
/// "Write Results" and the unified format's result forms).
pub struct Outcome;

fn ids(map: &std::collections::BTreeMap<usize, Bson>) -> Bson {
    Bson::Document(map.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
}

fn count(n: u64) -> Bson {
    Bson::Int64(i64::try_from(n).unwrap_or(i64::MAX))
}

/// An unacknowledged write's result: `{acknowledged: false}` (its other fields are
/// undefined, CRUD spec "Write Results").
fn unacknowledged() -> Bson {
    Bson::Document(doc! {"acknowledged": false})
}

impl Outcome {
    /// `{insertedId}`.
    pub fn insert_one(r: &InsertOneResult) -> Bson {
        if !r.acknowledged {
            return unacknowledged();
        }
        Bson::Document(doc! {"insertedId": r.inserted_id.clone()})
    }
    /// `{insertedIds: {"0": …}}`.
    pub fn insert_many(r: &InsertManyResult) -> Bson {
        if !r.acknowledged {
            return unacknowledged();
        }
        Bson::Document(doc! {"insertedIds": ids(&r.inserted_ids)})
    }
    /// `{matchedCount, modifiedCount, upsertedCount, upsertedId?}`.
    pub fn update(r: &UpdateResult) -> Bson {
        if !r.acknowledged {
            return unacknowledged();
        }
        let mut d = doc! {
            "matchedCount": count(r.matched_count),
            "modifiedCount": count(r.modified_count),
            "upsertedCount": count(u64::from(r.upserted_id.is_some())),
        };
        if let Some(id) = &r.upserted_id {
            d.insert("upsertedId", id.clone());
        }
        Bson::Document(d)
    }
    /// `{deletedCount}`.
    pub fn delete(r: &DeleteResult) -> Bson {
        if !r.acknowledged {
            return unacknowledged();
        }
        Bson::Document(doc! {"deletedCount": count(r.deleted_count)})
    }
    /// The bulk write result document.
    pub fn bulk_write(r: &BulkWriteResult) -> Bson {
        if !r.acknowledged {
            return unacknowledged();
        }
        Bson::Document(doc! {
            "deletedCount": count(r.deleted_count),
            "insertedCount": count(r.inserted_count),
            "insertedIds": ids(&r.inserted_ids),
            "matchedCount": count(r.matched_count),
            "modifiedCount": count(r.modified_count),
            "upsertedCount": count(r.upserted_count),
            "upsertedIds": ids(&r.upserted_ids),
        })
    }
    /// A cursor's documents as an array.
    pub fn documents(docs: Vec<Document>) -> Bson {
        Bson::Array(docs.into_iter().map(Bson::Document).collect())
    }
    /// Values (`distinct`) as an array.
    pub fn values(values: Vec<Bson>) -> Bson {
        Bson::Array(values)
    }
    /// A count.
    pub fn count(n: u64) -> Bson {
        count(n)
    }
    /// A document or `null` (`findOneAnd*`).
    pub fn optional_document(d: Option<Document>) -> Bson {
        d.map(Bson::Document).unwrap_or(Bson::Null)
    }
}

/// An entity's `timeoutMS` option as a duration (a negative one is a malformed file).
fn timeout_millis(path: &std::path::Path, pointer: &str, ms: i64) -> std::time::Duration {
    match u64::try_from(ms) {
        Ok(ms) => std::time::Duration::from_millis(ms),
        Err(_) => panic!("{}#{pointer}: timeoutMS {ms} is negative", path.display()),
    }
}

/// Waits until the pool of every data-bearing server the client knows holds `min`
/// established connections (unified format, client entity `awaitMinPoolSizeMS`), failing
/// the test after `ms` milliseconds.
async fn await_min_pool_size(client: &Client, min: u64, ms: i64, at: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    loop {
        let topology = client.topology();
        let description = topology.description();
        let bearing: Vec<_> = description
            .servers
            .values()
            .filter(|s| s.server_type.is_data_bearing())
            .map(|s| s.address.clone())
            .collect();
        let filled = !bearing.is_empty()
            && bearing.iter().all(|address| {
                topology.pool(address).is_some_and(|pool| {
                    let status = pool.status();
                    (status.total.saturating_sub(status.pending)) as u64 >= min
                })
            });
        if filled {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            fail(
                FailureKind::Entity,
                at.to_string(),
                format!(
                    "the connection pools did not reach minPoolSize {min} within awaitMinPoolSizeMS {ms}"
                ),
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
