//! `GET /api/v1/cluster/nodes` and `GET /api/v1/cluster/queue`: the Mesos
//! agents (nodes) with their total, used, offered and free resources and
//! attributes, and the agent's launch queue with why each task waits;
//! `GET /api/v1/cluster`: both and the agent's link to Mesos (framework id,
//! connected or why not) in one answer. All are asked of the agent
//! (`ListNodes`, `ListQueue`, `Cluster`: the controller never speaks Mesos)
//! at each request; nothing is kept.
//!
//! Errors are the API's `{code, message}`: `Unavailable` when the agent
//! cannot be reached or does not answer in time, or when the Mesos master
//! cannot (the agent's words, naming the master).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use sextant_api::proto::agent_client::AgentClient;
use sextant_api::proto::{self, ClusterResponse, ListNodesResponse, ListQueueResponse};
use sextant_api::wire::{
    ClusterView, ErrorCode, FrameworkLink, NodeList, NodeStatus, NodeView, PortRange, QueueList, QueuedTaskView,
    ResourcesView,
};
use tonic::transport::Channel;

use super::error::ApiError;
use super::openapi::documented;
use crate::index::Index;
use crate::store::rfc3339;

#[derive(Clone)]
struct Cluster {
    index: Index,
    agent: AgentClient<Channel>,
}

/// The three routes, asking `agent`.
pub fn routes(index: Index, agent: AgentClient<Channel>) -> Router {
    Router::new()
        .route(documented("GET", "/api/v1/cluster"), get(cluster))
        .route(documented("GET", "/api/v1/cluster/nodes"), get(nodes))
        .route(documented("GET", "/api/v1/cluster/queue"), get(queue))
        .with_state(Cluster { index, agent })
}

async fn nodes(State(cluster): State<Cluster>) -> Result<Json<NodeList>, ApiError> {
    match crate::agent_link::list_nodes(&cluster.agent).await {
        Ok(answer) => Ok(Json(node_list(answer))),
        Err(status) => Err(refusal(&cluster, "list the nodes", &status)),
    }
}

async fn cluster(State(cluster): State<Cluster>) -> Result<Json<ClusterView>, ApiError> {
    match crate::agent_link::cluster(&cluster.agent).await {
        Ok(answer) => Ok(Json(cluster_view(answer))),
        Err(status) => Err(refusal(&cluster, "describe the cluster", &status)),
    }
}

async fn queue(State(cluster): State<Cluster>) -> Result<Json<QueueList>, ApiError> {
    match crate::agent_link::list_queue(&cluster.agent).await {
        Ok(answer) => Ok(Json(queue_list(answer))),
        Err(status) => Err(refusal(&cluster, "read its launch queue", &status)),
    }
}

/// A failed call to the agent, in words: `Unavailable`, whatever the
/// cause, for the agent or Mesos could not answer.
fn refusal(cluster: &Cluster, what: &str, status: &tonic::Status) -> ApiError {
    let url = cluster.index.read(|s| s.agent.url.clone());
    let agent = if url.is_empty() {
        "the Sextant agent".to_string()
    } else {
        format!("the Sextant agent at {url}")
    };
    let message = if let Some(cause) = std::error::Error::source(status) {
        // Made on this side: no answer came.
        format!("cannot reach {agent} to {what}: {}", deepest(cause))
    } else {
        match status.code() {
            tonic::Code::DeadlineExceeded | tonic::Code::Cancelled => {
                format!("{agent} did not {what} in time")
            }
            tonic::Code::Unimplemented => {
                format!("{agent} cannot {what} (it is older than this controller; upgrade it)")
            }
            _ => status.message().to_string(),
        }
    };
    ApiError::new(ErrorCode::Unavailable, message)
}

/// The innermost cause, which says it in words ("Connection refused").
fn deepest(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

fn cluster_view(answer: ClusterResponse) -> ClusterView {
    let link = answer.link.unwrap_or_default();
    let nodes_error = (!answer.nodes_error.is_empty()).then_some(answer.nodes_error);
    ClusterView {
        framework: FrameworkLink {
            framework_id: (!link.framework_id.is_empty()).then_some(link.framework_id),
            master: link.master,
            connected: link.mesos_connected,
            since: (link.since > 0.0).then(|| rfc3339(link.since)).flatten(),
            message: (!link.mesos_connected && !link.message.is_empty()).then_some(link.message),
        },
        nodes: answer.nodes.map(node_list),
        nodes_error,
        queue: queue_list(answer.queue.unwrap_or_default()),
    }
}

fn node_list(answer: ListNodesResponse) -> NodeList {
    NodeList {
        nodes: answer.nodes.into_iter().map(node_view).collect(),
        total: answer.total,
        master: answer.master,
    }
}

fn node_view(node: proto::Node) -> NodeView {
    let resources = |r: Option<proto::Resources>| {
        let r = r.unwrap_or_default();
        ResourcesView {
            cpus: r.cpus,
            mem: r.mem,
            disk: r.disk,
            gpus: r.gpus,
            ports: r
                .ports
                .iter()
                .map(|p| PortRange {
                    begin: p.begin,
                    end: p.end,
                })
                .collect(),
        }
    };
    NodeView {
        status: NodeStatus::of(node.active, node.deactivated, &node.drain_state),
        id: node.id,
        hostname: node.hostname,
        address: node.address,
        active: node.active,
        deactivated: node.deactivated,
        draining: (!node.drain_state.is_empty()).then_some(node.drain_state),
        total: resources(node.total),
        used: resources(node.used),
        offered: resources(node.offered),
        free: resources(node.free),
        attributes: node.attributes.into_iter().collect(),
        registered_at: (node.registered_at > 0.0)
            .then(|| rfc3339(node.registered_at))
            .flatten(),
        version: node.version,
        tasks: node.tasks,
    }
}

fn queue_list(answer: ListQueueResponse) -> QueueList {
    QueueList {
        tasks: answer
            .tasks
            .into_iter()
            .map(|t| QueuedTaskView {
                queued_at: rfc3339(t.queued_at),
                priority: (!t.priority.is_empty()).then_some(t.priority),
                task_id: t.task_id,
                namespace: t.namespace,
                app: t.app,
                revision: t.revision,
                cpus: t.cpus,
                mem: t.mem,
                disk: t.disk,
                ports: t.ports,
                host_ports: t.host_ports,
                message: t.message,
            })
            .collect(),
        total: answer.total,
    }
}

#[cfg(test)]
mod tests {
    use axum::response::IntoResponse;

    use super::*;

    #[test]
    fn a_node_becomes_its_view() {
        let node = proto::Node {
            id: "S1".into(),
            hostname: "node-1".into(),
            active: false,
            deactivated: true,
            drain_state: "DRAINING".into(),
            total: Some(proto::Resources {
                cpus: 4.0,
                ports: vec![proto::PortRange {
                    begin: 31000,
                    end: 31009,
                }],
                ..Default::default()
            }),
            attributes: [("rack".to_string(), "r1".to_string())].into(),
            registered_at: 1_700_000_000.0,
            tasks: 3,
            ..Default::default()
        };
        let view = node_view(node);
        assert_eq!(view.status, NodeStatus::Draining);
        assert_eq!(view.draining.as_deref(), Some("DRAINING"));
        assert_eq!((view.total.cpus, view.total.port_count(), view.tasks), (4.0, 10, 3));
        assert_eq!(view.used, ResourcesView::default(), "absent: nothing");
        assert_eq!(view.attributes.get("rack").map(String::as_str), Some("r1"));
        assert_eq!(view.registered_at.as_deref(), Some("2023-11-14T22:13:20Z"));
        assert_eq!(node_view(proto::Node::default()).registered_at, None);
    }

    #[test]
    fn a_queued_task_becomes_its_view() {
        let list = queue_list(ListQueueResponse {
            tasks: vec![proto::QueuedTask {
                task_id: "default.web.0a1b.x".into(),
                app: "web".into(),
                cpus: 0.5,
                queued_at: 1_700_000_000.0,
                priority: "preemptible".into(),
                message: "waiting for an offer: needs 2 cpus; the most free on any offered node is 1 cpus".into(),
                ..Default::default()
            }],
            total: 7,
        });
        assert_eq!(list.total, 7);
        let task = &list.tasks[0];
        assert_eq!((task.cpus, task.priority.as_deref()), (0.5, Some("preemptible")));
        assert_eq!(task.queued_at.as_deref(), Some("2023-11-14T22:13:20Z"));
        assert!(task.message.ends_with("is 1 cpus"));
    }

    /// An agent that does not answer is `Unavailable`, in words naming it.
    #[tokio::test]
    async fn an_unreachable_agent_is_unavailable() {
        let cluster = Cluster {
            index: Index::default(),
            agent: crate::agent_link::unreachable_client(),
        };
        for result in [
            nodes(State(cluster.clone())).await.map(|_| ()),
            queue(State(cluster.clone())).await.map(|_| ()),
        ] {
            let error = result.expect_err("nothing listens on port 1");
            assert_eq!(error.0.code, ErrorCode::Unavailable);
            assert!(
                error.0.message.starts_with("cannot reach the Sextant agent to "),
                "{}",
                error.0.message
            );
            assert_eq!(error.into_response().status(), 503);
        }
    }
}
