//! Parse-time checks of update operators (manual "Update Operators"): each operator's
//! argument type, and conflicting paths between operators.

use bson::Bson;

use super::spec::{Mod, bad_value, failed_to_parse};
use crate::engine::CommandError;
use crate::engine::compare::{num, type_name};
use crate::engine::sort::SortSpec;

pub(super) fn validate_arg(op: &str, path: &str, v: &Bson) -> Result<(), CommandError> {
    match op {
        "$inc" | "$mul" if num(v).is_none() => {
            let verb = if op == "$inc" { "increment" } else { "multiply" };
            return Err(CommandError::new(
                14,
                "TypeMismatch",
                format!(
                    "Cannot {verb} with non-numeric argument: {{{path}: {}}}",
                    crate::engine::compare::display(v)
                ),
            ));
        }
        "$rename" => {
            let Bson::String(to) = v else {
                return Err(bad_value(format!(
                    "The 'to' field for $rename must be a string: {path}: {}",
                    crate::engine::compare::display(v)
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
                crate::engine::compare::display(v)
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

pub(super) fn check_conflicts(mods: &[Mod]) -> Result<(), CommandError> {
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
