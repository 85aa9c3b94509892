//! Enumerating databases (enumerate-databases spec): `Client::list_databases` and
//! `Client::list_database_names`, one `listDatabases` command against `admin`.

use std::future::IntoFuture;

use bson::{Bson, Document};
use futures::future::BoxFuture;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::operation;
use crate::options::ListDatabasesOptions;
use crate::session::{ClientSession, OpSession};

impl Client {
    /// The deployment's databases, each as the server describes it (`name`, `sizeOnDisk`,
    /// `empty`, …; only `name` with `name_only`).
    pub fn list_databases(&self) -> ListDatabases<'_> {
        ListDatabases { client: self, session: None, options: ListDatabasesOptions::default() }
    }

    /// The names of the deployment's databases (`listDatabases` with `nameOnly: true`).
    pub fn list_database_names(&self) -> ListDatabaseNames<'_> {
        ListDatabaseNames { inner: self.list_databases() }
    }
}

/// The future of [`Client::list_databases`].
#[must_use = "an action does nothing until awaited"]
pub struct ListDatabases<'a> {
    client: &'a Client,
    session: Option<&'a mut ClientSession>,
    options: ListDatabasesOptions,
}

/// The future of [`Client::list_database_names`].
#[must_use = "an action does nothing until awaited"]
pub struct ListDatabaseNames<'a> {
    inner: ListDatabases<'a>,
}

impl<'a> ListDatabases<'a> {
    /// Runs the operation in an explicit `session` started from this client (driver
    /// sessions spec); without it, an implicit session is used.
    pub fn session(mut self, session: &'a mut ClientSession) -> Self {
        self.session = Some(session);
        self
    }

    /// Only databases matching `filter` (on the `listDatabases` output, e.g. `{name: …}`).
    pub fn filter(mut self, filter: Document) -> Self {
        self.options.filter = Some(filter);
        self
    }

    /// Only the databases the user is authorized to see.
    pub fn authorized_databases(mut self, authorized: bool) -> Self {
        self.options.authorized_databases = Some(authorized);
        self
    }

    /// Sets every option at once.
    pub fn with_options(mut self, options: ListDatabasesOptions) -> Self {
        self.options = options;
        self
    }

    async fn run(self, name_only: bool) -> Result<Vec<Document>> {
        let mut op = operation::ListDatabases::new(name_only, self.options);
        crate::coll::run_op(self.client.executor(), &mut op, &mut OpSession::new(self.session)).await
    }
}

impl<'a> ListDatabaseNames<'a> {
    /// Runs the operation in an explicit `session` (see [`ListDatabases::session`]).
    pub fn session(mut self, session: &'a mut ClientSession) -> Self {
        self.inner = self.inner.session(session);
        self
    }

    /// Only databases matching `filter`.
    pub fn filter(mut self, filter: Document) -> Self {
        self.inner = self.inner.filter(filter);
        self
    }

    /// Only the databases the user is authorized to see.
    pub fn authorized_databases(mut self, authorized: bool) -> Self {
        self.inner = self.inner.authorized_databases(authorized);
        self
    }
}

impl<'a> IntoFuture for ListDatabases<'a> {
    type Output = Result<Vec<Document>>;
    type IntoFuture = BoxFuture<'a, Result<Vec<Document>>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run(false))
    }
}

impl<'a> IntoFuture for ListDatabaseNames<'a> {
    type Output = Result<Vec<String>>;
    type IntoFuture = BoxFuture<'a, Result<Vec<String>>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let docs = self.inner.run(true).await?;
            docs.iter()
                .map(|d| match d.get("name") {
                    Some(Bson::String(name)) => Ok(name.clone()),
                    _ => Err(Error::invalid_response(format!("listDatabases: an entry without a name: {d}"))),
                })
                .collect()
        })
    }
}
