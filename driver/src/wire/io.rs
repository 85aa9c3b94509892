//! Reading and writing one whole message over an async byte stream, with a size limit.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::header::{HEADER_LEN, Header};
use super::{Message, decode_message};
use crate::error::{Error, Result};

/// Reads one message from `reader` and decodes it. A message announcing more than
/// `max_message_size` bytes (or fewer than a header) is refused before its body is read or
/// any buffer for it is allocated.
pub async fn read_message<R>(reader: &mut R, max_message_size: usize) -> Result<(Header, Message)>
where
    R: AsyncRead + Unpin + ?Sized,
{
    read(reader, max_message_size, false).await
}

/// [`read_message`] for the reply to a plain-TCP handshake: a reply that starts like a TLS
/// record (a TLS server's alert answering bytes that are not TLS) is an
/// [`ErrorKind::Io`](crate::ErrorKind::Io) error saying the server requires TLS, and a
/// connection closed before any reply says it may.
pub async fn read_handshake_reply<R>(reader: &mut R, max_message_size: usize) -> Result<(Header, Message)>
where
    R: AsyncRead + Unpin + ?Sized,
{
    read(reader, max_message_size, true).await
}

/// Whether four bytes begin a TLS record: content type alert (21) or handshake (22), then
/// protocol version 3.x.
fn looks_like_tls_record(prefix: &[u8; 4]) -> bool {
    matches!(prefix[0], 0x15 | 0x16) && prefix[1] == 0x03 && prefix[2] <= 0x04
}

async fn read<R>(reader: &mut R, max_message_size: usize, handshake: bool) -> Result<(Header, Message)>
where
    R: AsyncRead + Unpin + ?Sized,
{
    let mut prefix = [0u8; 4];
    if let Err(e) = reader.read_exact(&mut prefix).await {
        if handshake && e.kind() == std::io::ErrorKind::UnexpectedEof {
            return Err(Error::io(
                "the server closed the connection without answering the handshake (if it requires TLS, set \
                 tls=true)",
                e,
            ));
        }
        return Err(Error::io("reading a message length", e));
    }
    if handshake && looks_like_tls_record(&prefix) {
        return Err(Error::io(
            "the server answered the handshake with TLS: it requires TLS connections (set tls=true)",
            std::io::Error::new(std::io::ErrorKind::InvalidData, "a TLS record instead of a wire message"),
        ));
    }
    let length = i32::from_le_bytes(prefix);
    let size = usize::try_from(length).ok().filter(|n| *n >= HEADER_LEN).ok_or_else(|| {
        Error::invalid_response(format!("a message announces a length of {length}, less than its header"))
    })?;
    if size > max_message_size {
        return Err(Error::invalid_response(format!(
            "a message announces {size} bytes, more than the maximum message size of {max_message_size}"
        )));
    }
    let mut buf = vec![0u8; size];
    buf[..4].copy_from_slice(&prefix);
    reader
        .read_exact(&mut buf[4..])
        .await
        .map_err(|e| Error::io(format!("reading a {size}-byte message"), e))?;
    decode_message(&buf)
}

/// Writes one encoded message (see [`Message::encode`]) to `writer` and flushes it; a
/// message larger than `max_message_size` is refused unsent.
pub async fn write_message<W>(writer: &mut W, bytes: &[u8], max_message_size: usize) -> Result<()>
where
    W: AsyncWrite + Unpin + ?Sized,
{
    if bytes.len() > max_message_size {
        return Err(Error::invalid_argument(format!(
            "the message is {} bytes, more than the maximum message size of {max_message_size}",
            bytes.len()
        )));
    }
    writer.write_all(bytes).await.map_err(|e| Error::io("writing a message", e))?;
    writer.flush().await.map_err(|e| Error::io("flushing a message", e))
}
