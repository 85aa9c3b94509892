//! Event list entities (`unified-test-format.rst`, client entity `storeEventsAsEntities`):
//! the command and CMAP events a client stores, as BSON documents with the monitoring
//! specs' field names plus `name` and `observedAt`.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use bson::{Bson, Document, doc};
use mongo_driver::event::cmap::CmapEvent;
use mongo_driver::event::command::CommandEvent;
use spec_codegen::unified::model::StoredEvent;

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
    /// Adds `list`, which stores the events of the kinds `events`.
    pub(super) fn add(&mut self, events: Vec<StoredEvent>, list: EventList) {
        self.lists.push((events, list));
    }

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
