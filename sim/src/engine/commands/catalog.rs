//! The catalog commands (manual "create", "collMod", "drop", "dropDatabase",
//! "listCollections", "listDatabases", "renameCollection", "collStats", "shardCollection"),
//! each recording its change-stream event.

use bson::{Bson, Document, doc};

use super::args::{
    Reply, coll_name, filter_of, missing_field, non_negative, opt_bool, opt_int, type_mismatch,
};
use crate::engine::aggregate::Pipeline;
use crate::engine::change_stream::DdlKind;
use crate::engine::collection::Collection;
use crate::engine::compare::num;
use crate::engine::{CommandError, ExecContext, Store};

impl Store {
    /// `collStats`-style statistics of a collection (sizes divided by `scale`).
    pub(super) fn coll_stats(&self, db: &str, coll: &str, scale: i64) -> Reply {
        let Some(c) = self.collection(db, coll) else {
            return Err(CommandError::new(
                26,
                "NamespaceNotFound",
                format!("Collection [{db}.{coll}] not found."),
            ));
        };
        let scale = scale.max(1);
        let size = c.data_size() as i64;
        let count = c.len() as i64;
        let mut out = doc! {
            "ns": format!("{db}.{coll}"),
            "size": size / scale,
            "count": count as i32,
            "avgObjSize": if count == 0 { 0 } else { size / count },
            "storageSize": ((size / 4096 + 1) * 4096) / scale,
            "capped": c.options.get("capped").is_some_and(crate::engine::expr::truthy),
            "nindexes": c.indexes.len() as i32,
            "totalIndexSize": (c.indexes.len() as i64 * 4096) / scale,
            "scaleFactor": scale as i32,
        };
        if c.options.get("capped").is_some_and(crate::engine::expr::truthy) {
            if let Some(max) = c.options.get("max") {
                out.insert("max", max.clone());
            }
            if let Some(n) = c.options.get("size").and_then(num) {
                out.insert("maxSize", Bson::Int64(n.as_f64() as i64 / scale));
            }
        }
        Ok(out)
    }

    pub(super) fn cmd_coll_stats(&mut self, db: &str, cmd: &Document) -> Reply {
        let coll = coll_name(cmd)?;
        let scale = opt_int(cmd, "scale")?.unwrap_or(1);
        if scale < 1 {
            return Err(CommandError::new(2, "BadValue", "scale has to be >= 1"));
        }
        self.coll_stats(db, &coll, scale)
    }

    pub(super) fn cmd_create(&mut self, db: &str, cmd: &Document, ctx: &ExecContext) -> Reply {
        let coll = coll_name(cmd)?;
        if self.collection(db, &coll).is_some() {
            return Err(CommandError::new(
                48,
                "NamespaceExists",
                format!("Collection {db}.{coll} already exists."),
            ));
        }
        let mut options = Document::new();
        for (k, v) in cmd.iter().skip(1) {
            if matches!(
                k.as_str(),
                "capped"
                    | "size"
                    | "max"
                    | "validator"
                    | "validationLevel"
                    | "validationAction"
                    | "viewOn"
                    | "pipeline"
                    | "collation"
                    | "timeseries"
                    | "expireAfterSeconds"
                    | "clusteredIndex"
                    | "changeStreamPreAndPostImages"
                    | "storageEngine"
                    | "indexOptionDefaults"
                    | "encryptedFields"
            ) {
                options.insert(k.clone(), v.clone());
            }
        }
        if options.get("capped").is_some_and(crate::engine::expr::truthy) && !options.contains_key("size") {
            return Err(CommandError::new(
                72,
                "InvalidOptions",
                "the 'size' field is required when 'capped' is true",
            ));
        }
        if let Some(p) = options.get("pipeline") {
            let Bson::Array(a) = p else { return Err(type_mismatch("create", "pipeline", p, "array")) };
            let stages: Vec<Document> = a.iter().filter_map(|s| s.as_document().cloned()).collect();
            Pipeline::parse(&stages)?;
        }
        // A clustered collection (5.3+): the listed option gains its version, and the
        // clustered index replaces the `_id_` index (mongod lists only that one).
        let clustered = match options.get("clusteredIndex") {
            Some(Bson::Document(spec)) => {
                if spec.get("key") != Some(&Bson::Document(doc! {"_id": 1}))
                    || !spec.get("unique").is_some_and(crate::engine::expr::truthy)
                {
                    return Err(CommandError::new(
                        2,
                        "BadValue",
                        "The clusteredIndex option requires key: {_id: 1} and unique: true",
                    ));
                }
                let mut spec = spec.clone();
                spec.insert("v", 2);
                spec.entry("name".to_string()).or_insert(Bson::String("_id_".into()));
                options.insert("clusteredIndex", spec.clone());
                Some(spec)
            }
            Some(other) => return Err(type_mismatch("create", "clusteredIndex", other, "object")),
            None => None,
        };
        let ts = self.stamp(ctx);
        let mut created = Collection::new(options.clone(), ts);
        if let (Some(spec), Some(id)) = (clustered, created.indexes.first_mut()) {
            id.name = spec.get_str("name").unwrap_or("_id_").to_string();
            id.spec =
                doc! {"v": 2, "key": {"_id": 1}, "name": id.name.clone(), "unique": true, "clustered": true};
        }
        let uuid = created.uuid.clone();
        self.dbs.entry(db.to_string()).or_default().collections.insert(coll.clone(), created);
        let description = match options.get("viewOn") {
            Some(_) => options,
            None => doc! {"idIndex": {"v": 2, "key": {"_id": 1}, "name": "_id_"}},
        };
        let uuid = (!description.contains_key("viewOn")).then_some(uuid);
        self.record_ddl(ts, db, Some(&coll), DdlKind::Create, description, uuid);
        Ok(Document::new())
    }

    pub(super) fn cmd_coll_mod(&mut self, db: &str, cmd: &Document, ctx: &ExecContext) -> Reply {
        let coll = coll_name(cmd)?;
        let ts = self.stamp(ctx);
        let Some(c) = self.existing_mut(db, &coll) else {
            return Err(CommandError::new(
                26,
                "NamespaceNotFound",
                format!("ns does not exist: {db}.{coll}"),
            ));
        };
        let before = c.options.clone();
        let mut description = Document::new();
        for (k, v) in cmd.iter().skip(1) {
            match k.as_str() {
                "changeStreamPreAndPostImages" => {
                    let Some(enabled) = v.as_document().and_then(|d| d.get_bool("enabled").ok()) else {
                        return Err(type_mismatch("collMod", k, v, "object with a boolean 'enabled'"));
                    };
                    if enabled {
                        c.options.insert(k.clone(), doc! {"enabled": true});
                    } else {
                        c.options.remove(k);
                    }
                }
                "validator" | "validationLevel" | "validationAction" | "expireAfterSeconds" => {
                    c.options.insert(k.clone(), v.clone());
                }
                // The generic arguments of every command.
                "lsid"
                | "txnNumber"
                | "$db"
                | "$clusterTime"
                | "$readPreference"
                | "writeConcern"
                | "comment"
                | "apiVersion"
                | "apiStrict"
                | "apiDeprecationErrors"
                | "maxTimeMS" => continue,
                other => {
                    return Err(CommandError::new(
                        40415,
                        "Location40415",
                        format!("BSON field 'collMod.{other}' is an unknown field."),
                    ));
                }
            }
            description.insert(k.clone(), v.clone());
        }
        let uuid = c.uuid.clone();
        let event =
            doc! {"operationDescription": description, "stateBeforeChange": {"collectionOptions": before}};
        self.record_ddl(ts, db, Some(&coll), DdlKind::Modify, event, Some(uuid));
        Ok(Document::new())
    }

    pub(super) fn cmd_drop(&mut self, db: &str, cmd: &Document, ctx: &ExecContext) -> Reply {
        let coll = coll_name(cmd)?;
        self.stamp(ctx);
        let ns = format!("{db}.{coll}");
        match self.dbs.get_mut(db).and_then(|d| d.collections.remove(&coll)) {
            Some(c) => {
                // Change streams stay open: they report the drop (and invalidate).
                self.cursors.retain(|_, cur| cur.ns != ns || cur.stream.is_some());
                let ts = self.last_write;
                self.record_ddl(ts, db, Some(&coll), DdlKind::Drop, Document::new(), Some(c.uuid.clone()));
                let was = c.indexes.len() as i32;
                self.retire(db, &coll, c, ts);
                Ok(doc! {"nIndexesWas": was, "ns": ns})
            }
            // 7.0 (wire version 21) and later succeed quietly for a missing collection.
            None if ctx.max_wire_version == 0 || ctx.max_wire_version >= 21 => Ok(Document::new()),
            None => Err(CommandError::new(26, "NamespaceNotFound", "ns not found")),
        }
    }

    pub(super) fn cmd_drop_database(&mut self, db: &str, ctx: &ExecContext) -> Reply {
        let prefix = format!("{db}.");
        self.cursors.retain(|_, c| !c.ns.starts_with(&prefix) || c.stream.is_some());
        let ts = self.stamp(ctx);
        if let Some(dropped) = self.dbs.remove(db) {
            for (name, c) in dropped.collections {
                self.record_ddl(ts, db, Some(&name), DdlKind::Drop, Document::new(), Some(c.uuid.clone()));
                self.retire(db, &name, c, ts);
            }
            self.record_ddl(ts, db, None, DdlKind::DropDatabase, Document::new(), None);
        }
        Ok(doc! {"dropped": db})
    }

    pub(super) fn cmd_list_collections(&mut self, db: &str, cmd: &Document, ctx: &ExecContext) -> Reply {
        let (filter, _) = filter_of(cmd, "filter")?;
        let name_only = opt_bool(cmd, "nameOnly", false)?;
        let batch_size = match cmd.get("cursor") {
            Some(Bson::Document(c)) => non_negative(c, "batchSize")?.map(|b| b as usize),
            _ => None,
        };
        let mut out = Vec::new();
        if let Some(d) = self.dbs.get(db) {
            for (name, c) in &d.collections {
                let is_view = c.options.contains_key("viewOn");
                let kind = if is_view { "view" } else { "collection" };
                let full = if is_view {
                    doc! {"name": name, "type": kind, "options": c.options.clone(), "info": {"readOnly": true}}
                } else {
                    doc! {
                        "name": name,
                        "type": kind,
                        "options": c.options.clone(),
                        "info": {"readOnly": false, "uuid": Bson::Binary(c.uuid.clone())},
                        "idIndex": {"v": 2, "key": {"_id": 1}, "name": "_id_"},
                    }
                };
                if !filter.matches(&full) {
                    continue;
                }
                out.push(if name_only {
                    doc! {"name": name, "type": kind}
                } else {
                    full
                });
            }
        }
        Ok(self.cursor_reply(
            format!("{db}.$cmd.listCollections"),
            out,
            batch_size.or(Some(usize::MAX)),
            false,
            ctx,
        ))
    }

    pub(super) fn cmd_list_databases(&mut self, cmd: &Document, _ctx: &ExecContext) -> Reply {
        let (filter, _) = filter_of(cmd, "filter")?;
        let name_only = opt_bool(cmd, "nameOnly", false)?;
        let mut dbs = Vec::new();
        let mut total: i64 = 0;
        for (name, d) in &self.dbs {
            if d.collections.is_empty() {
                continue;
            }
            // mongod reports allocated storage; the simulator reports data size rounded up to 4 KiB
            // pages per collection, so an existing database never reports 0.
            let size: i64 = d.collections.values().map(|c| (c.data_size() as i64 / 4096 + 1) * 4096).sum();
            let entry = doc! {"name": name, "sizeOnDisk": size, "empty": false};
            if !filter.matches(&entry) {
                continue;
            }
            total += size;
            dbs.push(if name_only {
                doc! {"name": name}
            } else {
                entry
            });
        }
        if name_only {
            return Ok(doc! {"databases": dbs});
        }
        Ok(doc! {"databases": dbs, "totalSize": total, "totalSizeMb": total / (1024 * 1024)})
    }

    /// `shardCollection` (a `mongos` command; mongod does not know it): the collection, created
    /// when missing, is recorded as sharded on `key` for change streams (`shardCollection`
    /// expanded event). Its data stays where it is (the simulated cluster has one shard).
    pub(super) fn cmd_shard_collection(&mut self, db: &str, cmd: &Document, ctx: &ExecContext) -> Reply {
        if !ctx.router {
            return Err(CommandError::new(59, "CommandNotFound", "no such command: 'shardCollection'"));
        }
        if db != "admin" {
            return Err(CommandError::new(
                13,
                "Unauthorized",
                "shardCollection may only be run against the admin database.",
            ));
        }
        let ns = match cmd.get("shardCollection") {
            Some(Bson::String(ns)) => ns.clone(),
            Some(other) => return Err(type_mismatch("shardCollection", "shardCollection", other, "string")),
            None => return Err(CommandError::new(9, "FailedToParse", "shardCollection needs a namespace")),
        };
        let Some((target_db, coll)) = ns.split_once('.').filter(|(d, c)| !d.is_empty() && !c.is_empty())
        else {
            return Err(CommandError::new(
                73,
                "InvalidNamespace",
                format!("Invalid namespace specified '{ns}'"),
            ));
        };
        let key = match cmd.get("key") {
            Some(Bson::Document(key)) if !key.is_empty() => key.clone(),
            Some(other) => return Err(type_mismatch("shardCollection", "key", other, "non-empty object")),
            None => {
                return Err(missing_field("shardCollection.key"));
            }
        };
        let unique = cmd.get("unique").is_some_and(crate::engine::expr::truthy);
        let ts = self.stamp(ctx);
        let uuid = self.coll_mut(target_db, coll, ts).uuid.clone();
        let description = doc! {"shardKey": key, "unique": unique, "presplitHashedZones": false};
        self.record_ddl(ts, target_db, Some(coll), DdlKind::ShardCollection, description, Some(uuid.clone()));
        Ok(doc! {"collectionsharded": ns.clone(), "collectionUUID": uuid})
    }

    pub(super) fn cmd_rename_collection(&mut self, cmd: &Document, ctx: &ExecContext) -> Reply {
        let split = |v: Option<&Bson>, field: &str| -> Result<(String, String), CommandError> {
            match v {
                Some(Bson::String(s)) => match s.split_once('.') {
                    Some((d, c)) if !d.is_empty() && !c.is_empty() => Ok((d.to_string(), c.to_string())),
                    _ => Err(CommandError::new(
                        73,
                        "InvalidNamespace",
                        format!("Invalid {field} namespace: {s}"),
                    )),
                },
                Some(other) => Err(type_mismatch("renameCollection", field, other, "string")),
                None => Err(missing_field(&format!("renameCollection.{field}"))),
            }
        };
        let (sdb, scoll) = split(cmd.get("renameCollection"), "renameCollection")?;
        let (tdb, tcoll) = split(cmd.get("to"), "to")?;
        let drop_target = opt_bool(cmd, "dropTarget", false)?;
        if self.collection(&sdb, &scoll).is_none() {
            return Err(CommandError::new(
                26,
                "NamespaceNotFound",
                format!("Source collection {sdb}.{scoll} does not exist"),
            ));
        }
        if self.collection(&tdb, &tcoll).is_some() && !drop_target {
            return Err(CommandError::new(48, "NamespaceExists", "target namespace exists"));
        }
        let ts = self.stamp(ctx);
        let Some(c) = self.dbs.get_mut(&sdb).and_then(|d| d.collections.remove(&scoll)) else {
            return Err(CommandError::new(26, "NamespaceNotFound", "source namespace does not exist"));
        };
        let uuid = c.uuid.clone();
        self.retire(&sdb, &scoll, c.clone(), ts);
        self.named_at.insert((tdb.clone(), tcoll.clone()), ts);
        let replaced = self.dbs.entry(tdb.clone()).or_default().collections.insert(tcoll.clone(), c);
        let mut description = doc! {"to": {"db": tdb, "coll": tcoll}};
        if let Some(old) = replaced {
            description.insert("dropTarget", Bson::Binary(old.uuid));
        }
        self.record_ddl(ts, &sdb, Some(&scoll), DdlKind::Rename, description, Some(uuid));
        Ok(Document::new())
    }
}
