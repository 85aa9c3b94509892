//! How the unified runner reports that a test failed (`unified-test-format.rst`, "Executing
//! a Test" and the `valid-fail` tests: a runner MUST fail on an unexpected error, an
//! unsupported operation or entity, a malformed argument, or an unmet expectation).
//!
//! The runner stops the test by panicking with a [`RunnerFailure`] payload
//! ([`std::panic::panic_any`]), so an ordinary test still fails with a clear message, while
//! the `valid-fail` tests (see [`super::valid_fail`]) can tell a failure the runner
//! reported, and why, from any other panic (a bug in the harness).

use std::fmt;
use std::sync::Once;

/// Why the runner failed a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The case cannot run as written: an operation the generator could not emit (an
    /// unsupported operation, or a malformed one: a missing required argument, an object
    /// or argument naming no suitable entity), or an entity the runner does not support.
    CannotRun,
    /// An operation's argument is malformed (wrong type, invalid enum value, missing).
    InvalidArgument,
    /// An entity cannot be created (undefined reference, options the driver rejects).
    Entity,
    /// An operation failed although the test expected no error.
    OperationError,
    /// A result, error, event, outcome or assertion differs from the test's expectation.
    Mismatch,
}

impl FailureKind {
    /// The kind named `name` (its variant name), if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "CannotRun" => Self::CannotRun,
            "InvalidArgument" => Self::InvalidArgument,
            "Entity" => Self::Entity,
            "OperationError" => Self::OperationError,
            "Mismatch" => Self::Mismatch,
            _ => return None,
        })
    }
}

/// A failure the runner reports: its kind, where in the test file (`file#pointer`), and
/// the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunnerFailure {
    /// Why the test failed.
    pub kind: FailureKind,
    /// The file and JSON pointer of the failing part of the test.
    pub at: String,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for RunnerFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {:?}: {}", self.at, self.kind, self.message)
    }
}

/// Fails the running test with a [`RunnerFailure`].
#[track_caller]
pub fn fail(kind: FailureKind, at: impl Into<String>, message: impl Into<String>) -> ! {
    install_hook();
    std::panic::panic_any(RunnerFailure { kind, at: at.into(), message: message.into() })
}

/// Fails the running test with a [`FailureKind::Mismatch`] at `at` unless `ok`.
#[track_caller]
pub fn ensure(ok: bool, at: &str, message: impl FnOnce() -> String) {
    if !ok {
        fail(FailureKind::Mismatch, at, message());
    }
}

/// Installs (once per process) a panic hook that prints a [`RunnerFailure`] payload like
/// a panic message; every other panic goes to the hook that was installed before.
fn install_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| match info.payload().downcast_ref::<RunnerFailure>() {
            Some(failure) => {
                let thread = std::thread::current();
                let location = info.location().map(|l| format!(" at {l}")).unwrap_or_default();
                eprintln!(
                    "thread '{}' panicked{location}:\nunified runner: test failed: {failure}",
                    thread.name().unwrap_or("<unnamed>")
                );
            }
            None => previous(info),
        }));
    });
}

/// The [`RunnerFailure`] a panic carried, if it was one.
pub fn from_panic(payload: &(dyn std::any::Any + Send)) -> Option<&RunnerFailure> {
    payload.downcast_ref::<RunnerFailure>()
}

/// A panic's message, for reporting a panic that is not a [`RunnerFailure`].
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(f) = from_panic(payload) {
        f.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else {
        "<a panic without a message>".to_string()
    }
}
