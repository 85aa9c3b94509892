//! The client (CRUD spec "MongoClient"; connection-string and URI options specs): the entry
//! point that owns the topology and the executor, and hands out [`Database`](crate::Database) handles.

use std::sync::Arc;

use crate::api::change_stream::Watch;
pub use crate::api::defaults::Defaults;
use crate::connection::{Dialer, ServerApi};
use crate::connection_string::{ConnectionString, Scheme};
use crate::error::Result;
use crate::event::cmap::SharedCmapEventHandler;
use crate::event::command::CommandEventHandler;
use crate::executor::Executor;
use crate::options::{ReadConcern, ReadPreference, WriteConcern};
use crate::srv::{Resolver, SrvPolling};
use crate::topology::{EventHandlers, SdamEventHandler, Topology, TopologyOptions};

/// A handle to a deployment: cheap to clone, shared by every database and collection made
/// from it. Dropping the last handle stops monitoring and closes the pools;
/// [`Client::shutdown`] also waits for the monitors to stop.
///
/// ```no_run
/// # async fn demo() -> mongo_driver::Result<()> {
/// use bson::{Document, doc};
/// use mongo_driver::Client;
///
/// let client = Client::with_uri_str("mongodb://localhost:27017/?replicaSet=rs0").await?;
/// let coll = client.database("app").collection::<Document>("items");
/// coll.insert_one(doc! {"name": "pen"}).await?;
/// let found = coll.find_one(doc! {"name": "pen"}).await?;
/// assert!(found.is_some());
/// client.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Client {
    pub(crate) inner: Arc<ClientInner>,
}

/// What every handle made from a client shares.
#[derive(Debug)]
pub(crate) struct ClientInner {
    pub(crate) executor: Arc<Executor>,
    pub(crate) defaults: Defaults,
    pub(crate) default_database: Option<String>,
    /// The connection string the client runs with (a `mongodb+srv` one after SRV and TXT
    /// resolution, with the options given in code applied).
    pub(crate) connection_string: ConnectionString,
}

/// Builds a [`Client`] from a connection string plus event handlers.
#[derive(Clone, Default)]
pub struct ClientBuilder {
    uri: String,
    handlers: EventHandlers,
    command: Option<CommandEventHandler>,
    server_api: Option<ServerApi>,
    resolver: Option<Arc<dyn Resolver>>,
    srv_rescan_interval: Option<std::time::Duration>,
    dialer: Option<Dialer>,
    tls_override: Option<bool>,
    tls_ca_file: Option<String>,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder").field("handlers", &self.handlers).finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// Publishes command monitoring events to `handler`.
    pub fn command_event_handler(mut self, handler: CommandEventHandler) -> Self {
        self.command = Some(handler);
        self
    }

    /// Publishes SDAM monitoring events to `handler`.
    pub fn sdam_event_handler(mut self, handler: SdamEventHandler) -> Self {
        self.handlers.sdam = Some(handler);
        self
    }

    /// Publishes CMAP events to `handler`.
    pub fn cmap_event_handler(mut self, handler: SharedCmapEventHandler) -> Self {
        self.handlers.cmap = Some(handler);
        self
    }

    /// Declares a Stable API version: sent in the handshake and with every command
    /// (versioned API spec).
    pub fn server_api(mut self, api: ServerApi) -> Self {
        self.server_api = Some(api);
        self
    }

    /// Resolves `mongodb+srv` names with `resolver` instead of the system's DNS (tests, or
    /// deployments with their own directory of records).
    pub fn resolver(mut self, resolver: Arc<dyn Resolver>) -> Self {
        self.resolver = Some(resolver);
        self
    }

    /// Rescans a `mongodb+srv` name's SRV records at this fixed interval instead of the
    /// records' TTL (at least 60 seconds) — for tests of SRV polling.
    pub fn srv_rescan_interval(mut self, interval: std::time::Duration) -> Self {
        self.srv_rescan_interval = Some(interval);
        self
    }

    /// Dials each server where `dialer` says (see [`Dialer`]).
    pub fn dialer(mut self, dialer: Dialer) -> Self {
        self.dialer = Some(dialer);
        self
    }

    /// Turns TLS on or off whatever the connection string (or a `mongodb+srv` default) says:
    /// the seedlist spec's "options passed in code" that override the URI.
    pub fn tls(mut self, enabled: bool) -> Self {
        self.tls_override = Some(enabled);
        self
    }

    /// Trusts the CAs in the PEM file `path` when TLS is on and the connection string names no
    /// `tlsCAFile` (a `tlsCAFile` given in code, e.g. for a `mongodb+srv` deployment with a
    /// private CA).
    pub fn tls_ca_file(mut self, path: impl Into<String>) -> Self {
        self.tls_ca_file = Some(path.into());
        self
    }

    /// Parses the connection string, resolves a `mongodb+srv` name (SRV and TXT records;
    /// see [`crate::srv::resolve`]) and starts the topology, polling the SRV records when it
    /// is sharded.
    pub async fn connect(self) -> Result<Client> {
        let given = ConnectionString::parse(&self.uri)?;
        if given.scheme != Scheme::Srv {
            return self.build_from(given, None);
        }
        let resolver = self.resolver.clone().unwrap_or_else(crate::srv::system_resolver);
        let resolved = crate::srv::resolve(&given, resolver.as_ref()).await?;
        let mut polling = SrvPolling::for_uri(&given, resolver)?;
        if resolved.options.load_balanced == Some(true) {
            // A TXT record made it load balanced: no polling (polling spec).
            polling = None;
        }
        if let Some(polling) = &mut polling {
            polling.fixed_interval = self.srv_rescan_interval;
        }
        self.build_from(resolved, polling)
    }

    /// Parses the connection string and starts the topology (inside a Tokio runtime). A
    /// `mongodb+srv` URI needs DNS lookups first: use [`ClientBuilder::connect`] (or
    /// [`Client::with_uri_str`]) for it.
    pub fn build(self) -> Result<Client> {
        let uri = ConnectionString::parse(&self.uri)?;
        if uri.scheme == Scheme::Srv {
            return Err(crate::error::Error::invalid_argument(
                "a mongodb+srv connection string must be resolved first: use ClientBuilder::connect or \
                 Client::with_uri_str",
            ));
        }
        self.build_from(uri, None)
    }

    fn build_from(self, mut uri: ConnectionString, srv_polling: Option<SrvPolling>) -> Result<Client> {
        if let Some(tls) = self.tls_override {
            uri.options.tls = Some(tls);
        }
        if let Some(ca_file) = &self.tls_ca_file
            && uri.options.tls != Some(false)
            && uri.options.tls_ca_file.is_none()
        {
            uri.options.tls_ca_file = Some(ca_file.clone());
        }
        if let Some(api) = &self.server_api {
            api.validate()?;
        }
        let o = &uri.options;
        let mut read_preference = ReadPreference::new(o.read_preference.unwrap_or_default());
        if let Some(tags) = &o.read_preference_tags {
            read_preference = read_preference.with_tag_sets(tags.to_vec());
        }
        if let Some(seconds) = o.max_staleness_seconds {
            read_preference = read_preference.with_max_staleness_seconds(seconds);
        }
        read_preference.validate()?;
        let write_concern = WriteConcern::from_uri_options(o);
        let defaults = Defaults {
            read_preference,
            read_concern: ReadConcern::from_uri_options(o),
            write_concern: (!write_concern.is_empty()).then_some(write_concern),
            timeout: o.timeout,
        };
        let retry_reads = o.retry_reads.unwrap_or(true);
        let mut options = TopologyOptions::from_connection_string(&uri)?;
        options.connection.server_api = self.server_api.clone();
        options.monitor.connection.server_api = self.server_api.clone();
        options.connection.dialer = self.dialer.clone();
        options.monitor.connection.dialer = self.dialer.clone();
        options.srv_polling = srv_polling;
        let topology = Topology::start(options, self.handlers)?;
        Ok(Client {
            inner: Arc::new(ClientInner {
                executor: Arc::new(
                    Executor::new(topology, self.command, retry_reads)
                        .with_retry_writes(o.retry_writes.unwrap_or(true))
                        .with_server_api(self.server_api),
                ),
                defaults,
                default_database: uri.database.clone(),
                connection_string: uri,
            }),
        })
    }
}

impl Client {
    /// Connects to the deployment a connection string names (monitoring starts in the
    /// background; the first operation waits for a suitable server).
    pub async fn with_uri_str(uri: impl AsRef<str>) -> Result<Self> {
        Self::builder(uri).connect().await
    }

    /// A builder for a client with event handlers.
    pub fn builder(uri: impl AsRef<str>) -> ClientBuilder {
        ClientBuilder { uri: uri.as_ref().to_string(), ..ClientBuilder::default() }
    }

    /// A change stream of every collection in the deployment (change streams spec
    /// `MongoClient.watch`): `aggregate: 1` on `admin` with `allChangesForCluster`.
    pub fn watch(&self) -> Watch<'_> {
        Watch::cluster(self.executor(), self.inner.defaults.clone())
    }

    /// A handle to the same deployment (same topology, pools and sessions) whose operations,
    /// and the databases and collections made from it, run under `timeoutMS` = `timeout`
    /// (client-side operations timeout spec; zero is no limit).
    pub fn with_timeout(&self, timeout: std::time::Duration) -> Client {
        let inner = &self.inner;
        Client {
            inner: Arc::new(ClientInner {
                executor: inner.executor.clone(),
                defaults: Defaults { timeout: Some(timeout), ..inner.defaults.clone() },
                default_database: inner.default_database.clone(),
                connection_string: inner.connection_string.clone(),
            }),
        }
    }

    /// The connection string the client runs with: for `mongodb+srv`, the one SRV and TXT
    /// resolution produced (its hosts are the seed list, its options include the TXT record's
    /// and the implied `tls`), with the options given in code applied.
    pub fn connection_string(&self) -> &ConnectionString {
        &self.inner.connection_string
    }

    /// The defaults handles made from this client start with.
    pub fn defaults(&self) -> &Defaults {
        &self.inner.defaults
    }

    /// The running topology (descriptions, pools).
    pub fn topology(&self) -> &Topology {
        self.inner.executor.topology()
    }

    /// Starts an explicit session (driver sessions spec "startSession"): chain
    /// `.causal_consistency(…)`, `.snapshot(…)`, then `.await`; pass it to operations with
    /// their `.session(&mut session)` setter.
    pub fn start_session(&self) -> crate::session::StartSession<'_> {
        crate::session::StartSession::new(self)
    }

    /// Ends the pooled server sessions on the deployment (`endSessions`, at most 10,000 ids
    /// per command; errors ignored), then stops monitoring and closes the pools, waiting for
    /// the monitors to end. Later operations fail with a server selection error.
    pub async fn shutdown(&self) {
        self.inner.executor.end_sessions().await;
        self.inner.executor.topology().shutdown().await;
    }

    /// How many server sessions are in use: explicit sessions not yet ended, and implicit
    /// sessions of running operations and open cursors.
    pub fn checked_out_sessions(&self) -> usize {
        self.inner.executor.session_pool().checked_out()
    }

    /// How many connections are checked out of the client's pools: by running operations,
    /// and pinned to cursors or transactions (sessions spec prose test 10 checks none is
    /// left after a test).
    pub fn checked_out_connections(&self) -> usize {
        self.inner.executor.topology().checked_out_connections()
    }

    pub(crate) fn executor(&self) -> &Arc<Executor> {
        &self.inner.executor
    }
}
