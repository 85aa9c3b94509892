//! `create` (a collection or view).

use bson::Document;

use super::{Namespace, Operation};
use crate::commands::{Command, CreateCommand, GenericArguments, OpMsgParts};
use crate::connection::StreamDescription;
use crate::error::Result;
use crate::options::CreateCollectionOptions;

/// Creates a collection (or a view, with `view_on`).
#[derive(Debug, Clone)]
pub struct Create {
    ns: Namespace,
    options: CreateCollectionOptions,
    generic: GenericArguments,
}

impl Create {
    /// Creates `ns`.
    pub fn new(ns: Namespace, options: CreateCollectionOptions, generic: GenericArguments) -> Self {
        Self { ns, options, generic }
    }
}

impl Operation for Create {
    type Output = ();

    fn name(&self) -> &str {
        "create"
    }

    fn build(&mut self, _: &StreamDescription) -> Result<OpMsgParts> {
        let o = &self.options;
        let mut c = CreateCommand::new(&self.ns.db, &self.ns.coll);
        if let Some(v) = o.capped {
            c = c.capped(v);
        }
        if let Some(v) = o.size {
            c = c.size(v);
        }
        if let Some(v) = o.max {
            c = c.max(v);
        }
        if let Some(v) = &o.validator {
            c = c.validator(v.clone());
        }
        if let Some(v) = &o.validation_level {
            c = c.validation_level(v.clone());
        }
        if let Some(v) = &o.validation_action {
            c = c.validation_action(v.clone());
        }
        if let Some(v) = &o.view_on {
            c = c.view_on(v.clone());
        }
        if let Some(v) = &o.pipeline {
            c = c.pipeline(v.clone());
        }
        if let Some(v) = &o.collation {
            c = c.collation(v.clone());
        }
        if let Some(v) = &o.timeseries {
            c = c.timeseries(v.clone());
        }
        if let Some(v) = o.expire_after_seconds {
            c = c.expire_after_seconds(v);
        }
        if let Some(v) = &o.clustered_index {
            c = c.clustered_index(v.clone());
        }
        if let Some(v) = &o.change_stream_pre_and_post_images {
            c = c.change_stream_pre_and_post_images(v.clone());
        }
        c.with_generic_arguments(self.generic.clone()).to_op_msg()
    }

    fn handle_response(&mut self, _: Document, _: &StreamDescription) -> Result<()> {
        Ok(())
    }
}
