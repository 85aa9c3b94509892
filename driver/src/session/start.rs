//! Starting a session (driver sessions spec "startSession"): the [`StartSession`] future of
//! `Client::start_session`, which sets the session's options.

use std::future::IntoFuture;

use futures::future::BoxFuture;

use super::{ClientSession, SessionClient, SessionOptions, TransactionOptions};
use crate::error::Result;

/// The future of [`crate::Client::start_session`]: chain option setters, then `.await` it.
#[must_use = "an action does nothing until awaited"]
pub struct StartSession<'a> {
    client: &'a dyn SessionClient,
    options: SessionOptions,
}

impl<'a> StartSession<'a> {
    pub(crate) fn new(client: &'a dyn SessionClient) -> Self {
        Self { client, options: SessionOptions::default() }
    }

    /// Sets `causalConsistency`.
    pub fn causal_consistency(mut self, value: bool) -> Self {
        self.options.causal_consistency = Some(value);
        self
    }

    /// Sets `snapshot`.
    pub fn snapshot(mut self, value: bool) -> Self {
        self.options.snapshot = Some(value);
        self
    }

    /// Sets the default transaction options.
    pub fn default_transaction_options(mut self, value: TransactionOptions) -> Self {
        self.options.default_transaction_options = Some(value);
        self
    }

    /// Sets `defaultTimeoutMS`: the `timeoutMS` of the session's `commitTransaction`,
    /// `abortTransaction` and `withTransaction` (zero: no limit); unset, the client's.
    pub fn default_timeout(mut self, value: std::time::Duration) -> Self {
        self.options.default_timeout = Some(value);
        self
    }

    /// Sets every option at once.
    pub fn with_options(mut self, options: SessionOptions) -> Self {
        self.options = options;
        self
    }
}

impl<'a> IntoFuture for StartSession<'a> {
    type Output = Result<ClientSession>;
    type IntoFuture = BoxFuture<'a, Result<ClientSession>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move { self.client.start_session(self.options) })
    }
}
