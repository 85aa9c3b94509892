//! Database operations of the unified runner (`runCommand`, `aggregate`,
//! `createCollection`, `dropCollection`, `listCollections`, `modifyCollection`, …): the
//! driver call each makes.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::model::Operation;
use super::support::{collect, names, options_expr, require};

/// The call of database operation `op` on `db`, its options read from `o`.
pub(super) fn database_operation(op: &Operation) -> Result<TokenStream, String> {
    let name = op.name.as_str();
    let session = match op.arguments.as_ref().is_some_and(|a| a.contains_key("session")) {
        true => quote! { .session(&mut session) },
        false => quote! {},
    };
    let no_other = |positional: &[&str]| -> Result<(), String> {
        for key in op.arguments.iter().flat_map(|a| a.keys()) {
            if !positional.contains(&key.as_str()) && key != "session" {
                return Err(format!("operation {name}: argument `{key}` not supported by the runner"));
            }
        }
        Ok(())
    };
    Ok(match name {
        "runCommand" => {
            require(op, &["command", "commandName"])?;
            no_other(&["command", "commandName", "readPreference"])?;
            let rp = match op.arguments.as_ref().is_some_and(|a| a.contains_key("readPreference")) {
                true => quote! { .selection_criteria(o.read_preference("readPreference")) },
                false => quote! {},
            };
            quote! { db.run_command(o.doc("command"))#rp #session.await.map(::bson::Bson::Document) }
        }
        "aggregate" => {
            require(op, &["pipeline"])?;
            let opts = options_expr(op, "AggregateOptions", &["pipeline"], &[])?;
            collect(quote! { db.aggregate(o.docs("pipeline"))#opts })
        }
        "createCollection" => {
            require(op, &["collection"])?;
            let mut setters = Vec::new();
            for key in op.arguments.iter().flat_map(|a| a.keys()) {
                let (setter, method) = match key.as_str() {
                    "collection" => continue,
                    "session" => continue,
                    "viewOn" => ("view_on", quote! { string }),
                    "pipeline" => ("pipeline", quote! { docs }),
                    "capped" => ("capped", quote! { bool }),
                    "size" => ("size", quote! { i64 }),
                    "max" => ("max", quote! { i64 }),
                    "validator" => ("validator", quote! { doc }),
                    "validationLevel" => ("validation_level", quote! { string }),
                    "validationAction" => ("validation_action", quote! { string }),
                    "collation" => ("collation", quote! { doc }),
                    "timeseries" => ("timeseries", quote! { doc }),
                    "expireAfterSeconds" => ("expire_after_seconds", quote! { i64 }),
                    "clusteredIndex" => ("clustered_index", quote! { doc }),
                    "changeStreamPreAndPostImages" => ("change_stream_pre_and_post_images", quote! { doc }),
                    other => {
                        return Err(format!(
                            "operation {name}: argument `{other}` not supported by the runner"
                        ));
                    }
                };
                let setter = format_ident!("{}", setter);
                setters.push(quote! { .#setter(o.#method(#key)) });
            }
            quote! {
                db.create_collection(&o.string("collection"))
                    .with_options(::mongo_driver::options::CreateCollectionOptions::default() #(#setters)*)
                    #session
                    .await
                    .map(|_| ::bson::Bson::Null)
            }
        }
        "dropCollection" => {
            require(op, &["collection"])?;
            no_other(&["collection"])?;
            if op.arguments.as_ref().is_some_and(|a| a.contains_key("session")) {
                return Err(format!(
                    "operation {name}: a session on dropCollection not supported by the runner"
                ));
            }
            quote! { db.collection::<::bson::Document>(&o.string("collection")).drop().await.map(|_| ::bson::Bson::Null) }
        }
        "listCollectionNames" => {
            no_other(&["filter"])?;
            let names = names();
            quote! { db.list_collection_names().filter(o.doc_or_empty("filter"))#session.await #names }
        }
        // `listCollectionObjects`: the same command, for drivers whose `listCollections`
        // returns another type (retryable reads spec).
        "listCollections" | "listCollectionObjects" => super::index_ops::list_collections(op)?,
        "modifyCollection" => {
            // The driver has no collMod helper: the runner sends the command (collection
            // management spec; the server checks the options).
            require(op, &["collection"])?;
            let keys: Vec<&str> = op
                .arguments
                .iter()
                .flat_map(|a| a.keys())
                .map(String::as_str)
                .filter(|k| !matches!(*k, "collection" | "session"))
                .collect();
            quote! {
                {
                    let mut command = ::bson::doc! { "collMod": o.string("collection") };
                    #( command.insert(#keys, o.bson(#keys)); )*
                    db.run_command(command) #session .await.map(|_| ::bson::Bson::Null)
                }
            }
        }
        other => return Err(format!("database operation {other} not supported by the runner")),
    })
}
