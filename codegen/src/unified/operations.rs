//! The unified runner's operation dispatcher (`unified-test-format.rst`, "Executing an
//! Operation"): each operation goes to the emitter of its object's entity kind (collection,
//! database, client, bucket, session, cursor) or of the special test operations.

use proc_macro2::TokenStream;
use quote::quote;

use super::model::{Entity, Operation, TestFile};
use super::support::{At, entity_kind, operation_timeout, require};

/// The statements of operation `i`: the API call, then the runner's check of its outcome.
pub(super) fn operation(file: &TestFile, op: &Operation, i: usize) -> Result<TokenStream, String> {
    operation_at(file, op, &At::Top(i))
}

/// The statements of an operation at `at` (see [`operation`]).
pub(super) fn operation_at(file: &TestFile, op: &Operation, at: &At<'_>) -> Result<TokenStream, String> {
    let object = op.object.as_str();
    let i = match *at {
        At::Top(i) => i,
        // The callback ends or restarts the transaction of its own session.
        At::Callback { i, j, session } if object == session => {
            return super::transactions::callback_session_operation(op, i, j);
        }
        At::Callback { .. }
            if object == "testRunner" || matches!(entity_kind(file, object), Some(Entity::Session(_))) =>
        {
            return Err(format!(
                "operation {} inside a withTransaction callback not supported by the runner",
                op.name
            ));
        }
        At::Callback { i, .. } => i,
    };
    // createFindCursor takes find's arguments, whose `filter` is required (CRUD spec `find`).
    if op.name == "createFindCursor" {
        require(op, &["filter"])?;
    }
    if object == "testRunner" {
        return test_runner_operation(file, op, i);
    }
    if let Some(tokens) = super::cursors::operation(file, op, i)? {
        return Ok(tokens);
    }
    // An operation's own timeoutMS: the operation runs through a handle with that timeout
    // (the same inheritance: the operation's value overrides the handle's).
    let timeout = operation_timeout(file, op);
    let stripped;
    let op = match timeout {
        Some(_) => {
            let mut copy = op.clone();
            if let Some(arguments) = copy.arguments.as_mut() {
                arguments.remove("timeoutMS");
            }
            stripped = copy;
            &stripped
        }
        None => op,
    };
    let with_timeout = match timeout {
        Some(ms) => quote! { .with_timeout(::std::time::Duration::from_millis(#ms)) },
        None => quote! {},
    };
    let call = match entity_kind(file, object) {
        Some(Entity::Session(_)) => return super::transactions::session_operation(file, op, i, operation_at),
        Some(Entity::Collection(_)) => super::collection_ops::collection_operation(op)?,
        Some(Entity::Database(_)) => super::database_ops::database_operation(op)?,
        Some(Entity::Bucket(_)) => super::bucket::bucket_operation(op)?,
        Some(Entity::Client(_)) => super::index_ops::client_operation(op)?,
        Some(other) => return Err(format!("operation {} on a {} entity", op.name, other.kind())),
        None => return Err(format!("operation {}: object `{object}` is not an entity", op.name)),
    };
    let entity = match entity_kind(file, object) {
        Some(Entity::Collection(_)) => quote! { let coll = r.collection(#object)#with_timeout; },
        Some(Entity::Bucket(_)) => quote! { let bucket = r.bucket(#object); },
        Some(Entity::Client(_)) => quote! { let client = r.client(#object)#with_timeout; },
        _ => quote! { let db = r.database(#object)#with_timeout; },
    };
    let session = op.arguments.as_ref().and_then(|a| a.get("session"));
    let (lend, give_back) = match session {
        None => (quote! {}, quote! {}),
        Some(serde_json::Value::String(id)) => {
            if entity_kind(file, id).is_none_or(|e| !matches!(e, Entity::Session(_))) {
                return Err(format!("operation {}: `{id}` is not a session entity", op.name));
            }
            match at {
                // The transaction's own session is the callback's argument.
                At::Callback { session, .. } if session == id => {
                    (quote! { let mut session = &mut *txn_session; }, quote! {})
                }
                _ => (
                    quote! { let mut session = r.take_session(#id); },
                    quote! { r.put_session(#id, session); },
                ),
            }
        }
        Some(other) => {
            return Err(format!("operation {}: session argument {other} is not an entity id", op.name));
        }
    };
    let (args, check) = match *at {
        At::Top(i) => (quote! { r.op(#i) }, quote! { r.check(#i, result); }),
        // In a callback, the error goes back to withTransaction once checked.
        At::Callback { i, j, .. } => {
            (quote! { r.callback_op(#i, #j) }, quote! { r.check_in_callback(#i, #j, result)?; })
        }
    };
    Ok(quote! {
        {
            let o = #args;
            #entity
            #lend
            let result: ::std::result::Result<::bson::Bson, ::mongo_driver::error::Error> = async { #call }.await;
            #give_back
            #check
        }
    })
}

fn test_runner_operation(file: &TestFile, op: &Operation, i: usize) -> Result<TokenStream, String> {
    match op.name.as_str() {
        "failPoint" => {
            require(op, &["client", "failPoint"])?;
            Ok(quote! { r.fail_point(#i).await; })
        }
        "assertSessionDirty" | "assertSessionNotDirty" => {
            require(op, &["session"])?;
            let dirty = op.name == "assertSessionDirty";
            Ok(quote! { r.assert_session_dirty(#i, #dirty); })
        }
        "assertNumberConnectionsCheckedOut" => {
            require(op, &["client"])?;
            let client = op.arguments.as_ref().and_then(|a| a.get("client")).and_then(|c| c.as_str());
            if !matches!(client.and_then(|id| entity_kind(file, id)), Some(Entity::Client(_))) {
                let id = client.unwrap_or("<not a string>");
                return Err(format!("operation {}: client `{id}` is not a client entity", op.name));
            }
            require(op, &["connections"])?;
            Ok(quote! { r.assert_number_connections_checked_out(#i); })
        }
        "assertSameLsidOnLastTwoCommands" | "assertDifferentLsidOnLastTwoCommands" => {
            require(op, &["client"])?;
            let same = op.name == "assertSameLsidOnLastTwoCommands";
            Ok(quote! { r.assert_lsid_on_last_two_commands(#i, #same); })
        }
        name if super::transactions::is_test_runner_operation(name) => {
            super::transactions::test_runner_operation(op, i)
        }
        other => super::runner_ops::test_runner_operation(op, i)
            .or_else(|| super::event_ops::test_runner_operation(file, op, i))
            .unwrap_or_else(|| Err(format!("test runner operation {other} not supported by the runner"))),
    }
}
