//! Driver connections (CMAP spec, "Connection"; MongoDB handshake spec): a TCP stream to one
//! server, opened with `connectTimeoutMS`, handshaken, then used to send commands as OP_MSG.
//!
//! ```no_run
//! # async fn demo() -> mongo_driver::Result<()> {
//! use bson::doc;
//! use mongo_driver::connection::{CommandMessage, Connection, ConnectionOptions};
//!
//! let address = "localhost:27017".parse()?;
//! let mut conn = Connection::connect(address, &ConnectionOptions::default(), 1, 0).await?;
//! println!("max wire version {}", conn.stream_description()?.max_wire_version);
//! let reply = conn.send_command(CommandMessage::new("admin", doc! {"ping": 1})).await?;
//! assert_eq!(reply.get_f64("ok").ok(), Some(1.0));
//! # Ok(()) }
//! ```

pub mod handshake;
pub mod hello;
pub mod metadata;
pub mod tls;

use std::time::Duration;

use bson::Document;
use tokio::io::BufStream;
use tokio::net::TcpStream;
// tokio's clock, not the wall clock: the handshake's round-trip time (the first RTT sample,
// which `maxTimeMS` derivation subtracts) then follows a test's paused clock too.
use tokio::time::Instant;

pub use handshake::{HANDSHAKE_DB, HandshakeCommand, handshake_command};
pub use hello::{StreamDescription, server_description_from_hello};
pub use metadata::{ClientMetadata, DriverInfo, OsMetadata};
pub use tls::{Stream, TlsConfig, TlsOptions};

use crate::auth::{AuthMechanism, Credential, scram};
use crate::commands::OpMsgParts;
use crate::connection_string::UriOptions;
use crate::error::{Error, ErrorKind, Result};
use crate::sdam::{MIN_SUPPORTED_WIRE_VERSION, ServerAddress, ServerDescription};
use crate::wire::{self, Compressor, DocumentSequence, Message, MsgFlags, OpMsg, OpQuery};

/// `connectTimeoutMS` when none is given (10 seconds).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A declared Stable API version (versioned API spec, "MongoClient changes").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerApi {
    /// `apiVersion` (e.g. `"1"`).
    pub version: String,
    /// `apiStrict`, sent only when set.
    pub strict: Option<bool>,
    /// `apiDeprecationErrors`, sent only when set.
    pub deprecation_errors: Option<bool>,
}

impl ServerApi {
    /// The API versions this driver knows (versioned API spec, "ServerApiVersion
    /// enumeration"); a client declaring another one is not built.
    pub const KNOWN_VERSIONS: &'static [&'static str] = &["1"];

    /// Fails with an [`ErrorKind::InvalidArgument`] error when the declared version is not
    /// one of [`ServerApi::KNOWN_VERSIONS`] (the spec's client-side error for an unknown
    /// API version).
    pub fn validate(&self) -> Result<()> {
        if Self::KNOWN_VERSIONS.contains(&self.version.as_str()) {
            return Ok(());
        }
        Err(Error::invalid_argument(format!(
            "unknown Stable API version {:?} (this driver supports {})",
            self.version,
            Self::KNOWN_VERSIONS.join(", ")
        )))
    }

    /// Adds `apiVersion` (and `apiStrict`/`apiDeprecationErrors` when set) to a command body.
    pub fn apply(&self, body: &mut Document) {
        body.insert("apiVersion", self.version.clone());
        if let Some(strict) = self.strict {
            body.insert("apiStrict", strict);
        }
        if let Some(errors) = self.deprecation_errors {
            body.insert("apiDeprecationErrors", errors);
        }
    }
}

/// How connections are opened and handshaken.
#[derive(Debug, Clone)]
pub struct ConnectionOptions {
    /// `connectTimeoutMS`, for the TCP connect and for the handshake; `None` is the default
    /// of 10 seconds, zero means no limit.
    pub connect_timeout: Option<Duration>,
    /// `socketTimeoutMS`, for each command's write and read after the handshake; `None` or
    /// zero means no limit.
    pub socket_timeout: Option<Duration>,
    /// The declared Stable API version, if any (the handshake then uses `hello` over OP_MSG).
    pub server_api: Option<ServerApi>,
    /// `loadBalanced`: the handshake says so, and the server is a LoadBalancer.
    pub load_balanced: bool,
    /// The `client` metadata of the handshake.
    pub metadata: ClientMetadata,
    /// The credentials pooled connections authenticate with after the handshake (monitoring
    /// connections never do).
    pub credential: Option<Credential>,
    /// TLS (`tls=true` and the `tls*` options): `None` for plain TCP.
    pub tls: Option<TlsConfig>,
    /// `compressors` (with `zlibCompressionLevel`), in the client's order of preference:
    /// offered in the handshake, and the first the server also lists compresses every
    /// compressible command (OP_COMPRESSED spec).
    pub compressors: Vec<Compressor>,
    /// Where to dial each server instead of its own host and port (`None`: the address as
    /// is). The server's name is still the one checked against its TLS certificate.
    pub dialer: Option<Dialer>,
}

/// Maps a server's address to the socket address to dial: for deployments reached through
/// a tunnel or port forwarding, and for tests that give simulated servers DNS names; or, for
/// tests, hands over an in-memory stream to an in-process server instead of dialling
/// ([`Dialer::in_memory`]).
#[derive(Clone)]
pub struct Dialer {
    route: std::sync::Arc<Route>,
    in_memory: Option<std::sync::Arc<InMemory>>,
}

/// A [`Dialer`]'s mapping: the host and port to dial for an address, or `None` for itself.
type Route = dyn Fn(&ServerAddress) -> Option<(String, u16)> + Send + Sync;

/// A [`Dialer`]'s in-memory connector: the client's end of a stream to the server at an
/// address, or `None` to dial it over TCP.
type InMemory = dyn Fn(&ServerAddress) -> Option<tokio::io::DuplexStream> + Send + Sync;

impl Dialer {
    /// A dialer asking `route` for each address; `None` dials the address itself.
    pub fn new(route: impl Fn(&ServerAddress) -> Option<(String, u16)> + Send + Sync + 'static) -> Self {
        Self { route: std::sync::Arc::new(route), in_memory: None }
    }

    /// A dialer that asks `connect` for an in-memory stream to each server (e.g. a simulated
    /// deployment in the same tokio runtime, so that both run on one clock, which a test may
    /// pause); an address it returns `None` for is dialled over TCP. Connections over such a
    /// stream cannot use TLS.
    pub fn in_memory(
        connect: impl Fn(&ServerAddress) -> Option<tokio::io::DuplexStream> + Send + Sync + 'static,
    ) -> Self {
        Self {
            route: std::sync::Arc::new(|_: &ServerAddress| None),
            in_memory: Some(std::sync::Arc::new(connect)),
        }
    }

    /// The host and port to dial for `address`.
    pub fn route(&self, address: &ServerAddress) -> (String, u16) {
        (self.route)(address).unwrap_or_else(|| (address.host().to_owned(), address.port()))
    }

    /// The in-memory stream to `address`, when this dialer has one for it.
    fn connect_in_memory(&self, address: &ServerAddress) -> Option<tokio::io::DuplexStream> {
        self.in_memory.as_ref().and_then(|connect| connect(address))
    }
}

impl std::fmt::Debug for Dialer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Dialer")
    }
}

impl Default for ConnectionOptions {
    fn default() -> Self {
        Self {
            connect_timeout: None,
            socket_timeout: None,
            server_api: None,
            load_balanced: false,
            metadata: ClientMetadata::driver_default(),
            credential: None,
            tls: None,
            compressors: Vec::new(),
            dialer: None,
        }
    }
}

impl ConnectionOptions {
    /// The options a connection string gives (`appName`, `connectTimeoutMS`,
    /// `socketTimeoutMS`, `loadBalanced`, the TLS options), with a wrapping library's
    /// `driver_info`. TLS files are read here, so a missing or malformed file is an error now
    /// rather than at the first connection.
    pub fn from_uri_options(options: &UriOptions, driver_info: Option<&DriverInfo>) -> Result<Self> {
        let tls = match TlsOptions::from_uri_options(options, false)? {
            Some(tls) => Some(tls.build()?),
            None => None,
        };
        let compressors = options
            .compressors
            .iter()
            .flatten()
            .filter_map(|name| Compressor::from_name(name, options.zlib_compression_level))
            .collect();
        Ok(Self {
            tls,
            compressors,
            dialer: None,
            connect_timeout: options.connect_timeout,
            socket_timeout: options.socket_timeout,
            server_api: None,
            load_balanced: options.load_balanced.unwrap_or(false),
            metadata: ClientMetadata::new(options.app_name.clone(), driver_info)?,
            credential: None,
        })
    }

    /// The connect timeout in force (`None`: unlimited).
    pub fn effective_connect_timeout(&self) -> Option<Duration> {
        match self.connect_timeout {
            None => Some(DEFAULT_CONNECT_TIMEOUT),
            Some(t) if t.is_zero() => None,
            Some(t) => Some(t),
        }
    }
}

/// A command to send: the body (kind-0 section, holding `$db`) and document sequences
/// (kind-1 sections).
#[derive(Debug, Clone, PartialEq)]
pub struct CommandMessage {
    /// The command document, `$db` included.
    pub body: Document,
    /// Document sequences, e.g. `documents` of an `insert`.
    pub sequences: Vec<DocumentSequence>,
}

impl CommandMessage {
    /// `body` run against `db` (sets `$db`).
    pub fn new(db: &str, mut body: Document) -> Self {
        body.insert("$db", db);
        Self { body, sequences: Vec::new() }
    }

    /// Adds a document sequence.
    pub fn with_sequence(mut self, identifier: impl Into<String>, documents: Vec<Document>) -> Self {
        self.sequences.push(DocumentSequence { identifier: identifier.into(), documents });
        self
    }

    /// The command name (the body's first key).
    pub fn name(&self) -> Option<&str> {
        self.body.keys().next().map(String::as_str)
    }

    /// The database (`$db`).
    pub fn db(&self) -> Option<&str> {
        self.body.get_str("$db").ok()
    }
}

impl From<OpMsgParts> for CommandMessage {
    fn from(parts: OpMsgParts) -> Self {
        Self {
            body: parts.body,
            sequences: parts
                .sequences
                .into_iter()
                .map(|(identifier, documents)| DocumentSequence { identifier, documents })
                .collect(),
        }
    }
}

/// An I/O timeout as an [`ErrorKind::Io`] error of kind `TimedOut`.
fn timed_out(what: String, after: Duration) -> Error {
    Error::io(
        format!("{what} timed out after {after:?}"),
        std::io::Error::new(std::io::ErrorKind::TimedOut, "operation timed out"),
    )
}

/// Runs `future` within `limit` (no limit when `None`).
async fn within<T>(
    limit: Option<Duration>,
    what: impl FnOnce() -> String,
    future: impl Future<Output = Result<T>>,
) -> Result<T> {
    match limit {
        None => future.await,
        Some(limit) => match tokio::time::timeout(limit, future).await {
            Ok(result) => result,
            Err(_) => Err(timed_out(what(), limit)),
        },
    }
}

/// One connection to a server.
#[derive(Debug)]
pub struct Connection {
    id: u32,
    generation: u32,
    address: ServerAddress,
    stream: BufStream<Stream>,
    socket_timeout: Option<Duration>,
    stream_description: Option<StreamDescription>,
    handshake_reply: Option<Document>,
    handshake_round_trip_time: Option<Duration>,
    load_balanced: bool,
    compressor: Option<Compressor>,
    broken: bool,
    /// After a reply with `moreToCome`: its request id, which the next streamed reply answers.
    streaming_reply_id: Option<i32>,
    created: Instant,
    last_used: Instant,
}

impl Connection {
    /// Opens a TCP connection to `address` (TCP_NODELAY, within `connectTimeoutMS`) and
    /// performs the handshake. Fails with an [`ErrorKind::Io`] error when the server cannot be
    /// reached or the stream breaks, [`ErrorKind::InvalidResponse`] for a malformed reply, and
    /// [`ErrorKind::Command`] when the server answers the handshake with `ok: 0`.
    pub async fn connect(
        address: ServerAddress,
        options: &ConnectionOptions,
        id: u32,
        generation: u32,
    ) -> Result<Self> {
        let mut conn = Self::open(address, options, id, generation).await?;
        conn.handshake(options).await?;
        Ok(conn)
    }

    /// Opens the TCP connection only (TCP_NODELAY), and the TLS session over it when
    /// [`ConnectionOptions::tls`] is set, within `connectTimeoutMS`; the caller must then run
    /// [`Connection::handshake`] before any other command.
    pub async fn open(
        address: ServerAddress,
        options: &ConnectionOptions,
        id: u32,
        generation: u32,
    ) -> Result<Self> {
        let connect = async {
            if let Some(stream) = options.dialer.as_ref().and_then(|d| d.connect_in_memory(&address)) {
                if options.tls.is_some() {
                    return Err(Error::invalid_argument(format!(
                        "TLS is not available over the in-memory connection to {address}"
                    )));
                }
                return Ok(Stream::Memory(stream));
            }
            let (host, port) = match &options.dialer {
                Some(dialer) => dialer.route(&address),
                None => (address.host().to_owned(), address.port()),
            };
            let tcp = TcpStream::connect((host.as_str(), port))
                .await
                .map_err(|e| Error::io(format!("connecting to {address}"), e))?;
            tcp.set_nodelay(true).map_err(|e| Error::io(format!("setting TCP_NODELAY for {address}"), e))?;
            match &options.tls {
                Some(tls) => tls.connect(&address, tcp).await,
                None => Ok(Stream::Plain(tcp)),
            }
        };
        let what = || {
            let tls = if options.tls.is_some() { " (TLS)" } else { "" };
            format!("connecting to {address}{tls}")
        };
        let stream = within(options.effective_connect_timeout(), what, connect).await?;
        let now = Instant::now();
        Ok(Self {
            id,
            generation,
            address,
            stream: BufStream::new(stream),
            socket_timeout: options.socket_timeout.filter(|t| !t.is_zero()),
            stream_description: None,
            handshake_reply: None,
            handshake_round_trip_time: None,
            load_balanced: options.load_balanced,
            compressor: None,
            broken: false,
            streaming_reply_id: None,
            created: now,
            last_used: now,
        })
    }

    /// Performs the handshake (see [`handshake_command`]) within `connectTimeoutMS` and
    /// records the stream description; returns the reply. Any failure marks the connection
    /// broken (the spec: "If the command fails the client MUST disconnect").
    pub async fn handshake(&mut self, options: &ConnectionOptions) -> Result<&Document> {
        let mut command = handshake_command(options)?;
        // Speculative authentication (auth spec): the first SCRAM message rides in the
        // handshake (SCRAM-SHA-256 when the mechanism is negotiated).
        // A mechanism this driver cannot run fails here, before anything is sent.
        let explicit = options.credential.as_ref().map(Credential::scram_mechanism).transpose()?.flatten();
        let x509 = options.credential.as_ref().is_some_and(Credential::is_x509);
        if x509 {
            crate::auth::x509::check_tls(
                options.tls.as_ref().is_some_and(TlsConfig::has_client_certificate),
            )?;
        }
        let speculative = match &options.credential {
            Some(credential) if x509 => {
                // MONGODB-X509: the whole `authenticate` command rides in the handshake.
                command
                    .document_mut()
                    .insert("speculativeAuthenticate", crate::auth::x509::speculative(credential));
                None
            }
            Some(credential) => {
                let mechanism = explicit.unwrap_or(AuthMechanism::ScramSha256);
                let client = scram::ScramClient::for_credential(mechanism, credential)?;
                command
                    .document_mut()
                    .insert("speculativeAuthenticate", client.speculative(&credential.source));
                Some(client)
            }
            None => None,
        };
        let started = Instant::now();
        let limit = options.effective_connect_timeout();
        let address = self.address.clone();
        // Broken until the handshake succeeds (also if the caller drops this future midway).
        self.broken = true;
        let result =
            within(limit, || format!("the handshake with {address}"), self.run_handshake(command)).await;
        let reply = match result {
            Ok(reply) => reply,
            Err(e) => {
                self.broken = true;
                return Err(e);
            }
        };
        self.handshake_round_trip_time = Some(started.elapsed());
        if !hello::is_ok(&reply) {
            self.broken = true;
            return Err(Error::from_reply(&reply).unwrap_or_else(|| Error::invalid_response("hello failed")));
        }
        let description = StreamDescription::from_hello(self.address.clone(), &reply, options.load_balanced)
            .inspect_err(|_| self.broken = true)?;
        if options.load_balanced && description.service_id.is_none() {
            self.broken = true;
            // Load balancer spec "Connection Establishment": the exception's message is given.
            return Err(Error::invalid_response(format!(
                "Driver attempted to initialize in load balancing mode, but the server does not \
                 support this mode (the hello reply of {} has no serviceId)",
                self.address
            )));
        }
        self.stream_description = Some(description);
        self.compressor = negotiate_compressor(&options.compressors, &reply);
        self.last_used = Instant::now();
        self.broken = false;
        if let Some(credential) = &options.credential {
            // Authentication is part of establishing the connection: within the same
            // connectTimeoutMS budget, and any failure leaves the connection unusable.
            let mechanism = explicit.unwrap_or_else(|| AuthMechanism::negotiate(&reply));
            let left = limit.map(|l| l.saturating_sub(started.elapsed()));
            let first = reply.get_document("speculativeAuthenticate").ok().cloned();
            let source = credential.source.as_str();
            let auth = async {
                if x509 {
                    // A speculative reply means the server accepted the certificate.
                    return match first {
                        Some(_) => Ok(()),
                        None => crate::auth::x509::authenticate(self, credential).await,
                    };
                }
                match (&speculative, first) {
                    (Some(client), Some(first)) => scram::finish(self, client, source, &first).await,
                    _ => scram::authenticate(self, credential, mechanism).await,
                }
            };
            if let Err(e) = within(left, || format!("authenticating with {address}"), auth).await {
                self.broken = true;
                // Load balancer spec "Error handling": the pool is cleared for the service
                // the handshake named.
                let service_id = self.stream_description.as_ref().and_then(|d| d.service_id);
                return Err(e.with_service_id(service_id));
            }
        }
        Ok(self.handshake_reply.insert(reply))
    }

    async fn run_handshake(&mut self, command: HandshakeCommand) -> Result<Document> {
        let request_id = wire::next_request_id();
        let max = wire::DEFAULT_MAX_MESSAGE_SIZE;
        let bytes = match &command {
            HandshakeCommand::OpMsg(body) => OpMsg::new(body.clone()).encode(request_id, 0)?,
            HandshakeCommand::OpQuery(query) => {
                OpQuery::command(HANDSHAKE_DB, query.clone()).encode(request_id)?
            }
        };
        wire::write_message(&mut self.stream, &bytes, max).await?;
        let (header, message) = if self.stream.get_ref().is_tls() {
            wire::read_message(&mut self.stream, max).await?
        } else {
            wire::read_handshake_reply(&mut self.stream, max).await?
        };
        check_response_to(header.response_to, request_id)?;
        match (command, message) {
            (HandshakeCommand::OpMsg(_), Message::Msg(reply)) => body_of(reply),
            (HandshakeCommand::OpQuery(_), Message::Reply(reply)) => {
                let doc = reply.single_document()?.clone();
                if reply.query_failure() {
                    let message = doc.get_str("$err").unwrap_or("the query failed").to_owned();
                    let code = doc.get_i32("code").unwrap_or(0);
                    return Err(Error::command(code, "", message));
                }
                Ok(doc)
            }
            (_, other) => Err(Error::invalid_response(format!(
                "the handshake was answered with an unexpected message kind: {}",
                kind_name(&other)
            ))),
        }
    }

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

    /// The compressor negotiated in the handshake, if any.
    pub fn compressor(&self) -> Option<Compressor> {
        self.compressor
    }

    /// Whether the connection runs over TLS.
    pub fn is_tls(&self) -> bool {
        self.stream.get_ref().is_tls()
    }

    /// The connection's id (unique within its pool).
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The pool generation the connection was created in.
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// The address it is connected to.
    pub fn address(&self) -> &ServerAddress {
        &self.address
    }

    /// What the handshake said about the server; an error before the handshake.
    pub fn stream_description(&self) -> Result<&StreamDescription> {
        self.stream_description.as_ref().ok_or_else(|| {
            Error::invalid_argument(format!(
                "connection {} to {} has not completed its handshake",
                self.id, self.address
            ))
        })
    }

    /// The handshake's reply, once it succeeded.
    pub fn handshake_reply(&self) -> Option<&Document> {
        self.handshake_reply.as_ref()
    }

    /// How long the handshake took (the first RTT sample of a monitor).
    pub fn handshake_round_trip_time(&self) -> Option<Duration> {
        self.handshake_round_trip_time
    }

    /// The server's description from the handshake reply, with the handshake's duration as
    /// its RTT (SDAM: "Clients update the topology from each handshake").
    pub fn handshake_server_description(&self) -> Result<ServerDescription> {
        let reply = self.handshake_reply.as_ref().ok_or_else(|| {
            Error::invalid_argument(format!(
                "connection {} to {} has not completed its handshake",
                self.id, self.address
            ))
        })?;
        Ok(server_description_from_hello(
            self.address.clone(),
            reply,
            self.handshake_round_trip_time,
            self.load_balanced,
        ))
    }

    /// The `socketTimeoutMS` of later commands (`None`: no limit).
    pub fn socket_timeout(&self) -> Option<Duration> {
        self.socket_timeout
    }

    /// Changes `socketTimeoutMS` for later commands (`None` or zero: no limit).
    pub fn set_socket_timeout(&mut self, timeout: Option<Duration>) {
        self.socket_timeout = timeout.filter(|t| !t.is_zero());
    }

    /// Whether a network error or a malformed reply has made the connection unusable.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Marks the connection unusable (e.g. when an operation on it was cancelled midway).
    pub fn mark_broken(&mut self) {
        self.broken = true;
    }

    /// When the connection was opened.
    pub fn created(&self) -> Instant {
        self.created
    }

    /// When a command last finished on it (or the handshake, or the open).
    pub fn last_used(&self) -> Instant {
        self.last_used
    }
}

/// The first of the client's `compressors` that the server's handshake reply lists in its
/// `compression` field (OP_COMPRESSED spec: "clients MUST use the first compressor in the
/// client's configured compressors list that is also in the servers list").
fn negotiate_compressor(compressors: &[Compressor], reply: &Document) -> Option<Compressor> {
    let offered = reply.get_array("compression").ok()?;
    compressors.iter().copied().find(|c| offered.iter().any(|name| name.as_str() == Some(c.name())))
}

fn check_response_to(response_to: i32, request_id: i32) -> Result<()> {
    if response_to != request_id {
        return Err(Error::invalid_response(format!(
            "the reply answers request {response_to}, but request {request_id} was sent"
        )));
    }
    Ok(())
}

/// The body of an OP_MSG reply (a reply carries no document sequences).
fn body_of(reply: OpMsg) -> Result<Document> {
    if !reply.sequences.is_empty() {
        return Err(Error::invalid_response("a reply must not carry document sequences"));
    }
    Ok(reply.body)
}

fn kind_name(message: &Message) -> &'static str {
    match message {
        Message::Msg(_) => "OP_MSG",
        Message::Reply(_) => "OP_REPLY",
        Message::Query(_) => "OP_QUERY",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_server_api_versions_are_rejected() {
        let api =
            |version: &str| ServerApi { version: version.into(), strict: None, deprecation_errors: None };
        assert!(api("1").validate().is_ok());
        let error = api("2").validate().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("unknown Stable API version \"2\""), "{error}");
    }
}
