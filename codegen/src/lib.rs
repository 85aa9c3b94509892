//! The generator: typed models of the MongoDB specification test formats (and the
//! server's error-code table and IDL), and the emitters that turn them into Rust.
//!
//! Nothing here depends on the driver or the simulator; the root build script, the
//! driver's build script and the `spec-macros` proc-macro call into it.

pub mod auth;
pub mod cmap;
pub mod connection_string;
pub mod crud_v1;
pub mod dns_seedlist;
pub mod error;
pub mod error_codes;
pub mod idl;
pub mod legacy;
pub mod manifest;
pub mod module_tree;
pub mod naming;
pub mod newer;
pub mod read_write_concern;
pub mod spec_data;
pub mod suite;
pub mod test_model;

pub mod sdam;
pub mod selection;
pub mod unified;

pub use error::{ErrorKind, SpecError};
pub use test_model::{GeneratedTest, Status, Suite};
