//! Administrative and diagnostic commands the server layer answers itself (`ping`,
//! `buildInfo`, `serverStatus`, sessions, parameters, fail points, replica-set control).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bson::{Bson, DateTime, Document, doc};

use super::errors::Failure;
use super::replica_set::RefusedBecause;
use super::{Cluster, MAX_BSON_OBJECT_SIZE, MAX_CONNECTIONS, Node, Role, lock};

/// Commands answered here rather than by the data engine.
const COMMANDS: [&str; 20] = [
    "ping",
    "buildInfo",
    "buildinfo",
    "serverStatus",
    "endSessions",
    "killSessions",
    "killAllSessions",
    "refreshSessions",
    "getParameter",
    "setParameter",
    "hostInfo",
    "getCmdLineOpts",
    "isdbgrid",
    "configureFailPoint",
    "replSetStepDown",
    "replSetFreeze",
    "replSetGetStatus",
    "connectionStatus",
    "listCommands",
    "getFreeMonitoringStatus",
];

/// Commands that must be sent to the `admin` database.
const ADMIN_ONLY: [&str; 7] = [
    "configureFailPoint",
    "replSetStepDown",
    "replSetFreeze",
    "replSetGetStatus",
    "getParameter",
    "setParameter",
    "getCmdLineOpts",
];

/// Whether the server layer answers `name` itself.
pub fn is_admin_command(name: &str) -> bool {
    COMMANDS.contains(&name)
}

fn seconds(v: Option<&Bson>, default: f64) -> f64 {
    match v {
        Some(Bson::Int32(i)) => f64::from(*i),
        Some(Bson::Int64(i)) => *i as f64,
        Some(Bson::Double(d)) => *d,
        _ => default,
    }
}

/// Runs an administrative command. Sets `close_connection` when the connection must close
/// after it (a step-down on 4.0 and older closes every client connection).
pub fn run(
    cluster: &Arc<Cluster>,
    node: &Node,
    db: &str,
    name: &str,
    cmd: &Document,
    close_connection: &mut bool,
) -> Result<Document, Failure> {
    let version = cluster.config.version;
    if ADMIN_ONLY.contains(&name) && db != "admin" {
        return Err(Failure::new(13, version, format!("{name} may only be run against the admin database.")));
    }
    match name {
        "ping" | "getFreeMonitoringStatus" => Ok(Document::new()),
        "buildInfo" | "buildinfo" => Ok(doc! {
            "version": version.version_string(),
            "gitVersion": "mongo-sim",
            "versionArray": [i32::from(version.major), i32::from(version.minor), 0, 0],
            "bits": 64,
            "debug": false,
            "maxBsonObjectSize": MAX_BSON_OBJECT_SIZE as i32,
            "storageEngines": ["wiredTiger"],
            "modules": [],
            "javascriptEngine": "none",
        }),
        "serverStatus" => {
            let current = node.connections.current.load(Ordering::SeqCst);
            let uptime = cluster.started.elapsed();
            Ok(doc! {
                "host": node.host.clone(),
                "version": version.version_string(),
                "process": if node.role == Role::Router { "mongos" } else { "mongod" },
                "pid": i64::from(std::process::id()),
                "uptime": uptime.as_secs_f64(),
                "uptimeMillis": uptime.as_millis() as i64,
                "localTime": DateTime::now(),
                "connections": {
                    "current": current as i32,
                    "available": (MAX_CONNECTIONS - current) as i32,
                    "totalCreated": node.connections.total_created.load(Ordering::SeqCst) as i64,
                    "active": 1,
                },
                "logicalSessionRecordCache": { "activeSessionsCount": cluster.sessions.count() as i32 },
                "network": { "compression": node.compression.to_document() },
            })
        }
        "endSessions" | "killSessions" => {
            let ids = cmd
                .get_array(name)
                .map_err(|_| Failure::new(14, version, format!("{name} must be an array")))?;
            cluster.sessions.end(ids);
            let mut txns = lock(&cluster.transactions);
            for lsid in ids.iter().filter_map(Bson::as_document) {
                txns.abort(&super::sessions::session_key(lsid));
            }
            let mut store = lock(&cluster.store);
            for lsid in ids.iter().filter_map(Bson::as_document) {
                store.kill_session_cursors(lsid);
            }
            Ok(Document::new())
        }
        "refreshSessions" => {
            for lsid in cmd.get_array(name).map(|a| a.as_slice()).unwrap_or_default() {
                if let Bson::Document(lsid) = lsid {
                    cluster.sessions.touch(lsid);
                }
            }
            Ok(Document::new())
        }
        "killAllSessions" => {
            let lsids = cluster.sessions.clear();
            lock(&cluster.transactions).abort_all();
            let mut store = lock(&cluster.store);
            for lsid in &lsids {
                store.kill_session_cursors(lsid);
            }
            Ok(Document::new())
        }
        "getParameter" => get_parameter(node, cmd, version),
        "setParameter" => set_parameter(node, cmd, version),
        "hostInfo" => Ok(doc! {
            "system": {
                "currentTime": DateTime::now(),
                "hostname": node.host.clone(),
                "cpuAddrSize": 64,
                "numCores": std::thread::available_parallelism().map_or(1, |n| n.get() as i32),
            },
            "os": { "type": std::env::consts::OS, "name": std::env::consts::OS },
            "extra": {},
        }),
        "getCmdLineOpts" => {
            let port = node.host.rsplit(':').next().and_then(|p| p.parse::<i32>().ok()).unwrap_or(0);
            let mut parsed = doc! { "net": { "bindIp": "127.0.0.1", "port": port } };
            if matches!(node.role, Role::Member(_)) {
                parsed.insert("replication", doc! { "replSet": cluster.config.set_name.clone() });
            }
            Ok(
                doc! { "argv": [if node.role == Role::Router { "mongos" } else { "mongod" }], "parsed": parsed },
            )
        }
        "isdbgrid" if node.role == Role::Router => Ok(doc! { "isdbgrid": 1, "hostname": node.host.clone() }),
        "isdbgrid" => Err(Failure::new(59, version, "no such command: 'isdbgrid'")),
        "configureFailPoint" => {
            let count = lock(&node.fail_points).configure(cmd)?;
            Ok(doc! { "count": count })
        }
        "connectionStatus" => {
            Ok(doc! { "authInfo": { "authenticatedUsers": [], "authenticatedUserRoles": [] } })
        }
        "listCommands" => {
            let mut commands = Document::new();
            for c in COMMANDS {
                commands.insert(c, doc! {});
            }
            Ok(doc! { "commands": commands })
        }
        "replSetStepDown" | "replSetFreeze" | "replSetGetStatus" => {
            replica_set_command(cluster, node, name, cmd, close_connection)
        }
        other => Err(Failure::new(59, version, format!("no such command: '{other}'"))),
    }
}

fn replica_set_command(
    cluster: &Arc<Cluster>,
    node: &Node,
    name: &str,
    cmd: &Document,
    close_connection: &mut bool,
) -> Result<Document, Failure> {
    let version = cluster.config.version;
    let member = match (node.role, &cluster.replica_set) {
        (Role::Member(i), Some(_)) => i,
        (Role::Router, _) => return Err(Failure::new(59, version, format!("no such command: '{name}'"))),
        _ => return Err(Failure::new(76, version, "not running with --replSet")),
    };
    let Some(rs) = &cluster.replica_set else {
        return Err(Failure::new(76, version, "not running with --replSet"));
    };
    match name {
        "replSetStepDown" => {
            let secs = seconds(cmd.get("replSetStepDown"), 60.0).max(0.0);
            let force = cmd.get_bool("force").unwrap_or(false);
            if !force && !rs.has_electable_peer(member) {
                return Err(Failure::new(262, version, "No electable secondaries caught up"));
            }
            rs.step_down(member, Duration::from_secs_f64(secs)).map_err(|_| {
                let msg = if version.uses_primary_vocabulary() {
                    "not primary so can't step down"
                } else {
                    "not master so can't step down"
                };
                Failure::new(10107, version, msg)
            })?;
            tracing::info!(member, secs, "primary stepped down");
            cluster.bump_all_topologies();
            cluster.schedule_election();
            if version.closes_connections_on_step_down() {
                node.close_epoch.send_modify(|e| *e += 1);
                *close_connection = true;
            }
            Ok(Document::new())
        }
        "replSetFreeze" => {
            let secs = seconds(cmd.get("replSetFreeze"), 0.0).max(0.0);
            rs.freeze(member, Duration::from_secs_f64(secs)).map_err(|why| match why {
                RefusedBecause::IsPrimary => Failure::new(
                    95,
                    version,
                    "cannot freeze node when primary or running for election. state: Primary",
                ),
                RefusedBecause::NotPrimary => Failure::new(95, version, "cannot freeze node"),
            })?;
            if secs == 0.0 {
                cluster.schedule_election();
                Ok(doc! { "info": "unfreezing" })
            } else {
                Ok(Document::new())
            }
        }
        _ => {
            let state = rs.state();
            let members: Vec<Bson> = cluster
                .member_hosts()
                .into_iter()
                .enumerate()
                .map(|(i, host)| {
                    let primary = state.primary == Some(i);
                    Bson::Document(doc! {
                        "_id": i as i32,
                        "name": host,
                        "health": 1.0,
                        "state": if primary { 1 } else { 2 },
                        "stateStr": if primary { "PRIMARY" } else { "SECONDARY" },
                        "self": i == member,
                    })
                })
                .collect();
            Ok(doc! {
                "set": cluster.config.set_name.clone(),
                "date": DateTime::now(),
                "myState": if state.primary == Some(member) { 1 } else { 2 },
                "term": state.term,
                "members": members,
            })
        }
    }
}

fn get_parameter(node: &Node, cmd: &Document, version: crate::ServerVersion) -> Result<Document, Failure> {
    let params = lock(&node.parameters);
    let all = matches!(cmd.get("getParameter"), Some(Bson::String(s)) if s == "*")
        || matches!(cmd.get("getParameter"), Some(Bson::Document(d)) if d.get_bool("allParameters").unwrap_or(false));
    if all {
        return Ok(params.clone());
    }
    let mut out = Document::new();
    for (key, _) in cmd.iter().skip(1) {
        if key.starts_with('$') || key == "lsid" {
            continue;
        }
        if let Some(v) = params.get(key) {
            out.insert(key.clone(), v.clone());
        }
    }
    if out.is_empty() {
        return Err(Failure::new(72, version, "no option found to get"));
    }
    Ok(out)
}

fn set_parameter(node: &Node, cmd: &Document, version: crate::ServerVersion) -> Result<Document, Failure> {
    let mut params = lock(&node.parameters);
    let mut was: Option<Bson> = None;
    for (key, value) in cmd.iter().skip(1) {
        if key.starts_with('$') || key == "lsid" {
            continue;
        }
        match params.get(key) {
            Some(old) if key != "featureCompatibilityVersion" => {
                was.get_or_insert_with(|| old.clone());
            }
            _ => {
                return Err(Failure::new(
                    72,
                    version,
                    format!("attempted to set unrecognized parameter [{key}]"),
                ));
            }
        }
        params.insert(key.clone(), value.clone());
    }
    match was {
        Some(was) => Ok(doc! { "was": was }),
        None => Err(Failure::new(72, version, "no option found to set")),
    }
}
