//! The tour's second part, server selection explained: it builds the description of a
//! five-member replica set the way the SDAM monitor would see it, then shows for a series
//! of read preferences which servers are suitable, which are in the latency window, which
//! one a read would go to, and why.

use std::time::Duration;

use bson::DateTime;
use mongo_driver::sdam::{ServerAddress, ServerDescription, ServerType, TopologyDescription, TopologyType};
use mongo_driver::selection::{self, Operation, ReadPreference, SelectionOptions, TagSet, staleness};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// The client's clock at the last check of every member (ms since the Unix epoch).
const NOW: i64 = 1_700_000_000_000;

fn member(host: &str, ty: ServerType, rtt_ms: u64, lag_s: i64, tags: TagSet) -> ServerDescription {
    ServerDescription {
        average_round_trip_time: Some(Duration::from_millis(rtt_ms)),
        last_update_time: Some(DateTime::from_millis(NOW)),
        // The primary wrote last at NOW - 1 s; each member has replicated up to `lag_s` before that.
        last_write_date: Some(DateTime::from_millis(NOW - 1_000 - lag_s * 1_000)),
        max_wire_version: 21,
        set_name: Some("rs0".into()),
        tags,
        ..ServerDescription::new(ServerAddress::new(host, 27017), ty)
    }
}

fn replica_set(with_primary: bool) -> TopologyDescription {
    let mut servers = vec![
        member("ny-1", ServerType::RsSecondary, 4, 2, TagSet::from([("dc", "ny"), ("rack", "1")])),
        member("ny-2", ServerType::RsSecondary, 9, 150, TagSet::from([("dc", "ny"), ("rack", "2")])),
        member("sf-1", ServerType::RsSecondary, 38, 5, TagSet::from([("dc", "sf"), ("rack", "1")])),
        ServerDescription {
            max_wire_version: 21,
            ..ServerDescription::new(ServerAddress::new("arbiter", 27017), ServerType::RsArbiter)
        },
    ];
    if with_primary {
        servers.push(member(
            "ny-0",
            ServerType::RsPrimary,
            12,
            0,
            TagSet::from([("dc", "ny"), ("rack", "0")]),
        ));
    }
    let ty =
        if with_primary { TopologyType::ReplicaSetWithPrimary } else { TopologyType::ReplicaSetNoPrimary };
    TopologyDescription { set_name: Some("rs0".into()), ..TopologyDescription::new(ty, servers) }
}

fn show_topology(topology: &TopologyDescription, options: &SelectionOptions) {
    println!(
        "Topology {} (replica set rs0), heartbeatFrequencyMS {}:",
        topology.topology_type,
        options.heartbeat_frequency.as_millis()
    );
    println!("  {:<16} {:<12} {:>8}  {:>16}  tags", "server", "type", "avg RTT", "est. staleness");
    for s in topology.servers() {
        let rtt = s.average_round_trip_time.map_or("-".into(), |d| format!("{} ms", d.as_millis()));
        let stale = match (s.server_type, staleness::estimate_ms(s, topology, options.heartbeat_frequency)) {
            (ServerType::RsSecondary, Some(ms)) => format!("{:.1} s", ms as f64 / 1000.0),
            _ => "-".into(),
        };
        println!(
            "  {:<16} {:<12} {:>8}  {:>16}  {}",
            s.address.to_string(),
            s.server_type.as_str(),
            rtt,
            stale,
            s.tags
        );
    }
    println!();
}

fn show(
    topology: &TopologyDescription,
    operation: Operation,
    rp: &ReadPreference,
    options: &SelectionOptions,
) {
    match operation {
        Operation::Read => println!("▶ read with {rp}"),
        Operation::Write => println!("▶ write"),
    }
    match selection::evaluate(topology, operation, rp, options) {
        Err(e) => println!("    ✗ rejected: {e}"),
        Ok(sel) => {
            for line in &sel.explanation {
                println!("    · {line}");
            }
            let names = |v: &[&ServerDescription]| {
                if v.is_empty() {
                    "none".to_string()
                } else {
                    v.iter().map(|s| s.address.to_string()).collect::<Vec<_>>().join(", ")
                }
            };
            println!(
                "    suitable: {}   in latency window: {}",
                names(&sel.suitable),
                names(&sel.in_latency_window)
            );
            let mut rng = StdRng::seed_from_u64(1);
            match sel.choose(|_| 0, &mut rng) {
                Some(s) => println!(
                    "    → the {} goes to {} (of the window, by two random picks and the lower operation count)",
                    if operation == Operation::Read { "read" } else { "write" },
                    s.address
                ),
                None => println!(
                    "    → no server is suitable: the driver would wait for the topology to change, up to serverSelectionTimeoutMS"
                ),
            }
        }
    }
    println!();
}

/// Prints the selection walkthrough.
pub fn walkthrough() {
    let options = SelectionOptions::default();
    println!(
        "Part 2 — server selection explained (localThresholdMS {} ms)\n",
        options.local_threshold.as_millis()
    );

    let topology = replica_set(true);
    show_topology(&topology, &options);
    let ny = TagSet::from([("dc", "ny")]);
    let sf = TagSet::from([("dc", "sf")]);
    let tokyo = TagSet::from([("dc", "tokyo")]);
    let reads = [
        ReadPreference::primary(),
        ReadPreference::primary_preferred(),
        ReadPreference::secondary(),
        ReadPreference::secondary_preferred(),
        ReadPreference::nearest(),
        ReadPreference::secondary().with_tag_sets([sf.clone()]),
        ReadPreference::secondary().with_tag_sets([tokyo.clone(), ny.clone()]),
        ReadPreference::secondary_preferred().with_tag_sets([tokyo.clone()]),
        ReadPreference::secondary().with_tag_sets([tokyo]),
        ReadPreference::secondary().with_max_staleness_seconds(90),
        ReadPreference::nearest().with_tag_sets([ny]).with_max_staleness_seconds(120),
        ReadPreference::primary().with_max_staleness_seconds(120),
        ReadPreference::secondary().with_max_staleness_seconds(30),
    ];
    for rp in &reads {
        show(&topology, Operation::Read, rp, &options);
    }
    show(&topology, Operation::Write, &ReadPreference::primary(), &options);

    println!("— The primary ny-0 goes down; the set has no primary —\n");
    let no_primary = replica_set(false);
    show_topology(&no_primary, &options);
    show(&no_primary, Operation::Read, &ReadPreference::primary(), &options);
    show(&no_primary, Operation::Read, &ReadPreference::primary_preferred().with_tag_sets([sf]), &options);
    show(&no_primary, Operation::Read, &ReadPreference::nearest().with_max_staleness_seconds(90), &options);
    show(&no_primary, Operation::Write, &ReadPreference::primary(), &options);
}
