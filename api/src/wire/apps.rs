//! Apps, their tasks and revisions as the API shows them
//! (`GET /api/v1/apps`, `/apps/{namespace}/{name}`, `/tasks`, `/revisions`).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::sources::CommitInfo;
use crate::app::Condition;
use crate::{AppSpec, AppStatus};

/// One app in the list.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppView {
    /// App name.
    pub name: String,
    /// App namespace.
    pub namespace: String,
    /// Desired instances.
    pub instances: u32,
    /// Tasks in state RUNNING (any revision).
    pub running: u32,
    /// Available tasks: running, healthy, and so for `minReadySeconds`.
    #[serde(default)]
    pub available: u32,
    /// Current revision of the spec.
    pub revision: String,
    /// The full status from the last reconcile (counts, conditions).
    #[serde(default)]
    pub status: Option<AppStatus>,
    /// Owning source, e.g. `dir:/srv/manifests`.
    pub source: String,
    /// When the controller first saw the app (RFC 3339).
    #[serde(default)]
    pub created_at: Option<String>,
    /// Conditions from the last reconcile (`Available`, `Progressing`,
    /// `Degraded`, `Synced`).
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// The status in a few words, for a STATUS column (`status_summary`):
    /// `Running`, `Progressing 2/4`, `Pending: needs 2 cpus`,
    /// `OutOfSync: web.yaml:11`, `CrashLoopBackOff`…
    #[serde(default)]
    pub summary: String,
    /// `metadata.labels`, for selectors.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// One app with its spec and tasks.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppDetail {
    /// The summary, flattened into this object.
    #[serde(flatten)]
    pub app: AppView,
    /// Manifest file, when loaded from a file.
    #[serde(default)]
    pub file: Option<String>,
    /// Line of the object in `file`.
    #[serde(default)]
    pub line: Option<u64>,
    /// The git commit that last changed the object (repository sources).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<CommitInfo>,
    /// Increments with every spec change.
    #[serde(default)]
    pub generation: i64,
    /// The desired spec.
    pub spec: AppSpec,
    /// The app's tasks (every revision, terminal ones until pruned), by id.
    #[serde(default)]
    pub tasks: Vec<TaskView>,
    /// Revision history, oldest first.
    #[serde(default)]
    pub revisions: Vec<RevisionView>,
}

/// One revision of an app and how its rollout went.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RevisionView {
    /// The revision hash.
    pub revision: String,
    /// `Progressing`, `Completed` or `Failed`.
    pub outcome: String,
    /// Why it failed, or empty.
    #[serde(default)]
    pub reason: String,
    /// What happened, or empty.
    #[serde(default)]
    pub message: String,
    /// The revision rolled back to after it failed.
    #[serde(default)]
    pub rolled_back_to: Option<String>,
    /// The source it came from.
    pub source: String,
    /// When it was first desired (RFC 3339).
    #[serde(default)]
    pub first_seen: Option<String>,
}

/// A host port of a task.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PortView {
    /// Port name from the spec.
    pub name: String,
    /// Host port.
    pub port: u32,
}

/// One task as observed.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskView {
    /// `<namespace>.<app>.<revision>.<unique>`.
    pub task_id: String,
    /// App namespace.
    pub namespace: String,
    /// App name.
    pub app: String,
    /// Revision the task runs.
    pub revision: String,
    /// Mesos-like state name: `TASK_RUNNING`, ..., or `PENDING` (queued in
    /// the agent, not on Mesos yet).
    pub state: String,
    /// Health as last reported; absent without a health check, or once the
    /// task ended.
    #[serde(default)]
    pub healthy: Option<bool>,
    /// Since when it has been running (RFC 3339).
    #[serde(default)]
    pub running_since: Option<String>,
    /// Since when it has been healthy (RFC 3339).
    #[serde(default)]
    pub healthy_since: Option<String>,
    /// Mesos agent (node) id; empty while pending.
    #[serde(default)]
    pub agent_id: String,
    /// Node hostname; empty while pending.
    #[serde(default)]
    pub hostname: String,
    /// Host ports by name.
    #[serde(default)]
    pub ports: Vec<PortView>,
    /// Last status message.
    #[serde(default)]
    pub message: String,
    /// Last status reason.
    #[serde(default)]
    pub reason: String,
    /// When the task was first seen (RFC 3339).
    #[serde(default)]
    pub created_at: Option<String>,
    /// Last change (RFC 3339).
    #[serde(default)]
    pub updated_at: Option<String>,
}
