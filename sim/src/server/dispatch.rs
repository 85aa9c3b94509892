//! The command pipeline (mongod's command execution order): cluster-time gossip, sessions,
//! the `failCommand` fail point, role checks, read concern, retryable-write records, then the
//! command itself; the reply gets `ok`, error labels, `$clusterTime` and `operationTime`.

use std::sync::Arc;
use std::time::Duration;

use bson::{Bson, Document, Timestamp};

use super::cluster_time::cluster_time_document;
use super::errors::{
    Failure, LabelContext, RESUMABLE_CHANGE_STREAM_CODES, RESUMABLE_CHANGE_STREAM_ERROR, error_reply,
    server_labels,
};
use super::handshake::{self, ClientInfo};
use super::retryable::{Lookup, is_retryable_write};
use super::sessions::session_key;
use super::transactions::{Refusal, State};
use super::{Cluster, MAX_BSON_OBJECT_SIZE, Node, Role, admin, auth, legacy_auth, lock, read_concern};
use crate::config::Topology;
use crate::engine::{ExecContext, Store};

/// How long a router waits for the shard to elect a primary before failing a command.
const ROUTER_PRIMARY_WAIT: Duration = Duration::from_secs(10);

/// What the connection does after a command.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Send this reply.
    Reply(Document),
    /// Close the connection without a reply.
    Close,
}

/// One command as received.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The target database (`$db`).
    pub db: String,
    /// The command body; its first key names the command.
    pub cmd: Document,
    /// Whether reads may run on a secondary (`$readPreference` other than primary, or the
    /// legacy `secondaryOk` query flag).
    pub secondary_ok: bool,
}

impl Invocation {
    /// An invocation whose `secondary_ok` comes from `$readPreference`.
    pub fn new(db: impl Into<String>, cmd: Document, legacy_secondary_ok: bool) -> Self {
        let mode = cmd
            .get_document("$readPreference")
            .ok()
            .and_then(|rp| rp.get_str("mode").ok())
            .map(str::to_owned);
        let secondary_ok = legacy_secondary_ok || mode.is_some_and(|m| m != "primary");
        Self { db: db.into(), cmd, secondary_ok }
    }

    /// The command's name.
    pub fn name(&self) -> &str {
        self.cmd.keys().next().map_or("", String::as_str)
    }
}

/// `MaxTimeMSExpired`: a command's `maxTimeMS` passed.
const MAX_TIME_MS_EXPIRED: i32 = 50;

fn int64(v: Option<&Bson>) -> Option<i64> {
    match v {
        Some(Bson::Int64(i)) => Some(*i),
        Some(Bson::Int32(i)) => Some(i64::from(*i)),
        _ => None,
    }
}

/// Runs one command on `node` and returns what to send back; then wakes the change-stream
/// getMores awaiting new events (any command but a getMore may have written).
pub async fn run_command(
    cluster: &Arc<Cluster>,
    node: &Node,
    client: &mut ClientInfo,
    inv: Invocation,
) -> Outcome {
    let get_more = inv.name() == "getMore";
    let outcome = run_one(cluster, node, client, inv).await;
    if !get_more {
        cluster.changes.notify_waiters();
    }
    outcome
}

async fn run_one(cluster: &Arc<Cluster>, node: &Node, client: &mut ClientInfo, inv: Invocation) -> Outcome {
    let version = cluster.config.version;
    let name = inv.name().to_owned();
    let gossip = cluster.gossips_cluster_time();
    if gossip {
        if let Some(t) =
            inv.cmd.get_document("$clusterTime").ok().and_then(|c| c.get_timestamp("clusterTime").ok())
        {
            cluster.clock.advance_to(t);
        }
    }
    if let Ok(lsid) = inv.cmd.get_document("lsid") {
        cluster.sessions.touch(lsid);
    }
    let has_txn_number = inv.cmd.contains_key("txnNumber");
    let in_transaction = inv.cmd.contains_key("autocommit");
    let commit_or_abort = matches!(name.as_str(), "commitTransaction" | "abortTransaction");
    let labels = LabelContext {
        retryable_write: has_txn_number
            && is_retryable_write(&name, &inv.cmd)
            && !in_transaction
            && cluster.config.topology != Topology::Standalone,
        in_transaction: in_transaction && !commit_or_abort,
        commit_or_abort,
    };

    // The handshake's own metadata counts for an `appName` filter: mongod matches a fail
    // point on the very hello that first names the application.
    let app_name = client.app_name.clone().or_else(|| handshake_app_name(&name, &inv.cmd));
    let action = lock(&node.fail_points).check(&name, app_name.as_deref());
    let mut injected_wce = None;
    let mut labels_override = None;
    if let Some(action) = action {
        if let Some(block) = action.block {
            tokio::time::sleep(block).await;
            // mongod blocks inside the command, under its time limit: a block that outlasts
            // the command's maxTimeMS ends in MaxTimeMSExpired (getMore's maxTimeMS is an
            // await time, not a limit). Hello and the fail point's own commands have none.
            let limit = int64(inv.cmd.get("maxTimeMS"))
                .or_else(|| inv.cmd.get_f64("maxTimeMS").ok().map(|f| f as i64))
                .filter(|ms| *ms > 0);
            if let Some(ms) = limit
                && name != "getMore"
                && block >= Duration::from_millis(ms as u64)
                && action.error_code.is_none()
                && !action.close_connection
            {
                let failure = Failure::new(MAX_TIME_MS_EXPIRED, version, "operation exceeded time limit");
                let reply = error_reply(&failure, version, labels);
                return Outcome::Reply(with_cluster_time(cluster, reply, None));
            }
        }
        if action.close_connection {
            tracing::debug!(command = %name, "failCommand: closing connection");
            return Outcome::Close;
        }
        if let Some(code) = action.error_code {
            let mut failure = Failure::new(code, version, "Failing command via 'failCommand' failpoint");
            failure.labels = action.error_labels.clone();
            let mut reply = error_reply(&failure, version, labels);
            if let Some(extra) = action.extra_info {
                reply.insert("errorExtraInfo", extra);
            }
            with_topology_version(cluster, node, &mut reply);
            return Outcome::Reply(with_cluster_time(cluster, reply, None));
        }
        injected_wce = action.write_concern_error;
        labels_override = action.error_labels;
    }

    let mut close = false;
    let result = if let Err(failure) = super::api_version::check(&name, &inv.cmd, version) {
        Err(failure)
    } else if let Err(failure) = auth::check_authorized(&cluster.users, &client.auth, &name, version) {
        Err(failure)
    } else if handshake::is_hello(&name) {
        match handshake::hello(cluster, node, client, &name, &inv.cmd).await {
            Ok(mut d) => {
                auth::on_hello(&cluster.users, &mut client.auth, &inv.cmd, version, &mut d);
                Ok((d, None))
            }
            Err(e) => Err(e),
        }
    } else if name == "saslStart" {
        auth::sasl_start(&cluster.users, &mut client.auth, &inv.db, &inv.cmd, version).map(|d| (d, None))
    } else if name == "authenticate" {
        auth::authenticate(&cluster.users, &mut client.auth, &inv.db, &inv.cmd, version).map(|d| (d, None))
    } else if name == "saslContinue" {
        auth::sasl_continue(&mut client.auth, &inv.cmd, version).map(|d| (d, None))
    } else if legacy_auth::handles(&name, version) {
        Ok((legacy_auth::getnonce(), None))
    } else if admin::is_admin_command(&name) {
        admin::run(cluster, node, &inv.db, &name, &inv.cmd, &mut close).map(|d| (d, None))
    } else if commit_or_abort {
        end_transaction(cluster, node, &name, &inv).await
    } else if Store::handles(&name) {
        data_command(cluster, node, &name, &inv, &mut close).await
    } else {
        Err(Failure::new(59, version, format!("no such command: '{name}'")))
    };
    if close {
        return Outcome::Close;
    }
    let (reply, op_time) = match result {
        Ok((mut body, op_time)) => {
            let wce_code = injected_wce.as_ref().and_then(|w| int64(w.get("code"))).map(|c| c as i32);
            if let Some(wce) = injected_wce {
                body.insert("writeConcernError", wce);
            }
            body.insert("ok", 1.0);
            let added = match (&labels_override, wce_code) {
                (Some(labels), Some(_)) => labels.clone(),
                _ => server_labels(version, labels, None, wce_code),
            };
            if !added.is_empty() {
                body.insert("errorLabels", added);
            }
            (body, op_time)
        }
        Err(failure) => (error_reply(&failure, version, labels), None),
    };
    let mut reply = reply;
    with_topology_version(cluster, node, &mut reply);
    Outcome::Reply(with_cluster_time(cluster, reply, op_time))
}

/// The NotPrimary codes whose replies carry the node's `topologyVersion` from 4.4 on
/// (InterruptedDueToReplStateChange, NotWritablePrimary, NotPrimaryNoSecondaryOk,
/// NotPrimaryOrSecondary, PrimarySteppedDown), as the command's code or its
/// `writeConcernError`'s; shutdown errors carry it only in quiesce mode, which the simulator
/// does not model (server jstest `replsets/notprimary_errors_return_topology_version.js`).
pub const NOT_PRIMARY_CODES: [i32; 5] = [11602, 10107, 13435, 13436, 189];

/// Adds the node's `topologyVersion` to a NotPrimary error reply of a 4.4+ mongod, so that a
/// driver can tell a stale error from a fresh one (SDAM "topologyVersion").
fn with_topology_version(cluster: &Cluster, node: &Node, reply: &mut Document) {
    if !cluster.config.version.supports_awaitable_hello() || node.role == Role::Router {
        return;
    }
    let code = |d: &Document| int64(d.get("code")).map(|c| c as i32);
    let not_primary = |c: Option<i32>| c.is_some_and(|c| NOT_PRIMARY_CODES.contains(&c));
    let failed = reply.get_f64("ok").is_ok_and(|ok| ok == 0.0) && not_primary(code(reply));
    let wce = reply.get_document("writeConcernError").is_ok_and(|w| not_primary(code(w)));
    if failed || wce {
        reply.insert("topologyVersion", node.topology_version());
    }
}

/// Appends `$clusterTime` and `operationTime` on replica sets and routers.
fn with_cluster_time(cluster: &Cluster, mut reply: Document, op_time: Option<Timestamp>) -> Document {
    if cluster.gossips_cluster_time() {
        let now = cluster.clock.now();
        reply.insert("$clusterTime", cluster_time_document(now));
        reply.insert("operationTime", op_time.unwrap_or(now));
    }
    reply
}

/// Runs a data command through the engine; returns the reply and the write's time.
async fn data_command(
    cluster: &Arc<Cluster>,
    node: &Node,
    name: &str,
    inv: &Invocation,
    close: &mut bool,
) -> Result<(Document, Option<Timestamp>), Failure> {
    let version = cluster.config.version;
    let topology = cluster.config.topology;
    let cmd = &inv.cmd;
    let is_write = Store::is_write_command(cmd);
    let lsid = cmd.get_document("lsid").ok().cloned();
    let txn_number = int64(cmd.get("txnNumber"));
    if cmd.contains_key("txnNumber") {
        if topology == Topology::Standalone {
            return Err(Failure::new(
                20,
                version,
                "Transaction numbers are only allowed on a replica set member or mongos",
            ));
        }
        if txn_number.is_none() {
            return Err(Failure::new(14, version, "txnNumber must be a 64-bit integer"));
        }
        if lsid.is_none() {
            return Err(Failure::new(
                72,
                version,
                "Transaction number requires a session ID to also be specified",
            ));
        }
        if !cmd.contains_key("autocommit") && !is_retryable_write(name, cmd) {
            return Err(Failure::new(
                50768,
                version,
                format!(
                    "txnNumber may only be provided for multi-document transactions and retryable write commands. \
                     autocommit:false was not provided, and {name} is not a retryable write command."
                ),
            ));
        }
    }
    match node.role {
        Role::Member(i) if !cluster.is_writable(Role::Member(i)) => {
            let primary = version.uses_primary_vocabulary();
            // 5.0+ secondaries run a pipeline with a write stage ($out/$merge) when reads
            // may go to them, writing through the primary (one shared store here).
            let secondary_write_stage =
                name == "aggregate" && inv.secondary_ok && version >= crate::ServerVersion::V5_0;
            if is_write && !secondary_write_stage {
                return Err(Failure::new(10107, version, if primary { "not primary" } else { "not master" }));
            }
            if !inv.secondary_ok && !matches!(name, "getMore" | "killCursors") {
                let msg = if primary {
                    "not primary and secondaryOk=false"
                } else {
                    "not master and slaveOk=false"
                };
                return Err(Failure::new(13435, version, msg));
            }
        }
        Role::Router if !cluster.wait_for_primary(ROUTER_PRIMARY_WAIT).await => {
            return Err(Failure::new(
                133,
                version,
                format!(
                    "Could not find host matching read preference {{ mode: \"primary\" }} for set {}",
                    cluster.config.set_name
                ),
            ));
        }
        _ => {}
    }
    if cmd.contains_key("autocommit") {
        return transaction_statement(cluster, node, name, inv, txn_number, lsid.as_ref()).await;
    }
    if name == "getMore" {
        check_get_more_session(cluster, cmd, lsid.as_ref())?;
        get_more_after_checkout(cluster, node, cmd, close)?;
    }
    if topology == Topology::Standalone && name == "aggregate" && read_concern::opens_change_stream(cmd) {
        return Err(Failure::new(
            40573,
            version,
            "The $changeStream stage is only supported on replica sets",
        ));
    }
    let rc = read_concern::parse(cmd, name, topology, version)?;
    if let Some(after) = rc.after_cluster_time {
        cluster.clock.advance_to(after);
    }
    let read_at = rc.is_snapshot().then(|| rc.at_cluster_time.unwrap_or_else(|| cluster.clock.now()));
    let write_time = is_write.then(|| cluster.clock.tick());
    let ctx = ExecContext {
        write_time,
        read_at,
        lsid: lsid.clone(),
        max_bson_size: MAX_BSON_OBJECT_SIZE,
        max_wire_version: version.max_wire_version(),
        router: node.role == Role::Router,
    };
    // A write command the engine refuses still waits for (and reports) its write concern.
    let with_wce = |e: crate::engine::CommandError| {
        let mut failure = Failure::from(e);
        if is_write {
            failure.write_concern_error = unsatisfiable_write_concern(cluster, cmd).map(Box::new);
        }
        failure
    };
    let mut reply = match (txn_number, &lsid) {
        (Some(txn), Some(lsid)) => {
            let key = session_key(lsid);
            let mut records = lock(&cluster.retryable);
            match records.lookup(&key, txn) {
                Lookup::Replay(reply) => reply,
                Lookup::TooOld { newest } => {
                    return Err(Failure::new(
                        225,
                        version,
                        format!(
                            "Retryable write with txnNumber {txn} is prohibited on session because a newer retryable \
                             write with txnNumber {newest} has already started on this session."
                        ),
                    ));
                }
                Lookup::Execute => {
                    if let Some(fp) = lock(&node.fail_points).check_transactional_write() {
                        *close = fp.close_connection;
                        if let Some(code) = fp.fail_before_commit {
                            let msg = "Failing write for test due to failBeforeCommitExceptionCode";
                            return Err(Failure::new(code, version, msg));
                        }
                    }
                    let reply = lock(&cluster.store).run(&inv.db, cmd, &ctx).map_err(with_wce)?;
                    records.record(key, txn, reply.clone());
                    reply
                }
            }
        }
        _ if name == "getMore" => await_get_more(cluster, &inv.db, cmd, &ctx).await?,
        _ => lock(&cluster.store).run(&inv.db, cmd, &ctx).map_err(with_wce)?,
    };
    if let Some(at) = read_at {
        read_concern::stamp_snapshot_reply(&mut reply, at);
    }
    if is_write {
        if let Some(wce) = unsatisfiable_write_concern(cluster, cmd) {
            reply.insert("writeConcernError", wce);
        }
    }
    Ok((reply, write_time))
}

/// The `failGetMoreAfterCursorCheckout` fail point: a getMore whose cursor exists fails
/// with `data.errorCode` (its cursor is gone afterwards) or closes the connection. On 4.4+ a
/// change stream's failure with a resumable code is labelled `ResumableChangeStreamError`.
fn get_more_after_checkout(
    cluster: &Cluster,
    node: &Node,
    cmd: &Document,
    close: &mut bool,
) -> Result<(), Failure> {
    let version = cluster.config.version;
    let Some(id) = int64(cmd.get("getMore")) else { return Ok(()) };
    let Some(is_stream) = lock(&cluster.store).cursor_is_stream(id) else { return Ok(()) };
    let Some(action) = lock(&node.fail_points).check_get_more_after_checkout() else { return Ok(()) };
    if action.close_connection {
        *close = true;
        return Ok(());
    }
    let Some(code) = action.error_code else { return Ok(()) };
    lock(&cluster.store).kill_cursor(id);
    let mut failure =
        Failure::new(code, version, "Failing getMore via 'failGetMoreAfterCursorCheckout' failpoint");
    if is_stream && version >= crate::ServerVersion::V4_4 && RESUMABLE_CHANGE_STREAM_CODES.contains(&code) {
        failure.labels = Some(vec![RESUMABLE_CHANGE_STREAM_ERROR.to_owned()]);
    }
    Err(failure)
}

/// A getMore; on a change stream with `maxTimeMS`, an empty batch waits (without polling:
/// woken by [`Cluster::changes`]) for new events until that time has passed, as mongod's
/// awaitData cursors do.
async fn await_get_more(
    cluster: &Cluster,
    db: &str,
    cmd: &Document,
    ctx: &ExecContext,
) -> Result<Document, Failure> {
    let id = int64(cmd.get("getMore"));
    let awaits = id.is_some_and(|id| lock(&cluster.store).cursor_is_stream(id) == Some(true));
    let max_time = int64(cmd.get("maxTimeMS")).or_else(|| cmd.get_f64("maxTimeMS").ok().map(|f| f as i64));
    let deadline = match max_time {
        Some(ms) if awaits && ms > 0 => tokio::time::Instant::now() + Duration::from_millis(ms as u64),
        _ => return Ok(lock(&cluster.store).run(db, cmd, ctx)?),
    };
    loop {
        let notified = cluster.changes.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let reply = lock(&cluster.store).run(db, cmd, ctx)?;
        let empty = reply
            .get_document("cursor")
            .ok()
            .and_then(|c| c.get_array("nextBatch").ok())
            .is_none_or(|b| b.is_empty());
        if !empty || tokio::time::timeout_at(deadline, notified).await.is_err() {
            return Ok(reply);
        }
    }
}

/// A getMore must come from the session its cursor was opened in (mongod 50737/50738).
fn check_get_more_session(cluster: &Cluster, cmd: &Document, lsid: Option<&Document>) -> Result<(), Failure> {
    let version = cluster.config.version;
    let Some(id) = int64(cmd.get("getMore")) else { return Ok(()) };
    let store = lock(&cluster.store);
    let Some(Some(owner)) = store.cursor_lsid(id) else { return Ok(()) };
    let owner_id = owner.get("id").cloned().unwrap_or(Bson::Null);
    match lsid {
        None => Err(Failure::new(
            50737,
            version,
            format!(
                "Cannot run getMore on cursor {id}, which was created in session {owner_id}, without an lsid"
            ),
        )),
        Some(l) if l.get("id") != owner.get("id") => Err(Failure::new(
            50738,
            version,
            format!(
                "Cannot run getMore on cursor {id}, which was created in session {owner_id}, in session {}",
                l.get("id").cloned().unwrap_or(Bson::Null)
            ),
        )),
        Some(_) => Ok(()),
    }
}

/// The `writeConcernError` mongod reports for a `w` the replica set cannot satisfy.
fn unsatisfiable_write_concern(cluster: &Cluster, cmd: &Document) -> Option<Document> {
    if cluster.config.topology == Topology::Standalone {
        return None;
    }
    let version = cluster.config.version;
    let members = cluster.member_hosts().len() as i64;
    let error = |code: i32, msg: String| {
        Some(bson::doc! { "code": code, "codeName": super::errors::code_name(code, version), "errmsg": msg })
    };
    match cmd.get_document("writeConcern").ok()?.get("w")? {
        Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) => {
            let w = int64(cmd.get_document("writeConcern").ok()?.get("w")).unwrap_or(1);
            (w > members).then(|| error(100, "Not enough data-bearing nodes".to_owned())).flatten()
        }
        Bson::String(mode) if mode != "majority" => {
            error(79, format!("No write concern mode named '{mode}' found in replica set configuration"))
        }
        _ => None,
    }
}

fn refusal(r: Refusal, txn: i64, version: crate::ServerVersion) -> Failure {
    match r {
        Refusal::TooOld(newest) => Failure::new(
            225,
            version,
            format!(
                "Cannot start transaction {txn} on session because a newer transaction {newest} has already started."
            ),
        ),
        Refusal::NoSuchTransaction(msg) => Failure::new(251, version, msg),
        Refusal::AlreadyStarted => {
            Failure::new(251, version, format!("Transaction with txnNumber {txn} has already been started."))
        }
        Refusal::Committed => Failure::new(256, version, format!("Transaction {txn} has been committed.")),
    }
}

/// Checks what every transaction command needs: a replica set (4.0+) or router (4.2+), a
/// session, `txnNumber` and `autocommit: false`.
fn transaction_key(
    cluster: &Cluster,
    name: &str,
    cmd: &Document,
    txn_number: Option<i64>,
    lsid: Option<&Document>,
) -> Result<(Vec<u8>, i64), Failure> {
    let version = cluster.config.version;
    if cluster.config.topology == Topology::Standalone {
        return Err(Failure::new(
            20,
            version,
            "Transaction numbers are only allowed on a replica set member or mongos",
        ));
    }
    if version < crate::ServerVersion::V4_0
        || (cluster.config.topology == Topology::Sharded && version < crate::ServerVersion::V4_2)
    {
        return Err(Failure::new(
            20,
            version,
            "Multi-document transactions are not supported by this server version",
        ));
    }
    if cmd.get("autocommit") != Some(&Bson::Boolean(false)) {
        return Err(Failure::new(72, version, format!("{name}: autocommit must be false when present")));
    }
    match (txn_number, lsid) {
        (Some(txn), Some(lsid)) => Ok((session_key(lsid), txn)),
        _ => Err(Failure::new(
            72,
            version,
            format!("'{name}' in a multi-document transaction needs lsid and txnNumber"),
        )),
    }
}

/// Runs one statement of a multi-document transaction (starting it on `startTransaction`).
async fn transaction_statement(
    cluster: &Arc<Cluster>,
    node: &Node,
    name: &str,
    inv: &Invocation,
    txn_number: Option<i64>,
    lsid: Option<&Document>,
) -> Result<(Document, Option<Timestamp>), Failure> {
    let version = cluster.config.version;
    let cmd = &inv.cmd;
    let (key, txn) = transaction_key(cluster, name, cmd, txn_number, lsid)?;
    if let Some(after) =
        cmd.get_document("readConcern").ok().and_then(|rc| rc.get_timestamp("afterClusterTime").ok())
    {
        cluster.clock.advance_to(after);
    }
    let write_time = Store::is_write_command(cmd).then(|| cluster.clock.tick());
    let ctx = ExecContext {
        write_time,
        read_at: None,
        lsid: lsid.cloned(),
        max_bson_size: MAX_BSON_OBJECT_SIZE,
        max_wire_version: version.max_wire_version(),
        router: node.role == Role::Router,
    };
    let start = cmd.get_bool("startTransaction").unwrap_or(false);
    let mut txns = lock(&cluster.transactions);
    let mut store = lock(&cluster.store);
    txns.check(&key, txn, start, || store.begin_transaction()).map_err(|r| refusal(r, txn, version))?;
    if start && node.role == Role::Router {
        txns.started_on(&key, &node.host);
    }
    let Some(transaction) = txns.in_progress(&key) else {
        return Err(refusal(
            Refusal::NoSuchTransaction(format!("Transaction {txn} is not in progress.")),
            txn,
            version,
        ));
    };
    match store.run_in_transaction(transaction, &inv.db, cmd, &ctx) {
        Ok(reply) => {
            if reply.get_array("writeErrors").is_ok_and(|e| !e.is_empty()) {
                txns.finish(&key, State::Aborted);
            }
            let mut reply = reply;
            if cluster.config.topology == Topology::Sharded {
                // mongos hands out a recovery token for the transaction's commit.
                reply.insert("recoveryToken", bson::doc! { "recoveryShardId": "shard0" });
            }
            Ok((reply, write_time))
        }
        Err(e) => {
            txns.finish(&key, State::Aborted);
            Err(e.into())
        }
    }
}

/// `commitTransaction` / `abortTransaction`.
async fn end_transaction(
    cluster: &Arc<Cluster>,
    node: &Node,
    name: &str,
    inv: &Invocation,
) -> Result<(Document, Option<Timestamp>), Failure> {
    let version = cluster.config.version;
    if inv.db != "admin" {
        return Err(Failure::new(13, version, format!("{name} may only be run against the admin database.")));
    }
    match node.role {
        Role::Member(i) if !cluster.is_writable(Role::Member(i)) => {
            let msg = if version.uses_primary_vocabulary() { "not primary" } else { "not master" };
            return Err(Failure::new(10107, version, msg));
        }
        Role::Router if !cluster.wait_for_primary(ROUTER_PRIMARY_WAIT).await => {
            return Err(Failure::new(133, version, "Could not find a primary for the transaction"));
        }
        _ => {}
    }
    let lsid = inv.cmd.get_document("lsid").ok();
    let (key, txn) = transaction_key(cluster, name, &inv.cmd, int64(inv.cmd.get("txnNumber")), lsid)?;
    let mut txns = lock(&cluster.transactions);
    if let Some(newest) = txns.latest(&key).filter(|n| *n > txn) {
        return Err(refusal(Refusal::TooOld(newest), txn, version));
    }
    let no_such = |what: &str| Failure::new(251, version, format!("Transaction {txn} {what}"));
    let commit = name == "commitTransaction";
    // A commit or abort that took effect still waits for its write concern, which mongod
    // reports as a `writeConcernError` beside `ok: 1` when the set cannot satisfy it.
    let with_write_concern = |(mut body, ts): (Document, Option<Timestamp>)| {
        if let Some(wce) = unsatisfiable_write_concern(cluster, &inv.cmd) {
            body.insert("writeConcernError", wce);
        }
        (body, ts)
    };
    // Another router than the one that ran the transaction commits from the recovery token:
    // it asks the shard for the commit decision, and when none was made (the transaction is
    // still in progress) the transaction is aborted and the commit answers NoSuchTransaction.
    let elsewhere = node.role == Role::Router && txns.router(&key, txn).is_some_and(|r| r != node.host);
    if commit && elsewhere && matches!(txns.state(&key, txn), Some(State::InProgress(_))) {
        txns.finish(&key, State::Aborted);
        return Err(no_such("has been aborted: no commit decision was made."));
    }
    let result = match txns.state(&key, txn) {
        None => Err(no_such("does not match any in-progress transactions.")),
        Some(State::Aborted) => Err(no_such("has been aborted.")),
        Some(State::Committed) if commit => Ok((Document::new(), None)),
        Some(State::Committed) => Err(refusal(Refusal::Committed, txn, version)),
        Some(State::InProgress(_)) if !commit => {
            txns.finish(&key, State::Aborted);
            Ok((Document::new(), None))
        }
        Some(State::InProgress(_)) => {
            let Some(transaction) = txns.take(&key) else { return Err(no_such("is not in progress.")) };
            let ts = cluster.clock.tick();
            let result = lock(&cluster.store).commit_transaction(&transaction, ts);
            match result {
                Ok(()) => {
                    txns.finish(&key, State::Committed);
                    Ok((Document::new(), Some(ts)))
                }
                Err(e) => Err(e.into()),
            }
        }
    };
    result.map(with_write_concern)
}

/// The application name a handshake command (`hello`/`isMaster`) declares in its `client` metadata.
fn handshake_app_name(name: &str, cmd: &Document) -> Option<String> {
    if !matches!(name, "hello" | "isMaster" | "ismaster") {
        return None;
    }
    let application = cmd.get_document("client").ok()?.get_document("application").ok()?;
    application.get_str("name").ok().map(str::to_owned)
}
