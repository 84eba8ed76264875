//! The link to the agent: mirrors its `WatchTasks` stream into index
//! events, reconnecting forever. Tasks are converted to the domain type
//! here, once; a snapshot arrives in chunks and is applied only whole.

use std::time::Duration;

use sextant_api::contract::MAX_MESSAGE_BYTES;
use sextant_api::proto::agent_client::AgentClient;
use sextant_api::proto::{WatchTasksRequest, task_event};
use tokio::sync::{mpsc, watch};
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

/// A client for the agent with the contract's explicit message limits.
pub fn client(channel: Channel) -> AgentClient<Channel> {
    AgentClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES)
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
            r = agent.watch_tasks(WatchTasksRequest {}) => r,
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
