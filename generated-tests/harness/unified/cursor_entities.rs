//! Cursor and change-stream entities of the unified runner (`unified-test-format.rst`,
//! "ChangeStream" and "FindCursor" entities and "Cursor Operations"): saved by
//! `createFindCursor` / `createChangeStream`, iterated by `iterateUntilDocumentOrError` and
//! `iterateOnce`, closed by `close` and at the end of the test.

use std::collections::HashMap;
use std::time::Duration;

use bson::{Bson, Document, Timestamp};
use futures::TryStreamExt;
use mongo_driver::error::Error;
use mongo_driver::{ChangeStream, Cursor};

use super::failure::{FailureKind, fail};

/// How long `iterateUntilDocumentOrError` may wait for a document (a change stream on the
/// simulator answers each getMore at once, so waiting longer means none will come).
const ITERATE_TIMEOUT: Duration = Duration::from_secs(10);

/// One cursor or change-stream entity.
pub enum Iterable {
    /// A `createFindCursor` result.
    Find(Box<Cursor<Document>>),
    /// A `createChangeStream` result.
    Stream(Box<ChangeStream<Document>>),
}

/// The cursor and change-stream entities of a running case, by id.
#[derive(Default)]
pub struct Iterables {
    entities: HashMap<String, Iterable>,
}

impl Iterables {
    /// Saves `entity` as `id`.
    pub fn insert(&mut self, id: String, entity: Iterable) {
        self.entities.insert(id, entity);
    }

    fn get(&mut self, here: &str, id: &str) -> &mut Iterable {
        match self.entities.get_mut(id) {
            Some(entity) => entity,
            None => not_iterable(here, id),
        }
    }

    /// `iterateUntilDocumentOrError` on entity `id`: the next document, or the error; `here`
    /// locates the case in failure messages.
    pub async fn until_document(&mut self, here: &str, id: &str) -> Result<Bson, Error> {
        let next = async {
            match self.get(here, id) {
                Iterable::Find(cursor) => cursor.try_next().await,
                Iterable::Stream(stream) => stream.next().await,
            }
        };
        match tokio::time::timeout(ITERATE_TIMEOUT, next).await {
            Err(_) => fail(
                FailureKind::Mismatch,
                here,
                format!("no document or error from `{id}` within {ITERATE_TIMEOUT:?}"),
            ),
            Ok(Ok(Some(document))) => Ok(Bson::Document(document)),
            Ok(Ok(None)) => fail(
                FailureKind::Mismatch,
                here,
                format!("`{id}` is exhausted: there is no document to iterate to"),
            ),
            Ok(Err(e)) => Err(e),
        }
    }

    /// `iterateOnce` on entity `id`: one iteration (a getMore when the batch is empty); the
    /// document, or `null` when the iteration gave none.
    pub async fn once(&mut self, here: &str, id: &str) -> Result<Bson, Error> {
        let next = match self.get(here, id) {
            // A find cursor's getMore returns documents unless the cursor is exhausted.
            Iterable::Find(cursor) => cursor.try_next().await,
            Iterable::Stream(stream) => stream.next_if_any().await,
        };
        next.map(|d| d.map(Bson::Document).unwrap_or(Bson::Null))
    }

    /// `close` on entity `id` (errors of `killCursors` are suppressed).
    pub async fn close(&mut self, here: &str, id: &str) {
        match self.entities.remove(id) {
            Some(entity) => close(entity).await,
            None => not_iterable(here, id),
        }
    }

    /// Closes every entity (the end of a test: "the test runner MUST close the cursor").
    pub async fn close_all(&mut self) {
        let mut ids: Vec<String> = self.entities.keys().cloned().collect();
        ids.sort();
        for id in ids {
            if let Some(entity) = self.entities.remove(&id) {
                close(entity).await;
            }
        }
    }
}

async fn close(entity: Iterable) {
    match entity {
        Iterable::Find(cursor) => (*cursor).close().await,
        Iterable::Stream(stream) => (*stream).close().await,
    }
}

fn not_iterable(here: &str, id: &str) -> ! {
    fail(
        FailureKind::Entity,
        here,
        format!("`{id}` is not a cursor or change stream entity (not saved, or closed)"),
    )
}

/// A `startAtOperationTime` argument.
pub fn timestamp(value: &Bson) -> Timestamp {
    match value {
        Bson::Timestamp(t) => *t,
        other => fail(
            FailureKind::InvalidArgument,
            "startAtOperationTime",
            format!("expected a timestamp, found {other}"),
        ),
    }
}
