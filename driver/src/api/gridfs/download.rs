//! GridFS spec "Reading files": a download stream yields a file's chunks in order, each
//! checked against the files collection document (`ChunkIsMissing`, `ChunkIsWrongSize`,
//! and a chunk past the end or out of order).

use std::pin::Pin;
use std::task::{Context, Poll};

use bson::{Bson, DateTime, Document, doc};
use futures::stream::BoxStream;
use futures::{Stream, StreamExt, TryStreamExt};

use super::GridFsErrorKind;
use crate::api::coll::Collection;
use crate::api::cursor::Cursor;
use crate::error::{Error, Result};

/// A files collection document (GridFS spec "files collection document").
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct FilesCollectionDocument {
    /// `_id`, the file's id.
    pub id: Bson,
    /// `length`, in bytes.
    pub length: u64,
    /// `chunkSize`, the size of every chunk but the last.
    pub chunk_size: u32,
    /// `uploadDate`.
    pub upload_date: Option<DateTime>,
    /// `filename`.
    pub filename: Option<String>,
    /// `metadata`.
    pub metadata: Option<Document>,
    /// The whole document as stored.
    pub document: Document,
}

/// An integral BSON number (`Int32`, `Int64`, or a `Double` without a fraction).
fn integer(value: &Bson) -> Option<i64> {
    match value {
        Bson::Int32(v) => Some(i64::from(*v)),
        Bson::Int64(v) => Some(*v),
        Bson::Double(v) if v.fract() == 0.0 && v.abs() < 9.0e15 => Some(*v as i64),
        _ => None,
    }
}

fn invalid(message: impl Into<String>, document: &Document) -> Error {
    GridFsErrorKind::InvalidDocument { message: message.into(), document: document.clone() }.into()
}

impl FilesCollectionDocument {
    /// Reads a files collection document, checking the fields a download needs.
    pub fn from_document(document: Document) -> Result<Self> {
        let id = document.get("_id").cloned().ok_or_else(|| invalid("no `_id`", &document))?;
        let length = document
            .get("length")
            .and_then(integer)
            .and_then(|l| u64::try_from(l).ok())
            .ok_or_else(|| invalid("`length` is not a non-negative integer", &document))?;
        let chunk_size = document
            .get("chunkSize")
            .and_then(integer)
            .and_then(|c| u32::try_from(c).ok())
            .filter(|c| *c > 0 || length == 0)
            .ok_or_else(|| invalid("`chunkSize` is not a positive 32-bit integer", &document))?;
        Ok(Self {
            id,
            length,
            chunk_size,
            upload_date: document.get_datetime("uploadDate").ok().copied(),
            filename: document.get_str("filename").ok().map(str::to_string),
            metadata: document.get_document("metadata").ok().cloned(),
            document,
        })
    }

    /// How many chunks the file has.
    pub fn chunk_count(&self) -> u64 {
        if self.length == 0 { 0 } else { self.length.div_ceil(u64::from(self.chunk_size)) }
    }

    /// The size chunk `n` must have.
    fn chunk_len(&self, n: u64) -> u64 {
        let count = self.chunk_count();
        if n + 1 == count {
            self.length - u64::from(self.chunk_size) * (count - 1)
        } else {
            u64::from(self.chunk_size)
        }
    }
}

/// Where a download is: the chunks cursor (none for an empty file) and the next chunk.
struct Progress {
    file: FilesCollectionDocument,
    cursor: Option<Cursor<Document>>,
    next: u64,
}

impl Progress {
    /// The next chunk's bytes, `None` after the last one.
    async fn step(mut self) -> Result<Option<(Vec<u8>, Self)>> {
        let count = self.file.chunk_count();
        let Some(cursor) = self.cursor.as_mut() else { return Ok(None) };
        let Some(mut chunk) = cursor.try_next().await? else {
            if self.next == count {
                return Ok(None);
            }
            return Err(
                GridFsErrorKind::ChunkIsMissing { files_id: self.file.id.clone(), n: self.next }.into()
            );
        };
        let n = chunk
            .get("n")
            .and_then(integer)
            .ok_or_else(|| invalid("chunk without an integer `n`", &chunk))?;
        if n != self.next as i64 || self.next >= count {
            let files_id = self.file.id.clone();
            return Err(if n > self.next as i64 && self.next < count {
                GridFsErrorKind::ChunkIsMissing { files_id, n: self.next }
            } else {
                GridFsErrorKind::ExtraChunk { files_id, n, expected: self.next }
            }
            .into());
        }
        // Taken out of the chunk rather than copied.
        let data = match chunk.remove("data") {
            Some(Bson::Binary(b)) => b.bytes,
            other => {
                if let Some(value) = other {
                    chunk.insert("data", value);
                }
                return Err(invalid("chunk whose `data` is not binary", &chunk));
            }
        };
        let expected = self.file.chunk_len(self.next);
        if data.len() as u64 != expected {
            return Err(GridFsErrorKind::ChunkIsWrongSize {
                files_id: self.file.id.clone(),
                n: self.next,
                expected,
                actual: data.len() as u64,
            }
            .into());
        }
        self.next += 1;
        Ok(Some((data, self)))
    }
}

/// A file being read: a `Stream` of its chunks' bytes, in order (GridFS spec
/// `open_download_stream`). A chunk that is missing, of the wrong size or unexpected ends
/// the stream with an error.
pub struct GridFsDownloadStream {
    file: FilesCollectionDocument,
    chunks: BoxStream<'static, Result<Vec<u8>>>,
}

impl std::fmt::Debug for GridFsDownloadStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GridFsDownloadStream").field("file", &self.file).finish_non_exhaustive()
    }
}

/// About how many bytes of chunks one batch of a download carries (at least one chunk):
/// a download holds about this much (its reply, then its documents) besides the chunk it
/// yields, whatever the file's size.
const DOWNLOAD_BATCH_BYTES: u64 = 1 << 20;

/// The `batchSize` of a download's chunk query: about [`DOWNLOAD_BATCH_BYTES`] of chunks of
/// `chunk_size`, at least one; `None` (the server's default) when that is 101 or more.
fn batch_size(chunk_size: u32) -> Option<i32> {
    let per_batch = (DOWNLOAD_BATCH_BYTES / u64::from(chunk_size.max(1))).max(1);
    i32::try_from(per_batch).ok().filter(|n| *n < 101)
}

impl GridFsDownloadStream {
    /// Opens the chunks of `file` (no query for an empty file).
    pub(super) async fn open(chunks: &Collection<Document>, file: FilesCollectionDocument) -> Result<Self> {
        let cursor = if file.length == 0 {
            None
        } else {
            // Batches of about 1 MiB (at least one chunk): a file streams through in memory
            // of the order of its chunk size instead of arriving in replies of up to 16 MiB
            // (small chunks keep the server's default first batch of 101).
            let find = chunks.find(doc! {"files_id": file.id.clone()}).sort(doc! {"n": 1});
            Some(match batch_size(file.chunk_size) {
                Some(n) => find.batch_size(n).await?,
                None => find.await?,
            })
        };
        let progress = Progress { file: file.clone(), cursor, next: 0 };
        let chunks = futures::stream::try_unfold(progress, Progress::step).boxed();
        Ok(Self { file, chunks })
    }

    /// The files collection document of the file.
    pub fn file(&self) -> &FilesCollectionDocument {
        &self.file
    }

    /// Reads every remaining chunk and returns their bytes.
    pub async fn read_to_end(mut self) -> Result<Vec<u8>> {
        // The length comes from the server: reserve at most 16 MiB up front.
        let mut out = Vec::with_capacity(usize::try_from(self.file.length.min(16 << 20)).unwrap_or(0));
        while let Some(chunk) = self.chunks.try_next().await? {
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }
}

impl Stream for GridFsDownloadStream {
    type Item = Result<Vec<u8>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.chunks.poll_next_unpin(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downloads_ask_for_about_a_mebibyte_per_batch() {
        // The default 255 KiB chunks: four per batch; a chunk over 1 MiB: one.
        assert_eq!(batch_size(255 * 1024), Some(4));
        assert_eq!(batch_size(8 << 20), Some(1));
        // Small chunks: the server's default batch (101 chunks of at most 10 KiB).
        assert_eq!(batch_size(4), None);
        assert_eq!(batch_size(0), None);
    }

    #[test]
    fn files_documents_are_checked() {
        let file = FilesCollectionDocument::from_document(doc! {"_id": 1, "length": 10_i64, "chunkSize": 4})
            .expect("valid");
        assert_eq!(file.chunk_count(), 3);
        assert_eq!((file.chunk_len(0), file.chunk_len(1), file.chunk_len(2)), (4, 4, 2));
        let exact = FilesCollectionDocument::from_document(doc! {"_id": 1, "length": 8, "chunkSize": 4.0})
            .expect("valid");
        assert_eq!((exact.chunk_count(), exact.chunk_len(1)), (2, 4));
        let empty = FilesCollectionDocument::from_document(doc! {"_id": 1, "length": 0, "chunkSize": 0})
            .expect("an empty file needs no chunk size");
        assert_eq!(empty.chunk_count(), 0);
        for bad in [
            doc! {"length": 1, "chunkSize": 4},
            doc! {"_id": 1, "length": -1, "chunkSize": 4},
            doc! {"_id": 1, "length": "1", "chunkSize": 4},
            doc! {"_id": 1, "length": 1, "chunkSize": 0},
            doc! {"_id": 1, "length": 1},
        ] {
            let e = FilesCollectionDocument::from_document(bad.clone()).expect_err("invalid");
            assert!(matches!(e.gridfs_kind(), Some(GridFsErrorKind::InvalidDocument { .. })), "{bad}: {e}");
        }
    }
}
