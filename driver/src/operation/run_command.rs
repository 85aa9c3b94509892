//! `run_command`: any command document, sent as given (the executor still adds the
//! session, cluster time and read preference), its reply returned whole.

use bson::Document;

use super::Operation;
use crate::commands::OpMsgParts;
use crate::connection::StreamDescription;
use crate::error::{Error, Result};
use crate::topology::SelectionCriteria;

/// A command given by the application.
#[derive(Debug, Clone)]
pub struct RunCommand {
    db: String,
    name: String,
    command: Document,
    criteria: SelectionCriteria,
}

impl RunCommand {
    /// Runs `command` against `db` on a server matching `criteria`. An empty command, or one
    /// that already holds `$db`, is refused.
    pub fn new(db: impl Into<String>, command: Document, criteria: SelectionCriteria) -> Result<Self> {
        let name = command
            .keys()
            .next()
            .cloned()
            .ok_or_else(|| Error::invalid_argument("run_command needs a non-empty command document"))?;
        if command.contains_key("$db") {
            return Err(Error::invalid_argument(
                "run_command: the command must not set `$db` (the database does)",
            ));
        }
        Ok(Self { db: db.into(), name, command, criteria })
    }
}

impl Operation for RunCommand {
    type Output = Document;

    fn name(&self) -> &str {
        &self.name
    }

    fn build(&mut self, _: &StreamDescription) -> Result<OpMsgParts> {
        let mut body = self.command.clone();
        body.insert("$db", self.db.clone());
        Ok(OpMsgParts { body, sequences: Vec::new() })
    }

    fn handle_response(&mut self, reply: Document, _: &StreamDescription) -> Result<Document> {
        Ok(reply)
    }

    fn selection_criteria(&self) -> SelectionCriteria {
        self.criteria.clone()
    }
}
