//! Reading the reply structs generated from the server IDL (`reply_type` of each command):
//! BSON → Rust conversions that accept what the IDL types accept (e.g. `safeInt64` takes
//! any number holding an integer).

use bson::Bson;

use crate::error::{Error, Result};

/// A Rust value readable from one BSON value of a reply; `Err` says what was found instead.
pub trait FromBson: Sized {
    /// Converts `value`.
    fn from_bson(value: &Bson) -> std::result::Result<Self, String>;
}

fn unexpected(expected: &str, value: &Bson) -> String {
    format!("expected {expected}, got {:?}", value.element_type())
}

/// An integral number that fits `T`.
fn integral<T: TryFrom<i64>>(expected: &str, value: &Bson) -> std::result::Result<T, String> {
    let wide = match value {
        Bson::Int32(i) => i64::from(*i),
        Bson::Int64(i) => *i,
        Bson::Double(d) if d.fract() == 0.0 && d.abs() < 9.2e18 => *d as i64,
        other => return Err(unexpected(expected, other)),
    };
    T::try_from(wide).map_err(|_| format!("{wide} does not fit {expected}"))
}

impl FromBson for i32 {
    fn from_bson(value: &Bson) -> std::result::Result<Self, String> {
        integral("a 32-bit integer", value)
    }
}

impl FromBson for i64 {
    fn from_bson(value: &Bson) -> std::result::Result<Self, String> {
        integral("a 64-bit integer", value)
    }
}

impl FromBson for f64 {
    fn from_bson(value: &Bson) -> std::result::Result<Self, String> {
        match value {
            Bson::Double(d) => Ok(*d),
            Bson::Int32(i) => Ok(f64::from(*i)),
            Bson::Int64(i) => Ok(*i as f64),
            other => Err(unexpected("a number", other)),
        }
    }
}

impl FromBson for bool {
    fn from_bson(value: &Bson) -> std::result::Result<Self, String> {
        match value {
            Bson::Boolean(b) => Ok(*b),
            // `safeBool` also accepts numbers.
            Bson::Int32(i) => Ok(*i != 0),
            Bson::Int64(i) => Ok(*i != 0),
            Bson::Double(d) => Ok(*d != 0.0),
            other => Err(unexpected("a boolean", other)),
        }
    }
}

impl FromBson for String {
    fn from_bson(value: &Bson) -> std::result::Result<Self, String> {
        value.as_str().map(str::to_string).ok_or_else(|| unexpected("a string", value))
    }
}

impl FromBson for bson::Document {
    fn from_bson(value: &Bson) -> std::result::Result<Self, String> {
        value.as_document().cloned().ok_or_else(|| unexpected("a document", value))
    }
}

impl FromBson for Bson {
    fn from_bson(value: &Bson) -> std::result::Result<Self, String> {
        Ok(value.clone())
    }
}

impl FromBson for bson::oid::ObjectId {
    fn from_bson(value: &Bson) -> std::result::Result<Self, String> {
        value.as_object_id().ok_or_else(|| unexpected("an ObjectId", value))
    }
}

impl FromBson for bson::DateTime {
    fn from_bson(value: &Bson) -> std::result::Result<Self, String> {
        value.as_datetime().copied().ok_or_else(|| unexpected("a date", value))
    }
}

impl FromBson for bson::Timestamp {
    fn from_bson(value: &Bson) -> std::result::Result<Self, String> {
        value.as_timestamp().ok_or_else(|| unexpected("a timestamp", value))
    }
}

impl FromBson for bson::Binary {
    fn from_bson(value: &Bson) -> std::result::Result<Self, String> {
        match value {
            Bson::Binary(b) => Ok(b.clone()),
            other => Err(unexpected("binary data", other)),
        }
    }
}

impl FromBson for bson::Uuid {
    fn from_bson(value: &Bson) -> std::result::Result<Self, String> {
        match value {
            Bson::Binary(b) => b.to_uuid().map_err(|e| e.to_string()),
            other => Err(unexpected("a UUID", other)),
        }
    }
}

impl<T: FromBson> FromBson for Vec<T> {
    fn from_bson(value: &Bson) -> std::result::Result<Self, String> {
        let Bson::Array(items) = value else { return Err(unexpected("an array", value)) };
        items
            .iter()
            .enumerate()
            .map(|(i, v)| T::from_bson(v).map_err(|e| format!("element {i}: {e}")))
            .collect()
    }
}

/// Reads field `field` of reply struct `owner`: `None` when absent or null (e.g.
/// `findAndModify`'s `value: null`), an error naming both when present with the wrong type.
pub(crate) fn reply_field<T: FromBson>(doc: &bson::Document, owner: &str, field: &str) -> Result<Option<T>> {
    match doc.get(field) {
        None | Some(Bson::Null) => Ok(None),
        Some(value) => T::from_bson(value)
            .map(Some)
            .map_err(|e| Error::invalid_response(format!("{owner}.{field}: {e}"))),
    }
}

/// Reads required field `field` of reply struct `owner`: an error naming both when it is
/// absent or has the wrong type. A present `null` is parsed like any other value, so a field
/// of any BSON type keeps it (e.g. an `upserted` entry whose `_id` is `null`, which a server
/// reports for `{_id: null}` upserts); a typed field rejects it as the wrong type.
pub(crate) fn required_reply_field<T: FromBson>(doc: &bson::Document, owner: &str, field: &str) -> Result<T> {
    match doc.get(field) {
        None => Err(missing_field(owner, field)),
        Some(value) => {
            T::from_bson(value).map_err(|e| Error::invalid_response(format!("{owner}.{field}: {e}")))
        }
    }
}

/// A required field of reply struct `owner` is missing.
pub(crate) fn missing_field(owner: &str, field: &str) -> Error {
    Error::invalid_response(format!("{owner}: required field `{field}` is missing"))
}
