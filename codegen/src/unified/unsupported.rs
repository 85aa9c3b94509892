//! Why a unified case cannot run yet (`unified-test-format.rst`, "Test Runner Support"):
//! entities, expectations, events and arguments the runner or the driver does not support,
//! and the cases known to fail for a reason outside the runner.

use super::model::{Entity, EventType, ExpectedEventsForClient, Operation, StoredEvent, TestCase, TestFile};

/// Why a file's entities cannot be created yet, if so.
pub(super) fn unsupported_entities(file: &TestFile) -> Option<String> {
    for entity in file.create_entities.iter().flat_map(|e| e.iter()) {
        match entity {
            Entity::Client(c) => {
                let stored = c.store_events_as_entities.iter().flat_map(|s| s.0.iter());
                if stored.flat_map(|s| s.events.0.iter()).any(|e| {
                    matches!(
                        e,
                        StoredEvent::ServerDescriptionChangedEvent
                            | StoredEvent::TopologyDescriptionChangedEvent
                    )
                }) {
                    return Some(
                        "client entity: storeEventsAsEntities of SDAM events not supported by the runner"
                            .into(),
                    );
                }
                if c.auto_encrypt_opts.is_some() {
                    return Some(
                        "driver: no client-side field level encryption (client entity autoEncryptOpts)"
                            .into(),
                    );
                }
                if let Some(key) = c.uri_options.iter().flatten().find(|(_, v)| v.is_object()).map(|(k, _)| k)
                {
                    return Some(format!(
                        "client entity: uriOptions.{key} placeholder document not supported by the runner"
                    ));
                }
            }
            Entity::Database(_) | Entity::Collection(_) => {}
            Entity::Session(s) => {
                for key in s.session_options.iter().flat_map(|o| o.keys()) {
                    if !["causalConsistency", "snapshot", "defaultTransactionOptions", "defaultTimeoutMS"]
                        .contains(&key.as_str())
                    {
                        return Some(format!(
                            "session entity: sessionOptions.{key} not supported by the runner"
                        ));
                    }
                }
            }
            Entity::Bucket(b) => {
                if let Some(reason) = super::bucket::unsupported_bucket(b) {
                    return Some(reason);
                }
            }
            Entity::ClientEncryption(e) => {
                return Some(match e.client_encryption_opts.kms_providers.problem() {
                    Some(problem) => format!("clientEncryption entity: {problem}"),
                    None => "driver: no client-side field level encryption (clientEncryption entity)".into(),
                });
            }
            Entity::Thread(_) => {}
        }
    }
    None
}

/// Why the case's expectations cannot be checked yet, if so: expectations of later schema
/// versions the runner does not evaluate (log messages, tracing spans, an error's server
/// response, client bulk write errors, `interruptInUseConnections`).
pub(super) fn unsupported_expectations(case: &TestCase) -> Option<String> {
    if case.expect_log_messages.is_some() {
        return Some("runner: log message expectations (expectLogMessages) not checked".into());
    }
    if case.expect_tracing_messages.is_some() {
        return Some("runner: tracing span expectations (expectTracingMessages) not checked".into());
    }
    // An `expectError` key anywhere in an operation (nested operations of withTransaction
    // callbacks and threads included).
    fn expected_error_keys(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    if k == "expectError" {
                        out.extend(v.as_object().into_iter().flat_map(|e| e.keys().cloned()));
                    }
                    expected_error_keys(v, out);
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| expected_error_keys(v, out)),
            _ => {}
        }
    }
    for op in &case.operations {
        let mut keys = Vec::new();
        if let Some(e) = &op.expect_error {
            keys.extend(e.error_response.is_some().then(|| "errorResponse".to_string()));
            keys.extend(e.write_errors.is_some().then(|| "writeErrors".to_string()));
            keys.extend(e.write_concern_errors.is_some().then(|| "writeConcernErrors".to_string()));
        }
        if let Some(arguments) = &op.arguments {
            expected_error_keys(&serde_json::Value::Object(arguments.clone()), &mut keys);
        }
        if keys.iter().any(|k| k == "errorResponse") {
            return Some(
                "runner: expectedError.errorResponse not checked (driver errors keep no server reply)".into(),
            );
        }
        if keys.iter().any(|k| k == "writeErrors" || k == "writeConcernErrors") {
            return Some(
                "runner: expectedError.writeErrors/writeConcernErrors (client bulk write) not checked".into(),
            );
        }
    }
    let cleared = case.expect_events.iter().flat_map(|e| e.iter()).any(|e| match &e.typed {
        super::model::ExpectedEvents::Cmap(events) => events.iter().any(|ev| {
            matches!(ev, super::model::ExpectedCmapEvent::PoolClearedEvent(p) if p.interrupt_in_use_connections.is_some())
        }),
        _ => false,
    });
    cleared.then(|| "runner: poolClearedEvent.interruptInUseConnections not checked".into())
}

pub(super) fn unsupported_events(expected: &[ExpectedEventsForClient]) -> Option<String> {
    // CMAP events: the runner checks their kinds, `hasServiceId` and `reason`.
    expected
        .iter()
        .any(|e| e.event_type == Some(EventType::Sdam))
        .then(|| "expected SDAM events not checked by the runner yet".into())
}

/// Why `op` cannot run while the driver has no client-side operation timeouts: a nonzero
/// `timeoutMS` among its arguments (a `withTransaction` callback's operations included).
pub(super) fn timeout_argument(op: &Operation) -> Option<String> {
    fn find(value: &serde_json::Value) -> Option<&serde_json::Value> {
        match value {
            serde_json::Value::Object(map) => map
                .get("timeoutMS")
                .filter(|ms| ms.as_f64() != Some(0.0))
                .or_else(|| map.values().find_map(find)),
            serde_json::Value::Array(items) => items.iter().find_map(find),
            _ => None,
        }
    }
    // A createEntities operation's entities take their timeoutMS like the file's do;
    // waitForPrimaryChange's timeoutMS is how long the runner waits, no operation timeout.
    if op.name == "createEntities" || op.name == "waitForPrimaryChange" && op.object == "testRunner" {
        return None;
    }
    let mut arguments = op.arguments.clone()?;
    if super::transactions::takes_timeout(op) {
        // The session operation passes its own timeoutMS (its callback's must not set one).
        arguments.remove("timeoutMS");
    }
    let arguments = serde_json::Value::Object(arguments);
    find(&arguments).map(|ms| {
        format!(
            "driver: client-side operation timeouts not implemented (operation {} argument timeoutMS = {ms})",
            op.name
        )
    })
}

/// Why a case cannot pass whose `withTransaction` times out in its callback (the whole call
/// expects a timeout error and its callback fails) yet whose expected command events, matched
/// exactly, hold no `abortTransaction`: the CSOT spec text has the driver abort with a fresh
/// `timeoutMS` then ("withTransaction refreshes the timeout for abortTransaction"), and the
/// driver does; the 2022-08 cases expect no abort (later spec commits expect it).
pub(super) fn no_abort_after_callback_timeout(case: &TestCase) -> Option<String> {
    let times_out = case.operations.iter().any(|op| {
        op.name == "withTransaction"
            && op.expect_error.as_ref().is_some_and(|e| e.is_timeout_error == Some(true))
    });
    let expected = case.expect_events.as_ref().map(|e| e.0.as_slice()).unwrap_or_default();
    let exact = expected.iter().filter(|e| e.ignore_extra_events != Some(true));
    let aborts = |e: &ExpectedEventsForClient| {
        e.events.iter().any(|event| {
            event.pointer("/commandStartedEvent/commandName").and_then(|n| n.as_str())
                == Some("abortTransaction")
        })
    };
    let without_abort = exact.clone().count() > 0 && !exact.clone().any(aborts);
    (times_out && without_abort).then(|| {
        "spec conflict: the case expects no abortTransaction after withTransaction's callback timed out, while the \
         spec text (\"withTransaction refreshes the timeout for abortTransaction\") has the driver abort with a \
         fresh timeoutMS, as the driver does (later spec commits expect that abortTransaction)"
            .to_string()
    })
}

/// Cases the runner executes but that fail for a reason outside the runner (a driver or
/// simulator gap): `(file stem, description substring, reason)`.
const KNOWN_FAILURES: &[(&str, &str, &str)] = &[
    // Driver gaps.
    (
        "gridfs-upload",
        "as a whole, not individual parts",
        "driver: a GridFS bucket operation has no deadline of its own (timeoutMS applies to each of its commands, not to the upload as a whole)",
    ),
    (
        "gridfs-download",
        "entire download, not individual parts",
        "driver: a GridFS bucket operation has no deadline of its own (timeoutMS applies to each of its commands, not to the download as a whole)",
    ),
    (
        "gridfs-delete",
        "entire delete, not individual parts",
        "driver: a GridFS bucket operation has no deadline of its own (timeoutMS applies to each of its commands, not to the delete as a whole)",
    ),
    (
        "gridfs-advanced",
        "drop as a whole, not individual parts",
        "driver: a GridFS bucket operation has no deadline of its own (timeoutMS applies to each of its commands, not to the drop as a whole)",
    ),
    (
        "non-tailable-cursors",
        "remaining timeoutMS applied to getMore if timeoutMode is unset",
        "driver: cursors do not carry the operation's deadline to their getMores yet (timeoutMode cursorLifetime)",
    ),
    (
        "change-streams",
        "=timeoutMS applies to full resume attempt in a next call",
        "driver: a change stream's next does not carry timeoutMS to its getMore and resume yet (and the fresh client's first selection, discovery included, must fit in its 20 ms)",
    ),
    (
        "change-streams",
        "=change stream can be iterated again if previous iteration times out",
        "driver: a change stream's next does not carry timeoutMS to its getMore and resume yet",
    ),
    (
        "change-streams",
        "=timeoutMS is refreshed for getMore - failure",
        "driver: a change stream's next does not carry timeoutMS to its getMore and resume yet",
    ),
];

pub(super) fn known_failure(spec_file: &str, description: &str) -> Option<&'static str> {
    failure_in(KNOWN_FAILURES, spec_file, description)
}

/// The reason `table` gives for a case: its file stem equals the entry's, and its
/// description contains the entry's text (any case) or, after `=`, is exactly it.
pub(crate) fn failure_in(
    table: &[(&str, &str, &'static str)],
    spec_file: &str,
    description: &str,
) -> Option<&'static str> {
    let stem = spec_file.rsplit('/').next().unwrap_or(spec_file).trim_end_matches(".json");
    table.iter().find_map(|(file, case, reason)| {
        let case_matches = match case.strip_prefix('=') {
            Some(exact) => description == exact,
            None => description.to_lowercase().contains(&case.to_lowercase()),
        };
        (stem == *file && case_matches).then_some(*reason)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_failures_match_exact_files() {
        let table: &[(&str, &str, &'static str)] =
            &[("find-comment", "Sets Comment on getMore", "a"), ("redacted-commands", "=getnonce", "b")];
        let file = "source/crud/tests/unified/find-comment.json";
        assert_eq!(failure_in(table, file, "find with comment sets comment on getMore"), Some("a"));
        assert_eq!(failure_in(table, file, "find with string comment"), None);
        // The stem must be equal, not a prefix.
        assert_eq!(failure_in(table, "source/crud/tests/unified/find.json", "sets comment on getMore"), None);
        let redacted = "source/command-monitoring/tests/unified/redacted-commands.json";
        assert_eq!(failure_in(table, redacted, "getnonce"), Some("b"));
        assert_eq!(failure_in(table, redacted, "copydbgetnonce"), None);
    }
}
