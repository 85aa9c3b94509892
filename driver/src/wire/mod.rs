//! The wire protocol (`message/OP_MSG.rst`): framing, OP_MSG encode/decode with document
//! sequences and CRC-32C checksums, the legacy OP_QUERY/OP_REPLY pair used by the first
//! `hello`, OP_COMPRESSED ([`compression`]), request ids, and reading/writing one message over
//! an async stream.
//!
//! Every decoder takes bytes from the network: a malformed, truncated or oversized message is
//! an [`ErrorKind::InvalidResponse`](crate::ErrorKind::InvalidResponse) error saying what and
//! where, never a panic.
//!
//! ```
//! use bson::doc;
//! use mongo_driver::wire::{Message, OpMsg, decode_message, next_request_id};
//!
//! let request = OpMsg::new(doc! { "ping": 1, "$db": "admin" });
//! let bytes = request.encode(next_request_id(), 0)?;
//! let (header, message) = decode_message(&bytes)?;
//! assert_eq!(header.message_length as usize, bytes.len());
//! assert_eq!(message, Message::Msg(request));
//! # Ok::<(), mongo_driver::Error>(())
//! ```

mod bytes;
pub mod compression;
pub mod header;
mod io;
pub mod op_msg;
pub mod op_query;
pub mod op_reply;

use std::sync::atomic::{AtomicI32, Ordering};

pub use compression::Compressor;
pub use header::{HEADER_LEN, Header, OpCode};
pub use io::{read_handshake_reply, read_message, write_message};
pub use op_msg::{DocumentSequence, MsgFlags, OpMsg};
pub use op_query::OpQuery;
pub use op_reply::OpReply;

use crate::error::{Error, Result};

/// The lowest wire version this driver speaks (MongoDB 3.6).
pub const MIN_SUPPORTED_WIRE_VERSION: i32 = 6;
/// The highest wire version this driver speaks (MongoDB 8.0).
pub const MAX_SUPPORTED_WIRE_VERSION: i32 = 25;

/// The largest message accepted before the handshake reports `maxMessageSizeBytes`
/// (the server's default, 48,000,000 bytes).
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 48_000_000;

static NEXT_REQUEST_ID: AtomicI32 = AtomicI32::new(1);

/// A fresh request id, unique within the process until the 32-bit counter wraps.
pub fn next_request_id() -> i32 {
    NEXT_REQUEST_ID.fetch_add(1, Ordering::Relaxed)
}

/// One decoded wire message.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// An OP_MSG (opcode 2013).
    Msg(OpMsg),
    /// A legacy OP_REPLY (opcode 1), the answer to an OP_QUERY.
    Reply(OpReply),
    /// A legacy OP_QUERY (opcode 2004).
    Query(OpQuery),
}

impl Message {
    /// Encodes the message with the given header ids.
    pub fn encode(&self, request_id: i32, response_to: i32) -> Result<Vec<u8>> {
        match self {
            Message::Msg(msg) => msg.encode(request_id, response_to),
            Message::Reply(reply) => reply.encode(request_id, response_to),
            Message::Query(query) => query.encode(request_id),
        }
    }
}

/// Decodes one complete message (header included) from `bytes`, which must hold exactly
/// the `messageLength` bytes the header announces.
pub fn decode_message(bytes: &[u8]) -> Result<(Header, Message)> {
    let header = Header::decode(bytes)?;
    if header.message_length as usize != bytes.len() {
        return Err(Error::invalid_response(format!(
            "the message header announces {} bytes but {} were given",
            header.message_length,
            bytes.len()
        )));
    }
    let message = match header.op_code {
        OpCode::Msg => Message::Msg(OpMsg::decode(&header, bytes)?),
        OpCode::Reply => Message::Reply(OpReply::decode(&bytes[HEADER_LEN..])?),
        OpCode::Query => Message::Query(OpQuery::decode(&bytes[HEADER_LEN..])?),
        OpCode::Compressed => {
            // The original message under the same header ids (OP_COMPRESSED spec).
            let inner = compression::unwrap(bytes, DEFAULT_MAX_MESSAGE_SIZE)?;
            let (_, message) = decode_message(&inner)?;
            return Ok((header, message));
        }
    };
    Ok((header, message))
}

#[cfg(test)]
mod tests;
