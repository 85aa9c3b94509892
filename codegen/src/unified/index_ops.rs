//! Emitters for the enumeration and index operations of the Unified Test Format
//! (`unified-test-format.rst` "Client Operations" `listDatabases`/`listDatabaseNames`,
//! "Database Operations" `listCollections`/`listCollectionNames`, "Collection Operations"
//! `listIndexes`/`listIndexNames`/`createIndex`/`dropIndex`/`dropIndexes`): each becomes a
//! call of the driver's public API whose result the runner checks.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::model::Operation;
use super::support::{collect, names, require};

/// `.session(&mut session)` when the operation names a session.
fn session(op: &Operation) -> TokenStream {
    match op.arguments.as_ref().is_some_and(|a| a.contains_key("session")) {
        true => quote! { .session(&mut session) },
        false => quote! {},
    }
}

/// Setters for the optional arguments `allowed` lists (`(spec name, setter, accessor)`);
/// any other argument but `session` and `positional` ones is an error.
fn setters(
    op: &Operation,
    positional: &[&str],
    allowed: &[(&str, &str, &str)],
) -> Result<TokenStream, String> {
    let mut out = Vec::new();
    for key in op.arguments.iter().flat_map(|a| a.keys()) {
        if key == "session" || positional.contains(&key.as_str()) {
            continue;
        }
        let Some((_, setter, conv)) = allowed.iter().find(|(k, _, _)| k == key) else {
            return Err(format!("operation {}: argument `{key}` not supported by the runner", op.name));
        };
        let setter = format_ident!("{}", setter);
        let conv = format_ident!("{}", conv);
        out.push(quote! { .#setter(o.#conv(#key)) });
    }
    Ok(quote! { #(#out)* })
}

/// Operations on a client entity (the generated code binds it as `client`).
pub fn client_operation(op: &Operation) -> Result<TokenStream, String> {
    if !matches!(op.name.as_str(), "listDatabases" | "listDatabaseObjects" | "listDatabaseNames") {
        return Err(format!("operation {} on a client entity", op.name));
    }
    let allowed = [("filter", "filter", "doc"), ("authorizedDatabases", "authorized_databases", "bool")];
    let opts = setters(op, &[], &allowed)?;
    let session = session(op);
    let names = names();
    Ok(match op.name.as_str() {
        // `listDatabaseObjects` is the same command for drivers whose `listDatabases` returns
        // another type (retryable reads spec); this driver returns the documents for both.
        "listDatabases" | "listDatabaseObjects" => {
            quote! { client.list_databases()#opts #session.await.map(R::documents) }
        }
        "listDatabaseNames" => quote! { client.list_database_names()#opts #session.await #names },
        other => return Err(format!("client operation {other} not supported by the runner")),
    })
}

/// `listCollections` on a database entity (bound as `db`).
pub fn list_collections(op: &Operation) -> Result<TokenStream, String> {
    let allowed = [
        ("filter", "filter", "doc"),
        ("batchSize", "batch_size", "i32"),
        ("nameOnly", "name_only", "bool"),
        ("authorizedCollections", "authorized_collections", "bool"),
    ];
    let opts = setters(op, &[], &allowed)?;
    let session = session(op);
    Ok(collect(quote! { db.list_collections()#opts #session }))
}

/// Index operations on a collection entity (bound as `coll`), `None` for other names.
pub fn collection_operation(op: &Operation) -> Option<Result<TokenStream, String>> {
    let session = session(op);
    let names = names();
    let result = match op.name.as_str() {
        "listIndexes" => setters(op, &[], &[("batchSize", "batch_size", "i32")])
            .map(|opts| collect(quote! { coll.list_indexes()#opts #session })),
        "listIndexNames" => {
            setters(op, &[], &[]).map(|_| quote! { coll.list_index_names()#session.await #names })
        }
        "createIndex" => create_index(op, &session),
        "dropIndex" => require(op, &["name"]).and_then(|_| {
            setters(op, &["name"], &[("maxTimeMS", "max_time", "millis")]).map(|opts| {
                quote! { coll.drop_index(o.string("name"))#opts #session.await.map(|_| ::bson::Bson::Null) }
            })
        }),
        "dropIndexes" => setters(op, &[], &[("maxTimeMS", "max_time", "millis")])
            .map(|opts| quote! { coll.drop_indexes()#opts #session.await.map(|_| ::bson::Bson::Null) }),
        _ => return None,
    };
    Some(result)
}

/// `createIndex`: `keys` plus index options as top-level arguments; the result is the
/// index's name.
fn create_index(op: &Operation, session: &TokenStream) -> Result<TokenStream, String> {
    require(op, &["keys"])?;
    let mut index_options = Vec::new();
    let mut action_options = Vec::new();
    for key in op.arguments.iter().flat_map(|a| a.keys()) {
        let tokens = match key.as_str() {
            "keys" | "session" => continue,
            "name" => quote! { .name(o.string("name")) },
            "unique" => quote! { .unique(o.bool("unique")) },
            "sparse" => quote! { .sparse(o.bool("sparse")) },
            "hidden" => quote! { .hidden(o.bool("hidden")) },
            "expireAfterSeconds" => {
                quote! { .expire_after(::std::time::Duration::from_secs(o.i64("expireAfterSeconds").max(0) as u64)) }
            }
            "partialFilterExpression" => {
                quote! { .partial_filter_expression(o.doc("partialFilterExpression")) }
            }
            "maxTimeMS" => {
                action_options.push(quote! { .max_time(o.millis("maxTimeMS")) });
                continue;
            }
            "commitQuorum" => {
                action_options.push(quote! { .commit_quorum(o.bson("commitQuorum")) });
                continue;
            }
            other => {
                return Err(format!("operation {}: argument `{other}` not supported by the runner", op.name));
            }
        };
        index_options.push(tokens);
    }
    Ok(quote! {
        coll.create_index(
            ::mongo_driver::index_management::IndexModel::new(o.doc("keys"))
                .options(::mongo_driver::index_management::IndexOptions::default() #(#index_options)*),
        )
        #(#action_options)*
        #session
        .await
        .map(|r| ::bson::Bson::String(r.index_name))
    })
}

#[cfg(test)]
mod tests {

    use crate::Status;
    use crate::unified::test_support;

    fn emitted(operations: &str) -> (Status, String) {
        test_support::emitted(&test_support::collection_file(operations))
    }

    #[test]
    fn listing_and_index_operations_are_emitted() {
        let (status, body) = emitted(
            r#"[
            {"name": "listDatabaseNames", "object": "c", "arguments": {"filter": {"name": "d"}}},
            {"name": "listCollections", "object": "db", "arguments": {"batchSize": 2}},
            {"name": "createIndex", "object": "coll", "arguments": {"keys": {"x": 1}, "name": "x_1"}},
            {"name": "listIndexNames", "object": "coll"},
            {"name": "dropIndex", "object": "coll", "arguments": {"name": "x_1"}},
            {"name": "assertIndexNotExists", "object": "testRunner",
             "arguments": {"databaseName": "d", "collectionName": "x", "indexName": "x_1"}}
        ]"#,
        );
        assert!(matches!(status, Status::Run), "{status:?}");
        for call in [
            "let client = r . client (\"c\")",
            "client . list_database_names () . filter (o . doc (\"filter\"))",
            "db . list_collections () . batch_size (o . i32 (\"batchSize\"))",
            "coll . create_index",
            ". name (o . string (\"name\"))",
            "coll . list_index_names ()",
            "coll . drop_index (o . string (\"name\"))",
            "r . assert_index_exists (5usize , false) . await",
        ] {
            assert!(body.contains(call), "{call} missing from {body}");
        }
    }

    #[test]
    fn entities_of_create_entities_are_known_to_later_operations() {
        let (status, body) = emitted(
            r#"[
            {"name": "createEntities", "object": "testRunner", "arguments": {"entities": [
                {"client": {"id": "c2"}},
                {"database": {"id": "db2", "client": "c2", "databaseName": "d"}}
            ]}},
            {"name": "listCollectionNames", "object": "db2"}
        ]"#,
        );
        assert!(matches!(status, Status::Run), "{status:?}");
        assert!(body.contains("r . create_entities_op (0usize) . await"), "{body}");
        assert!(body.contains("let db = r . database (\"db2\")"), "{body}");
        // An argument the driver's API cannot take leaves the case ignored, with the reason.
        let (status, _) =
            emitted(r#"[{"name": "listIndexes", "object": "coll", "arguments": {"bogus": 1}}]"#);
        assert!(matches!(&status, Status::Ignored(r) if r.contains("argument `bogus`")), "{status:?}");
    }
}
