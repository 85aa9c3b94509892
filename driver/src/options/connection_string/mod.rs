//! Connection strings: the Connection String spec (`connection-string/connection-string-spec.rst`)
//! and the options of the URI Options spec (`uri-options/uri-options.rst`).
//!
//! [`ConnectionString::parse`] splits a `mongodb://` or `mongodb+srv://` URI into its hosts,
//! credentials, auth database and typed [`UriOptions`]. Following the specs, a malformed URI or
//! a forbidden combination of options is an error, while an unknown option or an invalid value
//! for a known one is ignored with a warning (kept in [`ConnectionString::warnings`] and logged
//! with `tracing::warn!`). A `mongodb+srv` URI is checked syntactically only; resolving its SRV
//! and TXT records is the job of the DNS seedlist discovery step.
//!
//! ```
//! use mongo_driver::connection_string::{ConnectionString, HostKind};
//!
//! let cs = ConnectionString::parse("mongodb://alice:s%40cret@db1.example.com:27018,[::1]/admin?replicaSet=rs0&w=majority")?;
//! assert_eq!(cs.hosts[0].host, "db1.example.com");
//! assert_eq!(cs.hosts[0].port, Some(27018));
//! assert_eq!(cs.hosts[1].kind, HostKind::IpLiteral);
//! assert_eq!(cs.password.as_deref(), Some("s@cret"));
//! assert_eq!(cs.database.as_deref(), Some("admin"));
//! assert_eq!(cs.options.replica_set.as_deref(), Some("rs0"));
//! assert!(cs.warnings.is_empty());
//! # Ok::<(), mongo_driver::Error>(())
//! ```

mod parse;
mod uri_options;

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use super::read_preference::{ReadPreferenceMode, TagSet};
use crate::error::{Error, Result};

pub use uri_options::parse_txt_options;

/// The scheme of a connection string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `mongodb://`: the hosts are the seed list.
    Standard,
    /// `mongodb+srv://`: the one host is a DNS name whose SRV records give the seed list.
    Srv,
}

/// What a host identifier names (the Connection String spec's "Host" section).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKind {
    /// A dotted-quad IPv4 address.
    Ipv4,
    /// An IP literal in brackets (an IPv6 address), stored without the brackets.
    IpLiteral,
    /// A DNS host name.
    Hostname,
    /// A UNIX domain socket path (given percent-encoded, ending in `.sock`).
    Unix,
}

impl HostKind {
    /// The name the spec tests use for this kind (`ipv4`, `ip_literal`, `hostname`, `unix`).
    pub fn spec_name(self) -> &'static str {
        match self {
            HostKind::Ipv4 => "ipv4",
            HostKind::IpLiteral => "ip_literal",
            HostKind::Hostname => "hostname",
            HostKind::Unix => "unix",
        }
    }
}

/// One host identifier of a connection string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// What kind of host this is.
    pub kind: HostKind,
    /// The host (decoded; an IP literal without brackets, a socket path with its slashes).
    pub host: String,
    /// The port, if one was given (never for a UNIX socket).
    pub port: Option<u16>,
}

/// A write concern's `w` (read-write-concern spec).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acknowledgment {
    /// Acknowledged by this many nodes (`0` = unacknowledged).
    Nodes(u32),
    /// `w: "majority"`.
    Majority,
    /// A custom write concern name (a tag set name defined by the replica set).
    Custom(String),
}

/// The client options a connection string can set: one typed field per option of the URI
/// Options spec's table (`None` = not given, or given with an invalid value and ignored).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UriOptions {
    /// `appname`: the application name sent in the handshake (at most 128 bytes).
    pub app_name: Option<String>,
    /// `authMechanism`, as given (validated when credentials are built).
    pub auth_mechanism: Option<String>,
    /// `authMechanismProperties`: property name → value.
    pub auth_mechanism_properties: Option<BTreeMap<String, String>>,
    /// `authSource`: the database to authenticate against.
    pub auth_source: Option<String>,
    /// `compressors`: the known compressors named, in order (unknown names are dropped with a warning).
    pub compressors: Option<Vec<String>>,
    /// `zlibCompressionLevel`: -1 (default) to 9.
    pub zlib_compression_level: Option<i32>,
    /// `connectTimeoutMS` (0 = no timeout).
    pub connect_timeout: Option<Duration>,
    /// `directConnection`: connect to the one seed as a Single topology.
    pub direct_connection: Option<bool>,
    /// `enableOverloadRetargeting` (client backpressure spec): on a retry after an overload
    /// error, prefer a server other than the overloaded one. Parsed and kept; the driver's
    /// retry logic does not act on it yet.
    pub enable_overload_retargeting: Option<bool>,
    /// `heartbeatFrequencyMS` (at least 500 ms).
    pub heartbeat_frequency: Option<Duration>,
    /// `journal`: the default write concern's `j`.
    pub journal: Option<bool>,
    /// `serverMonitoringMode` (server monitoring spec, 2023): `auto` (the default), `stream`
    /// or `poll`; another value is ignored with a warning.
    pub server_monitoring_mode: Option<crate::options::monitoring_mode::ServerMonitoringMode>,
    /// `loadBalanced`: the one seed is a load balancer.
    pub load_balanced: Option<bool>,
    /// `localThresholdMS`: the latency window for server selection.
    pub local_threshold: Option<Duration>,
    /// `maxAdaptiveRetries` (client backpressure spec): how many times an operation that
    /// failed with an overload error may be retried (0 = never). Parsed and kept; the driver's
    /// retry logic does not act on it yet.
    pub max_adaptive_retries: Option<u32>,
    /// `maxIdleTimeMS` (0 = no limit).
    pub max_idle_time: Option<Duration>,
    /// `maxPoolSize` (0 = no maximum).
    pub max_pool_size: Option<u32>,
    /// `minPoolSize`.
    pub min_pool_size: Option<u32>,
    /// `maxConnecting` (at least 1).
    pub max_connecting: Option<u32>,
    /// `maxStalenessSeconds`: -1 means "no maximum"; other values are positive (the
    /// 90-second floor is enforced at server selection, per the max staleness spec).
    pub max_staleness_seconds: Option<i64>,
    /// `proxyHost`: a SOCKS5 proxy host.
    pub proxy_host: Option<String>,
    /// `proxyPort`.
    pub proxy_port: Option<u16>,
    /// `proxyUsername`.
    pub proxy_username: Option<String>,
    /// `proxyPassword`.
    pub proxy_password: Option<String>,
    /// `readConcernLevel`, any string (forward compatible with the server).
    pub read_concern_level: Option<String>,
    /// `readPreference`.
    pub read_preference: Option<ReadPreferenceMode>,
    /// `readPreferenceTags`, one tag set per occurrence, in URI order.
    pub read_preference_tags: Option<Vec<TagSet>>,
    /// `replicaSet`.
    pub replica_set: Option<String>,
    /// `retryReads`.
    pub retry_reads: Option<bool>,
    /// `retryWrites`.
    pub retry_writes: Option<bool>,
    /// `serverSelectionTimeoutMS` (positive).
    pub server_selection_timeout: Option<Duration>,
    /// `serverSelectionTryOnce`.
    pub server_selection_try_once: Option<bool>,
    /// `socketTimeoutMS` (0 = no timeout).
    pub socket_timeout: Option<Duration>,
    /// `srvMaxHosts` (0 = no maximum); only with `mongodb+srv`.
    pub srv_max_hosts: Option<u32>,
    /// `srvServiceName`; only with `mongodb+srv`.
    pub srv_service_name: Option<String>,
    /// `timeoutMS` (0 = no timeout).
    pub timeout: Option<Duration>,
    /// `tls` (or its alias `ssl`).
    pub tls: Option<bool>,
    /// `tlsAllowInvalidCertificates`.
    pub tls_allow_invalid_certificates: Option<bool>,
    /// `tlsAllowInvalidHostnames`.
    pub tls_allow_invalid_hostnames: Option<bool>,
    /// `tlsCAFile`.
    pub tls_ca_file: Option<String>,
    /// `tlsCertificateKeyFile`.
    pub tls_certificate_key_file: Option<String>,
    /// `tlsCertificateKeyFilePassword`.
    pub tls_certificate_key_file_password: Option<String>,
    /// `tlsDisableCertificateRevocationCheck`.
    pub tls_disable_certificate_revocation_check: Option<bool>,
    /// `tlsDisableOCSPEndpointCheck`.
    pub tls_disable_ocsp_endpoint_check: Option<bool>,
    /// `tlsInsecure`.
    pub tls_insecure: Option<bool>,
    /// `w`: the default write concern's acknowledgment.
    pub w: Option<Acknowledgment>,
    /// `waitQueueTimeoutMS` (positive).
    pub wait_queue_timeout: Option<Duration>,
    /// `wTimeoutMS`: the default write concern's `wtimeout`.
    pub w_timeout: Option<Duration>,
}

/// A parsed connection string.
#[derive(Clone, PartialEq)]
pub struct ConnectionString {
    /// `mongodb` or `mongodb+srv`.
    pub scheme: Scheme,
    /// The host identifiers, in order (for `mongodb+srv`, the one SRV name).
    pub hosts: Vec<Host>,
    /// The decoded user name, if the URI has user information.
    pub username: Option<String>,
    /// The decoded password, if the user information has a `:`.
    pub password: Option<String>,
    /// The decoded auth database (the path after the hosts), if given.
    pub database: Option<String>,
    /// The options given in the query string.
    pub options: UriOptions,
    /// Warnings about ignored options or values (also logged at WARN level).
    pub warnings: Vec<String>,
}

impl fmt::Debug for ConnectionString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionString")
            .field("scheme", &self.scheme)
            .field("hosts", &self.hosts)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("database", &self.database)
            .field("options", &self.options)
            .field("warnings", &self.warnings)
            .finish()
    }
}

/// An invalid-argument error about the connection string.
fn invalid(message: impl fmt::Display) -> Error {
    Error::invalid_argument(format!("invalid connection string: {message}"))
}

/// Validates the percent-encoding of `text` (every `%` followed by two hex digits) and
/// decodes it as UTF-8. `what` names the component for the error message.
fn percent_decode(text: &str, what: &str) -> Result<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = |offset: usize| bytes.get(i + offset).and_then(|b| (*b as char).to_digit(16));
            match (hex(1), hex(2)) {
                (Some(high), Some(low)) => {
                    out.push((high * 16 + low) as u8);
                    i += 3;
                }
                _ => {
                    return Err(invalid(format!(
                        "the {what} has a `%` that does not start a percent-encoded byte; \
                         reserved characters must be percent-encoded"
                    )));
                }
            }
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| invalid(format!("the {what} does not decode to UTF-8")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(uri: &str) -> ConnectionString {
        match ConnectionString::parse(uri) {
            Ok(cs) => cs,
            Err(e) => panic!("{uri}: {e}"),
        }
    }

    #[test]
    fn percent_decoding_is_strict() {
        assert_eq!(percent_decode("a%20b%2F", "x").unwrap(), "a b/");
        assert!(percent_decode("a%2", "x").is_err());
        assert!(percent_decode("a%zz", "x").is_err());
        assert!(percent_decode("%+1", "x").is_err());
        assert!(percent_decode("%ff", "x").is_err(), "not UTF-8");
    }

    #[test]
    fn errors_say_what_is_wrong_without_the_password() {
        let err = ConnectionString::parse("mongodb://u:secret@h:0").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("port `0`"), "{text}");
        assert!(!text.contains("secret"), "{text}");
        assert!(matches!(*err.kind, crate::ErrorKind::InvalidArgument { .. }));
    }

    #[test]
    fn hosts_of_each_kind() {
        let cs = parse("mongodb://1.2.3.4:5,[fe80::1%25eth0]:6,h.example,%2Ftmp%2Fm.sock");
        let kinds: Vec<HostKind> = cs.hosts.iter().map(|h| h.kind).collect();
        assert_eq!(kinds, [HostKind::Ipv4, HostKind::IpLiteral, HostKind::Hostname, HostKind::Unix]);
        assert_eq!(cs.hosts[1].host, "fe80::1%eth0");
        assert_eq!(cs.hosts[3].host, "/tmp/m.sock");
    }

    #[test]
    fn warnings_for_ignored_values() {
        let cs = parse("mongodb://h/?heartbeatFrequencyMS=499&journal=yes&zz=1&w=-1");
        assert_eq!(cs.options, UriOptions::default());
        assert_eq!(cs.warnings.len(), 4, "{:?}", cs.warnings);
    }

    #[test]
    fn key_value_lists_are_split_before_decoding() {
        let cs = parse("mongodb://h/?readPreference=nearest&readPreferenceTags=a:b%2Cc&readPreferenceTags=");
        let tags = cs.options.read_preference_tags.unwrap();
        assert_eq!(tags.len(), 2);
        assert_eq!(tags[0].0.get("a").map(String::as_str), Some("b,c"));
        assert!(tags[1].is_empty());
    }

    #[test]
    fn forbidden_combinations() {
        for uri in [
            "mongodb://h/?readPreferenceTags=a:b",
            "mongodb://h/?maxStalenessSeconds=120",
            "mongodb://h/?w=0&journal=true",
            "mongodb://h/?minPoolSize=5&maxPoolSize=2",
            "mongodb+srv://a.b.c/?directConnection=true",
            "mongodb://h/?tls=true&ssl=true&tls=false",
        ] {
            assert!(ConnectionString::parse(uri).is_err(), "{uri}");
        }
        assert!(ConnectionString::parse("mongodb://h/?minPoolSize=5&maxPoolSize=0").is_ok());
    }

    #[test]
    fn debug_redacts_the_password() {
        let text = format!("{:?}", parse("mongodb://u:hunter2@h"));
        assert!(!text.contains("hunter2"), "{text}");
    }
}
