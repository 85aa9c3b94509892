//! Runtime support for the generated spec tests: building driver inputs from spec
//! values and asserting the spec's expectations.

pub mod cmap;
pub mod connection_string;
pub mod sdam;
pub mod selection;
pub mod unified;
