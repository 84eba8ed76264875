//! GitOps end to end, with real processes: `sextant up --git` (the
//! embedded master, the agent and the controller in one process, built in
//! release by `cargo bench`) following a real repository (`git init
//! --bare`, pushed to from a working clone), each figure against its
//! target:
//!
//! 1. **A single commit of 1,000 apps.** The repository's first commit has
//!    one app, so the source is not empty; once it runs, one commit adds
//!    1,000 more (1 instance each, 0.01 cpus and 4 MiB, no ports, on a
//!    node of 64 cpus and 64 GiB), and `POST /api/v1/sources/sync` asks
//!    for the fetch (polls are an hour apart). From the POST: (i) all
//!    1,001 apps listed by `GET /api/v1/apps`, (ii) every app with a task
//!    in `GET /api/v1/tasks` (the agent accepted the launch: PENDING or
//!    later; target ≤ 5 s), (iii) every app with a RUNNING task (reported
//!    if within a minute). Three runs, each on a fresh `sextant up`.
//! 2. **From a webhook to the first launch of a changed app.** A steady
//!    state of five apps; 20 times: a commit changing one app's command is
//!    pushed, the signed push webhook (`POST /api/v1/hooks/git`) is sent,
//!    and `GET /api/v1/apps/default/<app>` is polled every 2 ms until a
//!    task of the new revision appears (any state). Target ≤ 500 ms. The
//!    log lines split it: webhook verified → checked out (fetch and
//!    checkout) → commit synced (load, plan, journal) → launch queued by
//!    the agent → seen in the API.
//!
//! The figures are printed; nothing is asserted on time. Polling costs the
//! controller some CPU (on two cores it competes), so the polls of (1) are
//! 20 ms apart. Every `sextant up` is stopped with SIGINT and waited for.
//!
//! `SEXTANT_BENCH_ONLY=1` or `=2` runs one of the two;
//! `SEXTANT_BENCH_KEEP=1` keeps each run's directory, with its
//! `up/sextant.log`.
//!
//! Only `cargo bench` runs it (without `--bench` it says so and returns,
//! so `cargo test --all-targets` stays quick). Results: `docs/benchmarks.md`.
//!
//! `cargo bench --bench gitops`

use std::collections::HashSet;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

#[path = "support/interrupt.rs"]
mod interrupt;

/// Apps added by the big commit (target 1).
const BIG_COMMIT: usize = 1_000;
/// Runs of target 1.
const BIG_RUNS: usize = 3;
/// Target 1 (ii): every app has a task.
const TARGET_TASKS: Duration = Duration::from_secs(5);
/// How long (iii), all RUNNING, is waited for.
const RUNNING_WITHIN: Duration = Duration::from_secs(60);
/// Between two polls of the app and task lists in target 1.
const LIST_POLL: Duration = Duration::from_millis(20);

/// Apps of the steady state of target 2.
const HOOK_APPS: usize = 5;
/// Changes timed (target 2).
const HOOK_CHANGES: usize = 20;
/// Target 2: webhook to the first launch.
const TARGET_HOOK: Duration = Duration::from_millis(500);
/// Between two polls of the app's detail in target 2.
const DETAIL_POLL: Duration = Duration::from_millis(2);
const SECRET: &str = "bench-secret";

/// Bound on waits for what is not timed (start, steady state).
const SETUP_DEADLINE: Duration = Duration::from_secs(120);

// ---------------------------------------------------------------- git

#[path = "../tests/common/git_repo.rs"]
mod git_repo;
use git_repo::Repo;

/// A long-running app of tiny resources and no ports; `tag` is echoed, so
/// a new tag is a new revision.
fn sleeper(name: &str, tag: &str) -> String {
    format!(
        "apiVersion: sextant.dev/v1alpha1\nkind: App\nmetadata:\n  name: {name}\nspec:\n  instances: 1\n  command: \"echo {tag}; exec sleep 3600\"\n  resources: {{cpus: 0.01, mem: 4}}\n  killGracePeriodSeconds: 1\n"
    )
}

// ---------------------------------------------------------------- sextant up

fn free_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("read the ephemeral port")
}

/// A running `sextant up`; stopped with SIGINT on drop (and waited for).
struct Up {
    child: Option<Child>,
    api: String,
    log: PathBuf,
}

impl Up {
    /// `sextant up --git <url>` with its data and log under `dir`.
    fn start(dir: &Path, url: &str, extra: &[&str]) -> Up {
        let log = dir.join("sextant.log");
        let api_addr = free_addr();
        let child = Command::new(env!("CARGO_BIN_EXE_sextant"))
            .arg("up")
            .args(["--git", url])
            .arg("--data-dir")
            .arg(dir.join("data"))
            .args(["--api-addr", &api_addr.to_string()])
            .args(["--mesos-addr", &free_addr().to_string()])
            .args(["--agent-addr", &free_addr().to_string()])
            .args(extra)
            // The mirror's "checked out" line (debug) splits fetch from load.
            .env("SEXTANT_LOG", "info,sextant_controller::source::git_repo=debug")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("create the log file"))
            .spawn()
            .expect("spawn sextant up");
        Up {
            child: Some(child),
            api: format!("http://{api_addr}"),
            log,
        }
    }

    fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(lines).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    /// Polls `done` every `every` until it holds; past `within`, panics
    /// with the log's tail.
    fn wait(&self, what: &str, within: Duration, every: Duration, mut done: impl FnMut() -> bool) -> Duration {
        let start = Instant::now();
        loop {
            if done() {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < within,
                "timed out waiting for {what} (within {within:?}); sextant log tail:\n{}",
                self.log_tail(40)
            );
            std::thread::sleep(every);
        }
    }

    /// SIGINT, then waits for the exit; returns how long it took.
    fn stop(&mut self) -> Duration {
        match self.child.take() {
            Some(child) => interrupt::interrupt_and_wait(child, SETUP_DEADLINE),
            None => Duration::ZERO,
        }
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        self.stop();
    }
}

// ---------------------------------------------------------------- HTTP

/// A keep-alive client over a private runtime: the bench stays plain.
struct Http {
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
}

impl Http {
    fn new() -> Http {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("build the bench's HTTP runtime");
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("build the HTTP client");
        Http { rt, client }
    }

    /// GET as JSON; `None` on any failure (the caller polls).
    fn get(&self, url: &str) -> Option<Value> {
        self.rt.block_on(async {
            let response = self.client.get(url).send().await.ok()?;
            if !response.status().is_success() {
                return None;
            }
            serde_json::from_slice(&response.bytes().await.ok()?).ok()
        })
    }

    /// POST; the status code (0 when there was no answer).
    fn post(&self, url: &str, headers: &[(&str, &str)], body: &str) -> u16 {
        self.rt.block_on(async {
            let mut request = self.client.post(url).body(body.to_string());
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            request.send().await.map(|r| r.status().as_u16()).unwrap_or(0)
        })
    }
}

/// Apps that have a task in `GET /api/v1/tasks`, and those with one
/// RUNNING.
fn apps_with_tasks(http: &Http, up: &Up) -> (HashSet<String>, HashSet<String>) {
    let mut any = HashSet::new();
    let mut running = HashSet::new();
    let tasks = http.get(&format!("{}/api/v1/tasks", up.api)).unwrap_or(Value::Null);
    for t in tasks.as_array().into_iter().flatten() {
        let Some(app) = t["app"].as_str() else { continue };
        any.insert(app.to_string());
        if t["state"] == "TASK_RUNNING" {
            running.insert(app.to_string());
        }
    }
    (any, running)
}

// ---------------------------------------------------------------- log lines

/// Unix time of a log line's leading RFC 3339 UTC timestamp
/// (`2026-12-01T10:00:00.123456Z`, tracing's default).
fn line_time(line: &str) -> Option<f64> {
    let stamp = line.split_whitespace().next()?.strip_suffix('Z')?;
    let (date, time) = stamp.split_once('T')?;
    let mut d = date.splitn(3, '-').map(str::parse::<i64>);
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let mut t = time.splitn(3, ':');
    let (h, min) = (t.next()?.parse::<f64>().ok()?, t.next()?.parse::<f64>().ok()?);
    let s = t.next()?.parse::<f64>().ok()?;
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    #[allow(clippy::cast_precision_loss)]
    Some(days as f64 * 86_400.0 + h * 3_600.0 + min * 60.0 + s)
}

/// Times of the log's lines containing every one of `parts`, at or after
/// `since` (Unix seconds).
fn log_times(up: &Up, since: f64, parts: &[&str]) -> Vec<f64> {
    let text = std::fs::read_to_string(&up.log).unwrap_or_default();
    text.lines()
        .filter(|l| parts.iter().all(|p| l.contains(p)))
        .filter_map(line_time)
        .filter(|t| *t >= since)
        .collect()
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

// ---------------------------------------------------------------- figures

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// Nearest-rank percentile of sorted values.
fn pct<T: Copy>(sorted: &[T], p: f64) -> T {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}

/// With `SEXTANT_BENCH_KEEP=1`, leaves a run's directory (repository,
/// data, `up/sextant.log`) in place and says where.
fn keep_if_asked(dir: tempfile::TempDir) {
    if std::env::var_os("SEXTANT_BENCH_KEEP").is_some() {
        println!("   kept {}", dir.keep().display());
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

// ---------------------------------------------------------------- 1

/// What one run of target 1 measured, from the POST.
struct BigRun {
    listed: Duration,
    tasks: Duration,
    running: Option<Duration>,
}

fn big_commit_run(http: &Http, run: usize) -> BigRun {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let repo = Repo::in_dir(dir.path());
    repo.write("apps/app-0000.yaml", &sleeper("app-0000", "v1"));
    repo.commit("one app");
    let up_dir = dir.path().join("up");
    std::fs::create_dir_all(&up_dir).expect("create the up directory");
    let mut up = Up::start(
        &up_dir,
        &repo.url(),
        &[
            "--interval",
            "1h",
            "--node-cpus",
            "64",
            "--node-mem",
            "65536",
            "--node-ports",
            "40000-41199",
        ],
    );
    up.wait(
        "the first app running",
        SETUP_DEADLINE,
        Duration::from_millis(100),
        || apps_with_tasks(http, &up).1.contains("app-0000"),
    );

    let t = Instant::now();
    for n in 1..=BIG_COMMIT {
        let name = format!("app-{n:04}");
        repo.write(&format!("apps/group-{:02}/{name}.yaml", n % 20), &sleeper(&name, "v1"));
    }
    repo.commit("1,000 apps");
    eprintln!(
        "run {run}: 1,000 apps committed and pushed in {} (untimed)",
        ms(t.elapsed())
    );

    let all = BIG_COMMIT + 1;
    let since = unix_now();
    let posted = Instant::now();
    let code = http.post(&format!("{}/api/v1/sources/sync", up.api), &[], "");
    assert_eq!(code, 202, "POST /api/v1/sources/sync answered {code}");
    up.wait("every app listed", SETUP_DEADLINE, LIST_POLL, || {
        http.get(&format!("{}/api/v1/apps", up.api))
            .and_then(|apps| apps.as_array().map(Vec::len))
            == Some(all)
    });
    let listed = posted.elapsed();
    let mut running_at = None;
    up.wait("every app with a task", SETUP_DEADLINE, LIST_POLL, || {
        let (any, running) = apps_with_tasks(http, &up);
        if running.len() == all {
            running_at = Some(posted.elapsed());
        }
        any.len() == all
    });
    let tasks = posted.elapsed();
    while running_at.is_none() && posted.elapsed() < RUNNING_WITHIN {
        if apps_with_tasks(http, &up).1.len() == all {
            running_at = Some(posted.elapsed());
        }
        std::thread::sleep(LIST_POLL);
    }

    // Where the time went, from the controller's log.
    let after = |parts: &[&str]| {
        log_times(&up, since, parts)
            .into_iter()
            .map(|t| Duration::from_secs_f64((t - since).max(0.0)))
            .collect::<Vec<_>>()
    };
    let synced = after(&["synced a new commit"]);
    let launches = after(&["launch requested"]);
    let queued = after(&["launch queued"]);
    println!(
        "run {run}: from the POST: all {all} apps listed {}, every app with a task {}, all RUNNING {}",
        secs(listed),
        secs(tasks),
        running_at.map_or_else(|| format!("not within {RUNNING_WITHIN:?}"), secs)
    );
    println!(
        "   log: commit synced at {}; {} launches requested, first {} last {}; {} queued by the agent, last {}",
        synced.first().map_or("?".into(), |d| secs(*d)),
        launches.len(),
        launches.first().map_or("?".into(), |d| secs(*d)),
        launches.last().map_or("?".into(), |d| secs(*d)),
        queued.len(),
        queued.last().map_or("?".into(), |d| secs(*d)),
    );
    let stopped = up.stop();
    println!("   stopped (SIGINT, {all} tasks) in {}", secs(stopped));
    keep_if_asked(dir);
    BigRun {
        listed,
        tasks,
        running: running_at,
    }
}

fn big_commit(http: &Http) -> bool {
    println!(
        "1. a single commit of {BIG_COMMIT} apps, {BIG_RUNS} runs (load average {})",
        loadavg()
    );
    let runs: Vec<BigRun> = (1..=BIG_RUNS).map(|run| big_commit_run(http, run)).collect();
    let median = |f: &dyn Fn(&BigRun) -> Duration| {
        let mut v: Vec<Duration> = runs.iter().map(f).collect();
        v.sort();
        v[v.len() / 2]
    };
    let listed = median(&|r| r.listed);
    let tasks = median(&|r| r.tasks);
    let running: Vec<String> = runs
        .iter()
        .map(|r| r.running.map_or_else(|| "-".into(), secs))
        .collect();
    println!(
        "   median: listed {}, every app with a task {}; all RUNNING per run: {}",
        secs(listed),
        secs(tasks),
        running.join(", ")
    );
    let ok = tasks <= TARGET_TASKS;
    println!(
        "   target every app with a task <= {}: {}",
        secs(TARGET_TASKS),
        verdict(ok)
    );
    ok
}

// ---------------------------------------------------------------- 2

/// Live (non-terminal) states as the API names them.
fn is_live(state: &str) -> bool {
    matches!(
        state,
        "PENDING" | "TASK_STAGING" | "TASK_STARTING" | "TASK_RUNNING" | "TASK_KILLING" | "TASK_UNREACHABLE"
    )
}

/// The steps of one change, from the controller's log (Unix seconds).
const STEPS: [(&str, &[&str]); 4] = [
    ("POST sent -> webhook verified", &["git webhook verified"]),
    ("-> fetched and checked out", &["checked out"]),
    ("-> loaded, planned, journaled", &["synced a new commit"]),
    ("-> launch queued by the agent", &["launch queued"]),
];

fn webhook(http: &Http) -> bool {
    println!(
        "2. from a webhook to the first launch of a changed app, {HOOK_CHANGES} changes (load average {})",
        loadavg()
    );
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let repo = Repo::in_dir(dir.path());
    let names: Vec<String> = (0..HOOK_APPS).map(|n| format!("web-{n}")).collect();
    for name in &names {
        repo.write(&format!("apps/{name}.yaml"), &sleeper(name, "v0"));
    }
    repo.commit("five apps");
    let up_dir = dir.path().join("up");
    std::fs::create_dir_all(&up_dir).expect("create the up directory");
    let secret = up_dir.join("webhook-secret");
    std::fs::write(&secret, SECRET).expect("write the webhook secret");
    let secret_arg = secret.to_str().expect("temporary path is UTF-8");
    let mut up = Up::start(
        &up_dir,
        &repo.url(),
        &[
            "--interval",
            "1h",
            "--webhook-secret-file",
            secret_arg,
            "--node-ports",
            "41200-41299",
        ],
    );
    up.wait("every app running", SETUP_DEADLINE, Duration::from_millis(100), || {
        apps_with_tasks(http, &up).1.len() == HOOK_APPS
    });
    let detail = |name: &str| http.get(&format!("{}/api/v1/apps/default/{name}", up.api));
    let revision = |d: &Value| d["revision"].as_str().unwrap_or_default().to_string();

    let mut total = Vec::new();
    // Per step, its durations; the last: launch queued -> seen in the API.
    let mut steps: Vec<Vec<Duration>> = vec![Vec::new(); STEPS.len() + 1];
    for i in 0..HOOK_CHANGES {
        let name = &names[i % HOOK_APPS];
        let old = detail(name).map(|d| revision(&d)).unwrap_or_default();
        repo.write(&format!("apps/{name}.yaml"), &sleeper(name, &format!("v{}", i + 1)));
        let sha = repo.commit(&format!("change {name}"));
        let body = format!(r#"{{"ref":"refs/heads/main","after":"{sha}"}}"#);
        let signature = sextant_controller::source::webhook::github_signature(SECRET.as_bytes(), body.as_bytes());
        let headers = [
            ("X-Hub-Signature-256", signature.as_str()),
            ("X-GitHub-Event", "push"),
            ("Content-Type", "application/json"),
        ];
        let since = unix_now();
        let posted = Instant::now();
        let code = http.post(&format!("{}/api/v1/hooks/git", up.api), &headers, &body);
        assert_eq!(code, 202, "the signed webhook answered {code}");
        let mut new = String::new();
        up.wait("a task of the new revision", SETUP_DEADLINE, DETAIL_POLL, || {
            let Some(d) = detail(name) else { return false };
            new = revision(&d);
            new != old
                && d["tasks"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|t| t["revision"].as_str() == Some(new.as_str()))
        });
        let elapsed = posted.elapsed();
        total.push(elapsed);
        eprintln!("change {:2} ({name}): {}", i + 1, ms(elapsed));

        // Untimed: the change rolled, old task gone, before the next one.
        up.wait("the change rolled", SETUP_DEADLINE, Duration::from_millis(50), || {
            detail(name).is_some_and(|d| {
                let tasks: Vec<&Value> = d["tasks"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|t| is_live(t["state"].as_str().unwrap_or_default()))
                    .collect();
                !tasks.is_empty()
                    && tasks
                        .iter()
                        .all(|t| t["revision"].as_str() == Some(new.as_str()) && t["state"] == "TASK_RUNNING")
            })
        });
        // The steps, from the log, read once the change rolled (the API
        // can show the task before the controller logs its launch).
        let task = format!("default.{name}.{new}.");
        let mut at = Vec::with_capacity(STEPS.len());
        for (_, parts) in STEPS {
            let mut parts = parts.to_vec();
            if parts == ["launch queued"] {
                parts.push(&task);
            }
            at.push(log_times(&up, since, &parts).first().copied());
        }
        if let Some(at) = at.into_iter().collect::<Option<Vec<f64>>>() {
            let mut prev = since;
            for (k, t) in at.iter().enumerate() {
                steps[k].push(Duration::from_secs_f64((t - prev).max(0.0)));
                prev = *t;
            }
            let seen = since + elapsed.as_secs_f64();
            steps[STEPS.len()].push(Duration::from_secs_f64((seen - prev).max(0.0)));
        }
    }
    let stopped = up.stop();

    let summary = |v: &mut Vec<Duration>| {
        v.sort();
        match v.last() {
            None => "no log lines found".to_string(),
            Some(max) => format!("p50 {} p90 {} max {}", ms(pct(v, 50.0)), ms(pct(v, 90.0)), ms(*max)),
        }
    };
    println!(
        "   webhook POST -> a task of the new revision in the API: {}",
        summary(&mut total)
    );
    println!(
        "   its steps, from the log ({} of {HOOK_CHANGES} changes):",
        steps[0].len()
    );
    for (k, v) in steps.iter_mut().enumerate() {
        let label = STEPS
            .get(k)
            .map_or("-> seen in GET /api/v1/apps/default/<app>", |s| s.0);
        println!("      {label:<44} {}", summary(v));
    }
    println!("   stopped (SIGINT) in {}", secs(stopped));
    keep_if_asked(dir);
    let ok = pct(&total, 90.0) <= TARGET_HOOK && total[total.len() - 1] <= TARGET_HOOK;
    println!("   target <= {} (p90 and max): {}", ms(TARGET_HOOK), verdict(ok));
    ok
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("gitops: a benchmark; run it with `cargo bench --bench gitops`");
        return;
    }
    let only = std::env::var("SEXTANT_BENCH_ONLY").unwrap_or_default();
    println!(
        "gitops: real `sextant up --git` processes; load average at start: {}",
        loadavg()
    );
    let http = Http::new();
    if only.is_empty() || only == "1" {
        big_commit(&http);
    }
    if only.is_empty() || only == "2" {
        webhook(&http);
    }
    println!("load average at the end: {}", loadavg());
}
