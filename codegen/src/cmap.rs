//! Generated tests for the CMAP test format (`connection-monitoring-and-pooling/tests/README.rst`):
//! one async test per spec file.
//!
//! Each body builds the driver's own `PoolOptions`, event kinds and reasons from the file
//! (so the spec type-checks the public API), then calls `conformance::cmap::run`, which runs
//! the operations on named tasks against a pool with the in-memory connector, asserts the
//! expected error and events, and records an insta snapshot of the observed events.
//!
//! The integration files' `failPoint` blocks or fails the `hello` handshake; the in-memory
//! connector models exactly that (`HandshakeFault`), so those files run too. A fail point
//! on any other command cannot be modelled and makes the test ignored.

use std::collections::HashSet;
use std::path::Path;

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use crate::error::read_json;
use crate::naming::Unique;
use crate::{GeneratedTest, SpecError, Status};

/// The suite's module name.
pub const SUITE: &str = "connection_monitoring_and_pooling";

/// The ignore reason of a test whose fail point the in-memory connector cannot model.
pub const NEEDS_SERVER_FAIL_POINT: &str = "needs a server fail point (sim integration pending)";

/// The typed model of one CMAP spec test file.
pub mod model {
    use std::fmt;

    use serde::Deserialize;
    use serde::de::{DeserializeOwned, Deserializer};

    /// One test file (README "Common Test Format", "Unit Test Format", "Integration Test Format").
    #[derive(Debug, Clone, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct CmapTest {
        /// The format version (1).
        pub version: u32,
        /// `unit` or `integration`.
        pub style: Style,
        /// What the test shows.
        pub description: String,
        /// Options for the pool.
        #[serde(default)]
        pub pool_options: PoolOptions,
        /// The operations, in order.
        pub operations: Vec<Operation>,
        /// The error the main thread must raise.
        pub error: Option<ExpectedError>,
        /// The expected events (after dropping the ignored kinds), a prefix of the observed ones.
        #[serde(default)]
        pub events: Vec<ExpectedEvent>,
        /// Event kinds left out of the comparison.
        #[serde(default)]
        pub ignore: Vec<EventType>,
        /// Integration tests: server requirements.
        pub run_on: Option<Vec<RunOn>>,
        /// Integration tests: a `configureFailPoint` command to run first.
        pub fail_point: Option<FailPoint>,
    }

    /// The test file's style.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub enum Style {
        /// Runs without a deployment.
        Unit,
        /// Meant for a real deployment.
        Integration,
    }

    /// `poolOptions`: the CMAP pool options plus the test-only ones.
    #[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct PoolOptions {
        /// `maxPoolSize`.
        pub max_pool_size: Option<u32>,
        /// `minPoolSize`.
        pub min_pool_size: Option<u32>,
        /// `maxIdleTimeMS`.
        #[serde(rename = "maxIdleTimeMS")]
        pub max_idle_time_ms: Option<u64>,
        /// `waitQueueTimeoutMS`.
        #[serde(rename = "waitQueueTimeoutMS")]
        pub wait_queue_timeout_ms: Option<u64>,
        /// `maxConnecting`.
        pub max_connecting: Option<u32>,
        /// `backgroundThreadIntervalMS`: negative means never (0 is not allowed).
        #[serde(rename = "backgroundThreadIntervalMS")]
        pub background_thread_interval_ms: Option<i64>,
        /// `appName` of the connections' handshake.
        pub app_name: Option<String>,
    }

    /// One operation; `thread` names the thread that runs it (the main thread if absent).
    #[derive(Debug, Clone, Deserialize)]
    #[serde(tag = "name", rename_all = "camelCase", deny_unknown_fields)]
    pub enum Operation {
        /// `start(target)`.
        Start {
            /// The thread to start.
            target: String,
            /// The thread running the operation.
            thread: Option<String>,
        },
        /// `wait(ms)`.
        Wait {
            /// How long to sleep.
            ms: u64,
            /// The thread running the operation.
            thread: Option<String>,
        },
        /// `waitForThread(target)`.
        WaitForThread {
            /// The thread to join.
            target: String,
            /// The thread running the operation.
            thread: Option<String>,
        },
        /// `waitForEvent(event, count, timeout)`.
        WaitForEvent {
            /// The event kind to count.
            event: EventType,
            /// How many must have happened since the start of the test.
            count: usize,
            /// Milliseconds to wait at most.
            timeout: Option<u64>,
            /// The thread running the operation.
            thread: Option<String>,
        },
        /// `label = pool.checkOut()`.
        CheckOut {
            /// The label for the connection.
            label: Option<String>,
            /// The thread running the operation.
            thread: Option<String>,
        },
        /// `pool.checkIn(connection)`.
        CheckIn {
            /// The label of the connection.
            connection: String,
            /// The thread running the operation.
            thread: Option<String>,
        },
        /// `pool.clear()`.
        Clear {
            /// The thread running the operation.
            thread: Option<String>,
        },
        /// `pool.close()`.
        Close {
            /// The thread running the operation.
            thread: Option<String>,
        },
        /// `pool.ready()`.
        Ready {
            /// The thread running the operation.
            thread: Option<String>,
        },
    }

    impl Operation {
        /// The thread that runs the operation.
        pub fn thread(&self) -> Option<&str> {
            match self {
                Self::Start { thread, .. }
                | Self::Wait { thread, .. }
                | Self::WaitForThread { thread, .. }
                | Self::WaitForEvent { thread, .. }
                | Self::CheckOut { thread, .. }
                | Self::CheckIn { thread, .. }
                | Self::Clear { thread }
                | Self::Close { thread }
                | Self::Ready { thread } => thread.as_deref(),
            }
        }
    }

    /// A CMAP event type name.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
    pub enum EventType {
        /// `ConnectionPoolCreated`.
        ConnectionPoolCreated,
        /// `ConnectionPoolReady`.
        ConnectionPoolReady,
        /// `ConnectionPoolCleared`.
        ConnectionPoolCleared,
        /// `ConnectionPoolClosed`.
        ConnectionPoolClosed,
        /// `ConnectionCreated`.
        ConnectionCreated,
        /// `ConnectionReady`.
        ConnectionReady,
        /// `ConnectionClosed`.
        ConnectionClosed,
        /// `ConnectionCheckOutStarted`.
        ConnectionCheckOutStarted,
        /// `ConnectionCheckOutFailed`.
        ConnectionCheckOutFailed,
        /// `ConnectionCheckedOut`.
        ConnectionCheckedOut,
        /// `ConnectionCheckedIn`.
        ConnectionCheckedIn,
    }

    impl EventType {
        /// Whether events of this type carry a `connectionId`.
        pub fn has_connection_id(self) -> bool {
            matches!(
                self,
                Self::ConnectionCreated
                    | Self::ConnectionReady
                    | Self::ConnectionClosed
                    | Self::ConnectionCheckedOut
                    | Self::ConnectionCheckedIn
            )
        }
    }

    /// An expected event; absent fields are not checked.
    #[derive(Debug, Clone, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct ExpectedEvent {
        /// The event type.
        #[serde(rename = "type")]
        pub kind: EventType,
        /// The pool's address.
        pub address: Option<Placeholder<String>>,
        /// The connection's id.
        pub connection_id: Option<Placeholder<u32>>,
        /// `ConnectionPoolCreated`: the pool options.
        pub options: Option<Placeholder<PoolOptions>>,
        /// `ConnectionClosed`/`ConnectionCheckOutFailed`: the reason.
        pub reason: Option<String>,
    }

    /// The expected error of the main thread.
    #[derive(Debug, Clone, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct ExpectedError {
        /// The error type (`PoolClosedError`, `WaitQueueTimeoutError`, …).
        #[serde(rename = "type")]
        pub kind: String,
        /// The error message.
        pub message: Option<String>,
        /// The pool's address.
        pub address: Option<Placeholder<String>>,
    }

    /// A value or the README's "any value" placeholder (`42` or `"42"`).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Placeholder<T> {
        /// `42` or `"42"`: any value, as long as there is one.
        Any,
        /// This value.
        Value(T),
    }

    impl<'de, T: DeserializeOwned> Deserialize<'de> for Placeholder<T> {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            let value = serde_json::Value::deserialize(deserializer)?;
            if value == serde_json::json!(42) || value == serde_json::json!("42") {
                return Ok(Self::Any);
            }
            serde_json::from_value(value).map(Self::Value).map_err(serde::de::Error::custom)
        }
    }

    /// `runOn`: server requirements.
    #[derive(Debug, Clone, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct RunOn {
        /// The lowest server version.
        pub min_server_version: Option<String>,
        /// The highest server version.
        pub max_server_version: Option<String>,
    }

    /// `failPoint`: a `configureFailPoint` command.
    #[derive(Debug, Clone, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct FailPoint {
        /// The fail point's name (`failCommand`).
        pub configure_fail_point: String,
        /// When it fires.
        pub mode: FailPointMode,
        /// What it does.
        pub data: FailPointData,
    }

    /// `failPoint.mode`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum FailPointMode {
        /// `"alwaysOn"`.
        AlwaysOn,
        /// `"off"`.
        Off,
        /// `{times: n}`.
        Times(u32),
    }

    impl<'de> Deserialize<'de> for FailPointMode {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Times {
                times: u32,
            }
            #[derive(Deserialize)]
            #[serde(untagged)]
            enum Raw {
                Name(String),
                Times(Times),
            }
            match Raw::deserialize(deserializer)? {
                Raw::Name(name) if name == "alwaysOn" => Ok(Self::AlwaysOn),
                Raw::Name(name) if name == "off" => Ok(Self::Off),
                Raw::Name(name) => Err(serde::de::Error::custom(UnknownMode(name))),
                Raw::Times(t) => Ok(Self::Times(t.times)),
            }
        }
    }

    struct UnknownMode(String);

    impl fmt::Display for UnknownMode {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "unknown fail point mode `{}` (expected alwaysOn, off or {{times: n}})", self.0)
        }
    }

    /// `failPoint.data` for `failCommand`.
    #[derive(Debug, Clone, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct FailPointData {
        /// The commands it applies to.
        pub fail_commands: Vec<String>,
        /// Close the connection instead of answering.
        pub close_connection: Option<bool>,
        /// Block before answering.
        pub block_connection: Option<bool>,
        /// How long to block.
        #[serde(rename = "blockTimeMS")]
        pub block_time_ms: Option<u64>,
        /// Only for connections with this app name.
        pub app_name: Option<String>,
    }
}

use model::{
    CmapTest, EventType, ExpectedEvent, FailPoint, FailPointMode, Operation, Placeholder, PoolOptions,
};

/// Tests for `source/connection-monitoring-and-pooling/tests/*.json`, one per file, named
/// after the file.
pub fn generate_cmap(spec_root: &Path) -> Result<Vec<GeneratedTest>, SpecError> {
    let Some(dir) = crate::spec_data::source_dir(spec_root, "connection-monitoring-and-pooling/tests")?
    else {
        return Ok(Vec::new());
    };
    let files = crate::test_model::json_files(&dir)?;
    let mut unique = Unique::default();
    let mut tests = Vec::new();
    for file in files {
        let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        let name = unique.ident(&stem);
        tests.push(match read_json::<CmapTest>(&file) {
            Ok(test) => cmap_test(spec_root, &file, name, &test)?,
            Err(e) => crate::newer::ignored_file(spec_root, &file, vec![name], e)?,
        });
    }
    Ok(tests)
}

fn cmap_test(spec_root: &Path, file: &Path, name: String, t: &CmapTest) -> Result<GeneratedTest, SpecError> {
    if t.version != 1 {
        let message = format!("unsupported test format version {}", t.version);
        let err = if t.version > 1 {
            SpecError::newer(file, "/version", message)
        } else {
            SpecError::new(file, "/version", message)
        };
        return crate::newer::ignored_file(spec_root, file, vec![name], err);
    }
    check_operations(file, &t.operations)?;
    let full_name = format!("{SUITE}::{name}");
    let description = &t.description;
    let options = pool_options(file, &t.pool_options)?;
    let app_name = option_str(t.pool_options.app_name.as_deref());
    let (fault, status) = match &t.fail_point {
        None => (quote! { ::std::option::Option::None }, Status::Run),
        Some(fp) => match handshake_fault(fp) {
            Some(fault) => (fault, Status::Run),
            None => (quote! { ::std::option::Option::None }, Status::Ignored(NEEDS_SERVER_FAIL_POINT.into())),
        },
    };
    let operations = t.operations.iter().map(operation);
    let error = match &t.error {
        None => quote! { ::std::option::Option::None },
        Some(e) => {
            let kind = &e.kind;
            let message = option_str(e.message.as_deref());
            let address = expect_str(e.address.as_ref());
            quote! {
                ::std::option::Option::Some(::conformance::cmap::ExpectedError {
                    kind: #kind,
                    message: #message,
                    address: #address,
                })
            }
        }
    };
    let events = t
        .events
        .iter()
        .enumerate()
        .map(|(i, e)| expected_event(file, i, e))
        .collect::<Result<Vec<_>, _>>()?;
    let ignore = t.ignore.iter().map(|k| event_kind(*k));
    let body = quote! {
        ::conformance::cmap::run(::conformance::cmap::CmapCase {
            name: #full_name,
            description: #description,
            options: #options,
            app_name: #app_name,
            fault: #fault,
            operations: ::std::vec::Vec::from([#(#operations),*]),
            error: #error,
            events: ::std::vec::Vec::from([#(#events),*]),
            ignore: &[#(#ignore),*],
        })
        .await;
    };
    Ok(GeneratedTest {
        path: vec![name],
        spec_file: file.strip_prefix(spec_root).unwrap_or(file).to_string_lossy().replace('\\', "/"),
        case_index: None,
        status,
        is_async: true,
        body,
    })
}

/// Threads are started before use and labels set before they are checked in.
fn check_operations(file: &Path, operations: &[Operation]) -> Result<(), SpecError> {
    let mut threads = HashSet::new();
    let mut labels = HashSet::new();
    for (i, op) in operations.iter().enumerate() {
        if let Some(thread) = op.thread()
            && !threads.contains(thread)
        {
            return Err(SpecError::new(
                file,
                format!("/operations/{i}/thread"),
                format!("thread `{thread}` is used before it is started"),
            ));
        }
        match op {
            Operation::Start { target, .. } if !threads.insert(target.as_str()) => {
                return Err(SpecError::new(
                    file,
                    format!("/operations/{i}/target"),
                    format!("thread `{target}` is started twice"),
                ));
            }
            Operation::WaitForThread { target, .. } if !threads.contains(target.as_str()) => {
                return Err(SpecError::new(
                    file,
                    format!("/operations/{i}/target"),
                    format!("thread `{target}` is never started"),
                ));
            }
            Operation::CheckOut { label: Some(label), .. } => {
                labels.insert(label.as_str());
            }
            Operation::CheckIn { connection, .. } if !labels.contains(connection.as_str()) => {
                return Err(SpecError::new(
                    file,
                    format!("/operations/{i}/connection"),
                    format!("no checkOut is labelled `{connection}`"),
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

fn pool_options(file: &Path, o: &PoolOptions) -> Result<TokenStream, SpecError> {
    let u32_opt = |v: Option<u32>| match v {
        Some(v) => {
            let v = Literal::u32_unsuffixed(v);
            quote! { ::std::option::Option::Some(#v) }
        }
        None => quote! { ::std::option::Option::None },
    };
    let ms_opt = |v: Option<u64>| match v {
        Some(v) => {
            let v = Literal::u64_unsuffixed(v);
            quote! { ::std::option::Option::Some(::std::time::Duration::from_millis(#v)) }
        }
        None => quote! { ::std::option::Option::None },
    };
    let max_pool_size = u32_opt(o.max_pool_size);
    let min_pool_size = u32_opt(o.min_pool_size);
    let max_connecting = u32_opt(o.max_connecting);
    let max_idle_time = ms_opt(o.max_idle_time_ms);
    let wait_queue_timeout = ms_opt(o.wait_queue_timeout_ms);
    let background_interval = match o.background_thread_interval_ms {
        None => quote! { ::std::option::Option::None },
        Some(0) => {
            return Err(SpecError::new(file, "/poolOptions/backgroundThreadIntervalMS", "0 is not allowed"));
        }
        Some(ms) if ms < 0 => {
            quote! { ::std::option::Option::Some(::mongo_driver::cmap::BackgroundInterval::Never) }
        }
        Some(ms) => {
            let ms = Literal::u64_unsuffixed(ms.unsigned_abs());
            quote! {
                ::std::option::Option::Some(::mongo_driver::cmap::BackgroundInterval::Every(
                    ::std::time::Duration::from_millis(#ms),
                ))
            }
        }
    };
    Ok(quote! {
        ::mongo_driver::cmap::PoolOptions {
            max_pool_size: #max_pool_size,
            min_pool_size: #min_pool_size,
            max_idle_time: #max_idle_time,
            max_connecting: #max_connecting,
            wait_queue_timeout: #wait_queue_timeout,
            background_interval: #background_interval,
        }
    })
}

/// The in-memory model of a `failCommand` fail point on the handshake, or `None` when the
/// fail point does anything else.
fn handshake_fault(fp: &FailPoint) -> Option<TokenStream> {
    let handshake_only = !fp.data.fail_commands.is_empty()
        && fp.data.fail_commands.iter().all(|c| c == "hello" || c == "isMaster");
    if fp.configure_fail_point != "failCommand" || !handshake_only {
        return None;
    }
    let times = match fp.mode {
        FailPointMode::Off => return Some(quote! { ::std::option::Option::None }),
        FailPointMode::AlwaysOn => quote! { ::std::option::Option::None },
        FailPointMode::Times(n) => {
            let n = Literal::u32_unsuffixed(n);
            quote! { ::std::option::Option::Some(#n) }
        }
    };
    let block = match (fp.data.block_connection, fp.data.block_time_ms) {
        (Some(true), Some(ms)) => {
            let ms = Literal::u64_unsuffixed(ms);
            quote! { ::std::option::Option::Some(::std::time::Duration::from_millis(#ms)) }
        }
        (Some(true), None) => return None,
        _ => quote! { ::std::option::Option::None },
    };
    let close = fp.data.close_connection.unwrap_or(false);
    let app_name = option_string(fp.data.app_name.as_deref());
    Some(quote! {
        ::std::option::Option::Some(::mongo_driver::cmap::HandshakeFault {
            times: #times,
            block: #block,
            close_connection: #close,
            app_name: #app_name,
        })
    })
}

fn operation(op: &Operation) -> TokenStream {
    let action = match op {
        Operation::Start { target, .. } => quote! { ::conformance::cmap::Action::Start(#target) },
        Operation::Wait { ms, .. } => {
            let ms = Literal::u64_unsuffixed(*ms);
            quote! { ::conformance::cmap::Action::Wait(::std::time::Duration::from_millis(#ms)) }
        }
        Operation::WaitForThread { target, .. } => {
            quote! { ::conformance::cmap::Action::WaitForThread(#target) }
        }
        Operation::WaitForEvent { event, count, timeout, .. } => {
            let kind = event_kind(*event);
            let count = Literal::usize_unsuffixed(*count);
            let timeout = match timeout {
                Some(ms) => {
                    let ms = Literal::u64_unsuffixed(*ms);
                    quote! { ::std::option::Option::Some(::std::time::Duration::from_millis(#ms)) }
                }
                None => quote! { ::std::option::Option::None },
            };
            quote! { ::conformance::cmap::Action::WaitForEvent { kind: #kind, count: #count, timeout: #timeout } }
        }
        Operation::CheckOut { label, .. } => {
            let label = option_str(label.as_deref());
            quote! { ::conformance::cmap::Action::CheckOut { label: #label } }
        }
        Operation::CheckIn { connection, .. } => quote! { ::conformance::cmap::Action::CheckIn(#connection) },
        Operation::Clear { .. } => quote! { ::conformance::cmap::Action::Clear },
        Operation::Close { .. } => quote! { ::conformance::cmap::Action::Close },
        Operation::Ready { .. } => quote! { ::conformance::cmap::Action::Ready },
    };
    let thread = option_str(op.thread());
    quote! { ::conformance::cmap::Op { thread: #thread, action: #action } }
}

fn expected_event(file: &Path, index: usize, e: &ExpectedEvent) -> Result<TokenStream, SpecError> {
    let at = |field: &str| format!("/events/{index}/{field}");
    let kind = event_kind(e.kind);
    let address = expect_str(e.address.as_ref());
    let connection_id = match (&e.connection_id, e.kind.has_connection_id()) {
        (None, _) => quote! { ::conformance::cmap::Expect::Absent },
        (Some(_), false) => {
            return Err(SpecError::new(
                file,
                at("connectionId"),
                format!("{:?} events have no connectionId", e.kind),
            ));
        }
        (Some(Placeholder::Any), true) => quote! { ::conformance::cmap::Expect::Any },
        (Some(Placeholder::Value(id)), true) => {
            let id = Literal::u32_unsuffixed(*id);
            quote! { ::conformance::cmap::Expect::Is(#id) }
        }
    };
    let options = match (&e.options, e.kind) {
        (None, _) => quote! { ::conformance::cmap::Expect::Absent },
        (Some(_), k) if k != EventType::ConnectionPoolCreated => {
            return Err(SpecError::new(file, at("options"), format!("{k:?} events have no options")));
        }
        (Some(Placeholder::Any), _) => quote! { ::conformance::cmap::Expect::Any },
        (Some(Placeholder::Value(o)), _) => {
            if o.app_name.is_some() || o.background_thread_interval_ms.is_some() {
                return Err(SpecError::new(
                    file,
                    at("options"),
                    "test-only options are not pool event options",
                ));
            }
            let o = pool_options(file, o)?;
            quote! { ::conformance::cmap::Expect::Is(#o) }
        }
    };
    let reason = match (&e.reason, e.kind) {
        (None, _) => quote! { ::std::option::Option::None },
        (Some(r), EventType::ConnectionClosed) => {
            let variant = match r.as_str() {
                "stale" => quote! { Stale },
                "idle" => quote! { Idle },
                "error" => quote! { Error },
                "poolClosed" => quote! { PoolClosed },
                other => {
                    return Err(SpecError::new(
                        file,
                        at("reason"),
                        format!("unknown ConnectionClosed reason `{other}`"),
                    ));
                }
            };
            quote! {
                ::std::option::Option::Some(::conformance::cmap::Reason::Closed(
                    ::mongo_driver::event::cmap::ConnectionClosedReason::#variant,
                ))
            }
        }
        (Some(r), EventType::ConnectionCheckOutFailed) => {
            let variant = match r.as_str() {
                "poolClosed" => quote! { PoolClosed },
                "timeout" => quote! { Timeout },
                "connectionError" => quote! { ConnectionError },
                other => {
                    return Err(SpecError::new(
                        file,
                        at("reason"),
                        format!("unknown ConnectionCheckOutFailed reason `{other}`"),
                    ));
                }
            };
            quote! {
                ::std::option::Option::Some(::conformance::cmap::Reason::CheckOutFailed(
                    ::mongo_driver::event::cmap::CheckOutFailedReason::#variant,
                ))
            }
        }
        (Some(_), k) => {
            return Err(SpecError::new(file, at("reason"), format!("{k:?} events have no reason")));
        }
    };
    Ok(quote! {
        ::conformance::cmap::ExpectedEvent {
            kind: #kind,
            address: #address,
            connection_id: #connection_id,
            options: #options,
            reason: #reason,
        }
    })
}

fn event_kind(kind: EventType) -> TokenStream {
    let variant = match kind {
        EventType::ConnectionPoolCreated => quote! { PoolCreated },
        EventType::ConnectionPoolReady => quote! { PoolReady },
        EventType::ConnectionPoolCleared => quote! { PoolCleared },
        EventType::ConnectionPoolClosed => quote! { PoolClosed },
        EventType::ConnectionCreated => quote! { ConnectionCreated },
        EventType::ConnectionReady => quote! { ConnectionReady },
        EventType::ConnectionClosed => quote! { ConnectionClosed },
        EventType::ConnectionCheckOutStarted => quote! { ConnectionCheckOutStarted },
        EventType::ConnectionCheckOutFailed => quote! { ConnectionCheckOutFailed },
        EventType::ConnectionCheckedOut => quote! { ConnectionCheckedOut },
        EventType::ConnectionCheckedIn => quote! { ConnectionCheckedIn },
    };
    quote! { ::mongo_driver::event::cmap::CmapEventKind::#variant }
}

fn expect_str(value: Option<&Placeholder<String>>) -> TokenStream {
    match value {
        None => quote! { ::conformance::cmap::Expect::Absent },
        Some(Placeholder::Any) => quote! { ::conformance::cmap::Expect::Any },
        Some(Placeholder::Value(s)) => quote! { ::conformance::cmap::Expect::Is(#s) },
    }
}

fn option_str(value: Option<&str>) -> TokenStream {
    match value {
        Some(s) => quote! { ::std::option::Option::Some(#s) },
        None => quote! { ::std::option::Option::None },
    }
}

fn option_string(value: Option<&str>) -> TokenStream {
    match value {
        Some(s) => quote! { ::std::option::Option::Some(::std::string::String::from(#s)) },
        None => quote! { ::std::option::Option::None },
    }
}

#[cfg(test)]
mod tests {
    use super::model::*;
    use crate::error::from_json_str;
    use std::path::Path;

    #[test]
    fn operations_are_typed() {
        let text = r#"{"version": 1, "style": "unit", "description": "d",
            "operations": [{"name": "start", "target": "t1"}, {"name": "checkOut", "thread": "t1", "label": "c"},
                           {"name": "waitForEvent", "event": "ConnectionCreated", "count": 2}],
            "events": [{"type": "ConnectionCheckedOut", "connectionId": 42, "address": "42"}]}"#;
        let t: CmapTest = from_json_str(Path::new("t.json"), text).unwrap();
        assert!(
            matches!(&t.operations[1], Operation::CheckOut { label: Some(l), thread: Some(th) } if l == "c" && th == "t1")
        );
        assert_eq!(t.events[0].connection_id, Some(Placeholder::Any));
        assert_eq!(t.events[0].address, Some(Placeholder::Any));
    }

    #[test]
    fn unknown_operation_field_is_an_error() {
        let text = r#"{"version": 1, "style": "unit", "description": "d",
            "operations": [{"name": "checkOut", "lable": "c"}]}"#;
        let err = from_json_str::<CmapTest>(Path::new("t.json"), text).unwrap_err();
        assert!(err.message.contains("lable"), "{err}");
    }

    #[test]
    fn fail_point_modes() {
        let always: FailPointMode = serde_json::from_str(r#""alwaysOn""#).unwrap();
        assert_eq!(always, FailPointMode::AlwaysOn);
        let times: FailPointMode = serde_json::from_str(r#"{"times": 50}"#).unwrap();
        assert_eq!(times, FailPointMode::Times(50));
        assert!(serde_json::from_str::<FailPointMode>(r#""sometimes""#).is_err());
    }
}
