//! The app's status: counts, and conditions a person understands
//! (`Available`, `Progressing`, `Degraded`, Kubernetes style).

use sextant_api::AppStatus;
use sextant_api::app::Condition;

use super::count::{Bounds, Counts};
use super::gates::Freeze;
use super::progress::{self, Target, why_not_available};
use super::{Input, ReconcileError};
use crate::desired::DesiredApp;
use crate::history::{Outcome, RevisionHistory};

/// Condition types.
pub mod conditions {
    /// At least `instances - maxUnavailable` tasks are available.
    pub const AVAILABLE: &str = "Available";
    /// Whether the app is moving to (or has reached) its target, and why not.
    pub const PROGRESSING: &str = "Progressing";
    /// Something is wrong: the reason is the error's category.
    pub const DEGRADED: &str = "Degraded";
    /// The app runs its source's latest definition (`OutOfSync` if not).
    pub const SYNCED: &str = "Synced";
}

fn condition(type_: &str, status: &str, reason: &str, message: String) -> Condition {
    Condition {
        type_: type_.to_string(),
        status: status.to_string(),
        reason: Some(reason.to_string()),
        message: Some(message),
    }
}

pub(super) fn status(
    input: &Input<'_>,
    desired: &DesiredApp,
    target: &Target,
    counts: &Counts<'_>,
    freeze: Option<&Freeze>,
    errors: &[ReconcileError],
    history: &RevisionHistory,
) -> AppStatus {
    let spec = &desired.app.spec;
    let n = spec.instances;
    let min_available = Bounds::of(spec).min_available;
    let available = counts.available();
    let enough = u64::from(available) >= min_available;

    let available_condition = condition(
        conditions::AVAILABLE,
        if enough { "True" } else { "False" },
        if enough {
            "MinimumInstancesAvailable"
        } else {
            "MinimumInstancesUnavailable"
        },
        format!("{available} of {n} instances available (at least {min_available} required)"),
    );

    let progressing = progressing(input, desired, target, counts, freeze, history);

    let degraded = match errors.first() {
        Some(first) => {
            let mut messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
            messages.dedup();
            condition(conditions::DEGRADED, "True", first.category(), messages.join("; "))
        }
        None => condition(conditions::DEGRADED, "False", "AsExpected", "nothing is wrong".into()),
    };

    AppStatus {
        observed_generation: desired.generation,
        revision: Some(desired.revision.clone()),
        target_revision: target.revision().map(str::to_string),
        desired: n,
        live: u32::try_from(counts.live()).unwrap_or(u32::MAX),
        running: counts.running,
        healthy: counts.healthy,
        available,
        updated: counts.new.len() as u32,
        waiting: counts.waiting.len() as u32,
        last_known: freeze.and_then(Freeze::last_known),
        conditions: {
            let mut all = vec![available_condition, progressing, degraded];
            if let Some(synced) = input.synced {
                all.push(condition(
                    conditions::SYNCED,
                    if synced.ok { "True" } else { "False" },
                    &synced.reason,
                    synced.message.clone(),
                ));
            }
            all
        },
    }
}

fn progressing(
    input: &Input<'_>,
    desired: &DesiredApp,
    target: &Target,
    counts: &Counts<'_>,
    freeze: Option<&Freeze>,
    history: &RevisionHistory,
) -> Condition {
    let n = desired.app.spec.instances;
    let c = |status: &str, reason: &str, message: String| condition(conditions::PROGRESSING, status, reason, message);
    if let Some(Freeze::Paused { by_hand }) = freeze {
        let message = match by_hand {
            Some(by) => {
                format!("reconciling is paused {by}; tasks are left as they are (`sextant rollout resume` continues)")
            }
            None => "reconciling is paused (spec.paused); tasks are left as they are".into(),
        };
        return c("Unknown", "Paused", message);
    }
    let record = history.get(&desired.revision);
    // An undo by hand is not a failure: the revision rolled back to rolls
    // out (or runs) as any other, and the words say why it is not the spec's.
    let undone = record.is_some_and(|r| progress::undone(r).is_some());
    if let Some(Outcome::Failed {
        reason,
        message,
        rolled_back_to,
        ..
    }) = record.map(|r| &r.outcome).filter(|_| !undone)
    {
        return match rolled_back_to {
            Some(to) => c(
                "False",
                "RolledBack",
                format!("RolledBack to {to} after {reason}: {message}"),
            ),
            None => c(
                "False",
                reason,
                format!(
                    "rollout to {} failed: {message}; it is not retried until the spec changes",
                    desired.revision
                ),
            ),
        };
    }
    let Some(revision) = target.revision() else {
        return c("False", "Halted", "no revision to run".into());
    };
    let new_available = counts.new_available();
    let settled = new_available >= n && counts.old.is_empty() && counts.new.len() as u64 <= u64::from(n);
    let completed = record.is_some_and(|r| r.completed());
    let undo_note = record
        .and_then(progress::undone)
        .map(|m| format!(" ({m})"))
        .unwrap_or_default();
    if settled {
        return c(
            "True",
            "RevisionAvailable",
            format!("revision {revision}: {new_available} of {n} tasks available{undo_note}"),
        );
    }
    let mut message = if completed {
        format!("revision {revision}: {new_available} of {n} tasks available")
    } else {
        format!("rollout to {revision}: {new_available} of {n} new tasks available")
    };
    if !counts.old.is_empty() {
        message.push_str(&format!("; {} old task(s) live", counts.old.len()));
    }
    if new_available < n {
        message.push_str("; ");
        message.push_str(&why_not_available(counts, input.tasks, desired, revision));
    }
    message.push_str(&undo_note);
    c(
        "True",
        if completed { "Converging" } else { "RolloutInProgress" },
        message,
    )
}
