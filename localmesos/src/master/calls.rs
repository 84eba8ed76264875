//! Scheduler calls other than SUBSCRIBE: the framework / stream checks a
//! master makes before dispatching, then ACCEPT (offer and task
//! validation, launch), DECLINE, REVIVE, SUPPRESS, KILL, ACKNOWLEDGE,
//! RECONCILE, TEARDOWN and UPDATE_FRAMEWORK.

use std::collections::HashSet;
use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::http::StatusCode;
use mesos::types::{
    Accept, Acknowledge, AgentId, CallType, ContainerInfo, ContainerType, Event, EventType, FrameworkInfo, Kill,
    KillPolicy, OfferId, OperationType, ReconcileTask, Rescind, TaskId, TaskInfo, TaskState, TaskStatusSource,
};
use serde_json::Value;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::allocator::add_filter;
use super::faults::{Reach, unreachable_status};
use super::status_update::{self, Acked};
use super::{
    DEFAULT_KILL_GRACE, ExecutorLink, Framework, KeptJson, Master, State, Task, UpdateQueue, failure_event,
    master_status, push_completed, release_resources, update_event, validate_framework_info, validate_id,
};
use crate::call::{ParsedCall, decode_uuid};
use crate::containerizer::Choice;
use crate::executor::{ExecutorCommand, LaunchSpec};
use crate::http::ApiError;
use crate::resources::Resources;

/// How a dispatched call is answered.
#[derive(Debug)]
pub enum CallOutcome {
    /// `202 Accepted`, empty body.
    Accepted,
    /// `200 OK`, empty body (UPDATE_FRAMEWORK).
    Ok,
    /// `200 OK` with a JSON `scheduler::Response`.
    Json(Value),
    /// `501 Not Implemented` (call type UNKNOWN).
    NotImplemented,
}

fn call_name(kind: CallType) -> &'static str {
    match kind {
        CallType::Unknown => "unknown",
        CallType::Subscribe => "subscribe",
        CallType::Teardown => "teardown",
        CallType::Accept => "accept",
        CallType::Decline => "decline",
        CallType::Revive => "revive",
        CallType::Kill => "kill",
        CallType::Shutdown => "shutdown",
        CallType::Acknowledge => "acknowledge",
        CallType::Reconcile => "reconcile",
        CallType::Message => "message",
        CallType::Request => "request",
        CallType::Suppress => "suppress",
        CallType::AcceptInverseOffers => "accept_inverse_offers",
        CallType::DeclineInverseOffers => "decline_inverse_offers",
        CallType::AcknowledgeOperationStatus => "acknowledge_operation_status",
        CallType::ReconcileOperations => "reconcile_operations",
        CallType::UpdateFramework => "update_framework",
        CallType::Unrecognized => "unrecognized",
    }
}

fn grace_of(policy: Option<&KillPolicy>) -> Option<Duration> {
    policy
        .and_then(|p| p.grace_period)
        .map(|g| Duration::from_nanos(u64::try_from(g.nanoseconds).unwrap_or(0)))
}

impl Master {
    /// Checks that the call comes from the framework's current subscription
    /// and dispatches it.
    /// `principal` is the authenticated one, when authentication is on.
    pub fn call(
        self: &Arc<Self>,
        parsed: ParsedCall,
        stream_id: Option<&str>,
        principal: Option<&str>,
    ) -> Result<CallOutcome, ApiError> {
        let ParsedCall { call, mut raw } = parsed;
        let Some(framework_id) = call.framework_id.clone() else {
            return Err(ApiError::bad_request(
                "Failed to validate scheduler::Call: Expecting 'framework_id' to be present",
            ));
        };
        let fid = framework_id.value.as_str();
        let now = Instant::now();
        let mut guard = self.lock();
        let state = &mut *guard;
        {
            let Some(framework) = state.frameworks.get(fid) else {
                return Err(ApiError::bad_request("Framework cannot be found"));
            };
            let Some(current) = &framework.stream else {
                return Err(ApiError::new(StatusCode::FORBIDDEN, "Framework is not subscribed"));
            };
            let Some(stream_id) = stream_id else {
                return Err(ApiError::bad_request(
                    "All non-subscribe calls should include the 'Mesos-Stream-Id' header",
                ));
            };
            if stream_id != current.id {
                return Err(ApiError::bad_request(format!(
                    "The stream ID '{stream_id}' included in this request didn't match the stream ID currently associated with framework ID {fid}"
                )));
            }
            if let Some(principal) = principal {
                let subscribed_as = framework.info.principal.as_deref().unwrap_or("");
                if principal != subscribed_as {
                    return Err(ApiError::bad_request(format!(
                        "Authenticated principal '{principal}' does not match principal '{subscribed_as}' used to subscribe"
                    )));
                }
            }
        }
        *state.counters.calls.entry(call_name(call.kind)).or_default() += 1;
        debug!(framework = %fid, call = call_name(call.kind), "scheduler call");
        match call.kind {
            CallType::Teardown => {
                info!(framework = %fid, "framework asked for TEARDOWN");
                self.remove_framework(state, fid);
            }
            CallType::Accept => {
                let accept = call.accept.unwrap_or_default();
                self.accept(state, fid, accept, &mut raw, now);
            }
            CallType::Decline => {
                let decline = call.decline.unwrap_or_default();
                let refuse = decline.filters.and_then(|f| f.refuse_seconds);
                for id in decline.offer_ids {
                    if state.offers.get(&id.value).is_some_and(|o| o.framework_id == fid)
                        && let Some(offer) = state.offers.remove(&id.value)
                    {
                        state.counters.offers_declined += 1;
                        add_filter(state, fid, &offer.role, offer.agent, offer.resources, refuse);
                    }
                }
            }
            CallType::Revive => {
                let roles = call.revive.map(|r| r.roles).unwrap_or_default();
                self.revive(state, fid, roles);
            }
            CallType::Suppress => {
                let roles = call.suppress.map(|s| s.roles).unwrap_or_default();
                if let Some(framework) = state.frameworks.get_mut(fid) {
                    let roles = if roles.is_empty() { framework.roles() } else { roles };
                    framework.suppressed_roles.extend(roles);
                }
            }
            CallType::Kill => {
                if let Some(kill) = call.kill {
                    self.kill(state, fid, kill);
                }
            }
            CallType::Acknowledge => {
                if let Some(ack) = call.acknowledge {
                    self.acknowledge(state, fid, ack, now);
                }
            }
            CallType::Reconcile => {
                let tasks = call.reconcile.map(|r| r.tasks).unwrap_or_default();
                reconcile(state, fid, &tasks);
            }
            CallType::ReconcileOperations => {
                return Ok(CallOutcome::Json(serde_json::json!({
                    "type": "RECONCILE_OPERATIONS",
                    "reconcile_operations": {}
                })));
            }
            CallType::UpdateFramework => {
                self.update_framework(state, fid, &raw)?;
                return Ok(CallOutcome::Ok);
            }
            CallType::Shutdown
            | CallType::Message
            | CallType::Request
            | CallType::AcceptInverseOffers
            | CallType::DeclineInverseOffers
            | CallType::AcknowledgeOperationStatus => {
                // No custom executors, inverse offers, or operations with
                // feedback exist here: nothing to do, as a master with
                // nothing matching would.
            }
            CallType::Unknown | CallType::Subscribe | CallType::Unrecognized => {
                warn!("Received 'UNKNOWN' call");
                return Ok(CallOutcome::NotImplemented);
            }
        }
        Ok(CallOutcome::Accepted)
    }

    /// The operator's teardown (`POST /master/teardown`).
    pub fn teardown(&self, framework_id: &str) -> bool {
        let mut state = self.lock();
        if !state.frameworks.contains_key(framework_id) {
            return false;
        }
        self.remove_framework(&mut state, framework_id);
        true
    }

    fn revive(&self, state: &mut State, fid: &str, roles: Vec<String>) {
        let Some(framework) = state.frameworks.get_mut(fid) else {
            return;
        };
        let roles = if roles.is_empty() { framework.roles() } else { roles };
        for role in &roles {
            framework.suppressed_roles.remove(role);
        }
        state
            .filters
            .retain(|f| !(f.framework_id == fid && roles.contains(&f.role)));
        self.request_allocation(state);
    }

    // ------------------------------------------------------------ ACCEPT ---

    fn accept(self: &Arc<Self>, state: &mut State, fid: &str, accept: Accept, raw: &mut Value, now: Instant) {
        let mut raw_ops: Vec<Value> = match raw.pointer_mut("/accept/operations").map(Value::take) {
            Some(Value::Array(operations)) => operations,
            _ => Vec::new(),
        };

        if let Err(error) = validate_offers(state, fid, &accept.offer_ids) {
            info!(framework = %fid, %error, "ACCEPT with invalid offers");
            for id in &accept.offer_ids {
                if state.offers.get(&id.value).is_some_and(|o| o.framework_id == fid) {
                    state.offers.remove(&id.value);
                }
            }
            let Some(framework) = state.frameworks.get(fid) else {
                return;
            };
            let lost = if framework.partition_aware() {
                TaskState::TaskDropped
            } else {
                TaskState::TaskLost
            };
            for (task_id, agent_id) in launched_tasks(&accept, &raw_ops) {
                framework.send(&update_event(master_status(
                    &task_id,
                    lost,
                    format!("Task launched with invalid offers: {error}"),
                    "REASON_INVALID_OFFERS",
                    agent_id,
                )));
                *state.counters.terminal.entry(lost.as_str()).or_default() += 1;
            }
            return;
        }

        state.counters.offers_accepted += accept.offer_ids.len() as u64;
        let mut available = Resources::default();
        let mut agent = 0;
        let mut role = "*".to_string();
        for id in &accept.offer_ids {
            if let Some(offer) = state.offers.remove(&id.value) {
                available.add(&offer.resources);
                agent = offer.agent;
                role = offer.role;
            }
        }

        for (i, operation) in accept.operations.iter().enumerate() {
            match operation.kind {
                OperationType::Launch => {
                    let tasks = operation
                        .launch
                        .as_ref()
                        .map(|l| l.task_infos.clone())
                        .unwrap_or_default();
                    for (j, task) in tasks.into_iter().enumerate() {
                        let raw_task = raw_ops
                            .get_mut(i)
                            .and_then(|op| op.pointer_mut(&format!("/launch/task_infos/{j}")))
                            .map(Value::take)
                            .unwrap_or(Value::Null);
                        self.launch_task(state, fid, task, raw_task, agent, &role, &mut available, now);
                    }
                }
                OperationType::LaunchGroup => {
                    let Some(framework) = state.frameworks.get(fid) else {
                        continue;
                    };
                    for (task_id, agent_id) in raw_group_tasks(raw_ops.get(i)) {
                        framework.send(&update_event(master_status(
                            &task_id,
                            TaskState::TaskError,
                            "LAUNCH_GROUP (task groups and the default executor) is not supported by localmesos",
                            "REASON_TASK_GROUP_INVALID",
                            agent_id,
                        )));
                        *state
                            .counters
                            .terminal
                            .entry(TaskState::TaskError.as_str())
                            .or_default() += 1;
                    }
                }
                other => {
                    warn!(framework = %fid, operation = ?other, "offer operation not supported by localmesos; ignored");
                }
            }
        }

        if !available.is_empty() {
            let refuse = accept.filters.as_ref().and_then(|f| f.refuse_seconds);
            add_filter(state, fid, &role, agent, available, refuse);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn launch_task(
        self: &Arc<Self>,
        state: &mut State,
        fid: &str,
        info: TaskInfo,
        raw: Value,
        agent: usize,
        role: &str,
        available: &mut Resources,
        now: Instant,
    ) {
        let Some(agent_state) = state.agents.get(agent) else {
            return;
        };
        let agent_id = agent_state.id.clone();
        let containerizer = agent_state.config.containerizer;
        let simulation = agent_state.config.simulation.clone();
        let Some(framework) = state.frameworks.get_mut(fid) else {
            return;
        };
        let resources = match validate_task(framework, &info, &raw, &agent_id, role, available) {
            Ok(resources) => resources,
            Err(message) => {
                info!(framework = %fid, task = %info.task_id, %message, "invalid task");
                framework.send(&update_event(master_status(
                    &info.task_id,
                    TaskState::TaskError,
                    message,
                    "REASON_TASK_INVALID",
                    Some(info.agent_id.clone()),
                )));
                *state
                    .counters
                    .terminal
                    .entry(TaskState::TaskError.as_str())
                    .or_default() += 1;
                return;
            }
        };
        available.subtract(&resources);
        if let Some(agent_state) = state.agents.get_mut(agent) {
            agent_state.used.add(&resources);
            *agent_state.cpus_by_framework.entry(fid.to_string()).or_default() += resources.cpus;
        }

        let container_id = uuid::Uuid::new_v4().to_string();
        let task_id = info.task_id.value.clone();
        let sandbox = self
            .work_dir
            .join("slaves")
            .join(&agent_id.value)
            .join("frameworks")
            .join(fid)
            .join("executors")
            .join(&task_id)
            .join("runs")
            .join(&container_id);
        let Some(framework) = state.frameworks.get_mut(fid) else {
            return;
        };
        let user = info
            .command
            .as_ref()
            .and_then(|c| c.user.clone())
            .unwrap_or_else(|| framework.info.user.clone());
        let checkpoint = framework.info.checkpoint.unwrap_or(false);
        // Checked by `validate_task`: a container that does not parse is
        // TASK_ERROR before this.
        let container: Option<ContainerInfo> = raw
            .get("container")
            .filter(|v| !v.is_null())
            .and_then(|v| serde_json::from_value(v.clone()).ok());
        let docker_task = container.as_ref().is_some_and(|c| c.kind == ContainerType::Docker);
        let choice = self.containerizers.for_task(containerizer, docker_task);
        let unsupported = unsupported_reason(&raw).or_else(|| match &choice {
            Choice::Unsupported(message) => Some(message.clone()),
            Choice::Run(_) => None,
        });
        let command = info.command.clone().unwrap_or_default();
        let mut task = Task {
            kill_grace: grace_of(info.kill_policy.as_ref()).unwrap_or(DEFAULT_KILL_GRACE),
            info,
            listed: listed_parts(&raw),
            framework_id: framework.id.clone(),
            agent,
            agent_id: agent_id.clone(),
            role: role.to_string(),
            resources,
            resources_released: false,
            state: TaskState::TaskStaging,
            status_update_state: None,
            statuses: Vec::new(),
            updates: UpdateQueue::new(self.timing.update_retry_initial),
            executor: None,
            kill_sent: false,
            pid: None,
            user,
            json: std::sync::Mutex::new(KeptJson::default()),
        };
        info!(framework = %fid, task = %task_id, agent = %agent_id, "launching task");

        if let Some(message) = unsupported {
            // What an agent answers when no containerizer can run the task.
            let mut status =
                status_update::executor_status(&task, TaskState::TaskFailed, TaskStatusSource::SourceAgent);
            status.message = Some(message);
            status.reason = Some("REASON_CONTAINER_LAUNCH_FAILED".to_string());
            let Framework { stream, tasks, .. } = framework;
            let task = tasks.entry(task_id).or_insert(task);
            *state
                .counters
                .terminal
                .entry(TaskState::TaskFailed.as_str())
                .or_default() += 1;
            release_resources(&mut state.agents, task);
            status_update::enqueue(
                stream.as_ref(),
                task,
                status,
                now,
                self.timing.update_retry_initial,
                &mut state.retries,
            );
            self.request_allocation(state);
            return;
        }

        let spec = LaunchSpec {
            framework_id: fid.to_string(),
            agent_id: agent_id.value.clone(),
            task_id: task_id.clone(),
            container_id: container_id.clone(),
            sandbox,
            command,
            user: task.user.clone(),
            agent_endpoint: format!("{}:{}", self.identity.ip, self.identity.port),
            checkpoint,
            health_check: task.info.health_check.clone(),
            kill_grace: task.kill_grace,
            labels: task
                .info
                .labels
                .iter()
                .flat_map(|l| l.labels.iter())
                .map(|l| (l.key.clone(), l.value.clone().unwrap_or_default()))
                .collect(),
            simulation,
            container,
            memory_limit: self
                .memory_limits
                .then(|| (crate::resources::from_milli(task.resources.mem).max(0.0) * 1024.0 * 1024.0) as u64),
        };
        let master: Weak<Master> = Arc::downgrade(self);
        let (report_fid, report_task, report_container) = (fid.to_string(), task_id.clone(), container_id.clone());
        let report = Box::new(move |event| {
            if let Some(master) = master.upgrade() {
                master.executor_event(&report_fid, &report_task, &report_container, event);
            }
        });
        if let Choice::Run(containerizer) = choice
            && let Some(tx) = containerizer.launch(spec, report)
        {
            task.executor = Some(ExecutorLink { container_id, tx });
        }
        framework.tasks.insert(task_id, task);
    }

    // -------------------------------------------------------------- KILL ---

    fn kill(&self, state: &mut State, fid: &str, kill: Kill) {
        let State { frameworks, agents, .. } = state;
        let Some(framework) = frameworks.get_mut(fid) else {
            return;
        };
        let Some(task) = framework.tasks.get_mut(&kill.task_id.value) else {
            info!(framework = %fid, task = %kill.task_id, "cannot kill an unknown task; performing reconciliation");
            let request = ReconcileTask {
                task_id: kill.task_id,
                agent_id: kill.agent_id,
            };
            reconcile(state, fid, &[request]);
            return;
        };
        if task.state.is_terminal() {
            debug!(task = %kill.task_id, "ignoring KILL of a terminated task");
            return;
        }
        if agents.get(task.agent).is_some_and(|a| a.reach != Reach::Reachable) {
            info!(framework = %fid, task = %kill.task_id, "cannot kill a task on an unreachable agent");
            return;
        }
        let grace = grace_of(kill.kill_policy.as_ref()).unwrap_or(task.kill_grace);
        if let Some(link) = &task.executor {
            info!(framework = %fid, task = %kill.task_id, ?grace, "killing task");
            let _ = link.tx.send(ExecutorCommand::Kill { grace });
            task.kill_sent = true;
        }
    }

    // ------------------------------------------------------- ACKNOWLEDGE ---

    fn acknowledge(&self, state: &mut State, fid: &str, ack: Acknowledge, now: Instant) {
        let Some(uuid) = decode_uuid(&ack.uuid) else { return };
        let State {
            frameworks,
            agents,
            counters,
            retries,
            ..
        } = state;
        let Some(agent) = agents.iter().find(|a| a.id == ack.agent_id) else {
            counters.invalid_acks += 1;
            return;
        };
        if agent.reach != Reach::Reachable {
            // The agent cannot be told; its update will come again.
            debug!(agent = %ack.agent_id, "acknowledgement for an unreachable agent dropped");
            return;
        }
        let Some(framework) = frameworks.get_mut(fid) else {
            return;
        };
        let Framework {
            stream,
            tasks,
            completed_tasks,
            ..
        } = framework;
        let Some(task) = tasks.get_mut(&ack.task_id.value) else {
            counters.invalid_acks += 1;
            return;
        };
        if task.agent_id != ack.agent_id {
            counters.invalid_acks += 1;
            return;
        }
        match status_update::acknowledge(
            stream.as_ref(),
            task,
            &uuid,
            now,
            self.timing.update_retry_initial,
            retries,
        ) {
            Acked::Ignored => {
                debug!(task = %ack.task_id, "acknowledgement for an update that is not pending; ignored");
                counters.invalid_acks += 1;
            }
            Acked::Released { terminal: false } => counters.valid_acks += 1,
            Acked::Released { terminal: true } => {
                counters.valid_acks += 1;
                if let Some(task) = tasks.remove(&ack.task_id.value) {
                    // The executor exits once its last update is acknowledged.
                    if task.pid.is_some()
                        && let Some(stream) = stream.as_ref()
                    {
                        let executor_id = mesos::types::ExecutorId::new(task.info.task_id.value.clone());
                        stream.send(&failure_event(&task.agent_id, &executor_id, 0));
                    }
                    push_completed(completed_tasks, task);
                }
            }
        }
    }

    // --------------------------------------------------- UPDATE_FRAMEWORK ---

    fn update_framework(&self, state: &mut State, fid: &str, raw: &Value) -> Result<(), ApiError> {
        let info_value = raw
            .pointer("/update_framework/framework_info")
            .cloned()
            .unwrap_or(Value::Null);
        let mut info: FrameworkInfo = serde_json::from_value(info_value)
            .map_err(|e| ApiError::bad_request(format!("Failed to convert JSON into Call protobuf: {e}")))?;
        validate_framework_info(&info).map_err(ApiError::bad_request)?;
        let suppressed: Vec<String> = raw
            .pointer("/update_framework/suppressed_roles")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default();
        let Some(framework) = state.frameworks.get_mut(fid) else {
            return Err(ApiError::new(StatusCode::CONFLICT, "Framework cannot be found"));
        };
        // Left out, the principal stays; another one is refused, as Mesos
        // refuses it.
        match &info.principal {
            None => info.principal = framework.info.principal.clone(),
            Some(principal) if framework.info.principal.as_ref() != Some(principal) => {
                return Err(ApiError::bad_request("Changing framework's principal is not allowed."));
            }
            Some(_) => {}
        }
        info.user = framework.info.user.clone();
        info.checkpoint = framework.info.checkpoint;
        framework.info = info;
        framework.suppressed_roles = suppressed.into_iter().collect();
        let roles: HashSet<String> = framework.roles().into_iter().collect();
        let stale: Vec<String> = state
            .offers
            .values()
            .filter(|o| o.framework_id == fid && !roles.contains(&o.role))
            .map(|o| o.id.clone())
            .collect();
        for id in stale {
            state.offers.remove(&id);
            state.counters.offers_rescinded += 1;
            if let Some(framework) = state.frameworks.get(fid) {
                framework.send(&Event {
                    rescind: Some(Rescind {
                        offer_id: OfferId::new(id),
                    }),
                    ..Event::of(EventType::Rescind)
                });
            }
        }
        state
            .filters
            .retain(|f| f.framework_id != fid || roles.contains(&f.role));
        self.request_allocation(state);
        Ok(())
    }
}

/// RECONCILE, explicit (`tasks` given) or implicit, as §4.2 describes.
fn reconcile(state: &State, fid: &str, tasks: &[ReconcileTask]) {
    let Some(framework) = state.frameworks.get(fid) else {
        return;
    };
    let partition_aware = framework.partition_aware();
    let known = |task: &Task| {
        if let Some(Reach::Partitioned { since }) = state.agents.get(task.agent).map(|a| a.reach) {
            return unreachable_status(
                task,
                partition_aware,
                since,
                "Reconciliation: Task is unreachable",
                "REASON_RECONCILIATION",
            );
        }
        let state = task.status_update_state.unwrap_or(TaskState::TaskStaging);
        let mut status = master_status(
            &task.info.task_id,
            state,
            "Reconciliation: Latest task state",
            "REASON_RECONCILIATION",
            Some(task.agent_id.clone()),
        );
        if let Some(last) = task.statuses.iter().rev().find(|s| s.state == state) {
            status.healthy = last.healthy;
            status.labels = last.labels.clone();
            status.container_status = last.container_status.clone();
        }
        status
    };
    let statuses: Vec<_> = if tasks.is_empty() {
        framework.tasks.values().map(known).collect()
    } else {
        tasks
            .iter()
            .map(|request| match framework.tasks.get(&request.task_id.value) {
                Some(task) => known(task),
                None => match &request.agent_id {
                    Some(agent_id) if state.agents.iter().any(|a| a.id == *agent_id && a.reach == Reach::Gone) => {
                        master_status(
                            &request.task_id,
                            if partition_aware {
                                TaskState::TaskGoneByOperator
                            } else {
                                TaskState::TaskLost
                            },
                            "Reconciliation: Task is on an agent the operator removed",
                            "REASON_RECONCILIATION",
                            Some(agent_id.clone()),
                        )
                    }
                    Some(agent_id) if state.agents.iter().any(|a| a.id == *agent_id) => master_status(
                        &request.task_id,
                        if partition_aware {
                            TaskState::TaskGone
                        } else {
                            TaskState::TaskLost
                        },
                        "Reconciliation: Task is unknown to the agent",
                        "REASON_RECONCILIATION",
                        Some(agent_id.clone()),
                    ),
                    _ => master_status(
                        &request.task_id,
                        if partition_aware {
                            TaskState::TaskUnknown
                        } else {
                            TaskState::TaskLost
                        },
                        "Reconciliation: Task is unknown",
                        "REASON_RECONCILIATION",
                        request.agent_id.clone(),
                    ),
                },
            })
            .collect()
    };
    for status in statuses {
        framework.send(&update_event(status));
    }
}

/// `validation::offer::validate`.
fn validate_offers(state: &State, fid: &str, offer_ids: &[OfferId]) -> Result<(), String> {
    if offer_ids.is_empty() {
        return Err("No offers specified".to_string());
    }
    let mut seen = HashSet::new();
    for id in offer_ids {
        if !seen.insert(&id.value) {
            return Err(format!("Duplicate offer {id} in offer list"));
        }
    }
    let mut first: Option<(&OfferId, usize, &str)> = None;
    for id in offer_ids {
        let Some(offer) = state.offers.get(&id.value) else {
            return Err(format!("Offer {id} is no longer valid"));
        };
        if offer.framework_id != fid {
            return Err(format!(
                "Offer {id} has invalid framework {} while framework {fid} is expected",
                offer.framework_id
            ));
        }
        match first {
            None => first = Some((id, offer.agent, offer.role.as_str())),
            Some((first_id, agent, role)) => {
                if offer.agent != agent {
                    let name = |i: usize| state.agents.get(i).map(|a| a.id.value.clone()).unwrap_or_default();
                    return Err(format!(
                        "Aggregated offers must belong to one single agent. Offer {id} uses agent {} and offer {first_id} uses agent {}",
                        name(offer.agent),
                        name(agent)
                    ));
                }
                if offer.role != role {
                    return Err(format!(
                        "Aggregated offers must be allocated to the same role. Offer {id} uses role {} and offer {first_id} uses role {role}",
                        offer.role
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Every task an ACCEPT tries to launch (LAUNCH and LAUNCH_GROUP).
fn launched_tasks(accept: &Accept, raw_ops: &[Value]) -> Vec<(TaskId, Option<AgentId>)> {
    let mut out = Vec::new();
    for (i, operation) in accept.operations.iter().enumerate() {
        match operation.kind {
            OperationType::Launch => {
                for task in operation.launch.iter().flat_map(|l| l.task_infos.iter()) {
                    out.push((task.task_id.clone(), Some(task.agent_id.clone())));
                }
            }
            OperationType::LaunchGroup => out.extend(raw_group_tasks(raw_ops.get(i))),
            _ => {}
        }
    }
    out
}

/// Task and agent ids of a LAUNCH_GROUP operation's tasks.
fn raw_group_tasks(operation: Option<&Value>) -> Vec<(TaskId, Option<AgentId>)> {
    operation
        .and_then(|op| op.pointer("/launch_group/task_group/tasks"))
        .and_then(Value::as_array)
        .map(|tasks| {
            tasks
                .iter()
                .filter_map(|t| {
                    let task_id = t.pointer("/task_id/value")?.as_str()?;
                    let agent_id = t.pointer("/agent_id/value").and_then(Value::as_str).map(AgentId::new);
                    Some((TaskId::new(task_id), agent_id))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The master's task validation; returns the task's resources.
fn validate_task(
    framework: &Framework,
    task: &TaskInfo,
    raw: &Value,
    agent_id: &AgentId,
    role: &str,
    available: &Resources,
) -> Result<Resources, String> {
    validate_id(&task.task_id.value).map_err(|e| format!("'TaskInfo.task_id' is invalid: {e}"))?;
    if framework.tasks.contains_key(&task.task_id.value) {
        return Err(format!("Task has duplicate ID: {}", task.task_id));
    }
    if task.agent_id != *agent_id {
        return Err(format!("Task uses invalid agent: {}", task.agent_id));
    }
    if task
        .kill_policy
        .as_ref()
        .and_then(|p| p.grace_period)
        .is_some_and(|g| g.nanoseconds < 0)
    {
        return Err("Task's 'kill_policy.grace_period' must be non-negative".to_string());
    }
    if let Some(check) = &task.health_check {
        crate::health::validate(check).map_err(|e| format!("Task uses invalid health check: {e}"))?;
    }
    let has_executor = raw.get("executor").is_some_and(|v| !v.is_null());
    if has_executor == task.command.is_some() {
        return Err("Task should have at least one (but not both) of CommandInfo or ExecutorInfo present".to_string());
    }
    if let Some(container) = raw.get("container").filter(|v| !v.is_null()) {
        let info: ContainerInfo =
            serde_json::from_value(container.clone()).map_err(|e| format!("Task's 'container' is invalid: {e}"))?;
        if info.kind == ContainerType::Docker && info.docker.is_none() {
            return Err("DockerInfo 'docker' is not set for DOCKER typed ContainerInfo".to_string());
        }
    }
    if task.resources.is_empty() {
        return Err("Task uses no resources".to_string());
    }
    let resources =
        Resources::from_request(&task.resources, role).map_err(|e| format!("Task uses invalid resources: {e}"))?;
    if !available.contains(&resources) {
        return Err(format!(
            "Task uses more resources {resources} than available {available}"
        ));
    }
    if let Some(command) = &task.command {
        if command.value.is_none() {
            return Err(if command.shell.unwrap_or(true) {
                "Shell command is not specified".to_string()
            } else {
                "Executable path is not specified".to_string()
            });
        }
        if let Some(environment) = &command.environment {
            for variable in &environment.variables {
                if variable.value.is_none() {
                    return Err(format!(
                        "Environment variable '{}' of type 'VALUE' must have a value set",
                        variable.name
                    ));
                }
            }
        }
    }
    Ok(resources)
}

/// Valid tasks no local node can run, with the launch failure an agent
/// without a suitable containerizer reports (a DOCKER task on a node
/// without Docker: `Containerizers::for_task`).
/// What of a task's TaskInfo JSON `/master/state` shows as it came.
fn listed_parts(raw: &Value) -> Vec<(&'static str, Value)> {
    let mut listed = Vec::new();
    for key in ["container", "discovery", "kill_policy"] {
        if let Some(value) = raw.get(key).filter(|v| !v.is_null()) {
            listed.push((key, value.clone()));
        }
    }
    if let Some(value) = raw.get("health_check").filter(|v| !v.is_null()) {
        listed.push(("health_check", crate::health::state_json(value)));
    }
    listed
}

fn unsupported_reason(raw: &Value) -> Option<String> {
    if raw.get("executor").is_some_and(|v| !v.is_null()) {
        return Some("Failed to launch container: custom executors are not supported by localmesos".to_string());
    }
    match raw.pointer("/container/type").and_then(Value::as_str) {
        Some("MESOS") if raw.pointer("/container/mesos/image").is_some_and(|v| !v.is_null()) => {
            Some("Failed to launch container: container images are not supported by localmesos".to_string())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_validated_like_mesos() {
        assert!(validate_id("web.1").is_ok());
        assert_eq!(validate_id("").unwrap_err(), "ID must not be empty");
        assert_eq!(validate_id("..").unwrap_err(), "'..' is disallowed");
        assert_eq!(validate_id("a/b").unwrap_err(), "'a/b' contains invalid characters");
        assert!(validate_id(&"x".repeat(256)).is_err());
    }
}
