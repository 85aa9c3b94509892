//! The auth spec's connection string tests (`source/auth/tests/README.rst`,
//! `connection-string.json`): each case becomes one test whose body hands the file and
//! case index to `conformance::auth`, which checks the credential the driver builds from
//! the URI (or the error the case expects).

use std::collections::BTreeMap;
use std::path::Path;

use quote::quote;
use serde::{Deserialize, Deserializer};

use crate::naming::Unique;
use crate::{GeneratedTest, SpecError, Status};

/// Deserializes a key that may be absent (`None`) or `null` (`Some(None)`).
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// `{"tests": [...]}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    /// The cases.
    pub tests: Vec<TestCase>,
}

/// One case: a URI, whether it is valid, and the credential it gives.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    /// What the case tests.
    pub description: String,
    /// The connection string.
    pub uri: String,
    /// Whether a credential (or none) is built without error.
    pub valid: bool,
    /// The expected credential: absent = no assertion, `null` = no credential.
    #[serde(default, deserialize_with = "nullable")]
    pub credential: Option<Option<ExpectedCredential>>,
}

/// The expected credential; each field is asserted, `null` meaning absent.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedCredential {
    /// The user name.
    pub username: Option<String>,
    /// The password.
    pub password: Option<String>,
    /// The auth source.
    pub source: String,
    /// The mechanism's name (`null`: negotiated).
    pub mechanism: Option<String>,
    /// The mechanism properties.
    pub mechanism_properties: Option<BTreeMap<String, String>>,
}

/// Cases the driver cannot pass yet: (description, reason).
const IGNORED: &[(&str, &str)] = &[];

/// Tests of `source/auth/tests/connection-string.json`, as `auth::connection_string::<case>`.
pub fn generate(spec_root: &Path) -> Result<Vec<GeneratedTest>, SpecError> {
    let Some(dir) = crate::spec_data::source_dir(spec_root, "auth/tests")? else {
        return Ok(Vec::new());
    };
    let path = dir.join("connection-string.json");
    let spec_file = crate::test_model::rel(spec_root, &path);
    let spec_file = spec_file.as_str();
    let file: TestFile = match crate::error::read_json(&path) {
        Ok(file) => file,
        Err(e) if e.is_newer() => {
            return crate::newer::ignored_cases(&path, spec_file, &e, &["connection_string".to_string()]);
        }
        Err(e) => return Err(e),
    };
    let mut cases = Unique::default();
    let mut out = Vec::new();
    for (index, case) in file.tests.iter().enumerate() {
        let case_ident = cases.ident(&case.description);
        let name = format!("auth::connection_string::{case_ident}");
        let body = quote! {
            ::conformance::auth::check(&::std::path::Path::new(env!("SPEC_ROOT")).join(#spec_file), #index, #name);
        };
        let status = IGNORED
            .iter()
            .find(|(d, _)| *d == case.description)
            .map_or(Status::Run, |(_, reason)| Status::Ignored((*reason).to_string()));
        out.push(GeneratedTest {
            path: vec!["connection_string".into(), case_ident],
            spec_file: spec_file.to_string(),
            case_index: Some(index),
            status,
            is_async: false,
            body,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_credential_is_not_an_absent_one() {
        let text = r#"{"tests": [{"description": "a", "uri": "u", "valid": true, "credential": null},
            {"description": "b", "uri": "u", "valid": false}]}"#;
        let f: TestFile = crate::error::from_json_str(Path::new("t.json"), text).unwrap();
        assert!(matches!(f.tests[0].credential, Some(None)));
        assert!(f.tests[1].credential.is_none());
        let bad = r#"{"tests": [{"description": "a", "uri": "u", "valid": true,
            "credential": {"username": null, "password": null, "source": "s", "mechanism": null,
                           "mechanism_properties": null, "extra": 1}}]}"#;
        let e = crate::error::from_json_str::<TestFile>(Path::new("t.json"), bad).unwrap_err();
        assert_eq!(e.pointer, "/tests/0/credential/extra");
    }
}
