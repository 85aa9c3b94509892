//! The engine's command failure: what mongod replies as `{ok: 0, errmsg, code, codeName}`.

use bson::Document;

/// A command failure, shaped by the server layer as `{ok: 0, errmsg, code, codeName}`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code_name} ({code}): {message}")]
pub struct CommandError {
    /// Server error code, e.g. 26.
    pub code: i32,
    /// Server error code name, e.g. `NamespaceNotFound`.
    pub code_name: String,
    /// Human-readable message (`errmsg`).
    pub message: String,
    /// Fields the reply carries beside `code`/`errmsg`: mongod appends an error's extra info
    /// to the command reply, e.g. `keyPattern`/`keyValue` of a `DuplicateKey` failure
    /// (src/mongo/db/storage/duplicate_key_error_info.cpp) or `errInfo` of a validation one.
    pub extra: Option<Box<Document>>,
}

impl CommandError {
    /// A failure with `code`/`code_name`.
    pub fn new(code: i32, code_name: &str, message: impl Into<String>) -> Self {
        Self { code, code_name: code_name.into(), message: message.into(), extra: None }
    }
}
