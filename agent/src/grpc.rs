//! The gRPC service the controller calls: Launch, Kill, WatchTasks,
//! ReadTaskLog (a task's stdout or stderr, read from its Mesos agent: see
//! `sandboxes`), ListNodes (the master's agents: `nodes`), ListQueue
//! (the launch queue: `queue`) and Cluster (those two and the Mesos link).
//!
//! A watch stream is: the snapshot, in chunks; the agent's Mesos link
//! (`AgentStatus`); then every task change and every link change. A
//! watcher that falls behind gets a fresh snapshot (and link) again. At
//! most `MAX_WATCHES` streams are open at once, each with a bounded
//! buffer, and a stream's task ends as soon as its caller hangs up.
//!
//! Every call is authenticated before it gets here (`auth`).

use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use sextant_proto::contract::SNAPSHOT_CHUNK_TASKS;
use sextant_proto::proto::agent_server::Agent;
use sextant_proto::proto::task_event::Event;
use sextant_proto::proto::{
    AgentStatus, ClusterRequest, ClusterResponse, KillRequest, KillResponse, LaunchRequest, LaunchResponse,
    ListNodesRequest, ListNodesResponse, ListQueueRequest, ListQueueResponse, ReadTaskLogRequest, ReadTaskLogResponse,
    Task, TaskEvent, TaskLogFile, TaskSnapshot, WatchTasksRequest,
};
use tokio::sync::{Mutex, broadcast, mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};
use tracing::info;

use crate::link::MesosLink;
use crate::nodes::Nodes;
use crate::sandboxes::{LogError, Sandboxes, TaskSandbox};
use crate::scheduler::Command;
use crate::tasks::TaskTable;

/// Events buffered per watcher before back-pressure applies.
const WATCH_BUFFER: usize = 256;
/// Watch streams open at once; more are refused with RESOURCE_EXHAUSTED
/// (the controller needs one).
pub const MAX_WATCHES: usize = 64;

pub struct AgentService {
    tasks: Arc<Mutex<TaskTable>>,
    commands: mpsc::UnboundedSender<Command>,
    /// Ends every watch stream, so that a graceful server shutdown does not
    /// wait for watchers that never hang up.
    shutdown: watch::Receiver<bool>,
    /// Snapshots wait until the task table is synced with Mesos.
    synced: watch::Receiver<bool>,
    /// Reported to watchers after every snapshot and on every change.
    link: watch::Receiver<MesosLink>,
    /// Where sandboxes are, to read task logs from.
    sandboxes: Arc<Sandboxes>,
    /// Asks the master for its nodes.
    nodes: Arc<Nodes>,
    /// One permit per open watch stream.
    watches: Arc<tokio::sync::Semaphore>,
}

impl AgentService {
    pub fn new(
        tasks: Arc<Mutex<TaskTable>>,
        commands: mpsc::UnboundedSender<Command>,
        shutdown: watch::Receiver<bool>,
        synced: watch::Receiver<bool>,
        link: watch::Receiver<MesosLink>,
        sandboxes: Arc<Sandboxes>,
        nodes: Arc<Nodes>,
    ) -> Self {
        Self {
            tasks,
            commands,
            shutdown,
            synced,
            link,
            sandboxes,
            nodes,
            watches: Arc::new(tokio::sync::Semaphore::new(MAX_WATCHES)),
        }
    }
}

fn invalid(message: String) -> Status {
    Status::invalid_argument(message)
}

fn validate_launch(request: &LaunchRequest) -> Result<(), Status> {
    // Mesos task id rules: non-empty, <= 255, no '/', '\\' or control chars.
    let id = &request.task_id;
    if id.is_empty() || id.len() > 255 || id == "." || id == ".." {
        return Err(invalid(format!("invalid task id {id:?}")));
    }
    if id.chars().any(|c| c == '/' || c == '\\' || c.is_control()) {
        return Err(invalid(format!(
            "task id {id:?} contains '/', '\\' or a control character"
        )));
    }
    // The id is the task's identity in Mesos (a restarted agent adopts
    // tasks by parsing it): the fields must say the same.
    let parsed = id
        .parse::<sextant_proto::task::TaskId>()
        .map_err(|e| invalid(e.to_string()))?;
    for (field, given, in_id) in [
        ("namespace", &request.namespace, &parsed.namespace),
        ("app", &request.app, &parsed.app),
        ("revision", &request.revision, &parsed.revision),
    ] {
        if given != in_id {
            return Err(invalid(format!(
                "task {id}: {field} {given:?} disagrees with the task id, whose {field} is {in_id:?}"
            )));
        }
    }
    let Some(spec) = &request.spec else {
        return Err(invalid(format!("task {id}: spec is missing")));
    };
    if spec.command.is_empty() == spec.args.is_empty() {
        return Err(invalid(format!(
            "task {id}: exactly one of command or args must be set"
        )));
    }
    let positive = |v: f64| v > 0.0 && v.is_finite();
    if !(positive(spec.cpus) && positive(spec.mem)) {
        return Err(invalid(format!("task {id}: cpus and mem must be positive")));
    }
    if !(spec.disk >= 0.0 && spec.disk.is_finite()) {
        return Err(invalid(format!("task {id}: disk must not be negative")));
    }
    if let Some(check) = &spec.health_check
        && !check.port_name.is_empty()
        && !spec.ports.iter().any(|p| p.name == check.port_name)
    {
        return Err(invalid(format!(
            "task {id}: health check port {:?} is not a port of the task",
            check.port_name
        )));
    }
    Ok(())
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<TaskEvent, Status>> + Send>>;

#[tonic::async_trait]
impl Agent for AgentService {
    async fn launch(&self, request: Request<LaunchRequest>) -> Result<Response<LaunchResponse>, Status> {
        let request = request.into_inner();
        validate_launch(&request)?;
        let task_id = request.task_id.clone();
        let created = self.tasks.lock().await.enqueue(request);
        if created {
            info!(task_id, "launch queued");
            let _ = self.commands.send(Command::Wake);
        }
        Ok(Response::new(LaunchResponse { created }))
    }

    async fn kill(&self, request: Request<KillRequest>) -> Result<Response<KillResponse>, Status> {
        let KillRequest { task_id, reason } = request.into_inner();
        let mut tasks = self.tasks.lock().await;
        if tasks.drop_pending(&task_id, &reason) {
            info!(task_id, reason, "queued task dropped");
            return Ok(Response::new(KillResponse { known: true }));
        }
        let Some(agent_id) = tasks.request_kill(&task_id) else {
            return Ok(Response::new(KillResponse { known: false }));
        };
        drop(tasks);
        info!(task_id, reason, "killing");
        let _ = self.commands.send(Command::Kill { task_id, agent_id });
        Ok(Response::new(KillResponse { known: true }))
    }

    async fn read_task_log(
        &self,
        request: Request<ReadTaskLogRequest>,
    ) -> Result<Response<ReadTaskLogResponse>, Status> {
        let ReadTaskLogRequest {
            task_id,
            file,
            offset,
            length,
        } = request.into_inner();
        let file = match TaskLogFile::try_from(file) {
            Ok(TaskLogFile::Stdout) => "stdout",
            Ok(TaskLogFile::Stderr) => "stderr",
            _ => return Err(LogError::Invalid(format!("file {file} is neither stdout (1) nor stderr (2)")).status()),
        };
        if task_id.is_empty() {
            return Err(LogError::Invalid("a task id is needed".to_string()).status());
        }
        let framework_id = self.link.borrow().framework_id.clone();
        let sandbox = TaskSandbox::of(&task_id, &*self.tasks.lock().await, &framework_id).map_err(|e| e.status())?;
        let (data, offset) = self
            .sandboxes
            .read(&sandbox, file, offset, length)
            .await
            .map_err(|e| e.status())?;
        Ok(Response::new(ReadTaskLogResponse { data, offset }))
    }

    async fn list_nodes(&self, _request: Request<ListNodesRequest>) -> Result<Response<ListNodesResponse>, Status> {
        // Asked before the table is locked: the master may be slow.
        let answer = self.nodes.fetch().await?;
        let tasks = self.tasks.lock().await;
        Ok(Response::new(crate::nodes::response(
            &answer,
            &tasks,
            self.nodes.master(),
        )))
    }

    async fn list_queue(&self, _request: Request<ListQueueRequest>) -> Result<Response<ListQueueResponse>, Status> {
        let link = self.link.borrow().clone();
        let tasks = self.tasks.lock().await;
        Ok(Response::new(crate::queue::list(&tasks, &link)))
    }

    async fn cluster(&self, _request: Request<ClusterRequest>) -> Result<Response<ClusterResponse>, Status> {
        // The master is asked first and outside the lock, as in list_nodes;
        // its failure is part of the answer, not the answer's failure.
        let nodes = self.nodes.fetch().await;
        let link = self.link.borrow().clone();
        let tasks = self.tasks.lock().await;
        let (nodes, nodes_error) = match nodes {
            Ok(answer) => (
                Some(crate::nodes::response(&answer, &tasks, self.nodes.master())),
                String::new(),
            ),
            Err(status) => (None, status.message().to_string()),
        };
        Ok(Response::new(ClusterResponse {
            link: Some(link.status()),
            nodes,
            nodes_error,
            queue: Some(crate::queue::list(&tasks, &link)),
        }))
    }

    type WatchTasksStream = WatchStream;

    async fn watch_tasks(&self, _request: Request<WatchTasksRequest>) -> Result<Response<WatchStream>, Status> {
        let permit = Arc::clone(&self.watches).try_acquire_owned().map_err(|_| {
            Status::resource_exhausted(format!(
                "the agent serves at most {MAX_WATCHES} task watches at once; close one first"
            ))
        })?;
        let (tx, rx) = mpsc::channel(WATCH_BUFFER);
        let tasks = Arc::clone(&self.tasks);
        let mut shutdown = self.shutdown.clone();
        let mut synced = self.synced.clone();
        let mut link = self.link.clone();
        tokio::spawn(async move {
            // Held as long as the stream: released when the task ends.
            let _permit = permit;
            // A snapshot must be the truth: wait until Mesos has told us
            // which tasks exist (the watcher just waits; it is never told
            // "no tasks" by mistake).
            // Meanwhile, say why the snapshot waits: the Mesos link as it is,
            // then every change of it.
            let waiting = !*synced.borrow();
            if waiting {
                let status = link.borrow_and_update().status();
                if send_status(&tx, status).await.is_err() {
                    return;
                }
            }
            let mut link_open = true;
            loop {
                let status = tokio::select! {
                    r = synced.wait_for(|s| *s) => {
                        if r.is_err() { return }
                        break;
                    }
                    changed = link.changed(), if link_open => match changed {
                        Ok(()) => link.borrow_and_update().status(),
                        Err(_) => {
                            link_open = false;
                            continue;
                        }
                    },
                    _ = shutdown.wait_for(|stop| *stop) => return,
                    // The caller hung up: nothing else would notice until
                    // the next event.
                    _ = tx.closed() => return,
                };
                if send_status(&tx, status).await.is_err() {
                    return;
                }
            }
            let (snapshot, mut changes) = tasks.lock().await.watch();
            if send_snapshot(&tx, snapshot, &mut link).await.is_err() {
                return;
            }
            // The scheduler may stop (another instance took over) while we
            // still serve the table: the link then stays as it last was.
            loop {
                // Decided in the select, sent after it: no watch guard may
                // live across an await (the future must stay Send).
                let event = tokio::select! {
                    change = changes.recv() => match change {
                        Ok(task) => Some(Event::Update(task)),
                        // Too slow to follow: start over with a fresh snapshot.
                        Err(broadcast::error::RecvError::Lagged(_)) => None,
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                    changed = link.changed(), if link_open => match changed {
                        Ok(()) => Some(Event::Agent(link.borrow_and_update().status())),
                        Err(_) => {
                            link_open = false;
                            continue;
                        }
                    },
                    _ = shutdown.wait_for(|stop| *stop) => return,
                    _ = tx.closed() => return,
                };
                let sent = match event {
                    Some(event) => tx.send(Ok(TaskEvent { event: Some(event) })).await.map_err(drop),
                    None => {
                        let (snapshot, fresh) = tasks.lock().await.watch();
                        changes = fresh;
                        send_snapshot(&tx, snapshot, &mut link).await
                    }
                };
                if sent.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

/// Sends the agent's Mesos link. Errs when the watcher went away.
async fn send_status(tx: &mpsc::Sender<Result<TaskEvent, Status>>, status: AgentStatus) -> Result<(), ()> {
    let event = TaskEvent {
        event: Some(Event::Agent(status)),
    };
    tx.send(Ok(event)).await.map_err(drop)
}

/// Sends `tasks` (taken under the table lock, so consistent) as chunks of
/// at most `SNAPSHOT_CHUNK_TASKS`, the last with `more = false`, then the
/// Mesos link as it is now. Errs when the watcher went away.
async fn send_snapshot(
    tx: &mpsc::Sender<Result<TaskEvent, Status>>,
    tasks: Vec<Task>,
    link: &mut watch::Receiver<MesosLink>,
) -> Result<(), ()> {
    for chunk in snapshot_chunks(tasks) {
        let event = TaskEvent {
            event: Some(Event::Snapshot(chunk)),
        };
        tx.send(Ok(event)).await.map_err(drop)?;
    }
    // Marked seen: only later changes are sent again.
    let status = link.borrow_and_update().status();
    send_status(tx, status).await
}

/// Splits a snapshot into chunks; an empty one is a single empty chunk.
fn snapshot_chunks(mut tasks: Vec<Task>) -> Vec<TaskSnapshot> {
    let mut chunks = Vec::with_capacity(tasks.len().div_ceil(SNAPSHOT_CHUNK_TASKS).max(1));
    while tasks.len() > SNAPSHOT_CHUNK_TASKS {
        let rest = tasks.split_off(SNAPSHOT_CHUNK_TASKS);
        chunks.push(TaskSnapshot { tasks, more: true });
        tasks = rest;
    }
    chunks.push(TaskSnapshot { tasks, more: false });
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tasks(n: usize) -> Vec<Task> {
        (0..n)
            .map(|i| Task {
                task_id: format!("t{i}"),
                ..Task::default()
            })
            .collect()
    }

    #[test]
    fn snapshots_are_chunked_and_only_the_last_chunk_says_no_more() {
        let empty = snapshot_chunks(Vec::new());
        assert_eq!(empty.len(), 1);
        assert!(empty[0].tasks.is_empty() && !empty[0].more);

        let exact = snapshot_chunks(tasks(SNAPSHOT_CHUNK_TASKS));
        assert_eq!(exact.len(), 1);
        assert!(!exact[0].more);

        let chunks = snapshot_chunks(tasks(2 * SNAPSHOT_CHUNK_TASKS + 1));
        let sizes: Vec<(usize, bool)> = chunks.iter().map(|c| (c.tasks.len(), c.more)).collect();
        assert_eq!(
            sizes,
            [(SNAPSHOT_CHUNK_TASKS, true), (SNAPSHOT_CHUNK_TASKS, true), (1, false)]
        );
        assert_eq!(chunks[2].tasks[0].task_id, format!("t{}", 2 * SNAPSHOT_CHUNK_TASKS));
    }
}
