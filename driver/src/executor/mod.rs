//! The operation executor (server selection spec "Server Selection Algorithm", retryable
//! reads spec, command monitoring spec, SDAM "Error handling"): the one place that selects a
//! server, checks out a connection, has the operation build its command, attaches the
//! session seam, `$clusterTime` and `$readPreference`, sends it, publishes the command events,
//! classifies failures, feeds them to SDAM, retries a retryable read once, and hands the reply
//! back to the operation.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bson::{Bson, Document, Timestamp};

use crate::cmap::{PinPurpose, PooledConnection};
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
pub(crate) use crate::session::PinnedConnection;
pub use crate::session::SessionArg;
use crate::session::transaction::{self, Role};
use crate::session::{ClientSession, ServerSessionPool, SessionClient, SessionOptions, greater_cluster_time};
use crate::topology::{SelectedServer, SelectionCriteria, Topology};

/// How many ids one `endSessions` command carries at most (driver sessions spec).
pub const END_SESSIONS_BATCH: usize = 10_000;

/// The wire version of MongoDB 5.0, the first with snapshot reads.
const SNAPSHOT_WIRE_VERSION: i32 = 13;

/// Per-execution inputs that do not belong to the operation: a raw `lsid` and transaction
/// number, for callers that manage them themselves. Sessions proper (explicit and implicit,
/// with their pool, cluster and operation times) go through [`SessionArg`] and
/// [`Executor::execute_in`]; a [`SessionArg`] session takes precedence over these fields.
#[derive(Debug, Clone, Default)]
pub struct ExecutionContext {
    /// The session id to attach as `lsid`, if any.
    pub lsid: Option<Document>,
    /// The transaction number of a retryable write (with `lsid`): attached as `txnNumber`
    /// when the server supports retryable writes, and the write is then retried once after
    /// a retryable error (retryable writes spec). The session owner increments it per write
    /// command.
    pub txn_number: Option<i64>,
    /// `timeoutMS` (client-side operations timeout spec): `None` unset (the legacy
    /// `socketTimeoutMS`, `maxTimeMS`, `wTimeoutMS` apply), zero no limit, else the limit on
    /// the whole operation: selection, check-out, connection establishment, every attempt.
    pub timeout: Option<Duration>,
    /// The operation's deadline, set by the executor from `timeout` when the operation
    /// starts (callers leave it `None`).
    pub deadline: Option<tokio::time::Instant>,
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
    next_operation_id: AtomicI64,
    /// The server session pool (driver sessions spec "Server Session Pool").
    session_pool: Arc<ServerSessionPool>,
    /// When the pool's session timeout was last read from the topology.
    session_timeout_refreshed: Mutex<Option<Instant>>,
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

impl Executor {
    /// An executor on `topology`, publishing command events to `command_handler`.
    pub fn new(topology: Topology, command_handler: Option<CommandEventHandler>, retry_reads: bool) -> Self {
        Self {
            topology,
            command_handler,
            retry_reads,
            retry_writes: true,
            server_api: None,
            next_operation_id: AtomicI64::new(1),
            session_pool: Arc::new(ServerSessionPool::new()),
            session_timeout_refreshed: Mutex::new(None),
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

    /// The highest `$clusterTime` seen in a reply (kept by the topology, which its monitors
    /// feed too).
    pub fn cluster_time(&self) -> Option<Document> {
        self.topology.cluster_time()
    }

    /// Keeps `reply`'s `$clusterTime` if it is newer than the one held.
    fn advance_cluster_time(&self, reply: &Document) {
        self.topology.advance_cluster_time(reply);
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
        self.execute_in(op, ctx, SessionArg::None, operation_id).await
    }

    /// The server session pool.
    pub fn session_pool(&self) -> &Arc<ServerSessionPool> {
        &self.session_pool
    }

    /// Starts an explicit session for `client` (driver sessions spec "startSession"): its
    /// server session comes from the pool at once. `snapshot` with `causal_consistency` is
    /// refused (snapshot reads spec).
    pub(crate) fn start_session(
        &self,
        client: Arc<dyn SessionClient>,
        options: SessionOptions,
    ) -> Result<ClientSession> {
        if options.snapshot == Some(true) && options.causal_consistency == Some(true) {
            return Err(Error::invalid_argument(
                "a session cannot be both snapshot and causally consistent (snapshot reads spec)",
            ));
        }
        self.refresh_session_timeout();
        Ok(ClientSession::new(
            self.session_pool.acquire(),
            self.session_pool.clone(),
            Some(client),
            options,
            false,
        ))
    }

    /// Copies the topology's `logicalSessionTimeoutMinutes` into the pool (at most once a
    /// second: copying the topology description for every operation would cost more).
    fn refresh_session_timeout(&self) {
        {
            let mut last = self.session_timeout_refreshed.lock().unwrap_or_else(PoisonError::into_inner);
            if last.is_some_and(|t| t.elapsed() < SESSION_TIMEOUT_REFRESH) {
                return;
            }
            *last = Some(Instant::now());
        }
        let description = self.topology.description();
        if let Some(minutes) = description.logical_session_timeout_minutes() {
            self.session_pool.set_timeout_minutes(Some(minutes));
        }
    }

    /// Runs `op` in `session` (see [`SessionArg`]) with operation id `operation_id`:
    /// [`Executor::execute_as`] plus sessions.
    pub async fn execute_in<O: Operation>(
        &self,
        op: &mut O,
        ctx: &ExecutionContext,
        session: SessionArg<'_>,
        operation_id: i64,
    ) -> Result<O::Output> {
        self.execute_keeping(op, ctx, session, operation_id, None).await
    }

    /// [`Executor::execute_in`] for a command that opens a cursor: in load-balanced mode,
    /// the connection it ran on when the cursor stays open on the server, pinned to the
    /// cursor for its getMores and killCursors (load balancer spec "Behaviour With Cursors").
    pub(crate) async fn execute_cursor_in<O: Operation<Output = crate::operation::CursorSpec>>(
        &self,
        op: &mut O,
        ctx: &ExecutionContext,
        session: SessionArg<'_>,
        operation_id: i64,
    ) -> Result<(O::Output, Option<PinnedConnection>)> {
        self.execute_pinning_in(op, ctx, session, operation_id, |spec| spec.id).await
    }

    /// [`Executor::execute_cursor_in`] for a command whose output names its cursor's id
    /// through `cursor_id` (a change stream's aggregate).
    pub(crate) async fn execute_pinning_in<O: Operation>(
        &self,
        op: &mut O,
        ctx: &ExecutionContext,
        session: SessionArg<'_>,
        operation_id: i64,
        cursor_id: impl FnOnce(&O::Output) -> i64,
    ) -> Result<(O::Output, Option<PinnedConnection>)> {
        let mut used = None;
        let output = self.execute_keeping(op, ctx, session, operation_id, Some(&mut used)).await?;
        let pinned = match used {
            Some(connection) if cursor_id(&output) != 0 => {
                connection.lock().await.pin(PinPurpose::Cursor);
                Some(connection)
            }
            _ => None,
        };
        Ok((output, pinned))
    }

    /// [`Executor::execute_in`]; in load-balanced mode the connection of the successful
    /// attempt goes to `keep`, when given. With a nonzero `timeoutMS` (client-side operations
    /// timeout spec), one deadline covers every attempt: server selection, check-out,
    /// connection establishment, sending and reading; when it passes, whatever is under way
    /// is abandoned (a connection mid-exchange is closed) and the error is
    /// [`ErrorKind::Timeout`] carrying the last attempt's error.
    async fn execute_keeping<O: Operation>(
        &self,
        op: &mut O,
        ctx: &ExecutionContext,
        session: SessionArg<'_>,
        operation_id: i64,
        keep: Option<&mut Option<PinnedConnection>>,
    ) -> Result<O::Output> {
        // Client-side operations timeout spec "Convenient Transactions API": inside
        // withTransaction, an operation run with its session takes the session's deadline.
        let from_session = match &session {
            SessionArg::Explicit(s) => s.state().transaction.deadline,
            _ => None,
        };
        let (timeout, deadline) = match from_session {
            Some((at, within)) => (Some(within), Some(at)),
            None => (
                ctx.timeout,
                ctx.deadline.or_else(|| {
                    ctx.timeout.filter(|t| !t.is_zero()).map(|t| tokio::time::Instant::now() + t)
                }),
            ),
        };
        let with_deadline;
        let ctx = if deadline == ctx.deadline && timeout == ctx.timeout {
            ctx
        } else {
            with_deadline = ExecutionContext { deadline, timeout, ..ctx.clone() };
            &with_deadline
        };
        let name = op.name().to_string();
        match self.execute_attempts(op, ctx, session, operation_id, keep).await {
            // Client-side operations timeout spec "Error Transformations": with timeoutMS
            // set, the server's MaxTimeMSExpired (code 50, anywhere in the reply) and a socket
            // timeout (the read or write bounded by the time remaining) are timeouts.
            Err(error) if ctx.timeout.is_some() && error.code() == Some(MAX_TIME_MS_EXPIRED) => {
                Err(Error::timeout(format!("{name}: the server's maxTimeMS expired"), Some(error)))
            }
            Err(error) if ctx.timeout.is_some() && error.is_network_timeout() => Err(Error::timeout(
                format!(
                    "{name} did not finish within timeoutMS ({} ms)",
                    ctx.timeout.unwrap_or_default().as_millis()
                ),
                Some(error),
            )),
            other => other,
        }
    }

    /// The attempts of [`Executor::execute_keeping`]: the first, then the retries. Without
    /// `timeoutMS` a retryable error is retried once; with it, as long as time remains
    /// (client-side operations timeout spec "Retryability").
    async fn execute_attempts<O: Operation>(
        &self,
        op: &mut O,
        ctx: &ExecutionContext,
        mut session: SessionArg<'_>,
        operation_id: i64,
        mut keep: Option<&mut Option<PinnedConnection>>,
    ) -> Result<O::Output> {
        if let SessionArg::Explicit(s) = &session {
            s.check_usable(&self.session_pool)?;
        }
        if op.ends_transaction() && !matches!(session, SessionArg::Explicit(_)) {
            return Err(Error::invalid_argument(format!("{} needs an explicit session", op.name())));
        }
        // Transactions spec: a transaction's statements are never retried and read with the
        // transaction's read preference; commit and abort are always retried once.
        let role = transaction::prepare(session.session_ref(), op.ends_transaction());
        let criteria = match (role, op.selection_criteria()) {
            (Role::Statement { .. }, SelectionCriteria::Read(_)) => match session.session_ref() {
                Some(s) => SelectionCriteria::Read(transaction::read_preference(s)?),
                None => op.selection_criteria(),
            },
            (_, criteria) => criteria,
        };
        let has_session = !matches!(session, SessionArg::None);
        let retryable_write = match role {
            Role::None => {
                self.retry_writes
                    && op.retryability() == Retryability::Write
                    && (has_session || (ctx.lsid.is_some() && ctx.txn_number.is_some()))
            }
            Role::Statement { .. } => false,
            Role::End => true,
        };
        let retry_read = role == Role::None && self.retry_reads && op.retryability() == Retryability::Read;
        let mut txn = TxnState { number: ctx.txn_number.filter(|_| !has_session), ..TxnState::default() };
        let first = self
            .attempt(
                op,
                ctx,
                &mut session,
                &mut txn,
                &criteria,
                operation_id,
                retryable_write,
                keep.as_deref_mut(),
            )
            .await;
        let retryable = |error: &Error| {
            (retry_read && is_retryable_read_error(error))
                || (retryable_write && error.contains_label(RETRYABLE_WRITE_ERROR))
        };
        let mut error = match first {
            Err(error) if retryable(&error) => error,
            other => return other,
        };
        loop {
            if let Some(deadline) = ctx.deadline
                && tokio::time::Instant::now() >= deadline
            {
                let message = format!("{}: timeoutMS expired before a retry", op.name());
                return Err(Error::timeout(message, Some(error)));
            }
            tracing::debug!(target: "mongo_driver::executor", operation = op.name(), %error, "retrying");
            txn.retrying = true;
            if role == Role::End {
                // Transactions spec "When to unpin": a retried commit or abort selects anew.
                transaction::unpin(session.session_ref());
            }
            // Retryable reads and writes specs: the retry selects again; when no server can be
            // selected (or the retry fails before anything reached a server) the first error is
            // returned, otherwise the second.
            let result = self
                .attempt(
                    op,
                    ctx,
                    &mut session,
                    &mut txn,
                    &criteria,
                    operation_id,
                    retryable_write,
                    keep.as_deref_mut(),
                )
                .await;
            match result {
                Err(second) if is_driver_side(&second) => return Err(error),
                // With timeoutMS, retries go on while time remains.
                Err(second) if ctx.timeout.is_some() && retryable(&second) => error = second,
                other => return other,
            }
        }
    }

    /// Sends `endSessions` for every pooled server session, at most
    /// [`END_SESSIONS_BATCH`] ids per command, to the primary if there is one, else to any
    /// server (driver sessions spec "endSessions"); errors are ignored.
    pub async fn end_sessions(&self) {
        let ids = self.session_pool.drain_ids();
        for batch in ids.chunks(END_SESSIONS_BATCH) {
            let command = crate::commands::EndSessionsCommand::new("admin", batch.to_vec());
            let document = match crate::commands::Command::to_document(&command) {
                Ok(mut d) => {
                    d.remove("$db");
                    d
                }
                Err(error) => {
                    tracing::debug!(target: "mongo_driver::session", %error, "endSessions not built");
                    return;
                }
            };
            let criteria = SelectionCriteria::Read(ReadPreference::primary_preferred());
            let Ok(mut op) = crate::operation::RunCommand::new("admin", document, criteria.clone()) else {
                return;
            };
            let server = match self.topology.select_server_within(&criteria, END_SESSIONS_TIMEOUT).await {
                Ok(server) => server,
                Err(error) => {
                    tracing::debug!(target: "mongo_driver::session", %error, "no server for endSessions");
                    return;
                }
            };
            let result = async {
                let mut connection = self.topology.check_out(&server).await?;
                let mut none = SessionArg::None;
                let mut txn = TxnState::default();
                let id = self.next_operation_id();
                self.run_on(
                    &mut op,
                    &ExecutionContext::default(),
                    &mut none,
                    &mut txn,
                    false,
                    &mut connection,
                    None,
                    id,
                )
                .await
            }
            .await;
            if let Err(error) = result {
                tracing::debug!(target: "mongo_driver::session", %error, "endSessions failed (ignored)");
            }
        }
    }

    /// One attempt: selection, check-out, send. For a retryable write on a server that
    /// supports them, `txnNumber` goes with the command and a retryable error gets the
    /// `RetryableWriteError` label where the driver must add it.
    #[allow(clippy::too_many_arguments)]
    async fn attempt<O: Operation>(
        &self,
        op: &mut O,
        ctx: &ExecutionContext,
        session: &mut SessionArg<'_>,
        txn: &mut TxnState,
        criteria: &SelectionCriteria,
        operation_id: i64,
        retryable_write: bool,
        keep: Option<&mut Option<PinnedConnection>>,
    ) -> Result<O::Output> {
        let role = transaction::role(session.session_ref(), op.ends_transaction());
        let server = match transaction::pinned(session.session_ref(), role) {
            Some(address) => self.topology.select_pinned(&address, criteria),
            None => {
                within_deadline(ctx.deadline, "server selection", self.topology.select_server(criteria)).await
            }
        };
        let server = match server {
            Ok(server) => server,
            Err(error) => return Err(transaction::label_failure(session.session_ref(), role, error)),
        };
        let description = server.description();
        txn.round_trip_time = description.average_round_trip_time.unwrap_or_default();
        transaction::pin(session.session_ref(), role, description.server_type, server.address());
        let supported = retryable_write
            && description.max_wire_version >= RETRYABLE_WRITES_WIRE_VERSION
            && description.logical_session_timeout_minutes.is_some()
            && description.server_type != ServerType::Standalone;
        let load_balanced = description.server_type == ServerType::LoadBalancer;
        // Load balancer spec: the LoadBalancer's description has no wire version or session
        // timeout; behind a load balancer (5.0+ services) sessions and retryable writes are
        // always supported, and the wire version is the connection's.
        let supported = supported || (retryable_write && load_balanced);
        let mut max_wire_version = description.max_wire_version;
        let result = async {
            // Load balancer spec "Behaviour With Transactions": the commands of a transaction
            // share its connection.
            let pinned = match load_balanced {
                true => transaction::pinned_connection(session.session_ref(), role),
                false => None,
            };
            let connection = match pinned {
                Some(connection) => connection,
                None => {
                    let check_out = self.topology.check_out(&server);
                    let checked_out = within_deadline(ctx.deadline, "connection check-out", check_out).await;
                    let connection = checked_out.map_err(|mut error| {
                        // Retryable writes spec "RetryableWriteError Labels": an error
                        // establishing the connection (network, or a retryable code from the
                        // handshake or authentication) is retryable: nothing was sent.
                        if supported && (error.is_network_error() || error.is_retryable_write_code()) {
                            error.add_label(RETRYABLE_WRITE_ERROR);
                        }
                        error
                    })?;
                    Arc::new(tokio::sync::Mutex::new(connection))
                }
            };
            if load_balanced {
                transaction::pin_connection(session.session_ref(), role, &connection).await;
            }
            let read_preference = self.read_preference_for(server.criteria(), &server);
            let mut guard = connection.lock().await;
            if load_balanced {
                max_wire_version =
                    guard.stream_description().map_or(max_wire_version, |d| d.max_wire_version);
            }
            let result = self
                .run_on(op, ctx, session, txn, supported, &mut guard, read_preference, operation_id)
                .await;
            drop(guard);
            if load_balanced
                && result.is_ok()
                && let Some(keep) = keep
            {
                *keep = Some(connection);
            }
            result
        }
        .await;
        let result = result.map_err(|error| transaction::label_failure(session.session_ref(), role, error));
        match result {
            Err(mut error) if supported && txn.sent => {
                // Retryable writes spec "Determining Retryable Errors": network errors and
                // cleared pools always; server errors by code only before 4.4 (newer servers
                // label them themselves).
                let by_code = max_wire_version < WIRE_VERSION_4_4 && error.is_retryable_write_code();
                if error.is_network_error() || error.is_pool_cleared() || by_code {
                    error.add_label(RETRYABLE_WRITE_ERROR);
                }
                Err(error)
            }
            // CMAP spec "Clearing a connection pool": a PoolClearedError at check-out (nothing
            // was sent) is retryable too.
            Err(mut error) if supported && error.is_pool_cleared() => {
                error.add_label(RETRYABLE_WRITE_ERROR);
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
        self.run_on(
            op,
            ctx,
            &mut SessionArg::None,
            &mut TxnState::default(),
            false,
            &mut connection,
            None,
            operation_id,
        )
        .await
    }

    /// [`Executor::execute_on`] in a cursor's session (its getMores and killCursors carry
    /// the session's `lsid`; an ended explicit session is refused).
    pub(crate) async fn execute_on_in<O: Operation>(
        &self,
        address: &ServerAddress,
        op: &mut O,
        session: Option<&mut ClientSession>,
        operation_id: i64,
    ) -> Result<O::Output> {
        let pool = self.topology.pool(address).ok_or_else(|| {
            Error::new(ErrorKind::ServerSelection {
                message: format!("the server {address} holding the cursor is no longer in the topology"),
            })
        })?;
        let mut arg = match session {
            Some(s) => {
                s.check_usable(&self.session_pool)?;
                SessionArg::Explicit(s)
            }
            None => SessionArg::None,
        };
        let mut connection = pool.check_out().await?;
        let ctx = ExecutionContext::default();
        self.run_on(op, &ctx, &mut arg, &mut TxnState::default(), false, &mut connection, None, operation_id)
            .await
    }

    /// Runs `op` on the connection pinned to a cursor (its getMore and killCursors in
    /// load-balanced mode), in the cursor's session, without selection and without retry.
    pub(crate) async fn execute_pinned<O: Operation>(
        &self,
        connection: &PinnedConnection,
        op: &mut O,
        session: Option<&mut ClientSession>,
        operation_id: i64,
    ) -> Result<O::Output> {
        let mut arg = match session {
            Some(s) => {
                s.check_usable(&self.session_pool)?;
                SessionArg::Explicit(s)
            }
            None => SessionArg::None,
        };
        let mut connection = connection.lock().await;
        let ctx = ExecutionContext::default();
        self.run_on(op, &ctx, &mut arg, &mut TxnState::default(), false, &mut connection, None, operation_id)
            .await
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

    /// Builds, decorates, sends and reads `op` on `connection`: the session (an implicit one
    /// allocated here, after check-out), `txnNumber` for a retryable write the server
    /// supports, `$clusterTime`, causal and snapshot read concerns, `$readPreference`.
    #[allow(clippy::too_many_arguments)]
    async fn run_on<O: Operation>(
        &self,
        op: &mut O,
        ctx: &ExecutionContext,
        session: &mut SessionArg<'_>,
        txn: &mut TxnState,
        retryable_write: bool,
        connection: &mut PooledConnection<Connection>,
        read_preference: Option<Document>,
        operation_id: i64,
    ) -> Result<O::Output> {
        let description = connection.stream_description()?.clone();
        let OpMsgParts { mut body, sequences } = op.build(&description)?;
        if let Some(api) = &self.server_api {
            api.apply(&mut body);
        }
        let role = transaction::role(session.session_ref(), op.ends_transaction());
        if let Role::Statement { .. } = role {
            // Transactions spec: no statement carries a read or write concern of its own
            // (the first gets the transaction's read concern below).
            body.remove("readConcern");
            body.remove("writeConcern");
        }
        let unacknowledged = is_unacknowledged(&body);
        let supports_sessions = description.logical_session_timeout.is_some()
            || description.server_type == ServerType::LoadBalancer;
        // Driver sessions spec: an implicit session's server session is taken only now, after
        // check-out, and never for an unacknowledged write or a server without sessions.
        if let SessionArg::Implicit(slot) = session
            && slot.is_none()
            && supports_sessions
            && !unacknowledged
        {
            self.refresh_session_timeout();
            let server = self.session_pool.acquire();
            **slot = Some(ClientSession::new(
                server,
                self.session_pool.clone(),
                None,
                SessionOptions::default(),
                true,
            ));
        }
        let mut session = session.session();
        if let Some(s) = session.as_deref() {
            if unacknowledged && !s.is_implicit() {
                return Err(Error::invalid_argument(
                    "an unacknowledged write (w: 0) cannot run in an explicit session",
                ));
            }
            if !supports_sessions {
                if s.is_implicit() {
                    session = None;
                } else {
                    return Err(Error::invalid_argument(format!(
                        "the server {} does not support sessions",
                        description.server_address
                    )));
                }
            }
        }
        let is_cursor_command = matches!(op.name(), "getMore" | "killCursors");
        if let Some(s) = session.as_deref() {
            if s.is_snapshot() && description.max_wire_version < SNAPSHOT_WIRE_VERSION {
                return Err(Error::new(ErrorKind::IncompatibleWireVersion {
                    message: "Snapshot reads require MongoDB 5.0 or later".to_string(),
                }));
            }
            let mut state = s.state();
            let Some(server) = state.server.as_mut() else {
                return Err(Error::invalid_argument("cannot use a session that has ended"));
            };
            server.mark_used();
            body.insert("lsid", s.id().clone());
            if role == Role::End {
                // Commit and abort reuse the transaction's number.
                txn.number = Some(server.txn_number());
            }
            if retryable_write && txn.number.is_none() {
                txn.number = Some(server.next_txn_number());
            }
            if role.in_transaction() {
                transaction::decorate(&mut body, &state, s.causal_consistency(), role, &description)?;
            } else if !is_cursor_command && s.is_snapshot() {
                let mut rc = bson::doc! {"level": "snapshot"};
                if let Some(at) = state.snapshot_time {
                    rc.insert("atClusterTime", at);
                }
                body.insert("readConcern", rc);
            } else if op.supports_read_concern()
                && s.causal_consistency()
                && let Some(operation_time) = state.operation_time
            {
                let mut rc = body.get_document("readConcern").cloned().unwrap_or_default();
                rc.insert("afterClusterTime", operation_time);
                body.insert("readConcern", rc);
            }
        } else if let Some(lsid) = &ctx.lsid {
            body.insert("lsid", lsid.clone());
        }
        txn.sent = false;
        if retryable_write
            && !unacknowledged
            && let Some(txn_number) = txn.number
            && (session.is_some() || ctx.lsid.is_some())
        {
            body.insert("txnNumber", txn_number);
            txn.sent = true;
        }
        // Sessions spec: drivers gossip `$clusterTime` to servers that support it (wire 6+),
        // the greater of the client's and the session's.
        if description.max_wire_version >= 6 {
            let client_time = self.cluster_time();
            let session_time = session.as_deref().and_then(ClientSession::cluster_time);
            if let Some(cluster_time) = greater_cluster_time(client_time.as_ref(), session_time.as_ref()) {
                body.insert("$clusterTime", cluster_time.clone());
            }
        }
        if let Some(rp) = read_preference {
            body.insert("$readPreference", rp);
        }
        if ctx.timeout.is_some() {
            apply_timeout(&mut body, ctx, txn.round_trip_time, op.name())?;
        }
        let mut message = CommandMessage { body, sequences: Vec::new() };
        for (identifier, documents) in sequences {
            message = message.with_sequence(identifier, documents);
        }
        // OP_MSG spec "moreToCome On Requests": an unacknowledged write gets no reply.
        let fire_and_forget = unacknowledged && op.may_be_unacknowledged();
        // With timeoutMS the deadline bounds the exchange (socketTimeoutMS is ignored).
        let socket_timeout = connection.socket_timeout();
        if ctx.timeout.is_some() {
            // The read and write are bounded by the time remaining (none with timeoutMS=0).
            let now = tokio::time::Instant::now();
            let remaining =
                ctx.deadline.map(|d| d.saturating_duration_since(now).max(Duration::from_millis(1)));
            connection.set_socket_timeout(remaining);
        }
        let reply = self.send(connection, message, operation_id, fire_and_forget).await;
        connection.set_socket_timeout(socket_timeout);
        transaction::after_send(session.as_deref(), role, reply.as_ref().ok());
        let reply = match reply {
            Ok(reply) => reply,
            Err(error) => {
                if error.is_network_error()
                    && let Some(s) = session.as_deref()
                    && let Some(server) = s.state().server.as_ref()
                {
                    server.mark_dirty();
                }
                self.topology.handle_connection_error(connection, &error);
                return Err(error);
            }
        };
        if fire_and_forget {
            return op.handle_unacknowledged(&description);
        }
        self.advance_cluster_time(&reply);
        if let Some(s) = session.as_deref() {
            record_session_times(s, &reply);
        }
        if let Some(mut error) = Error::from_reply(&reply) {
            // A write concern error arrives with `ok: 1`: SDAM still sees a state change in it.
            self.topology.handle_connection_error(connection, &error);
            if matches!(*error.kind, ErrorKind::Command { .. }) {
                return Err(error);
            }
            // Retryable writes spec "Determining Retryable Errors": a write concern error is
            // retryable like a command error (labelled by 4.4+ servers, by code before).
            // Only the first attempt gives its reply up for the retry; a retry's write
            // concern error stays in the operation's result.
            if txn.sent && !txn.retrying {
                if description.max_wire_version < WIRE_VERSION_4_4 && error.is_retryable_write_code() {
                    error.add_label(RETRYABLE_WRITE_ERROR);
                }
                if error.contains_label(RETRYABLE_WRITE_ERROR) {
                    return Err(error);
                }
            }
        }
        op.handle_response(reply, &description)
    }

    /// Sends one command, publishing its events and logging it through `tracing`. An
    /// `unacknowledged` one goes with `moreToCome` and its reply is `{ok: 1}` (command
    /// monitoring spec "Unacknowledged/Acknowledged Writes").
    async fn send(
        &self,
        connection: &mut PooledConnection<Connection>,
        message: CommandMessage,
        operation_id: i64,
        unacknowledged: bool,
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
                database_name: db.clone(),
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
        let result = if unacknowledged {
            connection.send_unacknowledged_with_id(message, request_id).await.map(|()| bson::doc! {"ok": 1})
        } else {
            connection.send_command_with_id(message, request_id).await
        };
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
                        database_name: db,
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
                        database_name: db,
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

/// What a session learns from a reply (success or not): `$clusterTime`, `operationTime`
/// (causal consistency spec) and, for a snapshot session's first read, `atClusterTime`.
fn record_session_times(session: &ClientSession, reply: &Document) {
    if let Ok(cluster_time) = reply.get_document("$clusterTime") {
        session.advance_cluster_time_shared(cluster_time);
    }
    if let Ok(operation_time) = reply.get_timestamp("operationTime") {
        session.advance_operation_time_shared(operation_time);
    }
    if session.is_snapshot() {
        let at: Option<Timestamp> = reply
            .get_document("cursor")
            .ok()
            .and_then(|c| c.get_timestamp("atClusterTime").ok())
            .or_else(|| reply.get_timestamp("atClusterTime").ok());
        let mut state = session.state();
        if state.snapshot_time.is_none() {
            state.snapshot_time = at;
        }
    }
}

/// Whether a command's write concern is unacknowledged (`w: 0` without `j: true`).
fn is_unacknowledged(body: &Document) -> bool {
    crate::operation::is_unacknowledged(body.get_document("writeConcern").ok())
}

/// The transaction number of one retryable write: assigned once (from the session or the
/// context), kept for the retry; `sent` tells whether the latest attempt carried it,
/// `retrying` whether the latest attempt is the retry.
#[derive(Debug, Default)]
struct TxnState {
    number: Option<i64>,
    sent: bool,
    retrying: bool,
    /// The selected server's round-trip time, subtracted from the time remaining to give
    /// `maxTimeMS` (client-side operations timeout spec "Command Execution").
    round_trip_time: Duration,
}

/// How often the pool's session timeout is read from the topology description.
const SESSION_TIMEOUT_REFRESH: Duration = Duration::from_secs(1);

/// How long shutdown waits for a server to send `endSessions` to.
const END_SESSIONS_TIMEOUT: Duration = Duration::from_secs(1);

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

/// Runs a blocking section of an operation (server selection, check-out with connection
/// establishment) within the operation's deadline, if it has one: when the deadline passes
/// first, the section is abandoned and the error is a timeout naming it.
async fn within_deadline<T>(
    deadline: Option<tokio::time::Instant>,
    section: &str,
    future: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    match deadline {
        None => future.await,
        Some(at) => match tokio::time::timeout_at(at, future).await {
            Ok(result) => result,
            Err(_) => Err(Error::timeout(format!("timeoutMS expired during {section}"), None)),
        },
    }
}

/// `MaxTimeMSExpired`: the server's time limit (`maxTimeMS`) passed.
const MAX_TIME_MS_EXPIRED: i32 = 50;

/// Client-side operations timeout spec "Command Execution" and "Deprecations": with
/// `timeoutMS` set, the legacy `maxTimeMS` option and the write concern's `wtimeout` are not
/// sent; with a deadline, `maxTimeMS` is the time remaining minus the server's round-trip
/// time, and too little time left is a timeout before anything is sent.
fn apply_timeout(
    body: &mut Document,
    ctx: &ExecutionContext,
    round_trip_time: Duration,
    name: &str,
) -> Result<()> {
    body.remove("maxTimeMS");
    if let Ok(wc) = body.get_document_mut("writeConcern") {
        wc.remove("wtimeout");
        if wc.is_empty() {
            body.remove("writeConcern");
        }
    }
    let Some(deadline) = ctx.deadline else { return Ok(()) };
    let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
    if remaining <= round_trip_time {
        return Err(Error::timeout(
            format!(
                "{name}: the time left of timeoutMS is not more than the server's round-trip time, before sending"
            ),
            None,
        ));
    }
    let millis = (remaining - round_trip_time).as_millis().max(1);
    body.insert("maxTimeMS", i64::try_from(millis).unwrap_or(i64::MAX));
    Ok(())
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
