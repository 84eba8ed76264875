//! Master state: frameworks and their subscriptions, agents (the local
//! nodes), outstanding offers and tasks, and the driver that runs
//! everything time-based (heartbeats, allocation, update retries, failover
//! timeouts).
//!
//! All state sits behind one mutex that is never held across an `.await`.
//! Events go to a framework through a bounded queue feeding its HTTP
//! stream (`event_stream`), so sending never blocks and a subscriber that
//! does not read is cut off; dropping the sender ends the stream.

mod allocator;
pub mod calls;
pub mod faults;
mod status_update;

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use mesos::types::{
    Address, AgentId, Event, EventError, EventType, ExecutorId, Failure, FrameworkCapabilityType, FrameworkId,
    FrameworkInfo, MasterInfo, Subscribed, TaskInfo, TaskState, TaskStatus, TaskStatusSource, Update,
};
use serde_json::Value;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::NodeConfig;
use crate::auth::Authenticator;
use crate::containerizer::Containerizers;
use crate::event_stream::{EventSender, StreamLimits};
use crate::executor::{self, ExecutorCommand};
use crate::resources::Resources;

pub(crate) use allocator::Filter;
pub(crate) use status_update::{RetryTimers, UpdateQueue};

/// The version this master claims to be.
pub const MESOS_VERSION: &str = "1.11.0";
/// How many removed frameworks `/master/state` remembers.
const MAX_COMPLETED_FRAMEWORKS: usize = 50;
/// How many finished tasks per framework `/master/state` remembers.
const MAX_COMPLETED_TASKS: usize = 1000;
/// How many frameworks a master accepts unless told otherwise (Mesos has
/// no limit).
pub const DEFAULT_MAX_FRAMEWORKS: usize = 100;
/// Kill grace period when neither KILL nor TaskInfo gives one.
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(3);
/// Cap of the status update retry backoff.
const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(600);
/// Longest failover timeout honoured (a year).
const MAX_FAILOVER: f64 = 365.0 * 24.0 * 3600.0;

/// Timing knobs taken from `LocalMesosConfig`.
#[derive(Clone, Debug)]
pub struct Timing {
    pub heartbeat_interval: Duration,
    pub update_retry_initial: Duration,
    pub offer_interval: Duration,
}

/// How the master presents itself.
#[derive(Clone, Debug)]
pub struct Identity {
    /// A UUID; framework, agent and offer ids are derived from it.
    pub id: String,
    pub ip: Ipv4Addr,
    pub port: u16,
    pub hostname: String,
}

impl Identity {
    /// `master@ip:port`, the libprocess pid.
    pub fn pid(&self) -> String {
        format!("master@{}:{}", self.ip, self.port)
    }

    pub fn address(&self) -> Address {
        Address {
            hostname: Some(self.hostname.clone()),
            ip: Some(self.ip.to_string()),
            port: i32::from(self.port),
        }
    }

    /// `MasterInfo`, with the IPv4 address packed as Mesos packs it
    /// (network byte order read as a little-endian integer: 127.0.0.1 is
    /// 16777343).
    pub fn master_info(&self) -> MasterInfo {
        MasterInfo {
            id: self.id.clone(),
            ip: u32::from_le_bytes(self.ip.octets()),
            port: u32::from(self.port),
            pid: Some(self.pid()),
            hostname: Some(self.hostname.clone()),
            version: Some(MESOS_VERSION.to_string()),
            address: Some(self.address()),
        }
    }
}

/// The embedded master.
pub struct Master {
    pub identity: Identity,
    pub timing: Timing,
    pub work_dir: PathBuf,
    pub start_time: f64,
    /// What runs the tasks, by kind (each node names its own).
    pub containerizers: Containerizers,
    /// Whether offers leave out host ports already listened on.
    pub skip_bound_ports: bool,
    /// Whether process tasks get their `mem` as a hard limit
    /// (`--memory-limits`).
    pub memory_limits: bool,
    /// Who may call (see `auth`).
    pub auth: Authenticator,
    /// How much each subscriber may leave unread.
    pub stream_limits: StreamLimits,
    /// How many frameworks may be known at once (subscribed, or waiting
    /// out their failover timeout).
    pub max_frameworks: usize,
    state: Mutex<State>,
    wake: Notify,
}

/// A framework's open event stream.
pub struct Stream {
    pub id: String,
    /// The framework it feeds, for the log.
    framework: String,
    tx: EventSender,
    next_heartbeat: Instant,
}

pub struct Framework {
    pub id: FrameworkId,
    pub info: FrameworkInfo,
    pub stream: Option<Stream>,
    pub active: bool,
    pub suppressed_roles: BTreeSet<String>,
    pub failover_deadline: Option<Instant>,
    pub tasks: BTreeMap<String, Task>,
    pub completed_tasks: VecDeque<Task>,
    pub registered_time: f64,
    pub reregistered_time: Option<f64>,
    pub unregistered_time: Option<f64>,
}

impl Framework {
    pub fn connected(&self) -> bool {
        self.stream.is_some()
    }

    pub fn has(&self, capability: FrameworkCapabilityType) -> bool {
        self.info.has_capability(capability)
    }

    pub fn multi_role(&self) -> bool {
        self.has(FrameworkCapabilityType::MultiRole)
    }

    pub fn partition_aware(&self) -> bool {
        self.has(FrameworkCapabilityType::PartitionAware)
    }

    /// The roles the framework is subscribed to.
    pub fn roles(&self) -> Vec<String> {
        framework_roles(&self.info)
    }

    /// Sends an event if the framework is connected.
    pub fn send(&self, event: &Event) {
        if let Some(stream) = &self.stream {
            stream.send(event);
        }
    }
}

impl Stream {
    fn send(&self, event: &Event) {
        match serde_json::to_vec(event) {
            Ok(json) => {
                // A closed receiver means the client left; the stream's
                // guard reports that separately.
                self.tx
                    .send(Bytes::from(mesos::recordio::encode(&json)), &self.framework);
            }
            Err(error) => warn!(%error, "cannot encode an event"),
        }
    }
}

pub fn framework_roles(info: &FrameworkInfo) -> Vec<String> {
    if info.has_capability(FrameworkCapabilityType::MultiRole) {
        info.roles.clone()
    } else {
        vec![info.role.clone().unwrap_or_else(|| "*".to_string())]
    }
}

/// The link from a task to its executor process.
pub struct ExecutorLink {
    pub container_id: String,
    pub tx: mpsc::UnboundedSender<ExecutorCommand>,
}

pub struct Task {
    pub info: TaskInfo,
    /// The parts of the TaskInfo that `/master/state` lists as the
    /// framework sent them (`container`, `discovery`, `kill_policy`,
    /// `health_check` with the protobuf defaults filled in), not the whole
    /// TaskInfo JSON: that is a copy of `info` (its command, environment and
    /// resources) and was most of a task's memory.
    pub listed: Vec<(&'static str, Value)>,
    pub framework_id: FrameworkId,
    pub agent: usize,
    pub agent_id: AgentId,
    pub role: String,
    pub resources: Resources,
    pub resources_released: bool,
    /// Latest state reported by the executor (STAGING until then).
    pub state: TaskState,
    /// State of the last update forwarded to the scheduler.
    pub status_update_state: Option<TaskState>,
    pub statuses: Vec<TaskStatus>,
    pub updates: UpdateQueue,
    pub executor: Option<ExecutorLink>,
    pub kill_grace: Duration,
    pub kill_sent: bool,
    pub pid: Option<u32>,
    pub user: String,
    /// The task's `/master/state` object as text, kept in parts so that a
    /// change of state re-renders only what changed.
    pub json: Mutex<KeptJson>,
}

/// A task's `/master/state` object as text (`operator::task_text`): the
/// fields that never change, each status as it was added (statuses are
/// only ever appended), and the whole object at the (state, number of
/// statuses) it shows, kept until either changes.
#[derive(Default)]
pub struct KeptJson {
    /// The fixed fields, `"key":value,…`, without braces.
    pub fixed: Option<Box<str>>,
    /// The statuses rendered so far (as many as `whole` shows),
    /// comma-separated.
    pub statuses: String,
    pub whole: Option<((TaskState, usize), Arc<str>)>,
}

pub struct Agent {
    pub id: AgentId,
    /// Whether the node can reach the master (see `faults`).
    pub reach: faults::Reach,
    pub config: NodeConfig,
    pub total: Resources,
    /// Resources of tasks not yet known to be terminal.
    pub used: Resources,
    /// The CPUs of `used`, per framework (the allocator's order).
    pub cpus_by_framework: std::collections::HashMap<String, i64>,
    pub registered_time: f64,
}

impl Agent {
    /// The agent's libprocess pid (`slave(n)@ip:port`).
    pub fn pid(&self, index: usize, identity: &Identity) -> String {
        format!("slave({})@{}:{}", index + 1, identity.ip, identity.port)
    }
}

/// An outstanding offer.
pub struct Offer {
    pub id: String,
    pub framework_id: String,
    pub agent: usize,
    pub role: String,
    pub resources: Resources,
}

/// Counters for `/metrics/snapshot`.
#[derive(Default)]
pub struct Counters {
    pub terminal: BTreeMap<&'static str, u64>,
    pub valid_acks: u64,
    pub invalid_acks: u64,
    pub offers_declined: u64,
    pub offers_accepted: u64,
    pub offers_rescinded: u64,
    pub calls: BTreeMap<&'static str, u64>,
}

pub struct State {
    pub frameworks: BTreeMap<String, Framework>,
    pub completed_frameworks: VecDeque<Framework>,
    pub removed_ids: HashSet<String>,
    pub agents: Vec<Agent>,
    pub offers: BTreeMap<String, Offer>,
    pub filters: Vec<Filter>,
    pub counters: Counters,
    next_framework: u64,
    next_offer: u64,
    /// The number in the next agent id (`<master id>-S<n>`).
    next_agent: u64,
    allocation_requested: bool,
    next_allocation: Instant,
    /// When each unacknowledged status update is due to be resent.
    pub retries: RetryTimers,
    shutting_down: bool,
}

/// Seconds since the epoch, as `TaskStatus.timestamp` carries it.
pub fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

/// A status created by the master itself: no uuid, not retried.
pub fn master_status(
    task_id: &mesos::types::TaskId,
    state: TaskState,
    message: impl Into<String>,
    reason: &str,
    agent_id: Option<AgentId>,
) -> TaskStatus {
    TaskStatus {
        task_id: task_id.clone(),
        state,
        message: Some(message.into()),
        source: Some(TaskStatusSource::SourceMaster),
        reason: Some(reason.to_string()),
        data: None,
        agent_id,
        executor_id: None,
        timestamp: Some(now_secs()),
        uuid: None,
        healthy: None,
        labels: None,
        container_status: None,
        unreachable_time: None,
    }
}

pub fn update_event(status: TaskStatus) -> Event {
    Event {
        update: Some(Update { status }),
        ..Event::of(EventType::Update)
    }
}

pub fn error_event(message: &str) -> Event {
    Event {
        error: Some(EventError {
            message: message.to_string(),
        }),
        ..Event::of(EventType::Error)
    }
}

/// Sends one event on a stream no framework owns yet.
fn send_raw(tx: &EventSender, event: &Event) {
    if let Ok(json) = serde_json::to_vec(event) {
        tx.send(Bytes::from(mesos::recordio::encode(&json)), "(not subscribed)");
    }
}

impl Master {
    pub fn new(identity: Identity, timing: Timing, work_dir: PathBuf, nodes: &[NodeConfig]) -> Self {
        let registered_time = now_secs();
        let agents = nodes
            .iter()
            .enumerate()
            .map(|(i, node)| Agent {
                id: AgentId::new(format!("{}-S{i}", identity.id)),
                reach: faults::Reach::Reachable,
                config: node.clone(),
                total: Resources::node(node.cpus, node.mem, node.disk, &node.ports),
                used: Resources::default(),
                cpus_by_framework: std::collections::HashMap::new(),
                registered_time,
            })
            .collect();
        let state = State {
            frameworks: BTreeMap::new(),
            completed_frameworks: VecDeque::new(),
            removed_ids: HashSet::new(),
            agents,
            offers: BTreeMap::new(),
            filters: Vec::new(),
            counters: Counters::default(),
            next_framework: 0,
            next_offer: 0,
            next_agent: nodes.len() as u64,
            allocation_requested: false,
            next_allocation: Instant::now(),
            retries: RetryTimers::default(),
            shutting_down: false,
        };
        Self {
            identity,
            timing,
            work_dir,
            start_time: registered_time,
            containerizers: Containerizers::default(),
            skip_bound_ports: true,
            memory_limits: false,
            auth: Authenticator::default(),
            stream_limits: StreamLimits::default(),
            max_frameworks: DEFAULT_MAX_FRAMEWORKS,
            state: Mutex::new(state),
            wake: Notify::new(),
        }
    }

    /// The state, even if a thread panicked while holding it.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn request_allocation(&self, state: &mut State) {
        state.allocation_requested = true;
        self.wake.notify_one();
    }

    // ------------------------------------------------------ subscriptions ---

    /// Handles a validated SUBSCRIBE whose HTTP stream feeds from `tx`.
    /// Sends SUBSCRIBED + HEARTBEAT, or an ERROR and closes. Returns the
    /// framework id when subscribed.
    pub fn subscribe(
        &self,
        info: FrameworkInfo,
        suppressed_roles: Vec<String>,
        stream_id: &str,
        tx: EventSender,
    ) -> Option<FrameworkId> {
        if let Err(message) = validate_framework_info(&info) {
            info!(%message, "refusing a subscription");
            send_raw(&tx, &error_event(&message));
            return None;
        }
        let now = Instant::now();
        let mut state = self.lock();
        if state.shutting_down {
            return None;
        }
        let id = match &info.id {
            Some(id) if state.removed_ids.contains(&id.value) => {
                info!(framework = %id, "refusing to re-subscribe a removed framework");
                send_raw(&tx, &error_event("Framework has been removed"));
                return None;
            }
            Some(id) => id.clone(),
            None => loop {
                // Skip ids a re-subscribing framework may have brought along.
                let id = FrameworkId::new(format!("{}-{:04}", self.identity.id, state.next_framework));
                state.next_framework += 1;
                if !state.frameworks.contains_key(&id.value) && !state.removed_ids.contains(&id.value) {
                    break id;
                }
            },
        };
        if let Some(existing) = state.frameworks.get(&id.value)
            && existing.info.principal != info.principal
        {
            info!(framework = %id, "refusing a re-subscription under another principal");
            send_raw(&tx, &error_event("Changing framework's principal is not allowed."));
            return None;
        }
        let known = state.frameworks.contains_key(&id.value);
        if !known && state.frameworks.len() >= self.max_frameworks {
            let message = format!(
                "Too many frameworks: this master accepts at most {} (localmesos --max-frameworks)",
                self.max_frameworks
            );
            warn!(name = %info.name, %message, "refusing a subscription");
            send_raw(&tx, &error_event(&message));
            return None;
        }
        let stream = Stream {
            id: stream_id.to_string(),
            framework: id.value.clone(),
            tx,
            next_heartbeat: now + self.timing.heartbeat_interval,
        };
        let mut info = info;
        info.id = Some(id.clone());
        let suppressed: BTreeSet<String> = suppressed_roles.into_iter().collect();

        let failover = state.frameworks.contains_key(&id.value);
        if failover {
            // Offers never survive a re-subscription (and no RESCIND is sent).
            state.offers.retain(|_, offer| offer.framework_id != id.value);
        }
        match state.frameworks.get_mut(&id.value) {
            Some(framework) => {
                if let Some(old) = framework.stream.take() {
                    info!(framework = %id, "framework failed over to a new subscription");
                    old.send(&error_event("Framework failed over"));
                }
                // `user` and `checkpoint` cannot change on re-subscription.
                info.user = framework.info.user.clone();
                info.checkpoint = framework.info.checkpoint;
                framework.info = info;
                framework.stream = Some(stream);
                framework.active = true;
                framework.failover_deadline = None;
                framework.suppressed_roles = suppressed;
                framework.reregistered_time = Some(now_secs());
            }
            None => {
                info!(framework = %id, name = %info.name, "framework subscribed");
                state.frameworks.insert(
                    id.value.clone(),
                    Framework {
                        id: id.clone(),
                        info,
                        stream: Some(stream),
                        active: true,
                        suppressed_roles: suppressed,
                        failover_deadline: None,
                        tasks: BTreeMap::new(),
                        completed_tasks: VecDeque::new(),
                        registered_time: now_secs(),
                        reregistered_time: None,
                        unregistered_time: None,
                    },
                );
            }
        }
        let subscribed = Event {
            subscribed: Some(Subscribed {
                framework_id: id.clone(),
                heartbeat_interval_seconds: Some(self.timing.heartbeat_interval.as_secs_f64()),
                master_info: Some(self.identity.master_info()),
            }),
            ..Event::of(EventType::Subscribed)
        };
        let State {
            frameworks, retries, ..
        } = &mut *state;
        if let Some(framework) = frameworks.get_mut(&id.value) {
            framework.send(&subscribed);
            framework.send(&Event::of(EventType::Heartbeat));
            // Pending status updates are resent to the new subscription.
            let Framework { stream, tasks, .. } = framework;
            for task in tasks.values_mut() {
                task.updates.reset_backoff(self.timing.update_retry_initial);
                status_update::forward_head(stream.as_ref(), task, now, self.timing.update_retry_initial, retries);
            }
        }
        self.request_allocation(&mut state);
        Some(id)
    }

    /// Whether `stream_id` is the current subscription of some framework.
    pub fn is_current_stream(&self, stream_id: &str) -> bool {
        self.lock()
            .frameworks
            .values()
            .any(|f| f.stream.as_ref().is_some_and(|s| s.id == stream_id))
    }

    /// Called when a subscription's HTTP stream is gone (client closed it,
    /// or the master ended it). Only the current stream of a framework
    /// disconnects it.
    pub fn stream_closed(&self, framework_id: &FrameworkId, stream_id: &str) {
        let mut state = self.lock();
        let Some(framework) = state.frameworks.get_mut(&framework_id.value) else {
            return;
        };
        if framework.stream.as_ref().is_none_or(|s| s.id != stream_id) {
            return;
        }
        info!(framework = %framework_id, "framework disconnected");
        framework.stream = None;
        framework.active = false;
        framework.unregistered_time = Some(now_secs());
        let timeout = framework.info.failover_timeout.unwrap_or(0.0);
        state.offers.retain(|_, offer| offer.framework_id != framework_id.value);
        if timeout > 0.0 {
            let timeout = Duration::from_secs_f64(timeout.min(MAX_FAILOVER));
            if let Some(framework) = state.frameworks.get_mut(&framework_id.value) {
                framework.failover_deadline = Some(Instant::now() + timeout);
            }
            self.wake.notify_one();
        } else {
            self.remove_framework(&mut state, &framework_id.value);
        }
    }

    /// Removes a framework for good: its tasks are killed (recorded as
    /// TASK_KILLED, no updates sent), its stream closed, its id retired.
    fn remove_framework(&self, state: &mut State, framework_id: &str) {
        let Some(mut framework) = state.frameworks.remove(framework_id) else {
            return;
        };
        info!(framework = %framework_id, "removing framework");
        // Dropping the sender ends the stream with the last chunk.
        framework.stream = None;
        framework.active = false;
        framework.unregistered_time.get_or_insert_with(now_secs);
        state.offers.retain(|_, offer| offer.framework_id != framework_id);
        state.filters.retain(|f| f.framework_id != framework_id);
        let tasks = std::mem::take(&mut framework.tasks);
        for (_, mut task) in tasks {
            if let Some(link) = &task.executor {
                let _ = link.tx.send(ExecutorCommand::Shutdown { grace: task.kill_grace });
            }
            release_resources(&mut state.agents, &mut task);
            if !task.state.is_terminal() {
                task.state = TaskState::TaskKilled;
                *state
                    .counters
                    .terminal
                    .entry(TaskState::TaskKilled.as_str())
                    .or_default() += 1;
            }
            push_completed(&mut framework.completed_tasks, task);
        }
        state.removed_ids.insert(framework_id.to_string());
        state.completed_frameworks.push_back(framework);
        while state.completed_frameworks.len() > MAX_COMPLETED_FRAMEWORKS {
            state.completed_frameworks.pop_front();
        }
        self.request_allocation(state);
    }

    // ------------------------------------------------------------ driver ---

    /// Runs heartbeats, allocation, update retries and failover timeouts
    /// until the master shuts down.
    pub async fn drive(self: Arc<Self>) {
        loop {
            let next = {
                let mut state = self.lock();
                if state.shutting_down {
                    return;
                }
                self.tick(&mut state, Instant::now())
            };
            tokio::select! {
                _ = tokio::time::sleep_until(next) => {}
                _ = self.wake.notified() => {}
            }
        }
    }

    /// Does what is due at `now`; returns when to come back.
    fn tick(&self, state: &mut State, now: Instant) -> Instant {
        let heartbeat = Event::of(EventType::Heartbeat);
        let mut expired = Vec::new();
        for framework in state.frameworks.values_mut() {
            if let Some(stream) = &mut framework.stream
                && now >= stream.next_heartbeat
            {
                stream.send(&heartbeat);
                stream.next_heartbeat = now + self.timing.heartbeat_interval;
            }
            if framework.failover_deadline.is_some_and(|d| now >= d) {
                expired.push(framework.id.value.clone());
            }
        }
        // Only the updates due now are looked at, never every task.
        while let Some((due, framework_id, task_id)) = state.retries.pop_due(now) {
            let State {
                frameworks,
                agents,
                retries,
                ..
            } = &mut *state;
            let Some(framework) = frameworks.get_mut(&framework_id) else {
                continue;
            };
            let Framework { stream, tasks, .. } = framework;
            let Some(task) = tasks.get_mut(&task_id) else {
                continue;
            };
            // Updates wait on a partitioned node; healing forwards them.
            let cut_off = agents
                .get(task.agent)
                .is_some_and(|a| matches!(a.reach, faults::Reach::Partitioned { .. }));
            if !cut_off {
                status_update::retry_if_due(stream.as_ref(), task, due, now, retries);
            }
        }
        for id in expired {
            info!(framework = %id, "failover timeout expired");
            self.remove_framework(state, &id);
        }
        if state.allocation_requested || now >= state.next_allocation {
            state.allocation_requested = false;
            state.next_allocation = now + self.timing.offer_interval;
            self.allocate(state, now);
        }

        let mut next = state.next_allocation;
        if let Some(due) = state.retries.next() {
            next = next.min(due);
        }
        for framework in state.frameworks.values() {
            if let Some(stream) = &framework.stream {
                next = next.min(stream.next_heartbeat);
            }
            if let Some(deadline) = framework.failover_deadline {
                next = next.min(deadline);
            }
        }
        next.max(now + Duration::from_millis(1))
    }

    // --------------------------------------------------------- executors ---

    /// What an executor reports about its task.
    pub fn executor_event(
        &self,
        framework_id: &str,
        task_id: &str,
        container_id: &str,
        event: executor::ExecutorEvent,
    ) {
        let now = Instant::now();
        let mut guard = self.lock();
        let state = &mut *guard;
        let Some(framework) = state.frameworks.get_mut(framework_id) else {
            return;
        };
        let killing_state = framework.has(FrameworkCapabilityType::TaskKillingState);
        let Framework { stream, tasks, .. } = framework;
        let Some(task) = tasks.get_mut(task_id) else {
            return;
        };
        if task.executor.as_ref().is_none_or(|e| e.container_id != container_id) {
            return;
        }
        if let executor::ExecutorEvent::Started { pid } = event {
            task.pid = pid;
        }
        let retry = self.timing.update_retry_initial;
        let mut released = false;
        // A partitioned node keeps its updates until it heals.
        let partitioned = state
            .agents
            .get(task.agent)
            .is_some_and(|a| matches!(a.reach, faults::Reach::Partitioned { .. }));
        let stream = if partitioned { None } else { stream.as_ref() };
        for status in status_update::statuses_for(task, container_id, &event, killing_state) {
            if status.state.is_terminal() {
                *state.counters.terminal.entry(status.state.as_str()).or_default() += 1;
                released |= release_resources(&mut state.agents, task);
            }
            debug!(task = %task_id, state = status.state.as_str(), "status update");
            status_update::enqueue(stream, task, status, now, retry, &mut state.retries);
        }
        if released {
            self.request_allocation(state);
        }
    }

    /// Stops the master: the driver ends, every event stream is closed
    /// (with the last chunk), and no new subscription or task is accepted.
    /// Running tasks are left to [`Master::stop_tasks`].
    pub fn close(&self) {
        {
            let mut state = self.lock();
            state.shutting_down = true;
            state.offers.clear();
            for framework in state.frameworks.values_mut() {
                framework.stream = None;
            }
        }
        self.wake.notify_one();
    }

    /// Kills every task: SIGTERM to every process of each task, `grace`, SIGKILL;
    /// waits for all of them.
    pub async fn stop_tasks(&self, grace: Duration) {
        self.containerizers.shutdown(grace).await;
    }

    /// Synchronous last resort (used by `Drop`): SIGKILL every task's
    /// processes at once.
    pub fn kill_all_now(&self) {
        self.close();
        self.containerizers.kill_all_now();
    }
}

/// Gives a task's resources back to its agent, once. Returns whether it
/// did.
fn release_resources(agents: &mut [Agent], task: &mut Task) -> bool {
    if task.resources_released {
        return false;
    }
    task.resources_released = true;
    if let Some(agent) = agents.get_mut(task.agent) {
        agent.used.subtract(&task.resources);
        if let Some(held) = agent.cpus_by_framework.get_mut(&task.framework_id.value) {
            *held -= task.resources.cpus;
            if *held <= 0 {
                agent.cpus_by_framework.remove(&task.framework_id.value);
            }
        }
    }
    true
}

fn push_completed(completed: &mut VecDeque<Task>, task: Task) {
    completed.push_back(task);
    while completed.len() > MAX_COMPLETED_TASKS {
        completed.pop_front();
    }
}

/// `FAILURE` for an executor that exited.
pub fn failure_event(agent_id: &AgentId, executor_id: &ExecutorId, status: i32) -> Event {
    Event {
        failure: Some(Failure {
            agent_id: Some(agent_id.clone()),
            executor_id: Some(executor_id.clone()),
            status: Some(status),
        }),
        ..Event::of(EventType::Failure)
    }
}

/// Longest id a framework may choose (NAME_MAX).
const MAX_ID_LENGTH: usize = 255;

/// `common::validation::validateID`, for ids a framework chooses (they
/// become sandbox path components).
pub fn validate_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("ID must not be empty".to_string());
    }
    if id.len() > MAX_ID_LENGTH {
        return Err(format!("ID must not be greater than {MAX_ID_LENGTH} characters"));
    }
    if id == "." || id == ".." {
        return Err(format!("'{id}' is disallowed"));
    }
    if id.chars().any(|c| c.is_control() || c == '/' || c == '\\') {
        return Err(format!("'{id}' contains invalid characters"));
    }
    Ok(())
}

/// `roles::validate`.
fn validate_role(role: &str) -> Result<(), String> {
    if role == "*" {
        return Ok(());
    }
    if role.is_empty() {
        return Err("Empty role name is invalid".to_string());
    }
    if role.starts_with('/') || role.ends_with('/') || role.contains("//") {
        return Err(format!(
            "Role '{role}' cannot start or end with a slash or contain '//'"
        ));
    }
    for component in role.split('/') {
        if component == "." || component == ".." {
            return Err(format!("Role '{role}' cannot contain '.' or '..' as a component"));
        }
        if component.starts_with('-') {
            return Err(format!("Role '{role}' cannot contain a component starting with '-'"));
        }
        if component == "*" {
            return Err(format!("Role '{role}' cannot contain '*' as a component"));
        }
        if component
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
        {
            return Err(format!(
                "Role '{role}' cannot contain whitespace, control characters or '\\'"
            ));
        }
    }
    Ok(())
}

/// The checks a master makes on `FrameworkInfo` at SUBSCRIBE; a failure is
/// sent as an ERROR event.
pub fn validate_framework_info(info: &FrameworkInfo) -> Result<(), String> {
    let multi_role = info.has_capability(FrameworkCapabilityType::MultiRole);
    if multi_role {
        if info.role.is_some() {
            return Err("'FrameworkInfo.role' must not be set when the framework is MULTI_ROLE capable".to_string());
        }
        let mut seen = HashSet::new();
        let duplicates: BTreeSet<&str> = info
            .roles
            .iter()
            .filter(|r| !seen.insert(r.as_str()))
            .map(String::as_str)
            .collect();
        if !duplicates.is_empty() {
            let list: Vec<&str> = duplicates.into_iter().collect();
            return Err(format!(
                "'FrameworkInfo.roles' contains duplicate items: {{ {} }}",
                list.join(", ")
            ));
        }
        for role in &info.roles {
            validate_role(role).map_err(|e| format!("'FrameworkInfo.roles' contains invalid role: {e}"))?;
        }
    } else {
        if !info.roles.is_empty() {
            return Err(
                "'FrameworkInfo.roles' must not be set when the framework is not MULTI_ROLE capable".to_string(),
            );
        }
        validate_role(info.role.as_deref().unwrap_or("*"))
            .map_err(|e| format!("'FrameworkInfo.role' is not a valid role: {e}"))?;
    }
    if let Some(id) = &info.id {
        validate_id(&id.value).map_err(|e| format!("'FrameworkInfo.id' is invalid: {e}"))?;
    }
    if let Some(timeout) = info.failover_timeout
        && !timeout.is_finite()
    {
        return Err(format!("Invalid 'FrameworkInfo.failover_timeout': {timeout}"));
    }
    Ok(())
}
