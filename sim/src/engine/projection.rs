//! Projections (MongoDB manual: "Project Fields to Return from Query" and `$project`):
//! inclusion, exclusion, `_id` rules, nested paths, computed fields, `$slice` and `$elemMatch`.

use bson::{Bson, Document};

use super::CommandError;
use super::compare::num;
use super::expr;
use super::matcher::Filter;

#[derive(Debug, Clone)]
enum Node {
    Include,
    Exclude,
    Expr(Bson),
    Sub(Vec<(String, Node)>),
    Slice(i64, Option<i64>),
    ElemMatch(Box<Filter>),
}

/// A compiled projection.
#[derive(Debug, Clone)]
pub struct Projection {
    fields: Vec<(String, Node)>,
    inclusion: bool,
    include_id: bool,
}

fn bad(code: i32, msg: String) -> CommandError {
    CommandError::new(code, &format!("Location{code}"), msg)
}

fn insert_path(tree: &mut Vec<(String, Node)>, path: &str, node: Node) -> Result<(), CommandError> {
    let (head, rest) = match path.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (path, None),
    };
    let pos = tree.iter().position(|(k, _)| k == head);
    match rest {
        None => {
            if pos.is_some() {
                return Err(bad(31250, format!("Path collision at {path}")));
            }
            tree.push((head.to_string(), node));
        }
        Some(r) => match pos {
            Some(i) => match &mut tree[i].1 {
                Node::Sub(sub) => insert_path(sub, r, node)?,
                _ => return Err(bad(31249, format!("Path collision at {path}"))),
            },
            None => {
                let mut sub = Vec::new();
                insert_path(&mut sub, r, node)?;
                tree.push((head.to_string(), Node::Sub(sub)));
            }
        },
    }
    Ok(())
}

impl Projection {
    /// Compiles a projection document (`find` and `$project` share the language).
    pub fn parse(spec: &Document) -> Result<Projection, CommandError> {
        let mut fields = Vec::new();
        let mut mode: Option<bool> = None;
        let mut include_id = true;
        Self::parse_into(spec, "", &mut fields, &mut mode, &mut include_id)?;
        // `{_id: 1}` alone is an inclusion projection.
        let id_only = include_id && spec.get("_id").is_some_and(|v| !matches!(v, Bson::Document(_)));
        Ok(Projection { fields, inclusion: mode.unwrap_or(id_only), include_id })
    }

    fn parse_into(
        spec: &Document,
        prefix: &str,
        fields: &mut Vec<(String, Node)>,
        mode: &mut Option<bool>,
        include_id: &mut bool,
    ) -> Result<(), CommandError> {
        for (k, v) in spec {
            if k.starts_with('$') && prefix.is_empty() {
                return Err(bad(16410, format!("FieldPath field names may not start with '$'. Given: {k}")));
            }
            let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
            let node = match v {
                Bson::Document(d) if d.keys().next().is_some_and(|f| f.starts_with('$')) => {
                    match d.iter().next() {
                        Some((op, arg)) if op == "$slice" => {
                            let (skip, limit) = match arg {
                                Bson::Array(a) if a.len() == 2 => match (num(&a[0]), num(&a[1])) {
                                    (Some(s), Some(l)) if l.as_f64() > 0.0 => {
                                        (s.as_f64() as i64, Some(l.as_f64() as i64))
                                    }
                                    _ => return Err(bad(28724, "$slice limit must be positive".into())),
                                },
                                other => match num(other) {
                                    Some(n) => (n.as_f64() as i64, None),
                                    None => {
                                        return Err(bad(
                                            28667,
                                            "$slice only supports numbers and [skip, limit] arrays".into(),
                                        ));
                                    }
                                },
                            };
                            // $slice does not decide the projection's mode.
                            insert_path(fields, &path, Node::Slice(skip, limit))?;
                            continue;
                        }
                        Some((op, Bson::Document(q))) if op == "$elemMatch" => {
                            insert_path(fields, &path, Node::ElemMatch(Box::new(Filter::parse(q)?)))?;
                            // An $elemMatch projection alone returns only `_id` and the field.
                            if mode.is_none() {
                                *mode = Some(true);
                            }
                            continue;
                        }
                        _ => {
                            expr::validate(v)?;
                            Node::Expr(v.clone())
                        }
                    }
                }
                Bson::Document(d) => {
                    if d.is_empty() {
                        return Err(bad(
                            51270,
                            format!(
                                "An empty sub-projection is not a valid value. Found empty object at path {path}"
                            ),
                        ));
                    }
                    Self::parse_into(d, &path, fields, mode, include_id)?;
                    continue;
                }
                Bson::Boolean(b) => {
                    if *b {
                        Node::Include
                    } else {
                        Node::Exclude
                    }
                }
                other => match num(other) {
                    Some(n) => {
                        if n.as_f64() != 0.0 {
                            Node::Include
                        } else {
                            Node::Exclude
                        }
                    }
                    None => Node::Expr(other.clone()),
                },
            };
            if path == "_id" {
                match node {
                    Node::Exclude => {
                        *include_id = false;
                        continue;
                    }
                    Node::Include => continue,
                    _ => {}
                }
            }
            let is_incl = !matches!(node, Node::Exclude);
            match mode {
                Some(m) if *m != is_incl => {
                    return Err(if *m {
                        bad(31254, format!("Cannot do exclusion on field {path} in inclusion projection"))
                    } else {
                        bad(31253, format!("Cannot do inclusion on field {path} in exclusion projection"))
                    });
                }
                _ => *mode = Some(is_incl),
            }
            insert_path(fields, &path, node)?;
        }
        Ok(())
    }

    /// Applies the projection to one document.
    pub fn apply(&self, doc: &Document) -> Result<Document, CommandError> {
        let mut out = if self.inclusion {
            let mut out = Document::new();
            if let (true, Some(id)) = (self.include_id, doc.get("_id")) {
                out.insert("_id", id.clone());
            }
            include(&self.fields, doc, doc, &mut out)?;
            out
        } else {
            let mut out = doc.clone();
            if !self.include_id {
                out.remove("_id");
            }
            exclude(&self.fields, doc, &mut out)?;
            out
        };
        if self.inclusion && !self.include_id {
            out.remove("_id");
        }
        Ok(out)
    }
}

fn slice(v: &Bson, skip: i64, limit: Option<i64>) -> Bson {
    let Bson::Array(a) = v else { return v.clone() };
    let len = a.len() as i64;
    let (start, count) = match limit {
        None if skip >= 0 => (0, skip),
        None => ((len + skip).max(0), len),
        Some(l) => (if skip >= 0 { skip.min(len) } else { (len + skip).max(0) }, l),
    };
    Bson::Array(a.iter().skip(start as usize).take(count.max(0) as usize).cloned().collect())
}

fn include(
    fields: &[(String, Node)],
    root: &Document,
    src: &Document,
    out: &mut Document,
) -> Result<(), CommandError> {
    // Included fields keep the source document's order; computed fields follow in spec order.
    for (k, v) in src {
        let Some((_, node)) = fields.iter().find(|(f, _)| f == k) else { continue };
        match node {
            Node::Include => {
                out.insert(k.clone(), v.clone());
            }
            Node::Sub(sub) => {
                if let Some(x) = include_value(sub, root, v)? {
                    out.insert(k.clone(), x);
                }
            }
            Node::Slice(s, l) => {
                out.insert(k.clone(), slice(v, *s, *l));
            }
            Node::ElemMatch(f) => {
                let found = match v {
                    Bson::Array(a) => a.iter().find(|e| matches!(e, Bson::Document(d) if f.matches(d))),
                    _ => None,
                };
                if let Some(e) = found {
                    out.insert(k.clone(), Bson::Array(vec![e.clone()]));
                }
            }
            Node::Exclude | Node::Expr(_) => {}
        }
    }
    for (k, node) in fields {
        match node {
            Node::Expr(e) => {
                if let Some(x) = expr::eval_opt(e, root)? {
                    out.insert(k.clone(), x);
                }
            }
            Node::Sub(sub) if !src.contains_key(k) && sub.iter().any(|(_, n)| has_expr(n)) => {
                let mut inner = Document::new();
                include(sub, root, &Document::new(), &mut inner)?;
                out.insert(k.clone(), inner);
            }
            _ => {}
        }
    }
    Ok(())
}

fn has_expr(n: &Node) -> bool {
    match n {
        Node::Expr(_) => true,
        Node::Sub(s) => s.iter().any(|(_, n)| has_expr(n)),
        _ => false,
    }
}

fn include_value(sub: &[(String, Node)], root: &Document, v: &Bson) -> Result<Option<Bson>, CommandError> {
    Ok(match v {
        Bson::Document(d) => {
            let mut inner = Document::new();
            include(sub, root, d, &mut inner)?;
            Some(Bson::Document(inner))
        }
        Bson::Array(a) => {
            let mut items = Vec::new();
            for e in a {
                if !matches!(e, Bson::Document(_) | Bson::Array(_)) {
                    continue;
                }
                if let Some(x) = include_value(sub, root, e)? {
                    items.push(x);
                }
            }
            Some(Bson::Array(items))
        }
        _ if sub.iter().any(|(_, n)| has_expr(n)) => {
            let mut inner = Document::new();
            include(sub, root, &Document::new(), &mut inner)?;
            Some(Bson::Document(inner))
        }
        _ => None,
    })
}

fn exclude(fields: &[(String, Node)], src: &Document, out: &mut Document) -> Result<(), CommandError> {
    for (k, node) in fields {
        match node {
            Node::Exclude => {
                out.remove(k);
            }
            Node::Sub(sub) => {
                if let Some(v) = src.get(k) {
                    let nv = exclude_value(sub, v)?;
                    out.insert(k.clone(), nv);
                }
            }
            Node::Slice(s, l) => {
                if let Some(v) = src.get(k) {
                    out.insert(k.clone(), slice(v, *s, *l));
                }
            }
            Node::ElemMatch(f) => {
                if let Some(Bson::Array(a)) = src.get(k) {
                    match a.iter().find(|e| matches!(e, Bson::Document(d) if f.matches(d))) {
                        Some(e) => out.insert(k.clone(), Bson::Array(vec![e.clone()])),
                        None => out.remove(k),
                    };
                }
            }
            Node::Include | Node::Expr(_) => {}
        }
    }
    Ok(())
}

fn exclude_value(sub: &[(String, Node)], v: &Bson) -> Result<Bson, CommandError> {
    Ok(match v {
        Bson::Document(d) => {
            let mut inner = d.clone();
            exclude(sub, d, &mut inner)?;
            Bson::Document(inner)
        }
        Bson::Array(a) => Bson::Array(a.iter().map(|e| exclude_value(sub, e)).collect::<Result<_, _>>()?),
        other => other.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn p(spec: Document, d: Document) -> Document {
        Projection::parse(&spec).unwrap().apply(&d).unwrap()
    }

    #[test]
    fn inclusion_keeps_id_and_document_order() {
        let d = doc! {"_id": 1, "a": 1, "b": 2, "c": 3};
        assert_eq!(p(doc! {"c": 1, "a": 1}, d.clone()), doc! {"_id": 1, "a": 1, "c": 3});
        // Manual: "_id" is included unless explicitly excluded.
        assert_eq!(p(doc! {"a": 1, "_id": 0}, d.clone()), doc! {"a": 1});
        assert_eq!(p(doc! {"_id": 0}, d.clone()), doc! {"a": 1, "b": 2, "c": 3});
        assert_eq!(p(doc! {"b": 0}, d.clone()), doc! {"_id": 1, "a": 1, "c": 3});
        assert_eq!(p(doc! {"_id": 1}, d), doc! {"_id": 1});
    }

    #[test]
    fn nested_and_arrays() {
        let d = doc! {"_id": 1, "a": {"x": 1, "y": 2}, "arr": [{"x": 1, "y": 2}, 5, {"y": 3}]};
        assert_eq!(p(doc! {"a.x": 1}, d.clone()), doc! {"_id": 1, "a": {"x": 1}});
        assert_eq!(p(doc! {"a": {"y": 1}}, d.clone()), doc! {"_id": 1, "a": {"y": 2}});
        // Inclusion through an array applies to each document element; scalars are dropped.
        assert_eq!(p(doc! {"arr.x": 1, "_id": 0}, d.clone()), doc! {"arr": [{"x": 1}, {}]});
        assert_eq!(p(doc! {"arr.y": 0, "a": 0}, d), doc! {"_id": 1, "arr": [{"x": 1}, 5, {}]});
    }

    #[test]
    fn computed_slice_and_errors() {
        let d = doc! {"_id": 1, "a": 2, "l": [1, 2, 3, 4]};
        assert_eq!(p(doc! {"twice": {"$multiply": ["$a", 2]}}, d.clone()), doc! {"_id": 1, "twice": 4});
        assert_eq!(p(doc! {"l": {"$slice": 2}}, d.clone()), doc! {"_id": 1, "a": 2, "l": [1, 2]});
        assert_eq!(p(doc! {"l": {"$slice": -1}, "a": 0}, d.clone()), doc! {"_id": 1, "l": [4]});
        assert_eq!(p(doc! {"l": {"$slice": [1, 2]}, "a": 1}, d), doc! {"_id": 1, "a": 2, "l": [2, 3]});
        assert_eq!(Projection::parse(&doc! {"a": 1, "b": 0}).unwrap_err().code, 31254);
        assert_eq!(Projection::parse(&doc! {"a": 0, "b": 1}).unwrap_err().code, 31253);
    }
}
