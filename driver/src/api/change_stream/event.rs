//! Change events (change streams spec "ChangeStreamDocument"): the typed form of what a
//! change stream returns; [`ChangeStream::events`](super::ChangeStream::events) turns a raw
//! [`Document`] stream into a stream of [`ChangeStreamEvent<T>`].

use bson::{Binary, Bson, DateTime, Document, Timestamp};
use serde::{Deserialize, Deserializer};

/// The kind of change an event reports (`operationType`). Kinds this driver does not know yet
/// arrive as [`OperationType::Other`]: the spec says an unknown `operationType` must not be
/// an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperationType {
    /// A document was inserted.
    Insert,
    /// A document was updated (see [`ChangeStreamEvent::update_description`]).
    Update,
    /// A document was replaced.
    Replace,
    /// A document was deleted.
    Delete,
    /// The watched collection was dropped.
    Drop,
    /// A collection was renamed (see [`ChangeStreamEvent::to`]).
    Rename,
    /// The watched database was dropped.
    DropDatabase,
    /// The stream can no longer continue (its collection or database went away); the server
    /// closes it after this event. `startAfter` this event's token opens a new stream.
    Invalidate,
    /// A collection or view was created (`showExpandedEvents`, 6.0+).
    Create,
    /// An index was created (`showExpandedEvents`, 6.0+).
    CreateIndexes,
    /// An index was dropped (`showExpandedEvents`, 6.0+).
    DropIndexes,
    /// A collection's options changed (`collMod`; `showExpandedEvents`, 6.0+).
    Modify,
    /// A collection was sharded (`showExpandedEvents`, 6.0+).
    ShardCollection,
    /// Any other kind, by name.
    Other(String),
}

impl OperationType {
    /// The server's name of the kind (`insert`, `dropDatabase`, …).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Insert => "insert",
            Self::Update => "update",
            Self::Replace => "replace",
            Self::Delete => "delete",
            Self::Drop => "drop",
            Self::Rename => "rename",
            Self::DropDatabase => "dropDatabase",
            Self::Invalidate => "invalidate",
            Self::Create => "create",
            Self::CreateIndexes => "createIndexes",
            Self::DropIndexes => "dropIndexes",
            Self::Modify => "modify",
            Self::ShardCollection => "shardCollection",
            Self::Other(name) => name,
        }
    }
}

impl From<String> for OperationType {
    fn from(name: String) -> Self {
        match name.as_str() {
            "insert" => Self::Insert,
            "update" => Self::Update,
            "replace" => Self::Replace,
            "delete" => Self::Delete,
            "drop" => Self::Drop,
            "rename" => Self::Rename,
            "dropDatabase" => Self::DropDatabase,
            "invalidate" => Self::Invalidate,
            "create" => Self::Create,
            "createIndexes" => Self::CreateIndexes,
            "dropIndexes" => Self::DropIndexes,
            "modify" => Self::Modify,
            "shardCollection" => Self::ShardCollection,
            _ => Self::Other(name),
        }
    }
}

impl<'de> Deserialize<'de> for OperationType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::from)
    }
}

/// A namespace in an event (`ns`, `to`): the database and, for collection events, the
/// collection. Fields the server adds later are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ChangeNamespace {
    /// The database.
    pub db: String,
    /// The collection (absent for database-wide events such as `dropDatabase`).
    #[serde(default)]
    pub coll: Option<String>,
}

/// An array an update shortened (`updateDescription.truncatedArrays`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TruncatedArray {
    /// The array's field path.
    pub field: String,
    /// Its length afterwards.
    #[serde(rename = "newSize")]
    pub new_size: i32,
}

/// What an `update` changed (`updateDescription`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct UpdateDescription {
    /// Fields set, by (dotted) path.
    #[serde(rename = "updatedFields")]
    pub updated_fields: Document,
    /// Fields removed.
    #[serde(rename = "removedFields")]
    pub removed_fields: Vec<String>,
    /// Arrays shortened (4.7+).
    #[serde(rename = "truncatedArrays", default)]
    pub truncated_arrays: Option<Vec<TruncatedArray>>,
    /// Paths whose components are ambiguous, spelled out (`showExpandedEvents`, 6.1+).
    #[serde(rename = "disambiguatedPaths", default)]
    pub disambiguated_paths: Option<Document>,
}

/// One change event, its documents deserialized into `T` (change streams spec
/// "ChangeStreamDocument"). Every field but the resume token and the kind is optional: which
/// are present depends on the kind, the server version and the stream's options. Fields
/// the server adds later are ignored, so newer servers do not break old code.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
pub struct ChangeStreamEvent<T> {
    /// The resume token of this event (`_id`): pass it as `resumeAfter` or `startAfter`.
    #[serde(rename = "_id")]
    pub id: Document,
    /// The kind of change.
    #[serde(rename = "operationType")]
    pub operation_type: OperationType,
    /// The namespace changed (absent for `invalidate`).
    #[serde(default)]
    pub ns: Option<ChangeNamespace>,
    /// The new namespace of a `rename`.
    #[serde(default)]
    pub to: Option<ChangeNamespace>,
    /// The `_id` (and shard key) of the document changed.
    #[serde(rename = "documentKey", default)]
    pub document_key: Option<Document>,
    /// What an `update` changed.
    #[serde(rename = "updateDescription", default)]
    pub update_description: Option<UpdateDescription>,
    /// When the change happened (the oplog entry's cluster time).
    #[serde(rename = "clusterTime", default)]
    pub cluster_time: Option<Timestamp>,
    /// The wall-clock time of the change (6.0+).
    #[serde(rename = "wallTime", default)]
    pub wall_time: Option<DateTime>,
    /// The document after the change: always for inserts and replaces, for updates with
    /// `fullDocument: updateLookup` (then `None` when the document is gone),
    /// `whenAvailable` or `required`.
    #[serde(rename = "fullDocument", default = "none", deserialize_with = "nullable")]
    pub full_document: Option<T>,
    /// The document before the change (`fullDocumentBeforeChange`, 6.0+ with pre-images
    /// enabled on the collection).
    #[serde(rename = "fullDocumentBeforeChange", default = "none", deserialize_with = "nullable")]
    pub full_document_before_change: Option<T>,
    /// The transaction number, for a change made in a transaction.
    #[serde(rename = "txnNumber", default)]
    pub txn_number: Option<i64>,
    /// The session of a change made in a transaction.
    #[serde(default)]
    pub lsid: Option<Document>,
    /// The collection's UUID (`showExpandedEvents`, 6.0+).
    #[serde(rename = "collectionUUID", default)]
    pub collection_uuid: Option<Binary>,
    /// What a DDL event did (`showExpandedEvents`, 6.0+), as the server describes it.
    #[serde(rename = "operationDescription", default)]
    pub operation_description: Option<Document>,
}

fn none<T>() -> Option<T> {
    None
}

/// `null` and an absent field are both `None`.
fn nullable<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer)
}

impl<T> ChangeStreamEvent<T> {
    /// The `_id` in [`ChangeStreamEvent::document_key`], if any.
    pub fn document_id(&self) -> Option<&Bson> {
        self.document_key.as_ref().and_then(|k| k.get("_id"))
    }
}

#[cfg(test)]
mod tests {
    use bson::doc;
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, PartialEq, Deserialize)]
    struct Order {
        #[serde(rename = "_id")]
        id: i32,
        item: String,
    }

    fn parse<T: for<'de> Deserialize<'de>>(d: Document) -> ChangeStreamEvent<T> {
        match bson::deserialize_from_document(d) {
            Ok(e) => e,
            Err(e) => panic!("the event deserializes: {e}"),
        }
    }

    #[test]
    fn events_deserialize_with_their_documents_typed() {
        let event: ChangeStreamEvent<Order> = parse(doc! {
            "_id": {"_data": "82"},
            "operationType": "update",
            "clusterTime": Timestamp { time: 5, increment: 1 },
            "wallTime": DateTime::from_millis(5000),
            "ns": {"db": "shop", "coll": "orders"},
            "documentKey": {"_id": 1},
            "updateDescription": {
                "updatedFields": {"item": "pen"},
                "removedFields": ["note"],
                "truncatedArrays": [{"field": "tags", "newSize": 1}],
            },
            "fullDocument": {"_id": 1, "item": "pen"},
            "fullDocumentBeforeChange": null,
        });
        assert_eq!(event.operation_type, OperationType::Update);
        assert_eq!(event.ns, Some(ChangeNamespace { db: "shop".into(), coll: Some("orders".into()) }));
        assert_eq!(event.full_document, Some(Order { id: 1, item: "pen".into() }));
        assert_eq!(event.full_document_before_change, None);
        assert_eq!(event.document_id(), Some(&Bson::Int32(1)));
        let description = event.update_description.expect("an update description");
        assert_eq!(description.removed_fields, vec!["note".to_string()]);
        assert_eq!(
            description.truncated_arrays,
            Some(vec![TruncatedArray { field: "tags".into(), new_size: 1 }])
        );
        assert_eq!(event.wall_time, Some(DateTime::from_millis(5000)));
    }

    #[test]
    fn unknown_kinds_and_fields_are_not_errors() {
        let event: ChangeStreamEvent<Document> = parse(doc! {
            "_id": {"_data": "83"},
            "operationType": "reshardCollection",
            "ns": {"db": "shop", "viewOn": "x"},
            "newField": {"a": 1},
        });
        assert_eq!(event.operation_type, OperationType::Other("reshardCollection".into()));
        assert_eq!(event.operation_type.as_str(), "reshardCollection");
        assert_eq!(event.ns.map(|n| n.coll), Some(None));
        let rename: ChangeStreamEvent<Document> = parse(doc! {
            "_id": {"_data": "84"},
            "operationType": "rename",
            "ns": {"db": "a", "coll": "b"},
            "to": {"db": "a", "coll": "c"},
        });
        assert_eq!(rename.to.and_then(|t| t.coll), Some("c".to_string()));
        // The resume token and the kind are required.
        assert!(
            bson::deserialize_from_document::<ChangeStreamEvent<Document>>(doc! {"operationType": "insert"})
                .is_err()
        );
    }
}
