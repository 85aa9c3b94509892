//! `dropIndexes` (index-management spec "dropIndex" and "dropIndexes"): one index by name,
//! or every index but `_id_` (`"*"`).

use bson::{Document, doc};

use super::{Namespace, Operation};
use crate::commands::{GenericArguments, OpMsgParts};
use crate::connection::StreamDescription;
use crate::error::Result;
use crate::options::DropIndexOptions;

/// Drops one index of a collection, or all of them (`"*"`).
#[derive(Debug, Clone)]
pub struct DropIndexes {
    ns: Namespace,
    index: String,
    options: DropIndexOptions,
    generic: GenericArguments,
}

impl DropIndexes {
    /// Drops index `index` (a name, or `"*"` for all but `_id_`) of `ns`; `generic` carries
    /// the write concern.
    pub fn new(
        ns: Namespace,
        index: impl Into<String>,
        options: DropIndexOptions,
        generic: GenericArguments,
    ) -> Self {
        Self { ns, index: index.into(), options, generic }
    }
}

impl Operation for DropIndexes {
    type Output = ();

    fn name(&self) -> &str {
        "dropIndexes"
    }

    fn build(&mut self, _: &StreamDescription) -> Result<OpMsgParts> {
        let mut body = doc! {"dropIndexes": self.ns.coll.clone(), "index": self.index.clone()};
        if let Some(max_time) = self.options.max_time {
            body.insert("maxTimeMS", crate::options::millis(max_time));
        }
        if let Some(wc) = &self.generic.write_concern {
            body.insert("writeConcern", wc.clone());
        }
        if let Some(c) = &self.options.comment {
            body.insert("comment", c.clone());
        }
        body.insert("$db", self.ns.db.clone());
        Ok(OpMsgParts { body, sequences: Vec::new() })
    }

    fn handle_response(&mut self, _: Document, _: &StreamDescription) -> Result<()> {
        Ok(())
    }
}
