//! A task's supervisor: a process forked by the launcher for each task
//! (and each health-check probe, `protocol::Role::Probe`, which is
//! supervised the same way), that forks the task itself and owns
//! everything the task starts.
//!
//! It is a child subreaper (`PR_SET_CHILD_SUBREAPER`), so every process
//! the task starts stays its descendant, even one that calls `setsid` or
//! double-forks to become a daemon: orphans are reparented to it, not to
//! init. SIGTERM from the launcher sends SIGTERM to every descendant,
//! SIGUSR1 SIGKILL; when the task's main process ends, every other
//! descendant is killed and reaped, and the supervisor exits the way the
//! task did (its exit code, or the same signal), which the launcher reads
//! with `waitpid`. If the launcher dies, the kernel sends the supervisor
//! SIGHUP (`PR_SET_PDEATHSIG`) and it kills every descendant.
//!
//! Runs in a forked copy of the single-threaded launcher, so it may
//! allocate; the task's child between fork and exec does not (everything
//! it needs is in `Prepared`).
//!
//! Every supervisor reports its task's start on one pipe shared by all
//! (a [`Report`] of 12 bytes, one write, so atomic and never interleaved),
//! not on a pipe of its own: with one pipe per supervisor, the launcher
//! held an fd per task still starting, and every fork copied them all and
//! every poll scanned them all, a cost growing with the burst.

use std::os::fd::{AsRawFd as _, OwnedFd};
use std::time::Duration;

use super::prepare::Prepared;

/// Where in the child a failure happened (written to the exec pipe with
/// the errno).
pub const STAGE_STARTED: i32 = 0;
pub const STAGE_IDS: i32 = 1;
pub const STAGE_CHDIR: i32 = 2;
pub const STAGE_EXEC: i32 = 3;
pub const STAGE_FORK: i32 = 4;
pub const STAGE_CGROUP: i32 = 5;

/// What a stage's failure is called in a message.
pub fn stage_text(stage: i32) -> &'static str {
    match stage {
        STAGE_IDS => "Failed to switch to the task's user",
        STAGE_CHDIR => "Failed to enter the sandbox",
        STAGE_FORK => "Failed to fork",
        STAGE_CGROUP => "Failed to enter the task's cgroup",
        _ => "Failed to execute the command",
    }
}

/// The signals the supervisor waits for, blocked.
fn supervisor_signals() -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the set; sigaddset adds valid
    // signals.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for signal in [libc::SIGCHLD, libc::SIGTERM, libc::SIGUSR1, libc::SIGHUP, libc::SIGINT] {
            libc::sigaddset(&mut set, signal);
        }
        set
    }
}

/// Writes `(stage, value)` to `fd` (8 bytes: one write, atomic on a pipe).
fn write_pair(fd: i32, stage: i32, value: i32) {
    let mut bytes = [0u8; 8];
    bytes[..4].copy_from_slice(&stage.to_ne_bytes());
    bytes[4..].copy_from_slice(&value.to_ne_bytes());
    // SAFETY: `bytes` is valid for 8 bytes.
    unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
}

/// In a child between fork and exec: writes the failed `stage` and errno
/// to the exec pipe and exits.
pub fn fail_in_child(exec_write: i32, stage: i32) -> ! {
    write_pair(exec_write, stage, errno());
    // SAFETY: ends the child without running the parent's atexit.
    unsafe { libc::_exit(127) }
}

/// Reads `(stage, value)` from `fd`; `None` at end of file (on an exec
/// pipe: the child exec'd).
pub fn read_pair(fd: i32) -> Option<(i32, i32)> {
    let mut bytes = [0u8; 8];
    let mut got = 0;
    while got < bytes.len() {
        // SAFETY: the slice from `got` is valid for the rest of `bytes`.
        let n = unsafe { libc::read(fd, bytes[got..].as_mut_ptr().cast(), bytes.len() - got) };
        if n == 0 {
            return None;
        }
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return None;
        }
        got += usize::try_from(n).unwrap_or(0);
    }
    let stage = i32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let value = i32::from_ne_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    Some((stage, value))
}

/// What a supervisor says of its task's start, on the shared report
/// pipe: `STAGE_STARTED` and the task's pid, or the stage and errno that
/// stopped it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    pub supervisor: libc::pid_t,
    pub stage: i32,
    pub value: i32,
}

impl Report {
    /// Its size on the pipe: below `PIPE_BUF`, so one write is atomic.
    pub const SIZE: usize = 12;

    fn encode(self) -> [u8; Self::SIZE] {
        let mut bytes = [0u8; Self::SIZE];
        bytes[..4].copy_from_slice(&self.supervisor.to_ne_bytes());
        bytes[4..8].copy_from_slice(&self.stage.to_ne_bytes());
        bytes[8..].copy_from_slice(&self.value.to_ne_bytes());
        bytes
    }

    /// The reports whole in `bytes`; what is left of a last one that is
    /// not stays in `bytes` for the next read.
    pub fn take_all(bytes: &mut Vec<u8>) -> Vec<Report> {
        let whole = bytes.len() / Self::SIZE * Self::SIZE;
        let reports = bytes[..whole]
            .chunks_exact(Self::SIZE)
            .map(|b| {
                let int = |at: usize| i32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
                Report {
                    supervisor: int(0),
                    stage: int(4),
                    value: int(8),
                }
            })
            .collect();
        bytes.drain(..whole);
        reports
    }
}

/// Writes this supervisor's report to the shared pipe `fd` in one write
/// (retried only if a signal interrupted it before anything was written).
fn report(fd: i32, stage: i32, value: i32) {
    // SAFETY: getpid has no preconditions.
    let supervisor = unsafe { libc::getpid() };
    let bytes = Report {
        supervisor,
        stage,
        value,
    }
    .encode();
    loop {
        // SAFETY: `bytes` is valid for its length.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n >= 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return;
        }
    }
}

/// A close-on-exec pipe: (read end, write end).
pub fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` holds two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } == -1 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: pipe2 returned two new descriptors that nothing else owns.
    Ok(unsafe {
        use std::os::fd::FromRawFd as _;
        (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]))
    })
}

/// The supervisor's life, in the launcher's forked child. The shared
/// report pipe `reports` gets `(STAGE_STARTED, pid)` once the task's
/// program runs, or the stage and errno that stopped it.
pub fn run(task: &Prepared, launcher: libc::pid_t, reports: i32) -> ! {
    let signals = supervisor_signals();
    // SAFETY: plain system calls on this process, with valid arguments.
    unsafe {
        libc::sigprocmask(libc::SIG_BLOCK, &signals, std::ptr::null_mut());
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGHUP, 0, 0, 0);
        if libc::getppid() != launcher {
            // The launcher died before the death signal was armed.
            libc::_exit(1);
        }
        // The launcher's socket is on stdin: the task gets /dev/null.
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY);
        if null >= 0 {
            libc::dup2(null, 0);
            libc::close(null);
        }
    }
    let Ok((exec_read, exec_write)) = pipe() else {
        report(reports, STAGE_FORK, libc::EMFILE);
        // SAFETY: ends this process.
        unsafe { libc::_exit(127) }
    };
    // SAFETY: the launcher (and so this copy of it) is single-threaded;
    // the child only calls async-signal-safe functions before exec.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        exec_task(task, exec_write.as_raw_fd());
    }
    if pid < 0 {
        report(reports, STAGE_FORK, errno());
        // SAFETY: ends this process.
        unsafe { libc::_exit(127) }
    }
    drop(exec_write);
    match read_pair(exec_read.as_raw_fd()) {
        None => report(reports, STAGE_STARTED, pid),
        Some((stage, error)) => {
            report(reports, stage, error);
            let mut status = 0;
            // SAFETY: waits for the child that just failed.
            unsafe {
                libc::waitpid(pid, &mut status, 0);
                libc::_exit(127)
            }
        }
    }
    drop(exec_read);
    loop {
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `signals` is initialised and `info` is writable.
        let signal = unsafe { libc::sigwaitinfo(&signals, &mut info) };
        match signal {
            libc::SIGCHLD => {
                if let Some(status) = reap_until_none(pid) {
                    finish(status);
                }
            }
            libc::SIGTERM => {
                kill_descendants(libc::SIGTERM);
            }
            libc::SIGUSR1 | libc::SIGHUP | libc::SIGINT => {
                kill_descendants(libc::SIGKILL);
            }
            _ => {}
        }
    }
}

/// In the forked child: the task's own session, ids, sandbox, output
/// files and environment, then exec. Only async-signal-safe calls.
pub fn exec_task(task: &Prepared, exec_write: i32) -> ! {
    let fail = |stage: i32| -> ! { fail_in_child(exec_write, stage) };
    // SAFETY: every pointer points into `task`, which outlives the exec;
    // the pointer arrays end with a null pointer.
    unsafe {
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        libc::setsid();
        libc::dup2(task.stdout.as_raw_fd(), 1);
        libc::dup2(task.stderr.as_raw_fd(), 2);
        if task.ids.switch {
            // The system calls themselves, not libc's wrappers: those may
            // signal every thread of the process to change its ids too,
            // and a child started by `vfork::spawn` runs in the
            // launcher's memory, where that bookkeeping is the launcher's.
            let groups = (task.ids.groups.len(), task.ids.groups.as_ptr());
            if libc::syscall(libc::SYS_setgroups, groups.0, groups.1) == -1 {
                fail(STAGE_IDS);
            }
            if libc::syscall(libc::SYS_setgid, task.ids.gid) == -1 {
                fail(STAGE_IDS);
            }
            if libc::syscall(libc::SYS_setuid, task.ids.uid) == -1 {
                fail(STAGE_IDS);
            }
        }
        if libc::chdir(task.cwd.as_ptr()) == -1 {
            fail(STAGE_CHDIR);
        }
        libc::execve(
            task.program.as_ptr(),
            task.argv_pointers.as_ptr(),
            task.env_pointers.as_ptr(),
        );
    }
    fail(STAGE_EXEC)
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Reaps every child that ended; returns the wait status of `main` if it
/// was one of them.
fn reap_until_none(main: libc::pid_t) -> Option<i32> {
    let mut found = None;
    loop {
        let mut status = 0;
        // SAFETY: `status` is writable.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid <= 0 {
            return found;
        }
        if pid == main {
            found = Some(status);
        }
    }
}

/// The task's main process ended with `status`: kills and reaps every
/// other descendant, then exits the same way.
fn finish(status: i32) -> ! {
    kill_descendants(libc::SIGKILL);
    loop {
        let mut ignored = 0;
        // SAFETY: `ignored` is writable.
        let pid = unsafe { libc::waitpid(-1, &mut ignored, libc::WNOHANG) };
        if pid < 0 {
            break; // ECHILD: nothing is left
        }
        if pid == 0 {
            // Some are still dying, or one was forked after the last pass.
            std::thread::sleep(Duration::from_millis(1));
            kill_descendants(libc::SIGKILL);
        }
    }
    finish_with(status)
}

/// Exits with the wait status `status`: the same code, or the same signal.
fn finish_with(status: i32) -> ! {
    // SAFETY: plain calls on this process.
    unsafe {
        if libc::WIFSIGNALED(status) {
            let signal = libc::WTERMSIG(status);
            let no_core = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &no_core);
            libc::signal(signal, libc::SIG_DFL);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, signal);
            libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            libc::kill(libc::getpid(), signal);
            libc::_exit(128 + signal);
        }
        libc::_exit(libc::WEXITSTATUS(status))
    }
}

/// Sends `signal` to every descendant of this process.
fn kill_descendants(signal: i32) {
    // SAFETY: getpid has no preconditions.
    crate::process_tree::signal_descendants(unsafe { libc::getpid() }, signal);
}

#[cfg(test)]
mod tests {
    use super::Report;

    /// Guards reading the shared report pipe: reports arrive in reads of
    /// any length (a read may end inside a report), and each is taken
    /// once, whole, in order.
    #[test]
    fn reports_split_across_reads_are_taken_whole_and_in_order() {
        let sent: Vec<Report> = (0..50)
            .map(|i| Report {
                supervisor: 1000 + i,
                stage: i % 6,
                value: -i,
            })
            .collect();
        let bytes: Vec<u8> = sent.iter().flat_map(|r| r.encode()).collect();
        for read in [1, 5, Report::SIZE - 1, Report::SIZE, Report::SIZE + 1, 100, bytes.len()] {
            let mut unread = Vec::new();
            let mut got = Vec::new();
            for chunk in bytes.chunks(read) {
                unread.extend_from_slice(chunk);
                got.extend(Report::take_all(&mut unread));
            }
            assert_eq!(got, sent, "reads of {read} bytes");
            assert!(unread.is_empty(), "reads of {read} bytes leave {unread:?}");
        }
    }
}
