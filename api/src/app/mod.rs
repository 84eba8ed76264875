//! The `App` kind: a long-running service, described the Kubernetes way.
//!
//! The spec's parts live in their own modules: [`container`] (Docker),
//! [`fetch`] (URIs), [`health`] (health checks), [`strategy`] (rollouts),
//! [`placement`] (constraints) and [`backoff`] (crash-loop backoff). Every
//! field has a serde default, so a manifest that omits a field and one that
//! writes its default load to equal values.

pub mod backoff;
pub mod container;
pub mod fetch;
pub mod health;
pub mod placement;
pub mod strategy;

use std::collections::BTreeMap;

use kube_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::quantity::Quantity;

pub use backoff::RestartBackoff;
pub use container::{Container, DockerContainer, DockerParameter, MAX_PARAMETERS, NetworkMode};
pub use fetch::Uri;
pub use health::{CommandCheck, HealthCheck, HttpCheck, HttpScheme, TcpCheck};
pub use placement::{Constraint, MAX_CONSTRAINTS, Operator, Placement};
pub use strategy::Strategy;

/// API group of every Sextant kind.
pub const GROUP: &str = "sextant.dev";
/// API version of the `App` kind.
pub const VERSION: &str = "v1alpha1";
/// `apiVersion` as written in manifests.
pub const API_VERSION: &str = "sextant.dev/v1alpha1";
/// Prefix of the task labels Sextant sets itself; manifests may not use it.
pub const RESERVED_LABEL_PREFIX: &str = "sextant.";

// How many of each an app may have, enforced by validation: every count a
// manifest sets is bounded, so that no manifest can make the controller do
// unbounded work. Listed in docs/manifest.md ("Limits").

/// Most `spec.instances` of one app.
pub const MAX_INSTANCES: u32 = 10_000;
/// Most entries of `spec.args` (the program and its arguments).
pub const MAX_ARGS: usize = 1000;
/// Most entries of `spec.uris`.
pub const MAX_URIS: usize = 100;
/// Most entries of `spec.ports`.
pub const MAX_PORTS: usize = 100;
/// Most variables in `spec.env`.
pub const MAX_ENV: usize = 1000;
/// Most task labels in `spec.labels`.
pub const MAX_TASK_LABELS: usize = 64;
/// Most entries of `metadata.labels`.
pub const MAX_LABELS: usize = 64;
/// Most entries of `metadata.annotations`.
pub const MAX_ANNOTATIONS: usize = 64;

/// A long-running service: how many instances, what each one runs, and with
/// which resources. Sextant keeps this many tasks running on Mesos.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "sextant.dev",
    version = "v1alpha1",
    kind = "App",
    namespaced,
    status = "AppStatus",
    derive = "PartialEq",
    crates(kube_core = "::kube_core"),
    printcolumn = r#"{"name":"Instances","type":"integer","jsonPath":".spec.instances"}"#,
    printcolumn = r#"{"name":"Paused","type":"boolean","jsonPath":".spec.paused"}"#
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppSpec {
    /// Number of tasks to keep running, at most 10000. Changing only this
    /// scales the app without a rollout. Default 1.
    #[serde(default = "default_instances")]
    pub instances: u32,
    /// Shell command, run with `/bin/sh -c` (Mesos `CommandInfo.value` with
    /// `shell: true`). Exactly one of `command` or `args`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Program and arguments, executed directly without a shell (Mesos
    /// `CommandInfo` with `shell: false`); `args[0]` is the program.
    /// Exactly one of `command` or `args`. At most 1000 entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    /// Files the Mesos fetcher downloads into the task's sandbox before it
    /// starts (Mesos `CommandInfo.uris`). At most 100.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uris: Vec<Uri>,
    /// Unix user the task runs as (Mesos `CommandInfo.user`); default: the
    /// framework's user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Container to run the task in (Mesos `ContainerInfo`); absent: a plain
    /// command on the node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<Container>,
    /// CPU, memory and disk reserved for each task.
    #[serde(default)]
    pub resources: Resources,
    /// Named ports. Each gets a host port from the Mesos offer, given to the
    /// task as `PORT_<NAME>` (upper-cased, `-` as `_`) and `PORT<index>`.
    /// At most 100.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortSpec>,
    /// Environment variables given to each task, at most 1000.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Labels of each Mesos task (Mesos `TaskInfo.labels`), besides the
    /// `sextant.*` labels Sextant sets itself; keys may not start with
    /// `sextant.`. Unlike `metadata.labels`, these change the revision. At
    /// most 64.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// How Mesos checks that a task is healthy (Mesos `TaskInfo.health_check`).
    /// Absent: a running task counts as healthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheck>,
    /// How a new revision replaces the old one.
    #[serde(default)]
    pub strategy: Strategy,
    /// Where tasks may run.
    #[serde(default)]
    pub placement: Placement,
    /// `production` (default) or `preemptible`: production tasks may preempt
    /// preemptible ones when the cluster is full.
    #[serde(default)]
    pub priority: Priority,
    /// Seconds between SIGTERM and SIGKILL when a task is killed (Mesos
    /// `KillPolicy.grace_period`). Default 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill_grace_period_seconds: Option<u32>,
    /// Delay before relaunching tasks that keep failing (crash-loop backoff).
    #[serde(default)]
    pub restart_backoff: RestartBackoff,
    /// `true`: Sextant stops reconciling this app (no launches, kills or
    /// rollouts) until it is unpaused. Default false.
    #[serde(default)]
    pub paused: bool,
    /// Seconds a task may stay TASK_UNREACHABLE (its node partitioned from
    /// the master) before a replacement is launched; should it come back
    /// after that, it is killed. Until then it counts as live but not
    /// available. Default 300 (Marathon's `inactiveAfterSeconds`).
    #[serde(default = "default_unreachable_replace_seconds")]
    pub unreachable_replace_seconds: u32,
}

/// Default of `unreachableReplaceSeconds`.
pub const DEFAULT_UNREACHABLE_REPLACE_SECONDS: u32 = 300;

fn default_unreachable_replace_seconds() -> u32 {
    DEFAULT_UNREACHABLE_REPLACE_SECONDS
}

fn default_instances() -> u32 {
    1
}

impl Default for AppSpec {
    /// One instance running nothing yet (neither `command` nor `args`, which
    /// validation requires), every other field at its default.
    fn default() -> Self {
        Self {
            instances: default_instances(),
            command: None,
            args: None,
            uris: Vec::new(),
            user: None,
            container: None,
            resources: Resources::default(),
            ports: Vec::new(),
            env: BTreeMap::new(),
            labels: BTreeMap::new(),
            health_check: None,
            strategy: Strategy::default(),
            placement: Placement::default(),
            priority: Priority::default(),
            kill_grace_period_seconds: None,
            restart_backoff: RestartBackoff::default(),
            paused: false,
            unreachable_replace_seconds: DEFAULT_UNREACHABLE_REPLACE_SECONDS,
        }
    }
}

/// Resources reserved for each task.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Resources {
    /// CPU share: a number of cores (`0.25`) or a Kubernetes quantity
    /// (`"250m"`). Default 0.1.
    #[serde(default = "default_cpus")]
    pub cpus: Quantity,
    /// Memory: a quantity (`"128Mi"`, `"1Gi"`); a bare number means MiB, the
    /// Mesos unit. Default 32Mi.
    #[serde(default = "default_mem")]
    pub mem: Quantity,
    /// Disk: a quantity like `mem`. Default 0.
    #[serde(default = "default_disk")]
    pub disk: Quantity,
}

impl Default for Resources {
    fn default() -> Self {
        Self {
            cpus: default_cpus(),
            mem: default_mem(),
            disk: default_disk(),
        }
    }
}

fn default_cpus() -> Quantity {
    Quantity::Number(0.1)
}
fn default_mem() -> Quantity {
    Quantity::Number(32.0)
}
fn default_disk() -> Quantity {
    Quantity::Number(0.0)
}

/// A named port of the task.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortSpec {
    /// Port name: a DNS-1123 label, unique within the app.
    pub name: String,
    /// Port inside the container; required with bridge networking (Mesos
    /// `DockerInfo.port_mappings`). Informational for plain command tasks
    /// and host networking, where the task listens on the host port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_port: Option<u16>,
    /// Fixed host port; absent or 0 takes any port from the offer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_port: Option<u16>,
    /// `tcp` (default) or `udp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
}

/// Scheduling priority of an app's tasks.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Never preempted; may preempt preemptible tasks to get resources.
    #[default]
    Production,
    /// May be killed to make room for production tasks.
    Preemptible,
}

/// What the controller observed of an app, written back by the reconciler.
/// Counts are of live tasks (DESIGN.md's table); when the controller's view
/// is not fresh (the agent or Mesos is unreachable), `lastKnown` says why
/// and since when, and the counts are the last known ones.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppStatus {
    /// The `metadata.generation` this status was computed for.
    #[serde(default)]
    pub observed_generation: i64,
    /// Revision of the current spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// The revision tasks are being made to run: the current spec's, or the
    /// one rolled back to after it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_revision: Option<String>,
    /// `spec.instances`.
    #[serde(default)]
    pub desired: u32,
    /// Live tasks, any revision (they count toward `maxSurge`).
    #[serde(default)]
    pub live: u32,
    /// Tasks in state RUNNING, any revision.
    #[serde(default)]
    pub running: u32,
    /// Running tasks whose health check passes (or that have none).
    #[serde(default)]
    pub healthy: u32,
    /// Tasks available: running, healthy, and so for `minReadySeconds`.
    #[serde(default)]
    pub available: u32,
    /// Live tasks of the target revision.
    #[serde(default)]
    pub updated: u32,
    /// Tasks waiting in the agent's queue for a fitting offer.
    #[serde(default)]
    pub waiting: u32,
    /// Set when the counts are the last known, not fresh: why, and since when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_known: Option<String>,
    /// Conditions, Kubernetes style: `Available`, `Progressing`, `Degraded`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// One condition of an app's status.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Condition type, e.g. `Available`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// One-word reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human-readable message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_spec_gets_every_default() {
        let a: AppSpec = serde_yaml::from_str("command: run\n").unwrap();
        let b: AppSpec = serde_yaml::from_str(
            "command: run
instances: 1
resources: {cpus: 0.1, mem: 32, disk: 0}
strategy:
  maxSurge: 25%
  maxUnavailable: 25%
  minReadySeconds: 0
  progressDeadlineSeconds: 600
  autoRollback: true
  failureBudget: 3
placement: {constraints: []}
priority: production
restartBackoff: {initialSeconds: 1, factor: 2.0, maxSeconds: 300}
paused: false
unreachableReplaceSeconds: 300
uris: []
labels: {}
env: {}
ports: []
",
        )
        .unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn serde_round_trip() {
        let a: AppSpec = serde_yaml::from_str(
            "args: [/bin/web]
container: {docker: {image: web:1, network: bridge, parameters: [{key: label, value: x}]}}
ports: [{name: http, containerPort: 80}]
healthCheck: {http: {port: http}}
placement: {constraints: [{field: hostname, operator: UNIQUE}, {field: rack, operator: MAX_PER, value: 2}]}
uris: [{value: 'https://example.com/a.tgz'}]
priority: preemptible
",
        )
        .unwrap();
        let json = serde_json::to_value(&a).unwrap();
        let back: AppSpec = serde_json::from_value(json).unwrap();
        assert_eq!(a, back);
        assert_eq!(a.placement.constraints[1].value.as_deref(), Some("2"));
        assert_eq!(a.priority, Priority::Preemptible);
    }
}
