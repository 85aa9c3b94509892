//! Errors for malformed or unsupported spec files, located by file and JSON pointer.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// A spec file the generator cannot use: which file, where in it (as an RFC 6901 JSON
/// pointer), and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    /// The file, as given to the generator.
    pub file: PathBuf,
    /// JSON pointer of the offending value (`""` for the whole document).
    pub pointer: String,
    /// What is wrong with it.
    pub message: String,
    /// Whether the file is malformed or only newer than the generator.
    pub kind: ErrorKind,
}

/// What a [`SpecError`] means for the build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The file is not valid input (bad JSON, a known field of the wrong type, a file its
    /// format's own rules reject): the build fails.
    Malformed,
    /// The file uses something the generator does not know yet (a field or value added to
    /// its format later, a newer unified `schemaVersion`): its cases are generated as
    /// ignored tests naming it (see [`crate::newer`]).
    Newer,
}

impl SpecError {
    /// An error about the value at `pointer` in `file`: the file is malformed.
    pub fn new(file: impl Into<PathBuf>, pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            pointer: pointer.into(),
            message: message.into(),
            kind: ErrorKind::Malformed,
        }
    }

    /// The value at `pointer` in `file` is newer than the generator (see [`ErrorKind::Newer`]).
    pub fn newer(file: impl Into<PathBuf>, pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Self { kind: ErrorKind::Newer, ..Self::new(file, pointer, message) }
    }

    /// An error from deserializing a typed model: an unknown field or enum value is what a
    /// later version of the format adds, so it is [`ErrorKind::Newer`]; anything else
    /// (wrong type, missing field, bad syntax) is [`ErrorKind::Malformed`].
    pub fn from_serde(
        file: impl Into<PathBuf>,
        pointer: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        let message = message.into();
        if message.starts_with("unknown field") || message.starts_with("unknown variant") {
            Self::newer(file, pointer, message)
        } else {
            Self::new(file, pointer, message)
        }
    }

    /// Whether the file is only newer than the generator.
    pub fn is_newer(&self) -> bool {
        self.kind == ErrorKind::Newer
    }

    /// The error as one short phrase for an ignore reason: serde's list of expected names
    /// and the line/column suffix are left out (the JSON pointer locates the value).
    pub fn short_message(&self) -> String {
        let m = self.message.as_str();
        let m = m.split(", expected").next().unwrap_or(m);
        let m = m.split(" at line ").next().unwrap_or(m);
        m.trim().to_string()
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: at JSON pointer `{}`: {}", self.file.display(), self.pointer, self.message)
    }
}

impl std::error::Error for SpecError {}

/// Escapes one reference token of a JSON pointer (RFC 6901: `~` → `~0`, `/` → `~1`).
pub fn escape_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Converts a `serde_path_to_error` path into a JSON pointer.
pub fn pointer_of(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("/{index}")),
            Segment::Map { key } => {
                out.push('/');
                out.push_str(&escape_token(key));
            }
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    out
}

/// Deserializes `T` from JSON text, reporting a failure with `file` and the JSON pointer
/// of the value that did not fit.
pub fn from_json_str<T: DeserializeOwned>(file: &Path, text: &str) -> Result<T, SpecError> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let pointer = pointer_of(e.path());
        SpecError::from_serde(file, pointer, e.into_inner().to_string())
    })
}

/// Reads and deserializes a JSON spec file (see [`from_json_str`]).
pub fn read_json<T: DeserializeOwned>(file: &Path) -> Result<T, SpecError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| SpecError::new(file, "", format!("cannot read the file: {e}")))?;
    from_json_str(file, &text)
}

/// Deserializes `T` from YAML text, reporting a failure with `file` and the pointer of
/// the value that did not fit.
pub fn from_yaml_str<T: DeserializeOwned>(file: &Path, text: &str) -> Result<T, SpecError> {
    let de = serde_norway::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let pointer = pointer_of(e.path());
        SpecError::from_serde(file, pointer, e.into_inner().to_string())
    })
}

/// Reads and deserializes a YAML file (see [`from_yaml_str`]).
pub fn read_yaml<T: DeserializeOwned>(file: &Path) -> Result<T, SpecError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| SpecError::new(file, "", format!("cannot read the file: {e}")))?;
    from_yaml_str(file, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Doc {
        servers: Vec<Server>,
    }
    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Server {
        address: String,
        #[serde(rename = "avg/rtt")]
        rtt: u32,
    }

    #[test]
    fn pointer_names_the_bad_value() {
        let text = r#"{"servers": [{"address": "a", "avg/rtt": 1}, {"address": "b", "avg/rtt": "x"}]}"#;
        let err = from_json_str::<Doc>(Path::new("t.json"), text).unwrap_err();
        assert_eq!(err.pointer, "/servers/1/avg~1rtt");
        assert!(err.to_string().starts_with("t.json: at JSON pointer `/servers/1/avg~1rtt`: invalid type"));
    }

    #[test]
    fn unknown_field_is_reported_where_it_stands() {
        let text = r#"{"servers": [{"address": "a", "avg/rtt": 1, "extra": true}]}"#;
        let err = from_json_str::<Doc>(Path::new("t.json"), text).unwrap_err();
        assert_eq!(err.pointer, "/servers/0/extra");
        assert!(err.message.contains("unknown field `extra`"), "{}", err.message);
        assert!(err.is_newer());
        assert_eq!(err.short_message(), "unknown field `extra`");
        let text = r#"{"servers": [{"address": "a", "avg/rtt": "x"}]}"#;
        assert!(!from_json_str::<Doc>(Path::new("t.json"), text).unwrap_err().is_newer());
        assert!(!from_json_str::<Doc>(Path::new("t.json"), "{").unwrap_err().is_newer());
    }
}
