//! An async MongoDB driver whose behaviour is checked against the official driver
//! specifications' test data.
//!
//! The lower layers, bottom to top; a module imports only from its own layer or below:
//!
//! 0. [`error`] (one error type, the server's error codes) and [`options`] (connection
//!    strings, `mongodb+srv`, options, and the shared vocabulary: addresses, read
//!    preferences, read/write concerns);
//! 1. [`wire`] (OP_MSG, OP_QUERY/OP_REPLY, compression) and [`commands`] (the generated
//!    command builders);
//! 2. [`connection`] (handshake, authentication, TLS);
//! 3. [`cmap`] (connection pools and their events);
//! 4. [`sdam`], [`selection`], [`monitor`], [`topology`] (discovery and monitoring, server
//!    selection, the runtime that ties pools and monitors together), and [`event`] (every
//!    monitoring event in one place).

pub mod change_stream;
pub mod client;
pub mod cmap;
pub mod coll;
pub mod commands;
pub mod connection;
pub mod cursor;
pub mod db;
pub mod enumerate_databases;
pub mod error;
pub mod event;
pub mod executor;
pub mod gridfs;
pub mod index_management;
pub mod monitor;
pub mod operation;
pub mod options;
pub mod results;
pub mod sdam;
pub mod selection;
pub mod session;
pub mod topology;
pub mod wire;

pub use connection::auth;
pub use error::code as error_code;
pub use options::{connection_string, srv};

pub use change_stream::{ChangeStream, ChangeStreamEvent};
pub use client::Client;
pub use coll::Collection;
pub use cursor::Cursor;
pub use db::Database;
pub use error::{Error, ErrorKind, Result};
pub use session::ClientSession;
