//! The controller runtime: wires the store, the directory source, the agent
//! task watcher, the reconcile loop and the HTTP API together, and stops them.
//!
//! - The task watcher connects to the agent (retrying with backoff), and
//!   mirrors its `WatchTasks` stream into the store: a snapshot replaces the
//!   task tree, an update upserts one task.
//! - The reconcile loop wakes on store changes, on agent (re)connection and
//!   every [`RESYNC_INTERVAL`]; it reconciles every app that is desired or
//!   has tasks, each in its own `reconcile` span, and never lets one app's
//!   failure block the others. It acts only while the agent's snapshot is
//!   current, so a restarted controller never launches from a stale view.
//! - After a Launch succeeds the task is stored as Pending at once (a
//!   ReplicaSet-style expectation) so the next pass does not launch again.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use futures::StreamExt;
use sextant_api::AppStatus;
use sextant_api::app::Condition;
use sextant_api::proto::agent_client::AgentClient;
use sextant_api::proto::{KillRequest, LaunchRequest, Task, TaskState, WatchTasksRequest, task_event};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::transport::{Channel, Endpoint};
use tracing::{Instrument, debug, error, info, info_span, warn};

use crate::backoff::CrashLoops;
use crate::reconcile::{Action, EXPECTED_REASON, Plan, Summary, counts_as_live, plan};
use crate::source::{DirSource, SourceError};
use crate::store::{DesiredApp, Store, StoreError, app_key, now_unix};

/// How often every app is reconciled even without a change.
pub const RESYNC_INTERVAL: Duration = Duration::from_secs(5);
/// Timeout of one Launch or Kill call.
pub const RPC_TIMEOUT: Duration = Duration::from_secs(10);
/// Apps reconciled concurrently.
const PARALLEL_APPS: usize = 8;

/// Condition types written to an app's status.
pub mod conditions {
    /// Enough instances are running.
    pub const AVAILABLE: &str = "Available";
    /// The app is moving to (or has reached) its desired revision and scale.
    pub const PROGRESSING: &str = "Progressing";
    /// The last reconcile could not do everything it should (present only
    /// when true).
    pub const RECONCILE_ERROR: &str = "ReconcileError";
}

/// What the controller needs to run.
#[derive(Clone, Debug)]
pub struct ControllerConfig {
    /// Directory of App manifests, watched recursively.
    pub manifests_dir: PathBuf,
    /// Directory of the sled store.
    pub data_dir: PathBuf,
    /// The agent's gRPC address, e.g. `http://127.0.0.1:7070`.
    pub agent_url: String,
    /// Where the HTTP API listens; port 0 picks a free port.
    pub api_addr: SocketAddr,
}

/// Errors starting the controller.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The manifests source could not be set up.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The HTTP API could not listen.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// A startup task panicked.
    #[error("controller startup failed: {0}")]
    Join(String),
    /// The agent URL is not a valid URI.
    #[error("invalid agent url {url:?}: {source}")]
    AgentUrl {
        /// The URL as given.
        url: String,
        /// The cause.
        source: tonic::transport::Error,
    },
}

/// A running controller.
#[derive(Debug)]
pub struct ControllerHandle {
    api_addr: SocketAddr,
    store: Store,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl ControllerHandle {
    /// The address the HTTP API is bound to.
    pub fn api_addr(&self) -> SocketAddr {
        self.api_addr
    }

    /// The controller's store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Stops every part, waits for them, and flushes the store.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            if let Err(e) = t.await {
                error!(error = %e, "controller task failed");
            }
        }
        if let Err(e) = self.store.flush() {
            error!(error = %e, "flushing the store at shutdown failed");
        }
        info!("controller stopped");
    }
}

/// A channel to the agent that connects lazily and reconnects by itself.
fn agent_channel(url: &str) -> Result<Channel, ControllerError> {
    let url = if url.contains("://") {
        url.to_string()
    } else {
        format!("http://{url}")
    };
    let endpoint = Endpoint::from_shared(url.clone()).map_err(|source| ControllerError::AgentUrl { url, source })?;
    Ok(endpoint
        .connect_timeout(Duration::from_secs(3))
        .http2_keep_alive_interval(Duration::from_secs(10))
        .keep_alive_timeout(Duration::from_secs(10))
        .keep_alive_while_idle(true)
        .connect_lazy())
}

/// Starts the controller: opens the store, binds the API, and spawns the
/// directory source, the task watcher and the reconcile loop.
pub async fn start(config: ControllerConfig) -> Result<ControllerHandle, ControllerError> {
    let data_dir = config.data_dir.clone();
    let store = tokio::task::spawn_blocking(move || Store::open(&data_dir))
        .await
        .map_err(|e| ControllerError::Join(e.to_string()))??;
    let channel = agent_channel(&config.agent_url)?;
    let source = DirSource::new(&config.manifests_dir, store.clone())?;

    // Apps of directories that are no longer configured have no owner left.
    let current = source.name().to_string();
    let orphaned = store.remove_apps_of_sources(|s| !s.starts_with("dir:") || s == current)?;
    if !orphaned.is_empty() {
        info!(apps = ?orphaned, "removed apps of manifests directories no longer configured");
    }
    for rec in store.list_sources()? {
        if rec.name.starts_with("dir:") && rec.name != current {
            store.delete_source(&rec.name)?;
        }
    }

    let listener = tokio::net::TcpListener::bind(config.api_addr)
        .await
        .map_err(|source| ControllerError::Bind {
            addr: config.api_addr,
            source,
        })?;
    let api_addr = listener.local_addr().map_err(|source| ControllerError::Bind {
        addr: config.api_addr,
        source,
    })?;

    let (shutdown, shutdown_rx) = watch::channel(false);
    let (synced_tx, synced_rx) = watch::channel(false);
    let mut tasks = Vec::new();

    let mut stop = shutdown_rx.clone();
    let router = crate::http::router(store.clone());
    tasks.push(tokio::spawn(async move {
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|v| *v).await;
            })
            .await;
        if let Err(e) = served {
            error!(error = %e, "HTTP API failed");
        }
    }));

    let rx = shutdown_rx.clone();
    tasks.push(tokio::spawn(async move {
        if let Err(e) = source.run(rx).await {
            error!(error = %e, "manifests source stopped");
        }
    }));

    tasks.push(tokio::spawn(watch_tasks(
        channel.clone(),
        config.agent_url.clone(),
        store.clone(),
        synced_tx,
        shutdown_rx.clone(),
    )));

    tasks.push(tokio::spawn(reconcile_loop(
        Reconciler {
            store: store.clone(),
            client: AgentClient::new(channel),
            agent_url: config.agent_url.clone(),
            crash_loops: std::sync::Arc::new(std::sync::Mutex::new(CrashLoops::default())),
        },
        synced_rx,
        shutdown_rx,
    )));

    info!(
        api = %api_addr,
        manifests = %config.manifests_dir.display(),
        agent = %config.agent_url,
        "controller started"
    );
    Ok(ControllerHandle {
        api_addr,
        store,
        shutdown,
        tasks,
    })
}

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

    fn reset(&mut self) {
        *self = Self::new();
    }

    fn step(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        self.attempts += 1;
        d
    }
}

/// Mirrors the agent's task stream into the store, reconnecting forever.
/// `synced` is true while the store holds the current connection's snapshot.
async fn watch_tasks(
    channel: Channel,
    agent_url: String,
    store: Store,
    synced: watch::Sender<bool>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut backoff = Backoff::new();
    loop {
        let mut client = AgentClient::new(channel.clone());
        let call = tokio::select! {
            _ = shutdown.changed() => return,
            r = client.watch_tasks(WatchTasksRequest {}) => r,
        };
        match call {
            Ok(resp) => {
                let mut stream = resp.into_inner();
                loop {
                    let msg = tokio::select! {
                        _ = shutdown.changed() => return,
                        m = stream.message() => m,
                    };
                    match msg {
                        Ok(Some(ev)) => match ev.event {
                            Some(task_event::Event::Snapshot(s)) => match store.replace_tasks(&s.tasks, now_unix()) {
                                Ok(()) => {
                                    info!(agent = %agent_url, tasks = s.tasks.len(), "agent task snapshot received");
                                    backoff.reset();
                                    set_synced(&synced, true);
                                }
                                Err(e) => {
                                    error!(error = %e, "storing the agent's task snapshot failed")
                                }
                            },
                            Some(task_event::Event::Update(t)) => {
                                debug!(
                                    task_id = %t.task_id,
                                    state = state_name(t.state()),
                                    message = %t.message,
                                    "task update"
                                );
                                if let Err(e) = store.upsert_task(&t) {
                                    error!(task_id = %t.task_id, error = %e, "storing a task update failed");
                                }
                            }
                            Some(task_event::Event::Agent(_)) | None => debug!("agent status event"),
                        },
                        Ok(None) => {
                            warn!(agent = %agent_url, "the agent ended the task stream; reconnecting");
                            break;
                        }
                        Err(status) => {
                            warn!(agent = %agent_url, error = %status.message(), code = ?status.code(), "task stream failed; reconnecting");
                            break;
                        }
                    }
                }
            }
            Err(status) => {
                if backoff.attempts == 0 || backoff.attempts.is_multiple_of(20) {
                    warn!(
                        agent = %agent_url,
                        error = %status.message(),
                        code = ?status.code(),
                        "cannot watch the agent's tasks; retrying"
                    );
                } else {
                    debug!(agent = %agent_url, error = %status.message(), "agent still unavailable");
                }
            }
        }
        set_synced(&synced, false);
        let delay = backoff.step();
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(delay) => {}
        }
    }
}

/// Updates `synced`, waking the reconcile loop only on a change.
fn set_synced(synced: &watch::Sender<bool>, value: bool) {
    synced.send_if_modified(|v| std::mem::replace(v, value) != value);
}

/// What a reconcile pass needs.
#[derive(Clone)]
struct Reconciler {
    store: Store,
    client: AgentClient<Channel>,
    agent_url: String,
    /// Failure streaks, for crash-loop backoff (memory only, by design).
    crash_loops: std::sync::Arc<std::sync::Mutex<CrashLoops>>,
}

async fn reconcile_loop(r: Reconciler, mut synced: watch::Receiver<bool>, mut shutdown: watch::Receiver<bool>) {
    let mut changes = r.store.subscribe();
    let mut resync = tokio::time::interval(RESYNC_INTERVAL);
    resync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // When the earliest crash-loop backoff ends, to launch right then.
    let mut wake_at: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep_until(wake_at.unwrap_or_else(tokio::time::Instant::now)), if wake_at.is_some() => {}
            c = changes.changed() => if c.is_err() { return },
            s = synced.changed() => if s.is_err() { return },
            _ = resync.tick() => {
                match r.store.prune_tasks(now_unix()) {
                    Ok(0) => {}
                    Ok(n) => debug!(pruned = n, "pruned old tasks"),
                    Err(e) => warn!(error = %e, "pruning tasks failed"),
                }
            }
        }
        // Let a burst of changes settle, then look at all of them at once.
        tokio::time::sleep(Duration::from_millis(20)).await;
        changes.mark_unchanged();
        let is_synced = *synced.borrow_and_update();
        wake_at = match r.pass(is_synced).await {
            Ok(hold) => hold.map(|until| {
                let wait = Duration::from_secs_f64((until - now_unix()).clamp(0.0, 3600.0));
                tokio::time::Instant::now() + wait
            }),
            Err(e) => {
                error!(error = %e, "reconcile pass failed");
                None
            }
        };
    }
}

impl Reconciler {
    /// Reconciles every app that is desired or has tasks. Returns the
    /// earliest time a held launch may go ahead, if any is held.
    async fn pass(&self, synced: bool) -> Result<Option<f64>, StoreError> {
        let now = now_unix();
        let mut desired: BTreeMap<String, DesiredApp> = BTreeMap::new();
        for app in self.store.list_apps()? {
            desired.insert(app.key(), app);
        }
        let mut tasks: BTreeMap<String, Vec<Task>> = BTreeMap::new();
        for t in self.store.list_tasks()? {
            tasks.entry(app_key(&t.namespace, &t.app)).or_default().push(t);
        }
        let keys: BTreeSet<String> = desired.keys().chain(tasks.keys()).cloned().collect();
        let work = keys.into_iter().map(|key| {
            let app = desired.get(&key).cloned();
            let observed = tasks.remove(&key).unwrap_or_default();
            self.reconcile_app(key, app, observed, now, synced)
        });
        let holds = futures::stream::iter(work)
            .buffer_unordered(PARALLEL_APPS)
            .collect::<Vec<Option<f64>>>()
            .await;
        if let Ok(mut loops) = self.crash_loops.lock() {
            loops.retain(|key| desired.contains_key(key));
        }

        for key in self.store.status_keys()? {
            if !desired.contains_key(&key) {
                self.store.delete_status(&key)?;
            }
        }
        Ok(holds.into_iter().flatten().reduce(f64::min))
    }

    async fn reconcile_app(
        &self,
        key: String,
        desired: Option<DesiredApp>,
        observed: Vec<Task>,
        now: f64,
        synced: bool,
    ) -> Option<f64> {
        let revision = desired
            .as_ref()
            .map(|d| d.revision.clone())
            .unwrap_or_else(|| "-".into());
        let span = info_span!("reconcile", app = %key, revision = %revision);
        async move {
            let Plan {
                mut actions,
                summary,
                error: plan_error,
            } = plan(desired.as_ref(), &observed, now);
            let mut errors: Vec<(&'static str, String)> = Vec::new();
            if let Some(e) = plan_error {
                errors.push(("InvalidSpec", e));
            }
            let hold = desired.as_ref().and_then(|d| {
                let policy = &d.app.spec.restart_backoff;
                let mut loops = self.crash_loops.lock().ok()?;
                loops.observe(&key, &d.revision, policy, &observed, now)
            });
            if let Some(hold) = &hold {
                let before = actions.len();
                actions.retain(|a| !matches!(a, Action::Launch { .. }));
                let held = before - actions.len();
                if held > 0 {
                    errors.push((
                        "CrashLoopBackOff",
                        format!(
                            "{} task(s) of this revision failed; {held} launch(es) held for {:.0}s (spec.restartBackoff)",
                            hold.failures,
                            (hold.until - now).max(0.0)
                        ),
                    ));
                }
            }
            if !synced {
                if !actions.is_empty() {
                    debug!(
                        pending = actions.len(),
                        "waiting for the agent's task snapshot before acting"
                    );
                }
                errors.push((
                    "AgentUnavailable",
                    format!("waiting for the task snapshot of the agent at {}", self.agent_url),
                ));
            } else {
                for action in actions {
                    if let Err(e) = self.execute(action, &observed).await {
                        errors.push(("AgentCallFailed", e));
                    }
                }
            }
            let hold_until = hold.map(|h| h.until);
            let Some(d) = desired else { return hold_until };
            let status = app_status(&d, &summary, &errors);
            let before = self.store.get_status(&key).ok().flatten();
            match self.store.set_status(&key, &status) {
                Ok(true) => {
                    let was_error = before.as_ref().is_some_and(has_error);
                    let only_waiting = errors.iter().all(|(reason, _)| *reason == "AgentUnavailable");
                    if let Some(msg) = error_message(&status) {
                        // Waiting for the agent is normal for a moment at start.
                        if only_waiting {
                            info!(reason = %msg, "reconcile waiting");
                        } else {
                            warn!(error = %msg, "reconcile incomplete");
                        }
                    } else if was_error {
                        info!("reconcile errors cleared");
                    }
                }
                Ok(false) => {}
                Err(e) => error!(error = %e, "writing app status failed"),
            }
            hold_until
        }
        .instrument(span)
        .await
    }

    /// Sends one action to the agent and records what it implies locally.
    async fn execute(&self, action: Action, observed: &[Task]) -> Result<(), String> {
        let mut client = self.client.clone();
        match action {
            Action::Launch {
                task_id,
                spec,
                revision,
            } => {
                let id = task_id.to_string();
                let mut req = tonic::Request::new(LaunchRequest {
                    task_id: id.clone(),
                    namespace: task_id.namespace.clone(),
                    app: task_id.app.clone(),
                    revision: revision.clone(),
                    spec: Some(spec),
                });
                req.set_timeout(RPC_TIMEOUT);
                let resp = client
                    .launch(req)
                    .await
                    .map_err(|s| format!("launch {id}: {}", s.message()))?;
                info!(task_id = %id, created = resp.get_ref().created, "launch requested");
                let now = now_unix();
                let expected = Task {
                    task_id: id.clone(),
                    namespace: task_id.namespace,
                    app: task_id.app,
                    revision,
                    state: TaskState::Pending as i32,
                    message: "launch requested; waiting for the agent".into(),
                    reason: EXPECTED_REASON.into(),
                    created_at: now,
                    updated_at: now,
                    ..Default::default()
                };
                self.store
                    .insert_task_if_absent(&expected)
                    .map_err(|e| format!("recording launch of {id}: {e}"))?;
                Ok(())
            }
            Action::Kill { task_id, reason } => {
                let mut req = tonic::Request::new(KillRequest {
                    task_id: task_id.clone(),
                    reason: reason.clone(),
                });
                req.set_timeout(RPC_TIMEOUT);
                let resp = client
                    .kill(req)
                    .await
                    .map_err(|s| format!("kill {task_id}: {}", s.message()))?;
                let known = resp.get_ref().known;
                info!(task_id = %task_id, known, reason = %reason, "kill requested");
                // Record it unless the agent's own report got there first.
                let Some(old) = observed.iter().find(|t| t.task_id == task_id) else {
                    return Ok(());
                };
                let result = if known {
                    let mut killing = old.clone();
                    killing.state = TaskState::Killing as i32;
                    killing.message = format!("kill requested: {reason}");
                    killing.updated_at = now_unix();
                    self.store.replace_task_if_unchanged(old, Some(&killing))
                } else if counts_as_live(old, now_unix()) {
                    // The agent does not know it (or it already ended).
                    self.store.replace_task_if_unchanged(old, None)
                } else {
                    Ok(false)
                };
                result.map_err(|e| format!("recording kill of {task_id}: {e}"))?;
                Ok(())
            }
        }
    }
}

fn condition(type_: &str, status: bool, reason: &str, message: String) -> Condition {
    Condition {
        type_: type_.to_string(),
        status: if status { "True" } else { "False" }.to_string(),
        reason: Some(reason.to_string()),
        message: Some(message),
    }
}

/// The status of a desired app after a reconcile.
fn app_status(d: &DesiredApp, s: &Summary, errors: &[(&'static str, String)]) -> AppStatus {
    let rev = &d.revision;
    let mut conditions = vec![
        if s.running >= s.desired {
            condition(
                conditions::AVAILABLE,
                true,
                "MinimumInstancesAvailable",
                format!("{} of {} instances running", s.running, s.desired),
            )
        } else {
            condition(
                conditions::AVAILABLE,
                false,
                "MinimumInstancesUnavailable",
                format!("{} of {} instances running", s.running, s.desired),
            )
        },
        if d.app.spec.paused {
            condition(
                conditions::PROGRESSING,
                false,
                "Paused",
                "reconciling is paused (spec.paused); tasks are left as they are".to_string(),
            )
        } else if s.converged() {
            condition(
                conditions::PROGRESSING,
                true,
                "RevisionAvailable",
                format!(
                    "revision {rev} has {} of {} instances running",
                    s.current_running, s.desired
                ),
            )
        } else {
            let mut msg = format!(
                "revision {rev}: {} of {} instances running, {} live",
                s.current_running, s.desired, s.current_live
            );
            if s.old_live > 0 {
                msg.push_str(&format!("; {} tasks of older revisions still live", s.old_live));
            }
            condition(conditions::PROGRESSING, true, "Progressing", msg)
        },
    ];
    if let Some((reason, _)) = errors.first() {
        let mut messages: Vec<&str> = errors.iter().map(|(_, m)| m.as_str()).collect();
        messages.dedup();
        conditions.push(condition(
            conditions::RECONCILE_ERROR,
            true,
            reason,
            messages.join("; "),
        ));
    }
    AppStatus {
        revision: Some(rev.clone()),
        running: s.running,
        conditions,
    }
}

fn has_error(status: &AppStatus) -> bool {
    error_message(status).is_some()
}

fn error_message(status: &AppStatus) -> Option<&str> {
    status
        .conditions
        .iter()
        .find(|c| c.type_ == conditions::RECONCILE_ERROR && c.status == "True")
        .map(|c| c.message.as_deref().unwrap_or(""))
}

/// The Mesos-like name of a task state: `TASK_RUNNING` etc., and `PENDING`
/// for a task the agent has queued but not launched on Mesos yet (not a
/// Mesos state).
pub fn state_name(state: TaskState) -> &'static str {
    match state {
        TaskState::Unspecified => "UNSPECIFIED",
        TaskState::Pending => "PENDING",
        TaskState::Staging => "TASK_STAGING",
        TaskState::Starting => "TASK_STARTING",
        TaskState::Running => "TASK_RUNNING",
        TaskState::Killing => "TASK_KILLING",
        TaskState::Finished => "TASK_FINISHED",
        TaskState::Failed => "TASK_FAILED",
        TaskState::Killed => "TASK_KILLED",
        TaskState::Error => "TASK_ERROR",
        TaskState::Lost => "TASK_LOST",
        TaskState::Dropped => "TASK_DROPPED",
        TaskState::Unreachable => "TASK_UNREACHABLE",
        TaskState::Gone => "TASK_GONE",
        TaskState::GoneByOperator => "TASK_GONE_BY_OPERATOR",
        TaskState::Unknown => "TASK_UNKNOWN",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sextant_api::{App, AppSpec};

    fn desired(instances: u32) -> DesiredApp {
        let spec: AppSpec =
            serde_json::from_value(serde_json::json!({"instances": instances, "command": "sleep 1"})).expect("spec");
        let mut app = App::new("web", spec);
        app.metadata.namespace = Some("default".into());
        DesiredApp::new(app, "dir:/m", None, None)
    }

    fn cond<'a>(s: &'a AppStatus, t: &str) -> &'a Condition {
        s.conditions.iter().find(|c| c.type_ == t).expect("condition")
    }

    #[test]
    fn status_conditions() {
        let d = desired(2);
        let s = Summary {
            desired: 2,
            current_live: 2,
            current_running: 2,
            running: 2,
            ..Default::default()
        };
        let st = app_status(&d, &s, &[]);
        assert_eq!(st.revision.as_deref(), Some(d.revision.as_str()));
        assert_eq!(st.running, 2);
        assert_eq!(cond(&st, conditions::AVAILABLE).status, "True");
        assert_eq!(
            cond(&st, conditions::PROGRESSING).reason.as_deref(),
            Some("RevisionAvailable")
        );
        assert!(!has_error(&st));

        let s = Summary {
            desired: 2,
            current_live: 2,
            current_running: 1,
            old_live: 2,
            running: 3,
            ..Default::default()
        };
        let st = app_status(&d, &s, &[("AgentCallFailed", "launch x: refused".into())]);
        assert_eq!(cond(&st, conditions::AVAILABLE).status, "True");
        assert_eq!(
            cond(&st, conditions::PROGRESSING).reason.as_deref(),
            Some("Progressing")
        );
        assert_eq!(error_message(&st), Some("launch x: refused"));
        assert_eq!(
            cond(&st, conditions::RECONCILE_ERROR).reason.as_deref(),
            Some("AgentCallFailed")
        );
    }

    #[test]
    fn state_names() {
        assert_eq!(state_name(TaskState::Running), "TASK_RUNNING");
        assert_eq!(state_name(TaskState::Pending), "PENDING");
        assert_eq!(state_name(TaskState::GoneByOperator), "TASK_GONE_BY_OPERATOR");
    }

    #[test]
    fn agent_urls() {
        assert!(agent_url_ok("http://127.0.0.1:7070"));
        assert!(agent_url_ok("127.0.0.1:7070"));
        assert!(!agent_url_ok("http://exa mple:1"));
    }

    fn agent_url_ok(url: &str) -> bool {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("rt");
        rt.block_on(async { agent_channel(url).is_ok() })
    }

    #[tokio::test]
    async fn starts_serves_and_stops_without_an_agent() {
        let data = tempfile::tempdir().expect("tempdir");
        let manifests = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            manifests.path().join("web.yaml"),
            "apiVersion: sextant.dev/v1alpha1\nkind: App\nmetadata:\n  name: web\nspec:\n  instances: 1\n  command: sleep 100\n",
        )
        .expect("write");
        let handle = start(ControllerConfig {
            manifests_dir: manifests.path().to_path_buf(),
            data_dir: data.path().to_path_buf(),
            // Nothing listens here: the controller must keep retrying.
            agent_url: "http://127.0.0.1:1".into(),
            api_addr: "127.0.0.1:0".parse().expect("addr"),
        })
        .await
        .expect("start");
        assert_ne!(handle.api_addr().port(), 0);
        let store = handle.store().clone();
        let mut ok = false;
        for _ in 0..100 {
            let status = store.get_status("default/web").expect("status");
            if let Some(st) = status {
                let c = cond(&st, conditions::RECONCILE_ERROR);
                assert_eq!(c.reason.as_deref(), Some("AgentUnavailable"));
                ok = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(ok, "status written while the agent is down");
        // Nothing was launched without a snapshot.
        assert!(store.list_tasks().expect("tasks").is_empty());
        tokio::time::timeout(Duration::from_secs(10), handle.shutdown())
            .await
            .expect("shutdown in time");
    }
}
