//! TLS for the simulated servers (the server's `net.tls` settings: `mode: requireTLS` with a
//! certificate and key), with rustls and its `ring` provider, plus test certificates made at
//! run time with `rcgen` (a CA and a server certificate it signs), so nothing that expires is
//! committed.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Why a TLS configuration could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A certificate or key is malformed or unusable.
    #[error("{0}")]
    Invalid(String),
}

/// The server side of TLS: every connection must start with a TLS handshake
/// (`net.tls.mode: requireTLS`), or, with [`TlsSettings::allowing_plain`], may also speak
/// plain TCP (`preferTLS`).
#[derive(Clone)]
pub struct TlsSettings {
    acceptor: tokio_rustls::TlsAcceptor,
    plain_allowed: bool,
}

impl fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSettings").finish_non_exhaustive()
    }
}

impl TlsSettings {
    /// Serves the certificate chain and private key given in PEM.
    pub fn from_pem(certificate_pem: &str, key_pem: &str) -> Result<Self, TlsError> {
        Self::build(certificate_pem, key_pem, None)
    }

    /// Serves the certificate chain and key, and asks each client for a certificate signed by
    /// a CA in `client_ca_pem` (mongod's `net.tls.CAFile`): a presented certificate is verified
    /// and its subject authenticates MONGODB-X509; a client without one is still served
    /// (`net.tls.allowConnectionsWithoutCertificates`).
    pub fn from_pem_verifying_clients(
        certificate_pem: &str,
        key_pem: &str,
        client_ca_pem: &str,
    ) -> Result<Self, TlsError> {
        Self::build(certificate_pem, key_pem, Some(client_ca_pem))
    }

    fn build(certificate_pem: &str, key_pem: &str, client_ca_pem: Option<&str>) -> Result<Self, TlsError> {
        let chain = CertificateDer::pem_slice_iter(certificate_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::Invalid(format!("the certificate is not valid PEM: {e}")))?;
        if chain.is_empty() {
            return Err(TlsError::Invalid("no CERTIFICATE block in the certificate PEM".into()));
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
            .map_err(|e| TlsError::Invalid(format!("no usable private key: {e}")))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Invalid(e.to_string()))?;
        let builder = match client_ca_pem {
            None => builder.with_no_client_auth(),
            Some(pem) => {
                let mut roots = rustls::RootCertStore::empty();
                for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                    let cert =
                        cert.map_err(|e| TlsError::Invalid(format!("the client CA is not valid PEM: {e}")))?;
                    roots
                        .add(cert)
                        .map_err(|e| TlsError::Invalid(format!("the client CA is unusable: {e}")))?;
                }
                let verifier =
                    rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .allow_unauthenticated()
                        .build()
                        .map_err(|e| TlsError::Invalid(format!("cannot verify client certificates: {e}")))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let config = builder
            .with_single_cert(chain, key)
            .map_err(|e| TlsError::Invalid(format!("the certificate and key do not go together: {e}")))?;
        Ok(Self { acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)), plain_allowed: false })
    }

    /// Serves the certificate chain and key read from PEM files (`--tls-cert`, `--tls-key`; they
    /// may be one file holding both).
    pub fn from_pem_files(certificate: &Path, key: &Path) -> Result<Self, TlsError> {
        let read = |path: &Path| {
            std::fs::read_to_string(path)
                .map_err(|source| TlsError::File { path: path.display().to_string(), source })
        };
        Self::from_pem(&read(certificate)?, &read(key)?)
    }

    /// The same settings in mongod's `net.tls.mode: preferTLS`: a connection that does not
    /// open with a TLS handshake is served in plain TCP.
    pub fn allowing_plain(mut self) -> Self {
        self.plain_allowed = true;
        self
    }

    /// Whether plain TCP connections are served too (`preferTLS`).
    pub fn plain_allowed(&self) -> bool {
        self.plain_allowed
    }

    /// The acceptor for incoming connections.
    pub fn acceptor(&self) -> &tokio_rustls::TlsAcceptor {
        &self.acceptor
    }
}

/// A test CA and a server certificate it signed, in PEM.
#[derive(Clone)]
pub struct TestCertificates {
    /// The CA certificate (what a client's `tlsCAFile` names).
    pub ca_pem: String,
    /// The server certificate.
    pub server_certificate_pem: String,
    /// The server certificate's private key (PKCS#8).
    pub server_key_pem: String,
    ca_key: Arc<KeyPair>,
    ca_params: Arc<CertificateParams>,
}

impl fmt::Debug for TestCertificates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestCertificates").finish_non_exhaustive()
    }
}

fn rcgen_error(e: rcgen::Error) -> TlsError {
    TlsError::Invalid(format!("generating a test certificate: {e}"))
}

impl TestCertificates {
    /// A fresh CA (`CN=mongo-sim test CA`) and a server certificate for `localhost`,
    /// `127.0.0.1` and `extra_names`.
    pub fn generate(extra_names: &[&str]) -> Result<Self, TlsError> {
        let mut names = vec!["localhost", "127.0.0.1"];
        names.extend_from_slice(extra_names);
        Self::generate_for(&names)
    }

    /// A fresh CA and a server certificate for exactly `names` (DNS names or IP addresses).
    pub fn generate_for(names: &[&str]) -> Result<Self, TlsError> {
        let ca_key = KeyPair::generate().map_err(rcgen_error)?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(rcgen_error)?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(DnType::CommonName, "mongo-sim test CA");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = ca_params.self_signed(&ca_key).map_err(rcgen_error)?;
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let common_name = names.first().cloned().unwrap_or_else(|| "mongo-sim".to_owned());
        let mut server = CertificateParams::new(names).map_err(rcgen_error)?;
        server.distinguished_name.push(DnType::CommonName, common_name);
        let server_key = KeyPair::generate().map_err(rcgen_error)?;
        let issuer = Issuer::from_params(&ca_params, &ca_key);
        let server_cert = server.signed_by(&server_key, &issuer).map_err(rcgen_error)?;
        Ok(Self {
            ca_pem: ca.pem(),
            server_certificate_pem: server_cert.pem(),
            server_key_pem: server_key.serialize_pem(),
            ca_key: Arc::new(ca_key),
            ca_params: Arc::new(ca_params),
        })
    }

    /// The server side of these certificates.
    pub fn settings(&self) -> Result<TlsSettings, TlsError> {
        TlsSettings::from_pem(&self.server_certificate_pem, &self.server_key_pem)
    }

    /// The server side of these certificates, also verifying client certificates this CA
    /// signed (see [`TlsSettings::from_pem_verifying_clients`]).
    pub fn settings_verifying_clients(&self) -> Result<TlsSettings, TlsError> {
        TlsSettings::from_pem_verifying_clients(
            &self.server_certificate_pem,
            &self.server_key_pem,
            &self.ca_pem,
        )
    }

    /// A client certificate signed by the CA, with subject `CN=<common_name>` (and `O`/`OU` when
    /// given), as one PEM holding the certificate then its key (a `tlsCertificateKeyFile`).
    pub fn client_certificate_key_pem(&self, common_name: &str) -> Result<String, TlsError> {
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(rcgen_error)?;
        params.distinguished_name.push(DnType::CommonName, common_name);
        let key = KeyPair::generate().map_err(rcgen_error)?;
        let issuer = Issuer::from_params(&self.ca_params, self.ca_key.as_ref());
        let cert = params.signed_by(&key, &issuer).map_err(rcgen_error)?;
        Ok(format!("{}{}", cert.pem(), key.serialize_pem()))
    }

    /// Writes `ca.pem`, `server.pem` (certificate) and `server-key.pem` into `dir` (created if
    /// needed); returns the path of `ca.pem`.
    pub fn write_to(&self, dir: &Path) -> Result<PathBuf, TlsError> {
        let file = |name: &str, contents: &str| {
            let path = dir.join(name);
            std::fs::write(&path, contents)
                .map_err(|source| TlsError::File { path: path.display().to_string(), source })?;
            Ok::<_, TlsError>(path)
        };
        std::fs::create_dir_all(dir)
            .map_err(|source| TlsError::File { path: dir.display().to_string(), source })?;
        file("server.pem", &self.server_certificate_pem)?;
        file("server-key.pem", &self.server_key_pem)?;
        file("ca.pem", &self.ca_pem)
    }
}

/// The subject of the DER certificate `der` as an RFC 2253 string (the form MONGODB-X509 user
/// names take): relative distinguished names from the last to the first, separated by `,`,
/// multi-valued ones joined by `+`, well-known attribute types by their short names.
pub fn subject_rfc2253(der: &[u8]) -> Result<String, TlsError> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| TlsError::Invalid(format!("the client certificate does not parse: {e}")))?;
    let mut rdns = Vec::new();
    for rdn in cert.subject().iter() {
        let mut parts = Vec::new();
        for attribute in rdn.iter() {
            let oid = attribute.attr_type().to_id_string();
            let kind = match oid.as_str() {
                "2.5.4.3" => "CN".to_owned(),
                "2.5.4.6" => "C".to_owned(),
                "2.5.4.7" => "L".to_owned(),
                "2.5.4.8" => "ST".to_owned(),
                "2.5.4.9" => "STREET".to_owned(),
                "2.5.4.10" => "O".to_owned(),
                "2.5.4.11" => "OU".to_owned(),
                "0.9.2342.19200300.100.1.1" => "UID".to_owned(),
                "0.9.2342.19200300.100.1.25" => "DC".to_owned(),
                _ => oid,
            };
            let value = attribute.as_str().map_err(|e| {
                TlsError::Invalid(format!("a subject attribute ({kind}) is not a string: {e}"))
            })?;
            parts.push(format!("{kind}={}", escape_rfc2253(value)));
        }
        rdns.push(parts.join("+"));
    }
    rdns.reverse();
    Ok(rdns.join(","))
}

/// Escapes an attribute value as RFC 2253 section 2.4 asks.
fn escape_rfc2253(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == '#' || c == ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_certificates_make_a_server_config() {
        let certs = TestCertificates::generate(&["example.test"]).expect("certificates");
        assert!(certs.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(certs.settings().is_ok());
        let client = certs.client_certificate_key_pem("alice").expect("client certificate");
        assert!(client.contains("PRIVATE KEY"));
    }

    #[test]
    fn subjects_read_in_rfc2253_form() {
        let certs = TestCertificates::generate(&[]).expect("certificates");
        let pem = certs.client_certificate_key_pem("a,b").expect("client certificate");
        let der = CertificateDer::pem_slice_iter(pem.as_bytes()).next().expect("one").expect("parses");
        assert_eq!(subject_rfc2253(&der).expect("subject"), "CN=a\\,b");
        assert!(certs.settings_verifying_clients().is_ok());
        assert_eq!(escape_rfc2253(" #x+y "), "\\ #x\\+y\\ ");
        assert!(subject_rfc2253(b"not a certificate").is_err());
    }

    #[test]
    fn malformed_pem_is_an_error() {
        assert!(TlsSettings::from_pem("nope", "nope").is_err());
    }
}
