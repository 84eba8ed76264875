//! The whole of Sextant at scale: a real `sextant up` (the embedded master,
//! the agent and the controller in one process, built in release by `cargo
//! bench`) on `--nodes K` simulated nodes (`--containerizer simulated`: no
//! process per task), started on a manifests directory of N apps of M
//! instances (0.01 cpus and 1 MiB each, no ports), timed from the spawn
//! until every task is RUNNING.
//!
//! Every second it samples, each with its own clock:
//!
//! - the master's `GET /metrics/snapshot` (`master/tasks_running`,
//!   `tasks_staging`, `tasks_starting`): a small answer whatever the size,
//!   so it stays cheap at 100,000 tasks; this is the count the rate is read
//!   from;
//! - the controller's `GET /api/v1/apps` (its `running` summed over the
//!   apps, and how long the request took, whole body read);
//! - the process's resident memory (`VmRSS` in `/proc/<pid>/status`) and
//!   its CPU time (`utime + stime` in `/proc/<pid>/stat`).
//!
//! The run ends when the controller counts every task RUNNING, or at the
//! time cap (then it says how far it got). Then `GET /api/v1/apps` is
//! timed 20 more times at rest. The figures are printed; nothing is
//! asserted on time.
//!
//! `SEXTANT_BENCH_APPS` (1000), `SEXTANT_BENCH_INSTANCES` (100),
//! `SEXTANT_BENCH_NODES` (1000), `SEXTANT_BENCH_CAP_SECS` (1200),
//! `SEXTANT_BENCH_KEEP=1` keeps the run's directory (with `sextant.log`).
//! The environment is passed on to `sextant up`: `TOKIO_WORKER_THREADS=6`
//! runs it on six runtime workers instead of one per core.
//!
//! Only `cargo bench --bench scale` runs it (without `--bench` it says so
//! and returns). Results: `docs/benchmarks.md`.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

#[path = "support/interrupt.rs"]
mod interrupt;

/// Nomad's C1M: 1,000,000 containers on 5,000 hosts, five servers.
const NOMAD_C1M_PER_SEC: f64 = 3_750.0;
/// Between two samples.
const SAMPLE: Duration = Duration::from_secs(1);
/// Requests of the app list timed at rest, once every task runs.
const AT_REST: usize = 20;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn free_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("read the ephemeral port")
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split(' ').take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// One manifest file per app.
fn write_manifests(dir: &Path, apps: usize, instances: usize) {
    std::fs::create_dir_all(dir).expect("create the manifests directory");
    for i in 0..apps {
        let text = format!(
            "apiVersion: sextant.dev/v1alpha1\nkind: App\nmetadata:\n  name: app-{i:04}\nspec:\n  instances: {instances}\n  command: \"simulated\"\n  resources: {{cpus: 0.01, mem: 1}}\n  killGracePeriodSeconds: 1\n"
        );
        std::fs::write(dir.join(format!("app-{i:04}.yaml")), text).expect("write a manifest");
    }
}

/// Resident memory in MiB.
fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// User + system CPU seconds of the process.
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // After the command's closing parenthesis: field 3 onwards.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return f64::NAN;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 (1-based), 11 and 12 here.
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(f64::NAN);
    (ticks(11) + ticks(12)) / clk_tck()
}

/// Clock ticks a second (`getconf CLK_TCK`; 100 on every Linux this runs on).
fn clk_tck() -> f64 {
    static HZ: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *HZ.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// A running `sextant up`; stopped with SIGINT on drop (and waited for).
struct Up {
    child: Option<Child>,
    api: String,
    mesos: String,
    log: PathBuf,
}

impl Up {
    fn start(dir: &Path, nodes: usize) -> Up {
        let log = dir.join("sextant.log");
        let api_addr = free_addr();
        let mesos_addr = free_addr();
        let child = Command::new(env!("CARGO_BIN_EXE_sextant"))
            .arg("up")
            .arg("--manifests")
            .arg(dir.join("manifests"))
            .arg("--data-dir")
            .arg(dir.join("data"))
            .args(["--api-addr", &api_addr.to_string()])
            .args(["--mesos-addr", &mesos_addr.to_string()])
            .args(["--agent-addr", &free_addr().to_string()])
            .args(["--containerizer", "simulated"])
            .args(["--nodes", &nodes.to_string()])
            .args(["--node-cpus", "64", "--node-mem", "65536"])
            .env(
                "SEXTANT_LOG",
                std::env::var("SEXTANT_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("create the log file"))
            .spawn()
            .expect("spawn sextant up");
        Up {
            child: Some(child),
            api: format!("http://{api_addr}"),
            mesos: format!("http://{mesos_addr}"),
            log,
        }
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    fn exited(&mut self) -> bool {
        self.child.as_mut().is_none_or(|c| matches!(c.try_wait(), Ok(Some(_))))
    }

    fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(lines).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    /// SIGINT, then waits for the exit (killed after two minutes).
    fn stop(&mut self) -> Duration {
        match self.child.take() {
            Some(child) => interrupt::interrupt_and_wait(child, Duration::from_secs(120)),
            None => Duration::ZERO,
        }
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The master's task counts: (running, staging + starting).
async fn master_counts(client: &reqwest::Client, mesos: &str) -> Option<(u64, u64)> {
    let v: Value = client
        .get(format!("{mesos}/metrics/snapshot"))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    let n = |k: &str| v[k].as_f64().map_or(0, |f| f as u64);
    Some((
        n("master/tasks_running"),
        n("master/tasks_staging") + n("master/tasks_starting"),
    ))
}

/// `GET /api/v1/apps`: (apps listed, their RUNNING summed, body bytes),
/// and how long it took, body read and parsed.
async fn app_list(client: &reqwest::Client, api: &str) -> (Option<(usize, u64, usize)>, Duration) {
    let start = Instant::now();
    let result = async {
        let response = client.get(format!("{api}/api/v1/apps")).send().await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        let body = response.bytes().await.ok()?;
        let v: Value = serde_json::from_slice(&body).ok()?;
        let apps = v.as_array()?;
        let running = apps.iter().map(|a| a["running"].as_u64().unwrap_or(0)).sum();
        Some((apps.len(), running, body.len()))
    }
    .await;
    (result, start.elapsed())
}

#[derive(Clone, Copy, Default)]
struct Sample {
    at: f64,
    master_running: u64,
    controller_running: u64,
    rss: f64,
    cpu: f64,
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn latency_line(name: &str, mut v: Vec<f64>) -> String {
    v.sort_by(f64::total_cmp);
    format!(
        "{name}: n={} median {:.0} ms, p90 {:.0} ms, max {:.0} ms",
        v.len(),
        pct(&v, 50.0),
        pct(&v, 90.0),
        pct(&v, 100.0)
    )
}

#[allow(clippy::too_many_lines, clippy::cast_precision_loss)]
fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("scale: a benchmark; run it with `cargo bench --bench scale`");
        return;
    }
    let apps = env_usize("SEXTANT_BENCH_APPS", 1_000);
    let instances = env_usize("SEXTANT_BENCH_INSTANCES", 100);
    let nodes = env_usize("SEXTANT_BENCH_NODES", 1_000);
    let cap = Duration::from_secs(env_usize("SEXTANT_BENCH_CAP_SECS", 1_200) as u64);
    let keep = std::env::var("SEXTANT_BENCH_KEEP").is_ok_and(|v| v == "1");
    let total = (apps * instances) as u64;
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);

    println!(
        "scale: {apps} apps x {instances} instances = {total} tasks on {nodes} simulated nodes, one `sextant up`; {cores} cores; load average at start: {}",
        loadavg()
    );
    let dir = tempfile::tempdir().expect("tempdir");
    write_manifests(&dir.path().join("manifests"), apps, instances);

    let spawned = Instant::now();
    let mut up = Up::start(dir.path(), nodes);
    let pid = up.pid();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("build the bench's runtime");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("build the HTTP client");

    let mut samples: Vec<Sample> = Vec::new();
    let mut list_latency: Vec<f64> = Vec::new();
    let mut list_bytes = 0usize;
    let mut api_up: Option<f64> = None;
    let mut first_running: Option<f64> = None;
    let mut all_running: Option<f64> = None;
    let mut exited = false;
    println!(
        "    t (s) | master RUNNING | pending | controller RUNNING | rate (/s, last s) | RSS (MiB) | CPU (%) | GET /api/v1/apps (ms)"
    );
    rt.block_on(async {
        // The app list in its own task: at size it may take longer than a
        // sample period, and the master's count must keep its clock.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let lister = {
            let client = client.clone();
            let api = up.api.clone();
            tokio::spawn(async move {
                loop {
                    let next = tokio::time::Instant::now() + SAMPLE;
                    let (result, took) = app_list(&client, &api).await;
                    if tx.send((result, took)).is_err() {
                        return;
                    }
                    tokio::time::sleep_until(next).await;
                }
            })
        };
        let mut last_list: Option<(usize, u64, usize, f64)> = None;
        let mut tick = tokio::time::interval(SAMPLE);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let at = spawned.elapsed().as_secs_f64();
            while let Ok((result, took)) = rx.try_recv() {
                if let Some((n, running, bytes)) = result {
                    api_up.get_or_insert(at);
                    let ms = took.as_secs_f64() * 1e3;
                    list_latency.push(ms);
                    list_bytes = bytes;
                    last_list = Some((n, running, bytes, ms));
                }
            }
            let (master_running, master_pending) = master_counts(&client, &up.mesos).await.unwrap_or_default();
            let sample = Sample {
                at,
                master_running,
                controller_running: last_list.map_or(0, |l| l.1),
                rss: rss_mib(pid),
                cpu: cpu_secs(pid),
            };
            let (rate, cpu_pct) = samples.last().map_or((0.0, 0.0), |p: &Sample| {
                let dt = (sample.at - p.at).max(1e-9);
                (
                    (sample.master_running as f64 - p.master_running as f64) / dt,
                    (sample.cpu - p.cpu) / dt * 100.0,
                )
            });
            if master_running > 0 {
                first_running.get_or_insert(at);
            }
            println!(
                "{at:>9.1} | {master_running:>14} | {master_pending:>7} | {:>18} | {rate:>17.0} | {:>9.1} | {cpu_pct:>7.0} | {}",
                sample.controller_running,
                sample.rss,
                last_list.map_or_else(|| "-".to_string(), |l| format!("{:.0} ({} apps)", l.3, l.0)),
            );
            samples.push(sample);
            if last_list.is_some_and(|l| l.1 >= total) {
                all_running = Some(at);
                break;
            }
            if spawned.elapsed() >= cap {
                break;
            }
            if up.exited() {
                exited = true;
                break;
            }
        }
        lister.abort();
    });
    if exited {
        println!("sextant up EXITED during the run; log tail:\n{}", up.log_tail(40));
    }
    let last = samples.last().copied().unwrap_or_default();
    let peak_rss = samples.iter().map(|s| s.rss).fold(0.0, f64::max);
    // The best rate over any 10 s window (or the whole run, if shorter).
    let window = (last.at - samples.first().map_or(0.0, |s| s.at)).min(10.0);
    let mut peak10 = 0.0f64;
    for (i, s) in samples.iter().enumerate() {
        if let Some(p) = samples[..i].iter().rev().find(|p| s.at - p.at >= window) {
            peak10 = peak10.max((s.master_running as f64 - p.master_running as f64) / (s.at - p.at));
        }
    }

    // At rest: the list, timed one request at a time.
    let mut rest_latency = Vec::new();
    if all_running.is_some() {
        rt.block_on(async {
            for _ in 0..AT_REST {
                let (result, took) = app_list(&client, &up.api).await;
                if result.is_some() {
                    rest_latency.push(took.as_secs_f64() * 1e3);
                }
            }
        });
    }
    let rest_rss = rss_mib(pid);

    println!();
    println!(
        "scale: {apps} x {instances} = {total} tasks on {nodes} simulated nodes; load average at start above, at the end: {}",
        loadavg()
    );
    if let Some(t) = api_up {
        println!("  API answering          {t:>8.1} s after the spawn");
    }
    if let Some(t) = first_running {
        println!("  first task RUNNING     {t:>8.1} s after the spawn (master's count)");
    }
    match all_running {
        Some(t) => {
            let from_first = t - first_running.unwrap_or(0.0);
            println!(
                "  all {total} RUNNING   {t:>8.1} s after the spawn (controller's count); {:.0} tasks/s from the spawn, {:.0} tasks/s from the first RUNNING",
                total as f64 / t,
                total as f64 / from_first.max(1e-9)
            );
        }
        None => println!(
            "  NOT all RUNNING within the cap of {} s: the master counts {} RUNNING ({:.1} %), the controller {}; {:.0} tasks/s from the spawn",
            cap.as_secs(),
            last.master_running,
            last.master_running as f64 * 100.0 / total as f64,
            last.controller_running,
            last.master_running as f64 / last.at.max(1e-9)
        ),
    }
    println!("  best 10 s rate         {peak10:>8.0} tasks/s");
    println!(
        "  Nomad C1M              {NOMAD_C1M_PER_SEC:>8.0} tasks/s (1,000,000 containers, 5,000 hosts, five servers); this run's best 10 s is {:.1} % of it, its whole-run rate {:.1} %",
        peak10 * 100.0 / NOMAD_C1M_PER_SEC,
        (last.master_running as f64 / last.at.max(1e-9)) * 100.0 / NOMAD_C1M_PER_SEC
    );
    println!(
        "  resident (one process)  peak {peak_rss:.1} MiB, at the end {:.1} MiB, at rest {rest_rss:.1} MiB",
        last.rss
    );
    println!("  CPU used               {:.1} s over {:.1} s", last.cpu, last.at);
    println!(
        "  {}",
        latency_line("GET /api/v1/apps during the run (one a second)", list_latency)
    );
    if !rest_latency.is_empty() {
        println!(
            "  {} ({} bytes)",
            latency_line("GET /api/v1/apps at rest, all RUNNING", rest_latency),
            list_bytes
        );
    }
    let stopped = up.stop();
    println!("  stopped (SIGINT)       {:.1} s", stopped.as_secs_f64());
    if keep {
        let kept = dir.keep();
        println!("  kept {}", kept.display());
    }
}
