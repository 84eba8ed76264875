//! The gRPC service the controller calls: Launch, Kill, WatchTasks.

use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use sextant_api::proto::agent_server::Agent;
use sextant_api::proto::{
    KillRequest, KillResponse, LaunchRequest, LaunchResponse, TaskEvent, TaskSnapshot, WatchTasksRequest, task_event,
};
use tokio::sync::{Mutex, broadcast, mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};
use tracing::info;

use crate::scheduler::Command;
use crate::tasks::TaskTable;

/// Events buffered per watcher before back-pressure applies.
const WATCH_BUFFER: usize = 256;

pub struct AgentService {
    tasks: Arc<Mutex<TaskTable>>,
    commands: mpsc::UnboundedSender<Command>,
    /// Ends every watch stream, so that a graceful server shutdown does not
    /// wait for watchers that never hang up.
    shutdown: watch::Receiver<bool>,
    /// Snapshots wait until the task table is synced with Mesos.
    synced: watch::Receiver<bool>,
}

impl AgentService {
    pub fn new(
        tasks: Arc<Mutex<TaskTable>>,
        commands: mpsc::UnboundedSender<Command>,
        shutdown: watch::Receiver<bool>,
        synced: watch::Receiver<bool>,
    ) -> Self {
        Self {
            tasks,
            commands,
            shutdown,
            synced,
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

    type WatchTasksStream = WatchStream;

    async fn watch_tasks(&self, _request: Request<WatchTasksRequest>) -> Result<Response<WatchStream>, Status> {
        let (tx, rx) = mpsc::channel(WATCH_BUFFER);
        let tasks = Arc::clone(&self.tasks);
        let mut shutdown = self.shutdown.clone();
        let mut synced = self.synced.clone();
        tokio::spawn(async move {
            // A snapshot must be the truth: wait until Mesos has told us
            // which tasks exist (the watcher just waits; it is never told
            // "no tasks" by mistake).
            tokio::select! {
                r = synced.wait_for(|s| *s) => if r.is_err() { return },
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
            let (snapshot, mut changes) = tasks.lock().await.watch();
            if tx.send(Ok(snapshot_event(snapshot))).await.is_err() {
                return;
            }
            loop {
                let change = tokio::select! {
                    change = changes.recv() => change,
                    _ = shutdown.wait_for(|stop| *stop) => return,
                };
                let event = match change {
                    Ok(task) => TaskEvent {
                        event: Some(task_event::Event::Update(task)),
                    },
                    // Too slow to follow: start over with a fresh snapshot.
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let (snapshot, fresh) = tasks.lock().await.watch();
                        changes = fresh;
                        snapshot_event(snapshot)
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                if tx.send(Ok(event)).await.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

fn snapshot_event(tasks: Vec<sextant_api::proto::Task>) -> TaskEvent {
    TaskEvent {
        event: Some(task_event::Event::Snapshot(TaskSnapshot { tasks })),
    }
}
