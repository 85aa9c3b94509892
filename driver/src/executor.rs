//! The operation executor (server selection spec "Server Selection Algorithm", retryable
//! reads spec, command monitoring spec, SDAM "Error handling"): the one place that selects a
//! server, checks out a connection, has the operation build its command, attaches the
//! session seam, `$clusterTime` and `$readPreference`, sends it, publishes the command events,
//! classifies failures, feeds them to SDAM, retries a retryable read once, and hands the reply
//! back to the operation.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use bson::{Bson, Document};

use crate::cmap::PooledConnection;
use crate::commands::OpMsgParts;
use crate::connection::{CommandMessage, Connection, ServerApi};
use crate::error::{Error, ErrorKind, Result};
use crate::event::command::{
    CommandEvent, CommandEventHandler, CommandFailedEvent, CommandStartedEvent, CommandSucceededEvent,
    is_sensitive,
};
use crate::operation::{Operation, Retryability};
use crate::sdam::{ServerAddress, ServerType, TopologyType};
use crate::selection::{ReadPreference, ReadPreferenceMode};
use crate::topology::{SelectedServer, SelectionCriteria, Topology};

/// Per-execution inputs that do not belong to the operation: the seam for sessions (a later
/// issue adds implicit and explicit sessions; today only an `lsid` can be passed through).
#[derive(Debug, Clone, Default)]
pub struct ExecutionContext {
    /// The session id to attach as `lsid`, if any.
    pub lsid: Option<Document>,
    /// The transaction number of a retryable write (with `lsid`): attached as `txnNumber`
    /// when the server supports retryable writes, and the write is then retried once after
    /// a retryable error (retryable writes spec). The session owner increments it per write
    /// command.
    pub txn_number: Option<i64>,
}

/// Runs operations against a topology.
pub struct Executor {
    topology: Topology,
    command_handler: Option<CommandEventHandler>,
    retry_reads: bool,
    /// `retryWrites` (default true).
    retry_writes: bool,
    /// The declared Stable API, sent with every command (versioned API spec).
    server_api: Option<ServerApi>,
    /// The highest `$clusterTime` seen (sessions spec "Gossipping the cluster time").
    cluster_time: Mutex<Option<Document>>,
    next_operation_id: AtomicI64,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("topology", &self.topology)
            .field("command_handler", &self.command_handler.is_some())
            .field("retry_reads", &self.retry_reads)
            .finish_non_exhaustive()
    }
}

/// The `clusterTime` timestamp of a `$clusterTime` document.
fn cluster_timestamp(doc: &Document) -> Option<bson::Timestamp> {
    doc.get_timestamp("clusterTime").ok()
}

impl Executor {
    /// An executor on `topology`, publishing command events to `command_handler`.
    pub fn new(topology: Topology, command_handler: Option<CommandEventHandler>, retry_reads: bool) -> Self {
        Self {
            topology,
            command_handler,
            retry_reads,
            retry_writes: true,
            server_api: None,
            cluster_time: Mutex::new(None),
            next_operation_id: AtomicI64::new(1),
        }
    }

    /// Sends the Stable API parameters of `api` with every command, getMore included
    /// (versioned API spec "Sending the declared API version").
    pub fn with_server_api(mut self, api: Option<ServerApi>) -> Self {
        self.server_api = api;
        self
    }

    /// Sets `retryWrites` (default true; retries need a session, see [`ExecutionContext`]).
    pub fn with_retry_writes(mut self, retry_writes: bool) -> Self {
        self.retry_writes = retry_writes;
        self
    }

    /// The topology.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// The highest `$clusterTime` seen in a reply.
    pub fn cluster_time(&self) -> Option<Document> {
        self.cluster_time.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Keeps `reply`'s `$clusterTime` if it is newer than the one held.
    fn advance_cluster_time(&self, reply: &Document) {
        let Ok(new) = reply.get_document("$clusterTime") else { return };
        let Some(new_ts) = cluster_timestamp(new) else { return };
        let mut held = self.cluster_time.lock().unwrap_or_else(PoisonError::into_inner);
        if held.as_ref().and_then(cluster_timestamp).is_none_or(|old| new_ts > old) {
            *held = Some(new.clone());
        }
    }

    /// A fresh operation id (shared by the commands of one operation, e.g. a find's getMores).
    pub fn next_operation_id(&self) -> i64 {
        self.next_operation_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Runs `op`: selects a server for its criteria, sends it, and retries a retryable
    /// read once on another selection after a retryable error (retryable reads spec).
    pub async fn execute<O: Operation>(&self, op: &mut O, ctx: &ExecutionContext) -> Result<O::Output> {
        self.execute_as(op, ctx, self.next_operation_id()).await
    }

    /// [`Executor::execute`] with a given operation id (a cursor's later getMores share it).
    pub async fn execute_as<O: Operation>(
        &self,
        op: &mut O,
        ctx: &ExecutionContext,
        operation_id: i64,
    ) -> Result<O::Output> {
        let criteria = op.selection_criteria();
        let retryable_write = self.retry_writes
            && op.retryability() == Retryability::Write
            && ctx.lsid.is_some()
            && ctx.txn_number.is_some();
        let retry_read = self.retry_reads && op.retryability() == Retryability::Read;
        let first = self.attempt(op, ctx, &criteria, operation_id, retryable_write).await;
        let error = match first {
            Err(error) if retry_read && is_retryable_read_error(&error) => error,
            Err(error) if retryable_write && error.contains_label(RETRYABLE_WRITE_ERROR) => error,
            other => return other,
        };
        tracing::debug!(target: "mongo_driver::executor", operation = op.name(), %error, "retrying once");
        // Retryable reads and writes specs: the retry selects again; when no server can be
        // selected (or the retry fails before anything reached a server) the first error is
        // returned, otherwise the second.
        match self.attempt(op, ctx, &criteria, operation_id, retryable_write).await {
            Err(second) if is_driver_side(&second) => Err(error),
            other => other,
        }
    }

    /// One attempt: selection, check-out, send. For a retryable write on a server that
    /// supports them, `txnNumber` goes with the command and a retryable error gets the
    /// `RetryableWriteError` label where the driver must add it.
    async fn attempt<O: Operation>(
        &self,
        op: &mut O,
        ctx: &ExecutionContext,
        criteria: &SelectionCriteria,
        operation_id: i64,
        retryable_write: bool,
    ) -> Result<O::Output> {
        let server = self.topology.select_server(criteria).await?;
        let description = server.description();
        let supported = retryable_write
            && description.max_wire_version >= RETRYABLE_WRITES_WIRE_VERSION
            && description.logical_session_timeout_minutes.is_some()
            && description.server_type != ServerType::Standalone;
        let max_wire_version = description.max_wire_version;
        let result = async {
            let mut connection = self.topology.check_out(&server).await?;
            let read_preference = self.read_preference_for(criteria, &server);
            let txn_number = if supported { ctx.txn_number } else { None };
            self.run_on(op, ctx, &mut connection, read_preference, operation_id, txn_number).await
        }
        .await;
        match result {
            Err(mut error) if supported => {
                // Retryable writes spec "Determining Retryable Errors": network errors and
                // cleared pools always; server errors by code only before 4.4 (newer servers
                // label them themselves).
                let by_code = max_wire_version < WIRE_VERSION_4_4 && error.is_retryable_write_code();
                if error.is_network_error() || error.is_pool_cleared() || by_code {
                    error.add_label(RETRYABLE_WRITE_ERROR);
                }
                Err(error)
            }
            other => other,
        }
    }

    /// Runs `op` on the server at `address` (a cursor's getMore and killCursors), without
    /// selection and without retry.
    pub async fn execute_on<O: Operation>(
        &self,
        address: &ServerAddress,
        op: &mut O,
        ctx: &ExecutionContext,
        operation_id: i64,
    ) -> Result<O::Output> {
        let pool = self.topology.pool(address).ok_or_else(|| {
            Error::new(ErrorKind::ServerSelection {
                message: format!("the server {address} holding the cursor is no longer in the topology"),
            })
        })?;
        let mut connection = pool.check_out().await?;
        self.run_on(op, ctx, &mut connection, None, operation_id, None).await
    }

    /// The `$readPreference` to send (server selection spec "Passing read preference to
    /// mongos and load balancers" and "Topology type: Single", for OP_MSG): never for writes
    /// or to a standalone; on a direct connection (Single, which a topology never enters or
    /// leaves after it starts) to a replica set member, `primaryPreferred` in place of
    /// primary; otherwise a non-primary read preference as it is.
    fn read_preference_for(&self, criteria: &SelectionCriteria, server: &SelectedServer) -> Option<Document> {
        let SelectionCriteria::Read(rp) = criteria else { return None };
        match server.description().server_type {
            ServerType::Standalone => None,
            ServerType::Mongos | ServerType::LoadBalancer => {
                (rp.mode != ReadPreferenceMode::Primary).then(|| rp.to_document())
            }
            _ if rp.mode == ReadPreferenceMode::Primary => (self.topology.options().settings.initial_type
                == TopologyType::Single)
                .then(|| ReadPreference::primary_preferred().to_document()),
            _ => Some(rp.to_document()),
        }
    }

    /// Builds, decorates, sends and reads `op` on `connection`.
    async fn run_on<O: Operation>(
        &self,
        op: &mut O,
        ctx: &ExecutionContext,
        connection: &mut PooledConnection<Connection>,
        read_preference: Option<Document>,
        operation_id: i64,
        txn_number: Option<i64>,
    ) -> Result<O::Output> {
        let description = connection.stream_description()?.clone();
        let OpMsgParts { mut body, sequences } = op.build(&description)?;
        if let Some(api) = &self.server_api {
            api.apply(&mut body);
        }
        if let Some(lsid) = &ctx.lsid {
            body.insert("lsid", lsid.clone());
        }
        if let Some(txn_number) = txn_number {
            body.insert("txnNumber", txn_number);
        }
        // Sessions spec: drivers gossip `$clusterTime` to servers that support it (wire 6+).
        if description.max_wire_version >= 6
            && let Some(cluster_time) = self.cluster_time()
        {
            body.insert("$clusterTime", cluster_time);
        }
        if let Some(rp) = read_preference {
            body.insert("$readPreference", rp);
        }
        let mut message = CommandMessage { body, sequences: Vec::new() };
        for (identifier, documents) in sequences {
            message = message.with_sequence(identifier, documents);
        }
        let reply = self.send(connection, message, operation_id).await;
        let reply = match reply {
            Ok(reply) => reply,
            Err(error) => {
                self.topology.handle_connection_error(connection, &error);
                return Err(error);
            }
        };
        self.advance_cluster_time(&reply);
        if let Some(error) = Error::from_reply(&reply) {
            // A write concern error arrives with `ok: 1`: SDAM still sees a state change in it.
            self.topology.handle_connection_error(connection, &error);
            if matches!(*error.kind, ErrorKind::Command { .. }) {
                return Err(error);
            }
        }
        op.handle_response(reply, &description)
    }

    /// Sends one command, publishing its events and logging it through `tracing`.
    async fn send(
        &self,
        connection: &mut PooledConnection<Connection>,
        message: CommandMessage,
        operation_id: i64,
    ) -> Result<Document> {
        let name = message.name().unwrap_or_default().to_string();
        let db = message.db().unwrap_or_default().to_string();
        let sensitive = is_sensitive(&name, &message.body);
        let request_id = crate::wire::next_request_id();
        let address = connection.address().clone();
        let connection_id = connection.id();
        let (server_connection_id, service_id) = connection
            .stream_description()
            .map(|d| (d.server_connection_id, d.service_id))
            .unwrap_or((None, None));
        tracing::debug!(target: "mongo_driver::command", command = %name, %request_id, %address, "command started");
        if let Some(handler) = &self.command_handler {
            let command = if sensitive { Document::new() } else { command_with_sequences(&message) };
            handler(&CommandEvent::Started(CommandStartedEvent {
                command,
                database_name: db,
                command_name: name.clone(),
                request_id,
                operation_id,
                connection_id,
                server_connection_id,
                address: address.clone(),
                service_id,
            }));
        }
        let start = Instant::now();
        let result = connection.send_command_with_id(message, request_id).await;
        let duration = start.elapsed();
        let failure = match &result {
            Ok(reply) => Error::from_reply(reply).filter(|e| matches!(*e.kind, ErrorKind::Command { .. })),
            Err(e) => Some(e.clone()),
        };
        match (&failure, &result) {
            (None, Ok(reply)) => {
                tracing::debug!(target: "mongo_driver::command", command = %name, %request_id, ?duration, "command succeeded");
                if let Some(handler) = &self.command_handler {
                    let sensitive =
                        sensitive || (is_hello(&name) && reply.contains_key("speculativeAuthenticate"));
                    handler(&CommandEvent::Succeeded(CommandSucceededEvent {
                        duration,
                        reply: if sensitive { Document::new() } else { reply.clone() },
                        command_name: name,
                        request_id,
                        operation_id,
                        connection_id,
                        server_connection_id,
                        address,
                        service_id,
                    }));
                }
            }
            (Some(error), _) | (None, Err(error)) => {
                tracing::debug!(target: "mongo_driver::command", command = %name, %request_id, ?duration, %error, "command failed");
                if let Some(handler) = &self.command_handler {
                    let failure = if sensitive { redacted(error) } else { error.clone() };
                    handler(&CommandEvent::Failed(CommandFailedEvent {
                        duration,
                        command_name: name,
                        failure,
                        request_id,
                        operation_id,
                        connection_id,
                        server_connection_id,
                        address,
                        service_id,
                    }));
                }
            }
        }
        result
    }
}

fn is_hello(name: &str) -> bool {
    matches!(name.to_ascii_lowercase().as_str(), "hello" | "ismaster")
}

/// A sensitive command's error with the server's message removed.
fn redacted(error: &Error) -> Error {
    match &*error.kind {
        ErrorKind::Command { code, code_name, .. } => {
            let mut e = Error::command(*code, code_name.clone(), "");
            for label in error.labels() {
                e.add_label(label.clone());
            }
            e
        }
        _ => error.clone(),
    }
}

/// The command as the started event shows it: document sequences folded into the body as
/// arrays (command-monitoring spec: the event's command is the whole command).
fn command_with_sequences(message: &CommandMessage) -> Document {
    let mut command = message.body.clone();
    for sequence in &message.sequences {
        command.insert(
            sequence.identifier.clone(),
            Bson::Array(sequence.documents.iter().cloned().map(Bson::Document).collect()),
        );
    }
    command
}

/// The label of errors a retryable write may be retried after.
pub const RETRYABLE_WRITE_ERROR: &str = "RetryableWriteError";

/// The first wire version supporting retryable writes (3.6).
const RETRYABLE_WRITES_WIRE_VERSION: i32 = 6;

/// Wire version of MongoDB 4.4, whose servers add `RetryableWriteError` themselves.
const WIRE_VERSION_4_4: i32 = 9;

/// An error the driver raised before the retry reached a server (no server selected, no
/// connection): the caller then gets the first attempt's error.
fn is_driver_side(error: &Error) -> bool {
    matches!(
        *error.kind,
        ErrorKind::ServerSelection { .. }
            | ErrorKind::PoolClosed { .. }
            | ErrorKind::WaitQueueTimeout { .. }
            | ErrorKind::InvalidArgument { .. }
    )
}

/// Retryable reads spec "Retryable Error": a network error, a server error with a
/// retryable read code, or a cleared pool.
pub fn is_retryable_read_error(error: &Error) -> bool {
    error.is_network_error() || error.is_retryable_read_code() || error.is_pool_cleared()
}
