//! The agent against the embedded master, over real HTTP and gRPC: what the
//! controller relies on from `Launch`, `Kill` and `WatchTasks`.

use std::time::Duration;

use sextant_agent::AgentConfig;
use sextant_proto::proto::agent_client::AgentClient;
use sextant_proto::proto::{
    AgentStatus, KillRequest, LaunchRequest, ListNodesRequest, ListQueueRequest, PortSpec, Task, TaskEvent, TaskSpec,
    TaskState, WatchTasksRequest, task_event,
};
use tonic::Streaming;

const DEADLINE: Duration = Duration::from_secs(30);

struct Harness {
    master: Option<localmesos::LocalMesos>,
    agent: Option<sextant_agent::AgentHandle>,
    client: AgentClient<tonic::transport::Channel>,
    dir: tempfile::TempDir,
    /// The agent's metrics' registry.
    registry: prometheus_client::registry::Registry,
}

/// A master on `addr` (port 0: any) with its state under `work_dir`.
async fn start_master(addr: std::net::SocketAddr, work_dir: std::path::PathBuf) -> localmesos::LocalMesos {
    let mut config = localmesos::LocalMesosConfig::new(addr, work_dir);
    config.offer_interval = Duration::from_millis(200);
    localmesos::start(config).await.expect("localmesos starts")
}

impl Harness {
    async fn start() -> Harness {
        let dir = tempfile::tempdir().expect("tempdir");
        let master = start_master("127.0.0.1:0".parse().expect("addr"), dir.path().join("mesos")).await;
        let mut agent_config = AgentConfig::new(master.url(), "127.0.0.1:0".parse().expect("addr"));
        agent_config.state_dir = Some(dir.path().join("agent"));
        let mut registry = prometheus_client::registry::Registry::default();
        agent_config.metrics = sextant_agent::AgentMetrics::register(&mut registry);
        let mut agent = sextant_agent::start(agent_config).await.expect("agent starts");
        tokio::time::timeout(DEADLINE, agent.wait_subscribed())
            .await
            .expect("agent subscribes to the master");
        let client = AgentClient::connect(agent.url()).await.expect("gRPC connects");
        Harness {
            master: Some(master),
            agent: Some(agent),
            client,
            dir,
            registry,
        }
    }

    /// A sample's value in the agent's metrics (0 when absent).
    fn metric(&self, sample: &str) -> f64 {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry).expect("encode");
        text.lines()
            .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(0.0)
    }

    async fn stop(mut self) {
        if let Some(agent) = self.agent.take() {
            agent.shutdown().await;
        }
        if let Some(master) = self.master.take() {
            master.shutdown().await;
        }
    }

    /// Kills a task; returns whether the agent knew it (and it was live).
    async fn kill(&mut self, task_id: &str, reason: &str) -> bool {
        let request = KillRequest {
            task_id: task_id.into(),
            reason: reason.into(),
        };
        self.client.kill(request).await.expect("kill").into_inner().known
    }

    /// Opens a watch; returns the whole snapshot (every chunk) and the
    /// stream, positioned after the AgentStatus that follows the snapshot.
    async fn watch(&mut self) -> (Vec<Task>, Streaming<TaskEvent>) {
        let (tasks, _, stream) = self.watch_with_status().await;
        (tasks, stream)
    }

    async fn watch_with_status(&mut self) -> (Vec<Task>, AgentStatus, Streaming<TaskEvent>) {
        let mut stream = self
            .client
            .watch_tasks(WatchTasksRequest {})
            .await
            .expect("watch")
            .into_inner();
        let tasks = read_snapshot(&mut stream).await;
        let next = stream
            .message()
            .await
            .expect("stream ok")
            .expect("an event after the snapshot");
        match next.event {
            Some(task_event::Event::Agent(status)) => (tasks, status, stream),
            other => panic!("the snapshot must be followed by the agent's status, got {other:?}"),
        }
    }
}

/// Reads snapshot chunks until the one with `more == false`. Before the
/// agent is synced with Mesos, AgentStatus events say why it waits.
async fn read_snapshot(stream: &mut Streaming<TaskEvent>) -> Vec<Task> {
    let mut tasks = Vec::new();
    let mut chunks = 0;
    loop {
        let event = stream.message().await.expect("stream ok").expect("a snapshot chunk");
        match event.event {
            Some(task_event::Event::Snapshot(chunk)) => {
                chunks += 1;
                tasks.extend(chunk.tasks);
                if !chunk.more {
                    return tasks;
                }
            }
            Some(task_event::Event::Agent(_)) if chunks == 0 => {}
            other => panic!("the stream must start with a snapshot, got {other:?}"),
        }
    }
}

/// Reads events until an AgentStatus satisfies `wanted`; returns it.
async fn until_status(
    stream: &mut Streaming<TaskEvent>,
    within: Duration,
    wanted: impl Fn(&AgentStatus) -> bool,
) -> AgentStatus {
    let mut seen = Vec::new();
    let wait = async {
        loop {
            let event = stream.message().await.expect("stream ok").expect("stream open");
            if let Some(task_event::Event::Agent(status)) = event.event {
                if wanted(&status) {
                    return status;
                }
                seen.push(status);
            }
        }
    };
    match tokio::time::timeout(within, wait).await {
        Ok(status) => status,
        Err(_) => panic!("no such AgentStatus within {within:?}; saw {seen:?}"),
    }
}

fn launch(task_id: &str, spec: TaskSpec) -> LaunchRequest {
    let mut parts = task_id.split('.');
    LaunchRequest {
        task_id: task_id.to_string(),
        namespace: parts.next().unwrap_or_default().to_string(),
        app: parts.next().unwrap_or_default().to_string(),
        revision: parts.next().unwrap_or_default().to_string(),
        spec: Some(spec),
    }
}

fn shell(command: &str) -> TaskSpec {
    TaskSpec {
        command: command.to_string(),
        cpus: 0.1,
        mem: 16.0,
        kill_grace_period_seconds: 1,
        ..TaskSpec::default()
    }
}

/// Reads updates until `task_id` reaches `state`; returns that update and
/// every state seen for the task on the way.
async fn until_state(stream: &mut Streaming<TaskEvent>, task_id: &str, state: TaskState) -> (Task, Vec<TaskState>) {
    let mut seen = Vec::new();
    let wait = async {
        loop {
            let event = stream.message().await.expect("stream ok").expect("stream open");
            let tasks = match event.event {
                Some(task_event::Event::Update(task)) => vec![task],
                Some(task_event::Event::Snapshot(snapshot)) => snapshot.tasks,
                Some(task_event::Event::Agent(_)) | None => continue,
            };
            for task in tasks.into_iter().filter(|t| t.task_id == task_id) {
                seen.push(task.state());
                if task.state() == state {
                    return task;
                }
            }
        }
    };
    let task = tokio::time::timeout(DEADLINE, wait)
        .await
        .unwrap_or_else(|_| panic!("{task_id} did not reach {state:?}; saw {seen:?}"));
    (task, seen)
}

#[tokio::test]
async fn launch_runs_a_task_with_its_ports_and_kill_stops_it() {
    let mut h = Harness::start().await;
    let (snapshot, mut stream) = h.watch().await;
    assert!(snapshot.is_empty());

    let out = h.dir.path().join("port");
    let mut spec = shell(&format!(
        "echo $PORT_HTTP $PORT0 $SEXTANT_APP > {}; exec sleep 60",
        out.display()
    ));
    spec.ports = vec![PortSpec {
        name: "http".into(),
        protocol: "tcp".into(),
        ..PortSpec::default()
    }];
    let id = "default.web.0a1b2c3d4e.aaaa0001";
    let created = h
        .client
        .launch(launch(id, spec.clone()))
        .await
        .expect("launch")
        .into_inner();
    assert!(created.created);
    let again = h.client.launch(launch(id, spec)).await.expect("launch").into_inner();
    assert!(!again.created, "launching a known task id is a no-op");

    let (running, seen) = until_state(&mut stream, id, TaskState::Running).await;
    assert_eq!(seen.first(), Some(&TaskState::Pending), "queued first: {seen:?}");
    assert_eq!(running.ports.len(), 1);
    let port = running.ports[0].port;
    assert!((31000..=32000).contains(&port), "host port from the offer: {port}");
    assert!(!running.agent_id.is_empty());
    assert!(h.metric("sextant_offers_received_total") >= 1.0);
    assert!(h.metric("sextant_offers_accepted_total") >= 1.0);
    assert_eq!(
        h.metric("sextant_launch_latency_seconds_count"),
        1.0,
        "the launch was timed to its TASK_RUNNING"
    );

    let written = tokio::time::timeout(DEADLINE, async {
        loop {
            if let Ok(text) = std::fs::read_to_string(&out)
                && !text.is_empty()
            {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the task wrote its environment");
    assert_eq!(written.trim(), format!("{port} {port} web"));

    let killed = h.kill(id, "test").await;
    assert!(killed);
    until_state(&mut stream, id, TaskState::Killed).await;
    let again = h.kill(id, "test").await;
    assert!(!again, "killing an ended task is a no-op");

    // A new watcher sees the ended task in its snapshot.
    let (snapshot, _) = h.watch().await;
    assert!(
        snapshot
            .iter()
            .any(|t| t.task_id == id && t.state() == TaskState::Killed)
    );
    h.stop().await;
}

#[tokio::test]
async fn exec_args_and_failures_are_reported() {
    let mut h = Harness::start().await;
    let (_, mut stream) = h.watch().await;
    let spec = TaskSpec {
        args: vec!["sh".into(), "-c".into(), "exit 3".into()],
        cpus: 0.1,
        mem: 16.0,
        ..TaskSpec::default()
    };
    let id = "default.job.0a1b2c3d4e.aaaa0002";
    h.client.launch(launch(id, spec)).await.expect("launch");
    let (failed, _) = until_state(&mut stream, id, TaskState::Failed).await;
    assert_eq!(failed.message, "Command exited with status 3");
    h.stop().await;
}

#[tokio::test]
async fn a_task_too_big_for_any_offer_stays_pending_and_can_be_dropped() {
    let mut h = Harness::start().await;
    let (_, mut stream) = h.watch().await;
    let mut spec = shell("sleep 60");
    spec.cpus = 64.0;
    let id = "default.huge.0a1b2c3d4e.aaaa0003";
    h.client.launch(launch(id, spec)).await.expect("launch");
    until_state(&mut stream, id, TaskState::Pending).await;
    // The one node offers its 4 cpus.
    let expected = "waiting for an offer: needs 64 cpus; the most free on any offered node is 4 cpus";
    let waiting = tokio::time::timeout(DEADLINE, async {
        loop {
            let event = stream.message().await.expect("stream ok").expect("stream open");
            if let Some(task_event::Event::Update(task)) = event.event
                && task.task_id == id
                && !task.message.is_empty()
            {
                return task;
            }
        }
    })
    .await
    .expect("the pending task says why it waits");
    assert_eq!(waiting.state(), TaskState::Pending, "no offer fits 64 cpus");
    assert_eq!(waiting.message, expected);

    // Later offer rounds (the refusal filter is 1 s) do not repeat it.
    let repeated = tokio::time::timeout(Duration::from_millis(2500), async {
        loop {
            let event = stream.message().await.expect("stream ok").expect("stream open");
            if let Some(task_event::Event::Update(task)) = event.event
                && task.task_id == id
            {
                return task;
            }
        }
    })
    .await;
    assert!(
        repeated.is_err(),
        "an unchanged message is not published again: {repeated:?}"
    );
    let (snapshot, _) = h.watch().await;
    let task = snapshot.iter().find(|t| t.task_id == id).expect("known");
    assert_eq!((task.state(), task.message.as_str()), (TaskState::Pending, expected));

    let killed = h.kill(id, "scaled down").await;
    assert!(killed);
    until_state(&mut stream, id, TaskState::Killed).await;
    h.stop().await;
}

/// `ListNodes` and `ListQueue` against the master: the node as
/// `/master/slaves` shows it, with what our running task uses and what is
/// left; the task that fits no offer queued, with why.
#[tokio::test]
async fn nodes_show_what_runs_and_the_queue_what_waits() {
    let mut h = Harness::start().await;
    let (_, mut stream) = h.watch().await;
    let mut fits = shell("exec sleep 60");
    (fits.cpus, fits.mem) = (1.5, 256.0);
    let running = "default.fits.0a1b2c3d4e.aaaa0010";
    h.client.launch(launch(running, fits)).await.expect("launch");
    until_state(&mut stream, running, TaskState::Running).await;
    let mut huge = shell("exec sleep 60");
    huge.cpus = 3.0;
    let waiting = "default.huge.0a1b2c3d4e.aaaa0011";
    h.client.launch(launch(waiting, huge)).await.expect("launch");
    tokio::time::timeout(DEADLINE, async {
        loop {
            let event = stream.message().await.expect("stream ok").expect("stream open");
            if let Some(task_event::Event::Update(task)) = event.event
                && task.task_id == waiting
                && !task.message.is_empty()
            {
                return;
            }
        }
    })
    .await
    .expect("an offer round judged the big task");

    let nodes = h
        .client
        .list_nodes(ListNodesRequest {})
        .await
        .expect("nodes")
        .into_inner();
    let master = h.master.as_ref().map(|m| m.url()).unwrap_or_default();
    assert_eq!((nodes.total, nodes.master.as_str()), (1, master.as_str()));
    let node = &nodes.nodes[0];
    assert_eq!(
        (node.hostname.as_str(), node.active, node.tasks),
        ("localhost", true, 1)
    );
    let (total, used, free) = (
        node.total.clone().unwrap_or_default(),
        node.used.clone().unwrap_or_default(),
        node.free.clone().unwrap_or_default(),
    );
    assert_eq!((total.cpus, total.mem), (4.0, 4096.0), "the node as configured");
    assert_eq!((used.cpus, used.mem), (1.5, 256.0), "what the running task uses");
    assert_eq!((free.cpus, free.mem), (2.5, 3840.0));

    let queue = h
        .client
        .list_queue(ListQueueRequest {})
        .await
        .expect("queue")
        .into_inner();
    assert_eq!(queue.total, 1);
    let queued = &queue.tasks[0];
    assert_eq!(
        (queued.task_id.as_str(), queued.app.as_str(), queued.cpus),
        (waiting, "huge", 3.0)
    );
    assert!(
        queued.message == "waiting for an offer: needs 3 cpus; the most free on any offered node is 2.5 cpus",
        "{}",
        queued.message
    );
    h.stop().await;
}

#[tokio::test]
async fn invalid_launches_are_refused_with_the_reason() {
    let mut h = Harness::start().await;
    let err = h
        .client
        .launch(launch("default.bad.0a1b2c3d4e.x/y", shell("true")))
        .await
        .expect_err("a '/' in a task id is refused");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    let mut spec = shell("true");
    spec.args = vec!["true".into()];
    let err = h
        .client
        .launch(launch("default.bad.0a1b2c3d4e.aaaa0004", spec))
        .await
        .expect_err("command and args together are refused");
    assert!(
        err.message().contains("exactly one of command or args"),
        "{}",
        err.message()
    );
    h.stop().await;
}

/// A non-leading Mesos master answers every request with 307 and a
/// scheme-relative `Location: //leader:port/api/v1/scheduler`; the agent must
/// follow it to the leader, subscribe there, and send its calls there.
#[tokio::test]
async fn follows_a_non_leading_master_to_the_leader() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = localmesos::LocalMesosConfig::new("127.0.0.1:0".parse().expect("addr"), dir.path().join("mesos"));
    config.offer_interval = Duration::from_millis(200);
    let leader = localmesos::start(config).await.expect("localmesos starts");

    // The follower: what a real non-leading master answers (mesos-v1-api.md §1.7).
    let location = format!("//{}/api/v1/scheduler", leader.addr());
    let follower = axum::Router::new().fallback(move || {
        let location = location.clone();
        async move { (axum::http::StatusCode::TEMPORARY_REDIRECT, [("Location", location)]) }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let follower_addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move { axum::serve(listener, follower).await });

    let agent_config = AgentConfig::new(format!("http://{follower_addr}"), "127.0.0.1:0".parse().expect("addr"));
    let mut agent = sextant_agent::start(agent_config).await.expect("agent starts");
    tokio::time::timeout(DEADLINE, agent.wait_subscribed())
        .await
        .expect("the agent subscribes through the redirect");

    // Calls (ACCEPT, ACKNOWLEDGE) must reach the leader too: a task runs.
    let mut client = AgentClient::connect(agent.url()).await.expect("gRPC connects");
    let mut stream = client
        .watch_tasks(WatchTasksRequest {})
        .await
        .expect("watch")
        .into_inner();
    let id = "default.web.0a1b2c3d4e.aaaa0005";
    client.launch(launch(id, shell("exec sleep 30"))).await.expect("launch");
    until_state(&mut stream, id, TaskState::Running).await;

    agent.shutdown().await;
    leader.shutdown().await;
    server.abort();
}

/// An idle framework must not sit on offers: the agent declines them (for
/// 30 s) and suppresses; a new launch must then REVIVE, or it would wait
/// out the decline filter.
#[tokio::test]
async fn an_idle_agent_holds_no_offers_and_revives_for_a_launch() {
    let mut h = Harness::start().await;
    let metrics = format!("{}/metrics/snapshot", h.master.as_ref().expect("master").url());
    let outstanding = || async {
        let snapshot: serde_json::Value = reqwest::get(&metrics)
            .await
            .expect("metrics")
            .json()
            .await
            .expect("JSON");
        snapshot["master/outstanding_offers"]
            .as_f64()
            .expect("outstanding offers")
    };
    // Let several offer rounds (200 ms apart) go by.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(outstanding().await, 0.0, "the idle agent declined every offer");

    let (_, mut stream) = h.watch().await;
    let id = "default.late.0a1b2c3d4e.aaaa0006";
    h.client
        .launch(launch(id, shell("exec sleep 30")))
        .await
        .expect("launch");
    let started = std::time::Instant::now();
    until_state(&mut stream, id, TaskState::Running).await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "offers came back at once (REVIVE), not after the 30 s decline filter"
    );
    h.stop().await;
}

/// The controller learns whether the agent is subscribed, and why not:
/// an AgentStatus after the snapshot, and another when the link breaks.
#[tokio::test]
async fn the_watch_reports_the_mesos_link_and_why_it_broke() {
    let mut h = Harness::start().await;
    let url = h.master.as_ref().expect("master").url();
    let (_, status, mut stream) = h.watch_with_status().await;
    assert!(status.mesos_connected, "{status:?}");
    assert_eq!(status.master, url);
    assert!(status.message.is_empty(), "{status:?}");
    assert!(!status.framework_id.is_empty(), "{status:?}");
    assert!(status.since > 0.0);

    if let Some(master) = h.master.take() {
        master.shutdown().await;
    }
    let lost = until_status(&mut stream, Duration::from_secs(10), |s| !s.mesos_connected).await;
    assert!(!lost.message.is_empty(), "says why: {lost:?}");
    assert!(lost.since >= status.since);
    assert_eq!(lost.framework_id, status.framework_id, "the id is still ours");
    // Re-subscribing fails while the master is away, and says so in words.
    let refused = format!("cannot reach the Mesos master at {url}: connection refused");
    let again = until_status(&mut stream, Duration::from_secs(10), |s| s.message == refused).await;
    assert_eq!(again.since, lost.since, "since moves only when the connection does");
    h.stop().await;
}

/// A master that failed over without a registry knows neither the
/// framework nor its tasks. The agent must re-subscribe on its own (with
/// its framework id, which such a master accepts), learn from explicit
/// reconciliation that its old task is gone, and launch on the new master.
#[tokio::test]
async fn a_fresh_master_on_the_same_address_forgets_the_tasks_and_the_agent_carries_on() {
    let mut h = Harness::start().await;
    let addr = h.master.as_ref().expect("master").addr();
    let (_, status, mut stream) = h.watch_with_status().await;
    let old = "default.web.0a1b2c3d4e.aaaa0007";
    h.client.launch(launch(old, shell("sleep 1000"))).await.expect("launch");
    until_state(&mut stream, old, TaskState::Running).await;

    if let Some(master) = h.master.take() {
        master.shutdown().await;
    }
    let fresh_dir = tempfile::tempdir().expect("tempdir");
    let fresh = start_master(addr, fresh_dir.path().join("mesos")).await;
    let fresh_id = fresh.master_id().to_string();
    h.master = Some(fresh);

    // A partition-aware framework hears TASK_UNKNOWN for a task on an
    // agent the master has never seen (mesos-v1-api.md §4.2).
    let (forgotten, _) = until_state(&mut stream, old, TaskState::Unknown).await;
    assert_eq!(forgotten.running_since, 0.0, "no longer running");
    let (_, back, _) = h.watch_with_status().await;
    assert!(back.mesos_connected, "{back:?}");
    assert_eq!(back.framework_id, status.framework_id, "re-subscribed with its id");

    let new = "default.web.0a1b2c3d4e.aaaa0008";
    h.client
        .launch(launch(new, shell("exec sleep 30")))
        .await
        .expect("launch");
    let (running, _) = until_state(&mut stream, new, TaskState::Running).await;
    assert!(
        running.agent_id.starts_with(&fresh_id),
        "placed on the fresh master's node: {}",
        running.agent_id
    );
    h.stop().await;
    drop(fresh_dir);
}
