//! Sort specifications (MongoDB manual: "cursor.sort()" and "Comparison/Sort Order"): keys per
//! field, arrays sorting by their smallest element ascending and largest descending.

use std::cmp::Ordering;

use bson::{Bson, Document};

use super::CommandError;
use super::collation::compare_collated as compare;
use super::compare::num;
use super::matcher::lookup_doc;

/// A parsed sort specification: (path, ascending).
#[derive(Debug, Clone, Default)]
pub struct SortSpec(pub Vec<(String, bool)>);

impl SortSpec {
    /// Parses `{field: 1 | -1, …}` (`{$meta: …}` keys are accepted and ignored).
    pub fn parse(spec: &Document) -> Result<SortSpec, CommandError> {
        let mut keys = Vec::new();
        for (k, v) in spec {
            if k.is_empty() {
                return Err(CommandError::new(
                    2,
                    "BadValue",
                    "FieldPath cannot be constructed with empty string",
                ));
            }
            let dir = match num(v) {
                Some(n) if n.as_f64() == 1.0 => true,
                Some(n) if n.as_f64() == -1.0 => false,
                _ => {
                    if matches!(v, Bson::Document(d) if d.contains_key("$meta")) {
                        continue;
                    }
                    return Err(CommandError::new(
                        15975,
                        "Location15975",
                        "$sort key ordering must be 1 (for ascending) or -1 (for descending)",
                    ));
                }
            };
            keys.push((k.clone(), dir));
        }
        Ok(SortSpec(keys))
    }

    /// Whether there is anything to sort by.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The sort key of one field: the smallest (ascending) or largest (descending) value at the
    /// path, arrays contributing their elements; missing is null and `[]` sorts below null.
    fn key(doc: &Document, path: &str, asc: bool) -> Bson {
        let mut best: Option<Bson> = None;
        let mut consider = |v: Bson| {
            let better = match &best {
                None => true,
                Some(b) => {
                    let o = compare(&v, b);
                    if asc { o == Ordering::Less } else { o == Ordering::Greater }
                }
            };
            if better {
                best = Some(v);
            }
        };
        for v in lookup_doc(doc, path) {
            match v {
                None => consider(Bson::Null),
                Some(Bson::Array(a)) if a.is_empty() => consider(Bson::Undefined),
                Some(Bson::Array(a)) => a.iter().for_each(|e| consider(e.clone())),
                Some(other) => consider(other.clone()),
            }
        }
        best.unwrap_or(Bson::Null)
    }

    /// Compares two documents under this specification.
    pub fn compare(&self, a: &Document, b: &Document) -> Ordering {
        for (path, asc) in &self.0 {
            let o = compare(&Self::key(a, path, *asc), &Self::key(b, path, *asc));
            let o = if *asc { o } else { o.reverse() };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    }

    /// Sorts documents stably (ties keep their order).
    pub fn sort(&self, docs: &mut [Document]) {
        if self.is_empty() {
            return;
        }
        // Precompute keys: one per document and sort field.
        let mut keyed: Vec<(Vec<Bson>, Document)> = docs
            .iter_mut()
            .map(|d| (self.0.iter().map(|(p, asc)| Self::key(d, p, *asc)).collect(), std::mem::take(d)))
            .collect();
        keyed.sort_by(|(ka, _), (kb, _)| {
            for ((x, y), (_, asc)) in ka.iter().zip(kb.iter()).zip(self.0.iter()) {
                let o = compare(x, y);
                let o = if *asc { o } else { o.reverse() };
                if o != Ordering::Equal {
                    return o;
                }
            }
            Ordering::Equal
        });
        for (slot, (_, d)) in docs.iter_mut().zip(keyed) {
            *slot = d;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn ids(spec: Document, mut docs: Vec<Document>) -> Vec<i32> {
        SortSpec::parse(&spec).unwrap().sort(&mut docs);
        docs.iter().map(|d| d.get_i32("_id").unwrap()).collect()
    }

    #[test]
    fn mixed_types_follow_bson_order() {
        let docs = vec![
            doc! {"_id": 1, "a": "str"},
            doc! {"_id": 2, "a": 5},
            doc! {"_id": 3},
            doc! {"_id": 4, "a": {"x": 1}},
            doc! {"_id": 5, "a": 2.5},
            doc! {"_id": 6, "a": true},
        ];
        // Missing sorts as null, below numbers; then strings, objects, booleans.
        assert_eq!(ids(doc! {"a": 1}, docs.clone()), vec![3, 5, 2, 1, 4, 6]);
        assert_eq!(ids(doc! {"a": -1}, docs), vec![6, 4, 1, 2, 5, 3]);
    }

    #[test]
    fn arrays_sort_by_min_ascending_and_max_descending() {
        // Manual "sort: Array fields": ascending uses the smallest element, descending the largest.
        let docs = vec![doc! {"_id": 1, "a": [1, 9]}, doc! {"_id": 2, "a": [3, 4]}, doc! {"_id": 3, "a": 2}];
        assert_eq!(ids(doc! {"a": 1}, docs.clone()), vec![1, 3, 2]);
        assert_eq!(ids(doc! {"a": -1}, docs), vec![1, 2, 3]);
        // An empty array sorts before null.
        let docs = vec![doc! {"_id": 1, "a": null}, doc! {"_id": 2, "a": []}];
        assert_eq!(ids(doc! {"a": 1}, docs), vec![2, 1]);
    }

    #[test]
    fn compound_and_stable() {
        let docs = vec![
            doc! {"_id": 1, "a": 1, "b": 1},
            doc! {"_id": 2, "a": 0, "b": 5},
            doc! {"_id": 3, "a": 1, "b": 2},
            doc! {"_id": 4, "a": 0, "b": 5},
        ];
        assert_eq!(ids(doc! {"a": 1, "b": -1}, docs), vec![2, 4, 3, 1]);
        assert!(SortSpec::parse(&doc! {"a": 2}).is_err());
    }
}
