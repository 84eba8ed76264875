//! The rollout step, Kubernetes Deployment style, over the counts of one
//! target revision: surplus new tasks go first; new tasks are launched
//! within `instances + maxSurge` live tasks; old ones are killed only while
//! `instances - maxUnavailable` stay available. Scaling is the same step
//! with nothing old.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::sync::Arc;

use sextant_api::task::{TaskId, task_spec};

use super::count::{Bounds, Counts, Live, spec_of};
use super::progress::Target;
use super::{Action, Cause, IdSource, Input, MAX_LAUNCHES_PER_PLAN, ReconcileError};
use crate::desired::DesiredApp;
use crate::history::RevisionHistory;

/// What one step asks for.
#[derive(Debug, Default)]
pub(super) struct StepOutcome {
    pub actions: Vec<Action>,
    /// Launches held back by crash-loop backoff.
    pub held: usize,
    pub error: Option<ReconcileError>,
}

/// Kill preference, first to go first: failing its health check, not yet
/// available, then the youngest. Launches not yet observed cannot be
/// killed and never come first.
fn kill_order(a: &Live<'_>, b: &Live<'_>) -> Ordering {
    let key = |l: &Live<'_>| (l.task.is_none(), !l.unhealthy, l.available);
    key(a)
        .cmp(&key(b))
        .then_with(|| b.created_at.total_cmp(&a.created_at))
        .then_with(|| b.id.cmp(a.id))
}

pub(super) fn step(
    input: &Input<'_>,
    desired: &DesiredApp,
    history: &RevisionHistory,
    target: &Target,
    counts: &Counts<'_>,
    ids: &mut dyn IdSource,
) -> StepOutcome {
    let now = input.now;
    let spec = &desired.app.spec;
    let mut out = StepOutcome::default();
    let kill = |out: &mut StepOutcome, l: &Live<'_>, reason: String, cause: Cause| {
        out.actions.push(Action::Kill {
            task_id: l.id.to_string(),
            reason,
            cause,
        });
    };

    for t in &counts.expired {
        if !input.expectations.kill_pending(&t.id, now) {
            out.actions.push(Action::Kill {
                task_id: t.id.clone(),
                reason: format!(
                    "unreachable for more than {} s (spec.unreachableReplaceSeconds); replaced",
                    spec.unreachable_replace_seconds
                ),
                cause: Cause::KillUnreachable,
            });
        }
    }
    let Some(revision) = target.revision() else {
        halted(input, desired, history, counts, ids, &mut out);
        return out;
    };

    let Bounds {
        n,
        max_live,
        min_available,
        ..
    } = Bounds::of(spec);

    // Surplus of the target revision (scaling down).
    let mut new: Vec<&Live<'_>> = counts.new.iter().collect();
    // The order matters only when some are to go.
    if new.len() as u64 > n {
        new.sort_by(|a, b| kill_order(a, b));
    }
    let mut terminating = u64::from(counts.terminating);
    let surplus = (new.len() as u64).saturating_sub(n) as usize;
    let killable = new.iter().take(surplus).filter(|l| l.task.is_some()).count();
    for l in new.drain(..killable) {
        kill(
            &mut out,
            l,
            format!("scaling down to {n} instances"),
            Cause::KillSurplus,
        );
        terminating += 1;
    }

    // Launches, within the surge and the agent-queue batch.
    let live = new.len() as u64 + counts.old.len() as u64 + terminating;
    let waiting = counts.waiting.len()
        + counts
            .new
            .iter()
            .chain(&counts.old)
            .filter(|l| l.task.is_none())
            .count();
    let want = n.saturating_sub(new.len() as u64);
    let room = max_live.saturating_sub(live);
    let batch = MAX_LAUNCHES_PER_PLAN.saturating_sub(waiting) as u64;
    let mut launch = want.min(room).min(batch) as usize;
    if launch > 0 && input.crash.is_some_and(|h| h.until > now) {
        out.held = launch;
        launch = 0;
    }
    let cause = if counts.old.is_empty() {
        Cause::LaunchMissing
    } else {
        Cause::LaunchRollout
    };
    if launch > 0 && !push_launches(&mut out, desired, history, revision, launch, cause, ids) {
        launch = 0;
    }

    // Old tasks, as availability allows.
    let new_available = new.iter().filter(|l| l.available).count() as u64;
    let new_unavailable = new.len() as u64 - new_available + launch as u64;
    let (mut old_available, mut old_unavailable): (Vec<&Live<'_>>, Vec<&Live<'_>>) =
        counts.old.iter().partition(|l| l.available);
    if !counts.old.is_empty() {
        old_available.sort_by(|a, b| kill_order(a, b));
        old_unavailable.sort_by(|a, b| kill_order(a, b));
    }
    let all = new.len() as u64 + launch as u64 + counts.old.len() as u64;
    let mut max_scale_down = all.saturating_sub(min_available + new_unavailable);
    let reason = format!("replaced by revision {revision}");
    for l in old_unavailable.into_iter().filter(|l| l.task.is_some()) {
        if max_scale_down == 0 {
            break;
        }
        kill(&mut out, l, reason.clone(), Cause::KillReplaced);
        max_scale_down -= 1;
    }
    let mut may_go = (new_available + old_available.len() as u64).saturating_sub(min_available);
    for l in old_available {
        if may_go == 0 {
            break;
        }
        kill(&mut out, l, reason.clone(), Cause::KillReplaced);
        may_go -= 1;
    }
    out
}

/// Pushes `count` launches of `revision`; false (with the error set) when
/// its spec does not convert into a task.
fn push_launches(
    out: &mut StepOutcome,
    desired: &DesiredApp,
    history: &RevisionHistory,
    revision: &str,
    count: usize,
    cause: Cause,
    ids: &mut dyn IdSource,
) -> bool {
    // The current revision's task is the desired app's; an older one's is
    // its recorded spec.
    let app = match spec_of(desired, history, revision) {
        Some(s) if revision != desired.revision => {
            let mut app = desired.app.clone();
            app.spec = s.clone();
            Cow::Owned(app)
        }
        _ => Cow::Borrowed(&desired.app),
    };
    match task_spec(&app) {
        Ok(task) => {
            let task = Arc::new(task);
            for _ in 0..count {
                out.actions.push(Action::Launch {
                    task_id: TaskId {
                        namespace: desired.namespace().to_string(),
                        app: desired.name().to_string(),
                        revision: revision.to_string(),
                        unique: ids.unique(),
                    },
                    spec: Arc::clone(&task),
                    cause,
                });
            }
            true
        }
        Err(cause) => {
            out.error = Some(ReconcileError::InvalidSpec {
                revision: revision.to_string(),
                cause,
            });
            false
        }
    }
}

/// A failed rollout with nothing rolled back to (`autoRollback` off, or no
/// revision ever completed): the failed revision is not tried again, so
/// its tasks that are not available are withdrawn (a queued one would
/// otherwise run when room appears); the rest stay as they are, and tasks
/// that end are replaced with the last completed revision, if there is
/// one, within the surge, as a ReplicaSet keeps its count.
fn halted(
    input: &Input<'_>,
    desired: &DesiredApp,
    history: &RevisionHistory,
    counts: &Counts<'_>,
    ids: &mut dyn IdSource,
    out: &mut StepOutcome,
) {
    let failed = desired.revision.as_str();
    let mut withdrawn = 0u64;
    for l in &counts.old {
        if let Some(t) = l.task
            && &*t.revision == failed
            && !l.available
        {
            out.actions.push(Action::Kill {
                task_id: l.id.to_string(),
                reason: format!("revision {failed} failed its rollout and is not tried again until the spec changes"),
                cause: Cause::KillWithdrawn,
            });
            withdrawn += 1;
        }
    }
    let Some(completed) = history.last_completed(failed) else {
        return;
    };
    let Bounds { n, max_live, .. } = Bounds::of(&desired.app.spec);
    let kept = (counts.old.len() as u64).saturating_sub(withdrawn);
    let room = max_live.saturating_sub(counts.live());
    let waiting = counts.waiting.len() + counts.old.iter().filter(|l| l.task.is_none()).count();
    let batch = MAX_LAUNCHES_PER_PLAN.saturating_sub(waiting) as u64;
    let launch = n.saturating_sub(kept).min(room).min(batch) as usize;
    if launch == 0 {
        return;
    }
    if input.crash.is_some_and(|h| h.until > input.now) {
        out.held = launch;
        return;
    }
    let revision = completed.revision.clone();
    push_launches(out, desired, history, &revision, launch, Cause::LaunchMissing, ids);
}
