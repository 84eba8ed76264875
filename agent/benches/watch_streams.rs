//! Memory of the agent under many `WatchTasks` streams: 1,000 opened at
//! once (the bound lets 64 in), then closed; then 1,000 more opened and
//! closed in batches. Prints the process's resident memory (agent and
//! clients in one process) at each step. The figure before the
//! bound: 62 MB → 172 MB, never given back.
//!
//! `cargo bench -p sextant-agent --bench watch_streams`

use std::time::Duration;

use sextant_proto::proto::agent_client::AgentClient;
use sextant_proto::proto::{LaunchRequest, TaskSpec, WatchTasksRequest};

/// Resident memory in MiB, from /proc.
fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let mut mesos = localmesos::LocalMesosConfig::new("127.0.0.1:0".parse().unwrap(), dir.path().join("mesos"));
    mesos.offer_interval = Duration::from_millis(200);
    let master = localmesos::start(mesos).await.unwrap();
    let config = sextant_agent::AgentConfig::new(master.url(), "127.0.0.1:0".parse().unwrap());
    let mut agent = sextant_agent::start(config).await.unwrap();
    agent.wait_subscribed().await;
    let channel = tonic::transport::Endpoint::from_shared(agent.url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let client = AgentClient::new(channel);
    // Some tasks, so that every snapshot has something in it.
    for i in 0..100 {
        let mut c = client.clone();
        c.launch(LaunchRequest {
            task_id: format!("default.bench.0a1b2c3d4e.t{i}"),
            namespace: "default".into(),
            app: "bench".into(),
            revision: "0a1b2c3d4e".into(),
            spec: Some(TaskSpec {
                command: "exec sleep 600".into(),
                cpus: 0.01,
                mem: 1.0,
                ..TaskSpec::default()
            }),
        })
        .await
        .unwrap();
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = rss_mib();

    let attempts = (0..1000).map(|_| {
        let mut c = client.clone();
        async move { c.watch_tasks(WatchTasksRequest {}).await }
    });
    let results = futures::future::join_all(attempts).await;
    let mut open = Vec::new();
    let mut refused = 0;
    for result in results {
        match result {
            Ok(stream) => open.push(stream.into_inner()),
            Err(_) => refused += 1,
        }
    }
    // Let each open stream take its snapshot.
    for stream in &mut open {
        let _ = tokio::time::timeout(Duration::from_secs(5), stream.message()).await;
    }
    let with_open = rss_mib();
    let accepted = open.len();
    drop(open);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after_close = rss_mib();

    let mut cycled = 0;
    while cycled < 1000 {
        let mut batch = Vec::new();
        while batch.len() < 64 && cycled < 1000 {
            let mut c = client.clone();
            if let Ok(stream) = c.watch_tasks(WatchTasksRequest {}).await {
                batch.push(stream.into_inner());
                cycled += 1;
            } else {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        for stream in &mut batch {
            let _ = tokio::time::timeout(Duration::from_secs(5), stream.message()).await;
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after_cycles = rss_mib();

    println!("RSS before any watch:                  {before:.1} MiB");
    println!("1,000 opened at once: {accepted} accepted, {refused} refused (RESOURCE_EXHAUSTED)");
    println!("RSS with those {accepted} open:               {with_open:.1} MiB");
    println!("RSS after closing them:                {after_close:.1} MiB");
    println!("RSS after 1,000 more opened and closed: {after_cycles:.1} MiB");
    agent.shutdown().await;
    master.shutdown().await;
}
