//! Server addresses (`host:port`) as the SDAM spec's ServerDescription "address" field uses them.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// The port a MongoDB server listens on when an address names none.
pub const DEFAULT_PORT: u16 = 27017;

/// The host and port the client connects to; hosts are normalized to lower case
/// (SDAM: "hostnames are normalized to lower-case").
///
/// ```
/// use mongo_driver::sdam::ServerAddress;
/// let a: ServerAddress = "DB.example.com".parse()?;
/// assert_eq!(a.to_string(), "db.example.com:27017");
/// let b: ServerAddress = "[::1]:27018".parse()?;
/// assert_eq!((b.host(), b.port()), ("::1", 27018));
/// # Ok::<(), mongo_driver::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServerAddress {
    host: String,
    port: u16,
}

impl ServerAddress {
    /// The address `host:port` (the host is lower-cased).
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self { host: host.into().to_ascii_lowercase(), port }
    }

    /// The host name or IP address (without brackets for IPv6).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl FromStr for ServerAddress {
    type Err = Error;

    /// Parses `host`, `host:port`, `[ipv6]` or `[ipv6]:port`.
    fn from_str(text: &str) -> Result<Self> {
        let bad = |why: &str| Error::invalid_argument(format!("invalid server address `{text}`: {why}"));
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let (host, after) = rest.split_once(']').ok_or_else(|| bad("missing `]`"))?;
            match after {
                "" => (host, None),
                _ => (host, Some(after.strip_prefix(':').ok_or_else(|| bad("expected `:` after `]`"))?)),
            }
        } else {
            match text.rsplit_once(':') {
                Some((host, _)) if host.contains(':') => return Err(bad("an IPv6 address needs brackets")),
                Some((host, port)) => (host, Some(port)),
                None => (text, None),
            }
        };
        if host.is_empty() {
            return Err(bad("empty host"));
        }
        let port = match port {
            None => DEFAULT_PORT,
            Some(p) => match p.parse::<u16>() {
                Ok(0) | Err(_) => return Err(bad("the port must be a number from 1 to 65535")),
                Ok(p) => p,
            },
        };
        Ok(Self::new(host, port))
    }
}

impl fmt::Display for ServerAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let a: ServerAddress = "a:27017".parse().unwrap();
        assert_eq!(a, ServerAddress::new("a", 27017));
        assert_eq!("A".parse::<ServerAddress>().unwrap().to_string(), "a:27017");
        assert_eq!("[::1]".parse::<ServerAddress>().unwrap().to_string(), "[::1]:27017");
    }

    #[test]
    fn rejects_bad_addresses() {
        for bad in ["", ":1", "a:", "a:0", "a:70000", "a:x", "::1", "[::1", "[::1]x"] {
            assert!(bad.parse::<ServerAddress>().is_err(), "{bad} should be rejected");
        }
    }
}
