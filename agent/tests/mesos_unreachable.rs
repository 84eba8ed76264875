//! What the controller is told when the agent cannot reach its master: the
//! cause in words (refused, DNS), naming the master, never reqwest's
//! "error sending request".

use std::time::Duration;

use sextant_agent::AgentConfig;
use sextant_proto::proto::agent_client::AgentClient;
use sextant_proto::proto::{AgentStatus, WatchTasksRequest, task_event};

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
