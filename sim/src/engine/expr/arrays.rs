//! Array expression operators (manual "Array Expression Operators": `$size`, `$arrayElemAt`,
//! `$in`, `$map`, `$filter`, `$range`, …) and the accumulators usable as expressions (`$sum`,
//! `$avg`, `$min`, `$max` over an array or the arguments).

use bson::Bson;

use super::accumulator::Accumulator;
use super::scope::{Evaluate, Scope, err, need_args, nullish, truthy, unknown};
use crate::engine::CommandError;
use crate::engine::compare::{num, type_name, values_equal};

/// Array operators and the expression forms of `$sum`/`$avg`/`$min`/`$max`: evaluates operator `k` (one of this family's) with argument `arg`, already split
/// into `args`.
pub(super) fn op(k: &str, arg: &Bson, args: &[&Bson], s: &mut Scope) -> Result<Option<Bson>, CommandError> {
    let v = match k {
        "$size" => match s.ev_first(args)? {
            Some(Bson::Array(a)) => Bson::Int32(a.len() as i32),
            other => {
                return Err(err(
                    17124,
                    format!(
                        "The argument to $size must be an array. Type of passed argument: {}",
                        other.as_ref().map_or("missing", type_name)
                    ),
                ));
            }
        },
        "$arrayElemAt" => {
            need_args(k, args, 2)?;
            let vals = s.evn(args)?;
            if nullish(&vals[0]) || nullish(&vals[1]) {
                return Ok(Some(Bson::Null));
            }
            let (Some(Bson::Array(a)), Some(i)) = (&vals[0], vals[1].as_ref().and_then(num)) else {
                return Err(err(28689, "$arrayElemAt's first argument must be an array"));
            };
            let i = i.as_f64() as i64;
            let idx = if i < 0 { a.len() as i64 + i } else { i };
            return Ok(usize::try_from(idx).ok().and_then(|i| a.get(i)).cloned());
        }
        "$first" | "$last" => match s.ev_first(args)? {
            Some(Bson::Array(a)) => return Ok(if k == "$first" { a.first() } else { a.last() }.cloned()),
            None | Some(Bson::Null) => Bson::Null,
            Some(_) => return Err(err(28689, format!("{k}'s argument must be an array"))),
        },
        "$in" => {
            need_args(k, args, 2)?;
            let vals = s.evn(args)?;
            let Some(Bson::Array(a)) = &vals[1] else {
                return Err(err(40081, "$in requires an array as a second argument"));
            };
            let x = vals[0].clone().unwrap_or(Bson::Undefined);
            Bson::Boolean(a.iter().any(|e| values_equal(e, &x)))
        }
        "$indexOfArray" => {
            let vals = s.evn(args)?;
            let Some(Some(Bson::Array(a))) = vals.first() else { return Ok(Some(Bson::Null)) };
            let x = vals.get(1).cloned().flatten().unwrap_or(Bson::Undefined);
            Bson::Int32(a.iter().position(|e| values_equal(e, &x)).map_or(-1, |p| p as i32))
        }
        "$concatArrays" | "$setUnion" => {
            let mut out: Vec<Bson> = Vec::new();
            for v in s.evn(args)? {
                match v {
                    Some(Bson::Array(a)) => {
                        for e in a {
                            if k == "$concatArrays" || !out.iter().any(|o| values_equal(o, &e)) {
                                out.push(e);
                            }
                        }
                    }
                    None | Some(Bson::Null) => return Ok(Some(Bson::Null)),
                    Some(_) => return Err(err(28664, format!("{k} only supports arrays"))),
                }
            }
            Bson::Array(out)
        }
        "$reverseArray" => match s.ev_first(args)? {
            Some(Bson::Array(mut a)) => {
                a.reverse();
                Bson::Array(a)
            }
            _ => Bson::Null,
        },
        "$range" => {
            let vals = s.evn(args)?;
            let n =
                |i: usize| vals.get(i).cloned().flatten().as_ref().and_then(num).map(|n| n.as_f64() as i64);
            let (Some(a), Some(b)) = (n(0), n(1)) else {
                return Err(err(34443, "$range requires numeric bounds"));
            };
            let step = n(2).unwrap_or(1);
            if step == 0 {
                return Err(err(34449, "$range requires a non-zero step value"));
            }
            let mut out = Vec::new();
            let mut i = a;
            while (step > 0 && i < b) || (step < 0 && i > b) {
                out.push(Bson::Int32(i as i32));
                i += step;
                if out.len() > 1_000_000 {
                    break;
                }
            }
            Bson::Array(out)
        }
        "$sum" | "$avg" | "$min" | "$max" => {
            let vals: Vec<Bson> = if args.len() == 1 {
                match s.ev(args[0])? {
                    Some(Bson::Array(a)) => a,
                    Some(v) => vec![v],
                    None => vec![],
                }
            } else {
                s.evn(args)?.into_iter().flatten().collect()
            };
            let mut acc = Accumulator::new(k);
            for v in &vals {
                acc.add(Some(v));
            }
            acc.finish()
        }
        "$map" | "$filter" => {
            let Bson::Document(d) = arg else {
                return Err(err(16878, format!("{k} only supports an object")));
            };
            let input = s.ev(d.get("input").unwrap_or(&Bson::Null))?;
            let name = match d.get("as") {
                Some(Bson::String(n)) => n.clone(),
                _ => "this".to_string(),
            };
            let body = if k == "$map" { d.get("in") } else { d.get("cond") };
            let Some(body) = body else { return Err(err(16882, format!("Missing parameter to {k}"))) };
            let items = match input {
                Some(Bson::Array(a)) => a,
                None | Some(Bson::Null) => return Ok(Some(Bson::Null)),
                Some(_) => return Err(err(16883, format!("input to {k} must be an array"))),
            };
            let mut out = Vec::new();
            for item in items {
                s.vars.push((name.clone(), item.clone()));
                let r = s.ev(body);
                s.vars.pop();
                let r = r?;
                if k == "$map" {
                    out.push(r.unwrap_or(Bson::Null));
                } else if r.is_some_and(|v| truthy(&v)) {
                    out.push(item);
                }
            }
            Bson::Array(out)
        }
        other => return Err(unknown(other)),
    };
    Ok(Some(v))
}
