//! Launches and kills that arrive together go out in as few Mesos calls as
//! the offers allow. Real HTTP: localmesos with one node, the agent
//! subscribed through a recording proxy that timestamps every scheduler
//! call on the wire. 300 `Launch` calls at once, then 300 `Kill`s; reports
//! the calls made and the time from the first request to the last ACCEPT
//! and to the last KILL sent.
//!
//! `cargo bench -p sextant-agent --bench launch_kill`

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use futures::future::join_all;
use sextant_agent::AgentConfig;
use sextant_proto::proto::agent_client::AgentClient;
use sextant_proto::proto::{KillRequest, LaunchRequest, TaskEvent, TaskSpec, TaskState, WatchTasksRequest, task_event};

const TASKS: usize = 300;

/// Scheduler calls seen on the wire: when, and which.
type Seen = Arc<Mutex<Vec<(Instant, String)>>>;

#[derive(Clone)]
struct Proxy {
    upstream: String,
    http: reqwest::Client,
    seen: Seen,
}

async fn forward(State(proxy): State<Proxy>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 64 << 20).await.unwrap_or_default();
    if let Ok(call) = serde_json::from_slice::<serde_json::Value>(&bytes)
        && let Some(kind) = call["type"].as_str()
    {
        proxy
            .seen
            .lock()
            .expect("lock")
            .push((Instant::now(), kind.to_string()));
    }
    let url = format!("{}{}", proxy.upstream, parts.uri);
    let mut upstream = proxy.http.request(parts.method, url).body(bytes);
    for (name, value) in &parts.headers {
        if name != "host" {
            upstream = upstream.header(name, value);
        }
    }
    match upstream.send().await {
        Ok(answer) => {
            let mut response = Response::builder().status(answer.status());
            for (name, value) in answer.headers() {
                if name != "transfer-encoding" && name != "content-length" {
                    response = response.header(name, value);
                }
            }
            response
                .body(Body::from_stream(answer.bytes_stream()))
                .unwrap_or_else(|_| Response::new(Body::empty()))
        }
        Err(e) => Response::builder()
            .status(502)
            .body(Body::from(e.to_string()))
            .unwrap_or_else(|_| Response::new(Body::empty())),
    }
}

fn count(seen: &Seen, kind: &str, since: Instant) -> (usize, Option<Duration>) {
    let seen = seen.lock().expect("lock");
    let of_kind: Vec<Instant> = seen
        .iter()
        .filter(|(at, k)| k == kind && *at >= since)
        .map(|(at, _)| *at)
        .collect();
    (of_kind.len(), of_kind.iter().max().map(|last| *last - since))
}

/// Reads the watch until every task is in `state`. A watcher that falls
/// behind gets a fresh snapshot, so snapshots count as much as updates.
async fn until_all(stream: &mut tonic::Streaming<TaskEvent>, states: &mut HashMap<String, i32>, state: TaskState) {
    let done = |states: &HashMap<String, i32>| states.values().filter(|s| **s == state as i32).count() == TASKS;
    while !done(states) {
        let tasks = match stream.message().await {
            Ok(Some(event)) => match event.event {
                Some(task_event::Event::Update(task)) => vec![task],
                Some(task_event::Event::Snapshot(chunk)) => chunk.tasks,
                _ => continue,
            },
            _ => panic!("the watch ended"),
        };
        for task in tasks {
            states.insert(task.task_id, task.state);
        }
    }
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = localmesos::LocalMesosConfig::new("127.0.0.1:0".parse().expect("addr"), dir.path().join("mesos"));
    config.nodes = vec![localmesos::NodeConfig {
        cpus: 400.0,
        mem: 400_000.0,
        ..localmesos::NodeConfig::default()
    }];
    let master = localmesos::start(config).await.expect("localmesos");

    let seen: Seen = Arc::default();
    let proxy = Proxy {
        upstream: master.url(),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        seen: Arc::clone(&seen),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let proxy_url = format!("http://{}", listener.local_addr().expect("addr"));
    let app = axum::Router::new().fallback(forward).with_state(proxy);
    tokio::spawn(async move { axum::serve(listener, app).await });

    let mut agent_config = AgentConfig::new(proxy_url, "127.0.0.1:0".parse().expect("addr"));
    agent_config.state_dir = Some(dir.path().join("agent"));
    let mut agent = sextant_agent::start(agent_config).await.expect("agent");
    agent.wait_subscribed().await;
    let client = AgentClient::connect(agent.url()).await.expect("grpc");
    let mut stream = client
        .clone()
        .watch_tasks(WatchTasksRequest {})
        .await
        .expect("watch")
        .into_inner();

    let ids: Vec<String> = (0..TASKS).map(|i| format!("default.bench.0a1b2c3d4e.{i:04}")).collect();
    let spec = TaskSpec {
        command: "exec sleep 600".into(),
        cpus: 0.01,
        mem: 8.0,
        kill_grace_period_seconds: 1,
        ..TaskSpec::default()
    };
    let started = Instant::now();
    join_all(ids.iter().map(|id| {
        let mut client = client.clone();
        let request = LaunchRequest {
            task_id: id.clone(),
            namespace: "default".into(),
            app: "bench".into(),
            revision: "0a1b2c3d4e".into(),
            spec: Some(spec.clone()),
        };
        async move { client.launch(request).await.expect("launch") }
    }))
    .await;
    let requested = started.elapsed();
    let mut states = HashMap::new();
    until_all(&mut stream, &mut states, TaskState::Running).await;
    let all_running = started.elapsed();
    let (accepts, last_accept) = count(&seen, "ACCEPT", started);

    let killing = Instant::now();
    join_all(ids.iter().map(|id| {
        let mut client = client.clone();
        let request = KillRequest {
            task_id: id.clone(),
            reason: "bench".into(),
        };
        async move { client.kill(request).await.expect("kill") }
    }))
    .await;
    let kill_requested = killing.elapsed();
    until_all(&mut stream, &mut states, TaskState::Killed).await;
    let all_killed = killing.elapsed();
    let (kills, last_kill) = count(&seen, "KILL", killing);
    let (acks, _) = count(&seen, "ACKNOWLEDGE", started);
    let ms = |d: Option<Duration>| d.map_or(f64::NAN, |d| d.as_secs_f64() * 1e3);
    println!(
        "launch {TASKS}: Launch calls done in {:.0} ms; {accepts} ACCEPT call(s), the last {:.0} ms after the first Launch; all RUNNING at {:.0} ms",
        requested.as_secs_f64() * 1e3,
        ms(last_accept),
        all_running.as_secs_f64() * 1e3
    );
    println!(
        "kill {TASKS}: Kill calls done in {:.0} ms; {kills} KILL calls, the last {:.0} ms after the first Kill; all KILLED at {:.0} ms ({acks} ACKNOWLEDGEs in all)",
        kill_requested.as_secs_f64() * 1e3,
        ms(last_kill),
        all_killed.as_secs_f64() * 1e3
    );
    agent.shutdown().await;
    master.shutdown().await;
}
