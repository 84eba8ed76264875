//! `mesos.v1.scheduler.Call` and its sub-messages.

use serde::{Deserialize, Serialize};

use super::{AgentId, FrameworkId, Labels, OfferId, TaskId, TaskInfo};

/// `mesos.v1.scheduler.Call`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Call {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framework_id: Option<FrameworkId>,
    #[serde(rename = "type")]
    pub kind: CallType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscribe: Option<Subscribe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept: Option<Accept>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decline: Option<Decline>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revive: Option<Revive>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill: Option<Kill>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledge: Option<Acknowledge>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconcile: Option<Reconcile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppress: Option<Suppress>,
}

/// `Call.Type`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CallType {
    #[default]
    Unknown,
    Subscribe,
    Teardown,
    Accept,
    Decline,
    Revive,
    Kill,
    Shutdown,
    Acknowledge,
    Reconcile,
    Message,
    Request,
    Suppress,
    AcceptInverseOffers,
    DeclineInverseOffers,
    AcknowledgeOperationStatus,
    ReconcileOperations,
    UpdateFramework,
    #[serde(other)]
    Unrecognized,
}

/// `Call.Subscribe`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Subscribe {
    pub framework_info: FrameworkInfo,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suppressed_roles: Vec<String>,
}

/// `mesos.v1.FrameworkInfo`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct FrameworkInfo {
    pub user: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<FrameworkId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover_timeout: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webui_url: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<FrameworkCapability>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Labels>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

impl FrameworkInfo {
    /// Whether the framework declared a capability.
    pub fn has_capability(&self, kind: FrameworkCapabilityType) -> bool {
        self.capabilities.iter().any(|c| c.kind == Some(kind))
    }
}

/// `FrameworkInfo.Capability`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct FrameworkCapability {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<FrameworkCapabilityType>,
}

/// `FrameworkInfo.Capability.Type`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FrameworkCapabilityType {
    Unknown,
    RevocableResources,
    TaskKillingState,
    GpuResources,
    SharedResources,
    PartitionAware,
    MultiRole,
    ReservationRefinement,
    RegionAware,
    #[serde(other)]
    Unrecognized,
}

/// `Call.Accept`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Accept {
    pub offer_ids: Vec<OfferId>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operations: Vec<Operation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<Filters>,
}

/// `Call.Decline`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Decline {
    pub offer_ids: Vec<OfferId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<Filters>,
}

/// `Call.Revive`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Revive {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

/// `Call.Suppress`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Suppress {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

/// `Call.Kill`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Kill {
    pub task_id: TaskId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<AgentId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill_policy: Option<KillPolicy>,
}

/// `Call.Acknowledge`. `uuid` is the base64 text received in the update,
/// echoed unchanged.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Acknowledge {
    pub agent_id: AgentId,
    pub task_id: TaskId,
    pub uuid: String,
}

/// `Call.Reconcile`. An empty `tasks` asks for implicit reconciliation; the
/// object itself must still be sent (`"reconcile":{}`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Reconcile {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<ReconcileTask>,
}

/// `Call.Reconcile.Task`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ReconcileTask {
    pub task_id: TaskId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<AgentId>,
}

/// `mesos.v1.Filters`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Filters {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refuse_seconds: Option<f64>,
}

/// `mesos.v1.KillPolicy`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct KillPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period: Option<DurationInfo>,
}

/// `mesos.v1.DurationInfo`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct DurationInfo {
    pub nanoseconds: i64,
}

/// `mesos.v1.TimeInfo`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct TimeInfo {
    pub nanoseconds: i64,
}

/// `mesos.v1.Offer.Operation`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Operation {
    /// Optional in the protobuf: an absent type reads as UNKNOWN.
    #[serde(rename = "type", default = "OperationType::unset")]
    pub kind: OperationType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch: Option<Launch>,
}

/// `Offer.Operation.Type`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OperationType {
    Unknown,
    Launch,
    Reserve,
    Unreserve,
    Create,
    Destroy,
    LaunchGroup,
    GrowVolume,
    ShrinkVolume,
    CreateDisk,
    DestroyDisk,
    #[serde(other)]
    Unrecognized,
}

impl OperationType {
    /// What an operation without a `type` is.
    fn unset() -> Self {
        Self::Unknown
    }
}

/// `Offer.Operation.Launch`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Launch {
    #[serde(default)]
    pub task_infos: Vec<TaskInfo>,
}
