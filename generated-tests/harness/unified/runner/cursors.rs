//! The cursor operations of the unified runner (`unified-test-format.rst`, "Cursor
//! Operations" and `createFindCursor` / `createChangeStream`): results saved as cursor and
//! change-stream entities (`super::super::cursor_entities`), iterated and closed by id.

use bson::{Bson, Document};
use mongo_driver::error::Error;
use mongo_driver::{ChangeStream, Cursor};

use super::super::cursor_entities::Iterable;
use super::Runner;

impl Runner {
    /// Checks the outcome of operation `i`, which created `result`, and saves the entity as
    /// the operation's `saveResultAsEntity`, if any.
    fn save_iterable(&mut self, i: usize, result: Result<Iterable, Error>) {
        let id = self.operation(i).save_result_as_entity.clone();
        match result {
            Ok(entity) => {
                self.check(i, Ok(Bson::Null));
                if let Some(id) = id {
                    self.iterables.insert(id, entity);
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
        self.iterables.until_document(&here, id).await
    }

    /// `iterateOnce` on entity `id`: one iteration (a getMore when the batch is empty); the
    /// document, or `null` when the iteration gave none.
    pub async fn iterate_once(&mut self, id: &str) -> Result<Bson, Error> {
        let here = self.location();
        self.iterables.once(&here, id).await
    }

    /// `close` on entity `id` (errors of `killCursors` are suppressed).
    pub async fn close_iterable(&mut self, id: &str) {
        let here = self.location();
        self.iterables.close(&here, id).await
    }
}
