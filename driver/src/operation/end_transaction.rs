//! `commitTransaction` and `abortTransaction` (transactions spec "Server Commands"): sent to
//! `admin` with the transaction's write concern (and `maxTimeMS` for a commit). The executor
//! adds `lsid`, `txnNumber`, `autocommit: false` and the `recoveryToken`, and retries them
//! once after a retryable error; the session ([`crate::ClientSession`]) keeps the state.

use std::time::Duration;

use bson::{Document, doc};

use super::{Operation, Retryability};
use crate::commands::OpMsgParts;
use crate::connection::StreamDescription;
use crate::error::{Error, Result};
use crate::options::WriteConcern;
use crate::session::transaction::{end_write_concern, retry_commit_write_concern};

/// Commits a transaction.
#[derive(Debug, Clone)]
pub struct CommitTransaction {
    write_concern: Option<WriteConcern>,
    max_commit_time: Option<Duration>,
    /// Whether this is a retry (by the executor, or the application committing again): the
    /// write concern becomes `w: "majority"`.
    retry: bool,
}

impl CommitTransaction {
    /// A commit with the transaction's write concern and `maxCommitTimeMS`; `retry` when the
    /// transaction was committed before.
    pub fn new(write_concern: Option<WriteConcern>, max_commit_time: Option<Duration>, retry: bool) -> Self {
        Self { write_concern, max_commit_time, retry }
    }
}

impl Operation for CommitTransaction {
    type Output = ();

    fn name(&self) -> &str {
        "commitTransaction"
    }

    fn build(&mut self, _: &StreamDescription) -> Result<OpMsgParts> {
        let wc = if self.retry {
            Some(retry_commit_write_concern(self.write_concern.as_ref()))
        } else {
            end_write_concern(self.write_concern.as_ref())
        };
        // A second build is the executor's retry.
        self.retry = true;
        Ok(end_command("commitTransaction", wc, self.max_commit_time))
    }

    fn handle_response(&mut self, reply: Document, _: &StreamDescription) -> Result<()> {
        write_concern_error(&reply)
    }

    fn retryability(&self) -> Retryability {
        Retryability::Write
    }

    fn ends_transaction(&self) -> bool {
        true
    }
}

/// Aborts a transaction.
#[derive(Debug, Clone)]
pub struct AbortTransaction {
    write_concern: Option<WriteConcern>,
}

impl AbortTransaction {
    /// An abort with the transaction's write concern.
    pub fn new(write_concern: Option<WriteConcern>) -> Self {
        Self { write_concern }
    }
}

impl Operation for AbortTransaction {
    type Output = ();

    fn name(&self) -> &str {
        "abortTransaction"
    }

    fn build(&mut self, _: &StreamDescription) -> Result<OpMsgParts> {
        Ok(end_command("abortTransaction", end_write_concern(self.write_concern.as_ref()), None))
    }

    fn handle_response(&mut self, reply: Document, _: &StreamDescription) -> Result<()> {
        write_concern_error(&reply)
    }

    fn retryability(&self) -> Retryability {
        Retryability::Write
    }

    fn ends_transaction(&self) -> bool {
        true
    }
}

/// `{<name>: 1, writeConcern, maxTimeMS, $db: "admin"}`, without the fields that are `None`.
fn end_command(name: &str, write_concern: Option<Document>, max_time: Option<Duration>) -> OpMsgParts {
    let mut body = doc! {name: 1};
    if let Some(wc) = write_concern {
        body.insert("writeConcern", wc);
    }
    if let Some(t) = max_time {
        body.insert("maxTimeMS", i64::try_from(t.as_millis()).unwrap_or(i64::MAX));
    }
    body.insert("$db", "admin");
    OpMsgParts { body, sequences: Vec::new() }
}

/// A `writeConcernError` in an `ok: 1` reply, as an error with the reply's labels.
fn write_concern_error(reply: &Document) -> Result<()> {
    match Error::from_reply(reply) {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operation::tests::description;

    #[test]
    fn commit_applies_majority_on_retry() {
        let mut op =
            CommitTransaction::new(Some(WriteConcern::nodes(1)), Some(Duration::from_millis(60)), false);
        let first = op.build(&description()).map(|p| p.body).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            first,
            doc! {"commitTransaction": 1, "writeConcern": {"w": 1_i64}, "maxTimeMS": 60_i64, "$db": "admin"}
        );
        let second = op.build(&description()).map(|p| p.body).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            second.get_document("writeConcern").ok(),
            Some(&doc! {"w": "majority", "wtimeout": 10_000_i64})
        );
        let mut plain = CommitTransaction::new(None, None, false);
        let body = plain.build(&description()).map(|p| p.body).unwrap_or_else(|e| panic!("{e}"));
        assert!(!body.contains_key("writeConcern"));
        let wce =
            doc! {"ok": 1, "writeConcernError": {"code": 64, "errmsg": "timeout"}, "errorLabels": ["X"]};
        let error = plain.handle_response(wce, &description()).err();
        assert!(error.is_some_and(|e| e.code() == Some(64) && e.contains_label("X")));
    }

    #[test]
    fn abort_sends_the_write_concern() {
        let mut op = AbortTransaction::new(Some(WriteConcern::majority()));
        let body = op.build(&description()).map(|p| p.body).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(body, doc! {"abortTransaction": 1, "writeConcern": {"w": "majority"}, "$db": "admin"});
    }
}
