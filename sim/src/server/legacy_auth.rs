//! The legacy MONGODB-CR nonce command (`getnonce`; MongoDB manual "getnonce", deprecated
//! in 5.0 and removed in 6.2), which drivers must treat as security-sensitive.

use bson::{Document, doc};

use crate::ServerVersion;

/// Whether the emulated release answers `name` here: `getnonce` before 6.2.
pub fn handles(name: &str, version: ServerVersion) -> bool {
    name == "getnonce" && version.has_getnonce()
}

/// The `getnonce` reply: a fresh 64-bit nonce as 16 hex digits.
pub fn getnonce() -> Document {
    // An ObjectId's last eight bytes (process-random plus counter) differ on every call.
    let bytes = bson::oid::ObjectId::new().bytes();
    let nonce: String = bytes[4..].iter().map(|b| format!("{b:02x}")).collect();
    doc! { "nonce": nonce }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn getnonce_exists_until_6_0_and_gives_fresh_nonces() {
        assert!(handles("getnonce", ServerVersion::V3_6));
        assert!(handles("getnonce", ServerVersion::V6_0));
        assert!(!handles("getnonce", ServerVersion::V7_0));
        assert!(!handles("getNonce", ServerVersion::V6_0));
        let (a, b) = (getnonce(), getnonce());
        assert_eq!(a.get_str("nonce").ok().map(str::len), Some(16));
        assert_ne!(a, b);
    }
}
