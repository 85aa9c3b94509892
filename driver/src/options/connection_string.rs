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

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use super::read_preference::{ReadPreferenceMode, TagSet};
use crate::error::{Error, Result};

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
    pub server_monitoring_mode: Option<super::monitoring_mode::ServerMonitoringMode>,
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

const SCHEME_STANDARD: &str = "mongodb://";
const SCHEME_SRV: &str = "mongodb+srv://";

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

impl ConnectionString {
    /// Parses a `mongodb://` or `mongodb+srv://` connection string.
    ///
    /// Errors (`ErrorKind::InvalidArgument`) for a malformed URI (bad scheme, missing or
    /// malformed hosts or ports, unescaped `@`/`:`/`%` in the user information, a prohibited
    /// character in the auth database, an option without `=`) and for the option
    /// combinations the specs forbid (conflicting TLS options, `directConnection=true` with
    /// several hosts or SRV, invalid load-balanced, SRV or proxy settings, tags or max
    /// staleness with mode `primary`). Unknown options and invalid option values are ignored
    /// with a warning.
    pub fn parse(uri: &str) -> Result<ConnectionString> {
        let (scheme, rest) = if let Some(rest) = uri.strip_prefix(SCHEME_STANDARD) {
            (Scheme::Standard, rest)
        } else if let Some(rest) = uri.strip_prefix(SCHEME_SRV) {
            (Scheme::Srv, rest)
        } else {
            return Err(invalid(format!("it must start with `{SCHEME_STANDARD}` or `{SCHEME_SRV}`")));
        };

        // The host information ends at the first `/` (or the end).
        let (host_info, path) = match rest.split_once('/') {
            Some((hosts, path)) => (hosts, Some(path)),
            None => (rest, None),
        };
        if path.is_none() && host_info.contains('?') {
            return Err(invalid("a `/` must separate the hosts from the options (`host/?key=value`)"));
        }

        // User information ends at the last `@`.
        let (userinfo, hosts_text) = match host_info.rsplit_once('@') {
            Some((user, hosts)) => (Some(user), hosts),
            None => (None, host_info),
        };
        let (username, password) = match userinfo {
            Some(user) => parse_userinfo(user)?,
            None => (None, None),
        };
        let hosts = parse_hosts(hosts_text)?;
        if scheme == Scheme::Srv {
            if hosts.len() != 1 {
                return Err(invalid("a `mongodb+srv` URI must name exactly one host"));
            }
            if hosts[0].port.is_some() {
                return Err(invalid("a `mongodb+srv` URI must not give a port"));
            }
            if hosts[0].kind != HostKind::Hostname {
                return Err(invalid("the host of a `mongodb+srv` URI must be a DNS name"));
            }
        }

        let (database, query) = match path {
            Some(path) => match path.split_once('?') {
                Some((db, query)) => (db, Some(query)),
                None => (path, None),
            },
            None => ("", None),
        };
        let database = parse_database(database)?;

        let mut parser = OptionsParser::default();
        if let Some(query) = query {
            parser.parse_query(query)?;
        }
        let OptionsParser { options, warnings, present, .. } = parser;
        let cs = ConnectionString { scheme, hosts, username, password, database, options, warnings };
        cs.validate(&present)?;
        for warning in &cs.warnings {
            tracing::warn!(target: "mongo_driver::connection_string", "{warning}");
        }
        Ok(cs)
    }

    /// The checks across options and hosts that the URI Options spec (and the specs it
    /// points to) make errors.
    fn validate(&self, present: &BTreeSet<String>) -> Result<()> {
        let has = |key: &str| present.contains(key);
        let o = &self.options;

        const TLS_CONFLICTS: &[(&str, &str)] = &[
            ("tlsinsecure", "tlsallowinvalidcertificates"),
            ("tlsinsecure", "tlsallowinvalidhostnames"),
            ("tlsinsecure", "tlsdisableocspendpointcheck"),
            ("tlsinsecure", "tlsdisablecertificaterevocationcheck"),
            ("tlsallowinvalidcertificates", "tlsdisableocspendpointcheck"),
            ("tlsallowinvalidcertificates", "tlsdisablecertificaterevocationcheck"),
            ("tlsdisableocspendpointcheck", "tlsdisablecertificaterevocationcheck"),
        ];
        for (a, b) in TLS_CONFLICTS {
            if has(a) && has(b) {
                return Err(invalid(format!("the options `{a}` and `{b}` must not both be given")));
            }
        }

        if o.direct_connection == Some(true) {
            if self.hosts.len() > 1 {
                return Err(invalid("`directConnection=true` cannot be used with several hosts"));
            }
            if self.scheme == Scheme::Srv {
                return Err(invalid("`directConnection=true` cannot be used with `mongodb+srv`"));
            }
        }

        if o.load_balanced == Some(true) {
            if self.hosts.len() > 1 {
                return Err(invalid("`loadBalanced=true` cannot be used with several hosts"));
            }
            if o.replica_set.is_some() {
                return Err(invalid("`loadBalanced=true` cannot be used with `replicaSet`"));
            }
            if o.direct_connection == Some(true) {
                return Err(invalid("`loadBalanced=true` cannot be used with `directConnection=true`"));
            }
            if o.srv_max_hosts.is_some_and(|n| n > 0) {
                return Err(invalid("`loadBalanced=true` cannot be used with a positive `srvMaxHosts`"));
            }
        }

        if self.scheme != Scheme::Srv {
            for key in ["srvServiceName", "srvMaxHosts"] {
                if has(&key.to_ascii_lowercase()) {
                    return Err(invalid(format!("`{key}` may only be used with `mongodb+srv`")));
                }
            }
        }
        if o.srv_max_hosts.is_some_and(|n| n > 0) && o.replica_set.is_some() {
            return Err(invalid("a positive `srvMaxHosts` cannot be used with `replicaSet`"));
        }

        if o.proxy_host.is_none() {
            for key in ["proxyPort", "proxyUsername", "proxyPassword"] {
                if has(&key.to_ascii_lowercase()) {
                    return Err(invalid(format!("`{key}` requires `proxyHost`")));
                }
            }
        }
        if o.proxy_username.is_some() != o.proxy_password.is_some() {
            return Err(invalid("`proxyUsername` and `proxyPassword` must be given together"));
        }

        let mode = o.read_preference.unwrap_or(ReadPreferenceMode::Primary);
        if mode == ReadPreferenceMode::Primary {
            if o.read_preference_tags.as_ref().is_some_and(|sets| sets.iter().any(|s| !s.is_empty())) {
                return Err(invalid(
                    "`readPreferenceTags` cannot be used with read preference mode `primary`",
                ));
            }
            if o.max_staleness_seconds.is_some_and(|s| s > 0) {
                return Err(invalid(
                    "`maxStalenessSeconds` cannot be used with read preference mode `primary`",
                ));
            }
        }

        if o.w == Some(Acknowledgment::Nodes(0)) && o.journal == Some(true) {
            return Err(invalid("`w=0` cannot be combined with `journal=true`"));
        }
        if let (Some(min), Some(max)) = (o.min_pool_size, o.max_pool_size)
            && max != 0
            && min > max
        {
            return Err(invalid(format!("`minPoolSize` ({min}) is greater than `maxPoolSize` ({max})")));
        }
        Ok(())
    }
}

fn parse_userinfo(userinfo: &str) -> Result<(Option<String>, Option<String>)> {
    if userinfo.contains('@') {
        return Err(invalid(
            "the user information has an unescaped `@`; the username and password must be percent-encoded",
        ));
    }
    let (user, pass) = match userinfo.split_once(':') {
        Some((user, pass)) => (user, Some(pass)),
        None => (userinfo, None),
    };
    if pass.is_some_and(|p| p.contains(':')) {
        return Err(invalid(
            "the user information has more than one unescaped `:`; the username and password must be percent-encoded",
        ));
    }
    let username = percent_decode(user, "username")?;
    if username.is_empty() {
        return Err(invalid("the user information has an empty username"));
    }
    let password = pass.map(|p| percent_decode(p, "password")).transpose()?;
    Ok((Some(username), password))
}

fn parse_hosts(text: &str) -> Result<Vec<Host>> {
    if text.is_empty() {
        return Err(invalid("it names no host"));
    }
    text.split(',').map(parse_host).collect()
}

fn parse_port(text: &str, host: &str) -> Result<u16> {
    let port = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse::<u16>().ok()
    } else {
        None
    };
    match port {
        Some(port) if port != 0 => Ok(port),
        _ => Err(invalid(format!("the port `{text}` of host `{host}` is not an integer from 1 to 65535"))),
    }
}

fn parse_host(text: &str) -> Result<Host> {
    if text.is_empty() {
        return Err(invalid("it has an empty host"));
    }
    if let Some(literal) = text.strip_prefix('[') {
        let (inside, after) = literal
            .split_once(']')
            .ok_or_else(|| invalid(format!("the IP literal `{text}` has no closing `]`")))?;
        let port = match after {
            "" => None,
            _ => match after.strip_prefix(':') {
                Some(port) => Some(parse_port(port, text)?),
                None => return Err(invalid(format!("unexpected text after the IP literal in `{text}`"))),
            },
        };
        let inside = percent_decode(inside, "IP literal")?;
        let address = inside.split_once('%').map_or(inside.as_str(), |(addr, _zone)| addr);
        if address.parse::<Ipv6Addr>().is_err() {
            return Err(invalid(format!("`[{inside}]` is not an IPv6 address")));
        }
        return Ok(Host { kind: HostKind::IpLiteral, host: inside, port });
    }
    let (host, port) = match text.split_once(':') {
        Some((host, port)) => {
            if port.contains(':') {
                return Err(invalid(format!(
                    "the host `{text}` has more than one `:` (an IPv6 address must be in brackets)"
                )));
            }
            (host, Some(parse_port(port, text)?))
        }
        None => (text, None),
    };
    if host.is_empty() {
        return Err(invalid(format!("the host identifier `{text}` has an empty host")));
    }
    let decoded = percent_decode(host, "host")?;
    if decoded.contains('/') {
        if !decoded.ends_with(".sock") {
            return Err(invalid(format!(
                "unsupported host `{decoded}`: a UNIX domain socket path must end in `.sock`"
            )));
        }
        if port.is_some() {
            return Err(invalid(format!("the UNIX domain socket `{decoded}` cannot have a port")));
        }
        return Ok(Host { kind: HostKind::Unix, host: decoded, port: None });
    }
    if let Some(bad) = decoded.chars().find(|c| c.is_whitespace() || "?#@[]\\:".contains(*c)) {
        return Err(invalid(format!("the host `{decoded}` contains the character `{bad}`")));
    }
    let kind = if decoded.parse::<Ipv4Addr>().is_ok() { HostKind::Ipv4 } else { HostKind::Hostname };
    Ok(Host { kind, host: decoded, port })
}

fn parse_database(text: &str) -> Result<Option<String>> {
    if text.is_empty() {
        return Ok(None);
    }
    let db = percent_decode(text, "auth database")?;
    if let Some(bad) = db.chars().find(|c| "/\\ \"$".contains(*c)) {
        return Err(invalid(format!(
            "the auth database name `{db}` contains the prohibited character `{bad}`"
        )));
    }
    Ok(Some(db))
}

/// Option keys (lower case) that may be repeated to form a list.
const LIST_KEYS: &[&str] = &["readpreferencetags"];
/// Option keys (lower case) whose repetition is an error.
const UNIQUE_KEYS: &[&str] = &["proxyhost", "proxyport", "proxyusername", "proxypassword"];

/// Parses the options of a `mongodb+srv` TXT record (initial DNS seedlist discovery spec,
/// "Default Connection String Options"): the same `key=value&…` syntax as a URI's options,
/// with the same errors. Returns the options and the lower-case keys given.
pub fn parse_txt_options(text: &str) -> Result<(UriOptions, BTreeSet<String>)> {
    let mut parser = OptionsParser::default();
    parser.parse_query(text)?;
    Ok((parser.options, parser.present))
}

#[derive(Default)]
struct OptionsParser {
    options: UriOptions,
    warnings: Vec<String>,
    /// Lower-case keys seen in the URI (valid value or not).
    present: BTreeSet<String>,
    /// The values given for `tls` and `ssl`, which must all agree.
    tls_values: Vec<(String, bool)>,
}

impl OptionsParser {
    fn warn(&mut self, message: String) {
        self.warnings.push(message);
    }

    fn parse_query(&mut self, query: &str) -> Result<()> {
        for pair in query.split('&') {
            if pair.is_empty() {
                continue;
            }
            let (raw_key, raw_value) = pair.split_once('=').ok_or_else(|| {
                invalid(format!("the option `{pair}` has no `=`; options must be `key=value` pairs"))
            })?;
            let key = percent_decode(raw_key, "option name")?;
            let lower = key.to_ascii_lowercase();
            if !self.present.insert(lower.clone()) && !LIST_KEYS.contains(&lower.as_str()) {
                if UNIQUE_KEYS.contains(&lower.as_str()) {
                    return Err(invalid(format!("the option `{key}` is given more than once")));
                }
                self.warn(format!("the option `{key}` is given more than once; the last value is used"));
            }
            self.apply(&key, &lower, raw_value)?;
        }
        let mut tls = self.tls_values.iter();
        if let Some((first_key, first)) = tls.next()
            && let Some((key, _)) = tls.find(|(_, v)| v != first)
        {
            return Err(invalid(format!("the options `{first_key}` and `{key}` must have the same value")));
        }
        Ok(())
    }

    fn unsupported_value(&mut self, key: &str, value: &str, expected: &str) {
        self.warn(format!(
            "unsupported value `{value}` for option `{key}` (expected {expected}); the option is ignored"
        ));
    }

    /// An integer in `min..=max`, or a warning and `None`.
    fn int(&mut self, key: &str, value: &str, min: i64, max: i64) -> Option<i64> {
        if value.is_empty() {
            self.warn(format!("the option `{key}` has an empty value; it is ignored"));
            return None;
        }
        match value.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                let expected = if max == i64::from(i32::MAX) || max == i64::MAX {
                    format!("an integer of at least {min}")
                } else {
                    format!("an integer from {min} to {max}")
                };
                self.unsupported_value(key, value, &expected);
                None
            }
        }
    }

    fn u32(&mut self, key: &str, value: &str, min: u32) -> Option<u32> {
        self.int(key, value, i64::from(min), i64::from(i32::MAX)).and_then(|n| u32::try_from(n).ok())
    }

    fn millis(&mut self, key: &str, value: &str, min: u64, max: i64) -> Option<Duration> {
        self.int(key, value, min as i64, max).and_then(|n| u64::try_from(n).ok()).map(Duration::from_millis)
    }

    fn boolean(&mut self, key: &str, value: &str) -> Option<bool> {
        match value {
            "true" => Some(true),
            "false" => Some(false),
            "" => {
                self.warn(format!("the option `{key}` has an empty value; it is ignored"));
                None
            }
            _ => {
                self.unsupported_value(key, value, "`true` or `false`");
                None
            }
        }
    }

    /// `k:v,k:v` pairs (each part percent-decoded after splitting), or a warning and `None`.
    fn pairs(&mut self, key: &str, raw: &str) -> Result<Option<BTreeMap<String, String>>> {
        let mut out = BTreeMap::new();
        if raw.is_empty() {
            return Ok(Some(out));
        }
        for item in raw.split(',') {
            let Some((k, v)) = item.split_once(':') else {
                let shown = percent_decode(raw, "option value")?;
                self.unsupported_value(key, &shown, "comma-separated `key:value` pairs");
                return Ok(None);
            };
            out.insert(percent_decode(k, "option value")?, percent_decode(v, "option value")?);
        }
        Ok(Some(out))
    }

    fn apply(&mut self, key: &str, lower: &str, raw: &str) -> Result<()> {
        const I32_MAX: i64 = i32::MAX as i64;
        let value = percent_decode(raw, "option value")?;
        let v = value.as_str();
        match lower {
            "appname" => {
                if v.len() > 128 {
                    return Err(invalid(format!(
                        "`appname` is {} bytes long; at most 128 are allowed",
                        v.len()
                    )));
                }
                self.options.app_name = Some(value);
            }
            "authmechanism" => self.options.auth_mechanism = Some(value),
            "authmechanismproperties" => {
                if let Some(props) = self.pairs(key, raw)? {
                    self.options.auth_mechanism_properties = Some(props);
                }
            }
            "authsource" => self.options.auth_source = Some(value),
            "compressors" => {
                let mut names = Vec::new();
                for name in v.split(',') {
                    if matches!(name, "snappy" | "zlib" | "zstd") {
                        names.push(name.to_string());
                    } else {
                        self.warn(format!(
                            "unsupported compressor `{name}` in option `{key}`; it is ignored"
                        ));
                    }
                }
                if !names.is_empty() {
                    self.options.compressors = Some(names);
                }
            }
            "zlibcompressionlevel" => {
                self.options.zlib_compression_level = self.int(key, v, -1, 9).map(|n| n as i32);
            }
            "connecttimeoutms" => self.options.connect_timeout = self.millis(key, v, 0, I32_MAX),
            "directconnection" => self.options.direct_connection = self.boolean(key, v),
            "enableoverloadretargeting" => self.options.enable_overload_retargeting = self.boolean(key, v),
            "heartbeatfrequencyms" => self.options.heartbeat_frequency = self.millis(key, v, 500, I32_MAX),
            "journal" => self.options.journal = self.boolean(key, v),
            "servermonitoringmode" => match v.parse::<super::monitoring_mode::ServerMonitoringMode>() {
                Ok(mode) => self.options.server_monitoring_mode = Some(mode),
                Err(_) => self.unsupported_value(key, v, "`auto`, `stream` or `poll`"),
            },
            "loadbalanced" => self.options.load_balanced = self.boolean(key, v),
            "localthresholdms" => self.options.local_threshold = self.millis(key, v, 0, I32_MAX),
            "maxadaptiveretries" => self.options.max_adaptive_retries = self.u32(key, v, 0),
            "maxidletimems" => self.options.max_idle_time = self.millis(key, v, 0, I32_MAX),
            "maxpoolsize" => self.options.max_pool_size = self.u32(key, v, 0),
            "minpoolsize" => self.options.min_pool_size = self.u32(key, v, 0),
            "maxconnecting" => self.options.max_connecting = self.u32(key, v, 1),
            "maxstalenessseconds" => {
                self.options.max_staleness_seconds = match self.int(key, v, -1, I32_MAX) {
                    Some(0) => {
                        self.unsupported_value(key, v, "-1 or a positive integer");
                        None
                    }
                    other => other,
                };
            }
            "proxyhost" => self.options.proxy_host = Some(value),
            "proxyport" => {
                self.options.proxy_port = self.int(key, v, 0, i64::from(u16::MAX)).map(|n| n as u16);
            }
            "proxyusername" => self.options.proxy_username = Some(value),
            "proxypassword" => self.options.proxy_password = Some(value),
            "readconcernlevel" => self.options.read_concern_level = Some(value),
            "readpreference" => match v.parse::<ReadPreferenceMode>() {
                Ok(mode) => self.options.read_preference = Some(mode),
                Err(_) => self.unsupported_value(
                    key,
                    v,
                    "`primary`, `primaryPreferred`, `secondary`, `secondaryPreferred` or `nearest`",
                ),
            },
            "readpreferencetags" => {
                if let Some(set) = self.pairs(key, raw)? {
                    self.options.read_preference_tags.get_or_insert_with(Vec::new).push(TagSet(set));
                }
            }
            "replicaset" => self.options.replica_set = Some(value),
            "retryreads" => self.options.retry_reads = self.boolean(key, v),
            "retrywrites" => self.options.retry_writes = self.boolean(key, v),
            "serverselectiontimeoutms" => {
                self.options.server_selection_timeout = self.millis(key, v, 1, I32_MAX);
            }
            "serverselectiontryonce" => self.options.server_selection_try_once = self.boolean(key, v),
            "sockettimeoutms" => self.options.socket_timeout = self.millis(key, v, 0, I32_MAX),
            "srvmaxhosts" => self.options.srv_max_hosts = self.u32(key, v, 0),
            "srvservicename" => {
                if v.is_empty() {
                    self.warn(format!("the option `{key}` has an empty value; it is ignored"));
                } else {
                    self.options.srv_service_name = Some(value);
                }
            }
            "timeoutms" => self.options.timeout = self.millis(key, v, 0, I32_MAX),
            "tls" | "ssl" => {
                if let Some(b) = self.boolean(key, v) {
                    self.tls_values.push((key.to_string(), b));
                    self.options.tls = Some(b);
                }
            }
            "tlsallowinvalidcertificates" => {
                self.options.tls_allow_invalid_certificates = self.boolean(key, v);
            }
            "tlsallowinvalidhostnames" => self.options.tls_allow_invalid_hostnames = self.boolean(key, v),
            "tlscafile" => self.options.tls_ca_file = Some(value),
            "tlscertificatekeyfile" => self.options.tls_certificate_key_file = Some(value),
            "tlscertificatekeyfilepassword" => self.options.tls_certificate_key_file_password = Some(value),
            "tlsdisablecertificaterevocationcheck" => {
                self.options.tls_disable_certificate_revocation_check = self.boolean(key, v);
            }
            "tlsdisableocspendpointcheck" => {
                self.options.tls_disable_ocsp_endpoint_check = self.boolean(key, v);
            }
            "tlsinsecure" => self.options.tls_insecure = self.boolean(key, v),
            "w" => {
                self.options.w = if v.is_empty() {
                    self.warn(format!("the option `{key}` has an empty value; it is ignored"));
                    None
                } else if v.bytes().all(|b| b.is_ascii_digit() || b == b'-') && v.parse::<i64>().is_ok() {
                    self.u32(key, v, 0).map(Acknowledgment::Nodes)
                } else if v == "majority" {
                    Some(Acknowledgment::Majority)
                } else {
                    Some(Acknowledgment::Custom(value))
                };
            }
            "waitqueuetimeoutms" => self.options.wait_queue_timeout = self.millis(key, v, 1, I32_MAX),
            "wtimeoutms" => self.options.w_timeout = self.millis(key, v, 0, i64::MAX),
            _ => self.warn(format!("unsupported option `{key}`; it is ignored")),
        }
        Ok(())
    }
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
