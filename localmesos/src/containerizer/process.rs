//! The `process` containerizer, the local "command executor": runs a task
//! as a process in its own process group inside a sandbox directory, kills
//! it (SIGTERM to the group, SIGKILL after the grace period), reaps it, and
//! reports what happened.
//!
//! It also runs the task's health check (see `crate::health`), reports
//! health changes, and kills the task after too many consecutive failures,
//! as the command executor does.
//!
//! It reports events, not Mesos updates; the master turns them into
//! `TaskStatus`es with the command executor's texts.

use std::collections::HashMap;
use std::os::unix::process::ExitStatusExt as _;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mesos::types::{CommandInfo, TaskStatusSource};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::Containerizer;
use crate::executor::{ExecutorCommand, ExecutorEvent, LaunchSpec, Reporter};
use crate::health::{CheckFuture, Checker};

struct Entry {
    /// Process group id once spawned, 0 before and after.
    pgid: Arc<AtomicI32>,
    tx: mpsc::UnboundedSender<ExecutorCommand>,
    join: Option<JoinHandle<()>>,
}

/// Every running task process, so that shutdown can kill and reap them
/// all.
#[derive(Default)]
pub struct ProcessContainerizer {
    entries: Mutex<HashMap<String, Entry>>,
    shutting_down: AtomicBool,
}

impl ProcessContainerizer {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts an executor for `spec`; returns the channel that commands it,
    /// or `None` once shutting down. `report` is only ever called from the
    /// executor's own task, never from here.
    fn start(self: &Arc<Self>, spec: LaunchSpec, report: Reporter) -> Option<mpsc::UnboundedSender<ExecutorCommand>> {
        let (tx, rx) = mpsc::unbounded_channel();
        let pgid = Arc::new(AtomicI32::new(0));
        let container_id = spec.container_id.clone();
        let mut entries = self.entries();
        if self.shutting_down.load(Ordering::SeqCst) {
            return None;
        }
        let registry = Arc::clone(self);
        let join = tokio::spawn(run(spec, rx, report, Arc::clone(&pgid), registry));
        // Inserted while the lock is held, so the task's own removal at its
        // end cannot come first.
        entries.insert(
            container_id,
            Entry {
                pgid,
                tx: tx.clone(),
                join: Some(join),
            },
        );
        Some(tx)
    }

    fn remove(&self, container_id: &str) {
        self.entries().remove(container_id);
    }

    /// SIGTERM to every task, SIGKILL after `grace`, and waits for all.
    async fn stop_all(&self, grace: Duration) {
        self.shutting_down.store(true, Ordering::SeqCst);
        let joins: Vec<(Arc<AtomicI32>, JoinHandle<()>)> = {
            let mut entries = self.entries();
            entries
                .values_mut()
                .filter_map(|entry| {
                    let _ = entry.tx.send(ExecutorCommand::Shutdown { grace });
                    entry.join.take().map(|join| (Arc::clone(&entry.pgid), join))
                })
                .collect()
        };
        for (pgid, join) in joins {
            let abort = join.abort_handle();
            if tokio::time::timeout(grace + Duration::from_secs(5), join)
                .await
                .is_err()
            {
                warn!("an executor did not stop in time; killing its process group");
                kill_group(pgid.load(Ordering::SeqCst), Signal::SIGKILL);
                abort.abort();
            }
        }
        self.kill_every_group();
    }

    /// SIGKILL to every known process group, without waiting.
    fn kill_every_group(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        let mut entries = self.entries();
        for (_, entry) in entries.drain() {
            kill_group(entry.pgid.load(Ordering::SeqCst), Signal::SIGKILL);
            if let Some(join) = entry.join {
                join.abort();
            }
        }
    }
}

impl Containerizer for Arc<ProcessContainerizer> {
    fn launch(&self, spec: LaunchSpec, report: Reporter) -> Option<mpsc::UnboundedSender<ExecutorCommand>> {
        self.start(spec, report)
    }

    fn shutdown(&self, grace: Duration) -> futures::future::BoxFuture<'_, ()> {
        Box::pin(self.stop_all(grace))
    }

    fn kill_all_now(&self) {
        self.kill_every_group();
    }
}

/// Sends `signal` to process group `pgid` (ignored for 0 or a gone group).
pub(crate) fn kill_group(pgid: i32, signal: Signal) {
    if pgid <= 0 {
        return;
    }
    match killpg(Pid::from_raw(pgid), signal) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
        Err(error) => warn!(pgid, %signal, %error, "cannot signal a task's process group"),
    }
}

/// Creates the sandbox and its `stdout` / `stderr` files.
pub(super) fn prepare_sandbox(spec: &LaunchSpec) -> std::io::Result<(std::fs::File, std::fs::File)> {
    std::fs::create_dir_all(&spec.sandbox)?;
    if let Some(runs) = spec.sandbox.parent() {
        let latest = runs.join("latest");
        let _ = std::fs::remove_file(&latest);
        let _ = std::os::unix::fs::symlink(&spec.sandbox, &latest);
    }
    let stdout = std::fs::File::create(spec.sandbox.join("stdout"))?;
    let stderr = std::fs::File::create(spec.sandbox.join("stderr"))?;
    Ok((stdout, stderr))
}

fn build_command(spec: &LaunchSpec, stdout: std::fs::File, stderr: std::fs::File) -> tokio::process::Command {
    let mut cmd = command_of(&spec.command);
    apply_task_env(&mut cmd, spec);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::from(stderr))
        .process_group(0)
        .kill_on_drop(false);
    // If this process dies without stopping its tasks (SIGKILL, a crash),
    // the kernel kills each task's main process, so none keeps running as
    // an orphan. (A clean stop kills whole process groups instead.)
    // SAFETY: the closure runs in the forked child before exec and only
    // calls prctl, which is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd
}

/// A health check's COMMAND: the task's environment and sandbox, plus the
/// check's own variables; no output is kept.
fn check_command(spec: &LaunchSpec, check: &CommandInfo) -> tokio::process::Command {
    let mut cmd = command_of(check);
    apply_task_env(&mut cmd, spec);
    if let Some(environment) = &check.environment {
        for variable in &environment.variables {
            cmd.env(&variable.name, variable.value.as_deref().unwrap_or(""));
        }
    }
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    cmd
}

/// `/bin/sh -c value`, or `execvp(value, arguments)` without a shell.
fn command_of(command: &CommandInfo) -> tokio::process::Command {
    let value = command.value.clone().unwrap_or_default();
    if command.shell.unwrap_or(true) {
        let mut cmd = tokio::process::Command::new("/bin/sh");
        cmd.arg("-c").arg(value);
        cmd
    } else {
        // execvp(value, arguments): arguments[0] is argv[0].
        let mut cmd = tokio::process::Command::new(&value);
        match command.arguments.split_first() {
            Some((argv0, rest)) => {
                cmd.arg0(argv0);
                cmd.args(rest);
            }
            None => {
                cmd.arg0(&value);
            }
        }
        cmd
    }
}

/// The sandbox as working directory, the agent's `MESOS_*` variables and
/// the task's environment.
fn apply_task_env(cmd: &mut tokio::process::Command, spec: &LaunchSpec) {
    let sandbox = spec.sandbox.to_string_lossy().into_owned();
    cmd.current_dir(&spec.sandbox)
        .env("MESOS_SANDBOX", &sandbox)
        .env("MESOS_DIRECTORY", &sandbox)
        .env("MESOS_TASK_ID", &spec.task_id)
        .env("MESOS_FRAMEWORK_ID", &spec.framework_id)
        .env("MESOS_EXECUTOR_ID", &spec.task_id)
        .env("MESOS_AGENT_ID", &spec.agent_id)
        .env("MESOS_AGENT_ENDPOINT", &spec.agent_endpoint)
        .env("MESOS_CONTAINER_IP", "127.0.0.1")
        .env("MESOS_CHECKPOINT", if spec.checkpoint { "1" } else { "0" });
    if let Some(environment) = &spec.command.environment {
        for variable in &environment.variables {
            cmd.env(&variable.name, variable.value.as_deref().unwrap_or(""));
        }
    }
}

async fn run(
    spec: LaunchSpec,
    mut rx: mpsc::UnboundedReceiver<ExecutorCommand>,
    report: Reporter,
    pgid: Arc<AtomicI32>,
    registry: Arc<ProcessContainerizer>,
) {
    let executor_terminated = || ExecutorEvent::LaunchFailed {
        message: "Executor terminated".to_string(),
        reason: "REASON_EXECUTOR_TERMINATED",
        source: TaskStatusSource::SourceAgent,
    };
    let spawned = prepare_sandbox(&spec).and_then(|(stdout, stderr)| build_command(&spec, stdout, stderr).spawn());
    let mut child = match spawned {
        Ok(child) => child,
        Err(error) => {
            info!(task = %spec.task_id, %error, "cannot start the task");
            let _ = std::fs::write(
                spec.sandbox.join("stderr"),
                format!("Failed to launch the task: {error}\n"),
            );
            report(executor_terminated());
            registry.remove(&spec.container_id);
            return;
        }
    };
    let Some(pid) = child.id() else {
        report(executor_terminated());
        registry.remove(&spec.container_id);
        return;
    };
    let group = i32::try_from(pid).unwrap_or(0);
    pgid.store(group, Ordering::SeqCst);
    if registry.shutting_down.load(Ordering::SeqCst) {
        kill_group(group, Signal::SIGKILL);
    }
    debug!(task = %spec.task_id, pid, "task started");
    report(ExecutorEvent::Started { pid: Some(pid) });

    let mut checker = spec
        .health_check
        .clone()
        .map(|check| Checker::new(check, Instant::now()));
    let mut next_check = checker.as_ref().and_then(Checker::first_at);
    let mut probe: Option<CheckFuture> = None;
    let mut unhealthy = false;

    let mut killed = false;
    let mut silent = false;
    let mut kill_deadline: Option<Instant> = None;
    let mut commands_open = true;
    let status = loop {
        let probing = probe.is_some();
        tokio::select! {
            status = child.wait() => break status,
            command = rx.recv(), if commands_open => {
                let (grace, report_kill) = match command {
                    Some(ExecutorCommand::Kill { grace }) => (grace, true),
                    Some(ExecutorCommand::Shutdown { grace }) => {
                        silent = true;
                        (grace, false)
                    }
                    None => {
                        // The master let go of this task: stop it.
                        commands_open = false;
                        silent = true;
                        (crate::master::DEFAULT_KILL_GRACE, false)
                    }
                };
                let deadline = Instant::now() + grace;
                if !killed {
                    killed = true;
                    if report_kill {
                        report(ExecutorEvent::Killing);
                    }
                    kill_group(group, Signal::SIGTERM);
                    kill_deadline = Some(deadline);
                } else if let Some(current) = kill_deadline {
                    kill_deadline = Some(current.min(deadline));
                }
            }
            _ = sleep_until_opt(kill_deadline) => {
                kill_group(group, Signal::SIGKILL);
                kill_deadline = None;
            }
            _ = sleep_until_opt(next_check), if !killed && !probing => {
                next_check = None;
                if let Some(checker) = &checker {
                    probe = Some(checker.start(|command| check_command(&spec, command)));
                }
            }
            result = wait_probe(&mut probe), if !killed && probing => {
                probe = None;
                let now = Instant::now();
                let Some(checker) = &mut checker else { continue };
                next_check = checker.next_at(now);
                let Some(verdict) = checker.record(result, now) else { continue };
                report(ExecutorEvent::Health {
                    healthy: verdict.healthy,
                    message: verdict.message,
                });
                if verdict.kill {
                    info!(task = %spec.task_id, "killing the task: it failed its health check");
                    unhealthy = true;
                    killed = true;
                    next_check = None;
                    report(ExecutorEvent::Killing);
                    kill_group(group, Signal::SIGTERM);
                    kill_deadline = Some(now + spec.kill_grace);
                }
            }
        }
        if killed {
            // Health checking stops once a kill begins.
            probe = None;
            next_check = None;
        }
    };
    // Like a container's destruction: nothing of the task outlives it.
    kill_group(group, Signal::SIGKILL);
    pgid.store(0, Ordering::SeqCst);
    match status {
        Ok(status) => {
            debug!(task = %spec.task_id, %status, "task exited");
            if !silent {
                report(ExecutorEvent::Exited {
                    code: status.code(),
                    signal: status.signal(),
                    killed,
                    unhealthy,
                });
            }
        }
        Err(error) => {
            warn!(task = %spec.task_id, %error, "cannot wait for the task");
            if !silent {
                report(executor_terminated());
            }
        }
    }
    registry.remove(&spec.container_id);
}

/// The running health probe's result; never, without one.
pub(super) async fn wait_probe(probe: &mut Option<CheckFuture>) -> crate::health::CheckResult {
    match probe {
        Some(probe) => probe.await,
        None => std::future::pending().await,
    }
}

pub(super) async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
