//! The unified runner's checks (`unified-test-format.rst`, "Executing an Operation" steps
//! `expectResult`, `expectError` and `saveResultAsEntity`; "expectedEventsForClient";
//! "Executing a Test" step `outcome`): each failed check fails the test as `Mismatch`, an
//! unexpected error as `OperationError`.

use bson::{Bson, Document, doc};
use mongo_driver::error::{Error, ErrorKind};
use mongo_driver::event::cmap::CmapEventKind;
use mongo_driver::event::command::CommandEvent;
use mongo_driver::options::{ReadConcern, ReadPreference};
use spec_codegen::unified::model::{ExpectedCommandEvent, ExpectedError, ExpectedEvents, Operation};

use super::super::failure::{FailureKind, ensure, fail};
use super::super::matching::{match_nested, match_root, match_root_array};
use super::Runner;
use super::convert::{ejson, ejson_doc};
use super::observe::{describe, expected_cmap_kind, lock};
use super::outcome::Outcome;

impl Runner {
    /// Checks the outcome of operation `i` against its `expectResult` / `expectError`, and
    /// saves the result when `saveResultAsEntity` asks for it.
    pub fn check(&mut self, i: usize, result: Result<Bson, Error>) {
        let op = self.operation(i).clone();
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

    /// `expectError`: `error` has every property `expected` gives.
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

    /// `expectEvents`: each listed client observed the expected command or CMAP events.
    pub(super) fn check_expected_events(&self) {
        for (k, expected) in self.test().expect_events.iter().flat_map(|e| e.iter()).enumerate() {
            let here = format!("{}/expectEvents/{k}", self.location());
            let Some(client) = self.clients.get(&expected.client) else {
                panic!("{here}: client `{}` is not defined", expected.client)
            };
            let events = match &expected.typed {
                ExpectedEvents::Command(events) => events,
                ExpectedEvents::Cmap(events) => {
                    let actual = lock(&client.cmap).clone();
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
            let actual = lock(&client.events).clone();
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
    }

    /// One expected command event against the one observed at its place.
    fn check_event(
        &self,
        at: &str,
        expected: &ExpectedCommandEvent,
        actual: &CommandEvent,
        names: &[String],
    ) {
        use ExpectedCommandEvent as E;
        // The fields every kind of expected command event may give, and the document
        // (`command` or `reply`) matched as a root document.
        let (fields, document) = match (expected, actual) {
            (E::CommandStartedEvent(e), CommandEvent::Started(a)) => (
                (&e.command_name, &e.database_name, e.has_service_id, e.has_server_connection_id),
                e.command.as_ref().map(|c| ("command", c, &a.command)),
            ),
            (E::CommandSucceededEvent(e), CommandEvent::Succeeded(a)) => (
                (&e.command_name, &e.database_name, e.has_service_id, e.has_server_connection_id),
                e.reply.as_ref().map(|r| ("reply", r, &a.reply)),
            ),
            (E::CommandFailedEvent(e), CommandEvent::Failed(_)) => {
                ((&e.command_name, &e.database_name, e.has_service_id, e.has_server_connection_id), None)
            }
            (e, a) => fail(
                FailureKind::Mismatch,
                at,
                format!("expected {e:?}, saw {}; events {names:?}", describe(a)),
            ),
        };
        let (name, database, has_service, has_connection) = fields;
        let (actual_name, actual_database, service, connection) = observed_fields(actual);
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
        if let Some(db) = database {
            ensure(actual_database == db, at, || {
                format!("databaseName: expected {db}, found {actual_database}")
            });
        }
        if let Some((what, expected, actual)) = document {
            let expected = Bson::Document(ejson_doc(&self.path, at, expected));
            let actual = Bson::Document(actual.clone());
            if let Err(m) = match_root(&expected, &actual, self) {
                let message = format!("{what} mismatch: {m}\nexpected: {expected}\nactual:   {actual}");
                fail(FailureKind::Mismatch, at, message);
            }
        }
    }

    /// `outcome`: each listed collection holds exactly the expected documents (read
    /// through the internal client, primary, local read concern, sorted by `_id`).
    pub(super) async fn check_outcome(&self) {
        for (k, data) in self.test().outcome.iter().flat_map(|o| o.iter()).enumerate() {
            let here = format!("{}/outcome/{k}", self.location());
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
                expected
                    .iter()
                    .zip(&actual_bson)
                    .try_for_each(|(e, a)| match_nested(e, a, self).map_err(|m| m.to_string()))
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
    }
}

/// The fields of an observed command event that an expectation may name: its command and
/// database names, and whether it carries a service id and a server connection id.
fn observed_fields(event: &CommandEvent) -> (&str, &str, bool, bool) {
    let (name, database, service, connection) = match event {
        CommandEvent::Started(e) => (&e.command_name, &e.database_name, e.service_id, e.server_connection_id),
        CommandEvent::Succeeded(e) => {
            (&e.command_name, &e.database_name, e.service_id, e.server_connection_id)
        }
        CommandEvent::Failed(e) => (&e.command_name, &e.database_name, e.service_id, e.server_connection_id),
    };
    (name, database, service.is_some(), connection.is_some())
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
