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

/// A master with `--memory-limits` and a framework subscribed to it as
/// `name`.
async fn limited(name: &str) -> (TestMaster, Caller, EventStream) {
    let master = start_with(|config| config.memory_limits = true).await;
    let sub = subscribe(&master, framework_info(name)).await;
    (master, sub.caller, sub.events)
}

/// Launches `command` as task `id` asking for `mem` MB, acknowledges its
/// updates until RUNNING and returns that one.
async fn run_until_running(caller: &Caller, events: &mut EventStream, id: &str, command: &str, mem: f64) -> TaskStatus {
    launch(caller, events, |agent| {
        let mut task = shell_task(id, agent, command);
        task.resources = vec![Resource::scalar("cpus", 0.1), Resource::scalar("mem", mem)];
        vec![task]
    })
    .await;
    assert_eq!(next_update_acked(caller, events).await.state, TaskState::TaskStarting);
    let running = next_update_acked(caller, events).await;
    assert_eq!(running.state, TaskState::TaskRunning);
    running
}

/// Kills task `id` and sees it through KILLING to KILLED.
async fn kill_until_killed(caller: &Caller, events: &mut EventStream, id: &str) {
    caller.kill(TaskId::new(id), None, None).await.expect("KILL");
    for state in [TaskState::TaskKilling, TaskState::TaskKilled] {
        assert_eq!(next_update_acked(caller, events).await.state, state);
    }
}

/// The pid of the task whose RUNNING is `running`.
fn pid_of(running: &TaskStatus) -> i32 {
    running
        .container_status
        .as_ref()
        .and_then(|c| c.executor_pid)
        .and_then(|p| i32::try_from(p).ok())
        .expect("the task's pid")
}

/// The directory of the memory cgroup of the process `pid`: in the v1
/// memory hierarchy where there is one, else its cgroup2 cgroup.
fn memory_cgroup_of(pid: i32) -> std::path::PathBuf {
    let controller = cgroup_mount(Some("memory")).map(|_| "memory");
    cgroup_dir_of(pid, controller).expect("the task's memory cgroup")
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
    let (master, caller, mut events) = limited("greedy").await;
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
    let (master, caller, mut events) = limited("small").await;
    let modest = "python3 -c 'import time; b = b\"x\" * (8 * 1024 * 1024); time.sleep(60)'";
    run_until_running(&caller, &mut events, "small", modest, 1.0).await;
    assert!(
        quiet_for(&mut events, Duration::from_secs(2)).await,
        "a task within its limit gets no update"
    );
    kill_until_killed(&caller, &mut events, "small").await;
    master.mesos.shutdown().await;
}

/// A task's memory cgroup is removed when the task ends, and the memory
/// cgroups of a launcher killed with SIGKILL are removed by its sweeper.
#[tokio::test]
#[cfg_attr(
    not(has_memory_cgroups),
    ignore = "needs root and a cgroup memory controller (run the tests as root)"
)]
async fn memory_cgroups_go_with_their_task_and_with_a_killed_launcher() {
    let (master, caller, mut events) = limited("tidy").await;
    // Both in one ACCEPT: an offer that came while the first was being
    // killed would be held, unanswered, and no other would come.
    launch(&caller, &mut events, |agent| {
        vec![
            shell_task("first", agent, "sleep 60"),
            shell_task("second", agent, "sleep 60"),
        ]
    })
    .await;
    let (mut first, mut second) = (None, None);
    while first.is_none() || second.is_none() {
        let status = next_update_acked(&caller, &mut events).await;
        if status.state == TaskState::TaskRunning {
            let slot = if status.task_id.value == "first" {
                &mut first
            } else {
                &mut second
            };
            *slot = Some(pid_of(&status));
        }
    }
    let (first, second) = (first.expect("first"), second.expect("second"));

    let first_memory = memory_cgroup_of(first);
    assert!(
        first_memory.exists(),
        "{} exists while the task runs",
        first_memory.display()
    );
    caller.kill(TaskId::new("first"), None, None).await.expect("KILL");
    until_state(&caller, &mut events, "first", TaskState::TaskKilled).await;
    assert!(
        !first_memory.exists(),
        "{} is removed once the task ended",
        first_memory.display()
    );

    let launchers = memory_cgroup_of(second)
        .parent()
        .expect("the launcher's memory cgroup")
        .to_path_buf();
    // SAFETY: a signal to the launcher, a child of this process.
    unsafe { libc::kill(parent_of(second), libc::SIGKILL) };
    until_state(&caller, &mut events, "second", TaskState::TaskFailed).await;
    let mut gone = false;
    for _ in 0..100 {
        if !launchers.exists() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(gone, "{} is removed by the sweeper", launchers.display());
    master.mesos.shutdown().await;
}

/// Acknowledges updates until task `id` reaches `state`.
async fn until_state(caller: &Caller, events: &mut EventStream, id: &str, state: TaskState) {
    loop {
        let status = next_update_acked(caller, events).await;
        if status.task_id.value == id && status.state == state {
            return;
        }
        assert!(
            status.task_id.value != id || !status.state.is_terminal(),
            "{id} ended {status:?}, not {state:?}"
        );
    }
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
