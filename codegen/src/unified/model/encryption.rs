//! The `clientEncryption` entity and its KMS providers (`unified-test-format.rst`,
//! "entity", `clientEncryption`; client-side encryption spec "KMS providers").

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer};
use serde_json::Value;

use super::common::present;

/// `clientEncryption` entity.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClientEncryptionEntity {
    /// Entity id.
    pub id: String,
    /// Options.
    pub client_encryption_opts: ClientEncryptionOpts,
}

/// `clientEncryption.clientEncryptionOpts`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClientEncryptionOpts {
    /// Id of the client entity holding the key vault.
    pub key_vault_client: String,
    /// `db.coll` of the key vault.
    pub key_vault_namespace: String,
    /// KMS providers.
    pub kms_providers: KmsProviders,
    /// How long data keys stay cached (schema 1.22).
    #[serde(default, rename = "keyExpirationMS", deserialize_with = "present")]
    pub key_expiration_ms: Option<i64>,
}

/// A KMS credential: a string, or `{"$$placeholder": …}` to take it from the environment.
#[derive(Debug, Clone)]
pub enum StringOrPlaceholder {
    /// A literal value.
    String(String),
    /// Read from the environment.
    Placeholder(Placeholder),
}

impl<'de> Deserialize<'de> for StringOrPlaceholder {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => Ok(StringOrPlaceholder::String(s)),
            Value::Object(map) if map.len() == 1 && map.contains_key("$$placeholder") => {
                Ok(StringOrPlaceholder::Placeholder(Placeholder {
                    placeholder: map["$$placeholder"].clone(),
                }))
            }
            other => Err(de::Error::custom(format!(
                "invalid type: {other}, expected a string or a `{{\"$$placeholder\": …}}` document"
            ))),
        }
    }
}

/// `{"$$placeholder": …}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Placeholder {
    /// Any value (ignored).
    #[serde(rename = "$$placeholder")]
    pub placeholder: Value,
}

macro_rules! kms_provider {
    ($(#[$doc:meta])* $name:ident { $($field:ident : $key:literal),* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $(
                #[doc = concat!("`", $key, "`.")]
                #[serde(default, rename = $key, deserialize_with = "present")]
                pub $field: Option<StringOrPlaceholder>,
            )*
        }
    };
}

kms_provider!(
    /// `kmsProviders.aws`.
    AwsKms { access_key_id: "accessKeyId", secret_access_key: "secretAccessKey", session_token: "sessionToken" }
);
kms_provider!(
    /// `kmsProviders.azure` (credentials, or since schema 1.28 an `accessToken` alone).
    AzureKms {
        tenant_id: "tenantId",
        client_id: "clientId",
        client_secret: "clientSecret",
        identity_platform_endpoint: "identityPlatformEndpoint",
        access_token: "accessToken"
    }
);
kms_provider!(
    /// `kmsProviders.gcp` (credentials, or since schema 1.28 an `accessToken` alone).
    GcpKms { email: "email", private_key: "privateKey", endpoint: "endpoint", access_token: "accessToken" }
);
kms_provider!(
    /// `kmsProviders.kmip`.
    KmipKms { endpoint: "endpoint" }
);
kms_provider!(
    /// `kmsProviders.local`.
    LocalKms { key: "key" }
);

/// `clientEncryptionOpts.kmsProviders`: one provider per type, and since schema 1.18 named
/// providers `<type>:<name>` (`name` of ASCII letters, digits and `_`), kept in
/// [`KmsProviders::named`].
#[derive(Debug, Clone, Default)]
pub struct KmsProviders {
    /// AWS.
    pub aws: Option<AwsKms>,
    /// Azure.
    pub azure: Option<AzureKms>,
    /// GCP.
    pub gcp: Option<GcpKms>,
    /// KMIP.
    pub kmip: Option<KmipKms>,
    /// Local key.
    pub local: Option<LocalKms>,
    /// Named providers (`aws:name1` …), each with its type's credentials.
    pub named: Vec<(String, KmsProviders)>,
}

impl<'de> Deserialize<'de> for KmsProviders {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Providers;
        impl<'de> de::Visitor<'de> for Providers {
            type Value = KmsProviders;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of KMS providers")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<KmsProviders, A::Error> {
                const KINDS: &[&str] = &["aws", "azure", "gcp", "kmip", "local"];
                let mut out = KmsProviders::default();
                while let Some(key) = map.next_key::<String>()? {
                    let (kind, name) = match key.split_once(':') {
                        Some((kind, name)) => (kind, Some(name)),
                        None => (key.as_str(), None),
                    };
                    let name_ok = name.is_none_or(|n| {
                        !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                    });
                    if !KINDS.contains(&kind) || !name_ok {
                        return Err(de::Error::custom(format!(
                            "unknown field `{key}`, expected a KMS provider `aws`, `azure`, `gcp`, \
                             `kmip` or `local`, optionally named `<type>:<name>`"
                        )));
                    }
                    let mut one = KmsProviders::default();
                    let slot = if name.is_some() { &mut one } else { &mut out };
                    let duplicate = match kind {
                        "aws" => slot.aws.replace(map.next_value()?).is_some(),
                        "azure" => slot.azure.replace(map.next_value()?).is_some(),
                        "gcp" => slot.gcp.replace(map.next_value()?).is_some(),
                        "kmip" => slot.kmip.replace(map.next_value()?).is_some(),
                        _ => slot.local.replace(map.next_value()?).is_some(),
                    };
                    if duplicate {
                        return Err(de::Error::custom(format!("duplicate field `{key}`")));
                    }
                    if name.is_some() {
                        out.named.push((key, one));
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(Providers)
    }
}

impl KmsProviders {
    /// Why a ClientEncryption could not be configured with these providers, if so: no
    /// provider at all, or a provider given some but not all of its required credential
    /// fields (client-side encryption spec, `kmsProviders`; an empty provider document is
    /// allowed: it is configured without credentials, see section "entity" of the unified
    /// format, `clientEncryptionOpts.kmsProviders`).
    pub fn problem(&self) -> Option<String> {
        fn missing(provider: &str, fields: &[(&str, bool)]) -> Option<String> {
            let given = fields.iter().filter(|(_, present)| *present).count();
            if given == 0 {
                return None;
            }
            let absent: Vec<&str> =
                fields.iter().filter(|(_, present)| !present).map(|(name, _)| *name).collect();
            (!absent.is_empty()).then(|| {
                format!(
                    "kmsProviders.{provider} lacks the required credential field(s) {}",
                    absent.join(", ")
                )
            })
        }
        let mut configured = 0;
        let mut problems = Vec::new();
        if let Some(aws) = &self.aws {
            configured += 1;
            problems.extend(missing(
                "aws",
                &[
                    ("accessKeyId", aws.access_key_id.is_some()),
                    ("secretAccessKey", aws.secret_access_key.is_some()),
                ],
            ));
        }
        if let Some(azure) = self.azure.as_ref().filter(|a| a.access_token.is_none()) {
            configured += 1;
            problems.extend(missing(
                "azure",
                &[
                    ("tenantId", azure.tenant_id.is_some()),
                    ("clientId", azure.client_id.is_some()),
                    ("clientSecret", azure.client_secret.is_some()),
                ],
            ));
        }
        if let Some(gcp) = self.gcp.as_ref().filter(|g| g.access_token.is_none()) {
            configured += 1;
            problems.extend(missing(
                "gcp",
                &[("email", gcp.email.is_some()), ("privateKey", gcp.private_key.is_some())],
            ));
        }
        // An access token alone configures Azure or GCP (schema 1.28).
        configured += usize::from(self.azure.as_ref().is_some_and(|a| a.access_token.is_some()));
        configured += usize::from(self.gcp.as_ref().is_some_and(|g| g.access_token.is_some()));
        configured += usize::from(self.kmip.is_some()) + usize::from(self.local.is_some());
        for (name, provider) in &self.named {
            configured += 1;
            problems.extend(
                provider.problem().map(|p| p.replace("kmsProviders.", &format!("kmsProviders[{name}]."))),
            );
        }
        if configured == 0 {
            problems.push("kmsProviders configures no KMS provider".to_string());
        }
        (!problems.is_empty()).then(|| problems.join("; "))
    }
}
