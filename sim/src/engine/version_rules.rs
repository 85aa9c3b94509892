//! What older server releases refuse that newer ones accept, for the CRUD spec's
//! version-gated cases: a `comment` before 4.4 (`*-comment` tests) and `$`-prefixed field
//! names before 5.0 (`*-dots_and_dollars` tests; manual "Field Names with Periods and
//! Dollar Signs").

use bson::{Bson, Document};

use super::compare::type_name;
use super::{CommandError, ExecContext};

/// `maxWireVersion` of 4.2, the only release whose `findAndModify` refuses unknown fields
/// while not yet knowing `comment`.
const WIRE_4_2: i32 = 8;
/// `maxWireVersion` of 4.4: `comment` became a generic argument of every command.
const WIRE_4_4: i32 = 9;
/// `maxWireVersion` of 5.0: `$`-prefixed field names became storable (and `count` and
/// `distinct` accept a comment of any type, which 4.4.14 also does).
const WIRE_5_0: i32 = 13;

/// Whether the emulated release predates the one announcing `wire` (0 means the newest).
fn older_than(ctx: &ExecContext, wire: i32) -> bool {
    ctx.max_wire_version != 0 && ctx.max_wire_version < wire
}

/// Refuses a `comment` the emulated release does not take:
/// - before 4.4, `insert`/`update`/`delete` know no `comment` field (strict parsers:
///   `Location40415`), nor does 4.2's `findAndModify` (`Location51177`; 3.6 and 4.0 ignore
///   unknown fields there);
/// - before 4.4, `find` and `aggregate` take only a string comment;
/// - before 4.4.14 (here: 4.4 and older), `count` and `distinct` take only a string comment.
pub fn check_comment(name: &str, cmd: &Document, ctx: &ExecContext) -> Result<(), CommandError> {
    let Some(comment) = cmd.get("comment") else { return Ok(()) };
    let is_string = matches!(comment, Bson::String(_));
    match name {
        "insert" | "update" | "delete" if older_than(ctx, WIRE_4_4) => Err(CommandError::new(
            40415,
            "Location40415",
            format!("BSON field '{name}.comment' is an unknown field."),
        )),
        "findAndModify" | "findandmodify" if older_than(ctx, WIRE_4_4) && !older_than(ctx, WIRE_4_2) => {
            Err(CommandError::new(51177, "Location51177", "BSON field 'comment' is an unknown field."))
        }
        "find" if !is_string && older_than(ctx, WIRE_4_4) => Err(CommandError::new(
            9,
            "FailedToParse",
            format!(
                "Failed to parse: 'comment' field must be of BSON type string, not {}.",
                type_name(comment)
            ),
        )),
        "aggregate" if !is_string && older_than(ctx, WIRE_4_4) => Err(CommandError::new(
            14,
            "TypeMismatch",
            format!("comment must be a string, not a {}", type_name(comment)),
        )),
        "count" | "distinct" if !is_string && older_than(ctx, WIRE_5_0) => Err(CommandError::new(
            14,
            "TypeMismatch",
            format!(
                "BSON field '{name}.comment' is the wrong type '{}', expected type 'string'",
                type_name(comment)
            ),
        )),
        _ => Ok(()),
    }
}

/// Refuses, before 5.0, an inserted document with a top-level `$`-prefixed field name
/// (embedded ones were accepted by inserts).
pub fn check_inserted_names(doc: &Document, ctx: &ExecContext) -> Result<(), CommandError> {
    if !older_than(ctx, WIRE_5_0) {
        return Ok(());
    }
    match doc.keys().find(|k| k.starts_with('$')) {
        Some(k) => {
            Err(CommandError::new(2, "BadValue", format!("Document can't have $ prefixed field names: {k}")))
        }
        None => Ok(()),
    }
}

/// Refuses, before 5.0, a replacement document holding a `$`-prefixed field name at any
/// depth (arrays included), except the DBRef fields `$ref`, `$id` and `$db`.
pub fn check_replacement_names(doc: &Document, ctx: &ExecContext) -> Result<(), CommandError> {
    if !older_than(ctx, WIRE_5_0) {
        return Ok(());
    }
    match dollar_path(doc, "") {
        Some((field, path)) => Err(CommandError::new(
            52,
            "DollarPrefixedFieldName",
            format!("The dollar ($) prefixed field '{field}' in '{path}' is not valid for storage."),
        )),
        None => Ok(()),
    }
}

/// The first `$`-prefixed, non-DBRef field name under `doc` and its dotted path.
fn dollar_path(doc: &Document, prefix: &str) -> Option<(String, String)> {
    doc.iter().find_map(|(k, v)| {
        let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        if k.starts_with('$') && !matches!(k.as_str(), "$ref" | "$id" | "$db") {
            return Some((k.clone(), path));
        }
        value_dollar_path(v, &path)
    })
}

fn value_dollar_path(v: &Bson, path: &str) -> Option<(String, String)> {
    match v {
        Bson::Document(d) => dollar_path(d, path),
        Bson::Array(items) => {
            items.iter().enumerate().find_map(|(i, x)| value_dollar_path(x, &format!("{path}.{i}")))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use bson::doc;

    use super::*;

    fn at(wire: i32) -> ExecContext {
        ExecContext { max_wire_version: wire, ..ExecContext::default() }
    }

    #[test]
    fn dbref_fields_and_plain_names_pass() {
        let ok = doc! {"_id": 1, "a": {"$ref": "c", "$id": 1, "$db": "d"}, "b": [{"c.d": 1}]};
        assert_eq!(check_replacement_names(&ok, &at(9)), Ok(()));
        let bad = doc! {"_id": 1, "a": [{"x": 1}, {"$b": 1}]};
        let e = check_replacement_names(&bad, &at(9)).err().map(|e| (e.code, e.message));
        assert_eq!(
            e,
            Some((52, "The dollar ($) prefixed field '$b' in 'a.1.$b' is not valid for storage.".into()))
        );
        assert_eq!(check_replacement_names(&bad, &at(13)), Ok(()));
        assert_eq!(check_replacement_names(&bad, &at(0)), Ok(()));
    }

    #[test]
    fn comment_rules_per_release() {
        let doc_comment = Bson::Document(doc! {"k": 1});
        let code = |name: &str, comment: &Bson, wire: i32| {
            let mut cmd = doc! {name: "c"};
            cmd.insert("comment", comment.clone());
            check_comment(name, &cmd, &at(wire)).err().map(|e| e.code)
        };
        let s = Bson::String("s".into());
        assert_eq!(code("findAndModify", &s, 7), None);
        assert_eq!(code("findAndModify", &s, 8), Some(51177));
        assert_eq!(code("findAndModify", &s, 9), None);
        assert_eq!(code("find", &s, 6), None);
        assert_eq!(code("find", &doc_comment, 8), Some(9));
        assert_eq!(code("count", &doc_comment, 9), Some(14));
        assert_eq!(code("count", &doc_comment, 13), None);
        assert_eq!(code("ping", &doc_comment, 6), None);
    }
}
