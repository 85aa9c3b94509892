//! The positional operators' element selection (manual "$ (update)", "$[]",
//! "$[<identifier>]"): the element the query matched, all elements, or those an array filter
//! selects.

use bson::{Bson, Document};

use super::spec::{Mod, UpdateEnv, bad_value};
use crate::engine::CommandError;
use crate::engine::matcher::{Filter, get_path};

pub(super) fn path_has_array(doc: &Document, parts: &[&str]) -> bool {
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

pub(super) fn positional_index(
    doc: &Document,
    parts: &[&str],
    env: &UpdateEnv,
) -> Result<Option<usize>, CommandError> {
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

pub(super) fn collect_conds(q: &Document, prefix: &str, out: &mut Vec<(String, Bson)>) {
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

pub(super) fn array_filter<'e>(env: &'e UpdateEnv, id: &str, path: &str) -> Result<&'e Filter, CommandError> {
    env.array_filters
        .iter()
        .find(|(i, _)| i == id)
        .map(|(_, f)| f)
        .ok_or_else(|| bad_value(format!("No array filter found for identifier '{id}' in path '{path}'")))
}

/// The indexes of `arr` a path component selects.
#[allow(clippy::too_many_arguments)]
pub(super) fn select_indexes(
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
