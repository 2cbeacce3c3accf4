//! The review queue: requests whose agent stays held until a person approves or denies them,
//! or until their deadline passes, which denies. Pure bookkeeping: the daemon holds the
//! agent and applies the resolution; the review API lists and decides.
use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use serde::Serialize;

/// What a reviewer sees of a held request: never the raw values.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReviewSummary {
    pub id: u64,
    pub tool: Option<String>,
    pub host: Option<String>,
    pub path: Option<String>,
    pub pid: u32,
    pub comm: String,
    /// `category/detector at json_path` of each finding that asked for review.
    pub findings: Vec<String>,
    pub body_sha256: Option<String>,
    pub policy_version: String,
    pub age_seconds: u64,
    pub expires_in_seconds: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Approve,
    Deny,
}

/// How a review ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Resolution {
    Approved {
        by_uid: u32,
    },
    Denied {
        by_uid: u32,
    },
    TimedOut,
    /// The daemon stopped before anyone decided.
    Abandoned,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReviewError {
    #[error("no pending review {0} (decided, expired or never existed)")]
    NotFound(u64),
    #[error("review {id}: the decision was made for another request (body digest or policy version differs)")]
    Mismatch { id: u64 },
}

struct Pending<T> {
    item: T,
    summary: ReviewSummary,
    created: Instant,
    deadline: Instant,
}

impl<T> Pending<T> {
    fn summary_at(&self, now: Instant) -> ReviewSummary {
        ReviewSummary {
            age_seconds: now.saturating_duration_since(self.created).as_secs(),
            expires_in_seconds: self.deadline.saturating_duration_since(now).as_secs(),
            ..self.summary.clone()
        }
    }
}

/// Pending reviews, each carrying what the daemon needs to finish it (`T`).
pub struct ReviewQueue<T> {
    pending: BTreeMap<u64, Pending<T>>,
    next_id: u64,
}

impl<T> Default for ReviewQueue<T> {
    fn default() -> Self {
        Self { pending: BTreeMap::new(), next_id: 1 }
    }
}

impl<T> ReviewQueue<T> {
    /// Queues a request; returns its id. `summary.id` and the ages are filled in here.
    pub fn submit(&mut self, item: T, mut summary: ReviewSummary, now: Instant, timeout: Duration) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        summary.id = id;
        self.pending.insert(id, Pending { item, summary, created: now, deadline: now + timeout });
        id
    }

    /// Applies a reviewer's decision. When the reviewer names the body digest and policy
    /// version they looked at, they must be those of the held request, so that a decision
    /// cannot be replayed onto another request that reused the id.
    pub fn decide(
        &mut self,
        id: u64,
        verdict: Verdict,
        by_uid: u32,
        expected_digest: Option<&str>,
        expected_policy: Option<&str>,
    ) -> Result<(T, Resolution), ReviewError> {
        let pending = self.pending.get(&id).ok_or(ReviewError::NotFound(id))?;
        let digest_differs =
            expected_digest.is_some_and(|digest| pending.summary.body_sha256.as_deref() != Some(digest));
        let policy_differs = expected_policy.is_some_and(|policy| pending.summary.policy_version != policy);
        if digest_differs || policy_differs {
            return Err(ReviewError::Mismatch { id });
        }
        let pending = self.pending.remove(&id).ok_or(ReviewError::NotFound(id))?;
        let resolution = match verdict {
            Verdict::Approve => Resolution::Approved { by_uid },
            Verdict::Deny => Resolution::Denied { by_uid },
        };
        Ok((pending.item, resolution))
    }

    /// Removes and returns every review whose deadline has passed: each is denied.
    pub fn expire(&mut self, now: Instant) -> Vec<(u64, T, Resolution)> {
        let expired: Vec<u64> = self.pending.iter().filter(|(_, p)| p.deadline <= now).map(|(id, _)| *id).collect();
        expired
            .into_iter()
            .filter_map(|id| self.pending.remove(&id).map(|pending| (id, pending.item, Resolution::TimedOut)))
            .collect()
    }

    /// Removes and returns every review of a process (it exited or was killed).
    pub fn remove_process(&mut self, pid: u32) -> Vec<T> {
        let ids: Vec<u64> = self.pending.iter().filter(|(_, p)| p.summary.pid == pid).map(|(id, _)| *id).collect();
        ids.into_iter().filter_map(|id| self.pending.remove(&id)).map(|pending| pending.item).collect()
    }

    pub fn list(&self, now: Instant) -> Vec<ReviewSummary> {
        self.pending.values().map(|pending| pending.summary_at(now)).collect()
    }

    /// One pending review as [`ReviewQueue::list`] shows it.
    pub fn summary(&self, id: u64, now: Instant) -> Option<ReviewSummary> {
        self.pending.get(&id).map(|pending| pending.summary_at(now))
    }

    /// What a pending review carries, for a reviewer's closer look.
    pub fn get(&self, id: u64) -> Option<&T> {
        self.pending.get(&id).map(|pending| &pending.item)
    }

    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Removes everything (daemon shutdown): the caller resolves each item.
    pub fn drain(&mut self) -> Vec<(u64, T)> {
        std::mem::take(&mut self.pending).into_iter().map(|(id, pending)| (id, pending.item)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(pid: u32) -> ReviewSummary {
        ReviewSummary {
            id: 0,
            tool: Some("slack".into()),
            host: Some("hooks.slack.com".into()),
            path: Some("/services/x".into()),
            pid,
            comm: "python3".into(),
            findings: vec!["pii/email at $.text".into()],
            body_sha256: Some("aa".into()),
            policy_version: "p1".into(),
            age_seconds: 0,
            expires_in_seconds: 0,
        }
    }

    #[test]
    fn approve_and_deny_resolve_once() {
        let mut queue = ReviewQueue::default();
        let now = Instant::now();
        let first = queue.submit("a", summary(1), now, Duration::from_secs(60));
        let second = queue.submit("b", summary(2), now, Duration::from_secs(60));
        assert_ne!(first, second);
        assert_eq!(
            queue.decide(first, Verdict::Approve, 1000, None, None),
            Ok(("a", Resolution::Approved { by_uid: 1000 }))
        );
        assert_eq!(queue.decide(first, Verdict::Deny, 1000, None, None), Err(ReviewError::NotFound(first)));
        assert_eq!(queue.decide(second, Verdict::Deny, 0, None, None), Ok(("b", Resolution::Denied { by_uid: 0 })));
        assert!(queue.is_empty());
    }

    #[test]
    fn a_decision_for_another_digest_or_policy_is_refused() {
        let mut queue = ReviewQueue::default();
        let id = queue.submit("a", summary(1), Instant::now(), Duration::from_secs(60));
        assert_eq!(queue.decide(id, Verdict::Approve, 0, Some("bb"), None), Err(ReviewError::Mismatch { id }));
        assert_eq!(queue.decide(id, Verdict::Approve, 0, None, Some("p2")), Err(ReviewError::Mismatch { id }));
        assert_eq!(queue.len(), 1, "a refused decision leaves the review pending");
        assert!(queue.decide(id, Verdict::Approve, 0, Some("aa"), Some("p1")).is_ok());
    }

    #[test]
    fn the_deadline_denies() {
        let mut queue = ReviewQueue::default();
        let now = Instant::now();
        queue.submit("short", summary(1), now, Duration::from_secs(5));
        queue.submit("long", summary(2), now, Duration::from_secs(50));
        assert!(queue.expire(now + Duration::from_secs(4)).is_empty());
        assert_eq!(queue.expire(now + Duration::from_secs(5)), vec![(1, "short", Resolution::TimedOut)]);
        let listed = queue.list(now + Duration::from_secs(10));
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].age_seconds, 10);
        assert_eq!(listed[0].expires_in_seconds, 40);
    }

    #[test]
    fn a_gone_process_takes_its_reviews_along() {
        let mut queue = ReviewQueue::default();
        let now = Instant::now();
        queue.submit("a", summary(7), now, Duration::from_secs(5));
        queue.submit("b", summary(8), now, Duration::from_secs(5));
        assert_eq!(queue.remove_process(7), vec!["a"]);
        assert_eq!(queue.len(), 1);
    }
}
