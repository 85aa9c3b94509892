//! Test runner operations about threads and monitoring events (`unified-test-format.rst`,
//! "Special Test Operations": `runOnThread`, `waitForThread`, `waitForEvent`,
//! `assertEventCount`, `wait`, `recordTopologyDescription`, `assertTopologyType`,
//! `waitForPrimaryChange`): the calls the generated test makes to the runtime
//! (`conformance::unified::runner`, its `events` module).

use proc_macro2::TokenStream;
use quote::quote;
use serde_json::Value;

use super::collection_ops::collection_operation;
use super::database_ops::database_operation;
use super::model::{Entity, Operation, TestFile};
use super::support::entity_kind;

/// The CMAP events `waitForEvent` / `assertEventCount` can count (their fields are not
/// compared, so an expected event naming fields is refused).
const CMAP_EVENTS: &[&str] = &[
    "poolCreatedEvent",
    "poolReadyEvent",
    "poolClearedEvent",
    "poolClosedEvent",
    "connectionCreatedEvent",
    "connectionReadyEvent",
    "connectionClosedEvent",
    "connectionCheckOutStartedEvent",
    "connectionCheckOutFailedEvent",
    "connectionCheckedOutEvent",
    "connectionCheckedInEvent",
];

/// The test runner operations this module emits.
const OPERATIONS: &[&str] = &[
    "waitForEvent",
    "assertEventCount",
    "wait",
    "recordTopologyDescription",
    "assertTopologyType",
    "waitForPrimaryChange",
    "runOnThread",
    "waitForThread",
];

/// The statements of a test runner operation this module handles, or why it cannot run;
/// `None` for other operations.
pub(crate) fn test_runner_operation(
    file: &TestFile,
    op: &Operation,
    i: usize,
) -> Option<Result<TokenStream, String>> {
    OPERATIONS.contains(&op.name.as_str()).then(|| emit(file, op, i))
}

fn emit(file: &TestFile, op: &Operation, i: usize) -> Result<TokenStream, String> {
    let args = op.arguments.as_ref();
    let arg = |key: &str| args.and_then(|a| a.get(key));
    let require = |keys: &[&str]| -> Result<(), String> {
        match keys.iter().find(|k| arg(k).is_none()) {
            Some(missing) => Err(format!("operation {}: missing argument `{missing}`", op.name)),
            None => Ok(()),
        }
    };
    match op.name.as_str() {
        "waitForEvent" | "assertEventCount" => {
            require(&["client", "event", "count"])?;
            countable_event(arg("event"))?;
            Ok(if op.name == "waitForEvent" {
                quote! { r.wait_for_event(#i).await; }
            } else {
                quote! { r.assert_event_count(#i); }
            })
        }
        "wait" => {
            require(&["ms"])?;
            Ok(quote! { r.wait(#i).await; })
        }
        "recordTopologyDescription" => {
            require(&["client", "id"])?;
            Ok(quote! { r.record_topology_description(#i); })
        }
        "assertTopologyType" => {
            require(&["topologyDescription", "topologyType"])?;
            Ok(quote! { r.assert_topology_type(#i); })
        }
        "waitForPrimaryChange" => {
            require(&["client", "priorTopologyDescription"])?;
            Ok(quote! { r.wait_for_primary_change(#i).await; })
        }
        "runOnThread" => {
            require(&["thread", "operation"])?;
            run_on_thread(file, op, i)
        }
        "waitForThread" => {
            require(&["thread"])?;
            Ok(quote! { r.wait_for_thread(#i).await; })
        }
        other => Err(format!("test runner operation {other} not supported by the runner")),
    }
}

/// Checks that `event` is one the runner counts: a CMAP event without fields, or a
/// `serverDescriptionChangedEvent` naming at most the previous and new server types.
fn countable_event(event: Option<&Value>) -> Result<(), String> {
    let Some(Value::Object(map)) = event else { return Err("event: not an object".into()) };
    let Some((name, fields)) = map.iter().next().filter(|_| map.len() == 1) else {
        return Err("event: not a one-key object".into());
    };
    let fields = fields.as_object().ok_or_else(|| format!("event {name}: fields are not an object"))?;
    if CMAP_EVENTS.contains(&name.as_str()) {
        return match fields.keys().next() {
            None => Ok(()),
            Some(field) => Err(format!("event {name}: field `{field}` not checked by the runner")),
        };
    }
    if name == "serverDescriptionChangedEvent" {
        for (key, description) in fields {
            if !matches!(key.as_str(), "previousDescription" | "newDescription") {
                return Err(format!("event {name}: field `{key}` not checked by the runner"));
            }
            let Some(description) = description.as_object() else {
                return Err(format!("event {name}: {key} is not an object"));
            };
            if let Some(other) = description.keys().find(|k| *k != "type") {
                return Err(format!("event {name}: {key}.{other} not checked by the runner"));
            }
        }
        return Ok(());
    }
    Err(format!("waiting for or counting {name} not supported by the runner"))
}

/// `runOnThread`: the operation runs in a spawned task on clones of its entity; its result
/// is checked when `waitForThread` joins the thread.
fn run_on_thread(file: &TestFile, op: &Operation, i: usize) -> Result<TokenStream, String> {
    let nested = op.arguments.as_ref().and_then(|a| a.get("operation")).cloned().unwrap_or(Value::Null);
    let nested: Operation =
        serde_json::from_value(nested).map_err(|e| format!("runOnThread: operation not understood: {e}"))?;
    if nested.arguments.as_ref().is_some_and(|a| a.contains_key("session")) {
        return Err("runOnThread: an operation with a session not supported by the runner".into());
    }
    if nested.save_result_as_entity.is_some() {
        return Err("runOnThread: saveResultAsEntity not supported by the runner".into());
    }
    let object = nested.object.as_str();
    let (entity, call) = match entity_kind(file, object) {
        Some(Entity::Collection(_)) => {
            (quote! { let coll = r.collection(#object); }, collection_operation(&nested)?)
        }
        Some(Entity::Database(_)) => (quote! { let db = r.database(#object); }, database_operation(&nested)?),
        _ => {
            return Err(format!(
                "runOnThread: operation {} on `{object}` not supported by the runner",
                nested.name
            ));
        }
    };
    Ok(quote! {
        {
            let o = r.thread_op(#i);
            #entity
            let task = ::tokio::spawn(async move {
                let result: ::std::result::Result<::bson::Bson, ::mongo_driver::error::Error> = async { #call }.await;
                result
            });
            r.run_on_thread(#i, task);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Status;

    fn file(operations: &str) -> TestFile {
        let text = format!(
            r#"{{"description": "d", "schemaVersion": "1.10",
            "createEntities": [{{"client": {{"id": "setup"}}}}],
            "tests": [{{"description": "t", "operations": [
                {{"name": "createEntities", "object": "testRunner", "arguments": {{"entities": [
                    {{"client": {{"id": "c", "observeEvents": ["poolClearedEvent", "serverDescriptionChangedEvent"]}}}},
                    {{"database": {{"id": "db", "client": "c", "databaseName": "d"}}}},
                    {{"collection": {{"id": "coll", "database": "db", "collectionName": "x"}}}},
                    {{"thread": {{"id": "t0"}}}}
                ]}}}},
                {operations}
            ]}}]}}"#
        );
        crate::unified::test_support::parse_ok(&text)
    }

    fn generate(operations: &str) -> (Status, String) {
        let file = file(operations);
        let (status, body) = super::super::case::generate_case(&file, &file.tests[0], 0, "f.json", "m::t");
        (status, body.to_string())
    }

    #[test]
    fn entities_created_mid_test_and_threads() {
        let (status, body) = generate(
            r#"{"name": "runOnThread", "object": "testRunner", "arguments": {"thread": "t0",
                "operation": {"name": "insertOne", "object": "coll", "arguments": {"document": {}}}}},
               {"name": "waitForThread", "object": "testRunner", "arguments": {"thread": "t0"}},
               {"name": "waitForEvent", "object": "testRunner", "arguments": {"client": "c",
                "event": {"serverDescriptionChangedEvent": {"newDescription": {"type": "Unknown"}}}, "count": 1}},
               {"name": "assertEventCount", "object": "testRunner", "arguments": {"client": "c",
                "event": {"poolClearedEvent": {}}, "count": 1}},
               {"name": "insertOne", "object": "coll", "arguments": {"document": {}}}"#,
        );
        assert!(matches!(status, Status::Run), "{status:?}");
        for call in [
            "create_entities_op (0usize)",
            "tokio :: spawn",
            "run_on_thread (1usize , task)",
            "wait_for_thread (2usize)",
            "wait_for_event (3usize)",
            "assert_event_count (4usize)",
            "r . collection (\"coll\")",
        ] {
            assert!(body.contains(call), "{call} missing from {body}");
        }
    }

    #[test]
    fn event_fields_the_runner_cannot_compare_are_refused() {
        let (status, _) = generate(
            r#"{"name": "waitForEvent", "object": "testRunner", "arguments": {"client": "c",
                "event": {"poolClearedEvent": {"hasServiceId": true}}, "count": 1}}"#,
        );
        assert!(matches!(&status, Status::Ignored(r) if r.contains("hasServiceId")), "{status:?}");
        let (status, _) = generate(
            r#"{"name": "waitForEvent", "object": "testRunner", "arguments": {"client": "c",
                "event": {"topologyDescriptionChangedEvent": {}}, "count": 1}}"#,
        );
        assert!(
            matches!(&status, Status::Ignored(r) if r.contains("topologyDescriptionChangedEvent")),
            "{status:?}"
        );
    }
}
