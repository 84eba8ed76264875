//! The Mesos agents (nodes) as `ListNodes` shows them: the master's
//! `/master/slaves` (read by `mesos::slaves`), each node turned into the
//! contract's `Node` with free = total − used, and the number of this
//! framework's live tasks on it (from the task table). A failure is an
//! UNAVAILABLE status whose words name the master.

use std::collections::BTreeMap;
use std::time::Duration;

use mesos::agents::AgentEndpoint;
use mesos::slaves::{self, Slave, SlavesAnswer, SlavesError};
use mesos::summary::ResourceSummary;
use sextant_proto::contract::MAX_LIST_NODES;
use sextant_proto::proto::{ListNodesResponse, Node, PortRange, Resources, TaskState};
use tonic::Status;

use crate::link::root_cause;
use crate::tasks::{TaskTable, is_ended};

/// Bound on connecting to the master.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Asks the master for its nodes.
#[derive(Debug)]
pub struct Nodes {
    http: reqwest::Client,
    master_url: String,
}

impl Nodes {
    pub fn new(master_url: impl Into<String>) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder().connect_timeout(CONNECT_TIMEOUT).build()?;
        Ok(Self {
            http,
            master_url: master_url.into().trim_end_matches('/').to_string(),
        })
    }

    /// The master's `/master/slaves`, or why not as a status in words.
    pub async fn fetch(&self) -> Result<SlavesAnswer, Status> {
        slaves::list(&self.http, &self.master_url).await.map_err(|e| status(&e))
    }

    /// The master asked.
    pub fn master(&self) -> &str {
        &self.master_url
    }
}

/// A `/master/slaves` failure as `ListNodes` answers it.
fn status(error: &SlavesError) -> Status {
    let message = match error {
        SlavesError::Http { master, source } if source.is_timeout() => {
            format!("the Mesos master at {master} did not list its agents in time")
        }
        SlavesError::Http { master, source } => {
            format!(
                "cannot reach the Mesos master at {master} to list its agents: {}",
                root_cause(source)
            )
        }
        other => other.to_string(),
    };
    Status::unavailable(message)
}

/// The nodes of `answer`, sorted by hostname then id, at most
/// `MAX_LIST_NODES`, each with this framework's live tasks on it.
pub fn response(answer: &SlavesAnswer, table: &TaskTable, master: &str) -> ListNodesResponse {
    let mut live: BTreeMap<&str, u32> = BTreeMap::new();
    for task in table.tasks() {
        let state = task.view.state;
        if !task.view.agent_id.is_empty() && !is_ended(state) && state != TaskState::Pending as i32 {
            *live.entry(task.view.agent_id.as_str()).or_default() += 1;
        }
    }
    let mut slaves: Vec<&Slave> = answer.slaves.iter().collect();
    slaves.sort_by(|a, b| a.hostname.cmp(&b.hostname).then_with(|| a.id.cmp(&b.id)));
    let nodes = slaves
        .iter()
        .take(MAX_LIST_NODES)
        .map(|s| node(s, live.get(s.id.as_str()).copied().unwrap_or(0)))
        .collect();
    ListNodesResponse {
        nodes,
        total: u32::try_from(answer.slaves.len()).unwrap_or(u32::MAX),
        master: master.to_string(),
    }
}

/// One node of the contract.
pub fn node(slave: &Slave, tasks: u32) -> Node {
    Node {
        id: slave.id.clone(),
        hostname: slave.hostname.clone(),
        address: AgentEndpoint::of_slave(slave, "http")
            .map(|e| e.to_string())
            .unwrap_or_default(),
        active: slave.active,
        deactivated: slave.deactivated,
        drain_state: slave.drain_info.as_ref().map(|d| d.state.clone()).unwrap_or_default(),
        total: Some(resources(&slave.resources)),
        used: Some(resources(&slave.used_resources)),
        offered: Some(resources(&slave.offered_resources)),
        free: Some(resources(&slave.resources.minus(&slave.used_resources))),
        attributes: slave.attributes.clone().into_iter().collect(),
        registered_at: slave.registered_time.unwrap_or(0.0),
        version: slave.version.clone(),
        tasks,
    }
}

fn resources(summary: &ResourceSummary) -> Resources {
    let port = |p: u64| u32::try_from(p).unwrap_or(u32::MAX);
    Resources {
        cpus: summary.cpus,
        mem: summary.mem,
        disk: summary.disk,
        gpus: summary.gpus,
        ports: summary
            .ports
            .intervals()
            .iter()
            .map(|&(begin, end)| PortRange {
                begin: port(begin),
                end: port(end),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use mesos::types::{AgentId, TaskState as MesosState, TaskStatus};
    use sextant_proto::proto::LaunchRequest;

    use super::*;

    fn answer() -> SlavesAnswer {
        serde_json::from_value(serde_json::json!({"slaves": [
            {
                "id": "S1", "hostname": "node-b", "pid": "slave(1)@10.0.0.6:5051", "port": 5051,
                "resources": {"cpus": 4.0, "mem": 4096.0, "disk": 100.0, "gpus": 0.0, "ports": "[31000-31009]"},
                "used_resources": {"cpus": 0.5, "mem": 64.0, "disk": 0.0, "gpus": 0.0, "ports": "[31000-31000]"},
                "attributes": {"rack": "r1", "slots": 3.0},
                "active": false, "deactivated": true,
                "drain_info": {"state": "DRAINING"}
            },
            {"id": "S0", "hostname": "node-a", "port": 5051, "active": true}
        ]}))
        .expect("a body")
    }

    fn running_on(table: &mut TaskTable, id: &str, agent: &str) {
        table.enqueue(LaunchRequest {
            task_id: id.into(),
            namespace: "default".into(),
            app: "web".into(),
            revision: "0a1b2c3d4e".into(),
            spec: None,
        });
        table.mark_launched(id, &AgentId::new(agent), "node-b", Vec::new());
        let status: TaskStatus = serde_json::from_value(serde_json::json!({
            "task_id": {"value": id}, "state": MesosState::TaskRunning.as_str(), "agent_id": {"value": agent}
        }))
        .expect("a status");
        table.apply_status(&status);
    }

    #[test]
    fn nodes_come_sorted_with_free_resources_and_our_live_tasks() {
        let mut table = TaskTable::new();
        running_on(&mut table, "default.web.0a1b2c3d4e.a", "S1");
        running_on(&mut table, "default.web.0a1b2c3d4e.b", "S1");
        running_on(&mut table, "default.web.0a1b2c3d4e.c", "S1");
        let ended: TaskStatus = serde_json::from_value(serde_json::json!({
            "task_id": {"value": "default.web.0a1b2c3d4e.c"}, "state": "TASK_FINISHED", "agent_id": {"value": "S1"}
        }))
        .expect("a status");
        table.apply_status(&ended);

        let listed = response(&answer(), &table, "http://m:5050");
        assert_eq!((listed.total, listed.master.as_str()), (2, "http://m:5050"));
        let names: Vec<&str> = listed.nodes.iter().map(|n| n.hostname.as_str()).collect();
        assert_eq!(names, ["node-a", "node-b"]);
        let b = &listed.nodes[1];
        assert_eq!(
            (b.tasks, b.address.as_str()),
            (2, "10.0.0.6:5051"),
            "ended tasks do not count"
        );
        assert_eq!(
            (b.active, b.deactivated, b.drain_state.as_str()),
            (false, true, "DRAINING")
        );
        let free = b.free.clone().unwrap_or_default();
        assert_eq!((free.cpus, free.mem, free.disk), (3.5, 4032.0, 100.0));
        assert_eq!(
            free.ports.iter().map(|r| (r.begin, r.end)).collect::<Vec<_>>(),
            [(31001, 31009)]
        );
        assert_eq!(b.attributes.get("slots").map(String::as_str), Some("3"));
        let a = &listed.nodes[0];
        assert_eq!(
            (a.tasks, a.address.as_str()),
            (0, "node-a:5051"),
            "no pid: hostname and port"
        );
    }

    #[tokio::test]
    async fn an_unreachable_master_is_unavailable_and_named() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let nodes = Nodes::new(format!("http://127.0.0.1:{port}/")).expect("a client");
        let status = nodes.fetch().await.expect_err("nothing listens");
        assert_eq!(status.code(), tonic::Code::Unavailable);
        assert_eq!(
            status.message(),
            format!("cannot reach the Mesos master at http://127.0.0.1:{port} to list its agents: connection refused")
        );
    }
}
