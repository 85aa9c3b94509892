//! CPU time, to split a workload's cost between the client side and the simulated deployment:
//! the whole process's (`getrusage(RUSAGE_SELF)`, threads that exited included) and the
//! `mongo-sim` serving thread's (`/proc/self/task/<tid>/schedstat`, Linux).

use std::time::Duration;

/// The CPU time the whole process has used so far (user + system).
pub fn process() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `usage` is a valid, writable rusage; getrusage only writes into it.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
    if rc != 0 {
        return Duration::ZERO;
    }
    // SAFETY: getrusage succeeded, so it filled the struct (and zeroed is valid anyway).
    let usage = unsafe { usage.assume_init() };
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// The threads of this process named `name` (their `comm`), by id.
pub fn threads_named(name: &str) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return Vec::new() };
    tasks
        .filter_map(|t| t.ok())
        .filter_map(|t| {
            let tid = t.file_name().to_str()?.parse::<u32>().ok()?;
            let comm = std::fs::read_to_string(t.path().join("comm")).ok()?;
            (comm.trim_end() == name).then_some(tid)
        })
        .collect()
}

/// The CPU time threads `tids` of this process have run so far (the first field of their
/// `schedstat`, in nanoseconds); a thread that is gone counts zero.
pub fn threads(tids: &[u32]) -> Duration {
    tids.iter()
        .filter_map(|tid| std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map(Duration::from_nanos)
        .sum()
}

/// CPU time used by the deployment's threads and by the rest of the process.
#[derive(Debug, Clone, Copy, Default)]
pub struct Split {
    /// The simulator's serving threads.
    pub sim: Duration,
    /// Everything else: the drivers (and the benchmark's own file work).
    pub client: Duration,
}

/// Reads CPU time around a timed stretch.
#[derive(Debug, Clone)]
pub struct Meter {
    sim_threads: Vec<u32>,
}

/// A reading of a [`Meter`].
#[derive(Debug, Clone, Copy)]
pub struct Reading {
    process: Duration,
    sim: Duration,
}

impl Meter {
    /// A meter attributing threads `sim_threads` to the simulator.
    pub fn new(sim_threads: Vec<u32>) -> Self {
        Self { sim_threads }
    }

    /// Whether any simulator thread was found (it is not when `MONGODB_URI` names a server).
    pub fn sees_sim(&self) -> bool {
        !self.sim_threads.is_empty()
    }

    /// The CPU times now.
    pub fn read(&self) -> Reading {
        Reading { sim: threads(&self.sim_threads), process: process() }
    }

    /// The CPU time used since `start`, split.
    pub fn since(&self, start: Reading) -> Split {
        let now = self.read();
        let sim = now.sim.saturating_sub(start.sim);
        Split { sim, client: now.process.saturating_sub(start.process).saturating_sub(sim) }
    }
}

impl std::ops::AddAssign for Split {
    fn add_assign(&mut self, other: Self) {
        self.sim += other.sim;
        self.client += other.client;
    }
}
