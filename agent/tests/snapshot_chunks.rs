//! WatchTasks over real gRPC with a large task table: the snapshot comes
//! in chunks that each stay far below the message limit, and all of it
//! arrives. No Mesos is needed: the service is served on its own.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use sextant_agent::agent::agent_server;
use sextant_agent::grpc::AgentService;
use sextant_agent::link::LinkWriter;
use sextant_agent::nodes::Nodes;
use sextant_agent::sandboxes::Sandboxes;
use sextant_agent::tasks::TaskTable;
use sextant_proto::contract::{MAX_MESSAGE_BYTES, SNAPSHOT_CHUNK_TASKS};
use sextant_proto::proto::agent_client::AgentClient;
use sextant_proto::proto::{LaunchRequest, TaskEvent, TaskSnapshot, TaskSpec, WatchTasksRequest, task_event};
use tokio::sync::{Mutex, mpsc, watch};
use tokio_stream::wrappers::TcpListenerStream;
use tonic::Streaming;

const TASKS: usize = 50_000;

/// No task of these tests has a sandbox.
fn sandboxes() -> Arc<Sandboxes> {
    Arc::new(Sandboxes::new("http://127.0.0.1:5050").expect("an HTTP client"))
}

/// Nor is any node listed.
fn nodes() -> Arc<Nodes> {
    Arc::new(Nodes::new("http://127.0.0.1:5050").expect("an HTTP client"))
}

fn request(i: usize) -> LaunchRequest {
    LaunchRequest {
        task_id: format!("default.web.0a1b2c3d4e.{i:08}"),
        namespace: "default".into(),
        app: "web".into(),
        revision: "0a1b2c3d4e".into(),
        spec: Some(TaskSpec {
            command: "exec sleep 1000".into(),
            cpus: 0.1,
            mem: 32.0,
            ..TaskSpec::default()
        }),
    }
}

/// Reads snapshot chunks (after `first`, if one was read already) until
/// `more == false`, checking each chunk's size; returns message by task id.
async fn read_snapshot(stream: &mut Streaming<TaskEvent>, first: Option<TaskSnapshot>) -> BTreeMap<String, String> {
    let mut tasks = BTreeMap::new();
    let mut next = first;
    loop {
        let chunk = match next.take() {
            Some(chunk) => chunk,
            None => {
                let event = stream.message().await.expect("stream ok").expect("a snapshot chunk");
                let Some(task_event::Event::Snapshot(chunk)) = event.event else {
                    panic!("only snapshot chunks until the last one, got {event:?}");
                };
                chunk
            }
        };
        assert!(
            chunk.tasks.len() <= SNAPSHOT_CHUNK_TASKS,
            "a chunk of {} tasks",
            chunk.tasks.len()
        );
        for task in chunk.tasks {
            assert!(tasks.insert(task.task_id, task.message).is_none(), "a task sent twice");
        }
        if !chunk.more {
            return tasks;
        }
    }
}

/// Serves `service` on a free loopback port until `stopped` turns true.
async fn serve(
    service: AgentService,
    mut stopped: watch::Receiver<bool>,
) -> (
    std::net::SocketAddr,
    tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(agent_server(service))
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async move {
                let _ = stopped.wait_for(|s| *s).await;
            }),
    );
    (addr, server)
}

/// The agent's status follows every snapshot (no Mesos here: not connected).
async fn expect_status(stream: &mut Streaming<TaskEvent>) {
    let next = stream.message().await.expect("stream ok").expect("an event");
    assert!(
        matches!(next.event, Some(task_event::Event::Agent(ref s)) if !s.mesos_connected),
        "the agent's status follows the snapshot: {next:?}"
    );
}

#[tokio::test]
async fn snapshots_of_fifty_thousand_tasks_arrive_whole_in_bounded_chunks() {
    let mut table = TaskTable::new();
    for i in 0..TASKS {
        assert!(table.enqueue(request(i)));
    }
    let (commands, _commands_rx) = mpsc::unbounded_channel();
    let (stop, stopped) = watch::channel(false);
    let (_synced_tx, synced) = watch::channel(true);
    let (_link_writer, link) = LinkWriter::new("http://127.0.0.1:5050");
    let table = Arc::new(Mutex::new(table));
    let service = AgentService::new(
        Arc::clone(&table),
        commands,
        stopped.clone(),
        synced,
        link,
        sandboxes(),
        nodes(),
    );

    let (addr, server) = serve(service, stopped).await;

    let mut client = AgentClient::connect(format!("http://{addr}"))
        .await
        .expect("gRPC connects")
        .max_decoding_message_size(MAX_MESSAGE_BYTES);
    let mut stream = client
        .watch_tasks(WatchTasksRequest {})
        .await
        .expect("watch")
        .into_inner();

    let first = tokio::time::timeout(Duration::from_secs(60), read_snapshot(&mut stream, None))
        .await
        .expect("the snapshot arrives");
    assert_eq!(first.len(), TASKS, "every task, once");
    expect_status(&mut stream).await;

    // A watcher that stops reading while many tasks change falls behind the
    // change feed (BROADCAST_CAPACITY buffered) and is sent a fresh
    // snapshot, chunked too.
    let changed = sextant_agent::tasks::BROADCAST_CAPACITY + 10_000;
    {
        let mut table = table.lock().await;
        for i in 0..changed {
            table.note_waiting(&request(i).task_id, "waiting for an offer: test");
        }
    }
    let fresh = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let event = stream.message().await.expect("stream ok").expect("stream open");
            match event.event {
                Some(task_event::Event::Update(_)) => continue,
                Some(task_event::Event::Snapshot(chunk)) => return read_snapshot(&mut stream, Some(chunk)).await,
                other => panic!("updates, then a fresh snapshot; got {other:?}"),
            }
        }
    })
    .await
    .expect("a fresh snapshot arrives");
    assert_eq!(fresh.len(), TASKS);
    let waiting = fresh.values().filter(|m| !m.is_empty()).count();
    assert_eq!(waiting, changed, "the fresh snapshot holds every change");
    expect_status(&mut stream).await;

    drop(stream);
    drop(client);
    let _ = stop.send(true);
    let _ = server.await;
}

/// Guards "a watcher learns why it waits": before the agent is synced with
/// Mesos, the watch says so with the agent's Mesos link (and its reason),
/// and the snapshot follows once synced.
#[tokio::test]
async fn a_watch_before_the_first_sync_says_why_it_waits() {
    let (commands, _commands_rx) = mpsc::unbounded_channel();
    let (stop, stopped) = watch::channel(false);
    let (synced_tx, synced) = watch::channel(false);
    let (link_writer, link) = LinkWriter::new("http://127.0.0.1:5050");
    link_writer.disconnected("cannot reach the Mesos master at http://127.0.0.1:5050: connection refused".into());
    let table = Arc::new(Mutex::new(TaskTable::new()));
    let service = AgentService::new(table, commands, stopped.clone(), synced, link, sandboxes(), nodes());
    let (addr, server) = serve(service, stopped).await;
    let mut client = AgentClient::connect(format!("http://{addr}")).await.expect("connects");
    let mut stream = client
        .watch_tasks(WatchTasksRequest {})
        .await
        .expect("watch")
        .into_inner();
    let first = tokio::time::timeout(Duration::from_secs(10), stream.message())
        .await
        .expect("an event before any sync")
        .expect("stream ok")
        .expect("open");
    match first.event {
        Some(task_event::Event::Agent(s)) => {
            assert!(!s.mesos_connected);
            assert!(s.message.contains("connection refused"), "{s:?}");
        }
        other => panic!("the agent's status first, got {other:?}"),
    }
    synced_tx.send(true).expect("synced");
    let tasks = tokio::time::timeout(Duration::from_secs(10), read_snapshot(&mut stream, None))
        .await
        .expect("the snapshot once synced");
    assert!(tasks.is_empty());
    drop(stream);
    drop(client);
    let _ = stop.send(true);
    let _ = server.await;
}
