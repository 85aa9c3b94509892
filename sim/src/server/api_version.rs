//! Stable API checks (versioned API spec: `apiVersion`, `apiStrict`, `apiDeprecationErrors`),
//! as mongod 5.0+ applies them to every command.

use bson::{Bson, Document};

use super::errors::Failure;
use crate::version::ServerVersion;

/// Commands in API Version 1 (`count` joined in 6.0).
const VERSION_1: [&str; 27] = [
    "abortTransaction",
    "aggregate",
    "authenticate",
    "collMod",
    "commitTransaction",
    "create",
    "createIndexes",
    "delete",
    "drop",
    "dropDatabase",
    "dropIndexes",
    "endSessions",
    "explain",
    "find",
    "findAndModify",
    "getMore",
    "hello",
    "insert",
    "killCursors",
    "listCollections",
    "listDatabases",
    "listIndexes",
    "ping",
    "refreshSessions",
    "saslContinue",
    "saslStart",
    "update",
];

/// Aggregation stages outside API Version 1.
const STAGES_OUTSIDE_VERSION_1: [&str; 8] = [
    "$listLocalSessions",
    "$listSessions",
    "$currentOp",
    "$collStats",
    "$indexStats",
    "$planCacheStats",
    "$search",
    "$listCatalog",
];

/// Checks `cmd`'s API parameters on servers that support the Stable API (5.0+).
pub fn check(name: &str, cmd: &Document, version: ServerVersion) -> Result<(), Failure> {
    if version < ServerVersion::V5_0 {
        return Ok(());
    }
    let api_version = cmd.get("apiVersion");
    let strict = cmd.get("apiStrict").is_some();
    let deprecation = cmd.get("apiDeprecationErrors").is_some();
    let Some(api_version) = api_version else {
        if strict || deprecation {
            return Err(Failure::new(
                322,
                version,
                "Provided apiStrict and/or apiDeprecationErrors without passing apiVersion",
            ));
        }
        return Ok(());
    };
    if api_version != &Bson::String("1".into()) {
        return Err(Failure::new(322, version, format!("API version must be \"1\", got {api_version}")));
    }
    if cmd.get_bool("apiStrict").unwrap_or(false) {
        let in_v1 = VERSION_1.contains(&name) || (name == "count" && version >= ServerVersion::V6_0);
        if !in_v1 {
            return Err(Failure::new(
                323,
                version,
                format!("Provided apiStrict:true, but the command {name} is not in API Version 1"),
            ));
        }
        if name == "aggregate" {
            let stages = cmd.get_array("pipeline").map(|p| p.as_slice()).unwrap_or_default();
            for stage in stages.iter().filter_map(Bson::as_document) {
                if let Some(bad) = stage.keys().find(|k| STAGES_OUTSIDE_VERSION_1.contains(&k.as_str())) {
                    return Err(Failure::new(
                        323,
                        version,
                        format!("stage {bad} is not allowed with 'apiStrict: true' in API Version 1"),
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use bson::doc;

    use super::*;

    fn code(name: &str, cmd: Document) -> Option<i32> {
        check(name, &cmd, ServerVersion::V5_0).err().map(|f| f.error.code)
    }

    #[test]
    fn api_parameters_are_checked() {
        assert_eq!(code("ping", doc! { "ping": 1, "apiStrict": true }), Some(322));
        assert_eq!(code("ping", doc! { "ping": 1, "apiVersion": "2" }), Some(322));
        assert_eq!(
            code("distinct", doc! { "distinct": "c", "apiVersion": "1", "apiStrict": true }),
            Some(323)
        );
        assert_eq!(code("distinct", doc! { "distinct": "c", "apiVersion": "1" }), None);
        let agg = doc! { "aggregate": 1, "pipeline": [{ "$listLocalSessions": {} }], "apiVersion": "1", "apiStrict": true };
        assert_eq!(code("aggregate", agg), Some(323));
        assert!(check("ping", &doc! { "ping": 1, "apiVersion": "9" }, ServerVersion::V4_4).is_ok());
    }
}
