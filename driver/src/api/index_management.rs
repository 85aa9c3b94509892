//! Index management (index-management spec "Standard API"): [`IndexModel`] and the
//! collection actions `create_index(es)`, `drop_index(es)`, `list_indexes` and
//! `list_index_names`. Each runs one operation of [`crate::operation`] through the executor.

use std::future::IntoFuture;
use std::time::Duration;

use bson::{Bson, Document};
use futures::TryStreamExt;
use futures::future::BoxFuture;

use crate::api::coll::{Collection, entry_names, option_setters, session_setter};
use crate::api::cursor::Cursor;
use crate::error::{Error, Result};
use crate::operation;
pub use crate::operation::{IndexModel, IndexOptions};
use crate::options::{CreateIndexOptions, DropIndexOptions, ListIndexesOptions, WriteConcern};
use crate::session::ClientSession;

/// What `create_index` returns: the index's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateIndexResult {
    /// The name of the index.
    pub index_name: String,
}

/// What `create_indexes` returns: the indexes' names, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateIndexesResult {
    /// The names of the indexes.
    pub index_names: Vec<String>,
}

impl<T: Send + Sync> Collection<T> {
    /// Creates one index (index-management spec "createIndex").
    pub fn create_index(&self, model: IndexModel) -> CreateIndex<'_, T> {
        CreateIndex { coll: self, session: None, models: vec![model], options: CreateIndexOptions::default() }
    }

    /// Creates several indexes in one `createIndexes` command.
    pub fn create_indexes(&self, models: impl IntoIterator<Item = IndexModel>) -> CreateIndexes<'_, T> {
        CreateIndexes {
            inner: CreateIndex {
                coll: self,
                session: None,
                models: models.into_iter().collect(),
                options: CreateIndexOptions::default(),
            },
        }
    }

    /// Drops the index named `name` (`"*"` is refused: use [`Collection::drop_indexes`]).
    pub fn drop_index(&self, name: impl Into<String>) -> DropIndex<'_, T> {
        DropIndex { coll: self, session: None, name: Some(name.into()), options: DropIndexOptions::default() }
    }

    /// Drops every index but the `_id` index.
    pub fn drop_indexes(&self) -> DropIndex<'_, T> {
        DropIndex { coll: self, session: None, name: None, options: DropIndexOptions::default() }
    }

    /// A cursor over the collection's index descriptions (`listIndexes`).
    pub fn list_indexes(&self) -> ListIndexes<'_, T> {
        ListIndexes { coll: self, session: None, options: ListIndexesOptions::default() }
    }

    /// The names of the collection's indexes.
    pub fn list_index_names(&self) -> ListIndexNames<'_, T> {
        ListIndexNames { inner: self.list_indexes() }
    }
}

/// The future of [`Collection::create_index`].
#[must_use = "an action does nothing until awaited"]
pub struct CreateIndex<'a, T> {
    coll: &'a Collection<T>,
    session: Option<&'a mut ClientSession>,
    models: Vec<IndexModel>,
    options: CreateIndexOptions,
}

/// The future of [`Collection::create_indexes`].
#[must_use = "an action does nothing until awaited"]
pub struct CreateIndexes<'a, T> {
    inner: CreateIndex<'a, T>,
}

/// The future of [`Collection::drop_index`] and [`Collection::drop_indexes`].
#[must_use = "an action does nothing until awaited"]
pub struct DropIndex<'a, T> {
    coll: &'a Collection<T>,
    session: Option<&'a mut ClientSession>,
    /// `None`: all indexes (`"*"`).
    name: Option<String>,
    options: DropIndexOptions,
}

/// The future of [`Collection::list_indexes`].
#[must_use = "an action does nothing until awaited"]
pub struct ListIndexes<'a, T> {
    coll: &'a Collection<T>,
    session: Option<&'a mut ClientSession>,
    options: ListIndexesOptions,
}

/// The future of [`Collection::list_index_names`].
#[must_use = "an action does nothing until awaited"]
pub struct ListIndexNames<'a, T> {
    inner: ListIndexes<'a, T>,
}

session_setter!(CreateIndex, DropIndex, ListIndexes);

impl<'a, T: Send + Sync> CreateIndex<'a, T> {
    option_setters!(CreateIndexOptions;
        /// Sets `commitQuorum` (4.4+).
        commit_quorum: Bson,
        /// Sets the server's time limit (`maxTimeMS`).
        max_time: Duration,
        /// Sets the write concern.
        write_concern: WriteConcern,
    );

    async fn run(self) -> Result<Vec<String>> {
        let generic = self.coll.write_args(self.options.write_concern.as_ref(), None);
        let mut op =
            operation::CreateIndexes::new(self.coll.namespace().clone(), self.models, self.options, generic);
        self.coll.run_in(&mut op, self.session).await
    }
}

impl<'a, T: Send + Sync> CreateIndexes<'a, T> {
    /// Runs the operation in an explicit `session` (see [`CreateIndex::session`]).
    pub fn session(mut self, session: &'a mut ClientSession) -> Self {
        self.inner = self.inner.session(session);
        self
    }

    /// Sets every option at once.
    pub fn with_options(mut self, options: CreateIndexOptions) -> Self {
        self.inner.options = options;
        self
    }
}

impl<'a, T: Send + Sync> DropIndex<'a, T> {
    option_setters!(DropIndexOptions;
        /// Sets the server's time limit (`maxTimeMS`).
        max_time: Duration,
        /// Sets the write concern.
        write_concern: WriteConcern,
    );

    async fn run(self) -> Result<()> {
        let index = match self.name {
            // Index-management spec "dropIndex": `*` must be refused client-side.
            Some(name) if name == "*" => {
                return Err(Error::invalid_argument(
                    "drop_index(\"*\") would drop every index: use drop_indexes()",
                ));
            }
            Some(name) => name,
            None => "*".to_string(),
        };
        let generic = self.coll.write_args(self.options.write_concern.as_ref(), None);
        let mut op = operation::DropIndexes::new(self.coll.namespace().clone(), index, self.options, generic);
        self.coll.run_in(&mut op, self.session).await
    }
}

impl<'a, T: Send + Sync> ListIndexes<'a, T> {
    option_setters!(ListIndexesOptions;
        /// Sets the number of documents per batch.
        batch_size: i32,
    );

    async fn run(self) -> Result<Cursor<Document>> {
        let mut op = operation::ListIndexes::new(self.coll.namespace().clone(), self.options);
        crate::api::coll::open_cursor(self.coll.executor(), self.coll.timeout(), &mut op, self.session).await
    }
}

impl<'a, T: Send + Sync> ListIndexNames<'a, T> {
    /// Runs the operation in an explicit `session` (see [`ListIndexes::session`]).
    pub fn session(mut self, session: &'a mut ClientSession) -> Self {
        self.inner = self.inner.session(session);
        self
    }

    async fn run(self) -> Result<Vec<String>> {
        let docs: Vec<Document> = self.inner.run().await?.try_collect().await?;
        entry_names(&docs, "listIndexes: an index")
    }
}

/// Implements `IntoFuture` for an index action through its `run`.
macro_rules! index_future {
    ($action:ident, $out:ty, $run:expr) => {
        impl<'a, T: Send + Sync + 'a> IntoFuture for $action<'a, T> {
            type Output = Result<$out>;
            type IntoFuture = BoxFuture<'a, Result<$out>>;

            fn into_future(self) -> Self::IntoFuture {
                Box::pin($run(self))
            }
        }
    };
}

index_future!(CreateIndex, CreateIndexResult, |a: CreateIndex<'a, T>| async move {
    let mut names = a.run().await?;
    let index_name = names.pop().unwrap_or_default();
    Ok(CreateIndexResult { index_name })
});
index_future!(CreateIndexes, CreateIndexesResult, |a: CreateIndexes<'a, T>| async move {
    Ok(CreateIndexesResult { index_names: a.inner.run().await? })
});
index_future!(DropIndex, (), DropIndex::run);
index_future!(ListIndexes, Cursor<Document>, ListIndexes::run);
index_future!(ListIndexNames, Vec<String>, ListIndexNames::run);

#[cfg(test)]
mod tests {
    use bson::doc;

    use super::*;

    #[test]
    fn generated_index_names() {
        assert_eq!(IndexModel::new(doc! {"x": 1}).index_name(), "x_1");
        assert_eq!(IndexModel::new(doc! {"x": 1, "y": -1i64}).index_name(), "x_1_y_-1");
        assert_eq!(IndexModel::new(doc! {"t": "text", "z": 1.0}).index_name(), "t_text_z_1");
        let named = IndexModel::new(doc! {"x": 1}).options(IndexOptions::default().name("mine"));
        assert_eq!(named.index_name(), "mine");
        let spec = IndexModel::new(doc! {"x": 1})
            .options(IndexOptions::default().unique(true).expire_after(Duration::from_secs(30)))
            .to_spec();
        assert_eq!(spec, doc! {"key": {"x": 1}, "name": "x_1", "unique": true, "expireAfterSeconds": 30i64});
    }
}
