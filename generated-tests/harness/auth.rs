//! Assertions for the auth spec's connection string tests (`auth/tests/README.rst`): the
//! credential the driver builds from a URI (`Credential::from_connection_string`), or the
//! error an invalid combination must give.

use std::path::Path;

use mongo_driver::auth::Credential;
use mongo_driver::connection_string::ConnectionString;
use serde_json::json;
use spec_codegen::auth::TestFile;

/// Checks case `index` of `path`: parse the URI, build its credential, compare every field
/// the case gives (`null` = absent), or expect an error when the case is invalid.
pub fn check(path: &Path, index: usize, name: &str) {
    let file: TestFile = spec_codegen::error::read_json(path).unwrap_or_else(|e| panic!("{e}"));
    let Some(case) = file.tests.get(index) else { panic!("{}: no case {index}", path.display()) };
    let result = ConnectionString::parse(&case.uri).and_then(|cs| Credential::from_connection_string(&cs));
    let view = match &result {
        Ok(Some(c)) => json!({
            "uri": case.uri,
            "credential": {
                "username": c.username, "password": c.password, "source": c.source,
                "mechanism": c.mechanism.map(|m| m.name()), "mechanism_properties": c.mechanism_properties,
            },
        }),
        Ok(None) => json!({"uri": case.uri, "credential": null}),
        Err(e) => json!({"uri": case.uri, "error": e.to_string()}),
    };
    match (&result, case.valid) {
        (Err(e), true) => panic!("{name}: expected {:?} to give a credential, got the error: {e}", case.uri),
        (Ok(c), false) => panic!("{name}: expected {:?} to be rejected, it gave {c:?}", case.uri),
        (Err(_), false) => {}
        (Ok(actual), true) => match (&case.credential, actual) {
            (None, _) => {}
            (Some(None), None) => {}
            (Some(None), Some(c)) => panic!("{name}: expected no credential, got {c:?}"),
            (Some(Some(e)), None) => panic!("{name}: expected the credential {e:?}, got none"),
            (Some(Some(e)), Some(c)) => {
                assert_eq!(c.username, e.username, "{name}: username");
                assert_eq!(c.password, e.password, "{name}: password");
                assert_eq!(c.source, e.source, "{name}: source");
                assert_eq!(c.mechanism.map(|m| m.name().to_string()), e.mechanism, "{name}: mechanism");
                assert_eq!(c.mechanism_properties, e.mechanism_properties, "{name}: mechanism_properties");
            }
        },
    }
    crate::snapshot(name, &view);
}
