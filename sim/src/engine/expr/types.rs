//! Type expression operators (manual "Type Expression Operators": `$type`, `$isArray`,
//! `$isNumber`, `$toInt`, `$toLong`, `$toDouble`, `$toBool`).

use bson::Bson;

use super::scope::{Evaluate, Scope, truthy, unknown};
use crate::engine::CommandError;
use crate::engine::compare::{num, type_name};

/// Type tests and numeric/boolean conversions: evaluates operator `k` (one of this family's) with argument `arg`, already split
/// into `args`.
pub(super) fn op(k: &str, _arg: &Bson, args: &[&Bson], s: &mut Scope) -> Result<Option<Bson>, CommandError> {
    let v = match k {
        "$isArray" => Bson::Boolean(matches!(s.ev_first(args)?, Some(Bson::Array(_)))),
        "$isNumber" => Bson::Boolean(s.ev_first(args)?.as_ref().and_then(num).is_some()),
        "$type" => match s.ev_first(args)? {
            Some(v) => Bson::String(type_name(&v).into()),
            None => Bson::String("missing".into()),
        },
        "$toInt" | "$toLong" | "$toDouble" | "$toBool" => {
            let v = s.ev_first(args)?;
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
        other => return Err(unknown(other)),
    };
    Ok(Some(v))
}
