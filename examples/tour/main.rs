//! A tour of the driver at work, in output a person can follow.
//!
//! Part 1 runs against a deployment: an embedded simulated three-member replica set
//! (`mongo-sim`), or the deployment `MONGODB_URI` names. It discovers the members, runs
//! CRUD, reads a result across several batches, reads its own write through a causally
//! consistent session, moves a value in a transaction, follows a change stream, round-trips
//! a GridFS file and streams a 10 MiB one (printing the peak RSS), follows a typed change
//! stream that resumes across a primary step-down (on a simulated 4.0 set of its own),
//! fails a read at its `timeoutMS` against a primary that blocks it, times how soon a
//! polling and a streaming client see the new primary after a step-down (on a simulated set
//! of its own), steps the primary down while a workload keeps writing, and lists the
//! monitoring events
//! it saw. Part 2 explains server selection on a described topology.
//! The feature sections check what they show: the tour exits non-zero when one fails.
//!
//! Run with `cargo run --example tour`.

mod failover;
mod features;
mod selection;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bson::{Document, doc};
use futures::StreamExt;
use mongo_driver::event::cmap::{CmapEvent, CmapEventKind};
use mongo_driver::event::command::CommandEvent;
use mongo_driver::event::sdam::SdamEvent;
use mongo_driver::sdam::ServerType;
use mongo_driver::{Client, Collection};

/// What the event handlers saw, for the summaries.
#[derive(Default)]
struct Seen {
    /// Per command name: started, succeeded, failed.
    commands: BTreeMap<String, [u32; 3]>,
    /// Server description changes, as lines.
    changes: Vec<String>,
    /// CMAP events by kind.
    pool: BTreeMap<String, u32>,
}

type Shared = Arc<Mutex<Seen>>;

fn seen(shared: &Shared) -> std::sync::MutexGuard<'_, Seen> {
    shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn client(uri: &str, shared: &Shared) -> mongo_driver::Result<Client> {
    let (on_command, on_sdam, on_cmap) = (shared.clone(), shared.clone(), shared.clone());
    Client::builder(uri)
        .command_event_handler(Arc::new(move |event: &CommandEvent| {
            let (name, slot) = match event {
                CommandEvent::Started(e) => (e.command_name.clone(), 0),
                CommandEvent::Succeeded(e) => (e.command_name.clone(), 1),
                CommandEvent::Failed(e) => (e.command_name.clone(), 2),
            };
            seen(&on_command).commands.entry(name).or_default()[slot] += 1;
        }))
        .sdam_event_handler(Arc::new(move |event: &SdamEvent| {
            if let SdamEvent::ServerDescriptionChanged(e) = event {
                let (old, new) = (e.previous_description.server_type, e.new_description.server_type);
                if old != new {
                    seen(&on_sdam).changes.push(format!(
                        "{}: {} → {}",
                        e.address,
                        old.as_str(),
                        new.as_str()
                    ));
                }
            }
        }))
        .cmap_event_handler(Arc::new(move |event: &CmapEvent| {
            let kind = event.kind();
            if kind != CmapEventKind::ConnectionCheckOutStarted {
                *seen(&on_cmap).pool.entry(format!("{kind:?}")).or_default() += 1;
            }
        }))
        .build()
}

fn show_members(client: &Client) {
    let description = client.topology().description();
    println!("  topology: {}", description.topology_type);
    for server in description.servers() {
        let rtt =
            server.average_round_trip_time.map_or("-".into(), |d| format!("{:.2} ms", d.as_secs_f64() * 1e3));
        println!("    {:<22} {:<12} RTT {rtt}", server.address.to_string(), server.server_type.as_str());
    }
}

fn primary_of(client: &Client) -> Option<String> {
    let description = client.topology().description();
    let primary = description.servers().find(|s| s.server_type == ServerType::RsPrimary);
    primary.map(|s| s.address.to_string())
}

async fn wait_for_primary(client: &Client, not: Option<&str>) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        match primary_of(client) {
            Some(p) if Some(p.as_str()) != not => return Some(p),
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    None
}

const CITIES: [&str; 3] = ["Lisbon", "Oslo", "Quito"];

async fn crud(coll: &Collection<Document>) -> mongo_driver::Result<()> {
    println!("\n▶ CRUD on {}", coll.namespace());
    coll.drop().await.ok();
    let docs: Vec<Document> =
        (0..250_i32).map(|i| doc! { "_id": i, "city": CITIES[i as usize % 3], "n": i64::from(i) }).collect();
    let inserted = coll.insert_many(docs).await?;
    println!("  insert_many: {} documents", inserted.inserted_ids.len());
    let one = coll.insert_one(doc! { "_id": "extra", "city": "Nairobi", "n": 1_000_i64 }).await?;
    println!("  insert_one: _id {}", one.inserted_id);
    match coll.insert_one(doc! { "_id": "extra" }).await {
        Err(e) => println!("  insert_one again: refused — {e} (code {:?})", e.code()),
        Ok(_) => println!("  insert_one again: unexpectedly accepted"),
    }
    let updated = coll.update_many(doc! { "city": "Oslo" }, doc! { "$inc": { "n": 1 } }).await?;
    println!(
        "  update_many city=Oslo: matched {}, modified {}",
        updated.matched_count, updated.modified_count
    );
    let deleted = coll.delete_one(doc! { "_id": "extra" }).await?;
    println!("  delete_one _id=extra: {} deleted", deleted.deleted_count);
    let found = coll.find_one(doc! { "_id": 42 }).await?;
    println!("  find_one _id=42: {}", found.map_or("none".into(), |d| d.to_string()));
    let count = coll.count_documents(doc! { "city": "Quito" }).await?;
    println!("  count_documents city=Quito: {count}");
    let mut per_city = coll
        .aggregate([
            doc! { "$group": { "_id": "$city", "total": { "$sum": "$n" } } },
            doc! { "$sort": { "_id": 1 } },
        ])
        .await?;
    print!("  aggregate $group by city:");
    while let Some(d) = per_city.next().await {
        let d = d?;
        print!(
            " {}={}",
            d.get_str("_id").unwrap_or("?"),
            d.get("total").map_or("?".into(), |t| t.to_string())
        );
    }
    println!();
    Ok(())
}

async fn batches(coll: &Collection<Document>, shared: &Shared) -> mongo_driver::Result<()> {
    println!("\n▶ A find across several batches (batch size 40)");
    let get_mores_before = seen(shared).commands.get("getMore").map_or(0, |c| c[1]);
    let mut cursor = coll.find(doc! {}).sort(doc! { "_id": 1 }).batch_size(40).await?;
    let mut n = 0;
    let mut last = None;
    while let Some(d) = cursor.next().await {
        last = d?.get("_id").cloned();
        n += 1;
    }
    let get_mores = seen(shared).commands.get("getMore").map_or(0, |c| c[1]) - get_mores_before;
    println!(
        "  read {n} documents (last _id {}) with 1 find and {get_mores} getMore commands",
        last.unwrap_or_default()
    );
    Ok(())
}

async fn session(client: &Client, coll: &Collection<Document>) -> mongo_driver::Result<()> {
    println!("\n▶ A causally consistent session: write on the primary, read your write on a secondary");
    let mut session = client.start_session().causal_consistency(true).await?;
    println!("  session lsid {}", session.id());
    coll.insert_one(doc! { "_id": "session-write", "city": "Accra" }).session(&mut session).await?;
    let after = session.operation_time();
    println!("  insert_one in the session: operationTime {}", after.map_or("-".into(), |t| format!("{t:?}")));
    let secondary = coll.clone().with_read_preference(mongo_driver::selection::ReadPreference::secondary());
    let read = secondary.find_one(doc! { "_id": "session-write" }).session(&mut session).await?;
    println!(
        "  find_one on a secondary with afterClusterTime = that operationTime: {}",
        read.map_or("not found".into(), |d| d.to_string())
    );
    session.end_session();
    Ok(())
}

async fn step_down_under_load(client: &Client, coll: &Collection<Document>, shared: &Shared) {
    println!("\n▶ replSetStepDown while a workload keeps writing");
    let Some(old) = wait_for_primary(client, None).await else {
        println!("  no primary: skipped");
        return;
    };
    seen(shared).changes.clear();
    let writer = {
        let coll = coll.clone();
        tokio::spawn(async move {
            let (mut ok, mut failed) = (0u32, Vec::new());
            let until = Instant::now() + Duration::from_millis(1500);
            let mut i = 0;
            while Instant::now() < until {
                match coll.insert_one(doc! { "workload": i }).await {
                    Ok(_) => ok += 1,
                    Err(e) => failed.push(e.to_string()),
                }
                i += 1;
            }
            (ok, failed)
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    println!("  primary is {old}; stepping it down");
    let admin = client.database("admin");
    match admin.run_command(doc! { "replSetStepDown": 5, "force": true }).await {
        Ok(_) => println!("  replSetStepDown: ok"),
        Err(e) => println!("  replSetStepDown: {e}"),
    }
    let new = wait_for_primary(client, Some(&old)).await;
    println!("  new primary: {}", new.as_deref().unwrap_or("none within 10 s"));
    match writer.await {
        Ok((ok, failed)) => {
            println!("  workload: {ok} inserts succeeded, {} failed", failed.len());
            for e in failed.iter().take(3) {
                println!("    failure: {e}");
            }
        }
        Err(e) => println!("  workload task failed: {e}"),
    }
    let stored = coll.count_documents(doc! { "workload": { "$exists": true } }).await;
    println!("  documents the workload stored: {}", stored.map_or_else(|e| e.to_string(), |n| n.to_string()));
    println!("  server changes the monitors reported:");
    for line in &seen(shared).changes {
        println!("    {line}");
    }
}

/// Runs [`features::change_stream_across_step_down`] on a simulated 4.0 replica set of its
/// own (where a step-down closes connections, so the stream must resume), or with
/// `MONGODB_URI` on that deployment.
async fn typed_stream_across_step_down(
    main_client: &Client,
    db: &mongo_driver::Database,
    shared: &Shared,
) -> features::Outcome {
    let count = |shared: &Shared| seen(shared).commands.get("aggregate").map_or(0, |c| c[0]);
    if std::env::var_os("MONGODB_URI").is_some() {
        return features::change_stream_across_step_down(main_client, db, &|| count(shared)).await;
    }
    let config = mongo_sim::Config::replica_set(3).with_version(mongo_sim::ServerVersion::V4_0);
    let deployment =
        mongo_sim::Deployment::start(config).await.map_err(|e| format!("4.0 deployment: {e}"))?;
    let local = Shared::default();
    let old = client(deployment.connection_string(), &local).map_err(|e| format!("client: {e}"))?;
    wait_for_primary(&old, None).await;
    println!(
        "
  (on an embedded simulated 4.0 replica set: {})",
        deployment.connection_string()
    );
    let outcome =
        features::change_stream_across_step_down(&old, &old.database("tour"), &|| count(&local)).await;
    old.shutdown().await;
    outcome
}

/// Runs [`failover::detection_times`] on a simulated replica set of its own (it steps the
/// primary down several times); skipped with `MONGODB_URI`.
async fn failover_detection() -> features::Outcome {
    if std::env::var_os("MONGODB_URI").is_some() {
        println!("\n▶ Failover detection: skipped with MONGODB_URI (it steps the primary down three times)");
        return Ok(());
    }
    failover::detection_times().await
}

fn summary(shared: &Shared) {
    let seen = seen(shared);
    println!("\n▶ Events seen");
    println!("  {:<22} {:>8} {:>10} {:>7}", "command", "started", "succeeded", "failed");
    for (name, [started, succeeded, failed]) in &seen.commands {
        println!("  {name:<22} {started:>8} {succeeded:>10} {failed:>7}");
    }
    let pool: Vec<String> = seen.pool.iter().map(|(k, v)| format!("{k} {v}")).collect();
    println!("  pool events: {}", pool.join(", "));
}

#[tokio::main]
async fn main() {
    println!("mongo-driver tour\n\nPart 1 — the driver against a deployment");
    // Keep the simulated deployment alive for the whole of part 1.
    let (uri, _deployment) = match std::env::var("MONGODB_URI") {
        Ok(uri) => {
            println!("  using MONGODB_URI");
            (uri, None)
        }
        Err(_) => {
            let config = mongo_sim::Config::replica_set(3);
            match mongo_sim::Deployment::start(config).await {
                Ok(d) => {
                    println!("  started an embedded simulated replica set: {}", d.connection_string());
                    (d.connection_string().to_string(), Some(d))
                }
                Err(e) => {
                    eprintln!("cannot start the simulated deployment: {e}");
                    std::process::exit(1);
                }
            }
        }
    };
    let shared = Shared::default();
    let client = match client(&uri, &shared) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot create the client: {e}");
            std::process::exit(1);
        }
    };
    wait_for_primary(&client, None).await;
    println!("\n▶ Discovery");
    show_members(&client);
    let coll = client.database("tour").collection::<Document>("cities");
    if let Err(e) = crud(&coll).await {
        println!("  CRUD failed: {e}");
    }
    if let Err(e) = batches(&coll, &shared).await {
        println!("  find failed: {e}");
    }
    if let Err(e) = session(&client, &coll).await {
        println!("  session failed: {e}");
    }
    let db = client.database("tour");
    let mut failed = Vec::new();
    for (name, outcome) in [
        ("transaction", features::transaction(&client, &db).await),
        ("change stream", features::change_stream(&db).await),
        ("GridFS", features::gridfs(&db).await),
        ("GridFS 10 MiB", features::gridfs_large(&db).await),
        ("operation timeout", features::operation_timeout(&client, &db).await),
        (
            "typed change stream across a step-down",
            typed_stream_across_step_down(&client, &db, &shared).await,
        ),
        ("failover detection, polling vs streaming", failover_detection().await),
    ] {
        if let Err(e) = outcome {
            println!("  ✗ {name} check failed: {e}");
            failed.push(name);
        }
    }
    step_down_under_load(&client, &coll, &shared).await;
    println!("\n▶ Topology after the step-down");
    show_members(&client);
    summary(&shared);
    client.shutdown().await;
    println!();
    selection::walkthrough();
    if !failed.is_empty() {
        eprintln!("\ntour: failed checks: {}", failed.join(", "));
        std::process::exit(1);
    }
}
