//! How connections are opened (URI options spec; versioned API spec "MongoClient changes";
//! CMAP "Connection"): [`ConnectionOptions`] from a connection string, the declared
//! [`ServerApi`], and the [`Dialer`] that maps a server's address to what is dialled.

use std::time::Duration;

use bson::Document;

use super::{ClientMetadata, DriverInfo, TlsConfig, TlsOptions};
use crate::auth::Credential;
use crate::connection_string::UriOptions;
use crate::error::{Error, Result};
use crate::options::ServerAddress;
use crate::wire::Compressor;

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
    pub(super) fn connect_in_memory(&self, address: &ServerAddress) -> Option<tokio::io::DuplexStream> {
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
