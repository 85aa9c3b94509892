//! Thread entities of the unified runner (`unified-test-format.rst`, entity "thread" and the
//! special test operations `runOnThread` / `waitForThread`): the operations started on
//! each thread, not yet joined.

use std::collections::HashMap;

use bson::Bson;
use mongo_driver::error::Error;
use tokio::task::JoinHandle;

/// An operation running on a thread entity: its result, once joined.
pub(super) type ThreadTask = JoinHandle<Result<Bson, Error>>;

/// The thread entities of a running case.
#[derive(Default)]
pub(super) struct Threads {
    /// Each thread's operations (their index in the case) not yet joined.
    tasks: HashMap<String, Vec<(usize, ThreadTask)>>,
    /// Whether any operation ran on a thread.
    ran: bool,
}

impl Threads {
    /// Creates thread entity `id`.
    pub(super) fn add(&mut self, id: &str) {
        self.tasks.insert(id.to_string(), Vec::new());
    }

    /// Whether `id` names a thread entity.
    pub(super) fn has(&self, id: &str) -> bool {
        self.tasks.contains_key(id)
    }

    /// Whether operations ran concurrently on threads (their events then come in no
    /// fixed order).
    pub(super) fn ran(&self) -> bool {
        self.ran
    }

    /// Records operation `i`, running as `task` on thread `id`; `false` when there is no
    /// such thread.
    pub(super) fn start(&mut self, id: &str, i: usize, task: ThreadTask) -> bool {
        let Some(tasks) = self.tasks.get_mut(id) else { return false };
        tasks.push((i, task));
        self.ran = true;
        true
    }

    /// The operations running on thread `id`, handed over to be joined; `None` when there
    /// is no such thread.
    pub(super) fn take(&mut self, id: &str) -> Option<Vec<(usize, ThreadTask)>> {
        self.tasks.get_mut(id).map(std::mem::take)
    }
}
