//! Typed models of the server-selection test format (`server-selection/tests/README.rst`,
//! shared by `max-staleness/tests/README.rst`). Every struct denies unknown fields, so a
//! spec bump that adds one fails the build at that field's JSON pointer.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

/// A server-selection logic test (`server_selection/**`) or a max staleness test.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelectionTest {
    /// The mocked deployment.
    pub topology_description: TopologyDescription,
    /// `read` or `write`; max staleness tests omit it and mean `read`.
    #[serde(default)]
    pub operation: Operation,
    /// The read preference; absent means the default (mode primary).
    #[serde(default)]
    pub read_preference: ReadPreference,
    /// Max staleness tests: the client's `heartbeatFrequencyMS`, if not the default.
    #[serde(rename = "heartbeatFrequencyMS")]
    pub heartbeat_frequency_ms: Option<u64>,
    /// The servers suitable before latency filtering.
    pub suitable_servers: Option<Vec<Server>>,
    /// The suitable servers within the latency window.
    pub in_latency_window: Option<Vec<Server>>,
    /// `true`: selection must fail with an error.
    pub error: Option<bool>,
    /// Servers to pass as deprioritized to the selection (added to the format in 2023).
    #[serde(default)]
    pub deprioritized_servers: Vec<Server>,
}

/// A round-trip-time averaging test (`rtt/*`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RttTest {
    /// The previous average, or `"NULL"` for none.
    pub avg_rtt_ms: PriorRtt,
    /// The new sample.
    pub new_rtt_ms: Millis,
    /// The expected new average.
    pub new_avg_rtt: Millis,
}

/// A selection-within-the-latency-window test (`in_window/*`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InWindowTest {
    /// What the test shows.
    pub description: String,
    /// The mocked deployment.
    pub topology_description: TopologyDescription,
    /// The operation count of each server.
    pub mocked_topology_state: Vec<MockedServer>,
    /// How many selections to make.
    pub iterations: u32,
    /// The expected frequencies.
    pub outcome: Outcome,
}

/// One server's operation count in an `in_window` test.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MockedServer {
    /// The server.
    pub address: Address,
    /// Its `operationCount`.
    pub operation_count: u32,
}

/// The expected outcome of an `in_window` test.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    /// The largest allowed difference between observed and expected frequency.
    pub tolerance: f64,
    /// Expected selection frequency of each server, in [0, 1].
    pub expected_frequencies: BTreeMap<String, f64>,
}

/// The mocked deployment of a test.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopologyDescription {
    /// The TopologyType.
    #[serde(rename = "type")]
    pub topology_type: TopologyType,
    /// The servers.
    pub servers: Vec<Server>,
}

/// The spec's TopologyType names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[allow(missing_docs)]
pub enum TopologyType {
    Single,
    ReplicaSetNoPrimary,
    ReplicaSetWithPrimary,
    Sharded,
    LoadBalanced,
    Unknown,
}

/// The spec's ServerType names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[allow(missing_docs, clippy::upper_case_acronyms)]
pub enum ServerType {
    Standalone,
    Mongos,
    PossiblePrimary,
    RSPrimary,
    RSSecondary,
    RSArbiter,
    RSOther,
    RSGhost,
    LoadBalancer,
    Unknown,
}

impl ServerType {
    /// Whether the spec calls the type available (not Unknown or PossiblePrimary).
    pub fn is_available(self) -> bool {
        !matches!(self, Self::Unknown | Self::PossiblePrimary)
    }
}

/// A server description in a test.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    /// `host:port`.
    pub address: Address,
    /// The ServerType.
    #[serde(rename = "type")]
    pub server_type: ServerType,
    /// Average round trip time.
    pub avg_rtt_ms: Option<Millis>,
    /// When the client last checked the server, ms since the Unix epoch.
    #[serde(rename = "lastUpdateTime")]
    pub last_update_time: Option<i64>,
    /// The hello reply's `lastWrite`.
    #[serde(rename = "lastWrite")]
    pub last_write: Option<LastWrite>,
    /// The server's maxWireVersion.
    #[serde(rename = "maxWireVersion")]
    pub max_wire_version: Option<i32>,
    /// The server's tags.
    pub tags: Option<BTreeMap<String, String>>,
}

/// The `lastWrite` subdocument.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LastWrite {
    /// Milliseconds since some past time.
    #[serde(rename = "lastWriteDate")]
    pub last_write_date: Int64,
}

/// `read` or `write`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum Operation {
    #[default]
    Read,
    Write,
}

/// A read preference document.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadPreference {
    /// The mode; absent means primary.
    pub mode: Option<Mode>,
    /// Tag sets, tried in order.
    pub tag_sets: Option<Vec<BTreeMap<String, String>>>,
    /// `maxStalenessSeconds`.
    #[serde(rename = "maxStalenessSeconds")]
    pub max_staleness_seconds: Option<i64>,
}

/// A read preference mode (the tests capitalize it; camel case is accepted too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[allow(missing_docs)]
pub enum Mode {
    #[serde(alias = "primary")]
    Primary,
    #[serde(alias = "primaryPreferred")]
    PrimaryPreferred,
    #[serde(alias = "secondary")]
    Secondary,
    #[serde(alias = "secondaryPreferred")]
    SecondaryPreferred,
    #[serde(alias = "nearest")]
    Nearest,
}

/// A `host:port` address, checked when read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Address {
    /// The host (lower case, without IPv6 brackets).
    pub host: String,
    /// The port (27017 when absent).
    pub port: u16,
}

impl Address {
    /// Parses `host`, `host:port` or `[ipv6]:port`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("invalid server address `{text}`: {why}");
        let (host, port) = match text.strip_prefix('[') {
            Some(rest) => {
                let (host, after) = rest.split_once(']').ok_or_else(|| bad("missing `]`"))?;
                (
                    host,
                    if after.is_empty() {
                        None
                    } else {
                        Some(after.strip_prefix(':').ok_or_else(|| bad("`:` expected after `]`"))?)
                    },
                )
            }
            None => match text.rsplit_once(':') {
                Some((h, _)) if h.contains(':') => return Err(bad("an IPv6 address needs brackets")),
                Some((h, p)) => (h, Some(p)),
                None => (text, None),
            },
        };
        if host.is_empty() {
            return Err(bad("empty host"));
        }
        let port = match port {
            None => 27017,
            Some(p) => p.parse::<u16>().ok().filter(|&p| p != 0).ok_or_else(|| bad("bad port"))?,
        };
        Ok(Self { host: host.to_ascii_lowercase(), port })
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Address::parse(&text).map_err(de::Error::custom)
    }
}

/// A non-negative, finite duration in milliseconds, kept as whole nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Millis {
    /// The duration in nanoseconds.
    pub nanos: u64,
}

impl Millis {
    fn from_f64<E: de::Error>(ms: f64) -> Result<Self, E> {
        let nanos = (ms * 1e6).round();
        if !ms.is_finite() || ms < 0.0 || nanos > u64::MAX as f64 {
            return Err(E::custom(format!("expected a non-negative number of milliseconds, got {ms}")));
        }
        Ok(Self { nanos: nanos as u64 })
    }
}

struct MillisVisitor;

impl Visitor<'_> for MillisVisitor {
    type Value = Millis;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a non-negative number of milliseconds")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Millis, E> {
        v.checked_mul(1_000_000)
            .map(|nanos| Millis { nanos })
            .ok_or_else(|| E::custom("milliseconds out of range"))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Millis, E> {
        u64::try_from(v)
            .map_err(|_| E::custom(format!("negative milliseconds {v}")))
            .and_then(|v| self.visit_u64(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Millis, E> {
        Millis::from_f64(v)
    }
}

impl<'de> Deserialize<'de> for Millis {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(MillisVisitor)
    }
}

/// A previous average RTT: milliseconds, or the string `"NULL"` for none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PriorRtt(pub Option<Millis>);

impl<'de> Deserialize<'de> for PriorRtt {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = PriorRtt;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative number of milliseconds or \"NULL\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PriorRtt, E> {
                if v == "NULL" {
                    Ok(PriorRtt(None))
                } else {
                    Err(E::invalid_value(de::Unexpected::Str(v), &self))
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<PriorRtt, E> {
                MillisVisitor.visit_u64(v).map(|m| PriorRtt(Some(m)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<PriorRtt, E> {
                MillisVisitor.visit_i64(v).map(|m| PriorRtt(Some(m)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<PriorRtt, E> {
                MillisVisitor.visit_f64(v).map(|m| PriorRtt(Some(m)))
            }
        }
        d.deserialize_any(V)
    }
}

/// A 64-bit integer: a plain number (YAML) or extended JSON `{"$numberLong": "…"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Int64(pub i64);

impl<'de> Deserialize<'de> for Int64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Int64;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer or {\"$numberLong\": \"<digits>\"}")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Int64, E> {
                Ok(Int64(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Int64, E> {
                i64::try_from(v).map(Int64).map_err(|_| E::custom(format!("{v} does not fit in an int64")))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Int64, A::Error> {
                let mut value = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key != "$numberLong" || value.is_some() {
                        return Err(de::Error::custom(format!("unexpected key `{key}` in an int64")));
                    }
                    let text: String = map.next_value()?;
                    value = Some(
                        text.parse::<i64>()
                            .map_err(|e| de::Error::custom(format!("bad $numberLong `{text}`: {e}")))?,
                    );
                }
                value.map(Int64).ok_or_else(|| de::Error::missing_field("$numberLong"))
            }
        }
        d.deserialize_any(V)
    }
}
