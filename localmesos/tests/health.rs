//! Mesos-native health checks run by the local command executor: HTTP,
//! TCP and COMMAND probes against real processes on loopback, the grace
//! period, the kill after consecutive failures, and the master's
//! validation of `TaskInfo.health_check`.

mod common;

use std::time::Duration;

use common::*;
use mesos::types::*;
use serde_json::{Value, json};

const HEALTH_REASON: &str = "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED";

/// A free loopback port, offered as the node's only port.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

async fn start_with_port(port: u16) -> TestMaster {
    start_with(|config| config.nodes[0].ports = vec![port..=port]).await
}

/// The single port of an offer.
fn offered_port(offer: &Offer) -> u16 {
    let ports = offer
        .resources
        .iter()
        .find(|r| r.name == "ports")
        .expect("ports offered");
    let range = &ports.ranges.as_ref().expect("ranges").range[0];
    u16::try_from(range.begin).expect("port")
}

/// Live (non-zombie) processes in process group `pgid`.
fn group_members(pgid: i32) -> usize {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .flatten()
        .filter_map(|entry| std::fs::read_to_string(entry.path().join("stat")).ok())
        .filter(|stat| {
            // After the parenthesised name: state, ppid, pgrp.
            let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
            fields.len() > 2 && fields[0] != "Z" && fields[2] == pgid.to_string()
        })
        .count()
}

fn health_check(kind: HealthCheckType) -> HealthCheck {
    HealthCheck {
        http: None,
        delay_seconds: Some(0.1),
        interval_seconds: Some(0.2),
        timeout_seconds: Some(2.0),
        consecutive_failures: None,
        grace_period_seconds: None,
        command: None,
        kind,
        tcp: None,
    }
}

fn command(value: &str) -> CommandInfo {
    CommandInfo {
        value: Some(value.to_string()),
        ..CommandInfo::default()
    }
}

fn http_server_task(id: &str, agent: &AgentId, port: u16, check: HealthCheck) -> TaskInfo {
    let mut task = shell_task(
        id,
        agent,
        &format!("exec python3 -m http.server --bind 127.0.0.1 {port}"),
    );
    task.resources.push(Resource::ranges(
        "ports",
        vec![Range {
            begin: u64::from(port),
            end: u64::from(port),
        }],
    ));
    task.health_check = Some(check);
    task
}

async fn state(master: &TestMaster) -> Value {
    reqwest::get(format!("{}/master/state", master.url()))
        .await
        .expect("state")
        .json()
        .await
        .expect("json")
}

fn state_task<'a>(state: &'a Value, task_id: &str) -> &'a Value {
    state["frameworks"][0]["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .find(|t| t["id"] == task_id)
        .expect("task in state")
}

/// STARTING and RUNNING without `healthy`, acknowledged; returns the pid.
async fn started(caller: &mesos::client::Caller, events: &mut mesos::client::EventStream) -> i32 {
    let starting = next_update_acked(caller, events).await;
    assert_eq!(starting.state, TaskState::TaskStarting, "{starting:?}");
    assert_eq!(starting.healthy, None);
    let running = next_update_acked(caller, events).await;
    assert_eq!(running.state, TaskState::TaskRunning, "{running:?}");
    assert_eq!(running.healthy, None);
    assert_eq!(running.reason, None);
    let pid = running.container_status.and_then(|c| c.executor_pid).expect("pid");
    i32::try_from(pid).expect("pid")
}

fn assert_health_update(status: &TaskStatus, healthy: bool) {
    assert_eq!(status.state, TaskState::TaskRunning, "{status:?}");
    assert_eq!(status.healthy, Some(healthy), "{status:?}");
    assert_eq!(status.reason.as_deref(), Some(HEALTH_REASON));
    assert_eq!(status.source, Some(TaskStatusSource::SourceExecutor));
    assert!(status.uuid.is_some(), "health updates are reliable");
    assert_eq!(
        status.executor_id.as_ref().map(|e| e.value.as_str()),
        Some(status.task_id.value.as_str())
    );
    assert!(status.agent_id.is_some());
    assert!(status.container_status.is_some());
}

#[tokio::test]
async fn http_check_becomes_healthy_and_shows_in_state() {
    let port = free_port();
    let master = start_with_port(port).await;
    let sub = subscribe(&master, framework_info("http-health")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    let offer = next_offers(&mut events).await.remove(0);
    let port = offered_port(&offer);
    let mut check = health_check(HealthCheckType::Http);
    check.http = Some(HttpCheckInfo {
        port: u32::from(port),
        path: Some("/".to_string()),
        scheme: None,
    });
    caller
        .accept(
            vec![offer.id.clone()],
            vec![http_server_task("web", &offer.agent_id, port, check)],
            0.0,
        )
        .await
        .expect("ACCEPT");
    let pid = started(&caller, &mut events).await;
    // The server needs a moment: failures inside the (default 10 s) grace
    // period are not reported.
    let healthy = next_update_acked(&caller, &mut events).await;
    assert_health_update(&healthy, true);

    let state = state(&master).await;
    let task = state_task(&state, "web");
    let statuses = task["statuses"].as_array().expect("statuses");
    assert_eq!(statuses.len(), 3);
    assert!(statuses[0].get("healthy").is_none());
    assert!(statuses[1].get("healthy").is_none());
    assert_eq!(statuses[2]["state"], "TASK_RUNNING");
    assert_eq!(statuses[2]["healthy"], true);
    assert_eq!(
        task["health_check"],
        json!({
            "type": "HTTP",
            "http": {"port": port, "path": "/", "protocol": "IPv4"},
            "delay_seconds": 0.1,
            "interval_seconds": 0.2,
            "timeout_seconds": 2.0,
            "consecutive_failures": 3,
            "grace_period_seconds": 10.0
        })
    );

    // Further successes are not reported; a KILL ends it without `healthy`.
    caller
        .kill(TaskId::new("web"), Some(offer.agent_id.clone()), None)
        .await
        .expect("KILL");
    let killing = next_update_acked(&caller, &mut events).await;
    assert_eq!(killing.state, TaskState::TaskKilling, "{killing:?}");
    let killed = next_update_acked(&caller, &mut events).await;
    assert_eq!(killed.state, TaskState::TaskKilled, "{killed:?}");
    assert_eq!(killed.healthy, None);
    assert!(wait_gone(pid, Duration::from_secs(5)).await);
    master.mesos.shutdown().await;
}

#[tokio::test]
async fn tcp_check_becomes_healthy() {
    let port = free_port();
    let master = start_with_port(port).await;
    let sub = subscribe(&master, framework_info("tcp-health")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    launch(&caller, &mut events, |agent| {
        let mut check = health_check(HealthCheckType::Tcp);
        check.tcp = Some(TcpCheckInfo { port: u32::from(port) });
        vec![http_server_task("tcp", agent, port, check)]
    })
    .await;
    started(&caller, &mut events).await;
    let healthy = next_update_acked(&caller, &mut events).await;
    assert_health_update(&healthy, true);
    master.mesos.shutdown().await;
}

#[tokio::test]
async fn failing_command_check_kills_the_task() {
    let master = start().await;
    let sub = subscribe(&master, framework_info("command-health")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    launch(&caller, &mut events, |agent| {
        // A child in the same process group must die with the task.
        let mut task = shell_task("sick", agent, "sleep 600 & exec sleep 600");
        let mut check = health_check(HealthCheckType::Command);
        check.command = Some(command("exit 1"));
        check.interval_seconds = Some(0.1);
        check.grace_period_seconds = Some(0.0);
        task.health_check = Some(check);
        task.kill_policy = Some(KillPolicy {
            grace_period: Some(DurationInfo {
                nanoseconds: 1_000_000_000,
            }),
        });
        vec![task]
    })
    .await;
    let pid = started(&caller, &mut events).await;
    for _ in 0..3 {
        let unhealthy = next_update_acked(&caller, &mut events).await;
        assert_health_update(&unhealthy, false);
        assert_eq!(unhealthy.message, None);
    }
    let killing = next_update_acked(&caller, &mut events).await;
    assert_eq!(killing.state, TaskState::TaskKilling, "{killing:?}");
    let killed = next_update_acked(&caller, &mut events).await;
    assert_eq!(killed.state, TaskState::TaskKilled, "{killed:?}");
    assert_eq!(killed.healthy, Some(false));
    assert_eq!(
        killed.message.as_deref(),
        Some("Command terminated with signal Terminated")
    );
    assert!(wait_gone(pid, Duration::from_secs(5)).await);
    // Nothing of the process group is left (zombies awaiting init aside).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while group_members(pid) > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(group_members(pid), 0, "the task's process group is gone");

    let state = state(&master).await;
    let statuses = state["frameworks"][0]["completed_tasks"][0]["statuses"].clone();
    let healthy: Vec<Value> = statuses
        .as_array()
        .expect("statuses")
        .iter()
        .map(|s| s.get("healthy").cloned().unwrap_or(Value::Null))
        .collect();
    assert_eq!(
        healthy,
        vec![
            Value::Null,
            Value::Null,
            json!(false),
            json!(false),
            json!(false),
            Value::Null,
            json!(false)
        ]
    );
    master.mesos.shutdown().await;
}

#[tokio::test]
async fn grace_period_hides_failures_before_the_first_success() {
    let master = start().await;
    let sub = subscribe(&master, framework_info("grace-health")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    launch(&caller, &mut events, |agent| {
        // Healthy only after 0.8 s; one counted failure would kill it.
        let mut task = shell_task("slow", agent, "sleep 0.8; touch ready; exec sleep 600");
        if let Some(command) = &mut task.command {
            command.environment = Some(Environment::from_pairs([("GREETING", "hello")]));
        }
        let mut check = health_check(HealthCheckType::Command);
        let mut probe = command(
            r#"test -f ready && test "$PWD" = "$MESOS_SANDBOX" && test "$MESOS_TASK_ID" = slow && test "$GREETING" = hello && test "$PROBE" = yes"#,
        );
        probe.environment = Some(Environment::from_pairs([("PROBE", "yes")]));
        check.command = Some(probe);
        check.delay_seconds = Some(0.0);
        check.interval_seconds = Some(0.1);
        check.grace_period_seconds = Some(5.0);
        check.consecutive_failures = Some(1);
        task.health_check = Some(check);
        vec![task]
    })
    .await;
    started(&caller, &mut events).await;
    let healthy = next_update_acked(&caller, &mut events).await;
    assert_health_update(&healthy, true);
    let state = state(&master).await;
    assert_eq!(state_task(&state, "slow")["state"], "TASK_RUNNING");
    master.mesos.shutdown().await;
}

#[tokio::test]
async fn task_without_a_check_never_carries_healthy() {
    let master = start().await;
    let sub = subscribe(&master, framework_info("no-health")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    launch(&caller, &mut events, |agent| {
        vec![shell_task("plain", agent, "sleep 0.3")]
    })
    .await;
    started(&caller, &mut events).await;
    let finished = next_update_acked(&caller, &mut events).await;
    assert_eq!(finished.state, TaskState::TaskFinished);
    assert_eq!(finished.healthy, None);
    let state = state(&master).await;
    let task = &state["frameworks"][0]["completed_tasks"][0];
    assert_eq!(task["id"], "plain");
    assert!(task.get("health_check").is_none());
    for status in task["statuses"].as_array().expect("statuses") {
        assert!(status.get("healthy").is_none(), "{status}");
    }
    master.mesos.shutdown().await;
}

#[tokio::test]
async fn invalid_health_checks_are_task_errors() {
    let master = start().await;
    let sub = subscribe(&master, framework_info("invalid-health")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    let cases: Vec<(&str, HealthCheck, &str)> = vec![
        (
            "unknown",
            health_check(HealthCheckType::Unknown),
            "'UNKNOWN' is not a valid health check type",
        ),
        (
            "no-http",
            health_check(HealthCheckType::Http),
            "Expecting 'http' to be set for HTTP health check",
        ),
        (
            "no-tcp",
            health_check(HealthCheckType::Tcp),
            "Expecting 'tcp' to be set for TCP health check",
        ),
        (
            "no-value",
            HealthCheck {
                command: Some(CommandInfo::default()),
                ..health_check(HealthCheckType::Command)
            },
            "Command health check must contain 'shell command'",
        ),
        (
            "negative",
            HealthCheck {
                tcp: Some(TcpCheckInfo { port: 80 }),
                delay_seconds: Some(-1.0),
                ..health_check(HealthCheckType::Tcp)
            },
            "Expecting 'delay_seconds' to be non-negative",
        ),
        (
            "bad-path",
            HealthCheck {
                http: Some(HttpCheckInfo {
                    port: 80,
                    path: Some("health".to_string()),
                    scheme: None,
                }),
                ..health_check(HealthCheckType::Http)
            },
            "The path 'health' of HTTP health check must start with '/'",
        ),
    ];
    let offer = next_offers(&mut events).await.remove(0);
    let tasks = cases
        .iter()
        .map(|(id, check, _)| {
            let mut task = shell_task(id, &offer.agent_id, "sleep 600");
            task.health_check = Some(check.clone());
            task
        })
        .collect();
    caller.accept(vec![offer.id.clone()], tasks, 0.0).await.expect("ACCEPT");
    for (id, _, message) in &cases {
        let error = next_update(&mut events).await;
        assert_eq!(error.task_id.value, *id);
        assert_eq!(error.state, TaskState::TaskError);
        assert_eq!(error.reason.as_deref(), Some("REASON_TASK_INVALID"));
        assert_eq!(error.source, Some(TaskStatusSource::SourceMaster));
        assert_eq!(error.uuid, None);
        assert_eq!(
            error.message.as_deref(),
            Some(format!("Task uses invalid health check: {message}").as_str())
        );
    }

    // A check without `type` (optional in the protobuf) fails validation
    // too, rather than the call.
    let offer = next_offers(&mut events).await.remove(0);
    let fid = caller.framework_id().value.clone();
    let body = json!({
        "type": "ACCEPT",
        "framework_id": {"value": fid},
        "accept": {
            "offer_ids": [{"value": offer.id.value}],
            "operations": [{"type": "LAUNCH", "launch": {"task_infos": [{
                "name": "untyped",
                "task_id": {"value": "untyped"},
                "agent_id": {"value": offer.agent_id.value},
                "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}}],
                "command": {"value": "sleep 600"},
                "health_check": {"tcp": {"port": 80}}
            }]}}]
        }
    })
    .to_string();
    let response = post_call(master.addr(), &[("Mesos-Stream-Id", caller.stream_id())], &body).await;
    assert_eq!(response.status(), 202, "{}", response.text());
    let error = next_update(&mut events).await;
    assert_eq!(error.task_id.value, "untyped");
    assert_eq!(error.state, TaskState::TaskError);
    assert_eq!(
        error.message.as_deref(),
        Some("Task uses invalid health check: HealthCheck must specify 'type'")
    );
    master.mesos.shutdown().await;
}

/// An HTTPS check probes with TLS and accepts a self-signed certificate
/// (as Mesos's `curl -k`): the task becomes healthy.
#[tokio::test]
async fn https_check_against_a_self_signed_server_is_healthy() {
    let port = self_signed_https_server().await;
    let master = start().await;
    let sub = subscribe(&master, framework_info("https-health")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    launch(&caller, &mut events, |agent| {
        let mut task = shell_task("secure", agent, "exec sleep 600");
        let mut check = health_check(HealthCheckType::Http);
        check.http = Some(HttpCheckInfo {
            port: u32::from(port),
            path: Some("/health".to_string()),
            scheme: Some("https".to_string()),
        });
        check.grace_period_seconds = Some(0.0);
        check.consecutive_failures = Some(1);
        task.health_check = Some(check);
        vec![task]
    })
    .await;
    started(&caller, &mut events).await;
    let healthy = next_update_acked(&caller, &mut events).await;
    assert_health_update(&healthy, true);
    assert_eq!(healthy.message, None);
    master.mesos.shutdown().await;
}

/// An HTTPS check against a plain-HTTP server fails (no TLS handshake),
/// and a probe past its timeout counts as a failure.
#[tokio::test]
async fn https_against_plain_http_and_timeouts_count_as_failures() {
    let port = free_port();
    let master = start_with_port(port).await;
    let sub = subscribe(&master, framework_info("https-health")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    launch(&caller, &mut events, |agent| {
        let mut check = health_check(HealthCheckType::Http);
        check.http = Some(HttpCheckInfo {
            port: u32::from(port),
            path: None,
            scheme: Some("https".to_string()),
        });
        // Failures inside the grace period are hidden; the server is up
        // well within 1.5 s, so the counted failure is a TLS one.
        check.grace_period_seconds = Some(1.5);
        check.consecutive_failures = Some(1);
        let https = http_server_task("https", agent, port, check);
        let mut slow = shell_task("slow-probe", agent, "exec sleep 600");
        let mut check = health_check(HealthCheckType::Command);
        check.command = Some(command("exec sleep 30"));
        check.timeout_seconds = Some(0.2);
        check.grace_period_seconds = Some(0.0);
        check.consecutive_failures = Some(1);
        slow.health_check = Some(check);
        vec![https, slow]
    })
    .await;
    let mut unhealthy = std::collections::BTreeMap::new();
    let mut killed = std::collections::BTreeMap::new();
    while killed.len() < 2 {
        let status = next_update_acked(&caller, &mut events).await;
        match status.state {
            TaskState::TaskRunning if status.healthy.is_some() => {
                assert_health_update(&status, false);
                unhealthy.insert(status.task_id.value.clone(), status.message.clone());
            }
            TaskState::TaskKilled => {
                assert_eq!(status.healthy, Some(false));
                killed.insert(status.task_id.value.clone(), ());
            }
            TaskState::TaskStarting | TaskState::TaskRunning | TaskState::TaskKilling => {}
            other => panic!("unexpected {other:?}: {status:?}"),
        }
    }
    assert_eq!(unhealthy.get("https"), Some(&None));
    assert_eq!(unhealthy.get("slow-probe"), Some(&None));
    master.mesos.shutdown().await;
}

/// Under root, a task's COMMAND check runs as the task's user, with the
/// task's environment and none of the master's.
#[tokio::test]
#[cfg_attr(
    not(runs_as_root),
    ignore = "needs root to switch a task's user (run the tests as root)"
)]
async fn a_command_check_runs_as_the_tasks_user_with_its_environment() {
    let master = start().await;
    let sub = subscribe(&master, framework_info("user-health")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    launch(&caller, &mut events, |agent| {
        let mut task = shell_task("nobodys", agent, "exec sleep 600");
        if let Some(command) = &mut task.command {
            command.user = Some("nobody".to_string());
        }
        let mut check = health_check(HealthCheckType::Command);
        check.command = Some(command(
            r#"test "$(id -un)" = nobody && test -z "$HOME$USER" && test "$PATH" = /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"#,
        ));
        check.consecutive_failures = Some(1);
        task.health_check = Some(check);
        vec![task]
    })
    .await;
    started(&caller, &mut events).await;
    let healthy = next_update_acked(&caller, &mut events).await;
    assert_health_update(&healthy, true);
    master.mesos.shutdown().await;
}

/// A pid a probe wrote into the sandbox, once it is there.
async fn pid_in(path: &std::path::Path) -> i32 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(pid) = std::fs::read_to_string(path)
            .ok()
            .and_then(|text| text.trim().parse::<i32>().ok())
        {
            return pid;
        }
        assert!(tokio::time::Instant::now() < deadline, "no pid in {}", path.display());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Guards a COMMAND probe that sleeps past its timeout being reported
/// failing and killed at the timeout, with what it started in a session
/// of its own (which a kill of its process group would miss), while its
/// task runs on.
#[tokio::test]
async fn a_command_check_past_its_timeout_fails_and_leaves_no_process() {
    let master = start().await;
    let sub = subscribe(&master, framework_info("timeout-health")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    launch(&caller, &mut events, |agent| {
        let mut task = shell_task("patient", agent, "exec sleep 600");
        let mut check = health_check(HealthCheckType::Command);
        check.command = Some(command(
            "setsid sleep 600 & echo $! > escaped.pid; echo $$ > probe.pid; exec sleep 600",
        ));
        check.timeout_seconds = Some(0.5);
        // One probe only, and the task is not killed for its failure.
        check.interval_seconds = Some(600.0);
        check.grace_period_seconds = Some(0.0);
        check.consecutive_failures = Some(100);
        task.health_check = Some(check);
        vec![task]
    })
    .await;
    let task_pid = started(&caller, &mut events).await;
    let sandbox = sandbox_of(&master, "patient");
    let probe = pid_in(&sandbox.join("probe.pid")).await;
    let escaped = pid_in(&sandbox.join("escaped.pid")).await;
    let unhealthy = next_update_acked(&caller, &mut events).await;
    assert_health_update(&unhealthy, false);
    assert!(
        wait_gone(probe, Duration::from_secs(5)).await,
        "the probe {probe} is killed"
    );
    assert!(
        wait_gone(escaped, Duration::from_secs(5)).await,
        "the probe's setsid child {escaped} is killed"
    );
    assert!(alive(task_pid), "the task runs on");
    master.mesos.shutdown().await;
}

/// Guards a COMMAND probe's output going nowhere: not into the task's
/// `stdout` and `stderr`, which it neither truncates, and the sandbox's
/// mode as the task left it.
#[tokio::test]
async fn a_command_checks_output_stays_out_of_the_tasks_sandbox_files() {
    use std::os::unix::fs::PermissionsExt as _;
    let master = start().await;
    let sub = subscribe(&master, framework_info("quiet-health")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    launch(&caller, &mut events, |agent| {
        let mut task = shell_task(
            "talkative",
            agent,
            r#"chmod 0755 "$MESOS_SANDBOX"; echo task-out; echo task-err >&2; exec sleep 600"#,
        );
        let mut check = health_check(HealthCheckType::Command);
        check.command = Some(command("echo probe-out; echo probe-err >&2; echo run >> probe.runs"));
        check.interval_seconds = Some(0.05);
        task.health_check = Some(check);
        vec![task]
    })
    .await;
    started(&caller, &mut events).await;
    let healthy = next_update_acked(&caller, &mut events).await;
    assert_health_update(&healthy, true);
    let sandbox = sandbox_of(&master, "talkative");
    let runs = || {
        std::fs::read_to_string(sandbox.join("probe.runs"))
            .map(|text| text.lines().count())
            .unwrap_or(0)
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while runs() < 3 {
        assert!(tokio::time::Instant::now() < deadline, "three probes ran");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let read = |name: &str| std::fs::read_to_string(sandbox.join(name)).expect("sandbox file");
    assert_eq!(read("stdout"), "task-out\n");
    assert_eq!(read("stderr"), "task-err\n");
    let mode = std::fs::metadata(&sandbox).expect("sandbox").permissions().mode() & 0o777;
    assert_eq!(mode, 0o755, "the probes left the sandbox's mode as the task set it");
    master.mesos.shutdown().await;
}
