//! The read-write-concern spec's connection-string and document test formats
//! (`source/read-write-concern/tests/README.rst`, "Connection String" and "Document"): each
//! case becomes one test whose body hands the file and case index to
//! `conformance::read_write_concern`, which checks the driver's parsed, validated and
//! serialized read and write concerns.

use std::path::Path;

use quote::quote;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use crate::naming::Unique;
use crate::{GeneratedTest, SpecError, Status};

/// Deserializes a key that may be absent (`None`) or `null` (`Some(None)`).
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A file of either format: `{"tests": [...]}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestFile<T> {
    /// The cases.
    pub tests: Vec<T>,
}

/// A connection-string case: a URI and the read or write concern it must give.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UriCase {
    /// What the case tests.
    pub description: String,
    /// The connection string.
    pub uri: String,
    /// Whether the URI's concern options are accepted.
    pub valid: bool,
    /// Whether parsing warns (`None`/`null`: no assertion).
    #[serde(default)]
    pub warning: Option<bool>,
    /// The expected read concern, in the options form (`level`).
    #[serde(default)]
    pub read_concern: Option<Map<String, Value>>,
    /// The expected write concern, in the options form (`w`, `wtimeoutMS`, `journal`).
    #[serde(default)]
    pub write_concern: Option<Map<String, Value>>,
}

/// A document case: a concern in the options form, whether it is valid, what is sent for it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DocumentCase {
    /// What the case tests.
    pub description: String,
    /// Whether the concern is valid.
    pub valid: bool,
    /// The read concern (options form).
    #[serde(default)]
    pub read_concern: Option<Map<String, Value>>,
    /// The document sent for it (`null`: no assertion).
    #[serde(default, deserialize_with = "nullable")]
    pub read_concern_document: Option<Option<Map<String, Value>>>,
    /// The write concern (options form: `w`, `wtimeoutMS`, `journal`).
    #[serde(default)]
    pub write_concern: Option<Map<String, Value>>,
    /// The document sent for it (`null`: no assertion).
    #[serde(default, deserialize_with = "nullable")]
    pub write_concern_document: Option<Option<Map<String, Value>>>,
    /// Whether the concern is the server's default (`null`: no assertion).
    #[serde(default)]
    pub is_server_default: Option<bool>,
    /// Whether the write concern is acknowledged (`null`: no assertion).
    #[serde(default)]
    pub is_acknowledged: Option<bool>,
}

/// Cases the driver cannot pass yet: (folder, file stem, description, reason).
const IGNORED: &[(&str, &str, &str, &str)] = &[];

/// Tests of `source/read-write-concern/tests/{connection-string,document}/*.json`, as
/// `read_write_concern::connection_string::<file>::<case>` and
/// `read_write_concern::document::<file>::<case>`.
pub fn generate(spec_root: &Path) -> Result<Vec<GeneratedTest>, SpecError> {
    let mut out = Vec::new();
    for (folder, module) in [("connection-string", "connection_string"), ("document", "document")] {
        let Some(dir) =
            crate::spec_data::source_dir(spec_root, &format!("read-write-concern/tests/{folder}"))?
        else {
            continue;
        };
        let mut files = Unique::default();
        for path in crate::test_model::json_files(&dir)? {
            let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let file_ident = files.ident(&stem);
            let spec_file = crate::test_model::rel(spec_root, &path);
            // The whole file is type-checked here, so a malformed one fails the build.
            let descriptions: Vec<String> = if module == "document" {
                let f: TestFile<DocumentCase> = crate::error::read_json(&path)?;
                f.tests.into_iter().map(|t| t.description).collect()
            } else {
                let f: TestFile<UriCase> = crate::error::read_json(&path)?;
                f.tests.into_iter().map(|t| t.description).collect()
            };
            let check = if module == "document" {
                quote! { check_document }
            } else {
                quote! { check_connection_string }
            };
            let mut cases = Unique::default();
            for (index, description) in descriptions.iter().enumerate() {
                let case_ident = cases.ident(description);
                let name = format!("read_write_concern::{module}::{file_ident}::{case_ident}");
                let body = quote! {
                    ::conformance::read_write_concern::#check(
                        &::std::path::Path::new(env!("SPEC_ROOT")).join(#spec_file),
                        #index,
                        #name,
                    );
                };
                let status = IGNORED
                    .iter()
                    .find(|(f, s, d, _)| *f == folder && *s == stem && d == description)
                    .map_or(Status::Run, |(_, _, _, reason)| Status::Ignored((*reason).to_string()));
                out.push(GeneratedTest {
                    path: vec![module.to_string(), file_ident.clone(), case_ident],
                    spec_file: spec_file.clone(),
                    case_index: Some(index),
                    status,
                    is_async: false,
                    body,
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_documents_are_told_apart_from_absent_ones() {
        let text = r#"{"tests": [{"description": "d", "valid": false, "writeConcern": {"w": -3},
            "writeConcernDocument": null, "isServerDefault": null, "isAcknowledged": null}]}"#;
        let f: TestFile<DocumentCase> = crate::error::from_json_str(Path::new("t.json"), text).unwrap();
        assert_eq!(f.tests[0].write_concern_document, Some(None));
        assert_eq!(f.tests[0].read_concern_document, None);
        let bad =
            r#"{"tests": [{"description": "d", "valid": true, "writeConcern": {}, "isAcknowledged": 1}]}"#;
        let e = crate::error::from_json_str::<TestFile<DocumentCase>>(Path::new("t.json"), bad).unwrap_err();
        assert_eq!(e.pointer, "/tests/0/isAcknowledged");
    }
}
