//! Containerizers: how a node runs its tasks, chosen per node
//! ([`crate::NodeConfig::containerizer`]), all behind one trait that
//! speaks the executor event protocol (`crate::executor`): the master
//! sends commands, the containerizer reports events, and the master turns
//! those into Mesos status updates the same way whatever ran the task.
//!
//! - `process` (`process.rs`): a local process per task (the command
//!   executor's behaviour), started by the task launcher
//!   (`crate::launcher`), as are its COMMAND health checks
//!   (`command_probe.rs`).
//! - `simulated` (`simulated.rs`): no process; a scripted timeline
//!   (`script.rs`) for scale and fault tests.
//! - `docker` (`docker.rs`): DOCKER containers on a real Docker engine;
//!   a docker node runs its other tasks as processes, as an agent with
//!   `--containerizers=docker,mesos`.
//!
//! The process and Docker containerizers fetch a task's URIs into its
//! sandbox first (`fetching.rs`).

mod command_probe;
mod docker;
mod fetching;
mod process;
mod script;
mod simulated;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::mpsc;

use crate::executor::{ExecutorCommand, LaunchSpec, Reporter};
use crate::fetcher::{Fetcher, FetcherLimits};
use crate::launcher::Isolation;
use fetching::Fetching;
pub use script::{LABEL_PREFIX, Script};

/// Runs tasks for the master.
pub trait Containerizer: Send + Sync {
    /// Starts `spec`'s task; returns the channel that commands it, or
    /// `None` once shutting down. `report` is called from the task's own
    /// Tokio task, never from inside `launch` (the master's lock is held).
    fn launch(&self, spec: LaunchSpec, report: Reporter) -> Option<mpsc::UnboundedSender<ExecutorCommand>>;
    /// Stops every task (`grace` before forcing) and waits for them.
    fn shutdown(&self, grace: Duration) -> BoxFuture<'_, ()>;
    /// Forces every task to stop now, without waiting (for `Drop`).
    fn kill_all_now(&self);
}

/// One containerizer of each kind, shared by the nodes that use it.
pub struct Containerizers {
    process: Fetching<Arc<process::ProcessContainerizer>>,
    simulated: simulated::SimulatedContainerizer,
    docker: Fetching<Arc<docker::DockerContainerizer>>,
}

impl Default for Containerizers {
    fn default() -> Self {
        Self::new(FetcherLimits::default(), Isolation::default(), 0)
    }
}

/// What runs a task, or why the node cannot.
pub enum Choice<'a> {
    Run(&'a dyn Containerizer),
    Unsupported(String),
}

impl Containerizers {
    /// Each kind, the process and Docker ones fetching within `limits`,
    /// process tasks isolated as `isolation` says and started by
    /// `launchers` launcher processes (0: as suits the machine).
    pub fn new(limits: FetcherLimits, isolation: Isolation, launchers: usize) -> Self {
        let fetcher = Fetcher::new(limits);
        Self {
            process: Fetching::new(
                Arc::new(process::ProcessContainerizer::new(isolation, launchers)),
                fetcher.clone(),
            ),
            simulated: simulated::SimulatedContainerizer::default(),
            docker: Fetching::new(Arc::new(docker::DockerContainerizer::default()), fetcher),
        }
    }

    /// The containerizer of a node of `kind` for a task that is (or not)
    /// a DOCKER container.
    pub fn for_task(&self, kind: ContainerizerKind, docker_task: bool) -> Choice<'_> {
        match (kind, docker_task) {
            (ContainerizerKind::Docker, true) => Choice::Run(&self.docker),
            (ContainerizerKind::Simulated, _) => Choice::Run(&self.simulated),
            (ContainerizerKind::Process | ContainerizerKind::Docker, false) => Choice::Run(&self.process),
            (ContainerizerKind::Process, true) => Choice::Unsupported(
                "Failed to launch container: Docker containers are not supported by this node's containerizer (process); run the node with containerizer=docker".to_string(),
            ),
        }
    }

    /// Starts the process containerizer's task launcher now (it logs how
    /// tasks are contained) rather than at the first task.
    pub fn start_launcher(&self) {
        let _ = self.process.inner().launcher();
    }

    fn all(&self) -> [&dyn Containerizer; 3] {
        [&self.process, &self.simulated, &self.docker]
    }

    pub async fn shutdown(&self, grace: Duration) {
        for containerizer in self.all() {
            containerizer.shutdown(grace).await;
        }
    }

    pub fn kill_all_now(&self) {
        for containerizer in self.all() {
            containerizer.kill_all_now();
        }
    }
}

/// Which containerizer a node uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ContainerizerKind {
    /// Each task is a local process in its own session and sandbox, as its
    /// user, under a supervisor that ends all its processes with it.
    #[default]
    Process,
    /// No process: each task follows a script (labels `localmesos.sim/…`).
    Simulated,
    /// DOCKER containers on the Docker engine; other tasks as processes.
    Docker,
}

impl ContainerizerKind {
    pub const NAMES: [&'static str; 3] = ["process", "simulated", "docker"];

    pub fn as_str(self) -> &'static str {
        match self {
            ContainerizerKind::Process => "process",
            ContainerizerKind::Simulated => "simulated",
            ContainerizerKind::Docker => "docker",
        }
    }
}

impl fmt::Display for ContainerizerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ContainerizerKind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "process" => Ok(ContainerizerKind::Process),
            "simulated" => Ok(ContainerizerKind::Simulated),
            "docker" => Ok(ContainerizerKind::Docker),
            other => Err(format!(
                "unknown containerizer {other:?}; expected one of {}",
                Self::NAMES.join(", ")
            )),
        }
    }
}
