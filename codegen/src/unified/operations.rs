//! Generated tests for suites written in the Unified Test Format (`unified-test-format.rst`,
//! sections "Executing a Test" and "Executing an Operation"): each case becomes a test that
//! calls the driver's public API once per operation; entity setup, `initialData`, result,
//! error, event and outcome checks run in the runtime harness (`conformance::unified::runner`).

use std::path::Path;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::model::{
    Entity, EventType, ExpectedEventsForClient, NonEmpty, Operation, RunOnRequirement, Serverless,
    StoredEvent, TestCase, TestFile, Topology, Version,
};
use super::{load, stem};
use crate::naming::Unique;
use crate::suite::json_files;
use crate::{GeneratedTest, SpecError, Status};

/// Tests of the CRUD spec's unified files (`source/crud/tests/unified/*.json`).
pub fn generate_crud(spec_root: &Path) -> Result<Vec<GeneratedTest>, SpecError> {
    generate_dir(spec_root, "crud", "tests/unified", "crud")
}

/// Tests of the command monitoring spec's unified files
/// (`source/command-monitoring/tests/unified/*.json`).
pub fn generate_command_monitoring(spec_root: &Path) -> Result<Vec<GeneratedTest>, SpecError> {
    generate_dir(spec_root, "command-monitoring", "tests/unified", "command_monitoring")
}

/// Tests of the sessions spec's unified files (`source/sessions/tests/*.json`).
pub fn generate_sessions(spec_root: &Path) -> Result<Vec<GeneratedTest>, SpecError> {
    generate_dir(spec_root, "sessions", "tests", "sessions")
}

pub(crate) fn generate_dir(
    spec_root: &Path,
    spec_dir: &str,
    tests_dir: &str,
    module: &str,
) -> Result<Vec<GeneratedTest>, SpecError> {
    let Some(dir) = crate::spec_data::source_dir(spec_root, &format!("{spec_dir}/{tests_dir}"))? else {
        return Ok(Vec::new());
    };
    let mut tests = Vec::new();
    let mut files = Unique::default();
    for file in json_files(&dir)? {
        let file_ident = files.ident(&stem(&file));
        tests.extend(generate_file(spec_root, &file, &[file_ident], module)?);
    }
    Ok(tests)
}

/// The tests of one unified file, named `prefix::<case>` below the suite `module`; a file
/// for a later schema version gives ignored tests naming why (see [`crate::newer`]).
pub(crate) fn generate_file(
    spec_root: &Path,
    file: &Path,
    prefix: &[String],
    module: &str,
) -> Result<Vec<GeneratedTest>, SpecError> {
    let spec_file = crate::newer::rel(spec_root, file);
    let parsed = match load(file) {
        Ok(parsed) => parsed,
        Err(err) if err.is_newer() => return crate::newer::ignored_cases(file, &spec_file, &err, prefix),
        Err(err) => return Err(err),
    };
    let mut tests = Vec::new();
    let mut cases = Unique::default();
    for (i, case) in parsed.tests.iter().enumerate() {
        let mut path = prefix.to_vec();
        path.push(cases.ident(&case.description));
        let name = format!("{module}::{}", path.join("::"));
        let (status, body) = generate_case(&parsed, case, i, &spec_file, &name);
        tests.push(GeneratedTest {
            path,
            spec_file: spec_file.clone(),
            case_index: Some(i),
            status,
            is_async: true,
            body,
        });
    }
    Ok(tests)
}

/// A simulated deployment shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimTopology {
    /// A standalone `mongod`.
    Single,
    /// A three-member replica set.
    ReplicaSet,
    /// Two `mongos` in front of a three-member replica-set shard.
    Sharded,
    /// [`SimTopology::Sharded`] behind load balancers (load balancer spec).
    LoadBalanced,
}

/// The server versions the simulator can report, oldest first.
pub(crate) const SIM_VERSIONS: &[(u32, u32)] = &[(3, 6), (4, 0), (4, 2), (4, 4), (5, 0), (6, 0), (7, 0)];

/// Picks the deployment a case runs on: the first combination of the file's and the
/// case's `runOnRequirements` (each list: any one must hold) the simulator can satisfy,
/// on the first listed topology it supports (a replica set when none is listed), at the
/// newest simulated version in range. `Err` says why none fits.
pub fn choose_deployment(
    file: Option<&[RunOnRequirement]>,
    case: Option<&[RunOnRequirement]>,
) -> Result<(SimTopology, (u32, u32)), String> {
    let none = [RunOnRequirement::default()];
    let file = file.unwrap_or(&none);
    let case = case.unwrap_or(&none);
    let mut why = Vec::new();
    for a in file {
        for b in case {
            match satisfy(a, b) {
                Ok(choice) => return Ok(choice),
                Err(e) => why.push(e),
            }
        }
    }
    why.dedup();
    Err(format!("runOnRequirements the simulator cannot satisfy: {}", why.join("; ")))
}

fn satisfy(a: &RunOnRequirement, b: &RunOnRequirement) -> Result<(SimTopology, (u32, u32)), String> {
    for r in [a, b] {
        if r.serverless == Some(Serverless::Require) {
            return Err("serverless required".into());
        }
        if r.csfle.as_ref().is_some_and(|c| c.required()) {
            return Err("client-side encryption required".into());
        }
        if let Some(mechanism) = &r.auth_mechanism {
            return Err(format!(
                "authMechanism {mechanism} required (the simulated deployments' authentication is not selected by mechanism)"
            ));
        }
        for (name, value) in r.server_parameters.iter().flatten() {
            if sim_server_parameter(name).as_ref() != Some(value) {
                return Err(format!("serverParameters: {name} {value} (the simulator's value differs)"));
            }
        }
    }
    let allowed =
        |t: Topology| [a, b].iter().all(|r| r.topologies.as_ref().is_none_or(|list| list.contains(&t)));
    let listed: Vec<Topology> = b
        .topologies
        .as_ref()
        .or(a.topologies.as_ref())
        .map(|l| l.0.clone())
        .unwrap_or_else(|| vec![Topology::ReplicaSet]);
    let topology = listed
        .iter()
        .copied()
        .find(|t| allowed(*t))
        .map(|t| match t {
            Topology::Single => SimTopology::Single,
            Topology::ReplicaSet => SimTopology::ReplicaSet,
            Topology::Sharded | Topology::ShardedReplicaSet => SimTopology::Sharded,
            Topology::LoadBalanced => SimTopology::LoadBalanced,
        })
        .ok_or_else(|| format!("topologies {listed:?}"))?;
    let newest = newest_at_pin()?;
    let version = SIM_VERSIONS
        .iter()
        .rev()
        .copied()
        .find(|&(major, minor)| {
            let v = Version { major, minor, patch: 0 };
            v <= newest
                && [a, b].iter().all(|r| {
                r.min_server_version.is_none_or(|min| v >= min)
                    && r.max_server_version.is_none_or(|max| v <= max)
            })
        })
        .ok_or_else(|| {
            format!(
                "no simulated server version (3.6 to {}.{}, the newest release at the spec pin) in the version range",
                newest.major, newest.minor
            )
        })?;
    Ok((topology, version))
}

/// The value a simulated server reports for a server parameter `getParameter` knows, where
/// requirements ask for it (mongo-sim's `Node` parameters; a test server's settings).
fn sim_server_parameter(name: &str) -> Option<serde_json::Value> {
    Some(match name {
        "enableTestCommands" => serde_json::Value::Bool(true),
        "requireApiVersion" | "acceptApiVersion2" => serde_json::Value::Bool(false),
        _ => return None,
    })
}

/// The newest server release when the pinned spec commit was made (`newest_server` in
/// `spec-data/pin.toml`, found from `CARGO_MANIFEST_DIR`): cases run on simulated servers
/// up to it, as the pinned files know nothing of later releases (a case written before
/// 6.2 may still expect `getnonce`). `Err` says why it cannot be read.
pub(crate) fn newest_at_pin() -> Result<Version, String> {
    let pin = crate::spec_data::active()?;
    let name = pin.name.as_deref().unwrap_or("[specifications]");
    let text = pin
        .newest_server
        .ok_or_else(|| format!("spec-data/pin.toml: pin {name} names no `newest_server`"))?;
    Version::parse(&text)
        .ok_or_else(|| format!("spec-data/pin.toml: newest_server `{text}` is not a version"))
}

/// Why a file's entities cannot be created yet, if so.
fn unsupported_entities(file: &TestFile) -> Option<String> {
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
fn unsupported_expectations(case: &TestCase) -> Option<String> {
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

fn unsupported_events(expected: &[ExpectedEventsForClient]) -> Option<String> {
    // CMAP events: the runner checks their kinds, `hasServiceId` and `reason`.
    expected
        .iter()
        .any(|e| e.event_type == Some(EventType::Sdam))
        .then(|| "expected SDAM events not checked by the runner yet".into())
}

/// Why `op` cannot run while the driver has no client-side operation timeouts: a nonzero
/// `timeoutMS` among its arguments (a `withTransaction` callback's operations included).
fn timeout_argument(op: &Operation) -> Option<String> {
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

/// The `timeoutMS` argument of an operation the runner applies through its handle: a
/// client, database or collection operation that opens no find or command cursor the
/// runner keeps (whose later `getMore`s would need the cursor timeout modes; a change
/// stream's aggregate takes it), with an integer `timeoutMS`.
pub(super) fn operation_timeout(file: &TestFile, op: &Operation) -> Option<u64> {
    let ms = op.arguments.as_ref()?.get("timeoutMS")?.as_u64()?;
    let handle = matches!(
        entity_kind(file, &op.object),
        Some(Entity::Collection(_) | Entity::Database(_) | Entity::Client(_))
    );
    let cursor = matches!(op.name.as_str(), "createFindCursor" | "createCommandCursor");
    let mode = op.arguments.as_ref().is_some_and(|a| a.contains_key("timeoutMode"));
    (handle && !cursor && !mode).then_some(ms)
}

/// Whether the deployment [`choose_deployment`] picks must require authentication: the
/// first satisfiable pair of requirements asks `auth: true` (the simulator then starts with
/// a user, and the runner's clients authenticate).
pub fn requires_auth(file: Option<&[RunOnRequirement]>, case: Option<&[RunOnRequirement]>) -> bool {
    let none = [RunOnRequirement::default()];
    let (file, case) = (file.unwrap_or(&none), case.unwrap_or(&none));
    file.iter()
        .flat_map(|a| case.iter().map(move |b| (a, b)))
        .find(|(a, b)| satisfy(a, b).is_ok())
        .is_some_and(|(a, b)| a.auth == Some(true) || b.auth == Some(true))
}

/// Status and body of one case (`name`: the generated test's path, naming its snapshot).
pub(crate) fn generate_case(
    file: &TestFile,
    case: &TestCase,
    index: usize,
    spec_file: &str,
    name: &str,
) -> (Status, TokenStream) {
    generate_case_loaded(file, case, index, spec_file, name, None)
}

/// [`generate_case`] for case `index` of a file in another format that `loader` (a path to
/// a `fn(&Path, usize) -> Result<TestFile, SpecError>`, e.g. `spec_codegen::crud_v1::load_crud_v1`)
/// translates into `file`; the runtime loads it the same way.
pub fn generate_translated_case(
    file: &TestFile,
    index: usize,
    spec_file: &str,
    name: &str,
    loader: &TokenStream,
) -> (Status, TokenStream) {
    generate_case_loaded(file, &file.tests[index], index, spec_file, name, Some(loader))
}

/// What the generator makes of one case before it is wrapped into a test body: why it
/// cannot run (empty: it runs), its statements, and the deployment it runs on.
pub(crate) struct CaseParts {
    /// Reasons to ignore the case, the first one shown.
    pub reasons: Vec<String>,
    /// One block per operation.
    pub statements: Vec<TokenStream>,
    /// The simulated topology chosen from the requirements.
    pub topology: SimTopology,
    /// The simulated server version chosen from the requirements.
    pub version: (u32, u32),
    /// Whether the deployment requires authentication.
    pub auth: bool,
}

/// The parts of one case (see [`CaseParts`]).
pub(crate) fn case_parts(file: &TestFile, case: &TestCase, spec_file: &str) -> CaseParts {
    let mut reasons: Vec<String> = Vec::new();
    if let Some(skip) = &case.skip_reason {
        reasons.push(format!("skipReason: {skip}"));
    }
    let deployment =
        choose_deployment(file.run_on_requirements.as_deref(), case.run_on_requirements.as_deref());
    let auth = requires_auth(file.run_on_requirements.as_deref(), case.run_on_requirements.as_deref());
    let (topology, version) = match deployment {
        Ok(d) => d,
        Err(e) => {
            reasons.push(e);
            (SimTopology::ReplicaSet, (7, 0))
        }
    };
    reasons.extend(known_failure(spec_file, &case.description).map(str::to_string));
    reasons.extend(no_abort_after_callback_timeout(case));
    let with_runtime = with_runtime_entities(file, case);
    let file = with_runtime.as_ref().unwrap_or(file);
    reasons.extend(unsupported_entities(file));
    reasons.extend(case.expect_events.as_deref().and_then(unsupported_events));
    reasons.extend(unsupported_expectations(case));
    let mut statements = Vec::new();
    for (i, op) in case.operations.iter().enumerate() {
        if let Some(reason) = timeout_argument(op).filter(|_| operation_timeout(file, op).is_none()) {
            statements.push(quote! { r.not_generated(#reason); });
            reasons.push(reason);
            continue;
        }
        match operation(file, op, i) {
            Ok(tokens) => statements.push(tokens),
            Err(e) => {
                // Run with `--ignored`, the case stops where the runner falls short.
                statements.push(quote! { r.not_generated(#e); });
                reasons.push(e);
            }
        }
    }
    CaseParts { reasons, statements, topology, version, auth }
}

/// The runner's `Sim` variant for a simulated topology.
pub(crate) fn sim_tokens(topology: SimTopology) -> TokenStream {
    match topology {
        SimTopology::Single => quote! { Single },
        SimTopology::ReplicaSet => quote! { ReplicaSet },
        SimTopology::Sharded => quote! { Sharded },
        SimTopology::LoadBalanced => quote! { LoadBalanced },
    }
}

fn generate_case_loaded(
    file: &TestFile,
    case: &TestCase,
    index: usize,
    spec_file: &str,
    name: &str,
    loader: Option<&TokenStream>,
) -> (Status, TokenStream) {
    let CaseParts { reasons, statements, topology, version: (major, minor), auth } =
        case_parts(file, case, spec_file);
    let start = if auth {
        quote! { start_with_auth }
    } else if virtual_clock(spec_file) {
        quote! { start_virtual }
    } else {
        quote! { start }
    };
    let topology = sim_tokens(topology);
    let (major, minor) = (major as u8, minor as u8);
    let (start, loader) = match loader {
        Some(loader) => (quote! { start_translated }, quote! { #loader, }),
        None => (start, quote! {}),
    };
    let body = quote! {
        #[allow(unused_imports)]
        use ::conformance::unified::runner::{Outcome as R, Sim};
        let Some(mut r) = ::conformance::unified::runner::Runner::#start(
            #loader
            ::std::path::Path::new(env!("SPEC_ROOT")).join(#spec_file),
            #index,
            Sim::#topology,
            ::mongo_sim::ServerVersion::new(#major, #minor),
        ).await else {
            return;
        };
        #(#statements)*
        r.finish(#name).await;
    };
    match reasons.first() {
        None => (Status::Run, body),
        Some(first) => (Status::Ignored(first.clone()), body),
    }
}

/// Why a case cannot pass whose `withTransaction` times out in its callback (the whole call
/// expects a timeout error and its callback fails) yet whose expected command events, matched
/// exactly, hold no `abortTransaction`: the CSOT spec text has the driver abort with a fresh
/// `timeoutMS` then ("withTransaction refreshes the timeout for abortTransaction"), and the
/// driver does; the 2022-08 cases expect no abort (later spec commits expect it).
fn no_abort_after_callback_timeout(case: &TestCase) -> Option<String> {
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

/// Whether the cases of `spec_file` run on the test-controlled clock (the runner's
/// `Clock::Virtual`): the client-side operations timeout suite, whose timeouts race fail
/// points' blocks by a few milliseconds. Not `command-execution`, whose cases block the
/// monitor's `hello` to raise the measured round-trip time: the monitor times its checks on
/// the wall clock (`std::time::Instant` in `driver/src/monitor.rs`), which a paused clock
/// does not move, so those cases keep the wall clock (their margins are tens of ms).
fn virtual_clock(spec_file: &str) -> bool {
    spec_file.contains("/client-side-operations-timeout/") && !spec_file.ends_with("/command-execution.json")
}

/// The file with the entities the case's `createEntities` operations add (they are looked
/// up like the file's own), or `None` when there are none.
fn with_runtime_entities(file: &TestFile, case: &TestCase) -> Option<TestFile> {
    let mut added: Vec<Entity> = Vec::new();
    for op in case.operations.iter().filter(|o| o.object == "testRunner" && o.name == "createEntities") {
        let list = op.arguments.as_ref().and_then(|a| a.get("entities")).cloned();
        // The validator already checked the entities; an unreadable one simply adds nothing
        // and the operation's emitter reports it.
        if let Some(Ok(entities)) = list.map(serde_json::from_value::<Vec<Entity>>) {
            added.extend(entities);
        }
    }
    if added.is_empty() {
        return None;
    }
    let mut file = file.clone();
    let mut all = file.create_entities.take().map(|e| e.0).unwrap_or_default();
    all.extend(added);
    file.create_entities = Some(NonEmpty(all));
    Some(file)
}

/// An argument's conversion: the runner's accessor for it.
#[derive(Clone, Copy)]
enum Conv {
    Doc,
    Bson,
    Bool,
    I64,
    I32,
    Millis,
    Hint,
    Docs,
}

fn conv_method(c: Conv) -> TokenStream {
    match c {
        Conv::Doc => quote! { doc },
        Conv::Bson => quote! { bson },
        Conv::Bool => quote! { bool },
        Conv::I64 => quote! { i64 },
        Conv::I32 => quote! { i32 },
        Conv::Millis => quote! { millis },
        Conv::Hint => quote! { hint },
        Conv::Docs => quote! { docs },
    }
}

/// Spec option name → (setter, conversion).
fn option(key: &str) -> Option<(&'static str, Conv)> {
    Some(match key {
        "sort" => ("sort", Conv::Doc),
        "projection" => ("projection", Conv::Doc),
        "skip" => ("skip", Conv::I64),
        "limit" => ("limit", Conv::I64),
        "batchSize" => ("batch_size", Conv::I32),
        "comment" => ("comment", Conv::Bson),
        "hint" => ("hint", Conv::Hint),
        "allowDiskUse" => ("allow_disk_use", Conv::Bool),
        "allowPartialResults" => ("allow_partial_results", Conv::Bool),
        "collation" => ("collation", Conv::Doc),
        "let" => ("let_vars", Conv::Doc),
        "maxTimeMS" => ("max_time", Conv::Millis),
        "min" => ("min", Conv::Doc),
        "max" => ("max", Conv::Doc),
        "returnKey" => ("return_key", Conv::Bool),
        "showRecordId" => ("show_record_id", Conv::Bool),
        "noCursorTimeout" => ("no_cursor_timeout", Conv::Bool),
        "bypassDocumentValidation" => ("bypass_document_validation", Conv::Bool),
        "ordered" => ("ordered", Conv::Bool),
        "upsert" => ("upsert", Conv::Bool),
        "arrayFilters" => ("array_filters", Conv::Docs),
        _ => return None,
    })
}

/// The option keys each options type accepts.
fn options_of(ty: &str) -> &'static [&'static str] {
    match ty {
        "FindOptions" => &[
            "sort",
            "projection",
            "skip",
            "limit",
            "batchSize",
            "comment",
            "hint",
            "allowDiskUse",
            "allowPartialResults",
            "collation",
            "let",
            "maxTimeMS",
            "min",
            "max",
            "returnKey",
            "showRecordId",
            "noCursorTimeout",
        ],
        "InsertOneOptions" => &["bypassDocumentValidation", "comment"],
        "InsertManyOptions" => &["bypassDocumentValidation", "comment", "ordered"],
        "UpdateOptions" => {
            &["arrayFilters", "bypassDocumentValidation", "collation", "hint", "upsert", "let", "comment"]
        }
        "ReplaceOptions" => &["bypassDocumentValidation", "collation", "hint", "upsert", "let", "comment"],
        "DeleteOptions" => &["collation", "hint", "let", "comment"],
        "FindOneAndModifyOptions" => &[
            "arrayFilters",
            "bypassDocumentValidation",
            "collation",
            "hint",
            "maxTimeMS",
            "projection",
            "sort",
            "upsert",
            "let",
            "comment",
        ],
        "AggregateOptions" => &[
            "allowDiskUse",
            "batchSize",
            "bypassDocumentValidation",
            "collation",
            "comment",
            "hint",
            "let",
            "maxTimeMS",
        ],
        "DistinctOptions" => &["collation", "comment", "maxTimeMS"],
        "CountOptions" => &["collation", "comment", "hint", "limit", "maxTimeMS", "skip"],
        "EstimatedDocumentCountOptions" => &["comment", "maxTimeMS"],
        "BulkWriteOptions" => &["bypassDocumentValidation", "ordered", "let", "comment"],
        _ => &[],
    }
}

/// Builds `OptionsType::default().setter(o.conv("key"))…` for the operation's optional
/// arguments; `positional` are consumed by the call itself. Any other argument is an error.
pub(super) fn options_expr(
    op: &Operation,
    ty: &str,
    positional: &[&str],
    extra: &[(&str, TokenStream)],
) -> Result<TokenStream, String> {
    let ty_ident = format_ident!("{}", if ty == "ReplaceOptions" { "UpdateOptions" } else { ty });
    let allowed = options_of(ty);
    let mut setters = Vec::new();
    let mut session = quote! {};
    for key in op.arguments.iter().flat_map(|a| a.keys()) {
        if positional.contains(&key.as_str()) {
            continue;
        }
        if let Some((_, tokens)) = extra.iter().find(|(k, _)| *k == key) {
            setters.push(tokens.clone());
            continue;
        }
        if key == "session" {
            session = quote! { .session(&mut session) };
            continue;
        }
        match option(key) {
            Some((setter, conv)) if allowed.contains(&key.as_str()) => {
                let setter = format_ident!("{}", setter);
                let method = conv_method(conv);
                setters.push(quote! { .#setter(o.#method(#key)) });
            }
            _ => return Err(format!("operation {}: argument `{key}` not supported by the runner", op.name)),
        }
    }
    if matches!(ty, "DistinctOptions" | "CountOptions" | "EstimatedDocumentCountOptions") {
        // These actions take their options through setters only.
        return Ok(quote! { #(#setters)* #session });
    }
    Ok(quote! { .with_options(::mongo_driver::options::#ty_ident::default() #(#setters)*) #session })
}

/// Requires the positional arguments.
pub(super) fn require(op: &Operation, keys: &[&str]) -> Result<(), String> {
    for key in keys {
        if !op.arguments.as_ref().is_some_and(|a| a.contains_key(*key)) {
            return Err(format!("operation {}: missing argument `{key}`", op.name));
        }
    }
    Ok(())
}

/// The kind of entity `id` names in the file.
pub(super) fn entity_kind<'a>(file: &'a TestFile, id: &str) -> Option<&'a Entity> {
    file.create_entities.iter().flat_map(|e| e.iter()).find(|e| e.id() == id)
}

/// The statements of operation `i`: the API call, then the runner's check of its outcome.
fn operation(file: &TestFile, op: &Operation, i: usize) -> Result<TokenStream, String> {
    operation_at(file, op, &At::Top(i))
}

/// Where an operation sits: in the test's `operations`, or in the callback of a
/// `withTransaction` (whose session the callback receives as `txn_session`).
pub(super) enum At<'a> {
    /// Operation `i` of the test.
    Top(usize),
    /// Operation `j` of the callback of operation `i`, a `withTransaction` on `session`.
    Callback {
        /// The `withTransaction` operation.
        i: usize,
        /// The operation within its callback.
        j: usize,
        /// The session entity the transaction runs in.
        session: &'a str,
    },
}

/// The statements of an operation at `at` (see [`operation`]).
pub(super) fn operation_at(file: &TestFile, op: &Operation, at: &At<'_>) -> Result<TokenStream, String> {
    let object = op.object.as_str();
    let i = match *at {
        At::Top(i) => i,
        // The callback ends or restarts the transaction of its own session.
        At::Callback { i, j, session } if object == session => {
            return super::transactions::callback_session_operation(op, i, j);
        }
        At::Callback { .. }
            if object == "testRunner" || matches!(entity_kind(file, object), Some(Entity::Session(_))) =>
        {
            return Err(format!(
                "operation {} inside a withTransaction callback not supported by the runner",
                op.name
            ));
        }
        At::Callback { i, .. } => i,
    };
    // createFindCursor takes find's arguments, whose `filter` is required (CRUD spec `find`).
    if op.name == "createFindCursor" {
        require(op, &["filter"])?;
    }
    if object == "testRunner" {
        return test_runner_operation(file, op, i);
    }
    if let Some(tokens) = super::cursors::operation(file, op, i)? {
        return Ok(tokens);
    }
    // An operation's own timeoutMS: the operation runs through a handle with that timeout
    // (the same inheritance: the operation's value overrides the handle's).
    let timeout = operation_timeout(file, op);
    let stripped;
    let op = match timeout {
        Some(_) => {
            let mut copy = op.clone();
            if let Some(arguments) = copy.arguments.as_mut() {
                arguments.remove("timeoutMS");
            }
            stripped = copy;
            &stripped
        }
        None => op,
    };
    let with_timeout = match timeout {
        Some(ms) => quote! { .with_timeout(::std::time::Duration::from_millis(#ms)) },
        None => quote! {},
    };
    let call = match entity_kind(file, object) {
        Some(Entity::Session(_)) => return super::transactions::session_operation(file, op, i),
        Some(Entity::Collection(_)) => collection_operation(op)?,
        Some(Entity::Database(_)) => database_operation(op)?,
        Some(Entity::Bucket(_)) => super::bucket::bucket_operation(op)?,
        Some(Entity::Client(_)) => super::index_ops::client_operation(op)?,
        Some(other) => return Err(format!("operation {} on a {} entity", op.name, other.kind())),
        None => return Err(format!("operation {}: object `{object}` is not an entity", op.name)),
    };
    let entity = match entity_kind(file, object) {
        Some(Entity::Collection(_)) => quote! { let coll = r.collection(#object)#with_timeout; },
        Some(Entity::Bucket(_)) => quote! { let bucket = r.bucket(#object); },
        Some(Entity::Client(_)) => quote! { let client = r.client(#object)#with_timeout; },
        _ => quote! { let db = r.database(#object)#with_timeout; },
    };
    let session = op.arguments.as_ref().and_then(|a| a.get("session"));
    let (lend, give_back) = match session {
        None => (quote! {}, quote! {}),
        Some(serde_json::Value::String(id)) => {
            if entity_kind(file, id).is_none_or(|e| !matches!(e, Entity::Session(_))) {
                return Err(format!("operation {}: `{id}` is not a session entity", op.name));
            }
            match at {
                // The transaction's own session is the callback's argument.
                At::Callback { session, .. } if session == id => {
                    (quote! { let mut session = &mut *txn_session; }, quote! {})
                }
                _ => (
                    quote! { let mut session = r.take_session(#id); },
                    quote! { r.put_session(#id, session); },
                ),
            }
        }
        Some(other) => {
            return Err(format!("operation {}: session argument {other} is not an entity id", op.name));
        }
    };
    let (args, check) = match *at {
        At::Top(i) => (quote! { r.op(#i) }, quote! { r.check(#i, result); }),
        // In a callback, the error goes back to withTransaction once checked.
        At::Callback { i, j, .. } => {
            (quote! { r.callback_op(#i, #j) }, quote! { r.check_in_callback(#i, #j, result)?; })
        }
    };
    Ok(quote! {
        {
            let o = #args;
            #entity
            #lend
            let result: ::std::result::Result<::bson::Bson, ::mongo_driver::error::Error> = async { #call }.await;
            #give_back
            #check
        }
    })
}

fn test_runner_operation(file: &TestFile, op: &Operation, i: usize) -> Result<TokenStream, String> {
    match op.name.as_str() {
        "failPoint" => {
            require(op, &["client", "failPoint"])?;
            Ok(quote! { r.fail_point(#i).await; })
        }
        "assertSessionDirty" | "assertSessionNotDirty" => {
            require(op, &["session"])?;
            let dirty = op.name == "assertSessionDirty";
            Ok(quote! { r.assert_session_dirty(#i, #dirty); })
        }
        "assertNumberConnectionsCheckedOut" => {
            require(op, &["client"])?;
            let client = op.arguments.as_ref().and_then(|a| a.get("client")).and_then(|c| c.as_str());
            if !matches!(client.and_then(|id| entity_kind(file, id)), Some(Entity::Client(_))) {
                let id = client.unwrap_or("<not a string>");
                return Err(format!("operation {}: client `{id}` is not a client entity", op.name));
            }
            require(op, &["connections"])?;
            Ok(quote! { r.assert_number_connections_checked_out(#i); })
        }
        "assertSameLsidOnLastTwoCommands" | "assertDifferentLsidOnLastTwoCommands" => {
            require(op, &["client"])?;
            let same = op.name == "assertSameLsidOnLastTwoCommands";
            Ok(quote! { r.assert_lsid_on_last_two_commands(#i, #same); })
        }
        name if super::transactions::is_test_runner_operation(name) => {
            super::transactions::test_runner_operation(op, i)
        }
        other => super::runner_ops::test_runner_operation(op, i)
            .or_else(|| super::event_ops::test_runner_operation(file, op, i))
            .unwrap_or_else(|| Err(format!("test runner operation {other} not supported by the runner"))),
    }
}

/// A cursor-returning call, collected into an array of documents.
pub(super) fn collect(call: TokenStream) -> TokenStream {
    quote! {
        match #call.await {
            Ok(cursor) => ::futures::TryStreamExt::try_collect::<::std::vec::Vec<::bson::Document>>(cursor)
                .await
                .map(R::documents),
            Err(e) => Err(e),
        }
    }
}

/// Maps a list of names to an array of strings.
pub(super) fn names() -> TokenStream {
    quote! { .map(|names| ::bson::Bson::Array(names.into_iter().map(::bson::Bson::String).collect())) }
}

pub(super) fn collection_operation(op: &Operation) -> Result<TokenStream, String> {
    let name = op.name.as_str();
    Ok(match name {
        "insertOne" => {
            require(op, &["document"])?;
            let opts = options_expr(op, "InsertOneOptions", &["document"], &[])?;
            quote! { coll.insert_one(o.doc("document"))#opts.await.map(|v| R::insert_one(&v)) }
        }
        "insertMany" => {
            require(op, &["documents"])?;
            let opts = options_expr(op, "InsertManyOptions", &["documents"], &[])?;
            quote! { coll.insert_many(o.docs("documents"))#opts.await.map(|v| R::insert_many(&v)) }
        }
        "updateOne" | "updateMany" => {
            require(op, &["filter", "update"])?;
            let opts = options_expr(op, "UpdateOptions", &["filter", "update"], &[])?;
            let method = format_ident!("{}", if name == "updateOne" { "update_one" } else { "update_many" });
            quote! { coll.#method(o.doc("filter"), o.update("update"))#opts.await.map(|v| R::update(&v)) }
        }
        "replaceOne" => {
            require(op, &["filter", "replacement"])?;
            let opts = options_expr(op, "ReplaceOptions", &["filter", "replacement"], &[])?;
            quote! { coll.replace_one(o.doc("filter"), o.doc("replacement"))#opts.await.map(|v| R::update(&v)) }
        }
        "deleteOne" | "deleteMany" => {
            require(op, &["filter"])?;
            let opts = options_expr(op, "DeleteOptions", &["filter"], &[])?;
            let method = format_ident!("{}", if name == "deleteOne" { "delete_one" } else { "delete_many" });
            quote! { coll.#method(o.doc("filter"))#opts.await.map(|v| R::delete(&v)) }
        }
        "find" => {
            let opts = options_expr(op, "FindOptions", &["filter"], &[])?;
            collect(quote! { coll.find(o.doc_or_empty("filter"))#opts })
        }
        "aggregate" => {
            require(op, &["pipeline"])?;
            let opts = options_expr(op, "AggregateOptions", &["pipeline"], &[])?;
            collect(quote! { coll.aggregate(o.docs("pipeline"))#opts })
        }
        // The CRUD spec's `findOne` (legacy formats): the first matching document or null.
        "findOne" => {
            let opts = options_expr(op, "FindOptions", &["filter"], &[])?;
            quote! { coll.find_one(o.doc_or_empty("filter"))#opts.await.map(R::optional_document) }
        }
        "distinct" => {
            require(op, &["fieldName", "filter"])?;
            let opts = options_expr(op, "DistinctOptions", &["fieldName", "filter"], &[])?;
            quote! { coll.distinct(&o.string("fieldName"), o.doc("filter"))#opts.await.map(R::values) }
        }
        "countDocuments" => {
            require(op, &["filter"])?;
            let opts = options_expr(op, "CountOptions", &["filter"], &[])?;
            quote! { coll.count_documents(o.doc("filter"))#opts.await.map(R::count) }
        }
        // The deprecated `count` helper (CRUD spec "Count API Details"), kept by the driver
        // as `Collection::count`.
        "count" => {
            require(op, &["filter"])?;
            let opts = options_expr(op, "CountOptions", &["filter"], &[])?;
            quote! { coll.count(o.doc("filter"))#opts.await.map(R::count) }
        }
        "estimatedDocumentCount" => {
            let opts = options_expr(op, "EstimatedDocumentCountOptions", &[], &[])?;
            quote! { coll.estimated_document_count()#opts.await.map(R::count) }
        }
        "findOneAndUpdate" | "findOneAndReplace" | "findOneAndDelete" => {
            let (second, call) = match name {
                "findOneAndUpdate" => {
                    ("update", quote! { find_one_and_update(o.doc("filter"), o.update("update")) })
                }
                "findOneAndReplace" => {
                    ("replacement", quote! { find_one_and_replace(o.doc("filter"), o.doc("replacement")) })
                }
                _ => ("filter", quote! { find_one_and_delete(o.doc("filter")) }),
            };
            require(op, &["filter", second])?;
            let return_document = if name == "findOneAndDelete" {
                Vec::new()
            } else {
                vec![(
                    "returnDocument",
                    quote! { .return_document_after(o.return_document_after("returnDocument")) },
                )]
            };
            let opts = options_expr(op, "FindOneAndModifyOptions", &["filter", second], &return_document)?;
            quote! { coll.#call #opts.await.map(R::optional_document) }
        }
        "rename" => {
            require(op, &["to"])?;
            let mut drop_target = quote! {};
            for key in op.arguments.iter().flat_map(|a| a.keys()) {
                match key.as_str() {
                    "to" => {}
                    "dropTarget" => drop_target = quote! { .drop_target(o.bool("dropTarget")) },
                    other => {
                        return Err(format!(
                            "operation rename: argument `{other}` not supported by the runner"
                        ));
                    }
                }
            }
            quote! { coll.rename(&o.string("to"))#drop_target.await.map(|()| ::bson::Bson::Null) }
        }
        "bulkWrite" => {
            require(op, &["requests"])?;
            check_write_models(op)?;
            let opts = options_expr(op, "BulkWriteOptions", &["requests"], &[])?;
            quote! { coll.bulk_write(o.write_models("requests"))#opts.await.map(|v| R::bulk_write(&v)) }
        }
        other => match super::index_ops::collection_operation(op) {
            Some(call) => call?,
            None => return Err(format!("operation {other} not supported by the runner")),
        },
    })
}

/// The write models and fields the driver's `WriteModel` can express (CRUD spec "Write
/// Models").
fn check_write_models(op: &Operation) -> Result<(), String> {
    let requests = op.arguments.as_ref().and_then(|a| a.get("requests")).and_then(|r| r.as_array());
    for request in requests.into_iter().flatten() {
        let Some(model) = request.as_object() else { continue };
        for (kind, fields) in model {
            let allowed: &[&str] = match kind.as_str() {
                "insertOne" => &["document"],
                "updateOne" | "updateMany" => {
                    &["filter", "update", "upsert", "arrayFilters", "collation", "hint"]
                }
                "replaceOne" => &["filter", "replacement", "upsert", "collation", "hint"],
                "deleteOne" | "deleteMany" => &["filter", "collation", "hint"],
                other => return Err(format!("bulkWrite: write model {other} unknown")),
            };
            for key in fields.as_object().into_iter().flat_map(|f| f.keys()) {
                if !allowed.contains(&key.as_str()) {
                    return Err(format!(
                        "bulkWrite: {kind} field `{key}` not supported by the driver's WriteModel"
                    ));
                }
            }
        }
    }
    Ok(())
}

pub(super) fn database_operation(op: &Operation) -> Result<TokenStream, String> {
    let name = op.name.as_str();
    let session = match op.arguments.as_ref().is_some_and(|a| a.contains_key("session")) {
        true => quote! { .session(&mut session) },
        false => quote! {},
    };
    let no_other = |positional: &[&str]| -> Result<(), String> {
        for key in op.arguments.iter().flat_map(|a| a.keys()) {
            if !positional.contains(&key.as_str()) && key != "session" {
                return Err(format!("operation {name}: argument `{key}` not supported by the runner"));
            }
        }
        Ok(())
    };
    Ok(match name {
        "runCommand" => {
            require(op, &["command", "commandName"])?;
            no_other(&["command", "commandName", "readPreference"])?;
            let rp = match op.arguments.as_ref().is_some_and(|a| a.contains_key("readPreference")) {
                true => quote! { .selection_criteria(o.read_preference("readPreference")) },
                false => quote! {},
            };
            quote! { db.run_command(o.doc("command"))#rp #session.await.map(::bson::Bson::Document) }
        }
        "aggregate" => {
            require(op, &["pipeline"])?;
            let opts = options_expr(op, "AggregateOptions", &["pipeline"], &[])?;
            collect(quote! { db.aggregate(o.docs("pipeline"))#opts })
        }
        "createCollection" => {
            require(op, &["collection"])?;
            let mut setters = Vec::new();
            for key in op.arguments.iter().flat_map(|a| a.keys()) {
                let (setter, method) = match key.as_str() {
                    "collection" => continue,
                    "session" => continue,
                    "viewOn" => ("view_on", quote! { string }),
                    "pipeline" => ("pipeline", quote! { docs }),
                    "capped" => ("capped", quote! { bool }),
                    "size" => ("size", quote! { i64 }),
                    "max" => ("max", quote! { i64 }),
                    "validator" => ("validator", quote! { doc }),
                    "validationLevel" => ("validation_level", quote! { string }),
                    "validationAction" => ("validation_action", quote! { string }),
                    "collation" => ("collation", quote! { doc }),
                    "timeseries" => ("timeseries", quote! { doc }),
                    "expireAfterSeconds" => ("expire_after_seconds", quote! { i64 }),
                    "clusteredIndex" => ("clustered_index", quote! { doc }),
                    "changeStreamPreAndPostImages" => ("change_stream_pre_and_post_images", quote! { doc }),
                    other => {
                        return Err(format!(
                            "operation {name}: argument `{other}` not supported by the runner"
                        ));
                    }
                };
                let setter = format_ident!("{}", setter);
                setters.push(quote! { .#setter(o.#method(#key)) });
            }
            quote! {
                db.create_collection(&o.string("collection"))
                    .with_options(::mongo_driver::options::CreateCollectionOptions::default() #(#setters)*)
                    #session
                    .await
                    .map(|_| ::bson::Bson::Null)
            }
        }
        "dropCollection" => {
            require(op, &["collection"])?;
            no_other(&["collection"])?;
            if op.arguments.as_ref().is_some_and(|a| a.contains_key("session")) {
                return Err(format!(
                    "operation {name}: a session on dropCollection not supported by the runner"
                ));
            }
            quote! { db.collection::<::bson::Document>(&o.string("collection")).drop().await.map(|_| ::bson::Bson::Null) }
        }
        "listCollectionNames" => {
            no_other(&["filter"])?;
            let names = names();
            quote! { db.list_collection_names().filter(o.doc_or_empty("filter"))#session.await #names }
        }
        // `listCollectionObjects`: the same command, for drivers whose `listCollections`
        // returns another type (retryable reads spec).
        "listCollections" | "listCollectionObjects" => super::index_ops::list_collections(op)?,
        "modifyCollection" => {
            // The driver has no collMod helper: the runner sends the command (collection
            // management spec; the server checks the options).
            require(op, &["collection"])?;
            let keys: Vec<&str> = op
                .arguments
                .iter()
                .flat_map(|a| a.keys())
                .map(String::as_str)
                .filter(|k| !matches!(*k, "collection" | "session"))
                .collect();
            quote! {
                {
                    let mut command = ::bson::doc! { "collMod": o.string("collection") };
                    #( command.insert(#keys, o.bson(#keys)); )*
                    db.run_command(command) #session .await.map(|_| ::bson::Bson::Null)
                }
            }
        }
        other => return Err(format!("database operation {other} not supported by the runner")),
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

fn known_failure(spec_file: &str, description: &str) -> Option<&'static str> {
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

    fn req(json: &str) -> RunOnRequirement {
        match serde_json::from_str(json) {
            Ok(r) => r,
            Err(e) => panic!("{json}: {e}"),
        }
    }

    #[test]
    fn deployments_follow_run_on_requirements() {
        let any = choose_deployment(None, None);
        // The newest simulated release at the pin (spec-data/pin.toml: 6.0), not 7.0.
        assert_eq!(any, Ok((SimTopology::ReplicaSet, (6, 0))));
        let listed = [req(r#"{"topologies": ["single", "replicaset"], "maxServerVersion": "4.2.99"}"#)];
        assert_eq!(choose_deployment(Some(&listed), None), Ok((SimTopology::Single, (4, 2))));
        // The case's requirements narrow the file's.
        let case = [req(r#"{"topologies": ["replicaset"], "minServerVersion": "4.1.0"}"#)];
        assert_eq!(choose_deployment(Some(&listed), Some(&case)), Ok((SimTopology::ReplicaSet, (4, 2))));
        // Any one of a list may be met: serverless is skipped for the next entry.
        let either = [req(r#"{"serverless": "require"}"#), req(r#"{"topologies": ["sharded"]}"#)];
        assert_eq!(choose_deployment(None, Some(&either)), Ok((SimTopology::Sharded, (6, 0))));
        let balanced = [req(r#"{"topologies": ["load-balanced"]}"#)];
        assert_eq!(choose_deployment(None, Some(&balanced)), Ok((SimTopology::LoadBalanced, (6, 0))));
        let old = [req(r#"{"maxServerVersion": "3.4.99"}"#)];
        assert!(choose_deployment(Some(&old), None).is_err_and(|e| e.contains("version")));
        let params =
            [req(r#"{"serverParameters": {"enableTestCommands": true, "requireApiVersion": false}}"#)];
        assert_eq!(choose_deployment(None, Some(&params)), Ok((SimTopology::ReplicaSet, (6, 0))));
        let v2 = [req(r#"{"serverParameters": {"acceptApiVersion2": true}}"#)];
        assert!(choose_deployment(None, Some(&v2)).is_err_and(|e| e.contains("acceptApiVersion2")));
        let serverless = [req(r#"{"serverless": "require"}"#)];
        assert!(choose_deployment(None, Some(&serverless)).is_err_and(|e| e.contains("serverless")));
    }

    fn session_file(session_arg: &str) -> TestFile {
        let text = format!(
            r#"{{"description": "d", "schemaVersion": "1.0",
            "createEntities": [
                {{"client": {{"id": "c"}}}},
                {{"database": {{"id": "db", "client": "c", "databaseName": "d"}}}},
                {{"collection": {{"id": "coll", "database": "db", "collectionName": "x"}}}},
                {{"session": {{"id": "s", "client": "c", "sessionOptions": {{"snapshot": true}}}}}}
            ],
            "tests": [{{"description": "t", "operations": [
                {{"name": "insertOne", "object": "coll", "arguments": {{"session": "{session_arg}", "document": {{}}}}}},
                {{"name": "assertSessionDirty", "object": "testRunner", "arguments": {{"session": "s"}}}},
                {{"name": "assertDifferentLsidOnLastTwoCommands", "object": "testRunner", "arguments": {{"client": "c"}}}},
                {{"name": "endSession", "object": "s"}}
            ]}}]}}"#
        );
        crate::unified::test_support::parse_ok(&text)
    }

    #[test]
    fn session_operations_are_emitted() {
        let file = session_file("s");
        let (status, body) = generate_case(&file, &file.tests[0], 0, "f.json", "m::t");
        assert!(matches!(status, Status::Run), "{status:?}");
        let body = body.to_string();
        for call in [
            "take_session (\"s\")",
            ". session (& mut session)",
            "put_session (\"s\" , session)",
            "assert_session_dirty (1usize , true)",
            "assert_lsid_on_last_two_commands (2usize , false)",
            "end_session (\"s\")",
        ] {
            assert!(body.contains(call), "{call} missing from {body}");
        }
        // A session argument naming another kind of entity is not emitted.
        let wrong = session_file("coll");
        let (status, _) = generate_case(&wrong, &wrong.tests[0], 0, "f.json", "m::t");
        assert!(matches!(&status, Status::Ignored(r) if r.contains("not a session entity")), "{status:?}");
    }

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
