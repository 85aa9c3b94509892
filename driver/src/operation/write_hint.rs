//! Which servers a write's `hint` may go to (CRUD spec "UpdateOptions", "DeleteOptions" and
//! "FindOneAndModifyOptions": `hint`), and whether a write is unacknowledged (`w: 0`).

use bson::{Bson, Document};

use crate::connection::StreamDescription;
use crate::error::{Error, Result};

/// Wire version of MongoDB 3.4: older servers silently ignore an update/delete `hint`.
const WIRE_VERSION_3_4: i32 = 5;
/// Wire version of MongoDB 4.2: the first to support update hints (findAndModify reports
/// an error for them from here on).
const WIRE_VERSION_4_2: i32 = 8;
/// Wire version of MongoDB 4.4: the first to support delete and findAndModify hints.
const WIRE_VERSION_4_4: i32 = 9;

/// The commands that take a `hint` on a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HintedWrite {
    /// `update` (update and replace statements).
    Update,
    /// `delete`.
    Delete,
    /// `findAndModify` (delete, update or replace).
    FindAndModify,
}

impl HintedWrite {
    /// The lowest wire version a hint may be sent to: below it the driver raises the error
    /// itself (servers that old ignore or mishandle the option). Unacknowledged writes never
    /// hear back from the server, so they need a server that supports the hint.
    fn min_wire_version(self, unacknowledged: bool) -> (i32, &'static str) {
        match (self, unacknowledged) {
            (Self::Update, false) | (Self::Delete, false) => (WIRE_VERSION_3_4, "3.4"),
            (Self::Update, true) => (WIRE_VERSION_4_2, "4.2"),
            (Self::FindAndModify, false) => (WIRE_VERSION_4_2, "4.2"),
            (Self::Delete, true) | (Self::FindAndModify, true) => (WIRE_VERSION_4_4, "4.4"),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Update => "update",
            Self::Delete => "delete",
            Self::FindAndModify => "findAndModify",
        }
    }
}

/// Refuses a `hint` the connected server cannot be trusted with (CRUD spec: "the driver
/// MUST raise an error if the caller explicitly provides a value").
pub(crate) fn check_hint(
    command: HintedWrite,
    description: &StreamDescription,
    write_concern: Option<&Document>,
) -> Result<()> {
    let unacknowledged = is_unacknowledged(write_concern);
    let (min, version) = command.min_wire_version(unacknowledged);
    if description.max_wire_version >= min {
        return Ok(());
    }
    let what = if unacknowledged { "an unacknowledged" } else { "a" };
    Err(Error::invalid_argument(format!(
        "{what} `{}` with a hint needs MongoDB {version} or later, but the server at {} reports \
         maxWireVersion {}",
        command.name(),
        description.server_address,
        description.max_wire_version
    )))
}

/// Refuses a statement `hint` of an `update` or `delete` the server cannot take.
pub(crate) fn check_statement_hints(
    command: HintedWrite,
    statements: &[Document],
    description: &StreamDescription,
    write_concern: Option<&Document>,
) -> Result<()> {
    if statements.iter().any(|s| s.contains_key("hint")) {
        check_hint(command, description, write_concern)?;
    }
    Ok(())
}

/// Whether a write concern document is unacknowledged (`w: 0` without `j: true`).
pub(crate) fn is_unacknowledged(write_concern: Option<&Document>) -> bool {
    let Some(wc) = write_concern else { return false };
    let w_zero = match wc.get("w") {
        Some(Bson::Int32(0)) | Some(Bson::Int64(0)) => true,
        Some(Bson::Double(d)) => *d == 0.0,
        _ => false,
    };
    w_zero && !wc.get_bool("j").unwrap_or(false)
}
