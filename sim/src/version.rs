//! Server versions and the wire versions they announce (handshake spec: `maxWireVersion`).

use std::fmt;
use std::str::FromStr;

/// A MongoDB server release line (`major.minor`) the simulator imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServerVersion {
    /// Major version, e.g. 7.
    pub major: u8,
    /// Minor version, e.g. 0.
    pub minor: u8,
}

/// The release lines the simulator knows, with their `maxWireVersion`.
const KNOWN: [(u8, u8, i32); 7] =
    [(3, 6, 6), (4, 0, 7), (4, 2, 8), (4, 4, 9), (5, 0, 13), (6, 0, 17), (7, 0, 21)];

/// A version string that is not one of the simulated release lines.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported server version '{0}': expected one of 3.6, 4.0, 4.2, 4.4, 5.0, 6.0, 7.0")]
pub struct UnknownVersion(pub String);

impl ServerVersion {
    /// MongoDB 3.6.
    pub const V3_6: Self = Self::new(3, 6);
    /// MongoDB 4.0.
    pub const V4_0: Self = Self::new(4, 0);
    /// MongoDB 4.2.
    pub const V4_2: Self = Self::new(4, 2);
    /// MongoDB 4.4.
    pub const V4_4: Self = Self::new(4, 4);
    /// MongoDB 5.0.
    pub const V5_0: Self = Self::new(5, 0);
    /// MongoDB 6.0.
    pub const V6_0: Self = Self::new(6, 0);
    /// MongoDB 7.0.
    pub const V7_0: Self = Self::new(7, 0);

    /// A version from its parts (not checked against the known release lines).
    pub const fn new(major: u8, minor: u8) -> Self {
        Self { major, minor }
    }

    /// The `maxWireVersion` this release announces in `hello`.
    pub fn max_wire_version(self) -> i32 {
        KNOWN
            .iter()
            .rev()
            .find(|(ma, mi, _)| (*ma, *mi) <= (self.major, self.minor))
            .map_or(6, |(_, _, w)| *w)
    }

    /// The full version string `buildInfo` reports, e.g. `7.0.0`.
    pub fn version_string(self) -> String {
        format!("{}.{}.0", self.major, self.minor)
    }

    /// Whether the server knows the `hello` command and `helloOk` (4.4.2+; modelled as 4.4).
    pub fn supports_hello(self) -> bool {
        self >= Self::V4_4
    }

    /// Whether `hello` carries `topologyVersion` and can be awaited (streaming SDAM, 4.4+).
    pub fn supports_awaitable_hello(self) -> bool {
        self >= Self::V4_4
    }

    /// Whether the server labels retryable errors `RetryableWriteError` itself (4.4+).
    pub fn labels_retryable_writes(self) -> bool {
        self >= Self::V4_4
    }

    /// Whether `readConcern: {level: "snapshot"}` works outside transactions (5.0+).
    pub fn supports_snapshot_reads(self) -> bool {
        self >= Self::V5_0
    }

    /// Whether a stepping-down primary closes its client connections (4.0 and older).
    pub fn closes_connections_on_step_down(self) -> bool {
        self <= Self::V4_0
    }

    /// Whether error code names use the "primary" vocabulary (`NotWritablePrimary`, 5.0+)
    /// rather than the older "master" one (`NotMaster`).
    pub fn uses_primary_vocabulary(self) -> bool {
        self >= Self::V5_0
    }

    /// Whether `hello` reports the server's `connectionId` (4.2+).
    pub fn reports_connection_id(self) -> bool {
        self >= Self::V4_2
    }

    /// Whether the legacy `getnonce` command exists (removed in 6.2; 6.0 still has it).
    pub fn has_getnonce(self) -> bool {
        self <= Self::V6_0
    }

    /// Whether OP_QUERY is refused for anything but the handshake (5.1+, modelled as 6.0).
    pub fn op_query_handshake_only(self) -> bool {
        self >= Self::V6_0
    }
}

impl FromStr for ServerVersion {
    type Err = UnknownVersion;

    /// Parses `X.Y` (or `X.Y.Z`, the patch ignored) naming a known release line.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || UnknownVersion(s.to_owned());
        let mut parts = s.trim().split('.');
        let major: u8 = parts.next().and_then(|p| p.parse().ok()).ok_or_else(err)?;
        let minor: u8 = parts.next().and_then(|p| p.parse().ok()).ok_or_else(err)?;
        if KNOWN.iter().any(|(ma, mi, _)| (*ma, *mi) == (major, minor)) {
            Ok(Self::new(major, minor))
        } else {
            Err(err())
        }
    }
}

impl fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_versions_follow_the_release_table() {
        let got: Vec<i32> = ["3.6", "4.0", "4.2", "4.4", "5.0", "6.0", "7.0"]
            .iter()
            .map(|s| s.parse::<ServerVersion>().map(ServerVersion::max_wire_version))
            .collect::<Result<_, _>>()
            .unwrap_or_default();
        assert_eq!(got, vec![6, 7, 8, 9, 13, 17, 21]);
    }

    #[test]
    fn unknown_versions_are_rejected() {
        assert!("4.1".parse::<ServerVersion>().is_err());
        assert!("seven".parse::<ServerVersion>().is_err());
        assert_eq!("6.0.3".parse::<ServerVersion>(), Ok(ServerVersion::V6_0));
    }

    #[test]
    fn connection_id_and_getnonce_follow_the_releases() {
        assert!(!ServerVersion::V4_0.reports_connection_id());
        assert!(ServerVersion::V4_2.reports_connection_id());
        assert!(ServerVersion::V6_0.has_getnonce());
        assert!(!ServerVersion::V7_0.has_getnonce());
    }
}
