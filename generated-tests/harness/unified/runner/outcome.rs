//! The driver's results as the documents the spec's `expectResult` describes (CRUD spec
//! "Write Results", and the unified format's result forms of "Executing an Operation").

use bson::{Bson, Document, doc};
use mongo_driver::results::{BulkWriteResult, DeleteResult, InsertManyResult, InsertOneResult, UpdateResult};

/// The result forms, one constructor per driver result type.
pub struct Outcome;

fn ids(map: &std::collections::BTreeMap<usize, Bson>) -> Bson {
    Bson::Document(map.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
}

fn count(n: u64) -> Bson {
    Bson::Int64(i64::try_from(n).unwrap_or(i64::MAX))
}

/// An unacknowledged write's result: `{acknowledged: false}` (its other fields are
/// undefined, CRUD spec "Write Results").
fn unacknowledged() -> Bson {
    Bson::Document(doc! {"acknowledged": false})
}

impl Outcome {
    /// `{insertedId}`.
    pub fn insert_one(r: &InsertOneResult) -> Bson {
        if !r.acknowledged {
            return unacknowledged();
        }
        Bson::Document(doc! {"insertedId": r.inserted_id.clone()})
    }
    /// `{insertedIds: {"0": …}}`.
    pub fn insert_many(r: &InsertManyResult) -> Bson {
        if !r.acknowledged {
            return unacknowledged();
        }
        Bson::Document(doc! {"insertedIds": ids(&r.inserted_ids)})
    }
    /// `{matchedCount, modifiedCount, upsertedCount, upsertedId?}`.
    pub fn update(r: &UpdateResult) -> Bson {
        if !r.acknowledged {
            return unacknowledged();
        }
        let mut d = doc! {
            "matchedCount": count(r.matched_count),
            "modifiedCount": count(r.modified_count),
            "upsertedCount": count(u64::from(r.upserted_id.is_some())),
        };
        if let Some(id) = &r.upserted_id {
            d.insert("upsertedId", id.clone());
        }
        Bson::Document(d)
    }
    /// `{deletedCount}`.
    pub fn delete(r: &DeleteResult) -> Bson {
        if !r.acknowledged {
            return unacknowledged();
        }
        Bson::Document(doc! {"deletedCount": count(r.deleted_count)})
    }
    /// The bulk write result document.
    pub fn bulk_write(r: &BulkWriteResult) -> Bson {
        if !r.acknowledged {
            return unacknowledged();
        }
        Bson::Document(doc! {
            "deletedCount": count(r.deleted_count),
            "insertedCount": count(r.inserted_count),
            "insertedIds": ids(&r.inserted_ids),
            "matchedCount": count(r.matched_count),
            "modifiedCount": count(r.modified_count),
            "upsertedCount": count(r.upserted_count),
            "upsertedIds": ids(&r.upserted_ids),
        })
    }
    /// A cursor's documents as an array.
    pub fn documents(docs: Vec<Document>) -> Bson {
        Bson::Array(docs.into_iter().map(Bson::Document).collect())
    }
    /// Values (`distinct`) as an array.
    pub fn values(values: Vec<Bson>) -> Bson {
        Bson::Array(values)
    }
    /// A count.
    pub fn count(n: u64) -> Bson {
        count(n)
    }
    /// A document or `null` (`findOneAnd*`).
    pub fn optional_document(d: Option<Document>) -> Bson {
        d.map(Bson::Document).unwrap_or(Bson::Null)
    }
    /// Downloaded bytes (`$$matchesHexBytes` matches them).
    pub fn bytes(bytes: Vec<u8>) -> Bson {
        Bson::Binary(bson::Binary { subtype: bson::spec::BinarySubtype::Generic, bytes })
    }
}
