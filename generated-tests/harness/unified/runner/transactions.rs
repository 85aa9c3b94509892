//! Transactions in the unified runner (unified-test-format.rst "Session Operations" —
//! `withTransaction` callbacks — and the special test operations
//! `assertSessionTransactionState`, `assertSessionPinned`, `assertSessionUnpinned` and
//! `targetedFailPoint`).

use bson::Bson;
use mongo_driver::error::Error;
use mongo_driver::options::ReadPreference;
use mongo_driver::session::{ClientSession, TransactionOptions};
use spec_codegen::unified::model::Operation;

use super::Runner;
use super::args::Args;
use super::convert::transaction_options;

impl Runner {
    fn session_entity(&self, i: usize, args: &Args) -> &ClientSession {
        let id = args.string("session");
        match self.sessions.get(&id) {
            Some(s) => s,
            None => panic!("{}: session entity `{id}` is not defined", self.at_op(i)),
        }
    }

    /// The transaction options among the arguments of operation `i` (`startTransaction`,
    /// `withTransaction`); `None` when there are none.
    pub fn transaction_options(&self, i: usize) -> Option<TransactionOptions> {
        let mut args = self.op(i).arguments;
        args.remove("callback");
        // withTransaction's own timeoutMS is no transaction option (the generator passes it).
        args.remove("timeoutMS");
        (!args.is_empty()).then(|| transaction_options(&format!("{}/arguments", self.at_op(i)), &args))
    }

    /// The transaction options of a `startTransaction` that is operation `j` of the
    /// `withTransaction` callback of operation `i`; `None` when it has none.
    pub fn callback_transaction_options(&self, i: usize, j: usize) -> Option<TransactionOptions> {
        let args = self.callback_op(i, j);
        let here = format!("{}/arguments/callback/{j}/arguments", self.at_op(i));
        (!args.arguments.is_empty()).then(|| transaction_options(&here, &args.arguments))
    }

    /// Operation `j` of the `withTransaction` callback of operation `i`.
    fn callback_operation(&self, i: usize, j: usize) -> Operation {
        let here = format!("{}/arguments/callback/{j}", self.at_op(i));
        let value = self
            .operation(i)
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
        Args::new(&self.path, pointer, self.callback_operation(i, j).arguments.as_ref())
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
        assert_eq!(actual.as_str(), expected, "{}: transaction state", self.at_op(i));
    }

    /// `assertSessionPinned` (`pinned`) / `assertSessionUnpinned` (operation `i`).
    pub fn assert_session_pinned(&self, i: usize, pinned: bool) {
        let args = self.op(i);
        let server = self.session_entity(i, &args).pinned_server();
        assert_eq!(server.is_some(), pinned, "{}: session pinned to {server:?}", self.at_op(i));
    }

    /// `targetedFailPoint` (operation `i`): `configureFailPoint` on the mongos the session
    /// is pinned to, through a client connected to that mongos alone. A simulated deployment
    /// lives only for this case, so that client is closed at once; on a real deployment it
    /// is kept for [`Runner::finish`] to turn the fail point off on the same mongos.
    pub async fn targeted_fail_point(&mut self, i: usize) {
        let args = self.op(i);
        let here = self.at_op(i);
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
