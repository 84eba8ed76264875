//! The launcher's wire protocol: what the master asks of its launcher
//! process (`Request`) and what the launcher answers (`Response`), one
//! JSON object per line over the socket between them.
//!
//! A launch is a task or a health-check probe (`Role`): both run in a
//! cgroup of their own or under a supervisor of their own (the first
//! line, `Hello`, says which), are stopped with `Signal` and end
//! with `Exited`; they differ only in what is done to the sandbox and
//! where the program's output goes.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// A task (or a probe) to start.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Launch {
    /// Chosen by the master; names the task in later requests and answers.
    pub id: u64,
    /// The program to execute (looked up in the task's `PATH` when it has
    /// no `/`).
    pub program: String,
    /// `argv`, `argv[0]` included.
    pub argv: Vec<String>,
    /// The task's whole environment (nothing else is inherited).
    pub env: Vec<(String, String)>,
    /// The working directory. For a `Role::Task`, created if absent, mode
    /// 0750, owned by the task's user, with `stdout` and `stderr` (0640)
    /// in it; for a `Role::Probe`, used as it is.
    pub sandbox: PathBuf,
    /// The user to run as (see `prepare::resolve_user`).
    pub user: String,
    /// A task, or a probe inside a running task's sandbox.
    pub role: Role,
    /// The task's memory limit in bytes (`--memory-limits`; `memory_limit.rs`):
    /// none, or the launch fails where it cannot be set.
    pub memory_limit: Option<u64>,
}

/// What a launch is, which decides what happens to its sandbox and where
/// its output goes. Either way the program runs in a cgroup or under a
/// supervisor of its own: `Signal` reaches every process it starts, and
/// none outlives its `Exited`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    /// A task: the sandbox is created if absent, set to 0750 and given
    /// (with what the fetcher put in it) to the task's user, `runs/latest`
    /// points at it, and `stdout` and `stderr` are created (or truncated)
    /// there and receive the program's output.
    Task,
    /// A health check's COMMAND, run in a running task's sandbox: the
    /// sandbox must exist and is left as it is (not created, chmodded,
    /// chowned or linked), and the program's stdout and stderr are
    /// `/dev/null`, so a probe never writes to, nor truncates, the task's
    /// output files. A missing sandbox fails the probe (`ExecFailed`).
    Probe,
}

/// How to stop a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stop {
    /// SIGTERM to every process of the task.
    Term,
    /// SIGKILL to every process of the task.
    Kill,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Request {
    Launch(Launch),
    Signal { id: u64, stop: Stop },
}

/// The launcher's first line, before any `Response`: whether tasks get a
/// cgroup each or a supervisor each (`cgroups: false`), and why.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Hello {
    pub cgroups: bool,
    pub why: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Response {
    /// The program runs as `pid`, with these ids.
    Started { id: u64, pid: u32, uid: u32, gid: u32 },
    /// The task's container could not be set up (its user, its sandbox);
    /// `message` says why, naming what was wrong.
    SetupFailed { id: u64, message: String },
    /// The program could not be executed.
    ExecFailed { id: u64, message: String },
    /// The task's main process ended (and every other process of it was
    /// killed): its exit code, or the signal that ended it.
    Exited {
        id: u64,
        code: Option<i32>,
        signal: Option<i32>,
        /// Set when the kernel killed a process of the task for passing
        /// its memory limit: that limit and the most the task used.
        memory_exceeded: Option<MemoryExceeded>,
    },
}

/// A task's memory limit and the most it used, both in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryExceeded {
    pub limit: u64,
    pub peak: u64,
}

impl MemoryExceeded {
    /// Mesos's words for a task killed for its memory (the `cgroups/mem`
    /// isolator's), in whole megabytes.
    pub fn message(&self) -> String {
        let mb = |bytes: u64| bytes.div_ceil(1024 * 1024);
        format!(
            "Memory limit exceeded: Requested: {}MB Maximum Used: {}MB",
            mb(self.limit),
            mb(self.peak)
        )
    }
}

impl Response {
    pub fn id(&self) -> u64 {
        match self {
            Response::Started { id, .. }
            | Response::SetupFailed { id, .. }
            | Response::ExecFailed { id, .. }
            | Response::Exited { id, .. } => *id,
        }
    }

    /// Whether no answer follows this one for the task.
    pub fn is_last(&self) -> bool {
        !matches!(self, Response::Started { .. })
    }
}

/// One message as a line.
pub fn encode<T: Serialize>(message: &T) -> serde_json::Result<Vec<u8>> {
    let mut line = serde_json::to_vec(message)?;
    line.push(b'\n');
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_memory_limitation_names_the_limit_and_the_peak_in_megabytes() {
        let exceeded = MemoryExceeded {
            limit: 32 * 1024 * 1024,
            peak: 32 * 1024 * 1024 - 4096,
        };
        assert_eq!(
            exceeded.message(),
            "Memory limit exceeded: Requested: 32MB Maximum Used: 32MB"
        );
    }
}
