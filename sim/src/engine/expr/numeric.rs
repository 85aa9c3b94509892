//! Arithmetic expression operators (manual "Arithmetic Expression Operators": `$add`,
//! `$subtract`, `$multiply`, `$divide`, `$mod`, `$abs`, `$ceil`, `$floor`, `$trunc`) and `$rand`,
//! with mongod's numeric type promotion ([`arith`]).

use bson::Bson;

use super::scope::{Evaluate, Scope, err, need_args, nullish, unknown};
use crate::engine::CommandError;
use crate::engine::compare::{Num, num, type_name};

/// Arithmetic with mongod's numeric type promotion (int32 → int64 → double on overflow; any
/// double gives a double; decimals are approximated as doubles).
pub fn arith(a: &Bson, b: &Bson, op: char) -> Option<Bson> {
    let (x, y) = (num(a)?, num(b)?);
    let decimal = matches!(a, Bson::Decimal128(_)) || matches!(b, Bson::Decimal128(_));
    let float = |f: f64| {
        if decimal {
            f.to_string().parse::<bson::Decimal128>().map(Bson::Decimal128).unwrap_or(Bson::Double(f))
        } else {
            Bson::Double(f)
        }
    };
    match (x, y) {
        (Num::Int(i), Num::Int(j)) if !decimal => {
            let r = match op {
                '+' => i128::from(i) + i128::from(j),
                '-' => i128::from(i) - i128::from(j),
                '*' => i128::from(i) * i128::from(j),
                _ => return None,
            };
            let both32 = matches!(a, Bson::Int32(_)) && matches!(b, Bson::Int32(_));
            if let (true, Ok(v)) = (both32, i32::try_from(r)) {
                Some(Bson::Int32(v))
            } else if let Ok(v) = i64::try_from(r) {
                Some(Bson::Int64(v))
            } else {
                Some(Bson::Double(r as f64))
            }
        }
        _ => {
            let (p, q) = (x.as_f64(), y.as_f64());
            Some(float(match op {
                '+' => p + q,
                '-' => p - q,
                '*' => p * q,
                _ => return None,
            }))
        }
    }
}

/// Arithmetic operators and `$rand`: evaluates operator `k` (one of this family's) with argument `arg`, already split
/// into `args`.
pub(super) fn op(k: &str, _arg: &Bson, args: &[&Bson], s: &mut Scope) -> Result<Option<Bson>, CommandError> {
    let v = match k {
        "$add" | "$multiply" => {
            let vals = s.evn(args)?;
            let mut acc = Bson::Int32(if k == "$add" { 0 } else { 1 });
            let mut date: Option<i64> = None;
            for v in vals {
                let Some(v) = v else { return Ok(Some(Bson::Null)) };
                match v {
                    Bson::Null | Bson::Undefined => return Ok(Some(Bson::Null)),
                    Bson::DateTime(d) if k == "$add" => date = Some(d.timestamp_millis()),
                    other => {
                        acc = arith(&acc, &other, if k == "$add" { '+' } else { '*' }).ok_or_else(|| {
                            err(
                                16554,
                                format!("{k} only supports numeric or date types, not {}", type_name(&other)),
                            )
                        })?
                    }
                }
            }
            match date {
                Some(ms) => Bson::DateTime(bson::DateTime::from_millis(
                    ms + num(&acc).map_or(0, |n| n.as_f64() as i64),
                )),
                None => acc,
            }
        }
        "$subtract" => {
            need_args(k, args, 2)?;
            let vals = s.evn(args)?;
            if nullish(&vals[0]) || nullish(&vals[1]) {
                return Ok(Some(Bson::Null));
            }
            match (vals[0].as_ref(), vals[1].as_ref()) {
                (Some(Bson::DateTime(a)), Some(Bson::DateTime(b))) => {
                    Bson::Int64(a.timestamp_millis() - b.timestamp_millis())
                }
                (Some(Bson::DateTime(a)), Some(b)) => Bson::DateTime(bson::DateTime::from_millis(
                    a.timestamp_millis() - num(b).map_or(0, |n| n.as_f64() as i64),
                )),
                (Some(a), Some(b)) => arith(a, b, '-')
                    .ok_or_else(|| err(16556, "cant $subtract a non-number from a number".to_string()))?,
                _ => Bson::Null,
            }
        }
        "$divide" | "$mod" => {
            need_args(k, args, 2)?;
            let vals = s.evn(args)?;
            if nullish(&vals[0]) || nullish(&vals[1]) {
                return Ok(Some(Bson::Null));
            }
            let (Some(a), Some(b)) = (vals[0].as_ref().and_then(num), vals[1].as_ref().and_then(num)) else {
                return Err(err(16609, format!("{k} only supports numeric types")));
            };
            if b.as_f64() == 0.0 {
                return Err(err(16608, "can't $divide by zero"));
            }
            if k == "$divide" {
                Bson::Double(a.as_f64() / b.as_f64())
            } else {
                match (a, b) {
                    (Num::Int(x), Num::Int(y)) => {
                        let r = x.wrapping_rem(y);
                        if matches!(vals[0], Some(Bson::Int32(_))) && matches!(vals[1], Some(Bson::Int32(_)))
                        {
                            Bson::Int32(r as i32)
                        } else {
                            Bson::Int64(r)
                        }
                    }
                    _ => Bson::Double(a.as_f64() % b.as_f64()),
                }
            }
        }
        "$abs" | "$ceil" | "$floor" | "$trunc" => {
            let v = s.ev_first(args)?;
            if nullish(&v) {
                return Ok(Some(Bson::Null));
            }
            match v {
                Some(Bson::Int32(i)) if k == "$abs" => Bson::Int32(i.wrapping_abs()),
                Some(Bson::Int64(i)) if k == "$abs" => Bson::Int64(i.wrapping_abs()),
                Some(x @ (Bson::Int32(_) | Bson::Int64(_))) => x,
                Some(x) => {
                    let f = num(&x)
                        .ok_or_else(|| err(28765, format!("{k} only supports numeric types")))?
                        .as_f64();
                    Bson::Double(match k {
                        "$abs" => f.abs(),
                        "$ceil" => f.ceil(),
                        "$floor" => f.floor(),
                        _ => f.trunc(),
                    })
                }
                None => Bson::Null,
            }
        }
        "$rand" => {
            // A xorshift step seeded from a fresh ObjectId: uniform enough for $rand in [0, 1).
            let b = bson::oid::ObjectId::new().bytes();
            let mut x = u64::from_le_bytes([b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11]]) | 1;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            Bson::Double((x >> 11) as f64 / (1u64 << 53) as f64)
        }
        other => return Err(unknown(other)),
    };
    Ok(Some(v))
}
