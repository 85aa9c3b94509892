//! The timing loop (driver benchmarking spec, "Benchmark execution phases and measurement"):
//! iterations of each side interleaved, "before task" untimed, "do task" timed by wall clock,
//! the CPU time of the simulator and of the client side read around each timed phase.

use std::time::{Duration, Instant};

use crate::cpu::{Meter, Split};
use crate::support::{BenchResult, percentile};
use crate::tasks::Timed;

/// How many iterations to run.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// At least this many timed iterations per side.
    pub min_iterations: usize,
    /// At most this many (the spec: 100).
    pub max_iterations: usize,
    /// Iterate until each side's timed phases took this long (the spec: one minute), then
    /// stop once `min_iterations` are done.
    pub budget: Duration,
    /// Untimed iterations first: at least one, more until this much time has passed.
    pub warmup: Duration,
}

/// One side's iterations.
#[derive(Debug, Clone, Default)]
pub struct Series {
    /// Wall-clock time of each timed "do task".
    pub times: Vec<Duration>,
    /// CPU time used during them.
    pub cpu: Split,
}

impl Series {
    /// Runs one iteration of `task`; records it if `keep`. Returns its wall-clock time.
    async fn iterate(&mut self, task: &mut impl Timed, meter: &Meter, keep: bool) -> BenchResult<Duration> {
        task.before().await?;
        let reading = meter.read();
        let start = Instant::now();
        task.run().await?;
        let elapsed = start.elapsed();
        if keep {
            self.cpu += meter.since(reading);
            self.times.push(elapsed);
        }
        Ok(elapsed)
    }

    /// The sum of the timed phases.
    pub fn total(&self) -> Duration {
        self.times.iter().sum()
    }

    /// The spec's score: `bytes` over the median iteration time, in MB/s (10^6 bytes).
    pub fn mb_per_s(&self, bytes: u64) -> f64 {
        let median = percentile(&self.times, 50).as_secs_f64();
        if median > 0.0 { bytes as f64 / median / 1e6 } else { 0.0 }
    }

    /// The simulator's CPU time per wall-clock second during the timed phases (1.0 = one
    /// core busy all the time).
    pub fn sim_cores(&self) -> f64 {
        self.cpu.sim.as_secs_f64() / self.total().as_secs_f64().max(1e-9)
    }

    /// The client side's CPU time per wall-clock second.
    pub fn client_cores(&self) -> f64 {
        self.cpu.client.as_secs_f64() / self.total().as_secs_f64().max(1e-9)
    }
}

/// Iterates `a`, `b` (and `c`, if given) in turn, per `plan`; their series in that order.
pub async fn measure<A: Timed, B: Timed, C: Timed>(
    plan: Plan,
    meter: &Meter,
    a: &mut A,
    b: &mut B,
    mut c: Option<&mut C>,
) -> BenchResult<[Series; 3]> {
    let mut series: [Series; 3] = Default::default();
    let warm_start = Instant::now();
    loop {
        series[0].iterate(a, meter, false).await?;
        series[1].iterate(b, meter, false).await?;
        if let Some(c) = c.as_deref_mut() {
            series[2].iterate(c, meter, false).await?;
        }
        if warm_start.elapsed() >= plan.warmup {
            break;
        }
    }
    for n in 1..=plan.max_iterations.max(1) {
        series[0].iterate(a, meter, true).await?;
        series[1].iterate(b, meter, true).await?;
        if let Some(c) = c.as_deref_mut() {
            series[2].iterate(c, meter, true).await?;
        }
        if n >= plan.min_iterations && series[0].total() >= plan.budget && series[1].total() >= plan.budget {
            break;
        }
    }
    Ok(series)
}
