//! Driver sessions prose tests 4, 5 and 6 (`seeds/sessions-tests-2022.rst`) repeated, as they
//! ask, "for all methods that take a session parameter": every public action with a
//! `.session(…)` setter sends the explicit session's `lsid`, or an implicit one without it (4);
//! refuses a session of another client (5) and an ended session (6) before sending anything.
//! Prose 11 runs on a standalone, a replica set and a sharded cluster, for each read
//! preference mode.
//!
//! The list of actions is not trusted to stay complete by hand: `every_session_action_is_covered`
//! reads the driver's source for each type that has a `session` setter (written by hand or by
//! the `session_setter!` macro) and fails, naming it, when one is missing from [`COVERED`].

use std::collections::BTreeSet;
use std::path::Path;

use bson::{Document, doc};
use futures::TryStreamExt;
use mongo_driver::coll::WriteModel;
use mongo_driver::error::ErrorKind;
use mongo_driver::index_management::IndexModel;
use mongo_driver::options::WriteConcern;
use mongo_driver::selection::ReadPreference;
use mongo_driver::{ClientSession, Result};
use mongo_sim::Config;

mod common;

use common::Fixture;

/// Each action type with a `session` setter, and the public methods that return it.
const COVERED: &[(&str, &[&str])] = &[
    ("InsertOne", &["Collection::insert_one"]),
    ("InsertMany", &["Collection::insert_many"]),
    ("UpdateAction", &["Collection::update_one", "Collection::update_many"]),
    ("ReplaceOne", &["Collection::replace_one"]),
    ("DeleteAction", &["Collection::delete_one", "Collection::delete_many"]),
    ("Find", &["Collection::find"]),
    ("FindOne", &["Collection::find_one"]),
    (
        "FindOneAndModify",
        &[
            "Collection::find_one_and_update",
            "Collection::find_one_and_replace",
            "Collection::find_one_and_delete",
        ],
    ),
    ("DistinctAction", &["Collection::distinct"]),
    ("CountDocuments", &["Collection::count_documents"]),
    ("CountAction", &["Collection::count"]),
    ("DropCollection", &["Collection::drop"]),
    ("RenameCollection", &["Collection::rename"]),
    ("BulkWrite", &["Collection::bulk_write"]),
    ("Aggregate", &["Collection::aggregate", "Database::aggregate"]),
    ("CreateIndex", &["Collection::create_index"]),
    ("CreateIndexes", &["Collection::create_indexes"]),
    ("DropIndex", &["Collection::drop_index", "Collection::drop_indexes"]),
    ("ListIndexes", &["Collection::list_indexes"]),
    ("ListIndexNames", &["Collection::list_index_names"]),
    ("RunCommand", &["Database::run_command"]),
    ("CreateCollection", &["Database::create_collection"]),
    ("ListCollections", &["Database::list_collections"]),
    ("ListCollectionNames", &["Database::list_collection_names"]),
    ("ListDatabases", &["Client::list_databases"]),
    ("ListDatabaseNames", &["Client::list_database_names"]),
    ("Watch", &["Client::watch", "Database::watch", "Collection::watch"]),
];

/// Runs `$action`, with `.session(s)` when `$s` is `Some(s)`, dropping its result.
macro_rules! run {
    ($s:expr, $action:expr) => {
        match $s {
            Some(s) => $action.session(s).await.map(drop),
            None => $action.await.map(drop),
        }
    };
}

/// Calls `method` (a name from [`COVERED`]) once on `f`'s client; `k` makes names unique per
/// call. Returns the name of the command the method sends.
async fn call(f: &Fixture, method: &str, k: usize, s: Option<&mut ClientSession>) -> Result<&'static str> {
    let client = &f.client;
    let db = client.database("session-args");
    let coll = db.collection::<Document>("coll");
    let index = || IndexModel::new(doc! { "x": 1 });
    Ok(match method {
        "Collection::insert_one" => run!(s, coll.insert_one(doc! {})).map(|_| "insert")?,
        "Collection::insert_many" => run!(s, coll.insert_many([doc! {}])).map(|_| "insert")?,
        "Collection::update_one" => {
            run!(s, coll.update_one(doc! {}, doc! {"$set": {"u": 1}})).map(|_| "update")?
        }
        "Collection::update_many" => {
            run!(s, coll.update_many(doc! {}, doc! {"$set": {"u": 2}})).map(|_| "update")?
        }
        "Collection::replace_one" => {
            run!(s, coll.replace_one(doc! {"r": 1}, doc! {"r": 1})).map(|_| "update")?
        }
        "Collection::delete_one" => run!(s, coll.delete_one(doc! {"none": 1})).map(|_| "delete")?,
        "Collection::delete_many" => run!(s, coll.delete_many(doc! {"none": 1})).map(|_| "delete")?,
        "Collection::find" => run!(s, coll.find(doc! {})).map(|_| "find")?,
        "Collection::find_one" => run!(s, coll.find_one(doc! {})).map(|_| "find")?,
        "Collection::find_one_and_update" => {
            run!(s, coll.find_one_and_update(doc! {}, doc! {"$inc": {"n": 1}})).map(|_| "findAndModify")?
        }
        "Collection::find_one_and_replace" => {
            run!(s, coll.find_one_and_replace(doc! {"none": 1}, doc! {})).map(|_| "findAndModify")?
        }
        "Collection::find_one_and_delete" => {
            run!(s, coll.find_one_and_delete(doc! {"none": 1})).map(|_| "findAndModify")?
        }
        "Collection::distinct" => run!(s, coll.distinct("x", doc! {})).map(|_| "distinct")?,
        "Collection::count_documents" => run!(s, coll.count_documents(doc! {})).map(|_| "aggregate")?,
        "Collection::count" => run!(s, coll.count(doc! {})).map(|_| "count")?,
        "Collection::drop" => {
            run!(s, db.collection::<Document>(&format!("drop{k}")).drop()).map(|_| "drop")?
        }
        "Collection::rename" => {
            let from = db.collection::<Document>(&format!("from{k}"));
            // The collection to rename exists first (a separate command, outside the session).
            from.insert_one(doc! {}).await?;
            run!(s, from.rename(&format!("to{k}"))).map(|_| "renameCollection")?
        }
        "Collection::bulk_write" => {
            run!(s, coll.bulk_write([WriteModel::InsertOne { document: doc! {} }])).map(|_| "insert")?
        }
        "Collection::aggregate" => run!(s, coll.aggregate([doc! {"$match": {}}])).map(|_| "aggregate")?,
        "Database::aggregate" => {
            run!(s, db.aggregate([doc! {"$listLocalSessions": {}}])).map(|_| "aggregate")?
        }
        "Collection::create_index" => run!(s, coll.create_index(index())).map(|_| "createIndexes")?,
        "Collection::create_indexes" => run!(s, coll.create_indexes([index()])).map(|_| "createIndexes")?,
        "Collection::drop_index" => {
            let named = db.collection::<Document>(&format!("idx{k}"));
            // The index to drop exists first (a separate command, outside the session).
            named.create_index(index()).await?;
            run!(s, named.drop_index("x_1")).map(|_| "dropIndexes")?
        }
        "Collection::drop_indexes" => run!(s, coll.drop_indexes()).map(|_| "dropIndexes")?,
        "Collection::list_indexes" => run!(s, coll.list_indexes()).map(|_| "listIndexes")?,
        "Collection::list_index_names" => run!(s, coll.list_index_names()).map(|_| "listIndexes")?,
        "Database::run_command" => run!(s, db.run_command(doc! {"ping": 1})).map(|_| "ping")?,
        "Database::create_collection" => {
            run!(s, db.create_collection(&format!("made{k}"))).map(|_| "create")?
        }
        "Database::list_collections" => run!(s, db.list_collections()).map(|_| "listCollections")?,
        "Database::list_collection_names" => {
            run!(s, db.list_collection_names()).map(|_| "listCollections")?
        }
        "Client::list_databases" => run!(s, client.list_databases()).map(|_| "listDatabases")?,
        "Client::list_database_names" => run!(s, client.list_database_names()).map(|_| "listDatabases")?,
        "Client::watch" => run!(s, client.watch()).map(|_| "aggregate")?,
        "Database::watch" => run!(s, db.watch()).map(|_| "aggregate")?,
        "Collection::watch" => run!(s, coll.watch()).map(|_| "aggregate")?,
        other => panic!("no call written for {other}: add it to `call`"),
    })
}

fn lsid_of_last(f: &Fixture, command: &str) -> Option<Document> {
    let started = f.started(command);
    let last = started.last().unwrap_or_else(|| panic!("no {command} was sent"));
    last.command.get_document("lsid").ok().cloned()
}

/// Prose 4: with a session, its `lsid`; without, an implicit one (never the explicit one).
#[tokio::test]
async fn explicit_and_implicit_session_arguments_for_every_method() {
    let f = Fixture::start(Config::replica_set(1), "heartbeatFrequencyMS=60000").await;
    f.client.database("session-args").collection::<Document>("coll").insert_one(doc! {"x": 1}).await.unwrap();
    let mut s = f.client.start_session().await.unwrap();
    let id = s.id().clone();
    for (k, method) in COVERED.iter().flat_map(|(_, methods)| methods.iter()).enumerate() {
        let command = call(&f, method, 2 * k, Some(&mut s)).await.unwrap_or_else(|e| panic!("{method}: {e}"));
        assert_eq!(lsid_of_last(&f, command).as_ref(), Some(&id), "{method} with an explicit session");
        let command = call(&f, method, 2 * k + 1, None).await.unwrap_or_else(|e| panic!("{method}: {e}"));
        let implicit =
            lsid_of_last(&f, command).unwrap_or_else(|| panic!("{method} without a session has an lsid"));
        assert_ne!(implicit, id, "{method} without a session uses an implicit one");
    }
}

/// Prose 5 and 6: a session started from another client, or an ended one, is refused with an
/// invalid-argument error and nothing is sent.
#[tokio::test]
async fn foreign_and_ended_sessions_are_refused_by_every_method() {
    let f = Fixture::start(Config::replica_set(1), "heartbeatFrequencyMS=60000").await;
    let other = Fixture::start(Config::replica_set(1), "heartbeatFrequencyMS=60000").await;
    let mut foreign = other.client.start_session().await.unwrap();
    let mut ended = f.client.start_session().await.unwrap();
    ended.end_session();
    for (k, method) in COVERED.iter().flat_map(|(_, methods)| methods.iter()).enumerate() {
        for (which, session) in [("another client's", &mut foreign), ("an ended", &mut ended)] {
            f.clear();
            let error = call(&f, method, k, Some(session)).await.expect_err(method);
            assert!(
                matches!(*error.kind, ErrorKind::InvalidArgument { .. }),
                "{method} with {which} session: {error}"
            );
            let sent: Vec<String> = f.all_started().into_iter().map(|e| e.command_name).collect();
            // The set-up command of drop_index or rename, sent before, outside the session.
            let set_up = match *method {
                "Collection::drop_index" => Some("createIndexes"),
                "Collection::rename" => Some("insert"),
                _ => None,
            };
            assert!(
                sent.iter().all(|c| Some(c.as_str()) == set_up || c == "killCursors"),
                "{method} with {which} session sent {sent:?}"
            );
        }
    }
}

/// Prose 11: for every combination of topology and read preference mode, `find` and its
/// `getMore` send the same non-zero implicit `lsid`.
#[tokio::test]
async fn find_and_get_more_send_the_same_lsid_on_every_topology_and_read_preference() {
    let topologies = [
        ("standalone", Config::standalone()),
        ("replica set", Config::replica_set(3)),
        ("sharded", Config::sharded(2, 3)),
    ];
    for (topology, config) in topologies {
        let f = Fixture::start(config, "heartbeatFrequencyMS=500").await;
        let coll = f.client.database("session-args").collection::<Document>("lsid11");
        let docs = [doc! {"_id": 1}, doc! {"_id": 2}, doc! {"_id": 3}];
        coll.insert_many(docs).write_concern(WriteConcern::majority()).await.unwrap();
        let modes = [
            ReadPreference::primary(),
            ReadPreference::primary_preferred(),
            ReadPreference::secondary(),
            ReadPreference::secondary_preferred(),
            ReadPreference::nearest(),
        ];
        for mode in modes {
            let what = format!("{topology}, {mode:?}");
            f.clear();
            let cursor = coll.clone().with_read_preference(mode).find(doc! {}).batch_size(2).await;
            let all: Vec<Document> = cursor
                .unwrap_or_else(|e| panic!("{what}: find: {e}"))
                .try_collect()
                .await
                .unwrap_or_else(|e| panic!("{what}: getMore: {e}"));
            assert_eq!(all.len(), 3, "{what}");
            let find = lsid_of_last(&f, "find").unwrap_or_else(|| panic!("{what}: find has an lsid"));
            assert!(find.get("id").is_some(), "{what}: a non-empty lsid {find}");
            let get_more = lsid_of_last(&f, "getMore");
            assert_eq!(get_more.as_ref(), Some(&find), "{what}: getMore sends the find's lsid");
        }
    }
}

/// Every type in the driver's source with a `session` setter is in [`COVERED`].
#[test]
fn every_session_action_is_covered() {
    let found = session_actions(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(found.len() >= 10, "the scan found too little to trust: {found:?}");
    let covered: BTreeSet<&str> = COVERED.iter().map(|(t, _)| *t).collect();
    let missing: Vec<&String> = found.iter().filter(|t| !covered.contains(t.as_str())).collect();
    assert!(missing.is_empty(), "actions with a session setter the prose tests do not call: {missing:?}");
    let stale: Vec<&&str> = covered.iter().filter(|t| !found.contains(**t)).collect();
    assert!(stale.is_empty(), "COVERED names types without a session setter: {stale:?}");
}

/// The types of `src` that get a `pub fn session(`: in an `impl … Type<…>` block, or listed
/// in a `session_setter!(…)` invocation.
fn session_actions(dir: &Path) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("driver/src is readable").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("a source file is readable");
                scan(&text, &mut found);
            }
        }
    }
    found
}

fn scan(text: &str, found: &mut BTreeSet<String>) {
    let mut current_impl: Option<String> = None;
    let mut in_setter_list = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("macro_rules!") {
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix("session_setter!(") {
            in_setter_list = true;
            // `session_setter!("whose"; A, B)` or `session_setter!(A, B)`.
            let rest = match rest.strip_prefix('"') {
                Some(quoted) => quoted.split_once(';').map_or("", |(_, names)| names),
                None => rest,
            };
            add_names(rest, found);
        } else if in_setter_list {
            add_names(trimmed, found);
        }
        if in_setter_list && trimmed.contains(')') {
            in_setter_list = false;
        }
        if trimmed.starts_with("impl") && !trimmed.contains(" for ") {
            current_impl = impl_type(trimmed);
        }
        if trimmed.starts_with("pub fn session(") {
            if let Some(t) = &current_impl {
                found.insert(t.clone());
            }
        }
    }
}

/// `Type` of `impl<'a, T: X> Type<'a, T> {`.
fn impl_type(line: &str) -> Option<String> {
    let mut rest = line.strip_prefix("impl")?;
    if rest.starts_with('<') {
        let mut depth = 0;
        let end = rest.char_indices().find(|&(_, c)| {
            depth += match c {
                '<' => 1,
                '>' => -1,
                _ => 0,
            };
            depth == 0
        })?;
        rest = &rest[end.0 + 1..];
    }
    let name: String = rest.trim_start().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
    (!name.is_empty()).then_some(name)
}

fn add_names(text: &str, found: &mut BTreeSet<String>) {
    for part in text.split([',', ')']) {
        let name = part.trim();
        if !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_') && !name.starts_with('$')
        {
            found.insert(name.to_string());
        }
    }
}

/// The scan sees hand-written setters and both forms of the macro, and not the macro itself.
#[test]
fn the_scan_finds_setters_by_hand_and_by_macro() {
    let text = r#"
macro_rules! session_setter {
    ($($action:ident),*) => { $( impl<'a, T> $action<'a, T> { pub fn session(self) {} } )* };
}
session_setter!(
    Alpha,
    Beta,
);
session_setter!("this"; Gamma);
session_setter!(Delta, Epsilon);
impl<'a, T: Send + Sync> Zeta<'a, T> {
    pub fn session(mut self, session: &'a mut ClientSession) -> Self { self }
}
impl<'a> IntoFuture for Eta<'a> {
    pub fn session(self) {}
}
impl Theta { pub fn other() {} }
"#;
    let mut found = BTreeSet::new();
    scan(text, &mut found);
    let names: Vec<&str> = found.iter().map(String::as_str).collect();
    assert_eq!(names, ["Alpha", "Beta", "Delta", "Epsilon", "Gamma", "Zeta"]);
}
