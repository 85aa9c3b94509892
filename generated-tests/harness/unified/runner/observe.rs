//! What a client entity observes (`unified-test-format.rst`, entity "client":
//! `observeEvents`, `ignoreCommandMonitoringEvents`, `observeSensitiveCommands`,
//! `storeEventsAsEntities`): the event handlers installed on its builder and the logs they
//! fill, which `expectEvents` and the special test operations then read.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use mongo_driver::Client;
use mongo_driver::client::ClientBuilder;
use mongo_driver::event::cmap::{CmapEvent, CmapEventKind};
use mongo_driver::event::command::{CommandEvent, SENSITIVE_COMMANDS};
use mongo_driver::event::sdam::SdamEvent;
use mongo_driver::sdam::ServerType;
use spec_codegen::unified::model::{ClientEntity as ClientSpec, ExpectedCmapEvent, ObservedEvent};

use super::event_lists::EventStores;

/// The command events one client entity observed, filtered as the spec requires.
pub(super) type EventLog = Arc<Mutex<Vec<CommandEvent>>>;

/// The `serverDescriptionChangedEvent`s a client entity observed, in order.
pub(super) type SdamLog = Arc<Mutex<Vec<DescriptionChange>>>;

/// Locks a log, also after a handler panicked while holding it.
pub(super) fn lock<T>(log: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    log.lock().unwrap_or_else(|p| p.into_inner())
}

/// A client entity: the driver's client and what it observed.
pub(super) struct ClientEntity {
    pub(super) client: Client,
    /// The observed command events (`observeEvents`, less the ignored commands).
    pub(super) events: EventLog,
    /// Every command event of the client, unfiltered (for the snapshot).
    pub(super) all: EventLog,
    /// The observed CMAP events.
    pub(super) cmap: Arc<Mutex<Vec<ObservedCmap>>>,
    /// The observed SDAM events.
    pub(super) sdam: SdamLog,
    /// Connections checked out and not yet checked in (`assertNumberConnectionsCheckedOut`).
    pub(super) checked_out: Arc<AtomicI64>,
}

/// The logs [`observe`] installs handlers for, before the client exists.
pub(super) struct Observers {
    events: EventLog,
    all: EventLog,
    cmap: Arc<Mutex<Vec<ObservedCmap>>>,
    sdam: SdamLog,
    checked_out: Arc<AtomicI64>,
}

impl Observers {
    /// Forgets every event observed so far (a client's `awaitMinPoolSizeMS` population is
    /// not the test's).
    pub(super) fn clear(&self) {
        lock(&self.events).clear();
        lock(&self.all).clear();
        lock(&self.cmap).clear();
        lock(&self.sdam).clear();
    }

    /// The client entity of `client`, built with these observers.
    pub(super) fn entity(self, client: Client) -> ClientEntity {
        let Self { events, all, cmap, sdam, checked_out } = self;
        ClientEntity { client, events, all, cmap, sdam, checked_out }
    }
}

/// Installs on `builder` the event handlers client entity `c` asks for: its observed
/// command, CMAP and SDAM events, the unfiltered command log, the checked-out connection
/// count, and the event lists `stores` feeds.
pub(super) fn observe(
    builder: ClientBuilder,
    c: &ClientSpec,
    stores: EventStores,
) -> (ClientBuilder, Observers) {
    let observe: Vec<ObservedEvent> = c.observe_events.clone().map(|o| o.0).unwrap_or_default();
    let events: EventLog = Arc::default();
    let all: EventLog = Arc::default();
    let started = observe.contains(&ObservedEvent::CommandStartedEvent);
    let succeeded = observe.contains(&ObservedEvent::CommandSucceededEvent);
    let failed = observe.contains(&ObservedEvent::CommandFailedEvent);
    let mut ignored_names: Vec<String> =
        c.ignore_command_monitoring_events.clone().map(|l| l.0).unwrap_or_default();
    ignored_names.push("configureFailPoint".into());
    let sensitive = c.observe_sensitive_commands == Some(true);
    let ignored_requests: Arc<Mutex<BTreeSet<i32>>> = Arc::default();
    let (sink, all_sink) = (events.clone(), all.clone());
    let observing = started || succeeded || failed;
    let command_stores = stores.clone();
    let builder = builder.command_event_handler(Arc::new(move |e: &CommandEvent| {
        lock(&all_sink).push(e.clone());
        command_stores.command(e);
        if !observing {
            return;
        }
        let mut ignored = lock(&ignored_requests);
        if let CommandEvent::Started(s) = e {
            let lower = s.command_name.to_ascii_lowercase();
            let redacted_hello = matches!(lower.as_str(), "hello" | "ismaster") && s.command.is_empty();
            let is_sensitive = SENSITIVE_COMMANDS.contains(&lower.as_str()) || redacted_hello;
            if ignored_names.iter().any(|n| n == &s.command_name) || (is_sensitive && !sensitive) {
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
            lock(&sink).push(e.clone());
        }
    }));
    let cmap: Arc<Mutex<Vec<ObservedCmap>>> = Arc::default();
    let cmap_kinds: Vec<CmapEventKind> = observe.iter().copied().filter_map(cmap_kind).collect();
    let checked_out: Arc<AtomicI64> = Arc::default();
    let (cmap_sink, counter) = (cmap.clone(), checked_out.clone());
    let builder = builder.cmap_event_handler(Arc::new(move |e: &CmapEvent| {
        match e.kind() {
            CmapEventKind::ConnectionCheckedOut => counter.fetch_add(1, Ordering::SeqCst),
            CmapEventKind::ConnectionCheckedIn => counter.fetch_sub(1, Ordering::SeqCst),
            _ => 0,
        };
        stores.cmap(e);
        if cmap_kinds.contains(&e.kind()) {
            lock(&cmap_sink).push(ObservedCmap::of(e));
        }
    }));
    let (builder, sdam) = observe_sdam(builder, &observe);
    (builder, Observers { events, all, cmap, sdam, checked_out })
}

/// One observed `serverDescriptionChangedEvent`: the server types before and after.
#[derive(Debug, Clone, Copy)]
pub(super) struct DescriptionChange {
    pub(super) previous: ServerType,
    pub(super) new: ServerType,
}

/// Installs an SDAM event handler recording server description changes when the client
/// entity observes `serverDescriptionChangedEvent`.
fn observe_sdam(builder: ClientBuilder, observe: &[ObservedEvent]) -> (ClientBuilder, SdamLog) {
    let log = SdamLog::default();
    if !observe.contains(&ObservedEvent::ServerDescriptionChangedEvent) {
        return (builder, log);
    }
    let sink = log.clone();
    let builder = builder.sdam_event_handler(Arc::new(move |e: &SdamEvent| {
        if let SdamEvent::ServerDescriptionChanged(change) = e {
            lock(&sink).push(DescriptionChange {
                previous: change.previous_description.server_type,
                new: change.new_description.server_type,
            });
        }
    }));
    (builder, log)
}

/// The CMAP event kind an `observeEvents` entry names, if it is one.
pub(super) fn cmap_kind(event: ObservedEvent) -> Option<CmapEventKind> {
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
    pub(super) fn mismatch(&self, expected: &ExpectedCmapEvent) -> Option<String> {
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
pub(super) fn expected_cmap_kind(event: &ExpectedCmapEvent) -> CmapEventKind {
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

/// A short description of an event for failure messages.
pub(super) fn describe(e: &CommandEvent) -> String {
    match e {
        CommandEvent::Started(s) => format!("started {}", s.command_name),
        CommandEvent::Succeeded(s) => format!("succeeded {}", s.command_name),
        CommandEvent::Failed(s) => format!("failed {} ({})", s.command_name, s.failure),
    }
}
