//! Object expression operators (manual "Object Expression Operators": `$mergeObjects`,
//! `$objectToArray`, `$arrayToObject`, `$getField`, `$setField`, `$unsetField`).

use bson::{Bson, Document};

use super::scope::{Evaluate, Scope, err, unknown};
use crate::engine::CommandError;

/// Object operators: evaluates operator `k` (one of this family's) with argument `arg`, already split
/// into `args`.
pub(super) fn op(k: &str, arg: &Bson, args: &[&Bson], s: &mut Scope) -> Result<Option<Bson>, CommandError> {
    let v = match k {
        "$mergeObjects" => {
            let mut out = Document::new();
            for v in s.evn(args)? {
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
        "$objectToArray" => match s.ev_first(args)? {
            Some(Bson::Document(d)) => {
                Bson::Array(d.into_iter().map(|(k, v)| Bson::Document(bson::doc! {"k": k, "v": v})).collect())
            }
            _ => Bson::Null,
        },
        "$arrayToObject" => match s.ev_first(args)? {
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
            let Some(Bson::String(name)) = s.ev(&field)? else {
                return Err(err(4161102, format!("{k} requires 'field' to evaluate to a string")));
            };
            let input = match input {
                Some(i) => s.ev(&i)?,
                None => Some(Bson::Document(s.root.clone())),
            };
            match (k, input) {
                ("$getField", Some(Bson::Document(d))) => return Ok(d.get(&name).cloned()),
                ("$getField", _) => return Ok(None),
                (_, None | Some(Bson::Null)) => Bson::Null,
                (_, Some(Bson::Document(mut d))) => {
                    let v =
                        if k == "$unsetField" { None } else { s.ev(value.as_ref().unwrap_or(&Bson::Null))? };
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
        other => return Err(unknown(other)),
    };
    Ok(Some(v))
}
