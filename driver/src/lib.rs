//! An async MongoDB driver whose behaviour is checked against the official driver
//! specifications' test data.

pub mod auth;
pub mod change_stream;
pub mod client;
pub mod cmap;
pub mod coll;
pub mod commands;
pub mod connection;
pub mod connection_string;
pub mod cursor;
pub mod db;
pub mod enumerate_databases;
pub mod error;
pub mod error_code;
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
pub mod srv;
pub mod topology;
pub mod wire;

pub use change_stream::{ChangeStream, ChangeStreamEvent};
pub use client::Client;
pub use coll::Collection;
pub use cursor::Cursor;
pub use db::Database;
pub use error::{Error, ErrorKind, Result};
pub use session::ClientSession;
