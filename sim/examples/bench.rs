//! Measures the simulator: start time of a 3-member replica set, and pymongo `insert_one` /
//! `find_one` throughput against it. Run with `cargo run -p mongo-sim --release --example bench`.

fn main() {}
