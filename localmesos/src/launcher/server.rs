//! The launcher process's main loop: reads requests from the master on
//! its stdin (a Unix socket), forks a supervisor (`supervisor.rs`) per
//! task (or health-check probe, `protocol::Role`) from its own small
//! address space (without waiting for the task's exec: each supervisor's
//! report comes on the one report pipe all share, read when it comes),
//! forwards stop requests to the supervisors, and reports each
//! supervisor's exit as the task's. It polls three fds whatever the
//! number of tasks, and holds no fd per task, so a fork's cost does not
//! grow with a burst.
//!
//! When the socket closes (the master stopped, or died: the kernel
//! closes its end), every task is killed and the launcher exits once all
//! are reaped. It runs in its own process group, so a terminal's Ctrl-C
//! reaches the master, which stops the tasks with their grace period.

use std::collections::HashMap;
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};

use super::client::Isolation;
use super::direct::Direct;
use super::prepare;
use super::protocol::{self, Hello, Launch, Request, Response, Stop};
use super::supervisor;

/// Set by the master: `cgroups`, `subreaper` or `auto` (cgroups where the
/// machine allows them, else a supervisor per task).
pub const ISOLATION_ENV: &str = "LOCALMESOS_ISOLATION";

struct Server {
    /// The socket to the master (fd 0).
    socket: i32,
    /// Tasks in cgroups of their own, started by the launcher itself;
    /// `None`: each task under a supervisor (the fields below).
    direct: Option<Direct>,
    /// Set when cgroups were required (`--isolation cgroups`) and cannot
    /// be used: every launch fails with this reason.
    refused: Option<String>,
    /// Why tasks get cgroups or supervisors (the `Hello`'s words).
    isolation_why: String,
    /// Supervisor pid → task id, for tasks that started.
    supervisors: HashMap<libc::pid_t, u64>,
    /// Task id → supervisor pid, from the fork on (a stop request may
    /// come while the task is starting).
    by_id: HashMap<u64, libc::pid_t>,
    /// Supervisors that have not yet said whether their task runs, by pid:
    /// many start at once, so a slow exec never holds up the next launch.
    starting: HashMap<libc::pid_t, Starting>,
    /// The shared report pipe: its read end (non-blocking), bytes of a
    /// report read only in part, and the write end every supervisor
    /// inherits.
    reports: OwnedFd,
    unread: Vec<u8>,
    report_write: OwnedFd,
}

/// A supervisor whose report has not been read yet.
struct Starting {
    id: u64,
    uid: u32,
    gid: u32,
}

/// Runs the launcher until its socket closes; returns the exit code.
pub fn run() -> i32 {
    // SAFETY: plain calls on this process, with valid arguments.
    let signal_fd = unsafe {
        libc::setpgid(0, 0);
        // Dispositions a parent may have set to "ignore" survive exec;
        // the supervisors and tasks need the defaults.
        for signal in [
            libc::SIGTERM,
            libc::SIGHUP,
            libc::SIGINT,
            libc::SIGUSR1,
            libc::SIGCHLD,
            libc::SIGPIPE,
        ] {
            libc::signal(signal, libc::SIG_DFL);
        }
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGCHLD);
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        let fd = libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK);
        if fd < 0 {
            eprintln!(
                "localmesos launcher: cannot create a signalfd: {}",
                std::io::Error::last_os_error()
            );
            return 1;
        }
        OwnedFd::from_raw_fd(fd)
    };
    let (reports, report_write) = match supervisor::pipe() {
        Ok(pair) => pair,
        Err(error) => {
            eprintln!("localmesos launcher: cannot create the report pipe: {error}");
            return 1;
        }
    };
    // SAFETY: a valid fd of ours; reads of it must never block the loop.
    unsafe { libc::fcntl(reports.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
    let asked = std::env::var(ISOLATION_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_default();
    let (direct, isolation) = choose_isolation(asked);
    let refused = (asked == Isolation::Cgroups && direct.is_none())
        .then(|| format!("Failed to launch container: --isolation cgroups, but {}", isolation.why));
    // SAFETY: a plain call on this process. Orphans of tasks come to the
    // launcher (with cgroups) and are reaped, not left to init.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let mut server = Server {
        socket: 0,
        direct,
        refused,
        isolation_why: isolation.why.clone(),
        supervisors: HashMap::new(),
        by_id: HashMap::new(),
        starting: HashMap::new(),
        reports,
        unread: Vec::new(),
        report_write,
    };
    server.send(&isolation);
    let mut input = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let pollfd = |fd: i32| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let mut fds = [
            pollfd(server.socket),
            pollfd(signal_fd.as_raw_fd()),
            pollfd(server.reports.as_raw_fd()),
        ];
        // While a task's cgroup empties, look again soon.
        let timeout = if server.direct.as_ref().is_some_and(Direct::has_ending) {
            5
        } else {
            -1
        };
        // SAFETY: `fds` holds `fds.len()` pollfds.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
        if ready < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            break;
        }
        if fds[2].revents != 0 {
            server.read_reports();
        }
        if fds[1].revents != 0 {
            drain_signal_fd(signal_fd.as_raw_fd());
            server.reap();
        }
        server.send_ended();
        if fds[0].revents != 0 {
            // SAFETY: `chunk` is writable for its length.
            let n = unsafe { libc::read(server.socket, chunk.as_mut_ptr().cast(), chunk.len()) };
            if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            if n <= 0 {
                break;
            }
            input.extend_from_slice(&chunk[..usize::try_from(n).unwrap_or(0)]);
            while let Some(end) = input.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = input.drain(..=end).collect();
                match serde_json::from_slice::<Request>(&line) {
                    Ok(request) => server.handle(request),
                    Err(error) => eprintln!("localmesos launcher: ignoring a request it cannot read: {error}"),
                }
            }
        }
    }
    server.kill_all_and_wait();
    0
}

/// The signals the launcher sends supervisors.
fn stop_signals() -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the set; sigaddset adds valid
    // signals.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for signal in [libc::SIGTERM, libc::SIGUSR1, libc::SIGHUP, libc::SIGINT] {
            libc::sigaddset(&mut set, signal);
        }
        set
    }
}

fn drain_signal_fd(fd: i32) {
    let mut info = [0u8; 128];
    // SAFETY: `info` is writable for its length; the fd is non-blocking.
    while unsafe { libc::read(fd, info.as_mut_ptr().cast(), info.len()) } > 0 {}
}

impl Server {
    fn send<T: serde::Serialize>(&self, response: &T) {
        let Ok(line) = protocol::encode(response) else { return };
        let mut sent = 0;
        while sent < line.len() {
            // SAFETY: the slice from `sent` is valid; MSG_NOSIGNAL turns a
            // closed peer into EPIPE instead of SIGPIPE.
            let n = unsafe {
                libc::send(
                    self.socket,
                    line[sent..].as_ptr().cast(),
                    line.len() - sent,
                    libc::MSG_NOSIGNAL,
                )
            };
            if n < 0 {
                if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return;
            }
            sent += usize::try_from(n).unwrap_or(0);
        }
    }

    fn handle(&mut self, request: Request) {
        match request {
            Request::Launch(launch) => self.launch(&launch),
            Request::Signal { id, stop } => {
                if let Some(direct) = &self.direct {
                    direct.signal(id, stop);
                } else if let Some(&pid) = self.by_id.get(&id) {
                    let signal = match stop {
                        Stop::Term => libc::SIGTERM,
                        Stop::Kill => libc::SIGUSR1,
                    };
                    // SAFETY: a signal to our own (unreaped) child.
                    unsafe { libc::kill(pid, signal) };
                }
            }
        }
    }

    fn launch(&mut self, launch: &Launch) {
        let id = launch.id;
        if let Some(message) = self.refused.clone() {
            return self.send(&Response::SetupFailed { id, message });
        }
        let task = match prepare::prepare(launch) {
            Ok(task) => task,
            Err(message) => return self.send(&Response::SetupFailed { id, message }),
        };
        if let Some(direct) = &mut self.direct {
            let answer = direct.launch(id, &task, launch.memory_limit);
            return self.send(&answer);
        }
        if launch.memory_limit.is_some() {
            let message = format!(
                "Failed to launch container: memory limits are on (--memory-limits), but they need a cgroup \
                 per task, and each task runs under a supervisor here ({})",
                self.isolation_why
            );
            return self.send(&Response::SetupFailed { id, message });
        }
        let (uid, gid) = (task.ids.uid, task.ids.gid);
        let exec_failed = |message: String| Response::ExecFailed { id, message };
        // SAFETY: getpid has no preconditions.
        let me = unsafe { libc::getpid() };
        // The stop signals wait (blocked) in the supervisor until it is
        // ready for them; the mask is inherited by the child.
        let stops = stop_signals();
        let mut before: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: valid sets.
        unsafe { libc::sigprocmask(libc::SIG_BLOCK, &stops, &mut before) };
        // SAFETY: this process is single-threaded, so the child may run
        // any code.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            supervisor::run(&task, me, self.report_write.as_raw_fd());
        }
        // SAFETY: restores the mask saved above.
        unsafe { libc::sigprocmask(libc::SIG_SETMASK, &before, std::ptr::null_mut()) };
        drop(task);
        if pid < 0 {
            let error = std::io::Error::last_os_error();
            return self.send(&exec_failed(format!("Failed to fork: {error}")));
        }
        self.by_id.insert(id, pid);
        self.starting.insert(pid, Starting { id, uid, gid });
    }

    /// Reads every report waiting on the shared pipe and acts on each.
    fn read_reports(&mut self) {
        let mut chunk = [0u8; 64 * supervisor::Report::SIZE];
        loop {
            // SAFETY: `chunk` is writable for its length; the fd is
            // non-blocking.
            let n = unsafe { libc::read(self.reports.as_raw_fd(), chunk.as_mut_ptr().cast(), chunk.len()) };
            if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            let Ok(n @ 1..) = usize::try_from(n) else {
                return; // EAGAIN: nothing more (the write end is ours, so never EOF)
            };
            self.unread.extend_from_slice(&chunk[..n]);
            for report in supervisor::Report::take_all(&mut self.unread) {
                self.started(report.supervisor, Some((report.stage, report.value)));
            }
        }
    }

    /// Acts on what the supervisor `pid` reported about its task's start,
    /// or, with `None`, on its exit without a report.
    fn started(&mut self, pid: libc::pid_t, reported: Option<(i32, i32)>) {
        let Some(starting) = self.starting.remove(&pid) else {
            return;
        };
        let id = starting.id;
        match reported {
            Some((supervisor::STAGE_STARTED, task_pid)) => {
                self.supervisors.insert(pid, id);
                self.send(&Response::Started {
                    id,
                    pid: u32::try_from(task_pid).unwrap_or(0),
                    uid: starting.uid,
                    gid: starting.gid,
                });
            }
            Some((stage, errno)) => {
                self.by_id.remove(&id);
                let error = std::io::Error::from_raw_os_error(errno);
                let message = format!("{}: {error}", supervisor::stage_text(stage));
                self.send(&Response::ExecFailed { id, message });
            }
            None => {
                self.by_id.remove(&id);
                let message = "Failed to start the task's supervisor".to_string();
                self.send(&Response::ExecFailed { id, message });
            }
        }
    }

    /// Reaps every supervisor that ended and reports its task's end.
    fn reap(&mut self) {
        loop {
            let mut status = 0;
            // SAFETY: `status` is writable.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if pid <= 0 {
                return;
            }
            if let Some(direct) = &mut self.direct {
                direct.exited(pid, status);
                continue;
            }
            if self.starting.contains_key(&pid) {
                // Its report, if it wrote one, is in the pipe by now (it
                // wrote before it exited): read it; if there is none, it
                // never wrote one.
                self.read_reports();
                self.started(pid, None);
            }
            let Some(id) = self.supervisors.remove(&pid) else {
                continue; // a supervisor whose task never started
            };
            self.by_id.remove(&id);
            let (code, signal) = if libc::WIFSIGNALED(status) {
                (None, Some(libc::WTERMSIG(status)))
            } else {
                (Some(libc::WEXITSTATUS(status)), None)
            };
            self.send(&Response::Exited {
                id,
                code,
                signal,
                memory_exceeded: None,
            });
        }
    }

    /// Sends the `Exited` of every task (with cgroups) whose last
    /// process is gone.
    fn send_ended(&mut self) {
        let ended = self.direct.as_mut().map(Direct::ended).unwrap_or_default();
        for answer in &ended {
            self.send(answer);
        }
    }

    /// The master is gone: SIGKILL every task and wait for all.
    fn kill_all_and_wait(&mut self) {
        if let Some(direct) = &mut self.direct {
            direct.kill_all();
        }
        for &pid in self.by_id.values() {
            // SAFETY: a signal to our own child.
            unsafe { libc::kill(pid, libc::SIGUSR1) };
        }
        loop {
            let mut status = 0;
            // SAFETY: `status` is writable.
            let pid = unsafe { libc::waitpid(-1, &mut status, 0) };
            if pid < 0 {
                return; // ECHILD
            }
        }
    }
}

/// Cgroups or supervisors, as `asked` and the machine allow; the answer
/// tells the master which, and why.
fn choose_isolation(asked: Isolation) -> (Option<Direct>, Hello) {
    if asked == Isolation::Subreaper {
        let why = "asked for (--isolation subreaper)".to_string();
        return (None, Hello { cgroups: false, why });
    }
    match Direct::start() {
        Ok(direct) => {
            let why = "each task in a cgroup of its own".to_string();
            (Some(direct), Hello { cgroups: true, why })
        }
        Err(why) => (None, Hello { cgroups: false, why }),
    }
}
