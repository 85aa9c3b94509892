//! Typed model of a unified test file (`unified-test-format.md`, "Test Format"), up to
//! schema version 1.28; every object rejects keys the schema does not define.

use std::fmt;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A JSON object whose contents are an arbitrary document (arguments, options, data).
pub type Document = Map<String, Value>;

/// Deserializes a field that is optional but, when present, must have type `T` (a `null`
/// is rejected, as the schema does).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// A list the schema requires to hold at least one item (`minItems: 1`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct NonEmpty<T>(pub Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for NonEmpty<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let items = Vec::<T>::deserialize(d)?;
        if items.is_empty() {
            return Err(de::Error::custom("the array must have at least one item (minItems: 1)"));
        }
        Ok(Self(items))
    }
}

impl<T> std::ops::Deref for NonEmpty<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

/// A version string `major.minor[.patch]` (schema `version`: `^[0-9]+(\.[0-9]+){1,2}$`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// Major component.
    pub major: u32,
    /// Minor component.
    pub minor: u32,
    /// Patch component (0 when absent).
    pub patch: u32,
}

impl Version {
    /// Parses `major.minor[.patch]`; `None` when the text does not fit the pattern.
    pub fn parse(text: &str) -> Option<Self> {
        let parts: Vec<&str> = text.split('.').collect();
        if !(2..=3).contains(&parts.len())
            || parts.iter().any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
        {
            return None;
        }
        let num = |p: &str| p.parse::<u32>().ok();
        Some(Self {
            major: num(parts[0])?,
            minor: num(parts[1])?,
            patch: match parts.get(2) {
                Some(p) => num(p)?,
                None => 0,
            },
        })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Version::parse(&text).ok_or_else(|| {
            de::Error::custom(format!(
                "`{text}` is not a version string (`major.minor[.patch]`, digits only)"
            ))
        })
    }
}

/// `isError`, which the schema allows only as `true`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IsTrue;

impl<'de> Deserialize<'de> for IsTrue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if bool::deserialize(d)? {
            Ok(IsTrue)
        } else {
            Err(de::Error::custom("`isError` may only be `true` (const: true)"))
        }
    }
}

/// A whole test file (section "Test Format").
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TestFile {
    /// What the file tests.
    pub description: String,
    /// Version of the format the file is written for.
    pub schema_version: Version,
    /// Requirements for running any test in the file (any one must be met).
    #[serde(default, deserialize_with = "present")]
    pub run_on_requirements: Option<NonEmpty<RunOnRequirement>>,
    /// Entities created before each test.
    #[serde(default, deserialize_with = "present")]
    pub create_entities: Option<NonEmpty<Entity>>,
    /// Data inserted before each test.
    #[serde(default, deserialize_with = "present")]
    pub initial_data: Option<NonEmpty<CollectionData>>,
    /// The tests.
    pub tests: NonEmpty<TestCase>,
    /// YAML anchors carried into the JSON twin; ignored.
    #[serde(default, rename = "_yamlAnchors", deserialize_with = "present")]
    pub yaml_anchors: Option<Document>,
}

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

/// An entity to create (section "entity"): exactly one key naming its type.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Entity {
    /// A MongoClient.
    Client(ClientEntity),
    /// A ClientEncryption object.
    ClientEncryption(Box<ClientEncryptionEntity>),
    /// A database.
    Database(DatabaseEntity),
    /// A collection.
    Collection(CollectionEntity),
    /// A client session.
    Session(SessionEntity),
    /// A GridFS bucket.
    Bucket(BucketEntity),
    /// A thread for concurrent operations.
    Thread(ThreadEntity),
}

impl Entity {
    /// The entity's id.
    pub fn id(&self) -> &str {
        match self {
            Entity::Client(e) => &e.id,
            Entity::ClientEncryption(e) => &e.id,
            Entity::Database(e) => &e.id,
            Entity::Collection(e) => &e.id,
            Entity::Session(e) => &e.id,
            Entity::Bucket(e) => &e.id,
            Entity::Thread(e) => &e.id,
        }
    }

    /// The entity type's key in the file (`client`, `database`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Entity::Client(_) => "client",
            Entity::ClientEncryption(_) => "clientEncryption",
            Entity::Database(_) => "database",
            Entity::Collection(_) => "collection",
            Entity::Session(_) => "session",
            Entity::Bucket(_) => "bucket",
            Entity::Thread(_) => "thread",
        }
    }
}

/// An event type a client may observe (`client.observeEvents`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(clippy::enum_variant_names)]
pub enum ObservedEvent {
    /// Command monitoring: started.
    CommandStartedEvent,
    /// Command monitoring: succeeded.
    CommandSucceededEvent,
    /// Command monitoring: failed.
    CommandFailedEvent,
    /// CMAP: pool created.
    PoolCreatedEvent,
    /// CMAP: pool ready.
    PoolReadyEvent,
    /// CMAP: pool cleared.
    PoolClearedEvent,
    /// CMAP: pool closed.
    PoolClosedEvent,
    /// CMAP: connection created.
    ConnectionCreatedEvent,
    /// CMAP: connection ready.
    ConnectionReadyEvent,
    /// CMAP: connection closed.
    ConnectionClosedEvent,
    /// CMAP: check-out started.
    ConnectionCheckOutStartedEvent,
    /// CMAP: check-out failed.
    ConnectionCheckOutFailedEvent,
    /// CMAP: checked out.
    ConnectionCheckedOutEvent,
    /// CMAP: checked in.
    ConnectionCheckedInEvent,
    /// SDAM: server description changed.
    ServerDescriptionChangedEvent,
    /// SDAM: topology description changed (schema 1.14).
    TopologyDescriptionChangedEvent,
    /// SDAM: topology opening (schema 1.20).
    TopologyOpeningEvent,
    /// SDAM: topology closed (schema 1.20).
    TopologyClosedEvent,
}

/// An event type stored by `storeEventsAsEntities` (names in PascalCase).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[allow(clippy::enum_variant_names)]
pub enum StoredEvent {
    /// CMAP: pool created.
    PoolCreatedEvent,
    /// CMAP: pool ready.
    PoolReadyEvent,
    /// CMAP: pool cleared.
    PoolClearedEvent,
    /// CMAP: pool closed.
    PoolClosedEvent,
    /// CMAP: connection created.
    ConnectionCreatedEvent,
    /// CMAP: connection ready.
    ConnectionReadyEvent,
    /// CMAP: connection closed.
    ConnectionClosedEvent,
    /// CMAP: check-out started.
    ConnectionCheckOutStartedEvent,
    /// CMAP: check-out failed.
    ConnectionCheckOutFailedEvent,
    /// CMAP: checked out.
    ConnectionCheckedOutEvent,
    /// CMAP: checked in.
    ConnectionCheckedInEvent,
    /// Command monitoring: started.
    CommandStartedEvent,
    /// Command monitoring: succeeded.
    CommandSucceededEvent,
    /// Command monitoring: failed.
    CommandFailedEvent,
    /// SDAM: server description changed.
    ServerDescriptionChangedEvent,
    /// SDAM: topology description changed (schema 1.14).
    TopologyDescriptionChangedEvent,
}

/// `client` entity.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClientEntity {
    /// Entity id.
    pub id: String,
    /// URI options added to the connection string.
    #[serde(default, deserialize_with = "present")]
    pub uri_options: Option<Document>,
    /// Whether to connect to several mongoses (sharded clusters).
    #[serde(default, deserialize_with = "present")]
    pub use_multiple_mongoses: Option<bool>,
    /// Events to observe.
    #[serde(default, deserialize_with = "present")]
    pub observe_events: Option<NonEmpty<ObservedEvent>>,
    /// Command names whose monitoring events are ignored.
    #[serde(default, deserialize_with = "present")]
    pub ignore_command_monitoring_events: Option<NonEmpty<String>>,
    /// Events stored into array entities.
    #[serde(default, deserialize_with = "present")]
    pub store_events_as_entities: Option<NonEmpty<StoreEventsAsEntity>>,
    /// Declared Stable API.
    #[serde(default, deserialize_with = "present")]
    pub server_api: Option<ServerApi>,
    /// Whether to observe sensitive commands' events.
    #[serde(default, deserialize_with = "present")]
    pub observe_sensitive_commands: Option<bool>,
    /// Log messages to collect, by component and least severity (schema 1.13).
    #[serde(default, deserialize_with = "present")]
    pub observe_log_messages: Option<ObserveLogMessages>,
    /// Tracing spans to collect (schema 1.27).
    #[serde(default, deserialize_with = "present")]
    pub observe_tracing_messages: Option<ObserveTracingMessages>,
    /// Automatic encryption options (schema 1.23), kept as written.
    #[serde(default, deserialize_with = "present")]
    pub auto_encrypt_opts: Option<Document>,
    /// Wait this long for the pools to reach `minPoolSize` before the test (schema 1.26).
    #[serde(default, rename = "awaitMinPoolSizeMS", deserialize_with = "present")]
    pub await_min_pool_size_ms: Option<i64>,
}

/// A log severity level (RFC 5424 names, `logSeverityLevel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogSeverityLevel {
    /// `emergency`.
    Emergency,
    /// `alert`.
    Alert,
    /// `critical`.
    Critical,
    /// `error`.
    Error,
    /// `warning`.
    Warning,
    /// `notice`.
    Notice,
    /// `info`.
    Info,
    /// `debug`.
    Debug,
    /// `trace`.
    Trace,
}

/// A log component (`logComponent`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogComponent {
    /// Command logging.
    Command,
    /// SDAM logging.
    Topology,
    /// Server selection logging.
    ServerSelection,
    /// CMAP logging.
    Connection,
}

/// Deserializes a string naming one of `names` (a value of another type is an invalid
/// type, an unknown string an unknown variant), giving its index.
fn named<'de, D: Deserializer<'de>>(d: D, names: &'static [&'static str]) -> Result<usize, D::Error> {
    struct Named(&'static [&'static str]);
    impl de::Visitor<'_> for Named {
        type Value = usize;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a string, one of {:?}", self.0)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<usize, E> {
            self.0.iter().position(|n| *n == v).ok_or_else(|| E::unknown_variant(v, self.0))
        }
    }
    d.deserialize_str(Named(names))
}

impl<'de> Deserialize<'de> for LogSeverityLevel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use LogSeverityLevel::*;
        const NAMES: &[&str] =
            &["emergency", "alert", "critical", "error", "warning", "notice", "info", "debug", "trace"];
        const LEVELS: [LogSeverityLevel; 9] =
            [Emergency, Alert, Critical, Error, Warning, Notice, Info, Debug, Trace];
        named(d, NAMES).map(|i| LEVELS[i])
    }
}

impl<'de> Deserialize<'de> for LogComponent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use LogComponent::*;
        const NAMES: &[&str] = &["command", "topology", "serverSelection", "connection"];
        const COMPONENTS: [LogComponent; 4] = [Command, Topology, ServerSelection, Connection];
        named(d, NAMES).map(|i| COMPONENTS[i])
    }
}

/// `client.observeLogMessages`: at least one component (checked by [`super::load`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ObserveLogMessages {
    /// Command logging.
    #[serde(default, deserialize_with = "present")]
    pub command: Option<LogSeverityLevel>,
    /// SDAM logging.
    #[serde(default, deserialize_with = "present")]
    pub topology: Option<LogSeverityLevel>,
    /// Server selection logging.
    #[serde(default, deserialize_with = "present")]
    pub server_selection: Option<LogSeverityLevel>,
    /// CMAP logging.
    #[serde(default, deserialize_with = "present")]
    pub connection: Option<LogSeverityLevel>,
}

/// `client.observeTracingMessages`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ObserveTracingMessages {
    /// Whether spans carry the command payload.
    #[serde(default, deserialize_with = "present")]
    pub enable_command_payload: Option<bool>,
}

/// `client.storeEventsAsEntities[]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreEventsAsEntity {
    /// Id of the array entity.
    pub id: String,
    /// The event types stored.
    pub events: NonEmpty<StoredEvent>,
}

/// `client.serverApi`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServerApi {
    /// API version.
    pub version: String,
    /// Strict mode.
    #[serde(default, deserialize_with = "present")]
    pub strict: Option<bool>,
    /// Deprecation errors.
    #[serde(default, deserialize_with = "present")]
    pub deprecation_errors: Option<bool>,
}

/// `clientEncryption` entity.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClientEncryptionEntity {
    /// Entity id.
    pub id: String,
    /// Options.
    pub client_encryption_opts: ClientEncryptionOpts,
}

/// `clientEncryption.clientEncryptionOpts`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClientEncryptionOpts {
    /// Id of the client entity holding the key vault.
    pub key_vault_client: String,
    /// `db.coll` of the key vault.
    pub key_vault_namespace: String,
    /// KMS providers.
    pub kms_providers: KmsProviders,
    /// How long data keys stay cached (schema 1.22).
    #[serde(default, rename = "keyExpirationMS", deserialize_with = "present")]
    pub key_expiration_ms: Option<i64>,
}

/// A KMS credential: a string, or `{"$$placeholder": …}` to take it from the environment.
#[derive(Debug, Clone)]
pub enum StringOrPlaceholder {
    /// A literal value.
    String(String),
    /// Read from the environment.
    Placeholder(Placeholder),
}

impl<'de> Deserialize<'de> for StringOrPlaceholder {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => Ok(StringOrPlaceholder::String(s)),
            Value::Object(map) if map.len() == 1 && map.contains_key("$$placeholder") => {
                Ok(StringOrPlaceholder::Placeholder(Placeholder {
                    placeholder: map["$$placeholder"].clone(),
                }))
            }
            other => Err(de::Error::custom(format!(
                "invalid type: {other}, expected a string or a `{{\"$$placeholder\": …}}` document"
            ))),
        }
    }
}

/// `{"$$placeholder": …}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Placeholder {
    /// Any value (ignored).
    #[serde(rename = "$$placeholder")]
    pub placeholder: Value,
}

macro_rules! kms_provider {
    ($(#[$doc:meta])* $name:ident { $($field:ident : $key:literal),* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $(
                #[doc = concat!("`", $key, "`.")]
                #[serde(default, rename = $key, deserialize_with = "present")]
                pub $field: Option<StringOrPlaceholder>,
            )*
        }
    };
}

kms_provider!(
    /// `kmsProviders.aws`.
    AwsKms { access_key_id: "accessKeyId", secret_access_key: "secretAccessKey", session_token: "sessionToken" }
);
kms_provider!(
    /// `kmsProviders.azure` (credentials, or since schema 1.28 an `accessToken` alone).
    AzureKms {
        tenant_id: "tenantId",
        client_id: "clientId",
        client_secret: "clientSecret",
        identity_platform_endpoint: "identityPlatformEndpoint",
        access_token: "accessToken"
    }
);
kms_provider!(
    /// `kmsProviders.gcp` (credentials, or since schema 1.28 an `accessToken` alone).
    GcpKms { email: "email", private_key: "privateKey", endpoint: "endpoint", access_token: "accessToken" }
);
kms_provider!(
    /// `kmsProviders.kmip`.
    KmipKms { endpoint: "endpoint" }
);
kms_provider!(
    /// `kmsProviders.local`.
    LocalKms { key: "key" }
);

/// `clientEncryptionOpts.kmsProviders`: one provider per type, and since schema 1.18 named
/// providers `<type>:<name>` (`name` of ASCII letters, digits and `_`), kept in
/// [`KmsProviders::named`].
#[derive(Debug, Clone, Default)]
pub struct KmsProviders {
    /// AWS.
    pub aws: Option<AwsKms>,
    /// Azure.
    pub azure: Option<AzureKms>,
    /// GCP.
    pub gcp: Option<GcpKms>,
    /// KMIP.
    pub kmip: Option<KmipKms>,
    /// Local key.
    pub local: Option<LocalKms>,
    /// Named providers (`aws:name1` …), each with its type's credentials.
    pub named: Vec<(String, KmsProviders)>,
}

impl<'de> Deserialize<'de> for KmsProviders {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Providers;
        impl<'de> de::Visitor<'de> for Providers {
            type Value = KmsProviders;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of KMS providers")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<KmsProviders, A::Error> {
                const KINDS: &[&str] = &["aws", "azure", "gcp", "kmip", "local"];
                let mut out = KmsProviders::default();
                while let Some(key) = map.next_key::<String>()? {
                    let (kind, name) = match key.split_once(':') {
                        Some((kind, name)) => (kind, Some(name)),
                        None => (key.as_str(), None),
                    };
                    let name_ok = name.is_none_or(|n| {
                        !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                    });
                    if !KINDS.contains(&kind) || !name_ok {
                        return Err(de::Error::custom(format!(
                            "unknown field `{key}`, expected a KMS provider `aws`, `azure`, `gcp`, \
                             `kmip` or `local`, optionally named `<type>:<name>`"
                        )));
                    }
                    let mut one = KmsProviders::default();
                    let slot = if name.is_some() { &mut one } else { &mut out };
                    let duplicate = match kind {
                        "aws" => slot.aws.replace(map.next_value()?).is_some(),
                        "azure" => slot.azure.replace(map.next_value()?).is_some(),
                        "gcp" => slot.gcp.replace(map.next_value()?).is_some(),
                        "kmip" => slot.kmip.replace(map.next_value()?).is_some(),
                        _ => slot.local.replace(map.next_value()?).is_some(),
                    };
                    if duplicate {
                        return Err(de::Error::custom(format!("duplicate field `{key}`")));
                    }
                    if name.is_some() {
                        out.named.push((key, one));
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(Providers)
    }
}

impl KmsProviders {
    /// Why a ClientEncryption could not be configured with these providers, if so: no
    /// provider at all, or a provider given some but not all of its required credential
    /// fields (client-side encryption spec, `kmsProviders`; an empty provider document is
    /// allowed: it is configured without credentials, see section "entity" of the unified
    /// format, `clientEncryptionOpts.kmsProviders`).
    pub fn problem(&self) -> Option<String> {
        fn missing(provider: &str, fields: &[(&str, bool)]) -> Option<String> {
            let given = fields.iter().filter(|(_, present)| *present).count();
            if given == 0 {
                return None;
            }
            let absent: Vec<&str> =
                fields.iter().filter(|(_, present)| !present).map(|(name, _)| *name).collect();
            (!absent.is_empty()).then(|| {
                format!(
                    "kmsProviders.{provider} lacks the required credential field(s) {}",
                    absent.join(", ")
                )
            })
        }
        let mut configured = 0;
        let mut problems = Vec::new();
        if let Some(aws) = &self.aws {
            configured += 1;
            problems.extend(missing(
                "aws",
                &[
                    ("accessKeyId", aws.access_key_id.is_some()),
                    ("secretAccessKey", aws.secret_access_key.is_some()),
                ],
            ));
        }
        if let Some(azure) = self.azure.as_ref().filter(|a| a.access_token.is_none()) {
            configured += 1;
            problems.extend(missing(
                "azure",
                &[
                    ("tenantId", azure.tenant_id.is_some()),
                    ("clientId", azure.client_id.is_some()),
                    ("clientSecret", azure.client_secret.is_some()),
                ],
            ));
        }
        if let Some(gcp) = self.gcp.as_ref().filter(|g| g.access_token.is_none()) {
            configured += 1;
            problems.extend(missing(
                "gcp",
                &[("email", gcp.email.is_some()), ("privateKey", gcp.private_key.is_some())],
            ));
        }
        // An access token alone configures Azure or GCP (schema 1.28).
        configured += usize::from(self.azure.as_ref().is_some_and(|a| a.access_token.is_some()));
        configured += usize::from(self.gcp.as_ref().is_some_and(|g| g.access_token.is_some()));
        configured += usize::from(self.kmip.is_some()) + usize::from(self.local.is_some());
        for (name, provider) in &self.named {
            configured += 1;
            problems.extend(
                provider.problem().map(|p| p.replace("kmsProviders.", &format!("kmsProviders[{name}]."))),
            );
        }
        if configured == 0 {
            problems.push("kmsProviders configures no KMS provider".to_string());
        }
        (!problems.is_empty()).then(|| problems.join("; "))
    }
}

/// `databaseOptions` / `collectionOptions`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CollectionOrDatabaseOptions {
    /// Read concern document.
    #[serde(default, deserialize_with = "present")]
    pub read_concern: Option<Document>,
    /// Read preference document.
    #[serde(default, deserialize_with = "present")]
    pub read_preference: Option<Document>,
    /// Write concern document.
    #[serde(default, deserialize_with = "present")]
    pub write_concern: Option<Document>,
    /// Client-side operation timeout.
    #[serde(default, rename = "timeoutMS", deserialize_with = "present")]
    pub timeout_ms: Option<i64>,
}

/// `database` entity.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DatabaseEntity {
    /// Entity id.
    pub id: String,
    /// Id of its client entity.
    pub client: String,
    /// Database name.
    pub database_name: String,
    /// Options.
    #[serde(default, deserialize_with = "present")]
    pub database_options: Option<CollectionOrDatabaseOptions>,
}

/// `collection` entity.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CollectionEntity {
    /// Entity id.
    pub id: String,
    /// Id of its database entity.
    pub database: String,
    /// Collection name.
    pub collection_name: String,
    /// Options.
    #[serde(default, deserialize_with = "present")]
    pub collection_options: Option<CollectionOrDatabaseOptions>,
}

/// `session` entity.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SessionEntity {
    /// Entity id.
    pub id: String,
    /// Id of its client entity.
    pub client: String,
    /// Session options document.
    #[serde(default, deserialize_with = "present")]
    pub session_options: Option<Document>,
}

/// `bucket` entity.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BucketEntity {
    /// Entity id.
    pub id: String,
    /// Id of its database entity.
    pub database: String,
    /// Bucket options document.
    #[serde(default, deserialize_with = "present")]
    pub bucket_options: Option<Document>,
}

/// `thread` entity.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThreadEntity {
    /// Entity id.
    pub id: String,
}

/// `initialData[]` / `outcome[]` (section "collectionData").
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CollectionData {
    /// Collection name.
    pub collection_name: String,
    /// Database name.
    pub database_name: String,
    /// Options for `create` (no `writeConcern`).
    #[serde(default, deserialize_with = "present")]
    pub create_options: Option<Document>,
    /// The documents.
    pub documents: Vec<Document>,
}

/// One test (section "test").
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TestCase {
    /// What the test checks; names the generated test.
    pub description: String,
    /// Requirements for this test.
    #[serde(default, deserialize_with = "present")]
    pub run_on_requirements: Option<NonEmpty<RunOnRequirement>>,
    /// Why the test is skipped, when it is.
    #[serde(default, deserialize_with = "present")]
    pub skip_reason: Option<String>,
    /// The operations, in order.
    pub operations: Vec<Operation>,
    /// Expected events per client.
    #[serde(default, deserialize_with = "present")]
    pub expect_events: Option<NonEmpty<ExpectedEventsForClient>>,
    /// Expected collection contents afterwards.
    #[serde(default, deserialize_with = "present")]
    pub outcome: Option<NonEmpty<CollectionData>>,
    /// Expected log messages per client (schema 1.13).
    #[serde(default, deserialize_with = "present")]
    pub expect_log_messages: Option<NonEmpty<ExpectedLogMessagesForClient>>,
    /// Expected tracing spans per client (schema 1.27).
    #[serde(default, deserialize_with = "present")]
    pub expect_tracing_messages: Option<NonEmpty<ExpectTracingMessagesForClient>>,
}

/// `expectLogMessages[]` (section "expectedLogMessagesForClient").
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExpectedLogMessagesForClient {
    /// Id of the client entity.
    pub client: String,
    /// The expected messages, in order.
    pub messages: Vec<ExpectedLogMessage>,
    /// Messages to leave out before comparing (schema 1.16).
    #[serde(default, deserialize_with = "present")]
    pub ignore_messages: Option<Vec<ExpectedLogMessage>>,
    /// Whether messages beyond the expected ones are allowed (schema 1.16).
    #[serde(default, deserialize_with = "present")]
    pub ignore_extra_messages: Option<bool>,
}

/// One expected log message (section "expectedLogMessage").
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExpectedLogMessage {
    /// Severity.
    pub level: LogSeverityLevel,
    /// Component.
    pub component: LogComponent,
    /// The message's data (root document for matching).
    pub data: Document,
    /// Whether a failure in the message is redacted.
    #[serde(default, deserialize_with = "present")]
    pub failure_is_redacted: Option<bool>,
}

/// `expectTracingMessages[]` (schema 1.27).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExpectTracingMessagesForClient {
    /// Id of the client entity.
    pub client: String,
    /// The expected spans.
    pub spans: NonEmpty<SpanComponent>,
    /// Whether spans beyond the expected ones are allowed.
    #[serde(default, deserialize_with = "present")]
    pub ignore_extra_spans: Option<bool>,
}

/// One expected tracing span (`spanComponent`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SpanComponent {
    /// Span name.
    pub name: String,
    /// Span attributes.
    pub attributes: Document,
    /// Child spans.
    #[serde(default, deserialize_with = "present")]
    pub nested: Option<NonEmpty<SpanComponent>>,
}

/// One operation (section "operation").
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Operation {
    /// Operation name.
    pub name: String,
    /// Entity id the operation runs on, or `testRunner`.
    pub object: String,
    /// Arguments.
    #[serde(default, deserialize_with = "present")]
    pub arguments: Option<Document>,
    /// Whether both the result and any error are ignored.
    #[serde(default, deserialize_with = "present")]
    pub ignore_result_and_error: Option<bool>,
    /// The expected error.
    #[serde(default, deserialize_with = "present")]
    pub expect_error: Option<ExpectedError>,
    /// The expected result (any value, `null` included).
    #[serde(default, deserialize_with = "present")]
    pub expect_result: Option<Value>,
    /// Entity id the result is saved as.
    #[serde(default, deserialize_with = "present")]
    pub save_result_as_entity: Option<String>,
}

/// `operation.expectError` (section "expectedError"); at least one key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExpectedError {
    /// Always `true` when present.
    #[serde(default, deserialize_with = "present")]
    pub is_error: Option<IsTrue>,
    /// Whether the error comes from the client rather than the server.
    #[serde(default, deserialize_with = "present")]
    pub is_client_error: Option<bool>,
    /// Whether the error is a timeout.
    #[serde(default, deserialize_with = "present")]
    pub is_timeout_error: Option<bool>,
    /// Case-insensitive substring of the message.
    #[serde(default, deserialize_with = "present")]
    pub error_contains: Option<String>,
    /// Server error code.
    #[serde(default, deserialize_with = "present")]
    pub error_code: Option<i64>,
    /// Server error code name.
    #[serde(default, deserialize_with = "present")]
    pub error_code_name: Option<String>,
    /// Labels the error must have.
    #[serde(default, deserialize_with = "present")]
    pub error_labels_contain: Option<NonEmpty<String>>,
    /// Labels the error must not have.
    #[serde(default, deserialize_with = "present")]
    pub error_labels_omit: Option<NonEmpty<String>>,
    /// Expected partial result carried by the error.
    #[serde(default, deserialize_with = "present")]
    pub expect_result: Option<Value>,
    /// The server's error reply, matched as a root document (schema 1.12).
    #[serde(default, deserialize_with = "present")]
    pub error_response: Option<Document>,
    /// Client bulk write: write errors by model index (schema 1.21).
    #[serde(default, deserialize_with = "present")]
    pub write_errors: Option<Document>,
    /// Client bulk write: write concern errors (schema 1.21).
    #[serde(default, deserialize_with = "present")]
    pub write_concern_errors: Option<Vec<Document>>,
}

/// `expectEvents[].eventType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    /// Command monitoring events (the default).
    Command,
    /// Connection pool events.
    Cmap,
    /// SDAM events.
    Sdam,
}

/// `expectEvents[]` (section "expectedEventsForClient"). `events` is checked against
/// `eventType` by [`super::load`], which fills [`ExpectedEventsForClient::typed`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExpectedEventsForClient {
    /// Id of the client entity.
    pub client: String,
    /// Which kind of events (`command` when absent).
    #[serde(default, deserialize_with = "present")]
    pub event_type: Option<EventType>,
    /// The expected events as written.
    pub events: Vec<Value>,
    /// Whether events beyond the expected ones are allowed.
    #[serde(default, deserialize_with = "present")]
    pub ignore_extra_events: Option<bool>,
    /// The events typed per `eventType` (filled by [`super::load`]).
    #[serde(skip)]
    pub typed: ExpectedEvents,
}

/// The typed events of one `expectEvents` entry.
#[derive(Debug, Clone)]
pub enum ExpectedEvents {
    /// Command monitoring events.
    Command(Vec<ExpectedCommandEvent>),
    /// Connection pool events.
    Cmap(Vec<ExpectedCmapEvent>),
    /// SDAM events.
    Sdam(Vec<ExpectedSdamEvent>),
}

impl Default for ExpectedEvents {
    fn default() -> Self {
        ExpectedEvents::Command(Vec::new())
    }
}

/// An expected command monitoring event (section "expectedCommandEvent").
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(clippy::enum_variant_names)]
pub enum ExpectedCommandEvent {
    /// `commandStartedEvent`.
    CommandStartedEvent(CommandStarted),
    /// `commandSucceededEvent`.
    CommandSucceededEvent(CommandSucceeded),
    /// `commandFailedEvent`.
    CommandFailedEvent(CommandFailed),
}

/// `commandStartedEvent`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CommandStarted {
    /// The command (root document for matching).
    #[serde(default, deserialize_with = "present")]
    pub command: Option<Document>,
    /// Command name.
    #[serde(default, deserialize_with = "present")]
    pub command_name: Option<String>,
    /// Database name.
    #[serde(default, deserialize_with = "present")]
    pub database_name: Option<String>,
    /// Whether a service id is present.
    #[serde(default, deserialize_with = "present")]
    pub has_service_id: Option<bool>,
    /// Whether a server connection id is present.
    #[serde(default, deserialize_with = "present")]
    pub has_server_connection_id: Option<bool>,
}

/// `commandSucceededEvent`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CommandSucceeded {
    /// The reply (root document for matching).
    #[serde(default, deserialize_with = "present")]
    pub reply: Option<Document>,
    /// Command name.
    #[serde(default, deserialize_with = "present")]
    pub command_name: Option<String>,
    /// Database name (schema 1.15).
    #[serde(default, deserialize_with = "present")]
    pub database_name: Option<String>,
    /// Whether a service id is present.
    #[serde(default, deserialize_with = "present")]
    pub has_service_id: Option<bool>,
    /// Whether a server connection id is present.
    #[serde(default, deserialize_with = "present")]
    pub has_server_connection_id: Option<bool>,
}

/// `commandFailedEvent`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CommandFailed {
    /// Command name.
    #[serde(default, deserialize_with = "present")]
    pub command_name: Option<String>,
    /// Database name (schema 1.15).
    #[serde(default, deserialize_with = "present")]
    pub database_name: Option<String>,
    /// Whether a service id is present.
    #[serde(default, deserialize_with = "present")]
    pub has_service_id: Option<bool>,
    /// Whether a server connection id is present.
    #[serde(default, deserialize_with = "present")]
    pub has_server_connection_id: Option<bool>,
}

/// A CMAP event that carries no assertions (`{}` only).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoFields {}

/// `poolClearedEvent`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PoolCleared {
    /// Whether a service id is present.
    #[serde(default, deserialize_with = "present")]
    pub has_service_id: Option<bool>,
    /// Whether the clear interrupted in-use connections (schema 1.11).
    #[serde(default, deserialize_with = "present")]
    pub interrupt_in_use_connections: Option<bool>,
}

/// `connectionClosedEvent` / `connectionCheckOutFailedEvent`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WithReason {
    /// The expected reason.
    #[serde(default, deserialize_with = "present")]
    pub reason: Option<String>,
}

/// An expected CMAP event (section "expectedCmapEvent").
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(clippy::enum_variant_names)]
pub enum ExpectedCmapEvent {
    /// Pool created.
    PoolCreatedEvent(NoFields),
    /// Pool ready.
    PoolReadyEvent(NoFields),
    /// Pool cleared.
    PoolClearedEvent(PoolCleared),
    /// Pool closed.
    PoolClosedEvent(NoFields),
    /// Connection created.
    ConnectionCreatedEvent(NoFields),
    /// Connection ready.
    ConnectionReadyEvent(NoFields),
    /// Connection closed.
    ConnectionClosedEvent(WithReason),
    /// Check-out started.
    ConnectionCheckOutStartedEvent(NoFields),
    /// Check-out failed.
    ConnectionCheckOutFailedEvent(WithReason),
    /// Checked out.
    ConnectionCheckedOutEvent(NoFields),
    /// Checked in.
    ConnectionCheckedInEvent(NoFields),
}

/// An expected SDAM event (section "expectedSdamEvent").
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ExpectedSdamEvent {
    /// Server description changed.
    ServerDescriptionChangedEvent(ServerDescriptionChanged),
    /// Heartbeat started (schema 1.17).
    ServerHeartbeatStartedEvent(Heartbeat),
    /// Heartbeat succeeded (schema 1.17).
    ServerHeartbeatSucceededEvent(Heartbeat),
    /// Heartbeat failed (schema 1.17).
    ServerHeartbeatFailedEvent(Heartbeat),
    /// Topology description changed (schema 1.14; descriptions since 1.20).
    TopologyDescriptionChangedEvent(TopologyDescriptionChanged),
    /// Topology opening (schema 1.20).
    TopologyOpeningEvent(NoFields),
    /// Topology closed (schema 1.20).
    TopologyClosedEvent(NoFields),
}

/// `serverHeartbeat{Started,Succeeded,Failed}Event`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {
    /// Whether the heartbeat was an awaited (streaming) one.
    #[serde(default, deserialize_with = "present")]
    pub awaited: Option<bool>,
}

/// `topologyDescriptionChangedEvent`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TopologyDescriptionChanged {
    /// The previous description.
    #[serde(default, deserialize_with = "present")]
    pub previous_description: Option<TopologyDescription>,
    /// The new description.
    #[serde(default, deserialize_with = "present")]
    pub new_description: Option<TopologyDescription>,
}

/// An expected topology description.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopologyDescription {
    /// The topology type.
    #[serde(default, rename = "type", deserialize_with = "present")]
    pub topology_type: Option<TopologyType>,
}

/// Topology types (SDAM).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum TopologyType {
    /// Single.
    Single,
    /// Unknown.
    Unknown,
    /// Replica set without a primary.
    ReplicaSetNoPrimary,
    /// Replica set with a primary.
    ReplicaSetWithPrimary,
    /// Sharded.
    Sharded,
    /// Load balanced.
    LoadBalanced,
}

/// `serverDescriptionChangedEvent`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServerDescriptionChanged {
    /// The previous description.
    #[serde(default, deserialize_with = "present")]
    pub previous_description: Option<ServerDescription>,
    /// The new description.
    #[serde(default, deserialize_with = "present")]
    pub new_description: Option<ServerDescription>,
}

/// An expected server description.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerDescription {
    /// The server type.
    #[serde(default, rename = "type", deserialize_with = "present")]
    pub server_type: Option<ServerType>,
}

/// Server types (SDAM).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum ServerType {
    /// Standalone.
    Standalone,
    /// Mongos.
    Mongos,
    /// Possible primary.
    PossiblePrimary,
    /// Primary.
    RSPrimary,
    /// Secondary.
    RSSecondary,
    /// Other member.
    RSOther,
    /// Arbiter.
    RSArbiter,
    /// Ghost.
    RSGhost,
    /// Load balancer.
    LoadBalancer,
    /// Unknown.
    Unknown,
}
