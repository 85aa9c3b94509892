//! Comparison, boolean and conditional expression operators (manual "Comparison / Boolean /
//! Conditional Expression Operators") and the `$let` variable operator.

use std::cmp::Ordering;

use bson::Bson;

use super::scope::{Evaluate, Scope, err, need_args, nullish, truthy, unknown};
use crate::engine::CommandError;
use crate::engine::compare::compare;

/// Comparison, boolean, conditional operators and `$let`: evaluates operator `k` (one of this family's) with argument `arg`, already split
/// into `args`.
pub(super) fn op(k: &str, arg: &Bson, args: &[&Bson], s: &mut Scope) -> Result<Option<Bson>, CommandError> {
    let v = match k {
        "$eq" | "$ne" | "$gt" | "$gte" | "$lt" | "$lte" | "$cmp" => {
            need_args(k, args, 2)?;
            let vals = s.evn(args)?;
            // Missing compares as below null (mongod treats missing as "undefined" here).
            let a = vals[0].clone().unwrap_or(Bson::Undefined);
            let b = vals[1].clone().unwrap_or(Bson::Undefined);
            let o = compare(&a, &b);
            if k == "$cmp" {
                Bson::Int32(match o {
                    Ordering::Less => -1,
                    Ordering::Equal => 0,
                    Ordering::Greater => 1,
                })
            } else {
                Bson::Boolean(cmp_op(k, o))
            }
        }
        "$and" => {
            for a in args {
                if !s.ev(a)?.is_some_and(|v| truthy(&v)) {
                    return Ok(Some(Bson::Boolean(false)));
                }
            }
            Bson::Boolean(true)
        }
        "$or" => {
            for a in args {
                if s.ev(a)?.is_some_and(|v| truthy(&v)) {
                    return Ok(Some(Bson::Boolean(true)));
                }
            }
            Bson::Boolean(false)
        }
        "$not" => Bson::Boolean(!s.ev_first(args)?.is_some_and(|v| truthy(&v))),
        "$cond" => {
            let (c, t, f) = match arg {
                Bson::Array(a) if a.len() == 3 => (&a[0], &a[1], &a[2]),
                Bson::Document(d) => match (d.get("if"), d.get("then"), d.get("else")) {
                    (Some(c), Some(t), Some(f)) => (c, t, f),
                    _ => return Err(err(17080, "Missing 'if', 'then' or 'else' parameter to $cond")),
                },
                _ => return Err(err(16020, "Expression $cond takes exactly 3 arguments.")),
            };
            return if s.ev(c)?.is_some_and(|v| truthy(&v)) { s.ev(t) } else { s.ev(f) };
        }
        "$switch" => {
            let Bson::Document(d) = arg else { return Err(err(40060, "$switch requires an object")) };
            if let Some(Bson::Array(branches)) = d.get("branches") {
                for b in branches {
                    let Bson::Document(b) = b else { continue };
                    if s.ev(b.get("case").unwrap_or(&Bson::Null))?.is_some_and(|v| truthy(&v)) {
                        return s.ev(b.get("then").unwrap_or(&Bson::Null));
                    }
                }
            }
            match d.get("default") {
                Some(x) => return s.ev(x),
                None => {
                    return Err(err(
                        40066,
                        "$switch could not find a matching branch for an input, and no default was specified.",
                    ));
                }
            }
        }
        "$ifNull" => {
            for a in args {
                let v = s.ev(a)?;
                if !nullish(&v) {
                    return Ok(v);
                }
            }
            // All null: the last argument's value.
            return match args.last() {
                Some(a) => s.ev(a),
                None => Ok(Some(Bson::Null)),
            };
        }
        "$let" => {
            let Bson::Document(d) = arg else { return Err(err(16874, "$let only supports an object")) };
            let (Some(Bson::Document(vars)), Some(body)) = (d.get("vars"), d.get("in")) else {
                return Err(err(16876, "Missing 'vars' or 'in' parameter to $let"));
            };
            let mut bound = Vec::new();
            for (n, e) in vars {
                bound.push((n.clone(), s.ev(e)?.unwrap_or(Bson::Null)));
            }
            let depth = s.vars.len();
            s.vars.extend(bound);
            let r = s.ev(body);
            s.vars.truncate(depth);
            return r;
        }
        other => return Err(unknown(other)),
    };
    Ok(Some(v))
}

fn cmp_op(k: &str, o: Ordering) -> bool {
    match k {
        "$eq" => o == Ordering::Equal,
        "$ne" => o != Ordering::Equal,
        "$gt" => o == Ordering::Greater,
        "$gte" => o != Ordering::Less,
        "$lt" => o == Ordering::Less,
        _ => o != Ordering::Greater,
    }
}
