//! Simulated containerizer at scale: 100 simulated nodes, 10,000 tasks
//! launched through ACCEPTs of their offers by a `mesos` client; how long
//! from the first offer until every task is TASK_RUNNING (as the
//! scheduler hears it, every update acknowledged), and the master's
//! resident memory then.
//!
//! The master runs in a child process (this binary again, with
//! `SEXTANT_BENCH_SERVE=1`), so that its memory is its own.
//!
//! `cargo bench -p localmesos --bench simulated` (targets: under 2 s,
//! under 300 MB). `SEXTANT_BENCH_NODES` and `SEXTANT_BENCH_PER_NODE`
//! change the size.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use localmesos::{ContainerizerKind, LocalMesosConfig, NodeConfig};
use mesos::types::*;

/// Connections acknowledging updates at once.
const ACKERS: usize = 8;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn serve(nodes: usize, per_node: usize) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = LocalMesosConfig::new("127.0.0.1:0".parse().expect("addr"), dir.path().into());
        config.offer_interval = Duration::from_millis(100);
        config.nodes = (1..=nodes)
            .map(|i| NodeConfig {
                hostname: format!("sim-{i}"),
                cpus: per_node as f64 * 0.1,
                mem: per_node as f64 * 16.0,
                containerizer: ContainerizerKind::Simulated,
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
}

fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn task(offer: &Offer, j: usize) -> TaskInfo {
    TaskInfo {
        name: format!("t{j}"),
        task_id: TaskId::new(format!("{}-{j}", offer.hostname)),
        agent_id: offer.agent_id.clone(),
        resources: vec![Resource::scalar("cpus", 0.1), Resource::scalar("mem", 16.0)],
        command: Some(CommandInfo {
            value: Some("simulated".into()),
            ..CommandInfo::default()
        }),
        labels: None,
        health_check: None,
        kill_policy: None,
        container: None,
    }
}

fn main() {
    let nodes = env_usize("SEXTANT_BENCH_NODES", 100);
    let per_node = env_usize("SEXTANT_BENCH_PER_NODE", 100);
    if std::env::var("SEXTANT_BENCH_SERVE").is_ok_and(|v| v == "1") {
        serve(nodes, per_node);
        return;
    }
    let mut child = Command::new(std::env::current_exe().expect("this binary"))
        .env("SEXTANT_BENCH_SERVE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the master");
    let mut url = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut url)
        .expect("the master's url");
    let url = url.trim().to_string();
    let pid = child.id();
    let idle_mb = rss_mb(pid);

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let total = nodes * per_node;
    let (elapsed, accepts_done) = runtime.block_on(async {
        let client = mesos::Client::new(&url).expect("client");
        let info = FrameworkInfo {
            user: "bench".into(),
            name: "simulated-bench".into(),
            roles: vec!["*".into()],
            capabilities: vec![FrameworkCapability {
                kind: Some(FrameworkCapabilityType::MultiRole),
            }],
            ..FrameworkInfo::default()
        };
        let sub = client.subscribe(info).await.expect("subscribe");
        let (caller, mut events) = (sub.caller, sub.events);
        // Acknowledgements go out on a few connections at once, each
        // task's always on the same one (so they stay in order).
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
        let mut first_offer: Option<Instant> = None;
        let mut accepts_done = Duration::ZERO;
        let mut accepted = HashSet::new();
        let mut running = 0usize;
        while running < total {
            let event = events.next().await.expect("stream");
            if let Some(offers) = event.offers {
                let start = *first_offer.get_or_insert_with(Instant::now);
                for offer in offers.offers {
                    if !accepted.insert(offer.agent_id.clone()) {
                        continue;
                    }
                    let tasks = (0..per_node).map(|j| task(&offer, j)).collect();
                    caller
                        .accept(vec![offer.id.clone()], tasks, 3600.0)
                        .await
                        .expect("ACCEPT");
                    if accepted.len() == nodes {
                        accepts_done = start.elapsed();
                    }
                }
            }
            if let Some(update) = event.update {
                if update.status.state == TaskState::TaskRunning {
                    running += 1;
                }
                let slot = update.status.task_id.value.bytes().map(usize::from).sum::<usize>() % ACKERS;
                let _ = ackers[slot].send(update.status);
            }
        }
        (first_offer.map(|t| t.elapsed()).unwrap_or_default(), accepts_done)
    });
    let loaded_mb = rss_mb(pid);
    drop(child.stdin.take());
    let _ = child.wait();
    println!("simulated: {nodes} nodes, {total} tasks launched through {nodes} ACCEPTs");
    println!(
        "  all ACCEPTs sent      {:>8.0} ms after the first offer",
        accepts_done.as_secs_f64() * 1000.0
    );
    println!(
        "  all TASK_RUNNING      {:>8.0} ms after the first offer (target 2000): {}",
        elapsed.as_secs_f64() * 1000.0,
        if elapsed <= Duration::from_secs(2) {
            "met"
        } else {
            "MISSED"
        }
    );
    println!(
        "  master resident       {idle_mb:>8.1} MB idle, {loaded_mb:.1} MB with every task running (target 300): {}",
        if loaded_mb <= 300.0 { "met" } else { "MISSED" }
    );
}
