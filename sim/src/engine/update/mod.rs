//! The update language (MongoDB manual: "Update Operators" — field, array and positional
//! operators, replacement documents and pipeline-style updates).

use bson::{Bson, Document};

mod apply;
mod positional;
mod spec;
mod validate;

use apply::{apply_mod, walk};
pub use positional::positional_match;
pub use spec::{Mod, UpdateEnv};
use spec::{bad_value, failed_to_parse};
use validate::{check_conflicts, validate_arg};

use super::CommandError;
use super::matcher::Filter;
use crate::engine::compare::{display_doc, type_name, values_equal};
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
                crate::engine::aggregate::Pipeline::parse(&out)?;
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
                            crate::engine::compare::display(arg)
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
                let out = crate::engine::aggregate::Pipeline::parse(stages)?.apply_to_one(doc.clone())?;
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
