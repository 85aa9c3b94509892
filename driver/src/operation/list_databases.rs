//! `listDatabases` (enumerate-databases spec): run against `admin`, the reply's
//! `databases` array is the result (the command returns no cursor).

use bson::{Bson, Document, doc};

use super::{Operation, Retryability};
use crate::commands::OpMsgParts;
use crate::connection::StreamDescription;
use crate::error::{Error, Result};
use crate::options::ListDatabasesOptions;
use crate::selection::ReadPreference;
use crate::topology::SelectionCriteria;

/// Lists the deployment's databases (their descriptions, or only names with `nameOnly`).
#[derive(Debug, Clone)]
pub struct ListDatabases {
    name_only: bool,
    options: ListDatabasesOptions,
}

impl ListDatabases {
    /// Lists the databases; `name_only` asks the server for names only (enumerate-databases
    /// spec "listDatabaseNames"), otherwise `options.name_only` decides.
    pub fn new(name_only: bool, options: ListDatabasesOptions) -> Self {
        Self { name_only, options }
    }
}

impl Operation for ListDatabases {
    type Output = Vec<Document>;

    fn name(&self) -> &str {
        "listDatabases"
    }

    fn build(&mut self, _: &StreamDescription) -> Result<OpMsgParts> {
        let o = &self.options;
        let mut body = doc! {"listDatabases": 1};
        if let Some(f) = &o.filter {
            body.insert("filter", f.clone());
        }
        if self.name_only || o.name_only == Some(true) {
            body.insert("nameOnly", true);
        } else if let Some(false) = o.name_only {
            body.insert("nameOnly", false);
        }
        if let Some(a) = o.authorized_databases {
            body.insert("authorizedDatabases", a);
        }
        if let Some(c) = &o.comment {
            body.insert("comment", c.clone());
        }
        body.insert("$db", "admin");
        Ok(OpMsgParts { body, sequences: Vec::new() })
    }

    fn handle_response(&mut self, reply: Document, _: &StreamDescription) -> Result<Vec<Document>> {
        let Some(Bson::Array(items)) = reply.get("databases") else {
            return Err(Error::invalid_response(format!(
                "listDatabases: a reply without `databases`: {reply}"
            )));
        };
        items
            .iter()
            .map(|item| match item {
                Bson::Document(d) => Ok(d.clone()),
                other => Err(Error::invalid_response(format!(
                    "listDatabases: an entry of `databases` is not a document: {other}"
                ))),
            })
            .collect()
    }

    fn selection_criteria(&self) -> SelectionCriteria {
        SelectionCriteria::Read(ReadPreference::primary())
    }

    fn retryability(&self) -> Retryability {
        Retryability::Read
    }
}
