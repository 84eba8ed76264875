//! Tasks (and probes) the launcher starts itself, each in its own cgroup
//! (`cgroup.rs`), with no supervisor process: the launcher starts a child
//! that shares its memory until it execs (`vfork.rs`), the child joins
//! the task's cgroup and execs, and the launcher learns of the exec (or
//! its failure) at once, on a close-on-exec pipe. When a
//! task's main process ends, the rest of its cgroup is killed, and
//! `Exited` goes out once the cgroup is empty and removed.
//!
//! Why not a supervisor per task here: on a machine whose kernel samples
//! page accesses (DAMON), every page a forked supervisor shares with the
//! launcher is walked once per process sharing it, so 5,000 supervisors
//! made a launch cost grow with the square of its size (issue 17's
//! process benchmark: 10.5 s for 5,000 tasks with DAMON off, 24 s on).
//! A task's child execs at once, so it shares nothing.
//!
//! With `--memory-limits`, each task also gets a memory cgroup
//! (`memory_limit.rs`), set up before the child joins it; a task whose
//! cgroup saw an OOM kill says so in its `Exited`.
//!
//! A "sweeper" child of the launcher (one, not one per task) kills every
//! task's cgroup if the launcher itself is killed (`PR_SET_PDEATHSIG`).

use std::collections::HashMap;
use std::os::fd::{AsRawFd as _, OwnedFd};

use super::cgroup::{self, Cgroups, TaskCgroup};
use super::memory_limit::{MemoryCgroups, TaskMemory};
use super::prepare::Prepared;
use super::protocol::{Response, Stop};
use super::supervisor;
use super::vfork::{self, ChildStack};

/// A running task: its launch id, cgroup and memory cgroup (with
/// `--memory-limits`).
struct Running {
    id: u64,
    cgroup: TaskCgroup,
    memory: Option<TaskMemory>,
}

/// A task whose main process ended, waiting for the rest of its cgroup to
/// die before its `Exited` goes out.
struct Ending {
    cgroup: TaskCgroup,
    memory: Option<TaskMemory>,
    exited: Response,
}

pub struct Direct {
    cgroups: Cgroups,
    sweeper: libc::pid_t,
    /// `/dev/null`, the stdin of every task.
    null: OwnedFd,
    /// Main pid → task.
    running: HashMap<libc::pid_t, Running>,
    /// Launch id → main pid.
    by_id: HashMap<u64, libc::pid_t>,
    ending: Vec<Ending>,
    /// The stack each task's child runs on until it execs.
    stack: ChildStack,
    /// Made at the first launch with a memory limit (none otherwise, so
    /// that tasks without one cost no memory cgroup); or why there can
    /// be none.
    memory: Option<Result<MemoryCgroups, String>>,
}

impl Direct {
    /// Cgroups for the launcher's tasks and their sweeper; an error says
    /// why they cannot be used.
    pub fn start() -> Result<Direct, String> {
        let null = std::fs::File::open("/dev/null").map_err(|e| format!("cannot open /dev/null: {e}"))?;
        let stack = ChildStack::new().map_err(|e| format!("cannot map a stack for the tasks' children: {e}"))?;
        let cgroups = Cgroups::create()?;
        let sweeper = match start_sweeper(&cgroups, null.as_raw_fd()) {
            Ok(pid) => pid,
            Err(error) => {
                cgroups.kill_all();
                return Err(error);
            }
        };
        Ok(Direct {
            stack,
            cgroups,
            sweeper,
            null: null.into(),
            running: HashMap::new(),
            by_id: HashMap::new(),
            ending: Vec::new(),
            memory: None,
        })
    }

    /// Starts `task` as launch `id`, limited to `memory_limit` bytes if
    /// given; the answer to send.
    pub fn launch(&mut self, id: u64, task: &Prepared, memory_limit: Option<u64>) -> Response {
        let exec_failed = |message: String| Response::ExecFailed { id, message };
        let cgroup = match self.cgroups.task(id) {
            Ok(cgroup) => cgroup,
            Err(error) => return exec_failed(format!("Failed to create the task's cgroup: {error}")),
        };
        let (exec_read, exec_write) = match supervisor::pipe() {
            Ok(pair) => pair,
            Err(error) => return exec_failed(format!("Failed to fork: {error}")),
        };
        let procs = match cgroup.open_join() {
            Ok(procs) => procs,
            Err(error) => {
                let _ = cgroup.try_remove();
                return exec_failed(format!("Failed to open the task's cgroup: {error}"));
            }
        };
        let (memory, memory_join) = match self.task_memory(id, &cgroup, memory_limit) {
            Ok(pair) => pair,
            Err(message) => {
                let _ = cgroup.try_remove();
                return Response::SetupFailed { id, message };
            }
        };
        let (join_fd, null, exec_fd) = (procs.as_raw_fd(), self.null.as_raw_fd(), exec_write.as_raw_fd());
        let memory_fd = memory_join.as_ref().map(|fd| fd.as_raw_fd());
        // The child only makes system calls on what is prepared here until
        // it execs (it runs in the launcher's memory).
        let mut child = || {
            if !cgroup::join(join_fd) || memory_fd.is_some_and(|fd| !cgroup::join(fd)) {
                supervisor::fail_in_child(exec_fd, supervisor::STAGE_CGROUP);
            }
            // SAFETY: a valid fd; the launcher's socket must not reach the
            // task.
            unsafe { libc::dup2(null, 0) };
            supervisor::exec_task(task, exec_fd)
        };
        let spawned = vfork::spawn(&mut self.stack, &mut child);
        drop(exec_write);
        drop(procs);
        drop(memory_join);
        let pid = match spawned {
            Ok(pid) => pid,
            Err(error) => {
                let _ = cgroup.try_remove();
                if let Some(memory) = &memory {
                    memory.remove();
                }
                return exec_failed(format!("Failed to fork: {error}"));
            }
        };
        match supervisor::read_pair(exec_read.as_raw_fd()) {
            None => {
                self.by_id.insert(id, pid);
                self.running.insert(pid, Running { id, cgroup, memory });
                Response::Started {
                    id,
                    pid: u32::try_from(pid).unwrap_or(0),
                    uid: task.ids.uid,
                    gid: task.ids.gid,
                }
            }
            Some((stage, errno)) => {
                let mut status = 0;
                // SAFETY: the child that just failed.
                unsafe { libc::waitpid(pid, &mut status, 0) };
                let _ = cgroup.try_remove();
                if let Some(memory) = &memory {
                    memory.remove();
                }
                let error = std::io::Error::from_raw_os_error(errno);
                exec_failed(format!("{}: {error}", supervisor::stage_text(stage)))
            }
        }
    }

    /// The memory cgroup of launch `id` and the fd its child joins it by
    /// (v1 only), or none without a limit; an error is the launch's
    /// answer, saying why the limit cannot be set.
    fn task_memory(
        &mut self,
        id: u64,
        cgroup: &TaskCgroup,
        limit: Option<u64>,
    ) -> Result<(Option<TaskMemory>, Option<OwnedFd>), String> {
        let Some(limit) = limit else {
            return Ok((None, None));
        };
        let root = self.cgroups.root().to_path_buf();
        let cgroups = match self.memory.get_or_insert_with(|| MemoryCgroups::create(&root)) {
            Ok(cgroups) => cgroups,
            Err(why) => {
                return Err(format!(
                    "Failed to launch container: memory limits are on (--memory-limits), but {why}"
                ));
            }
        };
        let memory = cgroups
            .task(id, cgroup.dir(), limit)
            .map_err(|e| format!("Failed to launch container: cannot set the task's memory limit: {e}"))?;
        match memory.join_fd() {
            None => Ok((Some(memory), None)),
            Some(Ok(fd)) => Ok((Some(memory), Some(fd))),
            Some(Err(e)) => {
                memory.remove();
                Err(format!(
                    "Failed to launch container: cannot open the task's memory cgroup: {e}"
                ))
            }
        }
    }

    /// Signals every process of launch `id`.
    pub fn signal(&self, id: u64, stop: Stop) {
        let Some(task) = self.by_id.get(&id).and_then(|pid| self.running.get(pid)) else {
            return;
        };
        match stop {
            Stop::Term => task.cgroup.signal(libc::SIGTERM),
            Stop::Kill => task.cgroup.kill(),
        }
    }

    /// The launcher reaped `pid` with `status`: if it was a task's main
    /// process, the rest of the task is killed and the task ends.
    pub fn exited(&mut self, pid: libc::pid_t, status: i32) {
        let Some(task) = self.running.remove(&pid) else {
            return; // an orphan of some task, reparented to the launcher
        };
        self.by_id.remove(&task.id);
        let (code, signal) = if libc::WIFSIGNALED(status) {
            (None, Some(libc::WTERMSIG(status)))
        } else {
            (Some(libc::WEXITSTATUS(status)), None)
        };
        task.cgroup.kill();
        let memory_exceeded = task.memory.as_ref().and_then(TaskMemory::exceeded);
        self.ending.push(Ending {
            cgroup: task.cgroup,
            memory: task.memory,
            exited: Response::Exited {
                id: task.id,
                code,
                signal,
                memory_exceeded,
            },
        });
    }

    /// The `Exited` of every ending task whose cgroup is now empty.
    pub fn ended(&mut self) -> Vec<Response> {
        let mut done = Vec::new();
        self.ending.retain(|ending| {
            if ending.cgroup.try_remove() {
                if let Some(memory) = &ending.memory {
                    memory.remove();
                }
                done.push(ending.exited.clone());
                false
            } else {
                ending.cgroup.kill();
                true
            }
        });
        done
    }

    /// Whether some task waits for its cgroup to empty (the loop then
    /// polls with a timeout).
    pub fn has_ending(&self) -> bool {
        !self.ending.is_empty()
    }

    /// The master is gone: kills every task, removes every cgroup, stops
    /// the sweeper.
    pub fn kill_all(&mut self) {
        self.cgroups.kill_all();
        if let Some(Ok(memory)) = &self.memory {
            memory.remove_all();
        }
        // SAFETY: a signal to our own child.
        unsafe { libc::kill(self.sweeper, libc::SIGTERM) };
    }
}

/// Forks the sweeper: it waits for SIGTERM (the launcher stops it) or
/// SIGHUP (the launcher died), and on SIGHUP kills every task's cgroup.
fn start_sweeper(cgroups: &Cgroups, null: i32) -> Result<libc::pid_t, String> {
    // SAFETY: getpid has no preconditions.
    let launcher = unsafe { libc::getpid() };
    // SAFETY: the launcher is single-threaded, so the child may run any
    // code.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!(
            "cannot start the cgroup sweeper: {}",
            std::io::Error::last_os_error()
        ));
    }
    if pid > 0 {
        return Ok(pid);
    }
    // SAFETY: plain calls on this process.
    unsafe {
        // Not the launcher's socket: the master must see it close when
        // the launcher dies.
        libc::dup2(null, 0);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGHUP);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGHUP, 0, 0, 0);
        let signal = if libc::getppid() != launcher {
            libc::SIGHUP
        } else {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            libc::sigwaitinfo(&set, &mut info)
        };
        if signal == libc::SIGHUP {
            cgroups.kill_all();
            super::memory_limit::remove_v1_left(cgroups.root());
        }
        libc::_exit(0)
    }
}
