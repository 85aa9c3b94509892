//! The test runner's own operations (`unified-test-format.rst` "Special Test Operations":
//! `failPoint`, `createEntities`, `assertSessionDirty`/`NotDirty`,
//! `assertSameLsidOnLastTwoCommands`/`assertDifferentLsidOnLastTwoCommands`,
//! `assertCollectionExists`/`NotExists`, `assertIndexExists`/`NotExists`,
//! `assertNumberConnectionsCheckedOut`), and the arguments of an operation.

use std::sync::atomic::Ordering;

use bson::{Bson, Document, doc};
use mongo_driver::event::command::CommandEvent;
use mongo_driver::options::ReadPreference;
use spec_codegen::unified::model::Entity;

use super::super::failure::{FailureKind, ensure, fail};
use super::Runner;
use super::args::Args;
use super::observe::lock;

impl Runner {
    /// Stands for an operation the generator could not emit (the case is ignored).
    pub fn not_generated(&self, reason: &str) {
        fail(FailureKind::CannotRun, self.location(), reason);
    }

    /// The arguments of operation `i`.
    pub fn op(&self, i: usize) -> Args {
        let pointer = format!("/tests/{}/operations/{i}/arguments", self.case);
        Args::new(&self.path, pointer, self.operation(i).arguments.as_ref())
    }

    /// `failPoint` (special test operation): runs the `configureFailPoint` command on the
    /// primary through the named client entity. A simulated deployment lives only for this
    /// case; on a real one, [`Runner::finish`] turns the fail point off.
    pub async fn fail_point(&mut self, i: usize) {
        let args = self.op(i);
        let client_id = args.string("client");
        let command = args.doc("failPoint");
        let Some(client) = self.clients.get(&client_id) else {
            panic!("{}#{}: client `{client_id}` is not defined", self.path.display(), args.pointer)
        };
        let name = command.get_str("configureFailPoint").unwrap_or_default().to_string();
        if let Err(e) = client
            .client
            .database("admin")
            .run_command(command)
            .selection_criteria(ReadPreference::primary())
            .await
        {
            panic!("{}#{}: configureFailPoint failed: {e}", self.path.display(), args.pointer);
        }
        if !self.deployment.is_simulated() {
            self.fail_points.push((client.client.clone(), name));
        }
    }

    /// `assertSessionDirty` / `assertSessionNotDirty` (special test operations, operation `i`).
    pub fn assert_session_dirty(&self, i: usize, dirty: bool) {
        let args = self.op(i);
        let id = args.string("session");
        let Some(session) = self.sessions.get(&id) else {
            panic!("{}#{}: session entity `{id}` is not defined", self.path.display(), args.pointer)
        };
        ensure(session.is_dirty() == dirty, &self.at_op(i), || {
            format!("session `{id}`: expected dirty {dirty}")
        });
    }

    /// `assertSameLsidOnLastTwoCommands` (`same`) / `assertDifferentLsidOnLastTwoCommands`
    /// (special test operations, operation `i`): the lsids of the last two command started
    /// events the client observed.
    pub fn assert_lsid_on_last_two_commands(&self, i: usize, same: bool) {
        let args = self.op(i);
        let here = self.at_op(i);
        let id = args.string("client");
        let Some(client) = self.clients.get(&id) else { panic!("{here}: client `{id}` is not defined") };
        let events = lock(&client.events);
        let lsids: Vec<Option<&Bson>> = events
            .iter()
            .filter_map(|e| match e {
                CommandEvent::Started(s) => Some(s.command.get("lsid")),
                _ => None,
            })
            .collect();
        let [.., Some(a), Some(b)] = lsids.as_slice() else {
            panic!(
                "{here}: the last two command started events of `{id}` do not both carry an lsid: {lsids:?}"
            )
        };
        if same {
            ensure(a == b, &here, || format!("the last two commands should share an lsid: {a} vs {b}"));
        } else {
            ensure(a != b, &here, || format!("the last two commands should have different lsids: {a}"));
        }
    }

    /// `assertNumberConnectionsCheckedOut` (special test operation `i`): the connections
    /// checked out of the client's pools (CMAP events) equal `connections`.
    pub fn assert_number_connections_checked_out(&self, i: usize) {
        let args = self.op(i);
        let id = args.string("client");
        let expected = args.i64("connections");
        let actual = self.client_entity(i, &id).checked_out.load(Ordering::SeqCst);
        if actual != expected {
            fail(
                FailureKind::Mismatch,
                self.at_op(i),
                format!("expected {expected} connections checked out of `{id}`, found {actual}"),
            );
        }
    }

    /// `createEntities` (operation `i`): creates its entities as the file's are created.
    pub async fn create_entities_op(&mut self, i: usize) {
        let pointer = format!("/tests/{}/operations/{i}/arguments/entities", self.case);
        let value = self.test().operations[i].arguments.as_ref().and_then(|a| a.get("entities")).cloned();
        let entities: Vec<Entity> = match value.map(serde_json::from_value) {
            Some(Ok(entities)) => entities,
            Some(Err(e)) => fail(
                FailureKind::InvalidArgument,
                format!("{}#{pointer}", self.path.display()),
                e.to_string(),
            ),
            None => {
                fail(FailureKind::InvalidArgument, format!("{}#{pointer}", self.path.display()), "missing")
            }
        };
        self.create_entities(&entities, &pointer).await;
    }

    /// `assertCollectionExists` / `assertCollectionNotExists` (operation `i`), through the
    /// internal client's `listCollections`.
    pub async fn assert_collection_exists(&self, i: usize, exists: bool) {
        let args = self.op(i);
        let here = self.at_op(i);
        let (db, coll) = (args.string("databaseName"), args.string("collectionName"));
        let names = self
            .internal
            .database(&db)
            .list_collection_names()
            .filter(doc! {"name": coll.clone()})
            .await
            .unwrap_or_else(|e| {
                fail(
                    FailureKind::OperationError,
                    here.clone(),
                    format!("listCollections on `{db}` failed: {e}"),
                )
            });
        if names.contains(&coll) != exists {
            let verb = if exists { "does not exist" } else { "exists" };
            fail(FailureKind::Mismatch, here, format!("collection `{db}.{coll}` {verb}; found {names:?}"));
        }
    }

    /// `assertIndexExists` / `assertIndexNotExists` (operation `i`), through the internal
    /// client's `listIndexes` (a collection that does not exist has no indexes).
    pub async fn assert_index_exists(&self, i: usize, exists: bool) {
        let args = self.op(i);
        let here = self.at_op(i);
        let (db, coll, index) =
            (args.string("databaseName"), args.string("collectionName"), args.string("indexName"));
        let names = match self.internal.database(&db).collection::<Document>(&coll).list_index_names().await {
            Ok(names) => names,
            Err(e) if e.code() == Some(26) => Vec::new(),
            Err(e) => {
                fail(FailureKind::OperationError, here, format!("listIndexes on `{db}.{coll}` failed: {e}"))
            }
        };
        if names.contains(&index) != exists {
            let verb = if exists { "does not exist" } else { "exists" };
            fail(
                FailureKind::Mismatch,
                here,
                format!("index `{index}` on `{db}.{coll}` {verb}; found {names:?}"),
            );
        }
    }
}
