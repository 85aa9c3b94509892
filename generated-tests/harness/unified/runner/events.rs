//! The unified runner's monitoring events and threads (`unified-test-format.rst`, "Special
//! Test Operations": `runOnThread`,
//! `waitForThread`, `waitForEvent`, `assertEventCount`, `wait`, `recordTopologyDescription`,
//! `assertTopologyType`, `waitForPrimaryChange`; "observeEvents" for
//! `serverDescriptionChangedEvent`).

use std::time::{Duration, Instant};

use bson::Bson;
use mongo_driver::error::Error;
use mongo_driver::sdam::{ServerType, TopologyDescription};
use spec_codegen::unified::model::{ObservedEvent, Operation};

use super::super::failure::{FailureKind, fail};
use super::Runner;
use super::args::Args;
use super::observe::{cmap_kind, lock};
use super::threads::ThreadTask;

/// How long `waitForEvent` waits before failing the test (the format leaves the timeout
/// to the runner; the simulator's events come within a few heartbeats).
const WAIT_FOR_EVENT_TIMEOUT: Duration = Duration::from_secs(10);

/// `waitForPrimaryChange`'s `timeoutMS` when none is given.
const PRIMARY_CHANGE_TIMEOUT: Duration = Duration::from_secs(10);

/// How often the waiting operations look again.
const POLL: Duration = Duration::from_millis(5);

/// Whether an observed server type is the type an expected description names.
fn type_matches(expected: Option<&serde_json::Value>, actual: ServerType) -> bool {
    match expected.and_then(|d| d.get("type")).and_then(|t| t.as_str()) {
        None => true,
        Some(name) => actual.as_str() == name,
    }
}

impl Runner {
    /// How many of the events `event` describes (an expected event: one key naming the
    /// event type) client `id` observed so far.
    fn event_count(&self, i: usize, id: &str, event: &serde_json::Value) -> usize {
        let here = self.at_op(i);
        let client = self.client_entity(i, id);
        let Some((name, fields)) = event.as_object().and_then(|m| m.iter().next()) else {
            panic!("{here}: event is not a one-key object: {event}")
        };
        if name == "serverDescriptionChangedEvent" {
            let log = lock(&client.sdam);
            return log
                .iter()
                .filter(|c| {
                    type_matches(fields.get("previousDescription"), c.previous)
                        && type_matches(fields.get("newDescription"), c.new)
                })
                .count();
        }
        let kind = serde_json::from_value::<ObservedEvent>(serde_json::Value::String(name.clone()))
            .ok()
            .and_then(cmap_kind)
            .unwrap_or_else(|| panic!("{here}: cannot count {name} events"));
        lock(&client.cmap).iter().filter(|e| e.kind == kind).count()
    }

    /// The `client`, `count` and `event` arguments of `waitForEvent` / `assertEventCount`
    /// (operation `i`).
    fn event_count_args(&self, i: usize) -> (String, i64, serde_json::Value) {
        let args = self.op(i);
        let (client, count) = (args.string("client"), args.i64("count"));
        let event = self.operation(i).arguments.as_ref().and_then(|a| a.get("event")).cloned();
        (client, count, event.unwrap_or(serde_json::Value::Null))
    }

    /// `waitForEvent` (operation `i`): waits until the client observed at least `count`
    /// matching events.
    pub async fn wait_for_event(&self, i: usize) {
        let (client, count, event) = self.event_count_args(i);
        let started = Instant::now();
        loop {
            let seen = self.event_count(i, &client, &event);
            if i64::try_from(seen).unwrap_or(i64::MAX) >= count {
                return;
            }
            if started.elapsed() >= WAIT_FOR_EVENT_TIMEOUT {
                fail(
                    FailureKind::Mismatch,
                    self.at_op(i),
                    format!("waited {WAIT_FOR_EVENT_TIMEOUT:?} for {count} of {event}, saw {seen}"),
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// `assertEventCount` (operation `i`): the client observed exactly `count` matching events.
    pub fn assert_event_count(&self, i: usize) {
        let (client, count, event) = self.event_count_args(i);
        let seen = self.event_count(i, &client, &event);
        if i64::try_from(seen).unwrap_or(i64::MAX) != count {
            fail(
                FailureKind::Mismatch,
                self.at_op(i),
                format!("client `{client}` observed {seen} {event} events, expected {count}"),
            );
        }
    }

    /// `wait` (operation `i`): sleeps `ms` milliseconds.
    pub async fn wait(&self, i: usize) {
        tokio::time::sleep(self.op(i).millis("ms")).await;
    }

    /// `recordTopologyDescription` (operation `i`): saves the client's topology description.
    pub fn record_topology_description(&mut self, i: usize) {
        let args = self.op(i);
        let description = self.client_entity(i, &args.string("client")).client.topology().description();
        self.topologies.insert(args.string("id"), description);
    }

    fn recorded(&self, i: usize, id: &str) -> &TopologyDescription {
        match self.topologies.get(id) {
            Some(d) => d,
            None => panic!("{}: no topology description `{id}` was recorded", self.at_op(i)),
        }
    }

    /// `assertTopologyType` (operation `i`): a recorded description's topology type.
    pub fn assert_topology_type(&self, i: usize) {
        let args = self.op(i);
        let description = self.recorded(i, &args.string("topologyDescription"));
        let expected = args.string("topologyType");
        if description.topology_type.as_str() != expected {
            fail(
                FailureKind::Mismatch,
                self.at_op(i),
                format!("topology type {}, expected {expected}", description.topology_type),
            );
        }
    }

    /// `waitForPrimaryChange` (operation `i`): waits until the client knows a primary other
    /// than the recorded description's (or one, when that had none), within `timeoutMS`.
    pub async fn wait_for_primary_change(&self, i: usize) {
        let args = self.op(i);
        let client = &self.client_entity(i, &args.string("client")).client;
        let prior = self.recorded(i, &args.string("priorTopologyDescription"));
        let prior_primary = prior.primary().map(|s| s.address.clone());
        let timeout = if args.arguments.contains_key("timeoutMS") {
            args.millis("timeoutMS")
        } else {
            PRIMARY_CHANGE_TIMEOUT
        };
        let started = Instant::now();
        loop {
            let now = client.topology().description();
            let primary = now.primary().map(|s| s.address.clone());
            if primary.is_some() && primary != prior_primary {
                return;
            }
            if started.elapsed() >= timeout {
                fail(
                    FailureKind::Mismatch,
                    self.at_op(i),
                    format!("no new primary within {timeout:?} (was {prior_primary:?}, now {primary:?})"),
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The arguments of the operation `runOnThread` (operation `i`) runs.
    pub fn thread_op(&self, i: usize) -> Args {
        let pointer = format!("/tests/{}/operations/{i}/arguments/operation/arguments", self.case);
        let arguments = self
            .operation(i)
            .arguments
            .as_ref()
            .and_then(|a| a.get("operation"))
            .and_then(|o| o.get("arguments"))
            .and_then(|a| a.as_object());
        Args::new(&self.path, pointer, arguments)
    }

    /// `runOnThread` (operation `i`): `task` runs the operation; `waitForThread` checks it.
    pub fn run_on_thread(&mut self, i: usize, task: ThreadTask) {
        let here = self.at_op(i);
        let thread = self.op(i).string("thread");
        if !self.threads.start(&thread, i, task) {
            panic!("{here}: thread `{thread}` is not defined")
        }
    }

    /// `waitForThread` (operation `i`): joins the thread's operations and checks each
    /// result against its operation's expectations.
    pub async fn wait_for_thread(&mut self, i: usize) {
        let here = self.at_op(i);
        let thread = self.op(i).string("thread");
        let Some(tasks) = self.threads.take(&thread) else {
            panic!("{here}: thread `{thread}` is not defined")
        };
        for (j, task) in tasks {
            let result = task
                .await
                .unwrap_or_else(|e| panic!("{here}: the operation of thread `{thread}` panicked: {e}"));
            self.check_thread_result(j, result);
        }
    }

    /// Checks the result of the operation `runOnThread` (operation `i`) ran, as any
    /// operation's (expectResult / expectError / saveResultAsEntity).
    fn check_thread_result(&mut self, i: usize, result: Result<Bson, Error>) {
        let pointer = format!("/tests/{}/operations/{i}/arguments/operation", self.case);
        let nested = self.operation(i).arguments.as_ref().and_then(|a| a.get("operation")).cloned();
        let op: Operation = serde_json::from_value(nested.unwrap_or(serde_json::Value::Null))
            .unwrap_or_else(|e| panic!("{}#{pointer}: {e}", self.path.display()));
        let _ = self.check_operation(&op, &pointer, result);
    }
}
