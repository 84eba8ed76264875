//! Observed tasks: the controller's own view of a task, converted once from
//! the agent's gRPC `Task` at the edge (the task watcher), so that nothing
//! past it handles raw enum integers or "0 means unset" timestamps.
//!
//! How a state counts is DESIGN.md's table, kept here next to the type:
//! live states occupy an instance slot (and count toward the surge bound),
//! gone states are replaced at once.

use std::sync::Arc;

use sextant_api::proto;
pub use sextant_api::proto::{HostPort, TaskState};

/// One task as last observed from the agent.
#[derive(Clone, Debug, PartialEq)]
pub struct ObservedTask {
    /// `<namespace>.<app>.<revision>.<unique>`.
    pub id: String,
    /// App namespace.
    pub namespace: Arc<str>,
    /// App name.
    pub app: Arc<str>,
    /// Revision the task runs.
    pub revision: Arc<str>,
    /// Last state.
    pub state: TaskState,
    /// Health as last reported; `None` when no check reported.
    pub healthy: Option<bool>,
    /// Unix seconds: when the task became RUNNING; `None` when not running.
    pub running_since: Option<f64>,
    /// Unix seconds: when it last became healthy; `None` when not healthy.
    pub healthy_since: Option<f64>,
    /// Last status reason from Mesos (e.g. `REASON_COMMAND_EXECUTOR_FAILED`).
    pub reason: Arc<str>,
    /// Last status message (e.g. "Command exited with status 1").
    pub message: String,
    /// Mesos agent (node) id; empty while pending.
    pub agent_id: Arc<str>,
    /// Node hostname; empty while pending.
    pub hostname: Arc<str>,
    /// Host ports by name.
    pub ports: Vec<HostPort>,
    /// Unix seconds: when the agent first saw the task.
    pub created_at: f64,
    /// Unix seconds: its last change.
    pub updated_at: f64,
}

/// A gRPC timestamp: 0 (or nonsense) means unset.
fn since(t: f64) -> Option<f64> {
    (t.is_finite() && t > 0.0).then_some(t)
}

impl From<proto::Task> for ObservedTask {
    fn from(t: proto::Task) -> Self {
        // An enum value from a newer agent is not one we can reason about.
        let state = TaskState::try_from(t.state).unwrap_or(TaskState::Unknown);
        Self {
            state,
            healthy: t.healthy,
            running_since: since(t.running_since),
            healthy_since: since(t.healthy_since),
            id: t.task_id,
            namespace: t.namespace.into(),
            app: t.app.into(),
            revision: t.revision.into(),
            reason: t.reason.into(),
            message: t.message,
            agent_id: t.agent_id.into(),
            hostname: t.hostname.into(),
            ports: t.ports,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

impl From<&ObservedTask> for proto::Task {
    fn from(t: &ObservedTask) -> Self {
        Self {
            task_id: t.id.clone(),
            namespace: t.namespace.to_string(),
            app: t.app.to_string(),
            revision: t.revision.to_string(),
            state: t.state as i32,
            agent_id: t.agent_id.to_string(),
            hostname: t.hostname.to_string(),
            ports: t.ports.clone(),
            message: t.message.clone(),
            reason: t.reason.to_string(),
            healthy: t.healthy,
            created_at: t.created_at,
            updated_at: t.updated_at,
            running_since: t.running_since.unwrap_or(0.0),
            healthy_since: t.healthy_since.unwrap_or(0.0),
        }
    }
}

impl ObservedTask {
    /// Shares the strings many tasks repeat (namespace, app, revision,
    /// node, reason) with the ones `strings` already holds.
    pub fn intern(&mut self, strings: &mut Interner) {
        for field in [
            &mut self.namespace,
            &mut self.app,
            &mut self.revision,
            &mut self.reason,
            &mut self.agent_id,
            &mut self.hostname,
        ] {
            strings.intern(field);
        }
    }

    /// The store key of the task's app: `namespace/app`.
    pub fn app_key(&self) -> String {
        sextant_api::app_key(&self.namespace, &self.app)
    }

    /// Whether the task occupies an instance slot: STAGING, STARTING,
    /// RUNNING, KILLING, UNREACHABLE (until replaced) and PENDING (queued in
    /// the agent).
    pub fn is_live(&self) -> bool {
        is_live(self.state)
    }

    /// Whether the task ended by failing: FAILED, ERROR, or KILLED for
    /// failing its health check. Not a node going away, which is not the
    /// task's fault, nor a kill that was asked for.
    pub fn is_failure(&self) -> bool {
        match self.state {
            TaskState::Failed | TaskState::Error => true,
            TaskState::Killed => self.healthy == Some(false),
            _ => false,
        }
    }

    /// Keeps what a later observation of the same run cannot know: a
    /// restarted agent learns a running task back from reconciliation and
    /// stamps it as running since "now", but the run started earlier.
    pub fn keep_history_of(&mut self, prev: &ObservedTask) {
        if self.state == TaskState::Running && prev.state == TaskState::Running {
            if let (Some(new), Some(old)) = (self.running_since, prev.running_since)
                && old < new
            {
                self.running_since = Some(old);
            }
            if self.healthy == Some(true)
                && prev.healthy == Some(true)
                && let (Some(new), Some(old)) = (self.healthy_since, prev.healthy_since)
                && old < new
            {
                self.healthy_since = Some(old);
            }
        }
    }
}

/// A set of shared strings: 100,000 tasks name a few apps, revisions,
/// nodes and reasons, and each copy would be an allocation of its own.
#[derive(Debug, Default)]
pub struct Interner(std::collections::HashSet<Arc<str>>);

impl Interner {
    /// Replaces `s` by the shared copy of its text, adding it if new.
    pub fn intern(&mut self, s: &mut Arc<str>) {
        match self.0.get(&**s) {
            Some(shared) => *s = Arc::clone(shared),
            None => {
                self.0.insert(Arc::clone(s));
            }
        }
    }

    /// Forgets strings no task holds any more.
    pub fn prune(&mut self) {
        self.0.retain(|s| Arc::strong_count(s) > 1);
    }

    /// Strings held.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The tasks of `revision` that failed ([`ObservedTask::is_failure`]),
/// oldest failure first.
pub fn failures_of<'a>(tasks: &'a [ObservedTask], revision: &str) -> Vec<&'a ObservedTask> {
    let mut failed: Vec<&ObservedTask> = tasks
        .iter()
        .filter(|t| &*t.revision == revision && t.is_failure())
        .collect();
    failed.sort_by(|a, b| a.updated_at.total_cmp(&b.updated_at));
    failed
}

/// See [`ObservedTask::is_live`].
pub fn is_live(state: TaskState) -> bool {
    matches!(
        state,
        TaskState::Pending
            | TaskState::Staging
            | TaskState::Starting
            | TaskState::Running
            | TaskState::Killing
            | TaskState::Unreachable
    )
}

/// Whether a task in this state is gone and must be replaced: every
/// terminal state, and TASK_UNKNOWN (a master that lost its registry
/// answers reconciliation with it: such tasks are gone).
pub fn is_gone(state: TaskState) -> bool {
    !is_live(state)
}

/// The Mesos-like name of a task state: `TASK_RUNNING` etc., and `PENDING`
/// for a task the agent has queued but not launched on Mesos yet (not a
/// Mesos state).
pub fn state_name(state: TaskState) -> &'static str {
    match state {
        TaskState::Unspecified => "UNSPECIFIED",
        TaskState::Pending => "PENDING",
        TaskState::Staging => "TASK_STAGING",
        TaskState::Starting => "TASK_STARTING",
        TaskState::Running => "TASK_RUNNING",
        TaskState::Killing => "TASK_KILLING",
        TaskState::Finished => "TASK_FINISHED",
        TaskState::Failed => "TASK_FAILED",
        TaskState::Killed => "TASK_KILLED",
        TaskState::Error => "TASK_ERROR",
        TaskState::Lost => "TASK_LOST",
        TaskState::Dropped => "TASK_DROPPED",
        TaskState::Unreachable => "TASK_UNREACHABLE",
        TaskState::Gone => "TASK_GONE",
        TaskState::GoneByOperator => "TASK_GONE_BY_OPERATOR",
        TaskState::Unknown => "TASK_UNKNOWN",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grpc(state: TaskState) -> proto::Task {
        proto::Task {
            task_id: "default.web.0a1b2c3d4e.x".into(),
            namespace: "default".into(),
            app: "web".into(),
            revision: "0a1b2c3d4e".into(),
            state: state as i32,
            running_since: 10.0,
            ..Default::default()
        }
    }

    #[test]
    fn interned_strings_are_shared_and_pruned() {
        let mut strings = Interner::default();
        let mut a = ObservedTask::from(grpc(TaskState::Running));
        let mut b = ObservedTask::from(grpc(TaskState::Running));
        a.intern(&mut strings);
        b.intern(&mut strings);
        assert!(Arc::ptr_eq(&a.revision, &b.revision));
        drop((a, b));
        strings.prune();
        assert!(strings.is_empty());
    }

    /// Guards the TASK_UNKNOWN fix: a master that lost its state answers
    /// reconciliation with TASK_UNKNOWN, and such a task must be replaced,
    /// not counted as live.
    #[test]
    fn unknown_and_terminal_states_are_gone() {
        for s in [
            TaskState::Unknown,
            TaskState::Lost,
            TaskState::Dropped,
            TaskState::Gone,
            TaskState::GoneByOperator,
            TaskState::Finished,
            TaskState::Failed,
            TaskState::Killed,
            TaskState::Error,
        ] {
            assert!(is_gone(s), "{s:?}");
        }
        for s in [
            TaskState::Pending,
            TaskState::Staging,
            TaskState::Starting,
            TaskState::Running,
            TaskState::Killing,
            TaskState::Unreachable,
        ] {
            assert!(is_live(s), "{s:?}");
        }
    }

    #[test]
    fn converts_once_and_back() {
        let mut t = grpc(TaskState::Running);
        t.state = 999;
        let o = ObservedTask::from(t);
        assert_eq!(o.state, TaskState::Unknown, "an unknown enum value is not live");
        assert_eq!(o.running_since, Some(10.0));
        assert_eq!(o.healthy_since, None, "0 is unset");
        let back = proto::Task::from(&o);
        assert_eq!(ObservedTask::from(back), o);
    }

    #[test]
    fn a_readopted_run_keeps_its_start() {
        let prev = ObservedTask::from(grpc(TaskState::Running));
        let mut again = ObservedTask::from(proto::Task {
            running_since: 50.0,
            ..grpc(TaskState::Running)
        });
        again.keep_history_of(&prev);
        assert_eq!(again.running_since, Some(10.0));
    }
}
