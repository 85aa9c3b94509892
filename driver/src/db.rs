//! Databases (CRUD spec "Database"; enumerate-collections spec): collection handles,
//! `run_command`, `create_collection`, `list_collection_names` and database aggregation.

use std::future::IntoFuture;

use bson::{Bson, Document};
use futures::TryStreamExt;
use futures::future::BoxFuture;

use crate::client::{Client, Defaults};
use crate::coll::Collection;
use crate::cursor::Cursor;
use crate::error::{Error, Result};
use crate::executor::ExecutionContext;
use crate::operation::{self, Namespace};
use crate::options::{
    CreateCollectionOptions, ListCollectionsOptions, ReadConcern, ReadPreference, WriteConcern,
};
use crate::topology::SelectionCriteria;

/// A handle to a database (cheap to clone; no I/O until an operation runs).
#[derive(Clone, Debug)]
pub struct Database {
    client: Client,
    name: String,
    defaults: Defaults,
}

impl Database {
    pub(crate) fn new(client: Client, name: &str, defaults: Defaults) -> Self {
        Self { client, name: name.to_string(), defaults }
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The client it belongs to.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// A handle to collection `name` whose documents (de)serialize as `T`.
    pub fn collection<T: Send + Sync>(&self, name: &str) -> Collection<T> {
        Collection::new(self.client.clone(), Namespace::new(&self.name, name), self.defaults.clone())
    }

    /// This handle with another default read preference.
    pub fn with_read_preference(mut self, read_preference: ReadPreference) -> Self {
        self.defaults.read_preference = read_preference;
        self
    }

    /// This handle with another default read concern.
    pub fn with_read_concern(mut self, read_concern: ReadConcern) -> Self {
        self.defaults.read_concern = Some(read_concern);
        self
    }

    /// This handle with another default write concern.
    pub fn with_write_concern(mut self, write_concern: WriteConcern) -> Self {
        self.defaults.write_concern = Some(write_concern);
        self
    }

    /// Runs `command` on the primary and returns its reply (`ok: 0` is an error).
    pub fn run_command(&self, command: Document) -> RunCommand<'_> {
        RunCommand { db: self, command, read_preference: None }
    }

    /// Creates collection `name`.
    pub fn create_collection(&self, name: &str) -> CreateCollection<'_> {
        CreateCollection { db: self, name: name.to_string(), options: CreateCollectionOptions::default() }
    }

    /// The names of the database's collections and views.
    pub fn list_collection_names(&self) -> ListCollectionNames<'_> {
        ListCollectionNames { db: self, options: ListCollectionsOptions::default() }
    }

    /// Runs a database-level pipeline (`aggregate: 1`, e.g. `$currentOp`).
    pub fn aggregate(&self, pipeline: impl IntoIterator<Item = Document>) -> crate::coll::Aggregate<'_> {
        crate::coll::Aggregate::new(
            &self.client,
            self.name.clone(),
            None,
            pipeline.into_iter().collect(),
            self.defaults.clone(),
        )
    }
}

/// The future of [`Database::run_command`].
#[must_use = "an action does nothing until awaited"]
pub struct RunCommand<'a> {
    db: &'a Database,
    command: Document,
    read_preference: Option<ReadPreference>,
}

impl RunCommand<'_> {
    /// Runs the command on a server matching `read_preference` instead of the primary.
    pub fn selection_criteria(mut self, read_preference: ReadPreference) -> Self {
        self.read_preference = Some(read_preference);
        self
    }
}

impl<'a> IntoFuture for RunCommand<'a> {
    type Output = Result<Document>;
    type IntoFuture = BoxFuture<'a, Result<Document>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let criteria = match self.read_preference {
                Some(rp) => SelectionCriteria::Read(rp),
                None => SelectionCriteria::Read(ReadPreference::primary()),
            };
            let mut op = operation::RunCommand::new(&self.db.name, self.command, criteria)?;
            self.db.client.executor().execute(&mut op, &ExecutionContext::default()).await
        })
    }
}

/// The future of [`Database::create_collection`].
#[must_use = "an action does nothing until awaited"]
pub struct CreateCollection<'a> {
    db: &'a Database,
    name: String,
    options: CreateCollectionOptions,
}

impl CreateCollection<'_> {
    /// Sets every option at once.
    pub fn with_options(mut self, options: CreateCollectionOptions) -> Self {
        self.options = options;
        self
    }
}

impl<'a> IntoFuture for CreateCollection<'a> {
    type Output = Result<()>;
    type IntoFuture = BoxFuture<'a, Result<()>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let wc = self.options.write_concern.clone().or_else(|| self.db.defaults.write_concern.clone());
            let mut generic = crate::commands::GenericArguments::default();
            if let Some(wc) = wc.filter(|w| !w.is_empty()) {
                generic.write_concern = Some(wc.to_document());
            }
            let mut op =
                operation::Create::new(Namespace::new(&self.db.name, &self.name), self.options, generic);
            self.db.client.executor().execute(&mut op, &ExecutionContext::default()).await
        })
    }
}

/// The future of [`Database::list_collection_names`].
#[must_use = "an action does nothing until awaited"]
pub struct ListCollectionNames<'a> {
    db: &'a Database,
    options: ListCollectionsOptions,
}

impl ListCollectionNames<'_> {
    /// Only collections matching `filter` (on the `listCollections` output, e.g. `{name: …}`).
    pub fn filter(mut self, filter: Document) -> Self {
        self.options.filter = Some(filter);
        self
    }

    /// Sets every option at once.
    pub fn with_options(mut self, options: ListCollectionsOptions) -> Self {
        self.options = options;
        self
    }
}

impl<'a> IntoFuture for ListCollectionNames<'a> {
    type Output = Result<Vec<String>>;
    type IntoFuture = BoxFuture<'a, Result<Vec<String>>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let executor = self.db.client.executor();
            let mut op = operation::ListCollections::new(&self.db.name, true, self.options);
            let operation_id = executor.next_operation_id();
            let spec = executor.execute_as(&mut op, &ExecutionContext::default(), operation_id).await?;
            let cursor: Cursor<Document> = Cursor::new(executor.clone(), spec, operation_id);
            let docs: Vec<Document> = cursor.try_collect().await?;
            docs.iter()
                .map(|d| match d.get("name") {
                    Some(Bson::String(name)) => Ok(name.clone()),
                    _ => {
                        Err(Error::invalid_response(format!("listCollections: an entry without a name: {d}")))
                    }
                })
                .collect()
        })
    }
}
