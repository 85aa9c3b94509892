//! One unified case as a generated test (`unified-test-format.rst`, "Executing a Test"):
//! the runner started on the chosen deployment, one block per operation, then the runner's
//! checks of events and outcome; a case the runner cannot run yet is ignored with why.

use proc_macro2::TokenStream;
use quote::quote;

use super::deployment::{SimTopology, choose_deployment, requires_auth, sim_tokens};
use super::model::{Entity, NonEmpty, TestCase, TestFile};
use super::operations::operation;
use super::support::operation_timeout;
use super::unsupported::{
    known_failure, no_abort_after_callback_timeout, timeout_argument, unsupported_entities,
    unsupported_events, unsupported_expectations,
};
use crate::Status;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unified::test_support::{assert_emits, emitted};

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
        assert_emits(
            &file,
            &[
                "take_session (\"s\")",
                ". session (& mut session)",
                "put_session (\"s\" , session)",
                "assert_session_dirty (1usize , true)",
                "assert_lsid_on_last_two_commands (2usize , false)",
                "end_session (\"s\")",
            ],
        );
        // A session argument naming another kind of entity is not emitted.
        let wrong = session_file("coll");
        let (status, _) = emitted(&wrong);
        assert!(matches!(&status, Status::Ignored(r) if r.contains("not a session entity")), "{status:?}");
    }
}
