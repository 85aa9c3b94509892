//! One client connection (OP_MSG spec: request/reply, `moreToCome`, exhaust; legacy
//! OP_QUERY handshake): reads messages, runs them and writes replies. A malformed message
//! is logged and closes the connection.

use std::io;
use std::sync::Arc;

use bson::{Bson, Document};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::dispatch::{self, Invocation, Outcome};
use super::errors::Failure;
use super::handshake::{self, ClientInfo};
use super::{Cluster, MAX_MESSAGE_SIZE, Node};
use crate::wire::{
    self, EXHAUST_ALLOWED, HEADER_LEN, Header, MORE_TO_COME, QUERY_SECONDARY_OK, Request, WireError,
};

/// Counts the connection closed however its task ends (including runtime shutdown).
struct OpenConnection(Arc<Node>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.connections.closed();
    }
}

/// Why a connection stops.
#[derive(Debug)]
enum Stop {
    /// The peer closed it, or the server decided to.
    Normal,
    /// Reading or writing failed.
    Io(io::Error),
    /// The peer sent something that is not a valid message.
    Malformed(WireError),
}

impl From<io::Error> for Stop {
    fn from(e: io::Error) -> Self {
        Stop::Io(e)
    }
}

impl From<WireError> for Stop {
    fn from(e: WireError) -> Self {
        Stop::Malformed(e)
    }
}

/// The reading half of a connection's stream (plain TCP or TLS).
type Reader = Box<dyn AsyncRead + Send + Unpin>;
/// The writing half.
type Writer = Box<dyn AsyncWrite + Send + Unpin>;

/// How long a client has to finish its TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The first byte of a TLS connection: a handshake record's content type.
const TLS_HANDSHAKE_RECORD: u8 = 22;

/// An accepted stream's halves, and the subject (RFC 2253) of the verified client
/// certificate, if one was presented.
type Opened = (Reader, Writer, Option<String>);

/// Splits an accepted stream, after the TLS handshake when the deployment requires TLS;
/// `None` when that handshake fails (a plain client, an untrusted certificate: the client
/// sees the alert and the close).
async fn open_stream(cluster: &Cluster, node: &Node, stream: TcpStream, peer: &str) -> Option<Opened> {
    let plain = |stream: TcpStream| -> Opened {
        let (rd, wr) = stream.into_split();
        (Box::new(rd), Box::new(wr), None)
    };
    let Some(tls) = &cluster.config.tls else { return Some(plain(stream)) };
    if tls.plain_allowed() {
        // preferTLS: a TLS connection opens with a handshake record (content type 22).
        let mut first = [0u8; 1];
        match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, stream.peek(&mut first)).await {
            Ok(Ok(1)) if first[0] != TLS_HANDSHAKE_RECORD => return Some(plain(stream)),
            Ok(Ok(1)) => {}
            _ => return None,
        }
    }
    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, tls.acceptor().accept(stream)).await {
        Ok(Ok(stream)) => {
            let subject = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|chain| chain.first())
                .and_then(|cert| match crate::tls::subject_rfc2253(cert) {
                    Ok(subject) => Some(subject),
                    Err(e) => {
                        tracing::info!(node = %node.host, %peer, error = %e, "unreadable client certificate subject");
                        None
                    }
                });
            let (rd, wr) = tokio::io::split(stream);
            Some((Box::new(rd), Box::new(wr), subject))
        }
        Ok(Err(e)) => {
            tracing::info!(node = %node.host, %peer, error = %e, "TLS handshake failed; closing connection");
            None
        }
        Err(_) => {
            tracing::info!(node = %node.host, %peer, "TLS handshake timed out; closing connection");
            None
        }
    }
}

/// Serves one accepted connection until it closes.
pub async fn serve(cluster: Arc<Cluster>, node: Arc<Node>, stream: TcpStream) {
    serve_from(cluster, node, stream, false).await
}

/// Serves one connection a load balancer handed to `node` (a router) until it closes.
pub async fn serve_behind_load_balancer(cluster: Arc<Cluster>, node: Arc<Node>, stream: TcpStream) {
    serve_from(cluster, node, stream, true).await
}

/// Serves one in-memory connection (see [`crate::Deployment::connect_in_memory`]) until it
/// closes: plain, as over TCP without TLS.
pub async fn serve_in_memory(
    cluster: Arc<Cluster>,
    node: Arc<Node>,
    stream: tokio::io::DuplexStream,
    from_load_balancer: bool,
) {
    let (rd, wr) = tokio::io::split(stream);
    serve_opened(cluster, node, (Box::new(rd), Box::new(wr), None), "in-memory".into(), from_load_balancer)
        .await
}

async fn serve_from(cluster: Arc<Cluster>, node: Arc<Node>, stream: TcpStream, from_load_balancer: bool) {
    let _ = stream.set_nodelay(true);
    let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_default();
    let Some(opened) = open_stream(&cluster, &node, stream, &peer).await else { return };
    serve_opened(cluster, node, opened, peer, from_load_balancer).await
}

async fn serve_opened(
    cluster: Arc<Cluster>,
    node: Arc<Node>,
    (rd, wr, subject): Opened,
    peer: String,
    from_load_balancer: bool,
) {
    let connection_id = node.connections.opened();
    let _open = OpenConnection(Arc::clone(&node));
    let mut client = ClientInfo { connection_id, from_load_balancer, ..ClientInfo::default() };
    client.auth.x509_subject = subject;
    let mut conn = Connection { cluster, node: Arc::clone(&node), rd, wr, reply_compressor: None };
    match conn.run(&mut client).await {
        Stop::Normal => tracing::debug!(node = %node.host, connection_id, %peer, "connection closed"),
        Stop::Io(e) => {
            tracing::debug!(node = %node.host, connection_id, %peer, error = %e, "connection ended")
        }
        Stop::Malformed(e) => {
            tracing::warn!(node = %node.host, connection_id, %peer, error = %e, "malformed message; closing connection")
        }
    }
}

struct Connection {
    cluster: Arc<Cluster>,
    node: Arc<Node>,
    rd: Reader,
    wr: Writer,
    /// The compressor of the request being answered: its replies are compressed the same way
    /// (as `mongod` does; uncompressed requests get uncompressed replies).
    reply_compressor: Option<u8>,
}

/// Reads one whole message; `None` at a clean end of stream.
async fn read_message(rd: &mut Reader) -> Result<Option<Vec<u8>>, Stop> {
    let mut header = [0u8; HEADER_LEN];
    match rd.read_exact(&mut header).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    if matches!(header[0], 0x16) && header[1] == 0x03 && header[2] <= 0x04 {
        // A TLS ClientHello on a plain port: mongod logs "SSL handshake received but server
        // is started without SSL support" and closes the connection.
        return Err(Stop::Io(io::Error::new(
            io::ErrorKind::InvalidData,
            "TLS handshake received but the server is started without TLS",
        )));
    }
    let body_len = Header::parse(&header).body_len(MAX_MESSAGE_SIZE)?;
    let mut message = vec![0u8; HEADER_LEN + body_len];
    message[..HEADER_LEN].copy_from_slice(&header);
    rd.read_exact(&mut message[HEADER_LEN..]).await?;
    Ok(Some(message))
}

impl Connection {
    async fn run(&mut self, client: &mut ClientInfo) -> Stop {
        let mut close_rx = self.node.close_epoch.subscribe();
        close_rx.borrow_and_update();
        loop {
            let message = tokio::select! {
                m = read_message(&mut self.rd) => m,
                _ = close_rx.changed() => return Stop::Normal,
            };
            let message = match message {
                Ok(Some(m)) => m,
                Ok(None) => return Stop::Normal,
                Err(stop) => return stop,
            };
            let request_id =
                Header::parse(message[..HEADER_LEN].try_into().unwrap_or(&[0; HEADER_LEN])).request_id;
            self.reply_compressor = wire::compressor_id(&message).filter(|id| *id != 0);
            if let (Some(id), Some(size)) = (self.reply_compressor, message.get(20..24)) {
                let plain = size.try_into().map(i32::from_le_bytes).unwrap_or(0).max(0) as usize;
                self.node.compression.decompressed(id, message.len().saturating_sub(HEADER_LEN + 9), plain);
            }
            let result = match wire::parse_request(&message) {
                // A step-down that closes connections (4.0 and older) also cuts the
                // commands in flight on them (e.g. an awaiting getMore), as mongod does.
                Ok(Request::Msg(msg)) => tokio::select! {
                    r = self.op_msg(client, request_id, msg.flags, msg.body) => r,
                    _ = close_rx.changed() => return Stop::Normal,
                },
                Ok(Request::Query(q)) => self.op_query(client, request_id, q).await,
                Err(e) => Err(Stop::Malformed(e)),
            };
            match result {
                Ok(true) => {}
                Ok(false) => return Stop::Normal,
                Err(stop) => return stop,
            }
        }
    }

    /// Runs an OP_MSG; `Ok(false)` closes the connection.
    async fn op_msg(
        &mut self,
        client: &mut ClientInfo,
        request_id: i32,
        flags: u32,
        body: Document,
    ) -> Result<bool, Stop> {
        let version = self.cluster.config.version;
        let Ok(db) = body.get_str("$db").map(str::to_owned) else {
            let failure = Failure::new(40571, version, "OP_MSG requests require a $db argument");
            let reply = super::errors::error_reply(&failure, version, super::errors::LabelContext::default());
            if flags & MORE_TO_COME == 0 {
                self.send_msg(request_id, 0, &reply).await?;
            }
            return Ok(true);
        };
        let mut inv = Invocation::new(db, body, false);
        let mut response_to = request_id;
        let mut streaming_round = false;
        loop {
            let outcome = if streaming_round {
                // Exhaust: the next reply comes when the topology changes (or the await time
                // passes), as if the client had asked again with the version it was just
                // sent; the client closing or speaking meanwhile ends the stream.
                let mut probe = [0u8; 1];
                tokio::select! {
                    r = self.rd.read(&mut probe) => return match r {
                        Ok(_) => Ok(false),
                        Err(e) => Err(e.into()),
                    },
                    o = dispatch::run_command(&self.cluster, &self.node, client, inv.clone()) => o,
                }
            } else {
                dispatch::run_command(&self.cluster, &self.node, client, inv.clone()).await
            };
            let reply = match outcome {
                Outcome::Close => return Ok(false),
                Outcome::Reply(reply) => reply,
            };
            if flags & MORE_TO_COME != 0 {
                return Ok(true);
            }
            let streaming = flags & EXHAUST_ALLOWED != 0
                && handshake::is_hello(inv.name())
                && inv.cmd.contains_key("maxAwaitTimeMS")
                && reply.contains_key("topologyVersion")
                && matches!(reply.get("ok"), Some(Bson::Double(ok)) if *ok == 1.0);
            let sent_id =
                self.send_msg(response_to, if streaming { MORE_TO_COME } else { 0 }, &reply).await?;
            if !streaming {
                return Ok(true);
            }
            if let Some(tv) = reply.get("topologyVersion") {
                inv.cmd.insert("topologyVersion", tv.clone());
            }
            // Client metadata is only sent once.
            inv.cmd.remove("client");
            response_to = sent_id;
            streaming_round = true;
        }
    }

    /// Runs a legacy OP_QUERY command; `Ok(false)` closes the connection.
    async fn op_query(
        &mut self,
        client: &mut ClientInfo,
        request_id: i32,
        q: wire::OpQuery,
    ) -> Result<bool, Stop> {
        let version = self.cluster.config.version;
        let Some(db) = q.full_collection_name.strip_suffix(".$cmd").map(str::to_owned) else {
            tracing::warn!(namespace = %q.full_collection_name, "OP_QUERY on a collection is not supported");
            return Ok(false);
        };
        let mut cmd = q.query;
        if let Ok(inner) = cmd.get_document("$query") {
            let mut unwrapped = inner.clone();
            if let Some(rp) = cmd.get("$readPreference") {
                unwrapped.insert("$readPreference", rp.clone());
            }
            cmd = unwrapped;
        }
        let inv = Invocation::new(db, cmd, q.flags & QUERY_SECONDARY_OK != 0);
        let reply = if version.op_query_handshake_only() && !handshake::is_hello(inv.name()) {
            let failure = Failure::new(
                352,
                version,
                format!(
                    "Unsupported OP_QUERY command: {}. The client driver may require an upgrade.",
                    inv.name()
                ),
            );
            super::errors::error_reply(&failure, version, super::errors::LabelContext::default())
        } else {
            match dispatch::run_command(&self.cluster, &self.node, client, inv).await {
                Outcome::Close => return Ok(false),
                Outcome::Reply(reply) => reply,
            }
        };
        let bytes = wire::encode_op_reply(self.cluster.next_request_id(), request_id, &reply)?;
        let bytes = self.maybe_compress(bytes)?;
        self.wr.write_all(&bytes).await?;
        self.wr.flush().await?;
        Ok(true)
    }

    /// Compresses a reply like the request it answers.
    fn maybe_compress(&self, bytes: Vec<u8>) -> Result<Vec<u8>, Stop> {
        match self.reply_compressor {
            Some(id) => {
                let packed = wire::compress_message(&bytes, id)?;
                self.node.compression.compressed(
                    id,
                    bytes.len() - HEADER_LEN,
                    packed.len().saturating_sub(HEADER_LEN + 9),
                );
                Ok(packed)
            }
            None => Ok(bytes),
        }
    }

    /// Sends an OP_MSG reply; returns its request id.
    async fn send_msg(&mut self, response_to: i32, flags: u32, reply: &Document) -> Result<i32, Stop> {
        let id = self.cluster.next_request_id();
        let bytes = wire::encode_op_msg(id, response_to, flags, reply)?;
        let bytes = self.maybe_compress(bytes)?;
        self.wr.write_all(&bytes).await?;
        self.wr.flush().await?;
        Ok(id)
    }
}
