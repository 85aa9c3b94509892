//! Aggregation expressions (MongoDB manual: "Aggregation Pipeline Operators" — field paths,
//! literals, variables and the arithmetic, string, comparison, boolean, conditional and array
//! operators).

use std::cmp::Ordering;

use bson::{Bson, Document};

use super::CommandError;
use super::compare::{Num, compare, num, type_name, values_equal};

fn err(code: i32, msg: impl Into<String>) -> CommandError {
    CommandError::new(code, &format!("Location{code}"), msg)
}

/// Truthiness in the aggregation language: false, null, missing, undefined and 0 are false.
pub fn truthy(v: &Bson) -> bool {
    match v {
        Bson::Boolean(b) => *b,
        Bson::Null | Bson::Undefined => false,
        other => num(other).is_none_or(|n| n.as_f64() != 0.0),
    }
}

/// Arithmetic with mongod's numeric type promotion (int32 → int64 → double on overflow; any
/// double gives a double; decimals are approximated as doubles).
pub fn arith(a: &Bson, b: &Bson, op: char) -> Option<Bson> {
    let (x, y) = (num(a)?, num(b)?);
    let decimal = matches!(a, Bson::Decimal128(_)) || matches!(b, Bson::Decimal128(_));
    let float = |f: f64| {
        if decimal {
            f.to_string().parse::<bson::Decimal128>().map(Bson::Decimal128).unwrap_or(Bson::Double(f))
        } else {
            Bson::Double(f)
        }
    };
    match (x, y) {
        (Num::Int(i), Num::Int(j)) if !decimal => {
            let r = match op {
                '+' => i128::from(i) + i128::from(j),
                '-' => i128::from(i) - i128::from(j),
                '*' => i128::from(i) * i128::from(j),
                _ => return None,
            };
            let both32 = matches!(a, Bson::Int32(_)) && matches!(b, Bson::Int32(_));
            if let (true, Ok(v)) = (both32, i32::try_from(r)) {
                Some(Bson::Int32(v))
            } else if let Ok(v) = i64::try_from(r) {
                Some(Bson::Int64(v))
            } else {
                Some(Bson::Double(r as f64))
            }
        }
        _ => {
            let (p, q) = (x.as_f64(), y.as_f64());
            Some(float(match op {
                '+' => p + q,
                '-' => p - q,
                '*' => p * q,
                _ => return None,
            }))
        }
    }
}

/// Variables in scope during evaluation.
struct Scope<'a> {
    root: &'a Document,
    vars: Vec<(String, Bson)>,
}

/// Evaluates an expression against a document; a missing result is `None`.
pub fn eval_opt(e: &Bson, doc: &Document) -> Result<Option<Bson>, CommandError> {
    let mut s = Scope { root: doc, vars: Vec::new() };
    ev(e, &mut s)
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
                    return Err(err(168, format!("Unrecognized expression '{k}'"))
                        .with_name("InvalidPipelineOperator"));
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

impl CommandError {
    fn with_name(mut self, name: &str) -> Self {
        self.code_name = name.into();
        self
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

fn args_of(arg: &Bson) -> Vec<&Bson> {
    match arg {
        Bson::Array(a) => a.iter().collect(),
        other => vec![other],
    }
}

fn evn(args: &[&Bson], s: &mut Scope) -> Result<Vec<Option<Bson>>, CommandError> {
    args.iter().map(|a| ev(a, s)).collect()
}

fn nullish(v: &Option<Bson>) -> bool {
    matches!(v, None | Some(Bson::Null) | Some(Bson::Undefined))
}

fn need_args(op: &str, args: &[&Bson], n: usize) -> Result<(), CommandError> {
    if args.len() != n {
        return Err(err(
            16020,
            format!("Expression {op} takes exactly {n} arguments. {} were passed in.", args.len()),
        ));
    }
    Ok(())
}

fn to_str(v: &Bson) -> Option<String> {
    Some(match v {
        Bson::String(s) | Bson::Symbol(s) => s.clone(),
        Bson::Int32(i) => i.to_string(),
        Bson::Int64(i) => i.to_string(),
        Bson::Double(f) => f.to_string(),
        Bson::Decimal128(d) => d.to_string(),
        Bson::Boolean(b) => b.to_string(),
        Bson::ObjectId(o) => o.to_hex(),
        Bson::DateTime(d) => d.try_to_rfc3339_string().unwrap_or_default(),
        _ => return None,
    })
}

fn ev(e: &Bson, s: &mut Scope) -> Result<Option<Bson>, CommandError> {
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
                out.push(ev(x, s)?.unwrap_or(Bson::Null));
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
                    if let Some(x) = ev(v, s)? {
                        out.insert(k.clone(), x);
                    }
                }
                Ok(Some(Bson::Document(out)))
            }
        },
        other => Ok(Some(other.clone())),
    }
}

fn cmp_op(k: &str, o: Ordering) -> bool {
    match k {
        "$eq" => o == Ordering::Equal,
        "$ne" => o != Ordering::Equal,
        "$gt" => o == Ordering::Greater,
        "$gte" => o != Ordering::Less,
        "$lt" => o == Ordering::Less,
        _ => o != Ordering::Greater,
    }
}

fn op(k: &str, arg: &Bson, s: &mut Scope) -> Result<Option<Bson>, CommandError> {
    let args = args_of(arg);
    let v = match k {
        "$literal" => arg.clone(),
        "$add" | "$multiply" => {
            let vals = evn(&args, s)?;
            let mut acc = Bson::Int32(if k == "$add" { 0 } else { 1 });
            let mut date: Option<i64> = None;
            for v in vals {
                let Some(v) = v else { return Ok(Some(Bson::Null)) };
                match v {
                    Bson::Null | Bson::Undefined => return Ok(Some(Bson::Null)),
                    Bson::DateTime(d) if k == "$add" => date = Some(d.timestamp_millis()),
                    other => {
                        acc = arith(&acc, &other, if k == "$add" { '+' } else { '*' }).ok_or_else(|| {
                            err(
                                16554,
                                format!("{k} only supports numeric or date types, not {}", type_name(&other)),
                            )
                        })?
                    }
                }
            }
            match date {
                Some(ms) => Bson::DateTime(bson::DateTime::from_millis(
                    ms + num(&acc).map_or(0, |n| n.as_f64() as i64),
                )),
                None => acc,
            }
        }
        "$subtract" => {
            need_args(k, &args, 2)?;
            let vals = evn(&args, s)?;
            if nullish(&vals[0]) || nullish(&vals[1]) {
                return Ok(Some(Bson::Null));
            }
            match (vals[0].as_ref(), vals[1].as_ref()) {
                (Some(Bson::DateTime(a)), Some(Bson::DateTime(b))) => {
                    Bson::Int64(a.timestamp_millis() - b.timestamp_millis())
                }
                (Some(Bson::DateTime(a)), Some(b)) => Bson::DateTime(bson::DateTime::from_millis(
                    a.timestamp_millis() - num(b).map_or(0, |n| n.as_f64() as i64),
                )),
                (Some(a), Some(b)) => arith(a, b, '-')
                    .ok_or_else(|| err(16556, "cant $subtract a non-number from a number".to_string()))?,
                _ => Bson::Null,
            }
        }
        "$divide" | "$mod" => {
            need_args(k, &args, 2)?;
            let vals = evn(&args, s)?;
            if nullish(&vals[0]) || nullish(&vals[1]) {
                return Ok(Some(Bson::Null));
            }
            let (Some(a), Some(b)) = (vals[0].as_ref().and_then(num), vals[1].as_ref().and_then(num)) else {
                return Err(err(16609, format!("{k} only supports numeric types")));
            };
            if b.as_f64() == 0.0 {
                return Err(err(16608, "can't $divide by zero"));
            }
            if k == "$divide" {
                Bson::Double(a.as_f64() / b.as_f64())
            } else {
                match (a, b) {
                    (Num::Int(x), Num::Int(y)) => {
                        let r = x.wrapping_rem(y);
                        if matches!(vals[0], Some(Bson::Int32(_))) && matches!(vals[1], Some(Bson::Int32(_)))
                        {
                            Bson::Int32(r as i32)
                        } else {
                            Bson::Int64(r)
                        }
                    }
                    _ => Bson::Double(a.as_f64() % b.as_f64()),
                }
            }
        }
        "$abs" | "$ceil" | "$floor" | "$trunc" => {
            let v = ev(args.first().copied().unwrap_or(&Bson::Null), s)?;
            if nullish(&v) {
                return Ok(Some(Bson::Null));
            }
            match v {
                Some(Bson::Int32(i)) if k == "$abs" => Bson::Int32(i.wrapping_abs()),
                Some(Bson::Int64(i)) if k == "$abs" => Bson::Int64(i.wrapping_abs()),
                Some(x @ (Bson::Int32(_) | Bson::Int64(_))) => x,
                Some(x) => {
                    let f = num(&x)
                        .ok_or_else(|| err(28765, format!("{k} only supports numeric types")))?
                        .as_f64();
                    Bson::Double(match k {
                        "$abs" => f.abs(),
                        "$ceil" => f.ceil(),
                        "$floor" => f.floor(),
                        _ => f.trunc(),
                    })
                }
                None => Bson::Null,
            }
        }
        "$concat" => {
            let mut out = String::new();
            for v in evn(&args, s)? {
                match v {
                    Some(Bson::String(x)) => out.push_str(&x),
                    None | Some(Bson::Null) | Some(Bson::Undefined) => return Ok(Some(Bson::Null)),
                    Some(other) => {
                        return Err(err(
                            16702,
                            format!("$concat only supports strings, not {}", type_name(&other)),
                        ));
                    }
                }
            }
            Bson::String(out)
        }
        "$toUpper" | "$toLower" => {
            let v = ev(args.first().copied().unwrap_or(&Bson::Null), s)?;
            let st = match v {
                None | Some(Bson::Null) => String::new(),
                Some(x) => to_str(&x).unwrap_or_default(),
            };
            Bson::String(if k == "$toUpper" { st.to_uppercase() } else { st.to_lowercase() })
        }
        "$trim" | "$ltrim" | "$rtrim" => {
            let Bson::Document(d) = arg else { return Err(err(50696, format!("{k} requires an object"))) };
            let v = ev(d.get("input").unwrap_or(&Bson::Null), s)?;
            let Some(Bson::String(st)) = v else { return Ok(Some(Bson::Null)) };
            Bson::String(match k {
                "$trim" => st.trim().to_string(),
                "$ltrim" => st.trim_start().to_string(),
                _ => st.trim_end().to_string(),
            })
        }
        "$substr" | "$substrBytes" | "$substrCP" => {
            need_args(k, &args, 3)?;
            let vals = evn(&args, s)?;
            let st = vals[0].as_ref().and_then(to_str).unwrap_or_default();
            let start = vals[1].as_ref().and_then(num).map_or(0, |n| n.as_f64().max(0.0) as usize);
            let len = vals[2].as_ref().and_then(num).map_or(0.0, |n| n.as_f64());
            let chars: Vec<char> = st.chars().collect();
            let end =
                if len < 0.0 { chars.len() } else { start.saturating_add(len as usize).min(chars.len()) };
            Bson::String(
                chars
                    .get(start.min(chars.len())..end.max(start.min(chars.len())))
                    .unwrap_or(&[])
                    .iter()
                    .collect(),
            )
        }
        "$strLenBytes" | "$strLenCP" => {
            let v = ev(args.first().copied().unwrap_or(&Bson::Null), s)?;
            let Some(Bson::String(st)) = v else {
                return Err(err(34471, format!("{k} requires a string argument")));
            };
            Bson::Int32(if k == "$strLenBytes" { st.len() } else { st.chars().count() } as i32)
        }
        "$split" => {
            need_args(k, &args, 2)?;
            let vals = evn(&args, s)?;
            if nullish(&vals[0]) {
                return Ok(Some(Bson::Null));
            }
            match (&vals[0], &vals[1]) {
                (Some(Bson::String(a)), Some(Bson::String(b))) if !b.is_empty() => {
                    Bson::Array(a.split(b.as_str()).map(|p| Bson::String(p.to_string())).collect())
                }
                _ => return Err(err(40085, "$split requires string arguments")),
            }
        }
        "$strcasecmp" => {
            need_args(k, &args, 2)?;
            let vals = evn(&args, s)?;
            let a = vals[0].as_ref().and_then(to_str).unwrap_or_default().to_lowercase();
            let b = vals[1].as_ref().and_then(to_str).unwrap_or_default().to_lowercase();
            Bson::Int32(match a.cmp(&b) {
                Ordering::Less => -1,
                Ordering::Equal => 0,
                Ordering::Greater => 1,
            })
        }
        "$eq" | "$ne" | "$gt" | "$gte" | "$lt" | "$lte" | "$cmp" => {
            need_args(k, &args, 2)?;
            let vals = evn(&args, s)?;
            // Missing compares as below null (mongod treats missing as "undefined" here).
            let a = vals[0].clone().unwrap_or(Bson::Undefined);
            let b = vals[1].clone().unwrap_or(Bson::Undefined);
            let o = compare(&a, &b);
            if k == "$cmp" {
                Bson::Int32(match o {
                    Ordering::Less => -1,
                    Ordering::Equal => 0,
                    Ordering::Greater => 1,
                })
            } else {
                Bson::Boolean(cmp_op(k, o))
            }
        }
        "$and" => {
            for a in &args {
                if !ev(a, s)?.is_some_and(|v| truthy(&v)) {
                    return Ok(Some(Bson::Boolean(false)));
                }
            }
            Bson::Boolean(true)
        }
        "$or" => {
            for a in &args {
                if ev(a, s)?.is_some_and(|v| truthy(&v)) {
                    return Ok(Some(Bson::Boolean(true)));
                }
            }
            Bson::Boolean(false)
        }
        "$not" => {
            Bson::Boolean(!ev(args.first().copied().unwrap_or(&Bson::Null), s)?.is_some_and(|v| truthy(&v)))
        }
        "$cond" => {
            let (c, t, f) = match arg {
                Bson::Array(a) if a.len() == 3 => (&a[0], &a[1], &a[2]),
                Bson::Document(d) => match (d.get("if"), d.get("then"), d.get("else")) {
                    (Some(c), Some(t), Some(f)) => (c, t, f),
                    _ => return Err(err(17080, "Missing 'if', 'then' or 'else' parameter to $cond")),
                },
                _ => return Err(err(16020, "Expression $cond takes exactly 3 arguments.")),
            };
            return if ev(c, s)?.is_some_and(|v| truthy(&v)) { ev(t, s) } else { ev(f, s) };
        }
        "$switch" => {
            let Bson::Document(d) = arg else { return Err(err(40060, "$switch requires an object")) };
            if let Some(Bson::Array(branches)) = d.get("branches") {
                for b in branches {
                    let Bson::Document(b) = b else { continue };
                    if ev(b.get("case").unwrap_or(&Bson::Null), s)?.is_some_and(|v| truthy(&v)) {
                        return ev(b.get("then").unwrap_or(&Bson::Null), s);
                    }
                }
            }
            match d.get("default") {
                Some(x) => return ev(x, s),
                None => {
                    return Err(err(
                        40066,
                        "$switch could not find a matching branch for an input, and no default was specified.",
                    ));
                }
            }
        }
        "$ifNull" => {
            for a in &args {
                let v = ev(a, s)?;
                if !nullish(&v) {
                    return Ok(v);
                }
            }
            // All null: the last argument's value.
            return match args.last() {
                Some(a) => ev(a, s),
                None => Ok(Some(Bson::Null)),
            };
        }
        "$size" => match ev(args.first().copied().unwrap_or(&Bson::Null), s)? {
            Some(Bson::Array(a)) => Bson::Int32(a.len() as i32),
            other => {
                return Err(err(
                    17124,
                    format!(
                        "The argument to $size must be an array. Type of passed argument: {}",
                        other.as_ref().map_or("missing", type_name)
                    ),
                ));
            }
        },
        "$isArray" => Bson::Boolean(matches!(
            ev(args.first().copied().unwrap_or(&Bson::Null), s)?,
            Some(Bson::Array(_))
        )),
        "$isNumber" => Bson::Boolean(
            ev(args.first().copied().unwrap_or(&Bson::Null), s)?.as_ref().and_then(num).is_some(),
        ),
        "$type" => match ev(args.first().copied().unwrap_or(&Bson::Null), s)? {
            Some(v) => Bson::String(type_name(&v).into()),
            None => Bson::String("missing".into()),
        },
        "$arrayElemAt" => {
            need_args(k, &args, 2)?;
            let vals = evn(&args, s)?;
            if nullish(&vals[0]) || nullish(&vals[1]) {
                return Ok(Some(Bson::Null));
            }
            let (Some(Bson::Array(a)), Some(i)) = (&vals[0], vals[1].as_ref().and_then(num)) else {
                return Err(err(28689, "$arrayElemAt's first argument must be an array"));
            };
            let i = i.as_f64() as i64;
            let idx = if i < 0 { a.len() as i64 + i } else { i };
            return Ok(usize::try_from(idx).ok().and_then(|i| a.get(i)).cloned());
        }
        "$first" | "$last" => match ev(args.first().copied().unwrap_or(&Bson::Null), s)? {
            Some(Bson::Array(a)) => return Ok(if k == "$first" { a.first() } else { a.last() }.cloned()),
            None | Some(Bson::Null) => Bson::Null,
            Some(_) => return Err(err(28689, format!("{k}'s argument must be an array"))),
        },
        "$in" => {
            need_args(k, &args, 2)?;
            let vals = evn(&args, s)?;
            let Some(Bson::Array(a)) = &vals[1] else {
                return Err(err(40081, "$in requires an array as a second argument"));
            };
            let x = vals[0].clone().unwrap_or(Bson::Undefined);
            Bson::Boolean(a.iter().any(|e| values_equal(e, &x)))
        }
        "$indexOfArray" => {
            let vals = evn(&args, s)?;
            let Some(Some(Bson::Array(a))) = vals.first() else { return Ok(Some(Bson::Null)) };
            let x = vals.get(1).cloned().flatten().unwrap_or(Bson::Undefined);
            Bson::Int32(a.iter().position(|e| values_equal(e, &x)).map_or(-1, |p| p as i32))
        }
        "$concatArrays" | "$setUnion" => {
            let mut out: Vec<Bson> = Vec::new();
            for v in evn(&args, s)? {
                match v {
                    Some(Bson::Array(a)) => {
                        for e in a {
                            if k == "$concatArrays" || !out.iter().any(|o| values_equal(o, &e)) {
                                out.push(e);
                            }
                        }
                    }
                    None | Some(Bson::Null) => return Ok(Some(Bson::Null)),
                    Some(_) => return Err(err(28664, format!("{k} only supports arrays"))),
                }
            }
            Bson::Array(out)
        }
        "$reverseArray" => match ev(args.first().copied().unwrap_or(&Bson::Null), s)? {
            Some(Bson::Array(mut a)) => {
                a.reverse();
                Bson::Array(a)
            }
            _ => Bson::Null,
        },
        "$range" => {
            let vals = evn(&args, s)?;
            let n =
                |i: usize| vals.get(i).cloned().flatten().as_ref().and_then(num).map(|n| n.as_f64() as i64);
            let (Some(a), Some(b)) = (n(0), n(1)) else {
                return Err(err(34443, "$range requires numeric bounds"));
            };
            let step = n(2).unwrap_or(1);
            if step == 0 {
                return Err(err(34449, "$range requires a non-zero step value"));
            }
            let mut out = Vec::new();
            let mut i = a;
            while (step > 0 && i < b) || (step < 0 && i > b) {
                out.push(Bson::Int32(i as i32));
                i += step;
                if out.len() > 1_000_000 {
                    break;
                }
            }
            Bson::Array(out)
        }
        "$sum" | "$avg" | "$min" | "$max" => {
            let vals: Vec<Bson> = if args.len() == 1 {
                match ev(args[0], s)? {
                    Some(Bson::Array(a)) => a,
                    Some(v) => vec![v],
                    None => vec![],
                }
            } else {
                evn(&args, s)?.into_iter().flatten().collect()
            };
            let mut acc = super::aggregate::Accumulator::new(k);
            for v in &vals {
                acc.add(Some(v));
            }
            acc.finish()
        }
        "$mergeObjects" => {
            let mut out = Document::new();
            for v in evn(&args, s)? {
                match v {
                    Some(Bson::Document(d)) => {
                        for (k, v) in d {
                            out.insert(k, v);
                        }
                    }
                    None | Some(Bson::Null) => {}
                    Some(_) => return Err(err(40400, "$mergeObjects requires object inputs")),
                }
            }
            Bson::Document(out)
        }
        "$objectToArray" => match ev(args.first().copied().unwrap_or(&Bson::Null), s)? {
            Some(Bson::Document(d)) => {
                Bson::Array(d.into_iter().map(|(k, v)| Bson::Document(bson::doc! {"k": k, "v": v})).collect())
            }
            _ => Bson::Null,
        },
        "$arrayToObject" => match ev(args.first().copied().unwrap_or(&Bson::Null), s)? {
            Some(Bson::Array(a)) => {
                let mut out = Document::new();
                for e in a {
                    match e {
                        Bson::Document(d) => {
                            if let (Some(Bson::String(k)), Some(v)) = (d.get("k"), d.get("v")) {
                                out.insert(k.clone(), v.clone());
                            }
                        }
                        Bson::Array(p) if p.len() == 2 => {
                            if let Bson::String(k) = &p[0] {
                                out.insert(k.clone(), p[1].clone());
                            }
                        }
                        _ => return Err(err(40398, "$arrayToObject requires pairs")),
                    }
                }
                Bson::Document(out)
            }
            _ => Bson::Null,
        },
        "$toString" => match ev(args.first().copied().unwrap_or(&Bson::Null), s)? {
            None | Some(Bson::Null) => Bson::Null,
            Some(v) => Bson::String(to_str(&v).ok_or_else(|| err(241, "Unsupported conversion to string"))?),
        },
        "$toInt" | "$toLong" | "$toDouble" | "$toBool" => {
            let v = ev(args.first().copied().unwrap_or(&Bson::Null), s)?;
            let Some(v) = v.filter(|v| !matches!(v, Bson::Null)) else { return Ok(Some(Bson::Null)) };
            if k == "$toBool" {
                return Ok(Some(Bson::Boolean(truthy(&v))));
            }
            let f = match &v {
                Bson::String(st) => st.trim().parse::<f64>().map_err(|_| {
                    CommandError::new(
                        241,
                        "ConversionFailure",
                        format!("Failed to parse number '{st}' in $convert"),
                    )
                })?,
                Bson::Boolean(b) => f64::from(u8::from(*b)),
                other => num(other)
                    .ok_or_else(|| CommandError::new(241, "ConversionFailure", "Unsupported conversion"))?
                    .as_f64(),
            };
            match k {
                "$toInt" => Bson::Int32(f as i32),
                "$toLong" => Bson::Int64(f as i64),
                _ => Bson::Double(f),
            }
        }
        "$setField" | "$unsetField" | "$getField" => {
            // $getField: {field, input} or a field name; $setField/$unsetField: {field, input, value}.
            let (field, input, value) = match arg {
                Bson::Document(d) if d.contains_key("field") => (
                    d.get("field").cloned().unwrap_or(Bson::Null),
                    d.get("input").cloned(),
                    d.get("value").cloned(),
                ),
                other if k == "$getField" => (other.clone(), None, None),
                _ => return Err(err(4161100, format!("{k} requires an object with 'field' and 'input'"))),
            };
            let Some(Bson::String(name)) = ev(&field, s)? else {
                return Err(err(4161102, format!("{k} requires 'field' to evaluate to a string")));
            };
            let input = match input {
                Some(i) => ev(&i, s)?,
                None => Some(Bson::Document(s.root.clone())),
            };
            match (k, input) {
                ("$getField", Some(Bson::Document(d))) => return Ok(d.get(&name).cloned()),
                ("$getField", _) => return Ok(None),
                (_, None | Some(Bson::Null)) => Bson::Null,
                (_, Some(Bson::Document(mut d))) => {
                    let v =
                        if k == "$unsetField" { None } else { ev(value.as_ref().unwrap_or(&Bson::Null), s)? };
                    match v {
                        Some(v) => {
                            d.insert(name, v);
                        }
                        None => {
                            d.remove(&name);
                        }
                    }
                    Bson::Document(d)
                }
                (_, Some(_)) => {
                    return Err(err(4161105, format!("{k} requires 'input' to evaluate to an object")));
                }
            }
        }
        "$rand" => {
            // A xorshift step seeded from a fresh ObjectId: uniform enough for $rand in [0, 1).
            let b = bson::oid::ObjectId::new().bytes();
            let mut x = u64::from_le_bytes([b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11]]) | 1;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            Bson::Double((x >> 11) as f64 / (1u64 << 53) as f64)
        }
        "$let" => {
            let Bson::Document(d) = arg else { return Err(err(16874, "$let only supports an object")) };
            let (Some(Bson::Document(vars)), Some(body)) = (d.get("vars"), d.get("in")) else {
                return Err(err(16876, "Missing 'vars' or 'in' parameter to $let"));
            };
            let mut bound = Vec::new();
            for (n, e) in vars {
                bound.push((n.clone(), ev(e, s)?.unwrap_or(Bson::Null)));
            }
            let depth = s.vars.len();
            s.vars.extend(bound);
            let r = ev(body, s);
            s.vars.truncate(depth);
            return r;
        }
        "$map" | "$filter" => {
            let Bson::Document(d) = arg else {
                return Err(err(16878, format!("{k} only supports an object")));
            };
            let input = ev(d.get("input").unwrap_or(&Bson::Null), s)?;
            let name = match d.get("as") {
                Some(Bson::String(n)) => n.clone(),
                _ => "this".to_string(),
            };
            let body = if k == "$map" { d.get("in") } else { d.get("cond") };
            let Some(body) = body else { return Err(err(16882, format!("Missing parameter to {k}"))) };
            let items = match input {
                Some(Bson::Array(a)) => a,
                None | Some(Bson::Null) => return Ok(Some(Bson::Null)),
                Some(_) => return Err(err(16883, format!("input to {k} must be an array"))),
            };
            let mut out = Vec::new();
            for item in items {
                s.vars.push((name.clone(), item.clone()));
                let r = ev(body, s);
                s.vars.pop();
                let r = r?;
                if k == "$map" {
                    out.push(r.unwrap_or(Bson::Null));
                } else if r.is_some_and(|v| truthy(&v)) {
                    out.push(item);
                }
            }
            Bson::Array(out)
        }
        other => {
            return Err(
                err(168, format!("Unrecognized expression '{other}'")).with_name("InvalidPipelineOperator")
            );
        }
    };
    Ok(Some(v))
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
