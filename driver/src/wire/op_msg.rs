//! OP_MSG (`message/OP_MSG.rst`): flag bits, the kind-0 body section, kind-1 document
//! sequences, and the optional CRC-32C checksum.

use std::collections::BTreeSet;
use std::ops::BitOr;

use bson::Document;

use super::bytes::{Reader, length_i32, patch_i32, write_cstring, write_document};
use super::header::{HEADER_LEN, Header, OpCode};
use crate::error::{Error, Result};

/// OP_MSG `flagBits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MsgFlags(pub u32);

impl MsgFlags {
    /// Bit 0: the message ends with a CRC-32C checksum.
    pub const CHECKSUM_PRESENT: MsgFlags = MsgFlags(1);
    /// Bit 1: the sender will send another message without waiting (no reply to a request;
    /// more replies follow a response).
    pub const MORE_TO_COME: MsgFlags = MsgFlags(1 << 1);
    /// Bit 16: the client accepts several replies (exhaust) to this request.
    pub const EXHAUST_ALLOWED: MsgFlags = MsgFlags(1 << 16);
    /// The low 16 bits are "required": a set bit the recipient does not know is an error.
    const REQUIRED_MASK: u32 = 0xFFFF;
    const KNOWN_REQUIRED: u32 = Self::CHECKSUM_PRESENT.0 | Self::MORE_TO_COME.0;

    /// No flags.
    pub const fn empty() -> MsgFlags {
        MsgFlags(0)
    }

    /// Whether every bit of `other` is set here.
    pub const fn contains(self, other: MsgFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// These flags with `other`'s bits set or cleared.
    pub const fn with(self, other: MsgFlags, on: bool) -> MsgFlags {
        if on { MsgFlags(self.0 | other.0) } else { MsgFlags(self.0 & !other.0) }
    }

    fn unknown_required(self) -> u32 {
        self.0 & Self::REQUIRED_MASK & !Self::KNOWN_REQUIRED
    }
}

impl BitOr for MsgFlags {
    type Output = MsgFlags;

    fn bitor(self, rhs: MsgFlags) -> MsgFlags {
        MsgFlags(self.0 | rhs.0)
    }
}

/// A kind-1 section: documents sent as a sequence instead of a BSON array argument.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentSequence {
    /// The command argument the documents belong to (e.g. `documents` for `insert`).
    pub identifier: String,
    /// The documents, in order.
    pub documents: Vec<Document>,
}

/// An OP_MSG: flags, exactly one body (kind 0) and any number of document sequences
/// (kind 1) with distinct identifiers.
#[derive(Debug, Clone, PartialEq)]
pub struct OpMsg {
    /// The flag bits. With [`MsgFlags::CHECKSUM_PRESENT`], encoding appends a checksum.
    pub flags: MsgFlags,
    /// The kind-0 section: the command or reply document.
    pub body: Document,
    /// The kind-1 sections.
    pub sequences: Vec<DocumentSequence>,
}

impl OpMsg {
    /// A message with `body`, no flags and no document sequences.
    pub fn new(body: Document) -> OpMsg {
        OpMsg { flags: MsgFlags::empty(), body, sequences: Vec::new() }
    }

    /// Adds a kind-1 document sequence.
    pub fn with_sequence(mut self, identifier: impl Into<String>, documents: Vec<Document>) -> OpMsg {
        self.sequences.push(DocumentSequence { identifier: identifier.into(), documents });
        self
    }

    /// Encodes the message (header included): the body first, then the sequences, then the
    /// checksum if [`MsgFlags::CHECKSUM_PRESENT`] is set.
    pub fn encode(&self, request_id: i32, response_to: i32) -> Result<Vec<u8>> {
        let mut seen = BTreeSet::new();
        if let Some(dup) = self.sequences.iter().find(|s| !seen.insert(s.identifier.as_str())) {
            return Err(Error::invalid_argument(format!(
                "OP_MSG document sequence identifier `{}` is used twice",
                dup.identifier
            )));
        }
        let mut out = vec![0u8; HEADER_LEN];
        out.extend_from_slice(&self.flags.0.to_le_bytes());
        out.push(0);
        write_document(&mut out, &self.body, "the OP_MSG body")?;
        for sequence in &self.sequences {
            out.push(1);
            let size_at = out.len();
            out.extend_from_slice(&[0; 4]);
            write_cstring(&mut out, &sequence.identifier, "an OP_MSG document sequence identifier")?;
            for doc in &sequence.documents {
                write_document(&mut out, doc, "an OP_MSG sequence document")?;
            }
            let size = length_i32(out.len() - size_at, "an OP_MSG document sequence")?;
            patch_i32(&mut out, size_at, size);
        }
        let checksum = self.flags.contains(MsgFlags::CHECKSUM_PRESENT);
        let total = length_i32(out.len() + if checksum { 4 } else { 0 }, "an OP_MSG")?;
        let mut header = Vec::with_capacity(HEADER_LEN);
        Header { message_length: total, request_id, response_to, op_code: OpCode::Msg }
            .encode_into(&mut header);
        out[..HEADER_LEN].copy_from_slice(&header);
        if checksum {
            let crc = crc32c::crc32c(&out);
            out.extend_from_slice(&crc.to_le_bytes());
        }
        Ok(out)
    }

    /// Decodes an OP_MSG from the whole message `bytes` (header included, as described by
    /// `header`), verifying the checksum when one is present.
    pub fn decode(header: &Header, bytes: &[u8]) -> Result<OpMsg> {
        let id = header.request_id;
        let mut r = Reader::new(bytes.get(HEADER_LEN..).unwrap_or_default(), "OP_MSG");
        let flags = MsgFlags(r.u32("flagBits")?);
        let unknown = flags.unknown_required();
        if unknown != 0 {
            return Err(Error::invalid_response(format!(
                "OP_MSG {id} sets unknown required flag bits {unknown:#06x}"
            )));
        }
        let sections_end = if flags.contains(MsgFlags::CHECKSUM_PRESENT) {
            let Some(end) = bytes.len().checked_sub(4).filter(|end| *end >= HEADER_LEN + 4) else {
                return Err(Error::invalid_response(format!(
                    "OP_MSG {id} sets checksumPresent but has no checksum"
                )));
            };
            let mut tail = [0u8; 4];
            tail.copy_from_slice(&bytes[end..]);
            let expected = u32::from_le_bytes(tail);
            let actual = crc32c::crc32c(&bytes[..end]);
            if expected != actual {
                return Err(Error::invalid_response(format!(
                    "OP_MSG {id} checksum mismatch: the message says {expected:#010x}, its bytes give {actual:#010x}"
                )));
            }
            end
        } else {
            bytes.len()
        };
        let sections = &bytes[HEADER_LEN + r.position()..sections_end];
        let mut r = Reader::new(sections, "OP_MSG section");
        let mut body = None;
        let mut sequences: Vec<DocumentSequence> = Vec::new();
        while !r.is_empty() {
            match r.u8("payloadType")? {
                0 => {
                    let doc = r.document("kind-0 body")?;
                    if body.replace(doc).is_some() {
                        return Err(Error::invalid_response(format!(
                            "OP_MSG {id} has more than one body section"
                        )));
                    }
                }
                1 => {
                    let size = r.i32("document sequence size")?;
                    let content = usize::try_from(size)
                        .ok()
                        .and_then(|s| s.checked_sub(4))
                        .filter(|len| *len >= 1 && *len <= r.remaining())
                        .ok_or_else(|| {
                            Error::invalid_response(format!(
                                "OP_MSG {id}: a document sequence of size {size} does not fit the {} bytes left",
                                r.remaining() + 4
                            ))
                        })?;
                    let mut seq =
                        Reader::new(r.take(content, "document sequence")?, "OP_MSG document sequence");
                    let identifier = seq.cstring("identifier")?;
                    if sequences.iter().any(|s| s.identifier == identifier) {
                        return Err(Error::invalid_response(format!(
                            "OP_MSG {id} has two document sequences named `{identifier}`"
                        )));
                    }
                    let mut documents = Vec::new();
                    while !seq.is_empty() {
                        documents.push(seq.document("sequence document")?);
                    }
                    sequences.push(DocumentSequence { identifier, documents });
                }
                other => {
                    return Err(Error::invalid_response(format!(
                        "OP_MSG {id} has a section of unknown payload type {other}"
                    )));
                }
            }
        }
        let body =
            body.ok_or_else(|| Error::invalid_response(format!("OP_MSG {id} has no body (kind-0) section")))?;
        Ok(OpMsg { flags, body, sequences })
    }
}
