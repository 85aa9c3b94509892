//! The average round trip time of a server (server monitoring spec, "Round Trip Time"):
//! the exponentially weighted moving average its checks feed and server selection's latency
//! window reads.

use std::time::Duration;

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
