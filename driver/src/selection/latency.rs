//! Round trip times and the latency window (server selection spec, "Round Trip Times
//! and the Latency Window").

use std::time::Duration;

use crate::sdam::ServerDescription;
pub use crate::sdam::rtt::average_round_trip_time;

/// The default `localThresholdMS`: the width of the latency window.
pub const DEFAULT_LOCAL_THRESHOLD: Duration = Duration::from_millis(15);

/// The suitable servers whose average RTT is within `local_threshold` of the fastest
/// one's (`A ≤ RTT ≤ A + localThresholdMS`). A server with no RTT yet (e.g. a load
/// balancer, which is not monitored) is kept: nothing says it is slow.
pub fn in_latency_window<'a>(
    suitable: &[&'a ServerDescription],
    local_threshold: Duration,
) -> Vec<&'a ServerDescription> {
    let fastest = suitable.iter().filter_map(|s| s.average_round_trip_time).min();
    let Some(fastest) = fastest else { return suitable.to_vec() };
    let upper = fastest.saturating_add(local_threshold);
    suitable.iter().copied().filter(|s| s.average_round_trip_time.is_none_or(|rtt| rtt <= upper)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdam::{ServerAddress, ServerType};

    fn server(name: &str, rtt: Option<u64>) -> ServerDescription {
        ServerDescription {
            average_round_trip_time: rtt.map(Duration::from_millis),
            ..ServerDescription::new(ServerAddress::new(name, 1), ServerType::Mongos)
        }
    }

    #[test]
    fn window_bounds_are_inclusive() {
        let (a, b, c) = (server("a", Some(10)), server("b", Some(25)), server("c", Some(26)));
        let window = in_latency_window(&[&a, &b, &c], DEFAULT_LOCAL_THRESHOLD);
        let names: Vec<&str> = window.iter().map(|s| s.address.host()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(in_latency_window(&[&c], Duration::ZERO).len(), 1);
        assert!(in_latency_window(&[], DEFAULT_LOCAL_THRESHOLD).is_empty());
    }

    #[test]
    fn servers_without_rtt_stay_in_the_window() {
        let (a, lb) = (server("a", Some(10)), server("lb", None));
        assert_eq!(in_latency_window(&[&a, &lb], Duration::ZERO).len(), 2);
    }

    #[test]
    fn average_does_not_overflow() {
        assert_eq!(average_round_trip_time(Some(Duration::MAX), Duration::MAX), Duration::MAX);
    }
}
