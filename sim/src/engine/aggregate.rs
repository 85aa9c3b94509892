//! The aggregation pipeline (MongoDB manual: "Aggregation Pipeline Stages" and "$group
//! accumulators").

use std::collections::BTreeMap;

use bson::{Bson, Document};

use super::CommandError;
use super::compare::{Key, compare, num};
use super::expr;
pub use super::expr::Accumulator;
use super::expr::accumulator::ACCUMULATORS;
use super::matcher::Filter;
use super::projection::Projection;
use super::sort::SortSpec;

fn err(code: i32, msg: impl Into<String>) -> CommandError {
    CommandError::new(code, &format!("Location{code}"), msg)
}

/// Where `$out` / `$merge` writes.
#[derive(Debug, Clone, PartialEq)]
pub struct OutTarget {
    /// Target database (`None`: the aggregate's database).
    pub db: Option<String>,
    /// Target collection.
    pub coll: String,
    /// `$merge` (upsert by `_id`) rather than `$out` (replace the collection).
    pub merge: bool,
    /// `$merge`'s `whenMatched`: `merge` (default), `replace`, `keepExisting` or `fail`.
    pub when_matched: String,
    /// `$merge`'s `whenNotMatched`: `insert` (default), `discard` or `fail`.
    pub when_not_matched: String,
    /// `$merge`'s `on` fields (default `_id`).
    pub on: Vec<String>,
}

impl OutTarget {
    fn new(db: Option<String>, coll: String, merge: bool) -> OutTarget {
        OutTarget {
            db,
            coll,
            merge,
            when_matched: "merge".into(),
            when_not_matched: "insert".into(),
            on: vec!["_id".into()],
        }
    }
}

#[derive(Debug, Clone)]
enum Stage {
    Match(Filter),
    Project(Projection),
    AddFields(Vec<(String, Bson)>),
    Unset(Vec<String>),
    Sort(SortSpec),
    Skip(usize),
    Limit(usize),
    Group(Bson, Vec<(String, String, Bson)>),
    Count(String),
    Unwind(String, Option<String>, bool),
    ReplaceRoot(Bson),
    Lookup { from: String, local: String, foreign: String, as_: String },
    SortByCount(Bson),
    Out(OutTarget),
}

/// A parsed pipeline.
#[derive(Debug, Clone)]
pub struct Pipeline {
    stages: Vec<Stage>,
}

fn field_path(v: &Bson, stage: &str) -> Result<String, CommandError> {
    match v {
        Bson::String(s) if s.starts_with('$') && s.len() > 1 => Ok(s[1..].to_string()),
        _ => {
            Err(err(28818, format!("{stage} path must be prefixed with a $: {}", super::compare::display(v))))
        }
    }
}

fn non_negative(v: &Bson, stage: &str, code_neg: i32) -> Result<usize, CommandError> {
    match num(v) {
        Some(n) if n.as_f64().fract() == 0.0 && n.as_f64() >= 0.0 => Ok(n.as_f64() as usize),
        Some(_) => Err(err(code_neg, format!("invalid argument to {stage} stage: Cannot be negative"))),
        None => Err(err(15972, format!("Argument to {stage} must be a number"))),
    }
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
            let stage = match name.as_str() {
                "$match" => {
                    let Bson::Document(q) = arg else {
                        return Err(err(15959, "the match filter must be an expression in an object"));
                    };
                    Stage::Match(Filter::parse(q)?)
                }
                "$project" => {
                    let Bson::Document(p) = arg else {
                        return Err(err(15969, "$project specification must be an object"));
                    };
                    if p.is_empty() {
                        return Err(err(
                            51272,
                            "Invalid $project :: caused by :: projection specification must have at least one field",
                        ));
                    }
                    Stage::Project(Projection::parse(p)?)
                }
                "$addFields" | "$set" => {
                    let Bson::Document(p) = arg else {
                        return Err(err(40272, format!("{name} specification stage must be an object")));
                    };
                    for v in p.values() {
                        expr::validate(v)?;
                    }
                    Stage::AddFields(p.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                }
                "$unset" => {
                    let fields: Vec<String> = match arg {
                        Bson::String(s) => vec![s.clone()],
                        Bson::Array(a) => a
                            .iter()
                            .map(|x| match x {
                                Bson::String(s) => Ok(s.clone()),
                                _ => Err(err(31120, "$unset specification must be a string or an array containing only string values")),
                            })
                            .collect::<Result<_, _>>()?,
                        _ => return Err(err(31002, "$unset specification must be a string or an array")),
                    };
                    Stage::Unset(fields)
                }
                "$sort" => {
                    let Bson::Document(p) = arg else {
                        return Err(err(15973, "the $sort key specification must be an object"));
                    };
                    if p.is_empty() {
                        return Err(err(15976, "$sort stage must have at least one sort key"));
                    }
                    Stage::Sort(SortSpec::parse(p)?)
                }
                "$skip" => Stage::Skip(non_negative(arg, "$skip", 15956)?),
                "$limit" => {
                    let n = non_negative(arg, "$limit", 15958)?;
                    if n == 0 {
                        return Err(err(15958, "the limit must be positive"));
                    }
                    Stage::Limit(n)
                }
                "$group" => {
                    let Bson::Document(g) = arg else {
                        return Err(err(15947, "a group's fields must be specified in an object"));
                    };
                    let Some(id) = g.get("_id") else {
                        return Err(err(15955, "a group specification must include an _id"));
                    };
                    expr::validate(id)?;
                    let mut accs = Vec::new();
                    for (k, v) in g {
                        if k == "_id" {
                            continue;
                        }
                        let Bson::Document(a) = v else {
                            return Err(err(40234, format!("The field '{k}' must be an accumulator object")));
                        };
                        let Some((op, e)) = a.iter().next().filter(|_| a.len() == 1) else {
                            return Err(err(40238, format!("The field '{k}' must specify one accumulator")));
                        };
                        if !ACCUMULATORS.contains(&op.as_str()) {
                            return Err(err(15952, format!("unknown group operator '{op}'")));
                        }
                        expr::validate(e)?;
                        accs.push((k.clone(), op.clone(), e.clone()));
                    }
                    Stage::Group(id.clone(), accs)
                }
                "$count" => match arg {
                    Bson::String(s) if !s.is_empty() && !s.starts_with('$') && !s.contains('.') => {
                        Stage::Count(s.clone())
                    }
                    _ => return Err(err(40156, "the count field must be a non-empty string")),
                },
                "$unwind" => match arg {
                    Bson::String(_) => Stage::Unwind(field_path(arg, "$unwind")?, None, false),
                    Bson::Document(d) => {
                        let path = field_path(d.get("path").unwrap_or(&Bson::Null), "$unwind")?;
                        let idx = match d.get("includeArrayIndex") {
                            Some(Bson::String(s)) => Some(s.clone()),
                            None => None,
                            Some(_) => {
                                return Err(err(
                                    28810,
                                    "expected a non-empty string for the includeArrayIndex option",
                                ));
                            }
                        };
                        let preserve = d.get("preserveNullAndEmptyArrays").is_some_and(expr::truthy);
                        Stage::Unwind(path, idx, preserve)
                    }
                    _ => {
                        return Err(err(
                            15981,
                            "expected either a string or an object as specification for $unwind stage",
                        ));
                    }
                },
                "$replaceRoot" => match arg {
                    Bson::Document(d) if d.contains_key("newRoot") => {
                        Stage::ReplaceRoot(d.get("newRoot").cloned().unwrap_or(Bson::Null))
                    }
                    _ => return Err(err(40231, "no newRoot specified for the $replaceRoot stage")),
                },
                "$replaceWith" => Stage::ReplaceRoot(arg.clone()),
                "$sortByCount" => Stage::SortByCount(arg.clone()),
                "$lookup" => {
                    let Bson::Document(d) = arg else {
                        return Err(err(15990, "the $lookup specification must be an object"));
                    };
                    let s = |k: &str| match d.get(k) {
                        Some(Bson::String(v)) => Ok(v.clone()),
                        _ => Err(CommandError::new(
                            9,
                            "FailedToParse",
                            format!("$lookup argument '{k}' must be a string"),
                        )),
                    };
                    Stage::Lookup {
                        from: s("from")?,
                        local: s("localField")?,
                        foreign: s("foreignField")?,
                        as_: s("as")?,
                    }
                }
                "$out" | "$merge" => {
                    if !last {
                        return Err(err(
                            40601,
                            format!("{name} can only be the final stage in the pipeline"),
                        ));
                    }
                    let merge = name == "$merge";
                    match arg {
                        Bson::String(c) => Stage::Out(OutTarget::new(None, c.clone(), merge)),
                        Bson::Document(d) => {
                            let coll_key = if merge { "into" } else { "coll" };
                            match (d.get(coll_key), d.get("db")) {
                                (Some(Bson::String(c)), db) => Stage::Out(merge_options(
                                    OutTarget::new(
                                        db.and_then(|x| x.as_str()).map(str::to_string),
                                        c.clone(),
                                        merge,
                                    ),
                                    d,
                                )?),
                                (Some(Bson::Document(into)), _) if merge => {
                                    match (into.get("coll"), into.get("db")) {
                                        (Some(Bson::String(c)), db) => Stage::Out(merge_options(
                                            OutTarget::new(
                                                db.and_then(|x| x.as_str()).map(str::to_string),
                                                c.clone(),
                                                merge,
                                            ),
                                            d,
                                        )?),
                                        _ => {
                                            return Err(CommandError::new(
                                                9,
                                                "FailedToParse",
                                                "bad $merge 'into'",
                                            ));
                                        }
                                    }
                                }
                                _ => {
                                    return Err(CommandError::new(
                                        9,
                                        "FailedToParse",
                                        format!("{name} needs a target collection"),
                                    ));
                                }
                            }
                        }
                        _ => {
                            return Err(err(
                                16990,
                                format!("{name} only supports a string or object argument"),
                            ));
                        }
                    }
                }
                other => {
                    return Err(err(40324, format!("Unrecognized pipeline stage name: '{other}'")));
                }
            };
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
                                other.as_ref().map_or("MISSING".to_string(), super::compare::display),
                                other.as_ref().map_or("missing", super::compare::type_name)
                            ),
                        )),
                    })
                    .collect::<Result<_, _>>()?,
                Stage::Lookup { from, local, foreign: ff, as_ } => {
                    let empty = Vec::new();
                    let others = foreign.get(from).unwrap_or(&empty);
                    docs.into_iter()
                        .map(|mut d| {
                            let locals: Vec<Bson> = match super::matcher::get_path(&d, local) {
                                Some(Bson::Array(a)) => a.clone(),
                                Some(v) => vec![v.clone()],
                                None => vec![Bson::Null],
                            };
                            let pred = super::matcher::Pred::In(locals);
                            let matched: Vec<Bson> = others
                                .iter()
                                .filter(|o| pred.matches(&super::matcher::lookup_doc(o, ff)))
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

/// Reads `$merge`'s `whenMatched`, `whenNotMatched` and `on` options.
fn merge_options(mut t: OutTarget, d: &Document) -> Result<OutTarget, CommandError> {
    if !t.merge {
        return Ok(t);
    }
    match d.get("whenMatched") {
        None => {}
        Some(Bson::String(w)) if matches!(w.as_str(), "merge" | "replace" | "keepExisting" | "fail") => {
            t.when_matched = w.clone();
        }
        Some(_) => {
            return Err(CommandError::new(51191, "Location51191", "unsupported $merge whenMatched mode"));
        }
    }
    match d.get("whenNotMatched") {
        None => {}
        Some(Bson::String(w)) if matches!(w.as_str(), "insert" | "discard" | "fail") => {
            t.when_not_matched = w.clone();
        }
        Some(_) => {
            return Err(CommandError::new(51191, "Location51191", "unsupported $merge whenNotMatched mode"));
        }
    }
    match d.get("on") {
        None => {}
        Some(Bson::String(f)) => t.on = vec![f.clone()],
        Some(Bson::Array(fs)) if !fs.is_empty() && fs.iter().all(|f| matches!(f, Bson::String(_))) => {
            t.on = fs.iter().filter_map(|f| f.as_str().map(str::to_string)).collect();
        }
        Some(_) => {
            return Err(CommandError::new(
                51186,
                "Location51186",
                "$merge 'on' must be a field name or an array of them",
            ));
        }
    }
    Ok(t)
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
        match super::matcher::get_path(&d, path).cloned() {
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
                    if matches!(super::matcher::get_path(&nd, path), Some(Bson::Array(_))) {
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

/// Sets a dotted path, creating (or replacing non-document) intermediates with documents.
pub fn set_path(doc: &mut Document, path: &str, v: Bson) {
    match path.split_once('.') {
        None => {
            doc.insert(path.to_string(), v);
        }
        Some((head, rest)) => {
            if !matches!(doc.get(head), Some(Bson::Document(_))) {
                doc.insert(head.to_string(), Bson::Document(Document::new()));
            }
            if let Some(Bson::Document(sub)) = doc.get_mut(head) {
                set_path(sub, rest, v);
            }
        }
    }
}

/// Sets a computed field the way `$addFields` does: an object literal merges into an
/// existing embedded document instead of replacing it (manual "$addFields: Adding Fields to
/// an Embedded Document").
fn merge_path(doc: &mut Document, path: &str, v: Bson, e: &Bson) {
    let plain_object = matches!(e, Bson::Document(d) if !d.keys().next().is_some_and(|k| k.starts_with('$')));
    if let (true, Bson::Document(new), Some(Bson::Document(old))) =
        (plain_object, &v, super::matcher::get_path(doc, path))
    {
        let mut merged = old.clone();
        let Bson::Document(exprs) = e else { return };
        for (k, x) in new {
            let sub_expr = exprs.get(k).cloned().unwrap_or(Bson::Null);
            merge_path(&mut merged, k, x.clone(), &sub_expr);
        }
        set_path(doc, path, Bson::Document(merged));
        return;
    }
    set_path(doc, path, v);
}

/// Removes a dotted path (through arrays of documents too).
pub fn remove_path(doc: &mut Document, path: &str) {
    match path.split_once('.') {
        None => {
            doc.remove(path);
        }
        Some((head, rest)) => match doc.get_mut(head) {
            Some(Bson::Document(sub)) => remove_path(sub, rest),
            Some(Bson::Array(items)) => {
                for i in items {
                    if let Bson::Document(sub) = i {
                        remove_path(sub, rest);
                    }
                }
            }
            _ => {}
        },
    }
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
