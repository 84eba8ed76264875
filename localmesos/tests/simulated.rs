//! The `simulated` containerizer through the `mesos` client: tasks with no
//! process follow the script in their labels (`localmesos.sim/…`) or their
//! node's `simulate=` setting, with the same updates a process would give;
//! and 10,000 of them over 100 nodes reach TASK_RUNNING through ACCEPTs.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::*;
use localmesos::{ContainerizerKind, NodeConfig, NodeFlags};
use mesos::types::*;

fn simulated_node(script: &str) -> Vec<NodeConfig> {
    NodeFlags {
        nodes: vec![format!("name=sim;containerizer=simulated;simulate={script}")],
        ..NodeFlags::default()
    }
    .build()
    .expect("node flags")
}

fn labelled(mut task: TaskInfo, labels: &[(&str, &str)]) -> TaskInfo {
    task.labels = Some(Labels {
        labels: labels
            .iter()
            .map(|(k, v)| Label {
                key: k.to_string(),
                value: Some(v.to_string()),
            })
            .collect(),
    });
    task
}

/// Updates of one task until a terminal one, acknowledged.
async fn updates_until_terminal(
    caller: &mesos::client::Caller,
    events: &mut mesos::client::EventStream,
) -> Vec<TaskStatus> {
    let mut all = Vec::new();
    loop {
        let status = next_update_acked(caller, events).await;
        let done = status.state.is_terminal();
        all.push(status);
        if done {
            return all;
        }
    }
}

#[tokio::test]
async fn a_scripted_task_starts_late_and_fails_with_its_exit_code() {
    let master = start_with(|c| c.nodes = simulated_node("start-delay:300ms")).await;
    let sub = subscribe(&master, framework_info("sim")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    let launched = Instant::now();
    launch(&caller, &mut events, |agent| {
        vec![labelled(
            shell_task("scripted", agent, "this never runs"),
            &[
                ("localmesos.sim/exit-after", "200ms"),
                ("localmesos.sim/exit-code", "3"),
            ],
        )]
    })
    .await;
    let statuses = updates_until_terminal(&caller, &mut events).await;
    let states: Vec<TaskState> = statuses.iter().map(|s| s.state).collect();
    assert_eq!(
        states,
        [TaskState::TaskStarting, TaskState::TaskRunning, TaskState::TaskFailed]
    );
    assert!(
        launched.elapsed() >= Duration::from_millis(500),
        "the node's start delay and the label's exit-after"
    );
    let failed = &statuses[2];
    assert_eq!(failed.message.as_deref(), Some("Command exited with status 3"));
    assert_eq!(failed.source, Some(TaskStatusSource::SourceExecutor));
    let container = statuses[1].container_status.as_ref().expect("container status");
    assert!(container.executor_pid.is_none(), "no process");
    master.mesos.shutdown().await;
}

#[tokio::test]
async fn a_scripted_task_reports_its_health_and_is_killed_on_demand() {
    let master = start_with(|c| c.nodes = simulated_node("")).await;
    let sub = subscribe(&master, framework_info("sim")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    launch(&caller, &mut events, |agent| {
        let mut task = labelled(shell_task("sick", agent, "x"), &[("localmesos.sim/healthy", "false")]);
        task.health_check = Some(HealthCheck {
            kind: HealthCheckType::Command,
            command: Some(CommandInfo {
                value: Some("true".into()),
                ..CommandInfo::default()
            }),
            delay_seconds: Some(0.0),
            http: None,
            interval_seconds: None,
            timeout_seconds: None,
            consecutive_failures: None,
            grace_period_seconds: None,
            tcp: None,
        });
        vec![
            task,
            labelled(shell_task("bad", agent, "x"), &[("localmesos.sim/exit-after", "soon")]),
        ]
    })
    .await;
    let mut sick_health = None;
    let mut bad = None;
    while sick_health.is_none() || bad.is_none() {
        let status = next_update_acked(&caller, &mut events).await;
        match status.task_id.value.as_str() {
            "sick" if status.healthy.is_some() => sick_health = status.healthy,
            "bad" if status.state.is_terminal() => bad = Some(status),
            _ => {}
        }
    }
    assert_eq!(sick_health, Some(false), "the scripted health");
    let bad = bad.expect("bad");
    assert_eq!(bad.state, TaskState::TaskFailed);
    assert_eq!(bad.reason.as_deref(), Some("REASON_CONTAINER_LAUNCH_FAILED"));
    assert_eq!(
        bad.message.as_deref(),
        Some(
            "Failed to launch container: label localmesos.sim/exit-after=soon: \"soon\" is not a duration (as 250ms, 1.5s, 2m)"
        )
    );

    caller.kill(TaskId::new("sick"), None, None).await.expect("KILL");
    let statuses = updates_until_terminal(&caller, &mut events).await;
    let states: Vec<TaskState> = statuses.iter().map(|s| s.state).collect();
    assert_eq!(states, [TaskState::TaskKilling, TaskState::TaskKilled]);
    assert_eq!(
        statuses[1].message.as_deref(),
        Some("Command terminated with signal Terminated")
    );
    master.mesos.shutdown().await;
}

/// Guards the scale tests built on simulated nodes: 10,000 tasks over
/// 100 nodes, launched through ACCEPTs of their offers, all reach
/// TASK_RUNNING (the time is measured by `benches/simulated.rs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_simulated_tasks_over_a_hundred_nodes_reach_running() {
    const NODES: usize = 100;
    const PER_NODE: usize = 100;
    let master = start_with(|c| {
        c.nodes = (1..=NODES)
            .map(|i| NodeConfig {
                hostname: format!("sim-{i}"),
                cpus: 10.0,
                mem: 4096.0,
                containerizer: ContainerizerKind::Simulated,
                ..NodeConfig::default()
            })
            .collect();
    })
    .await;
    let sub = subscribe(&master, framework_info("scale")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    let mut accepted = HashSet::new();
    let mut running = HashSet::new();
    // Acknowledgements go out on a few connections at once, each task's
    // always on the same one (so they stay in order).
    let ackers: Vec<tokio::sync::mpsc::UnboundedSender<TaskStatus>> = (0..8)
        .map(|_| {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<TaskStatus>();
            let caller = caller.clone();
            tokio::spawn(async move {
                while let Some(status) = rx.recv().await {
                    ack(&caller, &status).await;
                }
            });
            tx
        })
        .collect();
    while running.len() < NODES * PER_NODE {
        let event = next_event(&mut events).await;
        if let Some(offers) = event.offers {
            for offer in offers.offers {
                if !accepted.insert(offer.agent_id.clone()) {
                    caller.decline(vec![offer.id], 3600.0).await.expect("DECLINE");
                    continue;
                }
                let tasks = (0..PER_NODE)
                    .map(|j| {
                        let mut task = shell_task(&format!("{}-{j}", offer.hostname), &offer.agent_id, "x");
                        task.resources = vec![Resource::scalar("cpus", 0.1), Resource::scalar("mem", 16.0)];
                        task
                    })
                    .collect();
                caller.accept(vec![offer.id], tasks, 3600.0).await.expect("ACCEPT");
            }
        }
        if let Some(update) = event.update {
            let status = update.status;
            assert!(!status.state.is_terminal(), "{status:?}");
            if status.state == TaskState::TaskRunning {
                running.insert(status.task_id.value.clone());
            }
            let slot = status.task_id.value.bytes().map(usize::from).sum::<usize>() % ackers.len();
            ackers[slot].send(status).expect("acknowledger");
        }
    }
    assert_eq!(accepted.len(), NODES);
    let metrics: serde_json::Value = reqwest::get(format!("{}/metrics/snapshot", master.url()))
        .await
        .expect("metrics")
        .json()
        .await
        .expect("json");
    assert_eq!(metrics["master/tasks_running"], (NODES * PER_NODE) as f64);
    master.mesos.shutdown().await;
}
