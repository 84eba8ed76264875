//! The reconcile runtime: for one app at a time (the work queue's
//! promise), gathers the input from the index, calls the pure
//! [`reconcile`], executes the plan's actions against the agent (launches
//! concurrently), and writes the status and history the plan returns. It
//! decides nothing; its error policy is to requeue after a failed call and
//! to show the failure at the next pass. It counts what it applies: each
//! pass's time, the rollout steps of the history it writes, and the
//! corrections the agent accepted (`crate::metrics`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use sextant_api::proto::agent_client::AgentClient;
use sextant_api::proto::{KillRequest, LaunchRequest, TaskSpec};
use tonic::transport::Channel;
use tracing::{Instrument, debug, info, info_span, warn};

use crate::crash_loop::CrashLoops;
use crate::events::{Events, NewEvent};
use crate::expectations::{AppExpectations, ExpectedLaunch};
use crate::history::{RevisionRecord, RolloutStep, rollout_step_records};
use crate::index::Index;
use crate::index::journal::JournalWriter;
use crate::metrics::Metrics;
use crate::reconcile::{Action, Input, RandomIds, conditions, reconcile};
use crate::store::now_unix;

/// Timeout of one Launch or Kill call.
pub const RPC_TIMEOUT: Duration = Duration::from_secs(10);
/// Calls to the agent in flight per reconcile.
const PARALLEL_CALLS: usize = 16;
/// Look again this soon after a call failed.
const RETRY_AFTER_CALL_FAILURE: Duration = Duration::from_secs(2);

/// What a reconcile needs besides its input.
pub struct Runtime {
    /// The index it reads and writes statuses into.
    pub index: Index,
    /// Statuses and histories are written behind.
    pub journal: JournalWriter,
    /// The agent.
    pub client: AgentClient<Channel>,
    /// Launches and kills not yet observed, by app key.
    expectations: Mutex<HashMap<String, AppExpectations>>,
    /// Failure streaks, for crash-loop backoff (memory only, by design).
    crash_loops: Mutex<CrashLoops>,
    /// Calls of the last pass the agent refused, by app key.
    call_errors: Mutex<HashMap<String, Vec<String>>>,
    /// Where condition changes are told.
    events: Events,
    /// What it counts into.
    metrics: Metrics,
}

/// What one executed action leaves behind.
enum Done {
    Launched { id: String, revision: String },
    Killed { id: String },
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The data stays consistent across a panic elsewhere: each critical
    // section is a single insert or remove.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Runtime {
    /// A runtime over these parts.
    pub fn new(
        index: Index,
        journal: JournalWriter,
        client: AgentClient<Channel>,
        events: Events,
        metrics: Metrics,
    ) -> Self {
        Self {
            index,
            journal,
            client,
            events,
            metrics,
            expectations: Mutex::default(),
            crash_loops: Mutex::default(),
            call_errors: Mutex::default(),
        }
    }

    /// Reconciles one app; returns when to look again.
    pub async fn reconcile(self: Arc<Self>, key: String) -> Option<Duration> {
        let snap = self.index.app(&key);
        let revision = snap.desired.as_ref().map_or("-", |d| d.revision.as_str()).to_string();
        let span = info_span!("reconcile", app = %key, revision = %revision);
        let this = self;
        async move {
            let started = Instant::now();
            let now = now_unix();
            let tasks = &snap.tasks[..];
            let mut expectations = lock(&this.expectations).remove(&key).unwrap_or_default();
            expectations.settle(tasks, now);
            let hold = snap.desired.as_ref().and_then(|d| {
                lock(&this.crash_loops).observe(&key, &d.revision, &d.app.spec.restart_backoff, tasks, now)
            });
            let call_errors = lock(&this.call_errors).remove(&key).unwrap_or_default();
            let plan = reconcile(
                &Input {
                    key: &key,
                    desired: snap.desired.as_deref(),
                    history: &snap.history,
                    tasks,
                    expectations: &expectations,
                    crash: hold.as_ref(),
                    agent: &snap.agent,
                    call_errors: &call_errors,
                    synced: snap.synced.as_ref(),
                    now,
                },
                &mut RandomIds,
            );

            // A rollout's step is told before the launches and kills it makes.
            if let Some(history) = &plan.history {
                for (step, record) in rollout_step_records(&snap.history, history) {
                    this.metrics.rollout(step);
                    rollout_event(&this.events, &key, step, record);
                }
            }
            let results: Vec<Result<Done, String>> = futures::stream::iter(plan.actions)
                .map(|a| this.execute(a))
                .buffer_unordered(PARALLEL_CALLS)
                .collect()
                .await;
            let mut failed = Vec::new();
            for r in results {
                match r {
                    Ok(Done::Launched { id, revision }) => {
                        expectations.launches.insert(id, ExpectedLaunch { revision, at: now });
                    }
                    Ok(Done::Killed { id }) => {
                        expectations.kills.insert(id, now);
                    }
                    Err(message) => failed.push(message),
                }
            }

            if let Some(status) = plan.status {
                let before = snap.status.as_deref();
                if before != Some(&status) {
                    log_degraded(before, &status);
                    if let Some(before) = before {
                        condition_events(&this.events, &key, before, &status);
                    }
                    let status = Arc::new(status);
                    this.index.write(|s| {
                        s.statuses.insert(key.clone(), Arc::clone(&status));
                        crate::index::views::refresh(s, &key);
                    });
                }
            }
            if let Some(history) = plan.history {
                let history = Arc::new(history);
                this.index
                    .write(|s| s.histories.insert(key.clone(), Arc::clone(&history)));
                this.journal.history(&key, Some(history));
            }
            if plan.forget {
                // Until its ended tasks are pruned, a forgotten app is looked
                // at again at every resync: forget (and write) only what is
                // there.
                if snap.status.is_some() || !snap.history.records.is_empty() {
                    this.index.write(|s| {
                        s.statuses.remove(&key);
                        s.histories.remove(&key);
                        crate::index::views::refresh(s, &key);
                    });
                    this.journal.history(&key, None);
                    lock(&this.crash_loops).forget(&key);
                    debug!("app forgotten");
                }
            } else if !expectations.is_empty() {
                lock(&this.expectations).insert(key.clone(), expectations);
            }

            if plan.forget {
                this.metrics.forget_app(&key);
            } else {
                this.metrics.reconciled(&key, started.elapsed());
            }
            let mut requeue = plan.requeue_after.map(Duration::from_secs_f64);
            if !failed.is_empty() {
                lock(&this.call_errors).insert(key.clone(), failed);
                requeue = Some(requeue.map_or(RETRY_AFTER_CALL_FAILURE, |r| r.min(RETRY_AFTER_CALL_FAILURE)));
            }
            requeue
        }
        .instrument(span)
        .await
    }

    /// Sends one action to the agent.
    async fn execute(&self, action: Action) -> Result<Done, String> {
        let cause = action.cause();
        let key = match &action {
            Action::Launch { task_id, .. } => sextant_api::app_key(&task_id.namespace, &task_id.app),
            Action::Kill { task_id, .. } => sextant_api::TaskId::parse(task_id)
                .map(|id| sextant_api::app_key(&id.namespace, &id.app))
                .unwrap_or_default(),
        };
        let done = self.call(action).await?;
        self.metrics.corrected(cause);
        let task = match &done {
            Done::Launched { id, .. } | Done::Killed { id } => id.clone(),
        };
        self.events.emit(NewEvent {
            kind: "action",
            app: Some(key),
            message: format!("{} {task}: {}", cause.verb(), cause.why()),
            task: Some(task),
            reason: cause.reason().to_string(),
            ..NewEvent::default()
        });
        Ok(done)
    }

    /// The agent's call for one action.
    async fn call(&self, action: Action) -> Result<Done, String> {
        let mut client = self.client.clone();
        match action {
            Action::Launch { task_id, spec, .. } => {
                let id = task_id.to_string();
                let mut req = crate::agent_link::request(LaunchRequest {
                    task_id: id.clone(),
                    namespace: task_id.namespace,
                    app: task_id.app,
                    revision: task_id.revision.clone(),
                    spec: Some(TaskSpec::clone(&spec)),
                });
                req.set_timeout(RPC_TIMEOUT);
                let resp = client
                    .launch(req)
                    .await
                    .map_err(|s| format!("the agent refused to launch {id}: {}", s.message()))?;
                info!(task_id = %id, created = resp.get_ref().created, "launch requested");
                Ok(Done::Launched {
                    id,
                    revision: task_id.revision,
                })
            }
            Action::Kill { task_id, reason, .. } => {
                let mut req = crate::agent_link::request(KillRequest {
                    task_id: task_id.clone(),
                    reason: reason.clone(),
                });
                req.set_timeout(RPC_TIMEOUT);
                let resp = client
                    .kill(req)
                    .await
                    .map_err(|s| format!("the agent refused to kill {task_id}: {}", s.message()))?;
                info!(task_id = %task_id, known = resp.get_ref().known, reason = %reason, "kill requested");
                Ok(Done::Killed { id: task_id })
            }
        }
    }
}

/// Tells a rollout step of one revision (started, completed, failed,
/// rolled back), with its words.
fn rollout_event(events: &Events, key: &str, step: RolloutStep, record: &RevisionRecord) {
    use crate::history::Outcome;
    let revision = &record.revision;
    let (reason, message) = match (step, &record.outcome) {
        (RolloutStep::Started, _) => (
            "RolloutStarted",
            format!("rollout to revision {revision} started (from {})", record.source),
        ),
        (RolloutStep::Succeeded, _) => (
            "RolloutCompleted",
            format!("revision {revision} rolled out: every instance available"),
        ),
        (RolloutStep::Failed, Outcome::Failed { reason, message, .. }) => (
            "RolloutFailed",
            format!("rollout to revision {revision} failed ({reason}): {message}"),
        ),
        (
            RolloutStep::RolledBack,
            Outcome::Failed {
                rolled_back_to: Some(to),
                ..
            },
        ) => ("RolledBack", format!("rolled back from revision {revision} to {to}")),
        _ => return,
    };
    events.emit(NewEvent {
        kind: "rollout",
        app: Some(key.to_string()),
        reason: reason.into(),
        message,
        ..NewEvent::default()
    });
}

/// Tells every condition whose status or reason changed (rollout steps,
/// completion, failure, rollback, degradation, sync).
fn condition_events(events: &Events, key: &str, before: &sextant_api::AppStatus, after: &sextant_api::AppStatus) {
    for c in &after.conditions {
        let was = before.conditions.iter().find(|b| b.type_ == c.type_);
        if was.is_some_and(|b| b.status == c.status && b.reason == c.reason) {
            continue;
        }
        let reason = c.reason.clone().unwrap_or_default();
        events.emit(NewEvent {
            kind: "condition",
            app: Some(key.to_string()),
            reason: reason.clone(),
            message: format!(
                "{} {} ({reason}): {}",
                c.type_,
                c.status,
                c.message.as_deref().unwrap_or_default()
            ),
            ..NewEvent::default()
        });
    }
}

/// Logs when an app becomes degraded, changes why, or recovers.
fn log_degraded(before: Option<&sextant_api::AppStatus>, after: &sextant_api::AppStatus) {
    let degraded = |s: &sextant_api::AppStatus| {
        s.conditions
            .iter()
            .find(|c| c.type_ == conditions::DEGRADED && c.status == "True")
            .map(|c| {
                (
                    c.reason.clone().unwrap_or_default(),
                    c.message.clone().unwrap_or_default(),
                )
            })
    };
    let was = before.and_then(degraded);
    match (was, degraded(after)) {
        (Some(a), Some(b)) if a.0 == b.0 => {}
        (_, Some((reason, message))) => {
            if reason == "AgentUnavailable" {
                info!(reason = %reason, "{message}");
            } else {
                warn!(reason = %reason, "{message}");
            }
        }
        (Some(_), None) => info!("no longer degraded"),
        (None, None) => {}
    }
}
