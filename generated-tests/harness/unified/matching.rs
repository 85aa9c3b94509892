//! The matching rules of `unified-test-format.rst`, section "Evaluating Matches": extra
//! keys only in root documents, flexible numerics, equal-length arrays, and the special
//! operators `$$exists`, `$$type`, `$$unsetOrMatches`, `$$matchesEntity`,
//! `$$matchesHexBytes`, `$$sessionLsid`, `$$lte`, and (schema 1.13) `$$matchAsDocument` and
//! `$$matchAsRoot`.

use std::fmt;

use bson::{Bson, Document};

/// The entities a match may refer to (the runner's entity map).
pub trait Entities {
    /// The BSON value saved as entity `id` (`$$matchesEntity`), if there is one.
    fn bson(&self, id: &str) -> Option<Bson>;
    /// The logical session id of session entity `id` (`$$sessionLsid`), if there is one.
    fn session_lsid(&self, id: &str) -> Option<Document>;
}

/// An empty entity map: every entity reference fails.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoEntities;

impl Entities for NoEntities {
    fn bson(&self, _: &str) -> Option<Bson> {
        None
    }
    fn session_lsid(&self, _: &str) -> Option<Document> {
        None
    }
}

/// Where and why an actual value does not match the expected one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// Dotted path from the matched value (`""` for the value itself), e.g. `cursor.firstBatch.0.x`.
    pub path: String,
    /// What differs.
    pub message: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() { "(root)" } else { &self.path };
        write!(f, "at `{path}`: {}", self.message)
    }
}

impl std::error::Error for Mismatch {}

/// Matches a root-level value (e.g. a command, a reply, an operation's `expectResult`):
/// the actual document may have keys the expected one does not; nested ones may not.
pub fn match_root(expected: &Bson, actual: &Bson, entities: &dyn Entities) -> Result<(), Mismatch> {
    Matcher { entities }.matches(expected, Some(actual), true, "")
}

/// Matches a value that is not a root document (e.g. the result of `distinct`): no
/// document at any depth may have extra keys.
pub fn match_nested(expected: &Bson, actual: &Bson, entities: &dyn Entities) -> Result<(), Mismatch> {
    Matcher { entities }.matches(expected, Some(actual), false, "")
}

/// Matches an array of root-level documents (e.g. the documents of `find` or
/// `aggregate`): equal lengths, each element matched as a root document.
pub fn match_root_array(expected: &[Bson], actual: &[Bson], entities: &dyn Entities) -> Result<(), Mismatch> {
    if expected.len() != actual.len() {
        return Err(mismatch("", format!("expected {} elements, found {}", expected.len(), actual.len())));
    }
    let m = Matcher { entities };
    for (i, (e, a)) in expected.iter().zip(actual).enumerate() {
        m.matches(e, Some(a), true, &i.to_string())?;
    }
    Ok(())
}

/// Reads an expected value from a spec file (relaxed or canonical Extended JSON, e.g.
/// `{"$numberLong": "1"}`) as BSON, ready to be matched.
pub fn from_extended_json(value: serde_json::Value) -> Result<Bson, String> {
    serde_json::from_value(value).map_err(|e| format!("not valid Extended JSON: {e}"))
}

fn mismatch(path: &str, message: impl Into<String>) -> Mismatch {
    Mismatch { path: path.to_string(), message: message.into() }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

/// The special operator of `value`, if it is a document whose first and only key
/// starts with `$$`.
fn operator(value: &Bson) -> Option<(&str, &Bson)> {
    let Bson::Document(doc) = value else { return None };
    if doc.len() != 1 {
        return None;
    }
    let (key, arg) = doc.iter().next()?;
    key.starts_with("$$").then_some((key.as_str(), arg))
}

/// The value of a numeric type other than Decimal128 (flexible numeric comparisons).
fn number(value: &Bson) -> Option<f64> {
    match value {
        Bson::Int32(v) => Some(f64::from(*v)),
        // Precision loss above 2^53 only matters beyond any value in the spec tests;
        // two int64s are compared exactly in `equal`.
        Bson::Int64(v) => Some(*v as f64),
        Bson::Double(v) => Some(*v),
        _ => None,
    }
}

fn int(value: &Bson) -> Option<i64> {
    match value {
        Bson::Int32(v) => Some(i64::from(*v)),
        Bson::Int64(v) => Some(*v),
        _ => None,
    }
}

/// The `$type` alias of a value's BSON type.
pub fn type_alias(value: &Bson) -> &'static str {
    match value {
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

const TYPE_ALIASES: &[&str] = &[
    "double",
    "string",
    "object",
    "array",
    "binData",
    "undefined",
    "objectId",
    "bool",
    "date",
    "null",
    "regex",
    "dbPointer",
    "javascript",
    "symbol",
    "javascriptWithScope",
    "int",
    "timestamp",
    "long",
    "decimal",
    "minKey",
    "maxKey",
    "number",
];

fn has_type(value: &Bson, alias: &str) -> bool {
    let actual = type_alias(value);
    actual == alias || (alias == "number" && matches!(actual, "int" | "long" | "double" | "decimal"))
}

/// Decodes hexadecimal text (even length, either case); `None` when malformed.
pub fn hex_bytes(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| text.get(i..i + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok()))
        .collect()
}

struct Matcher<'a> {
    entities: &'a dyn Entities,
}

impl Matcher<'_> {
    /// Matches `expected` against `actual` (`None`: the key is absent).
    fn matches(
        &self,
        expected: &Bson,
        actual: Option<&Bson>,
        root: bool,
        path: &str,
    ) -> Result<(), Mismatch> {
        if let Some((op, arg)) = operator(expected) {
            return self.special(op, arg, actual, root, path);
        }
        let Some(actual) = actual else {
            return Err(mismatch(path, format!("expected {expected}, but the key is absent")));
        };
        match expected {
            Bson::Document(exp) => {
                let Bson::Document(act) = actual else {
                    return Err(mismatch(
                        path,
                        format!("expected a document, found {} {actual}", type_alias(actual)),
                    ));
                };
                for (key, value) in exp {
                    self.matches(value, act.get(key), false, &join(path, key))?;
                }
                if !root {
                    if let Some(extra) = act.keys().find(|k| !exp.contains_key(k.as_str())) {
                        return Err(mismatch(
                            &join(path, extra),
                            "unexpected key (extra keys are allowed only in root-level documents)",
                        ));
                    }
                }
                Ok(())
            }
            Bson::Array(exp) => {
                let Bson::Array(act) = actual else {
                    return Err(mismatch(
                        path,
                        format!("expected an array, found {} {actual}", type_alias(actual)),
                    ));
                };
                if exp.len() != act.len() {
                    return Err(mismatch(
                        path,
                        format!("expected {} elements, found {}", exp.len(), act.len()),
                    ));
                }
                for (i, (e, a)) in exp.iter().zip(act).enumerate() {
                    self.matches(e, Some(a), false, &join(path, &i.to_string()))?;
                }
                Ok(())
            }
            _ => equal(expected, actual, path),
        }
    }

    fn special(
        &self,
        op: &str,
        arg: &Bson,
        actual: Option<&Bson>,
        root: bool,
        path: &str,
    ) -> Result<(), Mismatch> {
        match op {
            "$$exists" => {
                let Bson::Boolean(want) = arg else {
                    return Err(mismatch(path, format!("$$exists takes a boolean, not {arg}")));
                };
                match (want, actual) {
                    (true, None) => Err(mismatch(path, "expected the key to exist ($$exists: true)")),
                    (false, Some(v)) => {
                        Err(mismatch(path, format!("expected no such key ($$exists: false), found {v}")))
                    }
                    _ => Ok(()),
                }
            }
            "$$type" => {
                let aliases: Vec<&str> = match arg {
                    Bson::String(s) => vec![s.as_str()],
                    Bson::Array(items) => items.iter().filter_map(Bson::as_str).collect(),
                    _ => Vec::new(),
                };
                let well_formed = match arg {
                    Bson::String(_) => true,
                    Bson::Array(items) => !items.is_empty() && aliases.len() == items.len(),
                    _ => false,
                };
                if !well_formed {
                    return Err(mismatch(
                        path,
                        format!("$$type takes a type alias or an array of them, not {arg}"),
                    ));
                }
                if let Some(unknown) = aliases.iter().find(|a| !TYPE_ALIASES.contains(a)) {
                    return Err(mismatch(path, format!("$$type: unknown type alias `{unknown}`")));
                }
                let Some(actual) = actual else {
                    return Err(mismatch(
                        path,
                        format!("expected a value of type {aliases:?}, but the key is absent"),
                    ));
                };
                if aliases.iter().any(|a| has_type(actual, a)) {
                    Ok(())
                } else {
                    Err(mismatch(
                        path,
                        format!("expected type {aliases:?}, found {} {actual}", type_alias(actual)),
                    ))
                }
            }
            "$$unsetOrMatches" => match actual {
                None => Ok(()),
                Some(_) => self.matches(arg, actual, root, path),
            },
            "$$matchesEntity" => {
                let Bson::String(id) = arg else {
                    return Err(mismatch(path, format!("$$matchesEntity takes an entity name, not {arg}")));
                };
                let Some(entity) = self.entities.bson(id) else {
                    return Err(mismatch(path, format!("$$matchesEntity: no BSON entity `{id}` is defined")));
                };
                self.matches(&entity, actual, root, path)
            }
            "$$matchesHexBytes" => {
                let Some(want) = arg.as_str().and_then(hex_bytes) else {
                    return Err(mismatch(path, format!("$$matchesHexBytes: malformed hex string {arg}")));
                };
                let got: Option<&[u8]> = match actual {
                    Some(Bson::String(s)) => Some(s.as_bytes()),
                    Some(Bson::Binary(b)) => Some(&b.bytes),
                    _ => None,
                };
                match got {
                    Some(bytes) if bytes == want.as_slice() => Ok(()),
                    Some(bytes) => {
                        Err(mismatch(path, format!("expected bytes {want:02x?}, found {bytes:02x?}")))
                    }
                    None => Err(mismatch(path, format!("expected bytes, found {actual:?}"))),
                }
            }
            "$$sessionLsid" => {
                let Bson::String(id) = arg else {
                    return Err(mismatch(
                        path,
                        format!("$$sessionLsid takes a session entity name, not {arg}"),
                    ));
                };
                let Some(lsid) = self.entities.session_lsid(id) else {
                    return Err(mismatch(
                        path,
                        format!("$$sessionLsid: no session entity `{id}` is defined"),
                    ));
                };
                self.matches(&Bson::Document(lsid), actual, false, path)
                    .map_err(|m| mismatch(&m.path, format!("not the lsid of session `{id}`: {}", m.message)))
            }
            "$$lte" => {
                let Some(limit) = number(arg) else {
                    return Err(mismatch(path, format!("$$lte takes a number, not {arg}")));
                };
                match actual.and_then(number) {
                    Some(v) if v <= limit => Ok(()),
                    Some(v) => Err(mismatch(path, format!("expected a number <= {limit}, found {v}"))),
                    None => Err(mismatch(path, format!("expected a number <= {limit}, found {actual:?}"))),
                }
            }
            "$$matchAsDocument" => {
                // The actual value is a string of relaxed Extended JSON; decoded, it matches
                // the argument as a root document.
                let Bson::Document(_) = arg else {
                    return Err(mismatch(path, format!("$$matchAsDocument takes a document, not {arg}")));
                };
                let Some(Bson::String(text)) = actual else {
                    return Err(mismatch(
                        path,
                        format!("$$matchAsDocument expects a string, found {actual:?}"),
                    ));
                };
                let json: serde_json::Value = serde_json::from_str(text)
                    .map_err(|e| mismatch(path, format!("$$matchAsDocument: not JSON ({e}): {text}")))?;
                let decoded = from_extended_json(json)
                    .map_err(|e| mismatch(path, format!("$$matchAsDocument: {e}: {text}")))?;
                if !matches!(decoded, Bson::Document(_)) {
                    return Err(mismatch(path, format!("$$matchAsDocument: {text} is not a document")));
                }
                self.matches(arg, Some(&decoded), true, path)
            }
            "$$matchAsRoot" => {
                let Bson::Document(_) = arg else {
                    return Err(mismatch(path, format!("$$matchAsRoot takes a document, not {arg}")));
                };
                match actual {
                    Some(doc @ Bson::Document(_)) => self.matches(arg, Some(doc), true, path),
                    other => {
                        Err(mismatch(path, format!("$$matchAsRoot expects a document, found {other:?}")))
                    }
                }
            }
            other => Err(mismatch(path, format!("unknown special operator `{other}`"))),
        }
    }
}

/// Scalars: same type (int32, int64 and double count as one numeric type) and equal value.
fn equal(expected: &Bson, actual: &Bson, path: &str) -> Result<(), Mismatch> {
    let same = match (int(expected), int(actual)) {
        (Some(e), Some(a)) => e == a,
        _ => match (number(expected), number(actual)) {
            (Some(e), Some(a)) => e == a,
            _ => expected == actual,
        },
    };
    if same { Ok(()) } else { Err(mismatch(path, format!("expected {expected}, found {actual}"))) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{Binary, bson, doc, spec::BinarySubtype};

    struct Map;

    impl Entities for Map {
        fn bson(&self, id: &str) -> Option<Bson> {
            (id == "oid0").then(|| bson!({ "$oid": "000000000000000000000001" }))
        }
        fn session_lsid(&self, id: &str) -> Option<Document> {
            (id == "session0")
                .then(|| doc! { "id": Binary { subtype: BinarySubtype::Uuid, bytes: vec![1; 16] } })
        }
    }

    fn root(e: Bson, a: Bson) -> Result<(), Mismatch> {
        match_root(&e, &a, &Map)
    }

    #[test]
    fn root_documents_allow_extra_keys_nested_ones_do_not() {
        assert_eq!(root(bson!({"x": 1}), bson!({"x": 1, "y": 1})), Ok(()));
        let e = root(bson!({"x": 1, "y": 1}), bson!({"x": 1})).unwrap_err();
        assert_eq!(e.path, "y");
        let e = root(bson!({"x": {"y": 1}}), bson!({"x": {"y": 1, "z": 1}})).unwrap_err();
        assert_eq!(e.path, "x.z");
        assert!(match_nested(&bson!({"x": 1}), &bson!({"x": 1, "y": 1}), &Map).is_err());
    }

    #[test]
    fn extended_json_expectations() {
        let expected =
            from_extended_json(serde_json::json!({"n": {"$numberLong": "5"}, "d": {"$numberDouble": "1.0"}}))
                .unwrap();
        assert_eq!(root(expected.clone(), bson!({"n": 5_i32, "d": 1_i64, "extra": true})), Ok(()));
        assert!(root(expected, bson!({"n": 6_i64, "d": 1.0})).is_err());
        assert!(from_extended_json(serde_json::json!({"$numberLong": "x"})).is_err());
    }

    #[test]
    fn key_order_does_not_matter() {
        assert_eq!(match_nested(&bson!({"x": 1, "y": 1}), &bson!({"y": 1, "x": 1}), &Map), Ok(()));
    }

    #[test]
    fn numbers_compare_by_value() {
        assert_eq!(root(bson!({"ok": 1}), bson!({"ok": 1.0})), Ok(()));
        assert_eq!(root(bson!({"n": 5_i64}), bson!({"n": 5_i32})), Ok(()));
        assert!(root(bson!({"n": 1}), bson!({"n": 1.5})).is_err());
        assert!(root(bson!({"n": 1}), bson!({"n": "1"})).is_err());
        assert!(root(bson!({"s": "a"}), bson!({"s": "b"})).is_err());
    }

    #[test]
    fn arrays_match_element_wise_with_equal_length() {
        assert_eq!(match_nested(&bson!([1, 2, 3]), &bson!([1, 2, 3]), &Map), Ok(()));
        let e = match_nested(&bson!([1, 2, 3]), &bson!([1, 2, 3, 4]), &Map).unwrap_err();
        assert!(e.message.contains("3 elements, found 4"), "{e}");
        let e = match_nested(&bson!([1, 2]), &bson!([1, 3]), &Map).unwrap_err();
        assert_eq!(e.path, "1");
        // Documents inside an array are not root documents…
        assert!(root(bson!({"a": [{"x": 1}]}), bson!({"a": [{"x": 1, "y": 1}]})).is_err());
        // …unless the array is a result of root documents (find, aggregate).
        let exp = [bson!({"x": 1}), bson!({"x": 2})];
        let act = [bson!({"x": 1, "y": 1}), bson!({"x": 2, "y": 2})];
        assert_eq!(match_root_array(&exp, &act, &Map), Ok(()));
        assert!(match_nested(&Bson::Array(exp.to_vec()), &Bson::Array(act.to_vec()), &Map).is_err());
    }

    #[test]
    fn exists() {
        assert_eq!(root(bson!({"getMore": {"$$exists": true}}), bson!({"getMore": null})), Ok(()));
        assert!(root(bson!({"getMore": {"$$exists": true}}), bson!({})).is_err());
        assert_eq!(root(bson!({"writeConcern": {"$$exists": false}}), bson!({"x": 1})), Ok(()));
        let e = root(bson!({"writeConcern": {"$$exists": false}}), bson!({"writeConcern": {"w": 1}}))
            .unwrap_err();
        assert_eq!(e.path, "writeConcern");
    }

    #[test]
    fn type_operator() {
        assert_eq!(root(bson!({"n": {"$$type": ["int", "long"]}}), bson!({"n": 5_i64})), Ok(()));
        assert_eq!(root(bson!({"c": {"$$type": "string"}}), bson!({"c": "coll"})), Ok(()));
        assert!(root(bson!({"c": {"$$type": "string"}}), bson!({"c": 1})).is_err());
        assert!(root(bson!({"c": {"$$type": "string"}}), bson!({})).is_err());
        // An array is checked as an array, not by its elements.
        assert_eq!(root(bson!({"a": {"$$type": "array"}}), bson!({"a": [1]})), Ok(()));
        assert!(root(bson!({"a": {"$$type": "int"}}), bson!({"a": [1]})).is_err());
        assert!(root(bson!({"a": {"$$type": "nonsense"}}), bson!({"a": 1})).is_err());
        assert_eq!(match_root(&bson!({"$$type": "object"}), &bson!({"x": 1}), &Map), Ok(()));
    }

    #[test]
    fn unset_or_matches() {
        assert_eq!(root(bson!({"insertedId": {"$$unsetOrMatches": 2}}), bson!({})), Ok(()));
        assert_eq!(root(bson!({"insertedId": {"$$unsetOrMatches": 2}}), bson!({"insertedId": 2})), Ok(()));
        let e = root(bson!({"insertedId": {"$$unsetOrMatches": 2}}), bson!({"insertedId": 3})).unwrap_err();
        assert_eq!(e.path, "insertedId");
        let exp = bson!({"$$unsetOrMatches": {"deletedCount": 0, "n": {"$$type": "int"}}});
        assert_eq!(match_root(&exp, &bson!({"deletedCount": 0, "n": 1, "extra": 1}), &Map), Ok(()));
    }

    #[test]
    fn matches_entity() {
        let oid = bson!({ "$oid": "000000000000000000000001" });
        assert_eq!(root(bson!({"_id": {"$$matchesEntity": "oid0"}}), bson!({"_id": oid})), Ok(()));
        let other = bson!({ "$oid": "000000000000000000000002" });
        assert!(root(bson!({"_id": {"$$matchesEntity": "oid0"}}), bson!({"_id": other.clone()})).is_err());
        let e = root(bson!({"_id": {"$$matchesEntity": "missing"}}), bson!({"_id": other})).unwrap_err();
        assert!(e.message.contains("no BSON entity `missing`"), "{e}");
    }

    #[test]
    fn matches_hex_bytes() {
        // A string is compared by its UTF-8 bytes: "\u{ab}" is two bytes, not 0xAB.
        assert!(match_nested(&bson!({"$$matchesHexBytes": "12ab"}), &bson!("\u{12}\u{ab}"), &Map).is_err());
        let bin = Bson::Binary(Binary { subtype: BinarySubtype::Generic, bytes: vec![0x12, 0xAB] });
        assert_eq!(match_nested(&bson!({"$$matchesHexBytes": "12AB"}), &bin, &Map), Ok(()));
        assert_eq!(match_nested(&bson!({"$$matchesHexBytes": "4142"}), &bson!("AB"), &Map), Ok(()));
        assert_eq!(match_nested(&bson!({"$$matchesHexBytes": ""}), &bson!(""), &Map), Ok(()));
        assert!(match_nested(&bson!({"$$matchesHexBytes": "4142"}), &bson!("AC"), &Map).is_err());
        let e = match_nested(&bson!({"$$matchesHexBytes": "ABC"}), &bson!("A"), &Map).unwrap_err();
        assert!(e.message.contains("malformed"), "{e}");
        assert!(match_nested(&bson!({"$$matchesHexBytes": "zz"}), &bson!("A"), &Map).is_err());
    }

    #[test]
    fn session_lsid() {
        let lsid = doc! { "id": Binary { subtype: BinarySubtype::Uuid, bytes: vec![1; 16] } };
        let other = doc! { "id": Binary { subtype: BinarySubtype::Uuid, bytes: vec![2; 16] } };
        let expected = bson!({"ping": 1, "lsid": {"$$sessionLsid": "session0"}});
        assert_eq!(root(expected.clone(), bson!({"ping": 1, "lsid": lsid.clone()})), Ok(()));
        let e = root(expected.clone(), bson!({"ping": 1, "lsid": other})).unwrap_err();
        assert!(e.message.contains("not the lsid of session `session0`"), "{e}");
        let mut extra = lsid;
        extra.insert("txnNumber", 1);
        assert!(root(expected, bson!({"ping": 1, "lsid": extra})).is_err());
        assert!(root(bson!({"lsid": {"$$sessionLsid": "session9"}}), bson!({"lsid": {}})).is_err());
    }

    #[test]
    fn lte() {
        assert_eq!(root(bson!({"n": {"$$lte": 1}}), bson!({"n": 1.0})), Ok(()));
        assert_eq!(root(bson!({"n": {"$$lte": 1}}), bson!({"n": 0.0})), Ok(()));
        assert_eq!(root(bson!({"n": {"$$lte": 5}}), bson!({"n": 3_i64})), Ok(()));
        assert!(root(bson!({"n": {"$$lte": 1}}), bson!({"n": 1.1})).is_err());
        assert!(root(bson!({"n": {"$$lte": 1}}), bson!({"n": "0"})).is_err());
        assert!(root(bson!({"n": {"$$lte": 1}}), bson!({})).is_err());
    }

    #[test]
    fn unknown_operator_and_missing_keys_are_reported_with_their_path() {
        let e = root(bson!({"a": {"b": {"$$nope": 1}}}), bson!({"a": {"b": 1}})).unwrap_err();
        assert_eq!(e.path, "a.b");
        assert!(e.message.contains("unknown special operator"), "{e}");
        let e = root(bson!({"a": {"b": 1}}), bson!({"a": {}})).unwrap_err();
        assert_eq!(e.path, "a.b");
        assert_eq!(e.to_string(), "at `a.b`: expected 1, but the key is absent");
    }
}
