//! Typed model of a unified test file (`unified-test-format.md`, "Test Format"), up to
//! schema version 1.28; every object rejects keys the schema does not define.
//!
//! One file per part of the schema: `common` (shared value types), `requirements`
//! (runOnRequirement), `entities` and `encryption`, `events` (expected events), `cases`
//! (the test file, its tests, operations and expected errors).

mod cases;
mod common;
mod encryption;
mod entities;
mod events;
mod requirements;

pub use cases::{
    CollectionData, ExpectTracingMessagesForClient, ExpectedError, ExpectedLogMessage,
    ExpectedLogMessagesForClient, Operation, SpanComponent, TestCase, TestFile,
};
pub use common::{Document, IsTrue, NonEmpty, Version};
pub use encryption::{
    ClientEncryptionEntity, ClientEncryptionOpts, KmsProviders, Placeholder, StringOrPlaceholder,
};
pub use entities::{
    BucketEntity, ClientEntity, CollectionEntity, CollectionOrDatabaseOptions, DatabaseEntity, Entity,
    LogComponent, LogSeverityLevel, ObserveLogMessages, ObserveTracingMessages, ObservedEvent, ServerApi,
    SessionEntity, StoreEventsAsEntity, StoredEvent, ThreadEntity,
};
pub use events::{
    CommandFailed, CommandStarted, CommandSucceeded, EventType, ExpectedCmapEvent, ExpectedCommandEvent,
    ExpectedEvents, ExpectedEventsForClient, ExpectedSdamEvent, Heartbeat, NoFields, PoolCleared,
    ServerDescription, ServerDescriptionChanged, ServerType, TopologyDescription, TopologyDescriptionChanged,
    TopologyType, WithReason,
};
pub use requirements::{Csfle, CsfleVersion, RunOnRequirement, Serverless, Topology};
