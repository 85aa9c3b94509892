//! Monitoring events the driver publishes (SDAM monitoring spec; CMAP and command
//! monitoring events live beside them).

pub mod cmap;
pub mod command;
pub mod sdam;
