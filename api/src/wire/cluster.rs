//! The cluster as the API shows it: the Mesos agents (nodes) with what
//! they have, what any framework uses, what is offered and what is free
//! (`GET /api/v1/cluster/nodes`), and the agent's launch queue with why
//! each task in it waits (`GET /api/v1/cluster/queue`); both with the
//! agent's link to Mesos in one answer (`GET /api/v1/cluster`).
//!
//! Resources are in Mesos units: cpus as a fraction of cores, mem and
//! disk in MiB (Mesos' "MB"), ports as inclusive ranges.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The cluster in one answer: the agent's link to Mesos, the nodes and the
/// launch queue.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterView {
    /// The Sextant agent's link to the Mesos master.
    pub framework: FrameworkLink,
    /// The nodes; absent when the master could not list them
    /// (`nodesError` says why).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<NodeList>,
    /// Why `nodes` is absent, in words naming the master.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes_error: Option<String>,
    /// The launch queue, with why each task waits.
    pub queue: QueueList,
}

/// The Sextant agent as a Mesos framework.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FrameworkLink {
    /// The framework id Mesos gave; absent until the first subscription.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framework_id: Option<String>,
    /// The Mesos master the agent subscribes to.
    pub master: String,
    /// Subscribed right now.
    pub connected: bool,
    /// Since when it is (or is not) connected (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Why it is not connected, in words (the last error); absent when
    /// connected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Every node the Mesos master lists.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeList {
    /// Sorted by hostname, then id; the first 10,000.
    pub nodes: Vec<NodeView>,
    /// How many nodes the master lists (more than `nodes` when cut).
    pub total: u32,
    /// The Mesos master asked.
    #[serde(default)]
    pub master: String,
}

/// One node: a Mesos agent.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeView {
    /// The Mesos agent id.
    pub id: String,
    /// The node's hostname, as the Mesos agent registered it.
    pub hostname: String,
    /// `host:port` where the Mesos agent serves HTTP (empty if unknown).
    #[serde(default)]
    pub address: String,
    /// One word for where the node stands.
    pub status: NodeStatus,
    /// Mesos' `active`: the master offers the node's resources (it is
    /// connected and not deactivated).
    pub active: bool,
    /// An operator deactivated the node (draining deactivates it too).
    #[serde(default)]
    pub deactivated: bool,
    /// `DRAINING` or `DRAINED` while an operator drains the node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draining: Option<String>,
    /// Everything the node has.
    pub total: ResourcesView,
    /// Allocated to the tasks and executors of any framework.
    pub used: ResourcesView,
    /// Offered to frameworks right now, not used yet.
    #[serde(default)]
    pub offered: ResourcesView,
    /// `total − used`: what is left for new tasks.
    pub free: ResourcesView,
    /// Name → value as Mesos prints it: text as it is, a scalar's number,
    /// ranges `[a-b, c-d]`, sets `{x,y}`.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// When the node registered with the master (RFC 3339).
    #[serde(default)]
    pub registered_at: Option<String>,
    /// The node's Mesos version.
    #[serde(default)]
    pub version: String,
    /// Sextant's live tasks on the node.
    #[serde(default)]
    pub tasks: u32,
}

/// Where a node stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum NodeStatus {
    /// Active: its resources are offered.
    #[default]
    Ready,
    /// Not active, not deactivated: the master has lost touch with it.
    Inactive,
    /// An operator deactivated it: nothing new is placed there.
    Deactivated,
    /// An operator drains it: its tasks are being killed.
    Draining,
    /// Drained: no task of any framework is left on it.
    Drained,
}

impl NodeStatus {
    /// From what the master says: a drain wins, then deactivation, then
    /// whether it is active.
    pub fn of(active: bool, deactivated: bool, drain_state: &str) -> Self {
        match drain_state {
            "DRAINING" => Self::Draining,
            "DRAINED" => Self::Drained,
            _ if deactivated => Self::Deactivated,
            _ if active => Self::Ready,
            _ => Self::Inactive,
        }
    }

    /// The word, as the table prints it.
    pub fn word(self) -> &'static str {
        match self {
            Self::Ready => "Ready",
            Self::Inactive => "Inactive",
            Self::Deactivated => "Deactivated",
            Self::Draining => "Draining",
            Self::Drained => "Drained",
        }
    }
}

/// A set of resources.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourcesView {
    /// Fractions of a core.
    pub cpus: f64,
    /// MiB.
    pub mem: f64,
    /// MiB.
    pub disk: f64,
    /// GPUs.
    #[serde(default)]
    pub gpus: f64,
    /// Inclusive port ranges, sorted.
    #[serde(default)]
    pub ports: Vec<PortRange>,
}

impl ResourcesView {
    /// How many ports `ports` holds.
    pub fn port_count(&self) -> u64 {
        self.ports
            .iter()
            .map(|r| u64::from(r.end).saturating_sub(u64::from(r.begin)) + 1)
            .sum()
    }
}

/// An inclusive range of ports.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
pub struct PortRange {
    /// The first port.
    pub begin: u32,
    /// The last port (inclusive).
    pub end: u32,
}

/// The agent's launch queue.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueueList {
    /// In the order the agent launches them; the first 10,000.
    pub tasks: Vec<QueuedTaskView>,
    /// How many tasks are queued (more than `tasks` when cut).
    pub total: u32,
}

/// A task waiting to be launched.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueuedTaskView {
    /// `<namespace>.<app>.<revision>.<unique>`.
    pub task_id: String,
    /// The app's namespace.
    pub namespace: String,
    /// The app's name.
    pub app: String,
    /// The revision of the app it runs.
    pub revision: String,
    /// Its priority: `production` (launched first, may preempt) or
    /// `preemptible`; absent from an older agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    /// Cores it asks for.
    pub cpus: f64,
    /// MiB of memory it asks for.
    pub mem: f64,
    /// MiB of disk it asks for.
    pub disk: f64,
    /// Ports any port of an offer will do for.
    #[serde(default)]
    pub ports: u32,
    /// Fixed host ports it asks for.
    #[serde(default)]
    pub host_ports: Vec<u32>,
    /// Since when it waits (RFC 3339).
    #[serde(default)]
    pub queued_at: Option<String>,
    /// Why it still waits, in words.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drain_wins_then_deactivation_then_activity() {
        assert_eq!(NodeStatus::of(false, true, "DRAINING"), NodeStatus::Draining);
        assert_eq!(NodeStatus::of(false, true, "DRAINED"), NodeStatus::Drained);
        assert_eq!(NodeStatus::of(false, true, ""), NodeStatus::Deactivated);
        assert_eq!(NodeStatus::of(true, false, ""), NodeStatus::Ready);
        assert_eq!(NodeStatus::of(false, false, ""), NodeStatus::Inactive);
    }

    #[test]
    fn the_wire_is_camel_case() {
        let task = QueuedTaskView {
            task_id: "default.web.0a1b.x".into(),
            host_ports: vec![8080],
            queued_at: Some("2026-11-25T09:00:00Z".into()),
            ..QueuedTaskView::default()
        };
        let json = serde_json::to_value(&task).expect("json");
        assert_eq!(json["taskId"], "default.web.0a1b.x");
        assert_eq!(json["hostPorts"], serde_json::json!([8080]));
        assert!(json.get("priority").is_none(), "absent, not null");
        let free = ResourcesView {
            ports: vec![
                PortRange {
                    begin: 31000,
                    end: 31009,
                },
                PortRange {
                    begin: 31020,
                    end: 31020,
                },
            ],
            ..ResourcesView::default()
        };
        assert_eq!(free.port_count(), 11);
    }
}
