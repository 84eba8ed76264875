//! Task status: `TaskStatus`, `TaskState` and their parts.

use serde::{Deserialize, Serialize};

use super::{AgentId, ContainerId, ExecutorId, Labels, TaskId, TimeInfo};

/// `mesos.v1.TaskStatus`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct TaskStatus {
    pub task_id: TaskId,
    pub state: TaskState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<TaskStatusSource>,
    /// `TaskStatus.Reason` name (`REASON_…`); kept as text so reasons newer
    /// than our protos pass through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<AgentId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor_id: Option<ExecutorId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<f64>,
    /// Base64 of 16 bytes when the update must be acknowledged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Labels>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_status: Option<ContainerStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreachable_time: Option<TimeInfo>,
}

/// `TaskStatus.Source`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskStatusSource {
    SourceMaster,
    SourceAgent,
    SourceExecutor,
    #[serde(other)]
    Unrecognized,
}

/// `mesos.v1.ContainerStatus` (the parts we read).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct ContainerStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_id: Option<ContainerId>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network_infos: Vec<NetworkInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor_pid: Option<u32>,
}

/// `mesos.v1.NetworkInfo` (addresses only).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct NetworkInfo {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_addresses: Vec<IpAddress>,
}

/// `NetworkInfo.IPAddress`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct IpAddress {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
}

/// `mesos.v1.TaskState`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskState {
    TaskStaging,
    TaskStarting,
    TaskRunning,
    TaskKilling,
    TaskFinished,
    TaskFailed,
    TaskKilled,
    TaskError,
    TaskLost,
    TaskDropped,
    TaskUnreachable,
    TaskGone,
    TaskGoneByOperator,
    TaskUnknown,
    /// A state newer than our protos.
    #[serde(other)]
    Unrecognized,
}

impl TaskState {
    /// Terminal as the master counts it (TASK_LOST and TASK_GONE_BY_OPERATOR
    /// may still be followed by TASK_RUNNING if the agent comes back).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskState::TaskFinished
                | TaskState::TaskFailed
                | TaskState::TaskKilled
                | TaskState::TaskError
                | TaskState::TaskLost
                | TaskState::TaskDropped
                | TaskState::TaskGone
                | TaskState::TaskGoneByOperator
        )
    }

    /// The wire name, e.g. `TASK_RUNNING`.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::TaskStaging => "TASK_STAGING",
            TaskState::TaskStarting => "TASK_STARTING",
            TaskState::TaskRunning => "TASK_RUNNING",
            TaskState::TaskKilling => "TASK_KILLING",
            TaskState::TaskFinished => "TASK_FINISHED",
            TaskState::TaskFailed => "TASK_FAILED",
            TaskState::TaskKilled => "TASK_KILLED",
            TaskState::TaskError => "TASK_ERROR",
            TaskState::TaskLost => "TASK_LOST",
            TaskState::TaskDropped => "TASK_DROPPED",
            TaskState::TaskUnreachable => "TASK_UNREACHABLE",
            TaskState::TaskGone => "TASK_GONE",
            TaskState::TaskGoneByOperator => "TASK_GONE_BY_OPERATOR",
            TaskState::TaskUnknown => "TASK_UNKNOWN",
            TaskState::Unrecognized => "TASK_UNRECOGNIZED",
        }
    }
}
