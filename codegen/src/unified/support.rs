//! Helpers every unified operation emitter shares (`unified-test-format.rst`, "Executing an
//! Operation"): an operation's place in the test, its required arguments, the options
//! types its optional arguments fill, the entity an id names, and the shape of a result.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::model::{Entity, Operation, TestFile};

/// An argument's conversion: the runner's accessor for it.
#[derive(Clone, Copy)]
enum Conv {
    Doc,
    Bson,
    Bool,
    I64,
    I32,
    Millis,
    Hint,
    Docs,
}

fn conv_method(c: Conv) -> TokenStream {
    match c {
        Conv::Doc => quote! { doc },
        Conv::Bson => quote! { bson },
        Conv::Bool => quote! { bool },
        Conv::I64 => quote! { i64 },
        Conv::I32 => quote! { i32 },
        Conv::Millis => quote! { millis },
        Conv::Hint => quote! { hint },
        Conv::Docs => quote! { docs },
    }
}

/// Spec option name → (setter, conversion).
fn option(key: &str) -> Option<(&'static str, Conv)> {
    Some(match key {
        "sort" => ("sort", Conv::Doc),
        "projection" => ("projection", Conv::Doc),
        "skip" => ("skip", Conv::I64),
        "limit" => ("limit", Conv::I64),
        "batchSize" => ("batch_size", Conv::I32),
        "comment" => ("comment", Conv::Bson),
        "hint" => ("hint", Conv::Hint),
        "allowDiskUse" => ("allow_disk_use", Conv::Bool),
        "allowPartialResults" => ("allow_partial_results", Conv::Bool),
        "collation" => ("collation", Conv::Doc),
        "let" => ("let_vars", Conv::Doc),
        "maxTimeMS" => ("max_time", Conv::Millis),
        "min" => ("min", Conv::Doc),
        "max" => ("max", Conv::Doc),
        "returnKey" => ("return_key", Conv::Bool),
        "showRecordId" => ("show_record_id", Conv::Bool),
        "noCursorTimeout" => ("no_cursor_timeout", Conv::Bool),
        "bypassDocumentValidation" => ("bypass_document_validation", Conv::Bool),
        "ordered" => ("ordered", Conv::Bool),
        "upsert" => ("upsert", Conv::Bool),
        "arrayFilters" => ("array_filters", Conv::Docs),
        _ => return None,
    })
}

/// The option keys each options type accepts.
fn options_of(ty: &str) -> &'static [&'static str] {
    match ty {
        "FindOptions" => &[
            "sort",
            "projection",
            "skip",
            "limit",
            "batchSize",
            "comment",
            "hint",
            "allowDiskUse",
            "allowPartialResults",
            "collation",
            "let",
            "maxTimeMS",
            "min",
            "max",
            "returnKey",
            "showRecordId",
            "noCursorTimeout",
        ],
        "InsertOneOptions" => &["bypassDocumentValidation", "comment"],
        "InsertManyOptions" => &["bypassDocumentValidation", "comment", "ordered"],
        "UpdateOptions" => {
            &["arrayFilters", "bypassDocumentValidation", "collation", "hint", "upsert", "let", "comment"]
        }
        "ReplaceOptions" => &["bypassDocumentValidation", "collation", "hint", "upsert", "let", "comment"],
        "DeleteOptions" => &["collation", "hint", "let", "comment"],
        "FindOneAndModifyOptions" => &[
            "arrayFilters",
            "bypassDocumentValidation",
            "collation",
            "hint",
            "maxTimeMS",
            "projection",
            "sort",
            "upsert",
            "let",
            "comment",
        ],
        "AggregateOptions" => &[
            "allowDiskUse",
            "batchSize",
            "bypassDocumentValidation",
            "collation",
            "comment",
            "hint",
            "let",
            "maxTimeMS",
        ],
        "DistinctOptions" => &["collation", "comment", "maxTimeMS"],
        "CountOptions" => &["collation", "comment", "hint", "limit", "maxTimeMS", "skip"],
        "EstimatedDocumentCountOptions" => &["comment", "maxTimeMS"],
        "BulkWriteOptions" => &["bypassDocumentValidation", "ordered", "let", "comment"],
        _ => &[],
    }
}

/// Builds `OptionsType::default().setter(o.conv("key"))…` for the operation's optional
/// arguments; `positional` are consumed by the call itself. Any other argument is an error.
pub(super) fn options_expr(
    op: &Operation,
    ty: &str,
    positional: &[&str],
    extra: &[(&str, TokenStream)],
) -> Result<TokenStream, String> {
    let ty_ident = format_ident!("{}", if ty == "ReplaceOptions" { "UpdateOptions" } else { ty });
    let allowed = options_of(ty);
    let mut setters = Vec::new();
    let mut session = quote! {};
    for key in op.arguments.iter().flat_map(|a| a.keys()) {
        if positional.contains(&key.as_str()) {
            continue;
        }
        if let Some((_, tokens)) = extra.iter().find(|(k, _)| *k == key) {
            setters.push(tokens.clone());
            continue;
        }
        if key == "session" {
            session = quote! { .session(&mut session) };
            continue;
        }
        match option(key) {
            Some((setter, conv)) if allowed.contains(&key.as_str()) => {
                let setter = format_ident!("{}", setter);
                let method = conv_method(conv);
                setters.push(quote! { .#setter(o.#method(#key)) });
            }
            _ => return Err(format!("operation {}: argument `{key}` not supported by the runner", op.name)),
        }
    }
    if matches!(ty, "DistinctOptions" | "CountOptions" | "EstimatedDocumentCountOptions") {
        // These actions take their options through setters only.
        return Ok(quote! { #(#setters)* #session });
    }
    Ok(quote! { .with_options(::mongo_driver::options::#ty_ident::default() #(#setters)*) #session })
}

/// Requires the positional arguments.
pub(super) fn require(op: &Operation, keys: &[&str]) -> Result<(), String> {
    for key in keys {
        if !op.arguments.as_ref().is_some_and(|a| a.contains_key(*key)) {
            return Err(format!("operation {}: missing argument `{key}`", op.name));
        }
    }
    Ok(())
}

/// The kind of entity `id` names in the file.
pub(super) fn entity_kind<'a>(file: &'a TestFile, id: &str) -> Option<&'a Entity> {
    file.create_entities.iter().flat_map(|e| e.iter()).find(|e| e.id() == id)
}

/// Where an operation sits: in the test's `operations`, or in the callback of a
/// `withTransaction` (whose session the callback receives as `txn_session`).
pub(super) enum At<'a> {
    /// Operation `i` of the test.
    Top(usize),
    /// Operation `j` of the callback of operation `i`, a `withTransaction` on `session`.
    Callback {
        /// The `withTransaction` operation.
        i: usize,
        /// The operation within its callback.
        j: usize,
        /// The session entity the transaction runs in.
        session: &'a str,
    },
}

/// The emitter of one operation at a place (the dispatcher [`super::operations::operation_at`]),
/// handed to the emitters of operations that hold nested operations (a `withTransaction`
/// callback) so that they need not import the dispatcher.
pub(super) type Dispatch = fn(&TestFile, &Operation, &At<'_>) -> Result<TokenStream, String>;

/// The `timeoutMS` argument of an operation the runner applies through its handle: a
/// client, database or collection operation that opens no find or command cursor the
/// runner keeps (whose later `getMore`s would need the cursor timeout modes; a change
/// stream's aggregate takes it), with an integer `timeoutMS`.
pub(super) fn operation_timeout(file: &TestFile, op: &Operation) -> Option<u64> {
    let ms = op.arguments.as_ref()?.get("timeoutMS")?.as_u64()?;
    let handle = matches!(
        entity_kind(file, &op.object),
        Some(Entity::Collection(_) | Entity::Database(_) | Entity::Client(_))
    );
    let cursor = matches!(op.name.as_str(), "createFindCursor" | "createCommandCursor");
    let mode = op.arguments.as_ref().is_some_and(|a| a.contains_key("timeoutMode"));
    (handle && !cursor && !mode).then_some(ms)
}

/// A cursor-returning call, collected into an array of documents.
pub(super) fn collect(call: TokenStream) -> TokenStream {
    quote! {
        match #call.await {
            Ok(cursor) => ::futures::TryStreamExt::try_collect::<::std::vec::Vec<::bson::Document>>(cursor)
                .await
                .map(R::documents),
            Err(e) => Err(e),
        }
    }
}

/// Maps a list of names to an array of strings.
pub(super) fn names() -> TokenStream {
    quote! { .map(|names| ::bson::Bson::Array(names.into_iter().map(::bson::Bson::String).collect())) }
}
