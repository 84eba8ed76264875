//! `mesos.v1.scheduler.Event` and its sub-messages.

use serde::{Deserialize, Serialize};

use super::{AgentId, AllocationInfo, Attribute, ExecutorId, FrameworkId, OfferId, Resource, TaskStatus};

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
