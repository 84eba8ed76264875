//! The `docker` containerizer against a real Docker engine, through the
//! `mesos` client: a DOCKER task runs in a container of the local image
//! `sextant-test/busybox:latest` (made by `.ci/run` with `docker import`;
//! nothing can be pulled here) with the task's environment and its output
//! in the sandbox, on HOST or BRIDGE networking with its port mapped,
//! health-checked against the container, killed with its grace period and
//! removed; its URIs are fetched into the mounted sandbox; a missing
//! image fails the task in words. Without a Docker
//! engine these tests are reported ignored.

mod common;

use std::time::Duration;

use common::*;
use localmesos::{ContainerizerKind, NodeConfig};
use mesos::types::*;
use serde_json::{Value, json};

const IMAGE: &str = "sextant-test/busybox:latest";

fn docker_node(master_config: &mut localmesos::LocalMesosConfig) {
    master_config.nodes = vec![NodeConfig {
        containerizer: ContainerizerKind::Docker,
        ..NodeConfig::default()
    }];
}

/// Launches one task whose TaskInfo JSON gets `container` (the `mesos`
/// crate's TaskInfo has no field for it), by a raw ACCEPT.
async fn launch_container(
    master: &TestMaster,
    caller: &mesos::client::Caller,
    events: &mut mesos::client::EventStream,
    task: TaskInfo,
    container: Value,
) -> Offer {
    let offer = next_offers(events).await.remove(0);
    let mut task = task;
    task.agent_id = offer.agent_id.clone();
    let mut task_json = serde_json::to_value(&task).expect("task json");
    task_json["container"] = container;
    let call = json!({
        "type": "ACCEPT",
        "framework_id": {"value": caller.framework_id().value},
        "accept": {
            "offer_ids": [{"value": offer.id.value}],
            "operations": [{"type": "LAUNCH", "launch": {"task_infos": [task_json]}}],
            "filters": {"refuse_seconds": 0.0}
        }
    });
    let response = post_call(
        master.addr(),
        &[("Mesos-Stream-Id", caller.stream_id())],
        &call.to_string(),
    )
    .await;
    assert_eq!(response.status(), 202, "{}", response.text());
    offer
}

fn docker(network: &str, extra: Value) -> Value {
    let mut docker = json!({"image": IMAGE, "network": network});
    if let (Some(map), Some(extra)) = (docker.as_object_mut(), extra.as_object()) {
        map.extend(extra.clone());
    }
    json!({"type": "DOCKER", "docker": docker})
}

async fn updates_until(
    caller: &mesos::client::Caller,
    events: &mut mesos::client::EventStream,
    done: impl Fn(&TaskStatus) -> bool,
) -> Vec<TaskStatus> {
    let mut all = Vec::new();
    loop {
        let status = next_update_acked(caller, events).await;
        let stop = done(&status) || status.state.is_terminal();
        all.push(status);
        if stop {
            return all;
        }
    }
}

/// The engine's containers of the task `status` reports on (Mesos names
/// them `mesos-<container id>`).
fn containers_of(status: &TaskStatus) -> String {
    let id = status
        .container_status
        .as_ref()
        .and_then(|c| c.container_id.as_ref())
        .map(|c| c.value.clone())
        .expect("a container id");
    let output = std::process::Command::new("docker")
        .args([
            "ps",
            "-a",
            "--filter",
            &format!("name=mesos-{id}"),
            "--format",
            "{{.Names}}",
        ])
        .output()
        .expect("docker ps");
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

#[tokio::test]
#[cfg_attr(
    not(has_docker),
    ignore = "needs a Docker engine (apt-get install docker.io; dockerd)"
)]
async fn a_docker_task_runs_in_its_image_with_its_environment_and_exit_code() {
    let master = start_with(docker_node).await;
    let sub = subscribe(&master, framework_info("docker")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    let mut task = shell_task(
        "in-docker",
        &AgentId::new(""),
        "echo \"$GREETING from $MESOS_TASK_ID in $MESOS_SANDBOX\"; ls /bin/busybox; sleep 0.5; exit 3",
    );
    if let Some(command) = &mut task.command {
        command.environment = Some(Environment {
            variables: vec![Variable {
                name: "GREETING".into(),
                value: Some("hello".into()),
            }],
        });
    }
    launch_container(&master, &caller, &mut events, task, docker("HOST", json!({}))).await;
    let statuses = updates_until(&caller, &mut events, |_| false).await;
    let states: Vec<TaskState> = statuses.iter().map(|s| s.state).collect();
    assert_eq!(
        states,
        [TaskState::TaskStarting, TaskState::TaskRunning, TaskState::TaskFailed],
        "{statuses:?}"
    );
    assert_eq!(statuses[2].message.as_deref(), Some("Command exited with status 3"));
    let pid = statuses[1].container_status.as_ref().and_then(|c| c.executor_pid);
    assert!(pid.is_some(), "the container's process");

    // The container's output is in the sandbox, as for a process task.
    let sandbox = sandbox_of(&master, "in-docker");
    let mut stdout = String::new();
    for _ in 0..50 {
        stdout = std::fs::read_to_string(sandbox.join("stdout")).unwrap_or_default();
        if stdout.contains("busybox") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(stdout, "hello from in-docker in /mnt/mesos/sandbox\n/bin/busybox\n");
    assert_eq!(
        containers_of(&statuses[1]),
        "",
        "the container is removed once it exited"
    );
    master.mesos.shutdown().await;
}

#[tokio::test]
#[cfg_attr(
    not(has_docker),
    ignore = "needs a Docker engine (apt-get install docker.io; dockerd)"
)]
async fn a_bridged_docker_task_is_health_checked_in_its_container_and_killed_with_grace() {
    let master = start_with(docker_node).await;
    let sub = subscribe(&master, framework_info("docker-bridge")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    let host_port: u64 = 31005;
    let mut task = shell_task(
        "web",
        &AgentId::new(""),
        "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www",
    );
    task.resources.push(Resource::ranges(
        "ports",
        vec![Range {
            begin: host_port,
            end: host_port,
        }],
    ));
    task.health_check = Some(HealthCheck {
        http: Some(HttpCheckInfo {
            port: 8080,
            path: Some("/index.html".into()),
            scheme: None,
        }),
        delay_seconds: Some(0.2),
        interval_seconds: Some(0.3),
        timeout_seconds: Some(2.0),
        consecutive_failures: None,
        grace_period_seconds: None,
        command: None,
        kind: HealthCheckType::Http,
        tcp: None,
    });
    task.kill_policy = Some(KillPolicy {
        grace_period: Some(DurationInfo {
            nanoseconds: 1_000_000_000,
        }),
    });
    let container = docker(
        "BRIDGE",
        json!({"port_mappings": [{"host_port": host_port, "container_port": 8080, "protocol": "tcp"}]}),
    );
    launch_container(&master, &caller, &mut events, task, container).await;
    let statuses = updates_until(&caller, &mut events, |s| s.healthy == Some(true)).await;
    assert_eq!(statuses.last().and_then(|s| s.healthy), Some(true), "{statuses:?}");
    let running = statuses[1].clone();
    assert_eq!(containers_of(&running).len(), "mesos-".len() + 36, "the container runs");

    // The mapped host port reaches the container.
    let body = reqwest::get(format!("http://127.0.0.1:{host_port}/index.html"))
        .await
        .expect("GET through the host port")
        .text()
        .await
        .expect("body");
    assert_eq!(body, "ok\n");

    caller.kill(TaskId::new("web"), None, None).await.expect("KILL");
    let statuses = updates_until(&caller, &mut events, |_| false).await;
    let states: Vec<TaskState> = statuses.iter().map(|s| s.state).collect();
    assert_eq!(states, [TaskState::TaskKilling, TaskState::TaskKilled], "{statuses:?}");
    assert_eq!(containers_of(&running), "");
    master.mesos.shutdown().await;
}

#[tokio::test]
#[cfg_attr(
    not(has_docker),
    ignore = "needs a Docker engine (apt-get install docker.io; dockerd)"
)]
async fn a_missing_image_fails_the_task_in_words() {
    let master = start_with(docker_node).await;
    let sub = subscribe(&master, framework_info("docker-missing")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    let container = json!({"type": "DOCKER", "docker": {"image": "sextant-test/absent:1"}});
    launch_container(
        &master,
        &caller,
        &mut events,
        shell_task("nothing", &AgentId::new(""), "true"),
        container,
    )
    .await;
    let failed = next_update_acked(&caller, &mut events).await;
    assert_eq!(failed.state, TaskState::TaskFailed);
    assert_eq!(failed.reason.as_deref(), Some("REASON_CONTAINER_LAUNCH_FAILED"));
    let message = failed.message.unwrap_or_default();
    assert!(
        message.starts_with("Failed to launch container: Failed to pull image 'sextant-test/absent:1': "),
        "{message}"
    );
    master.mesos.shutdown().await;
}

/// Needs no engine: a node without the docker containerizer says so.
#[tokio::test]
async fn a_docker_task_on_a_process_node_fails_in_words() {
    let master = start().await;
    let sub = subscribe(&master, framework_info("no-docker")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    launch_container(
        &master,
        &caller,
        &mut events,
        shell_task("boxed", &AgentId::new(""), "true"),
        docker("HOST", json!({})),
    )
    .await;
    let failed = next_update_acked(&caller, &mut events).await;
    assert_eq!(failed.state, TaskState::TaskFailed);
    assert_eq!(
        failed.message.as_deref(),
        Some(
            "Failed to launch container: Docker containers are not supported by this node's containerizer (process); run the node with containerizer=docker"
        )
    );
    master.mesos.shutdown().await;
}

#[tokio::test]
#[cfg_attr(
    not(has_docker),
    ignore = "needs a Docker engine (apt-get install docker.io; dockerd)"
)]
async fn stopping_localmesos_stops_and_removes_its_containers() {
    let master = start_with(docker_node).await;
    let sub = subscribe(&master, framework_info("docker-stop")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    let task = shell_task("long", &AgentId::new(""), "exec sleep 300");
    launch_container(&master, &caller, &mut events, task, docker("HOST", json!({}))).await;
    let statuses = updates_until(&caller, &mut events, |s| s.state == TaskState::TaskRunning).await;
    let running = statuses.last().expect("running").clone();
    assert_eq!(running.state, TaskState::TaskRunning);
    assert!(!containers_of(&running).is_empty());
    master.mesos.shutdown().await;
    assert_eq!(containers_of(&running), "", "no container outlives localmesos");
}

/// A DOCKER task's URIs are fetched into its sandbox before the container
/// starts, so the container finds them under `/mnt/mesos/sandbox`.
#[tokio::test]
#[cfg_attr(
    not(has_docker),
    ignore = "needs a Docker engine (apt-get install docker.io; dockerd)"
)]
async fn a_docker_task_finds_its_fetched_uris_in_the_mounted_sandbox() {
    let source = tempfile::tempdir().expect("tempdir");
    let file = source.path().join("greeting.txt");
    std::fs::write(&file, "fetched").expect("write");
    let master = start_with(docker_node).await;
    let sub = subscribe(&master, framework_info("docker-fetch")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    let mut task = shell_task(
        "fetched",
        &AgentId::new(""),
        r#"test "$(cat /mnt/mesos/sandbox/greeting.txt)" = fetched"#,
    );
    if let Some(command) = &mut task.command {
        command.uris = vec![CommandUri {
            value: format!("file://{}", file.display()),
            executable: None,
            extract: None,
            cache: None,
            output_file: None,
        }];
    }
    launch_container(&master, &caller, &mut events, task, docker("HOST", json!({}))).await;
    let statuses = updates_until(&caller, &mut events, |_| false).await;
    let last = statuses.last().expect("a terminal status");
    assert_eq!(last.state, TaskState::TaskFinished, "{statuses:?}");
    master.mesos.shutdown().await;
}

/// Guards a DOCKER task's COMMAND check running in its container (by
/// `docker exec`, which this change keeps for Docker tasks while process
/// tasks' checks go through the task launcher), its output nowhere in the
/// sandbox.
#[tokio::test]
#[cfg_attr(
    not(has_docker),
    ignore = "needs a Docker engine (apt-get install docker.io; dockerd)"
)]
async fn a_docker_tasks_command_check_runs_in_its_container() {
    let master = start_with(docker_node).await;
    let sub = subscribe(&master, framework_info("docker-command-check")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    let mut task = shell_task(
        "checked",
        &AgentId::new(""),
        "touch /ready; echo task-out; exec sleep 600",
    );
    task.health_check = Some(HealthCheck {
        http: None,
        delay_seconds: Some(0.2),
        interval_seconds: Some(0.3),
        timeout_seconds: Some(10.0),
        consecutive_failures: None,
        grace_period_seconds: Some(10.0),
        command: Some(CommandInfo {
            value: Some("echo probe-out; test -f /ready && test -d /mnt/mesos/sandbox".to_string()),
            ..CommandInfo::default()
        }),
        kind: HealthCheckType::Command,
        tcp: None,
    });
    launch_container(&master, &caller, &mut events, task, docker("HOST", json!({}))).await;
    let statuses = updates_until(&caller, &mut events, |s| s.healthy == Some(true)).await;
    assert_eq!(statuses.last().and_then(|s| s.healthy), Some(true), "{statuses:?}");
    let stdout = std::fs::read_to_string(sandbox_of(&master, "checked").join("stdout")).expect("stdout");
    assert!(!stdout.contains("probe-out"), "{stdout:?}");
    master.mesos.shutdown().await;
}

/// The host pids of the processes whose command line is `words`.
fn host_pids_running(words: &[&str]) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let line = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let args: Vec<&[u8]> = line.split(|b| *b == 0).filter(|a| !a.is_empty()).collect();
            args.len() == words.len() && args.iter().zip(words).all(|(a, w)| *a == w.as_bytes())
        })
        .collect()
}

/// Guards a DOCKER task's COMMAND probe past its timeout: reported
/// failing, and its process in the container killed with the one it
/// started in a session of its own (the `docker exec` client this
/// replaced left both running in the container), while the task runs on.
#[tokio::test]
#[cfg_attr(
    not(has_docker),
    ignore = "needs a Docker engine (apt-get install docker.io; dockerd)"
)]
async fn a_docker_command_check_past_its_timeout_leaves_no_process_in_the_container() {
    let master = start_with(docker_node).await;
    let sub = subscribe(&master, framework_info("docker-check-timeout")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    let mut task = shell_task("patient", &AgentId::new(""), "exec sleep 600");
    task.health_check = Some(HealthCheck {
        http: None,
        delay_seconds: Some(0.2),
        // One probe only, and the task is not killed for its failure.
        interval_seconds: Some(600.0),
        timeout_seconds: Some(1.0),
        consecutive_failures: Some(100),
        grace_period_seconds: Some(0.0),
        command: Some(CommandInfo {
            value: Some("setsid sleep 4243 & exec sleep 4242".to_string()),
            ..CommandInfo::default()
        }),
        kind: HealthCheckType::Command,
        tcp: None,
    });
    launch_container(&master, &caller, &mut events, task, docker("HOST", json!({}))).await;
    let mut seen = (Vec::new(), Vec::new());
    for _ in 0..200 {
        seen = (
            host_pids_running(&["sleep", "4242"]),
            host_pids_running(&["sleep", "4243"]),
        );
        if !seen.0.is_empty() && !seen.1.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!seen.0.is_empty() && !seen.1.is_empty(), "the probe ran: {seen:?}");
    let statuses = updates_until(&caller, &mut events, |s| s.healthy == Some(false)).await;
    assert_eq!(statuses.last().and_then(|s| s.healthy), Some(false), "{statuses:?}");
    for pid in seen.0.iter().chain(&seen.1) {
        assert!(
            wait_gone(*pid, Duration::from_secs(5)).await,
            "probe process {pid} is killed"
        );
    }
    assert_eq!(
        statuses.last().map(|s| s.state),
        Some(TaskState::TaskRunning),
        "the task runs on"
    );
    master.mesos.shutdown().await;
}
