//! GridFS (GridFS spec, "Configurable GridFSBucket class" and "GridFSBucket" API): files
//! stored as a document in `<bucket>.files` plus their bytes split into `<bucket>.chunks`
//! documents of `chunkSize` bytes. No MD5 is computed or stored (the spec deprecates the
//! `md5` field; a `disableMD5` option would change nothing, so there is none).
//!
//! ```no_run
//! # async fn demo(db: mongo_driver::Database) -> mongo_driver::Result<()> {
//! use mongo_driver::gridfs::GridFsBucketOptions;
//! let bucket = db.gridfs_bucket(GridFsBucketOptions::default().bucket_name("images"));
//! let id = bucket.upload_from_slice("logo.png", b"\x89PNG...", None).await?;
//! let bytes = bucket.download_to_vec(id.into()).await?;
//! bucket.delete(bson::Bson::ObjectId(id)).await?;
//! # let _ = bytes; Ok(()) }
//! ```

mod download;
mod indexes;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bson::oid::ObjectId;
use bson::spec::BinarySubtype;
use bson::{Binary, Bson, DateTime, Document, doc};
use futures::TryStreamExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

pub use download::{FilesCollectionDocument, GridFsDownloadStream};

use crate::api::coll::{Collection, Find};
use crate::api::db::Database;
use crate::error::{Error, Result};
use crate::options::{ReadConcern, ReadPreference, WriteConcern};

/// The default chunk size: 255 KiB (GridFS spec "chunkSizeBytes").
pub const DEFAULT_CHUNK_SIZE_BYTES: u32 = 255 * 1024;

/// Options of a [`GridFsBucket`] (GridFS spec "Configurable GridFSBucket class"). Unset
/// concerns and read preference are the database's.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct GridFsBucketOptions {
    /// The bucket name, the prefix of its collections (default `fs`).
    pub bucket_name: Option<String>,
    /// The chunk size of uploads (default [`DEFAULT_CHUNK_SIZE_BYTES`]).
    pub chunk_size_bytes: Option<u32>,
    /// The write concern of the bucket's writes.
    pub write_concern: Option<WriteConcern>,
    /// The read concern of the bucket's reads.
    pub read_concern: Option<ReadConcern>,
    /// The read preference of the bucket's reads.
    pub read_preference: Option<ReadPreference>,
}

impl GridFsBucketOptions {
    /// Sets the bucket name.
    pub fn bucket_name(mut self, name: impl Into<String>) -> Self {
        self.bucket_name = Some(name.into());
        self
    }
    /// Sets the default chunk size of uploads.
    pub fn chunk_size_bytes(mut self, size: u32) -> Self {
        self.chunk_size_bytes = Some(size);
        self
    }
    /// Sets the write concern.
    pub fn write_concern(mut self, write_concern: WriteConcern) -> Self {
        self.write_concern = Some(write_concern);
        self
    }
    /// Sets the read concern.
    pub fn read_concern(mut self, read_concern: ReadConcern) -> Self {
        self.read_concern = Some(read_concern);
        self
    }
    /// Sets the read preference.
    pub fn read_preference(mut self, read_preference: ReadPreference) -> Self {
        self.read_preference = Some(read_preference);
        self
    }
}

/// Options of one upload (GridFS spec "GridFSUploadOptions").
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct GridFsUploadOptions {
    /// This file's chunk size (default: the bucket's).
    pub chunk_size_bytes: Option<u32>,
    /// Stored as the files collection document's `metadata`.
    pub metadata: Option<Document>,
    /// Stored as the files collection document's `contentType` (deprecated by the GridFS
    /// spec, which suggests a field of `metadata` instead; kept for older readers).
    pub content_type: Option<String>,
}

impl GridFsUploadOptions {
    /// Sets this file's chunk size.
    pub fn chunk_size_bytes(mut self, size: u32) -> Self {
        self.chunk_size_bytes = Some(size);
        self
    }
    /// Sets the file's metadata document.
    pub fn metadata(mut self, metadata: Document) -> Self {
        self.metadata = Some(metadata);
        self
    }
    /// Sets the file's (deprecated) `contentType`.
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }
}

/// Options of a download by name (GridFS spec "GridFSDownloadByNameOptions").
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct GridFsDownloadByNameOptions {
    /// Which revision of the files sharing the name, by upload date: `0` the first, `1`
    /// the second, …, `-1` the newest (the default), `-2` the one before, ….
    pub revision: Option<i32>,
}

impl GridFsDownloadByNameOptions {
    /// Sets the revision.
    pub fn revision(mut self, revision: i32) -> Self {
        self.revision = Some(revision);
        self
    }
}

pub use crate::error::GridFsErrorKind;

/// A GridFS bucket: a files and a chunks collection in one database (cheap to clone; no
/// I/O until an operation runs). The indexes are made sure of before its first upload.
#[derive(Debug, Clone)]
pub struct GridFsBucket {
    db: Database,
    bucket_name: String,
    chunk_size_bytes: u32,
    files: Collection<Document>,
    chunks: Collection<Document>,
    /// Whether the indexes were checked (shared by clones).
    indexes_checked: Arc<AtomicBool>,
}

impl Database {
    /// A GridFS bucket in this database (GridFS spec "GridFSBucket"); `None` takes every
    /// default.
    pub fn gridfs_bucket(&self, options: impl Into<Option<GridFsBucketOptions>>) -> GridFsBucket {
        GridFsBucket::new(self, options.into().unwrap_or_default())
    }
}

impl GridFsBucket {
    fn new(db: &Database, options: GridFsBucketOptions) -> Self {
        let bucket_name = options.bucket_name.unwrap_or_else(|| "fs".to_string());
        let handle = |suffix: &str| {
            let mut coll = db.collection::<Document>(&format!("{bucket_name}.{suffix}"));
            if let Some(wc) = &options.write_concern {
                coll = coll.with_write_concern(wc.clone());
            }
            if let Some(rc) = &options.read_concern {
                coll = coll.with_read_concern(rc.clone());
            }
            if let Some(rp) = &options.read_preference {
                coll = coll.with_read_preference(rp.clone());
            }
            coll
        };
        Self {
            db: db.clone(),
            files: handle("files"),
            chunks: handle("chunks"),
            chunk_size_bytes: options.chunk_size_bytes.unwrap_or(DEFAULT_CHUNK_SIZE_BYTES),
            bucket_name,
            indexes_checked: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The bucket's name.
    pub fn bucket_name(&self) -> &str {
        &self.bucket_name
    }

    /// The default chunk size of uploads.
    pub fn chunk_size_bytes(&self) -> u32 {
        self.chunk_size_bytes
    }

    /// The files collection (`<bucket>.files`).
    pub fn files(&self) -> &Collection<Document> {
        &self.files
    }

    /// The chunks collection (`<bucket>.chunks`).
    pub fn chunks(&self) -> &Collection<Document> {
        &self.chunks
    }

    /// Stores `source` as a new file named `filename`; returns its new ObjectId.
    pub async fn upload_from_slice(
        &self,
        filename: &str,
        source: &[u8],
        options: impl Into<Option<GridFsUploadOptions>>,
    ) -> Result<ObjectId> {
        self.upload_from_reader(filename, source, options).await
    }

    /// Stores `source` as a new file with id `id` named `filename`.
    pub async fn upload_from_slice_with_id(
        &self,
        id: Bson,
        filename: &str,
        source: &[u8],
        options: impl Into<Option<GridFsUploadOptions>>,
    ) -> Result<()> {
        self.upload_from_reader_with_id(id, filename, source, options).await
    }

    /// Stores what `source` yields, read one chunk at a time, as a new file named
    /// `filename` (GridFS spec `upload_from_stream`); returns its new ObjectId.
    pub async fn upload_from_reader<R: AsyncRead + Unpin + Send>(
        &self,
        filename: &str,
        source: R,
        options: impl Into<Option<GridFsUploadOptions>>,
    ) -> Result<ObjectId> {
        let id = ObjectId::new();
        self.upload_from_reader_with_id(Bson::ObjectId(id), filename, source, options).await?;
        Ok(id)
    }

    /// Stores what `source` yields as a new file with id `id` (GridFS spec
    /// `upload_from_stream_with_id`): the chunks first, then the files collection
    /// document. When a step fails, the chunks already written are deleted and the
    /// first error is returned.
    pub async fn upload_from_reader_with_id<R: AsyncRead + Unpin + Send>(
        &self,
        id: Bson,
        filename: &str,
        mut source: R,
        options: impl Into<Option<GridFsUploadOptions>>,
    ) -> Result<()> {
        let options = options.into().unwrap_or_default();
        let chunk_size = options.chunk_size_bytes.unwrap_or(self.chunk_size_bytes);
        let chunk_size_field = i32::try_from(chunk_size).ok().filter(|size| *size > 0).ok_or_else(|| {
            Error::invalid_argument(format!("GridFS chunkSizeBytes must be in 1..=2^31-1, not {chunk_size}"))
        })?;
        self.ensure_indexes().await?;
        let mut inserted = Vec::new();
        let written = self.write_chunks(&id, &mut source, chunk_size, &mut inserted).await;
        let outcome = match written {
            Ok(length) => {
                let mut file = doc! {
                    "_id": id.clone(),
                    "length": i64::try_from(length).unwrap_or(i64::MAX),
                    "chunkSize": chunk_size_field,
                    "uploadDate": DateTime::now(),
                    "filename": filename,
                };
                if let Some(content_type) = options.content_type {
                    file.insert("contentType", content_type);
                }
                if let Some(metadata) = options.metadata {
                    file.insert("metadata", metadata);
                }
                self.files.insert_one(file).await.map(|_| ())
            }
            Err(e) => Err(e),
        };
        if let Err(e) = outcome {
            // GridFS spec "Aborting an upload": the chunks written are deleted (by their own
            // ids, so a file that already had this id keeps its chunks); the upload's own
            // error is the one reported.
            for batch in inserted.chunks(1000) {
                if self.chunks.delete_many(doc! {"_id": {"$in": batch.to_vec()}}).await.is_err() {
                    break;
                }
            }
            return Err(e);
        }
        Ok(())
    }

    /// Reads `source` to its end, inserting a chunk each time `chunk_size` bytes (or, at
    /// the end, the rest) have been read; returns the file's length. The id of each chunk
    /// inserted goes to `inserted`.
    async fn write_chunks<R: AsyncRead + Unpin + Send>(
        &self,
        id: &Bson,
        source: &mut R,
        chunk_size: u32,
        inserted: &mut Vec<ObjectId>,
    ) -> Result<u64> {
        let size = usize::try_from(chunk_size)
            .map_err(|_| Error::invalid_argument("GridFS chunkSizeBytes does not fit in memory"))?;
        let mut buffer = vec![0u8; size];
        let mut length: u64 = 0;
        let mut n: i32 = 0;
        loop {
            let mut filled = 0;
            while filled < size {
                let read = source
                    .read(&mut buffer[filled..])
                    .await
                    .map_err(|e| Error::io("reading the GridFS upload source", e))?;
                if read == 0 {
                    break;
                }
                filled += read;
            }
            if filled == 0 {
                return Ok(length);
            }
            let chunk_id = ObjectId::new();
            let chunk = doc! {
                "_id": chunk_id,
                "files_id": id.clone(),
                "n": n,
                "data": Binary { subtype: BinarySubtype::Generic, bytes: buffer[..filled].to_vec() },
            };
            // Recorded first: an insert that fails may still have been applied.
            inserted.push(chunk_id);
            self.chunks.insert_one(chunk).await?;
            length += filled as u64;
            if filled < size {
                return Ok(length);
            }
            n = n.checked_add(1).ok_or_else(|| {
                Error::invalid_argument("a GridFS file may have at most 2^31 chunks; use a larger chunk size")
            })?;
        }
    }

    /// Opens the file with id `id` for reading, chunk by chunk (GridFS spec
    /// `open_download_stream`); `FileNotFound` when no such file exists.
    pub async fn open_download_stream(&self, id: Bson) -> Result<GridFsDownloadStream> {
        let file = self.files.find_one(doc! {"_id": id.clone()}).await?;
        let Some(file) = file else { return Err(GridFsErrorKind::FileNotFound { id }.into()) };
        GridFsDownloadStream::open(&self.chunks, FilesCollectionDocument::from_document(file)?).await
    }

    /// The whole content of the file with id `id`, every chunk checked (missing,
    /// wrong-sized and extra chunks are errors).
    pub async fn download_to_vec(&self, id: Bson) -> Result<Vec<u8>> {
        self.open_download_stream(id).await?.read_to_end().await
    }

    /// Writes the content of the file with id `id` to `destination`, chunk by chunk (GridFS
    /// spec `download_to_stream`); returns the bytes written. A bad chunk stops the copy
    /// with its error, after the chunks before it were written.
    pub async fn download_to_writer<W: AsyncWrite + Unpin + Send>(
        &self,
        id: Bson,
        mut destination: W,
    ) -> Result<u64> {
        let mut stream = self.open_download_stream(id).await?;
        let mut written = 0;
        while let Some(chunk) = stream.try_next().await? {
            destination
                .write_all(&chunk)
                .await
                .map_err(|e| Error::io("writing a GridFS download to its destination", e))?;
            written += chunk.len() as u64;
        }
        destination.flush().await.map_err(|e| Error::io("flushing a GridFS download's destination", e))?;
        Ok(written)
    }

    /// Opens a revision (default: the newest) of the files named `filename` (GridFS spec
    /// `open_download_stream_by_name`).
    pub async fn open_download_stream_by_name(
        &self,
        filename: &str,
        options: impl Into<Option<GridFsDownloadByNameOptions>>,
    ) -> Result<GridFsDownloadStream> {
        let revision = options.into().unwrap_or_default().revision.unwrap_or(-1);
        let (sort, skip) =
            if revision >= 0 { (1, i64::from(revision)) } else { (-1, -i64::from(revision) - 1) };
        let file = self
            .files
            .find_one(doc! {"filename": filename})
            .sort(doc! {"uploadDate": sort})
            .skip(skip)
            .await?;
        let Some(file) = file else {
            let any = self.files.find_one(doc! {"filename": filename}).projection(doc! {"_id": 1}).await?;
            let filename = filename.to_string();
            return Err(match any {
                None => GridFsErrorKind::FileNameNotFound { filename },
                Some(_) => GridFsErrorKind::RevisionNotFound { filename, revision },
            }
            .into());
        };
        GridFsDownloadStream::open(&self.chunks, FilesCollectionDocument::from_document(file)?).await
    }

    /// The whole content of a revision of the files named `filename`.
    pub async fn download_to_vec_by_name(
        &self,
        filename: &str,
        options: impl Into<Option<GridFsDownloadByNameOptions>>,
    ) -> Result<Vec<u8>> {
        self.open_download_stream_by_name(filename, options).await?.read_to_end().await
    }

    /// Deletes the file with id `id`: its files collection document, then its chunks.
    /// `FileNotFound` when there was no files collection document (orphan chunks are
    /// deleted all the same).
    pub async fn delete(&self, id: Bson) -> Result<()> {
        let deleted = self.files.delete_one(doc! {"_id": id.clone()}).await?;
        self.chunks.delete_many(doc! {"files_id": id.clone()}).await?;
        if deleted.deleted_count == 0 {
            return Err(GridFsErrorKind::FileNotFound { id }.into());
        }
        Ok(())
    }

    /// Finds files collection documents (GridFS spec `find`): the files collection's
    /// `find`, whose options (`sort`, `skip`, `limit`, `batch_size`, …) chain on it.
    pub fn find(&self, filter: Document) -> Find<'_, Document> {
        self.files.find(filter)
    }

    /// Renames the file with id `id`; `FileNotFound` when there is none.
    pub async fn rename(&self, id: Bson, new_filename: &str) -> Result<()> {
        let updated = self
            .files
            .update_one(doc! {"_id": id.clone()}, doc! {"$set": {"filename": new_filename}})
            .await?;
        if updated.matched_count == 0 {
            return Err(GridFsErrorKind::FileNotFound { id }.into());
        }
        Ok(())
    }

    /// Drops the files and chunks collections (the indexes are checked again before the
    /// next upload).
    pub async fn drop(&self) -> Result<()> {
        self.files.drop().await?;
        self.chunks.drop().await?;
        self.indexes_checked.store(false, Ordering::Release);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_spec_error_and_the_file() {
        let e: Error = GridFsErrorKind::ChunkIsMissing { files_id: Bson::Int32(7), n: 2 }.into();
        assert!(matches!(e.gridfs_kind(), Some(GridFsErrorKind::ChunkIsMissing { n: 2, .. })));
        assert_eq!(e.to_string(), "GridFS: chunk 2 of file 7 is missing");
        let e: Error = GridFsErrorKind::FileNotFound { id: Bson::String("a".into()) }.into();
        assert!(e.to_string().contains("file not found"), "{e}");
        assert!(Error::invalid_argument("x").gridfs_kind().is_none());
    }

    #[test]
    fn options_chain() {
        let o = GridFsBucketOptions::default().bucket_name("b").chunk_size_bytes(4);
        assert_eq!((o.bucket_name.as_deref(), o.chunk_size_bytes), (Some("b"), Some(4)));
        let u = GridFsUploadOptions::default().chunk_size_bytes(8).metadata(doc! {"a": 1});
        assert_eq!(u.metadata, Some(doc! {"a": 1}));
        assert_eq!(u.content_type("image/png").content_type.as_deref(), Some("image/png"));
        assert_eq!(GridFsDownloadByNameOptions::default().revision(-2).revision, Some(-2));
    }
}
