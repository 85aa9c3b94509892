//! Round trip times and the latency window (server selection spec, "Round Trip Times
//! and the Latency Window").

use std::time::Duration;

use crate::sdam::ServerDescription;

/// The default `localThresholdMS`: the width of the latency window.
pub const DEFAULT_LOCAL_THRESHOLD: Duration = Duration::from_millis(15);

/// The new average RTT after a `sample`: the sample itself when there is no previous
/// average, otherwise the exponentially weighted moving average with alpha 0.2,
/// `0.2 * sample + 0.8 * previous`, computed exactly in nanoseconds (rounded to nearest).
///
/// ```
/// use std::time::Duration;
/// use mongo_driver::selection::latency::average_round_trip_time;
/// let ms = Duration::from_millis;
/// assert_eq!(average_round_trip_time(None, ms(10)), ms(10));
/// assert_eq!(average_round_trip_time(Some(ms(1)), ms(1000)), Duration::from_micros(200_800));
/// ```
pub fn average_round_trip_time(previous: Option<Duration>, sample: Duration) -> Duration {
    let Some(previous) = previous else { return sample };
    let nanos = (2 * sample.as_nanos() + 8 * previous.as_nanos() + 5) / 10;
    let secs = nanos / 1_000_000_000;
    match u64::try_from(secs) {
        // `nanos % 1e9` always fits in u32.
        Ok(secs) => Duration::new(secs, (nanos % 1_000_000_000) as u32),
        Err(_) => Duration::MAX,
    }
}

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
