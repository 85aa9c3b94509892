//! Rules of the Unified Test Format a file must follow beyond the shape of its values
//! (sections "Test Format", "entity", "operation", "expectedError",
//! "expectedEventsForClient", "collectionData"): each broken rule is a [`SpecError`].

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde_json::Value;

use super::locate::{pointer_with_variants, shape_message};
use super::model::{
    CollectionData, Entity, EventType, ExpectedEvents, ExpectedEventsForClient, Operation, RunOnRequirement,
    TestCase, TestFile,
};
use crate::SpecError;

/// Checks every rule on a parsed file and fills the typed expected events.
pub fn validate(file: &Path, t: &mut TestFile) -> Result<(), SpecError> {
    let err = |pointer: String, message: String| SpecError::new(file, pointer, message);
    if let Some(reqs) = &t.run_on_requirements {
        requirements(reqs, "/runOnRequirements").map_err(|(p, m)| err(p, m))?;
    }
    let mut kinds: HashMap<String, &'static str> = HashMap::new();
    if let Some(entities) = &t.create_entities {
        define_entities(entities, "/createEntities", &mut kinds).map_err(|(p, m)| err(p, m))?;
    }
    if let Some(data) = &t.initial_data {
        collection_data(data, "/initialData").map_err(|(p, m)| err(p, m))?;
    }
    for (i, case) in t.tests.0.iter_mut().enumerate() {
        test_case(case, &format!("/tests/{i}"), &kinds).map_err(|(p, m)| err(p, m))?;
    }
    Ok(())
}

type Failure = (String, String);

fn requirements(reqs: &[RunOnRequirement], at: &str) -> Result<(), Failure> {
    for (i, r) in reqs.iter().enumerate() {
        let empty = r.min_server_version.is_none()
            && r.max_server_version.is_none()
            && r.topologies.is_none()
            && r.serverless.is_none()
            && r.server_parameters.is_none()
            && r.auth.is_none()
            && r.auth_mechanism.is_none()
            && r.csfle.is_none();
        if empty {
            return Err((
                format!("{at}/{i}"),
                "a runOnRequirement must have at least one key (minProperties: 1)".into(),
            ));
        }
        if r.server_parameters.as_ref().is_some_and(|p| p.is_empty()) {
            return Err((
                format!("{at}/{i}/serverParameters"),
                "`serverParameters` must name at least one parameter (minProperties: 1)".into(),
            ));
        }
    }
    Ok(())
}

/// Records each entity's id and kind, requiring unique ids and that every entity an
/// entity refers to (a database's client, a collection's database, …) is defined before it.
fn define_entities(
    entities: &[Entity],
    at: &str,
    kinds: &mut HashMap<String, &'static str>,
) -> Result<(), Failure> {
    for (i, entity) in entities.iter().enumerate() {
        let here = format!("{at}/{i}/{}", entity.kind());
        let refs: Vec<(&str, &str, &str)> = match entity {
            Entity::Database(e) => vec![("client", &e.client, "client")],
            Entity::Collection(e) => vec![("database", &e.database, "database")],
            Entity::Session(e) => vec![("client", &e.client, "client")],
            Entity::Bucket(e) => vec![("database", &e.database, "database")],
            Entity::ClientEncryption(e) => {
                vec![(
                    "clientEncryptionOpts/keyVaultClient",
                    &e.client_encryption_opts.key_vault_client,
                    "client",
                )]
            }
            Entity::Client(_) | Entity::Thread(_) => vec![],
        };
        for (field, id, want) in refs {
            match kinds.get(id) {
                Some(kind) if *kind == want => {}
                Some(kind) => {
                    return Err((
                        format!("{here}/{field}"),
                        format!("entity `{id}` is a {kind} entity, not a {want} entity"),
                    ));
                }
                None => {
                    return Err((
                        format!("{here}/{field}"),
                        format!("no {want} entity `{id}` is defined before this entity"),
                    ));
                }
            }
        }
        define(kinds, entity.id(), entity.kind(), &format!("{here}/id"))?;
        if let Entity::Client(c) = entity {
            if let Some(o) = &c.observe_log_messages
                && o.command.is_none()
                && o.topology.is_none()
                && o.server_selection.is_none()
                && o.connection.is_none()
            {
                return Err((
                    format!("{here}/observeLogMessages"),
                    "`observeLogMessages` must name at least one component (minProperties: 1)".into(),
                ));
            }
            for (j, store) in c.store_events_as_entities.iter().flat_map(|s| s.iter()).enumerate() {
                define(kinds, &store.id, "event list", &format!("{here}/storeEventsAsEntities/{j}/id"))?;
            }
        }
    }
    Ok(())
}

fn define(
    kinds: &mut HashMap<String, &'static str>,
    id: &str,
    kind: &'static str,
    at: &str,
) -> Result<(), Failure> {
    if kinds.insert(id.to_string(), kind).is_some() {
        return Err((
            at.to_string(),
            format!("entity id `{id}` is already defined (entity ids must be unique)"),
        ));
    }
    Ok(())
}

fn collection_data(data: &[CollectionData], at: &str) -> Result<(), Failure> {
    for (i, d) in data.iter().enumerate() {
        if d.create_options.as_ref().is_some_and(|o| o.contains_key("writeConcern")) {
            return Err((
                format!("{at}/{i}/createOptions/writeConcern"),
                "`createOptions` must not contain `writeConcern` (the runner uses majority)".into(),
            ));
        }
    }
    Ok(())
}

fn test_case(
    case: &mut TestCase,
    at: &str,
    file_entities: &HashMap<String, &'static str>,
) -> Result<(), Failure> {
    if let Some(reqs) = &case.run_on_requirements {
        requirements(reqs, &format!("{at}/runOnRequirements"))?;
    }
    if let Some(outcome) = &case.outcome {
        collection_data(outcome, &format!("{at}/outcome"))?;
    }
    // Entities this test may create at run time: `createEntities` operations, saved
    // results and the `…AsEntity` arguments of `loop`.
    let mut runtime: HashSet<String> = HashSet::new();
    let mut clients: HashSet<String> =
        file_entities.iter().filter(|(_, k)| **k == "client").map(|(id, _)| id.clone()).collect();
    for op in &case.operations {
        collect_runtime_entities(op, &mut runtime, &mut clients);
    }
    for (i, op) in case.operations.iter().enumerate() {
        operation(op, &format!("{at}/operations/{i}"), file_entities, &runtime)?;
    }
    for (i, e) in case.expect_log_messages.iter().flat_map(|l| l.iter()).enumerate() {
        if !clients.contains(&e.client) {
            return Err((
                format!("{at}/expectLogMessages/{i}/client"),
                format!("no client entity `{}` is defined", e.client),
            ));
        }
    }
    if let Some(expect) = &mut case.expect_events {
        for (i, e) in expect.0.iter_mut().enumerate() {
            let here = format!("{at}/expectEvents/{i}");
            e.typed = typed_events(e, &here)?;
            if !clients.contains(&e.client) {
                return Err((
                    format!("{here}/client"),
                    format!("no client entity `{}` is defined", e.client),
                ));
            }
        }
    }
    Ok(())
}

fn collect_runtime_entities(op: &Operation, runtime: &mut HashSet<String>, clients: &mut HashSet<String>) {
    if let Some(id) = &op.save_result_as_entity {
        runtime.insert(id.clone());
    }
    let Some(args) = &op.arguments else { return };
    if op.name == "createEntities" {
        for entity in args.get("entities").and_then(Value::as_array).into_iter().flatten() {
            let Some((kind, body)) = entity.as_object().and_then(|o| o.iter().next()) else { continue };
            if let Some(id) = body.get("id").and_then(Value::as_str) {
                runtime.insert(id.to_string());
                if kind == "client" {
                    clients.insert(id.to_string());
                }
            }
        }
    }
    for (key, value) in args {
        if key.ends_with("AsEntity") {
            if let Some(id) = value.as_str() {
                runtime.insert(id.to_string());
            }
        }
    }
    // Nested operations (`runOnThread`, `loop`, `withTransaction` callbacks).
    let nested = args
        .get("operation")
        .into_iter()
        .chain(args.get("operations").and_then(Value::as_array).into_iter().flatten())
        .chain(args.get("callback").and_then(Value::as_array).into_iter().flatten());
    for value in nested {
        if let Ok(inner) = serde_json::from_value::<Operation>(value.clone()) {
            collect_runtime_entities(&inner, runtime, clients);
        }
    }
}

fn operation(
    op: &Operation,
    at: &str,
    file_entities: &HashMap<String, &'static str>,
    runtime: &HashSet<String>,
) -> Result<(), Failure> {
    let conflicts = [
        ("expectError", op.expect_error.is_some(), "expectResult", op.expect_result.is_some()),
        ("expectError", op.expect_error.is_some(), "saveResultAsEntity", op.save_result_as_entity.is_some()),
        (
            "ignoreResultAndError",
            op.ignore_result_and_error.is_some(),
            "expectResult",
            op.expect_result.is_some(),
        ),
        (
            "ignoreResultAndError",
            op.ignore_result_and_error.is_some(),
            "expectError",
            op.expect_error.is_some(),
        ),
        (
            "ignoreResultAndError",
            op.ignore_result_and_error.is_some(),
            "saveResultAsEntity",
            op.save_result_as_entity.is_some(),
        ),
    ];
    for (a, has_a, b, has_b) in conflicts {
        if has_a && has_b {
            return Err((format!("{at}/{b}"), format!("an operation may not have both `{a}` and `{b}`")));
        }
    }
    if let Some(e) = &op.expect_error {
        let empty = e.is_error.is_none()
            && e.is_client_error.is_none()
            && e.is_timeout_error.is_none()
            && e.error_contains.is_none()
            && e.error_code.is_none()
            && e.error_code_name.is_none()
            && e.error_labels_contain.is_none()
            && e.error_labels_omit.is_none()
            && e.expect_result.is_none()
            && e.error_response.is_none()
            && e.write_errors.is_none()
            && e.write_concern_errors.is_none();
        if empty {
            return Err((
                format!("{at}/expectError"),
                "`expectError` must assert something (minProperties: 1)".into(),
            ));
        }
    }
    if op.object != "testRunner" && !file_entities.contains_key(&op.object) && !runtime.contains(&op.object) {
        return Err((
            format!("{at}/object"),
            format!("operation object `{}` is not a defined entity", op.object),
        ));
    }
    Ok(())
}

/// Types `events` per `eventType` (`command` when absent): an event of another list type
/// is an error at its own pointer.
fn typed_events(e: &ExpectedEventsForClient, at: &str) -> Result<ExpectedEvents, Failure> {
    fn each<T: serde::de::DeserializeOwned>(
        events: &[Value],
        at: &str,
        kind: &str,
    ) -> Result<Vec<T>, Failure> {
        events
            .iter()
            .enumerate()
            .map(|(i, v)| {
                serde_path_to_error::deserialize(v).map_err(|err| {
                    let inner = pointer_with_variants(err.path());
                    let mut message = err.into_inner().to_string();
                    if message.starts_with("expected value") || message.contains("map with a single key") {
                        message = shape_message(v.pointer(&inner));
                    }
                    (format!("{at}/events/{i}{inner}"), format!("not a valid {kind} event: {message}"))
                })
            })
            .collect()
    }
    Ok(match e.event_type.unwrap_or(EventType::Command) {
        EventType::Command => ExpectedEvents::Command(each(&e.events, at, "command")?),
        EventType::Cmap => ExpectedEvents::Cmap(each(&e.events, at, "cmap")?),
        EventType::Sdam => ExpectedEvents::Sdam(each(&e.events, at, "sdam")?),
    })
}
