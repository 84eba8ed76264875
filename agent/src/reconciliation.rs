//! Explicit task reconciliation, as the Mesos reconciliation guide asks:
//! after every (re)subscription, ask about every task we believe is live,
//! and ask again, with truncated exponential backoff, about those that have
//! not had a fresh update yet (answers can be withheld while agents are
//! still re-registering after a master failover).

use std::collections::BTreeMap;
use std::time::Duration;

use mesos::types::{AgentId, ReconcileTask, TaskId};
use tokio::time::Instant;

const FIRST_RETRY: Duration = Duration::from_secs(2);
const MAX_RETRY: Duration = Duration::from_secs(60);

/// Tasks still waiting for a fresh status after a RECONCILE.
#[derive(Debug)]
pub struct Reconciliation {
    pending: BTreeMap<String, Option<AgentId>>,
    next_at: Instant,
    backoff: Duration,
}

impl Reconciliation {
    /// Starts a round for `tasks` (id and agent, when known); the first
    /// RECONCILE is sent by the caller at once.
    pub fn start(tasks: Vec<(String, Option<AgentId>)>, now: Instant) -> Self {
        Self {
            pending: tasks.into_iter().collect(),
            next_at: now + FIRST_RETRY,
            backoff: FIRST_RETRY,
        }
    }

    /// The explicit RECONCILE of everything still pending.
    pub fn request(&self) -> Vec<ReconcileTask> {
        self.pending
            .iter()
            .map(|(id, agent_id)| ReconcileTask {
                task_id: TaskId::new(id.clone()),
                agent_id: agent_id.clone(),
            })
            .collect()
    }

    /// Any update about a task answers it.
    pub fn answered(&mut self, task_id: &str) {
        self.pending.remove(task_id);
    }

    pub fn is_done(&self) -> bool {
        self.pending.is_empty()
    }

    /// When the next retry is due (meaningless once done).
    pub fn next_at(&self) -> Instant {
        self.next_at
    }

    /// Schedules the next retry, doubling the wait up to a minute; returns
    /// the RECONCILE to send now.
    pub fn retry(&mut self, now: Instant) -> Vec<ReconcileTask> {
        self.backoff = (self.backoff * 2).min(MAX_RETRY);
        self.next_at = now + self.backoff;
        self.request()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tasks(ids: &[&str]) -> Vec<(String, Option<AgentId>)> {
        ids.iter()
            .map(|id| (id.to_string(), Some(AgentId::new("S0"))))
            .collect()
    }

    #[test]
    fn answered_tasks_leave_the_round() {
        let now = Instant::now();
        let mut round = Reconciliation::start(tasks(&["a", "b"]), now);
        assert_eq!(round.request().len(), 2);
        round.answered("a");
        round.answered("unknown");
        let retry = round.retry(now);
        assert_eq!(retry.len(), 1);
        assert_eq!(retry[0].task_id.value, "b");
        assert_eq!(
            retry[0].agent_id,
            Some(AgentId::new("S0")),
            "agent ids are kept for precision"
        );
        round.answered("b");
        assert!(round.is_done());
    }

    #[test]
    fn retries_back_off_to_a_minute() {
        let now = Instant::now();
        let mut round = Reconciliation::start(tasks(&["a"]), now);
        assert_eq!(round.next_at(), now + FIRST_RETRY);
        let mut waits = Vec::new();
        for _ in 0..8 {
            round.retry(now);
            waits.push(round.next_at() - now);
        }
        assert_eq!(waits[0], Duration::from_secs(4));
        assert_eq!(waits[1], Duration::from_secs(8));
        assert_eq!(*waits.last().expect("waits"), MAX_RETRY);
    }
}
