//! Assertions for the server-selection test format (`server-selection/tests/README.rst`,
//! shared by `max-staleness/tests/README.rst`): the generated tests build the driver's
//! inputs and call these checkers, which assert the spec's expectations and then take
//! an insta snapshot (under `generated-tests/snapshots/`, named after the test) of what
//! the driver selected and why.

use crate::snapshot;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use mongo_driver::sdam::{ServerAddress, ServerDescription, ServerType, TopologyDescription};
use mongo_driver::selection::{self, Operation, ReadPreference, SelectionOptions};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::Serialize;

/// The seed of the random choices in `in_window` tests, fixed so runs are repeatable.
pub const IN_WINDOW_SEED: u64 = 0x5e1e_c7ed;

/// What a selection test expects.
#[derive(Debug, Clone)]
pub enum Expected {
    /// `error: true`: selection must fail (invalid read preference, incompatible server).
    Error,
    /// The suitable servers (when the file lists them) and those in the latency window.
    Servers {
        /// `suitable_servers`, if given.
        suitable: Option<Vec<ServerAddress>>,
        /// `in_latency_window`.
        in_latency_window: Vec<ServerAddress>,
    },
}

/// One server-selection logic or max staleness test.
#[derive(Debug, Clone)]
pub struct SelectionCase {
    /// The test's full name (`max_staleness::replica_set_no_primary::nearest2`); names the snapshot.
    pub name: &'static str,
    /// `topology_description`.
    pub topology: TopologyDescription,
    /// `operation`.
    pub operation: Operation,
    /// `read_preference`.
    pub read_preference: ReadPreference,
    /// `heartbeatFrequencyMS` and the default `localThresholdMS` (15 ms).
    pub options: SelectionOptions,
    /// `deprioritized_servers` (empty when the file has none).
    pub deprioritized: Vec<ServerAddress>,
    /// The expectation.
    pub expected: Expected,
}

#[derive(Serialize)]
struct SelectionSnapshot {
    topology_type: String,
    operation: String,
    read_preference: String,
    heartbeat_frequency_ms: u128,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    suitable: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    in_latency_window: Option<Vec<String>>,
    explanation: Vec<String>,
}

/// Runs server selection on the case and asserts the spec's expectation: an error, or
/// exactly the given sets of suitable and in-window servers (compared as sets of addresses).
pub fn check_selection(case: SelectionCase) {
    let SelectionCase { name, topology, operation, read_preference, options, deprioritized, expected } = case;
    let result =
        selection::evaluate_deprioritized(&topology, operation, &read_preference, &options, &deprioritized);
    let mut snap = SelectionSnapshot {
        topology_type: topology.topology_type.to_string(),
        operation: format!("{operation:?}"),
        read_preference: read_preference.to_string(),
        heartbeat_frequency_ms: options.heartbeat_frequency.as_millis(),
        error: None,
        suitable: None,
        in_latency_window: None,
        explanation: Vec::new(),
    };
    match (expected, result) {
        (Expected::Error, Err(e)) => snap.error = Some(e.to_string()),
        (Expected::Error, Ok(s)) => panic!(
            "{name}: expected an error, but selection succeeded with suitable {:?}\n{}",
            addresses(&s.suitable),
            s.explanation.join("\n")
        ),
        (Expected::Servers { .. }, Err(e)) => panic!("{name}: selection failed unexpectedly: {e}"),
        (Expected::Servers { suitable, in_latency_window }, Ok(s)) => {
            let why = s.explanation.join("\n");
            if let Some(suitable) = suitable {
                assert_eq!(
                    addresses(&s.suitable),
                    suitable.iter().map(ToString::to_string).collect::<BTreeSet<_>>(),
                    "{name}: suitable_servers\n{why}"
                );
            }
            assert_eq!(
                addresses(&s.in_latency_window),
                in_latency_window.iter().map(ToString::to_string).collect::<BTreeSet<_>>(),
                "{name}: in_latency_window\n{why}"
            );
            snap.suitable = Some(addresses(&s.suitable).into_iter().collect());
            snap.in_latency_window = Some(addresses(&s.in_latency_window).into_iter().collect());
            snap.explanation = s.explanation;
        }
    }
    snapshot(name, &snap);
}

fn addresses(servers: &[&ServerDescription]) -> BTreeSet<String> {
    servers.iter().map(|s| s.address.to_string()).collect()
}

#[derive(Serialize)]
struct RttSnapshot {
    previous_average_ms: Option<f64>,
    sample_ms: f64,
    new_average_ms: Option<f64>,
}

/// An `rtt/` test: a server description with average `previous` records `sample`; its
/// new average must be `expected` (exactly, to the nanosecond).
pub fn check_rtt(name: &str, previous: Option<Duration>, sample: Duration, expected: Duration) {
    let mut server = ServerDescription {
        average_round_trip_time: previous,
        ..ServerDescription::new(ServerAddress::new("a", 27017), ServerType::RsSecondary)
    };
    server.record_round_trip_time(sample);
    assert_eq!(server.average_round_trip_time, Some(expected), "{name}: new average RTT");
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    snapshot(
        name,
        &RttSnapshot {
            previous_average_ms: previous.map(ms),
            sample_ms: ms(sample),
            new_average_ms: server.average_round_trip_time.map(ms),
        },
    );
}

/// One `in_window/` test.
#[derive(Debug, Clone)]
pub struct InWindowCase {
    /// The test's full name; names the snapshot.
    pub name: &'static str,
    /// `topology_description`.
    pub topology: TopologyDescription,
    /// `mocked_topology_state`: each server's operation count.
    pub operation_counts: Vec<(ServerAddress, u32)>,
    /// How many selections to make.
    pub iterations: u32,
    /// `outcome.tolerance`.
    pub tolerance: f64,
    /// `outcome.expected_frequencies`.
    pub expected_frequencies: Vec<(ServerAddress, f64)>,
}

#[derive(Serialize)]
struct InWindowSnapshot {
    seed: u64,
    iterations: u32,
    tolerance: f64,
    selections: BTreeMap<String, u32>,
}

/// Selects a server for a read with mode nearest `iterations` times from the mocked
/// topology (the operation counts stay as mocked, as the expected frequencies assume),
/// with a fixed seed, and asserts each server's frequency is within `tolerance` of the
/// expected one, and exactly equal where the expected frequency is 0 or 1.
pub fn check_in_window(case: InWindowCase) {
    let InWindowCase { name, topology, operation_counts, iterations, tolerance, expected_frequencies } = case;
    let selection = selection::evaluate(
        &topology,
        Operation::Read,
        &ReadPreference::nearest(),
        &SelectionOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{name}: selection failed: {e}"));
    let counts: BTreeMap<ServerAddress, u32> = operation_counts.into_iter().collect();
    let mut rng = StdRng::seed_from_u64(IN_WINDOW_SEED);
    let mut selections: BTreeMap<String, u32> = BTreeMap::new();
    for _ in 0..iterations {
        let chosen = selection
            .choose(|a| counts.get(a).copied().unwrap_or(0), &mut rng)
            .unwrap_or_else(|| panic!("{name}: no server selected\n{}", selection.explanation.join("\n")));
        *selections.entry(chosen.address.to_string()).or_default() += 1;
    }
    let expected: BTreeMap<String, f64> =
        expected_frequencies.iter().map(|(a, f)| (a.to_string(), *f)).collect();
    for address in selections.keys() {
        assert!(
            expected.contains_key(address),
            "{name}: {address} was selected but has no expected frequency"
        );
    }
    for (address, want) in &expected {
        let got = f64::from(selections.get(address).copied().unwrap_or(0)) / f64::from(iterations);
        if *want == 0.0 || *want == 1.0 {
            assert_eq!(got, *want, "{name}: frequency of {address} must be exactly {want}: {selections:?}");
        } else {
            assert!(
                (got - want).abs() <= tolerance,
                "{name}: frequency of {address} is {got}, expected {want} ± {tolerance}: {selections:?}"
            );
        }
    }
    snapshot(name, &InWindowSnapshot { seed: IN_WINDOW_SEED, iterations, tolerance, selections });
}
