//! The handshake and monitoring command (MongoDB handshake spec; SDAM spec: `hello`,
//! legacy `isMaster`, awaitable `hello` with `topologyVersion` and `maxAwaitTimeMS`; load
//! balancer spec: `serviceId` for connections through a load balancer).

use std::time::Duration;

use bson::{Bson, DateTime, Document, doc};

use super::errors::Failure;
use super::replica_set::election_id;
use super::{Cluster, MAX_BSON_OBJECT_SIZE, MAX_MESSAGE_SIZE, MAX_WRITE_BATCH_SIZE, Node, Role};

/// Whether `name` is a handshake command.
pub fn is_hello(name: &str) -> bool {
    matches!(name, "hello" | "isMaster" | "ismaster")
}

/// What the handshake learns about a connection.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    /// `connectionId`.
    pub connection_id: i64,
    /// `client.application.name` of the first `hello`.
    pub app_name: Option<String>,
    /// Whether client metadata was received (it may be sent only once).
    pub metadata_seen: bool,
    /// Authentication state (SCRAM conversation, authenticated user).
    pub auth: super::auth::Session,
    /// Whether the connection arrived through a load balancer.
    pub from_load_balancer: bool,
    /// Whether the load-balanced handshake (`serviceId` sent) is done.
    pub load_balanced_hello_done: bool,
}

fn number(v: &Bson) -> Option<i64> {
    match v {
        Bson::Int32(i) => Some(i64::from(*i)),
        Bson::Int64(i) => Some(*i),
        Bson::Double(d) => Some(*d as i64),
        _ => None,
    }
}

/// Runs `hello`/`isMaster`: records client metadata, waits if the client's topology version is
/// current (awaitable hello), then describes the node.
pub async fn hello(
    cluster: &Cluster,
    node: &Node,
    client: &mut ClientInfo,
    name: &str,
    cmd: &Document,
) -> Result<Document, Failure> {
    let version = cluster.config.version;
    if name == "hello" && !version.supports_hello() {
        return Err(Failure::new(59, version, "no such command: 'hello'"));
    }
    if let Ok(meta) = cmd.get_document("client") {
        if client.metadata_seen {
            return Err(Failure::new(
                186,
                version,
                "The client metadata document may only be sent in the first hello",
            ));
        }
        client.metadata_seen = true;
        client.app_name =
            meta.get_document("application").ok().and_then(|a| a.get_str("name").ok()).map(str::to_owned);
    }
    if version.supports_awaitable_hello() {
        await_topology_change(node, cmd, version).await?;
    }
    let mut reply = describe(cluster, node, client, name, cmd);
    if client.from_load_balancer && !client.load_balanced_hello_done {
        // mongos behind a load balancer: the first hello must declare load balancing, and
        // only that one reports the service (a later `loadBalanced` is ignored; without a
        // load balancer it is ignored too).
        if !cmd.get_bool("loadBalanced").unwrap_or(false) {
            return Err(Failure::new(
                354,
                version,
                "The server is being accessed through a load balancer, but this driver does not have \
                 load balancing enabled",
            ));
        }
        client.load_balanced_hello_done = true;
        reply.insert("serviceId", node.process_id);
    }
    Ok(reply)
}

/// Awaitable `hello` (mongod's `hello` command and `awaitHelloResponse`): `topologyVersion`
/// and `maxAwaitTimeMS` come together or not at all (31368), with a non-negative counter
/// (31372) and await time (31373), and a counter no greater than the node's (31382). When the
/// client's version is the node's current one, waits until it changes or `maxAwaitTimeMS`
/// passes; another `processId` (a restarted server) or an older counter answers at once.
async fn await_topology_change(
    node: &Node,
    cmd: &Document,
    version: crate::ServerVersion,
) -> Result<(), Failure> {
    let (tv, max_await) = match (cmd.get("topologyVersion"), cmd.get("maxAwaitTimeMS")) {
        (None, None) => return Ok(()),
        (Some(tv), Some(max_await)) => (tv, max_await),
        (Some(_), None) => {
            return Err(Failure::new(
                31368,
                version,
                "A request with a 'topologyVersion' must include 'maxAwaitTimeMS'",
            ));
        }
        (None, Some(_)) => {
            return Err(Failure::new(
                31368,
                version,
                "A request with 'maxAwaitTimeMS' must include a 'topologyVersion'",
            ));
        }
    };
    let Some(max_await) = number(max_await) else {
        return Err(Failure::new(14, version, format!("maxAwaitTimeMS must be a number, not {max_await}")));
    };
    if max_await < 0 {
        return Err(Failure::new(31373, version, "maxAwaitTimeMS must be a non-negative integer"));
    }
    let Bson::Document(tv) = tv else {
        return Err(Failure::new(14, version, format!("topologyVersion must be an object, not {tv}")));
    };
    let (Ok(process_id), Some(counter)) = (tv.get_object_id("processId"), tv.get("counter").and_then(number))
    else {
        return Err(Failure::new(
            40414,
            version,
            "topologyVersion needs an ObjectId processId and an integer counter",
        ));
    };
    if counter < 0 {
        return Err(Failure::new(31372, version, "topologyVersion must have a non-negative counter"));
    }
    let mut rx = node.topology_counter.subscribe();
    let current = *rx.borrow_and_update();
    if process_id != node.process_id {
        return Ok(());
    }
    if counter > current {
        return Err(Failure::new(
            31382,
            version,
            format!(
                "Received a topology version with counter: {counter} which is greater than the server topology \
                 version counter: {current}"
            ),
        ));
    }
    if counter == current {
        let wait = Duration::from_millis(max_await as u64);
        let _ = tokio::time::timeout(wait, rx.changed()).await;
    }
    Ok(())
}

/// The `hello` reply of `node` right now.
pub fn describe(cluster: &Cluster, node: &Node, client: &ClientInfo, name: &str, cmd: &Document) -> Document {
    let version = cluster.config.version;
    let mut reply = Document::new();
    if version.supports_awaitable_hello() {
        reply.insert("topologyVersion", node.topology_version());
    }
    let writable_key = if name == "hello" { "isWritablePrimary" } else { "ismaster" };
    match node.role {
        Role::Standalone => {
            reply.insert(writable_key, true);
        }
        Role::Router => {
            reply.insert(writable_key, true);
            reply.insert("msg", "isdbgrid");
        }
        Role::Member(i) => {
            let state = cluster.replica_set.as_ref().map(|rs| rs.state());
            let primary = state.as_ref().and_then(|s| s.primary);
            let hosts = cluster.member_hosts();
            reply.insert("hosts", hosts.clone());
            reply.insert("setName", cluster.config.set_name.clone());
            reply.insert("setVersion", state.as_ref().map_or(1, |s| s.set_version) as i32);
            reply.insert(writable_key, primary == Some(i));
            reply.insert("secondary", primary != Some(i));
            if let Some(p) = primary.and_then(|p| hosts.get(p)) {
                reply.insert("primary", p.clone());
            }
            if let Some(tags) = cluster.config.member_tags.get(i).filter(|t| !t.is_empty()) {
                reply.insert("tags", tags.clone());
            }
            reply.insert("me", node.host.clone());
            let term = state.as_ref().map_or(1, |s| s.term);
            if primary == Some(i) {
                reply.insert("electionId", election_id(term));
            }
            let last = cluster.clock.now();
            let date = DateTime::from_millis(i64::from(last.time) * 1000);
            let op_time = doc! { "ts": last, "t": term };
            reply.insert(
                "lastWrite",
                doc! { "opTime": op_time.clone(), "lastWriteDate": date, "majorityOpTime": op_time, "majorityWriteDate": date },
            );
        }
    }
    if version.supports_hello() && cmd.get_bool("helloOk").unwrap_or(false) {
        reply.insert("helloOk", true);
    }
    reply.insert("maxBsonObjectSize", MAX_BSON_OBJECT_SIZE as i32);
    reply.insert("maxMessageSizeBytes", MAX_MESSAGE_SIZE as i32);
    reply.insert("maxWriteBatchSize", MAX_WRITE_BATCH_SIZE);
    reply.insert("localTime", DateTime::now());
    reply.insert("logicalSessionTimeoutMinutes", 30);
    if version.reports_connection_id() {
        reply.insert("connectionId", client.connection_id);
    }
    if let Some(common) = cmd.get_array("compression").ok().and_then(|c| crate::compression::negotiate(c)) {
        reply.insert("compression", common);
    }
    reply.insert("minWireVersion", 0);
    reply.insert("maxWireVersion", version.max_wire_version());
    reply.insert("readOnly", false);
    reply
}
