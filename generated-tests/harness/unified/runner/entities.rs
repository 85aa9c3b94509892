//! The unified runner's entity map (`unified-test-format.rst`, "Entity Map" and
//! `createEntities`): client, database, collection, session, bucket, thread and event list
//! entities created from the file (or a `createEntities` operation), and lent to the
//! generated test by id.

use std::sync::Arc;
use std::time::Duration;

use bson::Document;
use mongo_driver::connection::ServerApi;
use mongo_driver::session::ClientSession;
use mongo_driver::{Client, Collection, Database};
use spec_codegen::unified::model::{ClientEntity as ClientSpec, Entity, SessionEntity};

use super::super::failure::{FailureKind, fail};
use super::Runner;
use super::convert::{concerns, ejson_doc, timeout_millis, transaction_options, uri_value};
use super::event_lists::{EventList, EventStores};
use super::observe::{ClientEntity, observe};

/// The `heartbeatFrequencyMS` of client entities in cases that set fail points (see
/// [`Runner::sets_fail_points`]): the smallest the SDAM spec allows (its
/// `minHeartbeatFrequencyMS`, 500 ms).
const FAIL_POINT_HEARTBEAT_MS: u64 = 500;

/// Applies a database's or collection's entity options (read concern, write concern, read
/// preference at `at`, and `timeoutMS`) to its handle (both have the same `with_*` methods).
macro_rules! with_options {
    ($handle:expr, $path:expr, $pointer:expr, $at:expr, $options:expr) => {{
        let mut handle = $handle;
        if let Some(o) = $options {
            let (rc, wc, rp) = concerns(&$path, $at, o);
            if let Some(rc) = rc {
                handle = handle.with_read_concern(rc);
            }
            if let Some(wc) = wc {
                handle = handle.with_write_concern(wc);
            }
            if let Some(rp) = rp {
                handle = handle.with_read_preference(rp);
            }
            if let Some(ms) = o.timeout_ms {
                handle = handle.with_timeout(timeout_millis(&$path, $pointer, ms));
            }
        }
        handle
    }};
}

impl Runner {
    /// Creates `entities` (the file's `createEntities`, or a `createEntities` operation's,
    /// located at `base`).
    pub(super) async fn create_entities(&mut self, entities: &[Entity], base: &str) {
        for (i, entity) in entities.iter().enumerate() {
            let pointer = format!("{base}/{i}");
            self.check_new_entity_id(entity.id(), &pointer);
            match entity {
                Entity::Client(c) => self.create_client(c, &pointer).await,
                Entity::Database(d) => {
                    let Some(client) = self.clients.get(&d.client) else {
                        panic!("{}#{pointer}: client `{}` is not defined", self.path.display(), d.client)
                    };
                    let db = client.client.database(&d.database_name);
                    let at = format!("{pointer}/database/databaseOptions");
                    let db = with_options!(db, self.path, &pointer, &at, &d.database_options);
                    self.databases.insert(d.id.clone(), db);
                }
                Entity::Collection(c) => {
                    let Some(db) = self.databases.get(&c.database) else {
                        panic!("{}#{pointer}: database `{}` is not defined", self.path.display(), c.database)
                    };
                    let coll = db.collection::<Document>(&c.collection_name);
                    let at = format!("{pointer}/collection/collectionOptions");
                    let coll = with_options!(coll, self.path, &pointer, &at, &c.collection_options);
                    self.collections.insert(c.id.clone(), coll);
                }
                Entity::Session(e) => self.create_session(e, &pointer).await,
                Entity::Bucket(b) => self.create_bucket(&pointer, b),
                Entity::Thread(t) => self.threads.add(&t.id),
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

    /// Whether the case configures a fail point (a `failPoint` or `targetedFailPoint`
    /// operation of the test runner).
    fn sets_fail_points(&self) -> bool {
        self.test()
            .operations
            .iter()
            .any(|o| o.object == "testRunner" && matches!(o.name.as_str(), "failPoint" | "targetedFailPoint"))
    }

    /// The connection string of client entity `c`: the deployment's, with its `uriOptions`.
    fn client_uri(&self, c: &ClientSpec) -> String {
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
        uri
    }

    /// Creates client entity `c` (at `pointer`) observing what it asks for; with
    /// `awaitMinPoolSizeMS`, waits for its pools to fill and forgets those events.
    async fn create_client(&mut self, c: &ClientSpec, pointer: &str) {
        let uri = self.client_uri(c);
        let stores = self.event_stores(c, pointer);
        let (mut builder, observers) = observe(self.deployment.client_builder(&uri), c, stores);
        if let Some(api) = &c.server_api {
            builder = builder.server_api(ServerApi {
                version: api.version.clone(),
                strict: api.strict,
                deprecation_errors: api.deprecation_errors,
            });
        }
        let client = builder.build().unwrap_or_else(|e| {
            fail(
                FailureKind::Entity,
                format!("{}#{pointer}", self.path.display()),
                format!("the driver rejects client `{}` ({uri}): {e}", c.id),
            )
        });
        if let Some(ms) = c.await_min_pool_size_ms {
            let min = c.uri_options.as_ref().and_then(|o| o.get("minPoolSize")).and_then(|v| v.as_u64());
            if let Some(min) = min.filter(|&m| m > 0) {
                await_min_pool_size(&client, min, ms, &format!("{}#{pointer}", self.path.display())).await;
                // Events of the population are not the test's (unified format,
                // `awaitMinPoolSizeMS`).
                observers.clear();
            }
        }
        self.clients.insert(c.id.clone(), observers.entity(client));
    }

    /// Creates session entity `e` (at `pointer`) with its `sessionOptions`.
    async fn create_session(&mut self, e: &SessionEntity, pointer: &str) {
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
                    Some(ms) => start.default_timeout(timeout_millis(&self.path, pointer, ms)),
                    None => panic!("{here}: {ms} is not an integer"),
                },
                ("defaultTransactionOptions", serde_json::Value::Object(o)) => start
                    .default_transaction_options(transaction_options(
                        &here,
                        &ejson_doc(&self.path, pointer, o),
                    )),
                _ => panic!("{here}: not supported by the runner"),
            };
        }
        let session = start
            .await
            .unwrap_or_else(|err| panic!("{}#{pointer}: the session starts: {err}", self.path.display()));
        self.lsids.insert(e.id.clone(), session.id().clone());
        self.sessions.insert(e.id.clone(), session);
    }

    /// Fails the test when `id` already names an entity (the spec: entity ids are unique
    /// across the entity map, event lists included).
    fn check_new_entity_id(&self, id: &str, pointer: &str) {
        let taken = self.clients.contains_key(id)
            || self.databases.contains_key(id)
            || self.collections.contains_key(id)
            || self.sessions.contains_key(id)
            || self.lsids.contains_key(id)
            || self.saved.contains_key(id)
            || self.buckets.contains_key(id)
            || self.event_lists.contains_key(id)
            || self.threads.has(id);
        if taken {
            fail(
                FailureKind::Entity,
                format!("{}#{pointer}", self.path.display()),
                format!("an entity `{id}` already exists (entity ids must be unique)"),
            );
        }
    }

    /// Creates the event lists of client `c` (`storeEventsAsEntities`) and returns what
    /// feeds them.
    fn event_stores(&mut self, c: &ClientSpec, pointer: &str) -> EventStores {
        let mut stores = EventStores::default();
        for (k, store) in c.store_events_as_entities.iter().flat_map(|s| s.0.iter()).enumerate() {
            let at = format!("{pointer}/client/storeEventsAsEntities/{k}/id");
            if store.id == c.id {
                fail(
                    FailureKind::Entity,
                    format!("{}#{at}", self.path.display()),
                    format!("`{}` is the client's own id (entity ids must be unique)", store.id),
                );
            }
            self.check_new_entity_id(&store.id, &at);
            let list: EventList = Arc::default();
            self.event_lists.insert(store.id.clone(), list.clone());
            stores.add(store.events.0.clone(), list);
        }
        stores
    }

    /// The client entity `id`.
    pub fn client(&self, id: &str) -> Client {
        match self.clients.get(id) {
            Some(c) => c.client.clone(),
            None => fail(
                FailureKind::CannotRun,
                self.path.display().to_string(),
                format!("client entity `{id}` is not defined"),
            ),
        }
    }

    /// The client entity `id` that operation `i` names.
    pub(super) fn client_entity(&self, i: usize, id: &str) -> &ClientEntity {
        match self.clients.get(id) {
            Some(c) => c,
            None => fail(FailureKind::Entity, self.at_op(i), format!("client entity `{id}` is not defined")),
        }
    }

    /// The database entity `id`.
    pub fn database(&self, id: &str) -> Database {
        match self.databases.get(id) {
            Some(d) => d.clone(),
            None => panic!("{}: database entity `{id}` is not defined", self.path.display()),
        }
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
