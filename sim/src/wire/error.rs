//! Why a client message could not be read (framing, OP_MSG structure, BSON, checksum,
//! OP_COMPRESSED): the error of [`super`] and of [`crate::compression`].

/// Why a message could not be read; the connection that sent it is closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The header's `messageLength` is outside `16..=maxMessageSizeBytes`.
    #[error("message length {length} outside 16..={max}")]
    BadLength {
        /// The announced length.
        length: i64,
        /// The largest length accepted.
        max: usize,
    },
    /// The message ended inside a field.
    #[error("message truncated while reading {0}")]
    Truncated(&'static str),
    /// An opcode the server does not accept from clients.
    #[error("unsupported opcode {0}")]
    UnsupportedOpCode(i32),
    /// A required `OP_MSG` flag bit the server does not know.
    #[error("unknown required OP_MSG flag bits {0:#x}")]
    UnknownRequiredFlags(u32),
    /// A section kind other than 0 or 1.
    #[error("unknown OP_MSG section kind {0}")]
    UnknownSectionKind(u8),
    /// Zero or several kind-0 sections.
    #[error("OP_MSG must have exactly one body section, found {0}")]
    BodyCount(usize),
    /// A kind-1 sequence whose identifier is already a field of the body.
    #[error("OP_MSG document sequence '{0}' duplicates a body field")]
    DuplicateField(String),
    /// Invalid BSON.
    #[error("invalid BSON in {context}: {message}")]
    Bson {
        /// Where the document was.
        context: &'static str,
        /// The decoder's message.
        message: String,
    },
    /// The CRC-32C checksum does not match.
    #[error("OP_MSG checksum mismatch: message says {expected:#010x}, computed {actual:#010x}")]
    Checksum {
        /// The checksum carried by the message.
        expected: u32,
        /// The checksum of the bytes received.
        actual: u32,
    },
    /// A compressor the server does not support.
    #[error("unsupported compressor id {0}")]
    UnsupportedCompressor(u8),
    /// A compressed payload that does not decompress to its announced size.
    #[error("cannot decompress an OP_COMPRESSED message: {0}")]
    Decompression(String),
    /// Bytes left over after the last field.
    #[error("{0} unexpected trailing bytes")]
    TrailingBytes(usize),
}
