//! Aggregation expressions (MongoDB manual: "Aggregation Pipeline Operators" — field paths,
//! literals, variables and the arithmetic, string, comparison, boolean, conditional, array,
//! object and type operators).
//!
//! This file is the evaluator (field paths, variables, literals, and the dispatch of each
//! operator to its family); the families (`numeric`, `strings`, `logic`, `arrays`, `objects`,
//! `types`) see the evaluator only through [`scope::Evaluate`], so none imports this file.

pub mod accumulator;
mod arrays;
mod logic;
mod numeric;
mod objects;
mod scope;
mod strings;
mod types;

use bson::{Bson, Document};

pub use accumulator::Accumulator;
pub use numeric::arith;
pub use scope::truthy;
use scope::{Evaluate, Scope, args_of, err, unknown};

use super::CommandError;

/// Evaluates an expression against a document; a missing result is `None`.
pub fn eval_opt(e: &Bson, doc: &Document) -> Result<Option<Bson>, CommandError> {
    let mut s = Scope { root: doc, vars: Vec::new() };
    s.ev(e)
}

/// Evaluates an expression against a document; missing becomes null.
pub fn eval(e: &Bson, doc: &Document) -> Result<Bson, CommandError> {
    Ok(eval_opt(e, doc)?.unwrap_or(Bson::Null))
}

/// Checks an expression for unknown operators without evaluating it.
pub fn validate(e: &Bson) -> Result<(), CommandError> {
    match e {
        Bson::Document(d) => {
            if let Some(k) = d.keys().next().filter(|k| k.starts_with('$')) {
                if d.len() > 1 {
                    return Err(err(
                        15983,
                        format!(
                            "an expression specification must contain exactly one field, the name of the expression. Found {} fields",
                            d.len()
                        ),
                    ));
                }
                if !KNOWN.contains(&k.as_str()) {
                    return Err(unknown(k));
                }
                if k == "$literal" {
                    return Ok(());
                }
            }
            d.values().try_for_each(validate)
        }
        Bson::Array(a) => a.iter().try_for_each(validate),
        _ => Ok(()),
    }
}

const KNOWN: &[&str] = &[
    "$add",
    "$subtract",
    "$multiply",
    "$divide",
    "$mod",
    "$abs",
    "$ceil",
    "$floor",
    "$trunc",
    "$concat",
    "$toUpper",
    "$toLower",
    "$substr",
    "$substrBytes",
    "$substrCP",
    "$strLenBytes",
    "$strLenCP",
    "$split",
    "$eq",
    "$ne",
    "$gt",
    "$gte",
    "$lt",
    "$lte",
    "$cmp",
    "$and",
    "$or",
    "$not",
    "$cond",
    "$ifNull",
    "$size",
    "$arrayElemAt",
    "$in",
    "$isArray",
    "$type",
    "$literal",
    "$concatArrays",
    "$first",
    "$last",
    "$sum",
    "$avg",
    "$min",
    "$max",
    "$mergeObjects",
    "$toString",
    "$toInt",
    "$toLong",
    "$toDouble",
    "$toBool",
    "$let",
    "$map",
    "$filter",
    "$switch",
    "$reverseArray",
    "$range",
    "$objectToArray",
    "$arrayToObject",
    "$trim",
    "$ltrim",
    "$rtrim",
    "$strcasecmp",
    "$isNumber",
    "$setUnion",
    "$indexOfArray",
    "$setField",
    "$getField",
    "$unsetField",
    "$rand",
];

fn path_value(v: &Bson, parts: &[&str]) -> Option<Bson> {
    let Some((first, rest)) = parts.split_first() else { return Some(v.clone()) };
    match v {
        Bson::Document(d) => path_value(d.get(*first)?, rest),
        Bson::Array(a) => {
            let out: Vec<Bson> = a
                .iter()
                .filter(|e| matches!(e, Bson::Document(_) | Bson::Array(_)))
                .filter_map(|e| path_value(e, parts))
                .collect();
            Some(Bson::Array(out))
        }
        _ => None,
    }
}

impl Evaluate for Scope<'_> {
    fn ev(&mut self, e: &Bson) -> Result<Option<Bson>, CommandError> {
        let s = self;
        match e {
            Bson::String(p) if p.starts_with("$$") => {
                let rest = &p[2..];
                let mut parts = rest.split('.');
                let var = parts.next().unwrap_or("");
                let parts: Vec<&str> = parts.collect();
                let base = match var {
                    "ROOT" | "CURRENT" => Bson::Document(s.root.clone()),
                    "NOW" => Bson::DateTime(bson::DateTime::now()),
                    "REMOVE" => return Ok(None),
                    name => match s.vars.iter().rev().find(|(n, _)| n == name) {
                        Some((_, v)) => v.clone(),
                        None => return Err(err(17276, format!("Use of undefined variable: {name}"))),
                    },
                };
                Ok(path_value(&base, &parts))
            }
            Bson::String(p) if p.starts_with('$') => {
                let parts: Vec<&str> = p[1..].split('.').collect();
                let Some((first, rest)) = parts.split_first() else { return Ok(None) };
                match s.root.get(*first) {
                    Some(v) => Ok(path_value(v, rest)),
                    None => Ok(None),
                }
            }
            Bson::Array(a) => {
                let mut out = Vec::new();
                for x in a {
                    out.push(s.ev(x)?.unwrap_or(Bson::Null));
                }
                Ok(Some(Bson::Array(out)))
            }
            Bson::Document(d) => match d.iter().next() {
                Some((k, arg)) if k.starts_with('$') => {
                    if d.len() > 1 {
                        return Err(err(15983, "an expression specification must contain exactly one field"));
                    }
                    op(k, arg, s)
                }
                _ => {
                    let mut out = Document::new();
                    for (k, v) in d {
                        if let Some(x) = s.ev(v)? {
                            out.insert(k.clone(), x);
                        }
                    }
                    Ok(Some(Bson::Document(out)))
                }
            },
            other => Ok(Some(other.clone())),
        }
    }
}

/// Runs operator `k` on `arg`: `$literal` here, every other operator in its family.
fn op(k: &str, arg: &Bson, s: &mut Scope) -> Result<Option<Bson>, CommandError> {
    let args = args_of(arg);
    match k {
        "$literal" => Ok(Some(arg.clone())),
        "$add" | "$multiply" | "$subtract" | "$divide" | "$mod" | "$abs" | "$ceil" | "$floor" | "$trunc"
        | "$rand" => numeric::op(k, arg, &args, s),
        "$concat" | "$toUpper" | "$toLower" | "$trim" | "$ltrim" | "$rtrim" | "$substr" | "$substrBytes"
        | "$substrCP" | "$strLenBytes" | "$strLenCP" | "$split" | "$strcasecmp" | "$toString" => {
            strings::op(k, arg, &args, s)
        }
        "$eq" | "$ne" | "$gt" | "$gte" | "$lt" | "$lte" | "$cmp" | "$and" | "$or" | "$not" | "$cond"
        | "$switch" | "$ifNull" | "$let" => logic::op(k, arg, &args, s),
        "$size" | "$arrayElemAt" | "$first" | "$last" | "$in" | "$indexOfArray" | "$concatArrays"
        | "$setUnion" | "$reverseArray" | "$range" | "$sum" | "$avg" | "$min" | "$max" | "$map"
        | "$filter" => arrays::op(k, arg, &args, s),
        "$mergeObjects" | "$objectToArray" | "$arrayToObject" | "$setField" | "$unsetField" | "$getField" => {
            objects::op(k, arg, &args, s)
        }
        "$isArray" | "$isNumber" | "$type" | "$toInt" | "$toLong" | "$toDouble" | "$toBool" => {
            types::op(k, arg, &args, s)
        }
        other => Err(unknown(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn e(x: Bson, d: Document) -> Bson {
        eval(&x, &d).unwrap()
    }

    #[test]
    fn field_paths_and_arithmetic() {
        let d = doc! {"a": {"b": 2}, "c": 3, "arr": [{"x": 1}, {"x": 2}, {"y": 3}]};
        assert_eq!(e(Bson::String("$a.b".into()), d.clone()), Bson::Int32(2));
        // Manual "Field Paths": a path through an array of documents yields an array.
        assert_eq!(e(Bson::String("$arr.x".into()), d.clone()), Bson::Array(vec![1.into(), 2.into()]));
        assert_eq!(e(Bson::Document(doc! {"$add": ["$c", 1, 0.5]}), d.clone()), Bson::Double(4.5));
        assert_eq!(e(Bson::Document(doc! {"$multiply": ["$c", 2]}), d.clone()), Bson::Int32(6));
        assert_eq!(
            e(Bson::Document(doc! {"$add": [i32::MAX, 1]}), d.clone()),
            Bson::Int64(i64::from(i32::MAX) + 1)
        );
        assert_eq!(e(Bson::Document(doc! {"$subtract": ["$c", 1]}), d.clone()), Bson::Int32(2));
        assert_eq!(e(Bson::Document(doc! {"$divide": [9, 2]}), d.clone()), Bson::Double(4.5));
        assert_eq!(e(Bson::Document(doc! {"$add": ["$missing", 1]}), d.clone()), Bson::Null);
    }

    #[test]
    fn strings_conditions_and_arrays() {
        let d = doc! {"s": "Ab", "n": null, "arr": [1, 2, 3]};
        assert_eq!(
            e(Bson::Document(doc! {"$concat": ["$s", "-", "x"]}), d.clone()),
            Bson::String("Ab-x".into())
        );
        assert_eq!(e(Bson::Document(doc! {"$toUpper": "$s"}), d.clone()), Bson::String("AB".into()));
        assert_eq!(e(Bson::Document(doc! {"$toLower": "$s"}), d.clone()), Bson::String("ab".into()));
        assert_eq!(
            e(Bson::Document(doc! {"$ifNull": ["$n", "dflt"]}), d.clone()),
            Bson::String("dflt".into())
        );
        assert_eq!(
            e(
                Bson::Document(doc! {"$cond": {"if": {"$gte": ["$arr", []]}, "then": 1, "else": 2}}),
                d.clone()
            ),
            Bson::Int32(1)
        );
        assert_eq!(e(Bson::Document(doc! {"$size": "$arr"}), d.clone()), Bson::Int32(3));
        assert_eq!(e(Bson::Document(doc! {"$eq": ["$s", "Ab"]}), d.clone()), Bson::Boolean(true));
        assert_eq!(e(Bson::Document(doc! {"$sum": "$arr"}), d.clone()), Bson::Int32(6));
        assert!(eval(&Bson::Document(doc! {"$size": "$s"}), &d).is_err());
        assert!(validate(&Bson::Document(doc! {"$nope": 1})).is_err());
        // Manual "$setField": sets fields whose names contain '$' or '.'.
        assert_eq!(
            e(
                Bson::Document(
                    doc! {"$setField": {"field": {"$literal": "$a"}, "value": 1, "input": "$$ROOT"}}
                ),
                doc! {"_id": 1}
            ),
            Bson::Document(doc! {"_id": 1, "$a": 1})
        );
        assert_eq!(e(Bson::Document(doc! {"$getField": "a.b"}), doc! {"a.b": 5}), Bson::Int32(5));
    }
}
