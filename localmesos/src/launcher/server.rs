//! The launcher process's main loop: reads requests from the master on
//! its stdin (a Unix socket), forks a supervisor (`supervisor.rs`) per
//! task (or health-check probe, `protocol::Role`) from its own small
//! address space (without waiting for the task's
//! exec: each supervisor's report is read when it comes), forwards stop
//! requests to the supervisors, and reports each supervisor's exit as the
//! task's.
//!
//! When the socket closes (the master stopped, or died: the kernel
//! closes its end), every task is killed and the launcher exits once all
//! are reaped. It runs in its own process group, so a terminal's Ctrl-C
//! reaches the master, which stops the tasks with their grace period.

use std::collections::HashMap;
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};

use super::prepare;
use super::protocol::{self, Launch, Request, Response, Stop};
use super::supervisor;

struct Server {
    /// The socket to the master (fd 0).
    socket: i32,
    /// Supervisor pid → task id, for tasks that started.
    supervisors: HashMap<libc::pid_t, u64>,
    /// Task id → supervisor pid, from the fork on (a stop request may
    /// come while the task is starting).
    by_id: HashMap<u64, libc::pid_t>,
    /// Supervisors that have not yet said whether their task runs, by pid:
    /// many start at once, so a slow exec never holds up the next launch.
    starting: HashMap<libc::pid_t, Starting>,
}

/// A supervisor whose report has not been read yet.
struct Starting {
    id: u64,
    uid: u32,
    gid: u32,
    report: OwnedFd,
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
    let mut server = Server {
        socket: 0,
        supervisors: HashMap::new(),
        by_id: HashMap::new(),
        starting: HashMap::new(),
    };
    let mut input = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let pollfd = |fd: i32| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let starting: Vec<libc::pid_t> = server.starting.keys().copied().collect();
        let mut fds: Vec<libc::pollfd> = [server.socket, signal_fd.as_raw_fd()]
            .into_iter()
            .chain(
                starting
                    .iter()
                    .filter_map(|pid| server.starting.get(pid))
                    .map(|s| s.report.as_raw_fd()),
            )
            .map(pollfd)
            .collect();
        // SAFETY: `fds` holds `fds.len()` pollfds.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if ready < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            break;
        }
        for (pid, fd) in starting.iter().zip(&fds[2..]) {
            if fd.revents != 0 {
                server.started(*pid);
            }
        }
        if fds[1].revents != 0 {
            drain_signal_fd(signal_fd.as_raw_fd());
            server.reap();
        }
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
    fn send(&self, response: &Response) {
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
                if let Some(&pid) = self.by_id.get(&id) {
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
        let task = match prepare::prepare(launch) {
            Ok(task) => task,
            Err(message) => return self.send(&Response::SetupFailed { id, message }),
        };
        let (uid, gid) = (task.ids.uid, task.ids.gid);
        let exec_failed = |message: String| Response::ExecFailed { id, message };
        let (report_read, report_write) = match supervisor::pipe() {
            Ok(pair) => pair,
            Err(error) => return self.send(&exec_failed(format!("Failed to fork: {error}"))),
        };
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
            drop(report_read);
            supervisor::run(&task, me, report_write);
        }
        // SAFETY: restores the mask saved above.
        unsafe { libc::sigprocmask(libc::SIG_SETMASK, &before, std::ptr::null_mut()) };
        drop(report_write);
        drop(task);
        if pid < 0 {
            let error = std::io::Error::last_os_error();
            return self.send(&exec_failed(format!("Failed to fork: {error}")));
        }
        self.by_id.insert(id, pid);
        self.starting.insert(
            pid,
            Starting {
                id,
                uid,
                gid,
                report: report_read,
            },
        );
    }

    /// Reads what the supervisor `pid` reported about its task's start
    /// (it has written it, or exited without).
    fn started(&mut self, pid: libc::pid_t) {
        let Some(starting) = self.starting.remove(&pid) else {
            return;
        };
        let id = starting.id;
        match supervisor::read_pair(starting.report.as_raw_fd()) {
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
            if self.starting.contains_key(&pid) {
                // It ended before its report was read: the report is
                // there (or it never wrote one).
                self.started(pid);
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
            self.send(&Response::Exited { id, code, signal });
        }
    }

    /// The master is gone: SIGKILL every task and wait for all.
    fn kill_all_and_wait(&mut self) {
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
