//! A command to send (OP_MSG spec, "Sections"): its body, holding `$db`, and its document
//! sequences.

use bson::Document;

use crate::commands::OpMsgParts;
use crate::wire::DocumentSequence;

/// A command to send: the body (kind-0 section, holding `$db`) and document sequences
/// (kind-1 sections).
#[derive(Debug, Clone, PartialEq)]
pub struct CommandMessage {
    /// The command document, `$db` included.
    pub body: Document,
    /// Document sequences, e.g. `documents` of an `insert`.
    pub sequences: Vec<DocumentSequence>,
}

impl CommandMessage {
    /// `body` run against `db` (sets `$db`).
    pub fn new(db: &str, mut body: Document) -> Self {
        body.insert("$db", db);
        Self { body, sequences: Vec::new() }
    }

    /// Adds a document sequence.
    pub fn with_sequence(mut self, identifier: impl Into<String>, documents: Vec<Document>) -> Self {
        self.sequences.push(DocumentSequence { identifier: identifier.into(), documents });
        self
    }

    /// The command name (the body's first key).
    pub fn name(&self) -> Option<&str> {
        self.body.keys().next().map(String::as_str)
    }

    /// The database (`$db`).
    pub fn db(&self) -> Option<&str> {
        self.body.get_str("$db").ok()
    }
}

impl From<OpMsgParts> for CommandMessage {
    fn from(parts: OpMsgParts) -> Self {
        Self {
            body: parts.body,
            sequences: parts
                .sequences
                .into_iter()
                .map(|(identifier, documents)| DocumentSequence { identifier, documents })
                .collect(),
        }
    }
}
