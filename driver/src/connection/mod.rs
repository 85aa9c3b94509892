//! Driver connections (CMAP spec, "Connection"; MongoDB handshake spec): a TCP stream to one
//! server, opened with `connectTimeoutMS`, handshaken, then used to send commands as OP_MSG.
//!
//! ```no_run
//! # async fn demo() -> mongo_driver::Result<()> {
//! use bson::doc;
//! use mongo_driver::connection::{CommandMessage, Connection, ConnectionOptions};
//!
//! let address = "localhost:27017".parse()?;
//! let mut conn = Connection::connect(address, &ConnectionOptions::default(), 1, 0).await?;
//! println!("max wire version {}", conn.stream_description()?.max_wire_version);
//! let reply = conn.send_command(CommandMessage::new("admin", doc! {"ping": 1})).await?;
//! assert_eq!(reply.get_f64("ok").ok(), Some(1.0));
//! # Ok(()) }
//! ```

//!
//! Files: [`options`](ConnectionOptions) (how to connect), `conn` (the [`Connection`] type),
//! `establish` (connect, handshake, authenticate), `send` (commands and replies),
//! [`handshake`], [`hello`], [`metadata`], [`tls`], and [`auth`] (the auth spec's
//! mechanisms, run right after the handshake).

pub mod auth;
mod conn;
mod establish;
pub mod handshake;
pub mod hello;
mod message;
pub mod metadata;
mod options;
mod send;
pub mod tls;

pub use conn::Connection;
pub use handshake::{HANDSHAKE_DB, HandshakeCommand, handshake_command};
pub use hello::{StreamDescription, server_description_from_hello};
pub use message::CommandMessage;
pub use metadata::{ClientMetadata, DriverInfo, OsMetadata};
pub use options::{ConnectionOptions, DEFAULT_CONNECT_TIMEOUT, Dialer, ServerApi};
pub use tls::{Stream, TlsConfig, TlsOptions};
