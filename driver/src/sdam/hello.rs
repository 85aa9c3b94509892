//! Building a ServerDescription from a check (SDAM "Parsing a hello or legacy hello response").

use std::time::Duration;

use bson::{Bson, DateTime, Document};

use super::{ServerAddress, ServerDescription, ServerType};
use crate::connection::{Connection, server_description_from_hello};
use crate::options::TagSet;

impl ServerDescription {
    /// The description of `address` from its `hello` or legacy hello reply `reply`, with the
    /// round trip time `rtt` (the monitor's running average, or the sample of this check).
    ///
    /// Follows the spec's table: a reply without `ok: 1` gives Unknown (with the reply's
    /// error); `isreplicaset: true` gives RSGhost; a `setName` gives RSOther when `hidden`,
    /// else RSPrimary (`isWritablePrimary`, or the legacy `ismaster`), RSSecondary,
    /// RSArbiter or RSOther; `msg: "isdbgrid"` gives Mongos; anything else is Standalone.
    /// Host names in `me`, `hosts`, `passives`, `arbiters` and `primary` are lower-cased.
    /// A reply with a malformed field (e.g. a bad address in `hosts`) gives Unknown with an
    /// error naming the field, never a panic.
    ///
    /// ```
    /// use mongo_driver::sdam::{ServerAddress, ServerDescription, ServerType};
    /// let reply = bson::doc! { "ok": 1, "isWritablePrimary": true, "setName": "rs",
    ///     "hosts": ["A:27017", "b:27017"], "maxWireVersion": 17 };
    /// let s = ServerDescription::from_hello(ServerAddress::new("a", 27017), &reply, None);
    /// assert_eq!(s.server_type, ServerType::RsPrimary);
    /// assert_eq!(s.hosts[0].to_string(), "a:27017");
    /// ```
    pub fn from_hello(address: ServerAddress, reply: &Document, rtt: Option<Duration>) -> ServerDescription {
        match parse(address.clone(), reply, rtt) {
            Ok(description) => description,
            Err(message) => {
                ServerDescription::check_failed(address, format!("invalid hello reply: {message}"))
            }
        }
    }

    /// An Unknown description of `address` after a failed check (network error, timeout, or
    /// a reply that is not `ok: 1`), carrying `error` (SDAM "error" field). Its RTT is unset.
    pub fn check_failed(address: ServerAddress, error: impl Into<String>) -> ServerDescription {
        ServerDescription {
            error: Some(error.into()),
            last_update_time: Some(DateTime::now()),
            ..ServerDescription::unknown(address)
        }
    }
}

// Building a description from a connection's handshake is SDAM's business: defined here so
// the connection layer below never names a ServerDescription for it.
impl Connection {
    /// The server's description from the handshake reply, with the handshake's duration as
    /// its RTT (SDAM: "Clients update the topology from each handshake").
    pub fn handshake_server_description(&self) -> crate::Result<ServerDescription> {
        let reply = self.handshake_reply().ok_or_else(|| {
            crate::Error::invalid_argument(format!(
                "connection {} to {} has not completed its handshake",
                self.id(),
                self.address()
            ))
        })?;
        Ok(server_description_from_hello(
            self.address().clone(),
            reply,
            self.handshake_round_trip_time(),
            self.load_balanced(),
        ))
    }
}

fn number(reply: &Document, key: &str) -> Result<Option<i64>, String> {
    match reply.get(key) {
        None | Some(Bson::Null) => Ok(None),
        Some(Bson::Int32(i)) => Ok(Some(i64::from(*i))),
        Some(Bson::Int64(i)) => Ok(Some(*i)),
        Some(Bson::Double(d)) if d.fract() == 0.0 && d.is_finite() => Ok(Some(*d as i64)),
        Some(other) => Err(format!("`{key}` must be an integer, not {other}")),
    }
}

fn wire_version(reply: &Document, key: &str) -> Result<i32, String> {
    match number(reply, key)? {
        None => Ok(0),
        Some(v) => i32::try_from(v).map_err(|_| format!("`{key}` {v} is out of range")),
    }
}

fn flag(reply: &Document, key: &str) -> bool {
    match reply.get(key) {
        Some(Bson::Boolean(b)) => *b,
        Some(Bson::Int32(i)) => *i != 0,
        Some(Bson::Int64(i)) => *i != 0,
        Some(Bson::Double(d)) => *d != 0.0,
        _ => false,
    }
}

fn string(reply: &Document, key: &str) -> Result<Option<String>, String> {
    match reply.get(key) {
        None | Some(Bson::Null) => Ok(None),
        Some(Bson::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(format!("`{key}` must be a string, not {other}")),
    }
}

fn addresses(reply: &Document, key: &str) -> Result<Vec<ServerAddress>, String> {
    match reply.get(key) {
        None | Some(Bson::Null) => Ok(Vec::new()),
        Some(Bson::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Bson::String(s) => s.parse().map_err(|e| format!("`{key}.{i}`: {e}")),
                other => Err(format!("`{key}.{i}` must be a string, not {other}")),
            })
            .collect(),
        Some(other) => Err(format!("`{key}` must be an array, not {other}")),
    }
}

fn is_ok(reply: &Document) -> bool {
    match reply.get("ok") {
        Some(Bson::Int32(i)) => *i == 1,
        Some(Bson::Int64(i)) => *i == 1,
        Some(Bson::Double(d)) => *d == 1.0,
        Some(Bson::Boolean(b)) => *b,
        _ => false,
    }
}

fn server_type(reply: &Document, set_name: Option<&str>) -> ServerType {
    // "When checking results, drivers MUST first check for the isWritablePrimary field and
    // fall back to checking for an ismaster field."
    let writable_primary = if reply.contains_key("isWritablePrimary") {
        flag(reply, "isWritablePrimary")
    } else {
        flag(reply, "ismaster")
    };
    if flag(reply, "isreplicaset") {
        ServerType::RsGhost
    } else if set_name.is_some() {
        if flag(reply, "hidden") {
            ServerType::RsOther
        } else if writable_primary {
            ServerType::RsPrimary
        } else if flag(reply, "secondary") {
            ServerType::RsSecondary
        } else if flag(reply, "arbiterOnly") {
            ServerType::RsArbiter
        } else {
            ServerType::RsOther
        }
    } else if reply.get_str("msg").is_ok_and(|m| m == "isdbgrid") {
        ServerType::Mongos
    } else {
        ServerType::Standalone
    }
}

fn parse(
    address: ServerAddress,
    reply: &Document,
    rtt: Option<Duration>,
) -> Result<ServerDescription, String> {
    if !is_ok(reply) {
        let why = crate::Error::from_reply(reply)
            .map_or_else(|| "the reply is not `ok: 1`".to_string(), |e| e.to_string());
        return Ok(ServerDescription::check_failed(address, why));
    }
    let set_name = string(reply, "setName")?;
    let server_type = server_type(reply, set_name.as_deref());
    let tags = match reply.get("tags") {
        None | Some(Bson::Null) => TagSet::default(),
        Some(Bson::Document(tags)) => tags
            .iter()
            .map(|(k, v)| match v {
                Bson::String(v) => Ok((k.clone(), v.clone())),
                other => Err(format!("tag `{k}` must be a string, not {other}")),
            })
            .collect::<Result<TagSet, String>>()?,
        Some(other) => return Err(format!("`tags` must be a document, not {other}")),
    };
    let election_id = match reply.get("electionId") {
        None | Some(Bson::Null) => None,
        Some(Bson::ObjectId(id)) => Some(*id),
        Some(other) => return Err(format!("`electionId` must be an ObjectId, not {other}")),
    };
    let topology_version = match reply.get("topologyVersion") {
        None | Some(Bson::Null) => None,
        Some(Bson::Document(tv)) => Some(tv.clone()),
        Some(other) => return Err(format!("`topologyVersion` must be a document, not {other}")),
    };
    let last_write_date = match reply.get("lastWrite") {
        Some(Bson::Document(w)) => match w.get("lastWriteDate") {
            Some(Bson::DateTime(d)) => Some(*d),
            None | Some(Bson::Null) => None,
            Some(other) => return Err(format!("`lastWrite.lastWriteDate` must be a date, not {other}")),
        },
        _ => None,
    };
    Ok(ServerDescription {
        address,
        server_type,
        average_round_trip_time: rtt,
        last_update_time: Some(DateTime::now()),
        last_write_date,
        min_wire_version: wire_version(reply, "minWireVersion")?,
        max_wire_version: wire_version(reply, "maxWireVersion")?,
        me: address_field(reply, "me")?,
        hosts: addresses(reply, "hosts")?,
        passives: addresses(reply, "passives")?,
        arbiters: addresses(reply, "arbiters")?,
        tags,
        set_name,
        set_version: number(reply, "setVersion")?,
        election_id,
        primary: address_field(reply, "primary")?,
        logical_session_timeout_minutes: number(reply, "logicalSessionTimeoutMinutes")?,
        topology_version,
        error: None,
    })
}

/// The address in string field `key` (host lower-cased), if present.
fn address_field(reply: &Document, key: &str) -> Result<Option<ServerAddress>, String> {
    string(reply, key)?.map(|s| s.parse().map_err(|e| format!("`{key}`: {e}"))).transpose()
}

#[cfg(test)]
mod tests {
    use bson::doc;

    use super::*;

    fn parse(reply: Document) -> ServerDescription {
        ServerDescription::from_hello(ServerAddress::new("a", 27017), &reply, Some(Duration::from_millis(1)))
    }

    #[test]
    fn server_types() {
        let cases = [
            (doc! { "ok": 0 }, ServerType::Unknown),
            (doc! { "ok": 1 }, ServerType::Standalone),
            (doc! { "ok": 1, "msg": "isdbgrid" }, ServerType::Mongos),
            (doc! { "ok": 1, "isreplicaset": true, "setName": "rs" }, ServerType::RsGhost),
            (doc! { "ok": 1, "isWritablePrimary": true, "setName": "rs" }, ServerType::RsPrimary),
            (doc! { "ok": 1, "ismaster": true, "setName": "rs" }, ServerType::RsPrimary),
            (
                doc! { "ok": 1, "isWritablePrimary": false, "ismaster": true, "setName": "rs" },
                ServerType::RsOther,
            ),
            (doc! { "ok": 1, "secondary": true, "setName": "rs" }, ServerType::RsSecondary),
            (doc! { "ok": 1, "secondary": true, "hidden": true, "setName": "rs" }, ServerType::RsOther),
            (doc! { "ok": 1, "arbiterOnly": true, "setName": "rs" }, ServerType::RsArbiter),
            (doc! { "ok": 1, "setName": "rs" }, ServerType::RsOther),
        ];
        for (reply, want) in cases {
            assert_eq!(parse(reply.clone()).server_type, want, "{reply}");
        }
    }

    #[test]
    fn fields_and_errors() {
        let s =
            parse(doc! { "ok": 1.0, "setName": "rs", "secondary": true, "me": "A:1", "hosts": ["A:1", "B"],
            "setVersion": 3_i64, "logicalSessionTimeoutMinutes": 30, "tags": { "dc": "ny" } });
        assert_eq!(s.me, Some(ServerAddress::new("a", 1)));
        assert_eq!(s.hosts, vec![ServerAddress::new("a", 1), ServerAddress::new("b", 27017)]);
        assert_eq!((s.set_version, s.logical_session_timeout_minutes), (Some(3), Some(30)));
        assert_eq!(s.tags, TagSet::from([("dc", "ny")]));
        assert_eq!(s.average_round_trip_time, Some(Duration::from_millis(1)));
        let bad = parse(doc! { "ok": 1, "setName": "rs", "hosts": ["a:0"] });
        assert_eq!(bad.server_type, ServerType::Unknown);
        assert!(bad.error.unwrap().contains("`hosts.0`"));
        let not_ok = parse(doc! { "ok": 0, "errmsg": "boom", "code": 1 });
        assert!(not_ok.error.unwrap().contains("boom"));
        assert_eq!(not_ok.average_round_trip_time, None);
    }
}
