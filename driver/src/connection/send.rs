//! Sending commands on a connection (OP_MSG spec; CMAP "Connection"): encoding a command
//! with its document sequences and compression, `socketTimeoutMS`, exhaust replies
//! (`moreToCome`), unacknowledged writes, and checking each reply's framing.

use std::time::Duration;

use bson::Document;
use tokio::io::BufStream;
use tokio::time::Instant;

use super::conn::within;
use super::{CommandMessage, Connection, Stream};
use crate::error::{Error, ErrorKind, Result};
use crate::wire::{self, MIN_SUPPORTED_WIRE_VERSION, Message, MsgFlags, OpMsg};

impl Connection {
    /// Sends `message` as an OP_MSG and returns the reply body. A reply with `ok: 0` is
    /// returned as is (see [`Error::from_reply`]). An I/O error, a timeout
    /// (`socketTimeoutMS`) or a malformed reply marks the connection broken, and so does
    /// dropping the returned future before it completes; a message that cannot be built (no
    /// `$db`, too large) is refused before anything is written.
    pub async fn send_command(&mut self, message: CommandMessage) -> Result<Document> {
        self.send_command_with_id(message, wire::next_request_id()).await
    }

    /// [`Connection::send_command`] with the caller's request id (from
    /// [`wire::next_request_id`]), so command monitoring events carry the id on the wire.
    pub async fn send_command_with_id(
        &mut self,
        message: CommandMessage,
        request_id: i32,
    ) -> Result<Document> {
        let (name, bytes, max_size) = self.encode_request(message, request_id, MsgFlags::empty())?;
        let address = self.address.clone();
        let id = self.id;
        let exchange = async {
            wire::write_message(&mut self.stream, &bytes, max_size).await?;
            let (header, reply) = wire::read_message(&mut self.stream, max_size).await?;
            check_response_to(header.response_to, request_id)?;
            match reply {
                Message::Msg(reply) if reply.flags.contains(MsgFlags::MORE_TO_COME) => {
                    Err(Error::invalid_response(
                        "the server set moreToCome on a reply to a request without exhaustAllowed",
                    ))
                }
                Message::Msg(reply) => body_of(reply),
                other => Err(Error::invalid_response(format!(
                    "an OP_MSG was answered with an unexpected message kind: {}",
                    kind_name(&other)
                ))),
            }
        };
        // Broken until the exchange completes: a caller that drops this future midway (e.g.
        // on its own timeout) leaves the stream between messages, unusable.
        self.broken = true;
        let result =
            within(self.socket_timeout, || format!("`{name}` on connection {id} to {address}"), exchange)
                .await;
        self.last_used = Instant::now();
        self.broken = result.is_err();
        result
    }

    /// Sends `message` with the `exhaustAllowed` flag (OP_MSG spec "exhaustAllowed"; the
    /// streaming protocol's awaitable `hello`) and returns the reply body and whether the
    /// server set `moreToCome` on it: then it will send further replies unasked, read with
    /// [`Connection::read_more_to_come`]. `timeout` bounds the whole exchange instead of
    /// `socketTimeoutMS` (an awaitable `hello` may wait `maxAwaitTimeMS` before answering).
    /// Errors as for [`Connection::send_command`].
    pub async fn send_exhaust_command(
        &mut self,
        message: CommandMessage,
        timeout: Option<Duration>,
    ) -> Result<(Document, bool)> {
        let request_id = wire::next_request_id();
        let (name, bytes, max_size) = self.encode_request(message, request_id, MsgFlags::EXHAUST_ALLOWED)?;
        let (address, id) = (self.address.clone(), self.id);
        self.broken = true;
        let exchange = async {
            wire::write_message(&mut self.stream, &bytes, max_size).await?;
            Self::read_streamed(&mut self.stream, max_size, request_id).await
        };
        let result = within(timeout, || format!("`{name}` on connection {id} to {address}"), exchange).await;
        self.finish_streamed(result)
    }

    /// Reads the next reply of an exhaust stream, after a reply that had `moreToCome` set:
    /// the server sends it unasked (for an awaitable `hello`, when the topology changes or
    /// `maxAwaitTimeMS` passes). Returns its body and whether more follow. `timeout` bounds
    /// the wait. A stream that was not left expecting a reply is refused.
    pub async fn read_more_to_come(&mut self, timeout: Option<Duration>) -> Result<(Document, bool)> {
        let Some(previous) = self.streaming_reply_id else {
            return Err(Error::invalid_argument(format!(
                "connection {} to {} expects no moreToCome reply",
                self.id, self.address
            )));
        };
        let max_size = self
            .stream_description()
            .ok()
            .and_then(|d| usize::try_from(d.max_message_size_bytes).ok())
            .unwrap_or(wire::DEFAULT_MAX_MESSAGE_SIZE);
        let (address, id) = (self.address.clone(), self.id);
        self.broken = true;
        let read = Self::read_streamed(&mut self.stream, max_size, previous);
        let result =
            within(timeout, || format!("a streamed reply on connection {id} to {address}"), read).await;
        self.finish_streamed(result)
    }

    /// Reads one reply answering `responds_to`; returns its body, its request id and its
    /// `moreToCome` flag.
    async fn read_streamed(
        stream: &mut BufStream<Stream>,
        max_size: usize,
        responds_to: i32,
    ) -> Result<(Document, i32, bool)> {
        let (header, reply) = wire::read_message(stream, max_size).await?;
        check_response_to(header.response_to, responds_to)?;
        match reply {
            Message::Msg(reply) => {
                let more = reply.flags.contains(MsgFlags::MORE_TO_COME);
                Ok((body_of(reply)?, header.request_id, more))
            }
            other => Err(Error::invalid_response(format!(
                "an OP_MSG was answered with an unexpected message kind: {}",
                kind_name(&other)
            ))),
        }
    }

    /// Records the end of a streamed exchange: with `moreToCome` the connection stays busy
    /// (only [`Connection::read_more_to_come`] may use it), otherwise it is usable again.
    fn finish_streamed(&mut self, result: Result<(Document, i32, bool)>) -> Result<(Document, bool)> {
        self.last_used = Instant::now();
        match result {
            Ok((body, reply_id, more)) => {
                self.streaming_reply_id = more.then_some(reply_id);
                self.broken = more;
                Ok((body, more))
            }
            Err(error) => {
                self.streaming_reply_id = None;
                Err(error)
            }
        }
    }

    /// Sends `message` with the `moreToCome` flag and returns once it is written: the server
    /// sends no reply (OP_MSG spec "moreToCome On Requests"; unacknowledged writes, whose
    /// `writeConcern` the caller sets to `w: 0`). Errors as for [`Connection::send_command`].
    pub async fn send_unacknowledged_with_id(
        &mut self,
        message: CommandMessage,
        request_id: i32,
    ) -> Result<()> {
        let (name, bytes, max_size) = self.encode_request(message, request_id, MsgFlags::MORE_TO_COME)?;
        let (address, id) = (self.address.clone(), self.id);
        self.broken = true;
        let write = wire::write_message(&mut self.stream, &bytes, max_size);
        let result =
            within(self.socket_timeout, || format!("`{name}` on connection {id} to {address}"), write).await;
        self.last_used = Instant::now();
        self.broken = result.is_err();
        result
    }

    /// Checks and encodes a request: the connection is usable and speaks OP_MSG, the body
    /// has `$db`, the message fits `maxMessageSizeBytes`. Returns the command name, the
    /// bytes and the size limit.
    fn encode_request(
        &self,
        message: CommandMessage,
        request_id: i32,
        flags: MsgFlags,
    ) -> Result<(String, Vec<u8>, usize)> {
        if self.broken {
            return Err(Error::io(
                format!("connection {} to {} is closed", self.id, self.address),
                std::io::Error::new(std::io::ErrorKind::NotConnected, "the connection is broken"),
            ));
        }
        let description = self.stream_description()?;
        if description.max_wire_version < MIN_SUPPORTED_WIRE_VERSION {
            return Err(Error::new(ErrorKind::IncompatibleWireVersion {
                message: format!(
                    "the server at {} reports maxWireVersion {}, but OP_MSG needs at least {MIN_SUPPORTED_WIRE_VERSION}",
                    self.address, description.max_wire_version
                ),
            }));
        }
        let max_size =
            usize::try_from(description.max_message_size_bytes).unwrap_or(wire::DEFAULT_MAX_MESSAGE_SIZE);
        if message.db().is_none() {
            return Err(Error::invalid_argument(format!(
                "the command `{}` has no `$db`",
                message.name().unwrap_or_default()
            )));
        }
        let name = message.name().unwrap_or_default().to_owned();
        let msg = OpMsg { flags, body: message.body, sequences: message.sequences };
        let bytes = msg.encode(request_id, 0)?;
        if bytes.len() > max_size {
            return Err(Error::invalid_argument(format!(
                "the `{name}` command is {} bytes, more than the server's maxMessageSizeBytes of {max_size}",
                bytes.len()
            )));
        }
        let bytes = match self.compressor {
            Some(compressor) if wire::compression::may_compress(&name) => {
                wire::compression::wrap(&bytes, compressor)?
            }
            _ => bytes,
        };
        Ok((name, bytes, max_size))
    }
}

pub(super) fn check_response_to(response_to: i32, request_id: i32) -> Result<()> {
    if response_to != request_id {
        return Err(Error::invalid_response(format!(
            "the reply answers request {response_to}, but request {request_id} was sent"
        )));
    }
    Ok(())
}

/// The body of an OP_MSG reply (a reply carries no document sequences).
pub(super) fn body_of(reply: OpMsg) -> Result<Document> {
    if !reply.sequences.is_empty() {
        return Err(Error::invalid_response("a reply must not carry document sequences"));
    }
    Ok(reply.body)
}

pub(super) fn kind_name(message: &Message) -> &'static str {
    match message {
        Message::Msg(_) => "OP_MSG",
        Message::Reply(_) => "OP_REPLY",
        Message::Query(_) => "OP_QUERY",
    }
}
