//! Server selection (server selection spec, "Rules for server selection"): which
//! servers of a topology are suitable for an operation, which of those are in the
//! latency window, and which one to use.
//!
//! ```
//! use std::time::Duration;
//! use mongo_driver::sdam::{ServerAddress, ServerDescription, ServerType, TopologyDescription, TopologyType};
//! use mongo_driver::selection::{self, Operation, ReadPreference, SelectionOptions};
//!
//! let member = |host: &str, ty, rtt| ServerDescription {
//!     average_round_trip_time: Some(Duration::from_millis(rtt)),
//!     max_wire_version: 17,
//!     ..ServerDescription::new(ServerAddress::new(host, 27017), ty)
//! };
//! let topology = TopologyDescription::new(
//!     TopologyType::ReplicaSetWithPrimary,
//!     [member("a", ServerType::RsPrimary, 5), member("b", ServerType::RsSecondary, 30)],
//! );
//! let s = selection::evaluate(&topology, Operation::Read, &ReadPreference::secondary(), &SelectionOptions::default())?;
//! assert_eq!(s.in_latency_window[0].address.host(), "b");
//! # Ok::<(), mongo_driver::Error>(())
//! ```

pub mod in_window;
pub mod latency;
pub mod read_preference;
pub mod staleness;
pub mod write_stage;

use std::fmt::Write as _;
use std::time::Duration;

use rand::Rng;

pub use read_preference::{
    IDLE_WRITE_PERIOD, ReadPreference, ReadPreferenceMode, SMALLEST_MAX_STALENESS_SECONDS, TagSet,
};

use crate::error::{Error, ErrorKind, Result};
use crate::sdam::{ServerAddress, ServerDescription, ServerType, TopologyDescription, TopologyType};

/// The default `heartbeatFrequencyMS` of a multi-threaded client (SDAM).
pub const DEFAULT_HEARTBEAT_FREQUENCY: Duration = Duration::from_secs(10);

/// The first wire version whose servers report `lastWrite` (max staleness spec, "Wire Version").
pub const MAX_STALENESS_WIRE_VERSION: i32 = 5;

/// Whether the operation reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// A read: the read preference decides.
    Read,
    /// A write: only a primary, mongos, load balancer or single server will do.
    Write,
}

/// The client-level settings server selection uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SelectionOptions {
    /// `localThresholdMS`: the width of the latency window (default 15 ms).
    pub local_threshold: Duration,
    /// `heartbeatFrequencyMS`: enters staleness estimates and the max staleness floor (default 10 s).
    pub heartbeat_frequency: Duration,
}

impl Default for SelectionOptions {
    fn default() -> Self {
        Self {
            local_threshold: latency::DEFAULT_LOCAL_THRESHOLD,
            heartbeat_frequency: DEFAULT_HEARTBEAT_FREQUENCY,
        }
    }
}

/// The outcome of one selection pass over a topology description.
#[derive(Debug, Clone)]
pub struct Selection<'a> {
    /// Servers suitable for the operation, in address order.
    pub suitable: Vec<&'a ServerDescription>,
    /// The suitable servers within the latency window.
    pub in_latency_window: Vec<&'a ServerDescription>,
    /// Why: one line per step of the algorithm, for people (logs, the tour).
    pub explanation: Vec<String>,
}

impl<'a> Selection<'a> {
    /// Picks the server to use from the latency window by operation count (see
    /// [`in_window::choose`]); `None` when no server is suitable.
    pub fn choose<R: Rng + ?Sized>(
        &self,
        operation_count: impl Fn(&ServerAddress) -> u32,
        rng: &mut R,
    ) -> Option<&'a ServerDescription> {
        in_window::choose(&self.in_latency_window, operation_count, rng)
    }
}

/// Finds the servers of `topology` suitable for `operation` and those in the latency
/// window. Errors: an incompatible server wire version, an invalid read preference
/// (see [`ReadPreference::validate_for_topology`]), or a max staleness while an
/// available server is older than wire version 5. An empty selection is not an error
/// here: the caller waits for the topology to change.
pub fn evaluate<'a>(
    topology: &'a TopologyDescription,
    operation: Operation,
    read_preference: &ReadPreference,
    options: &SelectionOptions,
) -> Result<Selection<'a>> {
    evaluate_deprioritized(topology, operation, read_preference, options, &[])
}

/// [`evaluate`] with deprioritized servers (server selection spec, "Server Selection
/// Algorithm" step 3): suitable servers are first looked for among the servers not in
/// `deprioritized`, and only when there are none among all of them (e.g. a retry avoids
/// the mongos that just failed unless it is the only one).
pub fn evaluate_deprioritized<'a>(
    topology: &'a TopologyDescription,
    operation: Operation,
    read_preference: &ReadPreference,
    options: &SelectionOptions,
    deprioritized: &[ServerAddress],
) -> Result<Selection<'a>> {
    if let Some(message) = topology.compatibility_error() {
        return Err(Error::new(ErrorKind::IncompatibleWireVersion { message }));
    }
    let mut why = Vec::new();
    let find = |topology: &TopologyDescription, why: &mut Vec<String>| -> Result<Vec<ServerAddress>> {
        Ok(match operation {
            Operation::Write => suitable_for_write(topology, why),
            Operation::Read => {
                read_preference.validate_for_topology(topology.topology_type, options.heartbeat_frequency)?;
                check_max_staleness_wire_version(topology, read_preference)?;
                suitable_for_read(topology, read_preference, options, why)
            }
        }
        .into_iter()
        .map(|s| s.address.clone())
        .collect())
    };
    let mut addresses = Vec::new();
    if topology.servers.keys().any(|a| deprioritized.contains(a)) {
        let mut preferred = topology.clone();
        preferred.servers.retain(|a, _| !deprioritized.contains(a));
        why.push(format!("deprioritized servers left out first: {}", list(deprioritized)));
        addresses = find(&preferred, &mut why)?;
        if addresses.is_empty() {
            why.push("no suitable server besides the deprioritized ones: all servers considered".into());
        }
    }
    if addresses.is_empty() {
        addresses = find(topology, &mut why)?;
    }
    let suitable: Vec<&ServerDescription> =
        addresses.iter().filter_map(|a| topology.servers.get(a)).collect();
    let in_latency_window = latency::in_latency_window(&suitable, options.local_threshold);
    if suitable.len() > 1 {
        if let Some(fastest) = suitable.iter().filter_map(|s| s.average_round_trip_time).min() {
            why.push(format!(
                "latency window: fastest average RTT {} + localThresholdMS {} = up to {}: {}",
                ms(fastest),
                ms(options.local_threshold),
                ms(fastest.saturating_add(options.local_threshold)),
                names(&in_latency_window)
            ));
        }
    }
    Ok(Selection { suitable, in_latency_window, explanation: why })
}

/// A max staleness needs every available server at wire version 5 or later (server
/// selection spec, "maxStalenessSeconds"). The driver's own minimum wire version is
/// higher, so a compatible topology always passes; the check stays for hand-built ones.
fn check_max_staleness_wire_version(topology: &TopologyDescription, rp: &ReadPreference) -> Result<()> {
    if rp.positive_max_staleness().is_none() {
        return Ok(());
    }
    match topology
        .servers()
        .find(|s| s.server_type.is_available() && s.max_wire_version < MAX_STALENESS_WIRE_VERSION)
    {
        Some(old) => Err(Error::new(ErrorKind::IncompatibleWireVersion {
            message: format!(
                "maxStalenessSeconds needs wire version {MAX_STALENESS_WIRE_VERSION}, but the server at {} reports {}",
                old.address, old.max_wire_version
            ),
        })),
        None => Ok(()),
    }
}

fn suitable_for_write<'a>(
    topology: &'a TopologyDescription,
    why: &mut Vec<String>,
) -> Vec<&'a ServerDescription> {
    let out: Vec<_> = match topology.topology_type {
        TopologyType::Unknown => Vec::new(),
        TopologyType::Single => topology.servers().filter(|s| s.server_type.is_available()).collect(),
        TopologyType::LoadBalanced => of_type(topology, ServerType::LoadBalancer),
        TopologyType::Sharded => of_type(topology, ServerType::Mongos),
        TopologyType::ReplicaSetNoPrimary | TopologyType::ReplicaSetWithPrimary => {
            of_type(topology, ServerType::RsPrimary)
        }
    };
    why.push(format!("write on a {} topology: suitable {}", topology.topology_type, names(&out)));
    out
}

fn suitable_for_read<'a>(
    topology: &'a TopologyDescription,
    rp: &ReadPreference,
    options: &SelectionOptions,
    why: &mut Vec<String>,
) -> Vec<&'a ServerDescription> {
    let ty = topology.topology_type;
    let direct = match ty {
        TopologyType::Unknown => Some(Vec::new()),
        TopologyType::Single => Some(topology.servers().filter(|s| s.server_type.is_available()).collect()),
        TopologyType::LoadBalanced => Some(of_type(topology, ServerType::LoadBalancer)),
        TopologyType::Sharded => Some(of_type(topology, ServerType::Mongos)),
        TopologyType::ReplicaSetNoPrimary | TopologyType::ReplicaSetWithPrimary => None,
    };
    if let Some(out) = direct {
        why.push(format!("read on a {ty} topology ignores the read preference: suitable {}", names(&out)));
        return out;
    }
    let primary = of_type(topology, ServerType::RsPrimary);
    let secondaries = of_type(topology, ServerType::RsSecondary);
    match rp.mode {
        ReadPreferenceMode::Primary => {
            why.push(format!("mode primary: suitable {}", names(&primary)));
            primary
        }
        ReadPreferenceMode::PrimaryPreferred if !primary.is_empty() => {
            why.push(format!("mode primaryPreferred and the primary is known: suitable {}", names(&primary)));
            primary
        }
        ReadPreferenceMode::PrimaryPreferred | ReadPreferenceMode::Secondary => {
            if rp.mode == ReadPreferenceMode::PrimaryPreferred {
                why.push("mode primaryPreferred and no primary is known: as mode secondary".into());
            }
            eligible(topology, secondaries, rp, options, why)
        }
        ReadPreferenceMode::SecondaryPreferred => {
            let out = eligible(topology, secondaries, rp, options, why);
            if out.is_empty() {
                why.push(format!(
                    "mode secondaryPreferred, no eligible secondary: suitable {}",
                    names(&primary)
                ));
                primary
            } else {
                out
            }
        }
        ReadPreferenceMode::Nearest => {
            let mut candidates = primary;
            candidates.extend(secondaries);
            candidates.sort_by(|a, b| a.address.cmp(&b.address));
            eligible(topology, candidates, rp, options, why)
        }
    }
}

/// Filters candidates by max staleness, then by the first tag set that matches any.
fn eligible<'a>(
    topology: &'a TopologyDescription,
    candidates: Vec<&'a ServerDescription>,
    rp: &ReadPreference,
    options: &SelectionOptions,
    why: &mut Vec<String>,
) -> Vec<&'a ServerDescription> {
    why.push(format!("candidates for mode {}: {}", rp.mode, names(&candidates)));
    let mut servers = candidates;
    if let Some(max) = rp.positive_max_staleness() {
        let mut line = format!("maxStalenessSeconds {max}: estimated staleness");
        servers.retain(|s| {
            let estimate = staleness::estimate_ms(s, topology, options.heartbeat_frequency);
            let keep = estimate.is_some_and(|e| i128::from(e) <= i128::from(max) * 1000);
            let shown = estimate.map_or("unknown".to_string(), |e| format!("{e} ms"));
            let _ = write!(line, " {} {shown} ({}),", s.address, if keep { "eligible" } else { "too stale" });
            keep
        });
        line.pop();
        why.push(line);
    }
    if rp.tag_sets.is_empty() {
        return servers;
    }
    for set in &rp.tag_sets {
        let matching: Vec<_> = servers.iter().copied().filter(|s| set.matches(&s.tags)).collect();
        if !matching.is_empty() {
            why.push(format!("tag set {set} matches {}", names(&matching)));
            return matching;
        }
        why.push(format!("tag set {set} matches no candidate"));
    }
    Vec::new()
}

fn of_type(topology: &TopologyDescription, ty: ServerType) -> Vec<&ServerDescription> {
    topology.servers().filter(|s| s.server_type == ty).collect()
}

fn names(servers: &[&ServerDescription]) -> String {
    if servers.is_empty() {
        return "none".into();
    }
    servers.iter().map(|s| s.address.to_string()).collect::<Vec<_>>().join(", ")
}

fn list(addresses: &[ServerAddress]) -> String {
    addresses.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

fn ms(d: Duration) -> String {
    format!("{} ms", d.as_secs_f64() * 1000.0)
}

// SDAM monitoring's `hasReadableServer`/`hasWritableServer` ask server selection, which sits
// beside SDAM and reads its descriptions: defined here so `sdam` never imports `selection`.
impl TopologyDescription {
    /// SDAM monitoring `hasReadableServer`: whether server selection would find a server
    /// for a read with `read_preference` (default: primary) right now.
    pub fn has_readable_server(&self, read_preference: Option<&ReadPreference>) -> bool {
        let primary = ReadPreference::primary();
        self.has_suitable_server(Operation::Read, read_preference.unwrap_or(&primary))
    }

    /// SDAM monitoring `hasWritableServer`: whether server selection would find a server
    /// for a write right now.
    pub fn has_writable_server(&self) -> bool {
        self.has_suitable_server(Operation::Write, &ReadPreference::primary())
    }

    fn has_suitable_server(&self, operation: Operation, read_preference: &ReadPreference) -> bool {
        let options = SelectionOptions::default();
        evaluate(self, operation, read_preference, &options).is_ok_and(|s| !s.suitable.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(host: &str, ty: ServerType, rtt: u64, max_wire: i32) -> ServerDescription {
        ServerDescription {
            average_round_trip_time: Some(Duration::from_millis(rtt)),
            max_wire_version: max_wire,
            ..ServerDescription::new(ServerAddress::new(host, 27017), ty)
        }
    }

    #[test]
    fn incompatible_server_fails_every_selection() {
        let t = TopologyDescription::new(TopologyType::Sharded, [member("a", ServerType::Mongos, 1, 2)]);
        let err = evaluate(&t, Operation::Write, &ReadPreference::primary(), &SelectionOptions::default())
            .unwrap_err();
        assert!(matches!(*err.kind, ErrorKind::IncompatibleWireVersion { .. }), "{err}");
    }

    #[test]
    fn max_staleness_needs_wire_version_5() {
        let t = TopologyDescription::new(
            TopologyType::Sharded,
            [member("a", ServerType::Mongos, 1, 4), member("b", ServerType::Unknown, 1, 0)],
        );
        let rp = ReadPreference::nearest().with_max_staleness_seconds(120);
        let err = check_max_staleness_wire_version(&t, &rp).unwrap_err();
        assert!(err.to_string().contains("a:27017 reports 4"), "{err}");
        assert!(check_max_staleness_wire_version(&t, &ReadPreference::nearest()).is_ok());
        let t = TopologyDescription::new(TopologyType::Sharded, [member("a", ServerType::Mongos, 1, 5)]);
        assert!(check_max_staleness_wire_version(&t, &rp).is_ok());
    }

    #[test]
    fn writes_ignore_the_read_preference() {
        let t = TopologyDescription::new(
            TopologyType::ReplicaSetWithPrimary,
            [member("a", ServerType::RsPrimary, 1, 17), member("b", ServerType::RsSecondary, 1, 17)],
        );
        // Invalid for reads (too small), irrelevant for writes.
        let rp = ReadPreference::secondary().with_max_staleness_seconds(1);
        let s = evaluate(&t, Operation::Write, &rp, &SelectionOptions::default()).unwrap();
        assert_eq!(names(&s.suitable), "a:27017");
        assert!(evaluate(&t, Operation::Read, &rp, &SelectionOptions::default()).is_err());
    }

    #[test]
    fn other_member_types_are_never_suitable() {
        let t = TopologyDescription::new(
            TopologyType::ReplicaSetNoPrimary,
            [
                member("a", ServerType::RsArbiter, 1, 17),
                member("b", ServerType::RsOther, 1, 17),
                member("c", ServerType::RsGhost, 1, 17),
            ],
        );
        for rp in [ReadPreference::nearest(), ReadPreference::secondary_preferred()] {
            let s = evaluate(&t, Operation::Read, &rp, &SelectionOptions::default()).unwrap();
            assert!(s.suitable.is_empty());
        }
    }

    #[test]
    fn single_unknown_server_is_not_suitable() {
        let t = TopologyDescription::new(TopologyType::Single, [member("a", ServerType::Unknown, 1, 0)]);
        let s =
            evaluate(&t, Operation::Read, &ReadPreference::primary(), &SelectionOptions::default()).unwrap();
        assert!(s.suitable.is_empty());
    }

    #[test]
    fn empty_tag_set_list_matches_all() {
        let t = TopologyDescription::new(
            TopologyType::ReplicaSetNoPrimary,
            [member("a", ServerType::RsSecondary, 1, 17), member("b", ServerType::RsSecondary, 2, 17)],
        );
        let s = evaluate(&t, Operation::Read, &ReadPreference::secondary(), &SelectionOptions::default())
            .unwrap();
        assert_eq!(s.suitable.len(), 2);
        assert!(s.explanation.iter().any(|l| l.starts_with("latency window")));
    }
}
