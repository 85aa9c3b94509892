//! Cursor and change-stream entities of the Unified Test Format (`unified-test-format.rst`,
//! "ChangeStream" and "FindCursor" entities, `createFindCursor`, `createChangeStream` and
//! "Cursor Operations"): the statements that create them and that iterate or close them.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::model::{Entity, Operation, TestFile};
use super::support::{entity_kind, operation_timeout, options_expr, require};

/// The operations that create a cursor or change-stream entity.
const CREATORS: &[&str] = &["createFindCursor", "createChangeStream"];

/// Whether `id` names a cursor or change stream some operation of the file saves.
fn is_iterable(file: &TestFile, id: &str) -> bool {
    file.tests
        .iter()
        .flat_map(|t| t.operations.iter())
        .any(|op| CREATORS.contains(&op.name.as_str()) && op.save_result_as_entity.as_deref() == Some(id))
}

/// The statements of operation `i` when it creates, iterates or closes a cursor or change
/// stream (`Ok(None)`: another kind of operation).
pub(super) fn operation(file: &TestFile, op: &Operation, i: usize) -> Result<Option<TokenStream>, String> {
    let object = op.object.as_str();
    if is_iterable(file, object) {
        if op.arguments.as_ref().is_some_and(|a| !a.is_empty()) {
            return Err(format!("cursor operation {}: takes no arguments", op.name));
        }
        return Ok(Some(match op.name.as_str() {
            "iterateUntilDocumentOrError" => quote! {
                {
                    let result = r.iterate_until_document(#object).await;
                    r.check(#i, result);
                }
            },
            "iterateOnce" => quote! {
                {
                    let result = r.iterate_once(#object).await;
                    r.check(#i, result);
                }
            },
            "close" => quote! { r.close_iterable(#object).await; },
            other => return Err(format!("cursor operation {other} not supported by the runner")),
        }));
    }
    let has_session = op.arguments.as_ref().is_some_and(|a| a.contains_key("session"));
    match (op.name.as_str(), entity_kind(file, object)) {
        ("createFindCursor", Some(Entity::Collection(_))) => {
            require(op, &["filter"])?;
            // The session is lent for the find; the cursor keeps a handle to it for its
            // getMores (options_expr adds `.session(&mut session)`).
            let (lend, give_back) = match op.arguments.as_ref().and_then(|a| a.get("session")) {
                None => (quote! {}, quote! {}),
                Some(serde_json::Value::String(id))
                    if matches!(entity_kind(file, id), Some(Entity::Session(_))) =>
                {
                    (
                        quote! { let mut session = r.take_session(#id); },
                        quote! { r.put_session(#id, session); },
                    )
                }
                Some(other) => {
                    return Err(format!("createFindCursor: session {other} is not a session entity"));
                }
            };
            let opts = options_expr(op, "FindOptions", &["filter"], &[])?;
            Ok(Some(quote! {
                {
                    let o = r.op(#i);
                    let coll = r.collection(#object);
                    #lend
                    let result = coll.find(o.doc("filter"))#opts.await;
                    #give_back
                    r.save_cursor(#i, result);
                }
            }))
        }
        ("createChangeStream", Some(entity)) => {
            if has_session {
                return Err("createChangeStream: a session argument is not supported by the runner".into());
            }
            let target = match entity {
                Entity::Client(_) => quote! { r.client(#object) },
                Entity::Database(_) => quote! { r.database(#object) },
                Entity::Collection(_) => quote! { r.collection(#object) },
                other => return Err(format!("createChangeStream on a {} entity", other.kind())),
            };
            let setters = change_stream_options(op)?;
            // A timeoutMS argument: the stream is opened through a handle with that timeout.
            let target = match operation_timeout(file, op) {
                Some(ms) => quote! { #target.with_timeout(::std::time::Duration::from_millis(#ms)) },
                None => target,
            };
            Ok(Some(quote! {
                {
                    let o = r.op(#i);
                    let target = #target;
                    let result = target.watch().pipeline(o.docs("pipeline")) #(#setters)* .await;
                    r.save_change_stream(#i, result);
                }
            }))
        }
        ("createFindCursor", _) => Err("createFindCursor: the object is not a collection entity".into()),
        _ => Ok(None),
    }
}

/// The `watch` setters for a `createChangeStream`'s options (`pipeline` is required).
fn change_stream_options(op: &Operation) -> Result<Vec<TokenStream>, String> {
    if !op.arguments.as_ref().is_some_and(|a| a.contains_key("pipeline")) {
        return Err("createChangeStream: missing argument `pipeline`".into());
    }
    let mut setters = Vec::new();
    for key in op.arguments.iter().flat_map(|a| a.keys()) {
        let (setter, value) = match key.as_str() {
            "pipeline" | "timeoutMS" => continue,
            "batchSize" => ("batch_size", quote! { o.i32(#key) }),
            "fullDocument" => ("full_document", quote! { o.string(#key) }),
            "fullDocumentBeforeChange" => ("full_document_before_change", quote! { o.string(#key) }),
            "resumeAfter" => ("resume_after", quote! { o.doc(#key) }),
            "startAfter" => ("start_after", quote! { o.doc(#key) }),
            "startAtOperationTime" => (
                "start_at_operation_time",
                quote! { ::conformance::unified::cursor_entities::timestamp(&o.bson(#key)) },
            ),
            "showExpandedEvents" => ("show_expanded_events", quote! { o.bool(#key) }),
            "maxAwaitTimeMS" => ("max_await_time", quote! { o.millis(#key) }),
            "collation" => ("collation", quote! { o.doc(#key) }),
            "comment" => ("comment", quote! { o.bson(#key) }),
            other => {
                return Err(format!("createChangeStream: argument `{other}` not supported by the runner"));
            }
        };
        let setter = format_ident!("{}", setter);
        setters.push(quote! { .#setter(#value) });
    }
    Ok(setters)
}

#[cfg(test)]
mod tests {

    use crate::Status;
    use crate::unified::test_support::{assert_emits, collection_file, emitted};

    fn file(stream_args: &str) -> super::TestFile {
        collection_file(&format!(
            r#"[
                {{"name": "createFindCursor", "object": "coll", "arguments": {{"filter": {{}}, "batchSize": 2}}, "saveResultAsEntity": "cur"}},
                {{"name": "iterateUntilDocumentOrError", "object": "cur", "expectResult": {{"_id": 1}}}},
                {{"name": "iterateOnce", "object": "cur"}},
                {{"name": "close", "object": "cur"}},
                {{"name": "createChangeStream", "object": "c", "arguments": {stream_args}, "saveResultAsEntity": "cs"}},
                {{"name": "iterateUntilDocumentOrError", "object": "cs"}}
            ]"#
        ))
    }

    #[test]
    fn cursor_and_change_stream_operations_are_emitted() {
        let f = file(r#"{"pipeline": [], "batchSize": 1, "fullDocument": "updateLookup"}"#);
        assert_emits(
            &f,
            &[
                "save_cursor (0usize , result)",
                "iterate_until_document (\"cur\")",
                "iterate_once (\"cur\")",
                "close_iterable (\"cur\")",
                "r . client (\"c\")",
                ". watch () . pipeline (o . docs (\"pipeline\"))",
                ". batch_size (o . i32 (\"batchSize\"))",
                ". full_document (o . string (\"fullDocument\"))",
                "save_change_stream (4usize , result)",
                "iterate_until_document (\"cs\")",
            ],
        );
        // An option the runner cannot pass makes the case ignored, naming the option.
        let f = file(r#"{"pipeline": [], "unknownOption": 1}"#);
        let (status, _) = emitted(&f);
        assert!(matches!(&status, Status::Ignored(r) if r.contains("unknownOption")), "{status:?}");
    }
}
