//! The initial handshake command (MongoDB handshake spec, "Connection handshake"): `hello`
//! over OP_MSG when a Stable API version is declared or `loadBalanced` is set, otherwise the
//! legacy `isMaster` over OP_QUERY; always `helloOk: true` and the client metadata.

use bson::Document;

use super::ConnectionOptions;
use crate::commands::{Command, HelloCommand, WithGenericArguments};
use crate::error::Result;

/// The database the handshake runs against.
pub const HANDSHAKE_DB: &str = "admin";

/// The first command of a connection, with the protocol it must be sent with.
#[derive(Debug, Clone, PartialEq)]
pub enum HandshakeCommand {
    /// `hello` as an OP_MSG body (`$db` included).
    OpMsg(Document),
    /// Legacy `isMaster` as an OP_QUERY on `admin.$cmd` (no `$db`: OP_QUERY names the
    /// database in its collection name, and servers refuse `$db` there).
    OpQuery(Document),
}

impl HandshakeCommand {
    /// The command document.
    pub fn document(&self) -> &Document {
        match self {
            Self::OpMsg(doc) | Self::OpQuery(doc) => doc,
        }
    }

    /// The command document, to add to.
    pub fn document_mut(&mut self) -> &mut Document {
        match self {
            Self::OpMsg(doc) | Self::OpQuery(doc) => doc,
        }
    }
}

/// Builds the handshake command for `options`: `helloOk: true`, the `client` metadata (cut to
/// 512 bytes), `loadBalanced: true` when set, the Stable API arguments when declared, and the
/// configured compressors as `compression` (OP_COMPRESSED spec; left out when none is).
pub fn handshake_command(options: &ConnectionOptions) -> Result<HandshakeCommand> {
    let mut hello = HelloCommand::new(HANDSHAKE_DB).hello_ok(true).client(options.metadata.to_document()?);
    if !options.compressors.is_empty() {
        hello = hello.compression(options.compressors.iter().map(|c| c.name().to_owned()).collect());
    }
    if options.load_balanced {
        hello = hello.load_balanced(true);
    }
    if let Some(api) = &options.server_api {
        hello = hello.api_version(api.version.clone());
        if let Some(strict) = api.strict {
            hello = hello.api_strict(strict);
        }
        if let Some(errors) = api.deprecation_errors {
            hello = hello.api_deprecation_errors(errors);
        }
    }
    // Default mechanism negotiation (auth spec): ask which mechanisms the user has.
    let mechs = options.credential.as_ref().and_then(|c| c.sasl_supported_mechs_name());
    if options.server_api.is_some() || options.load_balanced {
        let mut doc = hello.to_document()?;
        if let Some(user) = mechs {
            doc.insert("saslSupportedMechs", user);
        }
        Ok(HandshakeCommand::OpMsg(doc))
    } else {
        let mut legacy = hello.to_legacy_document()?;
        legacy.remove("$db");
        if let Some(user) = mechs {
            legacy.insert("saslSupportedMechs", user);
        }
        Ok(HandshakeCommand::OpQuery(legacy))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::ServerApi;

    fn keys(doc: &Document) -> Vec<&str> {
        doc.keys().map(String::as_str).collect()
    }

    #[test]
    fn options_from_a_connection_string() {
        let uri = crate::connection_string::ConnectionString::parse(
            "mongodb://h/?appName=app&connectTimeoutMS=0&socketTimeoutMS=400&loadBalanced=true",
        )
        .unwrap();
        let options = ConnectionOptions::from_uri_options(&uri.options, None).unwrap();
        assert_eq!(options.effective_connect_timeout(), None, "zero means no limit");
        assert_eq!(options.socket_timeout, Some(std::time::Duration::from_millis(400)));
        assert!(options.load_balanced);
        let command = handshake_command(&options).unwrap();
        let client = command.document().get_document("client").unwrap();
        assert_eq!(client.get_document("application").unwrap().get_str("name").unwrap(), "app");
        let defaults = ConnectionOptions::from_uri_options(&Default::default(), None).unwrap();
        assert_eq!(defaults.effective_connect_timeout(), Some(crate::connection::DEFAULT_CONNECT_TIMEOUT));
        assert!(!defaults.load_balanced);
    }

    #[test]
    fn legacy_hello_without_api_version() {
        let options = ConnectionOptions::default();
        let HandshakeCommand::OpQuery(doc) = handshake_command(&options).unwrap() else {
            panic!("expected OP_QUERY");
        };
        assert_eq!(keys(&doc), ["isMaster", "client", "helloOk"]);
        assert_eq!(doc.get_i32("isMaster").unwrap(), 1);
        assert!(doc.get_bool("helloOk").unwrap());
        assert_eq!(doc.get_document("client").unwrap(), &options.metadata.to_document().unwrap());
    }

    #[test]
    fn hello_over_op_msg_with_api_version_or_load_balancing() {
        let options = ConnectionOptions {
            server_api: Some(ServerApi { version: "1".into(), strict: Some(true), deprecation_errors: None }),
            ..ConnectionOptions::default()
        };
        let HandshakeCommand::OpMsg(doc) = handshake_command(&options).unwrap() else {
            panic!("expected OP_MSG");
        };
        assert_eq!(doc.keys().next().map(String::as_str), Some("hello"));
        assert!(doc.get_bool("helloOk").unwrap());
        assert_eq!(doc.get_str("apiVersion").unwrap(), "1");
        assert!(doc.get_bool("apiStrict").unwrap());
        assert!(!doc.contains_key("apiDeprecationErrors"));
        assert!(!doc.contains_key("loadBalanced"));
        assert!(!doc.contains_key("compression"));
        assert_eq!(doc.get_str("$db").unwrap(), "admin");

        let options = ConnectionOptions { load_balanced: true, ..ConnectionOptions::default() };
        let HandshakeCommand::OpMsg(doc) = handshake_command(&options).unwrap() else {
            panic!("expected OP_MSG");
        };
        assert!(doc.get_bool("loadBalanced").unwrap());
        assert!(!doc.contains_key("apiVersion"));
    }
}
