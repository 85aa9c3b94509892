//! The standard message header (`MsgHeader`: messageLength, requestID, responseTo, opCode).

use crate::error::{Error, Result};

/// The header's size in bytes.
pub const HEADER_LEN: usize = 16;

/// The opcodes this driver reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpCode {
    /// OP_REPLY (1): the legacy reply to an OP_QUERY.
    Reply,
    /// OP_QUERY (2004): the legacy query, used for the first `hello` only.
    Query,
    /// OP_COMPRESSED (2012): recognised so it can be reported, not supported.
    Compressed,
    /// OP_MSG (2013).
    Msg,
}

impl OpCode {
    /// The opcode's number on the wire.
    pub fn code(self) -> i32 {
        match self {
            OpCode::Reply => 1,
            OpCode::Query => 2004,
            OpCode::Compressed => 2012,
            OpCode::Msg => 2013,
        }
    }

    /// The opcode with number `code`, if it is one of ours.
    pub fn from_code(code: i32) -> Option<OpCode> {
        Some(match code {
            1 => OpCode::Reply,
            2004 => OpCode::Query,
            2012 => OpCode::Compressed,
            2013 => OpCode::Msg,
            _ => return None,
        })
    }
}

/// A message header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The whole message's length in bytes, header included.
    pub message_length: i32,
    /// The sender's id for this message.
    pub request_id: i32,
    /// The request id this message answers (0 for requests).
    pub response_to: i32,
    /// What kind of message follows.
    pub op_code: OpCode,
}

impl Header {
    /// Appends the header's 16 bytes to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.message_length.to_le_bytes());
        out.extend_from_slice(&self.request_id.to_le_bytes());
        out.extend_from_slice(&self.response_to.to_le_bytes());
        out.extend_from_slice(&self.op_code.code().to_le_bytes());
    }

    /// Decodes the header at the start of `bytes`, checking that the length is at least a
    /// header's and that the opcode is known.
    pub fn decode(bytes: &[u8]) -> Result<Header> {
        let field = |i: usize| -> Result<i32> {
            bytes.get(i * 4..i * 4 + 4).and_then(|b| b.try_into().ok()).map(i32::from_le_bytes).ok_or_else(
                || {
                    Error::invalid_response(format!(
                        "a message header needs {HEADER_LEN} bytes, got {}",
                        bytes.len()
                    ))
                },
            )
        };
        let message_length = field(0)?;
        let request_id = field(1)?;
        let response_to = field(2)?;
        let code = field(3)?;
        if message_length < HEADER_LEN as i32 {
            return Err(Error::invalid_response(format!(
                "the message header announces a length of {message_length}, less than the header itself"
            )));
        }
        let op_code = OpCode::from_code(code).ok_or_else(|| {
            Error::invalid_response(format!("unknown opcode {code} in message {request_id}"))
        })?;
        Ok(Header { message_length, request_id, response_to, op_code })
    }
}
