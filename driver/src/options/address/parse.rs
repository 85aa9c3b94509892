//! Parsing `host`, `host:port`, `[ipv6]` and `[ipv6]:port` into a [`ServerAddress`]
//! (connection string spec, "Host"); apart from the type so that the error type, which
//! names addresses, and the address, whose parse errors are driver errors, form no circle.

use std::str::FromStr;

use super::{DEFAULT_PORT, ServerAddress};
use crate::error::{Error, Result};

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
