//! Argument parsing shared by the data commands (collection names, typed optional fields,
//! write batches, release gates), with mongod's TypeMismatch/Location40414 errors.

use bson::{Bson, Document};

use crate::engine::compare::{num, type_name};
use crate::engine::matcher::Filter;
use crate::engine::{CommandError, ExecContext};

pub(super) const DEFAULT_MAX_BSON: usize = 16 * 1024 * 1024;

pub(super) fn type_mismatch(cmd: &str, field: &str, v: &Bson, expected: &str) -> CommandError {
    CommandError::new(
        14,
        "TypeMismatch",
        format!(
            "BSON field '{cmd}.{field}' is the wrong type '{}', expected type '{expected}'",
            type_name(v)
        ),
    )
}

/// mongod's error for a required field left out (`path`: e.g. `delete.deletes.q`).
pub(super) fn missing_field(path: &str) -> CommandError {
    CommandError::new(40414, "Location40414", format!("BSON field '{path}' is missing but a required field"))
}

/// A statement's required document field `field` (`within`: where the statement is, e.g.
/// `update.updates`).
pub(super) fn stmt_doc<'a>(
    stmt: &'a Document,
    within: &str,
    field: &str,
) -> Result<&'a Document, CommandError> {
    match stmt.get(field) {
        Some(Bson::Document(d)) => Ok(d),
        Some(other) => Err(type_mismatch(within, field, other, "object")),
        None => Err(missing_field(&format!("{within}.{field}"))),
    }
}

/// What a command handler returns: the reply body (without `ok`) or the failure.
pub(super) type Reply = Result<Document, CommandError>;

pub(super) fn cmd_name(cmd: &Document) -> &str {
    cmd.keys().next().map(String::as_str).unwrap_or("")
}

/// The collection a command names (its first value).
pub(super) fn coll_name(cmd: &Document) -> Result<String, CommandError> {
    match cmd.values().next() {
        Some(Bson::String(s)) if !s.is_empty() && !s.contains('\0') => {
            if s.starts_with('$') || s.starts_with('.') || s.ends_with('.') {
                return Err(CommandError::new(
                    73,
                    "InvalidNamespace",
                    format!("Invalid collection name: {s}"),
                ));
            }
            Ok(s.clone())
        }
        Some(Bson::String(_)) => {
            Err(CommandError::new(73, "InvalidNamespace", "Invalid namespace specified"))
        }
        Some(other) => Err(CommandError::new(
            73,
            "InvalidNamespace",
            format!("collection name has invalid type {}", type_name(other)),
        )),
        None => Err(CommandError::new(73, "InvalidNamespace", "missing collection name")),
    }
}

pub(super) fn opt_doc<'a>(cmd: &'a Document, field: &str) -> Result<Option<&'a Document>, CommandError> {
    match cmd.get(field) {
        None | Some(Bson::Null) => Ok(None),
        Some(Bson::Document(d)) => Ok(Some(d)),
        Some(other) => Err(type_mismatch(cmd_name(cmd), field, other, "object")),
    }
}

pub(super) fn opt_bool(cmd: &Document, field: &str, default: bool) -> Result<bool, CommandError> {
    match cmd.get(field) {
        None | Some(Bson::Null) => Ok(default),
        Some(Bson::Boolean(b)) => Ok(*b),
        Some(other) => match num(other) {
            Some(n) => Ok(n.as_f64() != 0.0),
            None => Err(type_mismatch(cmd_name(cmd), field, other, "bool")),
        },
    }
}

pub(super) fn opt_int(cmd: &Document, field: &str) -> Result<Option<i64>, CommandError> {
    match cmd.get(field) {
        None | Some(Bson::Null) => Ok(None),
        Some(v) => match num(v) {
            Some(n) if n.as_f64().fract() == 0.0 => Ok(Some(n.as_f64() as i64)),
            Some(_) => Err(CommandError::new(
                14,
                "TypeMismatch",
                format!("Expected field {field} to be of type integer"),
            )),
            None => Err(type_mismatch(cmd_name(cmd), field, v, "long")),
        },
    }
}

pub(super) fn non_negative(cmd: &Document, field: &str) -> Result<Option<i64>, CommandError> {
    let v = opt_int(cmd, field)?;
    if let Some(n) = v.filter(|n| *n < 0) {
        return Err(CommandError::new(
            51024,
            "Location51024",
            format!("BSON field '{field}' value must be >= 0, actual value '{n}'"),
        ));
    }
    Ok(v)
}

/// The collection, statements (`documents`/`updates`/`deletes`) and `ordered` flag of a
/// write command, refusing an empty batch as mongod does.
pub(super) fn write_batch<'a>(
    cmd: &'a Document,
    field: &str,
) -> Result<(String, Vec<&'a Document>, bool), CommandError> {
    let coll = coll_name(cmd)?;
    let statements = doc_array(cmd, field)?;
    let ordered = opt_bool(cmd, "ordered", true)?;
    if statements.is_empty() {
        return Err(CommandError::new(
            16,
            "InvalidLength",
            "Write batch sizes must be between 1 and 100000. Got 0 operations.",
        ));
    }
    Ok((coll, statements, ordered))
}

pub(super) fn doc_array<'a>(cmd: &'a Document, field: &str) -> Result<Vec<&'a Document>, CommandError> {
    let name = cmd_name(cmd);
    match cmd.get(field) {
        Some(Bson::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, x)| match x {
                Bson::Document(d) => Ok(d),
                other => Err(type_mismatch(name, &format!("{field}.{i}"), other, "object")),
            })
            .collect(),
        Some(other) => Err(type_mismatch(name, field, other, "array")),
        None => Err(missing_field(&format!("{name}.{field}"))),
    }
}

/// Rejects a field the emulated server version does not know yet (`min_wire`: the first
/// wire version that accepts it; a context wire version of 0 means the newest server).
pub(super) fn version_gate(
    ctx: &ExecContext,
    min_wire: i32,
    present: bool,
    code: i32,
    code_name: &str,
    message: &str,
) -> Result<(), CommandError> {
    if too_new(ctx, min_wire, present) {
        return Err(CommandError::new(code, code_name, message));
    }
    Ok(())
}

/// Refuses a field the emulated release's strict parser does not know yet (`min_wire`: as
/// for [`version_gate`]; `path`: as mongod names the field, e.g. `update.let`).
pub(super) fn unknown_field_before(
    ctx: &ExecContext,
    min_wire: i32,
    present: bool,
    path: &str,
) -> Result<(), CommandError> {
    if too_new(ctx, min_wire, present) {
        return Err(CommandError::new(
            40415,
            "Location40415",
            format!("BSON field '{path}' is an unknown field."),
        ));
    }
    Ok(())
}

/// Whether a field that is `present` is newer than the emulated release (0 is the newest).
fn too_new(ctx: &ExecContext, min_wire: i32, present: bool) -> bool {
    present && ctx.max_wire_version != 0 && ctx.max_wire_version < min_wire
}

pub(super) fn filter_of(cmd: &Document, field: &str) -> Result<(Filter, Document), CommandError> {
    let q = opt_doc(cmd, field)?.cloned().unwrap_or_default();
    Ok((Filter::parse(&q)?, q))
}
