//! Read concern (read-write-concern spec; snapshot reads spec; causal consistency spec):
//! `level`, `afterClusterTime` and `atClusterTime`, with mongod's refusals.

use bson::{Bson, Document, Timestamp};

use super::errors::Failure;
use crate::config::Topology;
use crate::version::ServerVersion;

/// Commands that accept `readConcern: {level: "snapshot"}` outside a transaction (5.0+).
pub const SNAPSHOT_COMMANDS: [&str; 3] = ["find", "aggregate", "distinct"];

/// A command's `readConcern`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadConcern {
    /// `level`.
    pub level: Option<String>,
    /// `atClusterTime` (snapshot only).
    pub at_cluster_time: Option<Timestamp>,
    /// `afterClusterTime` (causal consistency).
    pub after_cluster_time: Option<Timestamp>,
}

impl ReadConcern {
    /// Whether this is a snapshot read.
    pub fn is_snapshot(&self) -> bool {
        self.level.as_deref() == Some("snapshot")
    }
}

fn timestamp(doc: &Document, key: &str, version: ServerVersion) -> Result<Option<Timestamp>, Failure> {
    match doc.get(key) {
        None => Ok(None),
        Some(Bson::Timestamp(t)) => Ok(Some(*t)),
        Some(other) => {
            Err(Failure::new(14, version, format!("readConcern.{key} must be a timestamp, got {other}")))
        }
    }
}

/// Reads and checks `cmd`'s `readConcern` for command `name`.
pub fn parse(
    cmd: &Document,
    name: &str,
    topology: Topology,
    version: ServerVersion,
) -> Result<ReadConcern, Failure> {
    let rc = match cmd.get("readConcern") {
        None => return Ok(ReadConcern::default()),
        Some(Bson::Document(d)) => d,
        Some(other) => {
            return Err(Failure::new(14, version, format!("readConcern must be a document, got {other}")));
        }
    };
    let level = match rc.get("level") {
        None => None,
        Some(Bson::String(l)) => match l.as_str() {
            "local" | "available" | "majority" | "linearizable" | "snapshot" => Some(l.clone()),
            other => {
                return Err(Failure::new(9, version, format!("unrecognized readConcern level '{other}'")));
            }
        },
        Some(other) => {
            return Err(Failure::new(
                14,
                version,
                format!("readConcern.level must be a string, got {other}"),
            ));
        }
    };
    let parsed = ReadConcern {
        level,
        at_cluster_time: timestamp(rc, "atClusterTime", version)?,
        after_cluster_time: timestamp(rc, "afterClusterTime", version)?,
    };
    // A change stream reads majority-committed data only: mongod refuses another explicit
    // level (lite_parsed_document_source.h, onlySingleReadConcernSupported for $changeStream).
    if let Some(level) = parsed.level.as_deref().filter(|l| *l != "majority")
        && name == "aggregate"
        && opens_change_stream(cmd)
    {
        return Err(Failure::new(
            72,
            version,
            format!(
                "Aggregation stage $changeStream cannot run with a readConcern other than 'majority'. Current readConcern: {level}"
            ),
        ));
    }
    if parsed.at_cluster_time.is_some() && !parsed.is_snapshot() {
        return Err(Failure::new(
            72,
            version,
            "atClusterTime is only allowed with readConcern level 'snapshot'",
        ));
    }
    if parsed.is_snapshot() {
        if topology == Topology::Standalone {
            return Err(Failure::new(
                123,
                version,
                "node needs to be a replica set member to use readConcern: snapshot",
            ));
        }
        if !version.supports_snapshot_reads() {
            return Err(Failure::new(
                72,
                version,
                "readConcern level snapshot is only valid in multi-statement transactions",
            ));
        }
        if !SNAPSHOT_COMMANDS.contains(&name) {
            return Err(Failure::new(
                72,
                version,
                format!(
                    "Command {name} does not support {{ readConcern: {{ level: \"snapshot\" }} }} outside a transaction"
                ),
            ));
        }
    }
    if parsed.after_cluster_time.is_some() && topology == Topology::Standalone {
        return Err(Failure::new(
            123,
            version,
            "node needs to be a replica set member to use afterClusterTime",
        ));
    }
    Ok(parsed)
}

/// Whether an aggregate's first stage is `$changeStream`.
pub(super) fn opens_change_stream(cmd: &Document) -> bool {
    cmd.get_array("pipeline")
        .ok()
        .and_then(|p| p.first())
        .and_then(Bson::as_document)
        .is_some_and(|stage| stage.contains_key("$changeStream"))
}

/// Puts the snapshot's `atClusterTime` into a read's reply, where drivers look for it
/// (`cursor.atClusterTime` for find/aggregate, top level for distinct).
pub fn stamp_snapshot_reply(reply: &mut Document, at: Timestamp) {
    if let Ok(cursor) = reply.get_document_mut("cursor") {
        if !cursor.contains_key("atClusterTime") {
            cursor.insert("atClusterTime", at);
        }
    } else if !reply.contains_key("atClusterTime") {
        reply.insert("atClusterTime", at);
    }
}

#[cfg(test)]
mod tests {
    use bson::doc;

    use super::*;

    fn code(r: Result<ReadConcern, Failure>) -> Option<i32> {
        r.err().map(|f| f.error.code)
    }

    #[test]
    fn snapshot_refusals() {
        let snap = doc! { "find": "c", "readConcern": { "level": "snapshot" } };
        assert_eq!(code(parse(&snap, "find", Topology::Standalone, ServerVersion::V5_0)), Some(123));
        assert_eq!(code(parse(&snap, "find", Topology::ReplicaSet, ServerVersion::V4_4)), Some(72));
        assert_eq!(code(parse(&snap, "insert", Topology::ReplicaSet, ServerVersion::V5_0)), Some(72));
        assert!(parse(&snap, "find", Topology::Sharded, ServerVersion::V5_0).is_ok_and(|r| r.is_snapshot()));
    }

    #[test]
    fn change_streams_read_majority_only() {
        let stream = |level: &str| {
            doc! { "aggregate": "c", "pipeline": [{"$changeStream": {}}], "readConcern": { "level": level } }
        };
        let rs = Topology::ReplicaSet;
        assert_eq!(code(parse(&stream("local"), "aggregate", rs, ServerVersion::V6_0)), Some(72));
        assert!(parse(&stream("majority"), "aggregate", rs, ServerVersion::V6_0).is_ok());
        let plain = doc! { "aggregate": "c", "pipeline": [], "readConcern": { "level": "local" } };
        assert!(parse(&plain, "aggregate", rs, ServerVersion::V6_0).is_ok());
    }

    #[test]
    fn stamps_cursor_or_top_level() {
        let t = Timestamp { time: 5, increment: 2 };
        let mut find = doc! { "cursor": { "id": 0_i64 } };
        stamp_snapshot_reply(&mut find, t);
        assert_eq!(
            find.get_document("cursor").ok().and_then(|c| c.get_timestamp("atClusterTime").ok()),
            Some(t)
        );
        let mut distinct = doc! { "values": [] };
        stamp_snapshot_reply(&mut distinct, t);
        assert_eq!(distinct.get_timestamp("atClusterTime").ok(), Some(t));
    }
}
