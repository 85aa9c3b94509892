//! The index commands (manual "listIndexes", "createIndexes", "dropIndexes").

use bson::{Bson, Document, doc};

use super::args::{Reply, coll_name, doc_array, missing_field, non_negative, type_mismatch};
use crate::engine::change_stream::DdlKind;
use crate::engine::collection::Index;
use crate::engine::compare::num;
use crate::engine::matcher::Filter;
use crate::engine::{CommandError, ExecContext, Store};

impl Store {
    pub(super) fn cmd_list_indexes(&mut self, db: &str, cmd: &Document, ctx: &ExecContext) -> Reply {
        let coll = coll_name(cmd)?;
        let batch_size = match cmd.get("cursor") {
            Some(Bson::Document(c)) => non_negative(c, "batchSize")?.map(|b| b as usize),
            _ => None,
        };
        let Some(c) = self.collection(db, &coll) else {
            return Err(CommandError::new(
                26,
                "NamespaceNotFound",
                format!("ns does not exist: {db}.{coll}"),
            ));
        };
        let specs: Vec<Document> = c.indexes.iter().map(|i| i.spec.clone()).collect();
        // mongos registers the shard's cursor under the requested namespace.
        let ns = if ctx.router { format!("{db}.{coll}") } else { format!("{db}.$cmd.listIndexes.{coll}") };
        Ok(self.cursor_reply(ns, specs, batch_size.or(Some(usize::MAX)), false, ctx))
    }

    pub(super) fn cmd_create_indexes(&mut self, db: &str, cmd: &Document, ctx: &ExecContext) -> Reply {
        let coll = coll_name(cmd)?;
        let specs = doc_array(cmd, "indexes")?;
        if specs.is_empty() {
            return Err(CommandError::new(2, "BadValue", "Must specify at least one index to create"));
        }
        let mut parsed = Vec::new();
        for s in specs {
            let key = match s.get("key") {
                Some(Bson::Document(k)) if !k.is_empty() => k.clone(),
                _ => {
                    return Err(CommandError::new(
                        9,
                        "FailedToParse",
                        "The 'key' field is a required property of an index specification",
                    ));
                }
            };
            for v in key.values() {
                let ok = num(v).is_some_and(|n| n.as_f64() != 0.0) || matches!(v, Bson::String(_));
                if !ok {
                    return Err(CommandError::new(
                        67,
                        "CannotCreateIndex",
                        format!(
                            "Values in the index key pattern can only be numbers or strings, found {}",
                            crate::engine::compare::display(v)
                        ),
                    ));
                }
            }
            let name = match s.get("name") {
                Some(Bson::String(n)) => n.clone(),
                None => key
                    .iter()
                    .map(|(k, v)| {
                        format!(
                            "{k}_{}",
                            match v {
                                Bson::String(s) => s.clone(),
                                other => num(other).map_or("1".into(), |n| (n.as_f64() as i64).to_string()),
                            }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("_"),
                Some(other) => return Err(type_mismatch("createIndexes", "indexes.name", other, "string")),
            };
            let partial = match s.get("partialFilterExpression") {
                Some(Bson::Document(p)) => Some(Filter::parse(p)?),
                _ => None,
            };
            let mut spec = doc! {"v": 2, "key": key.clone(), "name": name.clone()};
            for (k, v) in s {
                if !matches!(k.as_str(), "key" | "name" | "v" | "ns") {
                    spec.insert(k.clone(), v.clone());
                }
            }
            parsed.push(Index {
                name,
                key,
                unique: s.get("unique").is_some_and(crate::engine::expr::truthy),
                sparse: s.get("sparse").is_some_and(crate::engine::expr::truthy),
                partial,
                spec,
            });
        }
        self.reject_view(db, &coll)?;
        let ts = self.stamp(ctx);
        let created = self.collection(db, &coll).is_none();
        let ns = format!("{db}.{coll}");
        let c = self.coll_mut(db, &coll, ts);
        let before = c.indexes.len() as i32;
        for idx in parsed {
            if let Some(existing) = c.indexes.iter().find(|i| i.name == idx.name) {
                if existing.key != idx.key {
                    return Err(CommandError::new(
                        86,
                        "IndexKeySpecsConflict",
                        format!(
                            "An existing index has the same name as the requested index. Requested index: {}, existing index: {}",
                            crate::engine::compare::display_doc(&idx.spec),
                            crate::engine::compare::display_doc(&existing.spec)
                        ),
                    ));
                }
                if existing.unique != idx.unique {
                    return Err(CommandError::new(
                        85,
                        "IndexOptionsConflict",
                        format!("Index with name: {} already exists with different options", idx.name),
                    ));
                }
                continue;
            }
            if let Some(existing) =
                c.indexes.iter().find(|i| i.key == idx.key && i.partial.is_none() && idx.partial.is_none())
            {
                return Err(CommandError::new(
                    85,
                    "IndexOptionsConflict",
                    format!("Index already exists with a different name: {}", existing.name),
                ));
            }
            c.add_index(&ns, idx).map_err(CommandError::from)?;
        }
        let after = c.indexes.len() as i32;
        let added: Vec<Document> = c.indexes.iter().skip(before as usize).map(|i| i.spec.clone()).collect();
        let uuid = c.uuid.clone();
        if !added.is_empty() {
            self.record_ddl(ts, db, Some(&coll), DdlKind::CreateIndexes, doc! {"indexes": added}, Some(uuid));
        }
        let mut reply = doc! {"numIndexesBefore": before, "numIndexesAfter": after, "createdCollectionAutomatically": created};
        if before == after {
            reply.insert("note", "all indexes already exist");
        }
        Ok(reply)
    }

    pub(super) fn cmd_drop_indexes(&mut self, db: &str, cmd: &Document, ctx: &ExecContext) -> Reply {
        let coll = coll_name(cmd)?;
        let ts = self.stamp(ctx);
        let reply = self.drop_indexes(db, &coll, cmd)?;
        if let Some(c) = self.collection(db, &coll) {
            let kept: Vec<&str> = c.indexes.iter().map(|i| i.name.as_str()).collect();
            let dropped: Vec<Document> = reply
                .1
                .iter()
                .filter(|i| !kept.contains(&i.get_str("name").unwrap_or("")))
                .cloned()
                .collect();
            let uuid = c.uuid.clone();
            if !dropped.is_empty() {
                self.record_ddl(
                    ts,
                    db,
                    Some(&coll),
                    DdlKind::DropIndexes,
                    doc! {"indexes": dropped},
                    Some(uuid),
                );
            }
        }
        Ok(reply.0)
    }

    /// Drops the indexes `cmd.index` names; returns the reply and the specs before.
    pub(super) fn drop_indexes(
        &mut self,
        db: &str,
        coll: &str,
        cmd: &Document,
    ) -> Result<(Document, Vec<Document>), CommandError> {
        let coll = coll.to_string();
        let Some(c) = self.existing_mut(db, &coll) else {
            return Err(CommandError::new(26, "NamespaceNotFound", format!("ns not found {db}.{coll}")));
        };
        let was = c.indexes.len() as i32;
        let specs_before: Vec<Document> = c.indexes.iter().map(|i| i.spec.clone()).collect();
        let not_found = |what: String| CommandError::new(27, "IndexNotFound", what);
        let id_err = || CommandError::new(72, "InvalidOptions", "cannot drop _id index");
        match cmd.get("index") {
            Some(Bson::String(s)) if s == "*" => c.indexes.retain(|i| i.name == "_id_"),
            Some(Bson::String(s)) => {
                if s == "_id_" {
                    return Err(id_err());
                }
                let before = c.indexes.len();
                c.indexes.retain(|i| i.name != *s);
                if c.indexes.len() == before {
                    return Err(not_found(format!("index not found with name [{s}]")));
                }
            }
            Some(Bson::Array(names)) => {
                for n in names {
                    let Bson::String(n) = n else {
                        return Err(type_mismatch("dropIndexes", "index", n, "string"));
                    };
                    if n == "_id_" {
                        return Err(id_err());
                    }
                    if !c.indexes.iter().any(|i| i.name == *n) {
                        return Err(not_found(format!("index not found with name [{n}]")));
                    }
                }
                c.indexes.retain(|i| !names.iter().any(|n| n.as_str() == Some(i.name.as_str())));
            }
            Some(Bson::Document(key)) => {
                if *key == doc! {"_id": 1} {
                    return Err(id_err());
                }
                let before = c.indexes.len();
                c.indexes.retain(|i| i.key != *key);
                if c.indexes.len() == before {
                    return Err(not_found(format!(
                        "can't find index with key: {}",
                        crate::engine::compare::display_doc(key)
                    )));
                }
            }
            Some(other) => return Err(type_mismatch("dropIndexes", "index", other, "string")),
            None => {
                return Err(missing_field("dropIndexes.index"));
            }
        }
        Ok((doc! {"nIndexesWas": was}, specs_before))
    }
}
