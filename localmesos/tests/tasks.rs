//! Tasks as real local processes, driven by `mesos::Client` as a scheduler
//! would: launch, status updates and acknowledgements, redelivery, kill,
//! invalid launches, stale offers, reconciliation, offer filters.

mod common;

use std::time::Duration;

use common::*;
use mesos::types::*;

#[tokio::test]
async fn failing_command_reports_starting_running_failed_with_sandbox_and_env() {
    let master = start().await;
    let sub = subscribe(&master, framework_info("launcher")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    let fid = caller.framework_id().value.clone();
    let offer = launch(&caller, &mut events, |agent| {
        let mut task = shell_task("fail-3", agent, "echo hi; env; echo oops >&2; exit 3");
        if let Some(command) = &mut task.command {
            command.environment = Some(Environment::from_pairs([("GREETING", "hello world")]));
        }
        vec![task]
    })
    .await;

    let starting = next_update_acked(&caller, &mut events).await;
    assert_eq!(starting.state, TaskState::TaskStarting);
    assert_eq!(starting.source, Some(TaskStatusSource::SourceExecutor));
    assert_eq!(starting.agent_id.as_ref(), Some(&offer.agent_id));
    assert_eq!(starting.executor_id.as_ref().map(|e| e.value.as_str()), Some("fail-3"));
    assert!(starting.timestamp.is_some());
    let uuid = starting.uuid.as_deref().expect("uuid");
    assert_eq!(uuid.len(), 24);
    assert!(uuid.ends_with("=="));
    let container = starting.container_status.clone().expect("container status");
    assert!(container.container_id.is_some());
    assert!(container.executor_pid.is_some());
    assert_eq!(
        container.network_infos[0].ip_addresses[0].ip_address.as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(
        container.network_infos[0].ip_addresses[0].protocol.as_deref(),
        Some("IPv4")
    );

    let running = next_update_acked(&caller, &mut events).await;
    assert_eq!(running.state, TaskState::TaskRunning);
    assert_ne!(running.uuid, starting.uuid);

    let failed = next_update_acked(&caller, &mut events).await;
    assert_eq!(failed.state, TaskState::TaskFailed);
    assert_eq!(failed.message.as_deref(), Some("Command exited with status 3"));
    assert_eq!(failed.source, Some(TaskStatusSource::SourceExecutor));

    let sandbox = sandbox_of(&master, "fail-3");
    let container_id = container.container_id.expect("container id").value;
    assert!(sandbox.ends_with(format!(
        "slaves/{}/frameworks/{fid}/executors/fail-3/runs/{container_id}",
        offer.agent_id.value
    )));
    let stdout = std::fs::read_to_string(sandbox.join("stdout")).expect("stdout");
    let stderr = std::fs::read_to_string(sandbox.join("stderr")).expect("stderr");
    assert!(stdout.starts_with("hi\n"), "{stdout}");
    assert_eq!(stderr, "oops\n");
    let sandbox_text = sandbox.to_string_lossy();
    for expected in [
        format!("MESOS_SANDBOX={sandbox_text}"),
        "MESOS_TASK_ID=fail-3".to_string(),
        format!("MESOS_FRAMEWORK_ID={fid}"),
        "MESOS_EXECUTOR_ID=fail-3".to_string(),
        format!("MESOS_AGENT_ENDPOINT=127.0.0.1:{}", master.addr().port()),
        "GREETING=hello world".to_string(),
    ] {
        assert!(stdout.lines().any(|l| l == expected), "missing {expected} in\n{stdout}");
    }
    assert!(stdout.lines().any(|l| l.starts_with("PATH=")));

    // After the terminal ack the executor is gone: FAILURE, then the task is
    // unknown to the master.
    let failure = loop {
        let event = next_event(&mut events).await;
        if let Some(failure) = event.failure {
            break failure;
        }
    };
    assert_eq!(failure.executor_id.map(|e| e.value), Some("fail-3".to_string()));
    assert_eq!(failure.agent_id.as_ref(), Some(&offer.agent_id));
    master.mesos.shutdown().await;
}

#[tokio::test]
async fn successful_and_argv_commands() {
    let master = start().await;
    let sub = subscribe(&master, framework_info("argv")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    launch(&caller, &mut events, |agent| {
        let mut task = shell_task("argv", agent, "/bin/sh");
        task.command = Some(CommandInfo {
            shell: Some(false),
            value: Some("/bin/sh".into()),
            arguments: vec![
                "my-sh".into(),
                "-c".into(),
                "echo \"$0:$1\"; tr '\\0' ' ' < /proc/$$/cmdline".into(),
                "zero".into(),
                "one".into(),
            ],
            ..CommandInfo::default()
        });
        vec![task]
    })
    .await;
    let mut states = Vec::new();
    loop {
        let status = next_update_acked(&caller, &mut events).await;
        states.push(status.state);
        if status.state.is_terminal() {
            assert_eq!(status.message.as_deref(), Some("Command exited with status 0"));
            break;
        }
    }
    assert_eq!(
        states,
        [TaskState::TaskStarting, TaskState::TaskRunning, TaskState::TaskFinished]
    );
    let stdout = std::fs::read_to_string(sandbox_of(&master, "argv").join("stdout")).expect("stdout");
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some("zero:one"));
    assert!(
        lines.next().is_some_and(|argv| argv.starts_with("my-sh -c ")),
        "argv[0] is arguments[0]: {stdout}"
    );
    master.mesos.shutdown().await;
}

#[tokio::test]
async fn spawn_failure_is_executor_terminated() {
    let master = start().await;
    let sub = subscribe(&master, framework_info("nospawn")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    launch(&caller, &mut events, |agent| {
        let mut task = shell_task("nope", agent, "x");
        task.command = Some(CommandInfo {
            shell: Some(false),
            value: Some("/definitely/not/a/program".into()),
            ..CommandInfo::default()
        });
        vec![task]
    })
    .await;
    let status = next_update_acked(&caller, &mut events).await;
    assert_eq!(status.state, TaskState::TaskFailed);
    assert_eq!(status.message.as_deref(), Some("Executor terminated"));
    assert_eq!(status.source, Some(TaskStatusSource::SourceAgent));
    assert_eq!(status.reason.as_deref(), Some("REASON_EXECUTOR_TERMINATED"));
    assert!(status.uuid.is_some());
    assert!(status.container_status.is_none());
    master.mesos.shutdown().await;
}

#[tokio::test]
async fn unacknowledged_update_is_redelivered_and_blocks_the_next() {
    let master = start().await;
    let sub = subscribe(&master, framework_info("acks")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    launch(&caller, &mut events, |agent| vec![shell_task("acks", agent, "exit 0")]).await;

    let first = next_update(&mut events).await;
    assert_eq!(first.state, TaskState::TaskStarting);
    // Not acknowledged: the same update (same uuid) comes again, and
    // nothing else for this task in between.
    let again = next_update(&mut events).await;
    assert_eq!(again, first);
    // A wrong uuid is ignored.
    caller
        .acknowledge(
            first.agent_id.clone().expect("agent"),
            first.task_id.clone(),
            "AAAAAAAAAAAAAAAAAAAAAA==".into(),
        )
        .await
        .expect("202");
    assert_eq!(next_update(&mut events).await, first);
    ack(&caller, &first).await;
    let running = next_update_acked(&caller, &mut events).await;
    assert_eq!(running.state, TaskState::TaskRunning);
    let finished = next_update(&mut events).await;
    assert_eq!(finished.state, TaskState::TaskFinished);

    // Unacked terminal task is still known: implicit reconciliation says so.
    caller.reconcile(Vec::new()).await.expect("reconcile");
    let reconciled = loop {
        let status = next_update(&mut events).await;
        if status.reason.as_deref() == Some("REASON_RECONCILIATION") {
            break status;
        }
    };
    assert_eq!(reconciled.state, TaskState::TaskFinished);
    assert_eq!(reconciled.source, Some(TaskStatusSource::SourceMaster));
    assert!(reconciled.uuid.is_none());

    ack(&caller, &finished).await;
    // Now the task is gone from the master.
    let state: serde_json::Value = reqwest::get(format!("{}/master/state", master.url()))
        .await
        .expect("state")
        .json()
        .await
        .expect("json");
    assert_eq!(state["frameworks"][0]["tasks"], serde_json::json!([]));
    assert_eq!(state["frameworks"][0]["completed_tasks"][0]["state"], "TASK_FINISHED");
    master.mesos.shutdown().await;
}

#[tokio::test]
async fn kill_with_grace_sends_killing_then_killed_and_the_group_is_gone() {
    let master = start().await;
    let sub = subscribe(&master, framework_info("killer")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    // The shell ignores SIGTERM; its child sleeper is in the same group.
    launch(&caller, &mut events, |agent| {
        vec![shell_task(
            "stubborn",
            agent,
            "trap '' TERM; sleep 1000 & echo $! > child.pid; wait; wait",
        )]
    })
    .await;
    let starting = next_update_acked(&caller, &mut events).await;
    let pid = starting.container_status.and_then(|c| c.executor_pid).expect("pid") as i32;
    assert_eq!(
        next_update_acked(&caller, &mut events).await.state,
        TaskState::TaskRunning
    );
    let sandbox = sandbox_of(&master, "stubborn");
    let mut child_pid = None;
    for _ in 0..200 {
        if let Some(p) = std::fs::read_to_string(sandbox.join("child.pid"))
            .ok()
            .and_then(|t| t.trim().parse::<i32>().ok())
        {
            child_pid = Some(p);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let child_pid = child_pid.expect("child started");
    assert!(alive(pid) && alive(child_pid));

    let started = std::time::Instant::now();
    caller
        .kill(TaskId::new("stubborn"), None, Some(Duration::from_millis(700)))
        .await
        .expect("KILL");
    let killing = next_update_acked(&caller, &mut events).await;
    assert_eq!(killing.state, TaskState::TaskKilling);
    let killed = next_update_acked(&caller, &mut events).await;
    assert_eq!(killed.state, TaskState::TaskKilled);
    assert!(started.elapsed() >= Duration::from_millis(600), "grace honoured");
    assert_eq!(killed.message.as_deref(), Some("Command terminated with signal Killed"));
    assert!(wait_gone(pid, Duration::from_secs(2)).await);
    assert!(
        wait_gone(child_pid, Duration::from_secs(2)).await,
        "the whole group is gone"
    );
    master.mesos.shutdown().await;
}

#[tokio::test]
async fn kill_without_killing_state_and_sigterm_message() {
    let master = start().await;
    let mut info = framework_info("plainkill");
    info.capabilities = capabilities(&[FrameworkCapabilityType::MultiRole]);
    let sub = subscribe(&master, info).await;
    let (caller, mut events) = (sub.caller, sub.events);
    launch(&caller, &mut events, |agent| {
        vec![shell_task("sleeper", agent, "exec sleep 1000")]
    })
    .await;
    assert_eq!(
        next_update_acked(&caller, &mut events).await.state,
        TaskState::TaskStarting
    );
    assert_eq!(
        next_update_acked(&caller, &mut events).await.state,
        TaskState::TaskRunning
    );
    caller.kill(TaskId::new("sleeper"), None, None).await.expect("KILL");
    let killed = next_update_acked(&caller, &mut events).await;
    assert_eq!(killed.state, TaskState::TaskKilled);
    assert_eq!(
        killed.message.as_deref(),
        Some("Command terminated with signal Terminated")
    );

    // KILL of an unknown task answers like an explicit reconciliation:
    // TASK_LOST for a framework that is not partition-aware.
    caller
        .kill(
            TaskId::new("ghost"),
            Some(killed.agent_id.clone().expect("agent")),
            None,
        )
        .await
        .expect("KILL");
    let lost = next_update(&mut events).await;
    assert_eq!(lost.task_id.value, "ghost");
    assert_eq!(lost.state, TaskState::TaskLost);
    assert_eq!(lost.reason.as_deref(), Some("REASON_RECONCILIATION"));
    assert_eq!(
        lost.message.as_deref(),
        Some("Reconciliation: Task is unknown to the agent")
    );
    master.mesos.shutdown().await;
}

#[tokio::test]
async fn invalid_tasks_get_task_error() {
    let master = start().await;
    let sub = subscribe(&master, framework_info("invalid")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    launch(&caller, &mut events, |agent| {
        let mut too_big = shell_task("too-big", agent, "true");
        too_big.resources = vec![Resource::scalar("cpus", 64.0)];
        let mut no_resources = shell_task("empty", agent, "true");
        no_resources.resources.clear();
        let wrong_agent = shell_task("wrong-agent", &AgentId::new("elsewhere-S9"), "true");
        let bad_id = shell_task("a/b", agent, "true");
        let mut no_command = shell_task("no-command", agent, "true");
        no_command.command = None;
        let ok = shell_task("dup", agent, "sleep 1000");
        let dup = shell_task("dup", agent, "sleep 1000");
        vec![too_big, no_resources, wrong_agent, bad_id, no_command, ok, dup]
    })
    .await;
    let mut errors = std::collections::BTreeMap::new();
    while errors.len() < 6 {
        let status = next_update_acked(&caller, &mut events).await;
        if status.state == TaskState::TaskError {
            assert_eq!(status.reason.as_deref(), Some("REASON_TASK_INVALID"));
            assert_eq!(status.source, Some(TaskStatusSource::SourceMaster));
            assert!(status.uuid.is_none());
            errors.insert(status.task_id.value.clone(), status.message.unwrap_or_default());
        }
    }
    assert!(
        errors["too-big"].starts_with("Task uses more resources cpus:64 than available"),
        "{errors:?}"
    );
    assert_eq!(errors["empty"], "Task uses no resources");
    assert_eq!(errors["wrong-agent"], "Task uses invalid agent: elsewhere-S9");
    assert_eq!(
        errors["a/b"],
        "'TaskInfo.task_id' is invalid: 'a/b' contains invalid characters"
    );
    assert_eq!(
        errors["no-command"],
        "Task should have at least one (but not both) of CommandInfo or ExecutorInfo present"
    );
    assert_eq!(errors["dup"], "Task has duplicate ID: dup");
    master.mesos.shutdown().await;
}

#[tokio::test]
async fn stale_offer_gives_task_dropped_or_task_lost() {
    for partition_aware in [true, false] {
        let master = start().await;
        let mut info = framework_info("stale");
        if !partition_aware {
            info.capabilities = capabilities(&[FrameworkCapabilityType::MultiRole]);
        }
        let sub = subscribe(&master, info).await;
        let (caller, mut events) = (sub.caller, sub.events);
        let offer = next_offers(&mut events).await.remove(0);
        caller.decline(vec![offer.id.clone()], 0.0).await.expect("DECLINE");
        caller
            .accept(
                vec![offer.id.clone()],
                vec![shell_task("late", &offer.agent_id, "true")],
                0.0,
            )
            .await
            .expect("202");
        let status = next_update(&mut events).await;
        let expected = if partition_aware {
            TaskState::TaskDropped
        } else {
            TaskState::TaskLost
        };
        assert_eq!(status.state, expected);
        assert_eq!(status.reason.as_deref(), Some("REASON_INVALID_OFFERS"));
        assert_eq!(status.source, Some(TaskStatusSource::SourceMaster));
        assert_eq!(
            status.message,
            Some(format!(
                "Task launched with invalid offers: Offer {} is no longer valid",
                offer.id
            ))
        );
        assert_eq!(status.agent_id.as_ref(), Some(&offer.agent_id));
        assert!(status.uuid.is_none());
        assert!(status.executor_id.is_none());
        master.mesos.shutdown().await;
    }
}

#[tokio::test]
async fn reconcile_explicit_and_implicit() {
    let master = start().await;
    let sub = subscribe(&master, framework_info("reconcile")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    let offer = launch(&caller, &mut events, |agent| {
        vec![shell_task("long", agent, "sleep 1000")]
    })
    .await;
    assert_eq!(
        next_update_acked(&caller, &mut events).await.state,
        TaskState::TaskStarting
    );
    assert_eq!(
        next_update_acked(&caller, &mut events).await.state,
        TaskState::TaskRunning
    );

    caller
        .reconcile(vec![
            ReconcileTask {
                task_id: TaskId::new("long"),
                agent_id: Some(offer.agent_id.clone()),
            },
            ReconcileTask {
                task_id: TaskId::new("never-launched"),
                agent_id: Some(offer.agent_id.clone()),
            },
            ReconcileTask {
                task_id: TaskId::new("nowhere"),
                agent_id: None,
            },
        ])
        .await
        .expect("RECONCILE");
    let known = next_update(&mut events).await;
    assert_eq!(known.task_id.value, "long");
    assert_eq!(known.state, TaskState::TaskRunning);
    assert_eq!(known.reason.as_deref(), Some("REASON_RECONCILIATION"));
    assert_eq!(known.message.as_deref(), Some("Reconciliation: Latest task state"));
    assert!(known.uuid.is_none());
    let gone = next_update(&mut events).await;
    assert_eq!(gone.task_id.value, "never-launched");
    assert_eq!(gone.state, TaskState::TaskGone);
    assert_eq!(
        gone.message.as_deref(),
        Some("Reconciliation: Task is unknown to the agent")
    );
    assert_eq!(gone.source, Some(TaskStatusSource::SourceMaster));
    assert_eq!(gone.agent_id.as_ref(), Some(&offer.agent_id));
    let unknown = next_update(&mut events).await;
    assert_eq!(unknown.task_id.value, "nowhere");
    assert_eq!(unknown.state, TaskState::TaskUnknown);

    caller.reconcile(Vec::new()).await.expect("implicit RECONCILE");
    let implicit = next_update(&mut events).await;
    assert_eq!(implicit.task_id.value, "long");
    assert_eq!(implicit.state, TaskState::TaskRunning);
    master.mesos.shutdown().await;
}

#[tokio::test]
async fn decline_filters_revive_and_suppress() {
    let master = start().await;
    let sub = subscribe(&master, framework_info("filters")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    let offer = next_offers(&mut events).await.remove(0);
    caller.decline(vec![offer.id.clone()], 3600.0).await.expect("DECLINE");
    // Filtered: no offer for a while (offer_interval is 100 ms).
    let quiet = tokio::time::timeout(Duration::from_millis(600), next_offers(&mut events)).await;
    assert!(quiet.is_err(), "declined resources are not re-offered");
    caller.revive().await.expect("REVIVE");
    let revived = next_offers(&mut events).await.remove(0);
    assert_ne!(revived.id, offer.id);

    // A short refusal expires by itself.
    caller.decline(vec![revived.id.clone()], 0.3).await.expect("DECLINE");
    let started = std::time::Instant::now();
    let pending = next_offers(&mut events).await;
    assert!(started.elapsed() >= Duration::from_millis(150));

    // SUPPRESS stops offers until REVIVE.
    caller.suppress().await.expect("SUPPRESS");
    caller
        .decline(pending.into_iter().map(|o| o.id).collect(), 0.0)
        .await
        .expect("DECLINE");
    let quiet = tokio::time::timeout(Duration::from_millis(600), next_offers(&mut events)).await;
    assert!(quiet.is_err(), "suppressed framework gets no offers");
    caller.revive().await.expect("REVIVE");
    next_offers(&mut events).await;
    master.mesos.shutdown().await;
}

#[tokio::test]
async fn used_resources_are_not_reoffered_and_come_back_after_the_task() {
    let master = start().await;
    let sub = subscribe(&master, framework_info("resources")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    launch(&caller, &mut events, |agent| {
        let mut task = shell_task("holder", agent, "sleep 0.5");
        task.resources = vec![
            Resource::scalar("cpus", 1.5),
            Resource::scalar("mem", 1024.0),
            Resource::ranges(
                "ports",
                vec![Range {
                    begin: 31001,
                    end: 31001,
                }],
            ),
        ];
        vec![task]
    })
    .await;
    let offers = next_offers(&mut events).await;
    let cpus = |offer: &Offer| {
        offer
            .resources
            .iter()
            .find(|r| r.name == "cpus")
            .and_then(|r| r.scalar)
            .map(|s| s.value)
    };
    assert_eq!(cpus(&offers[0]), Some(2.5));
    let ports = offers[0].resources.iter().find(|r| r.name == "ports").expect("ports");
    assert_eq!(
        ports.ranges.as_ref().expect("ranges").range,
        vec![
            Range {
                begin: 31000,
                end: 31000
            },
            Range {
                begin: 31002,
                end: 32000
            }
        ]
    );
    caller.decline(vec![offers[0].id.clone()], 0.0).await.expect("DECLINE");
    loop {
        let event = next_event(&mut events).await;
        if let Some(update) = event.update {
            ack(&caller, &update.status).await;
            if update.status.state.is_terminal() {
                break;
            }
        } else if let Some(offers) = event.offers {
            caller
                .decline(offers.offers.into_iter().map(|o| o.id).collect(), 0.0)
                .await
                .expect("DECLINE");
        }
    }
    loop {
        let offers = next_offers(&mut events).await;
        if cpus(&offers[0]) == Some(4.0) {
            break;
        }
        caller
            .decline(offers.into_iter().map(|o| o.id).collect(), 0.0)
            .await
            .expect("DECLINE");
    }
    master.mesos.shutdown().await;
}
