//! An operation's arguments for the driver's API (`unified-test-format.rst`, "Executing an
//! Operation": `arguments`), read by the generated test one typed value at a time; a
//! missing or ill-typed argument fails the test as `InvalidArgument`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bson::{Bson, Document};
use mongo_driver::coll::{UpdateModifications, WriteModel};
use mongo_driver::options::{Hint, ReadPreference};

use super::super::failure::{FailureKind, fail};
use super::convert::{ejson_doc, read_preference};

/// The arguments of one operation, converted for the driver's API.
pub struct Args {
    pub(super) path: PathBuf,
    pub(super) pointer: String,
    pub(super) arguments: Document,
}

impl Args {
    /// The arguments `arguments` (none when absent) found at `pointer` in the file at `path`.
    pub(super) fn new(
        path: &Path,
        pointer: String,
        arguments: Option<&serde_json::Map<String, serde_json::Value>>,
    ) -> Self {
        let arguments = arguments.map(|a| ejson_doc(path, &pointer, a)).unwrap_or_default();
        Self { path: path.to_path_buf(), pointer, arguments }
    }

    pub(super) fn get(&self, key: &str) -> &Bson {
        match self.arguments.get(key) {
            Some(v) => v,
            None => fail(
                FailureKind::InvalidArgument,
                format!("{}#{}", self.path.display(), self.pointer),
                format!("missing argument `{key}`"),
            ),
        }
    }

    pub(super) fn wrong(&self, key: &str, what: &str) -> ! {
        fail(
            FailureKind::InvalidArgument,
            format!("{}#{}/{key}", self.path.display(), self.pointer),
            format!("expected {what}, found {}", self.get(key)),
        )
    }

    /// A document argument.
    pub fn doc(&self, key: &str) -> Document {
        match self.get(key) {
            Bson::Document(d) => d.clone(),
            _ => self.wrong(key, "a document"),
        }
    }

    /// A document argument, `{}` when absent.
    pub fn doc_or_empty(&self, key: &str) -> Document {
        if self.arguments.contains_key(key) { self.doc(key) } else { Document::new() }
    }

    /// Any value.
    pub fn bson(&self, key: &str) -> Bson {
        self.get(key).clone()
    }

    /// A boolean.
    pub fn bool(&self, key: &str) -> bool {
        match self.get(key) {
            Bson::Boolean(b) => *b,
            _ => self.wrong(key, "a boolean"),
        }
    }

    /// An integer.
    pub fn i64(&self, key: &str) -> i64 {
        match self.get(key) {
            Bson::Int32(v) => i64::from(*v),
            Bson::Int64(v) => *v,
            Bson::Double(v) if v.fract() == 0.0 => *v as i64,
            _ => self.wrong(key, "an integer"),
        }
    }

    /// A 32-bit integer.
    pub fn i32(&self, key: &str) -> i32 {
        i32::try_from(self.i64(key)).unwrap_or_else(|_| self.wrong(key, "a 32-bit integer"))
    }

    /// Milliseconds as a duration.
    pub fn millis(&self, key: &str) -> Duration {
        Duration::from_millis(
            u64::try_from(self.i64(key)).unwrap_or_else(|_| self.wrong(key, "a non-negative integer")),
        )
    }

    /// A string.
    pub fn string(&self, key: &str) -> String {
        match self.get(key) {
            Bson::String(s) => s.clone(),
            _ => self.wrong(key, "a string"),
        }
    }

    /// An index hint (name or key pattern).
    pub fn hint(&self, key: &str) -> Hint {
        match self.get(key) {
            Bson::String(s) => Hint::Name(s.clone()),
            Bson::Document(d) => Hint::Keys(d.clone()),
            _ => self.wrong(key, "an index name or key pattern"),
        }
    }

    /// An array of documents.
    pub fn docs(&self, key: &str) -> Vec<Document> {
        match self.get(key) {
            Bson::Array(items) => items
                .iter()
                .map(|item| match item {
                    Bson::Document(d) => d.clone(),
                    _ => self.wrong(key, "an array of documents"),
                })
                .collect(),
            _ => self.wrong(key, "an array of documents"),
        }
    }

    /// An update document or pipeline.
    pub fn update(&self, key: &str) -> UpdateModifications {
        match self.get(key) {
            Bson::Document(d) => UpdateModifications::Document(d.clone()),
            Bson::Array(_) => UpdateModifications::Pipeline(self.docs(key)),
            _ => self.wrong(key, "an update document or pipeline"),
        }
    }

    /// `returnDocument`: whether it is `After`.
    pub fn return_document_after(&self, key: &str) -> bool {
        match self.string(key).as_str() {
            "After" => true,
            "Before" => false,
            _ => self.wrong(key, "`Before` or `After`"),
        }
    }

    /// A read preference document (`mode`, optional `maxStalenessSeconds`).
    pub fn read_preference(&self, key: &str) -> ReadPreference {
        let Bson::Document(d) = self.get(key) else { self.wrong(key, "a read preference document") };
        read_preference(d).unwrap_or_else(|(field, why)| match field.as_str() {
            "maxStalenessSeconds" => self.wrong(key, "an integer maxStalenessSeconds"),
            _ => panic!("{}#{}/{key}/{field}: {why}", self.path.display(), self.pointer),
        })
    }

    /// The `requests` of a `bulkWrite`.
    pub fn write_models(&self, key: &str) -> Vec<WriteModel> {
        let Bson::Array(items) = self.get(key) else { self.wrong(key, "an array of write models") };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let sub = Args {
                    path: self.path.clone(),
                    pointer: format!("{}/{key}/{i}", self.pointer),
                    arguments: match item {
                        Bson::Document(d) => d.clone(),
                        _ => self.wrong(key, "an array of write models"),
                    },
                };
                let Some((kind, Bson::Document(fields))) = sub.arguments.iter().next() else {
                    sub.wrong("", "a one-key write model")
                };
                let f = Args {
                    path: self.path.clone(),
                    pointer: format!("{}/{kind}", sub.pointer),
                    arguments: fields.clone(),
                };
                let opt = |key: &str| fields.contains_key(key);
                let upsert = opt("upsert").then(|| f.bool("upsert"));
                let array_filters = opt("arrayFilters").then(|| f.docs("arrayFilters"));
                let collation = opt("collation").then(|| f.doc("collation"));
                let hint = opt("hint").then(|| f.hint("hint"));
                // `updateOne` and `updateMany` take the same fields.
                macro_rules! update {
                    ($variant:ident) => {
                        WriteModel::$variant {
                            filter: f.doc("filter"),
                            update: f.update("update"),
                            upsert,
                            array_filters,
                            collation,
                            hint,
                        }
                    };
                }
                match kind.as_str() {
                    "insertOne" => WriteModel::InsertOne { document: f.doc("document") },
                    "updateOne" => update!(UpdateOne),
                    "updateMany" => update!(UpdateMany),
                    "replaceOne" => WriteModel::ReplaceOne {
                        filter: f.doc("filter"),
                        replacement: f.doc("replacement"),
                        upsert,
                        collation,
                        hint,
                    },
                    "deleteOne" => WriteModel::DeleteOne { filter: f.doc("filter"), collation, hint },
                    "deleteMany" => WriteModel::DeleteMany { filter: f.doc("filter"), collation, hint },
                    other => panic!("{}#{}: unknown write model {other}", self.path.display(), sub.pointer),
                }
            })
            .collect()
    }
}
