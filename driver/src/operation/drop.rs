//! `drop` (a collection). The caller decides whether `NamespaceNotFound` is an error.

use bson::Document;

use super::{Namespace, Operation};
use crate::commands::{Command, DropCommand, GenericArguments, OpMsgParts};
use crate::connection::StreamDescription;
use crate::error::Result;

/// Drops a collection.
#[derive(Debug, Clone)]
pub struct DropCollection {
    ns: Namespace,
    generic: GenericArguments,
}

impl DropCollection {
    /// Drops `ns`.
    pub fn new(ns: Namespace, generic: GenericArguments) -> Self {
        Self { ns, generic }
    }
}

impl Operation for DropCollection {
    type Output = ();

    fn name(&self) -> &str {
        "drop"
    }

    fn build(&mut self, _: &StreamDescription) -> Result<OpMsgParts> {
        DropCommand::new(&self.ns.db, &self.ns.coll).with_generic_arguments(self.generic.clone()).to_op_msg()
    }

    fn handle_response(&mut self, _: Document, _: &StreamDescription) -> Result<()> {
        Ok(())
    }
}
