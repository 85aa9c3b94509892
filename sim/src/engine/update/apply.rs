//! Applying update operators to a document (manual "Field / Array Update Operators"): the walk
//! down each path (through positional segments) and each operator's effect at its leaf.

use std::cmp::Ordering;

use bson::{Bson, Document};

use super::positional::{path_has_array, positional_index, select_indexes};
use super::spec::{Mod, UpdateEnv, bad_value, failed_to_parse};
use crate::engine::CommandError;
use crate::engine::compare::{compare, num, type_name, values_equal};
use crate::engine::expr::arith;
use crate::engine::matcher::{Filter, get_path};
use crate::engine::sort::SortSpec;

/// What a leaf operation does to the value at its path.
pub(super) enum Action {
    Set(Bson),
    Remove,
    Keep,
}

pub(super) fn creates(op: &str) -> bool {
    !matches!(op, "$unset" | "$pull" | "$pullAll" | "$pop" | "$rename")
}

pub(super) fn apply_mod(
    doc: &mut Document,
    m: &Mod,
    env: &UpdateEnv,
    used: &mut Vec<String>,
) -> Result<(), CommandError> {
    if m.op == "$setOnInsert" && !env.inserting {
        return Ok(());
    }
    if m.op == "$renameTo" {
        return Ok(());
    }
    let parts: Vec<&str> = m.path.split('.').collect();
    if m.op == "$rename" {
        let Bson::String(to) = &m.arg else { return Ok(()) };
        let Some(v) = get_path(doc, &m.path).cloned() else { return Ok(()) };
        // Neither end of a $rename may traverse an array.
        if path_has_array(doc, &parts) || path_has_array(doc, &to.split('.').collect::<Vec<_>>()) {
            return Err(bad_value(format!(
                "The source field cannot be an array element, '{}' in doc with _id has an array field",
                m.path
            )));
        }
        let unset = Mod { op: "$unset".into(), path: m.path.clone(), arg: Bson::Int32(1) };
        apply_mod(doc, &unset, env, used)?;
        let set = Mod { op: "$set".into(), path: to.clone(), arg: v };
        return apply_mod(doc, &set, env, used);
    }
    let positional = positional_index(doc, &parts, env)?;
    let mut root = Bson::Document(std::mem::take(doc));
    let id_str = root_id_string(&root);
    let r = walk(&mut root, &parts, 0, m, env, positional, used, &id_str);
    if let Bson::Document(d) = root {
        *doc = d;
    }
    r
}

pub(super) fn root_id_string(root: &Bson) -> String {
    match root {
        Bson::Document(d) => match d.get("_id") {
            Some(id) => format!("{{_id: {}}}", crate::engine::compare::display(id)),
            None => "{}".into(),
        },
        _ => String::new(),
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn walk(
    cur: &mut Bson,
    parts: &[&str],
    depth: usize,
    m: &Mod,
    env: &UpdateEnv,
    positional: Option<usize>,
    used: &mut Vec<String>,
    id_str: &str,
) -> Result<(), CommandError> {
    let part = parts[depth];
    let last = depth + 1 == parts.len();
    let path_so_far = parts[..depth].join(".");
    match cur {
        Bson::Document(d) => {
            if part.starts_with('$') && (part == "$" || part.starts_with("$[")) {
                return Err(bad_value(format!(
                    "The path '{path_so_far}' must exist in the document in order to apply array updates."
                )));
            }
            if last {
                let old = d.get(part);
                match leaf(old, m, env, &parts.join("."), id_str)? {
                    Action::Set(v) => {
                        d.insert(part.to_string(), v);
                    }
                    Action::Remove => {
                        d.remove(part);
                    }
                    Action::Keep => {}
                }
                return Ok(());
            }
            if !d.contains_key(part) {
                if !creates(&m.op) || (m.op == "$setOnInsert" && !env.inserting) {
                    return Ok(());
                }
                if parts[depth + 1..].iter().any(|p| p.starts_with('$')) {
                    return Err(bad_value(format!(
                        "The path '{}' must exist in the document in order to apply array updates.",
                        parts[..=depth].join(".")
                    )));
                }
                d.insert(part.to_string(), Bson::Document(Document::new()));
            }
            match d.get_mut(part) {
                Some(child) => walk(child, parts, depth + 1, m, env, positional, used, id_str),
                None => Ok(()),
            }
        }
        Bson::Array(arr) => {
            let idxs = match select_indexes(arr, part, m, env, positional, used)? {
                Some(i) => i,
                None => match part.parse::<usize>() {
                    Ok(i) => vec![i],
                    Err(_) => {
                        if !creates(&m.op) {
                            return Ok(());
                        }
                        return Err(CommandError::new(
                            28,
                            "PathNotViable",
                            format!(
                                "Cannot create field '{part}' in element {{{path_so_far}: {}}}",
                                crate::engine::compare::display(&Bson::Array(arr.clone()))
                            ),
                        ));
                    }
                },
            };
            for i in idxs {
                if i >= arr.len() {
                    if !creates(&m.op) {
                        continue;
                    }
                    // mongod refuses to pad an array by more than 1,500,000 nulls.
                    if i - arr.len() > 1_500_000 {
                        return Err(bad_value(format!(
                            "can't backfill array to larger than 1500000 elements (index {i})"
                        )));
                    }
                    arr.resize(i + 1, Bson::Null);
                    if !last {
                        arr[i] = Bson::Document(Document::new());
                    }
                }
                if last {
                    let full = parts.join(".");
                    match leaf(Some(&arr[i]), m, env, &full, id_str)? {
                        Action::Set(v) => arr[i] = v,
                        // $unset of an array element leaves null in its place.
                        Action::Remove => arr[i] = Bson::Null,
                        Action::Keep => {}
                    }
                } else {
                    walk(&mut arr[i], parts, depth + 1, m, env, positional, used, id_str)?;
                }
            }
            Ok(())
        }
        other => {
            if !creates(&m.op) {
                return Ok(());
            }
            Err(CommandError::new(
                28,
                "PathNotViable",
                format!(
                    "Cannot create field '{part}' in element {{{}: {}}}",
                    parts[depth.saturating_sub(1)],
                    crate::engine::compare::display(other)
                ),
            ))
        }
    }
}

pub(super) fn each_items(arg: &Bson) -> (Vec<Bson>, Option<&Document>) {
    match arg {
        Bson::Document(d) if d.contains_key("$each") => match d.get("$each") {
            Some(Bson::Array(a)) => (a.clone(), Some(d)),
            _ => (vec![], Some(d)),
        },
        other => (vec![other.clone()], None),
    }
}

pub(super) fn pull_matches(cond: &Bson, e: &Bson) -> bool {
    match cond {
        Bson::Document(d) if d.keys().next().is_some_and(|k| k.starts_with('$')) => {
            let q = bson::doc! { "__e": Bson::Document(d.clone()) };
            let w = bson::doc! { "__e": e.clone() };
            Filter::parse(&q).is_ok_and(|f| f.matches(&w))
        }
        Bson::Document(d) => match e {
            Bson::Document(ed) => Filter::parse(d).is_ok_and(|f| f.matches(ed)),
            _ => false,
        },
        Bson::RegularExpression(_) => {
            let q = bson::doc! { "__e": cond.clone() };
            let w = bson::doc! { "__e": e.clone() };
            Filter::parse(&q).is_ok_and(|f| f.matches(&w))
        }
        other => values_equal(other, e),
    }
}

pub(super) fn not_array(op: &str, path: &str, old: &Bson, id_str: &str) -> CommandError {
    let _ = op;
    bad_value(format!(
        "The field '{path}' must be an array but is of type {} in document {id_str}",
        type_name(old)
    ))
}

pub(super) fn leaf(
    old: Option<&Bson>,
    m: &Mod,
    env: &UpdateEnv,
    path: &str,
    id_str: &str,
) -> Result<Action, CommandError> {
    let arg = &m.arg;
    Ok(match m.op.as_str() {
        "$set" | "$setOnInsert" => Action::Set(arg.clone()),
        "$unset" => {
            if old.is_some() {
                Action::Remove
            } else {
                Action::Keep
            }
        }
        "$inc" | "$mul" => {
            let opc = if m.op == "$inc" { '+' } else { '*' };
            match old {
                None => Action::Set(if opc == '+' {
                    arg.clone()
                } else {
                    arith(arg, &Bson::Int32(0), '*').unwrap_or(Bson::Int32(0))
                }),
                Some(o) => match arith(o, arg, opc) {
                    Some(v) => Action::Set(v),
                    None => {
                        return Err(CommandError::new(
                            14,
                            "TypeMismatch",
                            format!(
                                "Cannot apply {} to a value of non-numeric type. {id_str} has the field '{}' of non-numeric type {}",
                                m.op,
                                path.rsplit('.').next().unwrap_or(path),
                                type_name(o)
                            ),
                        ));
                    }
                },
            }
        }
        "$min" | "$max" => match old {
            None => Action::Set(arg.clone()),
            Some(o) => {
                let c = compare(arg, o);
                if (m.op == "$min" && c == Ordering::Less) || (m.op == "$max" && c == Ordering::Greater) {
                    Action::Set(arg.clone())
                } else {
                    Action::Keep
                }
            }
        },
        "$currentDate" => {
            let ts = matches!(arg, Bson::Document(d) if matches!(d.get("$type"), Some(Bson::String(t)) if t == "timestamp"));
            if ts {
                let t = env.now_ts.unwrap_or(bson::Timestamp {
                    time: (bson::DateTime::now().timestamp_millis() / 1000) as u32,
                    increment: 1,
                });
                Action::Set(Bson::Timestamp(t))
            } else {
                Action::Set(Bson::DateTime(bson::DateTime::now()))
            }
        }
        "$push" => {
            let (items, mods) = each_items(arg);
            let mut arr = match old {
                None => Vec::new(),
                Some(Bson::Array(a)) => a.clone(),
                Some(o) => return Err(not_array("$push", path, o, id_str)),
            };
            let position = mods.and_then(|d| d.get("$position")).and_then(num).map(|n| n.as_f64() as i64);
            match position {
                Some(p) => {
                    let len = arr.len() as i64;
                    let at = if p < 0 { (len + p).max(0) } else { p.min(len) } as usize;
                    for (k, it) in items.into_iter().enumerate() {
                        arr.insert(at + k, it);
                    }
                }
                None => arr.extend(items),
            }
            if let Some(s) = mods.and_then(|d| d.get("$sort")) {
                match s {
                    Bson::Document(spec) => {
                        let spec = SortSpec::parse(spec)?;
                        let mut docs: Vec<(Document, Bson)> = arr
                            .into_iter()
                            .map(|e| match &e {
                                Bson::Document(d) => (d.clone(), e),
                                _ => (Document::new(), e),
                            })
                            .collect();
                        docs.sort_by(|a, b| spec.compare(&a.0, &b.0));
                        arr = docs.into_iter().map(|(_, e)| e).collect();
                    }
                    other => {
                        let desc = num(other).is_some_and(|n| n.as_f64() < 0.0);
                        arr.sort_by(|a, b| if desc { compare(b, a) } else { compare(a, b) });
                    }
                }
            }
            if let Some(n) = mods.and_then(|d| d.get("$slice")).and_then(num) {
                let n = n.as_f64() as i64;
                let len = arr.len() as i64;
                if n >= 0 {
                    arr.truncate(n as usize);
                } else if n.checked_neg().is_some_and(|m| m < len) {
                    arr = arr.split_off((len + n) as usize);
                }
            }
            Action::Set(Bson::Array(arr))
        }
        "$addToSet" => {
            let (items, _) = each_items(arg);
            let mut arr = match old {
                None => Vec::new(),
                Some(Bson::Array(a)) => a.clone(),
                Some(o) => {
                    return Err(bad_value(format!(
                        "Cannot apply $addToSet to non-array field. Field named '{}' has non-array type {}",
                        path.rsplit('.').next().unwrap_or(path),
                        type_name(o)
                    )));
                }
            };
            for it in items {
                if !arr.iter().any(|e| e == &it || (values_equal(e, &it) && type_name(e) == type_name(&it))) {
                    arr.push(it);
                }
            }
            Action::Set(Bson::Array(arr))
        }
        "$pull" | "$pullAll" => match old {
            None => Action::Keep,
            Some(Bson::Array(a)) => {
                let kept: Vec<Bson> = a
                    .iter()
                    .filter(|e| {
                        if m.op == "$pull" {
                            !pull_matches(arg, e)
                        } else {
                            !matches!(arg, Bson::Array(vals) if vals.iter().any(|v| values_equal(v, e)))
                        }
                    })
                    .cloned()
                    .collect();
                Action::Set(Bson::Array(kept))
            }
            Some(_) => return Err(bad_value("Cannot apply $pull to a non-array value")),
        },
        "$pop" => match old {
            None => Action::Keep,
            Some(Bson::Array(a)) => {
                let mut a = a.clone();
                if !a.is_empty() {
                    if num(arg).is_some_and(|n| n.as_f64() < 0.0) {
                        a.remove(0);
                    } else {
                        a.pop();
                    }
                }
                Action::Set(Bson::Array(a))
            }
            Some(o) => {
                return Err(CommandError::new(
                    14,
                    "TypeMismatch",
                    format!("Path '{path}' contains an element of non-array type '{}'", type_name(o)),
                ));
            }
        },
        other => return Err(failed_to_parse(format!("Unknown modifier: {other}"))),
    })
}
