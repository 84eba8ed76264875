//! Expectations, as a ReplicaSet keeps them: launches and kills the
//! controller asked the agent for and has not seen reflected in the
//! agent's task stream yet. They live in memory only (a restarted
//! controller waits for the agent's snapshot instead), never as fabricated
//! tasks among the observed ones.

use std::collections::{BTreeMap, HashSet};

use crate::observed::ObservedTask;

/// Seconds a launch is expected without word from the agent; after that
/// it is no longer counted, and the instance is launched again.
pub const LAUNCH_TTL_SECS: f64 = 60.0;
/// Seconds after which a kill that did not take is asked for again.
pub const KILL_RETRY_SECS: f64 = 60.0;

/// A launch the agent accepted.
#[derive(Clone, Debug, PartialEq)]
pub struct ExpectedLaunch {
    /// The revision launched.
    pub revision: String,
    /// Unix seconds.
    pub at: f64,
}

/// One app's expectations.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AppExpectations {
    /// Task id -> the launch.
    pub launches: BTreeMap<String, ExpectedLaunch>,
    /// Task id -> Unix seconds the kill was asked for.
    pub kills: BTreeMap<String, f64>,
}

impl AppExpectations {
    /// Whether nothing is expected.
    pub fn is_empty(&self) -> bool {
        self.launches.is_empty() && self.kills.is_empty()
    }

    /// Launches still expected at `now`: not observed yet, not expired.
    pub fn pending_launches<'a>(
        &'a self,
        observed: &'a [ObservedTask],
        now: f64,
    ) -> impl Iterator<Item = (&'a String, &'a ExpectedLaunch)> + 'a {
        let seen = ids(observed, !self.launches.is_empty());
        self.launches
            .iter()
            .filter(move |(id, l)| now - l.at <= LAUNCH_TTL_SECS && !seen.contains(id.as_str()))
    }

    /// Whether a kill of `task_id` was asked for recently enough to wait.
    pub fn kill_pending(&self, task_id: &str, now: f64) -> bool {
        self.kills.get(task_id).is_some_and(|at| now - at <= KILL_RETRY_SECS)
    }

    /// Forgets what the observed tasks now show, or what expired.
    pub fn settle(&mut self, observed: &[ObservedTask], now: f64) {
        self.launches
            .retain(|id, l| now - l.at <= LAUNCH_TTL_SECS && !observed.iter().any(|t| &t.id == id));
        self.kills
            .retain(|id, at| now - *at <= KILL_RETRY_SECS && observed.iter().any(|t| &t.id == id && t.is_live()));
    }
}

/// The ids of `observed`, when `needed` (a set, so that many expectations
/// against many tasks stay linear).
fn ids(observed: &[ObservedTask], needed: bool) -> HashSet<&str> {
    if needed {
        observed.iter().map(|t| t.id.as_str()).collect()
    } else {
        HashSet::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observed::TaskState;

    fn task(id: &str, state: TaskState) -> ObservedTask {
        ObservedTask::from(sextant_api::proto::Task {
            task_id: id.into(),
            state: state as i32,
            ..Default::default()
        })
    }

    #[test]
    fn expectations_settle_when_observed_or_expired() {
        let mut e = AppExpectations::default();
        let launch = |at| ExpectedLaunch {
            revision: "r".into(),
            at,
        };
        e.launches.insert("seen".into(), launch(100.0));
        e.launches.insert("unseen".into(), launch(100.0));
        e.launches.insert("old".into(), launch(100.0 - LAUNCH_TTL_SECS - 1.0));
        e.kills.insert("dying".into(), 100.0);
        e.kills.insert("dead".into(), 100.0);
        let observed = vec![
            task("seen", TaskState::Pending),
            task("dying", TaskState::Running),
            task("dead", TaskState::Killed),
        ];
        let pending: Vec<&String> = e.pending_launches(&observed, 100.0).map(|(id, _)| id).collect();
        assert_eq!(pending, vec!["unseen"]);
        assert!(e.kill_pending("dying", 100.0 + KILL_RETRY_SECS));
        assert!(
            !e.kill_pending("dying", 100.0 + KILL_RETRY_SECS + 1.0),
            "asked again after the retry time"
        );
        e.settle(&observed, 100.0);
        assert_eq!(e.launches.keys().collect::<Vec<_>>(), vec!["unseen"]);
        assert_eq!(e.kills.keys().collect::<Vec<_>>(), vec!["dying"]);
    }
}
