//! The server session pool (driver sessions spec "Server Session Pool"): a LIFO queue of
//! [`ServerSession`]s that discards sessions within one minute of going stale on the server
//! and dirty sessions (used in a network error).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use bson::{Document, doc};

/// How long before the server would time a session out the pool stops handing it out.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

/// A server session (driver sessions spec "ServerSession"): its id (`lsid`), when it was last
/// sent to a server, whether a network error made it dirty, and its transaction number.
#[derive(Debug)]
pub struct ServerSession {
    id: Document,
    last_use: Instant,
    dirty: AtomicBool,
    txn_number: i64,
}

impl ServerSession {
    /// A new session with a locally generated id (`{id: <UUID v4>}`), last used now.
    pub fn new() -> Self {
        Self::new_at(Instant::now())
    }

    fn new_at(now: Instant) -> Self {
        Self {
            id: doc! {"id": bson::Uuid::new()},
            last_use: now,
            dirty: AtomicBool::new(false),
            txn_number: 0,
        }
    }

    /// The session id sent as `lsid`.
    pub fn id(&self) -> &Document {
        &self.id
    }

    /// When the id was last sent to a server.
    pub fn last_use(&self) -> Instant {
        self.last_use
    }

    /// Records that the id is being sent to a server now.
    pub fn mark_used(&mut self) {
        self.last_use = Instant::now();
    }

    /// Marks the session dirty (a network error happened while it was in use): it is
    /// discarded instead of pooled when returned.
    pub fn mark_dirty(&self) {
        self.dirty.store(true, Ordering::Relaxed);
    }

    /// Whether the session is dirty.
    pub fn is_dirty(&self) -> bool {
        self.dirty.load(Ordering::Relaxed)
    }

    /// The transaction number of the latest retryable write (0: none yet).
    pub fn txn_number(&self) -> i64 {
        self.txn_number
    }

    /// Increments and returns the transaction number (one per retryable write).
    pub fn next_txn_number(&mut self) -> i64 {
        self.txn_number += 1;
        self.txn_number
    }

    /// Whether the server will consider the session stale within a minute of `now`, given
    /// the deployment's `logicalSessionTimeoutMinutes` (`None`: never, e.g. load balanced).
    fn about_to_expire(&self, now: Instant, timeout_minutes: Option<i64>) -> bool {
        let Some(minutes) = timeout_minutes else { return false };
        let timeout = Duration::from_secs(u64::try_from(minutes.max(0)).unwrap_or(0).saturating_mul(60));
        now.saturating_duration_since(self.last_use) + EXPIRY_MARGIN >= timeout
    }
}

impl Default for ServerSession {
    fn default() -> Self {
        Self::new()
    }
}

/// The LIFO pool of server sessions a client keeps (driver sessions spec "Server Session
/// Pool"): the front holds the most recently returned sessions.
#[derive(Debug)]
pub struct ServerSessionPool {
    sessions: Mutex<VecDeque<ServerSession>>,
    /// The last known `logicalSessionTimeoutMinutes` (-1: unknown or none).
    timeout_minutes: AtomicI64,
    /// How many sessions are acquired and not yet released.
    checked_out: AtomicUsize,
}

impl Default for ServerSessionPool {
    fn default() -> Self {
        Self {
            sessions: Mutex::new(VecDeque::new()),
            timeout_minutes: AtomicI64::new(-1),
            checked_out: AtomicUsize::new(0),
        }
    }
}

impl ServerSessionPool {
    /// An empty pool.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records the deployment's `logicalSessionTimeoutMinutes` (from the topology description).
    pub fn set_timeout_minutes(&self, minutes: Option<i64>) {
        self.timeout_minutes.store(minutes.unwrap_or(-1), Ordering::Relaxed);
    }

    fn timeout(&self) -> Option<i64> {
        let t = self.timeout_minutes.load(Ordering::Relaxed);
        (t >= 0).then_some(t)
    }

    /// Acquires a session (spec "Algorithm to acquire a ServerSession"): the front one that
    /// has at least a minute left, discarding those that do not; a new one if none is left.
    pub fn acquire(&self) -> ServerSession {
        self.acquire_at(Instant::now())
    }

    fn acquire_at(&self, now: Instant) -> ServerSession {
        self.checked_out.fetch_add(1, Ordering::Relaxed);
        let timeout = self.timeout();
        let mut sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some(session) = sessions.pop_front() {
            if !session.about_to_expire(now, timeout) {
                return session;
            }
        }
        ServerSession::new_at(now)
    }

    /// Returns a session (spec "Algorithm to return a ServerSession"): first drops the
    /// about-to-expire sessions at the back, then discards `session` if it is dirty or about
    /// to expire, else puts it at the front.
    pub fn release(&self, session: ServerSession) {
        self.release_at(session, Instant::now());
    }

    fn release_at(&self, session: ServerSession, now: Instant) {
        let _ = self.checked_out.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        let timeout = self.timeout();
        let mut sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        while sessions.back().is_some_and(|s| s.about_to_expire(now, timeout)) {
            sessions.pop_back();
        }
        if !session.is_dirty() && !session.about_to_expire(now, timeout) {
            sessions.push_front(session);
        }
    }

    /// How many server sessions are in use (acquired, not yet released): explicit sessions
    /// not ended, implicit sessions of running operations and open cursors (sessions tests
    /// README prose 10: none should remain after a test).
    pub fn checked_out(&self) -> usize {
        self.checked_out.load(Ordering::Relaxed)
    }

    /// How many sessions are pooled.
    pub fn len(&self) -> usize {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Whether the pool is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Empties the pool, returning the ids of the sessions it held (front first), for
    /// `endSessions`.
    pub fn drain_ids(&self) -> Vec<Document> {
        let mut sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        sessions.drain(..).map(|s| s.id).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifo_reuse() {
        let pool = ServerSessionPool::new();
        pool.set_timeout_minutes(Some(30));
        let (a, b) = (pool.acquire(), pool.acquire());
        let (ida, idb) = (a.id().clone(), b.id().clone());
        assert_ne!(ida, idb);
        assert_eq!(pool.checked_out(), 2);
        pool.release(a);
        pool.release(b);
        assert_eq!(pool.checked_out(), 0);
        assert_eq!(pool.acquire().id(), &idb);
        assert_eq!(pool.acquire().id(), &ida);
        assert!(pool.is_empty());
    }

    #[test]
    fn dirty_sessions_are_discarded() {
        let pool = ServerSessionPool::new();
        pool.set_timeout_minutes(Some(30));
        let s = pool.acquire();
        s.mark_dirty();
        pool.release(s);
        assert!(pool.is_empty());
    }

    #[test]
    fn sessions_within_a_minute_of_expiry_are_discarded() {
        let pool = ServerSessionPool::new();
        pool.set_timeout_minutes(Some(2));
        let start = Instant::now();
        let old = ServerSession::new_at(start);
        let old_id = old.id().clone();
        // 61 s after its last use, a 2-minute session has less than a minute left.
        pool.release_at(old, start + Duration::from_secs(30));
        assert_eq!(pool.len(), 1, "59 s left after 61 s is not yet within the margin at 30 s");
        let fresh = ServerSession::new_at(start + Duration::from_secs(61));
        let fresh_id = fresh.id().clone();
        // Releasing at 61 s first drops the stale one at the back.
        pool.release_at(fresh, start + Duration::from_secs(61));
        assert_eq!(pool.len(), 1);
        let got = pool.acquire_at(start + Duration::from_secs(62));
        assert_eq!(got.id(), &fresh_id);
        assert_ne!(got.id(), &old_id);
        // A session about to expire when returned is not pooled.
        pool.release_at(got, start + Duration::from_secs(125));
        assert!(pool.is_empty());
        // Acquire skips stale sessions.
        pool.release_at(ServerSession::new_at(start), start);
        let new = pool.acquire_at(start + Duration::from_secs(70));
        assert_eq!(new.last_use(), start + Duration::from_secs(70));
        assert!(pool.is_empty());
    }

    #[test]
    fn no_timeout_never_expires() {
        let pool = ServerSessionPool::new();
        let start = Instant::now();
        pool.release_at(ServerSession::new_at(start), start + Duration::from_secs(100_000));
        assert_eq!(pool.len(), 1);
    }

    #[test]
    fn transaction_numbers_increase() {
        let mut s = ServerSession::new();
        assert_eq!(s.txn_number(), 0);
        assert_eq!(s.next_txn_number(), 1);
        assert_eq!(s.next_txn_number(), 2);
    }
}
