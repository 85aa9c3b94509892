//! Authentication (auth spec "Authentication"): credentials from the connection string,
//! mechanism negotiation through `saslSupportedMechs`, and the SCRAM conversation run on
//! each pooled connection right after its handshake.

pub mod scram;
pub mod x509;

use std::collections::BTreeMap;
use std::fmt;

use bson::Document;

use crate::connection_string::ConnectionString;
use crate::error::{Error, ErrorKind, Result};

/// A SCRAM mechanism this driver implements (auth spec "SCRAM-SHA-1", "SCRAM-SHA-256").
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

    /// The mechanism the auth spec's default negotiation picks from a handshake reply's
    /// `saslSupportedMechs`: SCRAM-SHA-256 when listed, else SCRAM-SHA-1.
    pub fn negotiate(hello_reply: &Document) -> Self {
        let listed = hello_reply
            .get_array("saslSupportedMechs")
            .is_ok_and(|mechs| mechs.iter().any(|m| m.as_str() == Some("SCRAM-SHA-256")));
        if listed { Self::ScramSha256 } else { Self::ScramSha1 }
    }
}

// The error layer below knows nothing of mechanisms: this constructor lives here.
impl Error {
    /// An [`ErrorKind::Authentication`] error from a refused SASL command (`refusal`, a
    /// command error): its code, code name, message, labels and topologyVersion are kept.
    pub fn authentication_failure(mechanism: AuthMechanism, refusal: &Error) -> Self {
        Self::authentication_refused(mechanism.name(), refusal)
    }
}

/// A mechanism a connection string may name (auth spec "Supported Authentication
/// Methods"). Only the SCRAM mechanisms are implemented ([`Mechanism::scram`]); a client
/// configured with another fails to connect with an error naming it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mechanism {
    /// `SCRAM-SHA-1`.
    ScramSha1,
    /// `SCRAM-SHA-256`.
    ScramSha256,
    /// `MONGODB-CR` (removed from servers in 4.0).
    MongoDbCr,
    /// `MONGODB-X509` (a TLS client certificate).
    MongoDbX509,
    /// `PLAIN` (LDAP, SASL PLAIN).
    Plain,
    /// `GSSAPI` (Kerberos).
    Gssapi,
    /// `MONGODB-AWS` (AWS IAM credentials).
    MongoDbAws,
    /// `MONGODB-OIDC` (OpenID Connect tokens; later auth spec revisions).
    MongoDbOidc,
}

impl Mechanism {
    /// Every mechanism, for name lookups.
    const ALL: [Mechanism; 8] = [
        Self::ScramSha1,
        Self::ScramSha256,
        Self::MongoDbCr,
        Self::MongoDbX509,
        Self::Plain,
        Self::Gssapi,
        Self::MongoDbAws,
        Self::MongoDbOidc,
    ];

    /// The mechanism's name, as in `authMechanism`.
    pub fn name(self) -> &'static str {
        match self {
            Self::ScramSha1 => "SCRAM-SHA-1",
            Self::ScramSha256 => "SCRAM-SHA-256",
            Self::MongoDbCr => "MONGODB-CR",
            Self::MongoDbX509 => "MONGODB-X509",
            Self::Plain => "PLAIN",
            Self::Gssapi => "GSSAPI",
            Self::MongoDbAws => "MONGODB-AWS",
            Self::MongoDbOidc => "MONGODB-OIDC",
        }
    }

    /// Parses an `authMechanism` value (names are case-sensitive, as the auth spec lists them).
    pub fn parse(name: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name).ok_or_else(|| {
            let known: Vec<&str> = Self::ALL.iter().map(|m| m.name()).collect();
            Error::invalid_argument(format!("unknown authMechanism {name:?} (known: {})", known.join(", ")))
        })
    }

    /// The SCRAM variant this driver runs for the mechanism, or `None` when it cannot
    /// authenticate with it.
    pub fn scram(self) -> Option<AuthMechanism> {
        match self {
            Self::ScramSha1 => Some(AuthMechanism::ScramSha1),
            Self::ScramSha256 => Some(AuthMechanism::ScramSha256),
            _ => None,
        }
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A user's credentials (auth spec "MongoCredential").
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// The user name (optional for MONGODB-X509 and MONGODB-AWS).
    pub username: Option<String>,
    /// The password (none for MONGODB-X509, optional for GSSAPI).
    pub password: Option<String>,
    /// The database the user is defined in (`authSource`; the default depends on the
    /// mechanism: the URI's database, else `admin`, for SCRAM and MONGODB-CR; `$external`
    /// for the external mechanisms).
    pub source: String,
    /// The mechanism; `None` negotiates a SCRAM variant per server (auth spec "Default
    /// Authentication Methods").
    pub mechanism: Option<Mechanism>,
    /// `authMechanismProperties`, with the mechanism's defaults (GSSAPI: `SERVICE_NAME`
    /// `mongodb`); `None` when the mechanism has none and none were given.
    pub mechanism_properties: Option<BTreeMap<String, String>>,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("source", &self.source)
            .field("mechanism", &self.mechanism)
            .field("mechanism_properties", &self.mechanism_properties)
            .finish()
    }
}

/// `CANONICALIZE_HOST_NAME` values the auth spec allows for GSSAPI.
const CANONICALIZE_HOST_NAME: &[&str] = &["true", "false", "none", "forward", "forwardAndReverse"];

impl Credential {
    /// The credentials of a connection string (auth spec "Connection String Options" and
    /// each mechanism's rules): `None` without user information and mechanism; an error
    /// for a combination the spec forbids (e.g. an empty `authSource`, a mechanism that
    /// needs a username without one, a password for MONGODB-X509, an `authSource` other
    /// than `$external` for an external mechanism). Mechanisms this driver cannot run still
    /// parse; connecting with them fails (see [`Credential::scram_mechanism`]).
    ///
    /// ```
    /// use mongo_driver::auth::{Credential, Mechanism};
    /// use mongo_driver::connection_string::ConnectionString;
    /// let uri = ConnectionString::parse("mongodb://u:p@h/db?authMechanism=SCRAM-SHA-1").unwrap();
    /// let c = Credential::from_connection_string(&uri).unwrap().unwrap();
    /// assert_eq!((c.username.as_deref(), c.source.as_str()), (Some("u"), "db"));
    /// assert_eq!(c.mechanism, Some(Mechanism::ScramSha1));
    /// ```
    pub fn from_connection_string(uri: &ConnectionString) -> Result<Option<Self>> {
        let o = &uri.options;
        if o.auth_source.as_deref() == Some("") {
            return Err(Error::invalid_argument("authSource may not be empty"));
        }
        let mechanism = o.auth_mechanism.as_deref().map(Mechanism::parse).transpose()?;
        let username = uri.username.clone();
        let password = uri.password.clone();
        if username.as_deref() == Some("") {
            return Err(Error::invalid_argument("the username may not be empty"));
        }
        let named = mechanism.map_or("the default mechanism (SCRAM)", Mechanism::name);
        let database = uri.database.clone().filter(|d| !d.is_empty());
        let external = |source: &Option<String>| -> Result<String> {
            match source.as_deref() {
                None | Some("$external") => Ok("$external".to_owned()),
                Some(other) => Err(Error::invalid_argument(format!(
                    "authMechanism {named} authenticates against `$external`, not authSource {other:?}"
                ))),
            }
        };
        let given = o.auth_mechanism_properties.clone();
        let (source, properties) = match mechanism {
            None | Some(Mechanism::ScramSha1 | Mechanism::ScramSha256 | Mechanism::MongoDbCr) => {
                let Some(user) = &username else {
                    if mechanism.is_some() {
                        return Err(Error::invalid_argument(format!(
                            "authMechanism {named} needs a username"
                        )));
                    }
                    return Ok(None);
                };
                if password.is_none() {
                    return Err(Error::invalid_argument(format!(
                        "user {user:?} has no password ({named} needs one)"
                    )));
                }
                let source = o.auth_source.clone().or(database).unwrap_or_else(|| "admin".to_owned());
                (source, given)
            }
            Some(Mechanism::Plain) => {
                if username.is_none() || password.is_none() {
                    return Err(Error::invalid_argument(
                        "authMechanism PLAIN needs a username and a password",
                    ));
                }
                (o.auth_source.clone().or(database).unwrap_or_else(|| "$external".to_owned()), given)
            }
            Some(Mechanism::Gssapi) => {
                if username.is_none() {
                    return Err(Error::invalid_argument("authMechanism GSSAPI needs a username"));
                }
                let mut properties = BTreeMap::from([("SERVICE_NAME".to_owned(), "mongodb".to_owned())]);
                for (key, value) in given.into_iter().flatten() {
                    match key.as_str() {
                        "SERVICE_NAME" | "SERVICE_REALM" | "SERVICE_HOST" => {}
                        "CANONICALIZE_HOST_NAME" if CANONICALIZE_HOST_NAME.contains(&value.as_str()) => {}
                        "CANONICALIZE_HOST_NAME" => {
                            return Err(Error::invalid_argument(format!(
                                "GSSAPI: CANONICALIZE_HOST_NAME {value:?} is not one of {}",
                                CANONICALIZE_HOST_NAME.join(", ")
                            )));
                        }
                        other => {
                            return Err(Error::invalid_argument(format!(
                                "GSSAPI: unknown authMechanismProperties key {other:?}"
                            )));
                        }
                    }
                    properties.insert(key, value);
                }
                (external(&o.auth_source)?, Some(properties))
            }
            Some(Mechanism::MongoDbX509) => {
                if password.is_some() {
                    return Err(Error::invalid_argument("authMechanism MONGODB-X509 takes no password"));
                }
                (external(&o.auth_source)?, given)
            }
            Some(Mechanism::MongoDbAws) => {
                if username.is_some() != password.is_some() {
                    return Err(Error::invalid_argument(
                        "authMechanism MONGODB-AWS needs both a username (access key id) and a password \
                         (secret access key), or neither",
                    ));
                }
                if let Some(other) =
                    given.iter().flatten().map(|(k, _)| k).find(|k| *k != "AWS_SESSION_TOKEN")
                {
                    return Err(Error::invalid_argument(format!(
                        "MONGODB-AWS: unknown authMechanismProperties key {other:?}"
                    )));
                }
                (external(&o.auth_source)?, given)
            }
            Some(Mechanism::MongoDbOidc) => {
                if password.is_some() {
                    return Err(Error::invalid_argument("authMechanism MONGODB-OIDC takes no password"));
                }
                let known = ["ENVIRONMENT", "TOKEN_RESOURCE"];
                if let Some(other) =
                    given.iter().flatten().map(|(k, _)| k).find(|k| !known.contains(&k.as_str()))
                {
                    return Err(Error::invalid_argument(format!(
                        "MONGODB-OIDC: unknown authMechanismProperties key {other:?}"
                    )));
                }
                (external(&o.auth_source)?, given)
            }
        };
        Ok(Some(Self { username, password, source, mechanism, mechanism_properties: properties }))
    }

    /// Whether the mechanism is MONGODB-X509 (see [`x509`]).
    pub fn is_x509(&self) -> bool {
        self.mechanism == Some(Mechanism::MongoDbX509)
    }

    /// The SCRAM variant to authenticate with: the explicit one, or `None` to negotiate (or
    /// for MONGODB-X509, which is no SCRAM). An error naming the mechanism when this driver
    /// cannot authenticate with it (it implements SCRAM-SHA-1, SCRAM-SHA-256 and MONGODB-X509;
    /// there is never a fallback to SCRAM).
    pub fn scram_mechanism(&self) -> Result<Option<AuthMechanism>> {
        match self.mechanism {
            None | Some(Mechanism::MongoDbX509) => Ok(None),
            Some(m) => match m.scram() {
                Some(scram) => Ok(Some(scram)),
                None => Err(Error::new(ErrorKind::Authentication {
                    mechanism: m.name().to_owned(),
                    message: format!(
                        "this driver cannot authenticate with authMechanism {m}; it implements \
                         SCRAM-SHA-1, SCRAM-SHA-256 and MONGODB-X509"
                    ),
                    code: None,
                })),
            },
        }
    }

    /// The user name and password a SCRAM conversation needs.
    pub fn scram_user(&self) -> Result<(&str, &str)> {
        match (self.username.as_deref(), self.password.as_deref()) {
            (Some(user), Some(password)) => Ok((user, password)),
            _ => Err(Error::invalid_argument("SCRAM authentication needs a username and a password")),
        }
    }

    /// The `saslSupportedMechs` value a handshake sends when the mechanism is negotiated
    /// (`<source>.<username>`).
    pub fn sasl_supported_mechs_name(&self) -> Option<String> {
        match (&self.mechanism, &self.username) {
            (None, Some(user)) => Some(format!("{}.{}", self.source, user)),
            _ => None,
        }
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
        assert_eq!((c.username.as_deref(), c.source.as_str(), c.mechanism), (Some("u@x"), "admin", None));
        assert_eq!(credential("mongodb://u:p@h/db?authSource=other").unwrap().source, "other");
        let uri = |s: &str| ConnectionString::parse(s).unwrap();
        assert!(Credential::from_connection_string(&uri("mongodb://h/?authMechanism=SCRAM-SHA-1")).is_err());
        assert!(
            Credential::from_connection_string(&uri("mongodb://u@h/")).is_err(),
            "SCRAM needs a password"
        );
        // GSSAPI parses (with its default service name) but cannot be run: connecting fails.
        let gssapi =
            Credential::from_connection_string(&uri("mongodb://u@h/?authMechanism=GSSAPI")).unwrap().unwrap();
        assert_eq!(gssapi.source, "$external");
        let e = gssapi.scram_mechanism().unwrap_err();
        assert!(e.is_authentication_error() && e.to_string().contains("GSSAPI"), "{e}");
        assert!(Credential::from_connection_string(&uri("mongodb://u:p@h/?authMechanism=NOPE")).is_err());

        // Negotiation asks for the user's mechanisms in the handshake; an explicit one does not.
        let options = ConnectionOptions { credential: c.into(), ..ConnectionOptions::default() };
        let hello = handshake_command(&options).unwrap();
        assert_eq!(hello.document().get_str("saslSupportedMechs").unwrap(), "admin.u@x");
        let explicit = credential("mongodb://u:p@h/?authMechanism=SCRAM-SHA-256");
        let options = ConnectionOptions { credential: explicit, ..ConnectionOptions::default() };
        assert!(!handshake_command(&options).unwrap().document().contains_key("saslSupportedMechs"));
    }
}
