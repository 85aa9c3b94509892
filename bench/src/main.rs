//! Throughput benchmark (driver benchmarking spec, small-document workloads): our driver vs
//! the official `mongodb` crate against the same deployment, plus a raw-socket OP_MSG ping as
//! the ceiling.
//!
//! `cargo run -p driver-bench --release`. It starts a 3-member `mongo-sim` replica set
//! in-process unless `MONGODB_URI` is set. Tuning: `BENCH_ROUNDS` (default 5), `BENCH_SECS`
//! per round (default 1), `BENCH_WARMUP_SECS` (default 0.5), `BENCH_WORKLOADS` (a
//! comma-separated subset of ping, insert_one, find_one, find, find_zstd, insert_many), `BENCH_DATA_DIR` (the
//! benchmark-data folder holding `small_doc.json`; default `../shared/spec-data/benchmark-data`
//! beside the repository).

mod official;
mod ours;
mod ours_pool;
mod raw;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use mongo_sim::{Config, Deployment};

use crate::official::Official;
use crate::ours::Ours;
use crate::ours_pool::OursPool;
use crate::raw::Raw;

/// Errors of the benchmark: anything, with a message saying where.
pub type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// The database every workload uses.
pub const DB: &str = "driver_bench";
/// Documents in the `find` and `find_one` collections.
pub const FIND_DOCS: usize = 1000;
/// Documents per `insert_many`.
pub const INSERT_MANY_DOCS: usize = 1000;

/// One benchmark workload; one operation of each is timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// `ping` through the run-command API.
    Ping,
    /// `insert_one` of small_doc.
    InsertOne,
    /// `find_one` by integer `_id` in a 1,000-document collection.
    FindOne,
    /// `find` of all 1,000 small documents in batches of 100, to the end of the cursor.
    Find,
    /// The same `find` through a client with `compressors=zstd` (OP_COMPRESSED both ways).
    FindZstd,
    /// `insert_many` of 1,000 copies of small_doc.
    InsertMany,
}

impl Workload {
    const ALL: [Self; 6] =
        [Self::Ping, Self::InsertOne, Self::FindOne, Self::Find, Self::FindZstd, Self::InsertMany];

    fn label(self) -> &'static str {
        match self {
            Self::Ping => "ping (runCommand)",
            Self::InsertOne => "insert_one small_doc",
            Self::FindOne => "find_one by _id",
            Self::Find => "find 1000 docs, batch 100",
            Self::FindZstd => "find 1000, compressors=zstd",
            Self::InsertMany => "insert_many 1000 docs",
        }
    }

    /// The collection name suffix (each driver has its own collections).
    pub fn collection(self) -> &'static str {
        match self {
            Self::Ping => "ping",
            Self::InsertOne => "insert_one",
            Self::FindOne => "find_one",
            Self::Find => "find",
            Self::FindZstd => "find_zstd",
            Self::InsertMany => "insert_many",
        }
    }
}

struct Settings {
    rounds: usize,
    round: Duration,
    warmup: Duration,
    data_dir: PathBuf,
    workloads: Vec<Workload>,
}

fn env_number(name: &str, default: f64) -> BenchResult<f64> {
    match std::env::var(name) {
        Ok(v) => match v.parse::<f64>() {
            Ok(n) if n.is_finite() && n >= 0.0 => Ok(n),
            _ => Err(format!("{name}={v} is not a non-negative number").into()),
        },
        Err(_) => Ok(default),
    }
}

impl Settings {
    fn from_env() -> BenchResult<Self> {
        let data_dir = std::env::var_os("BENCH_DATA_DIR").map(PathBuf::from).unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/spec-data/benchmark-data")
        });
        let data_dir = data_dir.canonicalize().unwrap_or(data_dir);
        let workloads = match std::env::var("BENCH_WORKLOADS") {
            Err(_) => Workload::ALL.to_vec(),
            Ok(list) => list
                .split(',')
                .map(|name| {
                    Workload::ALL.into_iter().find(|w| w.collection() == name.trim()).ok_or_else(|| {
                        format!("BENCH_WORKLOADS: unknown workload {name:?} (ping, insert_one, find_one, find, find_zstd, insert_many)")
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        Ok(Self {
            rounds: (env_number("BENCH_ROUNDS", 5.0)? as usize).max(1),
            round: Duration::from_secs_f64(env_number("BENCH_SECS", 1.0)?.max(0.01)),
            warmup: Duration::from_secs_f64(env_number("BENCH_WARMUP_SECS", 0.5)?),
            data_dir,
            workloads,
        })
    }
}

/// The spec's small_doc, read at run time (never committed), as BSON bytes both drivers load.
fn small_doc(settings: &Settings) -> BenchResult<Vec<u8>> {
    let path = settings.data_dir.join("small_doc.json");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "cannot read {}: {e} (the driver benchmarking spec's data: set BENCH_DATA_DIR to the folder \
             holding small_doc.json, extracted from the specifications repository's \
             source/benchmarking/data/single_and_multi_document.tgz)",
            path.display()
        )
    })?;
    let doc: bson::Document =
        serde_json::from_str(&text).map_err(|e| format!("{} is not a JSON document: {e}", path.display()))?;
    Ok(doc.to_vec()?)
}

/// `host:port` of the first host of a `mongodb://` URI (for the raw socket).
fn first_host(uri: &str) -> BenchResult<String> {
    let rest = uri.strip_prefix("mongodb://").ok_or_else(|| format!("raw: {uri} is not a mongodb:// URI"))?;
    let hosts = rest.split(['/', '?']).next().unwrap_or_default();
    let hosts = hosts.rsplit_once('@').map_or(hosts, |(_, h)| h);
    let host =
        hosts.split(',').next().filter(|h| !h.is_empty()).ok_or_else(|| format!("raw: no host in {uri}"))?;
    Ok(if host.contains(':') { host.to_owned() } else { format!("{host}:27017") })
}

/// `uri` with `compressors=zstd` added to its options.
pub fn with_zstd(uri: &str) -> String {
    if uri.contains('?') {
        format!("{uri}&compressors=zstd")
    } else if uri.ends_with('/') {
        format!("{uri}?compressors=zstd")
    } else {
        format!("{uri}/?compressors=zstd")
    }
}

/// Runs one measured stretch: `$prepare` (untimed, if given), then `$op` with `$i` counting
/// operations until `$dur` has passed; ops/s.
macro_rules! stretch {
    ($dur:expr, $prepare:expr, |$i:ident| $op:expr) => {{
        $prepare;
        stretch!($dur, |$i| $op)
    }};
    ($dur:expr, |$i:ident| $op:expr) => {{
        let start = Instant::now();
        let mut $i: u64 = 0;
        while start.elapsed() < $dur {
            $op;
            $i += 1;
        }
        $i as f64 / start.elapsed().as_secs_f64()
    }};
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// Everything measured.
struct Sides {
    ours: Ours,
    pool: OursPool,
    official: Official,
    raw: Raw,
}

/// Median ops/s of one workload per side (`raw` for ping only).
struct Medians {
    ours: f64,
    pool: Option<f64>,
    official: f64,
    raw: Option<f64>,
}

/// Median ops/s of each side for `workload`, rounds interleaved so drift hits all alike.
async fn measure(settings: &Settings, workload: Workload, sides: &mut Sides) -> BenchResult<Medians> {
    let Sides { ours, pool, official, raw } = sides;
    let with_raw = workload == Workload::Ping;
    // The pool column opens uncompressed connections only.
    let with_pool = workload != Workload::FindZstd;
    let (mut o, mut p, mut f, mut r) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..=settings.rounds {
        // Round 0 is the warm-up.
        let dur = if round == 0 { settings.warmup } else { settings.round };
        let a = stretch!(dur, ours.prepare(workload).await?, |i| ours.op(workload, i).await?);
        let d = if with_pool {
            stretch!(dur, pool.prepare(workload).await?, |i| pool.op(workload, i).await?)
        } else {
            0.0
        };
        let b = stretch!(dur, official.prepare(workload).await?, |i| official.op(workload, i).await?);
        let c = if with_raw { stretch!(dur, |_i| raw.ping().await?) } else { 0.0 };
        if round > 0 {
            o.push(a);
            p.push(d);
            f.push(b);
            r.push(c);
        }
    }
    Ok(Medians {
        ours: median(o),
        pool: with_pool.then(|| median(p)),
        official: median(f),
        raw: with_raw.then(|| median(r)),
    })
}

#[tokio::main]
async fn main() -> BenchResult<()> {
    let settings = Settings::from_env()?;
    let small_doc = small_doc(&settings)?;
    let (deployment, uri) = match std::env::var("MONGODB_URI") {
        Ok(uri) => (None, uri),
        Err(_) => {
            let d = Deployment::start(Config::replica_set(3)).await?;
            let uri = d.connection_string().to_owned();
            (Some(d), uri)
        }
    };
    let raw_host = match deployment.as_ref().and_then(Deployment::primary_host) {
        Some(primary) => primary,
        None => first_host(&uri)?,
    };
    let mut sides = Sides {
        ours: Ours::connect(&uri, &small_doc).await?,
        pool: OursPool::connect(&uri, &small_doc).await?,
        official: Official::connect(&uri, &small_doc).await?,
        raw: Raw::connect(&raw_host).await?,
    };

    let target =
        if deployment.is_some() { "in-process mongo-sim 3-member replica set" } else { "MONGODB_URI" };
    println!("driver-bench against {target} ({uri})");
    println!(
        "median ops/s of {} rounds x {:.1} s after {:.1} s warm-up; small_doc from {}",
        settings.rounds,
        settings.round.as_secs_f64(),
        settings.warmup.as_secs_f64(),
        settings.data_dir.display()
    );
    println!("ours:     {}", ours::LAYER);
    println!("pool:     {} (diagnostic)", ours_pool::LAYER);
    println!("official: mongodb crate 3.9 (crates.io, default features + zstd-compression), Client CRUD API");
    println!("raw:      pre-encoded OP_MSG ping on one TCP socket, hand-encoded (the ceiling)");
    println!();
    println!(
        "{:<27} {:>9} {:>9} {:>9} {:>9} {:>13} {:>9} {:>10}",
        "workload", "ours", "official", "raw", "pool", "ours/official", "ours/raw", "ours/pool"
    );
    for workload in settings.workloads.clone() {
        let m = measure(&settings, workload, &mut sides).await?;
        let raw_col = m.raw.map_or_else(|| "-".to_owned(), |r| format!("{r:.0}"));
        let ratio_raw = m.raw.map_or_else(|| "-".to_owned(), |r| format!("{:.2}", m.ours / r));
        let pool_col = m.pool.map_or_else(|| "-".to_owned(), |p| format!("{p:.0}"));
        let ratio_pool = m.pool.map_or_else(|| "-".to_owned(), |p| format!("{:.2}", m.ours / p));
        println!(
            "{:<27} {:>9.0} {:>9.0} {raw_col:>9} {pool_col:>9} {:>13.2} {ratio_raw:>9} {ratio_pool:>10}",
            workload.label(),
            m.ours,
            m.official,
            m.ours / m.official,
        );
    }
    println!();
    println!(
        "ops/s; one find / insert_many op moves 1,000 documents; raw is a ping only; the pool column \
         has no compressed row."
    );
    if settings.workloads.contains(&Workload::FindZstd) {
        // The deployment's own count of compressed traffic (serverStatus network.compression).
        match sides.ours.compression_status().await {
            Ok(status) => println!("server's network.compression: {status}"),
            Err(e) => println!("server's network.compression: unavailable ({e})"),
        }
    }
    drop(deployment);
    Ok(())
}
