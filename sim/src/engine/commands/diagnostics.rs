//! The `explain` command (manual "explain": `{explain: <command>, verbosity}`) and the
//! `validate` command (manual "validate"), as far as drivers and their tests use them: the
//! shape of the replies, the refusals, and the counts a plain collection scan gives.

use bson::{Bson, Document, doc};

use super::args::Reply;
use crate::engine::{CommandError, ExecContext, Store};

/// The commands `explain` accepts (mongod: those whose `Command::parse` supports explain).
const EXPLAINABLE: &[&str] =
    &["find", "aggregate", "count", "distinct", "update", "delete", "findAndModify", "findandmodify"];

/// Commands mongod knows but cannot explain (explain answers IllegalOperation for them).
const NOT_EXPLAINABLE: &[&str] = &["insert", "getMore", "killCursors", "create", "drop", "listIndexes"];

/// The verbosities `explain` takes; the default is the most verbose.
const VERBOSITIES: &[&str] = &["queryPlanner", "executionStats", "allPlansExecution"];

impl Store {
    /// `explain`: runs the explained command on a copy of the data (so a read counts its
    /// results and a write changes nothing) and describes it as a collection scan.
    pub(super) fn cmd_explain(&mut self, db: &str, cmd: &Document, ctx: &ExecContext) -> Reply {
        let inner = match cmd.get("explain") {
            Some(Bson::Document(d)) if !d.is_empty() => d.clone(),
            Some(Bson::Document(_)) => {
                return Err(CommandError::new(2, "BadValue", "explain command requires a nested object"));
            }
            _ => {
                return Err(CommandError::new(
                    14,
                    "TypeMismatch",
                    "BSON field 'explain.explain' is the wrong type, expected type 'object'",
                ));
            }
        };
        let verbosity = match cmd.get("verbosity") {
            None => "allPlansExecution",
            Some(Bson::String(v)) if VERBOSITIES.contains(&v.as_str()) => v.as_str(),
            Some(Bson::String(v)) => {
                return Err(CommandError::new(
                    2,
                    "BadValue",
                    format!("Enumeration value '{v}' for field 'explain.verbosity' is not a valid value."),
                ));
            }
            Some(_) => {
                return Err(CommandError::new(
                    14,
                    "TypeMismatch",
                    "BSON field 'explain.verbosity' is the wrong type, expected type 'string'",
                ));
            }
        };
        let name = inner.keys().next().cloned().unwrap_or_default();
        if NOT_EXPLAINABLE.contains(&name.as_str()) {
            return Err(CommandError::new(20, "IllegalOperation", format!("Cannot explain cmd: {name}")));
        }
        if !EXPLAINABLE.contains(&name.as_str()) {
            return Err(CommandError::new(
                59,
                "CommandNotFound",
                format!("Explain failed due to unknown command: {name}"),
            ));
        }
        let coll = match inner.get(&name) {
            Some(Bson::String(c)) => c.clone(),
            _ => "$cmd.aggregate".to_owned(),
        };
        let ns = format!("{db}.{coll}");
        let scanned = self.collection(db, &coll).map_or(0, |c| c.len());

        // The explained command runs on a scratch copy; its errors are explain's errors.
        let mut scratch = self.clone();
        let reply = scratch.run(db, &inner, ctx)?;
        let returned = returned_count(&name, &reply, &scratch);

        let filter = ["filter", "query"]
            .iter()
            .find_map(|f| inner.get_document(f).ok().cloned())
            .or_else(|| first_statement_filter(&inner))
            .unwrap_or_default();
        let scan = doc! {"stage": "COLLSCAN", "filter": filter.clone(), "direction": "forward"};
        let winning = match name.as_str() {
            "update" | "findAndModify" | "findandmodify" if !inner.get_bool("remove").unwrap_or(false) => {
                doc! {"stage": "UPDATE", "inputStage": scan}
            }
            "delete" | "findAndModify" | "findandmodify" => doc! {"stage": "DELETE", "inputStage": scan},
            "count" => doc! {"stage": "COUNT", "inputStage": scan},
            _ => scan,
        };
        let mut command = inner.clone();
        command.insert("$db", db);
        let mut out = doc! {
            "explainVersion": "1",
            "queryPlanner": {
                "namespace": ns,
                "indexFilterSet": false,
                "parsedQuery": filter,
                "winningPlan": winning.clone(),
                "rejectedPlans": [],
            },
        };
        if verbosity != "queryPlanner" {
            let mut stats = doc! {
                "executionSuccess": true,
                "nReturned": returned,
                "executionTimeMillis": 0_i32,
                "totalKeysExamined": 0_i32,
                "totalDocsExamined": scanned as i64,
                "executionStages": winning,
            };
            if verbosity == "allPlansExecution" {
                stats.insert("allPlansExecution", Vec::<Bson>::new());
            }
            out.insert("executionStats", stats);
        }
        out.insert("command", command);
        Ok(out)
    }

    /// `validate`: every collection here is valid; a missing one is NamespaceNotFound and a
    /// view cannot be validated (src/mongo/db/commands/validate.cpp).
    pub(super) fn cmd_validate(&mut self, db: &str, cmd: &Document) -> Reply {
        let coll = match cmd.get("validate") {
            Some(Bson::String(c)) if !c.is_empty() => c.clone(),
            _ => return Err(CommandError::new(73, "InvalidNamespace", "Invalid namespace specified")),
        };
        let ns = format!("{db}.{coll}");
        let Some(c) = self.collection(db, &coll) else {
            return Err(CommandError::new(
                26,
                "NamespaceNotFound",
                format!("Collection '{ns}' does not exist to validate."),
            ));
        };
        if c.options.contains_key("viewOn") {
            return Err(CommandError::new(
                166,
                "CommandNotSupportedOnView",
                format!("Cannot validate '{ns}' because it is a view"),
            ));
        }
        let records = c.len() as i64;
        let mut keys = Document::new();
        let mut details = Document::new();
        for index in &c.indexes {
            keys.insert(index.name.clone(), records);
            details.insert(index.name.clone(), doc! {"valid": true});
        }
        Ok(doc! {
            "ns": ns,
            "nInvalidDocuments": 0_i32,
            "nNonCompliantDocuments": 0_i32,
            "nrecords": records,
            "nIndexes": c.indexes.len() as i32,
            "keysPerIndex": keys,
            "indexDetails": details,
            "valid": true,
            "repaired": false,
            "warnings": [],
            "errors": [],
            "extraIndexEntries": [],
            "missingIndexEntries": [],
            "corruptRecords": [],
        })
    }
}

/// How many documents the explained command returned (or would write).
fn returned_count(name: &str, reply: &Document, scratch: &Store) -> i64 {
    match name {
        "find" | "aggregate" => {
            let Ok(cursor) = reply.get_document("cursor") else { return 0 };
            let first = cursor.get_array("firstBatch").map_or(0, |b| b.len());
            let id = cursor.get_i64("id").unwrap_or(0);
            let rest = scratch.cursors.get(&id).map_or(0, |c| c.docs.len());
            (first + rest) as i64
        }
        "count" | "update" | "delete" => match reply.get("n") {
            Some(Bson::Int32(n)) => i64::from(*n),
            Some(Bson::Int64(n)) => *n,
            _ => 0,
        },
        "distinct" => reply.get_array("values").map_or(0, |v| v.len() as i64),
        _ => i64::from(!matches!(reply.get("value"), None | Some(Bson::Null))),
    }
}

/// The filter of an update's or delete's first statement.
fn first_statement_filter(inner: &Document) -> Option<Document> {
    ["updates", "deletes"]
        .iter()
        .find_map(|f| inner.get_array(f).ok())
        .and_then(|a| a.first())
        .and_then(Bson::as_document)
        .and_then(|s| s.get_document("q").ok().cloned())
}
