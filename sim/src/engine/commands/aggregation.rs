//! The `aggregate` command (manual "aggregate"): collection and collectionless pipelines,
//! `$changeStream` cursors, `$documents`/`$collStats`/`$listLocalSessions` sources, and the
//! `$out`/`$merge` writes.

use std::collections::{BTreeMap, VecDeque};

use bson::{Bson, Document, doc};

use super::args::{Reply, coll_name, doc_array, non_negative, opt_bool, type_mismatch, version_gate};
use super::let_vars::{let_vars, subst_pipeline};
use super::writes::with_id_first;
use crate::engine::aggregate::Pipeline;
use crate::engine::change_stream::Stream;
use crate::engine::compare::{num, type_name, values_equal};
use crate::engine::cursor::Cursor;
use crate::engine::matcher::Filter;
use crate::engine::{CommandError, ExecContext, Store};

impl Store {
    pub(super) fn cmd_aggregate(&mut self, db: &str, cmd: &Document, ctx: &ExecContext) -> Reply {
        let coll = match cmd.get("aggregate") {
            Some(Bson::String(_)) => Some(coll_name(cmd)?),
            Some(v) if num(v).is_some_and(|n| n.as_f64() == 1.0) => None,
            Some(other) => {
                return Err(CommandError::new(
                    73,
                    "InvalidNamespace",
                    format!("collection name has invalid type {}", type_name(other)),
                ));
            }
            None => None,
        };
        let stages: Vec<Document> = doc_array(cmd, "pipeline")?.into_iter().cloned().collect();
        version_gate(ctx, 13, cmd.contains_key("let"), 9, "FailedToParse", "unrecognized field 'let'")?;
        let stages = subst_pipeline(&stages, &let_vars(cmd)?);
        if opt_bool(cmd, "explain", false)? {
            return Err(CommandError::new(2, "BadValue", "explain is not supported by the simulator"));
        }
        let batch_size = match cmd.get("cursor") {
            Some(Bson::Document(c)) => non_negative(c, "batchSize")?,
            Some(other) => return Err(type_mismatch("aggregate", "cursor", other, "object")),
            None => {
                return Err(CommandError::new(
                    9,
                    "FailedToParse",
                    "The 'cursor' option is required, except for aggregate with the explain argument",
                ));
            }
        };
        if let Some(Bson::Document(spec)) = stages.first().and_then(|st| st.get("$changeStream")) {
            let spec = spec.clone();
            let mut stream = Stream::open(
                db,
                coll.as_deref(),
                &spec,
                &stages[1..],
                ctx.max_wire_version,
                self.last_write,
            )?;
            let (first, pos, invalidated) = self.stream_events(&stream, batch_size.map(|b| b as usize))?;
            stream.pos = pos;
            let ns = match &coll {
                Some(c) => format!("{db}.{c}"),
                None => format!("{db}.$cmd.aggregate"),
            };
            let resume = crate::engine::change_stream::token(&stream.pos);
            if invalidated {
                return Ok(
                    doc! {"cursor": {"firstBatch": first, "postBatchResumeToken": resume, "id": 0_i64, "ns": ns}},
                );
            }
            let id = self.new_cursor_id();
            self.cursors.insert(
                id,
                Cursor {
                    ns: ns.clone(),
                    docs: VecDeque::new(),
                    lsid: ctx.lsid.clone(),
                    read_at: None,
                    stream: Some(stream),
                },
            );
            return Ok(
                doc! {"cursor": {"firstBatch": first, "postBatchResumeToken": resume, "id": id, "ns": ns}},
            );
        }
        // Collectionless first stages produce the input themselves.
        let mut stages = stages;
        let mut generated: Option<Vec<Document>> = None;
        match stages.first().and_then(|s| s.iter().next()).map(|(k, v)| (k.clone(), v.clone())) {
            Some((name, arg)) if name == "$documents" => {
                let Bson::Array(items) = arg else {
                    return Err(CommandError::new(
                        5858203,
                        "Location5858203",
                        "$documents requires an array of objects",
                    ));
                };
                generated = Some(items.iter().filter_map(|d| d.as_document().cloned()).collect());
                stages.remove(0);
            }
            Some((name, arg)) if name == "$collStats" => {
                let (Some(c), Bson::Document(spec)) = (&coll, &arg) else {
                    return Err(CommandError::new(
                        5447000,
                        "Location5447000",
                        "$collStats must be the first stage of a collection aggregate and take an object",
                    ));
                };
                let stats = self.coll_stats(db, c, 1)?;
                let mut out =
                    doc! {"ns": format!("{db}.{c}"), "host": "mongo-sim", "localTime": bson::DateTime::now()};
                if spec.contains_key("count") {
                    out.insert("count", stats.get("count").cloned().unwrap_or(Bson::Int32(0)));
                }
                if spec.contains_key("storageStats") {
                    out.insert("storageStats", stats);
                }
                generated = Some(vec![out]);
                stages.remove(0);
            }
            Some((name, _)) if name == "$listLocalSessions" => {
                // The engine knows only the command's own session (the server's session cache
                // is not visible here); mongod lists every cached session.
                let sessions: Vec<Document> = ctx
                    .lsid
                    .iter()
                    .map(|l| doc! {"_id": l.clone(), "lastUse": bson::DateTime::now()})
                    .collect();
                generated = Some(sessions);
                stages.remove(0);
            }
            Some((name, _)) if coll.is_none() => {
                return Err(CommandError::new(
                    73,
                    "InvalidNamespace",
                    format!("{{aggregate: 1}} is not valid for '{name}'; a collection is required."),
                ));
            }
            _ => {}
        }
        let pipeline = Pipeline::parse(&stages)?;
        self.check_hint(db, coll.as_deref().unwrap_or(""), cmd.get("hint"))?;
        let input = match (generated, &coll) {
            (Some(docs), _) => docs,
            // A leading $match filters while reading (it runs again in the pipeline, harmlessly).
            (None, Some(c)) => match stages.first().and_then(|st| st.get("$match")) {
                Some(Bson::Document(q)) => self.read_matching(db, c, ctx, &Filter::parse(q)?)?,
                _ => self.read_docs(db, c, ctx)?,
            },
            (None, None) => Vec::new(),
        };
        let mut foreign = BTreeMap::new();
        for from in pipeline.lookups() {
            let docs = self.read_docs(db, &from, ctx)?;
            foreign.insert(from, docs);
        }
        let out = pipeline.run(input, &foreign)?;
        let ns = match &coll {
            Some(c) => format!("{db}.{c}"),
            None => format!("{db}.$cmd.aggregate"),
        };
        let linearizable = cmd
            .get_document("readConcern")
            .ok()
            .and_then(|rc| rc.get_str("level").ok())
            .is_some_and(|l| l == "linearizable");
        if linearizable && pipeline.out_target().is_some() {
            return Err(CommandError::new(
                72,
                "InvalidOptions",
                "$out and $merge cannot be used with readConcern level 'linearizable'",
            ));
        }
        if let Some(target) = pipeline.out_target().cloned() {
            let tdb = target.db.clone().unwrap_or_else(|| db.to_string());
            let ts = self.stamp(ctx);
            let tns = format!("{tdb}.{}", target.coll);
            let c = self.coll_mut(&tdb, &target.coll, ts);
            if !target.merge {
                c.clear(ts);
            }
            for d in out {
                let d = with_id_first(&d);
                if !target.merge {
                    c.insert(&tns, d, ts).map_err(CommandError::from)?;
                    continue;
                }
                // $merge: find the target document by the `on` fields.
                let existing = if target.on == ["_id"] {
                    d.get("_id").and_then(|id| c.by_id(id)).map(|(rid, _)| rid)
                } else {
                    c.iter()
                        .find(|(_, o)| {
                            target.on.iter().all(|f| {
                                let a = crate::engine::matcher::get_path(&d, f).unwrap_or(&Bson::Null);
                                let b = crate::engine::matcher::get_path(o, f).unwrap_or(&Bson::Null);
                                values_equal(a, b)
                            })
                        })
                        .map(|(rid, _)| rid)
                };
                let fail = |what: &str| {
                    CommandError::new(
                        if what == "matched" { 11000 } else { 13113 },
                        if what == "matched" { "DuplicateKey" } else { "MergeStageNoMatchingDocument" },
                        format!("$merge failed: document {what} in {tns}"),
                    )
                };
                match (existing, target.when_matched.as_str(), target.when_not_matched.as_str()) {
                    (Some(_), "keepExisting", _) => {}
                    // whenMatched "fail" is an insert (jstests/aggregation/sources/merge/
                    // mode_fail_insert.js): the `on` fields' unique index refuses it with its
                    // DuplicateKey error, keyPattern/keyValue included (SERVER-59097, 5.1+).
                    (Some(_), "fail", _) => {
                        return Err(match c.check_unique(&tns, &d, None) {
                            Err(e) => e.into(),
                            Ok(()) => fail("matched"),
                        });
                    }
                    (Some(rid), mode, _) => {
                        let Some(old) = c.get(rid).cloned() else { continue };
                        let mut new = if mode == "merge" { old.clone() } else { Document::new() };
                        if let Some(id) = old.get("_id") {
                            new.insert("_id", id.clone());
                        }
                        for (k, v) in d {
                            if k != "_id" {
                                new.insert(k, v);
                            }
                        }
                        let r = if mode == "replace" {
                            c.replace_whole(&tns, rid, new, ts)
                        } else {
                            c.replace(&tns, rid, new, ts)
                        };
                        r.map_err(CommandError::from)?;
                    }
                    (None, _, "discard") => {}
                    (None, _, "fail") => return Err(fail("not matched")),
                    (None, _, _) => {
                        c.insert(&tns, d, ts).map_err(CommandError::from)?;
                    }
                }
            }
            return Ok(doc! {"cursor": {"firstBatch": Vec::<Bson>::new(), "id": 0_i64, "ns": ns}});
        }
        Ok(self.cursor_reply(ns, out, batch_size.map(|b| b as usize), false, ctx))
    }
}
