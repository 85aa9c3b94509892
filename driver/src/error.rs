//! The driver's error type: one struct with a kind, the server's code, code name and labels.

use std::collections::BTreeSet;
use std::fmt;

/// The result type of driver operations.
pub type Result<T> = std::result::Result<T, Error>;

/// An error from the driver, with what kind it is and the server's error labels.
#[derive(Debug, Clone)]
pub struct Error {
    /// What went wrong.
    pub kind: Box<ErrorKind>,
    labels: BTreeSet<String>,
}

/// The kinds of driver error.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An argument or option given by the caller is invalid.
    #[error("invalid argument: {message}")]
    InvalidArgument {
        /// What is wrong.
        message: String,
    },
    /// No suitable server was found.
    #[error("server selection failed: {message}")]
    ServerSelection {
        /// What was asked for and what was seen.
        message: String,
    },
}

impl Error {
    /// An error of `kind` with no labels.
    pub fn new(kind: ErrorKind) -> Self {
        Self { kind: Box::new(kind), labels: BTreeSet::new() }
    }

    /// An [`ErrorKind::InvalidArgument`] error.
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument { message: message.into() })
    }

    /// The error labels (e.g. `RetryableWriteError`).
    pub fn labels(&self) -> &BTreeSet<String> {
        &self.labels
    }

    /// Whether the error carries `label`.
    pub fn contains_label(&self, label: &str) -> bool {
        self.labels.contains(label)
    }

    /// Adds a label.
    pub fn add_label(&mut self, label: impl Into<String>) {
        self.labels.insert(label.into());
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if !self.labels.is_empty() {
            let labels: Vec<&str> = self.labels.iter().map(String::as_str).collect();
            write!(f, " (labels: {})", labels.join(", "))?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Self::new(kind)
    }
}
