//! A unified test file and its cases (`unified-test-format.rst`, "Test Format", "test",
//! "operation", "expectedError", "collectionData"; log and tracing expectations).

use serde::Deserialize;
use serde_json::Value;

use super::common::{Document, IsTrue, NonEmpty, Version, present};
use super::entities::Entity;
use super::entities::{LogComponent, LogSeverityLevel};
use super::events::ExpectedEventsForClient;
use super::requirements::RunOnRequirement;

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
