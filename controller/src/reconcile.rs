//! The reconciler's decision: a pure function from one app's desired state
//! and its observed tasks to the next actions, Kubernetes controller style.
//!
//! It is level-triggered: it looks only at what is desired and observed now,
//! never at a stored plan, so a restarted controller continues where the
//! tasks say it is. It owns no I/O; `controller.rs` feeds it and carries out
//! the actions.
//!
//! Rules:
//! - live tasks are Pending, Staging, Starting, Running, Unreachable and
//!   Unknown; Killing tasks are going away (never re-killed, not counted);
//!   terminal tasks are ignored (the count rule replaces them);
//! - no desired app (manifest removed): kill every live task;
//! - fewer live tasks of the current revision than `instances`: launch the
//!   difference; more: kill the surplus, tasks that are not Running first,
//!   then the newest;
//! - a paused app (`spec.paused`) gets no actions at all;
//! - live tasks of another revision are killed once the current revision has
//!   `instances` Running tasks (a 100% surge replacement; health-gated
//!   rolling updates will refine this gate).
//!
//! A launch the controller just asked for is stored as a Pending task marked
//! with [`EXPECTED_REASON`] until the agent reports it, like a ReplicaSet's
//! expectations; an expectation older than [`EXPECTATION_TTL_SECS`] is no
//! longer trusted.

use std::cmp::Reverse;

use sextant_api::proto::{Task, TaskSpec, TaskState};
use sextant_api::task::{TaskId, task_spec};

use crate::store::DesiredApp;

/// `reason` of a task stored locally right after a successful Launch RPC,
/// before the agent reported on it.
pub const EXPECTED_REASON: &str = "SEXTANT_LAUNCH_REQUESTED";
/// Seconds a local launch expectation is trusted without word from the agent.
pub const EXPECTATION_TTL_SECS: f64 = 60.0;

/// One step towards the desired state.
// Actions are few and short-lived; boxing the spec would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Launch a new task of the app's current revision.
    Launch {
        /// The new task's id (namespace, app and revision are in it).
        task_id: TaskId,
        /// What the task runs.
        spec: TaskSpec,
        /// The revision launched.
        revision: String,
    },
    /// Kill a task.
    Kill {
        /// The task's id.
        task_id: String,
        /// Why, for logs and the task's record.
        reason: String,
    },
}

/// Counts the status is derived from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// `spec.instances`, 0 when the app is not desired.
    pub desired: u32,
    /// Live tasks of the current revision.
    pub current_live: u32,
    /// Running tasks of the current revision.
    pub current_running: u32,
    /// Live tasks of other revisions.
    pub old_live: u32,
    /// Running tasks of any revision (Killing not included).
    pub running: u32,
    /// Tasks being killed.
    pub killing: u32,
}

impl Summary {
    /// Whether the app is where it should be: exactly `instances` Running
    /// tasks of the current revision and nothing else live.
    pub fn converged(&self) -> bool {
        self.current_running == self.desired && self.current_live == self.desired && self.old_live == 0
    }
}

/// The outcome of reconciling one app.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// What to do now.
    pub actions: Vec<Action>,
    /// Counts of what is observed.
    pub summary: Summary,
    /// Why the desired state cannot be pursued fully (e.g. a spec that does
    /// not convert to a task); the other actions are still valid.
    pub error: Option<String>,
}

/// Whether a task in this state occupies an instance slot.
pub fn is_live(state: TaskState) -> bool {
    matches!(
        state,
        TaskState::Pending
            | TaskState::Staging
            | TaskState::Starting
            | TaskState::Running
            | TaskState::Unreachable
            | TaskState::Unknown
    )
}

/// Whether `task` occupies an instance slot at time `now`: a live state, and
/// not a launch expectation the agent never confirmed in time.
pub fn counts_as_live(task: &Task, now: f64) -> bool {
    let state = task.state();
    if !is_live(state) {
        return false;
    }
    !(state == TaskState::Pending && task.reason == EXPECTED_REASON && now - task.updated_at > EXPECTATION_TTL_SECS)
}

/// Kill preference: lower goes first. Unreachable/unknown tasks, then tasks
/// not started yet, then starting ones; Running last.
fn kill_rank(state: TaskState) -> u8 {
    match state {
        TaskState::Unreachable | TaskState::Unknown => 0,
        TaskState::Pending => 1,
        TaskState::Staging => 2,
        TaskState::Starting => 3,
        _ => 4,
    }
}

/// The next actions for one app. See the module docs for the rules.
pub fn reconcile(desired: Option<&DesiredApp>, observed: &[Task], now: f64) -> Vec<Action> {
    plan(desired, observed, now).actions
}

/// Like [`reconcile`], with the counts and any error behind the decision.
pub fn plan(desired: Option<&DesiredApp>, observed: &[Task], now: f64) -> Plan {
    let live: Vec<&Task> = observed.iter().filter(|t| counts_as_live(t, now)).collect();
    let mut summary = Summary {
        running: live.iter().filter(|t| t.state() == TaskState::Running).count() as u32,
        killing: observed.iter().filter(|t| t.state() == TaskState::Killing).count() as u32,
        ..Summary::default()
    };

    let Some(desired) = desired else {
        summary.old_live = live.len() as u32;
        let actions = live
            .iter()
            .map(|t| Action::Kill {
                task_id: t.task_id.clone(),
                reason: format!("app {}/{} is no longer desired", t.namespace, t.app),
            })
            .collect();
        return Plan {
            actions,
            summary,
            error: None,
        };
    };

    let revision = desired.revision.as_str();
    let want = desired.app.spec.instances;
    let (mut current, old): (Vec<&Task>, Vec<&Task>) = live.into_iter().partition(|t| t.revision == revision);
    summary.desired = want;
    summary.current_live = current.len() as u32;
    summary.current_running = current.iter().filter(|t| t.state() == TaskState::Running).count() as u32;
    summary.old_live = old.len() as u32;

    // A paused app is observed but left alone, like a paused Deployment.
    if desired.app.spec.paused {
        return Plan {
            actions: Vec::new(),
            summary,
            error: None,
        };
    }

    let mut actions = Vec::new();
    let mut error = None;
    let have = current.len() as u32;

    if have < want {
        match task_spec(&desired.app) {
            Ok(spec) => {
                for _ in have..want {
                    actions.push(Action::Launch {
                        task_id: TaskId::new(desired.namespace(), desired.name(), revision),
                        spec: spec.clone(),
                        revision: revision.to_string(),
                    });
                }
            }
            Err(e) => error = Some(format!("cannot launch tasks of revision {revision}: {e}")),
        }
    } else if have > want {
        current.sort_by(|a, b| {
            (
                kill_rank(a.state()),
                Reverse(ordered(a.created_at)),
                Reverse(&a.task_id),
            )
                .cmp(&(
                    kill_rank(b.state()),
                    Reverse(ordered(b.created_at)),
                    Reverse(&b.task_id),
                ))
        });
        for t in current.iter().take((have - want) as usize) {
            actions.push(Action::Kill {
                task_id: t.task_id.clone(),
                reason: format!("scaling down to {want} instances of revision {revision}"),
            });
        }
    }

    if summary.current_running >= want {
        for t in &old {
            actions.push(Action::Kill {
                task_id: t.task_id.clone(),
                reason: format!("replaced by revision {revision}"),
            });
        }
    }

    Plan {
        actions,
        summary,
        error,
    }
}

/// A totally ordered stand-in for a timestamp (NaN sorts first).
fn ordered(x: f64) -> i64 {
    if x.is_nan() { i64::MIN } else { (x * 1000.0) as i64 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use sextant_api::{App, AppSpec};

    const NOW: f64 = 100_000.0;

    fn desired(instances: u32) -> DesiredApp {
        let spec: AppSpec = serde_json::from_value(serde_json::json!({
            "instances": instances,
            "command": "sleep 1000",
        }))
        .expect("spec");
        let mut app = App::new("web", spec);
        app.metadata.namespace = Some("default".to_string());
        DesiredApp::new(app, "dir:/m", None, None)
    }

    fn task(_desired: &DesiredApp, n: u32, rev: &str, state: TaskState) -> Task {
        Task {
            task_id: format!("default.web.{rev}.{n:04}"),
            namespace: "default".into(),
            app: "web".into(),
            revision: rev.into(),
            state: state as i32,
            created_at: NOW - 1000.0 + f64::from(n),
            updated_at: NOW - 1000.0 + f64::from(n),
            ..Default::default()
        }
    }

    fn launches(actions: &[Action]) -> usize {
        actions.iter().filter(|a| matches!(a, Action::Launch { .. })).count()
    }

    fn kills(actions: &[Action]) -> Vec<String> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Kill { task_id, .. } => Some(task_id.clone()),
                Action::Launch { .. } => None,
            })
            .collect()
    }

    #[test]
    fn launches_missing_instances_with_current_revision() {
        let d = desired(3);
        let observed = vec![task(&d, 1, &d.revision, TaskState::Running)];
        let actions = reconcile(Some(&d), &observed, NOW);
        assert_eq!(launches(&actions), 2);
        assert!(kills(&actions).is_empty());
        let mut ids = Vec::new();
        for a in &actions {
            let Action::Launch {
                task_id,
                revision,
                spec,
            } = a
            else {
                panic!("unexpected {a:?}")
            };
            assert_eq!(revision, &d.revision);
            assert_eq!(task_id.revision, d.revision);
            assert_eq!(task_id.namespace, "default");
            assert_eq!(task_id.app, "web");
            assert_eq!(spec.command, "sleep 1000");
            ids.push(task_id.to_string());
        }
        assert_ne!(ids[0], ids[1], "each launch gets a fresh id");
    }

    /// Guards `spec.paused`: a paused app is neither scaled nor healed.
    #[test]
    fn a_paused_app_gets_no_actions() {
        let mut d = desired(3);
        d.app.spec.paused = true;
        let observed = vec![
            task(&d, 1, &d.revision, TaskState::Running),
            task(&d, 2, "0ldrev0000", TaskState::Running),
        ];
        let plan = plan(Some(&d), &observed, NOW);
        assert!(plan.actions.is_empty(), "{:?}", plan.actions);
        assert_eq!(plan.summary.current_running, 1);
        d.app.spec.paused = false;
        assert!(
            !reconcile(Some(&d), &observed, NOW).is_empty(),
            "unpaused, it acts again"
        );
    }

    #[test]
    fn nothing_to_do_when_converged() {
        let d = desired(2);
        let observed = vec![
            task(&d, 1, &d.revision, TaskState::Running),
            task(&d, 2, &d.revision, TaskState::Running),
            task(&d, 3, &d.revision, TaskState::Failed),
            task(&d, 4, "old", TaskState::Killed),
        ];
        let p = plan(Some(&d), &observed, NOW);
        assert!(p.actions.is_empty());
        assert!(p.summary.converged());
        assert_eq!(p.summary.running, 2);
    }

    #[test]
    fn terminal_tasks_are_replaced_by_count() {
        let d = desired(2);
        let observed = vec![
            task(&d, 1, &d.revision, TaskState::Running),
            task(&d, 2, &d.revision, TaskState::Failed),
            task(&d, 3, &d.revision, TaskState::Lost),
        ];
        let actions = reconcile(Some(&d), &observed, NOW);
        assert_eq!(launches(&actions), 1);
        assert!(kills(&actions).is_empty());
    }

    #[test]
    fn pending_and_unreachable_tasks_count_as_live() {
        let d = desired(4);
        let observed = vec![
            task(&d, 1, &d.revision, TaskState::Pending),
            task(&d, 2, &d.revision, TaskState::Staging),
            task(&d, 3, &d.revision, TaskState::Unreachable),
            task(&d, 4, &d.revision, TaskState::Unknown),
        ];
        assert!(reconcile(Some(&d), &observed, NOW).is_empty());
    }

    #[test]
    fn killing_tasks_are_not_counted_nor_rekilled() {
        let d = desired(1);
        let observed = vec![task(&d, 1, &d.revision, TaskState::Killing)];
        let actions = reconcile(Some(&d), &observed, NOW);
        assert_eq!(launches(&actions), 1);
        assert!(kills(&actions).is_empty());

        let observed = vec![task(&d, 1, "old", TaskState::Killing)];
        assert!(reconcile(None, &observed, NOW).is_empty());
    }

    #[test]
    fn removed_app_kills_every_live_task() {
        let d = desired(1);
        let observed = vec![
            task(&d, 1, &d.revision, TaskState::Running),
            task(&d, 2, "old", TaskState::Pending),
            task(&d, 3, "old", TaskState::Killing),
            task(&d, 4, "old", TaskState::Finished),
        ];
        let mut k = kills(&reconcile(None, &observed, NOW));
        k.sort();
        assert_eq!(k, vec![observed[0].task_id.clone(), observed[1].task_id.clone()]);
        assert!(reconcile(None, &[], NOW).is_empty());
    }

    #[test]
    fn surplus_kills_prefer_not_running_then_newest() {
        let d = desired(2);
        let r = d.revision.clone();
        let observed = vec![
            task(&d, 1, &r, TaskState::Running),
            task(&d, 2, &r, TaskState::Running),
            task(&d, 3, &r, TaskState::Running),
            task(&d, 4, &r, TaskState::Starting),
        ];
        let actions = reconcile(Some(&d), &observed, NOW);
        assert_eq!(launches(&actions), 0);
        // The starting one first, then the newest running one.
        assert_eq!(
            kills(&actions),
            vec![observed[3].task_id.clone(), observed[2].task_id.clone()]
        );
    }

    #[test]
    fn scale_to_zero_kills_everything() {
        let d = desired(0);
        let observed = vec![
            task(&d, 1, &d.revision, TaskState::Running),
            task(&d, 2, "old", TaskState::Running),
        ];
        let mut k = kills(&reconcile(Some(&d), &observed, NOW));
        k.sort();
        assert_eq!(k.len(), 2);
    }

    #[test]
    fn old_revision_is_kept_until_new_one_runs() {
        let d = desired(2);
        let r = d.revision.clone();
        // Spec changed: only old tasks -> launch 2 new, keep old.
        let observed = vec![
            task(&d, 1, "old", TaskState::Running),
            task(&d, 2, "old", TaskState::Running),
        ];
        let actions = reconcile(Some(&d), &observed, NOW);
        assert_eq!(launches(&actions), 2);
        assert!(kills(&actions).is_empty());

        // New ones starting: wait.
        let mut observed = observed;
        observed.push(task(&d, 3, &r, TaskState::Running));
        observed.push(task(&d, 4, &r, TaskState::Starting));
        let p = plan(Some(&d), &observed, NOW);
        assert!(p.actions.is_empty());
        assert!(!p.summary.converged());

        // All new ones running: kill the old ones.
        observed[3].state = TaskState::Running as i32;
        let mut k = kills(&reconcile(Some(&d), &observed, NOW));
        k.sort();
        assert_eq!(k, vec![observed[0].task_id.clone(), observed[1].task_id.clone()]);
    }

    #[test]
    fn stale_expectation_is_not_trusted() {
        let d = desired(1);
        let mut t = task(&d, 1, &d.revision, TaskState::Pending);
        t.reason = EXPECTED_REASON.into();
        t.updated_at = NOW - 5.0;
        assert!(reconcile(Some(&d), std::slice::from_ref(&t), NOW).is_empty());
        t.updated_at = NOW - EXPECTATION_TTL_SECS - 1.0;
        assert_eq!(launches(&reconcile(Some(&d), &[t], NOW)), 1);
    }

    #[test]
    fn unconvertible_spec_is_an_error_not_a_panic() {
        let mut d = desired(2);
        d.app.spec.command = None;
        d.app.spec.args = None;
        let observed = vec![task(&d, 1, "old", TaskState::Running)];
        let p = plan(Some(&d), &observed, NOW);
        let err = p.error.expect("an error");
        assert!(err.contains("command or args"), "{err}");
        assert!(p.actions.is_empty(), "old tasks stay while nothing new can launch");
    }

    /// Applies actions the way the controller records them: launches as
    /// Pending tasks, kills as Killing.
    fn apply(observed: &mut Vec<Task>, actions: &[Action], now: f64) {
        for a in actions {
            match a {
                Action::Launch { task_id, revision, .. } => observed.push(Task {
                    task_id: task_id.to_string(),
                    namespace: task_id.namespace.clone(),
                    app: task_id.app.clone(),
                    revision: revision.clone(),
                    state: TaskState::Pending as i32,
                    reason: EXPECTED_REASON.into(),
                    created_at: now,
                    updated_at: now,
                    ..Default::default()
                }),
                Action::Kill { task_id, .. } => {
                    for t in observed.iter_mut().filter(|t| &t.task_id == task_id) {
                        t.state = TaskState::Killing as i32;
                    }
                }
            }
        }
    }

    fn any_state() -> impl Strategy<Value = TaskState> {
        prop::sample::select(vec![
            TaskState::Pending,
            TaskState::Staging,
            TaskState::Starting,
            TaskState::Running,
            TaskState::Killing,
            TaskState::Finished,
            TaskState::Failed,
            TaskState::Killed,
            TaskState::Error,
            TaskState::Lost,
            TaskState::Dropped,
            TaskState::Unreachable,
            TaskState::Gone,
            TaskState::GoneByOperator,
            TaskState::Unknown,
        ])
    }

    fn scenario() -> impl Strategy<Value = (Option<u32>, Vec<(bool, TaskState)>)> {
        (
            prop::option::weighted(0.85, 0u32..6),
            prop::collection::vec((any::<bool>(), any_state()), 0..10),
        )
    }

    fn build(instances: Option<u32>, tasks: &[(bool, TaskState)]) -> (Option<DesiredApp>, Vec<Task>) {
        let d = desired(instances.unwrap_or(1));
        let observed = tasks
            .iter()
            .enumerate()
            .map(|(i, (current, state))| {
                let rev = if *current {
                    d.revision.clone()
                } else {
                    "0dd0dd0dd0".to_string()
                };
                task(&d, i as u32, &rev, *state)
            })
            .collect();
        (instances.map(|_| d), observed)
    }

    proptest! {
        #[test]
        fn applying_the_actions_converges(scenario in scenario()) {
            let (d, mut observed) = build(scenario.0, &scenario.1);
            let first = reconcile(d.as_ref(), &observed, NOW);
            apply(&mut observed, &first, NOW);
            let second = reconcile(d.as_ref(), &observed, NOW + 1.0);
            prop_assert!(second.is_empty(), "second pass acted: {:?}\nafter {:?}", second, first);
        }

        #[test]
        fn agent_progress_reaches_the_desired_state(scenario in scenario()) {
            let (d, mut observed) = build(scenario.0, &scenario.1);
            let mut now = NOW;
            for _ in 0..6 {
                let actions = reconcile(d.as_ref(), &observed, now);
                apply(&mut observed, &actions, now);
                // The agent brings every task one step further.
                for t in &mut observed {
                    let next = match t.state() {
                        TaskState::Pending | TaskState::Staging | TaskState::Starting
                        | TaskState::Unreachable | TaskState::Unknown => TaskState::Running,
                        TaskState::Killing => TaskState::Killed,
                        s => s,
                    };
                    t.state = next as i32;
                    t.reason.clear();
                }
                now += 1.0;
            }
            let p = plan(d.as_ref(), &observed, now);
            prop_assert!(p.actions.is_empty());
            match &d {
                Some(d) => {
                    prop_assert!(p.summary.converged(), "{:?}", p.summary);
                    prop_assert_eq!(p.summary.running, d.app.spec.instances);
                }
                None => prop_assert_eq!(p.summary.running, 0),
            }
        }
    }
}
