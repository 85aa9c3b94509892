//! Typed model of a file in the Transactions-spec test format (`transactions/tests/README.rst`,
//! "Test Format"); every object rejects keys the format does not define, so a malformed file
//! fails with the JSON pointer of the offending key.

use serde::Deserialize;
use serde::de::Deserializer;
use serde_json::{Map, Value};

/// A JSON object holding an arbitrary document.
pub type Document = Map<String, Value>;

/// Keeps an explicit `null` as `Some(Value::Null)` (a `result: null` is an expectation).
fn some_value<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// A whole test file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegacyFile {
    /// Server requirements (any one must be met).
    #[serde(rename = "runOn", default)]
    pub run_on: Option<Vec<RunOn>>,
    /// The database under test.
    pub database_name: String,
    /// The collection under test.
    #[serde(default)]
    pub collection_name: Option<String>,
    /// The GridFS bucket under test (GridFS files of the retryable reads spec).
    #[serde(default)]
    pub bucket_name: Option<String>,
    /// The documents in the collection before each test: an array, or (GridFS) an object
    /// mapping collection names to arrays.
    #[serde(default)]
    pub data: Option<Value>,
    /// The tests.
    pub tests: Vec<LegacyTest>,
}

/// One `runOn` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RunOn {
    /// Lowest server version.
    #[serde(default)]
    pub min_server_version: Option<String>,
    /// Highest server version.
    #[serde(default)]
    pub max_server_version: Option<String>,
    /// Topologies (`single`, `replicaset`, `sharded`, `load-balanced`); all when absent.
    #[serde(default)]
    pub topology: Option<Vec<String>>,
    /// `require`, `forbid` or `allow`.
    #[serde(default)]
    pub serverless: Option<String>,
}

/// One test.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LegacyTest {
    /// Names the test.
    pub description: String,
    /// Why it is skipped.
    #[serde(default)]
    pub skip_reason: Option<String>,
    /// Whether the client gets every mongos.
    #[serde(default)]
    pub use_multiple_mongoses: Option<bool>,
    /// MongoClient options.
    #[serde(default)]
    pub client_options: Option<Document>,
    /// A `configureFailPoint` command run before the test.
    #[serde(default)]
    pub fail_point: Option<Document>,
    /// Options of `session0` / `session1`.
    #[serde(default)]
    pub session_options: Option<Map<String, Value>>,
    /// The operations.
    pub operations: Vec<LegacyOperation>,
    /// Expected command started events.
    #[serde(default)]
    pub expectations: Option<Vec<Expectation>>,
    /// Expected collection contents.
    #[serde(default)]
    pub outcome: Option<Outcome>,
}

/// One operation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LegacyOperation {
    /// Operation name.
    pub name: String,
    /// `collection`, `database`, `client`, `session0`, `session1`, `gridfsbucket` or `testRunner`.
    pub object: String,
    /// Arguments.
    #[serde(default)]
    pub arguments: Option<Document>,
    /// Expected return value, or an error document (`errorContains`, …).
    #[serde(default, deserialize_with = "some_value")]
    pub result: Option<Value>,
    /// Whether an error is expected.
    #[serde(default)]
    pub error: Option<bool>,
    /// Options of the collection the operation runs on.
    #[serde(default)]
    pub collection_options: Option<Document>,
    /// Options of the database the operation runs on.
    #[serde(default)]
    pub database_options: Option<Document>,
    /// The command name of a `runCommand`.
    #[serde(default, rename = "command_name")]
    pub command_name: Option<String>,
}

/// One expected event.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// A command started event.
    pub command_started_event: StartedEvent,
}

/// `command_started_event`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartedEvent {
    /// The command (with the format's placeholders).
    pub command: Document,
    /// Command name.
    #[serde(default)]
    pub command_name: Option<String>,
    /// Database name.
    #[serde(default)]
    pub database_name: Option<String>,
}

/// `outcome`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    /// The collection's expected contents.
    pub collection: OutcomeCollection,
}

/// `outcome.collection`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutcomeCollection {
    /// Another collection than the file's (`collection_name`).
    #[serde(default)]
    pub name: Option<String>,
    /// The documents, sorted by `_id`.
    pub data: Vec<Document>,
}
