//! Options of the CRUD API (CRUD spec "Read" and "Write" options). Every options type is
//! built with chainable setters from `Default`, e.g.
//! `FindOptions::default().sort(doc! {"x": 1}).limit(10)`.

use std::time::Duration;

use bson::{Bson, Document, doc};

use super::concern::{ReadConcern, WriteConcern};
use super::read_preference::ReadPreference;

/// Defines an options struct whose fields are all optional, with one chainable setter per
/// field taking anything convertible into the field's type.
macro_rules! options {
    ($(#[$m:meta])* $name:ident { $( $(#[$fm:meta])* $field:ident : $ty:ty ),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Default, PartialEq)]
        #[non_exhaustive]
        pub struct $name {
            $( $(#[$fm])* pub $field: Option<$ty>, )*
        }

        impl $name {
            $(
                $(#[$fm])*
                pub fn $field(mut self, value: impl Into<$ty>) -> Self {
                    self.$field = Some(value.into());
                    self
                }
            )*
        }
    };
}

/// Collation, as the server's document (`{locale: "en", strength: 2, …}`).
pub type Collation = Document;

/// An index hint: an index name or a key pattern.
#[derive(Debug, Clone, PartialEq)]
pub enum Hint {
    /// The index's name.
    Name(String),
    /// The index's key pattern.
    Keys(Document),
}

impl From<&str> for Hint {
    fn from(name: &str) -> Self {
        Self::Name(name.to_string())
    }
}

impl From<String> for Hint {
    fn from(name: String) -> Self {
        Self::Name(name)
    }
}

impl From<Document> for Hint {
    fn from(keys: Document) -> Self {
        Self::Keys(keys)
    }
}

impl From<Hint> for Bson {
    fn from(hint: Hint) -> Self {
        match hint {
            Hint::Name(n) => Bson::String(n),
            Hint::Keys(k) => Bson::Document(k),
        }
    }
}

options! {
    /// Options of `find` and `find_one` (CRUD spec "FindOptions").
    FindOptions {
        /// Allow the server to write temporary files for large sorts.
        allow_disk_use: bool,
        /// Return partial results when some shards are down.
        allow_partial_results: bool,
        /// Documents per batch (first batch and each getMore).
        batch_size: i32,
        /// Collation.
        collation: Collation,
        /// A comment recorded with the operation.
        comment: Bson,
        /// An index hint.
        hint: Hint,
        /// Variables for `$expr` (`let`).
        let_vars: Document,
        /// The most documents to return (negative: one batch of that many).
        limit: i64,
        /// Exclusive upper bound of the hinted index.
        max: Document,
        /// `maxTimeMS` of each getMore on a tailable awaitData cursor.
        max_await_time: Duration,
        /// Server-side time limit of the find (`maxTimeMS`).
        max_time: Duration,
        /// Inclusive lower bound of the hinted index.
        min: Document,
        /// Keep the cursor open while idle.
        no_cursor_timeout: bool,
        /// The fields to return.
        projection: Document,
        /// The read concern (default: the collection's).
        read_concern: ReadConcern,
        /// The read preference (default: the collection's).
        selection_criteria: ReadPreference,
        /// Return only the index keys.
        return_key: bool,
        /// Add `$recordId` to each document.
        show_record_id: bool,
        /// Documents to skip.
        skip: i64,
        /// The sort order.
        sort: Document,
        /// A tailable cursor (capped collections): it stays open after the last result.
        tailable: bool,
        /// With `tailable`, a getMore waits up to `max_await_time` for new results.
        await_data: bool,
    }
}

options! {
    /// Options of `insert_one` (CRUD spec "InsertOneOptions").
    InsertOneOptions {
        /// Skip document validation.
        bypass_document_validation: bool,
        /// The write concern (default: the collection's).
        write_concern: WriteConcern,
        /// A comment recorded with the operation.
        comment: Bson,
    }
}

options! {
    /// Options of `insert_many` (CRUD spec "InsertManyOptions").
    InsertManyOptions {
        /// Skip document validation.
        bypass_document_validation: bool,
        /// Stop at the first failure (default `true`).
        ordered: bool,
        /// The write concern (default: the collection's).
        write_concern: WriteConcern,
        /// A comment recorded with the operation.
        comment: Bson,
    }
}

options! {
    /// Options of `update_one`, `update_many` and `replace_one` (CRUD spec "UpdateOptions"
    /// and "ReplaceOptions"; `array_filters` does not apply to replacements).
    UpdateOptions {
        /// Filters choosing which array elements an update changes.
        array_filters: Vec<Document>,
        /// Skip document validation.
        bypass_document_validation: bool,
        /// Collation.
        collation: Collation,
        /// An index hint.
        hint: Hint,
        /// Insert a document when none matches.
        upsert: bool,
        /// Variables for `$expr` (`let`).
        let_vars: Document,
        /// The write concern (default: the collection's).
        write_concern: WriteConcern,
        /// A comment recorded with the operation.
        comment: Bson,
    }
}

options! {
    /// Options of `delete_one` and `delete_many` (CRUD spec "DeleteOptions").
    DeleteOptions {
        /// Collation.
        collation: Collation,
        /// An index hint.
        hint: Hint,
        /// Variables for `$expr` (`let`).
        let_vars: Document,
        /// The write concern (default: the collection's).
        write_concern: WriteConcern,
        /// A comment recorded with the operation.
        comment: Bson,
    }
}

options! {
    /// Options of `find_one_and_update`, `find_one_and_replace` and `find_one_and_delete`
    /// (CRUD spec "FindOneAndUpdateOptions", …; update-only fields are ignored by the others).
    FindOneAndModifyOptions {
        /// Filters choosing which array elements an update changes (updates only).
        array_filters: Vec<Document>,
        /// Skip document validation (updates and replacements).
        bypass_document_validation: bool,
        /// Collation.
        collation: Collation,
        /// An index hint.
        hint: Hint,
        /// Server-side time limit (`maxTimeMS`).
        max_time: Duration,
        /// The fields to return.
        projection: Document,
        /// Return the document after the change instead of before (updates and replacements).
        return_document_after: bool,
        /// Which document to change when several match.
        sort: Document,
        /// Insert a document when none matches (updates and replacements).
        upsert: bool,
        /// Variables for `$expr` (`let`).
        let_vars: Document,
        /// The write concern (default: the collection's).
        write_concern: WriteConcern,
        /// A comment recorded with the operation.
        comment: Bson,
    }
}

options! {
    /// Options of `aggregate` (CRUD spec "AggregateOptions").
    AggregateOptions {
        /// Allow the server to write temporary files.
        allow_disk_use: bool,
        /// Documents per batch.
        batch_size: i32,
        /// Skip document validation (`$out`/`$merge`).
        bypass_document_validation: bool,
        /// Collation.
        collation: Collation,
        /// A comment recorded with the operation.
        comment: Bson,
        /// An index hint.
        hint: Hint,
        /// Variables for the pipeline (`let`).
        let_vars: Document,
        /// Server-side time limit (`maxTimeMS`).
        max_time: Duration,
        /// The read concern (default: the collection's).
        read_concern: ReadConcern,
        /// The read preference (default: the collection's).
        selection_criteria: ReadPreference,
        /// The write concern of a `$out`/`$merge` pipeline (default: the collection's).
        write_concern: WriteConcern,
    }
}

options! {
    /// Options of `distinct` (CRUD spec "DistinctOptions").
    DistinctOptions {
        /// Collation.
        collation: Collation,
        /// A comment recorded with the operation.
        comment: Bson,
        /// Server-side time limit (`maxTimeMS`).
        max_time: Duration,
        /// The read concern (default: the collection's).
        read_concern: ReadConcern,
        /// The read preference (default: the collection's).
        selection_criteria: ReadPreference,
    }
}

options! {
    /// Options of `count_documents` (CRUD spec "CountOptions").
    CountOptions {
        /// Collation.
        collation: Collation,
        /// A comment recorded with the operation.
        comment: Bson,
        /// An index hint.
        hint: Hint,
        /// Count at most this many documents.
        limit: i64,
        /// Server-side time limit (`maxTimeMS`).
        max_time: Duration,
        /// The read concern (default: the collection's).
        read_concern: ReadConcern,
        /// The read preference (default: the collection's).
        selection_criteria: ReadPreference,
        /// Documents to skip before counting.
        skip: i64,
    }
}

options! {
    /// Options of `estimated_document_count` (CRUD spec "EstimatedDocumentCountOptions").
    EstimatedDocumentCountOptions {
        /// A comment recorded with the operation.
        comment: Bson,
        /// Server-side time limit (`maxTimeMS`).
        max_time: Duration,
        /// The read concern (default: the collection's).
        read_concern: ReadConcern,
        /// The read preference (default: the collection's).
        selection_criteria: ReadPreference,
    }
}

options! {
    /// Options of a collection-level `bulk_write` (CRUD spec "BulkWriteOptions").
    BulkWriteOptions {
        /// Skip document validation.
        bypass_document_validation: bool,
        /// Stop at the first failure (default `true`).
        ordered: bool,
        /// Variables for `$expr` (`let`).
        let_vars: Document,
        /// The write concern (default: the collection's).
        write_concern: WriteConcern,
        /// A comment recorded with the operation.
        comment: Bson,
    }
}

options! {
    /// Options of `create_collection`.
    CreateCollectionOptions {
        /// A capped collection.
        capped: bool,
        /// The capped collection's size in bytes.
        size: i64,
        /// The capped collection's most documents.
        max: i64,
        /// A validator document.
        validator: Document,
        /// `off`, `strict` or `moderate`.
        validation_level: String,
        /// `error` or `warn`.
        validation_action: String,
        /// A view on this collection or view.
        view_on: String,
        /// The view's pipeline.
        pipeline: Vec<Document>,
        /// The default collation.
        collation: Collation,
        /// A time-series collection: `{timeField, metaField, granularity}` (5.0+).
        timeseries: Document,
        /// Seconds after which documents expire (time-series and clustered collections).
        expire_after_seconds: i64,
        /// A clustered collection: `{key: {_id: 1}, unique: true, name}` (5.3+).
        clustered_index: Document,
        /// Pre- and post-images for change streams: `{enabled: true}` (6.0+).
        change_stream_pre_and_post_images: Document,
        /// The write concern (default: the database's).
        write_concern: WriteConcern,
    }
}

options! {
    /// Options of `drop` (a collection).
    DropCollectionOptions {
        /// The write concern (default: the collection's).
        write_concern: WriteConcern,
    }
}

options! {
    /// Options of `list_collections` and `list_collection_names` (enumerate-collections spec).
    ListCollectionsOptions {
        /// Only collections matching this filter (on the `listCollections` output).
        filter: Document,
        /// Documents per batch.
        batch_size: i32,
        /// Only names and types (`list_collection_names` always sets it).
        name_only: bool,
        /// With `name_only`, only the collections the user is authorized to see.
        authorized_collections: bool,
        /// A comment recorded with the operation.
        comment: Bson,
    }
}

options! {
    /// Options of `list_databases` and `list_database_names` (enumerate-databases spec).
    ListDatabasesOptions {
        /// Only databases matching this filter (on the `listDatabases` output).
        filter: Document,
        /// Only names (`list_database_names` always sets it).
        name_only: bool,
        /// Only the databases the user is authorized to see.
        authorized_databases: bool,
        /// A comment recorded with the operation.
        comment: Bson,
    }
}

options! {
    /// Options of `list_indexes` and `list_index_names` (index-management spec).
    ListIndexesOptions {
        /// Documents per batch.
        batch_size: i32,
        /// The server's time limit (`maxTimeMS`).
        max_time: Duration,
        /// A comment recorded with the operation.
        comment: Bson,
    }
}

options! {
    /// Options of `create_index` and `create_indexes` (index-management spec).
    CreateIndexOptions {
        /// How many data-bearing members must finish the build (`commitQuorum`, 4.4+): a
        /// number or a string such as `"majority"`.
        commit_quorum: Bson,
        /// The server's time limit (`maxTimeMS`).
        max_time: Duration,
        /// The write concern (default: the collection's).
        write_concern: WriteConcern,
        /// A comment recorded with the operation (4.4+).
        comment: Bson,
    }
}

options! {
    /// Options of `drop_index` and `drop_indexes` (index-management spec).
    DropIndexOptions {
        /// The server's time limit (`maxTimeMS`).
        max_time: Duration,
        /// The write concern (default: the collection's).
        write_concern: WriteConcern,
        /// A comment recorded with the operation (4.4+).
        comment: Bson,
    }
}

/// Milliseconds of a duration for `maxTimeMS`-like fields.
pub(crate) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bson::doc;

    use super::*;

    #[test]
    fn write_concern_documents() {
        assert!(WriteConcern::default().is_empty());
        assert_eq!(WriteConcern::default().to_document(), doc! {});
        let wc = WriteConcern::majority().journal(true).w_timeout(Duration::from_millis(150));
        assert_eq!(wc.to_document(), doc! {"w": "majority", "j": true, "wtimeout": 150i64});
        assert_eq!(WriteConcern::nodes(2).to_document(), doc! {"w": 2i64});
        assert!(!WriteConcern::nodes(0).is_acknowledged());
        assert!(WriteConcern::nodes(0).journal(true).is_acknowledged());
        assert_eq!(ReadConcern::majority().to_document(), doc! {"level": "majority"});
    }

    #[test]
    fn option_setters_take_convertible_values() {
        let o = FindOptions::default().limit(5).batch_size(2).hint("x_1").comment("c").sort(doc! {"x": 1});
        assert_eq!((o.limit, o.batch_size), (Some(5), Some(2)));
        assert_eq!(o.hint, Some(Hint::Name("x_1".into())));
        assert_eq!(o.comment, Some(Bson::from("c")));
        assert_eq!(Bson::from(Hint::Keys(doc! {"x": 1})), Bson::Document(doc! {"x": 1}));
    }
}
