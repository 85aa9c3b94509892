//! MONGODB-X509 (auth spec "MONGODB-X509"): the TLS client certificate authenticates; one
//! `authenticate` command on `$external` (the user name is optional since MongoDB 3.4: the
//! server takes it from the certificate's subject), also sent speculatively in the handshake.

use bson::{Document, doc};

use crate::auth::Credential;
use crate::connection::{CommandMessage, Connection};
use crate::error::{Error, Result};

/// The mechanism's name on the wire.
pub const MECHANISM: &str = "MONGODB-X509";

/// The `authenticate` command for `credential` (with `user` only when the URI names one).
pub fn command(credential: &Credential) -> Document {
    let mut command = doc! { "authenticate": 1, "mechanism": MECHANISM };
    if let Some(user) = &credential.username {
        command.insert("user", user.clone());
    }
    command
}

/// The handshake's `speculativeAuthenticate` document: the command plus its `db`.
pub fn speculative(credential: &Credential) -> Document {
    let mut command = command(credential);
    command.insert("db", credential.source.clone());
    command
}

/// Fails unless the connection has TLS with a client certificate: without one the server
/// has nothing to authenticate.
pub fn check_tls(has_client_certificate: bool) -> Result<()> {
    if has_client_certificate {
        return Ok(());
    }
    Err(Error::invalid_argument(
        "authMechanism MONGODB-X509 needs TLS with a client certificate (tls=true and tlsCertificateKeyFile)",
    ))
}

/// Runs `authenticate` on `conn`; a refusal becomes an authentication error with the
/// server's code.
pub async fn authenticate(conn: &mut Connection, credential: &Credential) -> Result<()> {
    let reply = conn.send_command(CommandMessage::new(&credential.source, command(credential))).await?;
    if let Some(error) = Error::from_reply(&reply) {
        return Err(Error::authentication_refused(MECHANISM, &error));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection_string::ConnectionString;

    fn credential(uri: &str) -> Credential {
        Credential::from_connection_string(&ConnectionString::parse(uri).unwrap()).unwrap().unwrap()
    }

    #[test]
    fn the_user_is_optional_and_the_source_is_external() {
        let c = credential("mongodb://h/?authMechanism=MONGODB-X509&tls=true");
        assert_eq!(command(&c), doc! {"authenticate": 1, "mechanism": "MONGODB-X509"});
        assert_eq!(speculative(&c).get_str("db").unwrap(), "$external");
        let c = credential("mongodb://CN%3Dclient@h/?authMechanism=MONGODB-X509&tls=true");
        assert_eq!(command(&c).get_str("user").unwrap(), "CN=client");
        assert!(check_tls(false).is_err());
    }
}
