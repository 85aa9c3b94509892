//! The insert and delete commands (manual "insert", "delete") and the checks every write makes
//! (storable `_id`, size limit, schema validation, write-error documents).

use bson::{Bson, Document, doc};

use super::args::{
    DEFAULT_MAX_BSON, Reply, missing_field, opt_bool, stmt_doc, unknown_field_before, write_batch,
};
use super::let_vars::{let_vars, subst_filter};
use crate::engine::collation::with_collation;
use crate::engine::collection::{Collection, WriteError};
use crate::engine::compare::num;
use crate::engine::matcher::Filter;
use crate::engine::{CommandError, ExecContext, Store, version_rules};

pub(super) fn write_error_doc(index: usize, e: &WriteError) -> Bson {
    let mut d = doc! {"index": index as i32, "code": e.error.code};
    for (k, v) in e.extra.iter().flat_map(|x| x.iter()) {
        d.insert(k.clone(), v.clone());
    }
    d.insert("errmsg", e.error.message.clone());
    Bson::Document(d)
}

/// Puts `_id` first, generating an ObjectId when missing.
pub(super) fn with_id_first(d: &Document) -> Document {
    let mut out = Document::new();
    out.insert("_id", d.get("_id").cloned().unwrap_or_else(|| Bson::ObjectId(bson::oid::ObjectId::new())));
    for (k, v) in d {
        if k != "_id" {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

pub(super) fn check_storable(doc: &Document, ctx: &ExecContext, inserting: bool) -> Result<(), WriteError> {
    match doc.get("_id") {
        Some(Bson::Array(_)) => {
            return Err(
                CommandError::new(53, "InvalidIdField", "The '_id' value cannot be of type array").into()
            );
        }
        Some(Bson::RegularExpression(_)) => {
            return Err(CommandError::new(53, "InvalidIdField", "can't use a regex for _id").into());
        }
        _ => {}
    }
    let dollar_key = doc.get_document("_id").ok().and_then(|id| id.keys().find(|k| k.starts_with('$')));
    if let Some(k) = dollar_key {
        return Err(CommandError::new(
            52,
            "DollarPrefixedFieldName",
            format!("_id fields may not contain '$'-prefixed fields: {k} is not valid for storage."),
        )
        .into());
    }
    let max = if ctx.max_bson_size == 0 { DEFAULT_MAX_BSON } else { ctx.max_bson_size };
    let size = doc.to_vec().map_or(0, |v| v.len());
    if size > max {
        // mongod's messages differ for an inserted document and an update's result.
        let e = if inserting {
            CommandError::new(
                2,
                "BadValue",
                format!("object to insert too large. size in bytes: {size}, max size: {max}"),
            )
        } else {
            CommandError::new(
                17419,
                "Location17419",
                format!("Resulting document after update is larger than {max}"),
            )
        };
        return Err(e.into());
    }
    Ok(())
}

/// Checks a document against the collection's query-style `validator` (manual "Schema
/// Validation"); validators the simulator cannot evaluate (e.g. `$jsonSchema`) accept all.
pub(super) fn validate_doc(c: &Collection, doc: &Document, old: Option<&Document>) -> Result<(), WriteError> {
    let Some(Bson::Document(v)) = c.options.get("validator") else { return Ok(()) };
    let level = c.options.get("validationLevel").and_then(Bson::as_str).unwrap_or("strict");
    let action = c.options.get("validationAction").and_then(Bson::as_str).unwrap_or("error");
    if level == "off" || action == "warn" {
        return Ok(());
    }
    let Ok(f) = Filter::parse(v) else { return Ok(()) };
    // "moderate": updates to documents that already fail validation are not checked.
    if level == "moderate" && old.is_some_and(|o| !f.matches(o)) {
        return Ok(());
    }
    if f.matches(doc) {
        return Ok(());
    }
    Err(WriteError {
        error: CommandError::new(121, "DocumentValidationFailure", "Document failed validation"),
        extra: Some(Box::new(doc! {"errInfo": {
            "failingDocumentId": doc.get("_id").cloned().unwrap_or(Bson::Null),
            "details": {"operatorName": "$and", "schemaRulesNotSatisfied": []},
        }})),
    })
}

/// Structural checks mongod makes while parsing a delete statement (command-level errors).
pub(super) fn check_delete_stmt(stmt: &Document) -> Result<(), CommandError> {
    stmt_doc(stmt, "delete.deletes", "q")?;
    delete_limit(stmt)?;
    Ok(())
}

/// A delete statement's `limit`: 0 (every match) or 1.
fn delete_limit(stmt: &Document) -> Result<i64, CommandError> {
    let Some(v) = stmt.get("limit") else { return Err(missing_field("delete.deletes.limit")) };
    match num(v).map(|n| n.as_f64()) {
        Some(l) if l == 0.0 || l == 1.0 => Ok(l as i64),
        _ => Err(CommandError::new(
            9,
            "FailedToParse",
            format!(
                "The limit field in delete objects must be 0 or 1. Got {}",
                crate::engine::compare::display(v)
            ),
        )),
    }
}

impl Store {
    pub(super) fn cmd_insert(&mut self, db: &str, cmd: &Document, ctx: &ExecContext) -> Reply {
        let (coll, docs, ordered) = write_batch(cmd, "documents")?;
        let bypass = opt_bool(cmd, "bypassDocumentValidation", false)?;
        let ts = self.stamp(ctx);
        let ns = format!("{db}.{coll}");
        let c = self.coll_mut(db, &coll, ts);
        if c.options.contains_key("viewOn") {
            return Err(CommandError::new(
                166,
                "CommandNotSupportedOnView",
                format!("Namespace {ns} is a view, not a collection"),
            ));
        }
        let mut n = 0;
        let mut errors = Vec::new();
        for (i, d) in docs.into_iter().enumerate() {
            let d = with_id_first(d);
            let r = check_storable(&d, ctx, true)
                .and_then(|()| Ok(version_rules::check_inserted_names(&d, ctx)?))
                .and_then(|()| if bypass { Ok(()) } else { validate_doc(c, &d, None) })
                .and_then(|()| c.insert(&ns, d, ts).map(|_| ()));
            match r {
                Ok(()) => n += 1,
                Err(e) => {
                    errors.push(write_error_doc(i, &e));
                    if ordered {
                        break;
                    }
                }
            }
        }
        let mut reply = doc! {"n": n};
        if !errors.is_empty() {
            reply.insert("writeErrors", errors);
        }
        Ok(reply)
    }

    pub(super) fn cmd_delete(&mut self, db: &str, cmd: &Document, ctx: &ExecContext) -> Reply {
        let (coll, stmts, ordered) = write_batch(cmd, "deletes")?;
        stmts.iter().try_for_each(|s| check_delete_stmt(s))?;
        unknown_field_before(ctx, 13, cmd.contains_key("let"), "delete.let")?;
        unknown_field_before(ctx, 9, stmts.iter().any(|s| s.contains_key("hint")), "delete.deletes.hint")?;
        let vars = let_vars(cmd)?;
        self.reject_view(db, &coll)?;
        let ts = self.stamp(ctx);
        let mut n = 0i64;
        let mut errors = Vec::new();
        for (i, stmt) in stmts.into_iter().enumerate() {
            let r: Result<i64, CommandError> = (|| {
                let q = stmt_doc(stmt, "delete.deletes", "q")?.clone();
                let limit = delete_limit(stmt)?;
                let q = subst_filter(&q, &vars);
                let filter = Filter::parse(&q)?;
                self.check_hint(db, &coll, stmt.get("hint"))?;
                let collation = crate::engine::collation::Collation::parse(stmt.get("collation"))?;
                let ids =
                    with_collation(collation, || self.matching(db, &coll, &filter, &q, None, limit == 1));
                let count = ids.len() as i64;
                if let Some(c) = self.existing_mut(db, &coll) {
                    for rid in ids {
                        c.delete(rid, ts);
                    }
                }
                Ok(count)
            })();
            match r {
                Ok(c) => n += c,
                Err(e) => {
                    errors.push(write_error_doc(i, &e.into()));
                    if ordered {
                        break;
                    }
                }
            }
        }
        let mut reply = doc! {"n": n as i32};
        if !errors.is_empty() {
            reply.insert("writeErrors", errors);
        }
        Ok(reply)
    }
}
