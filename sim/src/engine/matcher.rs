//! The query language (MongoDB manual: "Query and Projection Operators"): filters compiled
//! once, then matched against documents with mongod's array and type-bracketing semantics.

use std::cmp::Ordering;

use bson::{Bson, Document};

use super::CommandError;
use super::collation::{compare_collated, equal_collated};
use super::compare::{canonical_type, num, type_name, type_number};
use super::expr;

/// Values found at a dotted path: `None` stands for a missing field.
pub fn lookup<'a>(v: &'a Bson, parts: &[&str], out: &mut Vec<Option<&'a Bson>>) {
    let Some((first, rest)) = parts.split_first() else {
        out.push(Some(v));
        return;
    };
    match v {
        Bson::Document(d) => match d.get(*first) {
            Some(x) => lookup(x, rest, out),
            None => out.push(None),
        },
        Bson::Array(arr) => {
            let before = out.len();
            if let Ok(i) = first.parse::<usize>() {
                if let Some(e) = arr.get(i) {
                    lookup(e, rest, out);
                }
            } else {
                for e in arr {
                    if let Bson::Document(_) = e {
                        lookup(e, parts, out);
                    }
                }
            }
            if out.len() == before {
                out.push(None);
            }
        }
        _ => out.push(None),
    }
}

/// The values at a dotted path of a document (see [`lookup`]).
pub fn lookup_doc<'a>(doc: &'a Document, path: &str) -> Vec<Option<&'a Bson>> {
    if !path.contains('.') {
        return vec![doc.get(path)];
    }
    let parts: Vec<&str> = path.split('.').collect();
    let mut out = Vec::new();
    let Some((first, rest)) = parts.split_first() else { return vec![None] };
    match doc.get(*first) {
        Some(v) => lookup(v, rest, &mut out),
        None => out.push(None),
    }
    out
}

/// The value at an exact dotted path (no array traversal except numeric indexes).
pub fn get_path<'a>(doc: &'a Document, path: &str) -> Option<&'a Bson> {
    let mut parts = path.split('.');
    let mut cur = doc.get(parts.next()?)?;
    for p in parts {
        cur = match cur {
            Bson::Document(d) => d.get(p)?,
            Bson::Array(a) => a.get(p.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// A compiled query filter.
#[derive(Debug, Clone)]
pub enum Filter {
    /// All of these.
    And(Vec<Filter>),
    /// Any of these.
    Or(Vec<Filter>),
    /// None of these.
    Nor(Vec<Filter>),
    /// A predicate on the values at a dotted path.
    Field(String, Pred),
    /// An aggregation expression (`$expr`), true when it evaluates truthy.
    Expr(Bson),
}

/// A predicate on one field's values.
#[derive(Debug, Clone)]
pub enum Pred {
    /// Equality (with array element matching; `null` matches missing).
    Eq(Bson),
    /// Type-bracketed comparison: `$gt` (Greater, false), `$gte` (Greater, true), …
    Cmp(Ordering, bool, Bson),
    /// `$in`.
    In(Vec<Bson>),
    /// `$exists`.
    Exists(bool),
    /// `$type`: type numbers (0 stands for "number").
    Type(Vec<i32>),
    /// `$size`.
    Size(i64),
    /// `$all` (each predicate must hold).
    All(Vec<Pred>),
    /// `$elemMatch` with a query on document elements.
    ElemMatchQuery(Box<Filter>),
    /// `$elemMatch` with operators applied to each element.
    ElemMatchValue(Vec<Pred>),
    /// `$regex`.
    Regex(regex::Regex),
    /// `$mod`.
    Mod(i64, i64),
    /// Negation of the whole predicate (`$not`, `$ne`, `$nin`).
    Not(Box<Pred>),
    /// All of these (an operator document with several operators).
    And(Vec<Pred>),
}

fn bad(msg: impl Into<String>) -> CommandError {
    CommandError::new(2, "BadValue", msg)
}

/// Compiles a regular expression with MongoDB's options (`i`, `m`, `s`, `x`).
pub fn compile_regex(pattern: &str, options: &str) -> Result<regex::Regex, CommandError> {
    let mut flags = String::new();
    for c in options.chars() {
        match c {
            'i' | 'm' | 's' | 'x' => flags.push(c),
            'u' | 'l' => {}
            other => {
                return Err(CommandError::new(
                    51108,
                    "Location51108",
                    format!("invalid flag in regex options: {other}"),
                ));
            }
        }
    }
    let full = if flags.is_empty() { pattern.to_string() } else { format!("(?{flags}){pattern}") };
    regex::Regex::new(&full)
        .map_err(|e| CommandError::new(51091, "Location51091", format!("Regular expression is invalid: {e}")))
}

impl Filter {
    /// Compiles a query document.
    pub fn parse(q: &Document) -> Result<Filter, CommandError> {
        let mut parts = Vec::new();
        for (k, v) in q {
            parts.push(parse_top(k, v)?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Filter::And(parts) })
    }

    /// Whether `doc` matches.
    pub fn matches(&self, doc: &Document) -> bool {
        match self {
            Filter::And(fs) => fs.iter().all(|f| f.matches(doc)),
            Filter::Or(fs) => fs.iter().any(|f| f.matches(doc)),
            Filter::Nor(fs) => !fs.iter().any(|f| f.matches(doc)),
            Filter::Field(path, pred) => {
                let vals = lookup_doc(doc, path);
                pred.matches(&vals)
            }
            Filter::Expr(e) => expr::eval(e, doc).map(|v| expr::truthy(&v)).unwrap_or(false),
        }
    }

    /// The equality conditions a query fixes (for building an upserted document).
    pub fn equalities(q: &Document, out: &mut Vec<(String, Bson)>) {
        for (k, v) in q {
            match k.as_str() {
                "$and" => {
                    if let Bson::Array(items) = v {
                        for i in items {
                            if let Bson::Document(d) = i {
                                Filter::equalities(d, out);
                            }
                        }
                    }
                }
                _ if k.starts_with('$') => {}
                _ => match v {
                    Bson::Document(d) if d.keys().next().is_some_and(|f| f.starts_with('$')) => {
                        if let Some(x) = d.get("$eq") {
                            out.push((k.clone(), x.clone()));
                        }
                        if let Some(Bson::Array(a)) = d.get("$all") {
                            if a.len() == 1 && !matches!(a[0], Bson::Document(_)) {
                                out.push((k.clone(), a[0].clone()));
                            }
                        }
                    }
                    Bson::RegularExpression(_) => {}
                    other => out.push((k.clone(), other.clone())),
                },
            }
        }
    }
}

fn parse_list(k: &str, v: &Bson) -> Result<Vec<Filter>, CommandError> {
    let Bson::Array(items) = v else { return Err(bad(format!("{k} must be an array"))) };
    if items.is_empty() {
        return Err(bad(format!("{k} argument must be a non-empty array")));
    }
    items
        .iter()
        .map(|i| match i {
            Bson::Document(d) => Filter::parse(d),
            _ => Err(bad(format!("{k} argument's entries must be objects"))),
        })
        .collect()
}

fn parse_top(k: &str, v: &Bson) -> Result<Filter, CommandError> {
    match k {
        "$and" => Ok(Filter::And(parse_list(k, v)?)),
        "$or" => Ok(Filter::Or(parse_list(k, v)?)),
        "$nor" => Ok(Filter::Nor(parse_list(k, v)?)),
        "$expr" => {
            expr::validate(v)?;
            Ok(Filter::Expr(v.clone()))
        }
        "$comment" => Ok(Filter::And(vec![])),
        "$where" => Err(CommandError::new(2, "BadValue", "$where is not supported by the simulator")),
        _ if k.starts_with('$') => Err(bad(format!("unknown top level operator: {k}"))),
        _ => Ok(Filter::Field(k.to_string(), parse_value(v)?)),
    }
}

fn is_operator_doc(v: &Bson) -> Option<&Document> {
    match v {
        Bson::Document(d) if d.keys().next().is_some_and(|f| f.starts_with('$')) => Some(d),
        _ => None,
    }
}

/// Parses the right-hand side of `{field: value}`.
fn parse_value(v: &Bson) -> Result<Pred, CommandError> {
    match v {
        Bson::RegularExpression(r) => Ok(Pred::Regex(compile_regex(r.pattern.as_str(), r.options.as_str())?)),
        _ => match is_operator_doc(v) {
            Some(d) => parse_ops(d),
            None => Ok(Pred::Eq(v.clone())),
        },
    }
}

fn parse_ops(d: &Document) -> Result<Pred, CommandError> {
    let mut preds = Vec::new();
    let options = match d.get("$options") {
        None => String::new(),
        Some(Bson::String(s)) => s.clone(),
        Some(_) => return Err(bad("$options has to be a string")),
    };
    for (op, arg) in d {
        let p = match op.as_str() {
            "$eq" => Pred::Eq(arg.clone()),
            "$ne" => Pred::Not(Box::new(Pred::Eq(arg.clone()))),
            "$gt" => Pred::Cmp(Ordering::Greater, false, arg.clone()),
            "$gte" => Pred::Cmp(Ordering::Greater, true, arg.clone()),
            "$lt" => Pred::Cmp(Ordering::Less, false, arg.clone()),
            "$lte" => Pred::Cmp(Ordering::Less, true, arg.clone()),
            "$in" | "$nin" => {
                let Bson::Array(items) = arg else { return Err(bad(format!("{op} needs an array"))) };
                if items.iter().any(|i| is_operator_doc(i).is_some()) {
                    return Err(bad("cannot nest $ under $in"));
                }
                let p = Pred::In(items.clone());
                if op == "$nin" { Pred::Not(Box::new(p)) } else { p }
            }
            "$exists" => Pred::Exists(expr::truthy(arg)),
            "$type" => {
                let items = match arg {
                    Bson::Array(a) => a.clone(),
                    other => vec![other.clone()],
                };
                let mut codes = Vec::new();
                for i in &items {
                    codes.push(parse_type(i)?);
                }
                Pred::Type(codes)
            }
            "$size" => match num(arg) {
                Some(n) if n.as_f64().fract() == 0.0 && n.as_f64() >= 0.0 => Pred::Size(n.as_f64() as i64),
                Some(n) if n.as_f64() < 0.0 => return Err(bad("$size may not be negative")),
                _ => return Err(bad("$size needs a number")),
            },
            "$all" => {
                let Bson::Array(items) = arg else { return Err(bad("$all needs an array")) };
                let mut ps = Vec::new();
                for i in items {
                    match is_operator_doc(i) {
                        Some(e) if e.contains_key("$elemMatch") => ps.push(parse_ops(e)?),
                        Some(_) => return Err(bad("no $ expressions in $all")),
                        None => ps.push(parse_value(i)?),
                    }
                }
                if ps.is_empty() {
                    // `$all: []` matches nothing.
                    Pred::In(vec![])
                } else {
                    Pred::All(ps)
                }
            }
            "$elemMatch" => {
                let Bson::Document(e) = arg else { return Err(bad("$elemMatch needs an Object")) };
                let value_form = e.keys().next().is_some_and(|k| {
                    k.starts_with('$') && !matches!(k.as_str(), "$and" | "$or" | "$nor" | "$expr" | "$where")
                });
                if value_form {
                    match parse_ops(e)? {
                        Pred::And(ps) => Pred::ElemMatchValue(ps),
                        p => Pred::ElemMatchValue(vec![p]),
                    }
                } else {
                    Pred::ElemMatchQuery(Box::new(Filter::parse(e)?))
                }
            }
            "$regex" => match arg {
                Bson::String(s) => Pred::Regex(compile_regex(s, &options)?),
                Bson::RegularExpression(r) => {
                    let opts = if options.is_empty() { r.options.to_string() } else { options.clone() };
                    Pred::Regex(compile_regex(r.pattern.as_str(), &opts)?)
                }
                _ => return Err(bad("$regex has to be a string")),
            },
            "$options" => {
                if !d.contains_key("$regex") {
                    return Err(bad("$options needs a $regex"));
                }
                continue;
            }
            "$mod" => {
                let Bson::Array(a) = arg else { return Err(bad("malformed mod, needs to be an array")) };
                if a.len() != 2 {
                    return Err(bad("malformed mod, not enough elements"));
                }
                let (Some(dv), Some(rv)) = (num(&a[0]), num(&a[1])) else {
                    return Err(bad("malformed mod, divisor not a number"));
                };
                let dv = dv.as_f64() as i64;
                if dv == 0 {
                    return Err(bad("divisor cannot be 0"));
                }
                Pred::Mod(dv, rv.as_f64() as i64)
            }
            "$not" => match arg {
                Bson::RegularExpression(r) => {
                    Pred::Not(Box::new(Pred::Regex(compile_regex(r.pattern.as_str(), r.options.as_str())?)))
                }
                Bson::Document(inner) if !inner.is_empty() && is_operator_doc(arg).is_some() => {
                    Pred::Not(Box::new(parse_ops(inner)?))
                }
                _ => return Err(bad("$not needs a regex or a document")),
            },
            "$comment" => continue,
            other => return Err(bad(format!("unknown operator: {other}"))),
        };
        preds.push(p);
    }
    Ok(if preds.len() == 1 { preds.remove(0) } else { Pred::And(preds) })
}

/// Parses a `$type` argument: a number or an alias; 0 stands for "number".
pub fn parse_type(v: &Bson) -> Result<i32, CommandError> {
    if let Some(n) = num(v) {
        let f = n.as_f64();
        let i = f as i32;
        if f.fract() != 0.0 || !(matches!(i, -1 | 127) || (1..=19).contains(&i)) {
            return Err(bad(format!("Invalid numerical type code: {f}")));
        }
        return Ok(i);
    }
    let Bson::String(s) = v else { return Err(bad("type must be represented as a number or a string")) };
    Ok(match s.as_str() {
        "double" => 1,
        "string" => 2,
        "object" => 3,
        "array" => 4,
        "binData" => 5,
        "undefined" => 6,
        "objectId" => 7,
        "bool" => 8,
        "date" => 9,
        "null" => 10,
        "regex" => 11,
        "dbPointer" => 12,
        "javascript" => 13,
        "symbol" => 14,
        "javascriptWithScope" => 15,
        "int" => 16,
        "timestamp" => 17,
        "long" => 18,
        "decimal" => 19,
        "minKey" => -1,
        "maxKey" => 127,
        "number" => 0,
        other => return Err(bad(format!("Unknown type name alias: {other}"))),
    })
}

fn type_matches(code: i32, v: &Bson) -> bool {
    if code == 0 {
        return num(v).is_some();
    }
    type_number(v) == code
}

fn regex_matches(r: &regex::Regex, v: &Bson) -> bool {
    match v {
        Bson::String(s) | Bson::Symbol(s) => r.is_match(s),
        // A regex in the data matches a regex query with the same pattern.
        Bson::RegularExpression(x) => r.as_str().ends_with(x.pattern.as_str()),
        _ => false,
    }
}

fn eq_value(target: &Bson, v: &Bson) -> bool {
    match target {
        Bson::RegularExpression(r) => {
            if let Bson::RegularExpression(x) = v {
                return x.pattern == r.pattern && x.options == r.options;
            }
            compile_regex(r.pattern.as_str(), r.options.as_str()).is_ok_and(|re| regex_matches(&re, v))
        }
        _ => equal_collated(target, v),
    }
}

fn cmp_value(dir: Ordering, or_equal: bool, target: &Bson, v: &Bson) -> bool {
    // MinKey/MaxKey bounds compare against every type.
    let bracketed =
        canonical_type(target) == canonical_type(v) || matches!(target, Bson::MinKey | Bson::MaxKey);
    if !bracketed {
        return false;
    }
    // NaN only equals NaN; it is neither greater nor less than other numbers for $gt/$lt.
    let nan = |b: &Bson| matches!(b, Bson::Double(f) if f.is_nan());
    if nan(target) || nan(v) {
        return or_equal && nan(target) && nan(v);
    }
    let o = compare_collated(v, target);
    o == dir || (or_equal && o == Ordering::Equal)
}

impl Pred {
    /// Whether a single (non-missing) value satisfies this scalar predicate.
    fn test_one(&self, v: &Bson) -> bool {
        match self {
            Pred::Eq(t) => eq_value(t, v),
            Pred::Cmp(dir, or_eq, t) => cmp_value(*dir, *or_eq, t, v),
            Pred::In(items) => items.iter().any(|t| eq_value(t, v)),
            Pred::Type(codes) => codes.iter().any(|c| type_matches(*c, v)),
            Pred::Regex(r) => regex_matches(r, v),
            Pred::Mod(d, r) => match num(v) {
                Some(n) => {
                    let x = n.as_f64();
                    x.is_finite() && (x.trunc() as i64).wrapping_rem(*d) == *r
                }
                None => false,
            },
            _ => false,
        }
    }

    /// Whether the value at a path (the result of [`lookup`]) satisfies the predicate.
    pub fn matches(&self, vals: &[Option<&Bson>]) -> bool {
        match self {
            Pred::Not(p) => !p.matches(vals),
            Pred::And(ps) => ps.iter().all(|p| p.matches(vals)),
            Pred::All(ps) => ps.iter().all(|p| p.matches(vals)),
            Pred::Exists(want) => vals.iter().any(Option::is_some) == *want,
            Pred::Size(n) => {
                vals.iter().flatten().any(|v| matches!(v, Bson::Array(a) if a.len() as i64 == *n))
            }
            Pred::ElemMatchQuery(f) => vals.iter().flatten().any(|v| match v {
                Bson::Array(a) => a.iter().any(|e| match e {
                    Bson::Document(d) => f.matches(d),
                    _ => false,
                }),
                _ => false,
            }),
            Pred::ElemMatchValue(ps) => vals.iter().flatten().any(|v| match v {
                Bson::Array(a) => a.iter().any(|e| ps.iter().all(|p| p.matches(&[Some(e)]))),
                _ => false,
            }),
            _ => vals.iter().any(|v| match v {
                None => self.matches_missing(),
                Some(v) => {
                    self.test_one(v)
                        || match v {
                            Bson::Array(a) => a.iter().any(|e| self.test_one(e)),
                            _ => false,
                        }
                }
            }),
        }
    }

    fn matches_missing(&self) -> bool {
        match self {
            Pred::Eq(Bson::Null) => true,
            Pred::Cmp(_, true, Bson::Null) => true,
            Pred::In(items) => items.iter().any(|i| matches!(i, Bson::Null)),
            _ => false,
        }
    }
}

/// The name of a type for error messages (re-exported for the update language).
pub fn describe_type(v: &Bson) -> &'static str {
    type_name(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn m(q: Document, d: Document) -> bool {
        Filter::parse(&q).unwrap().matches(&d)
    }

    #[test]
    fn equality_and_arrays() {
        assert!(m(doc! {"a": 1}, doc! {"a": 1.0}));
        assert!(m(doc! {"a": 1}, doc! {"a": [3, 1]}));
        // Manual "Query an Array": an exact array match compares the whole array, in order.
        assert!(m(doc! {"a": [3, 1]}, doc! {"a": [3, 1]}));
        assert!(!m(doc! {"a": [1, 3]}, doc! {"a": [3, 1]}));
        assert!(m(doc! {"a.b": 2}, doc! {"a": [{"b": 1}, {"b": 2}]}));
        assert!(m(doc! {"a.1": 5}, doc! {"a": [4, 5]}));
        assert!(m(doc! {"a.b.c": 1}, doc! {"a": {"b": {"c": 1}}}));
        assert!(!m(doc! {"a": {"b": 1}}, doc! {"a": {"b": 1, "c": 2}}));
    }

    #[test]
    fn null_matches_missing() {
        // Manual "Query for Null or Missing Fields": {item: null} matches null and missing.
        assert!(m(doc! {"a": null}, doc! {"b": 1}));
        assert!(m(doc! {"a": null}, doc! {"a": null}));
        assert!(!m(doc! {"a": null}, doc! {"a": 0}));
        assert!(m(doc! {"a": {"$ne": null}}, doc! {"a": 0}));
        assert!(!m(doc! {"a": {"$ne": null}}, doc! {}));
        assert!(m(doc! {"a": {"$exists": false}}, doc! {}));
        assert!(!m(doc! {"a": {"$exists": false}}, doc! {"a": null}));
    }

    #[test]
    fn comparison_uses_type_bracketing() {
        // Manual "Comparison Query Operators": $gt only matches within the same BSON type bracket.
        assert!(!m(doc! {"a": {"$gt": 1}}, doc! {"a": "z"}));
        assert!(m(doc! {"a": {"$gt": 1}}, doc! {"a": 2_i64}));
        assert!(m(doc! {"a": {"$gte": 2, "$lt": 3}}, doc! {"a": 2.5}));
        assert!(m(doc! {"a": {"$lt": "b"}}, doc! {"a": "a"}));
        // Each operator may match a different element of an array.
        assert!(m(doc! {"a": {"$gt": 5, "$lt": 2}}, doc! {"a": [1, 10]}));
        assert!(!m(doc! {"a": {"$elemMatch": {"$gt": 5, "$lt": 2}}}, doc! {"a": [1, 10]}));
    }

    #[test]
    fn in_nin_all_size_type() {
        assert!(m(doc! {"a": {"$in": [1, 2]}}, doc! {"a": [5, 2]}));
        assert!(m(doc! {"a": {"$in": [null]}}, doc! {}));
        assert!(m(doc! {"a": {"$nin": [1, 2]}}, doc! {"a": 3}));
        assert!(!m(doc! {"a": {"$nin": [1, 2]}}, doc! {"a": [3, 1]}));
        assert!(m(doc! {"a": {"$all": [1, 2]}}, doc! {"a": [2, 3, 1]}));
        assert!(!m(doc! {"a": {"$all": [1, 2]}}, doc! {"a": [2, 3]}));
        assert!(m(doc! {"a": {"$size": 2}}, doc! {"a": [2, 3]}));
        assert!(!m(doc! {"a": {"$size": 1}}, doc! {"a": 1}));
        assert!(m(doc! {"a": {"$type": "number"}}, doc! {"a": 1_i64}));
        assert!(m(doc! {"a": {"$type": 2}}, doc! {"a": "s"}));
        assert!(m(doc! {"a": {"$type": "array"}}, doc! {"a": []}));
        assert!(m(doc! {"a": {"$type": ["string", "int"]}}, doc! {"a": 4}));
    }

    #[test]
    fn logical_regex_elem_match() {
        assert!(m(doc! {"$or": [{"a": 1}, {"b": 2}]}, doc! {"b": 2}));
        assert!(!m(doc! {"$nor": [{"a": 1}, {"b": 2}]}, doc! {"b": 2}));
        assert!(m(doc! {"$and": [{"a": 1}, {"b": 2}]}, doc! {"a": 1, "b": 2}));
        assert!(m(doc! {"a": {"$regex": "^AB", "$options": "i"}}, doc! {"a": "abc"}));
        assert!(m(doc! {"a": {"$not": {"$gt": 5}}}, doc! {}));
        assert!(m(doc! {"a": {"$elemMatch": {"b": 1, "c": 2}}}, doc! {"a": [{"b": 1}, {"b": 1, "c": 2}]}));
        assert!(!m(doc! {"a": {"$elemMatch": {"b": 1, "c": 2}}}, doc! {"a": [{"b": 1}, {"c": 2}]}));
        assert!(m(doc! {"$expr": {"$gt": ["$a", "$b"]}}, doc! {"a": 3, "b": 2}));
        assert!(m(doc! {"a": {"$mod": [4, 1]}}, doc! {"a": 9}));
    }

    #[test]
    fn bad_queries_are_errors() {
        assert_eq!(Filter::parse(&doc! {"a": {"$foo": 1}}).unwrap_err().code, 2);
        assert_eq!(Filter::parse(&doc! {"$foo": 1}).unwrap_err().code, 2);
        assert_eq!(Filter::parse(&doc! {"$or": []}).unwrap_err().code, 2);
        assert_eq!(Filter::parse(&doc! {"a": {"$in": 1}}).unwrap_err().code, 2);
    }
}
