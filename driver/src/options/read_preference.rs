//! Read preferences (server selection spec, "Read Preference": mode, tag_sets,
//! maxStalenessSeconds, hedge) and their validation.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use bson::{Document, doc};

use crate::error::{Error, Result};

/// How often an idle primary writes a no-op to the oplog (max staleness spec, "idleWritePeriodMS").
pub const IDLE_WRITE_PERIOD: Duration = Duration::from_secs(10);

/// The smallest `maxStalenessSeconds` allowed for a replica set ("smallestMaxStalenessSeconds").
pub const SMALLEST_MAX_STALENESS_SECONDS: i64 = 90;

/// Which servers a read may go to (the read preference "mode").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ReadPreferenceMode {
    /// Only the primary.
    #[default]
    Primary,
    /// The primary if known, otherwise eligible secondaries.
    PrimaryPreferred,
    /// Only eligible secondaries.
    Secondary,
    /// Eligible secondaries if any, otherwise the primary.
    SecondaryPreferred,
    /// The primary and eligible secondaries alike, by latency.
    Nearest,
}

impl ReadPreferenceMode {
    /// The mode as spelled in a `$readPreference` document (camel case).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Primary => "primary",
            Self::PrimaryPreferred => "primaryPreferred",
            Self::Secondary => "secondary",
            Self::SecondaryPreferred => "secondaryPreferred",
            Self::Nearest => "nearest",
        }
    }
}

impl fmt::Display for ReadPreferenceMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ReadPreferenceMode {
    type Err = Error;

    /// Parses a mode, ignoring ASCII case (`secondaryPreferred`, `SecondaryPreferred`).
    fn from_str(s: &str) -> Result<Self> {
        [Self::Primary, Self::PrimaryPreferred, Self::Secondary, Self::SecondaryPreferred, Self::Nearest]
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| Error::invalid_argument(format!("unknown read preference mode `{s}`")))
    }
}

/// A set of replica set tags: a server's own tags, or a read preference tag set that a
/// server matches when the tag set is a subset of the server's tags.
///
/// ```
/// use mongo_driver::selection::TagSet;
/// let server = TagSet::from([("dc", "ny"), ("rack", "2")]);
/// assert!(TagSet::from([("dc", "ny")]).matches(&server));
/// assert!(TagSet::default().matches(&server));
/// assert!(!TagSet::from([("dc", "sf")]).matches(&server));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TagSet(pub BTreeMap<String, String>);

impl TagSet {
    /// Whether a server with tags `server` matches this read preference tag set
    /// (this set ⊆ the server's).
    pub fn matches(&self, server: &TagSet) -> bool {
        self.0.iter().all(|(k, v)| server.0.get(k) == Some(v))
    }

    /// Whether the set has no tags (and so matches every server).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The tags as a BSON document.
    pub fn to_document(&self) -> Document {
        self.0.iter().map(|(k, v)| (k.clone(), bson::Bson::String(v.clone()))).collect()
    }
}

impl<K: Into<String>, V: Into<String>, const N: usize> From<[(K, V); N]> for TagSet {
    fn from(pairs: [(K, V); N]) -> Self {
        pairs.into_iter().collect()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for TagSet {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self(iter.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
    }
}

impl fmt::Display for TagSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (k, v)) in self.0.iter().enumerate() {
            write!(f, "{}{k}: {v}", if i == 0 { "" } else { ", " })?;
        }
        f.write_str("}")
    }
}

/// A read preference: which servers a read may be sent to.
///
/// ```
/// use mongo_driver::selection::{ReadPreference, ReadPreferenceMode, TagSet};
/// let rp = ReadPreference::secondary()
///     .with_tag_sets([TagSet::from([("dc", "ny")]), TagSet::default()])
///     .with_max_staleness_seconds(120);
/// assert_eq!(rp.mode, ReadPreferenceMode::Secondary);
/// assert!(rp.validate().is_ok());
/// assert!(ReadPreference::primary().with_max_staleness_seconds(120).validate().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReadPreference {
    /// The mode.
    pub mode: ReadPreferenceMode,
    /// Tag sets tried in order; empty (like the spec's default `[{}]`) matches every server.
    pub tag_sets: Vec<TagSet>,
    /// The largest acceptable estimated staleness of a secondary, in seconds; `None`
    /// or `-1` mean no maximum.
    pub max_staleness_seconds: Option<i64>,
    /// The `hedge` document, passed through to mongos.
    pub hedge: Option<Document>,
}

impl ReadPreference {
    /// A read preference of `mode` with no tags and no max staleness.
    pub fn new(mode: ReadPreferenceMode) -> Self {
        Self { mode, ..Self::default() }
    }

    /// Mode `primary`.
    pub fn primary() -> Self {
        Self::new(ReadPreferenceMode::Primary)
    }

    /// Mode `primaryPreferred`.
    pub fn primary_preferred() -> Self {
        Self::new(ReadPreferenceMode::PrimaryPreferred)
    }

    /// Mode `secondary`.
    pub fn secondary() -> Self {
        Self::new(ReadPreferenceMode::Secondary)
    }

    /// Mode `secondaryPreferred`.
    pub fn secondary_preferred() -> Self {
        Self::new(ReadPreferenceMode::SecondaryPreferred)
    }

    /// Mode `nearest`.
    pub fn nearest() -> Self {
        Self::new(ReadPreferenceMode::Nearest)
    }

    /// With these tag sets, tried in order.
    pub fn with_tag_sets(mut self, tag_sets: impl IntoIterator<Item = TagSet>) -> Self {
        self.tag_sets = tag_sets.into_iter().collect();
        self
    }

    /// With `maxStalenessSeconds` (`-1` means no maximum).
    pub fn with_max_staleness_seconds(mut self, seconds: i64) -> Self {
        self.max_staleness_seconds = Some(seconds);
        self
    }

    /// The max staleness, unless it is absent or `-1` ("no maximum").
    pub fn max_staleness(&self) -> Option<i64> {
        self.max_staleness_seconds.filter(|&s| s != -1)
    }

    /// The max staleness that filters servers: only a positive value does (server
    /// selection spec: "If maxStalenessSeconds is not a positive number, then all
    /// servers are eligible").
    pub fn positive_max_staleness(&self) -> Option<i64> {
        self.max_staleness_seconds.filter(|&s| s > 0)
    }

    /// Checks what can be checked without a topology: a max staleness is `-1` or not
    /// negative; mode `primary` takes no positive max staleness and no non-empty tag set.
    pub fn validate(&self) -> Result<()> {
        if let Some(s) = self.max_staleness() {
            if s < 0 {
                return Err(Error::invalid_argument(format!(
                    "maxStalenessSeconds must be a number of seconds or -1 (no maximum), not {s}"
                )));
            }
            if s > 0 && self.mode == ReadPreferenceMode::Primary {
                return Err(Error::invalid_argument(format!(
                    "read preference mode primary cannot be combined with maxStalenessSeconds ({s})"
                )));
            }
        }
        if self.mode == ReadPreferenceMode::Primary && self.tag_sets.iter().any(|t| !t.is_empty()) {
            return Err(Error::invalid_argument(
                "read preference mode primary cannot be combined with tag sets",
            ));
        }
        Ok(())
    }

    /// The `$readPreference` document sent to mongos (server selection spec, "Document structure").
    pub fn to_document(&self) -> Document {
        let mut d = doc! { "mode": self.mode.as_str() };
        if self.mode != ReadPreferenceMode::Primary {
            if !self.tag_sets.is_empty() {
                d.insert("tags", self.tag_sets.iter().map(TagSet::to_document).collect::<Vec<_>>());
            }
            if let Some(s) = self.positive_max_staleness() {
                d.insert("maxStalenessSeconds", s);
            }
            if let Some(h) = &self.hedge {
                d.insert("hedge", h.clone());
            }
        }
        d
    }
}

impl fmt::Display for ReadPreference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.mode)?;
        if !self.tag_sets.is_empty() {
            let sets: Vec<String> = self.tag_sets.iter().map(ToString::to_string).collect();
            write!(f, ", tag_sets [{}]", sets.join(", "))?;
        }
        if let Some(s) = self.max_staleness() {
            write!(f, ", maxStalenessSeconds {s}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdam::TopologyType;

    #[test]
    fn modes_parse_in_either_case() {
        assert_eq!(
            "SecondaryPreferred".parse::<ReadPreferenceMode>().unwrap(),
            ReadPreferenceMode::SecondaryPreferred
        );
        assert_eq!("nearest".parse::<ReadPreferenceMode>().unwrap(), ReadPreferenceMode::Nearest);
        assert!("closest".parse::<ReadPreferenceMode>().is_err());
    }

    #[test]
    fn minus_one_means_no_maximum() {
        let rp = ReadPreference::primary().with_max_staleness_seconds(-1);
        assert_eq!(rp.max_staleness(), None);
        assert!(
            rp.validate_for_topology(TopologyType::ReplicaSetWithPrimary, Duration::from_secs(10)).is_ok()
        );
    }

    #[test]
    fn negative_staleness_other_than_minus_one_is_invalid() {
        assert!(ReadPreference::nearest().with_max_staleness_seconds(-2).validate().is_err());
    }

    #[test]
    fn zero_staleness_filters_nothing_but_is_too_small_for_a_replica_set() {
        let rp = ReadPreference::nearest().with_max_staleness_seconds(0);
        assert_eq!(rp.positive_max_staleness(), None);
        assert!(rp.validate_for_topology(TopologyType::Sharded, Duration::from_secs(10)).is_ok());
        assert!(
            rp.validate_for_topology(TopologyType::ReplicaSetNoPrimary, Duration::from_secs(10)).is_err()
        );
        assert!(ReadPreference::primary().with_max_staleness_seconds(0).validate().is_ok());
    }

    #[test]
    fn primary_with_tags_is_invalid() {
        let rp = ReadPreference::primary().with_tag_sets([TagSet::from([("dc", "ny")])]);
        assert!(rp.validate().is_err());
        assert!(ReadPreference::primary().with_tag_sets([TagSet::default()]).validate().is_ok());
    }

    #[test]
    fn replica_set_floor_uses_heartbeat() {
        let rp = ReadPreference::secondary().with_max_staleness_seconds(100);
        let rs = TopologyType::ReplicaSetNoPrimary;
        assert!(rp.validate_for_topology(rs, Duration::from_secs(90)).is_ok());
        assert!(rp.validate_for_topology(rs, Duration::from_millis(90_001)).is_err());
        assert!(rp.validate_for_topology(TopologyType::Sharded, Duration::from_secs(500)).is_ok());
    }

    #[test]
    fn document_for_mongos() {
        let rp = ReadPreference::secondary()
            .with_tag_sets([TagSet::from([("dc", "ny")])])
            .with_max_staleness_seconds(120);
        assert_eq!(
            rp.to_document(),
            doc! { "mode": "secondary", "tags": [{ "dc": "ny" }], "maxStalenessSeconds": 120_i64 }
        );
        assert_eq!(ReadPreference::primary().to_document(), doc! { "mode": "primary" });
    }
}
