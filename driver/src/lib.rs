//! An async MongoDB driver whose behaviour is checked against the official driver
//! specifications' test data.

pub mod cmap;
pub mod connection_string;
pub mod commands;
pub mod connection;
pub mod error;
pub mod error_code;
pub mod event;
pub mod monitor;
pub mod sdam;
pub mod selection;
pub mod topology;
pub mod wire;

pub use error::{Error, ErrorKind, Result};
