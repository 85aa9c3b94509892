//! Sessions (driver sessions spec; causal consistency spec; snapshot reads spec): the public
//! [`ClientSession`] with its options, cluster time and operation time, and the
//! [`ServerSessionPool`] the client keeps. The executor ([`crate::executor`]) is the one place
//! that attaches sessions to commands (implicit sessions, `lsid`, `txnNumber`, `$clusterTime`,
//! `afterClusterTime`, `atClusterTime`) and reads their replies.
//!
//! A `ClientSession` is for one task at a time (like every driver's, it is not meant for
//! concurrent use). A session unused for a minute less than the server's
//! `logicalSessionTimeoutMinutes` may be stale on the server. Unacknowledged writes
//! (`w: 0`) never carry a session id: with an explicit session they are refused, and they get
//! no implicit session; causally consistent reads are therefore not ordered after them.

mod arg;
mod client_session;
mod cluster_time;
mod pinned;
mod pool;
mod start;
pub mod transaction;

pub(crate) use arg::OpSession;
pub use arg::SessionArg;
pub use client_session::{ClientSession, SessionOptions};
pub(crate) use client_session::{SessionClient, SessionState};
pub(crate) use cluster_time::greater_cluster_time;
pub(crate) use pinned::PinnedConnection;
pub use pool::{ServerSession, ServerSessionPool};
pub use start::StartSession;
pub use transaction::{TransactionOptions, TransactionState};
