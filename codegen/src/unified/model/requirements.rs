//! The requirements a unified test file or case names for its deployment
//! (`unified-test-format.rst`, "runOnRequirement").

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer};

use super::common::{Document, NonEmpty, Version, present};

/// A topology type named in `runOnRequirement.topologies`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Topology {
    /// A standalone server.
    Single,
    /// A replica set.
    #[serde(rename = "replicaset")]
    ReplicaSet,
    /// A sharded cluster.
    Sharded,
    /// A sharded cluster whose shards are replica sets.
    #[serde(rename = "sharded-replicaset")]
    ShardedReplicaSet,
    /// A load balancer in front of mongos.
    LoadBalanced,
}

/// `runOnRequirement.serverless`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Serverless {
    /// Only on serverless.
    Require,
    /// Never on serverless.
    Forbid,
    /// Either.
    Allow,
}

/// One set of server requirements (section "runOnRequirement"); at least one key.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RunOnRequirement {
    /// Lowest server version.
    #[serde(default, deserialize_with = "present")]
    pub min_server_version: Option<Version>,
    /// Highest server version.
    #[serde(default, deserialize_with = "present")]
    pub max_server_version: Option<Version>,
    /// Acceptable topologies.
    #[serde(default, deserialize_with = "present")]
    pub topologies: Option<NonEmpty<Topology>>,
    /// Serverless requirement.
    #[serde(default, deserialize_with = "present")]
    pub serverless: Option<Serverless>,
    /// Required server parameter values (`getParameter`).
    #[serde(default, deserialize_with = "present")]
    pub server_parameters: Option<Document>,
    /// Whether authentication must be (true) or must not be (false) enabled.
    #[serde(default, deserialize_with = "present")]
    pub auth: Option<bool>,
    /// The authentication mechanism the deployment must support (schema 1.19).
    #[serde(default, deserialize_with = "present")]
    pub auth_mechanism: Option<String>,
    /// Whether client-side field level encryption must be supported (a boolean, or since
    /// schema 1.25 an object with the least libmongocrypt version, which implies `true`).
    #[serde(default, deserialize_with = "present")]
    pub csfle: Option<Csfle>,
}

/// `runOnRequirement.csfle`: a boolean, or `{minLibmongocryptVersion}` (schema 1.25).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Csfle {
    /// Client-side encryption must (`true`) or must not (`false`) be supported.
    Flag(bool),
    /// Client-side encryption with at least this libmongocrypt version must be supported.
    MinVersion(CsfleVersion),
}

impl<'de> Deserialize<'de> for Csfle {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct CsfleVisitor;
        impl<'de> de::Visitor<'de> for CsfleVisitor {
            type Value = Csfle;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a boolean or an object with `minLibmongocryptVersion` (`csfle`)")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Csfle, E> {
                Ok(Csfle::Flag(v))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Csfle, A::Error> {
                // Through the same map access, so errors keep their path inside the object.
                CsfleVersion::deserialize(de::value::MapAccessDeserializer::new(map)).map(Csfle::MinVersion)
            }
        }
        d.deserialize_any(CsfleVisitor)
    }
}

impl Csfle {
    /// Whether the requirement asks for client-side encryption support.
    pub fn required(&self) -> bool {
        !matches!(self, Csfle::Flag(false))
    }
}

/// `runOnRequirement.csfle` in its object form.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CsfleVersion {
    /// The least libmongocrypt version.
    pub min_libmongocrypt_version: Version,
}
