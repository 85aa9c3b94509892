//! The connection string test format (`connection-string/tests/README.rst`), also used by
//! `uri-options/tests` (`uri-options/tests/README.rst`).
//!
//! Each JSON file holds many cases; each case becomes one test named
//! `<suite>::<file>::<case description>` whose body hands the URI and the expectations to
//! `conformance::connection_string::check`.

use std::collections::BTreeMap;
use std::path::Path;

use proc_macro2::TokenStream;
use quote::quote;
use serde::Deserialize;

use crate::naming::Unique;
use crate::{GeneratedTest, SpecError, Status};

/// One test file: `{"tests": [...]}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    /// The cases.
    pub tests: Vec<TestCase>,
}

/// One case: a URI and what parsing it must give.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    /// What the case tests.
    pub description: String,
    /// The connection string to parse.
    pub uri: String,
    /// Whether parsing succeeds.
    pub valid: bool,
    /// Whether parsing warns (`None`: no assertion).
    pub warning: Option<bool>,
    /// The parsed hosts, in order (`None`: no assertion).
    pub hosts: Option<Vec<HostSpec>>,
    /// The parsed credentials and auth database (`None`: no assertion).
    pub auth: Option<AuthSpec>,
    /// Parsed options, keyed case-insensitively (`None`: no assertion); only the listed
    /// options are asserted.
    pub options: Option<serde_json::Map<String, serde_json::Value>>,
}

/// The kind of a parsed host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostType {
    /// `ipv4`.
    Ipv4,
    /// `ip_literal`.
    IpLiteral,
    /// `hostname`.
    Hostname,
    /// `unix`.
    Unix,
}

impl HostType {
    fn as_str(self) -> &'static str {
        match self {
            HostType::Ipv4 => "ipv4",
            HostType::IpLiteral => "ip_literal",
            HostType::Hostname => "hostname",
            HostType::Unix => "unix",
        }
    }
}

/// An expected host.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostSpec {
    /// Its kind (asserting it is optional per the README; asserted where given).
    #[serde(rename = "type")]
    pub kind: Option<HostType>,
    /// The parsed host.
    pub host: String,
    /// The parsed port (`None`: no assertion).
    pub port: Option<u16>,
}

/// Expected credentials and auth database; a `None` field is not asserted.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSpec {
    /// The user name.
    pub username: Option<String>,
    /// The password.
    pub password: Option<String>,
    /// The auth database.
    pub db: Option<String>,
}

/// An expected option value, typed as in the spec files.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum OptionValue {
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A string.
    Str(String),
    /// A list of strings (e.g. `compressors`).
    List(Vec<String>),
    /// String pairs (e.g. `authMechanismProperties`).
    Map(BTreeMap<String, String>),
    /// A list of string-pair sets (e.g. `readPreferenceTags`).
    MapList(Vec<BTreeMap<String, String>>),
}

/// Cases the driver cannot pass yet: (spec directory, file stem, description, reason).
const IGNORED: &[(&str, &str, &str, &str)] = &[];

/// Tests for `source/connection-string/tests/*.json`.
pub fn generate_connection_string(spec_root: &Path) -> Result<Vec<GeneratedTest>, SpecError> {
    generate(spec_root, "connection-string", "connection_string")
}

/// Tests for `source/uri-options/tests/*.json`.
pub fn generate_uri_options(spec_root: &Path) -> Result<Vec<GeneratedTest>, SpecError> {
    generate(spec_root, "uri-options", "uri_options")
}

fn generate(spec_root: &Path, spec_dir: &str, module: &str) -> Result<Vec<GeneratedTest>, SpecError> {
    let Some(dir) = crate::spec_data::source_dir(spec_root, &format!("{spec_dir}/tests"))? else {
        return Ok(Vec::new());
    };
    let files = crate::test_model::json_files(&dir)?;
    let mut out = Vec::new();
    let mut file_names = Unique::default();
    for path in files {
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let file_ident = file_names.ident(&stem);
        let spec_file = crate::test_model::rel(spec_root, &path);
        let file: TestFile = match crate::error::read_json(&path) {
            Ok(file) => file,
            Err(e) if e.is_newer() => {
                out.extend(crate::newer::ignored_cases(&path, &spec_file, &e, &[file_ident])?);
                continue;
            }
            Err(e) => return Err(e),
        };
        let mut case_names = Unique::default();
        for (index, case) in file.tests.iter().enumerate() {
            let case_ident = case_names.ident(&case.description);
            let name = format!("{module}::{file_ident}::{case_ident}");
            let pointer = format!("/tests/{index}");
            let body = emit_case(&name, case, &path, &pointer)?;
            let status = IGNORED
                .iter()
                .find(|(d, f, desc, _)| *d == spec_dir && *f == stem && *desc == case.description)
                .map_or(Status::Run, |(_, _, _, reason)| Status::Ignored((*reason).to_string()));
            out.push(GeneratedTest {
                path: vec![file_ident.clone(), case_ident],
                spec_file: spec_file.clone(),
                case_index: Some(index),
                status,
                is_async: false,
                body,
            });
        }
    }
    Ok(out)
}

/// The expected `options` of a case (at `pointer` in `file`) as an optional table of
/// `(name, value)` pairs; a value the harness cannot compare is an error naming its key.
pub(crate) fn emit_options(
    file: &Path,
    pointer: &str,
    options: Option<&serde_json::Map<String, serde_json::Value>>,
) -> Result<TokenStream, SpecError> {
    let Some(map) = options else {
        return Ok(quote! { ::core::option::Option::None });
    };
    let mut items = Vec::new();
    for (key, raw) in map {
        let value: OptionValue = serde_json::from_value(raw.clone()).map_err(|e| {
            SpecError::new(
                file,
                format!("{pointer}/options/{}", crate::error::escape_token(key)),
                format!("unsupported option value: {e}"),
            )
        })?;
        let value = emit_value(&value);
        items.push(quote! { (#key, #value) });
    }
    Ok(quote! { ::core::option::Option::Some(&[#(#items),*]) })
}

fn opt_str(value: &Option<String>) -> TokenStream {
    match value {
        Some(s) => quote! { ::core::option::Option::Some(#s) },
        None => quote! { ::core::option::Option::None },
    }
}

fn pairs(map: &BTreeMap<String, String>) -> TokenStream {
    let items = map.iter().map(|(k, v)| quote! { (#k, #v) });
    quote! { &[#(#items),*] }
}

/// The harness's `Value` for an expected option value.
pub(crate) fn emit_value(value: &OptionValue) -> TokenStream {
    let h = quote! { ::conformance::connection_string };
    match value {
        OptionValue::Bool(b) => quote! { #h::Value::Bool(#b) },
        OptionValue::Int(n) => quote! { #h::Value::Int(#n) },
        OptionValue::Str(s) => quote! { #h::Value::Str(#s) },
        OptionValue::List(items) => quote! { #h::Value::List(&[#(#items),*]) },
        OptionValue::Map(map) => {
            let p = pairs(map);
            quote! { #h::Value::Map(#p) }
        }
        OptionValue::MapList(maps) => {
            let sets = maps.iter().map(pairs);
            quote! { #h::Value::MapList(&[#(#sets),*]) }
        }
    }
}

fn emit_case(name: &str, case: &TestCase, file: &Path, pointer: &str) -> Result<TokenStream, SpecError> {
    let h = quote! { ::conformance::connection_string };
    let uri = &case.uri;
    let valid = case.valid;
    let warning = match case.warning {
        Some(w) => quote! { ::core::option::Option::Some(#w) },
        None => quote! { ::core::option::Option::None },
    };
    let hosts = match &case.hosts {
        Some(hosts) => {
            let items = hosts.iter().map(|host| {
                let kind = match host.kind {
                    Some(kind) => {
                        let kind = kind.as_str();
                        quote! { ::core::option::Option::Some(#kind) }
                    }
                    None => quote! { ::core::option::Option::None },
                };
                let host_name = &host.host;
                let port = match host.port {
                    Some(p) => quote! { ::core::option::Option::Some(#p) },
                    None => quote! { ::core::option::Option::None },
                };
                quote! { #h::ExpectedHost { kind: #kind, host: #host_name, port: #port } }
            });
            quote! { ::core::option::Option::Some(&[#(#items),*]) }
        }
        None => quote! { ::core::option::Option::None },
    };
    let auth = match &case.auth {
        Some(auth) => {
            let (u, p, d) = (opt_str(&auth.username), opt_str(&auth.password), opt_str(&auth.db));
            quote! { ::core::option::Option::Some(#h::ExpectedAuth { username: #u, password: #p, db: #d }) }
        }
        None => quote! { ::core::option::Option::None },
    };
    let options = emit_options(file, pointer, case.options.as_ref())?;
    Ok(quote! {
        #h::check(&#h::Case {
            name: #name,
            uri: #uri,
            valid: #valid,
            warning: #warning,
            hosts: #hosts,
            auth: #auth,
            options: #options,
        });
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_values_keep_their_types() {
        let text = r#"{"tests": [{"description": "d", "uri": "u", "valid": true, "warning": false,
            "hosts": null, "auth": null,
            "options": {"w": 1, "x": "1", "y": true, "c": ["a"], "p": {"K": "v"}, "t": [{"a": "b"}, {}]}}]}"#;
        let file: TestFile = crate::error::from_json_str(Path::new("t.json"), text).unwrap();
        let options = file.tests[0].options.clone().unwrap();
        let values: Vec<OptionValue> =
            options.values().map(|v| serde_json::from_value(v.clone()).unwrap()).collect();
        assert_eq!(values[0], OptionValue::Int(1));
        assert_eq!(values[1], OptionValue::Str("1".into()));
        assert_eq!(values[2], OptionValue::Bool(true));
        assert_eq!(values[3], OptionValue::List(vec!["a".into()]));
        assert!(matches!(values[4], OptionValue::Map(_)));
        assert!(matches!(values[5], OptionValue::MapList(_)));
    }

    #[test]
    fn unknown_fields_and_host_types_are_located() {
        let text = r#"{"tests": [{"description": "d", "uri": "u", "valid": true, "warning": false,
            "hosts": [{"type": "carrier_pigeon", "host": "h", "port": null}], "auth": null, "options": null}]}"#;
        let err = crate::error::from_json_str::<TestFile>(Path::new("t.json"), text).unwrap_err();
        assert_eq!(err.pointer, "/tests/0/hosts/0/type");
        let text = r#"{"tests": [{"description": "d", "uri": "u", "valid": true, "warning": false,
            "hosts": null, "auth": null, "options": null, "extra": 1}]}"#;
        let err = crate::error::from_json_str::<TestFile>(Path::new("t.json"), text).unwrap_err();
        assert_eq!(err.pointer, "/tests/0/extra");
    }

    #[test]
    fn an_unsupported_option_value_names_its_pointer() {
        let case = TestCase {
            description: "d".into(),
            uri: "u".into(),
            valid: true,
            warning: None,
            hosts: None,
            auth: None,
            options: serde_json::from_str(r#"{"a/b": 1.5}"#).unwrap(),
        };
        let err = emit_case("n", &case, Path::new("t.json"), "/tests/3").unwrap_err();
        assert_eq!(err.pointer, "/tests/3/options/a~1b");
    }
}
