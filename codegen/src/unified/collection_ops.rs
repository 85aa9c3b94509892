//! Collection operations of the unified runner (CRUD spec: `insertOne`, `find`,
//! `aggregate`, `bulkWrite`, `findOneAnd*`, `rename`, …; index operations in
//! [`super::index_ops`]): the driver call each makes.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::model::Operation;
use super::support::{collect, options_expr, require};

/// The call of collection operation `op` on `coll`, its options read from `o`.
pub(super) fn collection_operation(op: &Operation) -> Result<TokenStream, String> {
    let name = op.name.as_str();
    Ok(match name {
        "insertOne" => {
            require(op, &["document"])?;
            let opts = options_expr(op, "InsertOneOptions", &["document"], &[])?;
            quote! { coll.insert_one(o.doc("document"))#opts.await.map(|v| R::insert_one(&v)) }
        }
        "insertMany" => {
            require(op, &["documents"])?;
            let opts = options_expr(op, "InsertManyOptions", &["documents"], &[])?;
            quote! { coll.insert_many(o.docs("documents"))#opts.await.map(|v| R::insert_many(&v)) }
        }
        "updateOne" | "updateMany" => {
            require(op, &["filter", "update"])?;
            let opts = options_expr(op, "UpdateOptions", &["filter", "update"], &[])?;
            let method = format_ident!("{}", if name == "updateOne" { "update_one" } else { "update_many" });
            quote! { coll.#method(o.doc("filter"), o.update("update"))#opts.await.map(|v| R::update(&v)) }
        }
        "replaceOne" => {
            require(op, &["filter", "replacement"])?;
            let opts = options_expr(op, "ReplaceOptions", &["filter", "replacement"], &[])?;
            quote! { coll.replace_one(o.doc("filter"), o.doc("replacement"))#opts.await.map(|v| R::update(&v)) }
        }
        "deleteOne" | "deleteMany" => {
            require(op, &["filter"])?;
            let opts = options_expr(op, "DeleteOptions", &["filter"], &[])?;
            let method = format_ident!("{}", if name == "deleteOne" { "delete_one" } else { "delete_many" });
            quote! { coll.#method(o.doc("filter"))#opts.await.map(|v| R::delete(&v)) }
        }
        "find" => {
            let opts = options_expr(op, "FindOptions", &["filter"], &[])?;
            collect(quote! { coll.find(o.doc_or_empty("filter"))#opts })
        }
        "aggregate" => {
            require(op, &["pipeline"])?;
            let opts = options_expr(op, "AggregateOptions", &["pipeline"], &[])?;
            collect(quote! { coll.aggregate(o.docs("pipeline"))#opts })
        }
        // The CRUD spec's `findOne` (legacy formats): the first matching document or null.
        "findOne" => {
            let opts = options_expr(op, "FindOptions", &["filter"], &[])?;
            quote! { coll.find_one(o.doc_or_empty("filter"))#opts.await.map(R::optional_document) }
        }
        "distinct" => {
            require(op, &["fieldName", "filter"])?;
            let opts = options_expr(op, "DistinctOptions", &["fieldName", "filter"], &[])?;
            quote! { coll.distinct(&o.string("fieldName"), o.doc("filter"))#opts.await.map(R::values) }
        }
        "countDocuments" => {
            require(op, &["filter"])?;
            let opts = options_expr(op, "CountOptions", &["filter"], &[])?;
            quote! { coll.count_documents(o.doc("filter"))#opts.await.map(R::count) }
        }
        // The deprecated `count` helper (CRUD spec "Count API Details"), kept by the driver
        // as `Collection::count`.
        "count" => {
            require(op, &["filter"])?;
            let opts = options_expr(op, "CountOptions", &["filter"], &[])?;
            quote! { coll.count(o.doc("filter"))#opts.await.map(R::count) }
        }
        "estimatedDocumentCount" => {
            let opts = options_expr(op, "EstimatedDocumentCountOptions", &[], &[])?;
            quote! { coll.estimated_document_count()#opts.await.map(R::count) }
        }
        "findOneAndUpdate" | "findOneAndReplace" | "findOneAndDelete" => {
            let (second, call) = match name {
                "findOneAndUpdate" => {
                    ("update", quote! { find_one_and_update(o.doc("filter"), o.update("update")) })
                }
                "findOneAndReplace" => {
                    ("replacement", quote! { find_one_and_replace(o.doc("filter"), o.doc("replacement")) })
                }
                _ => ("filter", quote! { find_one_and_delete(o.doc("filter")) }),
            };
            require(op, &["filter", second])?;
            let return_document = if name == "findOneAndDelete" {
                Vec::new()
            } else {
                vec![(
                    "returnDocument",
                    quote! { .return_document_after(o.return_document_after("returnDocument")) },
                )]
            };
            let opts = options_expr(op, "FindOneAndModifyOptions", &["filter", second], &return_document)?;
            quote! { coll.#call #opts.await.map(R::optional_document) }
        }
        "rename" => {
            require(op, &["to"])?;
            let mut drop_target = quote! {};
            for key in op.arguments.iter().flat_map(|a| a.keys()) {
                match key.as_str() {
                    "to" => {}
                    "dropTarget" => drop_target = quote! { .drop_target(o.bool("dropTarget")) },
                    other => {
                        return Err(format!(
                            "operation rename: argument `{other}` not supported by the runner"
                        ));
                    }
                }
            }
            quote! { coll.rename(&o.string("to"))#drop_target.await.map(|()| ::bson::Bson::Null) }
        }
        "bulkWrite" => {
            require(op, &["requests"])?;
            check_write_models(op)?;
            let opts = options_expr(op, "BulkWriteOptions", &["requests"], &[])?;
            quote! { coll.bulk_write(o.write_models("requests"))#opts.await.map(|v| R::bulk_write(&v)) }
        }
        other => match super::index_ops::collection_operation(op) {
            Some(call) => call?,
            None => return Err(format!("operation {other} not supported by the runner")),
        },
    })
}

/// The write models and fields the driver's `WriteModel` can express (CRUD spec "Write
/// Models").
fn check_write_models(op: &Operation) -> Result<(), String> {
    let requests = op.arguments.as_ref().and_then(|a| a.get("requests")).and_then(|r| r.as_array());
    for request in requests.into_iter().flatten() {
        let Some(model) = request.as_object() else { continue };
        for (kind, fields) in model {
            let allowed: &[&str] = match kind.as_str() {
                "insertOne" => &["document"],
                "updateOne" | "updateMany" => {
                    &["filter", "update", "upsert", "arrayFilters", "collation", "hint"]
                }
                "replaceOne" => &["filter", "replacement", "upsert", "collation", "hint"],
                "deleteOne" | "deleteMany" => &["filter", "collation", "hint"],
                other => return Err(format!("bulkWrite: write model {other} unknown")),
            };
            for key in fields.as_object().into_iter().flat_map(|f| f.keys()) {
                if !allowed.contains(&key.as_str()) {
                    return Err(format!(
                        "bulkWrite: {kind} field `{key}` not supported by the driver's WriteModel"
                    ));
                }
            }
        }
    }
    Ok(())
}
