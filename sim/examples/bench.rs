//! Measures the simulator: start time of a 3-member replica set, and pymongo `insert_one` /
//! `find_one` throughput against it.
//!
//! `cargo run -p mongo-sim --release --example bench [-- OPS]` (Python from `MONGO_SIM_PYTHON`,
//! else `<repo>/.venv/bin/python`).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use mongo_sim::{Config, Deployment};

const PYTHON_BENCH: &str = r#"
import sys, time
from pymongo import MongoClient
uri, n = sys.argv[1], int(sys.argv[2])
c = MongoClient(uri)
coll = c.bench.docs
coll.drop()
coll.insert_one({"_id": -1})
t = time.perf_counter()
for i in range(n):
    coll.insert_one({"_id": i, "x": i, "s": "payload"})
ins = n / (time.perf_counter() - t)
t = time.perf_counter()
for i in range(n):
    coll.find_one({"_id": i})
fnd = n / (time.perf_counter() - t)
print("insert_one %.0f ops/s\nfind_one %.0f ops/s" % (ins, fnd))
"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let ops: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(2000);

    let mut starts = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let d = Deployment::start_blocking(Config::replica_set(3))?;
        starts.push(t.elapsed());
        drop(d);
    }
    starts.sort();
    let median = starts[starts.len() / 2];
    let max = starts.last().copied().unwrap_or(Duration::ZERO);
    println!("3-member replica set start: median {median:?}, max {max:?} (20 runs)");

    let python = std::env::var("MONGO_SIM_PYTHON").unwrap_or_else(|_| {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python").to_string_lossy().into_owned()
    });
    let d = Deployment::start_blocking(Config::replica_set(3))?;
    let out =
        Command::new(&python).args(["-c", PYTHON_BENCH, d.connection_string(), &ops.to_string()]).output()?;
    if !out.status.success() {
        return Err(format!("{python} failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    println!("pymongo, {ops} ops each, against the replica set:");
    print!("{}", String::from_utf8_lossy(&out.stdout));
    Ok(())
}
