//! Handle defaults (CRUD spec "Read Concern / Write Concern / Read Preference" inheritance;
//! client-side operations timeout spec "timeoutMS"): what a client, database or collection
//! handle applies when an operation sets none.

use crate::options::{ReadConcern, ReadPreference, WriteConcern};

/// The read preference, read concern and write concern a handle applies when an operation
/// sets none (inherited client → database → collection).
#[derive(Debug, Clone, Default)]
pub struct Defaults {
    /// The read preference (default primary).
    pub read_preference: ReadPreference,
    /// The read concern (default: none sent, the server's).
    pub read_concern: Option<ReadConcern>,
    /// The write concern (default: none sent, the server's).
    pub write_concern: Option<WriteConcern>,
    /// `timeoutMS` (client-side operations timeout spec): the limit on each operation's
    /// whole execution; `None` is unset (the legacy timeouts apply), zero is no limit.
    pub timeout: Option<std::time::Duration>,
}
