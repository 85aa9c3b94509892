//! GridFS spec "Writing files" / "Reading files" in bounded memory: streams files of several
//! sizes up (`upload_from_reader`) and down (`download_to_writer`) and prints this process's
//! resident memory for each, so growth with the file size shows.
//!
//! ```sh
//! cargo run --example gridfs_memory -- 1 10 50          # sizes in MiB; embedded simulator
//! MONGODB_URI=mongodb://… cargo run --example gridfs_memory -- 1 10 50
//! ```
//!
//! With the embedded simulator the stored chunks live in this same process, so its peak
//! includes them; against a separate `mongo-sim` (or a server) through `MONGODB_URI` the
//! numbers are the driver's alone. The peak (`VmHWM`) is reset before each phase through
//! `/proc/self/clear_refs` where Linux allows it.

use std::pin::Pin;
use std::task::{Context, Poll};

use bson::{Bson, doc};
use mongo_driver::Client;
use mongo_driver::gridfs::GridFsBucketOptions;

/// `VmHWM` and `VmRSS` of this process, in KiB.
fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// Resets the peak RSS to the current RSS (Linux: `5` written to `clear_refs`); whether it
/// could.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn pattern(i: u64) -> u8 {
    (i.wrapping_mul(2_654_435_761) >> 13) as u8
}

/// Yields `len` pattern bytes without holding them.
struct Source {
    pos: u64,
    len: u64,
}

impl tokio::io::AsyncRead for Source {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let n = (buf.remaining() as u64).min(self.len - self.pos);
        let start = self.pos;
        let bytes: Vec<u8> = (start..start + n).map(pattern).collect();
        buf.put_slice(&bytes);
        self.pos += n;
        Poll::Ready(Ok(()))
    }
}

/// Checks the pattern without keeping the bytes.
struct Sink {
    pos: u64,
    mismatches: u64,
}

impl tokio::io::AsyncWrite for Sink {
    fn poll_write(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let start = self.pos;
        self.mismatches += buf.iter().zip(start..).filter(|(b, i)| **b != pattern(*i)).count() as u64;
        self.pos += buf.len() as u64;
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sizes: Vec<u64> = std::env::args().skip(1).map(|a| a.parse()).collect::<Result<_, _>>()?;
    let sizes = if sizes.is_empty() { vec![1, 10, 50] } else { sizes };
    let (uri, _deployment) = match std::env::var("MONGODB_URI") {
        Ok(uri) => (uri, None),
        Err(_) => {
            let d = mongo_sim::Deployment::start(mongo_sim::Config::replica_set(3)).await?;
            (d.connection_string().to_string(), Some(d))
        }
    };
    let where_ = if _deployment.is_some() { "embedded simulator (same process)" } else { "MONGODB_URI" };
    let client = Client::with_uri_str(&uri).await?;
    let bucket = client.database("gridfs_memory").gridfs_bucket(GridFsBucketOptions::default());
    bucket.drop().await.ok();
    let resets = reset_peak();
    println!("GridFS streaming against the {where_}; 255 KiB chunks; MiB of resident memory");
    println!("  peak = VmHWM during the phase{}", if resets { "" } else { " (cannot reset: since start)" });
    println!(
        "  {:>8} {:>10} {:>12} {:>10} {:>14} {:>10}",
        "file", "rss before", "upload peak", "rss after", "download peak", "rss after"
    );
    for size in sizes {
        let len = size << 20;
        let (_, before) = memory_kib();
        reset_peak();
        let id = bucket.upload_from_reader("big.bin", Source { pos: 0, len }, None).await?;
        let (upload_peak, after_upload) = memory_kib();
        reset_peak();
        let mut sink = Sink { pos: 0, mismatches: 0 };
        let written = bucket.download_to_writer(Bson::ObjectId(id), &mut sink).await?;
        let (download_peak, after_download) = memory_kib();
        if written != len || sink.mismatches != 0 {
            return Err(format!("{size} MiB: {written} bytes back, {} mismatched", sink.mismatches).into());
        }
        println!(
            "  {:>5} MiB {:>10} {:>12} {:>10} {:>14} {:>10}",
            size,
            mib(before),
            mib(upload_peak),
            mib(after_upload),
            mib(download_peak),
            mib(after_download)
        );
        bucket.delete(Bson::ObjectId(id)).await?;
        // The chunks are gone from the server; nothing of the file should stay here.
        let _ = bucket.files().count_documents(doc! {}).await?;
    }
    client.shutdown().await;
    Ok(())
}
