//! Throughput benchmark (the driver benchmarking spec's Single-Doc, Multi-Doc and Parallel
//! micro-benchmarks): our driver vs the official `mongodb` crate against the same deployment,
//! scored in MB/s as the spec does, plus a raw-socket OP_MSG `hello` as the ceiling of "Run
//! command", and the simulator's share of the CPU in each workload.
//!
//! `cargo run -p driver-bench --release`; see `bench/README.md` for the environment
//! variables (`BENCH_WORKLOADS`, `BENCH_SECS`, `BENCH_ROUNDS`, ...).

mod cpu;
mod data;
mod driver;
mod measure;
mod official;
mod ours;
mod raw;
mod support;
mod tasks;
mod workload;

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use mongo_sim::{Config, Deployment};

use crate::cpu::Meter;
use crate::data::{Data, FileCounts, GRIDFS_LARGE_BYTES};
use crate::driver::Driver;
use crate::measure::{Plan, Series, measure};
use crate::official::Official;
use crate::ours::Ours;
use crate::raw::{Raw, RawTask};
use crate::support::{BenchResult, env_number, first_host};
use crate::tasks::Task;
use crate::workload::Workload;

/// The benchmark's settings, from the environment.
struct Settings {
    plan: Plan,
    /// Multiplies the spec's operations per iteration of the one-document workloads.
    scale: f64,
    counts: FileCounts,
    data_dir: PathBuf,
    workloads: Vec<Workload>,
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
                    Workload::from_name(name).ok_or_else(|| {
                        let known: Vec<_> = Workload::ALL.iter().map(|w| w.key()).collect();
                        format!("BENCH_WORKLOADS: unknown workload {name:?} (one of {})", known.join(", "))
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        Ok(Self {
            plan: Plan {
                min_iterations: (env_number("BENCH_ROUNDS", 5.0)? as usize).max(1),
                max_iterations: (env_number("BENCH_MAX_ROUNDS", 100.0)? as usize).max(1),
                budget: Duration::from_secs_f64(env_number("BENCH_SECS", 2.0)?),
                warmup: Duration::from_secs_f64(env_number("BENCH_WARMUP_SECS", 0.0)?),
            },
            scale: env_number("BENCH_SCALE", 1.0)?,
            counts: FileCounts {
                ldjson: (env_number("BENCH_LDJSON_FILES", 4.0)? as usize).max(1),
                gridfs: (env_number("BENCH_GRIDFS_FILES", 10.0)? as usize).max(1),
            },
            data_dir,
            workloads,
        })
    }

    /// Operations per iteration of `workload` (its spec count times the scale; 0 for the
    /// file-based ones).
    fn ops(&self, workload: Workload) -> usize {
        workload.spec_ops().map_or(0, |n| ((n as f64 * self.scale).round() as usize).max(1))
    }

    /// The score size of one iteration of `workload`, in bytes.
    fn bytes(&self, workload: Workload, data: &Data) -> u64 {
        match workload.spec_doc_bytes() {
            Some(each) => each * self.ops(workload) as u64,
            None => match workload {
                Workload::GridFsUpload | Workload::GridFsDownload => GRIDFS_LARGE_BYTES as u64,
                Workload::LdjsonImport | Workload::LdjsonExport => data.ldjson_bytes,
                _ => data.gridfs_multi_bytes,
            },
        }
    }
}

/// The load average, from `/proc/loadavg`.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// "pass" or "FAIL" for `ratio` against `target`.
fn verdict(ratio: f64, target: f64) -> &'static str {
    if ratio >= target { "pass" } else { "FAIL" }
}

/// Runs `workload` for both drivers (and the raw socket for "Run command"); its table row.
async fn run_workload(
    settings: &Settings,
    data: &Arc<Data>,
    meter: &Meter,
    (ours, official, raw): (&Ours, &Official, &mut Option<RawTask>),
    workload: Workload,
) -> BenchResult<(String, bool)> {
    let ops = settings.ops(workload);
    let mut a = Task::setup(ours, workload, ops, Arc::clone(data)).await?;
    let mut b = Task::setup(official, workload, ops, Arc::clone(data)).await?;
    let raw = raw.as_mut().filter(|_| workload == Workload::RunCommand);
    let raw = match raw {
        Some(r) => {
            r.ops = ops;
            Some(r)
        }
        None => None,
    };
    let with_raw = raw.is_some();
    let [o, f, r] = measure(settings.plan, meter, &mut a, &mut b, raw).await?;
    a.teardown().await?;
    b.teardown().await?;

    let bytes = settings.bytes(workload, data);
    let (mo, mf) = (o.mb_per_s(bytes), f.mb_per_s(bytes));
    let ratio = mo / mf.max(1e-12);
    let mut pass = ratio >= workload.target();
    let cores = |s: &Series| format!("{:.2}/{:.2}", s.sim_cores(), s.client_cores());
    let mut row = format!(
        "{:<27} {:>9.2} {:>9.2} {:>6.2} {:>6} {:>5} {:>6} {:>11} {:>11} {:>9.1}",
        workload.label(),
        mo,
        mf,
        ratio,
        format!(">={:.2}", workload.target()),
        verdict(ratio, workload.target()),
        o.times.len(),
        cores(&o),
        cores(&f),
        bytes as f64 / 1e6,
    );
    if with_raw {
        let mr = r.mb_per_s(bytes);
        let ratio_raw = mo / mr.max(1e-12);
        pass &= ratio_raw >= 0.9;
        row.push_str(&format!(
            "\n{:<27} {:>9.2} {:>9} {:>6.2} {:>6} {:>5} {:>6} {:>11} {:>11}   (ours/raw)",
            "  raw socket hello",
            mr,
            "-",
            ratio_raw,
            ">=0.90",
            verdict(ratio_raw, 0.9),
            r.times.len(),
            cores(&r),
            "-",
        ));
    }
    Ok((row, pass))
}

#[tokio::main]
async fn main() -> BenchResult<()> {
    let settings = Settings::from_env()?;
    let load_before = load_average();
    let data = Arc::new(Data::load(&settings.data_dir, settings.counts)?);
    let (deployment, uri) = match std::env::var("MONGODB_URI") {
        Ok(uri) => (None, uri),
        Err(_) => {
            let d = Deployment::start(Config::replica_set(3)).await?;
            let uri = d.connection_string().to_owned();
            (Some(d), uri)
        }
    };
    // The simulator serves every member from one thread of its own, named `mongo-sim`.
    let meter = Meter::new(if deployment.is_some() { cpu::threads_named("mongo-sim") } else { Vec::new() });
    let raw_host = match deployment.as_ref().and_then(Deployment::primary_host) {
        Some(primary) => primary,
        None => first_host(&uri)?,
    };
    let ours = Ours::connect(&uri, "perftest_ours").await?;
    let official = Official::connect(&uri, "perftest_official").await?;
    let mut raw = Some(RawTask { raw: Raw::connect(&raw_host).await?, ops: 0 });

    let target =
        if deployment.is_some() { "in-process mongo-sim 3-member replica set" } else { "MONGODB_URI" };
    let plan = settings.plan;
    println!("driver-bench against {target} ({uri}); load average before: {load_before}");
    println!(
        "MB/s = score bytes / median iteration time; >= {} iterations per side, until {:.1} s of timed \
         iterations each (at most {}); 1 warm-up iteration (or {:.1} s); scale {} of the spec's \
         operations; {} LDJSON files x 5,000 docs, {} GridFS files x 5 MiB; data from {}",
        plan.min_iterations,
        plan.budget.as_secs_f64(),
        plan.max_iterations,
        plan.warmup.as_secs_f64(),
        settings.scale,
        settings.counts.ldjson,
        settings.counts.gridfs,
        settings.data_dir.display()
    );
    println!("ours:     {}", ours::LAYER);
    println!("official: {}", official::LAYER);
    println!(
        "raw:      pre-encoded OP_MSG hello on one TCP socket to the primary, hand-encoded (the ceiling)"
    );
    if !meter.sees_sim() {
        println!("(no in-process simulator thread: the sim CPU columns read 0)");
    }
    println!();
    println!(
        "{:<27} {:>9} {:>9} {:>6} {:>6} {:>5} {:>6} {:>11} {:>11} {:>9}",
        "workload", "ours", "official", "ratio", "target", "", "iters", "sim/cli(o)", "sim/cli(f)", "MB/iter"
    );
    let mut failed = Vec::new();
    for workload in settings.workloads.clone() {
        let (row, pass) =
            run_workload(&settings, &data, &meter, (&ours, &official, &mut raw), workload).await?;
        println!("{row}");
        let _ = std::io::stdout().flush();
        if !pass {
            failed.push(workload.key());
        }
    }
    println!();
    println!(
        "ours and official in MB/s; ratio = ours/official; sim/cli = CPU cores used by the simulator's \
         thread / by the rest of the process during that side's timed iterations (o = ours, f = official)."
    );
    if settings.workloads.contains(&Workload::FindManyZstd) {
        // The deployment's own count of compressed traffic (serverStatus network.compression).
        match ours.compression_status().await {
            Ok(status) => println!("server's network.compression: {status}"),
            Err(e) => println!("server's network.compression: unavailable ({e})"),
        }
    }
    let verdict = if failed.is_empty() {
        "every target met".to_owned()
    } else {
        format!("below target: {}", failed.join(", "))
    };
    println!("{verdict}; load average after: {}", load_average());
    data.clean_up();
    drop(deployment);
    Ok(())
}
