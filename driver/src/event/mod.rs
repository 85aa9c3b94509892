//! Monitoring events the driver publishes (command monitoring, CMAP and SDAM monitoring
//! specs), gathered in one place for users.
//!
//! Each event type lives in the layer that publishes it, so no layer imports one above it:
//! CMAP events in [`crate::cmap::event`] (the pool), SDAM and heartbeat events in
//! [`crate::sdam::event`] (the topology state and the monitors). Command events are published
//! by the operation executor above every lower layer and need only an address and an error,
//! so they are defined here in [`command`]. This module sits beside `sdam` in the layer table.

pub mod command;

pub use crate::cmap::event as cmap;
pub use crate::sdam::event as sdam;
