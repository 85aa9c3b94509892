//! `$group` accumulators (MongoDB manual "$group" — `$sum`, `$avg`, `$min`, `$max`, `$first`,
//! `$last`, `$push`, `$addToSet`, `$count`, `$mergeObjects`): the running state fed one value
//! at a time, also used by the expression forms of `$sum`/`$avg`/`$min`/`$max`.

use bson::{Bson, Document};

use super::numeric::arith;
use crate::engine::compare::{compare, num, values_equal};

/// A `$group` accumulator's running state.
#[derive(Debug, Clone)]
pub enum Accumulator {
    /// `$sum`.
    Sum(Bson),
    /// `$avg`: sum and count of numeric inputs.
    Avg(f64, i64),
    /// `$min`.
    Min(Option<Bson>),
    /// `$max`.
    Max(Option<Bson>),
    /// `$first`.
    First(Option<Bson>),
    /// `$last`.
    Last(Option<Bson>),
    /// `$push`.
    Push(Vec<Bson>),
    /// `$addToSet`.
    AddToSet(Vec<Bson>),
    /// `$count` (5.0+).
    Count(i64),
    /// `$mergeObjects`.
    Merge(Document),
}

/// The `$group` accumulator operators.
pub(crate) const ACCUMULATORS: &[&str] =
    &["$sum", "$avg", "$min", "$max", "$first", "$last", "$push", "$addToSet", "$count", "$mergeObjects"];

impl Accumulator {
    /// A fresh accumulator for operator `op` (one of the `$group` accumulators).
    pub fn new(op: &str) -> Accumulator {
        match op {
            "$avg" => Accumulator::Avg(0.0, 0),
            "$min" => Accumulator::Min(None),
            "$max" => Accumulator::Max(None),
            "$first" => Accumulator::First(None),
            "$last" => Accumulator::Last(None),
            "$push" => Accumulator::Push(Vec::new()),
            "$addToSet" => Accumulator::AddToSet(Vec::new()),
            "$count" => Accumulator::Count(0),
            "$mergeObjects" => Accumulator::Merge(Document::new()),
            _ => Accumulator::Sum(Bson::Int32(0)),
        }
    }

    /// Feeds one input value (`None` for missing).
    pub fn add(&mut self, v: Option<&Bson>) {
        let is_null = matches!(v, None | Some(Bson::Null) | Some(Bson::Undefined));
        match self {
            Accumulator::Sum(acc) => {
                if let Some(r) = v.filter(|x| num(x).is_some()).and_then(|x| arith(acc, x, '+')) {
                    *acc = r;
                }
            }
            Accumulator::Avg(s, n) => {
                if let Some(x) = v.and_then(num) {
                    *s += x.as_f64();
                    *n += 1;
                }
            }
            Accumulator::Min(cur) => {
                if let Some(x) = v.filter(|x| !is_null && cur.as_ref().is_none_or(|c| compare(x, c).is_lt()))
                {
                    *cur = Some(x.clone());
                }
            }
            Accumulator::Max(cur) => {
                if let Some(x) = v.filter(|x| !is_null && cur.as_ref().is_none_or(|c| compare(x, c).is_gt()))
                {
                    *cur = Some(x.clone());
                }
            }
            Accumulator::First(cur) => {
                if cur.is_none() {
                    *cur = Some(v.cloned().unwrap_or(Bson::Null));
                }
            }
            Accumulator::Last(cur) => *cur = Some(v.cloned().unwrap_or(Bson::Null)),
            Accumulator::Push(items) => {
                if let Some(x) = v {
                    items.push(x.clone());
                }
            }
            Accumulator::AddToSet(items) => {
                if let Some(x) = v.filter(|x| !items.iter().any(|i| values_equal(i, x))) {
                    items.push(x.clone());
                }
            }
            Accumulator::Count(n) => *n += 1,
            Accumulator::Merge(d) => {
                if let Some(Bson::Document(x)) = v {
                    for (k, val) in x {
                        d.insert(k.clone(), val.clone());
                    }
                }
            }
        }
    }

    /// The accumulated result.
    pub fn finish(self) -> Bson {
        match self {
            Accumulator::Sum(acc) => acc,
            Accumulator::Avg(_, 0) => Bson::Null,
            Accumulator::Avg(s, n) => Bson::Double(s / n as f64),
            Accumulator::Min(v) | Accumulator::Max(v) | Accumulator::First(v) | Accumulator::Last(v) => {
                v.unwrap_or(Bson::Null)
            }
            Accumulator::Push(items) | Accumulator::AddToSet(items) => Bson::Array(items),
            Accumulator::Count(n) => Bson::Int32(n as i32),
            Accumulator::Merge(d) => Bson::Document(d),
        }
    }
}
