//! The agent's state across restarts and its framework id, against the
//! embedded master over real HTTP and gRPC: a restart keeps the framework
//! and does not inherit the previous instance's decline filter; a journal
//! launch keeps its spec and host ports across a restart; an id that
//! cannot be trusted stops the agent at start, and one that cannot be
//! persisted stops it; another instance taking over the framework stops
//! it, saying so; a restart in the middle of launches duplicates nothing
//! and its adopted tasks keep their resources.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use mesos::types::{FrameworkId, FrameworkInfo};
use sextant_agent::AgentConfig;
use sextant_agent::journal::Journal;
use sextant_proto::proto::agent_client::AgentClient;
use sextant_proto::proto::{
    LaunchRequest, PortSpec, Task, TaskEvent, TaskSpec, TaskState, WatchTasksRequest, task_event,
};
use tonic::Streaming;

const DEADLINE: Duration = Duration::from_secs(30);

async fn start_master(dir: &Path) -> localmesos::LocalMesos {
    let mut config = localmesos::LocalMesosConfig::new("127.0.0.1:0".parse().unwrap(), dir.join("mesos"));
    config.offer_interval = Duration::from_millis(200);
    localmesos::start(config).await.unwrap()
}

async fn start_agent(master: &localmesos::LocalMesos, state: &Path) -> sextant_agent::AgentHandle {
    let mut config = AgentConfig::new(master.url(), "127.0.0.1:0".parse().unwrap());
    config.state_dir = Some(state.to_path_buf());
    let mut agent = sextant_agent::start(config).await.unwrap();
    tokio::time::timeout(DEADLINE, agent.wait_subscribed())
        .await
        .expect("the agent subscribes");
    agent
}

fn launch(task_id: &str, command: &str) -> LaunchRequest {
    let parts: Vec<&str> = task_id.split('.').collect();
    LaunchRequest {
        task_id: task_id.to_string(),
        namespace: parts[0].into(),
        app: parts[1].into(),
        revision: parts[2].into(),
        spec: Some(TaskSpec {
            command: command.into(),
            cpus: 0.1,
            mem: 16.0,
            kill_grace_period_seconds: 1,
            ports: vec![PortSpec {
                name: "http".into(),
                protocol: "tcp".into(),
                ..PortSpec::default()
            }],
            ..TaskSpec::default()
        }),
    }
}

/// The watch's tasks once the snapshot is whole, and the stream.
async fn watch(client: &mut AgentClient<tonic::transport::Channel>) -> (Vec<Task>, Streaming<TaskEvent>) {
    let mut stream = client.watch_tasks(WatchTasksRequest {}).await.unwrap().into_inner();
    let mut tasks = Vec::new();
    loop {
        match stream.message().await.unwrap().expect("a snapshot").event {
            Some(task_event::Event::Snapshot(chunk)) => {
                tasks.extend(chunk.tasks);
                if !chunk.more {
                    return (tasks, stream);
                }
            }
            _ => continue,
        }
    }
}

async fn until_state(stream: &mut Streaming<TaskEvent>, task_id: &str, state: TaskState) -> Task {
    let wait = async {
        loop {
            let event = stream.message().await.unwrap().expect("stream open");
            let tasks = match event.event {
                Some(task_event::Event::Update(task)) => vec![task],
                Some(task_event::Event::Snapshot(snapshot)) => snapshot.tasks,
                _ => continue,
            };
            if let Some(task) = tasks.into_iter().find(|t| t.task_id == task_id && t.state() == state) {
                return task;
            }
        }
    };
    tokio::time::timeout(DEADLINE, wait)
        .await
        .unwrap_or_else(|_| panic!("{task_id} did not reach {state:?}"))
}

/// Today's figure with REVIVE after SUBSCRIBED is printed; without it the
/// launch waited out the previous instance's 30 s decline filter (27 s
/// measured on Mesos 1.11).
#[tokio::test]
async fn a_restarted_agent_launches_at_once_and_keeps_its_framework() {
    let dir = tempfile::tempdir().unwrap();
    let master = start_master(dir.path()).await;
    let state = dir.path().join("agent");
    let agent = start_agent(&master, &state).await;
    let first_id = Journal::open(&state).map(drop).err();
    assert!(first_id.is_some(), "the running agent holds its journal");
    // Idle: every offer is declined for 30 s.
    tokio::time::sleep(Duration::from_secs(1)).await;
    agent.shutdown().await;

    let before = Journal::open(&state).unwrap().framework_id().unwrap();
    assert!(before.is_some(), "the framework id was persisted");
    let agent = start_agent(&master, &state).await;
    let mut client = AgentClient::connect(agent.url()).await.unwrap();
    let (_, mut stream) = watch(&mut client).await;
    let id = "default.web.0a1b2c3d4e.restart1";
    let started = Instant::now();
    client.launch(launch(id, "exec sleep 30")).await.unwrap();
    until_state(&mut stream, id, TaskState::Running).await;
    let took = started.elapsed();
    eprintln!("launch to TASK_RUNNING after a restart: {took:?}");
    assert!(
        took < Duration::from_secs(10),
        "the previous instance's 30 s decline filter was inherited: {took:?}"
    );
    agent.shutdown().await;
    let after = Journal::open(&state).unwrap().framework_id().unwrap();
    assert_eq!(after, before, "one framework across the restart");
    master.shutdown().await;
}

/// A task the scheduler recorded in the journal when it launched it keeps
/// its spec and host ports after a restart, where a task learnt from Mesos
/// alone has neither.
#[tokio::test]
async fn a_journaled_launch_keeps_its_ports_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let master = start_master(dir.path()).await;
    let state = dir.path().join("agent");
    let agent = start_agent(&master, &state).await;
    let mut client = AgentClient::connect(agent.url()).await.unwrap();
    let (_, mut stream) = watch(&mut client).await;
    let id = "default.web.0a1b2c3d4e.journal1";
    client.launch(launch(id, "exec sleep 60")).await.unwrap();
    let running = until_state(&mut stream, id, TaskState::Running).await;
    assert_eq!(running.ports.len(), 1);
    agent.shutdown().await;

    let agent = start_agent(&master, &state).await;
    let mut client = AgentClient::connect(agent.url()).await.unwrap();
    let (snapshot, _) = watch(&mut client).await;
    let task = snapshot.iter().find(|t| t.task_id == id).expect("the task is known");
    assert_eq!(task.state(), TaskState::Running, "reconciled with Mesos");
    assert_eq!(task.ports, running.ports, "its host ports came back from the journal");
    assert_eq!(task.agent_id, running.agent_id);
    agent.shutdown().await;
    master.shutdown().await;
}

#[tokio::test]
async fn a_corrupt_framework_id_stops_the_agent_at_start_in_words() {
    let dir = tempfile::tempdir().unwrap();
    let master = start_master(dir.path()).await;
    let state = dir.path().join("agent");
    std::fs::create_dir_all(&state).unwrap();
    let file = state.join("framework-id");
    std::fs::write(&file, "../../etc/passwd").unwrap();
    let mut config = AgentConfig::new(master.url(), "127.0.0.1:0".parse().unwrap());
    config.state_dir = Some(state.clone());
    let message = match sextant_agent::start(config).await {
        Ok(_) => panic!("an agent started with a corrupt framework id"),
        Err(e) => e.to_string(),
    };
    assert!(message.contains(&file.display().to_string()), "{message}");
    assert!(
        message.contains("looks like a path") || message.contains("holds '/'"),
        "{message}"
    );
    assert!(message.contains("remove it"), "says how to fix it: {message}");
    // Nothing registered with the master.
    let state: serde_json::Value = reqwest::get(format!("{}/master/state", master.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["frameworks"].as_array().map(Vec::len), Some(0), "{state}");
    master.shutdown().await;
}

/// A SUBSCRIBE by another process with our framework id (public in
/// `/master/state`) once left the agent answering Launch while nobody
/// scheduled. Now the agent stops, says why, and stops serving.
#[tokio::test]
async fn a_takeover_of_the_framework_id_stops_the_agent_with_that_message() {
    let dir = tempfile::tempdir().unwrap();
    let master = start_master(dir.path()).await;
    let mut agent = start_agent(&master, &dir.path().join("agent")).await;
    let mut client = AgentClient::connect(agent.url()).await.unwrap();
    let (_, mut stream) = watch(&mut client).await;
    let framework_id = loop {
        let event = stream.message().await.unwrap().expect("stream open");
        if let Some(task_event::Event::Agent(status)) = event.event
            && !status.framework_id.is_empty()
        {
            break status.framework_id;
        }
    };

    let intruder = mesos::Client::new(&master.url()).unwrap();
    let info = FrameworkInfo {
        user: "nobody".into(),
        name: "intruder".into(),
        id: Some(FrameworkId::new(framework_id.clone())),
        failover_timeout: Some(60.0),
        ..FrameworkInfo::default()
    };
    let _subscription = intruder.subscribe(info).await.unwrap();

    let stopped = tokio::time::timeout(DEADLINE, agent.wait())
        .await
        .expect("the agent stops on its own");
    let message = stopped.expect_err("a takeover is an error").to_string();
    assert!(message.starts_with("Framework failed over"), "{message}");
    assert!(message.contains(&framework_id), "{message}");
    // Nothing answers Launch any more.
    let served = tokio::time::timeout(DEADLINE, async {
        loop {
            match client.launch(launch("default.web.0a1b2c3d4e.late", "true")).await {
                Ok(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                Err(status) => return status,
            }
        }
    })
    .await
    .expect("the gRPC server stops");
    assert_ne!(served.code(), tonic::Code::Ok);
    agent.shutdown().await;
    master.shutdown().await;
}

/// An id from the master that could not be read back is never persisted:
/// the agent stops with the error rather than run tasks under an id the
/// next start would not know.
#[tokio::test]
async fn failing_to_persist_a_new_framework_id_stops_the_agent() {
    let (master, _, server) = common::stand_in::serve("../../etc/passwd").await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = AgentConfig::new(&master, "127.0.0.1:0".parse().unwrap());
    config.state_dir = Some(dir.path().join("agent"));
    let mut agent = sextant_agent::start(config).await.unwrap();
    let stopped = tokio::time::timeout(DEADLINE, agent.wait())
        .await
        .expect("the agent stops on its own");
    let message = stopped.expect_err("an id that cannot be kept is fatal").to_string();
    assert!(
        message.contains("from the master") && message.contains("agent.sled"),
        "{message}"
    );
    agent.shutdown().await;
    server.abort();
    let journal = Journal::open(dir.path().join("agent")).unwrap();
    assert_eq!(journal.framework_id().unwrap(), None, "nothing was persisted");
}

/// Guards a restart in the middle of launches (the Scheduling issue): the
/// controller's retries after the restart make no duplicate (a known id
/// answers created = false), no task is lost or left unreported, the master
/// runs each task once, and the adopted tasks keep their resources: a
/// production task that needs their room preempts them, which it could not
/// if the restarted agent had forgotten what they hold.
#[tokio::test]
async fn a_restart_in_the_middle_of_launches_duplicates_nothing_and_adopted_tasks_keep_their_resources() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = localmesos::LocalMesosConfig::new("127.0.0.1:0".parse().unwrap(), dir.path().join("mesos"));
    config.offer_interval = Duration::from_millis(200);
    config.nodes = vec![localmesos::NodeConfig {
        cpus: 2.0,
        mem: 4096.0,
        ..localmesos::NodeConfig::default()
    }];
    let master = localmesos::start(config).await.unwrap();
    let state = dir.path().join("agent");
    let start = |preemption: Option<Duration>| {
        let mut config = AgentConfig::new(master.url(), "127.0.0.1:0".parse().unwrap());
        config.state_dir = Some(state.clone());
        config.preemption_delay = preemption;
        async move {
            let mut agent = sextant_agent::start(config).await.unwrap();
            tokio::time::timeout(DEADLINE, agent.wait_subscribed())
                .await
                .expect("the agent subscribes");
            agent
        }
    };
    let preemptible = |i: usize| {
        let mut request = launch(&format!("default.batch.0a1b2c3d4e.b{i:02}"), "exec sleep 120");
        if let Some(spec) = request.spec.as_mut() {
            spec.cpus = 0.1;
            spec.ports.clear();
            spec.priority = sextant_proto::proto::Priority::Preemptible as i32;
        }
        request
    };
    let ids: Vec<String> = (0..20).map(|i| preemptible(i).task_id).collect();

    let agent = start(None).await;
    let mut client = AgentClient::connect(agent.url()).await.unwrap();
    for i in 0..20 {
        assert!(client.launch(preemptible(i)).await.unwrap().into_inner().created);
    }
    // Stopped while the launches are in flight: some are on Mesos, some
    // still queued.
    agent.shutdown().await;

    let agent = start(Some(Duration::from_secs(1))).await;
    let mut client = AgentClient::connect(agent.url()).await.unwrap();
    let (snapshot, mut stream) = watch(&mut client).await;
    let known: Vec<&str> = snapshot.iter().map(|t| t.task_id.as_str()).collect();
    // The controller relaunches what the snapshot lacks; a retry of every
    // id shows that none it holds is launched again.
    let restarted = Instant::now();
    for (i, id) in ids.iter().enumerate() {
        let created = client.launch(preemptible(i)).await.unwrap().into_inner().created;
        assert_eq!(created, !known.contains(&id.as_str()), "{id}");
    }
    let mut running: std::collections::BTreeSet<String> = snapshot
        .iter()
        .filter(|t| t.state() == TaskState::Running)
        .map(|t| t.task_id.clone())
        .collect();
    let all_running = async {
        while running.len() < ids.len() {
            let event = stream.message().await.unwrap().expect("stream open");
            let tasks = match event.event {
                Some(task_event::Event::Update(task)) => vec![task],
                Some(task_event::Event::Snapshot(snapshot)) => snapshot.tasks,
                _ => continue,
            };
            for task in tasks {
                assert_ne!(task.state(), TaskState::Error, "a duplicate launch: {task:?}");
                if task.state() == TaskState::Running {
                    running.insert(task.task_id);
                }
            }
        }
    };
    tokio::time::timeout(DEADLINE, all_running)
        .await
        .expect("all 20 tasks RUNNING after the restart");
    eprintln!(
        "after the restart: {} of 20 tasks adopted, all 20 RUNNING {:?} after the relaunches",
        known.len(),
        restarted.elapsed()
    );
    let running_on_mesos = |state: &serde_json::Value| -> Vec<String> {
        state["frameworks"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|f| f["tasks"].as_array().into_iter().flatten())
            .filter(|t| t["state"] == "TASK_RUNNING")
            .filter_map(|t| t["id"].as_str().map(str::to_string))
            .collect()
    };
    let state: serde_json::Value = reqwest::get(format!("{}/master/state", master.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut on_mesos = running_on_mesos(&state);
    on_mesos.sort();
    assert_eq!(on_mesos, ids, "each task runs once on the master");

    // 2 cpus, 20 × 0.1 held by the adopted and the relaunched: a production
    // task of 1 cpu finds room only by preemption.
    let mut production = launch("default.api.0a1b2c3d4e.p1", "exec sleep 120");
    if let Some(spec) = production.spec.as_mut() {
        spec.cpus = 1.0;
        spec.ports.clear();
        spec.priority = sextant_proto::proto::Priority::Production as i32;
    }
    client.launch(production).await.unwrap();
    until_state(&mut stream, "default.api.0a1b2c3d4e.p1", TaskState::Running).await;
    let (after, _) = watch(&mut client).await;
    let preempted: Vec<&Task> = after
        .iter()
        .filter(|t| t.message.starts_with("preempted by default.api.0a1b2c3d4e.p1"))
        .collect();
    assert_eq!(
        preempted.len(),
        10,
        "the fewest victims: 10 × 0.1 cpus for 1 cpu: {preempted:#?}"
    );
    agent.shutdown().await;
    master.shutdown().await;
}
