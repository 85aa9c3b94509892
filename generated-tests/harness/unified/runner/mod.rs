//! The runtime of the Unified Test Format runner (`unified-test-format.rst`, "Executing a
//! Test"): a simulated deployment per case (or `MONGODB_URI`'s, see `deployment`),
//! `initialData`, entities, the checks of each operation's result or error
//! ("expectedError"), of the events seen ("expectedEvent") and of the final collection
//! contents (`outcome`). The generated test calls the driver
//! itself, one statement per operation, and hands each result to [`Runner::check`].
//!
//! This file holds the [`Runner`] and its entity map. Below it, with no tie back to it:
//! `convert` (spec values to driver options), `args` ([`Args`]), `outcome` ([`Outcome`]),
//! `observe` (what a client entity observes), `event_lists`, `threads` and `snapshot`.
//! Above it, each an `impl Runner` for one concern: `run` (start and finish, the run
//! loop), `entities` (creating and lending entities), `cursors`, `bucket`, `expect` (results,
//! errors, events and outcome checked), `test_runner_ops`, `events` and `transactions`
//! (the special test operations).

mod args;
mod bucket;
mod convert;
mod cursors;
mod entities;
mod event_lists;
mod events;
mod expect;
mod observe;
mod outcome;
mod run;
mod snapshot;
mod test_runner_ops;
mod threads;
mod transactions;

use std::collections::HashMap;
use std::path::PathBuf;

use bson::{Bson, Document};
use mongo_driver::gridfs::GridFsBucket;
use mongo_driver::sdam::TopologyDescription;
use mongo_driver::session::ClientSession;
use mongo_driver::{Client, Collection, Database};
use spec_codegen::unified::TestFile;
use spec_codegen::unified::model::{Operation, TestCase};

pub use super::deployment::{Clock, Sim};
pub use args::Args;
pub use outcome::Outcome;
pub use snapshot::{snapshot, snapshot_with};

use super::cursor_entities::Iterables;
use super::deployment::TestDeployment;
use super::matching::Entities;
use event_lists::{EventList, event_list_bson};
use observe::ClientEntity;
use threads::Threads;

/// One running case: its file, deployment, entities and saved results.
pub struct Runner {
    path: PathBuf,
    file: TestFile,
    case: usize,
    deployment: TestDeployment,
    /// Fail points set on a real deployment (`MONGODB_URI`), turned off by `finish`.
    fail_points: Vec<(Client, String)>,
    internal: Client,
    clients: HashMap<String, ClientEntity>,
    databases: HashMap<String, Database>,
    collections: HashMap<String, Collection<Document>>,
    /// Session entities not yet ended-and-dropped, by id (lent out during an operation).
    sessions: HashMap<String, ClientSession>,
    /// Each session entity's lsid, kept after the session ends (`$$sessionLsid`).
    lsids: HashMap<String, Document>,
    saved: HashMap<String, Bson>,
    /// GridFS bucket entities (see `bucket.rs`).
    buckets: HashMap<String, GridFsBucket>,
    /// Event list entities (`storeEventsAsEntities`), filled while the case runs.
    event_lists: HashMap<String, EventList>,
    /// Cursor and change-stream entities.
    iterables: Iterables,
    /// Thread entities (`runOnThread`).
    threads: Threads,
    /// Topology descriptions saved by `recordTopologyDescription`.
    topologies: HashMap<String, TopologyDescription>,
}

impl Entities for Runner {
    fn bson(&self, id: &str) -> Option<Bson> {
        self.saved.get(id).cloned().or_else(|| self.event_lists.get(id).map(event_list_bson))
    }
    fn session_lsid(&self, id: &str) -> Option<Document> {
        self.lsids.get(id).cloned()
    }
}

impl Runner {
    /// The deployment the case runs on.
    pub fn deployment(&self) -> &TestDeployment {
        &self.deployment
    }

    /// The running case.
    fn test(&self) -> &TestCase {
        &self.file.tests[self.case]
    }

    /// Operation `i` of the case.
    fn operation(&self, i: usize) -> &Operation {
        &self.test().operations[i]
    }

    /// `file#pointer` of the case, for failure messages.
    fn location(&self) -> String {
        format!("{}#/tests/{}", self.path.display(), self.case)
    }

    /// `file#pointer` of operation `i`, for failure messages.
    fn at_op(&self, i: usize) -> String {
        format!("{}/operations/{i}", self.location())
    }
}
