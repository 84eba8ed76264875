//! The link to the agent: mirrors its `WatchTasks` stream into index
//! events, reconnecting forever. Tasks are converted to the domain type
//! here, once; a snapshot arrives in chunks and is applied only whole.
//! Also the one way to call the agent's `ReadTaskLog` (`read_task_log`),
//! `ListNodes` (`list_nodes`) and `ListQueue` (`list_queue`), and the one
//! place a call to the agent gets its token (`request`).

use std::sync::RwLock;
use std::time::Duration;

use sextant_api::contract::MAX_MESSAGE_BYTES;
use sextant_api::proto::agent_client::AgentClient;
use sextant_api::proto::{
    ClusterRequest, ClusterResponse, ListNodesRequest, ListNodesResponse, ListQueueRequest, ListQueueResponse,
    ReadTaskLogRequest, ReadTaskLogResponse, WatchTasksRequest, task_event,
};
use tokio::sync::{mpsc, watch};
use tonic::Status;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Channel;
use tracing::{debug, info, warn};

use crate::index::writer::IndexEvent;
use crate::observed::ObservedTask;

/// Exponential backoff between reconnects.
struct Backoff {
    next: Duration,
    attempts: u32,
}

impl Backoff {
    const MIN: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(5);

    fn new() -> Self {
        Self {
            next: Self::MIN,
            attempts: 0,
        }
    }

    fn step(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        self.attempts += 1;
        d
    }
}

/// The `authorization` value every call to the agent carries when the
/// agent needs a token (`--agent-token-file`). Kept per process, not per
/// channel: the agent's clients are plain `AgentClient<Channel>` wherever
/// they are held, and a tonic channel cannot add metadata by itself.
static AGENT_AUTHORIZATION: RwLock<Option<MetadataValue<Ascii>>> = RwLock::new(None);

/// A token that cannot travel in gRPC metadata.
#[derive(Debug, thiserror::Error)]
#[error("the agent token holds characters that cannot be sent (only visible ASCII can)")]
pub struct InvalidAgentToken;

/// Sets (or, with `None`, clears) the token sent to the agent.
pub fn set_agent_token(token: Option<&str>) -> Result<(), InvalidAgentToken> {
    let value = match token {
        Some(token) => {
            Some(MetadataValue::try_from(format!("Bearer {}", token.trim())).map_err(|_| InvalidAgentToken)?)
        }
        None => None,
    };
    match AGENT_AUTHORIZATION.write() {
        Ok(mut slot) => *slot = value,
        Err(poisoned) => *poisoned.into_inner() = value,
    }
    Ok(())
}

/// A request to the agent, with the token when one is set.
pub fn request<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    let value = match AGENT_AUTHORIZATION.read() {
        Ok(slot) => slot.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    };
    if let Some(value) = value {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

/// A client for the agent with the contract's explicit message limits.
pub fn client(channel: Channel) -> AgentClient<Channel> {
    AgentClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES)
}

/// A client of an agent that never answers (nothing listens on port 1),
/// for tests of the API that do not read task logs. Needs a Tokio runtime.
#[cfg(test)]
pub fn unreachable_client() -> AgentClient<Channel> {
    client(tonic::transport::Endpoint::from_static("http://127.0.0.1:1").connect_lazy())
}

/// Bound on one `ReadTaskLog`: the agent may read from a Mesos agent 16
/// times (10 s each at most) for the largest read.
const READ_TASK_LOG_TIMEOUT: Duration = Duration::from_secs(30);

/// Reads part of a task's stdout or stderr through the agent (see the
/// contract's `ReadTaskLog`); a refusal is a status whose message says why.
pub async fn read_task_log(
    client: &AgentClient<Channel>,
    request: ReadTaskLogRequest,
) -> Result<ReadTaskLogResponse, Status> {
    let mut request = self::request(request);
    request.set_timeout(READ_TASK_LOG_TIMEOUT);
    let mut client = client.clone();
    Ok(client.read_task_log(request).await?.into_inner())
}

/// Bound on one `ListNodes`: the agent asks the Mesos master, which it
/// gives 10 s (and 5 s to connect).
const LIST_NODES_TIMEOUT: Duration = Duration::from_secs(20);
/// Bound on one `ListQueue`: the agent answers from memory.
const LIST_QUEUE_TIMEOUT: Duration = Duration::from_secs(5);

/// The Mesos agents (nodes) as the agent's master lists them (see the
/// contract's `ListNodes`); a refusal is a status whose message says why.
pub async fn list_nodes(client: &AgentClient<Channel>) -> Result<ListNodesResponse, Status> {
    let mut request = request(ListNodesRequest {});
    request.set_timeout(LIST_NODES_TIMEOUT);
    let mut client = client.clone();
    Ok(client.list_nodes(request).await?.into_inner())
}

/// The agent's launch queue (see the contract's `ListQueue`).
pub async fn list_queue(client: &AgentClient<Channel>) -> Result<ListQueueResponse, Status> {
    let mut request = request(ListQueueRequest {});
    request.set_timeout(LIST_QUEUE_TIMEOUT);
    let mut client = client.clone();
    Ok(client.list_queue(request).await?.into_inner())
}

/// The cluster in one answer (see the contract's `Cluster`): as slow as
/// its slowest part, the master's node list.
pub async fn cluster(client: &AgentClient<Channel>) -> Result<ClusterResponse, Status> {
    let mut request = request(ClusterRequest {});
    request.set_timeout(LIST_NODES_TIMEOUT);
    let mut client = client.clone();
    Ok(client.cluster(request).await?.into_inner())
}

/// Streams the agent's tasks into `events` until shutdown.
pub async fn watch_agent(
    channel: Channel,
    agent_url: String,
    events: mpsc::Sender<IndexEvent>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut backoff = Backoff::new();
    loop {
        let mut agent = client(channel.clone());
        let call = tokio::select! {
            _ = shutdown.changed() => return,
            r = agent.watch_tasks(request(WatchTasksRequest {})) => r,
        };
        match call {
            Ok(resp) => {
                let mut stream = resp.into_inner();
                // Chunks of the snapshot being received.
                let mut partial: Vec<ObservedTask> = Vec::new();
                loop {
                    let msg = tokio::select! {
                        _ = shutdown.changed() => return,
                        m = stream.message() => m,
                    };
                    let event = match msg {
                        Ok(Some(ev)) => match ev.event {
                            Some(task_event::Event::Snapshot(chunk)) => {
                                partial.extend(chunk.tasks.into_iter().map(ObservedTask::from));
                                if chunk.more {
                                    continue;
                                }
                                info!(agent = %agent_url, tasks = partial.len(), "agent task snapshot received");
                                backoff = Backoff::new();
                                IndexEvent::Snapshot(std::mem::take(&mut partial))
                            }
                            Some(task_event::Event::Update(t)) => IndexEvent::Task(Box::new(ObservedTask::from(t))),
                            Some(task_event::Event::Agent(a)) => IndexEvent::Mesos {
                                connected: a.mesos_connected,
                                since: a.since,
                                message: a.message,
                            },
                            None => continue,
                        },
                        Ok(None) => {
                            warn!(agent = %agent_url, "the agent ended the task stream; reconnecting");
                            break;
                        }
                        Err(status) => {
                            warn!(agent = %agent_url, error = %status.message(), "task stream failed; reconnecting");
                            break;
                        }
                    };
                    if events.send(event).await.is_err() {
                        return;
                    }
                }
            }
            Err(status) => {
                if backoff.attempts == 0 || backoff.attempts.is_multiple_of(20) {
                    warn!(agent = %agent_url, error = %status.message(), "cannot watch the agent's tasks; retrying");
                } else {
                    debug!(agent = %agent_url, error = %status.message(), "agent still unavailable");
                }
            }
        }
        if events.send(IndexEvent::AgentLost).await.is_err() {
            return;
        }
        let delay = backoff.step();
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(delay) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;

    use futures::Stream;
    use sextant_api::proto::agent_server::{Agent, AgentServer};
    use sextant_api::proto::{
        AgentStatus, KillRequest, KillResponse, LaunchRequest, LaunchResponse, ListNodesRequest, ListNodesResponse,
        ListQueueRequest, ListQueueResponse, ReadTaskLogRequest, ReadTaskLogResponse, Task, TaskEvent, TaskSnapshot,
    };
    use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
    use tonic::{Request, Response, Status};

    use super::*;

    /// A scripted agent: its watch sends `events`, then stays open.
    struct Scripted {
        events: Vec<TaskEvent>,
    }

    type Events = Pin<Box<dyn Stream<Item = Result<TaskEvent, Status>> + Send>>;

    #[tonic::async_trait]
    impl Agent for Scripted {
        async fn launch(&self, _: Request<LaunchRequest>) -> Result<Response<LaunchResponse>, Status> {
            Err(Status::unimplemented("scripted"))
        }

        async fn kill(&self, _: Request<KillRequest>) -> Result<Response<KillResponse>, Status> {
            Err(Status::unimplemented("scripted"))
        }

        async fn read_task_log(&self, _: Request<ReadTaskLogRequest>) -> Result<Response<ReadTaskLogResponse>, Status> {
            Err(Status::unimplemented("scripted"))
        }

        async fn list_nodes(&self, _: Request<ListNodesRequest>) -> Result<Response<ListNodesResponse>, Status> {
            Err(Status::unimplemented("scripted"))
        }

        async fn list_queue(&self, _: Request<ListQueueRequest>) -> Result<Response<ListQueueResponse>, Status> {
            Err(Status::unimplemented("scripted"))
        }

        async fn cluster(&self, _: Request<ClusterRequest>) -> Result<Response<ClusterResponse>, Status> {
            Err(Status::unimplemented("scripted"))
        }

        type WatchTasksStream = Events;

        async fn watch_tasks(&self, _: Request<WatchTasksRequest>) -> Result<Response<Events>, Status> {
            let (tx, rx) = tokio::sync::mpsc::channel(16);
            let events = self.events.clone();
            tokio::spawn(async move {
                for e in events {
                    if tx.send(Ok(e)).await.is_err() {
                        return;
                    }
                }
                // Keep the stream open, as a live agent does.
                tx.closed().await;
            });
            Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
        }
    }

    fn chunk(from: usize, to: usize, more: bool) -> TaskEvent {
        let tasks = (from..to)
            .map(|i| Task {
                task_id: format!("default.web.0a1b.{i:06}"),
                namespace: "default".into(),
                app: "web".into(),
                revision: "0a1b".into(),
                state: sextant_api::proto::TaskState::Running as i32,
                ..Default::default()
            })
            .collect();
        TaskEvent {
            event: Some(task_event::Event::Snapshot(TaskSnapshot { tasks, more })),
        }
    }

    /// Guards "a snapshot is applied only whole": chunks are gathered until
    /// the last, then given to the index as one snapshot; the Mesos link
    /// follows as its own event.
    #[tokio::test]
    async fn chunks_become_one_snapshot() {
        let events = vec![
            TaskEvent {
                event: Some(task_event::Event::Agent(AgentStatus {
                    mesos_connected: false,
                    message: "not yet".into(),
                    ..Default::default()
                })),
            },
            chunk(0, 1000, true),
            chunk(1000, 2000, true),
            chunk(2000, 2500, false),
            TaskEvent {
                event: Some(task_event::Event::Agent(AgentStatus {
                    mesos_connected: true,
                    since: 5.0,
                    ..Default::default()
                })),
            },
        ];
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = watch::channel(false);
        let mut until = stopped.clone();
        let server = tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(AgentServer::new(Scripted { events }))
                .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async move {
                    let _ = until.wait_for(|s| *s).await;
                }),
        );
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .expect("endpoint")
            .connect_lazy();
        let (tx, mut rx) = mpsc::channel(16);
        let link = tokio::spawn(watch_agent(channel, format!("http://{addr}"), tx, stopped));
        let mut seen = Vec::new();
        while seen.len() < 3 {
            let event = tokio::time::timeout(Duration::from_secs(10), rx.recv())
                .await
                .expect("an event in time")
                .expect("open");
            seen.push(event);
        }
        assert!(matches!(&seen[0], IndexEvent::Mesos { connected: false, message, .. } if message == "not yet"));
        match &seen[1] {
            IndexEvent::Snapshot(tasks) => {
                assert_eq!(tasks.len(), 2500, "every chunk, once");
                assert_eq!(tasks[2499].id, "default.web.0a1b.002499");
            }
            other => panic!("one whole snapshot, got {other:?}"),
        }
        assert!(matches!(seen[2], IndexEvent::Mesos { connected: true, .. }));
        let _ = stop.send(true);
        let _ = link.await;
        let _ = server.await;
    }
}
