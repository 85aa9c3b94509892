//! Pipeline stages (MongoDB manual: "Aggregation Pipeline Stages"): parsing each stage's
//! specification, with mongod's errors, into a [`Stage`]; the `$out`/`$merge` target.

use bson::{Bson, Document};

use super::super::CommandError;
use crate::engine::compare::num;
use crate::engine::expr;
use crate::engine::expr::accumulator::ACCUMULATORS;
use crate::engine::matcher::Filter;
use crate::engine::projection::Projection;
use crate::engine::sort::SortSpec;

pub(super) fn err(code: i32, msg: impl Into<String>) -> CommandError {
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

/// One parsed stage.
#[derive(Debug, Clone)]
pub(super) enum Stage {
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

impl Stage {
    /// Parses one stage `{name: arg}` (`last`: it ends the pipeline, where `$out`/`$merge` must be).
    pub(super) fn parse(name: &str, arg: &Bson, last: bool) -> Result<Stage, CommandError> {
        let stage = match name {
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
                    return Err(err(40601, format!("{name} can only be the final stage in the pipeline")));
                }
                let merge = name == "$merge";
                match arg {
                    Bson::String(c) => Stage::Out(OutTarget::new(None, c.clone(), merge)),
                    Bson::Document(d) => {
                        // The target `{coll, db}` (or, for `$merge`, `into` as a name or a
                        // `{db, coll}` document) with the stage's `$merge` options.
                        let target = |c: &String, db: Option<&Bson>| {
                            let db = db.and_then(|x| x.as_str()).map(str::to_string);
                            merge_options(OutTarget::new(db, c.clone(), merge), d).map(Stage::Out)
                        };
                        let coll_key = if merge { "into" } else { "coll" };
                        match (d.get(coll_key), d.get("db")) {
                            (Some(Bson::String(c)), db) => target(c, db)?,
                            (Some(Bson::Document(into)), _) if merge => {
                                match (into.get("coll"), into.get("db")) {
                                    (Some(Bson::String(c)), db) => target(c, db)?,
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
                        return Err(err(16990, format!("{name} only supports a string or object argument")));
                    }
                }
            }
            other => {
                return Err(err(40324, format!("Unrecognized pipeline stage name: '{other}'")));
            }
        };
        Ok(stage)
    }
}

pub(super) fn field_path(v: &Bson, stage: &str) -> Result<String, CommandError> {
    match v {
        Bson::String(s) if s.starts_with('$') && s.len() > 1 => Ok(s[1..].to_string()),
        _ => Err(err(
            28818,
            format!("{stage} path must be prefixed with a $: {}", crate::engine::compare::display(v)),
        )),
    }
}

pub(super) fn non_negative(v: &Bson, stage: &str, code_neg: i32) -> Result<usize, CommandError> {
    match num(v) {
        Some(n) if n.as_f64().fract() == 0.0 && n.as_f64() >= 0.0 => Ok(n.as_f64() as usize),
        Some(_) => Err(err(code_neg, format!("invalid argument to {stage} stage: Cannot be negative"))),
        None => Err(err(15972, format!("Argument to {stage} must be a number"))),
    }
}

/// Reads `$merge`'s `whenMatched`, `whenNotMatched` and `on` options.
pub(super) fn merge_options(mut t: OutTarget, d: &Document) -> Result<OutTarget, CommandError> {
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
