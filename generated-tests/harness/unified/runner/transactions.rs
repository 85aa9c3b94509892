//! Transactions in the unified runner (unified-test-format.rst "Session Operations" —
//! `withTransaction` callbacks — and the special test operations
//! `assertSessionTransactionState`, `assertSessionPinned`, `assertSessionUnpinned` and
//! `targetedFailPoint`).

use std::time::Duration;

use bson::{Bson, Document};
use mongo_driver::error::Error;
use mongo_driver::options::{ReadConcern, ReadPreference, ReadPreferenceMode};
use mongo_driver::session::{ClientSession, TransactionOptions};
use spec_codegen::unified::model::Operation;

use super::{Args, Runner, ejson_doc, write_concern};

/// Transaction options from their document (`readConcern`, `writeConcern`,
/// `readPreference`, `maxCommitTimeMS`); `here` locates it in failure messages.
pub(super) fn options(here: &str, d: &Document) -> TransactionOptions {
    let mut options = TransactionOptions::default();
    for (key, value) in d {
        options = match (key.as_str(), value) {
            ("readConcern", Bson::Document(rc)) => match rc.get_str("level") {
                Ok(level) => options.read_concern(ReadConcern::custom(level)),
                Err(_) => panic!("{here}/readConcern: no level"),
            },
            ("writeConcern", Bson::Document(wc)) => options.write_concern(write_concern(wc)),
            ("readPreference", Bson::Document(rp)) => {
                let mode = rp.get_str("mode").unwrap_or("primary");
                match mode.parse::<ReadPreferenceMode>() {
                    Ok(mode) if rp.len() == 1 => options.read_preference(ReadPreference::new(mode)),
                    Ok(_) => panic!("{here}/readPreference: only `mode` is supported by the runner"),
                    Err(e) => panic!("{here}/readPreference: {e}"),
                }
            }
            ("maxCommitTimeMS", v) => match v.as_i64().or_else(|| v.as_i32().map(i64::from)) {
                Some(ms) if ms >= 0 => options.max_commit_time(Duration::from_millis(ms as u64)),
                _ => panic!("{here}/maxCommitTimeMS: expected a non-negative integer, found {v}"),
            },
            (other, v) => panic!("{here}/{other}: {v} not supported as a transaction option"),
        };
    }
    options
}

impl Runner {
    fn operation_here(&self, i: usize) -> String {
        format!("{}#/tests/{}/operations/{i}", self.path.display(), self.case)
    }

    fn session_entity(&self, i: usize, args: &Args) -> &ClientSession {
        let id = args.string("session");
        match self.sessions.get(&id) {
            Some(s) => s,
            None => panic!("{}: session entity `{id}` is not defined", self.operation_here(i)),
        }
    }

    /// The transaction options among the arguments of operation `i` (`startTransaction`,
    /// `withTransaction`); `None` when there are none.
    pub fn transaction_options(&self, i: usize) -> Option<TransactionOptions> {
        let mut args = self.op(i).arguments;
        args.remove("callback");
        // withTransaction's own timeoutMS is no transaction option (the generator passes it).
        args.remove("timeoutMS");
        (!args.is_empty()).then(|| options(&format!("{}/arguments", self.operation_here(i)), &args))
    }

    /// The transaction options of a `startTransaction` that is operation `j` of the
    /// `withTransaction` callback of operation `i`; `None` when it has none.
    pub fn callback_transaction_options(&self, i: usize, j: usize) -> Option<TransactionOptions> {
        let args = self.callback_op(i, j);
        let here = format!("{}/arguments/callback/{j}/arguments", self.operation_here(i));
        (!args.arguments.is_empty()).then(|| options(&here, &args.arguments))
    }

    /// Operation `j` of the `withTransaction` callback of operation `i`.
    fn callback_operation(&self, i: usize, j: usize) -> Operation {
        let here = format!("{}/arguments/callback/{j}", self.operation_here(i));
        let value = self.test().operations[i]
            .arguments
            .as_ref()
            .and_then(|a| a.get("callback"))
            .and_then(|c| c.as_array())
            .and_then(|c| c.get(j))
            .cloned()
            .unwrap_or_else(|| panic!("{here}: no such callback operation"));
        serde_json::from_value(value).unwrap_or_else(|e| panic!("{here}: {e}"))
    }

    /// The arguments of operation `j` of the `withTransaction` callback of operation `i`.
    pub fn callback_op(&self, i: usize, j: usize) -> Args {
        let pointer = format!("/tests/{}/operations/{i}/arguments/callback/{j}/arguments", self.case);
        let arguments = self
            .callback_operation(i, j)
            .arguments
            .as_ref()
            .map(|a| ejson_doc(&self.path, &pointer, a))
            .unwrap_or_default();
        Args { path: self.path.clone(), pointer, arguments }
    }

    /// Checks the outcome of operation `j` of the `withTransaction` callback of operation
    /// `i` (like [`Runner::check`]); an error, once checked, is returned for the callback to
    /// propagate to `withTransaction` (which may retry on it).
    pub fn check_in_callback(
        &mut self,
        i: usize,
        j: usize,
        result: Result<Bson, Error>,
    ) -> Result<(), Error> {
        let op = self.callback_operation(i, j);
        let pointer = format!("/tests/{}/operations/{i}/arguments/callback/{j}", self.case);
        self.check_operation(&op, &pointer, result)
    }

    /// `assertSessionTransactionState` (operation `i`).
    pub fn assert_session_transaction_state(&self, i: usize) {
        let args = self.op(i);
        let expected = args.string("state");
        let actual = self.session_entity(i, &args).transaction_state();
        assert_eq!(actual.as_str(), expected, "{}: transaction state", self.operation_here(i));
    }

    /// `assertSessionPinned` (`pinned`) / `assertSessionUnpinned` (operation `i`).
    pub fn assert_session_pinned(&self, i: usize, pinned: bool) {
        let args = self.op(i);
        let server = self.session_entity(i, &args).pinned_server();
        assert_eq!(server.is_some(), pinned, "{}: session pinned to {server:?}", self.operation_here(i));
    }

    /// `targetedFailPoint` (operation `i`): `configureFailPoint` on the mongos the session
    /// is pinned to, through a client connected to that mongos alone. A simulated deployment
    /// lives only for this case, so that client is closed at once; on a real deployment it
    /// is kept for [`Runner::finish`] to turn the fail point off on the same mongos.
    pub async fn targeted_fail_point(&mut self, i: usize) {
        let args = self.op(i);
        let here = self.operation_here(i);
        let Some(address) = self.session_entity(i, &args).pinned_server() else {
            panic!("{here}: the session is not pinned to a mongos")
        };
        let command = args.doc("failPoint");
        let name = command.get_str("configureFailPoint").unwrap_or_default().to_string();
        let uri = format!("mongodb://{address}/?directConnection=true");
        let client = self
            .deployment
            .client_builder(&uri)
            .build()
            .unwrap_or_else(|e| panic!("{here}: client {uri}: {e}"));
        let result =
            client.database("admin").run_command(command).selection_criteria(ReadPreference::primary()).await;
        if let Err(e) = result {
            panic!("{here}: configureFailPoint on {address} failed: {e}");
        }
        if self.deployment.is_simulated() {
            client.shutdown().await;
        } else {
            self.fail_points.push((client, name));
        }
    }
}
