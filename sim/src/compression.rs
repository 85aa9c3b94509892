//! Wire compression on the server side (`compression/OP_COMPRESSED.rst`): the compressors a
//! node offers in the handshake (snappy, zlib, zstd, like `mongod`'s default
//! `--networkMessageCompressors`), negotiation (the client's list filtered to those, in the
//! client's order), and compressing/decompressing message bodies.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::wire::WireError;

/// The compressors a node supports, by handshake name and `compressorId`.
pub const SUPPORTED: &[(&str, u8)] = &[("snappy", 1), ("zlib", 2), ("zstd", 3)];

/// A node's compression counters (`serverStatus.network.compression`): per compressor, the
/// bytes into and out of its compressor and decompressor.
#[derive(Debug, Default)]
pub struct CompressionStats {
    /// By `compressorId` 1..=3: [compressor in, compressor out, decompressor in, decompressor out].
    counters: [[AtomicU64; 4]; 3],
}

impl CompressionStats {
    fn slot(&self, id: u8) -> Option<&[AtomicU64; 4]> {
        self.counters.get(usize::from(id).checked_sub(1)?)
    }

    /// Counts a reply compressed with `id` from `plain` to `packed` bytes.
    pub fn compressed(&self, id: u8, plain: usize, packed: usize) {
        if let Some(c) = self.slot(id) {
            c[0].fetch_add(plain as u64, Ordering::Relaxed);
            c[1].fetch_add(packed as u64, Ordering::Relaxed);
        }
    }

    /// Counts a request decompressed with `id` from `packed` to `plain` bytes.
    pub fn decompressed(&self, id: u8, packed: usize, plain: usize) {
        if let Some(c) = self.slot(id) {
            c[2].fetch_add(packed as u64, Ordering::Relaxed);
            c[3].fetch_add(plain as u64, Ordering::Relaxed);
        }
    }

    /// The `network.compression` document of `serverStatus`.
    pub fn to_document(&self) -> bson::Document {
        let mut out = bson::Document::new();
        for (name, id) in SUPPORTED {
            let Some(c) = self.slot(*id) else { continue };
            let n = |i: usize| c[i].load(Ordering::Relaxed) as i64;
            out.insert(
                *name,
                bson::doc! {
                    "compressor": { "bytesIn": n(0), "bytesOut": n(1) },
                    "decompressor": { "bytesIn": n(2), "bytesOut": n(3) },
                },
            );
        }
        out
    }
}

/// The `compression` field of a hello reply: the client's names the server supports, in the
/// client's order; `None` when nothing is in common (the field is then left out).
pub fn negotiate(client: &[bson::Bson]) -> Option<Vec<String>> {
    let common: Vec<String> = client
        .iter()
        .filter_map(|n| n.as_str())
        .filter(|n| SUPPORTED.iter().any(|(name, _)| name == n))
        .map(str::to_owned)
        .collect();
    (!common.is_empty()).then_some(common)
}

/// Decompresses a payload compressed with `id` (0 is noop) into `size` bytes.
pub fn decompress(id: u8, payload: &[u8], size: usize) -> Result<Vec<u8>, WireError> {
    let bad = |what: &str, e: &dyn std::fmt::Display| WireError::Decompression(format!("{what}: {e}"));
    let out = match id {
        0 => payload.to_vec(),
        1 => snap::raw::Decoder::new().decompress_vec(payload).map_err(|e| bad("snappy", &e))?,
        2 => {
            let mut out = Vec::with_capacity(size);
            flate2::read::ZlibDecoder::new(payload)
                .take(size as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| bad("zlib", &e))?;
            out
        }
        3 => zstd::bulk::decompress(payload, size).map_err(|e| bad("zstd", &e))?,
        other => return Err(WireError::UnsupportedCompressor(other)),
    };
    if out.len() != size {
        return Err(WireError::Decompression(format!(
            "uncompressedSize says {size} bytes, the payload holds {}",
            out.len()
        )));
    }
    Ok(out)
}

/// Compresses `data` with compressor `id` (1 snappy, 2 zlib at the default level, 3 zstd).
pub fn compress(id: u8, data: &[u8]) -> Result<Vec<u8>, WireError> {
    let bad = |what: &str, e: &dyn std::fmt::Display| WireError::Decompression(format!("{what}: {e}"));
    match id {
        0 => Ok(data.to_vec()),
        1 => snap::raw::Encoder::new().compress_vec(data).map_err(|e| bad("snappy", &e)),
        2 => {
            let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(data).map_err(|e| bad("zlib", &e))?;
            encoder.finish().map_err(|e| bad("zlib", &e))
        }
        3 => zstd::bulk::compress(data, zstd::DEFAULT_COMPRESSION_LEVEL).map_err(|e| bad("zstd", &e)),
        other => Err(WireError::UnsupportedCompressor(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_keeps_the_clients_order() {
        let client = vec![bson::Bson::from("zstd"), "lz4".into(), "snappy".into()];
        assert_eq!(negotiate(&client), Some(vec!["zstd".to_owned(), "snappy".to_owned()]));
        assert_eq!(negotiate(&[bson::Bson::from("lz4")]), None);
    }

    #[test]
    fn round_trips() {
        let data = b"hello hello hello hello hello".repeat(10);
        for id in 0..=3 {
            let packed = compress(id, &data).expect("compresses");
            assert_eq!(decompress(id, &packed, data.len()).expect("decompresses"), data);
        }
        assert!(decompress(3, b"garbage", 10).is_err());
        assert_eq!(compress(7, b"x"), Err(WireError::UnsupportedCompressor(7)));
    }
}
