//! The `serverMonitoringMode` URI option (server monitoring spec, "serverMonitoringMode"):
//! whether monitors stream, and the function-as-a-service detection its `auto` value uses.

use std::str::FromStr;

use crate::error::{Error, Result};

/// `serverMonitoringMode` (server monitoring spec, 2023): whether a monitor may use the
/// streaming protocol with a server that supports it (4.4+).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ServerMonitoringMode {
    /// Stream, except in a function-as-a-service environment (AWS Lambda, Azure Functions,
    /// GCP Cloud Functions, Vercel), where the monitor polls.
    #[default]
    Auto,
    /// Stream whenever the server supports it.
    Stream,
    /// Always poll.
    Poll,
}

impl ServerMonitoringMode {
    /// The option's value as written in a connection string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Stream => "stream",
            Self::Poll => "poll",
        }
    }

    /// Whether a monitor in this mode streams from a server that supports it (`Auto`
    /// streams unless [`is_faas`] says the process runs as a function).
    pub fn streams(self) -> bool {
        match self {
            Self::Auto => !is_faas(),
            Self::Stream => true,
            Self::Poll => false,
        }
    }
}

impl FromStr for ServerMonitoringMode {
    type Err = Error;

    fn from_str(value: &str) -> Result<Self> {
        match value {
            "auto" => Ok(Self::Auto),
            "stream" => Ok(Self::Stream),
            "poll" => Ok(Self::Poll),
            other => Err(Error::invalid_argument(format!(
                "unknown serverMonitoringMode `{other}` (expected `auto`, `stream` or `poll`)"
            ))),
        }
    }
}

/// Whether the process runs in a function-as-a-service environment, from the variables the
/// handshake spec's "client.env" section names: `AWS_EXECUTION_ENV` starting with
/// `AWS_Lambda_` or `AWS_LAMBDA_RUNTIME_API` (AWS Lambda), `FUNCTIONS_WORKER_RUNTIME` (Azure
/// Functions), `K_SERVICE` or `FUNCTION_NAME` (GCP), `VERCEL`.
pub fn is_faas() -> bool {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    std::env::var("AWS_EXECUTION_ENV").is_ok_and(|v| v.starts_with("AWS_Lambda_"))
        || ["AWS_LAMBDA_RUNTIME_API", "FUNCTIONS_WORKER_RUNTIME", "K_SERVICE", "FUNCTION_NAME", "VERCEL"]
            .into_iter()
            .any(set)
}
