//! What the controller is told when the agent cannot reach its master: the
//! cause in words (refused, DNS), naming the master, never reqwest's
//! "error sending request"; and `Cluster` still answers, saying so.

use std::time::Duration;

use sextant_agent::AgentConfig;
use sextant_proto::proto::agent_client::AgentClient;
use sextant_proto::proto::{AgentStatus, ClusterRequest, WatchTasksRequest, task_event};

/// The first AgentStatus the agent reports once it has tried `master`.
async fn status_against(master: &str) -> AgentStatus {
    let mut config = AgentConfig::new(master, "127.0.0.1:0".parse().unwrap());
    config.state_dir = None;
    let agent = sextant_agent::start(config).await.unwrap();
    let mut client = AgentClient::connect(agent.url()).await.unwrap();
    let mut stream = client.watch_tasks(WatchTasksRequest {}).await.unwrap().into_inner();
    let wait = async {
        loop {
            let event = stream.message().await.unwrap().expect("stream open");
            if let Some(task_event::Event::Agent(status)) = event.event
                && status.message != "not subscribed to the Mesos master yet"
            {
                return status;
            }
        }
    };
    let status = tokio::time::timeout(Duration::from_secs(20), wait)
        .await
        .expect("a status");
    agent.shutdown().await;
    status
}

#[tokio::test]
async fn a_closed_port_is_connection_refused() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let master = format!("http://127.0.0.1:{port}");
    let status = status_against(&master).await;
    assert!(!status.mesos_connected);
    assert_eq!(
        status.message,
        format!("cannot reach the Mesos master at {master}: connection refused")
    );
}

#[tokio::test]
async fn an_unresolvable_master_is_a_dns_failure() {
    let master = "http://mesos-master.invalid:5050";
    let status = status_against(master).await;
    assert!(
        status.message.starts_with(&format!(
            "cannot reach the Mesos master at {master}: cannot resolve the host name ("
        )),
        "{}",
        status.message
    );
}

/// Guards `Cluster` answering while the master is away: the link says why
/// in words, the nodes' failure is part of the answer (not the call's
/// failure), and the queue is still there.
#[tokio::test]
async fn cluster_answers_without_the_master_and_says_why() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let master = format!("http://127.0.0.1:{port}");
    let mut config = AgentConfig::new(&master, "127.0.0.1:0".parse().unwrap());
    config.state_dir = None;
    let agent = sextant_agent::start(config).await.unwrap();
    let mut client = AgentClient::connect(agent.url()).await.unwrap();
    let ask = async {
        loop {
            let answer = client
                .cluster(ClusterRequest {})
                .await
                .expect("Cluster answers")
                .into_inner();
            let link = answer.link.clone().unwrap_or_default();
            if link.message != "not subscribed to the Mesos master yet" {
                return answer;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let answer = tokio::time::timeout(Duration::from_secs(20), ask)
        .await
        .expect("an answer past the first try");
    agent.shutdown().await;
    let link = answer.link.unwrap_or_default();
    assert!(!link.mesos_connected);
    assert_eq!(link.master, master);
    assert_eq!(
        link.message,
        format!("cannot reach the Mesos master at {master}: connection refused")
    );
    assert!(answer.nodes.is_none(), "no nodes without the master");
    assert!(answer.nodes_error.contains(&master), "{}", answer.nodes_error);
    assert_eq!(answer.queue.map(|q| q.total), Some(0));
}
