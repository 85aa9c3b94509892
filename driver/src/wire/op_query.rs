//! OP_QUERY, the legacy query message: used only for the first `hello` of a connection when
//! no API version is declared (OP_MSG spec, "Usage"; handshake spec).

use bson::Document;

use super::bytes::{Reader, length_i32, write_cstring, write_document};
use super::header::{HEADER_LEN, Header, OpCode};
use crate::error::{Error, Result};

/// An OP_QUERY message.
#[derive(Debug, Clone, PartialEq)]
pub struct OpQuery {
    /// The query flags (see [`OpQuery::SECONDARY_OK`]).
    pub flags: u32,
    /// `<db>.<collection>`; `<db>.$cmd` for a command.
    pub full_collection_name: String,
    /// Documents to skip.
    pub number_to_skip: i32,
    /// Documents to return (`-1` for a command: one reply document, close the cursor).
    pub number_to_return: i32,
    /// The query (or command) document.
    pub query: Document,
    /// An optional projection.
    pub return_fields_selector: Option<Document>,
}

impl OpQuery {
    /// Flag bit 2: the query may run on a secondary.
    pub const SECONDARY_OK: u32 = 1 << 2;

    /// A command OP_QUERY on `db` (`<db>.$cmd`, one reply document), as used for the legacy
    /// hello handshake; the flags allow running on a secondary.
    pub fn command(db: &str, command: Document) -> OpQuery {
        OpQuery {
            flags: Self::SECONDARY_OK,
            full_collection_name: format!("{db}.$cmd"),
            number_to_skip: 0,
            number_to_return: -1,
            query: command,
            return_fields_selector: None,
        }
    }

    /// Encodes the message (header included; `responseTo` is 0).
    pub fn encode(&self, request_id: i32) -> Result<Vec<u8>> {
        let mut out = vec![0u8; HEADER_LEN];
        out.extend_from_slice(&self.flags.to_le_bytes());
        write_cstring(&mut out, &self.full_collection_name, "the OP_QUERY collection name")?;
        out.extend_from_slice(&self.number_to_skip.to_le_bytes());
        out.extend_from_slice(&self.number_to_return.to_le_bytes());
        write_document(&mut out, &self.query, "the OP_QUERY query")?;
        if let Some(fields) = &self.return_fields_selector {
            write_document(&mut out, fields, "the OP_QUERY projection")?;
        }
        let total = length_i32(out.len(), "an OP_QUERY")?;
        let mut header = Vec::with_capacity(HEADER_LEN);
        Header { message_length: total, request_id, response_to: 0, op_code: OpCode::Query }
            .encode_into(&mut header);
        out[..HEADER_LEN].copy_from_slice(&header);
        Ok(out)
    }

    /// Decodes the part of an OP_QUERY after the header.
    pub fn decode(payload: &[u8]) -> Result<OpQuery> {
        let mut r = Reader::new(payload, "OP_QUERY");
        let flags = r.u32("flags")?;
        let full_collection_name = r.cstring("fullCollectionName")?;
        let number_to_skip = r.i32("numberToSkip")?;
        let number_to_return = r.i32("numberToReturn")?;
        let query = r.document("query")?;
        let return_fields_selector =
            if r.is_empty() { None } else { Some(r.document("returnFieldsSelector")?) };
        if !r.is_empty() {
            return Err(Error::invalid_response(format!(
                "OP_QUERY has {} unexpected trailing bytes",
                r.remaining()
            )));
        }
        Ok(OpQuery {
            flags,
            full_collection_name,
            number_to_skip,
            number_to_return,
            query,
            return_fields_selector,
        })
    }
}
