//! Parsing a connection string (connection string spec, "Parsing"): the scheme, the user
//! information, the hosts, the auth database, then the options (see [`super::uri_options`])
//! and the option combinations the specs forbid.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::uri_options::OptionsParser;
use super::{Acknowledgment, ConnectionString, Host, HostKind, Scheme, invalid, percent_decode};
use crate::error::Result;
use crate::options::read_preference::ReadPreferenceMode;

const SCHEME_STANDARD: &str = "mongodb://";
const SCHEME_SRV: &str = "mongodb+srv://";

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
