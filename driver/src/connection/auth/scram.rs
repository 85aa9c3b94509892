//! The SCRAM conversation (auth spec "SCRAM-SHA-1" and "SCRAM-SHA-256"; RFC 5802, RFC 7677):
//! `saslStart` with the client-first message, `saslContinue` with the proof, then the
//! server's signature checked. SaltedPassword is cached per password, salt and iteration count.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bson::spec::BinarySubtype;
use bson::{Binary, Bson, Document, doc};
use hmac::{KeyInit, Mac};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::{AuthMechanism, Credential};
use crate::connection::{CommandMessage, Connection};
use crate::error::{Error, ErrorKind, Result};

/// The fewest PBKDF2 iterations a server may ask for (auth spec: "MUST be at least 4096").
pub const MIN_ITERATIONS: u32 = 4096;

/// HMAC(key, data) with the mechanism's hash.
fn hmac(mechanism: AuthMechanism, key: &[u8], data: &[u8]) -> Result<Vec<u8>> {
    let bad_key = |_| Error::invalid_argument("SCRAM: the HMAC key was refused");
    Ok(match mechanism {
        AuthMechanism::ScramSha1 => {
            let mut mac = <hmac::Hmac<Sha1> as KeyInit>::new_from_slice(key).map_err(bad_key)?;
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        }
        AuthMechanism::ScramSha256 => {
            let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key).map_err(bad_key)?;
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        }
    })
}

/// H(data) with the mechanism's hash.
fn hash(mechanism: AuthMechanism, data: &[u8]) -> Vec<u8> {
    match mechanism {
        AuthMechanism::ScramSha1 => Sha1::digest(data).to_vec(),
        AuthMechanism::ScramSha256 => Sha256::digest(data).to_vec(),
    }
}

/// Hi(password, salt, i): PBKDF2 with the mechanism's HMAC, cached.
fn salted_password(mechanism: AuthMechanism, password: &str, salt: &[u8], iterations: u32) -> Vec<u8> {
    type Key = (AuthMechanism, String, Vec<u8>, u32);
    static CACHE: OnceLock<Mutex<HashMap<Key, Vec<u8>>>> = OnceLock::new();
    let key = (mechanism, password.to_owned(), salt.to_vec(), iterations);
    let cache = CACHE.get_or_init(Default::default);
    if let Some(hit) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return hit.clone();
    }
    let out = match mechanism {
        AuthMechanism::ScramSha1 => {
            let mut out = vec![0; 20];
            pbkdf2::pbkdf2_hmac::<Sha1>(password.as_bytes(), salt, iterations, &mut out);
            out
        }
        AuthMechanism::ScramSha256 => {
            let mut out = vec![0; 32];
            pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, iterations, &mut out);
            out
        }
    };
    cache.lock().unwrap_or_else(|e| e.into_inner()).insert(key, out.clone());
    out
}

/// The password as the mechanism hashes it: SCRAM-SHA-1 uses MongoDB's
/// `hex(MD5(username ":mongo:" password))`, SCRAM-SHA-256 the SASLprep'ed password.
pub fn prepare_password(mechanism: AuthMechanism, username: &str, password: &str) -> Result<String> {
    match mechanism {
        AuthMechanism::ScramSha1 => {
            let digest = Md5::digest(format!("{username}:mongo:{password}").as_bytes());
            Ok(digest.iter().map(|b| format!("{b:02x}")).collect())
        }
        AuthMechanism::ScramSha256 => stringprep::saslprep(password)
            .map(|p| p.into_owned())
            .map_err(|e| Error::invalid_argument(format!("SCRAM-SHA-256: the password fails SASLprep: {e}"))),
    }
}

/// A SCRAM `saslname`: `=` and `,` escaped as `=3D` and `=2C` (RFC 5802 section 5.1).
fn sasl_name(username: &str) -> String {
    username.replace('=', "=3D").replace(',', "=2C")
}

/// The client side of one SCRAM conversation (RFC 5802 section 3).
#[derive(Debug, Clone)]
pub struct ScramClient {
    mechanism: AuthMechanism,
    password: String,
    nonce: String,
    client_first_bare: String,
}

/// What the client sends after the server-first message, and the server signature it then
/// expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFinal {
    /// The client-final message.
    pub message: String,
    /// The ServerSignature the server-final message must carry.
    pub server_signature: Vec<u8>,
}

impl ScramClient {
    /// A conversation for `username` with an already prepared password (see
    /// [`prepare_password`]) and the client `nonce`.
    pub fn new(mechanism: AuthMechanism, username: &str, prepared_password: String, nonce: String) -> Self {
        let client_first_bare = format!("n={},r={nonce}", sasl_name(username));
        Self { mechanism, password: prepared_password, nonce, client_first_bare }
    }

    /// A conversation with a fresh random 24-byte nonce.
    pub fn for_credential(mechanism: AuthMechanism, credential: &Credential) -> Result<Self> {
        let (username, password) = credential.scram_user()?;
        let password = prepare_password(mechanism, username, password)?;
        let nonce = BASE64.encode(rand::random::<[u8; 24]>());
        Ok(Self::new(mechanism, username, password, nonce))
    }

    /// The mechanism.
    pub fn mechanism(&self) -> AuthMechanism {
        self.mechanism
    }

    /// The `saslStart` command (without `$db`), asking to skip the empty last exchange.
    pub fn sasl_start(&self) -> Document {
        doc! {
            "saslStart": 1,
            "mechanism": self.mechanism.name(),
            "payload": binary(&self.client_first()),
            "autoAuthorize": 1,
            "options": { "skipEmptyExchange": true },
        }
    }

    /// The handshake's `speculativeAuthenticate` document (auth spec "Speculative
    /// Authentication"): the `saslStart` command with the user's database as `db`.
    pub fn speculative(&self, source: &str) -> Document {
        let mut start = self.sasl_start();
        start.insert("db", source);
        start
    }

    /// The client-first message (no channel binding: `n,,`).
    pub fn client_first(&self) -> String {
        format!("n,,{}", self.client_first_bare)
    }

    /// Checks the server-first message (nonce prefix, salt, iteration count ≥ 4096) and
    /// computes the client-final message with its proof.
    pub fn client_final(&self, server_first: &str) -> Result<ClientFinal> {
        let invalid = |what: &str| {
            Error::new(ErrorKind::Authentication {
                mechanism: self.mechanism.name().to_owned(),
                message: format!("invalid server-first message ({what}): {server_first:?}"),
                code: None,
            })
        };
        let field = |name: char| {
            server_first.split(',').find_map(|part| part.strip_prefix(name).and_then(|p| p.strip_prefix('=')))
        };
        let server_nonce = field('r').ok_or_else(|| invalid("no nonce"))?;
        if !server_nonce.starts_with(&self.nonce) || server_nonce.len() <= self.nonce.len() {
            return Err(invalid("the nonce does not extend the client's"));
        }
        let salt = field('s').and_then(|s| BASE64.decode(s).ok()).ok_or_else(|| invalid("bad salt"))?;
        let iterations: u32 =
            field('i').and_then(|i| i.parse().ok()).ok_or_else(|| invalid("bad iteration count"))?;
        if iterations < MIN_ITERATIONS {
            return Err(invalid("fewer than 4096 iterations"));
        }
        let m = self.mechanism;
        let salted = salted_password(m, &self.password, &salt, iterations);
        let client_key = hmac(m, &salted, b"Client Key")?;
        let stored_key = hash(m, &client_key);
        let without_proof = format!("c=biws,r={server_nonce}");
        let auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);
        let signature = hmac(m, &stored_key, auth_message.as_bytes())?;
        let proof: Vec<u8> = client_key.iter().zip(&signature).map(|(k, s)| k ^ s).collect();
        let server_key = hmac(m, &salted, b"Server Key")?;
        let server_signature = hmac(m, &server_key, auth_message.as_bytes())?;
        Ok(ClientFinal { message: format!("{without_proof},p={}", BASE64.encode(proof)), server_signature })
    }

    /// Checks the server-final message: `v=` with the expected signature, not `e=`.
    pub fn verify_server_final(&self, server_final: &str, expected: &[u8]) -> Result<()> {
        let fail = |message: String| {
            Error::new(ErrorKind::Authentication {
                mechanism: self.mechanism.name().to_owned(),
                message,
                code: None,
            })
        };
        let field = |name: &str| server_final.split(',').find_map(|p| p.strip_prefix(name));
        if let Some(error) = field("e=") {
            return Err(fail(format!("the server refused the proof: {error}")));
        }
        let signature = field("v=").and_then(|v| BASE64.decode(v).ok());
        if signature.as_deref() != Some(expected) {
            return Err(fail("the server's signature does not match (is it the real server?)".to_owned()));
        }
        Ok(())
    }
}

/// The payload of a SASL reply as text.
fn payload(reply: &Document, mechanism: AuthMechanism) -> Result<String> {
    let bytes = match reply.get("payload") {
        Some(Bson::Binary(b)) => b.bytes.clone(),
        Some(Bson::String(s)) => s.as_bytes().to_vec(),
        _ => {
            return Err(Error::new(ErrorKind::Authentication {
                mechanism: mechanism.name().to_owned(),
                message: "the SASL reply has no payload".to_owned(),
                code: None,
            }));
        }
    };
    String::from_utf8(bytes).map_err(|_| {
        Error::new(ErrorKind::Authentication {
            mechanism: mechanism.name().to_owned(),
            message: "the SASL payload is not UTF-8".to_owned(),
            code: None,
        })
    })
}

fn binary(text: &str) -> Bson {
    Bson::Binary(Binary { subtype: BinarySubtype::Generic, bytes: text.as_bytes().to_vec() })
}

/// Sends one SASL command; a reply with `ok: 0` becomes an authentication error carrying
/// the server's code (network errors stay network errors, as SDAM and retries need).
async fn sasl_command(
    conn: &mut Connection,
    mechanism: AuthMechanism,
    source: &str,
    body: Document,
) -> Result<Document> {
    let reply = conn.send_command(CommandMessage::new(source, body)).await?;
    if let Some(error) = Error::from_reply(&reply) {
        return Err(Error::authentication_failure(mechanism, &error));
    }
    Ok(reply)
}

/// Authenticates `conn` as `credential` with `mechanism` (auth spec "SCRAM-SHA-1"
/// conversation, also used by SCRAM-SHA-256).
pub async fn authenticate(
    conn: &mut Connection,
    credential: &Credential,
    mechanism: AuthMechanism,
) -> Result<()> {
    let client = ScramClient::for_credential(mechanism, credential)?;
    let source = credential.source.as_str();
    let reply = sasl_command(conn, mechanism, source, client.sasl_start()).await?;
    finish(conn, &client, source, &reply).await
}

/// Finishes a conversation whose `saslStart` was answered with `start_reply` (by
/// `saslStart` itself, or by the handshake's `speculativeAuthenticate`).
pub async fn finish(
    conn: &mut Connection,
    client: &ScramClient,
    source: &str,
    start_reply: &Document,
) -> Result<()> {
    let mechanism = client.mechanism;
    let conversation_id = start_reply.get("conversationId").cloned().unwrap_or(Bson::Int32(1));
    let last = client.client_final(&payload(start_reply, mechanism)?)?;
    let next = doc! {
        "saslContinue": 1,
        "conversationId": conversation_id.clone(),
        "payload": binary(&last.message),
    };
    let mut reply = sasl_command(conn, mechanism, source, next).await?;
    client.verify_server_final(&payload(&reply, mechanism)?, &last.server_signature)?;
    // A server that does not skip the empty exchange wants one more round.
    if !reply.get_bool("done").unwrap_or(false) {
        let empty = doc! { "saslContinue": 1, "conversationId": conversation_id, "payload": binary("") };
        reply = sasl_command(conn, mechanism, source, empty).await?;
        if !reply.get_bool("done").unwrap_or(false) {
            return Err(Error::new(ErrorKind::Authentication {
                mechanism: mechanism.name().to_owned(),
                message: "the server did not finish the SASL conversation".to_owned(),
                code: None,
            }));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677 section 3's example exchange.
    #[test]
    fn rfc7677_sha256_vector() {
        let client = ScramClient::new(
            AuthMechanism::ScramSha256,
            "user",
            "pencil".into(),
            "rOprNGfwEbeRWgbNEkqO".into(),
        );
        assert_eq!(client.client_first(), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let server_first =
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let last = client.client_final(server_first).unwrap();
        assert_eq!(
            last.message,
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        client
            .verify_server_final("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", &last.server_signature)
            .unwrap();
        assert!(client.verify_server_final("v=AAAA", &last.server_signature).is_err());
        assert!(client.verify_server_final("e=invalid-proof", &last.server_signature).is_err());
    }

    /// RFC 5802 section 5's example exchange (SCRAM-SHA-1 on the raw password).
    #[test]
    fn rfc5802_sha1_vector() {
        let client = ScramClient::new(
            AuthMechanism::ScramSha1,
            "user",
            "pencil".into(),
            "fyko+d2lbbFgONRv9qkxdawL".into(),
        );
        let last = client
            .client_final("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096")
            .unwrap();
        assert_eq!(
            last.message,
            "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
        );
        client.verify_server_final("v=rmF9pqV8S7suAoZWja4dJRkFsKQ=", &last.server_signature).unwrap();
    }

    #[test]
    fn server_first_checks() {
        let client = ScramClient::new(AuthMechanism::ScramSha256, "a=b,c", "p".into(), "abc".into());
        assert_eq!(client.client_first(), "n,,n=a=3Db=2Cc,r=abc");
        assert!(client.client_final("r=xyzdef,s=QSXCR+Q6sek8bf92,i=4096").is_err(), "foreign nonce");
        assert!(client.client_final("r=abcdef,s=QSXCR+Q6sek8bf92,i=1000").is_err(), "too few iterations");
        assert!(client.client_final("r=abcdef,s=***,i=4096").is_err(), "bad salt");
    }

    #[test]
    fn mongodb_sha1_password_digest() {
        // hex(MD5("user:mongo:pencil")), as MongoDB stores SCRAM-SHA-1 credentials.
        let prepared = prepare_password(AuthMechanism::ScramSha1, "user", "pencil").unwrap();
        assert_eq!(prepared, "1c33006ec1ffd90f9cadcbcc0e118200");
        assert_eq!(prepare_password(AuthMechanism::ScramSha256, "u", "I\u{AD}X").unwrap(), "IX");
    }
}
