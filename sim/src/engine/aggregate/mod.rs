//! The aggregation pipeline (MongoDB manual: "Aggregation Pipeline Stages"): a parsed
//! [`Pipeline`] and how it runs (`$group`, `$unwind`, `$lookup`, …); stage parsing is in
//! `stage`, dotted-path writes in `paths`, the `$group` accumulators in [`expr::accumulator`].

mod paths;
mod stage;

use std::collections::BTreeMap;

use bson::{Bson, Document};

pub use super::expr::Accumulator;
pub use paths::{remove_path, set_path};
pub use stage::OutTarget;

use super::CommandError;
use super::compare::{Key, compare};
use super::expr;
use paths::merge_path;
use stage::{Stage, err};

/// A parsed pipeline.
#[derive(Debug, Clone)]
pub struct Pipeline {
    stages: Vec<Stage>,
}

impl Pipeline {
    /// Parses the stages, rejecting unknown stages and malformed arguments.
    pub fn parse(stages: &[Document]) -> Result<Pipeline, CommandError> {
        let mut out = Vec::new();
        for (i, s) in stages.iter().enumerate() {
            if s.len() != 1 {
                return Err(err(
                    40323,
                    "A pipeline stage specification object must contain exactly one field.",
                ));
            }
            let Some((name, arg)) = s.iter().next() else { continue };
            let last = i + 1 == stages.len();
            let stage = Stage::parse(name, arg, last)?;
            out.push(stage);
        }
        Ok(Pipeline { stages: out })
    }

    /// The `$out`/`$merge` target, if the pipeline ends with one.
    pub fn out_target(&self) -> Option<&OutTarget> {
        match self.stages.last() {
            Some(Stage::Out(t)) => Some(t),
            _ => None,
        }
    }

    /// The collections `$lookup` stages read.
    pub fn lookups(&self) -> Vec<String> {
        self.stages
            .iter()
            .filter_map(|s| match s {
                Stage::Lookup { from, .. } => Some(from.clone()),
                _ => None,
            })
            .collect()
    }

    /// Runs an update pipeline on one document.
    pub fn apply_to_one(&self, doc: Document) -> Result<Document, CommandError> {
        let out = self.run(vec![doc], &BTreeMap::new())?;
        Ok(out.into_iter().next().unwrap_or_default())
    }

    /// Runs the pipeline (`$out`/`$merge` excluded: the caller writes the result).
    /// `foreign` holds the documents of the collections `$lookup` reads.
    pub fn run(
        &self,
        mut docs: Vec<Document>,
        foreign: &BTreeMap<String, Vec<Document>>,
    ) -> Result<Vec<Document>, CommandError> {
        for stage in &self.stages {
            docs = match stage {
                Stage::Match(f) => docs.into_iter().filter(|d| f.matches(d)).collect(),
                Stage::Project(p) => docs.iter().map(|d| p.apply(d)).collect::<Result<_, _>>()?,
                Stage::AddFields(fields) => {
                    let mut out = Vec::with_capacity(docs.len());
                    for d in docs {
                        let mut nd = d.clone();
                        for (k, e) in fields {
                            match expr::eval_opt(e, &d)? {
                                Some(v) => merge_path(&mut nd, k, v, e),
                                None => remove_path(&mut nd, k),
                            }
                        }
                        out.push(nd);
                    }
                    out
                }
                Stage::Unset(fields) => {
                    for d in &mut docs {
                        for f in fields {
                            remove_path(d, f);
                        }
                    }
                    docs
                }
                Stage::Sort(s) => {
                    s.sort(&mut docs);
                    docs
                }
                Stage::Skip(n) => docs.into_iter().skip(*n).collect(),
                Stage::Limit(n) => docs.into_iter().take(*n).collect(),
                Stage::Group(id, accs) => group(docs, id, accs)?,
                Stage::SortByCount(e) => {
                    let mut out = group(docs, e, &[("count".into(), "$sum".into(), Bson::Int32(1))])?;
                    out.sort_by(|a, b| {
                        compare(b.get("count").unwrap_or(&Bson::Null), a.get("count").unwrap_or(&Bson::Null))
                    });
                    out
                }
                Stage::Count(name) => {
                    if docs.is_empty() {
                        vec![]
                    } else {
                        let mut d = Document::new();
                        d.insert(name.clone(), Bson::Int32(docs.len() as i32));
                        vec![d]
                    }
                }
                Stage::Unwind(path, idx, preserve) => unwind(docs, path, idx.as_deref(), *preserve),
                Stage::ReplaceRoot(e) => docs
                    .iter()
                    .map(|d| match expr::eval_opt(e, d)? {
                        Some(Bson::Document(nd)) => Ok(nd),
                        other => Err(err(
                            40228,
                            format!(
                                "'newRoot' expression must evaluate to an object, but resulting value was: {}. Type of resulting value: '{}'.",
                                other.as_ref().map_or("MISSING".to_string(), crate::engine::compare::display),
                                other.as_ref().map_or("missing", crate::engine::compare::type_name)
                            ),
                        )),
                    })
                    .collect::<Result<_, _>>()?,
                Stage::Lookup { from, local, foreign: ff, as_ } => {
                    let empty = Vec::new();
                    let others = foreign.get(from).unwrap_or(&empty);
                    docs.into_iter()
                        .map(|mut d| {
                            let locals: Vec<Bson> = match crate::engine::matcher::get_path(&d, local) {
                                Some(Bson::Array(a)) => a.clone(),
                                Some(v) => vec![v.clone()],
                                None => vec![Bson::Null],
                            };
                            let pred = crate::engine::matcher::Pred::In(locals);
                            let matched: Vec<Bson> = others
                                .iter()
                                .filter(|o| pred.matches(&crate::engine::matcher::lookup_doc(o, ff)))
                                .map(|o| Bson::Document(o.clone()))
                                .collect();
                            set_path(&mut d, as_, Bson::Array(matched));
                            d
                        })
                        .collect()
                }
                Stage::Out(_) => docs,
            };
        }
        Ok(docs)
    }
}

fn group(
    docs: Vec<Document>,
    id: &Bson,
    accs: &[(String, String, Bson)],
) -> Result<Vec<Document>, CommandError> {
    let mut index: BTreeMap<Key, usize> = BTreeMap::new();
    let mut groups: Vec<(Bson, Vec<Accumulator>)> = Vec::new();
    for d in &docs {
        let key = expr::eval_opt(id, d)?.unwrap_or(Bson::Null);
        let gi = match index.get(&Key(key.clone())) {
            Some(i) => *i,
            None => {
                groups.push((key.clone(), accs.iter().map(|(_, op, _)| Accumulator::new(op)).collect()));
                index.insert(Key(key), groups.len() - 1);
                groups.len() - 1
            }
        };
        for (ai, (_, op, e)) in accs.iter().enumerate() {
            let v = if op == "$count" { None } else { expr::eval_opt(e, d)? };
            groups[gi].1[ai].add(v.as_ref());
        }
    }
    Ok(groups
        .into_iter()
        .map(|(key, state)| {
            let mut out = Document::new();
            out.insert("_id", key);
            for ((name, _, _), acc) in accs.iter().zip(state) {
                out.insert(name.clone(), acc.finish());
            }
            out
        })
        .collect())
}

fn unwind(docs: Vec<Document>, path: &str, idx: Option<&str>, preserve: bool) -> Vec<Document> {
    let mut out = Vec::new();
    for d in docs {
        match crate::engine::matcher::get_path(&d, path).cloned() {
            Some(Bson::Array(items)) if !items.is_empty() => {
                for (i, item) in items.into_iter().enumerate() {
                    let mut nd = d.clone();
                    set_path(&mut nd, path, item);
                    if let Some(f) = idx {
                        set_path(&mut nd, f, Bson::Int64(i as i64));
                    }
                    out.push(nd);
                }
            }
            Some(Bson::Array(_)) | Some(Bson::Null) | None => {
                if preserve {
                    let mut nd = d;
                    if matches!(crate::engine::matcher::get_path(&nd, path), Some(Bson::Array(_))) {
                        remove_path(&mut nd, path);
                    }
                    if let Some(f) = idx {
                        set_path(&mut nd, f, Bson::Null);
                    }
                    out.push(nd);
                }
            }
            Some(_) => {
                let mut nd = d;
                if let Some(f) = idx {
                    set_path(&mut nd, f, Bson::Null);
                }
                out.push(nd);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn run(stages: Vec<Document>, docs: Vec<Document>) -> Vec<Document> {
        Pipeline::parse(&stages).unwrap().run(docs, &BTreeMap::new()).unwrap()
    }

    fn sales() -> Vec<Document> {
        vec![
            doc! {"_id": 1, "item": "a", "price": 10, "qty": 2},
            doc! {"_id": 2, "item": "b", "price": 20, "qty": 1},
            doc! {"_id": 3, "item": "a", "price": 5, "qty": 10},
            doc! {"_id": 4, "item": "c", "price": 10.5},
        ]
    }

    #[test]
    fn group_accumulators() {
        let out = run(
            vec![
                doc! {"$group": {
                    "_id": "$item",
                    "total": {"$sum": {"$multiply": ["$price", "$qty"]}},
                    "n": {"$sum": 1},
                    "avgQty": {"$avg": "$qty"},
                    "minP": {"$min": "$price"},
                    "maxP": {"$max": "$price"},
                    "first": {"$first": "$_id"},
                    "last": {"$last": "$_id"},
                    "prices": {"$push": "$price"},
                    "qtys": {"$addToSet": "$qty"},
                }},
                doc! {"$sort": {"_id": 1}},
            ],
            sales(),
        );
        assert_eq!(
            out[0],
            doc! {"_id": "a", "total": 70, "n": 2, "avgQty": 6.0, "minP": 5, "maxP": 10, "first": 1, "last": 3, "prices": [10, 5], "qtys": [2, 10]}
        );
        // Manual "$sum": non-numeric (here null from a missing operand) values are ignored;
        // "$avg" of no numeric values is null; "$push"/"$addToSet" skip missing values.
        assert_eq!(
            out[2],
            doc! {"_id": "c", "total": 0, "n": 1, "avgQty": null, "minP": 10.5, "maxP": 10.5, "first": 4, "last": 4, "prices": [10.5], "qtys": []}
        );
        let all = run(vec![doc! {"$group": {"_id": null, "c": {"$sum": "$qty"}}}], sales());
        assert_eq!(all, vec![doc! {"_id": null, "c": 13}]);
    }

    #[test]
    fn shaping_stages() {
        let out = run(
            vec![
                doc! {"$match": {"price": {"$gte": 10}}},
                doc! {"$set": {"cost": {"$multiply": ["$price", 2]}}},
                doc! {"$unset": ["qty"]},
                doc! {"$project": {"item": 1, "cost": 1}},
                doc! {"$sort": {"cost": -1}},
                doc! {"$skip": 1},
                doc! {"$limit": 1},
            ],
            sales(),
        );
        assert_eq!(out, vec![doc! {"_id": 4, "item": "c", "cost": 21.0}]);
        assert_eq!(run(vec![doc! {"$count": "n"}], sales()), vec![doc! {"n": 4}]);
        // $count on no input produces no document.
        assert_eq!(
            run(vec![doc! {"$match": {"x": 1}}, doc! {"$count": "n"}], sales()),
            Vec::<Document>::new()
        );
        let out = run(vec![doc! {"$addFields": {"a": {"y": 2}, "b.c": 3}}], vec![doc! {"a": {"x": 1}}]);
        // $addFields merges an object literal into an existing embedded document.
        assert_eq!(out, vec![doc! {"a": {"x": 1, "y": 2}, "b": {"c": 3}}]);
        let out = run(vec![doc! {"$replaceRoot": {"newRoot": {"i": "$item"}}}, doc! {"$limit": 1}], sales());
        assert_eq!(out, vec![doc! {"i": "a"}]);
    }

    #[test]
    fn unwind_forms() {
        let docs = vec![
            doc! {"_id": 1, "a": [1, 2]},
            doc! {"_id": 2, "a": []},
            doc! {"_id": 3},
            doc! {"_id": 4, "a": 5},
        ];
        assert_eq!(
            run(vec![doc! {"$unwind": "$a"}], docs.clone()),
            vec![doc! {"_id": 1, "a": 1}, doc! {"_id": 1, "a": 2}, doc! {"_id": 4, "a": 5}]
        );
        assert_eq!(
            run(
                vec![
                    doc! {"$unwind": {"path": "$a", "preserveNullAndEmptyArrays": true, "includeArrayIndex": "i"}}
                ],
                docs
            ),
            vec![
                doc! {"_id": 1, "a": 1, "i": 0_i64},
                doc! {"_id": 1, "a": 2, "i": 1_i64},
                doc! {"_id": 2, "i": null},
                doc! {"_id": 3, "i": null},
                doc! {"_id": 4, "a": 5, "i": null},
            ]
        );
    }

    #[test]
    fn bad_pipelines() {
        assert_eq!(Pipeline::parse(&[doc! {"$nope": 1}]).unwrap_err().code, 40324);
        assert_eq!(Pipeline::parse(&[doc! {"$out": "x"}, doc! {"$match": {}}]).unwrap_err().code, 40601);
        assert!(Pipeline::parse(&[doc! {"$group": {"a": {"$sum": 1}}}]).is_err());
        assert!(Pipeline::parse(&[doc! {"$limit": -1}]).is_err());
    }
}
