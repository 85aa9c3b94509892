//! `createIndexes` (index-management spec "createIndexes"): builds the index
//! specifications (a name generated from the keys when none is given) and returns the
//! names of the indexes.

use bson::{Bson, Document, doc};

use super::{IndexModel, Namespace, Operation};
use crate::commands::{GenericArguments, OpMsgParts};
use crate::connection::StreamDescription;
use crate::error::{Error, Result};
use crate::options::CreateIndexOptions;

/// The first wire version accepting `commitQuorum` (4.4).
const COMMIT_QUORUM_WIRE_VERSION: i32 = 9;

/// Creates one or more indexes on a collection.
#[derive(Debug, Clone)]
pub struct CreateIndexes {
    ns: Namespace,
    indexes: Vec<IndexModel>,
    options: CreateIndexOptions,
    generic: GenericArguments,
}

impl CreateIndexes {
    /// Creates `indexes` on `ns`; `generic` carries the write concern.
    pub fn new(
        ns: Namespace,
        indexes: Vec<IndexModel>,
        options: CreateIndexOptions,
        generic: GenericArguments,
    ) -> Self {
        Self { ns, indexes, options, generic }
    }

    /// The names of the indexes, in the order given (generated where none was set).
    pub fn index_names(&self) -> Vec<String> {
        self.indexes.iter().map(IndexModel::index_name).collect()
    }
}

impl Operation for CreateIndexes {
    type Output = Vec<String>;

    fn name(&self) -> &str {
        "createIndexes"
    }

    fn build(&mut self, description: &StreamDescription) -> Result<OpMsgParts> {
        if self.indexes.is_empty() {
            return Err(Error::invalid_argument("createIndexes needs at least one index model"));
        }
        let specs: Vec<Bson> = self.indexes.iter().map(|m| Bson::Document(m.to_spec())).collect();
        let mut body = doc! {"createIndexes": self.ns.coll.clone(), "indexes": specs};
        let o = &self.options;
        if let Some(q) = &o.commit_quorum {
            // Index-management spec: drivers MUST raise an error for commitQuorum on
            // servers before 4.4.
            if description.max_wire_version < COMMIT_QUORUM_WIRE_VERSION {
                return Err(Error::new(crate::error::ErrorKind::IncompatibleWireVersion {
                    message: "commitQuorum requires MongoDB 4.4 or later".to_string(),
                }));
            }
            body.insert("commitQuorum", q.clone());
        }
        if let Some(max_time) = o.max_time {
            body.insert("maxTimeMS", crate::options::millis(max_time));
        }
        if let Some(wc) = &self.generic.write_concern {
            body.insert("writeConcern", wc.clone());
        }
        if let Some(c) = &o.comment {
            body.insert("comment", c.clone());
        }
        body.insert("$db", self.ns.db.clone());
        Ok(OpMsgParts { body, sequences: Vec::new() })
    }

    fn handle_response(&mut self, _: Document, _: &StreamDescription) -> Result<Vec<String>> {
        Ok(self.index_names())
    }
}
