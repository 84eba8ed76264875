//! Rollout progress, from what is observed: which revision tasks are made
//! to run (the target), when a rollout progresses, completes or fails, and
//! the words for why. Progress is derived from observed tasks and the
//! revision history, never from a stored plan, so a restarted controller
//! continues a rollout where it stands.

use sextant_api::{AppSpec, HealthCheck};

use super::count::{Bounds, Counts};
use super::{Input, ReconcileError};
use crate::desired::DesiredApp;
use crate::history::{Outcome, RevisionHistory, RevisionRecord};
use crate::observed::{ObservedTask, TaskState, failures_of, state_name};
use crate::ops::Undo;
use crate::store::rfc3339;

/// The reason of a rollout that went too long without progress.
pub const PROGRESS_DEADLINE_EXCEEDED: &str = "ProgressDeadlineExceeded";
/// The reason of a rollout whose new tasks failed too often.
pub const FAILURE_BUDGET_EXHAUSTED: &str = "FailureBudgetExhausted";
/// The reason of a revision undone by `sextant rollout undo`.
pub const ROLLOUT_UNDONE: &str = "RolloutUndone";

/// Which revision the app's tasks are made to run.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Target {
    /// The current spec's revision.
    Current(String),
    /// The current spec's rollout failed; this completed revision runs
    /// instead.
    RolledBack(String),
    /// The current spec's rollout failed and there is nothing to roll back
    /// to (or `autoRollback` is off): nothing is launched or killed until
    /// the spec changes.
    Halted,
}

impl Target {
    pub fn revision(&self) -> Option<&str> {
        match self {
            Target::Current(r) | Target::RolledBack(r) => Some(r),
            Target::Halted => None,
        }
    }
}

/// Starts the record of the current revision the first time it is desired.
pub(super) fn note_revision(history: &mut RevisionHistory, desired: &DesiredApp, now: f64) {
    if history.get(&desired.revision).is_some() {
        return;
    }
    history.push(RevisionRecord {
        revision: desired.revision.clone(),
        spec: desired.app.spec.clone(),
        source: desired.source.clone(),
        commit: None,
        first_seen: now,
        outcome: Outcome::Progressing,
        progress_at: now,
        best_available: 0,
        failed_tasks: Vec::new(),
        frozen_at: None,
    });
}

/// Marks the current revision undone by hand (`sextant rollout undo`):
/// failed, rolled back to `undo.to`, as an automatic rollback would. Done
/// once; nothing when `undo.to` is not in the history.
pub(super) fn apply_undo(history: &mut RevisionHistory, desired: &DesiredApp, undo: &Undo, now: f64) {
    if history.get(&undo.to).is_none() {
        return;
    }
    note_revision(history, desired, now);
    let Some(record) = history.get_mut(&desired.revision) else {
        return;
    };
    if matches!(&record.outcome, Outcome::Failed { rolled_back_to: Some(to), .. } if *to == undo.to) {
        return;
    }
    record.outcome = Outcome::Failed {
        at: now,
        reason: ROLLOUT_UNDONE.into(),
        message: format!(
            "undone by `sextant rollout undo` ({}, {}): revision {} runs instead; the spec's revision runs again when the spec changes or after `sextant rollout restart`",
            undo.mark.by,
            rfc3339(undo.mark.at).unwrap_or_default(),
            undo.to
        ),
        rolled_back_to: Some(undo.to.clone()),
    };
}

/// The words of a revision undone by hand, if it was.
pub(super) fn undone(record: &RevisionRecord) -> Option<&str> {
    match &record.outcome {
        Outcome::Failed { reason, message, .. } if reason == ROLLOUT_UNDONE => Some(message),
        _ => None,
    }
}

/// The target, from the current revision's record.
pub(super) fn target(history: &RevisionHistory, desired: &DesiredApp) -> Target {
    match history.get(&desired.revision).map(|r| &r.outcome) {
        Some(Outcome::Failed {
            rolled_back_to: Some(to),
            ..
        }) if history.get(to).is_some() => Target::RolledBack(to.clone()),
        Some(Outcome::Failed { .. }) => Target::Halted,
        _ => Target::Current(desired.revision.clone()),
    }
}

/// Advances the current revision's rollout: progress, completion, failure.
/// Returns true when it failed just now.
pub(super) fn track(
    history: &mut RevisionHistory,
    desired: &DesiredApp,
    target: &Target,
    counts: &Counts<'_>,
    input: &Input<'_>,
    frozen: bool,
) -> bool {
    if !matches!(target, Target::Current(r) if *r == desired.revision) {
        return false;
    }
    let now = input.now;
    let spec = &desired.app.spec;
    let rollback_to = history.last_completed(&desired.revision).map(|r| r.revision.clone());
    let Some(rec) = history.get_mut(&desired.revision) else {
        return false;
    };
    if rec.outcome != Outcome::Progressing {
        return false;
    }
    // Time the rollout cannot move does not count against its deadline.
    if frozen {
        rec.frozen_at.get_or_insert(now);
        return false;
    }
    if let Some(at) = rec.frozen_at.take() {
        rec.progress_at += (now - at).max(0.0);
    }

    let budget = spec.strategy.failure_budget as usize;
    let failed = failures_of(input.tasks, &rec.revision);
    for t in &failed {
        if rec.failed_tasks.len() > budget {
            break;
        }
        if !rec.failed_tasks.contains(&t.id) {
            rec.failed_tasks.push(t.id.clone());
        }
    }

    let new_available = counts.new_available();
    if new_available > rec.best_available {
        rec.best_available = new_available;
        rec.progress_at = now;
    }
    if new_available >= spec.instances && counts.old.is_empty() {
        rec.outcome = Outcome::Completed { at: now };
        return false;
    }

    let (reason, message) = if rec.failed_tasks.len() > budget {
        let launched = launched_of(input.tasks, &rec.revision);
        let last = failed.last().map(|t| describe_failure(t, spec)).unwrap_or_default();
        (
            FAILURE_BUDGET_EXHAUSTED,
            format!(
                "{} of {launched} new tasks failed (failureBudget {budget}); the last: {last}",
                rec.failed_tasks.len()
            ),
        )
    } else if now - rec.progress_at > f64::from(spec.strategy.progress_deadline_seconds) {
        (
            PROGRESS_DEADLINE_EXCEEDED,
            format!(
                "no new task became available for {} s; {}",
                spec.strategy.progress_deadline_seconds,
                why_not_available(counts, input.tasks, desired, &desired.revision)
            ),
        )
    } else {
        return false;
    };
    rec.outcome = Outcome::Failed {
        at: now,
        reason: reason.to_string(),
        message,
        rolled_back_to: if spec.strategy.auto_rollback { rollback_to } else { None },
    };
    true
}

/// The error of a failed current revision, if it failed.
pub(super) fn failure_of(history: &RevisionHistory, desired: &DesiredApp) -> Option<ReconcileError> {
    let record = history.get(&desired.revision)?;
    if undone(record).is_some() {
        return None;
    }
    match &record.outcome {
        Outcome::Failed {
            reason,
            message,
            rolled_back_to,
            ..
        } => Some(ReconcileError::RolloutFailed {
            revision: desired.revision.clone(),
            reason: reason.clone(),
            message: message.clone(),
            rolled_back_to: rolled_back_to.clone(),
        }),
        _ => None,
    }
}

/// When the current rollout's deadline passes, if it is running.
pub(super) fn deadline(history: &RevisionHistory, desired: &DesiredApp) -> Option<f64> {
    let rec = history.get(&desired.revision)?;
    (rec.outcome == Outcome::Progressing && rec.frozen_at.is_none())
        .then(|| rec.progress_at + f64::from(desired.app.spec.strategy.progress_deadline_seconds) + 0.001)
}

/// A task's last message, or `otherwise` when Mesos gave none.
fn message_or<'a>(t: &'a ObservedTask, otherwise: &'a str) -> &'a str {
    if t.message.is_empty() { otherwise } else { &t.message }
}

/// Tasks of `revision` observed, live or ended.
fn launched_of(tasks: &[ObservedTask], revision: &str) -> usize {
    tasks.iter().filter(|t| &*t.revision == revision).count()
}

/// The health check, in words: "HTTP health check on /".
pub(super) fn check_words(spec: &AppSpec) -> String {
    match &spec.health_check {
        Some(HealthCheck { http: Some(c), .. }) => format!("HTTP health check on {}", c.path),
        Some(h) if h.tcp.is_some() => "TCP health check".into(),
        Some(_) => "command health check".into(),
        None => "health check".into(),
    }
}

/// How one failed task ended, in words.
fn describe_failure(t: &ObservedTask, spec: &AppSpec) -> String {
    let message = message_or(t, "no message");
    if t.state == TaskState::Killed && t.healthy == Some(false) {
        format!("{} was killed for failing its {}: {message}", t.id, check_words(spec))
    } else {
        format!("{} ended {}: {message}", t.id, state_name(t.state))
    }
}

/// Why new tasks are not available, in one clause a person can act on.
pub(super) fn why_not_available(
    counts: &Counts<'_>,
    tasks: &[ObservedTask],
    desired: &DesiredApp,
    revision: &str,
) -> String {
    let spec = &desired.app.spec;
    let n = spec.instances;
    let target: Vec<&ObservedTask> = counts.new.iter().filter_map(|l| l.task).collect();
    let unhealthy: Vec<&&ObservedTask> = target.iter().filter(|t| t.healthy == Some(false)).collect();
    let failed = failures_of(tasks, revision);
    let waiting: Vec<&&ObservedTask> = target.iter().filter(|t| t.state == TaskState::Pending).collect();
    if let Some(t) = unhealthy.last() {
        return format!(
            "{} of {} new tasks fail their {}: {}",
            unhealthy.len() + failed.len(),
            target.len() + failed.len(),
            check_words(spec),
            message_or(t, "no message")
        );
    }
    if let Some(t) = failed.last() {
        return format!(
            "{} new task(s) failed; the last: {}",
            failed.len(),
            describe_failure(t, spec)
        );
    }
    if let Some(t) = waiting.first() {
        let why = message_or(t, "no fitting offer yet");
        let mut text = format!("{} new task(s) wait in the agent's queue: {why}", waiting.len());
        text.push_str(&held_host_ports(counts, spec));
        return text;
    }
    let Bounds { max_live, surge, .. } = Bounds::of(spec);
    if (counts.new.len() as u64) < u64::from(n) && counts.live() >= max_live {
        return format!(
            "no room to launch a new task: {} tasks live, at most {max_live} (instances {n} + maxSurge {surge}), and no old task may go before a new one is available",
            counts.live(),
        );
    }
    let starting = target.iter().filter(|t| t.state != TaskState::Running).count();
    if starting > 0 {
        return format!("{starting} new task(s) still starting");
    }
    format!("{} of {n} new tasks available", counts.new_available())
}

/// A hint when the new tasks' fixed host ports are held by old tasks: on a
/// node the old task occupies, the new one cannot start beside it, so a
/// surge cannot happen there (Marathon users meet this first).
fn held_host_ports(counts: &Counts<'_>, spec: &AppSpec) -> String {
    let fixed: Vec<u32> = spec
        .ports
        .iter()
        .filter_map(|p| p.host_port)
        .filter(|p| *p != 0)
        .map(u32::from)
        .collect();
    let held: Vec<u32> = fixed
        .into_iter()
        .filter(|port| {
            counts
                .old
                .iter()
                .filter_map(|l| l.task)
                .any(|t| t.ports.iter().any(|p| p.port == *port))
        })
        .collect();
    match held.as_slice() {
        [] => String::new(),
        ports => format!(
            "; fixed host port(s) {} are held by tasks of the old revision, so a new task fits only on another node: with one node, use maxSurge: 0 and maxUnavailable: 1",
            ports.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
        ),
    }
}
