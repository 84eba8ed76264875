//! Containerizers: how a node runs its tasks, chosen per node
//! ([`crate::NodeConfig::containerizer`]), all behind one trait that
//! speaks the executor event protocol (`crate::executor`): the master
//! sends commands, the containerizer reports events, and the master turns
//! those into Mesos status updates the same way whatever ran the task.
//!
//! - `process` (`process.rs`): a local process per task (the command
//!   executor's behaviour).
//! - `simulated` (`simulated.rs`): no process; a scripted timeline
//!   (`script.rs`) for scale and fault tests.

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
pub(crate) use process::kill_group;
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
    process: Arc<process::ProcessContainerizer>,
    simulated: simulated::SimulatedContainerizer,
}

impl Default for Containerizers {
    fn default() -> Self {
        Self {
            process: Arc::new(process::ProcessContainerizer::default()),
            simulated: simulated::SimulatedContainerizer::default(),
        }
    }
}

impl Containerizers {
    pub fn of(&self, kind: ContainerizerKind) -> &dyn Containerizer {
        match kind {
            ContainerizerKind::Process => &self.process,
            ContainerizerKind::Simulated => &self.simulated,
        }
    }

    fn all(&self) -> [&dyn Containerizer; 2] {
        [&self.process, &self.simulated]
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
    /// Each task is a local process in its own process group and sandbox.
    #[default]
    Process,
    /// No process: each task follows a script (labels `localmesos.sim/…`).
    Simulated,
}

impl ContainerizerKind {
    pub const NAMES: [&'static str; 2] = ["process", "simulated"];

    pub fn as_str(self) -> &'static str {
        match self {
            ContainerizerKind::Process => "process",
            ContainerizerKind::Simulated => "simulated",
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
            other => Err(format!(
                "unknown containerizer {other:?}; expected one of {}",
                Self::NAMES.join(", ")
            )),
        }
    }
}
