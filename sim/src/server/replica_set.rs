//! Replica-set state (SDAM spec: RSPrimary/RSSecondary; `replSetStepDown`, `replSetFreeze`,
//! elections): which member is primary, the election term and each member's eligibility.

use std::time::{Duration, Instant};

use bson::oid::ObjectId;
use tokio::sync::watch;

/// A snapshot of the set's state.
#[derive(Debug, Clone, PartialEq)]
pub struct SetState {
    /// The primary's member index, if there is one.
    pub primary: Option<usize>,
    /// The election term (bumped by every election).
    pub term: i64,
    /// The configuration version (`setVersion`); elections do not change it.
    pub set_version: i64,
    /// Per member: not electable before this instant (step-down or freeze).
    pub ineligible_until: Vec<Option<Instant>>,
}

/// The outcome of an election attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Election {
    /// There already is a primary.
    HasPrimary,
    /// This member won.
    Elected(usize),
    /// Nobody is electable yet; try again after this long.
    Retry(Duration),
}

/// A replica set's shared state; subscribers are told of every change.
#[derive(Debug)]
pub struct ReplicaSet {
    state: watch::Sender<SetState>,
}

/// Why a step-down or freeze was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefusedBecause {
    /// `replSetStepDown` on a node that is not primary.
    NotPrimary,
    /// `replSetFreeze` on the primary.
    IsPrimary,
}

/// The `electionId` of `term`: mongod's `OID::fromTerm` (0x7fffffff, then the term).
pub fn election_id(term: i64) -> ObjectId {
    let mut bytes = [0u8; 12];
    bytes[..4].copy_from_slice(&0x7fff_ffffu32.to_be_bytes());
    bytes[4..].copy_from_slice(&term.to_be_bytes());
    ObjectId::from_bytes(bytes)
}

impl ReplicaSet {
    /// A set of `members` members whose first member is primary.
    pub fn new(members: usize) -> Self {
        let state = SetState {
            primary: Some(0),
            term: 1,
            set_version: 1,
            ineligible_until: vec![None; members.max(1)],
        };
        Self { state: watch::Sender::new(state) }
    }

    /// The current state.
    pub fn state(&self) -> SetState {
        self.state.borrow().clone()
    }

    /// A receiver told of every change.
    pub fn subscribe(&self) -> watch::Receiver<SetState> {
        self.state.subscribe()
    }

    /// Steps `member` down for `secs`: no primary until the next election.
    pub fn step_down(&self, member: usize, secs: Duration) -> Result<(), RefusedBecause> {
        let mut result = Ok(());
        self.state.send_if_modified(|s| {
            if s.primary != Some(member) {
                result = Err(RefusedBecause::NotPrimary);
                return false;
            }
            s.primary = None;
            if let Some(slot) = s.ineligible_until.get_mut(member) {
                *slot = Some(Instant::now() + secs);
            }
            true
        });
        result
    }

    /// Whether a member other than `member` could be elected now.
    pub fn has_electable_peer(&self, member: usize) -> bool {
        let now = Instant::now();
        self.state
            .borrow()
            .ineligible_until
            .iter()
            .enumerate()
            .any(|(i, u)| i != member && u.is_none_or(|t| t <= now))
    }

    /// Freezes `member` (not electable) for `secs`; zero unfreezes.
    pub fn freeze(&self, member: usize, secs: Duration) -> Result<(), RefusedBecause> {
        let mut result = Ok(());
        self.state.send_if_modified(|s| {
            if s.primary == Some(member) {
                result = Err(RefusedBecause::IsPrimary);
                return false;
            }
            if let Some(slot) = s.ineligible_until.get_mut(member) {
                *slot = if secs.is_zero() { None } else { Some(Instant::now() + secs) };
            }
            true
        });
        result
    }

    /// Elects the lowest-indexed electable member if there is no primary.
    pub fn try_elect(&self) -> Election {
        let mut outcome = Election::HasPrimary;
        self.state.send_if_modified(|s| {
            if s.primary.is_some() {
                return false;
            }
            let now = Instant::now();
            match s.ineligible_until.iter().position(|u| u.is_none_or(|t| t <= now)) {
                Some(winner) => {
                    s.primary = Some(winner);
                    s.term += 1;
                    s.ineligible_until[winner] = None;
                    outcome = Election::Elected(winner);
                    true
                }
                None => {
                    let next = s.ineligible_until.iter().flatten().min().copied().unwrap_or(now);
                    outcome = Election::Retry(next.saturating_duration_since(now) + Duration::from_millis(1));
                    false
                }
            }
        });
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_down_then_election_picks_another_member() {
        let rs = ReplicaSet::new(3);
        assert_eq!(rs.step_down(1, Duration::from_secs(5)), Err(RefusedBecause::NotPrimary));
        assert_eq!(rs.step_down(0, Duration::from_secs(5)), Ok(()));
        assert_eq!(rs.state().primary, None);
        assert_eq!(rs.try_elect(), Election::Elected(1));
        let s = rs.state();
        assert_eq!((s.primary, s.term), (Some(1), 2));
        assert_eq!(rs.try_elect(), Election::HasPrimary);
        assert!(election_id(2) > election_id(1));
    }

    #[test]
    fn frozen_members_wait() {
        let rs = ReplicaSet::new(1);
        assert_eq!(rs.freeze(0, Duration::from_secs(1)), Err(RefusedBecause::IsPrimary));
        assert_eq!(rs.step_down(0, Duration::from_secs(60)), Ok(()));
        assert!(matches!(rs.try_elect(), Election::Retry(d) if d > Duration::from_secs(50)));
        assert_eq!(rs.freeze(0, Duration::ZERO), Ok(()));
        assert_eq!(rs.try_elect(), Election::Elected(0));
    }
}
