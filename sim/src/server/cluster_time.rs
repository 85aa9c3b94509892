//! The deployment's logical clock (sessions spec: "Gossipping the cluster time"): a
//! `Timestamp` that advances on every write and is gossiped as `$clusterTime`.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use bson::{Binary, Document, Timestamp, doc, spec::BinarySubtype};

/// The cluster time shared by every node of a deployment.
#[derive(Debug)]
pub struct ClusterClock {
    now: Mutex<Timestamp>,
}

fn wall_seconds() -> u32 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as u32)
}

fn key(t: Timestamp) -> (u32, u32) {
    (t.time, t.increment)
}

impl Default for ClusterClock {
    fn default() -> Self {
        Self { now: Mutex::new(Timestamp { time: wall_seconds(), increment: 1 }) }
    }
}

impl ClusterClock {
    /// The current cluster time.
    pub fn now(&self) -> Timestamp {
        *self.now.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Advances the clock for a write and returns the write's time.
    pub fn tick(&self) -> Timestamp {
        let mut now = self.now.lock().unwrap_or_else(|p| p.into_inner());
        let wall = wall_seconds();
        *now = if wall > now.time {
            Timestamp { time: wall, increment: 1 }
        } else {
            Timestamp { time: now.time, increment: now.increment.saturating_add(1) }
        };
        *now
    }

    /// Moves the clock forward to `t` if it is behind (a gossiped `$clusterTime`, or an
    /// `afterClusterTime` the server makes true with a no-op write).
    pub fn advance_to(&self, t: Timestamp) {
        let mut now = self.now.lock().unwrap_or_else(|p| p.into_inner());
        if key(t) > key(*now) {
            *now = t;
        }
    }

    /// Whether `a` is later than `b`.
    pub fn later(a: Timestamp, b: Timestamp) -> bool {
        key(a) > key(b)
    }
}

/// The `$clusterTime` document of a reply: the time with a dummy signature (no auth keys).
pub fn cluster_time_document(t: Timestamp) -> Document {
    doc! {
        "clusterTime": t,
        "signature": {
            "hash": Binary { subtype: BinarySubtype::Generic, bytes: vec![0; 20] },
            "keyId": 0_i64,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_strictly_increasing_and_gossip_only_moves_forward() {
        let clock = ClusterClock::default();
        let a = clock.tick();
        let b = clock.tick();
        assert!(ClusterClock::later(b, a));
        clock.advance_to(Timestamp { time: 1, increment: 1 });
        assert_eq!(clock.now(), b);
        let future = Timestamp { time: b.time + 100, increment: 7 };
        clock.advance_to(future);
        assert_eq!(clock.now(), future);
        assert!(ClusterClock::later(clock.tick(), future));
    }
}
