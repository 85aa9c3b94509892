//! Enumerating databases (enumerate-databases spec): `Client::list_databases` and
//! `Client::list_database_names`, one `listDatabases` command against `admin`.

use std::future::IntoFuture;

use bson::Document;
use futures::future::BoxFuture;

use crate::api::client::Client;
use crate::api::coll::{entry_names, option_setters, session_setter};
use crate::error::Result;
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

session_setter!("this"; ListDatabases);

impl ListDatabases<'_> {
    option_setters!(ListDatabasesOptions;
        /// Only databases matching `filter` (on the `listDatabases` output, e.g. `{name: …}`).
        filter: Document,
        /// Only the databases the user is authorized to see.
        authorized_databases: bool,
    );

    async fn run(self, name_only: bool) -> Result<Vec<Document>> {
        let mut op = operation::ListDatabases::new(name_only, self.options);
        crate::api::coll::run_op(
            self.client.executor(),
            self.client.defaults().timeout,
            &mut op,
            &mut OpSession::new(self.session),
        )
        .await
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
            entry_names(&docs, "listDatabases: an entry")
        })
    }
}
