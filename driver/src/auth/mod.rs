//! Authentication (auth spec "Authentication"): credentials from the connection string,
//! mechanism negotiation through `saslSupportedMechs`, and the SCRAM conversation run on
//! each pooled connection right after its handshake.

pub mod scram;

use std::fmt;

use bson::Document;

use crate::connection_string::ConnectionString;
use crate::error::{Error, Result};

/// A SASL mechanism this driver implements (auth spec "SCRAM-SHA-1", "SCRAM-SHA-256").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthMechanism {
    /// `SCRAM-SHA-1` (RFC 5802; the password is first hashed as MONGODB-CR did).
    ScramSha1,
    /// `SCRAM-SHA-256` (RFC 7677; the password is SASLprep'ed).
    ScramSha256,
}

impl AuthMechanism {
    /// The mechanism's name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Self::ScramSha1 => "SCRAM-SHA-1",
            Self::ScramSha256 => "SCRAM-SHA-256",
        }
    }

    /// Parses an `authMechanism` value; mechanisms this driver does not implement are refused.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "SCRAM-SHA-1" => Ok(Self::ScramSha1),
            "SCRAM-SHA-256" => Ok(Self::ScramSha256),
            other => Err(Error::invalid_argument(format!(
                "authMechanism {other:?} is not supported (this driver implements SCRAM-SHA-1 and SCRAM-SHA-256)"
            ))),
        }
    }

    /// The mechanism the auth spec's default negotiation picks from a handshake reply's
    /// `saslSupportedMechs`: SCRAM-SHA-256 when listed, else SCRAM-SHA-1.
    pub fn negotiate(hello_reply: &Document) -> Self {
        let listed = hello_reply
            .get_array("saslSupportedMechs")
            .is_ok_and(|mechs| mechs.iter().any(|m| m.as_str() == Some("SCRAM-SHA-256")));
        if listed { Self::ScramSha256 } else { Self::ScramSha1 }
    }
}

/// A user's credentials (auth spec "MongoCredential").
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// The user name.
    pub username: String,
    /// The password.
    pub password: String,
    /// The database the user is defined in (`authSource`; default the URI's database, else
    /// `admin`).
    pub source: String,
    /// The mechanism; `None` negotiates one per server (auth spec "Default Authentication
    /// Methods").
    pub mechanism: Option<AuthMechanism>,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("source", &self.source)
            .field("mechanism", &self.mechanism)
            .finish()
    }
}

impl Credential {
    /// The credentials of a connection string: `None` without user information (and then
    /// no `authMechanism` may be given); SCRAM needs a password.
    ///
    /// ```
    /// use mongo_driver::auth::{AuthMechanism, Credential};
    /// use mongo_driver::connection_string::ConnectionString;
    /// let uri = ConnectionString::parse("mongodb://u:p@h/db?authMechanism=SCRAM-SHA-1").unwrap();
    /// let c = Credential::from_connection_string(&uri).unwrap().unwrap();
    /// assert_eq!((c.username.as_str(), c.source.as_str()), ("u", "db"));
    /// assert_eq!(c.mechanism, Some(AuthMechanism::ScramSha1));
    /// ```
    pub fn from_connection_string(uri: &ConnectionString) -> Result<Option<Self>> {
        let mechanism = uri.options.auth_mechanism.as_deref().map(AuthMechanism::parse).transpose()?;
        let Some(username) = uri.username.clone() else {
            if mechanism.is_some() {
                return Err(Error::invalid_argument("authMechanism SCRAM needs a username"));
            }
            return Ok(None);
        };
        let Some(password) = uri.password.clone() else {
            return Err(Error::invalid_argument(format!(
                "user {username:?} has no password (SCRAM needs one)"
            )));
        };
        let source = uri
            .options
            .auth_source
            .clone()
            .or_else(|| uri.database.clone().filter(|d| !d.is_empty()))
            .unwrap_or_else(|| "admin".to_owned());
        Ok(Some(Self { username, password, source, mechanism }))
    }

    /// The `saslSupportedMechs` value a handshake sends when the mechanism is negotiated
    /// (`<source>.<username>`).
    pub fn sasl_supported_mechs_name(&self) -> Option<String> {
        self.mechanism.is_none().then(|| format!("{}.{}", self.source, self.username))
    }
}
