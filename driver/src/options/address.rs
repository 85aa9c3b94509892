//! Server addresses (`host:port`) as the SDAM spec's ServerDescription "address" field uses them.

mod parse;

use std::fmt;

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
