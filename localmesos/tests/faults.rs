//! Faults on demand through the operator endpoints, seen by frameworks
//! through the `mesos` client: a partitioned node's tasks become
//! TASK_UNREACHABLE (PARTITION_AWARE) or TASK_LOST, keep running, and come
//! back TASK_RUNNING on heal; a removed node's tasks are gone
//! (TASK_GONE_BY_OPERATOR) and their processes killed; a master restarted
//! without its state ends every subscription, and reconciling an old task
//! answers TASK_UNKNOWN.

mod common;

use std::time::Duration;

use common::*;
use localmesos::NodeConfig;
use mesos::types::*;
use serde_json::Value;

fn two_nodes() -> Vec<NodeConfig> {
    ["node-1", "node-2"]
        .iter()
        .map(|name| NodeConfig {
            hostname: name.to_string(),
            ..NodeConfig::default()
        })
        .collect()
}

async fn fault(master: &TestMaster, path: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", master.url()))
        .send()
        .await
        .expect("POST");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

/// Launches a `sleep` on node-1 and waits until it runs; returns the
/// running status.
async fn running_on_node_1(
    caller: &mesos::client::Caller,
    events: &mut mesos::client::EventStream,
    id: &str,
) -> TaskStatus {
    let offer = loop {
        let offers = next_offers(events).await;
        if let Some(offer) = offers.into_iter().find(|o| o.hostname == "node-1") {
            break offer;
        }
    };
    caller
        .accept(
            vec![offer.id.clone()],
            vec![shell_task(id, &offer.agent_id, "sleep 1000")],
            0.0,
        )
        .await
        .expect("ACCEPT");
    loop {
        let status = next_update_acked(caller, events).await;
        if status.state == TaskState::TaskRunning {
            return status;
        }
        assert!(!status.state.is_terminal(), "{status:?}");
    }
}

/// The next UPDATE or FAILURE (offers, rescinds and heartbeats skipped).
async fn next_update_or_failure(events: &mut mesos::client::EventStream) -> Event {
    loop {
        let event = next_event(events).await;
        if event.update.is_some() || event.failure.is_some() {
            return event;
        }
    }
}

fn pid_of(status: &TaskStatus) -> i32 {
    status
        .container_status
        .as_ref()
        .and_then(|c| c.executor_pid)
        .map(|p| i32::try_from(p).expect("pid"))
        .expect("a pid")
}

#[tokio::test]
async fn a_partitioned_nodes_tasks_are_unreachable_then_running_again() {
    let master = start_with(|c| c.nodes = two_nodes()).await;
    let sub = subscribe(&master, framework_info("partition")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    let running = running_on_node_1(&caller, &mut events, "survivor").await;
    let agent_id = running.agent_id.clone().expect("agent");

    let (code, body) = fault(&master, "/fault/partition?node=node-1").await;
    assert_eq!(code, 200, "{body}");
    let report: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(report["tasks"], 1);

    let mut saw_failure = false;
    let unreachable = loop {
        let event = next_update_or_failure(&mut events).await;
        if let Some(failure) = event.failure {
            assert_eq!(failure.agent_id.as_ref(), Some(&agent_id));
            assert!(failure.executor_id.is_none());
            saw_failure = true;
            continue;
        }
        break event.update.expect("update").status;
    };
    assert_eq!(unreachable.state, TaskState::TaskUnreachable);
    assert_eq!(unreachable.reason.as_deref(), Some("REASON_AGENT_REMOVED"));
    assert_eq!(unreachable.source, Some(TaskStatusSource::SourceMaster));
    assert!(unreachable.uuid.is_none(), "a master update is not acknowledged");
    assert!(unreachable.unreachable_time.is_some());
    assert!(alive(pid_of(&running)), "a partition does not kill the task");

    // The master says so, and offers nothing of the node.
    let state: Value = reqwest::get(format!("{}/master/state", master.url()))
        .await
        .expect("state")
        .json()
        .await
        .expect("json");
    assert_eq!(state["unreachable_slaves"], 1.0);
    assert_eq!(state["slaves"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        state["frameworks"][0]["unreachable_tasks"][0]["state"],
        "TASK_UNREACHABLE"
    );
    caller.reconcile(vec![]).await.expect("RECONCILE");
    let reconciled = loop {
        let event = next_event(&mut events).await;
        if let Some(offers) = &event.offers {
            assert!(
                offers.offers.iter().all(|o| o.hostname == "node-2"),
                "no offer from a partitioned node"
            );
        }
        if let Some(update) = event.update {
            break update.status;
        }
        saw_failure |= event.failure.is_some();
    };
    assert!(saw_failure, "every framework hears of the lost agent");
    assert_eq!(reconciled.state, TaskState::TaskUnreachable);

    let (code, body) = fault(&master, "/fault/partition?node=node-1").await;
    assert_eq!((code, body.as_str()), (409, "node \"node-1\" is already partitioned"));

    let (code, _) = fault(&master, "/fault/heal?node=node-1").await;
    assert_eq!(code, 200);
    let back = next_update(&mut events).await;
    assert_eq!(back.state, TaskState::TaskRunning);
    assert_eq!(back.reason.as_deref(), Some("REASON_AGENT_REREGISTERED"));
    assert_eq!(back.agent_id.as_ref(), Some(&agent_id));
    let offer = loop {
        let offers = next_offers(&mut events).await;
        if let Some(offer) = offers.into_iter().find(|o| o.hostname == "node-1") {
            break offer;
        }
    };
    assert_eq!(offer.agent_id, agent_id, "the agent keeps its id");

    // The task is reachable again: a KILL gets to it.
    caller
        .kill(TaskId::new("survivor"), Some(agent_id.clone()), None)
        .await
        .expect("KILL");
    loop {
        let status = next_update_acked(&caller, &mut events).await;
        if status.state == TaskState::TaskKilled {
            break;
        }
    }
    assert!(wait_gone(pid_of(&running), WAIT).await);
    master.mesos.shutdown().await;
}

#[tokio::test]
async fn updates_made_during_a_partition_arrive_on_heal() {
    let master = start_with(|c| c.nodes = two_nodes()).await;
    let mut info = framework_info("late");
    info.capabilities = capabilities(&[FrameworkCapabilityType::MultiRole]);
    let sub = subscribe(&master, info).await;
    let (caller, mut events) = (sub.caller, sub.events);
    let running = running_on_node_1(&caller, &mut events, "short").await;

    let (code, _) = fault(&master, "/fault/partition?node=node-1").await;
    assert_eq!(code, 200);
    let lost = next_update(&mut events).await;
    assert_eq!(lost.state, TaskState::TaskLost, "TASK_LOST without PARTITION_AWARE");
    assert_eq!(lost.reason.as_deref(), Some("REASON_AGENT_REMOVED"));

    // The task ends while cut off: nobody hears of it yet.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid_of(&running)),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill the task");
    assert!(wait_gone(pid_of(&running), WAIT).await);
    let quiet = tokio::time::timeout(Duration::from_millis(700), next_update(&mut events)).await;
    assert!(quiet.is_err(), "no update crosses a partition: {quiet:?}");

    let (code, _) = fault(&master, "/fault/heal?node=node-1").await;
    assert_eq!(code, 200);
    let failed = next_update_acked(&caller, &mut events).await;
    assert_eq!(failed.state, TaskState::TaskFailed);
    assert!(failed.uuid.is_some(), "the executor's own update, reliable");
    master.mesos.shutdown().await;
}

#[tokio::test]
async fn a_removed_nodes_tasks_are_gone_and_killed() {
    let master = start_with(|c| c.nodes = two_nodes()).await;
    let sub = subscribe(&master, framework_info("remove")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    let running = running_on_node_1(&caller, &mut events, "doomed").await;
    let agent_id = running.agent_id.clone().expect("agent");

    let (code, body) = fault(&master, "/fault/remove-node?node=node-1").await;
    assert_eq!(code, 200, "{body}");
    let gone = next_update(&mut events).await;
    assert_eq!(gone.state, TaskState::TaskGoneByOperator);
    assert_eq!(gone.reason.as_deref(), Some("REASON_AGENT_REMOVED_BY_OPERATOR"));
    assert!(wait_gone(pid_of(&running), WAIT).await, "the task's process is killed");

    // Reconciliation agrees, and the node is never offered again.
    caller
        .reconcile(vec![ReconcileTask {
            task_id: TaskId::new("doomed"),
            agent_id: Some(agent_id.clone()),
        }])
        .await
        .expect("RECONCILE");
    assert_eq!(next_update(&mut events).await.state, TaskState::TaskGoneByOperator);
    let slaves: Value = reqwest::get(format!("{}/master/slaves", master.url()))
        .await
        .expect("slaves")
        .json()
        .await
        .expect("json");
    assert_eq!(slaves["slaves"].as_array().map(Vec::len), Some(1));
    let (code, body) = fault(&master, "/fault/heal?node=node-1").await;
    assert_eq!((code, body.as_str()), (409, "node \"node-1\" was removed"));
    let (code, body) = fault(&master, "/fault/partition?node=nowhere").await;
    assert_eq!(
        (code, body.as_str()),
        (404, "no node \"nowhere\"; the nodes are: node-2")
    );
    let (code, _) = fault(&master, "/fault/partition").await;
    assert_eq!(code, 400);
    master.mesos.shutdown().await;
}

#[tokio::test]
async fn a_master_restarted_without_state_forgets_every_task() {
    let master = start_with(|c| c.nodes = two_nodes()).await;
    let info = framework_info("restart");
    let sub = subscribe(&master, info.clone()).await;
    let (caller, mut events) = (sub.caller, sub.events);
    let fid = caller.framework_id().clone();
    let running = running_on_node_1(&caller, &mut events, "old").await;
    let old_agent = running.agent_id.clone().expect("agent");

    let response = reqwest::Client::new()
        .get(format!("{}/fault/restart-master", master.url()))
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status().as_u16(), 405, "a fault needs POST");
    let (code, body) = fault(&master, "/fault/restart-master").await;
    assert_eq!(code, 200, "{body}");

    // The stream ends, as with a master that died.
    let ended = tokio::time::timeout(WAIT, async {
        loop {
            if events.next().await.is_err() {
                break;
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the subscription ends");
    assert!(
        wait_gone(pid_of(&running), WAIT).await,
        "the old task's process is killed"
    );

    // The framework comes back under its id; the old task is unknown.
    let mut again = info;
    again.id = Some(fid.clone());
    let sub = subscribe(&master, again).await;
    let (caller, mut events) = (sub.caller, sub.events);
    assert_eq!(caller.framework_id(), &fid);
    caller
        .reconcile(vec![ReconcileTask {
            task_id: TaskId::new("old"),
            agent_id: Some(old_agent.clone()),
        }])
        .await
        .expect("RECONCILE");
    let unknown = next_update(&mut events).await;
    assert_eq!(unknown.state, TaskState::TaskUnknown);
    assert_eq!(unknown.reason.as_deref(), Some("REASON_RECONCILIATION"));
    let state: Value = reqwest::get(format!("{}/master/state", master.url()))
        .await
        .expect("state")
        .json()
        .await
        .expect("json");
    let slaves = state["slaves"].as_array().expect("slaves");
    assert_eq!(slaves.len(), 2);
    assert!(
        slaves.iter().all(|s| s["id"] != old_agent.value.as_str()),
        "nodes re-register as new agents: {slaves:?}"
    );
    assert_eq!(state["frameworks"][0]["tasks"], serde_json::json!([]));
    master.mesos.shutdown().await;
}
