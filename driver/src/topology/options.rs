//! What the topology runtime is configured with (server selection spec "Read preference"
//! and "Selecting servers for writes"; SDAM monitoring spec; sessions spec "Gossipping the
//! cluster time"): its options, event handlers and the criteria an operation selects by.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::cmap::PoolOptions;
use crate::cmap::event::SharedCmapEventHandler;
use crate::connection::ConnectionOptions;
use crate::connection_string::ConnectionString;
use crate::error::Result;
use crate::monitor::MonitorOptions;
use crate::sdam::TopologySettings;
use crate::sdam::event::SdamEvent;
use crate::selection::{ReadPreference, SelectionOptions, latency::DEFAULT_LOCAL_THRESHOLD};

/// The `clusterTime` timestamp of a `$clusterTime` document (sessions spec, "Gossipping
/// the cluster time").
pub(crate) fn cluster_timestamp(doc: &bson::Document) -> Option<bson::Timestamp> {
    doc.get_timestamp("clusterTime").ok()
}

/// `serverSelectionTimeoutMS` when none is given (30 seconds).
pub const DEFAULT_SERVER_SELECTION_TIMEOUT: Duration = Duration::from_secs(30);

/// Receives SDAM monitoring events (SDAM monitoring spec), heartbeats included. Called
/// with the topology lock held, in the order the changes were applied: it must be quick
/// and must not call back into the topology.
pub type SdamEventHandler = Arc<dyn Fn(&SdamEvent) + Send + Sync>;

/// The monitoring event handlers of a topology.
#[derive(Clone, Default)]
pub struct EventHandlers {
    /// SDAM events (topology, server and heartbeat events).
    pub sdam: Option<SdamEventHandler>,
    /// CMAP events of every pool.
    pub cmap: Option<SharedCmapEventHandler>,
}

impl fmt::Debug for EventHandlers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventHandlers")
            .field("sdam", &self.sdam.is_some())
            .field("cmap", &self.cmap.is_some())
            .finish()
    }
}

/// Everything the runtime needs from the client's configuration.
#[derive(Debug, Clone)]
pub struct TopologyOptions {
    /// Seeds, initial topology type and replica set name.
    pub settings: TopologySettings,
    /// How monitors check their servers (`heartbeatFrequencyMS`, the monitoring connection).
    pub monitor: MonitorOptions,
    /// How pooled connections are opened and handshaken.
    pub connection: ConnectionOptions,
    /// The pools' CMAP options.
    pub pool: PoolOptions,
    /// `localThresholdMS` and `heartbeatFrequencyMS` as server selection uses them.
    pub selection: SelectionOptions,
    /// `serverSelectionTimeoutMS` (default [`DEFAULT_SERVER_SELECTION_TIMEOUT`]).
    pub server_selection_timeout: Duration,
    /// SRV polling, for a `mongodb+srv` client that is not load balanced (set by the client
    /// after resolving the seed list).
    pub srv_polling: Option<crate::srv::SrvPolling>,
}

impl TopologyOptions {
    /// The options a connection string gives (SDAM, CMAP and server selection options).
    pub fn from_connection_string(uri: &ConnectionString) -> Result<Self> {
        let o = &uri.options;
        let monitor = MonitorOptions::from_uri_options(o, None)?;
        let connection = ConnectionOptions {
            credential: crate::auth::Credential::from_connection_string(uri)?,
            ..ConnectionOptions::from_uri_options(o, None)?
        };
        if connection.credential.as_ref().is_some_and(crate::auth::Credential::is_x509) {
            // Said when the client is made rather than on every connection attempt.
            crate::auth::x509::check_tls(
                connection.tls.as_ref().is_some_and(crate::connection::TlsConfig::has_client_certificate),
            )?;
        }
        Ok(Self {
            settings: TopologySettings::from_connection_string(uri)?,
            connection,
            pool: PoolOptions::from_uri_options(o),
            selection: SelectionOptions {
                local_threshold: o.local_threshold.unwrap_or(DEFAULT_LOCAL_THRESHOLD),
                heartbeat_frequency: monitor.heartbeat_frequency,
            },
            server_selection_timeout: o.server_selection_timeout.unwrap_or(DEFAULT_SERVER_SELECTION_TIMEOUT),
            srv_polling: None,
            monitor,
        })
    }
}

/// What an operation needs from its server (server selection spec "Read preference" and
/// "Selecting servers for writes").
#[derive(Debug, Clone, PartialEq)]
pub enum SelectionCriteria {
    /// A read with this read preference.
    Read(ReadPreference),
    /// A write: a primary, mongos, load balancer or single server.
    Write,
    /// An aggregation with a write stage (`$out`, `$merge`): a read with this read
    /// preference when every available server is 5.0+, else a write (CRUD spec
    /// "Aggregation Pipelines with Write Stages"; resolved in each selection attempt).
    WriteStage(ReadPreference),
}

impl fmt::Display for SelectionCriteria {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read(rp) => write!(f, "read preference {rp}"),
            Self::Write => f.write_str("a writable server"),
            Self::WriteStage(rp) => write!(f, "a pipeline with a write stage (read preference {rp})"),
        }
    }
}
