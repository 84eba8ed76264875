//! What a task runs: `TaskInfo`, `CommandInfo`, `HealthCheck`, environment and labels.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{AgentId, ContainerInfo, KillPolicy, Resource, TaskId};

/// `mesos.v1.TaskInfo` (the fields Sextant uses).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct TaskInfo {
    pub name: String,
    pub task_id: TaskId,
    pub agent_id: AgentId,
    #[serde(default)]
    pub resources: Vec<Resource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<CommandInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Labels>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheck>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill_policy: Option<KillPolicy>,
    /// The container it runs in (Docker); none: the command executor's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<ContainerInfo>,
}

/// `mesos.v1.HealthCheck`: run next to the task by the executor.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct HealthCheck {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpCheckInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consecutive_failures: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period_seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<CommandInfo>,
    /// Optional in the protobuf (the master's task validation requires
    /// it): an absent type reads as `Unrecognized`, meaning "unset".
    #[serde(rename = "type", default = "HealthCheckType::unset")]
    pub kind: HealthCheckType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpCheckInfo>,
}

/// `HealthCheck.Type`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HealthCheckType {
    Unknown,
    Command,
    Http,
    Tcp,
    #[serde(other)]
    Unrecognized,
}

impl HealthCheckType {
    /// What a health check without a `type` is.
    fn unset() -> Self {
        Self::Unrecognized
    }
}

/// `HealthCheck.HTTPCheckInfo`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct HttpCheckInfo {
    pub port: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
}

/// `HealthCheck.TCPCheckInfo`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct TcpCheckInfo {
    pub port: u32,
}

/// `mesos.v1.CommandInfo`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct CommandInfo {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uris: Vec<CommandUri>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
    /// Default true: `value` runs under `/bin/sh -c`. With false, `value` is
    /// the program and `arguments` its argv (argv[0] included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arguments: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// `CommandInfo.URI`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct CommandUri {
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executable: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extract: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_file: Option<String>,
}

/// `mesos.v1.Environment`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Environment {
    #[serde(default)]
    pub variables: Vec<Variable>,
}

impl Environment {
    /// Builds an environment from name/value pairs (VALUE variables).
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self {
            variables: pairs
                .into_iter()
                .map(|(name, value)| Variable {
                    name: name.into(),
                    value: Some(value.into()),
                })
                .collect(),
        }
    }

    /// The variables as a map (later duplicates win, as in `execve`).
    pub fn to_map(&self) -> BTreeMap<String, String> {
        self.variables
            .iter()
            .map(|v| (v.name.clone(), v.value.clone().unwrap_or_default()))
            .collect()
    }
}

/// `Environment.Variable` (type VALUE, the default).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Variable {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// `mesos.v1.Labels`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Labels {
    #[serde(default)]
    pub labels: Vec<Label>,
}

impl Labels {
    /// The value of a label, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|l| l.key == key)
            .and_then(|l| l.value.as_deref())
    }
}

/// `mesos.v1.Label`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Label {
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}
