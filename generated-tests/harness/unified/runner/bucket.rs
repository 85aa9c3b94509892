//! Bucket entities of the unified runner (`unified-test-format.rst`, entity "bucket" and
//! "Bucket Operations"; GridFS spec "Configurable GridFSBucket class"): creating a
//! `GridFsBucket` from `bucketOptions`, and the arguments and results of its operations
//! (`source: {$$hexBytes}` in; the downloaded bytes are `Outcome::bytes`).

use bson::{Bson, Document};
use mongo_driver::gridfs::{
    GridFsBucket, GridFsBucketOptions, GridFsDownloadByNameOptions, GridFsUploadOptions,
};
use spec_codegen::unified::model::{BucketEntity, CollectionOrDatabaseOptions};

use super::Runner;
use super::args::Args;
use super::convert::concerns;

impl Runner {
    /// Creates bucket entity `entity` (at `pointer` in the file) on its database entity.
    pub(super) fn create_bucket(&mut self, pointer: &str, entity: &BucketEntity) {
        let here = format!("{}#{pointer}/bucket", self.path.display());
        let Some(db) = self.databases.get(&entity.database) else {
            panic!("{here}: database `{}` is not defined", entity.database)
        };
        let mut options = GridFsBucketOptions::default();
        let given = entity.bucket_options.clone().unwrap_or_default();
        let mut concern_fields = serde_json::Map::new();
        for (key, value) in given {
            match (key.as_str(), &value) {
                ("bucketName", serde_json::Value::String(name)) => {
                    options = options.bucket_name(name.clone())
                }
                ("chunkSizeBytes", serde_json::Value::Number(n)) => {
                    match n.as_u64().and_then(|n| u32::try_from(n).ok()) {
                        Some(size) => options = options.chunk_size_bytes(size),
                        None => panic!("{here}/bucketOptions/chunkSizeBytes: not a 32-bit size: {n}"),
                    }
                }
                ("readConcern" | "writeConcern" | "readPreference", _) => {
                    concern_fields.insert(key, value);
                }
                // The driver computes no MD5 (GridFS spec: the option is then a no-op).
                ("disableMD5", serde_json::Value::Bool(true)) => {}
                _ => panic!("{here}/bucketOptions/{key}: not supported by the runner: {value}"),
            }
        }
        let concern_options: CollectionOrDatabaseOptions =
            serde_json::from_value(serde_json::Value::Object(concern_fields))
                .unwrap_or_else(|e| panic!("{here}/bucketOptions: {e}"));
        let (rc, wc, rp) = concerns(&self.path, &format!("{pointer}/bucket/bucketOptions"), &concern_options);
        options.read_concern = rc;
        options.write_concern = wc;
        options.read_preference = rp;
        let bucket = db.gridfs_bucket(options);
        self.buckets.insert(entity.id.clone(), bucket);
    }

    /// The bucket entity `id`.
    pub fn bucket(&self, id: &str) -> GridFsBucket {
        match self.buckets.get(id) {
            Some(b) => b.clone(),
            None => panic!("{}: bucket entity `{id}` is not defined", self.path.display()),
        }
    }
}

impl Args {
    /// The bytes of a `{$$hexBytes: "…"}` argument (the `source` of `upload`).
    pub fn hex_bytes(&self, key: &str) -> Vec<u8> {
        let source: Document = self.doc(key);
        match (source.len(), source.get("$$hexBytes")) {
            (1, Some(Bson::String(hex))) => super::super::matching::hex_bytes(hex)
                .unwrap_or_else(|| self.wrong(key, "an even number of hex digits")),
            _ => self.wrong(key, "{$$hexBytes: <hex string>}"),
        }
    }

    /// The upload options among the arguments (`chunkSizeBytes`, `metadata`, `contentType`).
    pub fn upload_options(&self) -> GridFsUploadOptions {
        let mut options = GridFsUploadOptions::default();
        if self.arguments.contains_key("chunkSizeBytes") {
            let size = u32::try_from(self.i64("chunkSizeBytes"))
                .unwrap_or_else(|_| self.wrong("chunkSizeBytes", "a 32-bit size"));
            options = options.chunk_size_bytes(size);
        }
        if self.arguments.contains_key("metadata") {
            options = options.metadata(self.doc("metadata"));
        }
        if self.arguments.contains_key("contentType") {
            options = options.content_type(self.string("contentType"));
        }
        // `disableMD5: true` (the generator admits no other value) is what the driver does.
        options
    }

    /// The options of `downloadByName` among the arguments (`revision`).
    pub fn download_by_name_options(&self) -> GridFsDownloadByNameOptions {
        let mut options = GridFsDownloadByNameOptions::default();
        if self.arguments.contains_key("revision") {
            options = options.revision(self.i32("revision"));
        }
        options
    }
}
