//! `renameCollection` (run on `admin`), behind `Collection::rename`.

use bson::{Document, doc};

use super::{Namespace, Operation};
use crate::commands::{GenericArguments, OpMsgParts};
use crate::connection::StreamDescription;
use crate::error::Result;

/// Renames a collection (within or across databases).
#[derive(Debug, Clone)]
pub struct RenameCollection {
    from: Namespace,
    to: Namespace,
    drop_target: Option<bool>,
    generic: GenericArguments,
}

impl RenameCollection {
    /// Renames `from` to `to`; `drop_target` replaces an existing target.
    pub fn new(from: Namespace, to: Namespace, drop_target: Option<bool>, generic: GenericArguments) -> Self {
        Self { from, to, drop_target, generic }
    }
}

impl Operation for RenameCollection {
    type Output = ();

    fn name(&self) -> &str {
        "renameCollection"
    }

    fn build(&mut self, _: &StreamDescription) -> Result<OpMsgParts> {
        let mut body = doc! {
            "renameCollection": format!("{}.{}", self.from.db, self.from.coll),
            "to": format!("{}.{}", self.to.db, self.to.coll),
        };
        if let Some(d) = self.drop_target {
            body.insert("dropTarget", d);
        }
        if let Some(wc) = &self.generic.write_concern {
            body.insert("writeConcern", wc.clone());
        }
        if let Some(c) = &self.generic.comment {
            body.insert("comment", c.clone());
        }
        body.insert("$db", "admin");
        Ok(OpMsgParts { body, sequences: Vec::new() })
    }

    fn handle_response(&mut self, _: Document, _: &StreamDescription) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_names_both_namespaces_on_admin() {
        let ns = |c: &str| Namespace { db: "d".into(), coll: c.into() };
        let mut op = RenameCollection::new(ns("a"), ns("b"), Some(true), GenericArguments::default());
        let parts = op.build(&crate::operation::tests::description()).map(|p| p.body);
        assert_eq!(
            parts.ok(),
            Some(doc! {"renameCollection": "d.a", "to": "d.b", "dropTarget": true, "$db": "admin"})
        );
    }
}
