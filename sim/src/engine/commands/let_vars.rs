//! A command's `let` variables (manual "let" option of find, aggregate, update, delete,
//! findAndModify): evaluated once, bound into the query, the pipeline or the update.

use bson::{Bson, Document, doc};

use super::args::opt_doc;
use crate::engine::CommandError;

/// The command's `let` variables, evaluated as constants.
pub(super) fn let_vars(cmd: &Document) -> Result<Vec<(String, Bson)>, CommandError> {
    let Some(l) = opt_doc(cmd, "let")? else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for (k, e) in l {
        if !k.starts_with(|c: char| c.is_ascii_lowercase() || !c.is_ascii()) {
            return Err(CommandError::new(
                16870,
                "Location16870",
                format!("'{k}' starts with an invalid character for a user variable name"),
            ));
        }
        out.push((k.clone(), crate::engine::expr::eval(e, &Document::new())?));
    }
    Ok(out)
}

/// Binds `let` variables in an aggregation expression: each `$$name…` reference becomes a
/// `$let` over the variable's literal value.
pub(super) fn subst_expr(v: &Bson, vars: &[(String, Bson)]) -> Bson {
    if vars.is_empty() {
        return v.clone();
    }
    match v {
        Bson::String(s) if s.starts_with("$$") => {
            let name = s[2..].split('.').next().unwrap_or("");
            match vars.iter().find(|(n, _)| n == name) {
                Some((n, val)) => {
                    let mut bound = Document::new();
                    bound.insert(n.clone(), doc! {"$literal": val.clone()});
                    Bson::Document(doc! {"$let": {"vars": bound, "in": s.clone()}})
                }
                None => v.clone(),
            }
        }
        Bson::Document(d) if d.contains_key("$literal") => v.clone(),
        Bson::Document(d) => {
            Bson::Document(d.iter().map(|(k, x)| (k.clone(), subst_expr(x, vars))).collect())
        }
        Bson::Array(a) => Bson::Array(a.iter().map(|x| subst_expr(x, vars)).collect()),
        other => other.clone(),
    }
}

/// Binds `let` variables in a query: only `$expr` parts refer to variables.
pub(super) fn subst_filter(q: &Document, vars: &[(String, Bson)]) -> Document {
    if vars.is_empty() {
        return q.clone();
    }
    q.iter()
        .map(|(k, v)| {
            let nv = match (k.as_str(), v) {
                ("$expr", _) => subst_expr(v, vars),
                ("$and" | "$or" | "$nor", Bson::Array(items)) => Bson::Array(
                    items
                        .iter()
                        .map(|i| match i {
                            Bson::Document(d) => Bson::Document(subst_filter(d, vars)),
                            other => other.clone(),
                        })
                        .collect(),
                ),
                _ => v.clone(),
            };
            (k.clone(), nv)
        })
        .collect()
}

/// Binds `let` variables in a pipeline.
pub(super) fn subst_pipeline(stages: &[Document], vars: &[(String, Bson)]) -> Vec<Document> {
    stages
        .iter()
        .map(|s| match s.get("$match") {
            Some(Bson::Document(q)) => doc! {"$match": subst_filter(q, vars)},
            _ => match subst_expr(&Bson::Document(s.clone()), vars) {
                Bson::Document(d) => d,
                _ => s.clone(),
            },
        })
        .collect()
}

/// Binds `let` variables in an update statement's query and pipeline.
pub(super) fn subst_stmt(stmt: &Document, vars: &[(String, Bson)]) -> Document {
    let mut out = stmt.clone();
    if vars.is_empty() {
        return out;
    }
    if let Some(Bson::Document(q)) = stmt.get("q") {
        out.insert("q", subst_filter(q, vars));
    }
    if let Some(Bson::Array(stages)) = stmt.get("u") {
        let stages: Vec<Document> = stages.iter().filter_map(|s| s.as_document().cloned()).collect();
        out.insert("u", subst_pipeline(&stages, vars));
    }
    out
}
