//! The `docker` containerizer: a task whose `TaskInfo.container` is of
//! type DOCKER runs as a container of a real Docker engine, through its
//! API (bollard, on `/var/run/docker.sock` or `DOCKER_HOST`), as the Mesos
//! Docker containerizer runs it: named `mesos-<container id>`, the
//! sandbox mounted at `/mnt/mesos/sandbox`, `MESOS_*` variables and the
//! task's environment, HOST or BRIDGE networking with the port mappings,
//! the image pulled when absent or with `force_pull_image`, killed by
//! `docker stop` with the grace period, the container's output copied to
//! the sandbox's `stdout` and `stderr`, and health checks run against the
//! container (HTTP and TCP at its address, COMMAND through the engine's
//! exec API, its processes killed if it outlives its timeout).
//! The container is removed once it has exited.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bollard::Docker;
use bollard::exec::{CreateExecOptions, StartExecOptions};
use bollard::models::{ContainerCreateBody, HostConfig, PortBinding};
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, LogsOptions, RemoveContainerOptions, StopContainerOptions,
};
use futures::StreamExt;
use mesos::types::{ContainerInfo, DockerNetwork, TaskStatusSource};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::Containerizer;
use super::process::{prepare_sandbox, sleep_until_opt, wait_probe};
use crate::executor::{ExecutorCommand, ExecutorEvent, LaunchSpec, Reporter};
use crate::health::{CheckFuture, CheckResult, Checker};

/// Where the sandbox is inside the container (as Mesos mounts it).
const CONTAINER_SANDBOX: &str = "/mnt/mesos/sandbox";

/// A running Docker task: its command channel and its loop.
type Running = (mpsc::UnboundedSender<ExecutorCommand>, JoinHandle<()>);

/// Runs Docker tasks; one engine for all the nodes that use it.
#[derive(Default)]
pub struct DockerContainerizer {
    /// By container id.
    running: Mutex<HashMap<String, Running>>,
    shutting_down: AtomicBool,
}

impl DockerContainerizer {
    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<String, Running>> {
        self.running.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn launch_failed(message: String) -> ExecutorEvent {
    ExecutorEvent::Failed {
        message: format!("Failed to launch container: {message}"),
        reason: "REASON_CONTAINER_LAUNCH_FAILED",
        source: TaskStatusSource::SourceAgent,
    }
}

impl Containerizer for Arc<DockerContainerizer> {
    fn launch(&self, spec: LaunchSpec, report: Reporter) -> Option<mpsc::UnboundedSender<ExecutorCommand>> {
        let mut running = self.running();
        if self.shutting_down.load(Ordering::SeqCst) {
            return None;
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let registry = Arc::clone(self);
        let id = spec.container_id.clone();
        let join = tokio::spawn(async move {
            let id = spec.container_id.clone();
            run(spec, rx, report).await;
            registry.running().remove(&id);
        });
        running.insert(id, (tx.clone(), join));
        Some(tx)
    }

    fn shutdown(&self, grace: Duration) -> futures::future::BoxFuture<'_, ()> {
        Box::pin(async move {
            self.shutting_down.store(true, Ordering::SeqCst);
            let joins: Vec<JoinHandle<()>> = self
                .running()
                .drain()
                .map(|(_, (tx, join))| {
                    let _ = tx.send(ExecutorCommand::Shutdown { grace });
                    join
                })
                .collect();
            for join in joins {
                let abort = join.abort_handle();
                if tokio::time::timeout(grace + Duration::from_secs(10), join)
                    .await
                    .is_err()
                {
                    warn!("a Docker task did not stop in time");
                    abort.abort();
                }
            }
        })
    }

    fn kill_all_now(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        // Without waiting, all that can be done is to ask: each task's
        // loop stops its container when its channel says so.
        for (_, (tx, _)) in self.running().drain() {
            let _ = tx.send(ExecutorCommand::Shutdown { grace: Duration::ZERO });
        }
    }
}

/// `docker run`'s parameters localmesos turns into the engine's fields.
fn apply_parameter(body: &mut ContainerCreateBody, key: &str, value: &str) -> Result<(), String> {
    match key {
        "env" | "e" => body.env.get_or_insert_with(Vec::new).push(value.to_string()),
        "label" | "l" => {
            let (k, v) = value.split_once('=').unwrap_or((value, ""));
            body.labels
                .get_or_insert_with(HashMap::new)
                .insert(k.to_string(), v.to_string());
        }
        "user" | "u" => body.user = Some(value.to_string()),
        "workdir" | "w" => body.working_dir = Some(value.to_string()),
        "hostname" | "h" => body.hostname = Some(value.to_string()),
        "entrypoint" => body.entrypoint = Some(vec![value.to_string()]),
        _ => {
            return Err(format!(
                "the docker parameter '{key}' is not supported by localmesos (env, label, user, workdir, hostname, entrypoint are)"
            ));
        }
    }
    Ok(())
}

/// The engine's container for `spec`.
fn container_body(spec: &LaunchSpec, info: &ContainerInfo) -> Result<ContainerCreateBody, String> {
    let docker = info.docker.as_ref().ok_or("a DOCKER container needs 'docker'")?;
    let mut env = vec![
        format!("MESOS_SANDBOX={CONTAINER_SANDBOX}"),
        format!("MESOS_DIRECTORY={}", spec.sandbox.display()),
        format!("MESOS_TASK_ID={}", spec.task_id),
        format!("MESOS_FRAMEWORK_ID={}", spec.framework_id),
        format!("MESOS_EXECUTOR_ID={}", spec.task_id),
        format!("MESOS_AGENT_ID={}", spec.agent_id),
        format!("MESOS_AGENT_ENDPOINT={}", spec.agent_endpoint),
        format!("MESOS_CHECKPOINT={}", if spec.checkpoint { 1 } else { 0 }),
    ];
    for variable in spec.command.environment.iter().flat_map(|e| e.variables.iter()) {
        env.push(format!("{}={}", variable.name, variable.value.as_deref().unwrap_or("")));
    }
    // As Mesos: a shell command runs under `/bin/sh -c`; without a shell
    // the arguments follow the image's entrypoint; no command keeps the
    // image's own.
    let cmd = match (&spec.command.value, spec.command.shell.unwrap_or(true)) {
        (Some(value), true) => Some(vec!["/bin/sh".to_string(), "-c".to_string(), value.clone()]),
        (_, false) if !spec.command.arguments.is_empty() => Some(spec.command.arguments.clone()),
        _ => None,
    };
    let network = docker.network.unwrap_or(DockerNetwork::Host);
    let network_mode = match network {
        DockerNetwork::Host => "host",
        DockerNetwork::Bridge => "bridge",
        DockerNetwork::None => "none",
        DockerNetwork::User | DockerNetwork::Unrecognized => {
            return Err("only HOST, BRIDGE and NONE Docker networks are supported by localmesos".to_string());
        }
    };
    let mut exposed = Vec::new();
    let mut bindings = HashMap::new();
    if !docker.port_mappings.is_empty() && network != DockerNetwork::Bridge {
        return Err("port mappings need the BRIDGE network".to_string());
    }
    for mapping in &docker.port_mappings {
        let key = format!(
            "{}/{}",
            mapping.container_port,
            mapping.protocol.as_deref().unwrap_or("tcp")
        );
        exposed.push(key.clone());
        bindings.insert(
            key,
            Some(vec![PortBinding {
                host_ip: Some("0.0.0.0".to_string()),
                host_port: Some(mapping.host_port.to_string()),
            }]),
        );
    }
    let mut body = ContainerCreateBody {
        image: Some(docker.image.clone()),
        cmd,
        env: Some(env),
        hostname: info.hostname.clone(),
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        host_config: Some(HostConfig {
            network_mode: Some(network_mode.to_string()),
            port_bindings: (!bindings.is_empty()).then_some(bindings),
            binds: Some(vec![format!("{}:{CONTAINER_SANDBOX}", spec.sandbox.display())]),
            privileged: docker.privileged,
            ..HostConfig::default()
        }),
        ..ContainerCreateBody::default()
    };
    for parameter in &docker.parameters {
        apply_parameter(&mut body, &parameter.key, &parameter.value)?;
    }
    Ok(body)
}

/// Pulls `image` when it is absent or `force` says so.
async fn ensure_image(docker: &Docker, image: &str, force: bool) -> Result<(), String> {
    if !force && docker.inspect_image(image).await.is_ok() {
        return Ok(());
    }
    let options = CreateImageOptions {
        from_image: Some(image.to_string()),
        ..CreateImageOptions::default()
    };
    let mut pull = docker.create_image(Some(options), None, None);
    while let Some(step) = pull.next().await {
        step.map_err(|e| format!("Failed to pull image '{image}': {e}"))?;
    }
    docker
        .inspect_image(image)
        .await
        .map(drop)
        .map_err(|e| format!("Failed to pull image '{image}': {e}"))
}

/// Copies the container's output into the sandbox's `stdout` and `stderr`.
async fn copy_logs(docker: Docker, name: String, sandbox: std::path::PathBuf) {
    let open = |file: &str| {
        let path = sandbox.join(file);
        async move { tokio::fs::OpenOptions::new().append(true).open(path).await }
    };
    let (Ok(mut stdout), Ok(mut stderr)) = (open("stdout").await, open("stderr").await) else {
        return;
    };
    let options = LogsOptions {
        follow: true,
        stdout: true,
        stderr: true,
        ..LogsOptions::default()
    };
    let mut logs = docker.logs(&name, Some(options));
    while let Some(Ok(output)) = logs.next().await {
        let result = match output {
            bollard::container::LogOutput::StdErr { message } => stderr.write_all(&message).await,
            other => stdout.write_all(&other.into_bytes()).await,
        };
        if result.is_err() {
            return;
        }
    }
}

async fn run(spec: LaunchSpec, mut rx: mpsc::UnboundedReceiver<ExecutorCommand>, report: Reporter) {
    let Some(info) = spec.container.clone() else {
        report(launch_failed("the task has no DOCKER container".to_string()));
        return;
    };
    let docker = match Docker::connect_with_local_defaults() {
        Ok(docker) => docker,
        Err(e) => {
            report(launch_failed(format!("cannot reach the Docker engine: {e}")));
            return;
        }
    };
    let image = info.docker.as_ref().map(|d| d.image.clone()).unwrap_or_default();
    let force = info.docker.as_ref().and_then(|d| d.force_pull_image).unwrap_or(false);
    let body = match container_body(&spec, &info) {
        Ok(body) => body,
        Err(message) => return report(launch_failed(message)),
    };
    if let Err(message) = ensure_image(&docker, &image, force).await {
        info!(task = %spec.task_id, %message, "cannot launch a Docker task");
        return report(launch_failed(message));
    }
    if let Err(e) = prepare_sandbox(&spec) {
        return report(launch_failed(format!("cannot create the sandbox: {e}")));
    }
    let name = format!("mesos-{}", spec.container_id);
    let options = CreateContainerOptions {
        name: Some(name.clone()),
        ..CreateContainerOptions::default()
    };
    if let Err(e) = docker.create_container(Some(options), body).await {
        return report(launch_failed(format!("cannot create the container: {e}")));
    }
    let remove = async |docker: &Docker| {
        let options = RemoveContainerOptions {
            force: true,
            ..RemoveContainerOptions::default()
        };
        if let Err(e) = docker.remove_container(&name, Some(options)).await {
            debug!(container = %name, error = %e, "cannot remove a container");
        }
    };
    if let Err(e) = docker.start_container(&name, None).await {
        remove(&docker).await;
        return report(launch_failed(format!("cannot start the container: {e}")));
    }
    let inspect = docker.inspect_container(&name, None).await.ok();
    let pid = inspect
        .as_ref()
        .and_then(|i| i.state.as_ref())
        .and_then(|s| s.pid)
        .and_then(|p| u32::try_from(p).ok())
        .filter(|p| *p > 0);
    let address = inspect
        .as_ref()
        .and_then(|i| i.network_settings.as_ref())
        .and_then(|n| n.networks.as_ref())
        .and_then(|n| n.values().find_map(|e| e.ip_address.clone()))
        .and_then(|ip| ip.parse::<Ipv4Addr>().ok())
        .unwrap_or(Ipv4Addr::LOCALHOST);
    tokio::spawn(copy_logs(docker.clone(), name.clone(), spec.sandbox.clone()));
    debug!(task = %spec.task_id, container = %name, "Docker task started");
    report(ExecutorEvent::Started { pid });

    let mut checker = spec
        .health_check
        .clone()
        .map(|check| Checker::new(check, Instant::now()).with_target(address));
    let mut next_check = checker.as_ref().and_then(Checker::first_at);
    let mut probe: Option<CheckFuture> = None;
    let (mut killed, mut silent, mut unhealthy) = (false, false, false);
    let mut wait = Box::pin(docker.wait_container(&name, None));
    let stop = |grace: Duration| {
        let (docker, name) = (docker.clone(), name.clone());
        tokio::spawn(async move {
            let options = StopContainerOptions {
                t: Some(i32::try_from(grace.as_secs()).unwrap_or(i32::MAX)),
                ..StopContainerOptions::default()
            };
            let _ = docker.stop_container(&name, Some(options)).await;
        });
    };
    let exit_code: Option<i64> = loop {
        let probing = probe.is_some();
        tokio::select! {
            waited = wait.next() => {
                break match waited {
                    Some(Ok(response)) => Some(response.status_code),
                    Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Some(code),
                    _ => None,
                };
            }
            command = rx.recv(), if !killed => {
                let grace = match command {
                    Some(ExecutorCommand::Kill { grace }) => {
                        report(ExecutorEvent::Killing);
                        grace
                    }
                    Some(ExecutorCommand::Shutdown { grace }) => {
                        silent = true;
                        grace
                    }
                    None => {
                        silent = true;
                        crate::master::DEFAULT_KILL_GRACE
                    }
                };
                killed = true;
                probe = None;
                next_check = None;
                stop(grace);
            }
            _ = sleep_until_opt(next_check), if !killed && !probing => {
                next_check = None;
                if let Some(checker) = &checker {
                    let (docker, name) = (docker.clone(), name.clone());
                    probe = Some(checker.start(move |command| {
                        let command = command.value.clone().unwrap_or_default();
                        Box::pin(exec_probe(docker, name, command))
                    }));
                }
            }
            result = wait_probe(&mut probe), if !killed && probing => {
                probe = None;
                let now = Instant::now();
                let Some(checker) = &mut checker else { continue };
                next_check = checker.next_at(now);
                let Some(verdict) = checker.record(result, now) else { continue };
                report(ExecutorEvent::Health { healthy: verdict.healthy, message: verdict.message });
                if verdict.kill {
                    info!(task = %spec.task_id, "killing the Docker task: it failed its health check");
                    unhealthy = true;
                    killed = true;
                    next_check = None;
                    report(ExecutorEvent::Killing);
                    stop(spec.kill_grace);
                }
            }
        }
    };
    remove(&docker).await;
    if silent {
        return;
    }
    // `docker stop` ends with SIGTERM or SIGKILL: exit status 128 + signal.
    let (code, signal) = match exit_code {
        Some(code) if killed && code > 128 => (None, i32::try_from(code - 128).ok()),
        Some(code) => (i32::try_from(code).ok(), None),
        None => (None, None),
    };
    report(ExecutorEvent::Exited {
        code,
        signal,
        killed,
        unhealthy,
    });
}

/// How often a running COMMAND probe's exec is looked at.
const EXEC_POLL: Duration = Duration::from_millis(50);

/// Runs a COMMAND probe in the container through the engine's exec API
/// (`sh -c <command>`, output discarded): success for exit status 0. No
/// `docker` client is started; if the probe is dropped before its exec
/// ends (its timeout, or the task ending), [`ExecGuard`] kills the exec's
/// processes, which a `docker exec` client's death would leave running in
/// the container.
async fn exec_probe(docker: Docker, container: String, command: String) -> CheckResult {
    let config = CreateExecOptions {
        cmd: Some(vec!["/bin/sh".to_string(), "-c".to_string(), command]),
        attach_stdin: Some(false),
        attach_stdout: Some(false),
        attach_stderr: Some(false),
        ..CreateExecOptions::default()
    };
    let exec = docker
        .create_exec(&container, config)
        .await
        .map_err(|e| format!("cannot run the command: {e}"))?;
    let mut guard = ExecGuard {
        docker: docker.clone(),
        id: exec.id.clone(),
        ended: false,
    };
    let start = StartExecOptions {
        detach: true,
        ..StartExecOptions::default()
    };
    docker
        .start_exec(&exec.id, Some(start))
        .await
        .map_err(|e| format!("cannot run the command: {e}"))?;
    loop {
        let inspect = docker
            .inspect_exec(&exec.id)
            .await
            .map_err(|e| format!("cannot wait for the command: {e}"))?;
        if inspect.running == Some(false) {
            guard.ended = true;
            let code = inspect.exit_code.map(|c| i32::try_from(c).unwrap_or(i32::MAX));
            return super::command_probe::exit_result(code, None);
        }
        tokio::time::sleep(EXEC_POLL).await;
    }
}

/// Kills a probe's exec, and every process it started, when the probe is
/// dropped before the exec ended.
struct ExecGuard {
    docker: Docker,
    id: String,
    ended: bool,
}

impl Drop for ExecGuard {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        let (docker, id) = (self.docker.clone(), std::mem::take(&mut self.id));
        // The exec's host pid needs the engine: asked from a task of its
        // own, since a drop cannot wait.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let Ok(inspect) = docker.inspect_exec(&id).await else {
                    return;
                };
                let pid = inspect.pid.and_then(|p| i32::try_from(p).ok()).filter(|p| *p > 0);
                if inspect.running == Some(true)
                    && let Some(pid) = pid
                {
                    crate::process_tree::kill_tree(pid);
                }
            });
        }
    }
}
