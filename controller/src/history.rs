//! Revision history: per app, the revisions it was rolled out to, with the
//! spec of each (so there is something to roll back to), where it came
//! from, and how its rollout ended. Bounded to [`HISTORY_LIMIT`] records,
//! the last completed one always kept. Stored in the journal; decided on
//! only by the pure reconcile.

use serde::{Deserialize, Serialize};
use sextant_api::AppSpec;

/// Records kept per app (the last completed one is kept besides).
pub const HISTORY_LIMIT: usize = 10;

/// How a revision's rollout stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum Outcome {
    /// Rolling out (or waiting to).
    Progressing,
    /// Every instance of it became available, nothing older was left.
    Completed {
        /// Unix seconds.
        at: f64,
    },
    /// It failed; it is not tried again until the spec changes.
    Failed {
        /// Unix seconds.
        at: f64,
        /// `ProgressDeadlineExceeded` or `FailureBudgetExhausted`.
        reason: String,
        /// What a person can act on.
        message: String,
        /// The revision rolled back to, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rolled_back_to: Option<String>,
    },
}

/// One revision of an app.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RevisionRecord {
    /// The revision hash.
    pub revision: String,
    /// The spec it was first seen with (its task-defining part is what the
    /// hash covers).
    pub spec: AppSpec,
    /// Owning source when first seen, e.g. `dir:/srv/manifests`.
    pub source: String,
    /// Git commit it came from, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Unix seconds: when the controller first saw it desired.
    pub first_seen: f64,
    /// How its rollout stands.
    pub outcome: Outcome,
    /// Unix seconds of the last progress (another new task available).
    pub progress_at: f64,
    /// Most new tasks seen available at once during the rollout.
    #[serde(default)]
    pub best_available: u32,
    /// Ids of its tasks that failed during the rollout (at most
    /// `failureBudget + 1`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_tasks: Vec<String>,
    /// Unix seconds since when the rollout cannot move (paused, agent or
    /// Mesos away): that time does not count against the deadline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frozen_at: Option<f64>,
}

impl RevisionRecord {
    /// Whether its rollout completed.
    pub fn completed(&self) -> bool {
        matches!(self.outcome, Outcome::Completed { .. })
    }

    /// Whether its rollout failed.
    pub fn failed(&self) -> bool {
        matches!(self.outcome, Outcome::Failed { .. })
    }
}

/// The revisions of one app, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RevisionHistory {
    /// Oldest first.
    pub records: Vec<RevisionRecord>,
}

impl RevisionHistory {
    /// The record of `revision`.
    pub fn get(&self, revision: &str) -> Option<&RevisionRecord> {
        self.records.iter().rev().find(|r| r.revision == revision)
    }

    /// The record of `revision`, to change.
    pub fn get_mut(&mut self, revision: &str) -> Option<&mut RevisionRecord> {
        self.records.iter_mut().rev().find(|r| r.revision == revision)
    }

    /// The newest completed revision other than `except`.
    pub fn last_completed(&self, except: &str) -> Option<&RevisionRecord> {
        self.records
            .iter()
            .rev()
            .find(|r| r.completed() && r.revision != except)
    }

    /// Adds a record (or moves an existing one of the same revision to the
    /// end, as the newest) and trims to [`HISTORY_LIMIT`], keeping the
    /// newest completed record even when it is older.
    pub fn push(&mut self, record: RevisionRecord) {
        self.records.retain(|r| r.revision != record.revision);
        self.records.push(record);
        while self.records.len() > HISTORY_LIMIT {
            let keep = self.records.iter().rposition(RevisionRecord::completed);
            let drop = match keep {
                Some(0) => 1,
                _ => 0,
            };
            self.records.remove(drop);
        }
    }
}

/// A step of a revision's rollout, as seen between two histories of one
/// app (what the runtime counts when it writes a plan's history).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RolloutStep {
    /// A revision was recorded: its rollout starts.
    Started,
    /// Its rollout completed.
    Succeeded,
    /// Its rollout failed.
    Failed,
    /// It failed and a completed revision is rolled back to.
    RolledBack,
}

impl RolloutStep {
    /// Every step.
    pub const ALL: [RolloutStep; 4] = [
        RolloutStep::Started,
        RolloutStep::Succeeded,
        RolloutStep::Failed,
        RolloutStep::RolledBack,
    ];

    /// Its stable name (a metric label value).
    pub fn name(self) -> &'static str {
        match self {
            RolloutStep::Started => "started",
            RolloutStep::Succeeded => "succeeded",
            RolloutStep::Failed => "failed",
            RolloutStep::RolledBack => "rolled_back",
        }
    }
}

/// The rollout steps taken from `before` to `after`: a record new in
/// `after` started; one that was progressing (or new) and is now
/// completed succeeded; failed, failed (and rolled back, when it names a
/// revision to roll back to).
/// Each step comes with the record it is a step of (for events).
pub fn rollout_step_records<'a>(
    before: &RevisionHistory,
    after: &'a RevisionHistory,
) -> Vec<(RolloutStep, &'a RevisionRecord)> {
    let mut steps = Vec::new();
    for rec in &after.records {
        let was = before.get(&rec.revision).map(|r| &r.outcome);
        if was.is_none() {
            steps.push((RolloutStep::Started, rec));
        }
        if !was.is_none_or(|o| *o == Outcome::Progressing) {
            continue;
        }
        match &rec.outcome {
            Outcome::Progressing => {}
            Outcome::Completed { .. } => steps.push((RolloutStep::Succeeded, rec)),
            Outcome::Failed { rolled_back_to, .. } => {
                steps.push((RolloutStep::Failed, rec));
                if rolled_back_to.is_some() {
                    steps.push((RolloutStep::RolledBack, rec));
                }
            }
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rollout_steps(before: &RevisionHistory, after: &RevisionHistory) -> Vec<RolloutStep> {
        rollout_step_records(before, after)
            .into_iter()
            .map(|(s, _)| s)
            .collect()
    }

    fn record(rev: &str, outcome: Outcome) -> RevisionRecord {
        RevisionRecord {
            revision: rev.into(),
            spec: serde_json::from_value(serde_json::json!({"command": "x"})).expect("spec"),
            source: "dir:/m".into(),
            commit: None,
            first_seen: 1.0,
            outcome,
            progress_at: 1.0,
            best_available: 0,
            failed_tasks: vec![],
            frozen_at: None,
        }
    }

    #[test]
    fn bounded_and_keeps_the_last_completed() {
        let mut h = RevisionHistory::default();
        h.push(record("c0", Outcome::Completed { at: 1.0 }));
        for i in 0..20 {
            h.push(record(&format!("f{i}"), Outcome::Progressing));
        }
        assert_eq!(h.records.len(), HISTORY_LIMIT);
        assert_eq!(h.records[0].revision, "c0", "the rollback target is kept");
        assert_eq!(h.last_completed("x").map(|r| r.revision.as_str()), Some("c0"));
        assert_eq!(h.records[HISTORY_LIMIT - 1].revision, "f19");
    }

    #[test]
    fn rollout_steps_are_the_changes_of_outcome() {
        let mut before = RevisionHistory::default();
        before.push(record("a", Outcome::Completed { at: 1.0 }));
        before.push(record("b", Outcome::Progressing));
        assert_eq!(rollout_steps(&before, &before), vec![], "nothing changed");

        let mut after = before.clone();
        after.push(record("c", Outcome::Progressing));
        assert_eq!(rollout_steps(&before, &after), vec![RolloutStep::Started]);

        let mut done = before.clone();
        if let Some(b) = done.get_mut("b") {
            b.outcome = Outcome::Completed { at: 2.0 };
        }
        assert_eq!(rollout_steps(&before, &done), vec![RolloutStep::Succeeded]);
        assert_eq!(rollout_steps(&done, &done), vec![], "counted once");

        let mut failed = before.clone();
        if let Some(b) = failed.get_mut("b") {
            b.outcome = Outcome::Failed {
                at: 2.0,
                reason: "FailureBudgetExhausted".into(),
                message: String::new(),
                rolled_back_to: Some("a".into()),
            };
        }
        assert_eq!(
            rollout_steps(&before, &failed),
            vec![RolloutStep::Failed, RolloutStep::RolledBack]
        );
    }

    #[test]
    fn round_trips_as_json() {
        let mut h = RevisionHistory::default();
        h.push(record(
            "a1",
            Outcome::Failed {
                at: 2.0,
                reason: "ProgressDeadlineExceeded".into(),
                message: "no new task".into(),
                rolled_back_to: Some("b2".into()),
            },
        ));
        let json = serde_json::to_string(&h).expect("json");
        assert!(json.contains("\"state\":\"failed\""), "{json}");
        let back: RevisionHistory = serde_json::from_str(&json).expect("back");
        assert_eq!(back, h);
    }
}
