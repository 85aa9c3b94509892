//! The `find` command's `returnKey` and `showRecordId` options (MongoDB manual "find":
//! return only the index keys of the plan's index; add each document's `$recordId`).

use bson::{Bson, Document};

use super::collection::{Collection, Index, RecordId};
use super::compare::num;
use super::matcher::get_path;

/// The index a simple planner would scan for a query: the hinted one; else the first index
/// whose leading field the filter names; else one whose leading fields are the sort's, in
/// the sort's direction or all reversed. `None`: a collection scan (`$natural` included).
pub fn planned_index<'a>(
    c: &'a Collection,
    filter: &Document,
    sort: Option<&Document>,
    hint: Option<&Bson>,
) -> Option<&'a Index> {
    match hint {
        Some(Bson::String(name)) => return c.indexes.iter().find(|i| i.name == *name),
        Some(Bson::Document(key)) if !key.is_empty() => return c.indexes.iter().find(|i| i.key == *key),
        _ => {}
    }
    let leading = |i: &Index| i.key.keys().next().cloned();
    if let Some(i) =
        c.indexes.iter().find(|i| leading(i).is_some_and(|k| !k.starts_with('$') && filter.contains_key(&k)))
    {
        return Some(i);
    }
    let sort: Vec<(&String, f64)> =
        sort?.iter().map(|(k, v)| (k, num(v).map_or(1.0, |n| n.as_f64().signum()))).collect();
    if sort.is_empty() || sort.iter().any(|(k, _)| k.as_str() == "$natural") {
        return None;
    }
    c.indexes.iter().find(|i| {
        let key: Vec<(&String, f64)> =
            i.key.iter().map(|(k, v)| (k, num(v).map_or(1.0, |n| n.as_f64().signum()))).collect();
        key.len() >= sort.len()
            && [1.0, -1.0]
                .iter()
                .any(|flip| sort.iter().zip(&key).all(|((sk, sd), (ik, id))| sk == ik && *sd == id * flip))
    })
}

/// What `returnKey` gives for `doc`: its key in `index` (missing fields are null), or an
/// empty document when no index was scanned.
pub fn index_key(index: Option<&Index>, doc: &Document) -> Document {
    let Some(index) = index else { return Document::new() };
    index
        .key
        .keys()
        .map(|field| (field.clone(), get_path(doc, field).cloned().unwrap_or(Bson::Null)))
        .collect()
}

/// Appends `$recordId` (mongod's record ids are positive 64-bit integers) to a result.
pub fn with_record_id(mut doc: Document, rid: RecordId) -> Document {
    doc.insert("$recordId", rid as i64 + 1);
    doc
}

#[cfg(test)]
mod tests {
    use bson::{Timestamp, doc};

    use super::*;

    fn coll() -> Collection {
        let mut c = Collection::new(Document::new(), Timestamp { time: 1, increment: 1 });
        let index = Index {
            name: "a_1_b_-1".into(),
            key: doc! {"a": 1, "b": -1},
            unique: false,
            sparse: false,
            partial: None,
            spec: doc! {"v": 2, "key": {"a": 1, "b": -1}, "name": "a_1_b_-1"},
        };
        c.indexes.push(index);
        c
    }

    #[test]
    fn planner_follows_hint_filter_then_sort() {
        let c = coll();
        let name = |i: Option<&Index>| i.map(|i| i.name.clone());
        assert_eq!(name(planned_index(&c, &doc! {}, None, None)), None);
        assert_eq!(name(planned_index(&c, &doc! {"a": 1}, None, None)), Some("a_1_b_-1".into()));
        assert_eq!(name(planned_index(&c, &doc! {}, Some(&doc! {"_id": -1}), None)), Some("_id_".into()));
        assert_eq!(
            name(planned_index(&c, &doc! {}, Some(&doc! {"a": -1, "b": 1}), None)),
            Some("a_1_b_-1".into())
        );
        assert_eq!(name(planned_index(&c, &doc! {}, Some(&doc! {"a": 1, "b": 1}), None)), None);
        let hint = Bson::String("_id_".into());
        assert_eq!(name(planned_index(&c, &doc! {"a": 1}, None, Some(&hint))), Some("_id_".into()));
        let natural = Bson::Document(doc! {"$natural": 1});
        assert_eq!(name(planned_index(&c, &doc! {}, None, Some(&natural))), None);
    }

    #[test]
    fn keys_and_record_ids() {
        let c = coll();
        let d = doc! {"_id": 7, "a": 1};
        assert_eq!(index_key(c.indexes.get(1), &d), doc! {"a": 1, "b": null});
        assert_eq!(index_key(None, &d), doc! {});
        assert_eq!(with_record_id(d, 0), doc! {"_id": 7, "a": 1, "$recordId": 1_i64});
    }
}
