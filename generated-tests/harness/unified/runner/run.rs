//! The run loop of one case (`unified-test-format.rst`, "Executing a Test"): the deployment
//! started, `initialData` written, the file's `createEntities` created; after the
//! operations (which the generated test runs itself), `expectEvents` and `outcome`
//! checked, the snapshot recorded, fail points turned off, and nothing left checked out
//! (sessions spec prose test 10).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bson::{Document, doc};
use mongo_driver::Client;
use mongo_driver::event::command::CommandEvent;
use mongo_driver::options::{ReadPreference, WriteConcern};
use mongo_sim::ServerVersion;
use spec_codegen::unified::TestFile;
use spec_codegen::unified::model::CollectionData;

use super::super::deployment::{Clock, Placement, Sim, Target};
use super::super::failure::{FailureKind, fail};
use super::super::leaks;
use super::Runner;
use super::convert::ejson_doc;
use super::observe::lock;
use super::snapshot::snapshot_with;

impl Runner {
    /// Loads case `case` of the file at `path`, starts the deployment, inserts the
    /// `initialData` and creates the file's entities. `None`: the case is skipped.
    /// The deployment is the simulated `sim` at `version` (the generator's choice), or the
    /// one `MONGODB_URI` names (see [`super::super::deployment`]).
    pub async fn start(path: PathBuf, case: usize, sim: Sim, version: ServerVersion) -> Option<Self> {
        Self::start_on(path, case, sim, version, Target::from_env()).await
    }

    /// [`Runner::start`] on the test-controlled clock ([`Clock::Virtual`]); the test must run
    /// on a current-thread runtime (`#[tokio::test]`).
    pub async fn start_virtual(path: PathBuf, case: usize, sim: Sim, version: ServerVersion) -> Option<Self> {
        let file = spec_codegen::unified::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let placement =
            Placement { sim, version, target: Target::from_env(), auth: false, clock: Clock::Virtual };
        Self::start_file(path, file, case, placement).await
    }

    /// [`Runner::start`] for a case requiring authentication (`runOnRequirements.auth`): the
    /// simulated deployment has a user, and every client's URI carries its credentials.
    pub async fn start_with_auth(
        path: PathBuf,
        case: usize,
        sim: Sim,
        version: ServerVersion,
    ) -> Option<Self> {
        Self::start_on_with(path, case, sim, version, Target::from_env(), true).await
    }

    /// [`Runner::start`] on an explicit target.
    pub async fn start_on(
        path: PathBuf,
        case: usize,
        sim: Sim,
        version: ServerVersion,
        target: Target,
    ) -> Option<Self> {
        Self::start_on_with(path, case, sim, version, target, false).await
    }

    /// [`Runner::start`] for case `case` of a file in another format (e.g. CRUD legacy-v1)
    /// that `load` translates into a unified test file (see `spec_codegen::crud_v1`).
    pub async fn start_translated(
        load: fn(&Path, usize) -> Result<TestFile, spec_codegen::SpecError>,
        path: PathBuf,
        case: usize,
        sim: Sim,
        version: ServerVersion,
    ) -> Option<Self> {
        let file = load(&path, case).unwrap_or_else(|e| panic!("{e}"));
        Self::start_file(path, file, case, Placement::real_clock(sim, version, Target::from_env(), false))
            .await
    }

    /// [`Runner::start_on`], with a simulated deployment requiring authentication when `auth`.
    pub async fn start_on_with(
        path: PathBuf,
        case: usize,
        sim: Sim,
        version: ServerVersion,
        target: Target,
        auth: bool,
    ) -> Option<Self> {
        let file = spec_codegen::unified::load(&path).unwrap_or_else(|e| panic!("{e}"));
        Self::start_file(path, file, case, Placement::real_clock(sim, version, target, auth)).await
    }

    /// [`Runner::start`] for case `case` of a Transactions-format ("legacy") file, which
    /// the generator's translator turns into a unified file (`spec_codegen::legacy`).
    pub async fn start_legacy(path: PathBuf, case: usize, sim: Sim, version: ServerVersion) -> Option<Self> {
        let file = spec_codegen::legacy::load_case(&path, case).unwrap_or_else(|e| panic!("{e}"));
        Self::start_file(path, file, case, Placement::real_clock(sim, version, Target::from_env(), false))
            .await
    }

    /// [`Runner::start_on_with`] for a file already loaded from `path`, placed as `placement`.
    async fn start_file(path: PathBuf, file: TestFile, case: usize, placement: Placement) -> Option<Self> {
        let (deployment, internal) = super::super::deployment::connect(&path, &file, case, placement).await?;
        let mut runner = Self {
            path,
            file,
            case,
            deployment,
            fail_points: Vec::new(),
            internal,
            clients: HashMap::new(),
            databases: HashMap::new(),
            collections: HashMap::new(),
            sessions: HashMap::new(),
            lsids: HashMap::new(),
            saved: HashMap::new(),
            buckets: HashMap::new(),
            event_lists: HashMap::new(),
            iterables: Default::default(),
            threads: Default::default(),
            topologies: HashMap::new(),
        };
        runner.initial_data().await;
        let entities = runner.file.create_entities.clone().map(|e| e.0).unwrap_or_default();
        runner.create_entities(&entities, "/createEntities").await;
        Some(runner)
    }

    /// `initialData`: each collection dropped, created (with its `createOptions`) and
    /// filled with a majority write concern, through the internal client.
    async fn initial_data(&self) {
        let Some(data) = self.file.initial_data.clone() else { return };
        for (i, CollectionData { collection_name, database_name, create_options, documents }) in
            data.0.into_iter().enumerate()
        {
            let pointer = format!("/initialData/{i}");
            let db = self.internal.database(&database_name);
            let coll =
                db.collection::<Document>(&collection_name).with_write_concern(WriteConcern::majority());
            if let Err(e) = coll.drop().await {
                panic!("{}{pointer}: initialData: drop failed: {e}", self.path.display());
            }
            let mut create = doc! {"create": collection_name.clone()};
            if let Some(options) = &create_options {
                create.extend(ejson_doc(&self.path, &format!("{pointer}/createOptions"), options));
            }
            create.insert("writeConcern", doc! {"w": "majority"});
            if let Err(e) = db.run_command(create).await {
                panic!("{}#{pointer}: initialData: create failed: {e}", self.path.display());
            }
            if !documents.is_empty() {
                let docs: Vec<Document> = documents
                    .iter()
                    .enumerate()
                    .map(|(j, d)| ejson_doc(&self.path, &format!("{pointer}/documents/{j}"), d))
                    .collect();
                if let Err(e) = coll.insert_many(docs).await {
                    panic!("{}#{pointer}: initialData: insert failed: {e}", self.path.display());
                }
            }
        }
    }

    /// After the operations: the expected events of each client, then the `outcome`,
    /// then the snapshot `name` of every command event of every client (see
    /// [`snapshot_with`]).
    pub async fn finish(self, name: &str) {
        self.finish_with(Some(name)).await
    }

    /// [`Runner::finish`] of a legacy-format case: first waits until the commands the
    /// sessions' ending sent (an open transaction's `abortTransaction`) have completed, then
    /// checks; records the snapshot `name` only when `record` (the first deployment a case
    /// runs on).
    pub async fn finish_legacy(self, name: &str, record: bool) {
        self.settle().await;
        self.finish_with(record.then_some(name)).await
    }

    /// Waits (up to 5 s) until every client's started commands have completed and no new
    /// one started for a few milliseconds.
    async fn settle(&self) {
        let pending = |runner: &Self| -> (usize, bool) {
            let mut total = 0;
            let mut open = false;
            for client in runner.clients.values() {
                let events = lock(&client.all);
                total += events.len();
                let started = events.iter().filter(|e| matches!(e, CommandEvent::Started(_))).count();
                open |= started * 2 != events.len();
            }
            (total, open)
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let mut last = pending(self);
        loop {
            tokio::time::sleep(Duration::from_millis(15)).await;
            let now = pending(self);
            if (now == last && !now.1) || std::time::Instant::now() > deadline {
                break;
            }
            last = now;
        }
    }

    /// [`Runner::finish`], recording the snapshot `name` when given.
    pub async fn finish_with(mut self, name: Option<&str>) {
        self.check_expected_events();
        self.iterables.close_all().await;
        self.check_outcome().await;
        if let Some(name) = name.filter(|_| self.snapshots()) {
            // A maxTimeMS derived from timeoutMS is the time remaining: it varies (files that
            // never set timeoutMS keep their maxTimeMS values).
            let derived = name.starts_with("client_side_operations_timeout::")
                && std::fs::read_to_string(&self.path).is_ok_and(|text| text.contains("\"timeoutMS\""));
            crate::snapshot(name, &snapshot_with(&self.command_logs(), derived));
        }
        for (client, fail_point) in &self.fail_points {
            let off = doc! {"configureFailPoint": fail_point.as_str(), "mode": "off"};
            let done =
                client.database("admin").run_command(off).selection_criteria(ReadPreference::primary()).await;
            if let Err(e) = done {
                eprintln!("{}: turning fail point {fail_point} off failed: {e}", self.path.display());
            }
        }
        self.assert_nothing_checked_out().await;
        for client in self.clients.values() {
            client.client.shutdown().await;
        }
        self.internal.shutdown().await;
    }

    /// Whether the case records a snapshot. The snapshot records the simulator's replies; a
    /// real deployment's differ. Operations on threads interleave differently from run to
    /// run: no snapshot then either. A case that expects a client-side timeout sends as
    /// many attempts as fit before the wall-clock deadline, which varies with the machine's
    /// load: no snapshot either.
    fn snapshots(&self) -> bool {
        let times_out = self
            .test()
            .operations
            .iter()
            .any(|op| op.expect_error.as_ref().is_some_and(|e| e.is_timeout_error == Some(true)));
        self.deployment.is_simulated() && !self.threads.ran() && !times_out
    }

    /// Every command event of every client, by client id in order.
    fn command_logs(&self) -> Vec<(String, Vec<CommandEvent>)> {
        let mut ids: Vec<&String> = self.clients.keys().collect();
        ids.sort();
        ids.into_iter().map(|id| (id.clone(), lock(&self.clients[id].all).clone())).collect()
    }

    /// Sessions spec prose test 10, after every case: ends every session entity (an open
    /// transaction is aborted), closes the cursor entities, then fails unless every client
    /// (and the runner's own) has no session and no connection checked out.
    async fn assert_nothing_checked_out(&mut self) {
        for (_, mut session) in self.sessions.drain() {
            session.end_session();
        }
        self.iterables.close_all().await;
        let mut ids: Vec<&String> = self.clients.keys().collect();
        ids.sort();
        let mut clients: Vec<(&str, &Client)> =
            ids.into_iter().map(|id| (id.as_str(), &self.clients[id].client)).collect();
        clients.push(("(runner's internal client)", &self.internal));
        let leaks = leaks::checked_out(&clients, Duration::from_secs(5)).await;
        if !leaks.is_empty() {
            fail(
                FailureKind::Mismatch,
                self.location(),
                format!("after the case (sessions spec prose test 10): {}", leaks::describe(&leaks)),
            );
        }
    }
}
