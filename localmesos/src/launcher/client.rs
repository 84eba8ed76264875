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
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
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

/// The running launcher processes (`--task-launchers`): a task's requests go
/// to the one its id picks. Dropping this closes their sockets: each
/// launcher kills every task it still runs and exits.
///
/// Why more than one: a launcher waits for each task's exec before it
/// starts the next (`vfork.rs`), so one launcher is a chain of launch,
/// exec, wake-up, launch, with a CPU idle whenever the chain waits to be
/// scheduled. Two chains keep both CPUs of a 2-core machine busy.
pub struct Launcher {
    shards: Vec<Shard>,
    waiters: Waiters,
    /// Whose turn it is to start the next task.
    next_shard: AtomicUsize,
}

/// One launcher process.
struct Shard {
    socket: UnixStream,
    requests: std::sync::mpsc::Sender<Request>,
    /// Cleared when the launcher closes its side (it exited or died).
    alive: Arc<AtomicBool>,
    pid: u32,
}

/// Task ids at launchers, unique in this process (a launcher started
/// after another died never sees an id of the old one's tasks), times
/// `MAX_LAUNCHERS`: the rest says which launcher has the task.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The most launcher processes (`--task-launchers`).
pub const MAX_LAUNCHERS: usize = 16;

/// How many launchers to start when not told: one per CPU, at least 2 and
/// at most 4. On 2 cores, 2 started 5,000 tasks 11–23 % sooner than one
/// did; 4 were no sooner than 2, and the master's answers got slower
/// (the launchers compete with it for the CPUs): docs/benchmarks.md.
pub fn default_launchers() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from).clamp(2, 4)
}

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
    /// Starts `count` launchers (0: `default_launchers`): this binary
    /// again, run as launcher by the crate's constructor.
    pub fn start(isolation: Isolation, count: usize) -> std::io::Result<Self> {
        super::keep_hook();
        let waiters: Waiters = Arc::default();
        let count = if count == 0 {
            default_launchers()
        } else {
            count.min(MAX_LAUNCHERS)
        };
        let mut shards = Vec::with_capacity(count);
        for index in 0..count {
            // On an error, those started close their sockets as `shards`
            // drops, and exit.
            shards.push(Shard::start(isolation, index, count, &waiters)?);
        }
        Ok(Self {
            shards,
            waiters,
            next_shard: AtomicUsize::new(0),
        })
    }

    /// Whether every launcher still answers.
    pub fn is_alive(&self) -> bool {
        self.shards.iter().all(|shard| shard.alive.load(Ordering::SeqCst))
    }

    fn shard_of(&self, id: u64) -> &Shard {
        // An id of an earlier set of launchers (a stop sent after they were
        // replaced) may name an index this set does not have.
        &self.shards[shard_index(id) % self.shards.len()]
    }

    /// Asks for a task to be started (never blocks). `launch.id` is set
    /// here: the launchers take turns, and the id says whose task it is.
    pub fn launch(&self, mut launch: Launch) -> Launched {
        let shard = self.next_shard.fetch_add(1, Ordering::Relaxed) % self.shards.len();
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed) * MAX_LAUNCHERS as u64 + shard as u64;
        launch.id = id;
        let (tx, answers) = mpsc::unbounded_channel();
        lock(&self.waiters).insert(id, tx);
        if self.shard_of(id).requests.send(Request::Launch(launch)).is_err() {
            // The writer is gone: the closed channel tells the task.
            lock(&self.waiters).remove(&id);
        }
        Launched { id, answers }
    }

    /// Asks for every process of task `id` to get SIGTERM or SIGKILL.
    pub fn signal(&self, id: u64, stop: Stop) {
        let _ = self.shard_of(id).requests.send(Request::Signal { id, stop });
    }
}

/// The launcher of task `id` (its index, below `MAX_LAUNCHERS`).
fn shard_index(id: u64) -> usize {
    (id % MAX_LAUNCHERS as u64) as usize
}

impl Shard {
    /// Starts launcher `index` of `count`, whose answers go to `waiters`.
    fn start(isolation: Isolation, index: usize, count: usize, waiters: &Waiters) -> std::io::Result<Self> {
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
            Ok(Hello { cgroups: true, why }) if index == 0 => info!(
                pid,
                launchers = count,
                "localmesos task launcher started: {why}; stopping a task kills every process in it"
            ),
            Ok(Hello { cgroups: false, why }) if index == 0 => info!(
                pid,
                launchers = count,
                "localmesos task launcher started: each process task runs under its own supervisor, a child subreaper that kills every process of the task with it (no cgroup per task: {why})"
            ),
            Ok(_) => debug!(pid, index, "localmesos task launcher started"),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(std::io::Error::other("the task launcher did not start"));
            }
        }
        let reader_waiters = Arc::clone(waiters);
        let alive = Arc::new(AtomicBool::new(true));
        let reader_alive = Arc::clone(&alive);
        std::thread::Builder::new()
            .name("localmesos-launcher-reader".to_string())
            .spawn(move || {
                read_answers(reader, &reader_waiters);
                reader_alive.store(false, Ordering::SeqCst);
                // Every task of this launcher still waiting learns that it
                // is gone; the other launchers' tasks run on.
                lock(&reader_waiters).retain(|&id, _| shard_index(id) != index);
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
            alive,
            pid,
        })
    }
}

impl Drop for Shard {
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
}
