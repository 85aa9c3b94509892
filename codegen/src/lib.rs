//! The generator: typed models of the MongoDB specification test formats (and the
//! server's error-code table and IDL), and the emitters that turn them into Rust.
//!
//! Nothing here depends on the driver or the simulator; the root build script, the
//! driver's build script and the `spec-macros` proc-macro call into it.
//!
//! Layers, bottom to top (a module imports only from layers below it, or from its peers):
//! - `error`, `naming`, `spec_data` (the pin), `test_model` (a generated test, its status,
//!   a suite's description, spec-file discovery), then `newer` (ignored tests for newer files);
//! - the format models and emitters, one per spec format: `auth`, `cmap`,
//!   `connection_string`, `dns_seedlist`, `read_write_concern`, `sdam`, `selection`,
//!   `unified` (whose own layers its module doc shows), then `legacy` and `crud_v1` (older
//!   formats translated into unified cases); `idl` and `error_codes` for the driver's build;
//! - `module_tree` (a suite's tests as one Rust module tree) and `manifest`;
//! - `suite`: the registry of every suite and the emitter that makes it, the build scripts'
//!   entry point.

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
