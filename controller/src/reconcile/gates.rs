//! The gates: when the controller must not act on an app, and what it does
//! for an app that is no longer desired.

use super::{Action, Cause, Input, Plan, ReconcileError};
use crate::desired::DesiredApp;
use crate::store::rfc3339;

/// Why nothing is done this pass.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Freeze {
    /// The agent's snapshot has not arrived: the view may be stale.
    NoSnapshot { url: String, mesos: String },
    /// The agent has lost Mesos: its view is the last known.
    MesosLost { since: f64, message: String },
    /// `spec.paused`, or `sextant rollout pause` (who, when).
    Paused {
        /// Paused by hand: by whom and since when, in words.
        by_hand: Option<String>,
    },
}

impl Freeze {
    /// The error it is, if it is one (pausing is asked for, not an error).
    pub fn error(&self) -> Option<ReconcileError> {
        match self {
            Freeze::NoSnapshot { url, mesos } => Some(ReconcileError::AgentUnavailable {
                url: url.clone(),
                why: if mesos.is_empty() {
                    String::new()
                } else {
                    format!(" (it is not synced with Mesos yet: {mesos})")
                },
            }),
            Freeze::MesosLost { since, message } => Some(ReconcileError::MesosDisconnected {
                since: rfc3339(*since).unwrap_or_else(|| "an unknown time".into()),
                message: if message.is_empty() {
                    "no reason given".into()
                } else {
                    message.clone()
                },
            }),
            Freeze::Paused { .. } => None,
        }
    }

    /// Why the counts are not fresh, if they are not.
    pub fn last_known(&self) -> Option<String> {
        match self {
            Freeze::Paused { .. } => None,
            other => other.error().map(|e| e.to_string()),
        }
    }
}

/// Whether this pass must leave the app alone, and why.
pub(super) fn frozen(input: &Input<'_>, desired: &DesiredApp) -> Option<Freeze> {
    let agent = input.agent;
    if !agent.synced {
        Some(Freeze::NoSnapshot {
            url: agent.url.clone(),
            mesos: agent.message.clone(),
        })
    } else if !agent.mesos_connected {
        Some(Freeze::MesosLost {
            since: agent.since,
            message: agent.message.clone(),
        })
    } else if let Some(mark) = &desired.ops.paused {
        Some(Freeze::Paused {
            by_hand: Some(format!(
                "by `sextant rollout pause` ({}, {})",
                mark.by,
                rfc3339(mark.at).unwrap_or_default()
            )),
        })
    } else if desired.app.spec.paused {
        Some(Freeze::Paused { by_hand: None })
    } else {
        None
    }
}

/// An app that left its source: every live task is killed; once none is
/// left, the app is forgotten.
pub(super) fn not_desired(input: &Input<'_>) -> Plan {
    let now = input.now;
    let agent = input.agent;
    let mut plan = Plan::default();
    let live: Vec<_> = input.tasks.iter().filter(|t| t.is_live()).collect();
    let expected = input.expectations.pending_launches(input.tasks, now).count();
    plan.forget = live.is_empty() && expected == 0;
    if !(agent.synced && agent.mesos_connected) {
        plan.forget = false;
        return plan;
    }
    for t in live {
        if t.state == crate::observed::TaskState::Killing || input.expectations.kill_pending(&t.id, now) {
            continue;
        }
        plan.actions.push(Action::Kill {
            task_id: t.id.clone(),
            reason: format!("app {} is no longer desired", input.key),
            cause: Cause::KillUndesired,
        });
    }
    if expected > 0 {
        // Launches still in flight: look again once they show.
        plan.requeue_after = Some(1.0);
    }
    plan
}
