//! The master's side of the launcher: starts the launcher process (once,
//! with no `pre_exec`; a fork of this process there costs once, not per
//! task), queues
//! requests to a writer thread (a launch never blocks the caller, who
//! may hold the master's lock), and hands each task's answers to its own
//! channel from a reader thread.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::protocol::{self, Hello, Launch, Request, Response, Stop};

type Waiters = Arc<Mutex<HashMap<u64, mpsc::UnboundedSender<Response>>>>;

/// How the launcher keeps a task's processes together (the
/// `--isolation` flag).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Isolation {
    /// A cgroup per task where the machine has a writable cgroup2
    /// hierarchy (with `cgroup.kill`), else a supervisor per task.
    #[default]
    Auto,
    /// A cgroup per task, or every launch fails saying why not.
    Cgroups,
    /// A supervisor (child subreaper) per task.
    Subreaper,
}

impl Isolation {
    pub fn as_str(self) -> &'static str {
        match self {
            Isolation::Auto => "auto",
            Isolation::Cgroups => "cgroups",
            Isolation::Subreaper => "subreaper",
        }
    }
}

impl std::str::FromStr for Isolation {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "auto" => Ok(Isolation::Auto),
            "cgroups" => Ok(Isolation::Cgroups),
            "subreaper" => Ok(Isolation::Subreaper),
            other => Err(format!(
                "unknown isolation {other:?}: expected auto, cgroups or subreaper"
            )),
        }
    }
}

/// A running launcher process. Dropping it closes the socket: the
/// launcher kills every task it still runs and exits.
pub struct Launcher {
    socket: UnixStream,
    requests: std::sync::mpsc::Sender<Request>,
    waiters: Waiters,
    /// Cleared when the launcher closes its side (it exited or died).
    alive: Arc<AtomicBool>,
    pid: u32,
}

/// Task ids at launchers, unique in this process (a launcher started
/// after another died never sees an id of the old one's tasks).
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A launched task: its id at the launcher and its answers (the channel
/// closes if the launcher goes away).
pub struct Launched {
    pub id: u64,
    pub answers: mpsc::UnboundedReceiver<Response>,
}

fn lock(waiters: &Waiters) -> std::sync::MutexGuard<'_, HashMap<u64, mpsc::UnboundedSender<Response>>> {
    waiters.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Launcher {
    /// Starts the launcher: this binary again, run as launcher by the
    /// crate's constructor.
    pub fn start(isolation: Isolation) -> std::io::Result<Self> {
        super::keep_hook();
        let (socket, theirs) = UnixStream::pair()?;
        let mut child = Command::new("/proc/self/exe")
            .env_clear()
            .env("LOCALMESOS_LAUNCHER", "1")
            .env(super::server::ISOLATION_ENV, isolation.as_str())
            .stdin(Stdio::from(std::os::fd::OwnedFd::from(theirs)))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()?;
        let pid = child.id();
        // The launcher's first line says how it isolates tasks.
        let mut reader = BufReader::new(socket.try_clone()?);
        let mut first = String::new();
        reader.read_line(&mut first)?;
        match serde_json::from_str(&first) {
            Ok(Hello { cgroups: true, why }) => info!(
                pid,
                "localmesos task launcher started: {why}; stopping a task kills every process in it"
            ),
            Ok(Hello { cgroups: false, why }) => info!(
                pid,
                "localmesos task launcher started: each process task runs under its own supervisor, a child subreaper that kills every process of the task with it (no cgroup per task: {why})"
            ),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(std::io::Error::other("the task launcher did not start"));
            }
        }
        let waiters: Waiters = Arc::default();
        let reader_waiters = Arc::clone(&waiters);
        let alive = Arc::new(AtomicBool::new(true));
        let reader_alive = Arc::clone(&alive);
        std::thread::Builder::new()
            .name("localmesos-launcher-reader".to_string())
            .spawn(move || {
                read_answers(reader, &reader_waiters);
                reader_alive.store(false, Ordering::SeqCst);
                // The launcher closed its side: it has exited or is about to.
                let _ = child.wait();
            })?;
        let (requests, queue) = std::sync::mpsc::channel::<Request>();
        let mut writer = socket.try_clone()?;
        std::thread::Builder::new()
            .name("localmesos-launcher-writer".to_string())
            .spawn(move || {
                for request in queue {
                    let Ok(line) = protocol::encode(&request) else { continue };
                    if let Err(error) = writer.write_all(&line) {
                        warn!(%error, "cannot send a request to the task launcher");
                        return;
                    }
                }
            })?;
        Ok(Self {
            socket,
            requests,
            waiters,
            alive,
            pid,
        })
    }

    /// Whether the launcher still answers.
    pub fn is_alive(&self) -> bool {
        self.alive.load(Ordering::SeqCst)
    }

    /// The launcher's process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Asks for a task to be started (never blocks). `launch.id` is set
    /// here.
    pub fn launch(&self, mut launch: Launch) -> Launched {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        launch.id = id;
        let (tx, answers) = mpsc::unbounded_channel();
        lock(&self.waiters).insert(id, tx);
        if self.requests.send(Request::Launch(launch)).is_err() {
            // The writer is gone: the closed channel tells the task.
            lock(&self.waiters).remove(&id);
        }
        Launched { id, answers }
    }

    /// Asks for every process of task `id` to get SIGTERM or SIGKILL.
    pub fn signal(&self, id: u64, stop: Stop) {
        let _ = self.requests.send(Request::Signal { id, stop });
    }
}

impl Drop for Launcher {
    fn drop(&mut self) {
        debug!(pid = self.pid, "closing the task launcher");
        let _ = self.socket.shutdown(std::net::Shutdown::Write);
    }
}

fn read_answers(socket: BufReader<UnixStream>, waiters: &Waiters) {
    for line in socket.lines() {
        let Ok(line) = line else { break };
        let answer: Response = match serde_json::from_str(&line) {
            Ok(answer) => answer,
            Err(error) => {
                warn!(%error, "cannot read an answer of the task launcher");
                continue;
            }
        };
        let id = answer.id();
        let mut waiters = lock(waiters);
        let last = answer.is_last();
        if let Some(tx) = waiters.get(&id) {
            let _ = tx.send(answer);
        }
        if last {
            waiters.remove(&id);
        }
    }
    // Every task still waiting learns that the launcher is gone.
    lock(waiters).clear();
}
