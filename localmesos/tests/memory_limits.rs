//! `--memory-limits`, driven by `mesos::Client`: a process task gets its
//! `mem` as a hard limit (at least Mesos's 32 MB), a task that passes it
//! ends TASK_FAILED with REASON_CONTAINER_LIMITATION_MEMORY and Mesos's
//! words, and where a limit cannot be set the launch fails saying why.
//! Off, as in Mesos, a task may use more than it asked for.

mod common;

use std::time::Duration;

use common::*;
use localmesos::Isolation;
use mesos::client::{Caller, EventStream};
use mesos::types::*;

/// A Python program that fills 200 MB, then sleeps.
const GREEDY: &str = "python3 -c 'import time; b = b\"x\" * (200 * 1024 * 1024); time.sleep(60)'";

/// Launches `command` as task `id` (mem 32) and returns its updates until
/// RUNNING, acknowledged.
async fn run_until_running(caller: &Caller, events: &mut EventStream, id: &str, command: &str, mem: f64) {
    launch(caller, events, |agent| {
        let mut task = shell_task(id, agent, command);
        task.resources = vec![Resource::scalar("cpus", 0.1), Resource::scalar("mem", mem)];
        vec![task]
    })
    .await;
    for state in [TaskState::TaskStarting, TaskState::TaskRunning] {
        assert_eq!(next_update_acked(caller, events).await.state, state);
    }
}

/// Whether an update comes within `wait`.
async fn quiet_for(events: &mut EventStream, wait: Duration) -> bool {
    tokio::time::timeout(wait, next_update(events)).await.is_err()
}

#[tokio::test]
#[cfg_attr(
    not(has_memory_cgroups),
    ignore = "needs root and a cgroup memory controller (run the tests as root)"
)]
async fn a_task_that_passes_its_memory_limit_fails_saying_so() {
    let master = start_with(|config| config.memory_limits = true).await;
    let sub = subscribe(&master, framework_info("greedy")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    run_until_running(&caller, &mut events, "greedy", GREEDY, 32.0).await;

    let failed = next_update_acked(&caller, &mut events).await;
    assert_eq!(failed.state, TaskState::TaskFailed, "{failed:?}");
    assert_eq!(failed.reason.as_deref(), Some("REASON_CONTAINER_LIMITATION_MEMORY"));
    assert_eq!(failed.source, Some(TaskStatusSource::SourceAgent));
    let message = failed.message.unwrap_or_default();
    assert!(
        message.starts_with("Memory limit exceeded: Requested: 32MB Maximum Used: "),
        "{message}"
    );
    master.mesos.shutdown().await;
}

/// A task asking for 1 MB gets Mesos's 32 MB, in which a Python program
/// holding 8 MB runs on; it is killed as ever.
#[tokio::test]
#[cfg_attr(
    not(has_memory_cgroups),
    ignore = "needs root and a cgroup memory controller (run the tests as root)"
)]
async fn a_task_within_its_limit_runs_and_the_limit_is_at_least_32_mb() {
    let master = start_with(|config| config.memory_limits = true).await;
    let sub = subscribe(&master, framework_info("small")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    let modest = "python3 -c 'import time; b = b\"x\" * (8 * 1024 * 1024); time.sleep(60)'";
    run_until_running(&caller, &mut events, "small", modest, 1.0).await;
    assert!(
        quiet_for(&mut events, Duration::from_secs(2)).await,
        "a task within its limit gets no update"
    );
    caller.kill(TaskId::new("small"), None, None).await.expect("KILL");
    assert_eq!(
        next_update_acked(&caller, &mut events).await.state,
        TaskState::TaskKilling
    );
    assert_eq!(
        next_update_acked(&caller, &mut events).await.state,
        TaskState::TaskKilled
    );
    master.mesos.shutdown().await;
}

/// Without `--memory-limits` (Mesos's `posix/mem`), nothing limits a
/// task's memory.
#[tokio::test]
async fn without_memory_limits_a_task_may_use_more_than_it_asked_for() {
    let master = start().await;
    let sub = subscribe(&master, framework_info("unlimited")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    run_until_running(&caller, &mut events, "unlimited", GREEDY, 32.0).await;
    assert!(
        quiet_for(&mut events, Duration::from_secs(3)).await,
        "the task filled 200 MB and runs on"
    );
    master.mesos.shutdown().await;
}

/// Supervisors cannot give a task a limit: with `--memory-limits`, each
/// launch fails saying so, rather than run the task unlimited.
#[tokio::test]
async fn memory_limits_without_cgroups_fail_each_launch_saying_why() {
    let master = start_with(|config| {
        config.memory_limits = true;
        config.isolation = Isolation::Subreaper;
    })
    .await;
    let sub = subscribe(&master, framework_info("no-cgroups")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    launch(&caller, &mut events, |agent| {
        vec![shell_task("refused", agent, "sleep 60")]
    })
    .await;
    let failed = next_update_acked(&caller, &mut events).await;
    assert_eq!(failed.state, TaskState::TaskFailed, "{failed:?}");
    let message = failed.message.unwrap_or_default();
    assert!(
        message.contains("memory limits are on (--memory-limits)") && message.contains("supervisor"),
        "{message}"
    );
    master.mesos.shutdown().await;
}
