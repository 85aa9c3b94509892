//! Read preferences in server selection (server selection spec, "Read preference"): the
//! types are shared vocabulary and live in [`crate::options::read_preference`]; what needs a
//! topology (the max staleness check against a topology type) is added here.

use std::time::Duration;

use crate::error::{Error, Result};
pub use crate::options::read_preference::*;
use crate::sdam::TopologyType;

impl ReadPreference {
    /// Checks the max staleness against a topology (server selection spec,
    /// "maxStalenessSeconds"): for a replica set it must be at least
    /// [`SMALLEST_MAX_STALENESS_SECONDS`] and at least `heartbeat_frequency +` [`IDLE_WRITE_PERIOD`].
    pub fn validate_for_topology(
        &self,
        topology_type: TopologyType,
        heartbeat_frequency: Duration,
    ) -> Result<()> {
        self.validate()?;
        let Some(seconds) = self.max_staleness() else { return Ok(()) };
        if !topology_type.is_replica_set() {
            return Ok(());
        }
        let floor_ms = (heartbeat_frequency + IDLE_WRITE_PERIOD).as_millis();
        if seconds < SMALLEST_MAX_STALENESS_SECONDS || i128::from(seconds) * 1000 < floor_ms as i128 {
            return Err(Error::invalid_argument(format!(
                "maxStalenessSeconds {seconds} is too small: it must be at least {SMALLEST_MAX_STALENESS_SECONDS} \
                 and at least heartbeatFrequencyMS + idleWritePeriodMS = {floor_ms} ms"
            )));
        }
        Ok(())
    }
}
