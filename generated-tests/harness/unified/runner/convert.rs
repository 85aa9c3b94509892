//! Spec values to driver values for the unified runner (`unified-test-format.rst`, "Extended
//! JSON" and the entity options of "Entity Map": `readConcern`, `writeConcern`,
//! `readPreference`, `timeoutMS`, transaction options, URI options).

use std::path::Path;
use std::time::Duration;

use bson::{Bson, Document};
use mongo_driver::options::{ReadConcern, ReadPreference, ReadPreferenceMode, WriteConcern};
use mongo_driver::session::TransactionOptions;
use spec_codegen::unified::model::CollectionOrDatabaseOptions;

use super::super::matching::from_extended_json;

/// Converts a spec value (Extended JSON) to BSON, failing the test with its location.
pub(super) fn ejson(path: &Path, pointer: &str, value: &serde_json::Value) -> Bson {
    from_extended_json(value.clone()).unwrap_or_else(|e| panic!("{}#{pointer}: {e}", path.display()))
}

/// [`ejson`] of a spec object, which must give a document.
pub(super) fn ejson_doc(
    path: &Path,
    pointer: &str,
    map: &serde_json::Map<String, serde_json::Value>,
) -> Document {
    match ejson(path, pointer, &serde_json::Value::Object(map.clone())) {
        Bson::Document(d) => d,
        other => panic!("{}#{pointer}: expected a document, found {other}", path.display()),
    }
}

/// A URI option's value as text.
pub(super) fn uri_value(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// An integer of any BSON width.
fn integer(value: &Bson) -> Option<i64> {
    value.as_i64().or_else(|| value.as_i32().map(i64::from))
}

/// A write concern from its document (`w`, `journal` or `j`, `wtimeoutMS` or `wtimeout`).
pub(super) fn write_concern(d: &Document) -> WriteConcern {
    let mut wc = match d.get("w") {
        Some(Bson::String(s)) if s == "majority" => WriteConcern::majority(),
        Some(Bson::String(s)) => WriteConcern {
            w: Some(mongo_driver::options::Acknowledgment::Custom(s.clone())),
            ..WriteConcern::default()
        },
        Some(n) => WriteConcern::nodes(integer(n).unwrap_or(0) as u32),
        None => WriteConcern::default(),
    };
    // The unified format names the fields `journal` and `wtimeoutMS`; the legacy files (and
    // the server) `j` and `wtimeout`.
    if let Ok(j) = d.get_bool("journal").or_else(|_| d.get_bool("j")) {
        wc = wc.journal(j);
    }
    let ms = d.get("wtimeoutMS").or_else(|| d.get("wtimeout"));
    if let Some(ms) = ms.and_then(integer) {
        wc = wc.w_timeout(Duration::from_millis(ms.max(0) as u64));
    }
    wc
}

/// A read preference from its document (`mode`, default primary, and an optional
/// `maxStalenessSeconds`). A field it cannot take is given back with why: its name
/// (`mode`, `maxStalenessSeconds` or the unsupported field) and the message.
pub(super) fn read_preference(d: &Document) -> Result<ReadPreference, (String, String)> {
    let mode = d.get_str("mode").unwrap_or("primary");
    let mut rp = match mode.parse::<ReadPreferenceMode>() {
        Ok(mode) => ReadPreference::new(mode),
        Err(e) => return Err(("mode".into(), e.to_string())),
    };
    for (field, value) in d {
        match field.as_str() {
            "mode" => {}
            "maxStalenessSeconds" => match integer(value) {
                Some(seconds) => rp = rp.with_max_staleness_seconds(seconds),
                None => return Err((field.clone(), "not an integer".into())),
            },
            other => return Err((other.to_string(), "not supported by the runner".into())),
        }
    }
    Ok(rp)
}

/// The read concern, write concern and read preference an entity's options give.
pub(super) type Concerns = (Option<ReadConcern>, Option<WriteConcern>, Option<ReadPreference>);

/// The [`Concerns`] of database, collection or bucket options at `pointer` in the file at
/// `path`.
pub(super) fn concerns(path: &Path, pointer: &str, o: &CollectionOrDatabaseOptions) -> Concerns {
    let rc = o.read_concern.as_ref().map(|rc| match rc.get("level").and_then(|l| l.as_str()) {
        Some(level) => ReadConcern::custom(level),
        None => panic!("{}#{pointer}/readConcern: no level", path.display()),
    });
    let wc = o.write_concern.as_ref().map(|wc| write_concern(&ejson_doc(path, pointer, wc)));
    let rp = o.read_preference.as_ref().map(|rp| {
        read_preference(&ejson_doc(path, pointer, rp)).unwrap_or_else(|(field, why)| {
            panic!("{}#{pointer}/readPreference/{field}: {why}", path.display())
        })
    });
    (rc, wc, rp)
}

/// Transaction options from their document (`readConcern`, `writeConcern`,
/// `readPreference`, `maxCommitTimeMS`); `here` locates it in failure messages.
pub(super) fn transaction_options(here: &str, d: &Document) -> TransactionOptions {
    let mut options = TransactionOptions::default();
    for (key, value) in d {
        options = match (key.as_str(), value) {
            ("readConcern", Bson::Document(rc)) => match rc.get_str("level") {
                Ok(level) => options.read_concern(ReadConcern::custom(level)),
                Err(_) => panic!("{here}/readConcern: no level"),
            },
            ("writeConcern", Bson::Document(wc)) => options.write_concern(write_concern(wc)),
            ("readPreference", Bson::Document(rp)) => {
                let mode = rp.get_str("mode").unwrap_or("primary");
                match mode.parse::<ReadPreferenceMode>() {
                    Ok(mode) if rp.len() == 1 => options.read_preference(ReadPreference::new(mode)),
                    Ok(_) => panic!("{here}/readPreference: only `mode` is supported by the runner"),
                    Err(e) => panic!("{here}/readPreference: {e}"),
                }
            }
            ("maxCommitTimeMS", v) => match integer(v) {
                Some(ms) if ms >= 0 => options.max_commit_time(Duration::from_millis(ms as u64)),
                _ => panic!("{here}/maxCommitTimeMS: expected a non-negative integer, found {v}"),
            },
            (other, v) => panic!("{here}/{other}: {v} not supported as a transaction option"),
        };
    }
    options
}

/// An entity's `timeoutMS` option as a duration (a negative one is a malformed file).
pub(super) fn timeout_millis(path: &Path, pointer: &str, ms: i64) -> Duration {
    match u64::try_from(ms) {
        Ok(ms) => Duration::from_millis(ms),
        Err(_) => panic!("{}#{pointer}: timeoutMS {ms} is negative", path.display()),
    }
}
