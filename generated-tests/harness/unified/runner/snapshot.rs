//! The reviewable record of a case (the insta snapshot `Runner::finish` takes; not part of
//! `unified-test-format.rst`, which checks only `expectEvents`): every command event of
//! every client, with the values that differ from run to run numbered or redacted.

use bson::{Bson, Document};
use mongo_driver::event::command::CommandEvent;

/// The command events of each client as a reviewable list: lsids become `<lsid #k>`,
/// ObjectIds `<ObjectId #k>`, cursor ids `<cursor #k>` and resume tokens `<resume token #k>`
/// (numbered in order of first appearance, so equal values stay equal), as do `host:port`
/// addresses, UUIDs (`<uuid #k>`) and the server's connection ids in hello replies
/// (`<connection #k>`: the simulator numbers every connection, monitors' included, so the
/// absolute value depends on how monitor and application connections interleave); cluster and operation times are `<redacted>`, dates `<date>`, `$rand` results
/// `<random>`.
pub fn snapshot(logs: &[(String, Vec<CommandEvent>)]) -> serde_json::Value {
    snapshot_with(logs, false)
}

/// [`snapshot`]; with `derived_max_time` (a case whose clients set `timeoutMS`), `maxTimeMS`
/// values are `<remaining timeoutMS>` (the time left when the command was sent) and the
/// durations in error messages `<duration>`.
pub fn snapshot_with(logs: &[(String, Vec<CommandEvent>)], derived_max_time: bool) -> serde_json::Value {
    let mut r = Redactor { derived_max_time, ..Redactor::default() };
    let mut out = Vec::new();
    for (client, events) in logs {
        for e in events {
            let entry = match e {
                CommandEvent::Started(s) => serde_json::json!({
                    "client": client,
                    "started": s.command_name,
                    "databaseName": s.database_name,
                    "command": r.value(Bson::Document(s.command.clone()), ""),
                }),
                CommandEvent::Succeeded(s) => serde_json::json!({
                    "client": client,
                    "succeeded": s.command_name,
                    "reply": r.value(Bson::Document(fail_point_reply(&s.command_name, &s.reply)), ""),
                }),
                CommandEvent::Failed(s) => serde_json::json!({
                    "client": client,
                    "failed": s.command_name,
                    "failure": r.message(&s.failure.to_string()),
                }),
            };
            out.push(entry);
        }
    }
    serde_json::Value::Array(out)
}

/// A `configureFailPoint` reply with a nonzero `count` (how often the previous fail point
/// fired, which background monitoring makes vary) as `<times fired>`; other replies as they are.
fn fail_point_reply(command_name: &str, reply: &Document) -> Document {
    let mut reply = reply.clone();
    if command_name == "configureFailPoint"
        && reply.get("count").is_some_and(|c| c.as_i64().or_else(|| c.as_i32().map(i64::from)) != Some(0))
    {
        reply.insert("count", "<times fired>");
    }
    reply
}

/// Numbers values that differ from run to run.
#[derive(Default)]
struct Redactor {
    lsids: Vec<Bson>,
    oids: Vec<bson::oid::ObjectId>,
    cursors: Vec<i64>,
    hosts: Vec<String>,
    /// Change streams' resume tokens (`_data` strings, which encode the cluster time).
    tokens: Vec<String>,
    /// UUIDs (e.g. the session ids `$listLocalSessions` returns).
    uuids: Vec<bson::Binary>,
    /// The server's connection ids (`connectionId` in hello replies).
    connections: Vec<i64>,
    /// Whether `maxTimeMS` values and durations in messages vary (derived from `timeoutMS`).
    derived_max_time: bool,
}

/// Whether `word` is a duration as `Duration`'s `Debug` prints it (`49.3ms`, `12µs`, `1.5s`).
fn is_duration(word: &str) -> bool {
    let digits = word.trim_end_matches(|c: char| c.is_ascii_alphabetic() || c == 'µ');
    let unit = &word[digits.len()..];
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && ["ns", "µs", "ms", "s"].contains(&unit)
}

/// Whether `text` is a `host:port` address (hello replies name the simulator's ports).
fn is_host(text: &str) -> bool {
    text.rsplit_once(':').is_some_and(|(host, port)| {
        !host.is_empty()
            && host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
            && !port.is_empty()
            && port.bytes().all(|b| b.is_ascii_digit())
    })
}

fn number_of<T: PartialEq + Clone>(seen: &mut Vec<T>, value: &T) -> usize {
    match seen.iter().position(|v| v == value) {
        Some(i) => i,
        None => {
            seen.push(value.clone());
            seen.len() - 1
        }
    }
}

impl Redactor {
    /// A server connection id, numbered.
    fn connection(&mut self, id: i64) -> serde_json::Value {
        serde_json::Value::String(format!("<connection #{}>", number_of(&mut self.connections, &id)))
    }

    /// An error message with the `host:port` addresses in it numbered.
    fn message(&mut self, text: &str) -> String {
        let words: Vec<String> = text
            .split(' ')
            .map(|word| {
                let core = word.trim_start_matches('(').trim_end_matches([',', ';', ':', ')', '.']);
                if is_host(core) {
                    word.replace(core, &format!("<host #{}>", number_of(&mut self.hosts, &core.to_string())))
                } else if self.derived_max_time && is_duration(core) {
                    word.replace(core, "<duration>")
                } else {
                    word.to_string()
                }
            })
            .collect();
        words.join(" ")
    }

    fn value(&mut self, value: Bson, key: &str) -> serde_json::Value {
        const CURSOR_KEYS: &[&str] = &[
            "id",
            "getMore",
            "cursors",
            "cursorsKilled",
            "cursorsNotFound",
            "cursorsAlive",
            "cursorsUnknown",
        ];
        match value {
            Bson::Document(d) => {
                let mut map = serde_json::Map::new();
                for (k, v) in d {
                    let redacted = match k.as_str() {
                        "lsid" => {
                            serde_json::Value::String(format!("<lsid #{}>", number_of(&mut self.lsids, &v)))
                        }
                        "$clusterTime" | "clusterTime" | "operationTime" | "electionId" | "opTime" => {
                            serde_json::Value::String("<redacted>".into())
                        }
                        "connectionId" => match v {
                            Bson::Int32(id) => self.connection(i64::from(id)),
                            Bson::Int64(id) => self.connection(id),
                            other => self.value(other, &k),
                        },
                        "maxTimeMS" if self.derived_max_time => {
                            serde_json::Value::String("<remaining timeoutMS>".into())
                        }
                        _ => self.value(v, &k),
                    };
                    map.insert(k, redacted);
                }
                serde_json::Value::Object(map)
            }
            Bson::Array(items) => {
                serde_json::Value::Array(items.into_iter().map(|v| self.value(v, key)).collect())
            }
            Bson::ObjectId(oid) => {
                serde_json::Value::String(format!("<ObjectId #{}>", number_of(&mut self.oids, &oid)))
            }
            Bson::Int64(id) if id != 0 && CURSOR_KEYS.contains(&key) => {
                serde_json::Value::String(format!("<cursor #{}>", number_of(&mut self.cursors, &id)))
            }
            Bson::Timestamp(_) => serde_json::Value::String("<timestamp>".into()),
            Bson::DateTime(_) => serde_json::Value::String("<date>".into()),
            Bson::Binary(b) if b.subtype == bson::spec::BinarySubtype::Uuid => {
                serde_json::Value::String(format!("<uuid #{}>", number_of(&mut self.uuids, &b)))
            }
            // `$rand` results (the CRUD `let` tests).
            Bson::Double(_) if key == "rand" => serde_json::Value::String("<random>".into()),
            Bson::String(text) if key == "_data" => {
                serde_json::Value::String(format!("<resume token #{}>", number_of(&mut self.tokens, &text)))
            }
            Bson::String(text) if is_host(&text) => {
                serde_json::Value::String(format!("<host #{}>", number_of(&mut self.hosts, &text)))
            }
            other => serde_json::to_value(&other)
                .unwrap_or_else(|e| serde_json::Value::String(format!("<unserializable: {e}>"))),
        }
    }
}
