//! Databases (CRUD spec "Database"; enumerate-collections spec): collection handles,
//! `run_command`, `create_collection`, `list_collections`, `list_collection_names` and
//! database aggregation.

use std::future::IntoFuture;

use bson::Document;
use futures::TryStreamExt;
use futures::future::BoxFuture;

use crate::api::client::{Client, Defaults};
use crate::api::coll::{Collection, entry_names, option_setters, session_setter};
use crate::api::cursor::Cursor;
use crate::error::{Error, Result};
use crate::operation::{self, Namespace};
use crate::options::{
    CreateCollectionOptions, ListCollectionsOptions, ReadConcern, ReadPreference, ReadPreferenceMode,
    WriteConcern,
};
use crate::session::{ClientSession, OpSession};
use crate::topology::SelectionCriteria;

/// A handle to a database (cheap to clone; no I/O until an operation runs).
#[derive(Clone, Debug)]
pub struct Database {
    client: Client,
    name: String,
    defaults: Defaults,
}

impl Client {
    /// A handle to database `name` (no I/O).
    pub fn database(&self, name: &str) -> Database {
        Database::new(self.clone(), name, self.inner.defaults.clone())
    }

    /// The database the connection string names (`/db`), if any.
    pub fn default_database(&self) -> Option<Database> {
        self.inner.default_database.as_deref().map(|name| self.database(name))
    }
}

impl Database {
    /// Runs `op` through the client's executor under this handle's `timeoutMS`, in
    /// `session` (or an implicit one).
    async fn run_in<O: crate::operation::Operation>(
        &self,
        op: &mut O,
        session: Option<&mut ClientSession>,
    ) -> Result<O::Output> {
        crate::api::coll::run_op(
            self.client.executor(),
            self.defaults.timeout,
            op,
            &mut OpSession::new(session),
        )
        .await
    }

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

    /// This handle with another `timeoutMS` (client-side operations timeout spec): each
    /// operation through it (and the collections made from it) must finish within `timeout`,
    /// zero meaning no limit.
    pub fn with_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.defaults.timeout = Some(timeout);
        self
    }

    /// The `timeoutMS` of operations through this handle (`None`: unset).
    pub fn timeout(&self) -> Option<std::time::Duration> {
        self.defaults.timeout
    }

    /// Runs `command` on the primary and returns its reply (`ok: 0` is an error).
    pub fn run_command(&self, command: Document) -> RunCommand<'_> {
        RunCommand { db: self, session: None, command, read_preference: None }
    }

    /// Creates collection `name`.
    pub fn create_collection(&self, name: &str) -> CreateCollection<'_> {
        CreateCollection {
            db: self,
            session: None,
            name: name.to_string(),
            options: CreateCollectionOptions::default(),
        }
    }

    /// A cursor over the database's collections and views, each as the server describes
    /// it (`name`, `type`, `options`, `info`, `idIndex`; enumerate-collections spec).
    pub fn list_collections(&self) -> ListCollections<'_> {
        ListCollections { db: self, session: None, options: ListCollectionsOptions::default() }
    }

    /// The names of the database's collections and views.
    pub fn list_collection_names(&self) -> ListCollectionNames<'_> {
        ListCollectionNames { db: self, session: None, options: ListCollectionsOptions::default() }
    }

    /// A change stream of every collection of the database (change streams spec
    /// `Database.watch`, `aggregate: 1`).
    pub fn watch(&self) -> crate::api::change_stream::Watch<'_> {
        crate::api::change_stream::Watch::database(self.client.executor(), &self.name, self.defaults.clone())
    }

    /// Runs a database-level pipeline (`aggregate: 1`, e.g. `$currentOp`).
    pub fn aggregate(&self, pipeline: impl IntoIterator<Item = Document>) -> crate::api::coll::Aggregate<'_> {
        crate::api::coll::Aggregate::new(
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
    session: Option<&'a mut ClientSession>,
    command: Document,
    read_preference: Option<ReadPreference>,
}

impl<'a> RunCommand<'a> {
    /// Runs the operation in an explicit `session` started from this database's client
    /// (driver sessions spec); without it, an implicit session is used.
    pub fn session(mut self, session: &'a mut ClientSession) -> Self {
        self.session = Some(session);
        self
    }

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
            // Transactions spec "readPreference": an operation's own read preference is
            // respected, and a transaction may only read from the primary.
            let in_transaction = self.session.as_deref().is_some_and(ClientSession::in_transaction);
            if let Some(rp) =
                self.read_preference.as_ref().filter(|rp| rp.mode != ReadPreferenceMode::Primary)
            {
                if in_transaction {
                    return Err(Error::invalid_argument(format!(
                        "read preference in a transaction must be primary, not {}",
                        rp.mode
                    )));
                }
            }
            let criteria = match self.read_preference {
                Some(rp) => SelectionCriteria::Read(rp),
                None => SelectionCriteria::Read(ReadPreference::primary()),
            };
            let mut op = operation::RunCommand::new(&self.db.name, self.command, criteria)?;
            self.db.run_in(&mut op, self.session).await
        })
    }
}

/// The future of [`Database::create_collection`].
#[must_use = "an action does nothing until awaited"]
pub struct CreateCollection<'a> {
    db: &'a Database,
    session: Option<&'a mut ClientSession>,
    name: String,
    options: CreateCollectionOptions,
}

impl CreateCollection<'_> {
    option_setters!(CreateCollectionOptions;);
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
            self.db.run_in(&mut op, self.session).await
        })
    }
}

/// The future of [`Database::list_collections`].
#[must_use = "an action does nothing until awaited"]
pub struct ListCollections<'a> {
    db: &'a Database,
    session: Option<&'a mut ClientSession>,
    options: ListCollectionsOptions,
}

session_setter!("this database's"; CreateCollection, ListCollections, ListCollectionNames);

impl<'a> ListCollections<'a> {
    option_setters!(ListCollectionsOptions;
        /// Only collections matching `filter` (on the `listCollections` output, e.g. `{name: …}`).
        filter: Document,
        /// Documents per batch.
        batch_size: i32,
        /// Only names and types.
        name_only: bool,
        /// With `name_only`, only the collections the user is authorized to see.
        authorized_collections: bool,
    );

    /// Opens the `listCollections` cursor (`nameOnly: true` when `name_only`).
    async fn open(self, name_only: bool) -> Result<Cursor<Document>> {
        let executor = self.db.client.executor();
        let mut op = operation::ListCollections::new(&self.db.name, name_only, self.options);
        crate::api::coll::open_cursor(executor, self.db.defaults.timeout, &mut op, self.session).await
    }
}

impl<'a> IntoFuture for ListCollections<'a> {
    type Output = Result<Cursor<Document>>;
    type IntoFuture = BoxFuture<'a, Result<Cursor<Document>>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.open(false))
    }
}

/// The future of [`Database::list_collection_names`].
#[must_use = "an action does nothing until awaited"]
pub struct ListCollectionNames<'a> {
    db: &'a Database,
    session: Option<&'a mut ClientSession>,
    options: ListCollectionsOptions,
}

impl ListCollectionNames<'_> {
    option_setters!(ListCollectionsOptions;
        /// Only collections matching `filter` (on the `listCollections` output, e.g. `{name: …}`).
        filter: Document,
    );
}

impl<'a> IntoFuture for ListCollectionNames<'a> {
    type Output = Result<Vec<String>>;
    type IntoFuture = BoxFuture<'a, Result<Vec<String>>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let list = ListCollections { db: self.db, session: self.session, options: self.options };
            let docs: Vec<Document> = list.open(true).await?.try_collect().await?;
            entry_names(&docs, "listCollections: an entry")
        })
    }
}
