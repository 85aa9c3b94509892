//! `mongo-sim`: run a simulated deployment until killed.

fn main() {}
