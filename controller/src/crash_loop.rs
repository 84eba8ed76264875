//! Crash-loop backoff (Marathon's `backoffSeconds`/`backoffFactor`,
//! Kubernetes' CrashLoopBackOff): when tasks of an app's current revision
//! keep failing, replacements are launched only after a growing delay.
//!
//! The delay starts at `restartBackoff.initialSeconds` after the first
//! failure and is multiplied by `factor` for each further one, up to
//! `maxSeconds`. A streak ends, and the delay with it, when launches have
//! resumed and no task of the revision has failed for a further
//! `maxSeconds`, or when the revision changes. Like
//! a kubelet's backoff it lives in memory: a restarted controller starts
//! afresh, which errs on the side of launching.

use std::collections::{BTreeSet, HashMap};

use sextant_api::app::RestartBackoff;

use crate::observed::{ObservedTask, failures_of};

/// The failure streak of one app revision.
#[derive(Debug, Clone, PartialEq)]
struct Streak {
    revision: String,
    /// Failed task ids already counted.
    counted: BTreeSet<String>,
    delay: f64,
    last_failure: f64,
}

/// Failure streaks of every app, by app key.
#[derive(Debug, Default)]
pub struct CrashLoops {
    streaks: HashMap<String, Streak>,
}

/// Where an app stands.
#[derive(Debug, Clone, PartialEq)]
pub struct Hold {
    /// Launches wait until this time (Unix seconds).
    pub until: f64,
    /// Failures in the current streak.
    pub failures: usize,
}

impl CrashLoops {
    /// Counts the app's new failures of `revision` and says until when
    /// launches must wait; `None` when they may go ahead now.
    pub fn observe(
        &mut self,
        key: &str,
        revision: &str,
        policy: &RestartBackoff,
        observed: &[ObservedTask],
        now: f64,
    ) -> Option<Hold> {
        let max = f64::from(policy.max_seconds);
        let new_failures = failures_of(observed, revision);
        // The steady case, every resync of every app: nothing to keep.
        if new_failures.is_empty() && !self.streaks.contains_key(key) {
            return None;
        }

        let streak = self.streaks.entry(key.to_string()).or_insert_with(|| Streak {
            revision: revision.to_string(),
            counted: BTreeSet::new(),
            delay: 0.0,
            last_failure: f64::NEG_INFINITY,
        });
        // Quiet: launches resumed and a whole `maxSeconds` went by without
        // a failure.
        let quiet = streak.delay > 0.0 && now >= streak.last_failure + streak.delay + max;
        if streak.revision != revision || quiet {
            // A new revision, or a streak that ended: start over, but never
            // count the same failed task twice.
            streak.revision = revision.to_string();
            streak.delay = 0.0;
            streak.last_failure = f64::NEG_INFINITY;
        }
        for task in new_failures {
            if !streak.counted.insert(task.id.clone()) {
                continue;
            }
            // A failure from before this streak (say, seen by a restarted
            // controller) does not start one.
            if streak.delay == 0.0 && now - task.updated_at >= max {
                continue;
            }
            streak.delay = if streak.delay == 0.0 {
                f64::from(policy.initial_seconds)
            } else {
                (streak.delay * policy.factor).min(max)
            };
            streak.last_failure = streak.last_failure.max(task.updated_at);
        }
        // Forget ids that are no longer observed (pruned by the store).
        streak.counted.retain(|id| observed.iter().any(|t| &t.id == id));

        let until = streak.last_failure + streak.delay;
        (streak.delay > 0.0 && until > now).then_some(Hold {
            until,
            failures: streak.counted.len(),
        })
    }

    /// Drops the state of an app that no longer exists.
    pub fn forget(&mut self, key: &str) {
        self.streaks.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observed::TaskState;

    fn policy() -> RestartBackoff {
        RestartBackoff {
            initial_seconds: 1,
            factor: 2.0,
            max_seconds: 60,
        }
    }

    fn failed(id: &str, rev: &str, at: f64) -> ObservedTask {
        ObservedTask::from(sextant_api::proto::Task {
            task_id: id.into(),
            revision: rev.into(),
            state: TaskState::Failed as i32,
            updated_at: at,
            ..Default::default()
        })
    }

    #[test]
    fn delays_grow_by_the_factor_up_to_the_max() {
        let mut loops = CrashLoops::default();
        let mut observed = Vec::new();
        let mut waits = Vec::new();
        let mut now = 1000.0;
        for i in 0..9 {
            observed.push(failed(&format!("t{i}"), "r1", now));
            let hold = loops
                .observe("default/web", "r1", &policy(), &observed, now)
                .expect("held");
            waits.push(hold.until - now);
            now = hold.until;
        }
        assert_eq!(waits, [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0]);
    }

    #[test]
    fn launches_go_ahead_once_the_delay_has_passed() {
        let mut loops = CrashLoops::default();
        let observed = vec![failed("t1", "r1", 100.0)];
        assert!(loops.observe("a", "r1", &policy(), &observed, 100.2).is_some());
        assert_eq!(loops.observe("a", "r1", &policy(), &observed, 101.5), None);
    }

    #[test]
    fn a_new_revision_or_a_quiet_period_starts_over() {
        let mut loops = CrashLoops::default();
        let mut observed = vec![failed("t1", "r1", 100.0), failed("t2", "r1", 101.0)];
        let hold = loops.observe("a", "r1", &policy(), &observed, 101.0).expect("held");
        assert_eq!(hold.until, 103.0);
        // A new revision is not held by the old one's failures.
        assert_eq!(loops.observe("a", "r2", &policy(), &observed, 101.5), None);
        // Back on r1 after a quiet minute: the next failure waits 1 s again.
        observed.push(failed("t3", "r1", 200.0));
        let hold = loops.observe("a", "r1", &policy(), &observed, 200.0).expect("held");
        assert_eq!(hold.until, 201.0);
    }

    #[test]
    fn only_real_failures_count() {
        let mut killed = failed("k", "r1", 100.0);
        killed.state = TaskState::Killed;
        assert!(!killed.is_failure(), "killed on request");
        killed.healthy = Some(false);
        assert!(killed.is_failure(), "killed for failing its health check");
        let mut lost = failed("l", "r1", 100.0);
        lost.state = TaskState::Lost;
        assert!(!lost.is_failure(), "a lost node is not the task's fault");
    }
}
