//! Generated statements for sessions and transactions in the unified runner
//! (unified-test-format.rst "Session Operations": `endSession`, `startTransaction`,
//! `commitTransaction`, `abortTransaction`, `withTransaction` with its callback of
//! operations; and the special test operations `assertSessionTransactionState`,
//! `assertSessionPinned`, `assertSessionUnpinned`, `targetedFailPoint`).

use proc_macro2::TokenStream;
use quote::quote;

use super::model::{Operation, TestFile};
use super::support::{At, Dispatch};

/// The transaction options `startTransaction` and `withTransaction` accept.
const TRANSACTION_OPTIONS: &[&str] = &["readConcern", "writeConcern", "readPreference", "maxCommitTimeMS"];

/// Fails unless every argument of `op` is in `allowed` and every one of `required` is there.
fn arguments(op: &Operation, allowed: &[&str], required: &[&str]) -> Result<(), String> {
    for key in op.arguments.iter().flat_map(|a| a.keys()) {
        if !allowed.contains(&key.as_str()) && !required.contains(&key.as_str()) {
            return Err(format!("operation {}: argument `{key}` not supported by the runner", op.name));
        }
    }
    for key in required {
        if !op.arguments.as_ref().is_some_and(|a| a.contains_key(*key)) {
            return Err(format!("operation {}: missing argument `{key}`", op.name));
        }
    }
    Ok(())
}

/// Whether `op` is a session operation that takes a `timeoutMS` argument of its own
/// (client-side operations timeout spec: `commitTransaction`, `abortTransaction`,
/// `withTransaction`).
pub(super) fn takes_timeout(op: &Operation) -> bool {
    matches!(op.name.as_str(), "commitTransaction" | "abortTransaction" | "withTransaction")
        && op.arguments.as_ref().is_some_and(|a| a.contains_key("timeoutMS"))
}

/// The `timeoutMS` argument of `op` as a `Duration` expression, if it has one.
fn timeout_argument(op: &Operation) -> Result<Option<TokenStream>, String> {
    let Some(value) = op.arguments.as_ref().and_then(|a| a.get("timeoutMS")) else { return Ok(None) };
    let Some(ms) = value.as_u64() else {
        return Err(format!("operation {}: timeoutMS {value} is not a non-negative integer", op.name));
    };
    Ok(Some(quote! { ::std::time::Duration::from_millis(#ms) }))
}

/// Operation `i` on a session entity; `dispatch` emits the operations of a `withTransaction`
/// callback.
pub(super) fn session_operation(
    file: &TestFile,
    op: &Operation,
    i: usize,
    dispatch: Dispatch,
) -> Result<TokenStream, String> {
    let object = op.object.as_str();
    let call = match op.name.as_str() {
        "endSession" => {
            arguments(op, &[], &[])?;
            return Ok(quote! { r.end_session(#object); });
        }
        "startTransaction" => {
            arguments(op, TRANSACTION_OPTIONS, &[])?;
            quote! { session.start_transaction(r.transaction_options(#i)).map(|()| ::bson::Bson::Null) }
        }
        "commitTransaction" => {
            arguments(op, &["timeoutMS"], &[])?;
            match timeout_argument(op)? {
                Some(t) => {
                    quote! { session.commit_transaction_with_timeout(#t).await.map(|()| ::bson::Bson::Null) }
                }
                None => quote! { session.commit_transaction().await.map(|()| ::bson::Bson::Null) },
            }
        }
        "abortTransaction" => {
            arguments(op, &["timeoutMS"], &[])?;
            match timeout_argument(op)? {
                Some(t) => {
                    quote! { session.abort_transaction_with_timeout(#t).await.map(|()| ::bson::Bson::Null) }
                }
                None => quote! { session.abort_transaction().await.map(|()| ::bson::Bson::Null) },
            }
        }
        "withTransaction" => return with_transaction(file, op, i, dispatch),
        other => return Err(format!("session operation {other} not supported by the runner")),
    };
    Ok(quote! {
        {
            let mut session = r.take_session(#object);
            let result: ::std::result::Result<::bson::Bson, ::mongo_driver::error::Error> = async { #call }.await;
            r.put_session(#object, session);
            r.check(#i, result);
        }
    })
}

/// Operation `j` of the callback of `withTransaction` operation `i` on the transaction's
/// own session (`txn_session`): `startTransaction`, `commitTransaction` or
/// `abortTransaction` (convenient API spec: a callback may end the transaction itself, or
/// start another that `withTransaction` then commits).
pub(super) fn callback_session_operation(op: &Operation, i: usize, j: usize) -> Result<TokenStream, String> {
    // Read before the async block, which must not borrow the runner (it is not `Sync`).
    let mut options = quote! {};
    let call = match op.name.as_str() {
        "startTransaction" => {
            arguments(op, TRANSACTION_OPTIONS, &[])?;
            options = quote! { let options = r.callback_transaction_options(#i, #j); };
            quote! { session.start_transaction(options).map(|()| ::bson::Bson::Null) }
        }
        "commitTransaction" => {
            arguments(op, &[], &[])?;
            quote! { session.commit_transaction().await.map(|()| ::bson::Bson::Null) }
        }
        "abortTransaction" => {
            arguments(op, &[], &[])?;
            quote! { session.abort_transaction().await.map(|()| ::bson::Bson::Null) }
        }
        other => {
            return Err(format!(
                "operation {other} on the transaction's session inside a withTransaction callback not supported by the runner"
            ));
        }
    };
    Ok(quote! {
        {
            #options
            let session = &mut *txn_session;
            let result: ::std::result::Result<::bson::Bson, ::mongo_driver::error::Error> = async { #call }.await;
            r.check_in_callback(#i, #j, result)?;
        }
    })
}

/// `withTransaction`: its callback's operations run inside the closure, each checked and
/// its error propagated to the driver (which retries or aborts on it).
fn with_transaction(
    file: &TestFile,
    op: &Operation,
    i: usize,
    dispatch: Dispatch,
) -> Result<TokenStream, String> {
    let mut allowed = TRANSACTION_OPTIONS.to_vec();
    allowed.push("timeoutMS");
    arguments(op, &allowed, &["callback"])?;
    let (method, timeout) = match timeout_argument(op)? {
        Some(t) => (quote! { with_transaction_with_timeout }, quote! { #t, }),
        None => (quote! { with_transaction }, quote! {}),
    };
    let object = op.object.as_str();
    let callback = op.arguments.as_ref().and_then(|a| a.get("callback")).and_then(|c| c.as_array());
    let Some(callback) = callback else {
        return Err("operation withTransaction: `callback` is not an array of operations".into());
    };
    let mut statements = Vec::new();
    for (j, value) in callback.iter().enumerate() {
        let inner: Operation = serde_json::from_value(value.clone())
            .map_err(|e| format!("operation withTransaction: callback operation {j}: {e}"))?;
        statements.push(dispatch(file, &inner, &At::Callback { i, j, session: object })?);
    }
    Ok(quote! {
        {
            let options = r.transaction_options(#i);
            let mut session = r.take_session(#object);
            let result: ::std::result::Result<::bson::Bson, ::mongo_driver::error::Error> = session
                .#method(
                    #timeout
                    &mut r,
                    |txn_session, r| {
                        ::futures::FutureExt::boxed(async move {
                            let _ = &txn_session;
                            #(#statements)*
                            ::std::result::Result::Ok::<(), ::mongo_driver::error::Error>(())
                        })
                    },
                    options,
                )
                .await
                .map(|()| ::bson::Bson::Null);
            r.put_session(#object, session);
            r.check(#i, result);
        }
    })
}

/// Whether `name` is a special test operation generated here.
pub(super) fn is_test_runner_operation(name: &str) -> bool {
    matches!(
        name,
        "assertSessionTransactionState"
            | "assertSessionPinned"
            | "assertSessionUnpinned"
            | "targetedFailPoint"
    )
}

/// Special test operation `i` (one of [`is_test_runner_operation`]).
pub(super) fn test_runner_operation(op: &Operation, i: usize) -> Result<TokenStream, String> {
    match op.name.as_str() {
        "assertSessionTransactionState" => {
            arguments(op, &[], &["session", "state"])?;
            Ok(quote! { r.assert_session_transaction_state(#i); })
        }
        "assertSessionPinned" | "assertSessionUnpinned" => {
            arguments(op, &[], &["session"])?;
            let pinned = op.name == "assertSessionPinned";
            Ok(quote! { r.assert_session_pinned(#i, #pinned); })
        }
        "targetedFailPoint" => {
            arguments(op, &[], &["session", "failPoint"])?;
            Ok(quote! { r.targeted_fail_point(#i).await; })
        }
        other => Err(format!("test runner operation {other} not supported by the runner")),
    }
}

#[cfg(test)]
mod tests {

    use crate::unified::test_support::{assert_emits, emitted};

    fn file(callback_session: &str) -> super::TestFile {
        let text = format!(
            r#"{{"description": "d", "schemaVersion": "1.0",
            "createEntities": [
                {{"client": {{"id": "c"}}}},
                {{"database": {{"id": "db", "client": "c", "databaseName": "d"}}}},
                {{"collection": {{"id": "coll", "database": "db", "collectionName": "x"}}}},
                {{"session": {{"id": "s", "client": "c"}}}},
                {{"session": {{"id": "t", "client": "c"}}}}
            ],
            "tests": [{{"description": "t", "operations": [
                {{"name": "startTransaction", "object": "s", "arguments": {{"maxCommitTimeMS": 5}}}},
                {{"name": "assertSessionTransactionState", "object": "testRunner", "arguments": {{"session": "s", "state": "starting"}}}},
                {{"name": "commitTransaction", "object": "s"}},
                {{"name": "withTransaction", "object": "s", "arguments": {{"callback": [
                    {{"name": "insertOne", "object": "coll", "arguments": {{"session": "{callback_session}", "document": {{}}}}}},
                    {{"name": "commitTransaction", "object": "s"}},
                    {{"name": "startTransaction", "object": "s", "arguments": {{"maxCommitTimeMS": 5}}}}
                ]}}}},
                {{"name": "assertSessionUnpinned", "object": "testRunner", "arguments": {{"session": "s"}}}}
            ]}}]}}"#
        );
        crate::unified::test_support::parse_ok(&text)
    }

    #[test]
    fn transaction_operations_are_emitted() {
        let f = file("s");
        assert_emits(
            &f,
            &[
                "start_transaction (r . transaction_options (0usize))",
                "assert_session_transaction_state (1usize)",
                "commit_transaction ()",
                "with_transaction (& mut r",
                "r . callback_op (3usize , 0usize)",
                "let mut session = & mut * txn_session",
                "check_in_callback (3usize , 0usize , result) ?",
                // The callback ends and restarts its own session's transaction.
                "let session = & mut * txn_session",
                "check_in_callback (3usize , 1usize , result) ?",
                "let options = r . callback_transaction_options (3usize , 2usize)",
                "assert_session_pinned (4usize , false)",
            ],
        );
        // Another session inside the callback is lent by the runner as usual.
        let other = file("t");
        let (_, body) = emitted(&other);
        assert!(body.contains("take_session (\"t\")"));
    }
}
