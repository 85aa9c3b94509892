//! The update language (MongoDB manual: "Update Operators" — field, array and positional
//! operators, replacement documents and pipeline-style updates).

use std::cmp::Ordering;

use bson::{Bson, Document};

use super::CommandError;
use super::compare::{compare, display_doc, num, type_name, values_equal};
use super::expr::arith;
use super::matcher::{Filter, get_path};
use super::sort::SortSpec;

/// A parsed update specification.
#[derive(Debug, Clone)]
pub enum Update {
    /// A whole replacement document (its `_id`, if any, must match).
    Replacement(Document),
    /// Update operators, sorted by path.
    Operators(Vec<Mod>),
    /// An aggregation pipeline (`$set`, `$unset`, `$project`, `$replaceRoot`, …).
    Pipeline(Vec<Document>),
}

/// One operator applied to one path.
#[derive(Debug, Clone)]
pub struct Mod {
    op: String,
    path: String,
    arg: Bson,
}

/// What an update needs besides the document.
#[derive(Debug, Default)]
pub struct UpdateEnv<'a> {
    /// The query that selected the document (for the positional `$` operator).
    pub query: Option<&'a Document>,
    /// `arrayFilters`, by identifier.
    pub array_filters: Vec<(String, Filter)>,
    /// Whether this update builds an upserted document (`$setOnInsert` applies).
    pub inserting: bool,
    /// The write's timestamp, for `$currentDate: {$type: "timestamp"}`.
    pub now_ts: Option<bson::Timestamp>,
}

fn failed_to_parse(msg: impl Into<String>) -> CommandError {
    CommandError::new(9, "FailedToParse", msg)
}
fn bad_value(msg: impl Into<String>) -> CommandError {
    CommandError::new(2, "BadValue", msg)
}

const OPS: &[&str] = &[
    "$set",
    "$unset",
    "$inc",
    "$mul",
    "$min",
    "$max",
    "$rename",
    "$push",
    "$addToSet",
    "$pull",
    "$pullAll",
    "$pop",
    "$setOnInsert",
    "$currentDate",
];

/// Parses `arrayFilters` into (identifier, filter) pairs.
pub fn parse_array_filters(filters: &[Bson]) -> Result<Vec<(String, Filter)>, CommandError> {
    let mut out: Vec<(String, Filter)> = Vec::new();
    for f in filters {
        let Bson::Document(d) = f else {
            return Err(CommandError::new(14, "TypeMismatch", "arrayFilters must be objects"));
        };
        let mut ident: Option<String> = None;
        for k in d.keys() {
            let id = k.split('.').next().unwrap_or("").to_string();
            match &ident {
                Some(i) if *i != id => {
                    return Err(failed_to_parse(format!(
                        "Error parsing array filter :: caused by :: Expected a single top-level field name, found '{i}' and '{id}'"
                    )));
                }
                _ => ident = Some(id),
            }
        }
        let Some(id) = ident else {
            return Err(failed_to_parse(
                "Cannot use an expression without a top-level field name in arrayFilters",
            ));
        };
        if out.iter().any(|(i, _)| *i == id) {
            return Err(failed_to_parse(format!(
                "Found multiple array filters with the same top-level field name {id}"
            )));
        }
        out.push((id, Filter::parse(d)?));
    }
    Ok(out)
}

impl Update {
    /// Parses an update (`u` of an update statement or findAndModify's `update`).
    pub fn parse(u: &Bson) -> Result<Update, CommandError> {
        match u {
            Bson::Array(stages) => {
                let mut out = Vec::new();
                for s in stages {
                    let Bson::Document(d) = s else {
                        return Err(failed_to_parse("Each element of the update pipeline must be an object"));
                    };
                    let name = d.keys().next().map(String::as_str).unwrap_or("");
                    if !matches!(
                        name,
                        "$addFields" | "$set" | "$project" | "$unset" | "$replaceRoot" | "$replaceWith"
                    ) {
                        return Err(CommandError::new(
                            72,
                            "InvalidOptions",
                            format!("{name} is not allowed to be used within an update"),
                        ));
                    }
                    out.push(d.clone());
                }
                super::aggregate::Pipeline::parse(&out)?;
                Ok(Update::Pipeline(out))
            }
            Bson::Document(d) => {
                if !d.keys().next().is_some_and(|k| k.starts_with('$')) {
                    return Ok(Update::Replacement(d.clone()));
                }
                let mut mods = Vec::new();
                for (op, arg) in d {
                    if !OPS.contains(&op.as_str()) {
                        return Err(failed_to_parse(format!(
                            "Unknown modifier: {op}. Expected a valid update modifier or pipeline-style update specified as an array"
                        )));
                    }
                    let Bson::Document(fields) = arg else {
                        return Err(failed_to_parse(format!(
                            "Modifiers operate on fields but we found type {} instead. For example: {{$mod: {{<field>: ...}}}} not {{{op}: {}}}",
                            type_name(arg),
                            super::compare::display(arg)
                        )));
                    };
                    for (path, v) in fields {
                        if path.is_empty() || path.split('.').any(str::is_empty) {
                            return Err(CommandError::new(
                                56,
                                "EmptyFieldName",
                                format!(
                                    "An update path '{path}' contains an empty field name, which is not allowed."
                                ),
                            ));
                        }
                        validate_arg(op, path, v)?;
                        mods.push(Mod { op: op.clone(), path: path.clone(), arg: v.clone() });
                        if op == "$rename" {
                            let Bson::String(to) = v else {
                                return Err(bad_value("The 'to' field for $rename must be a string"));
                            };
                            mods.push(Mod {
                                op: "$renameTo".into(),
                                path: to.clone(),
                                arg: Bson::String(path.clone()),
                            });
                        }
                    }
                }
                check_conflicts(&mods)?;
                // mongod (5.0+) applies modifications in lexicographic order of their paths.
                mods.sort_by(|a, b| a.path.cmp(&b.path));
                Ok(Update::Operators(mods))
            }
            other => Err(failed_to_parse(format!(
                "Update argument must be either an object or an array, not {}",
                type_name(other)
            ))),
        }
    }

    /// Whether this is a replacement document.
    pub fn is_replacement(&self) -> bool {
        matches!(self, Update::Replacement(_))
    }

    /// Applies the update to `doc`, returning the new document.
    pub fn apply(&self, doc: &Document, env: &UpdateEnv) -> Result<Document, CommandError> {
        let out = match self {
            Update::Replacement(r) => {
                let mut out = Document::new();
                match (doc.get("_id"), r.get("_id")) {
                    (Some(old), Some(new)) if !values_equal(old, new) || type_name(old) != type_name(new) => {
                        return Err(immutable_id(doc));
                    }
                    (Some(old), _) => {
                        out.insert("_id", old.clone());
                    }
                    (None, Some(new)) => {
                        out.insert("_id", new.clone());
                    }
                    (None, None) => {}
                }
                for (k, v) in r {
                    if k != "_id" {
                        out.insert(k.clone(), v.clone());
                    }
                }
                return Ok(out);
            }
            Update::Pipeline(stages) => {
                let out = super::aggregate::Pipeline::parse(stages)?.apply_to_one(doc.clone())?;
                // A pipeline that drops `_id` (e.g. `$replaceRoot`) keeps the original one.
                match (doc.get("_id"), out.contains_key("_id")) {
                    (Some(id), false) => {
                        let mut with_id = bson::doc! {"_id": id.clone()};
                        with_id.extend(out);
                        with_id
                    }
                    _ => out,
                }
            }
            Update::Operators(mods) => {
                let mut out = doc.clone();
                let mut used: Vec<String> = Vec::new();
                for m in mods {
                    apply_mod(&mut out, m, env, &mut used)?;
                }
                for (id, _) in &env.array_filters {
                    if !used.contains(id) {
                        return Err(failed_to_parse(format!(
                            "The array filter for identifier '{id}' was not used in the update {{ }}"
                        )));
                    }
                }
                out
            }
        };
        match (doc.get("_id"), out.get("_id")) {
            (Some(old), Some(new)) if old == new => Ok(out),
            (Some(_), _) => Err(immutable_id(doc)),
            (None, _) => Ok(out),
        }
    }
}

fn immutable_id(doc: &Document) -> CommandError {
    let _ = doc;
    CommandError::new(
        66,
        "ImmutableField",
        "Performing an update on the path '_id' would modify the immutable field '_id'",
    )
}

fn validate_arg(op: &str, path: &str, v: &Bson) -> Result<(), CommandError> {
    match op {
        "$inc" | "$mul" if num(v).is_none() => {
            let verb = if op == "$inc" { "increment" } else { "multiply" };
            return Err(CommandError::new(
                14,
                "TypeMismatch",
                format!(
                    "Cannot {verb} with non-numeric argument: {{{path}: {}}}",
                    super::compare::display(v)
                ),
            ));
        }
        "$rename" => {
            let Bson::String(to) = v else {
                return Err(bad_value(format!(
                    "The 'to' field for $rename must be a string: {path}: {}",
                    super::compare::display(v)
                )));
            };
            if to == path {
                return Err(bad_value(format!(
                    "The source and target field for $rename must differ: {path}: \"{to}\""
                )));
            }
            if to.starts_with(&format!("{path}.")) || path.starts_with(&format!("{to}.")) {
                return Err(bad_value(format!(
                    "The source and target field for $rename must not be on the same path: {path}: \"{to}\""
                )));
            }
            if to.contains('$') || path.contains('$') {
                return Err(bad_value(
                    "The source and target field for $rename must not contain positional operators",
                ));
            }
        }
        "$pop" if !matches!(num(v), Some(n) if n.as_f64() == 1.0 || n.as_f64() == -1.0) => {
            return Err(failed_to_parse(format!(
                "$pop expects 1 or -1, found: {}",
                super::compare::display(v)
            )));
        }
        "$pullAll" if !matches!(v, Bson::Array(_)) => {
            return Err(bad_value(format!(
                "$pullAll requires an array argument but was given a {}",
                type_name(v)
            )));
        }
        "$currentDate" => {
            let ok = match v {
                Bson::Boolean(_) => true,
                Bson::Document(d) => {
                    d.len() == 1
                        && matches!(d.get("$type"), Some(Bson::String(t)) if t == "date" || t == "timestamp")
                }
                _ => false,
            };
            if !ok {
                return Err(bad_value(format!(
                    "{} is not valid type for $currentDate. Please use a boolean ('true') or a $type expression ({{$type: 'timestamp/date'}}).",
                    type_name(v)
                )));
            }
        }
        "$push" | "$addToSet" => {
            if let Some(d) = v.as_document().filter(|d| d.contains_key("$each")) {
                if !matches!(d.get("$each"), Some(Bson::Array(_))) {
                    return Err(bad_value(format!(
                        "The argument to $each in {op} must be an array but it was of type: {}",
                        d.get("$each").map_or("missing", type_name)
                    )));
                }
                for k in d.keys() {
                    let allowed = if op == "$push" {
                        matches!(k.as_str(), "$each" | "$slice" | "$sort" | "$position")
                    } else {
                        k == "$each"
                    };
                    if !allowed {
                        return Err(bad_value(format!("Unrecognized clause in {op}: {k}")));
                    }
                }
                if let Some(s) = d.get("$sort") {
                    match s {
                        Bson::Document(spec) => {
                            SortSpec::parse(spec)?;
                        }
                        other if matches!(num(other), Some(n) if n.as_f64().abs() == 1.0) => {}
                        _ => {
                            return Err(bad_value(
                                "The $sort is invalid: use 1/-1 to sort the whole element, or {field:1/-1} to sort embedded fields",
                            ));
                        }
                    }
                }
            }
        }
        _ => {}
    }
    Ok(())
}

fn check_conflicts(mods: &[Mod]) -> Result<(), CommandError> {
    for (i, a) in mods.iter().enumerate() {
        for b in &mods[i + 1..] {
            let (short, long) = if a.path.len() <= b.path.len() { (a, b) } else { (b, a) };
            if long.path == short.path || long.path.starts_with(&format!("{}.", short.path)) {
                return Err(CommandError::new(
                    40,
                    "ConflictingUpdateOperators",
                    format!("Updating the path '{}' would create a conflict at '{}'", long.path, short.path),
                ));
            }
        }
    }
    Ok(())
}

/// What a leaf operation does to the value at its path.
enum Action {
    Set(Bson),
    Remove,
    Keep,
}

fn creates(op: &str) -> bool {
    !matches!(op, "$unset" | "$pull" | "$pullAll" | "$pop" | "$rename")
}

fn apply_mod(
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

fn root_id_string(root: &Bson) -> String {
    match root {
        Bson::Document(d) => match d.get("_id") {
            Some(id) => format!("{{_id: {}}}", super::compare::display(id)),
            None => "{}".into(),
        },
        _ => String::new(),
    }
}

fn path_has_array(doc: &Document, parts: &[&str]) -> bool {
    let mut cur = match parts.first().and_then(|p| doc.get(*p)) {
        Some(v) => v,
        None => return false,
    };
    for p in &parts[1..] {
        match cur {
            Bson::Array(_) => return true,
            Bson::Document(d) => match d.get(*p) {
                Some(v) => cur = v,
                None => return false,
            },
            _ => return false,
        }
    }
    false
}

/// The array index the positional `$` operator stands for, from the query.
/// The array index the positional `$` in `parts` stands for, given the query that matched
/// `doc` (also used by the positional projection).
pub fn positional_match(
    doc: &Document,
    parts: &[&str],
    query: &Document,
) -> Result<Option<usize>, CommandError> {
    positional_index(doc, parts, &UpdateEnv { query: Some(query), ..Default::default() })
}

fn positional_index(doc: &Document, parts: &[&str], env: &UpdateEnv) -> Result<Option<usize>, CommandError> {
    let Some(pos) = parts.iter().position(|p| *p == "$") else { return Ok(None) };
    let prefix = parts[..pos].join(".");
    let not_found = || bad_value("The positional operator did not find the match needed from the query.");
    let Some(Bson::Array(arr)) = get_path(doc, &prefix) else { return Err(not_found()) };
    let Some(q) = env.query else { return Err(not_found()) };
    let mut conds: Vec<(String, Bson)> = Vec::new();
    collect_conds(q, &prefix, &mut conds);
    if conds.is_empty() {
        return Err(not_found());
    }
    for (i, e) in arr.iter().enumerate() {
        let wrapper = bson::doc! { "__e": e.clone() };
        let all = conds.iter().all(|(rest, cond)| {
            let path = if rest.is_empty() { "__e".to_string() } else { format!("__e.{rest}") };
            let mut q = Document::new();
            match cond.as_document().and_then(|c| c.get("$elemMatch")).filter(|_| rest.is_empty()) {
                // `{arr: {$elemMatch: …}}` selects the element that satisfies the inner query.
                Some(Bson::Document(inner)) if inner.keys().next().is_some_and(|k| k.starts_with('$')) => {
                    q.insert(path, Bson::Document(inner.clone()));
                }
                Some(Bson::Document(inner)) => {
                    for (k, v) in inner {
                        q.insert(format!("__e.{k}"), v.clone());
                    }
                }
                _ => {
                    q.insert(path, cond.clone());
                }
            }
            Filter::parse(&q).is_ok_and(|f| f.matches(&wrapper))
        });
        if all {
            return Ok(Some(i));
        }
    }
    Err(not_found())
}

fn collect_conds(q: &Document, prefix: &str, out: &mut Vec<(String, Bson)>) {
    for (k, v) in q {
        if k == "$and" {
            if let Bson::Array(items) = v {
                for i in items {
                    if let Bson::Document(d) = i {
                        collect_conds(d, prefix, out);
                    }
                }
            }
        } else if k == prefix {
            out.push((String::new(), v.clone()));
        } else if let Some(rest) = k.strip_prefix(&format!("{prefix}.")) {
            out.push((rest.to_string(), v.clone()));
        }
    }
}

fn array_filter<'e>(env: &'e UpdateEnv, id: &str, path: &str) -> Result<&'e Filter, CommandError> {
    env.array_filters
        .iter()
        .find(|(i, _)| i == id)
        .map(|(_, f)| f)
        .ok_or_else(|| bad_value(format!("No array filter found for identifier '{id}' in path '{path}'")))
}

/// The indexes of `arr` a path component selects.
#[allow(clippy::too_many_arguments)]
fn select_indexes(
    arr: &[Bson],
    part: &str,
    m: &Mod,
    env: &UpdateEnv,
    positional: Option<usize>,
    used: &mut Vec<String>,
) -> Result<Option<Vec<usize>>, CommandError> {
    Ok(Some(if part == "$[]" {
        (0..arr.len()).collect()
    } else if let Some(id) = part.strip_prefix("$[").and_then(|p| p.strip_suffix(']')) {
        let f = array_filter(env, id, &m.path)?;
        if !used.iter().any(|u| u == id) {
            used.push(id.to_string());
        }
        arr.iter()
            .enumerate()
            .filter(|(_, e)| {
                let mut w = Document::new();
                w.insert(id, (*e).clone());
                f.matches(&w)
            })
            .map(|(i, _)| i)
            .collect()
    } else if part == "$" {
        positional.into_iter().collect()
    } else {
        return Ok(None);
    }))
}

#[allow(clippy::too_many_arguments)]
fn walk(
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
                                super::compare::display(&Bson::Array(arr.clone()))
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
                    super::compare::display(other)
                ),
            ))
        }
    }
}

fn each_items(arg: &Bson) -> (Vec<Bson>, Option<&Document>) {
    match arg {
        Bson::Document(d) if d.contains_key("$each") => match d.get("$each") {
            Some(Bson::Array(a)) => (a.clone(), Some(d)),
            _ => (vec![], Some(d)),
        },
        other => (vec![other.clone()], None),
    }
}

fn pull_matches(cond: &Bson, e: &Bson) -> bool {
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

fn not_array(op: &str, path: &str, old: &Bson, id_str: &str) -> CommandError {
    let _ = op;
    bad_value(format!(
        "The field '{path}' must be an array but is of type {} in document {id_str}",
        type_name(old)
    ))
}

fn leaf(
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

/// Builds the base of an upserted document from a query's equality conditions.
pub fn upsert_base(query: &Document) -> Result<Document, CommandError> {
    let mut eqs = Vec::new();
    Filter::equalities(query, &mut eqs);
    let mut out = Document::new();
    let mut root = Bson::Document(Document::new());
    for (path, v) in eqs {
        if path.split('.').any(|p| p.starts_with('$')) {
            continue;
        }
        let m = Mod { op: "$set".into(), path: path.clone(), arg: v };
        let mut used = Vec::new();
        walk(
            &mut root,
            &path.split('.').collect::<Vec<_>>(),
            0,
            &m,
            &UpdateEnv::default(),
            None,
            &mut used,
            "{}",
        )?;
    }
    if let Bson::Document(d) = root {
        // `_id` goes first.
        if let Some(id) = d.get("_id") {
            out.insert("_id", id.clone());
        }
        for (k, v) in d {
            if k != "_id" {
                out.insert(k, v);
            }
        }
    }
    Ok(out)
}

/// A short description of a document for error messages.
pub fn describe(doc: &Document) -> String {
    display_doc(doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn up(d: Document, u: Document) -> Document {
        Update::parse(&Bson::Document(u)).unwrap().apply(&d, &UpdateEnv::default()).unwrap()
    }
    fn up_err(d: Document, u: Document) -> i32 {
        match Update::parse(&Bson::Document(u)) {
            Err(e) => e.code,
            Ok(p) => p.apply(&d, &UpdateEnv::default()).unwrap_err().code,
        }
    }

    #[test]
    fn field_operators() {
        let d = doc! {"_id": 1, "a": 1, "b": {"c": 2}};
        assert_eq!(up(d.clone(), doc! {"$set": {"b.d": 3}}), doc! {"_id": 1, "a": 1, "b": {"c": 2, "d": 3}});
        assert_eq!(up(d.clone(), doc! {"$unset": {"a": ""}}), doc! {"_id": 1, "b": {"c": 2}});
        assert_eq!(
            up(d.clone(), doc! {"$inc": {"a": 2, "n": 1}}),
            doc! {"_id": 1, "a": 3, "b": {"c": 2}, "n": 1}
        );
        assert_eq!(up(d.clone(), doc! {"$inc": {"a": 0.5}}), doc! {"_id": 1, "a": 1.5, "b": {"c": 2}});
        // Manual "$mul": a missing field is set to zero of the argument's numeric type.
        assert_eq!(
            up(d.clone(), doc! {"$mul": {"a": 3, "z": 2_i64}}),
            doc! {"_id": 1, "a": 3, "b": {"c": 2}, "z": 0_i64}
        );
        assert_eq!(
            up(d.clone(), doc! {"$min": {"a": 0}, "$max": {"b.c": 1}}),
            doc! {"_id": 1, "a": 0, "b": {"c": 2}}
        );
        assert_eq!(up(d.clone(), doc! {"$rename": {"a": "x"}}), doc! {"_id": 1, "b": {"c": 2}, "x": 1});
        // 5.0+: new fields are added in lexicographic order.
        assert_eq!(up(doc! {"_id": 1}, doc! {"$set": {"z": 1, "y": 2}}), doc! {"_id": 1, "y": 2, "z": 1});
    }

    #[test]
    fn array_operators() {
        let d = doc! {"_id": 1, "a": [1, 2, 3, 2]};
        assert_eq!(up(d.clone(), doc! {"$push": {"a": 4}}), doc! {"_id": 1, "a": [1, 2, 3, 2, 4]});
        assert_eq!(
            up(d.clone(), doc! {"$push": {"a": {"$each": [9, 0], "$sort": 1, "$slice": 3}}}),
            doc! {"_id": 1, "a": [0, 1, 2]}
        );
        assert_eq!(
            up(d.clone(), doc! {"$push": {"a": {"$each": [7], "$position": 0}}}),
            doc! {"_id": 1, "a": [7, 1, 2, 3, 2]}
        );
        assert_eq!(
            up(d.clone(), doc! {"$addToSet": {"a": {"$each": [2, 5, 5]}}}),
            doc! {"_id": 1, "a": [1, 2, 3, 2, 5]}
        );
        assert_eq!(up(d.clone(), doc! {"$pull": {"a": 2}}), doc! {"_id": 1, "a": [1, 3]});
        assert_eq!(up(d.clone(), doc! {"$pull": {"a": {"$gte": 2}}}), doc! {"_id": 1, "a": [1]});
        assert_eq!(up(d.clone(), doc! {"$pullAll": {"a": [1, 3]}}), doc! {"_id": 1, "a": [2, 2]});
        assert_eq!(up(d.clone(), doc! {"$pop": {"a": -1}}), doc! {"_id": 1, "a": [2, 3, 2]});
        assert_eq!(up(d.clone(), doc! {"$set": {"a.1": 9}}), doc! {"_id": 1, "a": [1, 9, 3, 2]});
        assert_eq!(up(d.clone(), doc! {"$set": {"a.$[]": 0}}), doc! {"_id": 1, "a": [0, 0, 0, 0]});
        assert_eq!(up(doc! {"_id": 1}, doc! {"$push": {"n": 1}}), doc! {"_id": 1, "n": [1]});
        let docs = doc! {"_id": 1, "a": [{"x": 1}, {"x": 2}]};
        assert_eq!(up(docs, doc! {"$pull": {"a": {"x": 2}}}), doc! {"_id": 1, "a": [{"x": 1}]});
    }

    #[test]
    fn positional_and_array_filters() {
        let d = doc! {"_id": 1, "a": [1, 5, 7]};
        let q = doc! {"a": 5};
        let env = UpdateEnv { query: Some(&q), ..Default::default() };
        let u = Update::parse(&Bson::Document(doc! {"$set": {"a.$": 50}})).unwrap();
        assert_eq!(u.apply(&d, &env).unwrap(), doc! {"_id": 1, "a": [1, 50, 7]});
        let d2 = doc! {"_id": 1, "a": [{"b": 1, "c": 0}, {"b": 2, "c": 0}]};
        let q2 = doc! {"a": {"$elemMatch": {"b": 2}}};
        let env2 = UpdateEnv { query: Some(&q2), ..Default::default() };
        let u2 = Update::parse(&Bson::Document(doc! {"$set": {"a.$.c": 9}})).unwrap();
        assert_eq!(u2.apply(&d2, &env2).unwrap(), doc! {"_id": 1, "a": [{"b": 1, "c": 0}, {"b": 2, "c": 9}]});
        let q3 = doc! {"a.b": 1};
        let env3 = UpdateEnv { query: Some(&q3), ..Default::default() };
        assert_eq!(u2.apply(&d2, &env3).unwrap(), doc! {"_id": 1, "a": [{"b": 1, "c": 9}, {"b": 2, "c": 0}]});
        let env = UpdateEnv {
            array_filters: parse_array_filters(&[Bson::Document(doc! {"e": {"$gte": 5}})]).unwrap(),
            ..Default::default()
        };
        let u = Update::parse(&Bson::Document(doc! {"$inc": {"a.$[e]": 1}})).unwrap();
        assert_eq!(u.apply(&d, &env).unwrap(), doc! {"_id": 1, "a": [1, 6, 8]});
    }

    #[test]
    fn replacement_and_errors() {
        let d = doc! {"_id": 1, "a": 1};
        assert_eq!(up(d.clone(), doc! {"b": 2}), doc! {"_id": 1, "b": 2});
        assert_eq!(up_err(d.clone(), doc! {"_id": 2}), 66);
        assert_eq!(up_err(d.clone(), doc! {"$set": {"_id": 2}}), 66);
        assert_eq!(up_err(d.clone(), doc! {"$set": {"a": 1}, "$inc": {"a": 1}}), 40);
        assert_eq!(up_err(d.clone(), doc! {"$set": {"a.b": 1}, "$unset": {"a": 1}}), 40);
        assert_eq!(up_err(d.clone(), doc! {"$foo": {"a": 1}}), 9);
        assert_eq!(up_err(doc! {"_id": 1, "a": "s"}, doc! {"$inc": {"a": 1}}), 14);
        assert_eq!(up_err(d.clone(), doc! {"$inc": {"a": "x"}}), 14);
        assert_eq!(up_err(d.clone(), doc! {"$push": {"a": 1}}), 2);
        assert_eq!(up_err(d.clone(), doc! {"$set": {"a.b": 1}}), 28);
        assert_eq!(up_err(d, doc! {"$set": 1}), 9);
    }

    #[test]
    fn pipeline_updates_keep_the_id() {
        // CRUD spec "updateWithPipelines": $replaceRoot to a sub-document keeps `_id`.
        let u = Update::parse(&Bson::Array(vec![
            Bson::Document(doc! {"$replaceRoot": {"newRoot": "$t"}}),
            Bson::Document(doc! {"$addFields": {"foo": 1}}),
        ]))
        .unwrap();
        let d = doc! {"_id": 1, "x": 1, "t": {"u": {"v": 1}}};
        assert_eq!(u.apply(&d, &UpdateEnv::default()).unwrap(), doc! {"_id": 1, "u": {"v": 1}, "foo": 1});
    }

    #[test]
    fn upsert_base_uses_equalities() {
        let q = doc! {"a.b": 1, "c": {"$gt": 1}, "$and": [{"d": 2}], "_id": 7};
        assert_eq!(upsert_base(&q).unwrap(), doc! {"_id": 7, "a": {"b": 1}, "d": 2});
    }
}
