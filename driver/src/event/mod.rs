//! Monitoring events (command, CMAP and SDAM monitoring specs).

pub mod cmap;
