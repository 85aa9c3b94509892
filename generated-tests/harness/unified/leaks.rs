//! Sessions spec prose test 10 ("No remaining sessions are checked out after each functional
//! test"): after a case has ended its session entities and closed its cursors, no client has
//! a server session or a connection checked out.

use std::time::Duration;

use tokio::time::Instant;

use mongo_driver::Client;

/// What one client still has checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leak {
    /// The client's name (its entity id).
    pub client: String,
    /// Server sessions in use (explicit sessions not ended, implicit ones of running operations
    /// or open cursors).
    pub sessions: usize,
    /// Connections checked out of the client's pools.
    pub connections: usize,
}

/// Waits up to `within` until none of `clients` has a session or connection checked out
/// (ending a session with a transaction in progress returns its server session only after
/// the `abortTransaction` it sends, and a dropped cursor's `killCursors` runs in the
/// background); returns what is still checked out then, if anything. The deadline is on the
/// tokio clock, which a virtual-clock case (CSOT) advances itself.
pub async fn checked_out(clients: &[(&str, &Client)], within: Duration) -> Vec<Leak> {
    let deadline = Instant::now() + within;
    loop {
        let leaks: Vec<Leak> = clients
            .iter()
            .map(|(name, c)| Leak {
                client: (*name).to_owned(),
                sessions: c.checked_out_sessions(),
                connections: c.checked_out_connections(),
            })
            .filter(|l| l.sessions > 0 || l.connections > 0)
            .collect();
        if leaks.is_empty() || Instant::now() >= deadline {
            return leaks;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The failure message for `leaks` (empty when there are none).
pub fn describe(leaks: &[Leak]) -> String {
    leaks
        .iter()
        .map(|l| {
            format!(
                "client `{}` has {} session(s) and {} connection(s) still checked out",
                l.client, l.sessions, l.connections
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use futures::FutureExt;
    use mongo_sim::ServerVersion;

    use super::super::failure::RunnerFailure;
    use super::super::runner::{Runner, Sim};

    const FILE: &str = r#"{"description": "leak check", "schemaVersion": "1.4",
        "createEntities": [{"client": {"id": "client0"}}, {"session": {"id": "session0", "client": "client0"}}],
        "tests": [{"description": "t", "operations": []}]}"#;

    fn file() -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("conformance-{}-leak-check.json", std::process::id()));
        std::fs::write(&path, FILE).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        path
    }

    async fn runner() -> Runner {
        match Runner::start(file(), 0, Sim::ReplicaSet, ServerVersion::V6_0).await {
            Some(r) => r,
            None => panic!("the leak-check case was skipped"),
        }
    }

    /// A case that keeps a session checked out past its end fails the runner's check; the
    /// same case with the session left to the runner (which ends it) passes.
    #[tokio::test]
    async fn a_session_kept_past_the_case_fails_it() {
        runner().await.finish_with(None).await;

        let mut leaking = runner().await;
        let kept = leaking.take_session("session0");
        let outcome = std::panic::AssertUnwindSafe(leaking.finish_with(None)).catch_unwind().await;
        drop(kept);
        let Err(payload) = outcome else { panic!("a leaked session went unnoticed") };
        let Some(failure) = payload.downcast_ref::<RunnerFailure>() else {
            panic!("the runner failed otherwise than with a RunnerFailure")
        };
        assert!(failure.message.contains("prose test 10"), "{failure}");
        assert!(failure.message.contains("client `client0` has 1 session(s)"), "{failure}");
    }
}
