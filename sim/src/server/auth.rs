//! Authentication, server side (auth spec "SCRAM-SHA-1"/"SCRAM-SHA-256", RFC 5802/7677; the
//! MongoDB manual's `saslStart`/`saslContinue`): a user table, `saslSupportedMechs` in
//! `hello`, the SCRAM exchange, and `Unauthorized` for commands before authentication.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bson::spec::BinarySubtype;
use bson::{Binary, Bson, Document, doc};
use hmac::{KeyInit, Mac};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::errors::Failure;
use crate::ServerVersion;
use crate::config::User;

/// The PBKDF2 iteration count the simulator stores (the minimum clients accept, to keep
/// debug builds fast).
pub const ITERATIONS: u32 = 4096;

/// Commands a connection may run before it authenticates.
const OPEN_COMMANDS: &[&str] = &[
    "hello",
    "isMaster",
    "ismaster",
    "saslStart",
    "saslContinue",
    "authenticate",
    "ping",
    "buildInfo",
    "buildinfo",
    "getnonce",
];

/// `AuthenticationFailed`.
const AUTHENTICATION_FAILED: i32 = 18;

/// A SCRAM mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// SCRAM-SHA-1 (on MongoDB's MD5 digest of the password).
    Sha1,
    /// SCRAM-SHA-256 (on the password itself; only ASCII passwords are configured).
    Sha256,
}

impl Mechanism {
    /// Both, in the order `saslSupportedMechs` lists them.
    pub const ALL: [Mechanism; 2] = [Mechanism::Sha1, Mechanism::Sha256];

    /// The name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "SCRAM-SHA-1",
            Self::Sha256 => "SCRAM-SHA-256",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }

    fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        // HMAC takes keys of any length, so `new_from_slice` cannot fail here; an empty
        // vector would only make the proof check fail.
        match self {
            Self::Sha1 => <hmac::Hmac<Sha1> as KeyInit>::new_from_slice(key)
                .map(|mut m| {
                    m.update(data);
                    m.finalize().into_bytes().to_vec()
                })
                .unwrap_or_default(),
            Self::Sha256 => <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key)
                .map(|mut m| {
                    m.update(data);
                    m.finalize().into_bytes().to_vec()
                })
                .unwrap_or_default(),
        }
    }

    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha1 => Sha1::digest(data).to_vec(),
            Self::Sha256 => Sha256::digest(data).to_vec(),
        }
    }

    fn salted_password(self, user: &str, password: &str, salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            Self::Sha1 => {
                let digest = Md5::digest(format!("{user}:mongo:{password}").as_bytes());
                let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
                let mut out = vec![0; 20];
                pbkdf2::pbkdf2_hmac::<Sha1>(hex.as_bytes(), salt, iterations, &mut out);
                out
            }
            Self::Sha256 => {
                let mut out = vec![0; 32];
                pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, iterations, &mut out);
                out
            }
        }
    }
}

/// What the server stores for one user and mechanism (RFC 5802 section 3: never the password).
#[derive(Debug, Clone)]
pub struct StoredCredential {
    /// The mechanism.
    pub mechanism: Mechanism,
    /// The salt.
    pub salt: Vec<u8>,
    /// The PBKDF2 iteration count.
    pub iterations: u32,
    /// H(ClientKey).
    pub stored_key: Vec<u8>,
    /// HMAC(SaltedPassword, "Server Key").
    pub server_key: Vec<u8>,
}

impl StoredCredential {
    /// Derives the stored keys for `user` with `salt` and `iterations`.
    pub fn derive(mechanism: Mechanism, user: &User, salt: Vec<u8>, iterations: u32) -> Self {
        let salted = mechanism.salted_password(&user.name, &user.password, &salt, iterations);
        let client_key = mechanism.hmac(&salted, b"Client Key");
        let stored_key = mechanism.hash(&client_key);
        let server_key = mechanism.hmac(&salted, b"Server Key");
        Self { mechanism, salt, iterations, stored_key, server_key }
    }
}

/// One configured user with its stored credentials.
#[derive(Debug, Clone)]
pub struct UserEntry {
    /// The database it is defined in.
    pub db: String,
    /// Its name.
    pub name: String,
    /// One stored credential per mechanism.
    pub credentials: Vec<StoredCredential>,
}

/// The deployment's users; empty means authentication is off.
#[derive(Debug, Clone, Default)]
pub struct Users {
    entries: Vec<UserEntry>,
}

impl Users {
    /// The table for the configured users (fresh random salts).
    pub fn new(users: &[User]) -> Self {
        let entries = users
            .iter()
            .map(|u| UserEntry {
                db: u.db.clone(),
                name: u.name.clone(),
                credentials: Mechanism::ALL
                    .into_iter()
                    .map(|m| StoredCredential::derive(m, u, rand::random::<[u8; 16]>().to_vec(), ITERATIONS))
                    .collect(),
            })
            .collect();
        Self { entries }
    }

    /// Whether commands need an authenticated connection.
    pub fn enabled(&self) -> bool {
        !self.entries.is_empty()
    }

    fn find(&self, db: &str, name: &str) -> Option<&UserEntry> {
        self.entries.iter().find(|u| u.db == db && u.name == name)
    }

    /// `saslSupportedMechs` for a hello naming `<db>.<user>`: the user's mechanisms.
    pub fn supported_mechs(&self, hello: &Document, reply: &mut Document) {
        let Ok(qualified) = hello.get_str("saslSupportedMechs") else { return };
        let Some((db, name)) = qualified.split_once('.') else { return };
        if let Some(user) = self.find(db, name) {
            let mechs: Vec<Bson> = user.credentials.iter().map(|c| Bson::from(c.mechanism.name())).collect();
            reply.insert("saslSupportedMechs", mechs);
        }
    }
}

/// Adds to a `hello` reply what its authentication fields ask: `saslSupportedMechs`, and
/// the answer to `speculativeAuthenticate` (a `saslStart` with its `db`; omitted when it
/// fails, as mongod does, so the client falls back to `saslStart`).
pub fn on_hello(
    users: &Users,
    session: &mut Session,
    hello: &Document,
    version: ServerVersion,
    reply: &mut Document,
) {
    users.supported_mechs(hello, reply);
    if !users.enabled() {
        return;
    }
    if let Ok(start) = hello.get_document("speculativeAuthenticate") {
        let db = start.get_str("db").unwrap_or("admin");
        let answer = if start.contains_key("authenticate") {
            authenticate(users, session, db, start, version)
        } else {
            sasl_start(users, session, db, start, version)
        };
        if let Ok(first) = answer {
            reply.insert("speculativeAuthenticate", first);
        }
    }
}

/// A connection's authentication state.
#[derive(Debug, Clone, Default)]
pub struct Session {
    /// `<db>.<user>` once authenticated.
    pub authenticated: Option<String>,
    /// The verified TLS client certificate's subject (RFC 2253), if one was presented.
    pub x509_subject: Option<String>,
    conversation: Option<Conversation>,
}

/// A SCRAM conversation in progress.
#[derive(Debug, Clone)]
struct Conversation {
    id: i32,
    user: String,
    credential: StoredCredential,
    client_first_bare: String,
    server_first: String,
    nonce: String,
    /// The proof was accepted; an empty `saslContinue` finishes.
    proved: bool,
    /// `saslStart`'s `options.skipEmptyExchange`: done as soon as the proof is accepted.
    skip_empty_exchange: bool,
}

/// Refuses `name` with `Unauthorized` (13) when authentication is on and the connection has
/// not authenticated.
pub fn check_authorized(
    users: &Users,
    session: &Session,
    name: &str,
    version: ServerVersion,
) -> Result<(), Failure> {
    if !users.enabled() || session.authenticated.is_some() || OPEN_COMMANDS.contains(&name) {
        return Ok(());
    }
    Err(Failure::new(13, version, format!("command {name} requires authentication")))
}

fn failed(version: ServerVersion) -> Failure {
    Failure::new(AUTHENTICATION_FAILED, version, "Authentication failed.")
}

fn payload_of(cmd: &Document, version: ServerVersion) -> Result<String, Failure> {
    let bytes = match cmd.get("payload") {
        Some(Bson::Binary(b)) => b.bytes.clone(),
        Some(Bson::String(s)) => s.as_bytes().to_vec(),
        _ => return Err(Failure::new(17, version, "SASL payload missing")),
    };
    String::from_utf8(bytes).map_err(|_| Failure::new(17, version, "SASL payload is not UTF-8"))
}

fn binary(text: &str) -> Bson {
    Bson::Binary(Binary { subtype: BinarySubtype::Generic, bytes: text.as_bytes().to_vec() })
}

fn field<'a>(message: &'a str, name: &str) -> Option<&'a str> {
    message.split(',').find_map(|p| p.strip_prefix(name))
}

/// Unescapes a SCRAM `saslname` (`=2C` → `,`, `=3D` → `=`).
fn unescape(name: &str) -> String {
    name.replace("=2C", ",").replace("=3D", "=")
}

/// `authenticate` on database `db` with mechanism MONGODB-X509 (mongod's X.509
/// authentication): the connection's verified client certificate names the user (its subject
/// in RFC 2253 form), which must exist on `$external`; a `user` given must be that subject.
pub fn authenticate(
    users: &Users,
    session: &mut Session,
    db: &str,
    cmd: &Document,
    version: ServerVersion,
) -> Result<Document, Failure> {
    let mechanism = cmd.get_str("mechanism").unwrap_or_default();
    if mechanism != "MONGODB-X509" {
        return Err(Failure::new(
            2,
            version,
            format!("Received authentication for mechanism {mechanism} which is not enabled"),
        ));
    }
    if db != "$external" {
        return Err(Failure::new(2, version, "X.509 authentication must always use the $external database."));
    }
    let Some(subject) = session.x509_subject.clone() else {
        return Err(Failure::new(
            AUTHENTICATION_FAILED,
            version,
            "No verified subject name available from client",
        ));
    };
    if let Ok(user) = cmd.get_str("user")
        && user != subject
    {
        return Err(Failure::new(
            AUTHENTICATION_FAILED,
            version,
            "There is no x.509 client certificate matching the user.",
        ));
    }
    if users.find(db, &subject).is_none() {
        return Err(failed(version));
    }
    session.authenticated = Some(format!("{db}.{subject}"));
    Ok(doc! { "dbname": db, "user": subject })
}

/// `saslStart` on database `db`: checks the mechanism and user, answers the server-first
/// message.
pub fn sasl_start(
    users: &Users,
    session: &mut Session,
    db: &str,
    cmd: &Document,
    version: ServerVersion,
) -> Result<Document, Failure> {
    let name = cmd.get_str("mechanism").unwrap_or_default();
    let Some(mechanism) = Mechanism::parse(name) else {
        return Err(Failure::new(
            2,
            version,
            format!("Received authentication for mechanism {name} which is not enabled"),
        ));
    };
    let client_first = payload_of(cmd, version)?;
    let bare = client_first
        .strip_prefix("n,,")
        .ok_or_else(|| Failure::new(17, version, "SCRAM: channel binding is not supported"))?;
    let user =
        field(bare, "n=").map(unescape).ok_or_else(|| Failure::new(17, version, "SCRAM: no user name"))?;
    let client_nonce = field(bare, "r=").ok_or_else(|| Failure::new(17, version, "SCRAM: no nonce"))?;
    let entry = users.find(db, &user).ok_or_else(|| failed(version))?;
    let credential = entry
        .credentials
        .iter()
        .find(|c| c.mechanism == mechanism)
        .cloned()
        .ok_or_else(|| failed(version))?;
    let nonce = format!("{client_nonce}{}", BASE64.encode(rand::random::<[u8; 24]>()));
    let server_first = format!("r={nonce},s={},i={}", BASE64.encode(&credential.salt), credential.iterations);
    let id = 1;
    let reply = doc! { "conversationId": id, "done": false, "payload": binary(&server_first) };
    session.conversation = Some(Conversation {
        id,
        user: format!("{db}.{user}"),
        credential,
        client_first_bare: bare.to_owned(),
        server_first,
        nonce,
        proved: false,
        skip_empty_exchange: cmd
            .get_document("options")
            .ok()
            .and_then(|o| o.get_bool("skipEmptyExchange").ok())
            .unwrap_or(false),
    });
    Ok(reply)
}

/// `saslContinue`: checks the client proof and answers the server signature (done at once
/// when the client asked `skipEmptyExchange` in `saslStart`, else after one empty round).
pub fn sasl_continue(
    session: &mut Session,
    cmd: &Document,
    version: ServerVersion,
) -> Result<Document, Failure> {
    let Some(conv) = session.conversation.clone() else {
        return Err(Failure::new(17, version, "No SASL session state found"));
    };
    let id = match cmd.get("conversationId") {
        Some(Bson::Int32(i)) => i64::from(*i),
        Some(Bson::Int64(i)) => *i,
        Some(Bson::Double(d)) => *d as i64,
        _ => -1,
    };
    if id != i64::from(conv.id) {
        return Err(Failure::new(17, version, "Mismatched conversation id"));
    }
    if conv.proved {
        session.conversation = None;
        session.authenticated = Some(conv.user);
        return Ok(doc! { "conversationId": conv.id, "done": true, "payload": binary("") });
    }
    let client_final = payload_of(cmd, version)?;
    let (without_proof, proof) = client_final
        .rsplit_once(",p=")
        .ok_or_else(|| Failure::new(17, version, "SCRAM: the client-final message has no proof"))?;
    if field(without_proof, "r=") != Some(conv.nonce.as_str()) || field(without_proof, "c=") != Some("biws") {
        session.conversation = None;
        return Err(failed(version));
    }
    let proof = BASE64.decode(proof).map_err(|_| failed(version))?;
    let m = conv.credential.mechanism;
    let auth_message = format!("{},{},{without_proof}", conv.client_first_bare, conv.server_first);
    let signature = m.hmac(&conv.credential.stored_key, auth_message.as_bytes());
    let client_key: Vec<u8> = proof.iter().zip(&signature).map(|(p, s)| p ^ s).collect();
    if proof.len() != signature.len() || m.hash(&client_key) != conv.credential.stored_key {
        session.conversation = None;
        return Err(failed(version));
    }
    let server_signature = m.hmac(&conv.credential.server_key, auth_message.as_bytes());
    let payload = binary(&format!("v={}", BASE64.encode(server_signature)));
    if conv.skip_empty_exchange {
        session.conversation = None;
        session.authenticated = Some(conv.user);
        Ok(doc! { "conversationId": conv.id, "done": true, "payload": payload })
    } else {
        session.conversation = Some(Conversation { proved: true, ..conv });
        Ok(doc! { "conversationId": conv.id, "done": false, "payload": payload })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x509_needs_a_known_certificate_subject_on_external() {
        let users =
            Users::new(&[User { db: "$external".into(), name: "CN=c".into(), password: String::new() }]);
        let v = ServerVersion::V7_0;
        let cmd = doc! {"authenticate": 1, "mechanism": "MONGODB-X509"};
        let mut none = Session::default();
        assert_eq!(authenticate(&users, &mut none, "$external", &cmd, v).unwrap_err().error.code, 18);
        let mut known = Session { x509_subject: Some("CN=c".into()), ..Session::default() };
        assert!(authenticate(&users, &mut known, "admin", &cmd, v).is_err(), "only on $external");
        let wrong = doc! {"authenticate": 1, "mechanism": "MONGODB-X509", "user": "CN=d"};
        assert!(authenticate(&users, &mut known, "$external", &wrong, v).is_err());
        let reply = authenticate(&users, &mut known, "$external", &cmd, v).expect("accepted");
        assert_eq!(reply.get_str("user").unwrap(), "CN=c");
        assert_eq!(known.authenticated.as_deref(), Some("$external.CN=c"));
        let mut stranger = Session { x509_subject: Some("CN=x".into()), ..Session::default() };
        assert!(authenticate(&users, &mut stranger, "$external", &cmd, v).is_err());
    }

    fn user() -> User {
        User { db: "admin".into(), name: "user".into(), password: "pencil".into() }
    }

    /// The server side reproduces RFC 7677's exchange: same stored keys, proof accepted,
    /// same server signature.
    #[test]
    fn rfc7677_sha256_exchange() {
        let salt = BASE64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let credential = StoredCredential::derive(Mechanism::Sha256, &user(), salt, 4096);
        let server_first =
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let mut session = Session {
            authenticated: None,
            x509_subject: None,
            conversation: Some(Conversation {
                id: 1,
                user: "admin.user".into(),
                credential,
                client_first_bare: "n=user,r=rOprNGfwEbeRWgbNEkqO".into(),
                server_first: server_first.into(),
                nonce: "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0".into(),
                proved: false,
                skip_empty_exchange: true,
            }),
        };
        let bad = session.clone();
        let final_message = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
        let cmd = doc! { "saslContinue": 1, "conversationId": 1, "payload": binary(final_message) };
        let reply = sasl_continue(&mut session, &cmd, ServerVersion::V7_0).unwrap();
        assert_eq!(
            payload_of(&reply, ServerVersion::V7_0).unwrap(),
            "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
        );
        assert!(reply.get_bool("done").unwrap());
        assert_eq!(session.authenticated.as_deref(), Some("admin.user"));

        // A wrong proof fails with AuthenticationFailed.
        let mut bad = bad;
        let wrong = final_message.replace("p=dHzb", "p=eHzb");
        let cmd = doc! { "saslContinue": 1, "conversationId": 1, "payload": binary(&wrong) };
        let error = sasl_continue(&mut bad, &cmd, ServerVersion::V7_0).unwrap_err();
        assert_eq!(error.error.code, AUTHENTICATION_FAILED);
        assert!(bad.authenticated.is_none());
    }

    #[test]
    fn unknown_users_and_unauthenticated_commands_are_refused() {
        let users = Users::new(&[user()]);
        let mut session = Session::default();
        let v = ServerVersion::V7_0;
        assert!(check_authorized(&users, &session, "hello", v).is_ok());
        assert_eq!(check_authorized(&users, &session, "find", v).unwrap_err().error.code, 13);
        assert!(check_authorized(&Users::default(), &session, "find", v).is_ok());
        let start =
            doc! { "saslStart": 1, "mechanism": "SCRAM-SHA-256", "payload": binary("n,,n=nobody,r=abc") };
        assert_eq!(sasl_start(&users, &mut session, "admin", &start, v).unwrap_err().error.code, 18);
        let start =
            doc! { "saslStart": 1, "mechanism": "SCRAM-SHA-256", "payload": binary("n,,n=user,r=abc") };
        let reply = sasl_start(&users, &mut session, "admin", &start, v).unwrap();
        let first = payload_of(&reply, v).unwrap();
        assert!(first.starts_with("r=abc") && first.ends_with(",i=4096"), "{first}");
        let mut hello = Document::new();
        users.supported_mechs(&doc! { "hello": 1, "saslSupportedMechs": "admin.user" }, &mut hello);
        assert_eq!(hello.get_array("saslSupportedMechs").unwrap().len(), 2);
    }
}
