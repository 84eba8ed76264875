//! A cgroup (v2) per task, where the machine has a writable cgroup2
//! hierarchy: the launcher's own cgroup gets a `localmesos-<pid>` child,
//! and each task (or probe) one below that, which its process joins
//! before its program runs. Every process the task ever starts is then
//! in it, whatever it does (`setsid`, double forks), so stopping the task
//! signals the cgroup's processes and ending it writes `cgroup.kill`.
//!
//! No controller is enabled unless memory limits are on (`memory_limit.rs`):
//! the cgroups only group processes (this works in the unified hierarchy
//! of a hybrid v1/v2 machine too). Where
//! there is none, or it cannot be written, the launcher falls back to a
//! supervisor process per task (`supervisor.rs`).
//!
//! Everything here runs in the single-threaded launcher; `join_fd` is
//! what the task's child uses between fork and exec (one `write`).

use std::ffi::CString;
use std::io::{self, Write as _};
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

/// The launcher's cgroup, parent of one cgroup per task.
pub struct Cgroups {
    root: PathBuf,
}

/// One task's cgroup.
pub struct TaskCgroup {
    dir: PathBuf,
}

/// Where a cgroup hierarchy is mounted, from `/proc/self/mountinfo`: the
/// cgroup2 one (`controller` none), or the v1 one of `controller`.
pub(super) fn mount_of(controller: Option<&str>) -> Option<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    text.lines().find_map(|line| {
        let (mount, rest) = line.split_once(" - ")?;
        let mut rest = rest.split(' ');
        // fstype, source, super options.
        let (fstype, options) = (rest.next()?, rest.nth(1).unwrap_or(""));
        let wanted = match controller {
            None => fstype == "cgroup2",
            Some(c) => fstype == "cgroup" && options.split(',').any(|o| o == c),
        };
        wanted.then(|| mount.split(' ').nth(4).map(PathBuf::from)).flatten()
    })
}

/// This process's cgroup, from `/proc/self/cgroup`: in the cgroup2
/// hierarchy (`controller` none: `0::<path>`), or in the v1 one of
/// `controller`.
pub(super) fn own_cgroup(controller: Option<&str>) -> Option<String> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    text.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (id, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let wanted = match controller {
            None => id == "0" && controllers.is_empty(),
            Some(c) => controllers.split(',').any(|x| x == c),
        };
        wanted.then(|| path.to_string())
    })
}

impl Cgroups {
    /// The launcher's cgroup under its own, created; an error says why
    /// cgroups cannot be used (the caller falls back to supervisors).
    pub fn create() -> Result<Cgroups, String> {
        let mount = mount_of(None).ok_or("no cgroup2 hierarchy is mounted")?;
        let own = own_cgroup(None).ok_or("this process is in no cgroup2 cgroup")?;
        // SAFETY: getpid has no preconditions.
        let pid = unsafe { libc::getpid() };
        let root = mount
            .join(own.trim_start_matches('/'))
            .join(format!("localmesos-{pid}"));
        std::fs::create_dir(&root).map_err(|e| format!("cannot create {}: {e}", root.display()))?;
        let cgroups = Cgroups { root };
        if let Err(error) = cgroups.check_join() {
            cgroups.remove_root();
            return Err(error);
        }
        Ok(cgroups)
    }

    /// A child joins a test cgroup and `cgroup.kill` is there: what every
    /// task will need.
    fn check_join(&self) -> Result<(), String> {
        let test = self.task(0).map_err(|e| format!("cannot create a task cgroup: {e}"))?;
        if !test.dir.join("cgroup.kill").exists() {
            test.remove();
            return Err("the kernel has no cgroup.kill (Linux 5.14 or later)".to_string());
        }
        let procs = match test.open_join() {
            Ok(procs) => procs,
            Err(error) => {
                test.remove();
                return Err(format!("cannot open cgroup.procs: {error}"));
            }
        };
        // SAFETY: the launcher is single-threaded; the child only writes
        // and exits.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let code = if join(procs.as_raw_fd()) { 0 } else { 1 };
            // SAFETY: ends the child.
            unsafe { libc::_exit(code) }
        }
        let mut status = 0;
        if pid > 0 {
            // SAFETY: waits for the child just forked.
            unsafe { libc::waitpid(pid, &mut status, 0) };
        }
        let joined = pid > 0 && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
        test.remove();
        if joined {
            Ok(())
        } else {
            Err(format!("a process cannot join a cgroup under {}", self.root.display()))
        }
    }

    /// Creates the cgroup of launch `id`.
    pub fn task(&self, id: u64) -> io::Result<TaskCgroup> {
        let dir = self.root.join(format!("task-{id}"));
        match std::fs::create_dir(&dir) {
            Ok(()) => {}
            // Left by a task whose cgroup could not be removed yet.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        Ok(TaskCgroup { dir })
    }

    /// Kills every process of every task cgroup and removes them all and
    /// the launcher's cgroup, waiting (reaping the launcher's children
    /// meanwhile) until they are empty.
    pub fn kill_all(&self) {
        let Ok(entries) = std::fs::read_dir(&self.root) else {
            return;
        };
        let dirs: Vec<PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
        for dir in &dirs {
            kill_dir(dir);
        }
        for dir in &dirs {
            for _ in 0..5000 {
                if std::fs::remove_dir(dir).is_ok() || !dir.exists() {
                    break;
                }
                reap_any();
                std::thread::sleep(std::time::Duration::from_millis(1));
                kill_dir(dir);
            }
        }
        self.remove_root();
    }

    fn remove_root(&self) {
        let _ = std::fs::remove_dir(&self.root);
    }

    /// The launcher's cgroup, parent of the tasks'.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl TaskCgroup {
    /// Its `cgroup.procs`, open for a child to write `0` to, to join
    /// (see [`join`]). Open only for a launch: the launcher keeps no fd
    /// per running task, since every fork copies them all and every exec
    /// closes them all (5,000 of them made a launch cost grow with the
    /// tasks already running).
    pub fn open_join(&self) -> io::Result<OwnedFd> {
        open_write(&self.dir.join("cgroup.procs"))
    }

    /// Its directory in the cgroup2 hierarchy.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Sends `signal` to every process in the cgroup.
    pub fn signal(&self, signal: i32) {
        for pid in procs(&self.dir) {
            // SAFETY: a signal to a process id.
            unsafe { libc::kill(pid, signal) };
        }
    }

    /// Kills every process in the cgroup.
    pub fn kill(&self) {
        kill_dir(&self.dir);
    }

    /// Removes the cgroup if no process is left in it; `false` while one
    /// is (a dying process may take a moment).
    pub fn try_remove(&self) -> bool {
        match std::fs::remove_dir(&self.dir) {
            Ok(()) => true,
            Err(e) => e.kind() == io::ErrorKind::NotFound,
        }
    }

    fn remove(self) {
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// Moves the calling process into the cgroup whose `cgroup.procs` is
/// open as `fd`. Async-signal-safe: one `write`.
pub fn join(fd: i32) -> bool {
    // SAFETY: a valid one-byte buffer.
    unsafe { libc::write(fd, c"0".as_ptr().cast(), 1) == 1 }
}

pub(super) fn open_write(path: &Path) -> io::Result<OwnedFd> {
    let path = CString::new(path.as_os_str().as_bytes()).map_err(io::Error::other)?;
    // SAFETY: a valid path; the result is checked.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The processes in the cgroup at `dir`.
fn procs(dir: &Path) -> Vec<libc::pid_t> {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// `cgroup.kill`, or SIGKILL to each process where it cannot be written.
fn kill_dir(dir: &Path) {
    let killed = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join("cgroup.kill"))
        .and_then(|mut f| f.write_all(b"1"));
    if killed.is_err() {
        for pid in procs(dir) {
            // SAFETY: a signal to a process id.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// Reaps whatever children of the launcher have ended.
fn reap_any() {
    let mut status = 0;
    // SAFETY: `status` is writable.
    while unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) } > 0 {}
}
