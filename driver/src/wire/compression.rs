//! Wire compression (`compression/OP_COMPRESSED.rst`): the compressors (snappy, zlib, zstd),
//! wrapping an encoded message in OP_COMPRESSED and unwrapping one, and the commands that are
//! never compressed.
//!
//! Crates: `snap` (raw snappy, the format the server uses), `flate2` (zlib with its header,
//! on the pure-Rust miniz_oxide backend) and `zstd` (bindings to the reference C library,
//! built with the C compiler; the pure-Rust `ruzstd` decodes well but its encoder is young and
//! slow, and the reference library is what the server links).

use std::io::{Read, Write};

use super::header::{HEADER_LEN, Header, OpCode};
use crate::error::{Error, Result};

/// A compressor a client may negotiate (`compressors=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compressor {
    /// `snappy` (id 1).
    Snappy,
    /// `zlib` (id 2), with `zlibCompressionLevel` (-1, the default, to 9).
    Zlib {
        /// The level; -1 means zlib's default (6).
        level: i32,
    },
    /// `zstd` (id 3), at the library's default level.
    Zstd,
}

/// The commands whose messages are never compressed (OP_COMPRESSED spec, "Messages not
/// allowed to be compressed").
pub const UNCOMPRESSIBLE_COMMANDS: &[&str] = &[
    "hello",
    "ismaster",
    "saslstart",
    "saslcontinue",
    "getnonce",
    "authenticate",
    "createuser",
    "updateuser",
    "copydbsaslstart",
    "copydbgetnonce",
    "copydb",
];

/// Whether a command named `name` may be sent compressed (case-insensitively: `isMaster`
/// and `ismaster` are the same command).
pub fn may_compress(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    !UNCOMPRESSIBLE_COMMANDS.contains(&lower.as_str())
}

impl Compressor {
    /// The compressor named `name` in a handshake (`snappy`, `zlib`, `zstd`), with
    /// `zlib_level` for zlib.
    pub fn from_name(name: &str, zlib_level: Option<i32>) -> Option<Self> {
        match name {
            "snappy" => Some(Compressor::Snappy),
            "zlib" => Some(Compressor::Zlib { level: zlib_level.unwrap_or(-1) }),
            "zstd" => Some(Compressor::Zstd),
            _ => None,
        }
    }

    /// The name used in the handshake's `compression` list.
    pub fn name(self) -> &'static str {
        match self {
            Compressor::Snappy => "snappy",
            Compressor::Zlib { .. } => "zlib",
            Compressor::Zstd => "zstd",
        }
    }

    /// The `compressorId` of OP_COMPRESSED.
    pub fn id(self) -> u8 {
        match self {
            Compressor::Snappy => 1,
            Compressor::Zlib { .. } => 2,
            Compressor::Zstd => 3,
        }
    }

    /// Compresses `data`.
    pub fn compress(self, data: &[u8]) -> Result<Vec<u8>> {
        let failed = |e: &dyn std::fmt::Display| {
            Error::invalid_argument(format!("{} compression failed: {e}", self.name()))
        };
        match self {
            Compressor::Snappy => snap::raw::Encoder::new().compress_vec(data).map_err(|e| failed(&e)),
            Compressor::Zlib { level } => {
                let level = if (0..=9).contains(&level) {
                    flate2::Compression::new(level as u32)
                } else {
                    flate2::Compression::default()
                };
                let mut encoder = flate2::write::ZlibEncoder::new(Vec::with_capacity(data.len() / 2), level);
                encoder.write_all(data).map_err(|e| failed(&e))?;
                encoder.finish().map_err(|e| failed(&e))
            }
            Compressor::Zstd => {
                zstd::bulk::compress(data, zstd::DEFAULT_COMPRESSION_LEVEL).map_err(|e| failed(&e))
            }
        }
    }
}

/// Decompresses the payload of an OP_COMPRESSED whose `compressorId` is `id` into exactly
/// `size` bytes (any compressor: the server may use any negotiated one, or noop).
pub fn decompress(id: u8, payload: &[u8], size: usize) -> Result<Vec<u8>> {
    let bad = |what: &str, e: &dyn std::fmt::Display| {
        Error::invalid_response(format!("cannot decompress an OP_COMPRESSED message ({what}): {e}"))
    };
    let out = match id {
        0 => payload.to_vec(),
        1 => {
            let announced = snap::raw::decompress_len(payload).map_err(|e| bad("snappy", &e))?;
            if announced != size {
                return Err(Error::invalid_response(format!(
                    "an OP_COMPRESSED message announces {size} bytes but its snappy data holds {announced}"
                )));
            }
            snap::raw::Decoder::new().decompress_vec(payload).map_err(|e| bad("snappy", &e))?
        }
        2 => {
            let mut out = Vec::with_capacity(size);
            flate2::read::ZlibDecoder::new(payload)
                .take(size as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| bad("zlib", &e))?;
            out
        }
        3 => zstd::bulk::decompress(payload, size).map_err(|e| bad("zstd", &e))?,
        other => {
            return Err(Error::invalid_response(format!("OP_COMPRESSED with unknown compressorId {other}")));
        }
    };
    if out.len() != size {
        return Err(Error::invalid_response(format!(
            "an OP_COMPRESSED message announces {size} uncompressed bytes but holds {}",
            out.len()
        )));
    }
    Ok(out)
}

/// Wraps an encoded message (header included) in an OP_COMPRESSED with the same request ids.
pub fn wrap(message: &[u8], compressor: Compressor) -> Result<Vec<u8>> {
    let header = Header::decode(message)?;
    let body = &message[HEADER_LEN..];
    let compressed = compressor.compress(body)?;
    let length = HEADER_LEN + 9 + compressed.len();
    let mut out = Vec::with_capacity(length);
    let length = i32::try_from(length).map_err(|_| {
        Error::invalid_argument(format!("a compressed message of {length} bytes is too large"))
    })?;
    Header { message_length: length, op_code: OpCode::Compressed, ..header }.encode_into(&mut out);
    out.extend_from_slice(&header.op_code.code().to_le_bytes());
    out.extend_from_slice(&(body.len() as i32).to_le_bytes());
    out.push(compressor.id());
    out.extend_from_slice(&compressed);
    Ok(out)
}

/// Unwraps an OP_COMPRESSED message (header included): the original message, header included.
/// `max_size` bounds the announced uncompressed size before anything is allocated for it.
pub fn unwrap(message: &[u8], max_size: usize) -> Result<Vec<u8>> {
    let header = Header::decode(message)?;
    let body = &message[HEADER_LEN..];
    if body.len() < 9 {
        return Err(Error::invalid_response("an OP_COMPRESSED message is shorter than its fields"));
    }
    let original = i32::from_le_bytes([body[0], body[1], body[2], body[3]]);
    let size = i32::from_le_bytes([body[4], body[5], body[6], body[7]]);
    let id = body[8];
    let op_code = OpCode::from_code(original).filter(|c| *c != OpCode::Compressed).ok_or_else(|| {
        Error::invalid_response(format!("OP_COMPRESSED wraps an unsupported opcode {original}"))
    })?;
    let size = usize::try_from(size).ok().filter(|s| HEADER_LEN + s <= max_size).ok_or_else(|| {
        Error::invalid_response(format!("OP_COMPRESSED announces an uncompressed size of {size}"))
    })?;
    let inner = decompress(id, &body[9..], size)?;
    let mut out = Vec::with_capacity(HEADER_LEN + inner.len());
    Header { message_length: (HEADER_LEN + inner.len()) as i32, op_code, ..header }.encode_into(&mut out);
    out.extend_from_slice(&inner);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use bson::doc;

    use super::*;
    use crate::wire::{Message, OpMsg, decode_message};

    #[test]
    fn every_compressor_round_trips_an_op_msg() {
        let msg = OpMsg::new(doc! {"insert": "c", "$db": "d", "pad": "x".repeat(2000)});
        let bytes = msg.encode(7, 0).expect("encodes");
        for compressor in [
            Compressor::Snappy,
            Compressor::Zlib { level: -1 },
            Compressor::Zlib { level: 9 },
            Compressor::Zstd,
        ] {
            let wrapped = wrap(&bytes, compressor).expect("wraps");
            assert!(wrapped.len() < bytes.len(), "{compressor:?} compresses a repetitive body");
            let (header, message) = decode_message(&wrapped).expect("decodes");
            assert_eq!(header.request_id, 7);
            assert_eq!(message, Message::Msg(msg.clone()), "{compressor:?}");
        }
    }

    #[test]
    fn corrupt_or_lying_payloads_are_errors() {
        let bytes = OpMsg::new(doc! {"ping": 1, "$db": "d"}).encode(1, 0).expect("encodes");
        let mut wrapped = wrap(&bytes, Compressor::Zstd).expect("wraps");
        let last = wrapped.len() - 1;
        wrapped[last] ^= 0xff;
        assert!(decode_message(&wrapped).is_err());
        let mut lying = wrap(&bytes, Compressor::Zlib { level: 1 }).expect("wraps");
        lying[HEADER_LEN + 4..HEADER_LEN + 8].copy_from_slice(&3i32.to_le_bytes());
        assert!(decode_message(&lying).is_err());
        let mut unknown = wrap(&bytes, Compressor::Snappy).expect("wraps");
        unknown[HEADER_LEN + 8] = 9;
        assert!(decode_message(&unknown).is_err());
    }

    #[test]
    fn handshake_and_auth_commands_are_never_compressed() {
        for name in ["hello", "isMaster", "saslStart", "saslContinue", "createUser", "copydb"] {
            assert!(!may_compress(name), "{name}");
        }
        assert!(may_compress("find"));
    }
}
