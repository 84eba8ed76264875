//! Mesos v1 scheduler API types, as JSON.
//!
//! Field names are the `.proto` names (snake_case), enums are their value
//! names, `bytes` are standard base64 strings, and unset optional fields are
//! omitted: what we send matches mesos.proto / scheduler.proto field for
//! field. What we receive may carry more (newer masters): unknown fields are
//! ignored and unknown enum values decode to an `Unrecognized` variant.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name {
            pub value: String,
        }

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                Self { value: value.into() }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.value)
            }
        }
    )*};
}

id_type!(
    /// `mesos.v1.FrameworkID`.
    FrameworkId,
    /// `mesos.v1.OfferID`.
    OfferId,
    /// `mesos.v1.AgentID`.
    AgentId,
    /// `mesos.v1.TaskID`.
    TaskId,
    /// `mesos.v1.ExecutorID`.
    ExecutorId,
    /// `mesos.v1.ContainerID` (without `parent`).
    ContainerId,
);

// ---------------------------------------------------------------- calls ---

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
    #[serde(rename = "type")]
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

/// `Offer.Operation.Launch`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Launch {
    #[serde(default)]
    pub task_infos: Vec<TaskInfo>,
}

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
    #[serde(rename = "type")]
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

// -------------------------------------------------------------- resources ---

/// `mesos.v1.Resource` (unreserved resources; reservations are passed
/// through untouched by ignoring them).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Resource {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ValueType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scalar: Option<Scalar>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ranges: Option<Ranges>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<Set>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocation_info: Option<AllocationInfo>,
}

impl Resource {
    /// A scalar resource (`cpus`, `mem`, `disk`).
    pub fn scalar(name: &str, value: f64) -> Self {
        Self {
            name: name.to_string(),
            kind: ValueType::Scalar,
            scalar: Some(Scalar { value }),
            ranges: None,
            set: None,
            role: None,
            allocation_info: None,
        }
    }

    /// A ranges resource (`ports`), inclusive bounds.
    pub fn ranges(name: &str, ranges: Vec<Range>) -> Self {
        Self {
            name: name.to_string(),
            kind: ValueType::Ranges,
            scalar: None,
            ranges: Some(Ranges { range: ranges }),
            set: None,
            role: None,
            allocation_info: None,
        }
    }
}

/// `Value.Type`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ValueType {
    Scalar,
    Ranges,
    Set,
    Text,
    #[serde(other)]
    Unrecognized,
}

/// `Value.Scalar`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct Scalar {
    pub value: f64,
}

/// `Value.Ranges`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Ranges {
    #[serde(default)]
    pub range: Vec<Range>,
}

/// `Value.Range`, inclusive.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub begin: u64,
    pub end: u64,
}

/// `Value.Set`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Set {
    #[serde(default)]
    pub item: Vec<String>,
}

/// `Value.Text`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Text {
    pub value: String,
}

/// `Resource.AllocationInfo`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct AllocationInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

/// `mesos.v1.Attribute`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Attribute {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ValueType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scalar: Option<Scalar>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ranges: Option<Ranges>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<Set>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<Text>,
}

// ----------------------------------------------------------------- events ---

/// `mesos.v1.scheduler.Event`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Event {
    #[serde(rename = "type")]
    pub kind: EventType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscribed: Option<Subscribed>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offers: Option<Offers>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rescind: Option<Rescind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<Update>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<EventError>,
}

impl Event {
    /// An event with only its type set (e.g. HEARTBEAT).
    pub fn of(kind: EventType) -> Self {
        Self {
            kind,
            subscribed: None,
            offers: None,
            rescind: None,
            update: None,
            failure: None,
            error: None,
        }
    }
}

/// `Event.Type`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventType {
    Unknown,
    Subscribed,
    Offers,
    Rescind,
    Update,
    Message,
    Failure,
    Error,
    Heartbeat,
    InverseOffers,
    RescindInverseOffer,
    UpdateOperationStatus,
    #[serde(other)]
    Unrecognized,
}

/// `Event.Subscribed`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Subscribed {
    pub framework_id: FrameworkId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_interval_seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_info: Option<MasterInfo>,
}

/// `mesos.v1.MasterInfo` (fields of the v1 proto; newer ones are ignored).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct MasterInfo {
    pub id: String,
    /// IPv4 packed as Mesos does (127.0.0.1 is 16777343).
    pub ip: u32,
    pub port: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
}

/// `mesos.v1.Address`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Address {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    pub port: i32,
}

/// `mesos.v1.URL`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Url {
    pub scheme: String,
    pub address: Address,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// `Event.Offers` (JSON nests the list: `"offers":{"offers":[…]}`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Offers {
    #[serde(default)]
    pub offers: Vec<Offer>,
}

/// `mesos.v1.Offer`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Offer {
    pub id: OfferId,
    pub framework_id: FrameworkId,
    pub agent_id: AgentId,
    pub hostname: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<Url>,
    #[serde(default)]
    pub resources: Vec<Resource>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub executor_ids: Vec<ExecutorId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocation_info: Option<AllocationInfo>,
}

/// `Event.Rescind`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Rescind {
    pub offer_id: OfferId,
}

/// `Event.Update`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Update {
    pub status: TaskStatus,
}

/// `Event.Failure`: an agent lost (only `agent_id`) or an executor exited.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Failure {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<AgentId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor_id: Option<ExecutorId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<i32>,
}

/// `Event.Error` (JSON `"error":{"message":…}`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct EventError {
    pub message: String,
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_subscribed_event_decodes_despite_newer_fields() {
        // Captured from a Mesos 1.11 master: `capabilities` with an empty
        // object is not in our protos and must be ignored.
        let raw = r#"{"type":"SUBSCRIBED","subscribed":{"framework_id":{"value":"f41f1726-ae55-4a60-a534-66bb56bc6e3f-0004"},"heartbeat_interval_seconds":15.0,"master_info":{"id":"f41f1726-ae55-4a60-a534-66bb56bc6e3f","ip":16777343,"port":15050,"pid":"master@127.0.0.1:15050","hostname":"localhost","version":"1.11.0","address":{"hostname":"localhost","ip":"127.0.0.1","port":15050},"capabilities":[{"type":"AGENT_UPDATE"},{"type":"AGENT_DRAINING"},{}]}}}"#;
        let event: Event = serde_json::from_str(raw).expect("decodes");
        assert_eq!(event.kind, EventType::Subscribed);
        let sub = event.subscribed.expect("subscribed");
        assert_eq!(sub.framework_id.value, "f41f1726-ae55-4a60-a534-66bb56bc6e3f-0004");
        assert_eq!(sub.heartbeat_interval_seconds, Some(15.0));
        assert_eq!(sub.master_info.expect("master").ip, 16777343);
    }

    #[test]
    fn real_offers_event_decodes() {
        let raw = r#"{"type":"OFFERS","offers":{"offers":[{"id":{"value":"f41f-O6"},"framework_id":{"value":"f41f-0004"},"agent_id":{"value":"f41f-S0"},"hostname":"localhost","url":{"scheme":"http","address":{"hostname":"localhost","ip":"127.0.0.1","port":15050},"path":"/slave(1)"},"resources":[{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":31000,"end":32000}]},"role":"*","allocation_info":{"role":"*"}},{"name":"cpus","type":"SCALAR","scalar":{"value":4.0},"role":"*","allocation_info":{"role":"*"}}],"allocation_info":{"role":"*"}}]}}"#;
        let event: Event = serde_json::from_str(raw).expect("decodes");
        let offers = event.offers.expect("offers").offers;
        assert_eq!(offers.len(), 1);
        assert_eq!(
            offers[0].resources[0].ranges.as_ref().expect("ranges").range[0].end,
            32000
        );
    }

    #[test]
    fn real_update_and_unknown_enums_decode() {
        let raw = r#"{"type":"UPDATE","update":{"status":{"task_id":{"value":"wire-true"},"state":"TASK_FINISHED","message":"Command exited with status 0","source":"SOURCE_EXECUTOR","agent_id":{"value":"S0"},"executor_id":{"value":"wire-true"},"timestamp":1795569094.7017759,"uuid":"NEFfbJ4PRWC7CvkYekFtCw==","container_status":{"container_id":{"value":"7095ed3b"},"network_infos":[{"ip_addresses":[{"protocol":"IPv4","ip_address":"127.0.0.1"}]}],"executor_pid":12237}}}}"#;
        let event: Event = serde_json::from_str(raw).expect("decodes");
        let status = event.update.expect("update").status;
        assert_eq!(status.state, TaskState::TaskFinished);
        assert!(status.state.is_terminal());
        assert_eq!(status.uuid.as_deref(), Some("NEFfbJ4PRWC7CvkYekFtCw=="));

        let future = r#"{"type":"SOMETHING_NEW","something_new":{}}"#;
        let event: Event = serde_json::from_str(future).expect("decodes");
        assert_eq!(event.kind, EventType::Unrecognized);
    }

    #[test]
    fn implicit_reconcile_sends_an_empty_object() {
        let call = Call {
            framework_id: Some(FrameworkId::new("F-0000")),
            kind: CallType::Reconcile,
            reconcile: Some(Reconcile::default()),
            ..Call::default()
        };
        assert_eq!(
            serde_json::to_string(&call).expect("encodes"),
            r#"{"framework_id":{"value":"F-0000"},"type":"RECONCILE","reconcile":{}}"#
        );
    }
}
