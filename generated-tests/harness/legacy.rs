//! Runtime support for the suites in the Transactions-spec ("legacy") test format
//! (`transactions/tests/README.rst`): a case runs through the unified runner
//! ([`crate::unified::runner`]) once per simulated deployment the generator listed.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use mongo_sim::ServerVersion;

use crate::unified::deployment::{Sim, Target};
use crate::unified::failure::panic_message;

/// Runs one pass of a case on the simulated `sim` at `version`; a failure is re-raised
/// naming that deployment. Returns whether to go on with the next deployment: against
/// `MONGODB_URI` every pass would run on the same deployment, so only the first runs.
pub async fn on_deployment(sim: Sim, version: ServerVersion, run: impl Future<Output = ()>) -> bool {
    let simulated = Target::from_env() == Target::Simulated;
    match AssertUnwindSafe(run).catch_unwind().await {
        Ok(()) => simulated,
        Err(panic) if !simulated => std::panic::resume_unwind(panic),
        Err(panic) => {
            let message = panic_message(panic.as_ref());
            panic!("on the simulated {sim:?} deployment, server {}: {message}", version.version_string())
        }
    }
}
