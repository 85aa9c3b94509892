//! Starting a transaction (transactions spec "startTransaction"): the session's transaction
//! accessors, and the options a transaction resolves when it starts.

use super::state::{Transaction, TransactionOptions, TransactionState};
use crate::error::{Error, Result};
use crate::sdam::ServerAddress;
use crate::session::ClientSession;

impl ClientSession {
    /// The state of the session's latest transaction.
    pub fn transaction_state(&self) -> TransactionState {
        self.state().transaction.state
    }

    /// Whether a transaction is starting or in progress.
    pub fn in_transaction(&self) -> bool {
        matches!(self.transaction_state(), TransactionState::Starting | TransactionState::InProgress)
    }

    /// The mongos the session's transaction is pinned to (sharded clusters), if any.
    pub fn pinned_server(&self) -> Option<ServerAddress> {
        self.state().transaction.pinned.clone()
    }

    /// The options of the current (or latest) transaction, as resolved when it started.
    pub fn transaction_options(&self) -> TransactionOptions {
        self.state().transaction.options.clone()
    }

    /// Starts a transaction (transactions spec "startTransaction"): the operations run with
    /// the session from now on are its statements. Options left unset come from the
    /// session's `default_transaction_options`, then from the client. Fails (changing
    /// nothing) in a snapshot session, when a transaction is already in progress, or when
    /// the write concern is unacknowledged.
    ///
    /// ```no_run
    /// # async fn demo(client: mongo_driver::Client) -> mongo_driver::Result<()> {
    /// use bson::{Document, doc};
    /// let coll = client.database("bank").collection::<Document>("accounts");
    /// let mut session = client.start_session().await?;
    /// session.start_transaction(None)?;
    /// coll.update_one(doc! {"_id": 1}, doc! {"$inc": {"balance": -10}}).session(&mut session).await?;
    /// coll.update_one(doc! {"_id": 2}, doc! {"$inc": {"balance": 10}}).session(&mut session).await?;
    /// session.commit_transaction().await?;
    /// # Ok(()) }
    /// ```
    pub fn start_transaction(&mut self, options: impl Into<Option<TransactionOptions>>) -> Result<()> {
        if self.is_snapshot() {
            return Err(Error::invalid_argument("Transactions are not supported in snapshot sessions"));
        }
        if self.in_transaction() {
            return Err(Error::invalid_argument("Transaction already in progress"));
        }
        let Some(client) = self.session_client() else {
            return Err(Error::invalid_argument("an implicit session cannot start a transaction"));
        };
        let inherited = client.transaction_defaults();
        let session_defaults = self.options().default_transaction_options.clone().unwrap_or_default();
        let options = options.into().unwrap_or_default().or(&session_defaults).or(&inherited);
        if options.write_concern.as_ref().is_some_and(|wc| !wc.is_acknowledged()) {
            return Err(Error::invalid_argument("transactions do not support unacknowledged write concerns"));
        }
        let mut state = self.state();
        let Some(server) = state.server.as_mut() else {
            return Err(Error::invalid_argument("cannot use a session that has ended"));
        };
        server.next_txn_number();
        state.transaction = Transaction {
            state: TransactionState::Starting,
            options,
            pinned: None,
            pinned_connection: None,
            recovery_token: None,
            commit_was_empty: false,
            // withTransaction's deadline spans its retries.
            deadline: state.transaction.deadline,
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::session::{ServerSessionPool, SessionOptions};

    fn session(snapshot: bool) -> ClientSession {
        let pool = Arc::new(ServerSessionPool::new());
        let options = SessionOptions { snapshot: Some(snapshot), ..SessionOptions::default() };
        ClientSession::new(pool.acquire(), pool, None, options, false)
    }

    #[test]
    fn state_machine_without_a_client() {
        // Snapshot sessions refuse transactions; a session without a client cannot start one.
        let mut s = session(true);
        let e = s.start_transaction(None).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("Transactions are not supported in snapshot sessions"), "{e}");
        let mut s = session(false);
        assert!(s.start_transaction(None).is_err());
        assert_eq!(s.transaction_state(), TransactionState::None);
    }
}
