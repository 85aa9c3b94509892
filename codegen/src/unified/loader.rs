//! Loading a unified test file (`unified-test-format.rst`, "Test Format" and "Test Runner
//! Support"): its `schemaVersion` first, then the typed model, then the rules the spec
//! states for a file ([`super::validate`]).

use std::path::Path;

use serde::Deserialize;

use super::locate::{pointer_with_variants, shape_message};
use super::model::{TestFile, Version};
use super::validate;
use crate::SpecError;
use crate::error::from_json_str;

/// The highest schema version this model understands (`schema-1.28.json`); a file for a
/// later version, or another major version, is rejected (section "Test Runner Support").
pub const SUPPORTED_SCHEMA: Version = Version { major: 1, minor: 28, patch: 0 };

/// Reads, type-checks and validates a unified test file (the JSON twin). Any violation of
/// the format's schema or of the rules the spec states for a file (supported
/// `schemaVersion`, unique entity ids, references to defined entities, events matching
/// their `eventType`, …) is a [`SpecError`] naming the file and the JSON pointer.
pub fn load(file: &Path) -> Result<TestFile, SpecError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| SpecError::new(file, "", format!("cannot read the file: {e}")))?;
    parse(file, &text)
}

/// [`load`] for text already read (`file` names it in errors).
pub fn parse(file: &Path, text: &str) -> Result<TestFile, SpecError> {
    let raw: serde_json::Value = from_json_str(file, text)?;
    check_schema_version(file, &raw)?;
    let mut parsed: TestFile = typed(file, text, &raw)?;
    validate::validate(file, &mut parsed)?;
    Ok(parsed)
}

/// Type-checks and validates a unified file produced by a translator (see
/// [`crate::legacy`]); `file` names the source file in errors, which locate the value in the
/// translated file.
pub(crate) fn from_translated(file: &Path, value: serde_json::Value) -> Result<TestFile, SpecError> {
    let mut parsed: TestFile = serde_path_to_error::deserialize(value).map_err(|e| {
        let pointer = pointer_with_variants(e.path());
        SpecError::new(
            file,
            pointer,
            format!("in the file translated to the unified format: {}", e.into_inner()),
        )
    })?;
    validate::validate(file, &mut parsed)?;
    Ok(parsed)
}

/// Deserializes the typed model, locating errors by JSON pointer. Unlike
/// [`crate::error::from_json_str`], an entity's or event's type key (an externally tagged
/// enum variant) is part of the pointer, and serde's bare "expected value" (a tagged value
/// of the wrong shape) is replaced by what the value is and what was expected.
pub(crate) fn typed<T: serde::de::DeserializeOwned>(
    file: &Path,
    text: &str,
    raw: &serde_json::Value,
) -> Result<T, SpecError> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let pointer = pointer_with_variants(e.path());
        let mut message = e.into_inner().to_string();
        if message.starts_with("expected value") {
            message = shape_message(raw.pointer(&pointer));
        }
        SpecError::new(file, pointer, message)
    })
}

/// Checks `schemaVersion` before anything else, so that a file written for a newer
/// format is reported as such rather than by its first unknown field.
pub(super) fn check_schema_version(file: &Path, raw: &serde_json::Value) -> Result<(), SpecError> {
    let Some(top) = raw.as_object() else {
        return Err(SpecError::new(file, "", "a unified test file must be a JSON object"));
    };
    let Some(value) = top.get("schemaVersion") else {
        return Err(SpecError::new(file, "", "missing field `schemaVersion`"));
    };
    let Some(text) = value.as_str() else {
        return Err(SpecError::new(
            file,
            "/schemaVersion",
            format!("invalid type: {value}, expected a string (`schemaVersion`)"),
        ));
    };
    let Some(version) = Version::parse(text) else {
        return Err(SpecError::new(
            file,
            "/schemaVersion",
            format!("`schemaVersion` `{text}` is not a version string (`major.minor[.patch]`)"),
        ));
    };
    if version.major != SUPPORTED_SCHEMA.major || version > SUPPORTED_SCHEMA {
        let message = format!(
            "schema version {text} is not supported (this runner supports {}.0 to {}.{})",
            SUPPORTED_SCHEMA.major, SUPPORTED_SCHEMA.major, SUPPORTED_SCHEMA.minor
        );
        // A later version may use anything, so its file is newer rather than malformed; the
        // format's rules (unknown keys rejected) apply to the versions this model knows.
        return Err(if version > SUPPORTED_SCHEMA {
            SpecError::newer(file, "/schemaVersion", message)
        } else {
            SpecError::new(file, "/schemaVersion", message)
        });
    }
    Ok(())
}

/// Just the test descriptions of a file, to name generated tests without validating it
/// (valid-fail files may be rejected by [`load`] on purpose).
#[derive(Deserialize)]
pub(crate) struct Descriptions {
    /// The cases, by description only.
    pub(crate) tests: Vec<Described>,
}

/// A case's description.
#[derive(Deserialize)]
pub(crate) struct Described {
    /// What the case tests.
    pub(crate) description: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unified::model;

    fn file_with(entities: &str, tests: &str, version: &str) -> String {
        format!(
            r#"{{"description": "d", "schemaVersion": "{version}", "createEntities": {entities}, "tests": {tests}}}"#
        )
    }

    const CLIENT: &str = r#"[{"client": {"id": "c"}}]"#;
    const PING: &str = r#"[{"description": "t", "operations": [{"name": "ping", "object": "c"}]}]"#;

    fn reject(text: &str) -> SpecError {
        match parse(Path::new("f.json"), text) {
            Ok(_) => panic!("accepted: {text}"),
            Err(e) => e,
        }
    }

    #[test]
    fn schema_versions() {
        for ok in ["1.0", "1.10", "1.10.0", "1.5", "1.9.9", "1.28", "1.28.0"] {
            assert!(parse(Path::new("f.json"), &file_with(CLIENT, PING, ok)).is_ok(), "{ok}");
        }
        for bad in ["1.29", "1.28.1", "2.0", "0.9"] {
            let e = reject(&file_with(CLIENT, PING, bad));
            assert_eq!(e.pointer, "/schemaVersion");
            assert!(e.message.contains("not supported"), "{}", e.message);
        }
    }

    #[test]
    fn entity_rules() {
        let dup = r#"[{"client": {"id": "c"}}, {"session": {"id": "c", "client": "c"}}]"#;
        let e = reject(&file_with(dup, PING, "1.0"));
        assert_eq!(e.pointer, "/createEntities/1/session/id");
        let undefined =
            r#"[{"client": {"id": "c"}}, {"database": {"id": "d", "client": "nope", "databaseName": "x"}}]"#;
        let e = reject(&file_with(undefined, PING, "1.0"));
        assert_eq!(e.pointer, "/createEntities/1/database/client");
        let wrong_kind = r#"[{"client": {"id": "c"}}, {"collection": {"id": "k", "database": "c", "collectionName": "x"}}]"#;
        let e = reject(&file_with(wrong_kind, PING, "1.0"));
        assert!(e.message.contains("is a client entity, not a database entity"), "{}", e.message);
        let stored = r#"[{"client": {"id": "c", "storeEventsAsEntities": [{"id": "c", "events": ["PoolCreatedEvent"]}]}}]"#;
        let e = reject(&file_with(stored, PING, "1.3"));
        assert_eq!(e.pointer, "/createEntities/0/client/storeEventsAsEntities/0/id");
        let tests = r#"[{"description": "t", "operations": [{"name": "ping", "object": "ghost"}]}]"#;
        let e = reject(&file_with(CLIENT, tests, "1.0"));
        assert_eq!(e.pointer, "/tests/0/operations/0/object");
    }

    #[test]
    fn events_follow_their_event_type() {
        let tests = |events: &str| {
            format!(r#"[{{"description": "t", "operations": [], "expectEvents": [{events}]}}]"#)
        };
        let cmap = r#"{"client": "c", "eventType": "cmap", "events": [{"poolClearedEvent": {"hasServiceId": true}}]}"#;
        let parsed = parse(Path::new("f.json"), &file_with(CLIENT, &tests(cmap), "1.4")).unwrap();
        let typed = &parsed.tests[0].expect_events.as_ref().unwrap()[0].typed;
        assert!(matches!(typed, model::ExpectedEvents::Cmap(v) if v.len() == 1));
        let wrong = r#"{"client": "c", "eventType": "sdam", "events": [{"poolClearedEvent": {}}]}"#;
        let e = reject(&file_with(CLIENT, &tests(wrong), "1.10"));
        assert_eq!(e.pointer, "/tests/0/expectEvents/0/events/0");
        let unknown_client = r#"{"client": "x", "events": []}"#;
        let e = reject(&file_with(CLIENT, &tests(unknown_client), "1.0"));
        assert_eq!(e.pointer, "/tests/0/expectEvents/0/client");
    }
}
