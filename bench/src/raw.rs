//! The ceiling of "Run command": a pre-encoded OP_MSG `{hello: true, $db: "admin"}` (OP_MSG
//! spec, kind-0 section)
//! written and its reply read on one socket, with no driver at all. The message and its BSON
//! are encoded here by hand, independent of the driver's wire module.

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::BenchResult;
use crate::tasks::Timed;

/// The OP_MSG opcode.
const OP_MSG: i32 = 2013;

/// `{hello: true, $db: "admin"}` as BSON: length, boolean element, string element, terminator.
fn hello_bson() -> Vec<u8> {
    let mut doc = Vec::new();
    doc.extend_from_slice(&[0; 4]);
    doc.push(0x08); // boolean
    doc.extend_from_slice(b"hello\0");
    doc.push(1);
    doc.push(0x02); // string
    doc.extend_from_slice(b"$db\0");
    doc.extend_from_slice(&6i32.to_le_bytes()); // "admin" + NUL
    doc.extend_from_slice(b"admin\0");
    doc.push(0);
    let len = doc.len() as i32;
    doc[..4].copy_from_slice(&len.to_le_bytes());
    doc
}

/// The whole message: header (length, requestID, responseTo, opCode), flagBits, one kind-0
/// section holding the hello document.
fn hello_message(request_id: i32) -> Vec<u8> {
    let body = hello_bson();
    let len = (16 + 4 + 1 + body.len()) as i32;
    let mut msg = Vec::with_capacity(len as usize);
    for field in [len, request_id, 0, OP_MSG] {
        msg.extend_from_slice(&field.to_le_bytes());
    }
    msg.extend_from_slice(&0u32.to_le_bytes());
    msg.push(0);
    msg.extend_from_slice(&body);
    msg
}

/// One socket and the pre-encoded hello.
pub struct Raw {
    stream: TcpStream,
    message: Vec<u8>,
    request_id: i32,
    reply: Vec<u8>,
}

impl Raw {
    /// Connects to `host:port` (TCP_NODELAY, as drivers set it) and checks one exchange.
    pub async fn connect(address: &str) -> BenchResult<Self> {
        let stream =
            TcpStream::connect(address).await.map_err(|e| format!("raw: connecting to {address}: {e}"))?;
        stream.set_nodelay(true)?;
        let request_id = 7;
        let mut raw = Self { stream, message: hello_message(request_id), request_id, reply: Vec::new() };
        raw.hello().await?;
        let body = raw.reply.get(21..).ok_or("raw: reply too short for an OP_MSG kind-0 section")?;
        let reply =
            bson::Document::from_reader(body).map_err(|e| format!("raw: reply body is not BSON: {e}"))?;
        if !matches!(
            reply.get("ok"),
            Some(bson::Bson::Double(1.0) | bson::Bson::Int32(1) | bson::Bson::Int64(1))
        ) {
            return Err(format!("raw: the hello failed: {reply}").into());
        }
        Ok(raw)
    }

    /// Writes the hello and reads the whole reply into `reply` (checking only its header),
    /// with as few reads as the kernel allows (usually one); `reply` then holds the header,
    /// flagBits, the section kind and the body.
    pub async fn hello(&mut self) -> BenchResult<()> {
        self.stream.write_all(&self.message).await?;
        self.reply.clear();
        let mut want = 16;
        while self.reply.len() < want {
            if self.reply.capacity() - self.reply.len() < 4096 {
                self.reply.reserve(4096);
            }
            if self.stream.read_buf(&mut self.reply).await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "raw: the server closed the socket",
                )
                .into());
            }
            if want == 16 && self.reply.len() >= 16 {
                let h = &self.reply;
                let field = |i: usize| i32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
                let (len, response_to, op_code) = (field(0), field(8), field(12));
                if op_code != OP_MSG || response_to != self.request_id || !(21..=48_000_000).contains(&len) {
                    return Err(
                        io::Error::new(io::ErrorKind::InvalidData, "raw: unexpected reply header").into()
                    );
                }
                want = len as usize;
            }
        }
        if self.reply.len() != want {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "raw: more bytes than one reply").into());
        }
        Ok(())
    }
}

/// "Run command" on the raw socket: `ops` hellos per iteration.
pub struct RawTask {
    /// The socket.
    pub raw: Raw,
    /// Hellos per iteration.
    pub ops: usize,
}

impl Timed for RawTask {
    async fn before(&mut self) -> BenchResult<()> {
        Ok(())
    }

    async fn run(&mut self) -> BenchResult<()> {
        for _ in 0..self.ops {
            self.raw.hello().await?;
        }
        Ok(())
    }
}
