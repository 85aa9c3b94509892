//! The query commands (manual "find", "distinct", "count"): filter, sort, skip, limit,
//! projection (positional too), `returnKey`/`showRecordId`, collation.

use bson::{Bson, Document, doc};

use super::args::{
    Reply, coll_name, filter_of, missing_field, non_negative, opt_bool, opt_doc, opt_int, type_mismatch,
    version_gate,
};
use super::let_vars::{let_vars, subst_filter};
use crate::engine::collation::{compare_collated, equal_collated};
use crate::engine::collection::RecordId;
use crate::engine::compare::num;
use crate::engine::matcher::{Filter, lookup_doc};
use crate::engine::projection::Projection;
use crate::engine::sort::SortSpec;
use crate::engine::{CommandError, ExecContext, Store, find_modifiers};

impl Store {
    pub(super) fn cmd_find(&mut self, db: &str, cmd: &Document, ctx: &ExecContext) -> Reply {
        let coll = coll_name(cmd)?;
        version_gate(
            ctx,
            13,
            cmd.contains_key("let"),
            9,
            "FailedToParse",
            "Failed to parse: find. Unrecognized field 'let'.",
        )?;
        version_gate(
            ctx,
            9,
            cmd.contains_key("allowDiskUse"),
            9,
            "FailedToParse",
            "Failed to parse: find. Unrecognized field 'allowDiskUse'.",
        )?;
        let vars = let_vars(cmd)?;
        let q = subst_filter(&opt_doc(cmd, "filter")?.cloned().unwrap_or_default(), &vars);
        let filter = Filter::parse(&q)?;
        self.check_hint(db, &coll, cmd.get("hint"))?;
        // The positional projection `{"arr.$": 1}` keeps the first element the query matched.
        let mut positional: Option<String> = None;
        let projection_spec = opt_doc(cmd, "projection")?.filter(|p| !p.is_empty()).map(|p| {
            p.iter()
                .map(|(k, v)| match k.strip_suffix(".$") {
                    Some(prefix) => {
                        positional = Some(prefix.to_string());
                        (prefix.to_string(), v.clone())
                    }
                    None => (k.clone(), v.clone()),
                })
                .collect::<Document>()
        });
        let projection = projection_spec.as_ref().map(Projection::parse).transpose()?;
        let sort = opt_doc(cmd, "sort")?.map(SortSpec::parse).transpose()?.unwrap_or_default();
        let skip = non_negative(cmd, "skip")?.unwrap_or(0) as usize;
        let limit = opt_int(cmd, "limit")?;
        let batch_size = non_negative(cmd, "batchSize")?;
        let mut single_batch = opt_bool(cmd, "singleBatch", false)?;
        let limit = match limit {
            Some(l) if l < 0 => {
                single_batch = true;
                Some(l.unsigned_abs() as usize)
            }
            Some(0) | None => None,
            Some(l) => Some(l as usize),
        };
        let mut docs = match (ctx.read_at, q.len(), q.get("_id")) {
            // Point lookup through the `_id` index.
            (None, 1, Some(id))
                if !matches!(id, Bson::Document(_) | Bson::RegularExpression(_) | Bson::Array(_)) =>
            {
                self.collection(db, &coll)
                    .and_then(|c| c.by_id(id))
                    .map(|(_, d)| vec![d.clone()])
                    .unwrap_or_default()
            }
            _ => self.read_matching(db, &coll, ctx, &filter)?,
        };
        if matches!(opt_doc(cmd, "sort")?.and_then(|s| s.get("$natural")).and_then(num), Some(n) if n.as_f64() < 0.0)
        {
            docs.reverse();
        }
        sort.sort(&mut docs);
        let docs: Vec<Document> = docs.into_iter().skip(skip).take(limit.unwrap_or(usize::MAX)).collect();
        let return_key = opt_bool(cmd, "returnKey", false)?;
        let show_record_id = opt_bool(cmd, "showRecordId", false)?;
        let plain = self.collection(db, &coll).filter(|c| !c.options.contains_key("viewOn"));
        // `returnKey` replaces each result by its key in the scanned index, whatever the projection.
        let key_index = match (return_key, plain) {
            (true, Some(c)) => find_modifiers::planned_index(c, &q, opt_doc(cmd, "sort")?, cmd.get("hint")),
            _ => None,
        };
        let record_ids: Vec<Option<RecordId>> = match (show_record_id && !return_key, plain) {
            (true, Some(c)) => {
                docs.iter().map(|d| d.get("_id").and_then(|id| c.by_id(id)).map(|(rid, _)| rid)).collect()
            }
            _ => Vec::new(),
        };
        let docs = match &projection {
            _ if return_key => docs.iter().map(|d| find_modifiers::index_key(key_index, d)).collect(),
            Some(p) => docs
                .iter()
                .map(|d| {
                    let mut out = p.apply(d)?;
                    if let Some(prefix) = &positional {
                        let parts: Vec<&str> = prefix.split('.').chain(std::iter::once("$")).collect();
                        let i = crate::engine::update::positional_match(d, &parts, &q)?;
                        if let (Some(i), Some(Bson::Array(a))) =
                            (i, crate::engine::matcher::get_path(d, prefix))
                        {
                            crate::engine::aggregate::set_path(
                                &mut out,
                                prefix,
                                Bson::Array(a.get(i).cloned().into_iter().collect()),
                            );
                        }
                    }
                    Ok(out)
                })
                .collect::<Result<_, CommandError>>()?,
            None => docs,
        };
        let docs = if record_ids.is_empty() {
            docs
        } else {
            docs.into_iter()
                .zip(record_ids)
                .map(|(d, rid)| match rid {
                    Some(rid) => find_modifiers::with_record_id(d, rid),
                    None => d,
                })
                .collect()
        };
        let batch = match (batch_size, limit, single_batch) {
            (Some(b), _, _) => Some(b as usize),
            (None, Some(l), true) => Some(l),
            _ => None,
        };
        Ok(self.cursor_reply(format!("{db}.{coll}"), docs, batch, single_batch, ctx))
    }

    pub(super) fn cmd_distinct(&mut self, db: &str, cmd: &Document, ctx: &ExecContext) -> Reply {
        let coll = coll_name(cmd)?;
        let key = match cmd.get("key") {
            Some(Bson::String(k)) => k.clone(),
            Some(other) => return Err(type_mismatch("distinct", "key", other, "string")),
            None => {
                return Err(missing_field("distinct.key"));
            }
        };
        let (filter, _) = filter_of(cmd, "query")?;
        // Values equal under the command's collation count once (the first one seen).
        let mut values: Vec<Bson> = Vec::new();
        let mut add = |v: &Bson| {
            if !values.iter().any(|seen| equal_collated(seen, v)) {
                values.push(v.clone());
            }
        };
        for d in self.read_matching(db, &coll, ctx, &filter)? {
            for v in lookup_doc(&d, &key).into_iter().flatten() {
                match v {
                    // distinct looks one level into arrays.
                    Bson::Array(a) => a.iter().for_each(&mut add),
                    other => add(other),
                }
            }
        }
        values.sort_by(compare_collated);
        Ok(doc! {"values": values})
    }

    pub(super) fn cmd_count(&mut self, db: &str, cmd: &Document, ctx: &ExecContext) -> Reply {
        let coll = coll_name(cmd)?;
        let (filter, _) = filter_of(cmd, "query")?;
        let skip = non_negative(cmd, "skip")?.unwrap_or(0) as usize;
        self.check_hint(db, &coll, cmd.get("hint"))?;
        let limit = opt_int(cmd, "limit")?.map(|l| l.unsigned_abs() as usize).filter(|l| *l > 0);
        let n = self
            .read_matching(db, &coll, ctx, &filter)?
            .iter()
            .skip(skip)
            .take(limit.unwrap_or(usize::MAX))
            .count();
        Ok(doc! {"n": n as i32})
    }
}
