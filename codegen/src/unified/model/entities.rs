//! The entities a unified test creates (`unified-test-format.rst`, "entity": client,
//! database, collection, session, bucket, thread; client-side encryption in
//! [`super::encryption`]).

use serde::Deserialize;
use serde::de::Deserializer;

use super::common::{Document, NonEmpty, named, present};
use super::encryption::ClientEncryptionEntity;

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

/// `client.observeLogMessages`: at least one component (checked by [`crate::unified::load`]).
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
