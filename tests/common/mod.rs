//! Helpers for the end-to-end tests: run the real `sextant` binary on free
//! loopback ports, poll its HTTP APIs, and inspect task processes.

#![allow(dead_code)]

pub mod git_repo;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Generous: CI machines have two cores and build in parallel.
pub const DEADLINE: Duration = Duration::from_secs(90);

pub fn free_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local addr")
}

/// A host port range (`--node-ports`) of its own for each call in this test
/// process, below the ephemeral range: tasks that listen on their ports
/// must not collide with those of another `sextant up` running in parallel.
pub fn node_ports() -> String {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    // Offset by the process id: two test binaries run at once (two
    // checkouts on one machine) would otherwise hand out the same ranges.
    let offset = (std::process::id() % 50) as u16;
    let n = (offset + NEXT.fetch_add(1, Ordering::Relaxed)) % 50;
    let first = 20_000 + n * 200;
    format!("{first}-{}", first + 199)
}

/// A running `sextant up`, stopped (SIGINT) on drop.
pub struct Up {
    pub child: Option<Child>,
    pub api: String,
    pub mesos: String,
    pub dir: tempfile::TempDir,
}

impl Up {
    pub fn manifests(&self) -> PathBuf {
        self.dir.path().join("manifests")
    }

    pub fn pid_dir(&self) -> PathBuf {
        self.dir.path().join("pids")
    }

    /// Starts `sextant up` with an empty manifests directory.
    pub fn start() -> Up {
        Up::start_with(&[])
    }

    /// Starts `sextant up` with an empty manifests directory and extra
    /// flags, e.g. `["--node-cpus", "0.4"]` for a smaller node.
    pub fn start_with(extra: &[&str]) -> Up {
        Up::start_under(&[], extra)
    }

    /// Like `start_with`, with `sextant up` run by `wrapper` (a command
    /// that ends by running the arguments after it, e.g. `unshare
    /// --mount sh -c '…; exec "$@"' sextant`); empty: run directly.
    pub fn start_under(wrapper: &[&str], extra: &[&str]) -> Up {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("manifests")).expect("manifests dir");
        std::fs::create_dir_all(dir.path().join("pids")).expect("pids dir");
        let api_addr = free_addr();
        let mesos_addr = free_addr();
        let agent_addr = free_addr();
        let log = std::fs::File::create(dir.path().join("sextant.log")).expect("log file");
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(env!("CARGO_BIN_EXE_sextant"));
                command
            }
            None => Command::new(env!("CARGO_BIN_EXE_sextant")),
        };
        let child = command
            .arg("up")
            .arg("--manifests")
            .arg(dir.path().join("manifests"))
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .arg("--api-addr")
            .arg(api_addr.to_string())
            .arg("--mesos-addr")
            .arg(mesos_addr.to_string())
            .arg("--agent-addr")
            .arg(agent_addr.to_string())
            .args(extra)
            .args(if extra.contains(&"--node-ports") {
                Vec::new()
            } else {
                vec!["--node-ports".to_string(), node_ports()]
            })
            .env("SEXTANT_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn sextant up");
        let up = Up {
            child: Some(child),
            api: format!("http://{api_addr}"),
            mesos: format!("http://{mesos_addr}"),
            dir,
        };
        up.wait_for("the controller API", || up.healthz());
        up
    }

    fn healthz(&self) -> bool {
        reqwest::blocking_get_ok(&format!("{}/healthz", self.api))
    }

    /// Writes a manifest of a long-running app whose tasks record their pid.
    pub fn write_app(&self, file: &str, name: &str, instances: u32) {
        let manifest = format!(
            "apiVersion: sextant.dev/v1alpha1\nkind: App\nmetadata:\n  name: {name}\nspec:\n  instances: {instances}\n  command: \"echo $$ > {pids}/$SEXTANT_TASK_ID; exec sleep 3600\"\n  resources:\n    cpus: 0.1\n    mem: 16\n  ports:\n    - name: http\n  killGracePeriodSeconds: 2\n",
            pids = self.pid_dir().display()
        );
        self.write_manifest(file, &manifest);
    }

    /// Writes a manifest file atomically (write, then rename), so the
    /// watcher never sees a half-written file.
    pub fn write_manifest(&self, file: &str, manifest: &str) {
        let tmp = self.dir.path().join(format!(".{file}.tmp"));
        std::fs::write(&tmp, manifest).expect("write manifest");
        std::fs::rename(&tmp, self.manifests().join(file)).expect("move manifest");
    }

    /// Every task of `app` the controller reports (live and recently ended).
    pub fn tasks_in_controller(&self, app: &str) -> Vec<serde_json::Value> {
        get_json(&format!("{}/api/v1/tasks", self.api))
            .and_then(|tasks| tasks.as_array().cloned())
            .unwrap_or_default()
            .into_iter()
            .filter(|t| t["app"] == app)
            .collect()
    }

    /// Task ids the controller reports RUNNING for `app`.
    pub fn running_in_controller(&self, app: &str) -> Vec<String> {
        let Some(tasks) = get_json(&format!("{}/api/v1/tasks", self.api)) else {
            return Vec::new();
        };
        tasks
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| t["app"] == app && t["state"] == "TASK_RUNNING")
            .filter_map(|t| t["taskId"].as_str().map(str::to_string))
            .collect()
    }

    /// The app's `running` count in `GET /api/v1/apps`.
    pub fn app_running_count(&self, app: &str) -> Option<u64> {
        let apps = get_json(&format!("{}/api/v1/apps", self.api))?;
        apps.as_array()?
            .iter()
            .find(|a| a["name"] == app)
            .and_then(|a| a["running"].as_u64())
    }

    /// Task ids the Mesos master reports TASK_RUNNING for `app`.
    pub fn running_in_mesos(&self, app: &str) -> Vec<String> {
        running_in_mesos(&self.mesos, app)
    }

    /// Runs the `sextant` CLI against this `sextant up`: exit code,
    /// stdout, stderr.
    pub fn cli(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_sextant"))
            .args(args)
            .args(["--server", &self.api])
            .output()
            .expect("run sextant");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// The pid a task recorded when it started. A task is RUNNING as soon
    /// as its process is spawned, a moment before its shell writes the
    /// file, so this waits for the file rather than read it once.
    pub fn task_pid(&self, task_id: &str) -> Option<i32> {
        let start = Instant::now();
        loop {
            let pid = std::fs::read_to_string(self.pid_dir().join(task_id))
                .ok()
                .and_then(|s| s.trim().parse().ok());
            if pid.is_some() || start.elapsed() > Duration::from_secs(10) {
                return pid;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Every pid any task ever recorded.
    pub fn all_task_pids(&self) -> Vec<i32> {
        std::fs::read_dir(self.pid_dir())
            .expect("pid dir")
            .filter_map(|e| e.ok())
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .filter_map(|s| s.trim().parse().ok())
            .collect()
    }

    /// Waits until `count` tasks have recorded their pid, and returns them:
    /// RUNNING in Mesos comes a moment before a task's shell writes its pid.
    pub fn wait_for_task_pids(&self, count: usize) -> Vec<i32> {
        self.wait_for(&format!("{count} tasks to record their pid"), || {
            self.all_task_pids().len() >= count
        });
        self.all_task_pids()
    }

    pub fn wait_for(&self, what: &str, done: impl FnMut() -> bool) {
        self.wait_within(what, DEADLINE, done);
    }

    /// Like `wait_for`, with a bound of the test's own: for what a user
    /// relies on happening within a given time.
    pub fn wait_within(&self, what: &str, within: Duration, mut done: impl FnMut() -> bool) {
        let start = Instant::now();
        while start.elapsed() < within {
            if done() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "timed out waiting for {what} (within {within:?}); sextant log tail:\n{}",
            self.log_tail(60)
        );
    }

    /// The last `lines` lines of `sextant up`'s log.
    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.dir.path().join("sextant.log"), lines)
    }

    /// `GET /api/v1/apps/default/{name}`: the app's detail (status,
    /// conditions, tasks, revisions); `None` while it is not there.
    pub fn app(&self, name: &str) -> Option<serde_json::Value> {
        get_json(&format!("{}/api/v1/apps/default/{name}", self.api))
    }

    /// Tasks of `app` live in the Mesos master (any non-terminal state).
    pub fn live_in_mesos(&self, app: &str) -> Vec<MesosTask> {
        live_in_mesos(&self.mesos, app)
    }

    /// Like `live_in_mesos`; `None` when the master did not answer.
    pub fn try_live_in_mesos(&self, app: &str) -> Option<Vec<MesosTask>> {
        try_live_in_mesos(&self.mesos, app)
    }

    /// Sends SIGINT and waits for `sextant up` to exit; returns its status.
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        let pid = Pid::from_raw(i32::try_from(child.id()).expect("pid fits"));
        let _ = kill(pid, Signal::SIGINT);
        let start = Instant::now();
        while start.elapsed() < DEADLINE {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("sextant up did not stop within {DEADLINE:?} of SIGINT");
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = Pid::from_raw(i32::try_from(child.id()).unwrap_or(0));
            let _ = kill(pid, Signal::SIGINT);
            for _ in 0..100 {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Task ids the Mesos master at `mesos` (a base URL) reports TASK_RUNNING
/// for `app` (the second part of a Sextant task id).
pub fn running_in_mesos(mesos: &str, app: &str) -> Vec<String> {
    let Some(state) = get_json(&format!("{mesos}/master/state")) else {
        return Vec::new();
    };
    running_tasks_of(&state, app)
        .filter_map(|t| t["id"].as_str().map(str::to_string))
        .collect()
}

/// The tasks a `/master/state` answer lists TASK_RUNNING for `app` (the
/// second part of a Sextant task id).
pub fn running_tasks_of<'a>(state: &'a serde_json::Value, app: &'a str) -> impl Iterator<Item = &'a serde_json::Value> {
    state["frameworks"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|f| f["tasks"].as_array().into_iter().flatten())
        .filter(|t| t["state"] == "TASK_RUNNING")
        .filter(move |t| t["id"].as_str().and_then(|id| id.split('.').nth(1)) == Some(app))
}

/// Mesos task states that are not terminal: the task holds its resources
/// and counts toward a rollout's surge.
pub const MESOS_LIVE_STATES: [&str; 5] = [
    "TASK_STAGING",
    "TASK_STARTING",
    "TASK_RUNNING",
    "TASK_KILLING",
    "TASK_UNREACHABLE",
];

/// A task as the Mesos master lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MesosTask {
    pub id: String,
    pub state: String,
    /// Health in the task's last status, where it had one.
    pub healthy: Option<bool>,
}

impl MesosTask {
    /// The revision part of a Sextant task id
    /// (`<namespace>.<app>.<revision>.<unique>`).
    pub fn revision(&self) -> &str {
        self.id.split('.').nth(2).unwrap_or_default()
    }
}

/// Tasks of `app` the Mesos master at `mesos` (a base URL) lists in a
/// non-terminal state; none while the master does not answer.
pub fn live_in_mesos(mesos: &str, app: &str) -> Vec<MesosTask> {
    try_live_in_mesos(mesos, app).unwrap_or_default()
}

/// Like `live_in_mesos`, but `None` when the master did not answer, for
/// samplers that must tell "no task" from "no answer".
pub fn try_live_in_mesos(mesos: &str, app: &str) -> Option<Vec<MesosTask>> {
    let state = get_json(&format!("{mesos}/master/state"))?;
    let tasks = state["frameworks"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|f| f["tasks"].as_array().into_iter().flatten())
        .filter(|t| MESOS_LIVE_STATES.iter().any(|s| t["state"] == *s))
        .filter_map(|t| {
            Some(MesosTask {
                id: t["id"].as_str()?.to_string(),
                state: t["state"].as_str()?.to_string(),
                healthy: t["statuses"]
                    .as_array()
                    .and_then(|all| all.last())
                    .and_then(|last| last["healthy"].as_bool()),
            })
        })
        .filter(|t| t.id.split('.').nth(1) == Some(app))
        .collect();
    Some(tasks)
}

/// The last `lines` lines of a log file.
pub fn log_tail(path: &Path, lines: usize) -> String {
    let log = std::fs::read_to_string(path).unwrap_or_default();
    let tail: Vec<&str> = log.lines().rev().take(lines).collect();
    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
}

/// Polls `done` every 200 ms until it holds; past `within`, panics naming
/// `what` with the tails of `logs` (for components run as processes).
pub fn wait_within_logs(what: &str, within: Duration, logs: &[&Path], mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < within {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let tails: Vec<String> = logs
        .iter()
        .map(|log| format!("--- {}:\n{}", log.display(), log_tail(log, 40)))
        .collect();
    panic!(
        "timed out waiting for {what} (within {within:?}); logs:\n{}",
        tails.join("\n")
    );
}

/// Runs `sextant <args>` with its log (stderr) in `log`.
pub fn spawn_sextant(args: &[&str], log: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args(args)
        .env("SEXTANT_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("log file"))
        .spawn()
        .expect("spawn sextant")
}

/// A child process stopped with SIGINT (then SIGKILL) when dropped.
pub struct Process(pub Option<Child>);

impl Process {
    pub fn spawn(args: &[&str], log: &Path) -> Process {
        Process(Some(spawn_sextant(args, log)))
    }

    /// Sends `signal` and waits (bounded) for the process to exit.
    pub fn stop_with(&mut self, signal: Signal) {
        let Some(mut child) = self.0.take() else { return };
        if let Ok(pid) = i32::try_from(child.id()) {
            let _ = kill(Pid::from_raw(pid), signal);
        }
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop_with(Signal::SIGINT);
    }
}

/// GET a URL's body as text; None on any failure or non-2xx answer.
pub fn get_text(url: &str) -> Option<String> {
    reqwest::blocking_get_text(url)
}

/// GET a URL and parse JSON; None on any failure (the caller polls).
pub fn get_json(url: &str) -> Option<serde_json::Value> {
    reqwest::blocking_get_json(url)
}

/// Whether a process exists and is not a zombie (zombies are dead processes
/// waiting for a parent that may never reap them in a container).
pub fn alive(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("stat")) else {
        return false;
    };
    // Field 3, after the parenthesised command name.
    let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start().chars().next());
    !matches!(state, Some(Some('Z')) | Some(Some('X')) | None)
}

/// Minimal blocking HTTP helpers over a private runtime, so the tests stay
/// synchronous and independent of the binary's internals.
mod reqwest {
    use std::sync::OnceLock;

    fn runtime() -> &'static tokio::runtime::Runtime {
        static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
        RT.get_or_init(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("test runtime")
        })
    }

    async fn fetch(url: &str) -> Option<(bool, String)> {
        let client = ::reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(5))
            .build()
            .ok()?;
        let response = client.get(url).send().await.ok()?;
        let ok = response.status().is_success();
        Some((ok, response.text().await.ok()?))
    }

    pub fn blocking_get_json(url: &str) -> Option<serde_json::Value> {
        let (ok, body) = runtime().block_on(fetch(url))?;
        if !ok {
            return None;
        }
        serde_json::from_str(&body).ok()
    }

    pub fn blocking_get_text(url: &str) -> Option<String> {
        let (ok, body) = runtime().block_on(fetch(url))?;
        ok.then_some(body)
    }

    pub fn blocking_get_ok(url: &str) -> bool {
        runtime().block_on(fetch(url)).is_some_and(|(ok, _)| ok)
    }

    /// POSTs a body, with HTTP Basic credentials if given; the status and
    /// the `WWW-Authenticate` header.
    pub fn blocking_post(
        url: &str,
        content_type: &str,
        body: &str,
        basic: Option<(&str, &str)>,
    ) -> Option<(u16, Option<String>)> {
        runtime().block_on(async {
            let client = ::reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(5))
                .build()
                .ok()?;
            let mut request = client
                .post(url)
                .header("Content-Type", content_type)
                .body(body.to_string());
            if let Some((principal, secret)) = basic {
                request = request.basic_auth(principal, Some(secret));
            }
            let response = request.send().await.ok()?;
            let challenge = response
                .headers()
                .get("WWW-Authenticate")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            Some((response.status().as_u16(), challenge))
        })
    }
}

/// POST to a URL: the status and the `WWW-Authenticate` challenge.
pub fn post(url: &str, content_type: &str, body: &str, basic: Option<(&str, &str)>) -> (u16, Option<String>) {
    reqwest::blocking_post(url, content_type, body, basic).unwrap_or_else(|| panic!("POST {url}"))
}

/// `sextant local-mesos` on `addr`, with a work dir and host ports of its own.
pub fn local_mesos_args(addr: SocketAddr, work: &Path) -> Vec<String> {
    vec![
        "local-mesos".into(),
        "--addr".into(),
        addr.to_string(),
        "--work-dir".into(),
        work.display().to_string(),
        "--node-ports".into(),
        node_ports(),
    ]
}

/// `sextant agent` for the master at `mesos`, serving gRPC on `addr`.
pub fn agent_args(mesos: SocketAddr, addr: SocketAddr, data: &Path) -> Vec<String> {
    vec![
        "agent".into(),
        "--master".into(),
        format!("http://{mesos}"),
        "--addr".into(),
        addr.to_string(),
        "--data-dir".into(),
        data.display().to_string(),
    ]
}

/// `sextant controller` over `manifests`, for the agent at `agent`, with
/// its API on `api`.
pub fn controller_args(manifests: &Path, agent: SocketAddr, api: SocketAddr, data: &Path) -> Vec<String> {
    vec![
        "controller".into(),
        "--manifests".into(),
        manifests.display().to_string(),
        "--agent".into(),
        format!("http://{agent}"),
        "--api-addr".into(),
        api.to_string(),
        "--data-dir".into(),
        data.display().to_string(),
    ]
}

/// `args` as `spawn` takes them.
pub fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// An HTTP app: `python3 -m http.server` on its `http` port, checked with an
/// HTTP health check on `path` (`/` passes, anything else is a 404).
/// `tag` is echoed first, so a new tag is a new revision. A grace period
/// of 5 s: python3 may take over a second to listen on a loaded machine,
/// and failures before the first success within it do not count.
pub fn http_app(name: &str, instances: u32, tag: &str, path: &str, strategy: &str) -> String {
    format!(
        "apiVersion: sextant.dev/v1alpha1
kind: App
metadata:
  name: {name}
spec:
  instances: {instances}
  command: \"echo {tag}; exec python3 -m http.server $PORT_HTTP --bind 127.0.0.1\"
  resources: {{cpus: 0.1, mem: 32}}
  ports: [{{name: http}}]
  healthCheck:
    http: {{port: http, path: {path}}}
    initialDelaySeconds: 0
    periodSeconds: 1
    timeoutSeconds: 1
    failureThreshold: 2
    gracePeriodSeconds: 5
  strategy: {strategy}
  killGracePeriodSeconds: 1
"
    )
}
