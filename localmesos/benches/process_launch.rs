//! Process tasks at scale: 1,000 then 5,000 `sleep` tasks launched
//! through ACCEPTs (10 nodes, one ACCEPT each) by a `mesos` client; how
//! long from the first offer until every task is TASK_RUNNING (as the
//! scheduler hears it, every update acknowledged), the ratio of the two
//! (5× the tasks should cost at most 5× the time), and the latency of the
//! operator endpoints (`GET /master/state`, `GET /metrics/snapshot`)
//! sampled throughout each launch (target: at most 50 ms).
//!
//! It also counts the CPU time each part used until every task ran
//! (`cpu.rs`): the master's process, the launcher, the tasks themselves,
//! and the whole machine (`/proc/stat`). localmesos's own share (master
//! and launcher) per task at both sizes says whether its cost is
//! linear, apart from what the kernel spends on ever more processes.
//!
//! Each master runs in a child process (this binary again, with
//! `SEXTANT_BENCH_SERVE=1`); `SEXTANT_BENCH_BALLAST_MB` makes that process
//! touch that much memory first, to show that a launch does not cost more
//! in a bigger process. `SEXTANT_BENCH_SIZES` (`1000,5000`) changes the
//! sizes; `SEXTANT_BENCH_REPEAT` (5) how many runs of each, alternated,
//! whose median is the size's time; `SEXTANT_BENCH_LAUNCHERS` the
//! number of task launchers (`--task-launchers`; 0, the default: as
//! suits the machine); `SEXTANT_BENCH_MEMORY_LIMITS=1` turns on
//! `--memory-limits` (a memory cgroup per task). Every run's sandboxes stay until the
//! end of the bench (`WORK_DIR_ENV`).
//!
//! After each run, the same number of `sleep`s is started by the kernel
//! alone (`kernel.rs`), alternated with the runs in the same way, and its
//! ratio printed beside localmesos's: the part of the ratio that no
//! launcher can remove on this machine.
//!
//! `cargo bench -p localmesos --bench process_launch`

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use localmesos::{LocalMesosConfig, NodeConfig};
use mesos::types::*;

#[path = "process_launch/cpu.rs"]
mod cpu;
#[path = "process_launch/kernel.rs"]
mod kernel;

const NODES: usize = 10;
/// The work directory of one run's master, made by the bench under one
/// directory for all runs that is removed only at the end: on ext4,
/// inodes freed less than about a minute before are skipped one by one
/// when new ones are allocated (`find_inode_bit`, `recently_deleted`),
/// so a run right after the removal of the last run's 6,000 sandboxes
/// cost up to 4 times as much (4.5 ms a task against 1 ms).
const WORK_DIR_ENV: &str = "SEXTANT_BENCH_WORK_DIR";
/// Connections acknowledging updates at once.
const ACKERS: usize = 8;
/// Time between two samples of the operator endpoints, unless
/// `SEXTANT_BENCH_SAMPLE_MS` says otherwise (0: no sampling).
fn sample_every() -> Option<Duration> {
    let ms: u64 = std::env::var("SEXTANT_BENCH_SAMPLE_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    (ms > 0).then(|| Duration::from_millis(ms))
}

fn serve(tasks: usize) {
    raise_open_files();
    let ballast_mb: usize = std::env::var("SEXTANT_BENCH_BALLAST_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    // Touched, so that it is resident and in the page tables.
    let ballast = vec![1u8; ballast_mb * 1024 * 1024];
    std::hint::black_box(&ballast);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let dir = std::path::PathBuf::from(std::env::var(WORK_DIR_ENV).expect("the run's work directory"));
        let mut config = LocalMesosConfig::new("127.0.0.1:0".parse().expect("addr"), dir);
        config.offer_interval = Duration::from_millis(100);
        config.task_launchers = std::env::var("SEXTANT_BENCH_LAUNCHERS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        config.memory_limits = std::env::var("SEXTANT_BENCH_MEMORY_LIMITS").is_ok_and(|v| v == "1");
        let per_node = tasks.div_ceil(NODES);
        config.nodes = (1..=NODES)
            .map(|i| NodeConfig {
                hostname: format!("node-{i}"),
                cpus: per_node as f64 * 0.01,
                mem: per_node as f64,
                ..NodeConfig::default()
            })
            .collect();
        let master = localmesos::start(config).await.expect("start localmesos");
        println!("{}", master.url());
        // Until the parent closes stdin.
        let mut line = String::new();
        let _ = tokio::task::spawn_blocking(move || std::io::stdin().read_line(&mut line)).await;
        master.shutdown().await;
    });
    drop(ballast);
}

fn raise_open_files() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is writable; setrlimit reads it.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

fn task(offer: &Offer, j: usize) -> TaskInfo {
    TaskInfo {
        name: format!("t{j}"),
        task_id: TaskId::new(format!("{}-{j}", offer.hostname)),
        agent_id: offer.agent_id.clone(),
        resources: vec![Resource::scalar("cpus", 0.01), Resource::scalar("mem", 1.0)],
        command: Some(CommandInfo {
            value: Some("sleep".into()),
            arguments: vec!["sleep".into(), "3600".into()],
            shell: Some(false),
            ..CommandInfo::default()
        }),
        labels: None,
        health_check: None,
        kill_policy: None,
        container: None,
    }
}

struct Run {
    tasks: usize,
    running_after: Duration,
    /// (endpoint, latency) samples during the launch.
    samples: Vec<(&'static str, Duration)>,
    /// CPU time spent from the first offer until every task ran.
    cpu: cpu::Spent,
    /// Each run's time, when this is the median of several.
    each: String,
}

/// The median run's time, with every run's samples.
fn median_run(mut runs: Vec<Run>) -> Run {
    runs.sort_by_key(|r| r.running_after);
    let each = runs
        .iter()
        .map(|r| format!("{:.0} ms", ms(r.running_after)))
        .collect::<Vec<_>>()
        .join(", ");
    let samples = runs.iter().flat_map(|r| r.samples.iter().copied()).collect();
    let middle = runs.swap_remove(runs.len() / 2);
    Run {
        samples,
        each,
        ..middle
    }
}

fn launch(tasks: usize, work_dir: &std::path::Path) -> Run {
    let mut child = Command::new(std::env::current_exe().expect("this binary"))
        .env("SEXTANT_BENCH_SERVE", tasks.to_string())
        .env(WORK_DIR_ENV, work_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the master");
    let mut url = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut url)
        .expect("the master's url");
    let url = url.trim().to_string();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let per_node = tasks.div_ceil(NODES);
    let run = runtime.block_on(async {
        let client = mesos::Client::new(&url).expect("client");
        let info = FrameworkInfo {
            user: String::new(),
            name: "process-bench".into(),
            roles: vec!["*".into()],
            capabilities: vec![FrameworkCapability {
                kind: Some(FrameworkCapabilityType::MultiRole),
            }],
            ..FrameworkInfo::default()
        };
        let sub = client.subscribe(info).await.expect("subscribe");
        let (caller, mut events) = (sub.caller, sub.events);
        let ackers: Vec<tokio::sync::mpsc::UnboundedSender<TaskStatus>> = (0..ACKERS)
            .map(|_| {
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<TaskStatus>();
                let caller = caller.clone();
                tokio::spawn(async move {
                    while let Some(status) = rx.recv().await {
                        if let (Some(uuid), Some(agent)) = (status.uuid.clone(), status.agent_id.clone()) {
                            let _ = caller.acknowledge(agent, status.task_id.clone(), uuid).await;
                        }
                    }
                });
                tx
            })
            .collect();
        let samples = Arc::new(Mutex::new(Vec::new()));
        let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let sampler = {
            let (samples, sampling, url) = (Arc::clone(&samples), Arc::clone(&sampling), url.clone());
            tokio::spawn(async move {
                let Some(every) = sample_every() else { return };
                let http = reqwest::Client::new();
                while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                    for endpoint in ["/master/state", "/metrics/snapshot"] {
                        let started = Instant::now();
                        let ok = match http.get(format!("{url}{endpoint}")).send().await {
                            Ok(response) => response.bytes().await.is_ok(),
                            Err(_) => false,
                        };
                        if ok {
                            samples.lock().expect("samples").push((endpoint, started.elapsed()));
                        }
                    }
                    tokio::time::sleep(every).await;
                }
            })
        };
        let master_pid = child.id();
        let mut first_offer: Option<Instant> = None;
        let mut cpu_at_start = None;
        let mut accepted = HashSet::new();
        let mut running = 0usize;
        let mut launched = 0usize;
        while running < tasks {
            let event = events.next().await.expect("stream");
            if let Some(offers) = event.offers {
                first_offer.get_or_insert_with(Instant::now);
                cpu_at_start.get_or_insert_with(|| cpu::Reading::now(master_pid));
                for offer in offers.offers {
                    if launched >= tasks || !accepted.insert(offer.agent_id.clone()) {
                        continue;
                    }
                    let count = per_node.min(tasks - launched);
                    launched += count;
                    let batch = (0..count).map(|j| task(&offer, j)).collect();
                    caller
                        .accept(vec![offer.id.clone()], batch, 3600.0)
                        .await
                        .expect("ACCEPT");
                }
            }
            if let Some(update) = event.update {
                match update.status.state {
                    TaskState::TaskRunning => running += 1,
                    TaskState::TaskStarting => {}
                    other => panic!(
                        "task {} ended {}: {:?}",
                        update.status.task_id.value,
                        other.as_str(),
                        update.status.message
                    ),
                }
                let slot = update.status.task_id.value.bytes().map(usize::from).sum::<usize>() % ACKERS;
                let _ = ackers[slot].send(update.status);
            }
        }
        let running_after = first_offer.map(|t| t.elapsed()).unwrap_or_default();
        let cpu = cpu_at_start
            .map(|start| cpu::Reading::now(master_pid).since(&start, master_pid))
            .unwrap_or_default();
        sampling.store(false, std::sync::atomic::Ordering::Relaxed);
        let _ = sampler.await;
        let samples = samples.lock().expect("samples").clone();
        Run {
            tasks,
            running_after,
            samples,
            cpu,
            each: String::new(),
        }
    });
    drop(child.stdin.take());
    let _ = child.wait();
    run
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    if let Ok(tasks) = std::env::var("SEXTANT_BENCH_SERVE") {
        serve(tasks.parse().expect("a task count"));
        return;
    }
    if let Ok(tasks) = std::env::var(kernel::ENV) {
        kernel::serve(tasks.parse().expect("a task count"));
        return;
    }
    let sizes: Vec<usize> = std::env::var("SEXTANT_BENCH_SIZES")
        .unwrap_or_else(|_| "1000,5000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let ballast = std::env::var("SEXTANT_BENCH_BALLAST_MB").unwrap_or_else(|_| "0".into());
    let repeat: usize = std::env::var("SEXTANT_BENCH_REPEAT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
        .max(1);
    // The sizes alternate (1,000, 5,000, 1,000, …), so that a machine
    // slowing down over the runs weighs on both alike; each size's time
    // is the median of its runs, its samples all of theirs.
    let mut all: Vec<Vec<Run>> = sizes.iter().map(|_| Vec::new()).collect();
    let mut kernel_runs: Vec<Vec<Duration>> = sizes.iter().map(|_| Vec::new()).collect();
    let mut kernel_cgroups = false;
    let runs_dir = tempfile::tempdir().expect("tempdir");
    for round in 0..repeat {
        for (i, &n) in sizes.iter().enumerate() {
            let work_dir = runs_dir.path().join(format!("run-{round}-{n}"));
            std::fs::create_dir(&work_dir).expect("a run's work directory");
            all[i].push(launch(n, &work_dir));
            let (took, cgroups) = kernel::run(n);
            kernel_runs[i].push(took);
            kernel_cgroups = cgroups;
        }
    }
    drop(runs_dir);
    let runs: Vec<Run> = all.into_iter().map(median_run).collect();
    println!(
        "process tasks: `sleep 3600` through {NODES} ACCEPTs, master process with {ballast} MB of ballast, {repeat} run(s) per size"
    );
    let mut worst = Duration::ZERO;
    for run in &runs {
        println!(
            "  {:>5} tasks: all TASK_RUNNING {:>8.0} ms after the first offer ({:.2} ms per task; runs: {})",
            run.tasks,
            ms(run.running_after),
            ms(run.running_after) / run.tasks as f64,
            run.each
        );
        println!("      CPU per task      {}", run.cpu.per_task(run.tasks));
        for endpoint in ["/master/state", "/metrics/snapshot"] {
            let mut latencies: Vec<Duration> = run
                .samples
                .iter()
                .filter(|(e, _)| *e == endpoint)
                .map(|(_, d)| *d)
                .collect();
            latencies.sort();
            let max = latencies.last().copied().unwrap_or_default();
            worst = worst.max(max);
            println!(
                "      GET {endpoint:<18} n={:<4} median {:>6.1} ms  p99 {:>6.1} ms  max {:>6.1} ms",
                latencies.len(),
                ms(percentile(&latencies, 0.5)),
                ms(percentile(&latencies, 0.99)),
                ms(max)
            );
        }
    }
    if let [small, .., large] = runs.as_slice() {
        let ratio = large.running_after.as_secs_f64() / small.running_after.as_secs_f64().max(1e-9);
        let scale = large.tasks as f64 / small.tasks as f64;
        println!(
            "  ratio {:.2} for {scale:.0}x the tasks (target at most {scale:.0}): {}",
            ratio,
            if ratio <= scale { "met" } else { "MISSED" }
        );
        println!(
            "  CPU per task, {} against {}: localmesos (master and launcher) {:.2}x, the tasks {:.2}x, the machine {:.2}x",
            large.tasks,
            small.tasks,
            large.cpu.own_per_task(large.tasks) / small.cpu.own_per_task(small.tasks).max(1e-9),
            large.cpu.tasks_per_task(large.tasks) / small.cpu.tasks_per_task(small.tasks).max(1e-9),
            large.cpu.machine_per_task(large.tasks) / small.cpu.machine_per_task(small.tasks).max(1e-9),
        );
    }
    let kernel: Vec<Duration> = kernel_runs
        .into_iter()
        .map(|mut runs| {
            runs.sort();
            runs[runs.len() / 2]
        })
        .collect();
    println!(
        "  the kernel alone (the same `sleep`s started one after another by a small process; a cgroup each: {}; a session each):",
        if kernel_cgroups { "yes" } else { "no" }
    );
    for (n, took) in sizes.iter().zip(&kernel) {
        println!(
            "    {n:>5} processes: {:>8.0} ms ({:.2} ms each)",
            ms(*took),
            ms(*took) / *n as f64
        );
    }
    if let ([small, .., large], [n_small, .., n_large]) = (kernel.as_slice(), sizes.as_slice()) {
        println!(
            "    ratio {:.2} for {:.0}x the processes",
            large.as_secs_f64() / small.as_secs_f64().max(1e-9),
            *n_large as f64 / *n_small as f64
        );
    }
    println!(
        "  slowest operator answer {:.1} ms (target 50): {}",
        ms(worst),
        if worst <= Duration::from_millis(50) {
            "met"
        } else {
            "MISSED"
        }
    );
}
