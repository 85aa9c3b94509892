//! The update commands (manual "update", "findAndModify"): one statement at a time, with
//! upserts, array filters, per-statement collation and hint.

use bson::{Bson, Document, Timestamp, doc};

use super::args::{
    Reply, coll_name, missing_field, opt_bool, opt_doc, stmt_doc, type_mismatch, unknown_field_before,
    write_batch,
};
use super::let_vars::{let_vars, subst_filter, subst_stmt};
use super::writes::{check_storable, validate_doc, with_id_first, write_error_doc};
use crate::engine::collation::with_collation;
use crate::engine::collection::WriteError;
use crate::engine::compare::values_equal;
use crate::engine::matcher::Filter;
use crate::engine::projection::Projection;
use crate::engine::sort::SortSpec;
use crate::engine::update::{Update, UpdateEnv, parse_array_filters, upsert_base};
use crate::engine::{CommandError, ExecContext, Store, version_rules};

/// One update statement's outcome: (n, nModified, upserted `_id`, (before, after) of the
/// last document written).
pub(super) type StmtOutcome = (i64, i64, Option<Bson>, Option<(Document, Document)>);

/// Per-statement options of an update (from the update command or findAndModify).
pub(super) struct StmtOpts {
    /// findAndModify's sort.
    sort: Option<SortSpec>,
    /// findAndModify updates one document whatever `multi` says.
    force_single: bool,
    /// `bypassDocumentValidation`.
    bypass: bool,
}

/// Structural checks mongod makes while parsing an update statement (command-level errors).
pub(super) fn check_update_stmt(stmt: &Document) -> Result<(), CommandError> {
    stmt_doc(stmt, "update.updates", "q")?;
    match stmt.get("u") {
        Some(Bson::Document(_) | Bson::Array(_)) => {}
        Some(other) => return Err(type_mismatch("update.updates", "u", other, "object")),
        None => return Err(missing_field("update.updates.u")),
    }
    opt_bool(stmt, "multi", false)?;
    opt_bool(stmt, "upsert", false)?;
    Ok(())
}

impl Store {
    /// Applies one update statement; returns (n, nModified, upserted _id).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn update_one_stmt(
        &mut self,
        db: &str,
        coll: &str,
        stmt: &Document,
        ts: Timestamp,
        ctx: &ExecContext,
        opts: &StmtOpts,
    ) -> Result<StmtOutcome, WriteError> {
        let (sort, force_single) = (opts.sort.as_ref(), opts.force_single);
        let q = stmt_doc(stmt, "update.updates", "q")?.clone();
        let Some(u) = stmt.get("u") else { return Err(missing_field("update.updates.u").into()) };
        let filter = Filter::parse(&q)?;
        let update = Update::parse(u)?;
        self.check_hint(db, coll, stmt.get("hint"))?;
        let multi = !force_single && opt_bool(stmt, "multi", false)?;
        let upsert = opt_bool(stmt, "upsert", false)?;
        if multi && update.is_replacement() {
            return Err(CommandError::new(
                9,
                "FailedToParse",
                "multi update is not supported for replacement-style update",
            )
            .into());
        }
        let array_filters = match stmt.get("arrayFilters") {
            Some(Bson::Array(a)) => parse_array_filters(a)?,
            None | Some(Bson::Null) => Vec::new(),
            Some(other) => return Err(type_mismatch("update.updates", "arrayFilters", other, "array").into()),
        };
        let env = UpdateEnv { query: Some(&q), array_filters, inserting: false, now_ts: Some(ts) };
        let ns = format!("{db}.{coll}");
        let ids = self.matching(db, coll, &filter, &q, sort, !multi);
        let (mut n, mut modified) = (0, 0);
        let mut last: Option<(Document, Document)> = None;
        if !ids.is_empty() {
            let c = self.coll_mut(db, coll, ts);
            for rid in ids {
                let Some(old) = c.get(rid).cloned() else { continue };
                let new = update.apply(&old, &env)?;
                n += 1;
                if update.is_replacement() {
                    version_rules::check_replacement_names(&new, ctx)?;
                }
                if new != old {
                    check_storable(&new, ctx, false)?;
                    if !opts.bypass {
                        validate_doc(c, &new, Some(&old))?;
                    }
                    if update.is_replacement() {
                        c.replace_whole(&ns, rid, new.clone(), ts)?;
                    } else {
                        c.replace(&ns, rid, new.clone(), ts)?;
                    }
                    modified += 1;
                }
                last = Some((old, new));
            }
            return Ok((n, modified, None, last));
        }
        if !upsert {
            return Ok((0, 0, None, None));
        }
        let env = UpdateEnv { inserting: true, ..env };
        let base = upsert_base(&q)?;
        let mut new = match &update {
            Update::Replacement(r) => {
                let mut d = r.clone();
                if let (false, Some(id)) = (d.contains_key("_id"), base.get("_id")) {
                    d.insert("_id", id.clone());
                }
                d
            }
            _ => update.apply(&base, &env)?,
        };
        if base.get("_id").zip(new.get("_id")).is_some_and(|(a, b)| !values_equal(a, b)) {
            return Err(CommandError::new(
                66,
                "ImmutableField",
                "Performing an update on the path '_id' would modify the immutable field '_id'",
            )
            .into());
        }
        new = with_id_first(&new);
        check_storable(&new, ctx, true)?;
        if update.is_replacement() {
            version_rules::check_replacement_names(&new, ctx)?;
        }
        if let (false, Some(c)) = (opts.bypass, self.collection(db, coll)) {
            validate_doc(c, &new, None)?;
        }
        let id = new.get("_id").cloned().unwrap_or(Bson::Null);
        self.coll_mut(db, coll, ts).insert(&ns, new.clone(), ts)?;
        Ok((1, 0, Some(id), Some((Document::new(), new))))
    }

    pub(super) fn cmd_update(&mut self, db: &str, cmd: &Document, ctx: &ExecContext) -> Reply {
        let (coll, stmts, ordered) = write_batch(cmd, "updates")?;
        stmts.iter().try_for_each(|s| check_update_stmt(s))?;
        self.reject_view(db, &coll)?;
        let ts = self.stamp(ctx);
        let opts = StmtOpts {
            sort: None,
            force_single: false,
            bypass: opt_bool(cmd, "bypassDocumentValidation", false)?,
        };
        unknown_field_before(ctx, 13, cmd.contains_key("let"), "update.let")?;
        unknown_field_before(ctx, 8, stmts.iter().any(|s| s.contains_key("hint")), "update.updates.hint")?;
        let vars = let_vars(cmd)?;
        let (mut n, mut modified) = (0i64, 0i64);
        let mut upserted = Vec::new();
        let mut errors = Vec::new();
        for (i, stmt) in stmts.into_iter().enumerate() {
            let stmt = subst_stmt(stmt, &vars);
            let result = crate::engine::collation::Collation::parse(stmt.get("collation"))
                .map_err(WriteError::from)
                .and_then(|collation| {
                    with_collation(collation, || self.update_one_stmt(db, &coll, &stmt, ts, ctx, &opts))
                });
            match result {
                Ok((sn, sm, up, _)) => {
                    n += sn;
                    modified += sm;
                    if let Some(id) = up {
                        upserted.push(Bson::Document(doc! {"index": i as i32, "_id": id}));
                    }
                }
                Err(e) => {
                    errors.push(write_error_doc(i, &e));
                    if ordered {
                        break;
                    }
                }
            }
        }
        let mut reply = doc! {"n": n as i32, "nModified": modified as i32};
        if !upserted.is_empty() {
            reply.insert("upserted", upserted);
        }
        if !errors.is_empty() {
            reply.insert("writeErrors", errors);
        }
        Ok(reply)
    }

    pub(super) fn cmd_find_and_modify(&mut self, db: &str, cmd: &Document, ctx: &ExecContext) -> Reply {
        let coll = coll_name(cmd)?;
        unknown_field_before(ctx, 13, cmd.contains_key("let"), "let")?;
        unknown_field_before(ctx, 9, cmd.contains_key("hint"), "findAndModify.hint")?;
        let vars = let_vars(cmd)?;
        let q = subst_filter(&opt_doc(cmd, "query")?.cloned().unwrap_or_default(), &vars);
        let filter = Filter::parse(&q)?;
        self.check_hint(db, &coll, cmd.get("hint"))?;
        let sort = opt_doc(cmd, "sort")?.map(SortSpec::parse).transpose()?.unwrap_or_default();
        let fields = opt_doc(cmd, "fields")?.filter(|p| !p.is_empty()).map(Projection::parse).transpose()?;
        let remove = opt_bool(cmd, "remove", false)?;
        let new = opt_bool(cmd, "new", false)?;
        let upsert = opt_bool(cmd, "upsert", false)?;
        let update = cmd.get("update").filter(|u| !matches!(u, Bson::Null));
        match (remove, update.is_some()) {
            (true, true) => {
                return Err(CommandError::new(
                    9,
                    "FailedToParse",
                    "Cannot specify both an update and remove=true",
                ));
            }
            (false, false) => {
                return Err(CommandError::new(
                    9,
                    "FailedToParse",
                    "Either an update or remove=true must be specified",
                ));
            }
            _ => {}
        }
        if remove && (new || upsert) {
            return Err(CommandError::new(
                9,
                "FailedToParse",
                "Cannot specify both new=true and remove=true; 'remove' always returns the deleted document",
            ));
        }
        self.reject_view(db, &coll)?;
        let project = |d: Document| -> Result<Bson, CommandError> {
            Ok(Bson::Document(match &fields {
                Some(p) => p.apply(&d)?,
                None => d,
            }))
        };
        let ts = self.stamp(ctx);
        if remove {
            let ids = self.matching(db, &coll, &filter, &q, Some(&sort), true);
            let mut value = Bson::Null;
            if let (Some(rid), Some(c)) = (ids.first(), self.existing_mut(db, &coll)) {
                if let Some(d) = c.get(*rid).cloned() {
                    c.delete(*rid, ts);
                    value = project(d)?;
                }
            }
            let n = i32::from(!matches!(value, Bson::Null));
            return Ok(doc! {"lastErrorObject": {"n": n}, "value": value});
        }
        let mut stmt =
            doc! {"q": q, "u": update.cloned().unwrap_or(Bson::Null), "upsert": upsert, "multi": false};
        stmt = subst_stmt(&stmt, &vars);
        if let Some(af) = cmd.get("arrayFilters") {
            stmt.insert("arrayFilters", af.clone());
        }
        let (n, _, upserted, docs) = self
            .update_one_stmt(
                db,
                &coll,
                &stmt,
                ts,
                ctx,
                &StmtOpts {
                    sort: Some(sort.clone()),
                    force_single: true,
                    bypass: opt_bool(cmd, "bypassDocumentValidation", false)?,
                },
            )
            .map_err(CommandError::from)?;
        let value = match docs {
            Some((old, newd)) => {
                if new {
                    project(newd)?
                } else if upserted.is_some() {
                    Bson::Null
                } else {
                    project(old)?
                }
            }
            None => Bson::Null,
        };
        let mut leo = doc! {"n": n as i32, "updatedExisting": n > 0 && upserted.is_none()};
        if let Some(id) = upserted {
            leo.insert("upserted", id);
        }
        Ok(doc! {"lastErrorObject": leo, "value": value})
    }
}
