//! BSON comparison and sort order (MongoDB manual: "Comparison/Sort Order" — the total order
//! across BSON types, with numbers compared by value across int32/int64/double/decimal).

use std::cmp::Ordering;

use bson::Bson;

/// The canonical type rank mongod uses to order values of different BSON types.
pub fn canonical_type(v: &Bson) -> i32 {
    match v {
        Bson::MinKey => -1,
        Bson::Undefined => 0,
        Bson::Null => 5,
        Bson::Double(_) | Bson::Int32(_) | Bson::Int64(_) | Bson::Decimal128(_) => 10,
        Bson::String(_) | Bson::Symbol(_) => 15,
        Bson::Document(_) => 20,
        Bson::Array(_) => 25,
        Bson::Binary(_) => 30,
        Bson::ObjectId(_) => 35,
        Bson::Boolean(_) => 40,
        Bson::DateTime(_) => 45,
        Bson::Timestamp(_) => 47,
        Bson::RegularExpression(_) => 50,
        Bson::DbPointer(_) => 55,
        Bson::JavaScriptCode(_) => 60,
        Bson::JavaScriptCodeWithScope(_) => 65,
        Bson::MaxKey => 127,
    }
}

/// A number in one of the four BSON numeric types, for cross-type comparison and arithmetic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Num {
    /// An integral value (int32 or int64).
    Int(i64),
    /// A double (decimals are approximated as doubles).
    Float(f64),
}

impl Num {
    /// The value as a double.
    pub fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }
}

/// The numeric value of `v`, if it is a number.
pub fn num(v: &Bson) -> Option<Num> {
    match v {
        Bson::Int32(i) => Some(Num::Int(i64::from(*i))),
        Bson::Int64(i) => Some(Num::Int(*i)),
        Bson::Double(f) => Some(Num::Float(*f)),
        Bson::Decimal128(d) => Some(Num::Float(decimal_to_f64(d))),
        _ => None,
    }
}

/// A decimal128 approximated as a double (via its canonical string form).
pub fn decimal_to_f64(d: &bson::Decimal128) -> f64 {
    let s = d.to_string();
    s.parse::<f64>().unwrap_or_else(|_| {
        let l = s.to_ascii_lowercase();
        if l.contains("nan") {
            f64::NAN
        } else if l.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        }
    })
}

fn cmp_int_float(i: i64, f: f64) -> Ordering {
    // mongod orders NaN below every other number.
    if f.is_nan() {
        return Ordering::Greater;
    }
    if f >= 9.223_372_036_854_776e18 {
        return Ordering::Less;
    }
    if f < -9.223_372_036_854_776e18 {
        return Ordering::Greater;
    }
    let fl = f.floor();
    match i.cmp(&(fl as i64)) {
        Ordering::Equal if f > fl => Ordering::Less,
        o => o,
    }
}

fn cmp_float(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// Compares two numbers by value.
pub fn cmp_num(a: Num, b: Num) -> Ordering {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => x.cmp(&y),
        (Num::Int(x), Num::Float(y)) => cmp_int_float(x, y),
        (Num::Float(x), Num::Int(y)) => cmp_int_float(y, x).reverse(),
        (Num::Float(x), Num::Float(y)) => cmp_float(x, y),
    }
}

/// A non-simple collation: the string order it asks for (its parsing and the command scope it
/// holds in are [`super::collation`]'s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Collation {
    /// ICU comparison level, 1 to 5 (default 3).
    pub strength: u8,
}

impl Collation {
    /// Compares two strings under this collation.
    pub fn compare_strings(&self, a: &str, b: &str) -> Ordering {
        let folded = a.chars().flat_map(char::to_lowercase).cmp(b.chars().flat_map(char::to_lowercase));
        if folded != Ordering::Equal || self.strength < 3 {
            return folded;
        }
        // Tertiary level: on a case-only difference, lowercase sorts first.
        for (x, y) in a.chars().zip(b.chars()) {
            if x != y {
                return match (x.is_lowercase(), y.is_lowercase()) {
                    (true, false) => Ordering::Less,
                    (false, true) => Ordering::Greater,
                    _ => x.cmp(&y),
                };
            }
        }
        a.len().cmp(&b.len())
    }
}

/// mongod's total order over BSON values (without collation: strings compare by bytes).
pub fn compare(a: &Bson, b: &Bson) -> Ordering {
    compare_with(a, b, None)
}

/// [`compare`] with strings (also inside documents and arrays) compared under `collation`
/// (`None`: the simple binary comparison).
pub fn compare_with(a: &Bson, b: &Bson, collation: Option<Collation>) -> Ordering {
    let compare = |x: &Bson, y: &Bson| compare_with(x, y, collation);
    let compare_docs = |x: &bson::Document, y: &bson::Document| compare_docs_with(x, y, collation);
    let (ta, tb) = (canonical_type(a), canonical_type(b));
    if ta != tb {
        return ta.cmp(&tb);
    }
    match (a, b) {
        _ if ta == 10 => match (num(a), num(b)) {
            (Some(x), Some(y)) => cmp_num(x, y),
            _ => Ordering::Equal,
        },
        (Bson::String(x) | Bson::Symbol(x), Bson::String(y) | Bson::Symbol(y)) => match collation {
            Some(c) => c.compare_strings(x, y),
            None => x.as_bytes().cmp(y.as_bytes()),
        },
        (Bson::Document(x), Bson::Document(y)) => compare_docs(x, y),
        (Bson::Array(x), Bson::Array(y)) => {
            for (ea, eb) in x.iter().zip(y.iter()) {
                let o = canonical_type(ea).cmp(&canonical_type(eb)).then_with(|| compare(ea, eb));
                if o != Ordering::Equal {
                    return o;
                }
            }
            x.len().cmp(&y.len())
        }
        (Bson::Binary(x), Bson::Binary(y)) => x
            .bytes
            .len()
            .cmp(&y.bytes.len())
            .then_with(|| u8::from(x.subtype).cmp(&u8::from(y.subtype)))
            .then_with(|| x.bytes.cmp(&y.bytes)),
        (Bson::ObjectId(x), Bson::ObjectId(y)) => x.bytes().cmp(&y.bytes()),
        (Bson::Boolean(x), Bson::Boolean(y)) => x.cmp(y),
        (Bson::DateTime(x), Bson::DateTime(y)) => x.timestamp_millis().cmp(&y.timestamp_millis()),
        (Bson::Timestamp(x), Bson::Timestamp(y)) => x.cmp(y),
        (Bson::RegularExpression(x), Bson::RegularExpression(y)) => x
            .pattern
            .as_str()
            .cmp(y.pattern.as_str())
            .then_with(|| x.options.as_str().cmp(y.options.as_str())),
        (Bson::JavaScriptCode(x), Bson::JavaScriptCode(y)) => x.cmp(y),
        (Bson::JavaScriptCodeWithScope(x), Bson::JavaScriptCodeWithScope(y)) => {
            x.code.cmp(&y.code).then_with(|| compare_docs(&x.scope, &y.scope))
        }
        (Bson::DbPointer(_), Bson::DbPointer(_)) => {
            // The fields are private in the bson crate; compare the extended-JSON forms.
            format!("{a:?}").cmp(&format!("{b:?}"))
        }
        _ => Ordering::Equal,
    }
}

/// Compares two documents the way mongod does: element by element, first by canonical type,
/// then field name, then value; a prefix sorts first.
pub fn compare_docs(x: &bson::Document, y: &bson::Document) -> Ordering {
    compare_docs_with(x, y, None)
}

/// [`compare_docs`] with string values compared under `collation` (field names never are).
pub fn compare_docs_with(x: &bson::Document, y: &bson::Document, collation: Option<Collation>) -> Ordering {
    for ((ka, va), (kb, vb)) in x.iter().zip(y.iter()) {
        let o = canonical_type(va)
            .cmp(&canonical_type(vb))
            .then_with(|| ka.as_bytes().cmp(kb.as_bytes()))
            .then_with(|| compare_with(va, vb, collation));
        if o != Ordering::Equal {
            return o;
        }
    }
    x.len().cmp(&y.len())
}

/// Equality under mongod's comparison (1 == 1.0 == NumberLong(1)).
pub fn values_equal(a: &Bson, b: &Bson) -> bool {
    compare(a, b) == Ordering::Equal
}

/// Whether two index keys hold equal values field by field (field names ignored).
pub fn compare_docs_values(a: &bson::Document, b: &bson::Document) -> bool {
    a.len() == b.len() && a.values().zip(b.values()).all(|(x, y)| values_equal(x, y))
}

/// A BSON value ordered by [`compare`], for use as a map key (e.g. the `_id` index).
#[derive(Debug, Clone)]
pub struct Key(pub Bson);

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        compare(&self.0, &other.0) == Ordering::Equal
    }
}
impl Eq for Key {}
impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        compare(&self.0, &other.0)
    }
}

/// The `$type` name of a value (as the aggregation `$type` operator reports it).
pub fn type_name(v: &Bson) -> &'static str {
    match v {
        Bson::Double(_) => "double",
        Bson::String(_) => "string",
        Bson::Document(_) => "object",
        Bson::Array(_) => "array",
        Bson::Binary(_) => "binData",
        Bson::Undefined => "undefined",
        Bson::ObjectId(_) => "objectId",
        Bson::Boolean(_) => "bool",
        Bson::DateTime(_) => "date",
        Bson::Null => "null",
        Bson::RegularExpression(_) => "regex",
        Bson::DbPointer(_) => "dbPointer",
        Bson::JavaScriptCode(_) => "javascript",
        Bson::Symbol(_) => "symbol",
        Bson::JavaScriptCodeWithScope(_) => "javascriptWithScope",
        Bson::Int32(_) => "int",
        Bson::Timestamp(_) => "timestamp",
        Bson::Int64(_) => "long",
        Bson::Decimal128(_) => "decimal",
        Bson::MinKey => "minKey",
        Bson::MaxKey => "maxKey",
    }
}

/// The BSON type number of a value (`$type: 2` etc.).
pub fn type_number(v: &Bson) -> i32 {
    match v {
        Bson::Double(_) => 1,
        Bson::String(_) => 2,
        Bson::Document(_) => 3,
        Bson::Array(_) => 4,
        Bson::Binary(_) => 5,
        Bson::Undefined => 6,
        Bson::ObjectId(_) => 7,
        Bson::Boolean(_) => 8,
        Bson::DateTime(_) => 9,
        Bson::Null => 10,
        Bson::RegularExpression(_) => 11,
        Bson::DbPointer(_) => 12,
        Bson::JavaScriptCode(_) => 13,
        Bson::Symbol(_) => 14,
        Bson::JavaScriptCodeWithScope(_) => 15,
        Bson::Int32(_) => 16,
        Bson::Timestamp(_) => 17,
        Bson::Int64(_) => 18,
        Bson::Decimal128(_) => 19,
        Bson::MinKey => -1,
        Bson::MaxKey => 127,
    }
}

/// Formats a value the way mongod prints it in messages such as the E11000 `dup key: { … }`.
pub fn display(v: &Bson) -> String {
    match v {
        Bson::String(s) => format!("\"{s}\""),
        Bson::Int32(i) => i.to_string(),
        Bson::Int64(i) => i.to_string(),
        Bson::Double(f) => {
            if f.fract() == 0.0 && f.is_finite() && f.abs() < 1e15 {
                format!("{f:.1}")
            } else {
                f.to_string()
            }
        }
        Bson::Decimal128(d) => format!("{d}"),
        Bson::ObjectId(o) => format!("ObjectId('{o}')"),
        Bson::Boolean(b) => b.to_string(),
        Bson::Null => "null".into(),
        Bson::Undefined => "undefined".into(),
        Bson::MinKey => "MinKey".into(),
        Bson::MaxKey => "MaxKey".into(),
        Bson::Document(d) => display_doc(d),
        Bson::Array(a) => {
            if a.is_empty() {
                "[]".into()
            } else {
                format!("[ {} ]", a.iter().map(display).collect::<Vec<_>>().join(", "))
            }
        }
        Bson::DateTime(d) => format!("new Date({})", d.timestamp_millis()),
        Bson::Timestamp(t) => format!("Timestamp({}, {})", t.time, t.increment),
        other => format!("{other}"),
    }
}

/// Formats a document the way mongod prints it in messages (`{ a: 1, b: "x" }`).
pub fn display_doc(d: &bson::Document) -> String {
    if d.is_empty() {
        return "{}".into();
    }
    let parts: Vec<String> = d.iter().map(|(k, v)| format!("{k}: {}", display(v))).collect();
    format!("{{ {} }}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{Bson, doc, oid::ObjectId};

    #[test]
    fn numbers_compare_across_types() {
        assert_eq!(compare(&Bson::Int32(1), &Bson::Double(1.0)), Ordering::Equal);
        assert_eq!(compare(&Bson::Int64(2), &Bson::Double(1.5)), Ordering::Greater);
        assert_eq!(compare(&Bson::Int64(i64::MAX), &Bson::Double(9.3e18)), Ordering::Less);
        // NaN sorts below all other numbers.
        assert_eq!(compare(&Bson::Double(f64::NAN), &Bson::Int32(i32::MIN)), Ordering::Less);
        let dec: bson::Decimal128 = "2.5".parse().unwrap();
        assert_eq!(compare(&Bson::Decimal128(dec), &Bson::Double(2.5)), Ordering::Equal);
    }

    #[test]
    fn type_order_follows_the_manual() {
        // Manual "Comparison/Sort Order": MinKey < Null < Numbers < Symbol/String < Object <
        // Array < BinData < ObjectId < Boolean < Date < Timestamp < Regex < MaxKey.
        let ordered = [
            Bson::MinKey,
            Bson::Null,
            Bson::Int32(5),
            Bson::String("a".into()),
            Bson::Document(doc! {}),
            Bson::Array(vec![]),
            Bson::Binary(bson::Binary { subtype: bson::spec::BinarySubtype::Generic, bytes: vec![] }),
            Bson::ObjectId(ObjectId::new()),
            Bson::Boolean(false),
            Bson::DateTime(bson::DateTime::from_millis(0)),
            Bson::Timestamp(bson::Timestamp { time: 0, increment: 0 }),
            Bson::MaxKey,
        ];
        for w in ordered.windows(2) {
            assert_eq!(compare(&w[0], &w[1]), Ordering::Less, "{:?} < {:?}", w[0], w[1]);
        }
    }

    #[test]
    fn documents_compare_by_field_then_value() {
        assert_eq!(compare_docs(&doc! {"a": 1}, &doc! {"b": 0}), Ordering::Less);
        assert_eq!(compare_docs(&doc! {"a": 1}, &doc! {"a": 1, "b": 0}), Ordering::Less);
        assert_eq!(compare_docs(&doc! {"a": 2}, &doc! {"a": 1.0}), Ordering::Greater);
    }

    #[test]
    fn display_matches_mongod_messages() {
        assert_eq!(display_doc(&doc! {"_id": 1}), "{ _id: 1 }");
        assert_eq!(display_doc(&doc! {"_id": "x", "a": [1, 2]}), "{ _id: \"x\", a: [ 1, 2 ] }");
    }
}
