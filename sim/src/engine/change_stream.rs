//! Change streams (MongoDB manual: "Change Events" and the Change Streams spec): the
//! `$changeStream` stage, read from the collections' version history, on a cursor that stays
//! open and returns the events written after its position at each `getMore`.

use bson::{Bson, Document, Timestamp, doc};

use super::CommandError;
use super::aggregate::Pipeline;
use super::collection::Collection;
use super::compare::type_name;
use super::expr::truthy;

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
    /// Whether events carry `wallTime` (6.0+).
    pub wall_time: bool,
    /// `showExpandedEvents` (6.0+): DDL events and `collectionUUID`.
    pub show_expanded: bool,
    /// `fullDocumentBeforeChange` mode (`off`, `whenAvailable`, `required`).
    pub full_document_before_change: String,
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
    let mut truncated = Vec::new();
    for (k, v) in cur {
        match (prev.get(k), v) {
            (Some(old), new) if old == new => {}
            // An array changed in place: its changed or appended elements by index, and a
            // shorter array as `truncatedArrays` (mongod's delta updates).
            (Some(Bson::Array(old)), Bson::Array(new)) if !old.is_empty() && !new.is_empty() => {
                for (i, item) in new.iter().enumerate() {
                    if old.get(i) != Some(item) {
                        updated.insert(format!("{k}.{i}"), item.clone());
                    }
                }
                if new.len() < old.len() {
                    truncated.push(doc! {"field": k.clone(), "newSize": new.len() as i32});
                }
            }
            _ => {
                updated.insert(k.clone(), v.clone());
            }
        }
    }
    let removed: Vec<Bson> =
        prev.keys().filter(|k| !cur.contains_key(*k)).map(|k| Bson::String(k.clone())).collect();
    doc! {"updatedFields": updated, "removedFields": removed, "truncatedArrays": truncated}
}

/// The data change events of collection `db.name` after the stream's position, written at
/// or after `since` (when it got this name) and before `until` (when it lost it).
pub(crate) fn collection_events(
    stream: &Stream,
    db: &str,
    name: &str,
    c: &Collection,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
    events: &mut Vec<(Position, Document)>,
) -> Result<(), CommandError> {
    let ns = format!("{db}.{name}");
    let images = c
        .options
        .get_document("changeStreamPreAndPostImages")
        .is_ok_and(|o| o.get_bool("enabled").unwrap_or(false));
    for w in c.writes_from(stream.pos.0) {
        let pos = (w.ts, ns.clone(), w.rid, w.vi);
        if pos <= stream.pos || since.is_some_and(|t| w.ts < t) || until.is_some_and(|t| w.ts >= t) {
            continue;
        }
        let id = w.cur.or(w.prev).and_then(|d| d.get("_id")).cloned().unwrap_or(Bson::Null);
        let (op, full, desc) = match (w.prev, w.cur) {
            (None, Some(cur)) => ("insert", Some(Bson::Document(cur.clone())), None),
            (Some(_), None) => ("delete", None, None),
            (Some(_), Some(cur)) if w.replaced => ("replace", Some(Bson::Document(cur.clone())), None),
            (Some(prev), Some(cur)) => {
                let full = match stream.full_document.as_str() {
                    "updateLookup" => {
                        Some(c.by_id(&id).map(|(_, d)| Bson::Document(d.clone())).unwrap_or(Bson::Null))
                    }
                    mode => image(mode, images, Some(cur), "post")?,
                };
                ("update", full, Some(update_description(prev, cur)))
            }
            (None, None) => continue,
        };
        let mut ev = doc! {
            "_id": token(&pos),
            "operationType": op,
            "clusterTime": w.ts,
        };
        if stream.wall_time {
            ev.insert("wallTime", bson::DateTime::from_millis(i64::from(w.ts.time) * 1000));
        }
        if stream.show_expanded {
            ev.insert("collectionUUID", Bson::Binary(c.uuid.clone()));
        }
        ev.insert("ns", doc! {"db": db, "coll": name});
        ev.insert("documentKey", doc! {"_id": id});
        if let Some(f) = full {
            ev.insert("fullDocument", f);
        }
        if let Some(d) = desc {
            ev.insert("updateDescription", d);
        }
        if op != "insert"
            && let Some(before) = image(&stream.full_document_before_change, images, w.prev, "pre")?
        {
            ev.insert("fullDocumentBeforeChange", before);
        }
        events.push((pos, ev));
    }
    Ok(())
}

/// mongod's error for an event whose `_id` (the resume token) the pipeline changed.
pub(crate) fn token_modified() -> CommandError {
    CommandError::new(
        280,
        "ChangeStreamFatalError",
        "Encountered an event whose _id field, which contains the resume token, was modified by the \
         pipeline. Modifying the _id field of an event makes it impossible to resume the stream from \
         that point. Only transformations that retain the unmodified _id field are allowed.",
    )
}

/// A catalog change kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DdlKind {
    /// A collection was dropped.
    Drop,
    /// A collection was renamed.
    Rename,
    /// A database was dropped.
    DropDatabase,
    /// A collection or view was created (expanded event).
    Create,
    /// Indexes were created (expanded event).
    CreateIndexes,
    /// Indexes were dropped (expanded event).
    DropIndexes,
    /// `collMod` changed a collection (expanded event).
    Modify,
    /// `shardCollection` sharded a collection (expanded event, through a router).
    ShardCollection,
}

impl DdlKind {
    fn name(self) -> &'static str {
        match self {
            Self::Drop => "drop",
            Self::Rename => "rename",
            Self::DropDatabase => "dropDatabase",
            Self::Create => "create",
            Self::CreateIndexes => "createIndexes",
            Self::DropIndexes => "dropIndexes",
            Self::Modify => "modify",
            Self::ShardCollection => "shardCollection",
        }
    }

    /// Only streams with `showExpandedEvents` see it (6.0+).
    fn expanded(self) -> bool {
        matches!(
            self,
            Self::Create | Self::CreateIndexes | Self::DropIndexes | Self::Modify | Self::ShardCollection
        )
    }
}

/// One catalog change, kept for change streams.
#[derive(Debug, Clone)]
pub struct DdlEvent {
    /// When it happened.
    pub(crate) ts: Timestamp,
    /// The database it changed.
    pub(crate) db: String,
    /// The collection it changed (`None`: the whole database).
    pub(crate) coll: Option<String>,
    /// What changed.
    pub(crate) kind: DdlKind,
    /// `operationDescription` (and, for `modify`, `stateBeforeChange` beside it); for a
    /// rename also its `to`.
    pub(crate) description: Document,
    /// The collection's UUID, if it has one.
    pub(crate) uuid: Option<bson::Binary>,
}

/// The record number of catalog events in a [`Position`]; their version number is
/// `2 × sequence` (and `+ 1` for the `invalidate` that may follow).
const DDL_RECORD: usize = usize::MAX - 1;

/// What a collection's `changeStreamPreAndPostImages` and a stream's mode give for one image:
/// `Ok(None)` leaves the field out.
fn image(
    mode: &str,
    enabled: bool,
    doc: Option<&Document>,
    which: &str,
) -> Result<Option<Bson>, CommandError> {
    match mode {
        "whenAvailable" => Ok(Some(match (enabled, doc) {
            (true, Some(d)) => Bson::Document(d.clone()),
            _ => Bson::Null,
        })),
        "required" => match (enabled, doc) {
            (true, Some(d)) => Ok(Some(Bson::Document(d.clone()))),
            _ => Err(CommandError::new(
                47,
                "NoMatchingDocument",
                format!(
                    "Change stream was configured to require a {which}-image for all update, delete and \
                     replace events, but the {which}-image was not found for the event"
                ),
            )),
        },
        _ => Ok(None),
    }
}

/// The catalog events of `stream`'s scope after its position, each followed by the
/// `invalidate` it causes for this stream (a collection stream's collection dropped or
/// renamed or its database dropped; a database stream's database dropped).
pub(crate) fn ddl_events(ddl: &[DdlEvent], stream: &Stream) -> Vec<(Position, Document)> {
    let mut out = Vec::new();
    for (seq, e) in ddl.iter().enumerate() {
        if e.ts < stream.pos.0
            || stream.db.as_ref().is_some_and(|d| *d != e.db)
            || matches!(e.db.as_str(), "admin" | "config" | "local")
            || (e.kind.expanded() && !stream.show_expanded)
        {
            continue;
        }
        let in_scope = match (&stream.coll, &e.coll) {
            (None, _) => true,
            (Some(c), Some(ec)) => c == ec,
            // A collection stream sees its collection's drop, then invalidates.
            (Some(_), None) => false,
        };
        let invalidates = match (&stream.coll, e.kind) {
            (Some(c), DdlKind::Drop | DdlKind::Rename) => e.coll.as_ref() == Some(c),
            (Some(_), _) => false,
            (None, DdlKind::DropDatabase) => stream.db.is_some(),
            (None, _) => false,
        };
        let pos = (e.ts, String::new(), DDL_RECORD, 2 * seq);
        if in_scope && pos > stream.pos {
            let mut ev = doc! {"_id": token(&pos), "operationType": e.kind.name(), "clusterTime": e.ts};
            if stream.wall_time {
                ev.insert("wallTime", bson::DateTime::from_millis(i64::from(e.ts.time) * 1000));
            }
            let mut ns = doc! {"db": e.db.clone()};
            if let Some(c) = &e.coll {
                ns.insert("coll", c.clone());
            }
            ev.insert("ns", ns);
            if let Some(to) = e.description.get("to").filter(|_| e.kind == DdlKind::Rename) {
                ev.insert("to", to.clone());
            }
            if stream.show_expanded {
                if let Some(uuid) = &e.uuid {
                    ev.insert("collectionUUID", Bson::Binary(uuid.clone()));
                }
                match e.kind {
                    DdlKind::Modify => {
                        for (k, v) in &e.description {
                            ev.insert(k.clone(), v.clone());
                        }
                    }
                    DdlKind::Drop | DdlKind::DropDatabase => {}
                    _ => {
                        ev.insert("operationDescription", e.description.clone());
                    }
                }
            }
            out.push((pos, ev));
        }
        let after = (e.ts, String::new(), DDL_RECORD, 2 * seq + 1);
        if invalidates && after > stream.pos {
            let mut ev = doc! {"_id": token(&after), "operationType": "invalidate", "clusterTime": e.ts};
            if stream.wall_time {
                ev.insert("wallTime", bson::DateTime::from_millis(i64::from(e.ts.time) * 1000));
            }
            out.push((after, ev));
        }
    }
    out
}

impl Stream {
    /// Parses `$changeStream` options into a stream starting at `now` (or where asked);
    /// `rest` are the stages after `$changeStream`.
    pub fn open(
        db: &str,
        coll: Option<&str>,
        spec: &Document,
        rest: &[Document],
        max_wire_version: i32,
        now: Timestamp,
    ) -> Result<Stream, CommandError> {
        let all = spec.get("allChangesForCluster").is_some_and(truthy);
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
        let full_document_before_change = match spec.get("fullDocumentBeforeChange") {
            None => "off".to_string(),
            Some(Bson::String(s)) if matches!(s.as_str(), "off" | "whenAvailable" | "required") => s.clone(),
            Some(_) => {
                return Err(CommandError::new(
                    2,
                    "BadValue",
                    "unrecognized value for fullDocumentBeforeChange",
                ));
            }
        };
        // 6.0 (wire version 17) added `showExpandedEvents`; 0 stands for the newest behaviour.
        let six = max_wire_version == 0 || max_wire_version >= 17;
        let show_expanded = match spec.get("showExpandedEvents") {
            None => false,
            Some(_) if !six => {
                return Err(CommandError::new(
                    40415,
                    "Location40415",
                    "BSON field '$changeStream.showExpandedEvents' is an unknown field.",
                ));
            }
            Some(v) => truthy(v),
        };
        let token_at = spec.get("resumeAfter").or_else(|| spec.get("startAfter"));
        let pos = match (token_at, spec.get("startAtOperationTime")) {
            (Some(t), _) => {
                let pos = parse_token(t)?;
                // Only startAfter may resume after an invalidate (change streams spec
                // "startAfter"; mongod's resume-token check refuses resumeAfter there).
                if pos.2 == DDL_RECORD && pos.3 % 2 == 1 && spec.contains_key("resumeAfter") {
                    return Err(CommandError::new(
                        260,
                        "InvalidResumeToken",
                        "Attempting to resume a change stream using 'resumeAfter' is not allowed from an \
                         invalidate notification.",
                    ));
                }
                pos
            }
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
                    format!("startAtOperationTime must be a timestamp, not {}", type_name(other)),
                ));
            }
            (None, None) => (now, "\u{10FFFF}".to_string(), usize::MAX, usize::MAX),
        };
        Ok(Stream {
            db: if all { None } else { Some(db.to_string()) },
            coll: coll.map(str::to_string),
            pos,
            pipeline: Pipeline::parse(rest)?,
            full_document,
            wall_time: six,
            show_expanded,
            full_document_before_change,
        })
    }
}

/// Error codes used here.
struct ErrorCodes;
impl ErrorCodes {
    const INVALID_OPTIONS: i32 = 72;
    const INVALID_NAMESPACE: i32 = 73;
}
