//! String expression operators (manual "String Expression Operators": `$concat`, case,
//! trimming, substrings, lengths, `$split`, `$strcasecmp`) and `$toString`.

use std::cmp::Ordering;

use bson::Bson;

use super::scope::{Evaluate, Scope, err, need_args, nullish, unknown};
use crate::engine::CommandError;
use crate::engine::compare::{num, type_name};

/// String operators and `$toString`: evaluates operator `k` (one of this family's) with argument `arg`, already split
/// into `args`.
pub(super) fn op(k: &str, arg: &Bson, args: &[&Bson], s: &mut Scope) -> Result<Option<Bson>, CommandError> {
    let v = match k {
        "$concat" => {
            let mut out = String::new();
            for v in s.evn(args)? {
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
            let v = s.ev_first(args)?;
            let st = match v {
                None | Some(Bson::Null) => String::new(),
                Some(x) => to_str(&x).unwrap_or_default(),
            };
            Bson::String(if k == "$toUpper" { st.to_uppercase() } else { st.to_lowercase() })
        }
        "$trim" | "$ltrim" | "$rtrim" => {
            let Bson::Document(d) = arg else { return Err(err(50696, format!("{k} requires an object"))) };
            let v = s.ev(d.get("input").unwrap_or(&Bson::Null))?;
            let Some(Bson::String(st)) = v else { return Ok(Some(Bson::Null)) };
            Bson::String(match k {
                "$trim" => st.trim().to_string(),
                "$ltrim" => st.trim_start().to_string(),
                _ => st.trim_end().to_string(),
            })
        }
        "$substr" | "$substrBytes" | "$substrCP" => {
            need_args(k, args, 3)?;
            let vals = s.evn(args)?;
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
            let v = s.ev_first(args)?;
            let Some(Bson::String(st)) = v else {
                return Err(err(34471, format!("{k} requires a string argument")));
            };
            Bson::Int32(if k == "$strLenBytes" { st.len() } else { st.chars().count() } as i32)
        }
        "$split" => {
            need_args(k, args, 2)?;
            let vals = s.evn(args)?;
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
            need_args(k, args, 2)?;
            let vals = s.evn(args)?;
            let a = vals[0].as_ref().and_then(to_str).unwrap_or_default().to_lowercase();
            let b = vals[1].as_ref().and_then(to_str).unwrap_or_default().to_lowercase();
            Bson::Int32(match a.cmp(&b) {
                Ordering::Less => -1,
                Ordering::Equal => 0,
                Ordering::Greater => 1,
            })
        }
        "$toString" => match s.ev_first(args)? {
            None | Some(Bson::Null) => Bson::Null,
            Some(v) => Bson::String(to_str(&v).ok_or_else(|| err(241, "Unsupported conversion to string"))?),
        },
        other => return Err(unknown(other)),
    };
    Ok(Some(v))
}

/// A value as `$toString`/`$concat`-style text, if it converts.
pub(super) fn to_str(v: &Bson) -> Option<String> {
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
