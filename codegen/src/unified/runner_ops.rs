//! Emitters for the test runner's own operations (`unified-test-format.rst` "Special
//! Test Operations"): `createEntities`, `assertCollectionExists`/`NotExists`,
//! `assertIndexExists`/`NotExists`. Each becomes
//! one call of the runtime runner, which reads the operation's arguments itself.

use proc_macro2::TokenStream;
use quote::quote;

use super::model::Operation;
use super::support::require;

/// The runner call of test runner operation `i`, `None` for names handled elsewhere.
pub fn test_runner_operation(op: &Operation, i: usize) -> Option<Result<TokenStream, String>> {
    let result = match op.name.as_str() {
        "createEntities" => require(op, &["entities"]).map(|_| quote! { r.create_entities_op(#i).await; }),
        "assertCollectionExists" | "assertCollectionNotExists" => {
            let exists = op.name == "assertCollectionExists";
            require(op, &["databaseName", "collectionName"])
                .map(|_| quote! { r.assert_collection_exists(#i, #exists).await; })
        }
        "assertIndexExists" | "assertIndexNotExists" => {
            let exists = op.name == "assertIndexExists";
            require(op, &["databaseName", "collectionName", "indexName"])
                .map(|_| quote! { r.assert_index_exists(#i, #exists).await; })
        }
        _ => return None,
    };
    Some(result)
}
