//! OP_REPLY, the legacy reply to an OP_QUERY (read for the legacy hello handshake).

use bson::Document;

use super::bytes::{Reader, length_i32, write_document};
use super::header::{HEADER_LEN, Header, OpCode};
use crate::error::{Error, Result};

/// An OP_REPLY message.
#[derive(Debug, Clone, PartialEq)]
pub struct OpReply {
    /// The response flags (see [`OpReply::QUERY_FAILURE`]).
    pub response_flags: u32,
    /// The cursor id (0 when the reply closes the cursor).
    pub cursor_id: i64,
    /// Where in the cursor this reply starts.
    pub starting_from: i32,
    /// The returned documents (`numberReturned` is their count).
    pub documents: Vec<Document>,
}

impl OpReply {
    /// Response flag bit 0: the cursor in a getMore was not found.
    pub const CURSOR_NOT_FOUND: u32 = 1;
    /// Response flag bit 1: the query failed; the one document holds `$err`.
    pub const QUERY_FAILURE: u32 = 1 << 1;

    /// Whether the server flagged the query as failed.
    pub fn query_failure(&self) -> bool {
        self.response_flags & Self::QUERY_FAILURE != 0
    }

    /// The single document a command reply carries, or an error if there is not exactly one.
    pub fn single_document(&self) -> Result<&Document> {
        match self.documents.as_slice() {
            [doc] => Ok(doc),
            docs => Err(Error::invalid_response(format!(
                "an OP_REPLY to a command must hold one document, it holds {}",
                docs.len()
            ))),
        }
    }

    /// Encodes the message (header included).
    pub fn encode(&self, request_id: i32, response_to: i32) -> Result<Vec<u8>> {
        let mut out = vec![0u8; HEADER_LEN];
        out.extend_from_slice(&self.response_flags.to_le_bytes());
        out.extend_from_slice(&self.cursor_id.to_le_bytes());
        out.extend_from_slice(&self.starting_from.to_le_bytes());
        let count = length_i32(self.documents.len(), "the OP_REPLY document count")?;
        out.extend_from_slice(&count.to_le_bytes());
        for doc in &self.documents {
            write_document(&mut out, doc, "an OP_REPLY document")?;
        }
        let total = length_i32(out.len(), "an OP_REPLY")?;
        let mut header = Vec::with_capacity(HEADER_LEN);
        Header { message_length: total, request_id, response_to, op_code: OpCode::Reply }
            .encode_into(&mut header);
        out[..HEADER_LEN].copy_from_slice(&header);
        Ok(out)
    }

    /// Decodes the part of an OP_REPLY after the header, checking that `numberReturned`
    /// matches the documents present and that nothing trails them.
    pub fn decode(payload: &[u8]) -> Result<OpReply> {
        let mut r = Reader::new(payload, "OP_REPLY");
        let response_flags = r.u32("responseFlags")?;
        let cursor_id = r.i64("cursorID")?;
        let starting_from = r.i32("startingFrom")?;
        let number_returned = r.i32("numberReturned")?;
        let count = usize::try_from(number_returned).map_err(|_| {
            Error::invalid_response(format!("OP_REPLY numberReturned is negative ({number_returned})"))
        })?;
        // Each document takes at least 5 bytes: never trust the count for allocation.
        let mut documents = Vec::with_capacity(count.min(r.remaining() / 5));
        for _ in 0..count {
            documents.push(r.document("document")?);
        }
        if !r.is_empty() {
            return Err(Error::invalid_response(format!(
                "OP_REPLY has {} bytes after its {count} documents",
                r.remaining()
            )));
        }
        Ok(OpReply { response_flags, cursor_id, starting_from, documents })
    }
}
