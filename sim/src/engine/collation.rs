//! Collation (MongoDB manual "Collation"): the `collation` document of a read, a
//! `findAndModify`, or an update/delete statement, and the string comparison it asks for.
//! A command's collation applies to its query predicates, sort and `distinct` while the
//! command runs ([`with_collation`]); indexes (the `_id` index included) keep the simple
//! binary order, as a server's do when the query's collation is not theirs.
//!
//! The comparison approximates ICU for the strengths drivers test with: strength 1 and 2
//! ignore case (strength 1 should also ignore diacritics, which this does not), strength 3
//! and above order case-insensitively first and put lowercase before uppercase on ties.

use std::cell::Cell;
use std::cmp::Ordering;

use bson::{Bson, Document};

use super::CommandError;
pub use super::compare::Collation;
use super::compare::compare_with;

thread_local! {
    static ACTIVE: Cell<Option<Collation>> = const { Cell::new(None) };
}

impl Collation {
    /// Parses a command's (or statement's) `collation` field: `None` when absent or with
    /// locale `simple`; an error for a malformed document, as mongod reports it.
    pub fn parse(field: Option<&Bson>) -> Result<Option<Self>, CommandError> {
        let doc: &Document = match field {
            None => return Ok(None),
            Some(Bson::Document(d)) => d,
            Some(other) => {
                return Err(CommandError::new(
                    14,
                    "TypeMismatch",
                    format!("collation must be an object, not {}", super::compare::type_name(other)),
                ));
            }
        };
        let locale = match doc.get("locale") {
            Some(Bson::String(l)) => l.as_str(),
            Some(other) => {
                return Err(CommandError::new(
                    14,
                    "TypeMismatch",
                    format!(
                        "BSON field 'locale' is the wrong type '{}', expected type 'string'",
                        super::compare::type_name(other)
                    ),
                ));
            }
            None => {
                return Err(CommandError::new(
                    40414,
                    "Location40414",
                    "BSON field 'locale' is missing but a required field",
                ));
            }
        };
        if locale == "simple" {
            return Ok(None);
        }
        let strength = match doc.get("strength").map(|v| super::compare::num(v).map(|n| n.as_f64())) {
            None => 3,
            Some(Some(s)) if (1.0..=5.0).contains(&s) && s.fract() == 0.0 => s as u8,
            Some(_) => {
                return Err(CommandError::new(
                    2,
                    "BadValue",
                    "Field 'strength' must be an integer 1 through 5",
                ));
            }
        };
        Ok(Some(Self { strength }))
    }
}

/// Runs `f` with `collation` in effect for [`compare_collated`] (the previous one is back
/// afterwards, also if `f` panics).
pub fn with_collation<R>(collation: Option<Collation>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Collation>);
    impl Drop for Restore {
        fn drop(&mut self) {
            ACTIVE.with(|a| a.set(self.0));
        }
    }
    let _restore = Restore(ACTIVE.with(|a| a.replace(collation)));
    f()
}

/// mongod's order of two values under the collation in effect (see [`with_collation`]).
pub fn compare_collated(a: &Bson, b: &Bson) -> Ordering {
    compare_with(a, b, ACTIVE.with(Cell::get))
}

/// Equality under the collation in effect.
pub fn equal_collated(a: &Bson, b: &Bson) -> bool {
    compare_collated(a, b) == Ordering::Equal
}

#[cfg(test)]
mod tests {
    use bson::doc;

    use super::*;

    #[test]
    fn strengths_and_scope() {
        let c = |d: Document| Collation::parse(Some(&Bson::Document(d))).unwrap();
        let two = c(doc! {"locale": "en_US", "strength": 2});
        assert_eq!(two.unwrap().compare_strings("PING", "ping"), Ordering::Equal);
        let three = c(doc! {"locale": "en_US"}).unwrap();
        assert_eq!(three.compare_strings("ping", "PING"), Ordering::Less);
        assert_eq!(three.compare_strings("B", "a"), Ordering::Greater);
        assert_eq!(c(doc! {"locale": "simple"}), None);
        assert!(Collation::parse(Some(&Bson::Document(doc! {"strength": 2}))).is_err());
        assert!(Collation::parse(Some(&Bson::Document(doc! {"locale": "en", "strength": 9}))).is_err());
        let (a, b) = (Bson::from("PING"), Bson::from("ping"));
        assert!(!equal_collated(&a, &b));
        assert!(with_collation(two, || equal_collated(&a, &b)));
        assert!(!equal_collated(&a, &b), "the collation ends with its scope");
    }

    #[test]
    fn commands_apply_their_collation() {
        use crate::engine::{ExecContext, Store};
        let mut store = Store::new();
        let ctx = ExecContext::default();
        let run = |store: &mut Store, cmd: Document| store.run("db", &cmd, &ctx).unwrap();
        run(
            &mut store,
            doc! {"insert": "c", "documents": [{"_id": 1, "x": "ping"}, {"_id": 2, "x": "PING"}]},
        );
        let en2 = doc! {"locale": "en_US", "strength": 2};
        let n = |r: Document| r.get_i32("n").unwrap();
        assert_eq!(n(run(&mut store, doc! {"count": "c", "query": {"x": "Ping"}})), 0);
        assert_eq!(
            n(run(&mut store, doc! {"count": "c", "query": {"x": "Ping"}, "collation": en2.clone()})),
            2
        );
        let distinct = run(&mut store, doc! {"distinct": "c", "key": "x", "collation": en2.clone()});
        assert_eq!(distinct.get_array("values").unwrap().len(), 1);
        let deleted = run(
            &mut store,
            doc! {"delete": "c", "deletes": [{"q": {"x": "pInG"}, "limit": 0, "collation": en2}]},
        );
        assert_eq!(n(deleted), 2);
        let bad = store.run("db", &doc! {"find": "c", "collation": {"strength": 2}}, &ctx).unwrap_err();
        assert_eq!(bad.code, 40414);
    }
}
