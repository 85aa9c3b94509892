//! What every command reading a collection shares: the documents a read sees (views run
//! their pipeline), the record ids a filter selects, `hint` checks and the view refusal.

use std::collections::BTreeMap;

use bson::{Bson, Document};

use crate::engine::aggregate::Pipeline;
use crate::engine::collection::RecordId;
use crate::engine::compare::type_name;
use crate::engine::matcher::Filter;
use crate::engine::sort::SortSpec;
use crate::engine::{CommandError, ExecContext, Store};

impl Store {
    /// The documents a read sees (latest, or as of `ctx.read_at`); views run their pipeline.
    pub(super) fn read_docs(
        &self,
        db: &str,
        coll: &str,
        ctx: &ExecContext,
    ) -> Result<Vec<Document>, CommandError> {
        self.read_docs_depth(db, coll, ctx, 0)
    }

    /// The documents a read sees that match `filter`, cloning only the matches.
    pub(super) fn read_matching(
        &self,
        db: &str,
        coll: &str,
        ctx: &ExecContext,
        filter: &Filter,
    ) -> Result<Vec<Document>, CommandError> {
        match self.collection(db, coll) {
            Some(c) if !c.options.contains_key("viewOn") => {
                Ok(c.visible(ctx.read_at).filter(|d| filter.matches(d)).cloned().collect())
            }
            _ => {
                let mut all = self.read_docs(db, coll, ctx)?;
                all.retain(|d| filter.matches(d));
                Ok(all)
            }
        }
    }

    pub(super) fn read_docs_depth(
        &self,
        db: &str,
        coll: &str,
        ctx: &ExecContext,
        depth: u32,
    ) -> Result<Vec<Document>, CommandError> {
        let Some(c) = self.collection(db, coll) else { return Ok(Vec::new()) };
        if let Some(Bson::String(source)) = c.options.get("viewOn") {
            if depth > 20 {
                return Err(CommandError::new(2, "BadValue", "view nesting too deep"));
            }
            let base = self.read_docs_depth(db, source, ctx, depth + 1)?;
            let stages: Vec<Document> = match c.options.get("pipeline") {
                Some(Bson::Array(a)) => a.iter().filter_map(|s| s.as_document().cloned()).collect(),
                _ => Vec::new(),
            };
            return Pipeline::parse(&stages)?.run(base, &BTreeMap::new());
        }
        Ok(c.snapshot(ctx.read_at))
    }

    /// Documents matching `filter`, in natural order (or sorted), as record ids.
    pub(super) fn matching(
        &self,
        db: &str,
        coll: &str,
        filter: &Filter,
        q: &Document,
        sort: Option<&SortSpec>,
        first_only: bool,
    ) -> Vec<RecordId> {
        let Some(c) = self.collection(db, coll) else { return Vec::new() };
        if let (1, Some(id)) = (
            q.len(),
            q.get("_id")
                .filter(|id| !matches!(id, Bson::Document(_) | Bson::RegularExpression(_) | Bson::Array(_))),
        ) {
            return c.by_id(id).map(|(rid, _)| vec![rid]).unwrap_or_default();
        }
        match sort.filter(|s| !s.is_empty()) {
            Some(s) => {
                let mut hits: Vec<(RecordId, &Document)> =
                    c.iter().filter(|(_, d)| filter.matches(d)).collect();
                hits.sort_by(|a, b| s.compare(a.1, b.1));
                let mut ids: Vec<RecordId> = hits.into_iter().map(|(i, _)| i).collect();
                if first_only {
                    ids.truncate(1);
                }
                ids
            }
            None => {
                let it = c.iter().filter(|(_, d)| filter.matches(d)).map(|(i, _)| i);
                if first_only { it.take(1).collect() } else { it.collect() }
            }
        }
    }

    /// Rejects a `hint` naming no existing index (manual "cursor.hint()"); a missing
    /// collection accepts any hint, as mongod's EOF plan does.
    pub(super) fn check_hint(&self, db: &str, coll: &str, hint: Option<&Bson>) -> Result<(), CommandError> {
        let Some(c) = self.collection(db, coll) else { return Ok(()) };
        let ok = match hint {
            None | Some(Bson::Null) => true,
            Some(Bson::String(name)) => c.indexes.iter().any(|i| i.name == *name),
            Some(Bson::Document(key)) => {
                key.is_empty() || key.contains_key("$natural") || c.indexes.iter().any(|i| i.key == *key)
            }
            Some(other) => {
                return Err(CommandError::new(
                    9,
                    "FailedToParse",
                    format!("hint must be a string or an object, not {}", type_name(other)),
                ));
            }
        };
        if ok {
            Ok(())
        } else {
            Err(CommandError::new(
                2,
                "BadValue",
                "error processing query: planner returned error :: caused by :: hint provided does not correspond to an existing index",
            ))
        }
    }

    pub(super) fn reject_view(&self, db: &str, coll: &str) -> Result<(), CommandError> {
        if self.collection(db, coll).is_some_and(|c| c.options.contains_key("viewOn")) {
            return Err(CommandError::new(
                166,
                "CommandNotSupportedOnView",
                format!("Namespace {db}.{coll} is a view, not a collection"),
            ));
        }
        Ok(())
    }
}
