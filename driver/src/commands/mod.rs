//! Command builders generated from the server's IDL (`commands:` in `src/mongo/**/*.idl`),
//! one per command the driver sends, plus the generic arguments every command accepts
//! (`GenericArguments` in `src/mongo/idl/generic_argument.idl`). They need only
//! [`crate::error`], so they sit in the layer of [`crate::wire`], below the connections and
//! monitors that send them.
//!
//! Each builder takes the database, the first element's value (usually the collection) and
//! the IDL's required fields in `new`; optional fields are chainable setters named after
//! the field; generic arguments attach through [`WithGenericArguments`] (or
//! [`Command::with_generic_arguments`]). [`Command::to_document`] gives the whole command
//! document, [`Command::to_op_msg`] the OP_MSG body plus the document sequences (kind-1
//! sections) for fields the IDL marks `supports_doc_sequence`. Both first run
//! [`Command::validate`]: the IDL's numeric validators, and the Stable API rule that with
//! `apiStrict: true` no field the IDL marks `unstable` may be sent.
//!
//! The IDL `reply_type` of each command (and the structs it uses) is generated too, with
//! `from_document` (see [`reply`]), e.g. [`CursorInitialReply`] for `find` and `aggregate`.
//!
//! ```
//! use mongo_driver::commands::{Command, FindCommand, WithGenericArguments};
//! use bson::doc;
//!
//! let find = FindCommand::new("db", "coll").filter(doc! {"x": 1}).batch_size(10).comment("hi");
//! let command = find.to_document().unwrap();
//! assert_eq!(command, doc! {"find": "coll", "filter": {"x": 1}, "batchSize": 10i64, "comment": "hi", "$db": "db"});
//! ```

include!(concat!(env!("OUT_DIR"), "/commands.rs"));

pub mod reply;

pub use reply::FromBson;
use reply::{reply_field, required_reply_field};

use crate::error::{Error, Result};

/// A command ready for OP_MSG: the body (kind-0 section) and the document sequences
/// (kind-1 sections, `(identifier, documents)`).
#[derive(Debug, Clone, PartialEq)]
pub struct OpMsgParts {
    /// The command document, including `$db`.
    pub body: bson::Document,
    /// Document sequences, in field order.
    pub sequences: Vec<(String, Vec<bson::Document>)>,
}

/// What every generated command builder offers.
pub trait Command {
    /// The command name (the first key of the command document).
    const NAME: &'static str;

    /// The database the command runs against (`$db`).
    fn db(&self) -> &str;

    /// The generic arguments set so far.
    fn generic_arguments(&self) -> &GenericArguments;

    /// The generic arguments, to change in place (e.g. by the executor adding `lsid`).
    fn generic_arguments_mut(&mut self) -> &mut GenericArguments;

    /// Checks the IDL validators and the Stable API rule (see the module documentation).
    fn validate(&self) -> Result<()>;

    /// Validates, then serializes: the command name first, the fields in IDL order, the
    /// generic arguments, `$db` last. With `doc_sequences`, fields that support document
    /// sequences go to [`OpMsgParts::sequences`] instead of the body.
    fn serialize(&self, doc_sequences: bool) -> Result<OpMsgParts>;

    /// The whole command as one document.
    fn to_document(&self) -> Result<bson::Document> {
        Ok(self.serialize(false)?.body)
    }

    /// The command as OP_MSG sections, using document sequences where the IDL allows them.
    fn to_op_msg(&self) -> Result<OpMsgParts> {
        self.serialize(true)
    }

    /// Replaces the generic arguments.
    fn with_generic_arguments(mut self, args: GenericArguments) -> Self
    where
        Self: Sized,
    {
        *self.generic_arguments_mut() = args;
        self
    }
}

/// A validator failed: `command.field` must be `op limit` but is `value`.
fn bound_error(command: &str, field: &str, op: &str, limit: f64, value: f64) -> Error {
    Error::invalid_argument(format!("{command}: field `{field}` must be {op} {limit}, but is {value}"))
}

/// The Stable API rule: with `apiStrict: true`, a set field whose IDL stability is
/// `unstable` (or `internal`) is rejected before sending. `fields` lists those fields as
/// (is set, wire name, stability). A command outside API version 1 (e.g. `distinct`) is still
/// sent: the server answers it with `APIStrictError`, which the versioned-api spec tests expect.
fn check_stable_api(command: &str, strict: bool, fields: &[(bool, &str, &str)]) -> Result<()> {
    match fields.iter().find(|(set, _, _)| *set) {
        Some((_, field, stability)) if strict => Err(Error::invalid_argument(format!(
            "{command}: field `{field}` is not in the Stable API (stability: {stability}) and cannot be sent with apiStrict: true"
        ))),
        _ => Ok(()),
    }
}

impl AggregateCommand {
    /// A database-level aggregate on `db` (`aggregate: 1`), for pipelines that start with a
    /// stage such as `$currentOp` or `$listLocalSessions`.
    pub fn on_database(db: impl Into<String>, pipeline: Vec<bson::Document>) -> Self {
        let mut command = Self::new(db, "", pipeline);
        command.collection = bson::Bson::Int32(1);
        command
    }
}

impl HelloCommand {
    /// The legacy hello: the same command under the name `isMaster` (`isMaster: 1`), which
    /// the handshake uses before it knows the server supports `hello`. No IDL defines it (the
    /// server registers it as another name for `hello`).
    pub fn to_legacy_document(&self) -> Result<bson::Document> {
        let mut legacy = bson::doc! {"isMaster": 1i32};
        for (key, value) in self.to_document()? {
            if key != "hello" {
                legacy.insert(key, value);
            }
        }
        Ok(legacy)
    }
}
