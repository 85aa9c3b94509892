//! The GridFS error kinds (GridFS spec error names: `FileNotFound`, `RevisionNotFound`,
//! `ChunkIsMissing`, `ChunkIsWrongSize`), kept beside [`Error`] so the error type needs
//! nothing from the GridFS API above it.

use bson::{Bson, Document};

use super::{Error, ErrorKind};

/// What went wrong in a GridFS operation (the error names of the GridFS spec).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum GridFsErrorKind {
    /// No files collection document has this id (`FileNotFound`).
    #[error("file not found: no file with id {id}")]
    FileNotFound {
        /// The id asked for.
        id: Bson,
    },
    /// No file has this name (`FileNotFound`, by name).
    #[error("file not found: no file named `{filename}`")]
    FileNameNotFound {
        /// The name asked for.
        filename: String,
    },
    /// Files have this name, but not this many revisions (`RevisionNotFound`).
    #[error("revision not found: no revision {revision} of the file named `{filename}`")]
    RevisionNotFound {
        /// The name asked for.
        filename: String,
        /// The revision asked for.
        revision: i32,
    },
    /// A chunk of the file is not in the chunks collection (`ChunkIsMissing`).
    #[error("chunk {n} of file {files_id} is missing")]
    ChunkIsMissing {
        /// The file's id.
        files_id: Bson,
        /// The index of the missing chunk.
        n: u64,
    },
    /// A chunk's data is not as long as the file's length and chunk size say (`ChunkIsWrongSize`).
    #[error("chunk {n} of file {files_id} holds {actual} bytes, {expected} expected")]
    ChunkIsWrongSize {
        /// The file's id.
        files_id: Bson,
        /// The chunk's index.
        n: u64,
        /// The bytes expected.
        expected: u64,
        /// The bytes found.
        actual: u64,
    },
    /// The chunks collection holds a chunk past the file's end (or a repeated one).
    #[error("file {files_id} has an unexpected chunk {n} (chunk {expected} was expected next)")]
    ExtraChunk {
        /// The file's id.
        files_id: Bson,
        /// The unexpected chunk's index.
        n: i64,
        /// The index expected next (the chunk count when the file was complete).
        expected: u64,
    },
    /// A files or chunks collection document lacks a field or holds one of the wrong type.
    #[error("invalid GridFS document: {message}: {document}")]
    InvalidDocument {
        /// What is wrong.
        message: String,
        /// The document.
        document: Document,
    },
}

impl Error {
    /// The GridFS error kind, when this is a GridFS error.
    pub fn gridfs_kind(&self) -> Option<&GridFsErrorKind> {
        match &*self.kind {
            ErrorKind::GridFs(kind) => Some(kind),
            _ => None,
        }
    }
}

impl From<GridFsErrorKind> for Error {
    fn from(kind: GridFsErrorKind) -> Self {
        Error::new(ErrorKind::GridFs(kind))
    }
}
