//! The `App` kind: a long-running service, described the Kubernetes way.

use std::collections::BTreeMap;

use kube_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::quantity::Quantity;

/// API group of every Sextant kind.
pub const GROUP: &str = "sextant.dev";
/// API version of the `App` kind.
pub const VERSION: &str = "v1alpha1";
/// `apiVersion` as written in manifests.
pub const API_VERSION: &str = "sextant.dev/v1alpha1";

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
    printcolumn = r#"{"name":"Instances","type":"integer","jsonPath":".spec.instances"}"#
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppSpec {
    /// Number of tasks to keep running. Changing only this scales the app
    /// without a rollout.
    #[serde(default = "default_instances")]
    pub instances: u32,
    /// Shell command, run with `sh -c`. Exactly one of `command` or `args`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Program and arguments, executed directly (no shell). Exactly one of
    /// `command` or `args`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    /// CPU, memory and disk reserved for each task.
    #[serde(default)]
    pub resources: Resources,
    /// Environment variables given to each task.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Named ports. Each gets a host port from the Mesos offer, given to the
    /// task as `PORT_<NAME>` (upper-cased, `-` as `_`) and `PORT<index>`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortSpec>,
    /// Seconds between SIGTERM and SIGKILL when a task is killed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill_grace_period_seconds: Option<u32>,
}

fn default_instances() -> u32 {
    1
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
    /// Port inside the container (bridge networking). Informational for
    /// plain command tasks, which listen on the host port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_port: Option<u16>,
    /// Fixed host port; absent or 0 takes any port from the offer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_port: Option<u16>,
    /// `tcp` (default) or `udp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
}

/// What the controller observed of an app, written back by the reconciler.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppStatus {
    /// Revision of the current spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// Tasks in state RUNNING.
    #[serde(default)]
    pub running: u32,
    /// Conditions, Kubernetes style (e.g. `Available`, `Progressing`).
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
