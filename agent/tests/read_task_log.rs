//! `ReadTaskLog` against the embedded master, over real HTTP and gRPC: a
//! task's stdout and stderr come from its Mesos agent's `/files/read` at the
//! address the offers gave (or, for an agent no offer named, the address
//! the master's `/master/slaves` gives), and every "no" says why.

use std::time::Duration;

use sextant_agent::AgentConfig;
use sextant_agent::sandboxes::{Sandboxes, TaskSandbox};
use sextant_proto::proto::agent_client::AgentClient;
use sextant_proto::proto::{
    LaunchRequest, ReadTaskLogRequest, TaskEvent, TaskLogFile, TaskSpec, TaskState, WatchTasksRequest, task_event,
};
use tonic::Streaming;

const DEADLINE: Duration = Duration::from_secs(30);

fn launch(task_id: &str, command: &str, cpus: f64) -> LaunchRequest {
    let mut parts = task_id.split('.');
    LaunchRequest {
        task_id: task_id.to_string(),
        namespace: parts.next().unwrap_or_default().to_string(),
        app: parts.next().unwrap_or_default().to_string(),
        revision: parts.next().unwrap_or_default().to_string(),
        spec: Some(TaskSpec {
            command: command.to_string(),
            cpus,
            mem: 16.0,
            kill_grace_period_seconds: 1,
            ..TaskSpec::default()
        }),
    }
}

fn read(task_id: &str, file: TaskLogFile, offset: i64, length: u32) -> ReadTaskLogRequest {
    ReadTaskLogRequest {
        task_id: task_id.to_string(),
        file: file as i32,
        offset,
        length,
    }
}

/// Waits until `task_id` reaches `state` on the watch; returns its agent id.
async fn until_state(stream: &mut Streaming<TaskEvent>, task_id: &str, state: TaskState) -> String {
    let wait = async {
        loop {
            let event = stream.message().await.expect("stream ok").expect("stream open");
            let tasks = match event.event {
                Some(task_event::Event::Update(task)) => vec![task],
                Some(task_event::Event::Snapshot(snapshot)) => snapshot.tasks,
                _ => continue,
            };
            if let Some(task) = tasks.into_iter().find(|t| t.task_id == task_id && t.state() == state) {
                return task.agent_id;
            }
        }
    };
    tokio::time::timeout(DEADLINE, wait)
        .await
        .unwrap_or_else(|_| panic!("{task_id} did not reach {state:?}"))
}

/// Reads until the log holds `expected` (a task writes a moment after it
/// is RUNNING).
async fn wait_for_log(
    client: &mut AgentClient<tonic::transport::Channel>,
    task_id: &str,
    file: TaskLogFile,
    expected: &[u8],
) {
    let mut last = Vec::new();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while tokio::time::Instant::now() < deadline {
        let answer = client.read_task_log(read(task_id, file, 0, 0)).await.expect("read");
        last = answer.into_inner().data;
        if last == expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{task_id} {file:?} never held {:?}; last read {:?}",
        String::from_utf8_lossy(expected),
        String::from_utf8_lossy(&last)
    );
}

#[tokio::test]
async fn a_tasks_stdout_and_stderr_are_read_from_its_mesos_agent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = localmesos::LocalMesosConfig::new("127.0.0.1:0".parse().expect("addr"), dir.path().join("mesos"));
    config.offer_interval = Duration::from_millis(200);
    let master = localmesos::start(config).await.expect("localmesos starts");
    let mut agent_config = AgentConfig::new(master.url(), "127.0.0.1:0".parse().expect("addr"));
    agent_config.state_dir = Some(dir.path().join("agent"));
    let mut agent = sextant_agent::start(agent_config).await.expect("agent starts");
    tokio::time::timeout(DEADLINE, agent.wait_subscribed())
        .await
        .expect("subscribed");
    let mut client = AgentClient::connect(agent.url()).await.expect("gRPC connects");
    let mut stream = client
        .watch_tasks(WatchTasksRequest {})
        .await
        .expect("watch")
        .into_inner();

    let id = "default.printer.0a1b2c3d4e.aaaa0001";
    let command = "printf 'out1\\nout2\\n'; printf 'err1\\n' >&2; exec sleep 60";
    client.launch(launch(id, command, 0.1)).await.expect("launch");
    let agent_id = until_state(&mut stream, id, TaskState::Running).await;

    wait_for_log(&mut client, id, TaskLogFile::Stdout, b"out1\nout2\n").await;
    wait_for_log(&mut client, id, TaskLogFile::Stderr, b"err1\n").await;
    let size = client
        .read_task_log(read(id, TaskLogFile::Stdout, -1, 0))
        .await
        .expect("size")
        .into_inner();
    assert_eq!((size.data.len(), size.offset), (0, 10), "offset -1 answers the size");
    let part = client
        .read_task_log(read(id, TaskLogFile::Stdout, 5, 3))
        .await
        .expect("a range")
        .into_inner();
    assert_eq!((part.data.as_slice(), part.offset), (&b"out"[..], 5));

    // The agent reads on past a Mesos agent's 64 KiB cap, in one call.
    let big = "default.big.0a1b2c3d4e.aaaa0003";
    let output = "head -c 200000 /dev/zero | tr '\\0' x; exec sleep 60";
    client.launch(launch(big, output, 0.1)).await.expect("launch");
    until_state(&mut stream, big, TaskState::Running).await;
    wait_for_log(&mut client, big, TaskLogFile::Stdout, &[b'x'; 200_000]).await;
    let capped = client
        .read_task_log(read(big, TaskLogFile::Stdout, 0, 70_000))
        .await
        .expect("read")
        .into_inner();
    assert_eq!(capped.data.len(), 70_000, "as many bytes as asked");

    let unknown = client
        .read_task_log(read("default.printer.0a1b2c3d4e.nope", TaskLogFile::Stdout, 0, 0))
        .await
        .expect_err("unknown task");
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    assert!(
        unknown.message().contains("does not know task"),
        "{}",
        unknown.message()
    );

    let huge = "default.huge.0a1b2c3d4e.aaaa0002";
    client.launch(launch(huge, "sleep 60", 64.0)).await.expect("launch");
    until_state(&mut stream, huge, TaskState::Pending).await;
    let pending = client
        .read_task_log(read(huge, TaskLogFile::Stdout, 0, 0))
        .await
        .expect_err("not launched");
    assert_eq!(pending.code(), tonic::Code::FailedPrecondition);
    assert!(
        pending
            .message()
            .starts_with(&format!("task {huge} has not been launched yet")),
        "{}",
        pending.message()
    );

    let bad = client
        .read_task_log(read(id, TaskLogFile::Unspecified, 0, 0))
        .await
        .expect_err("no file");
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);

    // An agent no offer named (as after a restart): the master says where.
    let link = agent_status(&mut client).await;
    let fresh = Sandboxes::new(master.url()).expect("an HTTP client");
    let sandbox = TaskSandbox {
        task_id: id.to_string(),
        agent_id: agent_id.clone(),
        endpoint: None,
        hostname: String::new(),
        framework_id: link,
        executor_id: id.to_string(),
    };
    let (data, offset) = fresh
        .read(&sandbox, "stderr", 0, 0)
        .await
        .expect("found via /master/slaves");
    assert_eq!((data.as_slice(), offset), (&b"err1\n"[..], 0));

    // A sandbox removed from the node: gone, in words.
    std::fs::remove_dir_all(dir.path().join("mesos").join("slaves")).expect("remove the sandboxes");
    let gone = client
        .read_task_log(read(id, TaskLogFile::Stdout, 0, 0))
        .await
        .expect_err("gone");
    assert_eq!(gone.code(), tonic::Code::NotFound);
    assert!(
        gone.message().starts_with(&format!(
            "the sandbox of task {id} is gone (the agent removed it, or the task never started)"
        )),
        "{}",
        gone.message()
    );

    agent.shutdown().await;
    master.shutdown().await;
}

/// The framework id the agent reports.
async fn agent_status(client: &mut AgentClient<tonic::transport::Channel>) -> String {
    let mut stream = client
        .watch_tasks(WatchTasksRequest {})
        .await
        .expect("watch")
        .into_inner();
    loop {
        let event = stream.message().await.expect("stream ok").expect("stream open");
        if let Some(task_event::Event::Agent(status)) = event.event
            && !status.framework_id.is_empty()
        {
            return status.framework_id;
        }
    }
}
