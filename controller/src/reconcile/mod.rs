//! The reconcile decision: one pure, deterministic function from one app's
//! [`Input`] (desired spec, revision history, observed tasks, expectations,
//! crash streak, agent link, now) and an injected [`IdSource`] to a
//! [`Plan`] (actions, status, history, requeue_after). Why an app is not
//! where it should be is a [`ReconcileError`], whose `category()` is the
//! `Degraded` condition's reason.
//!
//! It owns every rule; the runtime gathers the input, executes the actions
//! and writes what the plan says, and decides nothing. The rules, in the
//! order they apply:
//!
//! 1. Gates: without the agent's snapshot, or while the agent has lost
//!    Mesos, nothing is done and the counts are marked as last known; a
//!    paused app is observed but left alone (`gates`).
//! 2. The target revision: the current spec's, unless its rollout failed;
//!    then the revision rolled back to (`autoRollback`), or none (the
//!    rollout halts, and the failed revision is not tried again until the
//!    spec changes) (`progress`).
//! 3. Tasks are counted as DESIGN.md's table says (`count`): live ones
//!    occupy a slot and count toward the surge; available ones are
//!    RUNNING, healthy if checked, and so for `minReadySeconds`.
//! 4. The rollout step, Kubernetes Deployment style (`step`): surplus new
//!    tasks go first (unhealthy, not yet available, youngest); new tasks
//!    are launched within `instances + maxSurge` live tasks; old ones are
//!    killed only while `instances - maxUnavailable` stay available.
//!    Crash-loop backoff holds launches back.
//! 5. Progress (`progress`): another new task available is progress;
//!    none for `progressDeadlineSeconds`, or more than `failureBudget`
//!    failed new tasks, fails the rollout; all new available and no old
//!    task left completes it.
//! 6. Status and conditions (`status`).

mod count;
mod error;
mod gates;
mod ids;
#[cfg(test)]
mod ops_tests;
mod progress;
#[cfg(test)]
mod properties;
mod status;
mod step;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::sync::Arc;

use sextant_api::AppStatus;
use sextant_api::proto::TaskSpec;
use sextant_api::task::TaskId;

use crate::crash_loop::Hold;
use crate::desired::DesiredApp;
use crate::expectations::AppExpectations;
use crate::history::RevisionHistory;
use crate::observed::ObservedTask;

pub use error::ReconcileError;
pub use ids::{IdSource, RandomIds, SequentialIds};
pub use status::conditions;

/// Launches one plan may ask for, and tasks of one app that may wait in the
/// agent's queue at once; the rest follow as those are placed, so no
/// number of desired instances makes the controller (or the agent)
/// allocate per instance before it acts.
pub const MAX_LAUNCHES_PER_PLAN: usize = 256;

/// One step towards the desired state.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Launch a new task.
    Launch {
        /// The new task's id (namespace, app and revision are in it).
        task_id: TaskId,
        /// What the task runs, shared by the plan's launches.
        spec: Arc<TaskSpec>,
        /// The drift it corrects.
        cause: Cause,
    },
    /// Kill a task.
    Kill {
        /// The task's id.
        task_id: String,
        /// Why, for logs and the task's record.
        reason: String,
        /// The drift it corrects.
        cause: Cause,
    },
}

/// The drift an action corrects, by kind: the `kind` label of
/// `sextant_drift_corrections_total` (see docs/metrics.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cause {
    /// Fewer live tasks than instances, and no other revision's task runs:
    /// a new app, a scale-up, an ended task replaced.
    LaunchMissing,
    /// A task of the target revision while another revision's tasks are
    /// live: a rollout step (or a rollback's).
    LaunchRollout,
    /// More tasks of the target revision than instances (a scale-down).
    KillSurplus,
    /// An older revision's task, replaced by the rollout.
    KillReplaced,
    /// Unreachable for longer than `spec.unreachableReplaceSeconds`.
    KillUnreachable,
    /// A task of a failed revision, withdrawn (a halted rollout).
    KillWithdrawn,
    /// A task of an app that is no longer desired.
    KillUndesired,
}

impl Cause {
    /// Every cause, in the order they are listed in the docs.
    pub const ALL: [Cause; 7] = [
        Cause::LaunchMissing,
        Cause::LaunchRollout,
        Cause::KillSurplus,
        Cause::KillReplaced,
        Cause::KillUnreachable,
        Cause::KillWithdrawn,
        Cause::KillUndesired,
    ];

    /// Its reason in events, CamelCase.
    pub fn reason(self) -> &'static str {
        match self {
            Cause::LaunchMissing => "LaunchMissing",
            Cause::LaunchRollout => "LaunchRollout",
            Cause::KillSurplus => "KillSurplus",
            Cause::KillReplaced => "KillReplaced",
            Cause::KillUnreachable => "KillUnreachable",
            Cause::KillWithdrawn => "KillWithdrawn",
            Cause::KillUndesired => "KillUndesired",
        }
    }

    /// What was done, as a verb.
    pub fn verb(self) -> &'static str {
        match self {
            Cause::LaunchMissing | Cause::LaunchRollout => "launched",
            _ => "killing",
        }
    }

    /// Why, in words.
    pub fn why(self) -> &'static str {
        match self {
            Cause::LaunchMissing => "an instance was missing (a new app, a scale-up, or an ended task replaced)",
            Cause::LaunchRollout => "a rollout step (or a rollback's)",
            Cause::KillSurplus => "more tasks than instances",
            Cause::KillReplaced => "replaced by the rollout",
            Cause::KillUnreachable => "unreachable for longer than spec.unreachableReplaceSeconds",
            Cause::KillWithdrawn => "its revision failed; the rollout is halted",
            Cause::KillUndesired => "the app is no longer desired",
        }
    }

    /// Its stable name (a metric label value).
    pub fn name(self) -> &'static str {
        match self {
            Cause::LaunchMissing => "launch_missing",
            Cause::LaunchRollout => "launch_rollout",
            Cause::KillSurplus => "kill_surplus",
            Cause::KillReplaced => "kill_replaced",
            Cause::KillUnreachable => "kill_unreachable",
            Cause::KillWithdrawn => "kill_withdrawn",
            Cause::KillUndesired => "kill_undesired",
        }
    }
}

impl Action {
    /// The drift it corrects.
    pub fn cause(&self) -> Cause {
        match self {
            Action::Launch { cause, .. } | Action::Kill { cause, .. } => *cause,
        }
    }
}

/// How the controller sees the agent right now.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AgentLink {
    /// The agent's URL, for messages.
    pub url: String,
    /// Whether the current connection's task snapshot has arrived.
    pub synced: bool,
    /// Whether the agent is subscribed to Mesos.
    pub mesos_connected: bool,
    /// Unix seconds of the last change of `mesos_connected`.
    pub since: f64,
    /// Why the agent is not connected to Mesos.
    pub message: String,
}

/// Everything one reconcile of one app looks at.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    /// `namespace/name`.
    pub key: &'a str,
    /// The desired object; `None` once it left its source.
    pub desired: Option<&'a DesiredApp>,
    /// The app's revisions.
    pub history: &'a RevisionHistory,
    /// The app's tasks as last observed (ended ones until pruned).
    pub tasks: &'a [ObservedTask],
    /// Launches and kills asked for and not yet observed.
    pub expectations: &'a AppExpectations,
    /// The crash-loop hold of the current revision, if any.
    pub crash: Option<&'a Hold>,
    /// The agent link.
    pub agent: &'a AgentLink,
    /// Calls of the last pass that the agent refused, in words.
    pub call_errors: &'a [String],
    /// Whether the app's source applied its latest definition.
    pub synced: Option<&'a Synced>,
    /// Unix seconds.
    pub now: f64,
}

/// Whether an app's source applied its latest definition, as the runtime
/// found it in the source's record (the `Synced` condition).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Synced {
    /// The latest definition is what runs.
    pub ok: bool,
    /// `Synced`, or why not (`InvalidManifest`, `SyncRefused`, …).
    pub reason: String,
    /// In words, with the file, line and commit.
    pub message: String,
}

/// The outcome of one reconcile.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// What to do now.
    pub actions: Vec<Action>,
    /// The app's status; `None` when it is not desired.
    pub status: Option<AppStatus>,
    /// The new revision history, when it changed.
    pub history: Option<RevisionHistory>,
    /// Seconds after which to look again even if nothing happens.
    pub requeue_after: Option<f64>,
    /// The app is not desired and nothing of it is live: its status,
    /// history and expectations can go.
    pub forget: bool,
}

/// Decides the next step for one app. See the module docs for the rules.
pub fn reconcile(input: &Input<'_>, ids: &mut dyn IdSource) -> Plan {
    let Some(desired) = input.desired else {
        return gates::not_desired(input);
    };
    // Borrowed while nothing can change it: a steady app (its revision
    // recorded and done) costs no copy of its history.
    let mut history = Cow::Borrowed(input.history);
    let mut plan = Plan::default();
    let frozen = gates::frozen(input, desired);
    if let Some(undo) = desired.ops.undo_of(&desired.revision) {
        let done = input
            .history
            .get(&desired.revision)
            .is_some_and(|r| progress::undone(r).is_some());
        if !done {
            progress::apply_undo(history.to_mut(), desired, undo, input.now);
        }
    }

    let settled = input
        .history
        .get(&desired.revision)
        .is_some_and(|r| r.outcome != crate::history::Outcome::Progressing);
    if !settled {
        progress::note_revision(history.to_mut(), desired, input.now);
    }
    let mut target = progress::target(&history, desired);
    let mut counts = count::count(input, desired, &history, target.revision());
    let failure = !settled && progress::track(history.to_mut(), desired, &target, &counts, input, frozen.is_some());
    if failure {
        // Failed just now: this very pass turns to what comes after.
        target = progress::target(&history, desired);
        counts = count::count(input, desired, &history, target.revision());
    }

    let mut errors: Vec<ReconcileError> = Vec::new();
    let mut held = 0;
    if let Some(freeze) = &frozen {
        if let Some(e) = freeze.error() {
            errors.push(e);
        }
    } else {
        let outcome = step::step(input, desired, &history, &target, &counts, ids);
        plan.actions = outcome.actions;
        held = outcome.held;
        errors.extend(outcome.error);
    }
    if let Some(e) = progress::failure_of(&history, desired) {
        errors.insert(0, e);
    }
    if held > 0
        && let Some(hold) = input.crash
    {
        errors.push(ReconcileError::CrashLoopBackOff {
            failures: hold.failures,
            held,
            seconds: (hold.until - input.now).max(0.0),
        });
    }
    errors.extend(
        input
            .call_errors
            .iter()
            .map(|m| ReconcileError::AgentCallFailed { message: m.clone() }),
    );

    plan.status = Some(status::status(
        input,
        desired,
        &target,
        &counts,
        frozen.as_ref(),
        &errors,
        &history,
    ));
    plan.requeue_after = next_look(input, &counts, &history, desired, &plan);
    if let Cow::Owned(h) = history
        && &h != input.history
    {
        plan.history = Some(h);
    }
    plan
}

/// When something will change by itself: a task becoming available, a
/// deadline, the end of a crash-loop hold, an unreachable task's
/// replacement, an expectation expiring, or launches left for the next
/// batch.
fn next_look(
    input: &Input<'_>,
    counts: &count::Counts<'_>,
    history: &RevisionHistory,
    desired: &DesiredApp,
    plan: &Plan,
) -> Option<f64> {
    let now = input.now;
    let launches = plan
        .actions
        .iter()
        .filter(|a| matches!(a, Action::Launch { .. }))
        .count();
    let mut at: Vec<f64> = Vec::new();
    if launches >= MAX_LAUNCHES_PER_PLAN {
        at.push(now);
    }
    at.extend(counts.next_change);
    at.extend(progress::deadline(history, desired));
    if let Some(hold) = input.crash {
        at.push(hold.until);
    }
    for l in input.expectations.launches.values() {
        at.push(l.at + crate::expectations::LAUNCH_TTL_SECS);
    }
    for k in input.expectations.kills.values() {
        at.push(k + crate::expectations::KILL_RETRY_SECS);
    }
    at.into_iter()
        .filter(|t| t.is_finite())
        .map(|t| (t - now).max(0.0))
        .min_by(f64::total_cmp)
}
