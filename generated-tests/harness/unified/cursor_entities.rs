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
use spec_codegen::unified::model::Operation;

use super::failure::{FailureKind, fail};
use super::runner::Runner;

/// How long `iterateUntilDocumentOrError` may wait for a document (a change stream on the
/// simulator answers each getMore at once, so waiting longer means none will come).
const ITERATE_TIMEOUT: Duration = Duration::from_secs(10);

/// One cursor or change-stream entity.
enum Iterable {
    Find(Box<Cursor<Document>>),
    Stream(Box<ChangeStream<Document>>),
}

/// The cursor and change-stream entities of a running case, by id.
#[derive(Default)]
pub struct Iterables {
    entities: HashMap<String, Iterable>,
}

impl Iterables {
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

fn not_iterable(here: String, id: &str) -> ! {
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

impl Runner {
    fn iterable(&mut self, id: &str) -> &mut Iterable {
        let here = self.location();
        match self.iterables.entities.get_mut(id) {
            Some(entity) => entity,
            None => not_iterable(here, id),
        }
    }

    fn save_iterable(&mut self, i: usize, result: Result<Iterable, Error>) {
        let id = self.operation(i).save_result_as_entity.clone();
        match result {
            Ok(entity) => {
                self.check(i, Ok(Bson::Null));
                if let Some(id) = id {
                    self.iterables.entities.insert(id, entity);
                }
            }
            Err(e) => self.check(i, Err(e)),
        }
    }

    /// `createFindCursor` (operation `i`): checks the outcome of `find` and saves the cursor
    /// as the operation's `saveResultAsEntity`.
    pub fn save_cursor(&mut self, i: usize, result: Result<Cursor<Document>, Error>) {
        self.save_iterable(i, result.map(|c| Iterable::Find(Box::new(c))));
    }

    /// `createChangeStream` (operation `i`): checks the outcome of `watch` (the aggregate has
    /// run) and saves the change stream as the operation's `saveResultAsEntity`, if any.
    pub fn save_change_stream(&mut self, i: usize, result: Result<ChangeStream<Document>, Error>) {
        self.save_iterable(i, result.map(|s| Iterable::Stream(Box::new(s))));
    }

    /// `iterateUntilDocumentOrError` on entity `id`: the next document, or the error.
    pub async fn iterate_until_document(&mut self, id: &str) -> Result<Bson, Error> {
        let here = self.location();
        let next = async {
            match self.iterable(id) {
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
    pub async fn iterate_once(&mut self, id: &str) -> Result<Bson, Error> {
        let next = match self.iterable(id) {
            // A find cursor's getMore returns documents unless the cursor is exhausted.
            Iterable::Find(cursor) => cursor.try_next().await,
            Iterable::Stream(stream) => stream.next_if_any().await,
        };
        next.map(|d| d.map(Bson::Document).unwrap_or(Bson::Null))
    }

    /// `close` on entity `id` (errors of `killCursors` are suppressed).
    pub async fn close_iterable(&mut self, id: &str) {
        let here = self.location();
        match self.iterables.entities.remove(id) {
            Some(entity) => close(entity).await,
            None => not_iterable(here, id),
        }
    }

    fn location(&self) -> String {
        format!("{}#/tests/{}", self.path.display(), self.case)
    }

    fn operation(&self, i: usize) -> &Operation {
        &self.test().operations[i]
    }
}
