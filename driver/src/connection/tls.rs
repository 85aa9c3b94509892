//! TLS for driver connections (URI options spec, "TLS options"; connection-string spec `tls`,
//! `tlsCAFile`, `tlsCertificateKeyFile`, `tlsAllowInvalidCertificates`, `tlsAllowInvalidHostnames`,
//! `tlsInsecure`), with rustls and its `ring` crypto provider.
//!
//! Trust: without `tlsCAFile`, the Mozilla root set compiled into `webpki-roots`. It is chosen over
//! the platform store (`rustls-native-certs`) because managed deployments present certificates
//! from public CAs, and a compiled-in set behaves the same on every machine and container (many
//! slim images have no CA bundle at all). With `tlsCAFile`, only the CAs in that file are trusted,
//! as the server's own `--tlsCAFile` semantics and other drivers do.
//!
//! Revocation: the driver contacts no OCSP responder and reads no CRL. So
//! `tlsDisableOCSPEndpointCheck=true` and `tlsDisableCertificateRevocationCheck=true` describe
//! what it does and are accepted; asking for the checks (either set to `false`) is an error
//! rather than a silent no-op. `tlsCertificateKeyFilePassword` is an error too: rustls reads no
//! encrypted private keys (decrypt the key file first, e.g. `openssl pkcs8 -topk8 -nocrypt`).

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::connection_string::UriOptions;
use crate::error::{Error, Result};
use crate::options::ServerAddress;

/// The TLS settings of a client, from its connection string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// `tlsCAFile`: a PEM file of the CAs to trust instead of the built-in roots.
    pub ca_file: Option<String>,
    /// `tlsCertificateKeyFile`: a PEM file holding the client certificate (chain) and its key.
    pub certificate_key_file: Option<String>,
    /// `tlsAllowInvalidCertificates` (or `tlsInsecure`): accept any server certificate.
    pub allow_invalid_certificates: bool,
    /// `tlsAllowInvalidHostnames` (or `tlsInsecure`): accept a certificate for another name.
    pub allow_invalid_hostnames: bool,
}

impl TlsOptions {
    /// The TLS settings a connection string asks for, `None` when TLS is off. TLS is on with
    /// `tls=true` (or `ssl=true`); without `tls`, when `default_on` (a `mongodb+srv` URI) or
    /// when another `tls*` option is given (as pymongo does).
    ///
    /// Fails with [`crate::ErrorKind::InvalidArgument`] for options this driver cannot honour
    /// (see the module doc) and for `tls*` options given with `tls=false`.
    pub fn from_uri_options(options: &UriOptions, default_on: bool) -> Result<Option<Self>> {
        if options.tls_certificate_key_file_password.is_some() {
            return Err(Error::invalid_argument(
                "tlsCertificateKeyFilePassword is not supported: rustls cannot read encrypted private keys; \
                 give tlsCertificateKeyFile an unencrypted key",
            ));
        }
        if options.tls_disable_ocsp_endpoint_check == Some(false) {
            return Err(Error::invalid_argument(
                "tlsDisableOCSPEndpointCheck=false asks for OCSP checking, which this driver does not do",
            ));
        }
        if options.tls_disable_certificate_revocation_check == Some(false) {
            return Err(Error::invalid_argument(
                "tlsDisableCertificateRevocationCheck=false asks for revocation checking (OCSP/CRL), which \
                 this driver does not do",
            ));
        }
        let insecure = options.tls_insecure.unwrap_or(false);
        let tls = Self {
            ca_file: options.tls_ca_file.clone(),
            certificate_key_file: options.tls_certificate_key_file.clone(),
            allow_invalid_certificates: insecure || options.tls_allow_invalid_certificates.unwrap_or(false),
            allow_invalid_hostnames: insecure || options.tls_allow_invalid_hostnames.unwrap_or(false),
        };
        let other_options = tls != Self::default();
        match options.tls {
            Some(false) if other_options => Err(Error::invalid_argument(
                "TLS options (tlsCAFile, tlsCertificateKeyFile, tlsAllowInvalid*, tlsInsecure) were given \
                 with tls=false",
            )),
            Some(false) => Ok(None),
            None if !default_on && !other_options => Ok(None),
            _ => Ok(Some(tls)),
        }
    }

    /// Builds the rustls client configuration: reads the CA and certificate-key files
    /// (an error names the file and what is wrong with it).
    pub fn build(&self) -> Result<TlsConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        match &self.ca_file {
            Some(path) => {
                let certs = read_certificates(path, "tlsCAFile")?;
                for cert in certs {
                    roots.add(cert).map_err(|e| {
                        Error::invalid_argument(format!(
                            "tlsCAFile {path}: a certificate is not a usable CA: {e}"
                        ))
                    })?;
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        let algorithms = provider.signature_verification_algorithms;
        let verifier: Arc<dyn ServerCertVerifier> = if self.allow_invalid_certificates {
            Arc::new(AcceptAnyCertificate { algorithms })
        } else {
            let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
                .build()
                .map_err(|e| {
                    Error::invalid_argument(format!("cannot build the TLS certificate verifier: {e}"))
                })?;
            if self.allow_invalid_hostnames { Arc::new(IgnoreHostname { inner: webpki }) } else { webpki }
        };
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::invalid_argument(format!("cannot configure TLS: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let config = match &self.certificate_key_file {
            Some(path) => {
                let certs = read_certificates(path, "tlsCertificateKeyFile")?;
                let key = read_private_key(path)?;
                builder.with_client_auth_cert(certs, key).map_err(|e| {
                    Error::invalid_argument(format!(
                        "tlsCertificateKeyFile {path}: the certificate and key are not usable: {e}"
                    ))
                })?
            }
            None => builder.with_no_client_auth(),
        };
        Ok(TlsConfig { config: Arc::new(config), options: self.clone() })
    }
}

/// Reads every certificate of a PEM file (at least one).
fn read_certificates(path: &str, option: &str) -> Result<Vec<CertificateDer<'static>>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(format!("reading {option} {path}"), e))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::invalid_argument(format!("{option} {path}: not a valid PEM file: {e}")))?;
    if certs.is_empty() {
        return Err(Error::invalid_argument(format!("{option} {path}: no CERTIFICATE block in the file")));
    }
    Ok(certs)
}

/// Reads the private key of a `tlsCertificateKeyFile`.
fn read_private_key(path: &str) -> Result<PrivateKeyDer<'static>> {
    let bytes =
        std::fs::read(path).map_err(|e| Error::io(format!("reading tlsCertificateKeyFile {path}"), e))?;
    if bytes.windows(b"ENCRYPTED PRIVATE KEY".len()).any(|w| w == b"ENCRYPTED PRIVATE KEY") {
        return Err(Error::invalid_argument(format!(
            "tlsCertificateKeyFile {path}: the private key is encrypted, which rustls cannot read; decrypt it"
        )));
    }
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| {
        Error::invalid_argument(format!("tlsCertificateKeyFile {path}: no usable private key: {e}"))
    })
}

/// A built TLS client configuration, shared by every connection of a client.
#[derive(Clone)]
pub struct TlsConfig {
    config: Arc<ClientConfig>,
    options: TlsOptions,
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig").field("options", &self.options).finish_non_exhaustive()
    }
}

impl TlsConfig {
    /// Whether connections present a client certificate (`tlsCertificateKeyFile`).
    pub fn has_client_certificate(&self) -> bool {
        self.options.certificate_key_file.is_some()
    }

    /// The options it was built from.
    pub fn options(&self) -> &TlsOptions {
        &self.options
    }

    /// Runs the TLS handshake over `tcp` with the server at `address` (its host is the name
    /// checked against the certificate). Failures say why in words a user can act on.
    pub async fn connect(&self, address: &ServerAddress, tcp: TcpStream) -> Result<Stream> {
        let name = ServerName::try_from(address.host().to_owned()).map_err(|e| {
            Error::invalid_argument(format!("`{}` is not a valid TLS server name: {e}", address.host()))
        })?;
        let connector = tokio_rustls::TlsConnector::from(Arc::clone(&self.config));
        match connector.connect(name, tcp).await {
            Ok(stream) => Ok(Stream::Tls(Box::new(stream))),
            Err(e) => Err(handshake_error(address, e)),
        }
    }
}

/// Describes a failed TLS handshake.
fn handshake_error(address: &ServerAddress, e: io::Error) -> Error {
    let tls = e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>());
    let why = match tls {
        Some(rustls::Error::InvalidCertificate(cert)) => match cert {
            // BadSignature: a trusted CA of the same name did not sign it.
            CertificateError::UnknownIssuer | CertificateError::BadSignature => {
                "the server's certificate is not signed by a trusted CA (check tlsCAFile)".to_owned()
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => format!(
                "the server's certificate is not valid for the host name `{}` (tlsAllowInvalidHostnames \
                 skips this check)",
                address.host()
            ),
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "the server's certificate has expired".to_owned()
            }
            other => format!("the server's certificate was rejected: {other:?}"),
        },
        Some(rustls::Error::InvalidMessage(_)) | Some(rustls::Error::InappropriateMessage { .. }) => {
            "the server did not answer with TLS (is TLS enabled on the server?)".to_owned()
        }
        Some(other) => other.to_string(),
        None if e.kind() == io::ErrorKind::UnexpectedEof || e.kind() == io::ErrorKind::ConnectionReset => {
            "the server closed the connection during the TLS handshake (is TLS enabled on the server?)"
                .to_owned()
        }
        None => e.to_string(),
    };
    Error::io(format!("TLS handshake with {address} failed: {why}"), e)
}

/// `tlsAllowInvalidHostnames`: the chain is verified, the name is not.
#[derive(Debug)]
struct IgnoreHostname {
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for IgnoreHostname {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self.inner.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// `tlsAllowInvalidCertificates`: any certificate is accepted (the handshake's signatures are
/// still checked, so the peer holds the key of the certificate it shows).
#[derive(Debug)]
struct AcceptAnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// A connection's byte stream: plain TCP, TLS over TCP, or in memory (tests).
#[derive(Debug)]
pub enum Stream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
    /// An in-memory stream to an in-process server (see `Dialer::in_memory`).
    Memory(tokio::io::DuplexStream),
}

impl Stream {
    /// Whether the stream is encrypted.
    pub fn is_tls(&self) -> bool {
        matches!(self, Stream::Tls(_))
    }
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Stream::Memory(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Stream::Memory(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Stream::Memory(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Stream::Memory(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection_string::ConnectionString;

    fn tls_of(uri: &str) -> Result<Option<TlsOptions>> {
        let parsed = ConnectionString::parse(uri)?;
        TlsOptions::from_uri_options(&parsed.options, false)
    }

    #[test]
    fn tls_is_off_unless_asked_for() {
        assert_eq!(tls_of("mongodb://h").ok(), Some(None));
        assert_eq!(tls_of("mongodb://h/?tls=false").ok(), Some(None));
        assert!(matches!(tls_of("mongodb://h/?ssl=true"), Ok(Some(_))));
        assert!(matches!(tls_of("mongodb://h/?tlsCAFile=/x.pem"), Ok(Some(_))));
    }

    #[test]
    fn tls_insecure_allows_both() {
        let tls = tls_of("mongodb://h/?tls=true&tlsInsecure=true").ok().flatten().unwrap_or_default();
        assert!(tls.allow_invalid_certificates && tls.allow_invalid_hostnames);
    }

    #[test]
    fn unsupported_options_are_errors() {
        for uri in [
            "mongodb://h/?tls=true&tlsCertificateKeyFilePassword=x",
            "mongodb://h/?tls=true&tlsDisableOCSPEndpointCheck=false",
            "mongodb://h/?tls=true&tlsDisableCertificateRevocationCheck=false",
            "mongodb://h/?tls=false&tlsCAFile=/x.pem",
        ] {
            assert!(tls_of(uri).is_err(), "{uri} should be refused");
        }
        assert!(matches!(tls_of("mongodb://h/?tls=true&tlsDisableOCSPEndpointCheck=true"), Ok(Some(_))));
    }

    #[test]
    fn missing_or_bad_files_name_the_file() {
        let tls = TlsOptions { ca_file: Some("/nonexistent/ca.pem".into()), ..TlsOptions::default() };
        let error = tls.build().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("tlsCAFile /nonexistent/ca.pem"), "{error}");
        let dir = std::env::temp_dir().join(format!("mongo-driver-tls-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("empty.pem");
        let _ = std::fs::write(&path, "not a pem file\n");
        let tls = TlsOptions { ca_file: Some(path.display().to_string()), ..TlsOptions::default() };
        let error = tls.build().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("no CERTIFICATE block"), "{error}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
