//! Assertions for the read-write-concern spec's connection-string and document tests
//! (`read-write-concern/tests/README.rst`): the driver's `ReadConcern` / `WriteConcern`
//! parsed from a URI or built from a concern document, validated, and serialized.

use std::path::Path;

use bson::{Bson, Document};
use mongo_driver::connection_string::{Acknowledgment, ConnectionString};
use mongo_driver::options::{ReadConcern, WriteConcern};
use serde_json::{Map, Value, json};
use spec_codegen::read_write_concern::{DocumentCase, TestFile, UriCase};

fn case<T: serde::de::DeserializeOwned + Clone>(path: &Path, index: usize) -> T {
    let file: TestFile<T> = spec_codegen::error::read_json(path).unwrap_or_else(|e| panic!("{e}"));
    match file.tests.get(index) {
        Some(case) => case.clone(),
        None => panic!("{}: no case {index}", path.display()),
    }
}

/// A write concern in the spec's options form (`w`, `wtimeoutMS`, `journal`).
fn write_concern_options(wc: &WriteConcern) -> Value {
    let mut out = Map::new();
    match &wc.w {
        Some(Acknowledgment::Nodes(n)) => {
            out.insert("w".into(), json!(n));
        }
        Some(Acknowledgment::Majority) => {
            out.insert("w".into(), json!("majority"));
        }
        Some(Acknowledgment::Custom(tag)) => {
            out.insert("w".into(), json!(tag));
        }
        None => {}
    }
    if let Some(t) = wc.w_timeout {
        out.insert("wtimeoutMS".into(), json!(u64::try_from(t.as_millis()).unwrap_or(u64::MAX)));
    }
    if let Some(j) = wc.journal {
        out.insert("journal".into(), json!(j));
    }
    Value::Object(out)
}

fn read_concern_options(rc: &Option<ReadConcern>) -> Value {
    match rc {
        Some(rc) => json!({"level": rc.level}),
        None => json!({}),
    }
}

/// A document of strings, booleans and integers as JSON, so numbers compare by value.
fn relaxed(d: Document) -> Value {
    serde_json::to_value(&d).unwrap_or_else(|e| panic!("a concern document as JSON: {e}"))
}

/// Checks case `index` of a `tests/connection-string` file: a valid URI parses without
/// error or warning into the expected default read and write concerns. An invalid one must
/// not give its concern: it fails to parse, or (the URI Options spec's rule for an invalid
/// option value) its value is refused with a warning, leaving the default.
pub fn check_connection_string(path: &Path, index: usize, name: &str) {
    let case: UriCase = case(path, index);
    let parsed = ConnectionString::parse(&case.uri);
    let view = match &parsed {
        Ok(cs) => json!({
            "uri": case.uri,
            "readConcern": read_concern_options(&ReadConcern::from_uri_options(&cs.options)),
            "writeConcern": write_concern_options(&WriteConcern::from_uri_options(&cs.options)),
            "warnings": cs.warnings,
        }),
        Err(e) => json!({"uri": case.uri, "error": e.to_string()}),
    };
    match (&parsed, case.valid) {
        (Err(e), true) => panic!("{name}: expected {:?} to parse, got: {e}", case.uri),
        (Ok(cs), true) => {
            if let Some(warning) = case.warning {
                assert_eq!(!cs.warnings.is_empty(), warning, "{name}: warnings {:?}", cs.warnings);
            }
            if let Some(expected) = &case.read_concern {
                let actual = read_concern_options(&ReadConcern::from_uri_options(&cs.options));
                assert_eq!(actual, Value::Object(expected.clone()), "{name}: read concern");
            }
            if let Some(expected) = &case.write_concern {
                let wc = WriteConcern::from_uri_options(&cs.options);
                if let Err(e) = wc.validate() {
                    panic!("{name}: the URI's write concern is invalid: {e}");
                }
                assert_eq!(
                    write_concern_options(&wc),
                    Value::Object(expected.clone()),
                    "{name}: write concern"
                );
            }
        }
        (Ok(cs), false) => {
            assert!(
                !cs.warnings.is_empty(),
                "{name}: expected {:?} to be rejected, it parsed without a warning as {:?}",
                case.uri,
                cs.options
            );
            let wc = WriteConcern::from_uri_options(&cs.options);
            if let Some(expected) = &case.write_concern {
                assert_ne!(
                    write_concern_options(&wc),
                    Value::Object(expected.clone()),
                    "{name}: the refused write concern was kept"
                );
            }
        }
        (Err(_), false) => {}
    }
    crate::snapshot(name, &view);
}

/// The spec's options-form write concern as the document the driver reads (`wtimeoutMS`
/// is sent as `wtimeout`, `journal` as `j`; values unchanged).
fn wire_form(path: &Path, options: &Map<String, Value>) -> Document {
    let mut d = Document::new();
    for (key, value) in options {
        let key = match key.as_str() {
            "wtimeoutMS" => "wtimeout",
            "journal" => "j",
            other => other,
        };
        let value: Bson = serde_json::from_value(value.clone())
            .unwrap_or_else(|e| panic!("{}: {key}: not Extended JSON: {e}", path.display()));
        d.insert(key, value);
    }
    d
}

/// Checks case `index` of a `tests/document` file: the driver builds (or refuses) the
/// concern, and reports the document it sends, whether it is the server's default and
/// whether it is acknowledged.
pub fn check_document(path: &Path, index: usize, name: &str) {
    let case: DocumentCase = case(path, index);
    let mut view = Map::new();
    if let Some(options) = &case.write_concern {
        let built = WriteConcern::from_document(&wire_form(path, options));
        match (&built, case.valid) {
            (Err(e), true) => panic!("{name}: the write concern {options:?} is rejected: {e}"),
            (Ok(wc), false) => panic!("{name}: the invalid write concern {options:?} is accepted as {wc:?}"),
            (Err(e), false) => {
                view.insert("writeConcernError".into(), json!(e.to_string()));
            }
            (Ok(wc), true) => {
                let sent = relaxed(wc.to_document());
                if let Some(Some(expected)) = &case.write_concern_document {
                    assert_eq!(sent, Value::Object(expected.clone()), "{name}: writeConcern document");
                }
                if let Some(default) = case.is_server_default {
                    assert_eq!(wc.is_empty(), default, "{name}: isServerDefault");
                }
                if let Some(acknowledged) = case.is_acknowledged {
                    assert_eq!(wc.is_acknowledged(), acknowledged, "{name}: isAcknowledged");
                }
                view.insert("writeConcernDocument".into(), sent);
                view.insert("isServerDefault".into(), json!(wc.is_empty()));
                view.insert("isAcknowledged".into(), json!(wc.is_acknowledged()));
            }
        }
    }
    if let Some(options) = &case.read_concern {
        let built = ReadConcern::from_document(&wire_form(path, options));
        match (&built, case.valid) {
            (Err(e), true) => panic!("{name}: the read concern {options:?} is rejected: {e}"),
            (Ok(rc), false) => panic!("{name}: the invalid read concern {options:?} is accepted as {rc:?}"),
            (Err(e), false) => {
                view.insert("readConcernError".into(), json!(e.to_string()));
            }
            (Ok(rc), true) => {
                let sent = relaxed(rc.as_ref().map(ReadConcern::to_document).unwrap_or_default());
                if let Some(Some(expected)) = &case.read_concern_document {
                    assert_eq!(sent, Value::Object(expected.clone()), "{name}: readConcern document");
                }
                if let Some(default) = case.is_server_default {
                    assert_eq!(rc.is_none(), default, "{name}: isServerDefault");
                }
                view.insert("readConcernDocument".into(), sent);
                view.insert("isServerDefault".into(), json!(rc.is_none()));
            }
        }
    }
    assert!(!view.is_empty(), "{name}: the case has neither a readConcern nor a writeConcern");
    crate::snapshot(name, &Value::Object(view));
}
