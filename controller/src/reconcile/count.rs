//! Counting an app's tasks against a target revision, as DESIGN.md's table
//! says: which are live (they occupy a slot and count toward the surge),
//! which are available, which are on their way out, and when any of that
//! changes by itself.

use sextant_api::AppSpec;

use super::Input;
use crate::desired::DesiredApp;
use crate::history::RevisionHistory;
use crate::observed::{ObservedTask, TaskState};

/// A live task that is not on its way out: observed, or a launch the agent
/// accepted and has not reported yet.
#[derive(Clone, Debug)]
pub(super) struct Live<'a> {
    pub id: &'a str,
    /// `None` for a launch not observed yet.
    pub task: Option<&'a ObservedTask>,
    pub available: bool,
    /// Its health check fails.
    pub unhealthy: bool,
    /// Unix seconds it was created (newest go first on scale-down).
    pub created_at: f64,
}

/// An app's tasks, counted against one target revision.
#[derive(Clone, Debug, Default)]
pub(super) struct Counts<'a> {
    /// Live tasks of the target revision.
    pub new: Vec<Live<'a>>,
    /// Live tasks of other revisions.
    pub old: Vec<Live<'a>>,
    /// Live tasks being killed (by us or by Mesos), any revision.
    pub terminating: u32,
    /// Unreachable for longer than `unreachableReplaceSeconds`: no longer
    /// counted, to be killed should they come back.
    pub expired: Vec<&'a ObservedTask>,
    /// RUNNING, any revision (terminating ones included).
    pub running: u32,
    /// RUNNING and healthy (or unchecked), any revision.
    pub healthy: u32,
    /// PENDING in the agent's queue.
    pub waiting: Vec<&'a ObservedTask>,
    /// Earliest future time at which a count changes by itself.
    pub next_change: Option<f64>,
}

impl Counts<'_> {
    pub fn new_available(&self) -> u32 {
        self.new.iter().filter(|l| l.available).count() as u32
    }

    pub fn old_available(&self) -> u32 {
        self.old.iter().filter(|l| l.available).count() as u32
    }

    pub fn available(&self) -> u32 {
        self.new_available() + self.old_available()
    }

    /// Live tasks, terminating ones included: what the surge bounds.
    pub fn live(&self) -> u64 {
        (self.new.len() + self.old.len()) as u64 + u64::from(self.terminating)
    }

    fn later(&mut self, at: f64) {
        self.next_change = Some(self.next_change.map_or(at, |t| t.min(at)));
    }
}

/// The rollout's bounds for `instances` tasks, by Kubernetes' rounding.
#[derive(Clone, Copy, Debug)]
pub(super) struct Bounds {
    /// `instances`.
    pub n: u64,
    /// `maxSurge`, resolved.
    pub surge: u32,
    /// At most this many tasks live: `instances + maxSurge`.
    pub max_live: u64,
    /// At least this many available: `instances - maxUnavailable`.
    pub min_available: u64,
}

impl Bounds {
    pub fn of(spec: &AppSpec) -> Self {
        let n = u64::from(spec.instances);
        let (surge, unavailable) = spec.strategy.resolve(spec.instances);
        Self {
            n,
            surge,
            max_live: n + u64::from(surge),
            min_available: n.saturating_sub(u64::from(unavailable)),
        }
    }
}

/// The spec of `revision`, if known: the desired one or one in the history.
pub(super) fn spec_of<'a>(
    desired: &'a DesiredApp,
    history: &'a RevisionHistory,
    revision: &str,
) -> Option<&'a AppSpec> {
    if revision == desired.revision {
        Some(&desired.app.spec)
    } else {
        history.get(revision).map(|r| &r.spec)
    }
}

/// Counts the app's tasks against `target` (no target: every task is old).
pub(super) fn count<'a>(
    input: &Input<'a>,
    desired: &DesiredApp,
    history: &RevisionHistory,
    target: Option<&str>,
) -> Counts<'a> {
    let now = input.now;
    let spec = &desired.app.spec;
    let min_ready = f64::from(spec.strategy.min_ready_seconds);
    let unreachable_after = f64::from(spec.unreachable_replace_seconds);
    let mut c = Counts::default();
    for t in input.tasks {
        if !t.is_live() {
            continue;
        }
        if t.state == TaskState::Unreachable {
            let expires = t.updated_at + unreachable_after;
            if now >= expires {
                c.expired.push(t);
                continue;
            }
            c.later(expires);
        }
        if t.state == TaskState::Running {
            c.running += 1;
            if t.healthy != Some(false) {
                c.healthy += 1;
            }
        }
        if t.state == TaskState::Pending {
            c.waiting.push(t);
        }
        if t.state == TaskState::Killing || input.expectations.kill_pending(&t.id, now) {
            c.terminating += 1;
            continue;
        }
        let checked = spec_of(desired, history, &t.revision).is_some_and(|s| s.health_check.is_some());
        let available = match ready_since(t, checked) {
            Some(since) if now - since >= min_ready => true,
            Some(since) => {
                c.later(since + min_ready);
                false
            }
            None => false,
        };
        let live = Live {
            id: &t.id,
            task: Some(t),
            available,
            unhealthy: t.healthy == Some(false),
            created_at: t.created_at,
        };
        if Some(&*t.revision) == target {
            c.new.push(live);
        } else {
            c.old.push(live);
        }
    }
    for (id, launch) in input.expectations.pending_launches(input.tasks, now) {
        let live = Live {
            id,
            task: None,
            available: false,
            unhealthy: false,
            created_at: launch.at,
        };
        if Some(launch.revision.as_str()) == target {
            c.new.push(live);
        } else {
            c.old.push(live);
        }
    }
    c
}

/// Since when a task has been ready (RUNNING, and healthy if `checked`);
/// `None` when it is not.
fn ready_since(t: &ObservedTask, checked: bool) -> Option<f64> {
    if t.state != TaskState::Running || t.healthy == Some(false) {
        return None;
    }
    let running = t.running_since.unwrap_or(t.updated_at);
    if checked {
        match t.healthy {
            Some(true) => Some(t.healthy_since.unwrap_or(running).max(running)),
            _ => None,
        }
    } else {
        Some(running)
    }
}
