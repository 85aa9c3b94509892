//! The write commands `insert`, `update` and `delete` (server write commands spec), split
//! into batches that respect the server's `maxWriteBatchSize`, `maxBsonObjectSize` and
//! `maxMessageSizeBytes` (CRUD spec "Bulk Write Operations": batch splitting).

use bson::{Bson, Document};

use super::write_hint::{HintedWrite, check_statement_hints};
use super::{Namespace, Operation, Retryability};
use crate::commands::{
    Command, DeleteCommand, DeleteCommandReply, GenericArguments, InsertCommand, InsertCommandReply,
    OpMsgParts, UpdateCommand, UpdateCommandReply,
};
use crate::connection::StreamDescription;
use crate::error::{Error, Result};
use crate::results::{WriteConcernError, WriteError};

/// Room kept in a message for the command body beside its document sequence (the same
/// 16 KiB allowance the server gives a command over `maxBsonObjectSize`).
const COMMAND_OVERHEAD: i64 = 16 * 1024;

/// What one batch of a write command did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteBatchOutcome {
    /// How many statements the batch sent.
    pub sent: usize,
    /// `n`: documents inserted, matched (updates, upserts included) or deleted.
    pub n: u64,
    /// `nModified` (updates only).
    pub n_modified: u64,
    /// Upserted `_id`s by statement index in the whole input.
    pub upserted: Vec<(usize, Bson)>,
    /// Failed statements (indexes in the whole input).
    pub write_errors: Vec<WriteError>,
    /// The batch's write concern error.
    pub write_concern_error: Option<WriteConcernError>,
    /// The batch went unacknowledged (`w: 0`, no reply): `n` and the rest are unknown.
    pub unacknowledged: bool,
}

/// A write command whose statements go out in as many batches as the server's limits need:
/// the executor runs it until [`BatchedWrite::done`].
pub trait BatchedWrite: Operation<Output = WriteBatchOutcome> {
    /// Whether every statement was sent.
    fn done(&self) -> bool;
    /// Whether a failed statement stops the rest.
    fn ordered(&self) -> bool;
}

/// How many of `statements` (from the front) fit one command on this connection.
/// `max_doc` is the largest statement allowed (`None`: the server decides). An empty
/// input is an error (CRUD spec: a write needs at least one statement).
pub(crate) fn batch_len(
    statements: &[Document],
    description: &StreamDescription,
    max_doc: Option<i64>,
) -> Result<usize> {
    if statements.is_empty() {
        return Err(Error::invalid_argument("a write needs at least one document or statement"));
    }
    let max_count = usize::try_from(description.max_write_batch_size.max(1)).unwrap_or(usize::MAX);
    let budget = description.max_message_size_bytes - COMMAND_OVERHEAD;
    let mut total = 0i64;
    let mut count = 0usize;
    for statement in statements.iter().take(max_count) {
        let size = i64::try_from(
            statement
                .to_vec()
                .map_err(|e| Error::invalid_argument(format!("cannot serialize a statement: {e}")))?
                .len(),
        )
        .unwrap_or(i64::MAX);
        if let Some(max) = max_doc
            && size > max
        {
            return Err(Error::invalid_argument(format!(
                "a document of {size} bytes is larger than the server's maxBsonObjectSize of {max}"
            )));
        }
        if count > 0 && total + size > budget {
            break;
        }
        total += size;
        count += 1;
    }
    Ok(count)
}

/// The parts of a write reply every write command shares.
fn outcome(
    sent: usize,
    offset: usize,
    n: Option<i32>,
    write_errors: Option<Vec<Document>>,
    reply: &Document,
) -> Result<WriteBatchOutcome> {
    let write_errors = write_errors
        .unwrap_or_default()
        .iter()
        .map(|e| WriteError::from_document(e, offset))
        .collect::<Result<Vec<_>>>()?;
    Ok(WriteBatchOutcome {
        sent,
        n: u64::try_from(n.unwrap_or(0)).unwrap_or(0),
        write_errors,
        write_concern_error: WriteConcernError::from_reply(reply),
        ..WriteBatchOutcome::default()
    })
}

/// The outcome of a batch sent unacknowledged: `in_flight` statements sent, nothing known.
fn unacknowledged(offset: &mut usize, in_flight: usize) -> WriteBatchOutcome {
    *offset += in_flight;
    WriteBatchOutcome { sent: in_flight, unacknowledged: true, ..WriteBatchOutcome::default() }
}

macro_rules! batched {
    ($ty:ident) => {
        impl BatchedWrite for $ty {
            fn done(&self) -> bool {
                self.offset >= self.statements.len()
            }
            fn ordered(&self) -> bool {
                self.ordered
            }
        }
    };
}

/// `insert`: documents (each with its `_id` already set by the caller).
#[derive(Debug, Clone)]
pub struct Insert {
    ns: Namespace,
    statements: Vec<Document>,
    offset: usize,
    in_flight: usize,
    ordered: bool,
    bypass_document_validation: Option<bool>,
    generic: GenericArguments,
}

impl Insert {
    /// Inserts `documents` into `ns`.
    pub fn new(ns: Namespace, documents: Vec<Document>, ordered: bool) -> Self {
        Self {
            ns,
            statements: documents,
            offset: 0,
            in_flight: 0,
            ordered,
            bypass_document_validation: None,
            generic: GenericArguments::default(),
        }
    }
    /// Sets `bypassDocumentValidation`.
    pub fn bypass_document_validation(mut self, value: Option<bool>) -> Self {
        self.bypass_document_validation = value;
        self
    }
    /// Sets the generic arguments (write concern, comment, …).
    pub fn generic(mut self, generic: GenericArguments) -> Self {
        self.generic = generic;
        self
    }
}

impl Operation for Insert {
    type Output = WriteBatchOutcome;

    fn name(&self) -> &str {
        "insert"
    }

    fn build(&mut self, description: &StreamDescription) -> Result<OpMsgParts> {
        let rest = self.statements.get(self.offset..).unwrap_or_default();
        let len = batch_len(rest, description, Some(description.max_bson_object_size))?;
        self.in_flight = len;
        let mut command =
            InsertCommand::new(&self.ns.db, &self.ns.coll, rest[..len].to_vec()).ordered(self.ordered);
        if let Some(b) = self.bypass_document_validation {
            command = command.bypass_document_validation(b);
        }
        command.with_generic_arguments(self.generic.clone()).to_op_msg()
    }

    fn handle_response(&mut self, reply: Document, _: &StreamDescription) -> Result<WriteBatchOutcome> {
        let parsed = InsertCommandReply::from_document(&reply)?;
        let result = outcome(self.in_flight, self.offset, parsed.n, parsed.write_errors, &reply)?;
        self.offset += self.in_flight;
        Ok(result)
    }

    fn retryability(&self) -> Retryability {
        Retryability::Write
    }

    fn may_be_unacknowledged(&self) -> bool {
        true
    }

    fn handle_unacknowledged(&mut self, _: &StreamDescription) -> Result<WriteBatchOutcome> {
        Ok(unacknowledged(&mut self.offset, self.in_flight))
    }
}
batched!(Insert);

/// `update`: update statements (`{q, u, upsert, multi, …}`, built by the caller).
#[derive(Debug, Clone)]
pub struct Update {
    ns: Namespace,
    statements: Vec<Document>,
    offset: usize,
    in_flight: usize,
    ordered: bool,
    bypass_document_validation: Option<bool>,
    let_vars: Option<Document>,
    generic: GenericArguments,
}

impl Update {
    /// Runs the update `statements` against `ns`.
    pub fn new(ns: Namespace, statements: Vec<Document>, ordered: bool) -> Self {
        Self {
            ns,
            statements,
            offset: 0,
            in_flight: 0,
            ordered,
            bypass_document_validation: None,
            let_vars: None,
            generic: GenericArguments::default(),
        }
    }
    /// Sets `bypassDocumentValidation`.
    pub fn bypass_document_validation(mut self, value: Option<bool>) -> Self {
        self.bypass_document_validation = value;
        self
    }
    /// Sets `let`.
    pub fn let_vars(mut self, value: Option<Document>) -> Self {
        self.let_vars = value;
        self
    }
    /// Sets the generic arguments.
    pub fn generic(mut self, generic: GenericArguments) -> Self {
        self.generic = generic;
        self
    }
}

impl Operation for Update {
    type Output = WriteBatchOutcome;

    fn name(&self) -> &str {
        "update"
    }

    fn build(&mut self, description: &StreamDescription) -> Result<OpMsgParts> {
        let rest = self.statements.get(self.offset..).unwrap_or_default();
        check_statement_hints(HintedWrite::Update, rest, description, self.generic.write_concern.as_ref())?;
        let len = batch_len(rest, description, Some(description.max_bson_object_size + COMMAND_OVERHEAD))?;
        self.in_flight = len;
        let mut command =
            UpdateCommand::new(&self.ns.db, &self.ns.coll, rest[..len].to_vec()).ordered(self.ordered);
        if let Some(b) = self.bypass_document_validation {
            command = command.bypass_document_validation(b);
        }
        if let Some(l) = &self.let_vars {
            command = command.let_(l.clone());
        }
        command.with_generic_arguments(self.generic.clone()).to_op_msg()
    }

    fn handle_response(&mut self, reply: Document, _: &StreamDescription) -> Result<WriteBatchOutcome> {
        let parsed = UpdateCommandReply::from_document(&reply)?;
        let mut result = outcome(self.in_flight, self.offset, parsed.n, parsed.write_errors, &reply)?;
        result.n_modified = u64::try_from(parsed.n_modified.unwrap_or(0)).unwrap_or(0);
        for upserted in parsed.upserted.unwrap_or_default() {
            let index = usize::try_from(upserted.index).map_err(|_| {
                Error::invalid_response(format!("negative upserted index {}", upserted.index))
            })?;
            result.upserted.push((self.offset + index, upserted.id));
        }
        self.offset += self.in_flight;
        Ok(result)
    }

    fn retryability(&self) -> Retryability {
        let multi = self.statements.iter().any(|s| s.get_bool("multi").unwrap_or(false));
        if multi { Retryability::None } else { Retryability::Write }
    }

    fn may_be_unacknowledged(&self) -> bool {
        true
    }

    fn handle_unacknowledged(&mut self, _: &StreamDescription) -> Result<WriteBatchOutcome> {
        Ok(unacknowledged(&mut self.offset, self.in_flight))
    }
}
batched!(Update);

/// `delete`: delete statements (`{q, limit, …}`, built by the caller).
#[derive(Debug, Clone)]
pub struct Delete {
    ns: Namespace,
    statements: Vec<Document>,
    offset: usize,
    in_flight: usize,
    ordered: bool,
    let_vars: Option<Document>,
    generic: GenericArguments,
}

impl Delete {
    /// Runs the delete `statements` against `ns`.
    pub fn new(ns: Namespace, statements: Vec<Document>, ordered: bool) -> Self {
        Self {
            ns,
            statements,
            offset: 0,
            in_flight: 0,
            ordered,
            let_vars: None,
            generic: GenericArguments::default(),
        }
    }
    /// Sets `let`.
    pub fn let_vars(mut self, value: Option<Document>) -> Self {
        self.let_vars = value;
        self
    }
    /// Sets the generic arguments.
    pub fn generic(mut self, generic: GenericArguments) -> Self {
        self.generic = generic;
        self
    }
}

impl Operation for Delete {
    type Output = WriteBatchOutcome;

    fn name(&self) -> &str {
        "delete"
    }

    fn build(&mut self, description: &StreamDescription) -> Result<OpMsgParts> {
        let rest = self.statements.get(self.offset..).unwrap_or_default();
        check_statement_hints(HintedWrite::Delete, rest, description, self.generic.write_concern.as_ref())?;
        let len = batch_len(rest, description, Some(description.max_bson_object_size + COMMAND_OVERHEAD))?;
        self.in_flight = len;
        let mut command =
            DeleteCommand::new(&self.ns.db, &self.ns.coll, rest[..len].to_vec()).ordered(self.ordered);
        if let Some(l) = &self.let_vars {
            command = command.let_(l.clone());
        }
        command.with_generic_arguments(self.generic.clone()).to_op_msg()
    }

    fn handle_response(&mut self, reply: Document, _: &StreamDescription) -> Result<WriteBatchOutcome> {
        let parsed = DeleteCommandReply::from_document(&reply)?;
        let result = outcome(self.in_flight, self.offset, parsed.n, parsed.write_errors, &reply)?;
        self.offset += self.in_flight;
        Ok(result)
    }

    fn retryability(&self) -> Retryability {
        let multi =
            self.statements.iter().any(|s| matches!(s.get("limit"), Some(Bson::Int32(0) | Bson::Int64(0))));
        if multi { Retryability::None } else { Retryability::Write }
    }

    fn may_be_unacknowledged(&self) -> bool {
        true
    }

    fn handle_unacknowledged(&mut self, _: &StreamDescription) -> Result<WriteBatchOutcome> {
        Ok(unacknowledged(&mut self.offset, self.in_flight))
    }
}
batched!(Delete);
