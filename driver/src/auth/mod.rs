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

#[cfg(test)]
mod tests {
    use bson::doc;

    use super::*;
    use crate::connection::{ConnectionOptions, handshake_command};

    fn credential(uri: &str) -> Option<Credential> {
        Credential::from_connection_string(&ConnectionString::parse(uri).unwrap()).unwrap()
    }

    #[test]
    fn negotiation_prefers_sha256_when_listed() {
        let both = doc! {"saslSupportedMechs": ["SCRAM-SHA-1", "SCRAM-SHA-256"]};
        assert_eq!(AuthMechanism::negotiate(&both), AuthMechanism::ScramSha256);
        let sha1 = doc! {"saslSupportedMechs": ["SCRAM-SHA-1"]};
        assert_eq!(AuthMechanism::negotiate(&sha1), AuthMechanism::ScramSha1);
        assert_eq!(AuthMechanism::negotiate(&doc! {}), AuthMechanism::ScramSha1);
    }

    #[test]
    fn credentials_from_the_uri_and_the_handshake() {
        assert_eq!(credential("mongodb://h/"), None);
        let c = credential("mongodb://u%40x:p@h/").unwrap();
        assert_eq!((c.username.as_str(), c.source.as_str(), c.mechanism), ("u@x", "admin", None));
        assert_eq!(credential("mongodb://u:p@h/db?authSource=other").unwrap().source, "other");
        let uri = |s: &str| ConnectionString::parse(s).unwrap();
        assert!(Credential::from_connection_string(&uri("mongodb://h/?authMechanism=SCRAM-SHA-1")).is_err());
        assert!(
            Credential::from_connection_string(&uri("mongodb://u@h/")).is_err(),
            "SCRAM needs a password"
        );
        assert!(Credential::from_connection_string(&uri("mongodb://u:p@h/?authMechanism=GSSAPI")).is_err());

        // Negotiation asks for the user's mechanisms in the handshake; an explicit one does not.
        let options = ConnectionOptions { credential: c.into(), ..ConnectionOptions::default() };
        let hello = handshake_command(&options).unwrap();
        assert_eq!(hello.document().get_str("saslSupportedMechs").unwrap(), "admin.u@x");
        let explicit = credential("mongodb://u:p@h/?authMechanism=SCRAM-SHA-256");
        let options = ConnectionOptions { credential: explicit, ..ConnectionOptions::default() };
        assert!(!handshake_command(&options).unwrap().document().contains_key("saslSupportedMechs"));
    }
}
