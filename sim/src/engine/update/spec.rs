//! What an update is made of and needs: one operator on one path ([`Mod`]), the update's
//! environment ([`UpdateEnv`]: query, array filters, upsert, write time), and its parse errors.

use bson::{Bson, Document};

use crate::engine::CommandError;
use crate::engine::matcher::Filter;

/// One operator applied to one path.
#[derive(Debug, Clone)]
pub struct Mod {
    /// The operator, e.g. `$set` (`$renameTo` for the target side of a `$rename`).
    pub(super) op: String,
    /// The dotted path it applies to.
    pub(super) path: String,
    /// The operator's argument for this path.
    pub(super) arg: Bson,
}

/// What an update needs besides the document.
#[derive(Debug, Default)]
pub struct UpdateEnv<'a> {
    /// The query that selected the document (for the positional `$` operator).
    pub query: Option<&'a Document>,
    /// `arrayFilters`, by identifier.
    pub array_filters: Vec<(String, Filter)>,
    /// Whether this update builds an upserted document (`$setOnInsert` applies).
    pub inserting: bool,
    /// The write's timestamp, for `$currentDate: {$type: "timestamp"}`.
    pub now_ts: Option<bson::Timestamp>,
}

/// A FailedToParse (9) error.
pub(super) fn failed_to_parse(msg: impl Into<String>) -> CommandError {
    CommandError::new(9, "FailedToParse", msg)
}

/// A BadValue (2) error.
pub(super) fn bad_value(msg: impl Into<String>) -> CommandError {
    CommandError::new(2, "BadValue", msg)
}
