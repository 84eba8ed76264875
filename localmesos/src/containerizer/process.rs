//! The `process` containerizer, the local "command executor": has the
//! task launcher (`crate::launcher`) run a task as a process in its own
//! session inside a sandbox directory, as the task's user, with only the
//! task's environment; kills it (SIGTERM to every process of the task,
//! SIGKILL to all after the grace period) and reports what happened.
//!
//! It also runs the task's health check (see `crate::health`; a COMMAND
//! check is started by the launcher too, `command_probe.rs`), reports
//! health changes, and kills the task after too many consecutive failures,
//! as the command executor does.
//!
//! It reports events, not Mesos updates; the master turns them into
//! `TaskStatus`es with the command executor's texts.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mesos::types::{CommandInfo, TaskStatusSource};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::{Containerizer, command_probe};
use crate::executor::{ExecutorCommand, ExecutorEvent, LaunchSpec, Reporter};
use crate::health::{CheckFuture, Checker};
use crate::launcher::{Isolation, Launch, Launcher, Response, Role, Stop};

struct Entry {
    /// The task's id at the launcher once asked, 0 before and after.
    launch_id: Arc<AtomicU64>,
    tx: mpsc::UnboundedSender<ExecutorCommand>,
    join: Option<JoinHandle<()>>,
}

/// Every running task process, so that shutdown can kill and reap them
/// all.
#[derive(Default)]
pub struct ProcessContainerizer {
    entries: Mutex<HashMap<String, Entry>>,
    shutting_down: AtomicBool,
    /// The launchers, started by the first task (or `start_launcher`), and
    /// again if one of them died (its tasks died with it; the others run
    /// theirs until they end, each task holding its own set).
    launcher: Mutex<Option<Arc<Launcher>>>,
    isolation: Isolation,
    /// How many launcher processes (0: as many as suit the machine).
    launchers: usize,
}

impl ProcessContainerizer {
    /// Tasks isolated as `isolation` says (a cgroup or a supervisor each),
    /// started by `launchers` launcher processes (0: as suits the machine).
    pub fn new(isolation: Isolation, launchers: usize) -> Self {
        Self {
            isolation,
            launchers,
            ..Self::default()
        }
    }

    /// The launchers, started if one of them is not running.
    pub fn launcher(&self) -> Result<Arc<Launcher>, String> {
        let mut current = self.launcher.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(launcher) = current.as_ref().filter(|l| l.is_alive()) {
            return Ok(Arc::clone(launcher));
        }
        if current.is_some() {
            warn!(
                "a task launcher died (its tasks with it, the other launchers' tasks run on); starting new launchers"
            );
        }
        match Launcher::start(self.isolation, self.launchers) {
            Ok(launcher) => {
                let launcher = Arc::new(launcher);
                *current = Some(Arc::clone(&launcher));
                Ok(launcher)
            }
            Err(error) => {
                warn!(%error, "cannot start the task launcher; process tasks fail until it can be");
                Err(format!("cannot start the task launcher: {error}"))
            }
        }
    }

    /// Asks every process of the task known by `launch_id` to stop.
    fn signal(&self, launch_id: u64, stop: Stop) {
        if launch_id == 0 {
            return;
        }
        let current = self.launcher.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(launcher) = current.as_ref() {
            launcher.signal(launch_id, stop);
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts an executor for `spec`; returns the channel that commands it,
    /// or `None` once shutting down. `report` is only ever called from the
    /// executor's own task, never from here.
    fn start(self: &Arc<Self>, spec: LaunchSpec, report: Reporter) -> Option<mpsc::UnboundedSender<ExecutorCommand>> {
        let (tx, rx) = mpsc::unbounded_channel();
        let launch_id = Arc::new(AtomicU64::new(0));
        let container_id = spec.container_id.clone();
        let mut entries = self.entries();
        if self.shutting_down.load(Ordering::SeqCst) {
            return None;
        }
        let registry = Arc::clone(self);
        let join = tokio::spawn(run(spec, rx, report, Arc::clone(&launch_id), registry));
        // Inserted while the lock is held, so the task's own removal at its
        // end cannot come first.
        entries.insert(
            container_id,
            Entry {
                launch_id,
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
        let joins: Vec<(Arc<AtomicU64>, JoinHandle<()>)> = {
            let mut entries = self.entries();
            entries
                .values_mut()
                .filter_map(|entry| {
                    let _ = entry.tx.send(ExecutorCommand::Shutdown { grace });
                    entry.join.take().map(|join| (Arc::clone(&entry.launch_id), join))
                })
                .collect()
        };
        for (launch_id, join) in joins {
            let abort = join.abort_handle();
            if tokio::time::timeout(grace + Duration::from_secs(5), join)
                .await
                .is_err()
            {
                warn!("an executor did not stop in time; killing every process of its task");
                self.signal(launch_id.load(Ordering::SeqCst), Stop::Kill);
                abort.abort();
            }
        }
        self.kill_every_task();
    }

    /// SIGKILL to every process of every known task, without waiting.
    fn kill_every_task(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        let mut entries = self.entries();
        for (_, entry) in entries.drain() {
            self.signal(entry.launch_id.load(Ordering::SeqCst), Stop::Kill);
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
        self.kill_every_task();
    }
}

/// Creates the sandbox (0750) and its `stdout` / `stderr` files (0640),
/// for a Docker task (a process task's are made by the launcher, owned by
/// its user).
pub(super) fn prepare_sandbox(spec: &LaunchSpec) -> std::io::Result<(std::fs::File, std::fs::File)> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::create_dir_all(&spec.sandbox)?;
    std::fs::set_permissions(&spec.sandbox, std::fs::Permissions::from_mode(0o750))?;
    if let Some(runs) = spec.sandbox.parent() {
        let latest = runs.join("latest");
        let _ = std::fs::remove_file(&latest);
        let _ = std::os::unix::fs::symlink(&spec.sandbox, &latest);
    }
    let stdout = std::fs::File::create(spec.sandbox.join("stdout"))?;
    let stderr = std::fs::File::create(spec.sandbox.join("stderr"))?;
    for file in [&stdout, &stderr] {
        file.set_permissions(std::fs::Permissions::from_mode(0o640))?;
    }
    Ok((stdout, stderr))
}

/// The task's whole environment: the agent's `MESOS_*` variables, then
/// the task's own (which win), and Mesos' default `PATH` when the task sets
/// none. Nothing of this process's environment.
pub(super) fn task_env(spec: &LaunchSpec) -> Vec<(String, String)> {
    let sandbox = spec.sandbox.to_string_lossy().into_owned();
    let mut env: Vec<(String, String)> = [
        ("MESOS_SANDBOX", sandbox.clone()),
        ("MESOS_DIRECTORY", sandbox),
        ("MESOS_TASK_ID", spec.task_id.clone()),
        ("MESOS_FRAMEWORK_ID", spec.framework_id.clone()),
        ("MESOS_EXECUTOR_ID", spec.task_id.clone()),
        ("MESOS_AGENT_ID", spec.agent_id.clone()),
        ("MESOS_AGENT_ENDPOINT", spec.agent_endpoint.clone()),
        ("MESOS_CONTAINER_IP", "127.0.0.1".to_string()),
        ("MESOS_CHECKPOINT", if spec.checkpoint { "1" } else { "0" }.to_string()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_string(), value))
    .collect();
    if let Some(environment) = &spec.command.environment {
        for variable in &environment.variables {
            set_var(&mut env, &variable.name, variable.value.as_deref().unwrap_or(""));
        }
    }
    if !env.iter().any(|(name, _)| name == "PATH") {
        env.push(("PATH".to_string(), crate::launcher::DEFAULT_PATH.to_string()));
    }
    env
}

pub(super) fn set_var(env: &mut Vec<(String, String)>, name: &str, value: &str) {
    match env.iter_mut().find(|(n, _)| n == name) {
        Some(slot) => slot.1 = value.to_string(),
        None => env.push((name.to_string(), value.to_string())),
    }
}

/// `/bin/sh -c value`, or `execvp(value, arguments)` without a shell:
/// the program and its whole `argv`.
pub(super) fn program_of(command: &CommandInfo) -> (String, Vec<String>) {
    let value = command.value.clone().unwrap_or_default();
    if command.shell.unwrap_or(true) {
        (
            "/bin/sh".to_string(),
            vec!["/bin/sh".to_string(), "-c".to_string(), value],
        )
    } else if command.arguments.is_empty() {
        // execvp(value, arguments): arguments[0] is argv[0].
        (value.clone(), vec![value])
    } else {
        (value, command.arguments.clone())
    }
}

async fn run(
    spec: LaunchSpec,
    mut rx: mpsc::UnboundedReceiver<ExecutorCommand>,
    report: Reporter,
    launch_id: Arc<AtomicU64>,
    registry: Arc<ProcessContainerizer>,
) {
    let executor_terminated = || ExecutorEvent::Failed {
        message: "Executor terminated".to_string(),
        reason: "REASON_EXECUTOR_TERMINATED",
        source: TaskStatusSource::SourceAgent,
    };
    let launch_failed = |message: String| ExecutorEvent::Failed {
        message,
        reason: "REASON_CONTAINER_LAUNCH_FAILED",
        source: TaskStatusSource::SourceAgent,
    };
    let launcher = match registry.launcher() {
        Ok(launcher) => launcher,
        Err(message) => {
            report(launch_failed(format!("Failed to launch container: {message}")));
            registry.remove(&spec.container_id);
            return;
        }
    };
    let (program, argv) = program_of(&spec.command);
    let mut launched = launcher.launch(Launch {
        id: 0,
        program,
        argv,
        env: task_env(&spec),
        sandbox: spec.sandbox.clone(),
        user: spec.user.clone(),
        role: Role::Task,
        memory_limit: spec.memory_limit,
    });
    let id = launched.id;
    launch_id.store(id, Ordering::SeqCst);
    if registry.shutting_down.load(Ordering::SeqCst) {
        launcher.signal(id, Stop::Kill);
    }
    let pid = match launched.answers.recv().await {
        Some(Response::Started { pid, .. }) => pid,
        Some(Response::SetupFailed { message, .. }) => {
            info!(task = %spec.task_id, %message, "cannot start the task");
            report(launch_failed(message));
            registry.remove(&spec.container_id);
            return;
        }
        Some(Response::ExecFailed { message, .. }) => {
            info!(task = %spec.task_id, %message, "cannot start the task");
            let _ = std::fs::write(
                spec.sandbox.join("stderr"),
                format!("Failed to launch the task: {message}\n"),
            );
            report(executor_terminated());
            registry.remove(&spec.container_id);
            return;
        }
        Some(Response::Exited { .. }) | None => {
            report(executor_terminated());
            registry.remove(&spec.container_id);
            return;
        }
    };
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
            answer = launched.answers.recv() => match answer {
                Some(Response::Exited { code, signal, memory_exceeded, .. }) => break Some((code, signal, memory_exceeded)),
                Some(_) => continue,
                None => break None,
            },
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
                    launcher.signal(id, Stop::Term);
                    kill_deadline = Some(deadline);
                } else if let Some(current) = kill_deadline {
                    kill_deadline = Some(current.min(deadline));
                }
            }
            _ = sleep_until_opt(kill_deadline) => {
                launcher.signal(id, Stop::Kill);
                kill_deadline = None;
            }
            _ = sleep_until_opt(next_check), if !killed && !probing => {
                next_check = None;
                if let Some(checker) = &checker {
                    let launcher = Arc::clone(&launcher);
                    probe = Some(checker.start(|command| {
                        command_probe::probe(launcher, command_probe::launch_of(&spec, command))
                    }));
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
                    launcher.signal(id, Stop::Term);
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
    // The supervisor has killed every other process of the task.
    launch_id.store(0, Ordering::SeqCst);
    match status {
        Some((_, _, Some(exceeded))) if !silent => {
            info!(task = %spec.task_id, limit = exceeded.limit, peak = exceeded.peak, "the task passed its memory limit");
            report(ExecutorEvent::Failed {
                message: exceeded.message(),
                reason: "REASON_CONTAINER_LIMITATION_MEMORY",
                source: TaskStatusSource::SourceAgent,
            });
        }
        Some((code, signal, _)) => {
            debug!(task = %spec.task_id, ?code, ?signal, "task exited");
            if !silent {
                report(ExecutorEvent::Exited {
                    code,
                    signal,
                    killed,
                    unhealthy,
                });
            }
        }
        None => {
            warn!(task = %spec.task_id, "the task launcher went away");
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
