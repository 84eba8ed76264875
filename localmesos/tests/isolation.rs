//! What a `process` task is confined to, driven by `mesos::Client`: every
//! process it starts ends with it (even one that calls `setsid` or
//! double-forks), when it is killed, when localmesos stops and when the
//! launcher dies; it sees only its own environment; it runs as its user;
//! its sandbox is readable by that user only.
//!
//! Each test of what a task's processes cannot escape runs twice: with
//! `Isolation::Auto` (a cgroup per task where the machine has a writable
//! cgroup2 hierarchy, as the machine CI runs on does) and with
//! `Isolation::Subreaper` (a supervisor per task, what a machine without
//! one gets).

mod common;

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::Path;
use std::time::Duration;

use common::*;
use localmesos::Isolation;
use mesos::types::*;

/// A master whose process tasks are isolated as `isolation` says.
async fn start_isolated(isolation: Isolation) -> TestMaster {
    start_with(|config| config.isolation = isolation).await
}

/// The launcher of the task `pid`: its ancestor whose parent is the
/// process localmesos runs in (this test process, or `master`).
fn launcher_of(pid: i32, master: i32) -> i32 {
    let mut at = pid;
    for _ in 0..10 {
        let parent = parent_of(at);
        if parent == master {
            return at;
        }
        at = parent;
    }
    panic!("no ancestor of {pid} is a child of {master}");
}

/// Two tests of one behaviour: with cgroups where the machine allows
/// them, and with a supervisor per task.
macro_rules! both_isolations {
    ($name:ident, $auto:ident, $subreaper:ident) => {
        #[tokio::test]
        async fn $auto() {
            $name(Isolation::Auto).await
        }
        #[tokio::test]
        async fn $subreaper() {
            $name(Isolation::Subreaper).await
        }
    };
}

/// Waits for `file` in `sandbox` to hold a number (a pid a task wrote).
async fn pid_in(sandbox: &Path, file: &str) -> i32 {
    for _ in 0..500 {
        if let Some(pid) = std::fs::read_to_string(sandbox.join(file))
            .ok()
            .and_then(|t| t.trim().parse::<i32>().ok())
        {
            return pid;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{file} was never written in {}", sandbox.display());
}

/// A task that starts a `setsid` sleeper (its own session) and a
/// double-forked daemon (its parent exits, so it is an orphan in another
/// session too), then waits; returns (task pid, setsid pid, daemon pid).
async fn escaping_task(
    master: &TestMaster,
    caller: &mesos::client::Caller,
    events: &mut mesos::client::EventStream,
    id: &str,
) -> (i32, i32, i32) {
    launch(caller, events, |agent| {
        vec![shell_task(
            id,
            agent,
            "setsid sleep 1001 & echo $! > setsid.pid; \
             setsid sh -c 'sleep 1002 & echo $! > daemon.pid' & \
             exec sleep 1000",
        )]
    })
    .await;
    let starting = next_update_acked(caller, events).await;
    assert_eq!(starting.state, TaskState::TaskStarting);
    let pid = starting.container_status.and_then(|c| c.executor_pid).expect("pid") as i32;
    assert_eq!(next_update_acked(caller, events).await.state, TaskState::TaskRunning);
    let sandbox = sandbox_of(master, id);
    let escaped = pid_in(&sandbox, "setsid.pid").await;
    let daemon = pid_in(&sandbox, "daemon.pid").await;
    assert!(alive(pid) && alive(escaped) && alive(daemon), "all three run");
    (pid, escaped, daemon)
}

/// A killed task takes with it a child that left its session (`setsid`)
/// and a daemon that double-forked away from it.
async fn setsid_and_double_forked_children_die_with_their_killed_task(isolation: Isolation) {
    let master = start_isolated(isolation).await;
    let sub = subscribe(&master, framework_info("escapes")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    let (pid, escaped, daemon) = escaping_task(&master, &caller, &mut events, "escaper").await;

    caller
        .kill(TaskId::new("escaper"), None, Some(Duration::from_millis(300)))
        .await
        .expect("KILL");
    assert_eq!(
        next_update_acked(&caller, &mut events).await.state,
        TaskState::TaskKilling
    );
    let killed = next_update_acked(&caller, &mut events).await;
    assert_eq!(killed.state, TaskState::TaskKilled);
    for (what, pid) in [("task", pid), ("setsid child", escaped), ("daemon", daemon)] {
        assert!(wait_gone(pid, Duration::from_secs(3)).await, "the {what} is gone");
    }
    master.mesos.shutdown().await;
}

both_isolations!(
    setsid_and_double_forked_children_die_with_their_killed_task,
    killed_task_leaves_nothing_with_cgroups,
    killed_task_leaves_nothing_with_supervisors
);

/// A task whose main process exits leaves nothing behind either.
async fn escaped_children_die_when_the_main_process_exits(isolation: Isolation) {
    let master = start_isolated(isolation).await;
    let sub = subscribe(&master, framework_info("exits")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    launch(&caller, &mut events, |agent| {
        vec![shell_task(
            "leaver",
            agent,
            "setsid sleep 1003 & echo $! > setsid.pid; sleep 0.5",
        )]
    })
    .await;
    for state in [TaskState::TaskStarting, TaskState::TaskRunning] {
        assert_eq!(next_update_acked(&caller, &mut events).await.state, state);
    }
    let escaped = pid_in(&sandbox_of(&master, "leaver"), "setsid.pid").await;
    let finished = next_update_acked(&caller, &mut events).await;
    assert_eq!(finished.state, TaskState::TaskFinished);
    assert!(
        wait_gone(escaped, Duration::from_secs(3)).await,
        "the setsid child is gone"
    );
    master.mesos.shutdown().await;
}

both_isolations!(
    escaped_children_die_when_the_main_process_exits,
    exited_task_leaves_nothing_with_cgroups,
    exited_task_leaves_nothing_with_supervisors
);

/// Stopping localmesos ends every process of every task.
async fn every_descendant_dies_when_localmesos_stops(isolation: Isolation) {
    let master = start_isolated(isolation).await;
    let sub = subscribe(&master, framework_info("stopper")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    let (pid, escaped, daemon) = escaping_task(&master, &caller, &mut events, "survivor").await;
    master.mesos.shutdown().await;
    for (what, pid) in [("task", pid), ("setsid child", escaped), ("daemon", daemon)] {
        assert!(wait_gone(pid, Duration::from_secs(5)).await, "the {what} is gone");
    }
}

both_isolations!(
    every_descendant_dies_when_localmesos_stops,
    stopping_localmesos_leaves_nothing_with_cgroups,
    stopping_localmesos_leaves_nothing_with_supervisors
);

/// If the launcher dies, every process of every task dies too, the tasks
/// end TASK_FAILED, and a new launcher runs the next task.
async fn every_descendant_dies_when_the_launcher_dies(isolation: Isolation) {
    let master = start_isolated(isolation).await;
    let sub = subscribe(&master, framework_info("orphans")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    let (pid, escaped, daemon) = escaping_task(&master, &caller, &mut events, "orphan").await;
    let launcher = launcher_of(pid, std::process::id() as i32);
    assert_ne!(launcher, std::process::id() as i32, "the launcher is not this process");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(launcher), nix::sys::signal::Signal::SIGKILL)
        .expect("kill the launcher");
    for (what, pid) in [("task", pid), ("setsid child", escaped), ("daemon", daemon)] {
        assert!(wait_gone(pid, Duration::from_secs(5)).await, "the {what} is gone");
    }
    // The task's end is reported, and a new launcher runs the next task.
    let (mut failed, mut offer) = (None, None);
    while failed.is_none() || offer.is_none() {
        let event = next_event(&mut events).await;
        if let Some(offers) = event.offers {
            offer = offers.offers.into_iter().next();
        }
        if let Some(update) = event.update {
            ack(&caller, &update.status).await;
            failed = Some(update.status);
        }
    }
    let failed = failed.expect("an update");
    assert_eq!(failed.state, TaskState::TaskFailed);
    assert_eq!(failed.message.as_deref(), Some("Executor terminated"));
    let offer = offer.expect("an offer");
    caller
        .accept(
            vec![offer.id.clone()],
            vec![shell_task("after", &offer.agent_id, "sleep 1000")],
            0.0,
        )
        .await
        .expect("ACCEPT");
    for state in [TaskState::TaskStarting, TaskState::TaskRunning] {
        assert_eq!(next_update_acked(&caller, &mut events).await.state, state);
    }
    master.mesos.shutdown().await;
}

both_isolations!(
    every_descendant_dies_when_the_launcher_dies,
    a_dead_launcher_leaves_nothing_with_cgroups,
    a_dead_launcher_leaves_nothing_with_supervisors
);

/// Two tasks started one after the other at a master with two task
/// launchers; returns their pids, once both run.
async fn two_tasks_at_two_launchers(
    isolation: Isolation,
    framework: &str,
) -> (TestMaster, mesos::client::Caller, mesos::client::EventStream, i32, i32) {
    let master = start_with(|config| {
        config.isolation = isolation;
        config.task_launchers = 2;
    })
    .await;
    let sub = subscribe(&master, framework_info(framework)).await;
    let (caller, mut events) = (sub.caller, sub.events);
    launch(&caller, &mut events, |agent| {
        ["first", "second"]
            .iter()
            .map(|id| shell_task(id, agent, "exec sleep 1000"))
            .collect()
    })
    .await;
    let mut pids = std::collections::HashMap::new();
    let mut running = 0;
    while running < 2 {
        let status = next_update_acked(&caller, &mut events).await;
        match status.state {
            TaskState::TaskStarting => {
                let pid = status.container_status.and_then(|c| c.executor_pid).expect("pid");
                pids.insert(status.task_id.value, pid as i32);
            }
            TaskState::TaskRunning => running += 1,
            other => panic!("{}: {other:?}", status.task_id.value),
        }
    }
    (master, caller, events, pids["first"], pids["second"])
}

/// Guards "tasks start side by side": with two launchers, two tasks
/// launched one after the other are started by different launcher
/// processes (one launcher waits for each exec before the next launch).
async fn the_launchers_take_turns(isolation: Isolation) {
    let (master, _caller, _events, first, second) = two_tasks_at_two_launchers(isolation, "turns").await;
    let me = std::process::id() as i32;
    let (a, b) = (launcher_of(first, me), launcher_of(second, me));
    assert_ne!(a, b, "tasks {first} and {second} were both started by launcher {a}");
    master.mesos.shutdown().await;
}

both_isolations!(
    the_launchers_take_turns,
    launchers_take_turns_with_cgroups,
    launchers_take_turns_with_supervisors
);

/// If one of several launchers dies, only its tasks end: the other's task
/// runs on, and a KILL still reaches it.
async fn a_dead_launcher_ends_only_its_own_tasks(isolation: Isolation) {
    let (master, caller, mut events, first, second) = two_tasks_at_two_launchers(isolation, "halves").await;
    let me = std::process::id() as i32;
    let doomed = launcher_of(first, me);
    assert_ne!(doomed, launcher_of(second, me), "the tasks have different launchers");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(doomed), nix::sys::signal::Signal::SIGKILL)
        .expect("kill the first task's launcher");
    let failed = next_update_acked(&caller, &mut events).await;
    assert_eq!(
        (failed.task_id.value.as_str(), failed.state),
        ("first", TaskState::TaskFailed)
    );
    assert_eq!(failed.message.as_deref(), Some("Executor terminated"));
    assert!(wait_gone(first, Duration::from_secs(5)).await, "the first task is gone");
    assert!(alive(second), "the second task runs on");

    caller
        .kill(TaskId::new("second"), None, Some(Duration::from_millis(300)))
        .await
        .expect("KILL");
    let mut last = next_update_acked(&caller, &mut events).await;
    while !last.state.is_terminal() {
        last = next_update_acked(&caller, &mut events).await;
    }
    assert_eq!(
        (last.task_id.value.as_str(), last.state),
        ("second", TaskState::TaskKilled)
    );
    assert!(
        wait_gone(second, Duration::from_secs(3)).await,
        "the second task is gone"
    );
    master.mesos.shutdown().await;
}

both_isolations!(
    a_dead_launcher_ends_only_its_own_tasks,
    one_dead_launcher_of_two_with_cgroups,
    one_dead_launcher_of_two_with_supervisors
);

/// Set for the child process of `every_descendant_dies_when_localmesos_is_killed`.
const CHILD_DIR: &str = "LOCALMESOS_TEST_KILLED_MASTER_DIR";
/// `subreaper` in that child when it is to run tasks under supervisors.
const CHILD_ISOLATION: &str = "LOCALMESOS_TEST_KILLED_MASTER_ISOLATION";

/// Not a test on its own (it returns at once): in the child process of
/// `every_descendant_dies_when_localmesos_is_killed`, a master with an
/// escaping task, whose pids it writes to `pids` in `CHILD_DIR`, and
/// then waits to be killed.
#[tokio::test]
async fn killed_master_child() {
    let Ok(dir) = std::env::var(CHILD_DIR) else { return };
    let isolation = match std::env::var(CHILD_ISOLATION).as_deref() {
        Ok("subreaper") => Isolation::Subreaper,
        _ => Isolation::Auto,
    };
    let master = start_isolated(isolation).await;
    let sub = subscribe(&master, framework_info("killed")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    let (pid, escaped, daemon) = escaping_task(&master, &caller, &mut events, "doomed").await;
    let launcher = launcher_of(pid, std::process::id() as i32);
    std::fs::write(
        Path::new(&dir).join("pids.tmp"),
        format!("{pid} {escaped} {daemon} {launcher}"),
    )
    .expect("write pids");
    std::fs::rename(Path::new(&dir).join("pids.tmp"), Path::new(&dir).join("pids")).expect("publish pids");
    tokio::time::sleep(Duration::from_secs(3600)).await;
}

/// When the process localmesos runs in is killed (SIGKILL: nothing of it
/// runs again), every process of its tasks dies, and so does the launcher.
async fn every_descendant_dies_when_localmesos_is_killed(isolation: Isolation) {
    if std::env::var(CHILD_DIR).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = std::process::Command::new(std::env::current_exe().expect("this test binary"))
        .args(["--exact", "killed_master_child", "--nocapture"])
        .env(CHILD_DIR, dir.path())
        .env(CHILD_ISOLATION, isolation.as_str())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start the child master");
    let mut pids = None;
    for _ in 0..3000 {
        if let Ok(text) = std::fs::read_to_string(dir.path().join("pids")) {
            pids = Some(text);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let pids: Vec<i32> = pids
        .expect("the child master started its task")
        .split_whitespace()
        .map(|p| p.parse().expect("a pid"))
        .collect();
    child.kill().expect("SIGKILL the child master");
    child.wait().expect("reap the child master");
    for (what, pid) in ["task", "setsid child", "daemon", "launcher"].into_iter().zip(pids) {
        assert!(wait_gone(pid, Duration::from_secs(5)).await, "the {what} is gone");
    }
}

both_isolations!(
    every_descendant_dies_when_localmesos_is_killed,
    a_killed_localmesos_leaves_nothing_with_cgroups,
    a_killed_localmesos_leaves_nothing_with_supervisors
);

/// A task sees its own variables, the agent's `MESOS_*` ones and Mesos'
/// default `PATH`, and nothing of the environment localmesos runs in.
#[tokio::test]
async fn a_task_sees_none_of_the_masters_environment() {
    let secret = format!("LOCALMESOS_TEST_SECRET_{}", std::process::id());
    // SAFETY: set before the master starts its threads; no other test in
    // this file reads the environment.
    unsafe { std::env::set_var(&secret, "hunter2") };
    let master = start().await;
    let sub = subscribe(&master, framework_info("env")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    launch(&caller, &mut events, |agent| {
        let mut task = shell_task("env", agent, "env");
        if let Some(command) = &mut task.command {
            command.environment = Some(Environment::from_pairs([("GREETING", "hello")]));
        }
        vec![task]
    })
    .await;
    for state in [TaskState::TaskStarting, TaskState::TaskRunning, TaskState::TaskFinished] {
        assert_eq!(next_update_acked(&caller, &mut events).await.state, state);
    }
    let stdout = std::fs::read_to_string(sandbox_of(&master, "env").join("stdout")).expect("stdout");
    assert!(!stdout.contains(&secret), "the master's variable leaked: {stdout}");
    assert!(!stdout.contains("hunter2"), "{stdout}");
    assert!(stdout.contains("GREETING=hello"), "{stdout}");
    assert!(stdout.contains("MESOS_TASK_ID=env"), "{stdout}");
    assert!(
        stdout.contains("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
        "{stdout}"
    );
    assert!(!stdout.contains("LOCALMESOS_LAUNCHER"), "{stdout}");
    master.mesos.shutdown().await;
}

fn uid_of(user: &str) -> Option<u32> {
    let name = std::ffi::CString::new(user).ok()?;
    // SAFETY: getpwnam's result is read at once.
    unsafe {
        let entry = libc::getpwnam(name.as_ptr());
        (!entry.is_null()).then(|| (*entry).pw_uid)
    }
}

/// Under root, a task with `user: nobody` runs as nobody, in a sandbox
/// (0750) and with output files (0640) that belong to nobody.
#[tokio::test]
#[cfg_attr(
    not(runs_as_root),
    ignore = "needs root to switch a task's user (run the tests as root)"
)]
async fn a_task_runs_as_its_user_in_a_sandbox_only_it_reads() {
    let nobody = uid_of("nobody").expect("a user 'nobody' on this machine");
    let master = start().await;
    let sub = subscribe(&master, framework_info("users")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    launch(&caller, &mut events, |agent| {
        let mut task = shell_task("as-nobody", agent, "id -u");
        if let Some(command) = &mut task.command {
            command.user = Some("nobody".to_string());
        }
        vec![task]
    })
    .await;
    for state in [TaskState::TaskStarting, TaskState::TaskRunning, TaskState::TaskFinished] {
        assert_eq!(next_update_acked(&caller, &mut events).await.state, state);
    }
    let sandbox = sandbox_of(&master, "as-nobody");
    let stdout = std::fs::read_to_string(sandbox.join("stdout")).expect("stdout");
    assert_eq!(stdout.trim(), nobody.to_string());
    let meta = std::fs::metadata(&sandbox).expect("sandbox");
    assert_eq!(meta.permissions().mode() & 0o7777, 0o750);
    assert_eq!(meta.uid(), nobody);
    for file in ["stdout", "stderr"] {
        let meta = std::fs::metadata(sandbox.join(file)).expect("output file");
        assert_eq!(meta.permissions().mode() & 0o7777, 0o640, "{file}");
        assert_eq!(meta.uid(), nobody, "{file}");
    }
    master.mesos.shutdown().await;
}

/// The sandbox of a task of the current user is 0750, its output 0640.
#[tokio::test]
async fn a_sandbox_is_not_world_readable() {
    let master = start().await;
    let sub = subscribe(&master, framework_info("modes")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    launch(&caller, &mut events, |agent| vec![shell_task("modes", agent, "true")]).await;
    for state in [TaskState::TaskStarting, TaskState::TaskRunning, TaskState::TaskFinished] {
        assert_eq!(next_update_acked(&caller, &mut events).await.state, state);
    }
    let sandbox = sandbox_of(&master, "modes");
    let mode = |path: &Path| std::fs::metadata(path).expect("metadata").permissions().mode() & 0o7777;
    assert_eq!(mode(&sandbox), 0o750);
    assert_eq!(mode(&sandbox.join("stdout")), 0o640);
    assert_eq!(mode(&sandbox.join("stderr")), 0o640);
    master.mesos.shutdown().await;
}

/// A task of a user that does not exist fails, naming the user.
#[tokio::test]
async fn an_unknown_user_fails_the_task_naming_it() {
    let master = start().await;
    let sub = subscribe(&master, framework_info("ghosts")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    launch(&caller, &mut events, |agent| {
        let mut task = shell_task("ghost", agent, "true");
        if let Some(command) = &mut task.command {
            command.user = Some("no-such-user-lm".to_string());
        }
        vec![task]
    })
    .await;
    let failed = next_update_acked(&caller, &mut events).await;
    assert_eq!(failed.state, TaskState::TaskFailed);
    assert_eq!(failed.reason.as_deref(), Some("REASON_CONTAINER_LAUNCH_FAILED"));
    assert_eq!(
        failed.message.as_deref(),
        Some("Failed to launch container: user 'no-such-user-lm' does not exist on this node")
    );
    master.mesos.shutdown().await;
}

/// A program that cannot be executed fails its task, with why in the
/// sandbox's stderr, and the launcher goes on starting tasks: with
/// cgroups the failed child ran in the launcher's own memory until it
/// gave up (`launcher/vfork.rs`), and must have left it as it was.
async fn a_program_that_cannot_run_fails_its_task_and_the_next_task_runs(isolation: Isolation) {
    let master = start_isolated(isolation).await;
    let sub = subscribe(&master, framework_info("missing-program")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    launch(&caller, &mut events, |agent| {
        let mut task = shell_task("missing", agent, "/nonexistent/lm-program");
        if let Some(command) = &mut task.command {
            command.shell = Some(false);
        }
        vec![task]
    })
    .await;
    let failed = next_update_acked(&caller, &mut events).await;
    assert_eq!(failed.state, TaskState::TaskFailed, "{failed:?}");
    let stderr = std::fs::read_to_string(sandbox_of(&master, "missing").join("stderr")).unwrap_or_default();
    assert!(
        stderr.contains("Failed to execute the command: No such file or directory"),
        "{stderr:?}"
    );
    launch(&caller, &mut events, |agent| {
        vec![shell_task("after", agent, "exec sleep 30")]
    })
    .await;
    let started = next_update_acked(&caller, &mut events).await;
    assert_eq!(started.state, TaskState::TaskStarting, "{started:?}");
    let running = next_update_acked(&caller, &mut events).await;
    assert_eq!(running.state, TaskState::TaskRunning, "{running:?}");
    master.mesos.shutdown().await;
}

both_isolations!(
    a_program_that_cannot_run_fails_its_task_and_the_next_task_runs,
    a_program_that_cannot_run_fails_cleanly_with_cgroups,
    a_program_that_cannot_run_fails_cleanly_with_supervisors
);

/// Whether this machine lets this process make a cgroup2 child cgroup
/// (what `Isolation::Auto` needs to use cgroups).
fn machine_has_writable_cgroup2() -> bool {
    let Some(mount) = cgroup_mount(None) else {
        return false;
    };
    let cgroups = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let Some(own) = cgroups.lines().find_map(|l| l.strip_prefix("0::")) else {
        return false;
    };
    let probe = mount
        .join(own.trim_start_matches('/'))
        .join(format!("isolation-test-{}", std::process::id()));
    let made = std::fs::create_dir(&probe).is_ok();
    let _ = std::fs::remove_dir(&probe);
    made
}

/// With `Isolation::Auto`, a task runs in a cgroup of its own exactly
/// when the machine allows it (with `SEXTANT_REQUIRE_CGROUPS` set, the
/// machine must), its escaped children in it too, and its cgroup is gone
/// once it ends.
#[tokio::test]
async fn auto_isolation_puts_each_task_in_its_own_cgroup_where_the_machine_allows() {
    let writable = machine_has_writable_cgroup2();
    if std::env::var("SEXTANT_REQUIRE_CGROUPS").is_ok() {
        assert!(
            writable,
            "SEXTANT_REQUIRE_CGROUPS is set but no cgroup2 hierarchy can be written here"
        );
    }
    let master = start_isolated(Isolation::Auto).await;
    let sub = subscribe(&master, framework_info("cgroups")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    let (pid, escaped, _daemon) = escaping_task(&master, &caller, &mut events, "grouped").await;
    let cgroup_of = |pid: i32| {
        std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("0::").map(str::to_string))
            .unwrap_or_default()
    };
    let task_cgroup = cgroup_of(pid);
    let own = task_cgroup.rsplit('/').next().unwrap_or_default().to_string();
    assert_eq!(
        own.starts_with("task-") && task_cgroup.contains("/localmesos-"),
        writable,
        "the task's cgroup is {task_cgroup:?}"
    );
    if writable {
        assert_eq!(
            cgroup_of(escaped),
            task_cgroup,
            "the setsid child stays in the task's cgroup"
        );
    }
    caller
        .kill(TaskId::new("grouped"), None, Some(Duration::from_millis(200)))
        .await
        .expect("KILL");
    assert_eq!(
        next_update_acked(&caller, &mut events).await.state,
        TaskState::TaskKilling
    );
    assert_eq!(
        next_update_acked(&caller, &mut events).await.state,
        TaskState::TaskKilled
    );
    if writable {
        let mount = cgroup_mount(None).expect("the cgroup2 mount");
        let dir = mount.join(task_cgroup.trim_start_matches('/'));
        assert!(!dir.exists(), "{} is removed once the task ended", dir.display());
    }
    master.mesos.shutdown().await;
}

/// Guards "a launch costs the same however many tasks run": the
/// launcher holds no fd per running task (it held each task's
/// `cgroup.procs`, or each starting supervisor's pipe, and every fork
/// copied them all and every exec closed them all).
async fn the_launcher_holds_no_fd_per_running_task(isolation: Isolation) {
    const TASKS: usize = 30;
    let master = start_isolated(isolation).await;
    let sub = subscribe(&master, framework_info("many")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    launch(&caller, &mut events, |agent| {
        (0..TASKS)
            .map(|i| shell_task(&format!("many-{i}"), agent, "exec sleep 600"))
            .collect()
    })
    .await;
    let mut pids = Vec::new();
    while pids.len() < TASKS {
        let status = next_update_acked(&caller, &mut events).await;
        assert!(!status.state.is_terminal(), "{status:?}");
        if status.state == TaskState::TaskStarting {
            pids.extend(status.container_status.and_then(|c| c.executor_pid));
        }
    }
    let launcher = launcher_of(pids[0] as i32, std::process::id() as i32);
    let fds = std::fs::read_dir(format!("/proc/{launcher}/fd"))
        .expect("the launcher's fds")
        .count();
    assert!(fds < 12, "the launcher holds {fds} fds with {TASKS} tasks running");
    master.mesos.shutdown().await;
}

both_isolations!(
    the_launcher_holds_no_fd_per_running_task,
    no_fd_per_task_with_cgroups,
    no_fd_per_task_with_supervisors
);
