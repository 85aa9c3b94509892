//! Reading a `hello` (or legacy hello) reply for a connection: its stream description (CMAP
//! "Connection": the handshake's limits and server type) and the server's description (SDAM
//! "Parsing a hello or legacy hello response", through [`ServerDescription::from_hello`]).

use std::time::Duration;

use bson::oid::ObjectId;
use bson::{Bson, Document};

use crate::error::{Error, Result};
use crate::options::ServerAddress;
// The one arrow up from this layer: a handshake's server type follows SDAM's rules for
// parsing a hello reply ("Parsing a hello or legacy hello response"), which build a
// ServerDescription; reusing that one parser keeps the connection's and the topology's
// idea of a server's type the same. sdam imports nothing of `connection` but this file's
// own `server_description_from_hello`, so no circle results.
use crate::sdam::{ServerDescription, ServerType};

/// `maxBsonObjectSize` when a reply omits it (16 MiB).
pub const DEFAULT_MAX_BSON_OBJECT_SIZE: i64 = 16 * 1024 * 1024;
/// `maxMessageSizeBytes` when a reply omits it.
pub const DEFAULT_MAX_MESSAGE_SIZE_BYTES: i64 = 48_000_000;
/// `maxWriteBatchSize` when a reply omits it.
pub const DEFAULT_MAX_WRITE_BATCH_SIZE: i64 = 100_000;

/// What a connection learned about its server from the handshake.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamDescription {
    /// The address the connection was made to.
    pub server_address: ServerAddress,
    /// The server's type, as the handshake reply shows it.
    pub server_type: ServerType,
    /// `minWireVersion` (0 when absent).
    pub min_wire_version: i32,
    /// `maxWireVersion` (0 when absent).
    pub max_wire_version: i32,
    /// `maxBsonObjectSize`: the largest document the server accepts.
    pub max_bson_object_size: i64,
    /// `maxMessageSizeBytes`: the largest message the server accepts or sends.
    pub max_message_size_bytes: i64,
    /// `maxWriteBatchSize`: the most statements in one write command.
    pub max_write_batch_size: i64,
    /// `helloOk: true`: the server supports `hello`, so monitoring uses it.
    pub hello_ok: bool,
    /// `logicalSessionTimeoutMinutes`, if the server supports sessions.
    pub logical_session_timeout: Option<Duration>,
    /// `serviceId`, from a server behind a load balancer.
    pub service_id: Option<ObjectId>,
    /// `connectionId`: the server's id for this connection.
    pub server_connection_id: Option<i64>,
    /// `saslSupportedMechs`, when the handshake asked for them.
    pub sasl_supported_mechs: Option<Vec<String>>,
    /// `topologyVersion`, from servers that support awaitable hello (4.4+).
    pub topology_version: Option<Document>,
}

fn number(value: Option<&Bson>) -> Option<f64> {
    match value? {
        Bson::Int32(i) => Some(f64::from(*i)),
        Bson::Int64(i) => Some(*i as f64),
        Bson::Double(d) => Some(*d),
        _ => None,
    }
}

/// An integer field; `Err` if present with another type or a fractional value.
fn int(reply: &Document, key: &str) -> Result<Option<i64>> {
    match reply.get(key) {
        None | Some(Bson::Null) => Ok(None),
        Some(Bson::Int32(i)) => Ok(Some(i64::from(*i))),
        Some(Bson::Int64(i)) => Ok(Some(*i)),
        Some(Bson::Double(d)) if d.fract() == 0.0 && d.abs() < 9.0e15 => Ok(Some(*d as i64)),
        Some(other) => {
            Err(Error::invalid_response(format!("hello reply field `{key}` must be an integer, got {other}")))
        }
    }
}

fn int32(reply: &Document, key: &str) -> Result<Option<i32>> {
    int(reply, key)?
        .map(|v| {
            i32::try_from(v).map_err(|_| {
                Error::invalid_response(format!("hello reply field `{key}` ({v}) is out of range"))
            })
        })
        .transpose()
}

fn strings(reply: &Document, key: &str) -> Result<Option<Vec<String>>> {
    match reply.get(key) {
        None | Some(Bson::Null) => Ok(None),
        Some(Bson::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str().map(str::to_owned).ok_or_else(|| {
                    Error::invalid_response(format!(
                        "hello reply field `{key}` must hold strings, got {item}"
                    ))
                })
            })
            .collect::<Result<Vec<_>>>()
            .map(Some),
        Some(other) => {
            Err(Error::invalid_response(format!("hello reply field `{key}` must be an array, got {other}")))
        }
    }
}

fn document(reply: &Document, key: &str) -> Result<Option<Document>> {
    match reply.get(key) {
        None | Some(Bson::Null) => Ok(None),
        Some(Bson::Document(d)) => Ok(Some(d.clone())),
        Some(other) => {
            Err(Error::invalid_response(format!("hello reply field `{key}` must be a document, got {other}")))
        }
    }
}

/// Whether the reply says `ok: 1`.
pub fn is_ok(reply: &Document) -> bool {
    number(reply.get("ok")).is_some_and(|ok| ok == 1.0)
}

impl StreamDescription {
    /// Reads the handshake reply of a connection to `address`. A field of the wrong type is an
    /// [`ErrorKind::InvalidResponse`](crate::ErrorKind::InvalidResponse) error.
    pub fn from_hello(address: ServerAddress, reply: &Document, load_balanced: bool) -> Result<Self> {
        let positive = |key: &str, default: i64| -> Result<i64> {
            match int(reply, key)? {
                None => Ok(default),
                Some(v) if v > 0 => Ok(v),
                Some(v) => Err(Error::invalid_response(format!(
                    "hello reply field `{key}` must be positive, got {v}"
                ))),
            }
        };
        let service_id = match reply.get("serviceId") {
            None | Some(Bson::Null) => None,
            Some(Bson::ObjectId(id)) => Some(*id),
            Some(other) => {
                return Err(Error::invalid_response(format!(
                    "hello reply field `serviceId` must be an ObjectId, got {other}"
                )));
            }
        };
        let server_type =
            server_description_from_hello(address.clone(), reply, None, load_balanced).server_type;
        Ok(Self {
            server_address: address,
            server_type,
            min_wire_version: int32(reply, "minWireVersion")?.unwrap_or(0),
            max_wire_version: int32(reply, "maxWireVersion")?.unwrap_or(0),
            max_bson_object_size: positive("maxBsonObjectSize", DEFAULT_MAX_BSON_OBJECT_SIZE)?,
            max_message_size_bytes: positive("maxMessageSizeBytes", DEFAULT_MAX_MESSAGE_SIZE_BYTES)?,
            max_write_batch_size: positive("maxWriteBatchSize", DEFAULT_MAX_WRITE_BATCH_SIZE)?,
            hello_ok: reply.get_bool("helloOk").unwrap_or(false),
            logical_session_timeout: int(reply, "logicalSessionTimeoutMinutes")?
                .map(|m| Duration::from_secs(u64::try_from(m).unwrap_or(0).saturating_mul(60))),
            service_id,
            server_connection_id: int(reply, "connectionId")?,
            sasl_supported_mechs: strings(reply, "saslSupportedMechs")?,
            topology_version: document(reply, "topologyVersion")?,
        })
    }
}

/// The ServerDescription of `address` from a hello reply, with `round_trip_time` as its
/// average RTT: [`ServerDescription::from_hello`] (Unknown with an error for a reply without
/// `ok: 1` or with a malformed field), except that with `load_balanced` (the URI option) a
/// successful reply describes a LoadBalancer.
pub fn server_description_from_hello(
    address: ServerAddress,
    reply: &Document,
    round_trip_time: Option<Duration>,
    load_balanced: bool,
) -> ServerDescription {
    let mut description = ServerDescription::from_hello(address, reply, round_trip_time);
    if load_balanced && description.server_type != ServerType::Unknown {
        description.server_type = ServerType::LoadBalancer;
    }
    description
}

#[cfg(test)]
mod tests {
    use bson::{DateTime, doc};

    use super::*;
    use crate::selection::TagSet;

    fn address() -> ServerAddress {
        ServerAddress::new("a", 1)
    }

    #[test]
    fn server_types() {
        let ty = |reply: Document, lb: bool| {
            StreamDescription::from_hello(address(), &reply, lb).unwrap().server_type
        };
        assert_eq!(ty(doc! {"ok": 1, "isWritablePrimary": true}, false), ServerType::Standalone);
        assert_eq!(ty(doc! {"ok": 1, "setName": "rs", "secondary": true}, false), ServerType::RsSecondary);
        assert_eq!(ty(doc! {"ok": 1, "ismaster": true, "msg": "isdbgrid"}, false), ServerType::Mongos);
        assert_eq!(
            ty(doc! {"ok": 1, "isWritablePrimary": true, "msg": "isdbgrid"}, true),
            ServerType::LoadBalancer
        );
        assert_eq!(ty(doc! {"ok": 0}, true), ServerType::Unknown);
    }

    #[test]
    fn stream_description_defaults_and_values() {
        let s = StreamDescription::from_hello(address(), &doc! {"ok": 1.0}, false).unwrap();
        assert_eq!(s.max_bson_object_size, DEFAULT_MAX_BSON_OBJECT_SIZE);
        assert_eq!(s.max_message_size_bytes, DEFAULT_MAX_MESSAGE_SIZE_BYTES);
        assert_eq!(s.max_write_batch_size, DEFAULT_MAX_WRITE_BATCH_SIZE);
        assert!(!s.hello_ok);
        let id = ObjectId::new();
        let reply = doc! {
            "ok": 1, "helloOk": true, "maxWireVersion": 21, "minWireVersion": 0,
            "maxBsonObjectSize": 100, "maxMessageSizeBytes": 1000i64, "maxWriteBatchSize": 5.0,
            "logicalSessionTimeoutMinutes": 30, "serviceId": id, "connectionId": 7,
        };
        let s = StreamDescription::from_hello(address(), &reply, true).unwrap();
        assert_eq!(
            (s.max_wire_version, s.max_bson_object_size, s.max_message_size_bytes, s.max_write_batch_size),
            (21, 100, 1000, 5)
        );
        assert!(s.hello_ok);
        assert_eq!(s.server_type, ServerType::LoadBalancer);
        assert_eq!(s.service_id, Some(id));
        assert_eq!(s.server_connection_id, Some(7));
        assert_eq!(s.logical_session_timeout, Some(Duration::from_secs(1800)));
    }

    #[test]
    fn bad_fields_are_errors_not_panics() {
        for reply in [
            doc! {"ok": 1, "maxWireVersion": "17"},
            doc! {"ok": 1, "maxBsonObjectSize": -1},
            doc! {"ok": 1, "maxWireVersion": 1.5},
            doc! {"ok": 1, "maxWireVersion": i64::MAX},
            doc! {"ok": 1, "serviceId": 3},
        ] {
            let err = StreamDescription::from_hello(address(), &reply, false).unwrap_err();
            assert!(matches!(*err.kind, crate::ErrorKind::InvalidResponse { .. }), "{reply}: {err}");
        }
    }

    #[test]
    fn server_description_of_a_primary() {
        let election_id = ObjectId::new();
        let date = DateTime::from_millis(1_000);
        let reply = doc! {
            "ok": 1, "isWritablePrimary": true, "setName": "rs", "setVersion": 2,
            "hosts": ["A:1", "b:2"], "passives": ["c:3"], "arbiters": ["d:4"], "me": "a:1",
            "primary": "a:1", "electionId": election_id, "tags": {"dc": "ny"},
            "minWireVersion": 0, "maxWireVersion": 21, "logicalSessionTimeoutMinutes": 30,
            "topologyVersion": {"processId": ObjectId::new(), "counter": 0i64},
            "lastWrite": {"lastWriteDate": date},
        };
        let rtt = Some(Duration::from_millis(3));
        let s = server_description_from_hello(address(), &reply, rtt, false);
        assert_eq!(s.server_type, ServerType::RsPrimary);
        assert_eq!(s.hosts, [ServerAddress::new("a", 1), ServerAddress::new("b", 2)]);
        assert_eq!(s.passives, [ServerAddress::new("c", 3)]);
        assert_eq!(s.arbiters, [ServerAddress::new("d", 4)]);
        assert_eq!(s.me, Some(ServerAddress::new("a", 1)));
        assert_eq!(s.primary, Some(ServerAddress::new("a", 1)));
        assert_eq!(s.election_id, Some(election_id));
        assert_eq!(s.set_name.as_deref(), Some("rs"));
        assert_eq!(s.set_version, Some(2));
        assert_eq!(s.tags, TagSet::from([("dc", "ny")]));
        assert_eq!(s.max_wire_version, 21);
        assert_eq!(s.logical_session_timeout_minutes, Some(30));
        assert!(s.topology_version.is_some());
        assert_eq!(s.last_write_date, Some(date));
        assert_eq!(s.average_round_trip_time, rtt);
        assert!(s.last_update_time.is_some());
        assert!(s.error.is_none());
    }

    #[test]
    fn failed_reply_is_unknown_with_the_error() {
        let reply = doc! {"ok": 0, "code": 11600, "codeName": "InterruptedAtShutdown", "errmsg": "bye"};
        // Not a LoadBalancer either: the check failed.
        let s = server_description_from_hello(address(), &reply, Some(Duration::from_millis(1)), true);
        assert_eq!(s.server_type, ServerType::Unknown);
        assert_eq!(s.average_round_trip_time, None);
        assert!(s.error.unwrap().contains("bye"));
    }
}
