//! `listCollections` (enumerate-collections spec). No IDL for it is in the shared server
//! data, so the command document is written here.

use bson::{Document, doc};

use super::{CursorSpec, Operation, Retryability, cursor_arg};
use crate::commands::OpMsgParts;
use crate::connection::StreamDescription;
use crate::error::Result;
use crate::options::ListCollectionsOptions;
use crate::selection::ReadPreference;
use crate::topology::SelectionCriteria;

/// Lists a database's collections (a cursor of their descriptions).
#[derive(Debug, Clone)]
pub struct ListCollections {
    db: String,
    name_only: bool,
    options: ListCollectionsOptions,
}

impl ListCollections {
    /// Lists the collections of `db`; `name_only` asks for names and types only (else
    /// `options.name_only` decides).
    pub fn new(db: impl Into<String>, name_only: bool, options: ListCollectionsOptions) -> Self {
        Self { db: db.into(), name_only, options }
    }
}

impl Operation for ListCollections {
    type Output = CursorSpec;

    fn name(&self) -> &str {
        "listCollections"
    }

    fn build(&mut self, _: &StreamDescription) -> Result<OpMsgParts> {
        let cursor = cursor_arg(self.options.batch_size)?;
        let mut body = doc! {"listCollections": 1, "cursor": cursor};
        if let Some(f) = &self.options.filter {
            body.insert("filter", f.clone());
        }
        if self.name_only || self.options.name_only == Some(true) {
            body.insert("nameOnly", true);
        } else if let Some(false) = self.options.name_only {
            body.insert("nameOnly", false);
        }
        if let Some(a) = self.options.authorized_collections {
            body.insert("authorizedCollections", a);
        }
        if let Some(c) = &self.options.comment {
            body.insert("comment", c.clone());
        }
        body.insert("$db", self.db.clone());
        Ok(OpMsgParts { body, sequences: Vec::new() })
    }

    fn handle_response(&mut self, reply: Document, description: &StreamDescription) -> Result<CursorSpec> {
        CursorSpec::from_initial(&reply, &description.server_address, self.options.batch_size, None)
    }

    fn selection_criteria(&self) -> SelectionCriteria {
        SelectionCriteria::Read(ReadPreference::primary())
    }

    fn retryability(&self) -> Retryability {
        Retryability::Read
    }
}
