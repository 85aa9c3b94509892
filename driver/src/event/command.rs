//! Command monitoring events (command-monitoring spec "Events API"): one started event per
//! command sent, then one succeeded or failed event, with security-sensitive commands redacted.

use std::sync::Arc;
use std::time::Duration;

use bson::Document;

use crate::error::Error;
use crate::options::ServerAddress;

/// A command was sent.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CommandStartedEvent {
    /// The command (body plus document sequences folded in as arrays), or an empty document
    /// for a redacted command.
    pub command: Document,
    /// The database it ran against.
    pub database_name: String,
    /// The command's name.
    pub command_name: String,
    /// The driver's id for this command (correlates the started and finished events).
    pub request_id: i32,
    /// The id shared by every command of one operation (e.g. a find and its getMores).
    pub operation_id: i64,
    /// The connection's id in its pool.
    pub connection_id: u32,
    /// The server's id for the connection, when the handshake gave one.
    pub server_connection_id: Option<i64>,
    /// The server's address.
    pub address: ServerAddress,
    /// The service id, behind a load balancer.
    pub service_id: Option<bson::oid::ObjectId>,
}

/// A command succeeded (`ok: 1`, write errors and write concern errors included).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CommandSucceededEvent {
    /// The round trip time.
    pub duration: Duration,
    /// The reply, or an empty document for a redacted command.
    pub reply: Document,
    /// The command's name.
    pub command_name: String,
    /// The database the command ran against (command monitoring spec, 2023).
    pub database_name: String,
    /// The started event's request id.
    pub request_id: i32,
    /// The started event's operation id.
    pub operation_id: i64,
    /// The connection's id in its pool.
    pub connection_id: u32,
    /// The server's id for the connection, when known.
    pub server_connection_id: Option<i64>,
    /// The server's address.
    pub address: ServerAddress,
    /// The service id, behind a load balancer.
    pub service_id: Option<bson::oid::ObjectId>,
}

/// A command failed: `ok: 0`, or a network or protocol error.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CommandFailedEvent {
    /// The time until the failure.
    pub duration: Duration,
    /// The command's name.
    pub command_name: String,
    /// The database the command ran against (command monitoring spec, 2023).
    pub database_name: String,
    /// The error (a redacted command's server message is removed).
    pub failure: Error,
    /// The started event's request id.
    pub request_id: i32,
    /// The started event's operation id.
    pub operation_id: i64,
    /// The connection's id in its pool.
    pub connection_id: u32,
    /// The server's id for the connection, when known.
    pub server_connection_id: Option<i64>,
    /// The server's address.
    pub address: ServerAddress,
    /// The service id, behind a load balancer.
    pub service_id: Option<bson::oid::ObjectId>,
}

/// A command monitoring event.
#[derive(Debug, Clone)]
pub enum CommandEvent {
    /// See [`CommandStartedEvent`].
    Started(CommandStartedEvent),
    /// See [`CommandSucceededEvent`].
    Succeeded(CommandSucceededEvent),
    /// See [`CommandFailedEvent`].
    Failed(CommandFailedEvent),
}

impl CommandEvent {
    /// The command's name.
    pub fn command_name(&self) -> &str {
        match self {
            Self::Started(e) => &e.command_name,
            Self::Succeeded(e) => &e.command_name,
            Self::Failed(e) => &e.command_name,
        }
    }

    /// The request id.
    pub fn request_id(&self) -> i32 {
        match self {
            Self::Started(e) => e.request_id,
            Self::Succeeded(e) => e.request_id,
            Self::Failed(e) => e.request_id,
        }
    }
}

/// Receives command monitoring events. Called on the operation's task: keep it quick.
pub type CommandEventHandler = Arc<dyn Fn(&CommandEvent) + Send + Sync>;

/// Commands whose bodies and replies are never published (command-monitoring spec
/// "Security").
pub const SENSITIVE_COMMANDS: &[&str] = &[
    "authenticate",
    "saslstart",
    "saslcontinue",
    "getnonce",
    "createuser",
    "updateuser",
    "copydbgetnonce",
    "copydbsaslstart",
    "copydb",
];

/// Whether the command `name` with body `command` must be redacted: a sensitive command, or
/// a hello/legacy hello carrying `speculativeAuthenticate`.
pub fn is_sensitive(name: &str, command: &Document) -> bool {
    let lower = name.to_ascii_lowercase();
    SENSITIVE_COMMANDS.contains(&lower.as_str())
        || (matches!(lower.as_str(), "hello" | "ismaster") && command.contains_key("speculativeAuthenticate"))
}

#[cfg(test)]
mod tests {
    use bson::doc;

    use super::is_sensitive;

    #[test]
    fn sensitive_commands_and_speculative_hello_are_redacted() {
        assert!(is_sensitive("saslStart", &doc! {"saslStart": 1}));
        assert!(is_sensitive("createUser", &doc! {"createUser": "u"}));
        assert!(is_sensitive("hello", &doc! {"hello": 1, "speculativeAuthenticate": {}}));
        assert!(is_sensitive("isMaster", &doc! {"isMaster": 1, "speculativeAuthenticate": {}}));
        assert!(!is_sensitive("hello", &doc! {"hello": 1}));
        assert!(!is_sensitive("find", &doc! {"find": "c"}));
    }
}
