//! The executor event protocol: what the master orders a containerizer to
//! do with a task (`ExecutorCommand`), what a containerizer reports about
//! it (`ExecutorEvent`), and what it needs to start one (`LaunchSpec`).
//! The master turns the events into `TaskStatus`es with the command
//! executor's texts (`master::status_update`).

use std::path::PathBuf;
use std::time::Duration;

use mesos::types::{CommandInfo, HealthCheck, TaskStatusSource};

/// Orders from the master to an executor.
#[derive(Debug, Clone, Copy)]
pub enum ExecutorCommand {
    /// Kill the task (SIGTERM, then SIGKILL after `grace`) and report it.
    Kill { grace: Duration },
    /// Kill the task without reporting (framework removed, shutdown).
    Shutdown { grace: Duration },
}

/// What an executor reports.
#[derive(Debug, Clone)]
pub enum ExecutorEvent {
    /// The task runs (`pid`: its process, where it has one).
    Started { pid: Option<u32> },
    /// A kill began (SIGTERM sent).
    Killing,
    /// A health check result worth reporting (the first success, the
    /// first success after failures, every counted failure).
    Health { healthy: bool, message: Option<String> },
    /// The process ended: exit code, or the signal that killed it;
    /// `unhealthy` if it was killed for failing its health check.
    Exited {
        code: Option<i32>,
        signal: Option<i32>,
        killed: bool,
        unhealthy: bool,
    },
    /// The agent ended the task TASK_FAILED, with this reason: its
    /// container could not start, its executor died, or it passed a limit
    /// (its memory) and was killed for it.
    Failed {
        message: String,
        reason: &'static str,
        source: TaskStatusSource,
    },
    /// Killed before it started (while its URIs were being fetched).
    KilledBeforeStart,
}

/// Everything needed to start a task.
#[derive(Debug, Clone)]
pub struct LaunchSpec {
    pub framework_id: String,
    pub agent_id: String,
    pub task_id: String,
    pub container_id: String,
    pub sandbox: PathBuf,
    pub command: CommandInfo,
    /// The user the task runs as (`CommandInfo.user`, else
    /// `FrameworkInfo.user`).
    pub user: String,
    pub agent_endpoint: String,
    pub checkpoint: bool,
    /// `TaskInfo.health_check`, already validated.
    pub health_check: Option<HealthCheck>,
    /// Grace between SIGTERM and SIGKILL when a failing health check kills
    /// the task.
    pub kill_grace: Duration,
    /// `TaskInfo.labels` (a simulated task's script is there).
    pub labels: Vec<(String, String)>,
    /// The node's script for simulated tasks (labels override it).
    pub simulation: crate::containerizer::Script,
    /// `TaskInfo.container` (a Docker task's image, network, ports).
    pub container: Option<mesos::types::ContainerInfo>,
    /// The task's `mem` in bytes, as a hard limit for a process task
    /// (`--memory-limits`); none when limits are off.
    pub memory_limit: Option<u64>,
}

/// Where reports go.
pub type Reporter = Box<dyn Fn(ExecutorEvent) + Send + Sync>;

/// What glibc's `strsignal` says, which the command executor puts in
/// "Command terminated with signal …".
pub fn signal_description(signal: i32) -> String {
    let text = match signal {
        libc::SIGHUP => "Hangup",
        libc::SIGINT => "Interrupt",
        libc::SIGQUIT => "Quit",
        libc::SIGILL => "Illegal instruction",
        libc::SIGTRAP => "Trace/breakpoint trap",
        libc::SIGABRT => "Aborted",
        libc::SIGBUS => "Bus error",
        libc::SIGFPE => "Floating point exception",
        libc::SIGKILL => "Killed",
        libc::SIGUSR1 => "User defined signal 1",
        libc::SIGSEGV => "Segmentation fault",
        libc::SIGUSR2 => "User defined signal 2",
        libc::SIGPIPE => "Broken pipe",
        libc::SIGALRM => "Alarm clock",
        libc::SIGTERM => "Terminated",
        libc::SIGCHLD => "Child exited",
        libc::SIGCONT => "Continued",
        libc::SIGSTOP => "Stopped (signal)",
        libc::SIGTSTP => "Stopped",
        libc::SIGTTIN => "Stopped (tty input)",
        libc::SIGTTOU => "Stopped (tty output)",
        libc::SIGURG => "Urgent I/O condition",
        libc::SIGXCPU => "CPU time limit exceeded",
        libc::SIGXFSZ => "File size limit exceeded",
        libc::SIGVTALRM => "Virtual timer expired",
        libc::SIGPROF => "Profiling timer expired",
        libc::SIGWINCH => "Window changed",
        libc::SIGIO => "I/O possible",
        libc::SIGSYS => "Bad system call",
        _ => return format!("Unknown signal {signal}"),
    };
    text.to_string()
}
