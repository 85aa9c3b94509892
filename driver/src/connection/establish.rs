//! Opening a connection (CMAP spec "Establishing a Connection"; handshake spec): the TCP
//! and TLS connect within `connectTimeoutMS`, the `hello` handshake with client metadata and
//! compression negotiation, then authentication (auth spec) on the new connection.

use bson::Document;
use tokio::io::BufStream;
use tokio::net::TcpStream;
// tokio's clock, not the wall clock: the handshake's round-trip time (the first RTT sample,
// which `maxTimeMS` derivation subtracts) then follows a test's paused clock too.
use tokio::time::Instant;

use super::conn::within;
use super::send::{body_of, check_response_to, kind_name};
use super::{
    Connection, ConnectionOptions, HANDSHAKE_DB, HandshakeCommand, Stream, StreamDescription, TlsConfig,
    handshake_command, hello,
};
use crate::auth::{AuthMechanism, Credential, scram};
use crate::error::{Error, Result};
use crate::options::ServerAddress;
use crate::wire::{self, Compressor, Message, OpMsg, OpQuery};

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
}

/// The first of the client's `compressors` that the server's handshake reply lists in its
/// `compression` field (OP_COMPRESSED spec: "clients MUST use the first compressor in the
/// client's configured compressors list that is also in the servers list").
fn negotiate_compressor(compressors: &[Compressor], reply: &Document) -> Option<Compressor> {
    let offered = reply.get_array("compression").ok()?;
    compressors.iter().copied().find(|c| offered.iter().any(|name| name.as_str() == Some(c.name())))
}
