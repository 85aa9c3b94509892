//! Shared helpers of the benchmark: its error type, environment numbers, URI tweaks and the
//! driver benchmarking spec's nearest-rank percentile ("Benchmark execution phases and
//! measurement").

use std::time::Duration;

/// Errors of the benchmark: anything, with a message saying where.
pub type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// The non-negative number in environment variable `name`, or `default` when it is unset.
pub fn env_number(name: &str, default: f64) -> BenchResult<f64> {
    match std::env::var(name) {
        Ok(v) => match v.parse::<f64>() {
            Ok(n) if n.is_finite() && n >= 0.0 => Ok(n),
            _ => Err(format!("{name}={v} is not a non-negative number").into()),
        },
        Err(_) => Ok(default),
    }
}

/// `uri` with `compressors=zstd` added to its options.
pub fn with_zstd(uri: &str) -> String {
    if uri.contains('?') {
        format!("{uri}&compressors=zstd")
    } else if uri.ends_with('/') {
        format!("{uri}?compressors=zstd")
    } else {
        format!("{uri}/?compressors=zstd")
    }
}

/// `host:port` of the first host of a `mongodb://` URI (for the raw socket).
pub fn first_host(uri: &str) -> BenchResult<String> {
    let rest = uri.strip_prefix("mongodb://").ok_or_else(|| format!("raw: {uri} is not a mongodb:// URI"))?;
    let hosts = rest.split(['/', '?']).next().unwrap_or_default();
    let hosts = hosts.rsplit_once('@').map_or(hosts, |(_, h)| h);
    let host =
        hosts.split(',').next().filter(|h| !h.is_empty()).ok_or_else(|| format!("raw: no host in {uri}"))?;
    Ok(if host.contains(':') { host.to_owned() } else { format!("{host}:27017") })
}

/// The spec's percentile `p` (1..=100) of `times` by nearest rank: sorted ascending, index
/// `int(N * p / 100) - 1` (clamped to the first element for small `N`).
pub fn percentile(times: &[Duration], p: usize) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    let i = (sorted.len() * p / 100).saturating_sub(1);
    sorted.get(i).copied().unwrap_or_default()
}
