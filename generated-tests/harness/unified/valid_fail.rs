//! Running the Unified Test Format's `tests/valid-fail` cases (the tests' README: these
//! files "should produce runtime errors or failures when executed with a test runner"):
//! a case runs as usual, and its test passes only if the runner reported a
//! [`RunnerFailure`] of the expected kind and reason.

use std::cell::RefCell;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;

use super::failure::{FailureKind, RunnerFailure, from_panic, panic_message};

/// How a case ended.
#[derive(Debug)]
pub enum Outcome {
    /// It ran to the end without a failure.
    Passed,
    /// The runner skipped it (its `runOnRequirements` are not met by the deployment).
    Skipped(String),
    /// The runner reported a failure.
    Failed(RunnerFailure),
    /// It panicked with something other than a [`RunnerFailure`] (a harness bug).
    Panicked(String),
}

thread_local! {
    /// Why the runner skipped the case running on this thread, if it did.
    static SKIPPED: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Records that the runner skipped the running case (read by [`run`]).
pub fn record_skip(reason: &str) {
    SKIPPED.with(|s| *s.borrow_mut() = Some(reason.to_string()));
}

/// Runs a case's body on the current task (a `#[tokio::test]`'s thread) and says how it
/// ended.
pub async fn run(case: impl Future<Output = ()>) -> Outcome {
    SKIPPED.with(|s| s.borrow_mut().take());
    let result = AssertUnwindSafe(case).catch_unwind().await;
    let skipped = SKIPPED.with(|s| s.borrow_mut().take());
    match result {
        Ok(()) => match skipped {
            Some(reason) => Outcome::Skipped(reason),
            None => Outcome::Passed,
        },
        Err(payload) => match from_panic(payload.as_ref()) {
            Some(failure) => Outcome::Failed(failure.clone()),
            None => Outcome::Panicked(panic_message(payload.as_ref())),
        },
    }
}

/// Asserts that case `case` of `valid-fail/<file>` was failed by the runner with a
/// failure of `kind` whose location and message contain every one of `reasons`. A case the runner
/// skipped (requirements unmet on a real deployment, see `MONGODB_URI`) is not a verdict
/// and passes with a note.
pub fn assert_reported(spec_file: &str, case: usize, outcome: Outcome, kind: FailureKind, reasons: &[&str]) {
    let at = format!("{spec_file} case {case}");
    match outcome {
        Outcome::Failed(failure) => {
            assert_eq!(
                failure.kind, kind,
                "{at}: the runner failed, but with a {:?} failure instead of {kind:?}: {failure}",
                failure.kind
            );
            let shown = failure.to_string();
            let missing: Vec<&&str> = reasons.iter().filter(|r| !shown.contains(**r)).collect();
            assert!(
                missing.is_empty(),
                "{at}: the runner failed, but not for the expected reason (missing {missing:?}): {failure}"
            );
        }
        Outcome::Skipped(reason) => eprintln!("{at}: skipped ({reason}); no verdict"),
        Outcome::Passed => panic!("{at}: a valid-fail case passed: the runner reported no failure"),
        Outcome::Panicked(message) => {
            panic!("{at}: the case panicked without a runner failure (a harness bug?): {message}")
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::unified::deployment::Target;
    use crate::unified::runner::{Outcome as R, Runner, Sim};
    use mongo_sim::ServerVersion;

    /// A unified test file of our own, written to the temp directory.
    pub(crate) fn temp_file(name: &str, text: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!("conformance-{}-{name}.json", std::process::id()));
        if let Err(e) = std::fs::write(&path, text) {
            panic!("cannot write {}: {e}", path.display());
        }
        path
    }

    /// `insertOne {_id: id}` into a collection holding `{_id: 1}`, with `expectation`
    /// (an `expectResult` or `expectError` member).
    fn insert_one_expecting(id: i32, expectation: &str) -> String {
        format!(
            r#"{{"description": "d", "schemaVersion": "1.0",
            "createEntities": [
                {{"client": {{"id": "c"}}}},
                {{"database": {{"id": "db", "client": "c", "databaseName": "vf"}}}},
                {{"collection": {{"id": "coll", "database": "db", "collectionName": "x"}}}}
            ],
            "initialData": [{{"databaseName": "vf", "collectionName": "x", "documents": [{{"_id": 1}}]}}],
            "tests": [{{"description": "t", "operations": [
                {{"name": "insertOne", "object": "coll", "arguments": {{"document": {{"_id": {id}}}}},
                  {expectation}}}
            ]}}]}}"#
        )
    }

    async fn insert_one_case(path: PathBuf) {
        let target = Target::Simulated;
        let Some(mut r) = Runner::start_on(path, 0, Sim::Single, ServerVersion::V7_0, target).await else {
            return;
        };
        let o = r.op(0);
        let result = r.collection("coll").insert_one(o.doc("document")).await.map(|v| R::insert_one(&v));
        r.check(0, result);
    }

    #[tokio::test]
    async fn a_mismatch_is_reported_and_a_match_is_not() {
        let matching = temp_file("match", &insert_one_expecting(2, r#""expectResult": {"insertedId": 2}"#));
        let outcome = run(insert_one_case(matching.clone())).await;
        assert!(matches!(outcome, Outcome::Passed), "{outcome:?}");
        let mismatching =
            temp_file("mismatch", &insert_one_expecting(2, r#""expectResult": {"insertedId": 3}"#));
        let outcome = run(insert_one_case(mismatching.clone())).await;
        let Outcome::Failed(failure) = &outcome else { panic!("not reported: {outcome:?}") };
        assert_eq!(failure.kind, FailureKind::Mismatch, "{failure}");
        assert!(failure.message.contains("result mismatch"), "{failure}");
        assert!(failure.at.ends_with("#/tests/0/operations/0 (insertOne)"), "{failure}");
        let _ = std::fs::remove_file(matching);
        let _ = std::fs::remove_file(mismatching);
        // The valid-fail check accepts it for that reason only.
        assert_reported("f", 0, outcome, FailureKind::Mismatch, &["result mismatch"]);

        // The same for an expected error: the duplicate key error has code 11000.
        let matching =
            temp_file("error-match", &insert_one_expecting(1, r#""expectError": {"errorCode": 11000}"#));
        let outcome = run(insert_one_case(matching.clone())).await;
        assert!(matches!(outcome, Outcome::Passed), "{outcome:?}");
        let mismatching =
            temp_file("error-mismatch", &insert_one_expecting(1, r#""expectError": {"errorCode": 12}"#));
        let outcome = run(insert_one_case(mismatching.clone())).await;
        assert!(
            matches!(&outcome, Outcome::Failed(f) if f.kind == FailureKind::Mismatch && f.message.contains("errorCode 12")),
            "{outcome:?}"
        );
        let _ = std::fs::remove_file(matching);
        let _ = std::fs::remove_file(mismatching);
    }

    fn verdict(outcome: Outcome, kind: FailureKind, reasons: &[&str]) -> Result<(), String> {
        std::panic::catch_unwind(AssertUnwindSafe(|| assert_reported("f", 0, outcome, kind, reasons)))
            .map_err(|p| panic_message(p.as_ref()))
    }

    #[test]
    fn only_the_expected_failure_counts() {
        let failure = || {
            Outcome::Failed(RunnerFailure {
                kind: FailureKind::OperationError,
                at: "f#/tests/0/operations/0".into(),
                message: "unexpected error: no such command (code Some(59))".into(),
            })
        };
        assert!(verdict(failure(), FailureKind::OperationError, &["no such command", "59"]).is_ok());
        let e = verdict(failure(), FailureKind::Mismatch, &[]).unwrap_err();
        assert!(e.contains("instead of Mismatch"), "{e}");
        let e = verdict(failure(), FailureKind::OperationError, &["duplicate key"]).unwrap_err();
        assert!(e.contains("not for the expected reason"), "{e}");
        let e = verdict(Outcome::Passed, FailureKind::OperationError, &[]).unwrap_err();
        assert!(e.contains("reported no failure"), "{e}");
        let e = verdict(Outcome::Panicked("index out of bounds".into()), FailureKind::OperationError, &[])
            .unwrap_err();
        assert!(e.contains("harness bug"), "{e}");
    }

    #[tokio::test]
    async fn an_ordinary_panic_is_not_a_runner_failure() {
        let outcome = run(async { panic!("a harness bug") }).await;
        assert!(matches!(&outcome, Outcome::Panicked(m) if m == "a harness bug"), "{outcome:?}");
        let outcome =
            run(async { super::super::failure::fail(FailureKind::Entity, "here", "no client") }).await;
        assert!(matches!(&outcome, Outcome::Failed(f) if f.kind == FailureKind::Entity), "{outcome:?}");
    }
}
