//! The test runner's own operations and event lists (`unified-test-format.rst` "Special
//! Test Operations": `createEntities`, `assertCollectionExists`/`NotExists`,
//! `assertIndexExists`/`NotExists`, `assertNumberConnectionsCheckedOut`; "storeEventsAsEntity":
//! events a client stores as BSON documents in event list entities).

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use bson::{Bson, Document, doc};
use mongo_driver::Client;
use mongo_driver::event::cmap::CmapEvent;
use mongo_driver::event::command::CommandEvent;
use spec_codegen::unified::model::{ClientEntity as ClientSpec, Entity, StoredEvent};

use super::super::failure::{FailureKind, fail};
use super::Runner;

/// An event list entity: the documents of the events stored so far.
pub type EventList = Arc<Mutex<Vec<Document>>>;

/// An event list as the entity's value (a BSON array of the stored event documents).
pub fn event_list_bson(list: &EventList) -> Bson {
    Bson::Array(list.lock().unwrap_or_else(|p| p.into_inner()).iter().cloned().map(Bson::Document).collect())
}

/// The event lists one client feeds (`storeEventsAsEntities`), each with the events it
/// stores.
#[derive(Clone, Default)]
pub struct EventStores {
    lists: Vec<(Vec<StoredEvent>, EventList)>,
}

/// Seconds since the Unix epoch (`observedAt`).
fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

impl EventStores {
    fn store(&self, kind: StoredEvent, make: impl Fn() -> Document) {
        let mut made: Option<Document> = None;
        for (events, list) in &self.lists {
            if events.contains(&kind) {
                let document = made.get_or_insert_with(&make).clone();
                list.lock().unwrap_or_else(|p| p.into_inner()).push(document);
            }
        }
    }

    /// Stores a command monitoring event in the lists that take its kind.
    pub fn command(&self, event: &CommandEvent) {
        let kind = match event {
            CommandEvent::Started(_) => StoredEvent::CommandStartedEvent,
            CommandEvent::Succeeded(_) => StoredEvent::CommandSucceededEvent,
            CommandEvent::Failed(_) => StoredEvent::CommandFailedEvent,
        };
        self.store(kind, || command_document(event));
    }

    /// Stores a CMAP event in the lists that take its kind.
    pub fn cmap(&self, event: &CmapEvent) {
        if let Some((name, kind)) = event_kind(event) {
            self.store(kind, || cmap_document(name, event));
        }
    }
}

/// The CMAP spec's name of an event, and its stored kind.
fn event_kind(event: &CmapEvent) -> Option<(&'static str, StoredEvent)> {
    use StoredEvent as S;
    Some(match event {
        CmapEvent::PoolCreated(_) => ("PoolCreatedEvent", S::PoolCreatedEvent),
        CmapEvent::PoolReady(_) => ("PoolReadyEvent", S::PoolReadyEvent),
        CmapEvent::PoolCleared(_) => ("PoolClearedEvent", S::PoolClearedEvent),
        CmapEvent::PoolClosed(_) => ("PoolClosedEvent", S::PoolClosedEvent),
        CmapEvent::ConnectionCreated(_) => ("ConnectionCreatedEvent", S::ConnectionCreatedEvent),
        CmapEvent::ConnectionReady(_) => ("ConnectionReadyEvent", S::ConnectionReadyEvent),
        CmapEvent::ConnectionClosed(_) => ("ConnectionClosedEvent", S::ConnectionClosedEvent),
        CmapEvent::ConnectionCheckOutStarted(_) => {
            ("ConnectionCheckOutStartedEvent", S::ConnectionCheckOutStartedEvent)
        }
        CmapEvent::ConnectionCheckOutFailed(_) => {
            ("ConnectionCheckOutFailedEvent", S::ConnectionCheckOutFailedEvent)
        }
        CmapEvent::ConnectionCheckedOut(_) => ("ConnectionCheckedOutEvent", S::ConnectionCheckedOutEvent),
        CmapEvent::ConnectionCheckedIn(_) => ("ConnectionCheckedInEvent", S::ConnectionCheckedInEvent),
        _ => return None,
    })
}

fn millis(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A command monitoring event as a document, with the command monitoring spec's field
/// names plus `name` and `observedAt`.
fn command_document(event: &CommandEvent) -> Document {
    let observed_at = now();
    let mut d = match event {
        CommandEvent::Started(e) => doc! {
            "name": "CommandStartedEvent",
            "observedAt": observed_at,
            "command": e.command.clone(),
            "databaseName": e.database_name.clone(),
            "commandName": e.command_name.clone(),
            "requestId": e.request_id,
            "operationId": e.operation_id,
            "connectionId": i64::from(e.connection_id),
            "address": e.address.to_string(),
        },
        CommandEvent::Succeeded(e) => doc! {
            "name": "CommandSucceededEvent",
            "observedAt": observed_at,
            "duration": millis(e.duration),
            "reply": e.reply.clone(),
            "commandName": e.command_name.clone(),
            "requestId": e.request_id,
            "operationId": e.operation_id,
            "connectionId": i64::from(e.connection_id),
            "address": e.address.to_string(),
        },
        CommandEvent::Failed(e) => doc! {
            "name": "CommandFailedEvent",
            "observedAt": observed_at,
            "duration": millis(e.duration),
            "failure": e.failure.to_string(),
            "commandName": e.command_name.clone(),
            "requestId": e.request_id,
            "operationId": e.operation_id,
            "connectionId": i64::from(e.connection_id),
            "address": e.address.to_string(),
        },
    };
    let (server_connection_id, service_id) = match event {
        CommandEvent::Started(e) => (e.server_connection_id, e.service_id),
        CommandEvent::Succeeded(e) => (e.server_connection_id, e.service_id),
        CommandEvent::Failed(e) => (e.server_connection_id, e.service_id),
    };
    if let Some(id) = server_connection_id {
        d.insert("serverConnectionId", id);
    }
    if let Some(id) = service_id {
        d.insert("serviceId", id);
    }
    d
}

/// A CMAP event as a document, with the CMAP spec's field names plus `name` and
/// `observedAt`.
fn cmap_document(name: &str, event: &CmapEvent) -> Document {
    let mut d = doc! {
        "name": name,
        "observedAt": now(),
        "address": event.address().to_string(),
    };
    if let Some(id) = event.connection_id() {
        d.insert("connectionId", i64::from(id));
    }
    match event {
        CmapEvent::ConnectionClosed(e) => {
            d.insert("reason", e.reason.name());
        }
        CmapEvent::ConnectionCheckOutFailed(e) => {
            d.insert("reason", e.reason.name());
        }
        CmapEvent::PoolCleared(e) => {
            if let Some(id) = e.service_id {
                d.insert("serviceId", id);
            }
        }
        _ => {}
    }
    d
}

impl Runner {
    fn here(&self, i: usize) -> String {
        format!("{}#/tests/{}/operations/{i}", self.path.display(), self.case)
    }

    /// Fails the test when `id` already names an entity (the spec: entity ids are unique
    /// across the entity map, event lists included).
    pub(super) fn check_new_entity_id(&self, id: &str, pointer: &str) {
        let taken = self.clients.contains_key(id)
            || self.databases.contains_key(id)
            || self.collections.contains_key(id)
            || self.sessions.contains_key(id)
            || self.lsids.contains_key(id)
            || self.saved.contains_key(id)
            || self.buckets.contains_key(id)
            || self.event_lists.contains_key(id)
            || self.extra.has_thread(id);
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
    pub(super) fn event_stores(&mut self, c: &ClientSpec, pointer: &str) -> EventStores {
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
            stores.lists.push((store.events.0.clone(), list));
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

    /// `createEntities` (operation `i`): creates its entities as the file's are created.
    pub async fn create_entities_op(&mut self, i: usize) {
        let pointer = format!("/tests/{}/operations/{i}/arguments/entities", self.case);
        let value = self.test().operations[i].arguments.as_ref().and_then(|a| a.get("entities")).cloned();
        let entities: Vec<Entity> = match value.map(serde_json::from_value) {
            Some(Ok(entities)) => entities,
            Some(Err(e)) => fail(
                FailureKind::InvalidArgument,
                format!("{}#{pointer}", self.path.display()),
                e.to_string(),
            ),
            None => {
                fail(FailureKind::InvalidArgument, format!("{}#{pointer}", self.path.display()), "missing")
            }
        };
        self.create_entities(&entities, &pointer).await;
    }

    /// `assertCollectionExists` / `assertCollectionNotExists` (operation `i`), through the
    /// internal client's `listCollections`.
    pub async fn assert_collection_exists(&self, i: usize, exists: bool) {
        let args = self.op(i);
        let here = self.here(i);
        let (db, coll) = (args.string("databaseName"), args.string("collectionName"));
        let names = self
            .internal
            .database(&db)
            .list_collection_names()
            .filter(doc! {"name": coll.clone()})
            .await
            .unwrap_or_else(|e| {
                fail(
                    FailureKind::OperationError,
                    here.clone(),
                    format!("listCollections on `{db}` failed: {e}"),
                )
            });
        if names.contains(&coll) != exists {
            let verb = if exists { "does not exist" } else { "exists" };
            fail(FailureKind::Mismatch, here, format!("collection `{db}.{coll}` {verb}; found {names:?}"));
        }
    }

    /// `assertIndexExists` / `assertIndexNotExists` (operation `i`), through the internal
    /// client's `listIndexes` (a collection that does not exist has no indexes).
    pub async fn assert_index_exists(&self, i: usize, exists: bool) {
        let args = self.op(i);
        let here = self.here(i);
        let (db, coll, index) =
            (args.string("databaseName"), args.string("collectionName"), args.string("indexName"));
        let names = match self.internal.database(&db).collection::<Document>(&coll).list_index_names().await {
            Ok(names) => names,
            Err(e) if e.code() == Some(26) => Vec::new(),
            Err(e) => {
                fail(FailureKind::OperationError, here, format!("listIndexes on `{db}.{coll}` failed: {e}"))
            }
        };
        if names.contains(&index) != exists {
            let verb = if exists { "does not exist" } else { "exists" };
            fail(
                FailureKind::Mismatch,
                here,
                format!("index `{index}` on `{db}.{coll}` {verb}; found {names:?}"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use mongo_driver::event::cmap::{ConnectionCheckedInEvent, ConnectionCheckedOutEvent, PoolClearedEvent};
    use mongo_driver::sdam::ServerAddress;

    use super::*;

    #[test]
    fn cmap_events_go_to_the_lists_that_name_them() {
        let (checkouts, clears): (EventList, EventList) = (Arc::default(), Arc::default());
        let stores = EventStores {
            lists: vec![
                (
                    vec![StoredEvent::ConnectionCheckedOutEvent, StoredEvent::CommandStartedEvent],
                    checkouts.clone(),
                ),
                (vec![StoredEvent::PoolClearedEvent, StoredEvent::ConnectionCheckedOutEvent], clears.clone()),
            ],
        };
        let address = ServerAddress::new("h", 27017);
        stores.cmap(&CmapEvent::ConnectionCheckedOut(ConnectionCheckedOutEvent {
            address: address.clone(),
            connection_id: 7,
        }));
        stores.cmap(&CmapEvent::ConnectionCheckedIn(ConnectionCheckedInEvent {
            address: address.clone(),
            connection_id: 7,
        }));
        stores.cmap(&CmapEvent::PoolCleared(PoolClearedEvent { address, service_id: None }));
        let names = |list: &EventList| -> Vec<String> {
            match event_list_bson(list) {
                Bson::Array(items) => items
                    .iter()
                    .filter_map(|d| d.as_document().and_then(|d| d.get_str("name").ok()).map(str::to_string))
                    .collect(),
                other => panic!("an event list is an array, not {other}"),
            }
        };
        assert_eq!(names(&checkouts), vec!["ConnectionCheckedOutEvent"]);
        assert_eq!(names(&clears), vec!["ConnectionCheckedOutEvent", "PoolClearedEvent"]);
        let first = checkouts.lock().unwrap_or_else(|p| p.into_inner())[0].clone();
        assert_eq!(first.get_str("address").ok(), Some("h:27017"));
        assert_eq!(first.get_i64("connectionId").ok(), Some(7));
        assert!(first.get_f64("observedAt").is_ok_and(|t| t > 1.6e9), "{first}");
    }
}
