//! Staleness estimates of secondaries (max staleness spec, "Client"; server selection
//! spec, "maxStalenessSeconds").

use std::time::Duration;

use crate::sdam::{ServerDescription, ServerType, TopologyDescription, TopologyType};

/// The estimated staleness of `server` in milliseconds, or `None` when the descriptions
/// lack the times the estimate needs (such a secondary is never eligible under a max
/// staleness). Non-secondaries have zero staleness; the estimate may be negative.
///
/// With a known primary `P` (ReplicaSetWithPrimary):
/// `(S.lastUpdateTime - S.lastWriteDate) - (P.lastUpdateTime - P.lastWriteDate) + heartbeatFrequencyMS`.
/// Otherwise, with `SMax` the secondary with the greatest lastWriteDate:
/// `SMax.lastWriteDate - S.lastWriteDate + heartbeatFrequencyMS`.
pub fn estimate_ms(
    server: &ServerDescription,
    topology: &TopologyDescription,
    heartbeat_frequency: Duration,
) -> Option<i64> {
    if server.server_type != ServerType::RsSecondary {
        return Some(0);
    }
    let heartbeat = i64::try_from(heartbeat_frequency.as_millis()).ok()?;
    let s_write = server.last_write_date?.timestamp_millis();
    match topology.primary().filter(|_| topology.topology_type == TopologyType::ReplicaSetWithPrimary) {
        Some(p) => {
            let s_lag = server.last_update_time?.timestamp_millis().checked_sub(s_write)?;
            let p_lag =
                p.last_update_time?.timestamp_millis().checked_sub(p.last_write_date?.timestamp_millis())?;
            s_lag.checked_sub(p_lag)?.checked_add(heartbeat)
        }
        None => {
            let s_max = topology
                .servers()
                .filter(|s| s.server_type == ServerType::RsSecondary)
                .filter_map(|s| s.last_write_date)
                .max()?
                .timestamp_millis();
            s_max.checked_sub(s_write)?.checked_add(heartbeat)
        }
    }
}

#[cfg(test)]
mod tests {
    use bson::DateTime;

    use super::*;
    use crate::sdam::ServerAddress;

    fn member(name: &str, ty: ServerType, update: i64, write: i64) -> ServerDescription {
        ServerDescription {
            last_update_time: Some(DateTime::from_millis(update)),
            last_write_date: Some(DateTime::from_millis(write)),
            ..ServerDescription::new(ServerAddress::new(name, 27017), ty)
        }
    }

    /// The worked example "Estimating Staleness: Example With a Primary and Continuous Writes".
    #[test]
    fn spec_example_with_primary() {
        let hb = Duration::from_secs(10);
        let s = member("s", ServerType::RsSecondary, 60_000, 0);
        let p = member("p", ServerType::RsPrimary, 60_000, 10_000);
        let t = TopologyDescription::new(TopologyType::ReplicaSetWithPrimary, [s.clone(), p.clone()]);
        assert_eq!(estimate_ms(&s, &t, hb), Some(20_000));
        let s2 = member("s", ServerType::RsSecondary, 70_000, 5_000);
        let t = TopologyDescription::new(TopologyType::ReplicaSetWithPrimary, [s2.clone(), p]);
        assert_eq!(estimate_ms(&s2, &t, hb), Some(25_000));
        let p2 = member("p", ServerType::RsPrimary, 80_000, 30_000);
        let t = TopologyDescription::new(TopologyType::ReplicaSetWithPrimary, [s2.clone(), p2.clone()]);
        assert_eq!(estimate_ms(&s2, &t, hb), Some(25_000));
        assert_eq!(estimate_ms(&p2, &t, hb), Some(0));
    }

    /// The worked example "Estimating Staleness: Example With No Primary".
    #[test]
    fn spec_example_without_primary() {
        let hb = Duration::from_secs(10);
        let s1 = member("s1", ServerType::RsSecondary, 0, 20_000);
        let s2 = member("s2", ServerType::RsSecondary, 0, 5_000);
        let t = TopologyDescription::new(TopologyType::ReplicaSetNoPrimary, [s1.clone(), s2.clone()]);
        assert_eq!(estimate_ms(&s1, &t, hb), Some(10_000));
        assert_eq!(estimate_ms(&s2, &t, hb), Some(25_000));
    }

    #[test]
    fn missing_times_give_no_estimate() {
        let s = ServerDescription::new(ServerAddress::new("s", 1), ServerType::RsSecondary);
        let t = TopologyDescription::new(TopologyType::ReplicaSetNoPrimary, [s.clone()]);
        assert_eq!(estimate_ms(&s, &t, Duration::from_secs(10)), None);
    }
}
