//! Change streams (MongoDB manual: "Change Events" and the Change Streams spec): the
//! `$changeStream` stage, read from the collections' version history, on a cursor that stays
//! open and returns the events written after its position at each `getMore`.

use bson::{Bson, Document, Timestamp, doc};

use super::aggregate::Pipeline;
use super::{CommandError, Store};

/// Where a change stream is: events strictly after (time, namespace, record, version).
pub type Position = (Timestamp, String, usize, usize);

/// The state of a change-stream cursor.
#[derive(Debug, Clone)]
pub struct Stream {
    /// Only this database (`None`: the whole cluster).
    pub db: Option<String>,
    /// Only this collection (`None`: every collection in scope).
    pub coll: Option<String>,
    /// The last event position returned or skipped.
    pub pos: Position,
    /// The stages after `$changeStream`, applied to each event.
    pub pipeline: Pipeline,
    /// `fullDocument` mode (`default`, `updateLookup`, …).
    pub full_document: String,
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02X}")).collect()
}

fn unhex(s: &str) -> Option<String> {
    let bytes: Option<Vec<u8>> = (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect();
    String::from_utf8(bytes?).ok()
}

/// The resume token of a position: `{_data: <hex>}` (opaque to drivers).
pub fn token(pos: &Position) -> Document {
    let (ts, ns, rid, vi) = pos;
    // Record and version are 16 hex digits: the start-of-stream position uses `usize::MAX`.
    doc! {"_data": format!("{:08X}{:08X}{:016X}{:016X}{}", ts.time, ts.increment, rid, vi, hex(ns))}
}

/// The position a resume token stands for.
pub fn parse_token(t: &Bson) -> Result<Position, CommandError> {
    let bad = || CommandError::new(50811, "Location50811", "KeyString format error: invalid resume token");
    let data = t.as_document().and_then(|d| d.get_str("_data").ok()).ok_or_else(bad)?;
    let num = |r: std::ops::Range<usize>| data.get(r).and_then(|h| u64::from_str_radix(h, 16).ok());
    let (Some(time), Some(inc), Some(rid), Some(vi)) = (num(0..8), num(8..16), num(16..32), num(32..48))
    else {
        return Err(bad());
    };
    let ns = unhex(data.get(48..).unwrap_or("")).ok_or_else(bad)?;
    Ok((Timestamp { time: time as u32, increment: inc as u32 }, ns, rid as usize, vi as usize))
}

fn update_description(prev: &Document, cur: &Document) -> Document {
    let mut updated = Document::new();
    for (k, v) in cur {
        if prev.get(k) != Some(v) {
            updated.insert(k.clone(), v.clone());
        }
    }
    let removed: Vec<Bson> =
        prev.keys().filter(|k| !cur.contains_key(*k)).map(|k| Bson::String(k.clone())).collect();
    doc! {"updatedFields": updated, "removedFields": removed, "truncatedArrays": []}
}

impl Store {
    /// The events after `stream.pos` (at most `limit` passing the stream's pipeline), and
    /// the new position.
    pub(super) fn stream_events(
        &self,
        stream: &Stream,
        limit: Option<usize>,
    ) -> Result<(Vec<Document>, Position), CommandError> {
        let mut events: Vec<(Position, Document)> = Vec::new();
        for (db, d) in &self.dbs {
            if stream.db.as_ref().is_some_and(|x| x != db)
                || matches!(db.as_str(), "admin" | "config" | "local")
            {
                continue;
            }
            for (name, c) in &d.collections {
                if stream.coll.as_ref().is_some_and(|x| x != name) || name.starts_with("system.") {
                    continue;
                }
                let ns = format!("{db}.{name}");
                for w in c.writes_from(stream.pos.0) {
                    let pos = (w.ts, ns.clone(), w.rid, w.vi);
                    if pos <= stream.pos {
                        continue;
                    }
                    let id = w.cur.or(w.prev).and_then(|d| d.get("_id")).cloned().unwrap_or(Bson::Null);
                    let (op, full, desc) = match (w.prev, w.cur) {
                        (None, Some(cur)) => ("insert", Some(cur.clone()), None),
                        (Some(_), None) => ("delete", None, None),
                        (Some(_), Some(cur)) if w.replaced => ("replace", Some(cur.clone()), None),
                        (Some(prev), Some(cur)) => {
                            let full = (stream.full_document == "updateLookup")
                                .then(|| c.by_id(&id).map(|(_, d)| d.clone()));
                            ("update", full.flatten(), Some(update_description(prev, cur)))
                        }
                        (None, None) => continue,
                    };
                    let mut ev = doc! {
                        "_id": token(&pos),
                        "operationType": op,
                        "clusterTime": w.ts,
                        "ns": {"db": db.clone(), "coll": name.clone()},
                        "documentKey": {"_id": id},
                    };
                    if let Some(f) = full {
                        ev.insert("fullDocument", f);
                    } else if op == "update" && stream.full_document == "updateLookup" {
                        ev.insert("fullDocument", Bson::Null);
                    }
                    if let Some(d) = desc {
                        ev.insert("updateDescription", d);
                    }
                    events.push((pos, ev));
                }
            }
        }
        events.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out = Vec::new();
        let mut pos = stream.pos.clone();
        for (p, ev) in events {
            if limit.is_some_and(|l| out.len() >= l) {
                break;
            }
            pos = p;
            out.extend(stream.pipeline.run(vec![ev], &Default::default())?);
        }
        Ok((out, pos))
    }

    /// Parses `$changeStream` options into a stream starting now (or where asked).
    pub(super) fn open_stream(
        &self,
        db: &str,
        coll: Option<&str>,
        spec: &Document,
        rest: &[Document],
    ) -> Result<Stream, CommandError> {
        let all = spec.get("allChangesForCluster").is_some_and(super::expr::truthy);
        if all && db != "admin" {
            return Err(CommandError::new(
                ErrorCodes::INVALID_OPTIONS,
                "InvalidOptions",
                "A change stream with allChangesForCluster must be opened on the admin database",
            ));
        }
        if !all && db == "admin" && coll.is_none() {
            return Err(CommandError::new(
                ErrorCodes::INVALID_NAMESPACE,
                "InvalidNamespace",
                "$changeStream may not be opened on the internal admin database",
            ));
        }
        let full_document = match spec.get("fullDocument") {
            None => "default".to_string(),
            Some(Bson::String(s))
                if matches!(s.as_str(), "default" | "updateLookup" | "whenAvailable" | "required") =>
            {
                s.clone()
            }
            Some(_) => return Err(CommandError::new(2, "BadValue", "unrecognized value for fullDocument")),
        };
        let token_at = spec.get("resumeAfter").or_else(|| spec.get("startAfter"));
        let pos = match (token_at, spec.get("startAtOperationTime")) {
            (Some(t), _) => parse_token(t)?,
            (None, Some(Bson::Timestamp(t))) => {
                // Start *at* t: everything at t comes after (t - 1 tick).
                let before = if t.increment > 0 {
                    Timestamp { time: t.time, increment: t.increment - 1 }
                } else {
                    Timestamp { time: t.time.saturating_sub(1), increment: u32::MAX }
                };
                (before, "\u{10FFFF}".to_string(), usize::MAX, usize::MAX)
            }
            (None, Some(other)) => {
                return Err(CommandError::new(
                    14,
                    "TypeMismatch",
                    format!(
                        "startAtOperationTime must be a timestamp, not {}",
                        super::compare::type_name(other)
                    ),
                ));
            }
            (None, None) => (self.last_write, "\u{10FFFF}".to_string(), usize::MAX, usize::MAX),
        };
        Ok(Stream {
            db: if all { None } else { Some(db.to_string()) },
            coll: coll.map(str::to_string),
            pos,
            pipeline: Pipeline::parse(rest)?,
            full_document,
        })
    }
}

/// Error codes used here.
struct ErrorCodes;
impl ErrorCodes {
    const INVALID_OPTIONS: i32 = 72;
    const INVALID_NAMESPACE: i32 = 73;
}
