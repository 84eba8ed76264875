//! The agent's task table: every task it was asked to launch or learnt of
//! from Mesos, its latest state (with when it became running and healthy,
//! and why a queued task still waits), and a broadcast of every change;
//! and what offers told of the Mesos agents (hostnames, HTTP endpoints).
//! A launched task's first TASK_RUNNING is timed from its `Launch` here
//! (`sextant_launch_latency_seconds`).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mesos::agents::AgentEndpoint;
use mesos::types::{AgentId, TaskState as MesosState, TaskStatus};
use sextant_proto::proto::{self, LaunchRequest, Task, TaskSpec, TaskState};
use tokio::sync::broadcast;

use crate::launch_queue::{LaunchQueue, Tier};
use crate::metrics::AgentMetrics;
use crate::placement::{Free, Known, NodeFacts};
use crate::preemption::{Room, Victim};

/// Changes buffered for slow watchers; a watcher that lags further gets a
/// fresh snapshot instead (see `grpc`). A task makes four or five changes
/// on its way to RUNNING: at 4,096 a controller busy for a second during a
/// launch of 100,000 tasks fell behind again and again, each time taking
/// a larger snapshot (docs/benchmarks.md, "100,000 simulated tasks").
pub const BROADCAST_CAPACITY: usize = 16_384;

/// Ended tasks kept so that late Launch/Kill calls stay idempotent and the
/// controller sees how tasks ended.
const ENDED_TASKS_KEPT: usize = 1000;

/// How often a waiting task's message is published when only its figures
/// changed.
const WAITING_FIGURES_EVERY: Duration = Duration::from_secs(10);

/// A message with its numbers taken out, to tell a new cause from new
/// figures.
fn without_figures(message: &str) -> String {
    message.chars().filter(|c| !c.is_ascii_digit() && *c != '.').collect()
}

/// How long a task that preemption makes room for keeps saying so, before
/// offer rounds may say why it waits again.
pub const PREEMPTION_HOLD: Duration = Duration::from_secs(30);

/// One task as the agent tracks it.
#[derive(Clone, Debug)]
pub struct TrackedTask {
    /// What to launch; `None` for tasks adopted from Mesos reconciliation.
    pub launch: Option<LaunchRequest>,
    /// The view shared with the controller.
    pub view: Task,
    /// The Mesos agent (node) the task was placed on.
    pub agent_id: Option<AgentId>,
    /// The executor, as status updates name it (for command tasks, the
    /// task id); `None` until an update names one.
    pub executor_id: Option<String>,
    /// A kill was asked for; re-sent after a re-subscription.
    pub kill_requested: bool,
    /// When its `Launch` queued it, until it first runs (this process's
    /// launches only).
    pub queued_at: Option<Instant>,
    /// The Mesos agent this task is counted on in `TaskTable::placed`.
    counted_on: Option<String>,
    /// A queued task that preemption is making room for: since when, so
    /// that offer rounds do not overwrite why it waits meanwhile.
    pub preempting_since: Option<Instant>,
    /// A task killed to make room for this (production) task id.
    pub preempted_by: Option<String>,
    /// When why it waits was last published.
    waiting_published_at: Option<Instant>,
}

/// All tasks, by id, and the change feed.
#[derive(Debug)]
pub struct TaskTable {
    tasks: BTreeMap<String, TrackedTask>,
    /// Pending task ids in launch order (`launch_queue`).
    queue: LaunchQueue,
    /// Per app (`namespace/name`), how many of its live launched tasks run
    /// on each Mesos agent: what placement constraints and spreading count.
    placed: HashMap<String, HashMap<String, u32>>,
    /// Ended task ids, oldest first, for bounded retention.
    ended: VecDeque<String>,
    /// Hostnames of Mesos agents, learnt from offers: tasks adopted from
    /// reconciliation only come with an agent id.
    hostnames: BTreeMap<String, String>,
    /// Where Mesos agents serve HTTP (their sandboxes), learnt from offers.
    endpoints: BTreeMap<String, AgentEndpoint>,
    /// Hostname and attributes of Mesos agents, learnt from offers (what
    /// placement constraints look at).
    facts: HashMap<String, NodeFacts>,
    changes: broadcast::Sender<Task>,
    /// Where launch latencies go.
    metrics: AgentMetrics,
}

impl Default for TaskTable {
    fn default() -> Self {
        Self::new()
    }
}

impl TaskTable {
    pub fn new() -> Self {
        let (changes, _) = broadcast::channel(BROADCAST_CAPACITY);
        Self {
            tasks: BTreeMap::new(),
            queue: LaunchQueue::default(),
            placed: HashMap::new(),
            ended: VecDeque::new(),
            hostnames: BTreeMap::new(),
            endpoints: BTreeMap::new(),
            facts: HashMap::new(),
            changes,
            metrics: AgentMetrics::default(),
        }
    }

    /// Times launches into `metrics`.
    pub fn with_metrics(mut self, metrics: AgentMetrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Subscribes to changes; take the snapshot under the same lock.
    pub fn watch(&self) -> (Vec<Task>, broadcast::Receiver<Task>) {
        (self.snapshot(), self.changes.subscribe())
    }

    pub fn snapshot(&self) -> Vec<Task> {
        self.tasks.values().map(|t| t.view.clone()).collect()
    }

    /// Tasks known, ended ones included.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    pub fn get(&self, task_id: &str) -> Option<&TrackedTask> {
        self.tasks.get(task_id)
    }

    /// Queues a launch. Returns false (and changes nothing) if the id is known.
    pub fn enqueue(&mut self, request: LaunchRequest) -> bool {
        if self.tasks.contains_key(&request.task_id) {
            return false;
        }
        let view = first_view(&request, TaskState::Pending);
        let tier = Tier::of(request.spec.as_ref().map_or(0, |s| s.priority));
        self.queue
            .push(&request.task_id, &app_key(&request.namespace, &request.app), tier);
        self.tasks.insert(
            request.task_id.clone(),
            TrackedTask {
                launch: Some(request),
                view: view.clone(),
                agent_id: None,
                executor_id: None,
                kill_requested: false,
                queued_at: Some(Instant::now()),
                counted_on: None,
                preempting_since: None,
                preempted_by: None,
                waiting_published_at: None,
            },
        );
        self.publish(view);
        true
    }

    /// Remembers the hostname of a Mesos agent (from an offer), and fills it
    /// in for tasks on that agent that lack it.
    pub fn note_hostname(&mut self, agent_id: &AgentId, hostname: &str) {
        if self.hostnames.get(&agent_id.value).is_some_and(|h| h == hostname) {
            return;
        }
        self.hostnames.insert(agent_id.value.clone(), hostname.to_string());
        let mut filled = Vec::new();
        for task in self.tasks.values_mut() {
            if task.view.hostname.is_empty() && task.view.agent_id == agent_id.value {
                task.view.hostname = hostname.to_string();
                filled.push(task.view.clone());
            }
        }
        for view in filled {
            self.publish(view);
        }
    }

    /// Remembers a Mesos agent's hostname and attributes (from an offer).
    pub fn note_facts(&mut self, agent_id: &AgentId, facts: NodeFacts) {
        if self.facts.get(&agent_id.value) != Some(&facts) {
            self.facts.insert(agent_id.value.clone(), facts);
        }
    }

    /// Remembers where a Mesos agent serves HTTP (from an offer's `url`).
    pub fn note_endpoint(&mut self, agent_id: &AgentId, endpoint: AgentEndpoint) {
        if self.endpoints.get(&agent_id.value) != Some(&endpoint) {
            self.endpoints.insert(agent_id.value.clone(), endpoint);
        }
    }

    /// Where the Mesos agent `agent_id` serves HTTP, if an offer said.
    pub fn endpoint(&self, agent_id: &str) -> Option<&AgentEndpoint> {
        self.endpoints.get(agent_id)
    }

    /// Pending launches in queue order, borrowed.
    pub fn pending(&self) -> impl Iterator<Item = &LaunchRequest> {
        self.queue
            .iter()
            .filter_map(|id| self.tasks.get(id))
            .filter_map(|t| t.launch.as_ref())
    }

    pub fn has_pending(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Queued tasks in launch order (`ListQueue`), and how many there are.
    pub fn queued(&self) -> (impl Iterator<Item = &TrackedTask>, usize) {
        (self.queue.iter().filter_map(|id| self.tasks.get(id)), self.queue.len())
    }

    /// Every task known, ended ones included, by id.
    pub fn tasks(&self) -> impl Iterator<Item = &TrackedTask> {
        self.tasks.values()
    }

    /// Records that a pending task was sent to Mesos on `agent_id`.
    pub fn mark_launched(&mut self, task_id: &str, agent_id: &AgentId, hostname: &str, ports: Vec<proto::HostPort>) {
        self.queue.take(task_id);
        if let Some(task) = self.tasks.get_mut(task_id) {
            task.agent_id = Some(agent_id.clone());
            task.preempting_since = None;
            task.view.state = TaskState::Staging as i32;
            task.view.agent_id = agent_id.value.clone();
            task.view.hostname = hostname.to_string();
            task.view.ports = ports;
            // The "waiting for an offer" text no longer holds.
            task.view.message.clear();
            task.view.updated_at = now_secs();
            let view = task.view.clone();
            self.recount(task_id);
            self.publish(view);
        }
    }

    /// Says why a queued task still waits; published only when the text
    /// changes, so that offer rounds do not flood the watchers.
    pub fn note_waiting(&mut self, task_id: &str, message: &str) {
        let Some(task) = self.tasks.get_mut(task_id) else {
            return;
        };
        if task.view.state != TaskState::Pending as i32 || task.view.message == message {
            return;
        }
        if task.preempting_since.is_some_and(|at| at.elapsed() < PREEMPTION_HOLD) {
            return;
        }
        // The figures in it (what is free) change with every round: a
        // change of figures alone is kept (ListQueue shows it) but
        // published at most every WAITING_FIGURES_EVERY, or every round
        // would flood the watchers with every waiting task.
        let figures_only = without_figures(&task.view.message) == without_figures(message);
        if figures_only
            && task
                .waiting_published_at
                .is_some_and(|at| at.elapsed() < WAITING_FIGURES_EVERY)
        {
            task.view.message = message.to_string();
            return;
        }
        task.waiting_published_at = Some(Instant::now());
        task.view.message = message.to_string();
        task.view.updated_at = now_secs();
        let view = task.view.clone();
        self.publish(view);
    }

    /// Removes a task that never reached Mesos; it ends as KILLED.
    pub fn drop_pending(&mut self, task_id: &str, reason: &str) -> bool {
        if !self.queue.remove(task_id) {
            return false;
        }
        if let Some(task) = self.tasks.get_mut(task_id) {
            task.view.state = TaskState::Killed as i32;
            task.view.message = format!("killed before launch: {reason}");
            task.view.updated_at = now_secs();
            let view = task.view.clone();
            self.publish(view);
            self.remember_ended(task_id);
        }
        true
    }

    /// Marks a kill as requested; returns the task's agent if it is live.
    pub fn request_kill(&mut self, task_id: &str) -> Option<Option<AgentId>> {
        let task = self.tasks.get_mut(task_id)?;
        if is_ended(task.view.state) {
            return None;
        }
        task.kill_requested = true;
        Some(task.agent_id.clone())
    }

    /// Live tasks that were asked to die (re-sent after re-subscribing).
    pub fn kills_to_resend(&self) -> Vec<(String, Option<AgentId>)> {
        self.tasks
            .iter()
            .filter(|(_, t)| t.kill_requested && !is_ended(t.view.state) && t.view.state != TaskState::Pending as i32)
            .map(|(id, t)| (id.clone(), t.agent_id.clone()))
            .collect()
    }

    /// Launched, non-terminal tasks (for explicit reconciliation).
    pub fn live_launched(&self) -> Vec<(String, Option<AgentId>)> {
        self.tasks
            .iter()
            .filter(|(_, t)| !is_ended(t.view.state) && t.view.state != TaskState::Pending as i32)
            .map(|(id, t)| (id.clone(), t.agent_id.clone()))
            .collect()
    }

    /// Applies a Mesos status update. Unknown tasks with a Sextant task id
    /// are adopted (a restarted agent learns them back from Mesos). Returns
    /// false when the update was ignored.
    pub fn apply_status(&mut self, status: &TaskStatus) -> bool {
        let id = status.task_id.value.clone();
        if !self.tasks.contains_key(&id) {
            let Ok(parsed) = id.parse::<sextant_proto::task::TaskId>() else {
                return false;
            };
            let now = now_secs();
            self.tasks.insert(
                id.clone(),
                TrackedTask {
                    launch: None,
                    view: Task {
                        task_id: id.clone(),
                        namespace: parsed.namespace,
                        app: parsed.app,
                        revision: parsed.revision,
                        created_at: now,
                        ..Task::default()
                    },
                    agent_id: None,
                    executor_id: None,
                    kill_requested: false,
                    queued_at: None,
                    counted_on: None,
                    preempting_since: None,
                    preempted_by: None,
                    waiting_published_at: None,
                },
            );
        }
        let Some(task) = self.tasks.get_mut(&id) else {
            return false;
        };
        let state = from_mesos(status.state);
        // Terminal states never change: a late copy must not revive a task.
        // (LOST and GONE_BY_OPERATOR may be followed by RUNNING in Mesos.)
        let was = task.view.state;
        let revivable = [TaskState::Lost, TaskState::GoneByOperator, TaskState::Unknown]
            .iter()
            .any(|s| *s as i32 == was);
        if is_ended(was) && !revivable {
            return false;
        }
        let at = status.timestamp.unwrap_or_else(now_secs);
        task.view.state = state as i32;
        if let Some(message) = &status.message {
            task.view.message = message.clone();
        }
        if let Some(by) = &task.preempted_by {
            let said = std::mem::take(&mut task.view.message);
            task.view.message = if said.is_empty() || said.starts_with("preempted by ") {
                format!("preempted by {by}")
            } else {
                format!("preempted by {by}: {said}")
            };
        }
        task.view.reason = status.reason.clone().unwrap_or_default();
        // Kept when a task ends, so that the controller can tell a task
        // killed for failing its health check.
        if status.healthy.is_some() {
            task.view.healthy = status.healthy;
        }
        stamp_since(&mut task.view, was, at);
        if state == TaskState::Running
            && let Some(queued) = task.queued_at.take()
        {
            self.metrics.launched(queued.elapsed());
        }
        if let Some(executor) = &status.executor_id {
            task.executor_id = Some(executor.value.clone());
        }
        if let Some(agent) = &status.agent_id {
            task.agent_id = Some(agent.clone());
            task.view.agent_id = agent.value.clone();
            if task.view.hostname.is_empty()
                && let Some(hostname) = self.hostnames.get(&agent.value)
            {
                task.view.hostname = hostname.clone();
            }
        }
        task.view.updated_at = at;
        let view = task.view.clone();
        let ended = is_ended(view.state);
        self.queue.remove(&id);
        self.recount(&id);
        self.publish(view);
        if ended {
            self.remember_ended(&id);
        }
        true
    }

    /// Brings `placed` in line with the task's state: a live task that
    /// was sent to a Mesos agent counts on it; a queued or ended one does
    /// not.
    fn recount(&mut self, task_id: &str) {
        let Some(task) = self.tasks.get_mut(task_id) else {
            return;
        };
        let should = task
            .agent_id
            .as_ref()
            .filter(|_| !is_ended(task.view.state) && task.view.state != TaskState::Pending as i32)
            .map(|a| a.value.clone());
        if should == task.counted_on {
            return;
        }
        let app = app_key(&task.view.namespace, &task.view.app);
        let was = std::mem::replace(&mut task.counted_on, should.clone());
        if let Some(agent) = was
            && let Some(nodes) = self.placed.get_mut(&app)
        {
            if let Some(n) = nodes.get_mut(&agent) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    nodes.remove(&agent);
                }
            }
            if nodes.is_empty() {
                self.placed.remove(&app);
            }
        }
        if let Some(agent) = should {
            *self.placed.entry(app).or_default().entry(agent).or_default() += 1;
        }
    }

    fn remember_ended(&mut self, task_id: &str) {
        self.ended.push_back(task_id.to_string());
        while self.ended.len() > ENDED_TASKS_KEPT {
            if let Some(old) = self.ended.pop_front() {
                // Only forget it if it really is still ended.
                if self.tasks.get(&old).is_some_and(|t| is_ended(t.view.state)) {
                    self.tasks.remove(&old);
                }
            }
        }
    }

    fn publish(&self, view: Task) {
        // No receivers is fine: nobody is watching yet.
        let _ = self.changes.send(view);
    }
}

impl TaskTable {
    /// Every node with preemptible tasks of this agent, with those tasks
    /// as victims, and what `free` says is free there (nothing for a node
    /// that made no offer). Tasks already being killed are left out.
    pub fn rooms(&self, free: &HashMap<String, Free>) -> Vec<Room> {
        let mut rooms: BTreeMap<&str, Room> = BTreeMap::new();
        for task in self.tasks.values() {
            let (Some(agent), Some(spec)) = (&task.agent_id, task.launch.as_ref().and_then(|l| l.spec.as_ref())) else {
                continue;
            };
            if Tier::of(spec.priority) != Tier::Preemptible
                || task.kill_requested
                || is_ended(task.view.state)
                || task.view.state == TaskState::Pending as i32
            {
                continue;
            }
            let room = rooms.entry(&agent.value).or_insert_with(|| Room {
                agent_id: agent.value.clone(),
                hostname: task.view.hostname.clone(),
                free: free.get(&agent.value).cloned().unwrap_or_default(),
                victims: Vec::new(),
            });
            room.victims.push(Victim {
                task_id: task.view.task_id.clone(),
                cpus: spec.cpus,
                mem: spec.mem,
                disk: spec.disk,
                ports: task.view.ports.iter().map(|p| u64::from(p.port)).collect(),
                running_since: task.view.running_since,
            });
        }
        rooms.into_values().collect()
    }

    /// Production tasks queued longer than `delay` with no preemption
    /// under way for them, in launch order.
    pub fn due_for_preemption(&self, delay: Duration) -> Vec<(String, TaskSpec)> {
        self.queue
            .iter()
            .filter_map(|id| self.tasks.get(id))
            .filter(|t| t.queued_at.is_some_and(|q| q.elapsed() >= delay))
            .filter(|t| t.preempting_since.is_none_or(|at| at.elapsed() >= PREEMPTION_HOLD))
            .filter_map(|t| {
                t.launch
                    .as_ref()
                    .and_then(|l| l.spec.clone())
                    .map(|s| (t.view.task_id.clone(), s))
            })
            .filter(|(_, s)| Tier::of(s.priority) == Tier::Production)
            .collect()
    }

    /// Records that `victims` on `hostname` are killed to make room for
    /// `task_id`: each victim says by whom, and the task why it waits.
    /// Returns the victims to kill, with their Mesos agents.
    pub fn preempt(&mut self, task_id: &str, hostname: &str, victims: &[String]) -> Vec<(String, Option<AgentId>)> {
        let mut kills = Vec::new();
        for id in victims {
            let Some(victim) = self.tasks.get_mut(id) else { continue };
            victim.kill_requested = true;
            victim.preempted_by = Some(task_id.to_string());
            victim.view.message = format!("preempted by {task_id} (production) on {hostname}");
            victim.view.updated_at = now_secs();
            kills.push((id.clone(), victim.agent_id.clone()));
            let view = victim.view.clone();
            self.publish(view);
        }
        if let Some(task) = self.tasks.get_mut(task_id) {
            let n = victims.len();
            task.view.message = format!(
                "waiting for preemption of {n} preemptible task{} on {hostname}",
                if n == 1 { "" } else { "s" }
            );
            task.view.updated_at = now_secs();
            task.preempting_since = Some(Instant::now());
            let view = task.view.clone();
            self.publish(view);
        }
        kills
    }
}

impl Known for TaskTable {
    fn placed(&self, app: &str) -> Option<&HashMap<String, u32>> {
        self.placed.get(app)
    }

    fn facts(&self, agent_id: &str) -> Option<&NodeFacts> {
        self.facts.get(agent_id)
    }

    fn all_facts(&self) -> Vec<&NodeFacts> {
        self.facts.values().collect()
    }
}

/// Stamps `running_since` and `healthy_since` after `view` moved from
/// state `was` at `at`: set on entering RUNNING (resp. becoming healthy
/// while RUNNING), kept while it lasts, so that repeated RUNNING updates
/// (health changes, reconciliation copies) do not move them; 0 otherwise.
fn stamp_since(view: &mut Task, was: i32, at: f64) {
    let running = view.state == TaskState::Running as i32;
    if !running {
        view.running_since = 0.0;
        view.healthy_since = 0.0;
        return;
    }
    if was != TaskState::Running as i32 || view.running_since == 0.0 {
        view.running_since = at;
    }
    if view.healthy != Some(true) {
        view.healthy_since = 0.0;
    } else if view.healthy_since == 0.0 {
        view.healthy_since = at;
    }
}

/// Ended for Sextant: the task will not run again on its own. Besides the
/// terminal states, TASK_UNKNOWN: a master that lost its state answers it
/// for tasks it forgot (it is not asked about again; should the task come
/// back with its node, its update revives it, as for LOST).
pub fn is_ended(state: i32) -> bool {
    TaskState::try_from(state).is_ok_and(|s| s.is_terminal() || s == TaskState::Unknown)
}

/// The key of an app in the queue and in `placed`: `namespace/name`.
pub fn app_key(namespace: &str, app: &str) -> String {
    format!("{namespace}/{app}")
}

/// Maps a Mesos task state onto the contract's.
pub fn from_mesos(state: MesosState) -> TaskState {
    match state {
        MesosState::TaskStaging => TaskState::Staging,
        MesosState::TaskStarting => TaskState::Starting,
        MesosState::TaskRunning => TaskState::Running,
        MesosState::TaskKilling => TaskState::Killing,
        MesosState::TaskFinished => TaskState::Finished,
        MesosState::TaskFailed => TaskState::Failed,
        MesosState::TaskKilled => TaskState::Killed,
        MesosState::TaskError => TaskState::Error,
        MesosState::TaskLost => TaskState::Lost,
        MesosState::TaskDropped => TaskState::Dropped,
        MesosState::TaskUnreachable => TaskState::Unreachable,
        MesosState::TaskGone => TaskState::Gone,
        MesosState::TaskGoneByOperator => TaskState::GoneByOperator,
        MesosState::TaskUnknown | MesosState::Unrecognized => TaskState::Unknown,
    }
}

pub fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl TaskTable {
    /// Puts a task whose ACCEPT failed back into the launch queue.
    pub fn requeue(&mut self, task_id: &str) {
        let Some(task) = self.tasks.get_mut(task_id) else {
            return;
        };
        if task.view.state != TaskState::Staging as i32 {
            return;
        }
        task.agent_id = None;
        task.view.state = TaskState::Pending as i32;
        task.view.agent_id.clear();
        task.view.hostname.clear();
        task.view.ports.clear();
        task.view.updated_at = now_secs();
        let view = task.view.clone();
        let tier = Tier::of(
            task.launch
                .as_ref()
                .and_then(|l| l.spec.as_ref())
                .map_or(0, |s| s.priority),
        );
        let app = app_key(&task.view.namespace, &task.view.app);
        self.queue.push_front(task_id, &app, tier);
        self.recount(task_id);
        self.publish(view);
    }
}

/// A task's view when the agent first learns of it from its launch: who it
/// is, in `state`, created and updated now.
fn first_view(request: &LaunchRequest, state: TaskState) -> Task {
    let now = now_secs();
    Task {
        task_id: request.task_id.clone(),
        namespace: request.namespace.clone(),
        app: request.app.clone(),
        revision: request.revision.clone(),
        state: state as i32,
        created_at: now,
        updated_at: now,
        ..Task::default()
    }
}

impl TaskTable {
    /// Takes back a task the journal says this agent launched, with its
    /// spec and what placement gave it, before Mesos reports on it: its
    /// state is STAGING until reconciliation says what became of it.
    /// Returns false (and changes nothing) if the id is known.
    pub fn restore(&mut self, launch: crate::journal::JournaledLaunch) -> bool {
        let crate::journal::JournaledLaunch {
            request,
            agent_id,
            hostname,
            ports,
        } = launch;
        if self.tasks.contains_key(&request.task_id) {
            return false;
        }
        let view = Task {
            agent_id: agent_id.clone(),
            hostname: if hostname.is_empty() {
                self.hostnames.get(&agent_id).cloned().unwrap_or_default()
            } else {
                hostname
            },
            ports,
            ..first_view(&request, TaskState::Staging)
        };
        let agent_id = (!agent_id.is_empty()).then(|| AgentId::new(agent_id));
        self.tasks.insert(
            request.task_id.clone(),
            TrackedTask {
                launch: Some(request),
                view: view.clone(),
                agent_id,
                executor_id: None,
                kill_requested: false,
                queued_at: None,
                counted_on: None,
                preempting_since: None,
                preempted_by: None,
                waiting_published_at: None,
            },
        );
        self.recount(&view.task_id);
        self.publish(view);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(id: &str, state: MesosState) -> TaskStatus {
        serde_json::from_value(serde_json::json!({
            "task_id": {"value": id},
            "state": state.as_str(),
            "agent_id": {"value": "S1"},
        }))
        .expect("a valid status")
    }

    /// A status at Unix time `at`, with health when given.
    fn status_at(id: &str, state: MesosState, at: f64, healthy: Option<bool>) -> TaskStatus {
        let mut status = status(id, state);
        status.timestamp = Some(at);
        status.healthy = healthy;
        status
    }

    fn launch(id: &str) -> LaunchRequest {
        LaunchRequest {
            task_id: id.into(),
            namespace: "default".into(),
            app: "web".into(),
            revision: "0a1b2c3d4e".into(),
            spec: None,
        }
    }

    /// The launch latency histogram as text.
    fn latency(registry: &prometheus_client::registry::Registry) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, registry).expect("encode");
        text.lines()
            .filter(|l| l.starts_with("sextant_launch_latency_seconds_count"))
            .collect()
    }

    #[test]
    fn a_launch_is_timed_to_its_first_running_only() {
        let mut registry = prometheus_client::registry::Registry::default();
        let mut table = TaskTable::new().with_metrics(AgentMetrics::register(&mut registry));
        let id = "default.web.0a1b2c3d4e.a";
        table.enqueue(launch(id));
        table.apply_status(&status(id, MesosState::TaskStaging));
        assert_eq!(latency(&registry), "sextant_launch_latency_seconds_count 0");
        table.apply_status(&status(id, MesosState::TaskRunning));
        table.apply_status(&status(id, MesosState::TaskRunning));
        assert_eq!(latency(&registry), "sextant_launch_latency_seconds_count 1", "once");
        // A task learnt from Mesos was not launched by this process.
        table.apply_status(&status("default.web.0a1b2c3d4e.b", MesosState::TaskRunning));
        assert_eq!(latency(&registry), "sextant_launch_latency_seconds_count 1");
    }

    #[test]
    fn launching_a_known_id_changes_nothing() {
        let mut table = TaskTable::new();
        assert!(table.enqueue(launch("default.web.0a1b2c3d4e.a")));
        assert!(!table.enqueue(launch("default.web.0a1b2c3d4e.a")));
        assert_eq!(table.pending().count(), 1);
    }

    /// Guards "terminal states never change": a late, redelivered RUNNING
    /// must not revive a task that ended.
    #[test]
    fn terminal_states_never_change_but_lost_may_come_back() {
        let mut table = TaskTable::new();
        let id = "default.web.0a1b2c3d4e.a";
        table.enqueue(launch(id));
        assert!(table.apply_status(&status(id, MesosState::TaskFailed)));
        assert!(!table.apply_status(&status(id, MesosState::TaskRunning)));
        assert_eq!(table.get(id).map(|t| t.view.state), Some(TaskState::Failed as i32));

        let lost = "default.web.0a1b2c3d4e.b";
        table.enqueue(launch(lost));
        table.apply_status(&status(lost, MesosState::TaskLost));
        assert!(
            table.apply_status(&status(lost, MesosState::TaskRunning)),
            "its node came back"
        );
    }

    /// Guards "tasks a forgetful master answers TASK_UNKNOWN for are gone":
    /// they are not reconciled forever, yet may come back.
    #[test]
    fn unknown_tasks_are_ended_but_may_come_back() {
        let mut table = TaskTable::new();
        let id = "default.web.0a1b2c3d4e.u";
        table.enqueue(launch(id));
        table.apply_status(&status(id, MesosState::TaskRunning));
        assert_eq!(table.live_launched().len(), 1);
        table.apply_status(&status(id, MesosState::TaskUnknown));
        assert!(table.live_launched().is_empty(), "not asked about again");
        assert!(table.request_kill(id).is_none(), "nothing to kill");
        assert!(
            table.apply_status(&status(id, MesosState::TaskRunning)),
            "its node came back"
        );
    }

    #[test]
    fn only_sextant_tasks_are_adopted_and_they_learn_their_host() {
        let mut table = TaskTable::new();
        assert!(!table.apply_status(&status("not-ours", MesosState::TaskRunning)));
        let id = "default.web.0a1b2c3d4e.c";
        assert!(table.apply_status(&status(id, MesosState::TaskRunning)));
        let adopted = &table.get(id).expect("adopted").view;
        assert_eq!((adopted.app.as_str(), adopted.revision.as_str()), ("web", "0a1b2c3d4e"));
        assert!(adopted.hostname.is_empty(), "reconciliation does not say where");
        table.note_hostname(&AgentId::new("S1"), "node-1");
        assert_eq!(table.get(id).expect("adopted").view.hostname, "node-1");
    }

    fn since(table: &TaskTable, id: &str) -> (f64, f64, Option<bool>) {
        let view = &table.get(id).expect("known").view;
        (view.running_since, view.healthy_since, view.healthy)
    }

    #[test]
    fn running_since_is_set_on_entering_running_and_kept_while_it_runs() {
        let mut table = TaskTable::new();
        let id = "default.web.0a1b2c3d4e.d";
        table.enqueue(launch(id));
        table.apply_status(&status_at(id, MesosState::TaskStarting, 100.0, None));
        assert_eq!(since(&table, id), (0.0, 0.0, None));
        table.apply_status(&status_at(id, MesosState::TaskRunning, 101.0, None));
        assert_eq!(since(&table, id).0, 101.0);
        // A reconciliation copy (or any repeated RUNNING) does not move it.
        table.apply_status(&status_at(id, MesosState::TaskRunning, 150.0, None));
        assert_eq!(since(&table, id).0, 101.0);
        table.apply_status(&status_at(id, MesosState::TaskKilling, 160.0, None));
        assert_eq!(since(&table, id).0, 0.0, "cleared on leaving RUNNING");
    }

    #[test]
    fn an_update_without_a_timestamp_is_stamped_now() {
        let mut table = TaskTable::new();
        let id = "default.web.0a1b2c3d4e.e";
        let before = now_secs();
        table.apply_status(&status(id, MesosState::TaskRunning));
        let running_since = since(&table, id).0;
        assert!(running_since >= before && running_since <= now_secs());
    }

    #[test]
    fn healthy_since_follows_health_while_running() {
        let mut table = TaskTable::new();
        let id = "default.web.0a1b2c3d4e.f";
        table.enqueue(launch(id));
        table.apply_status(&status_at(id, MesosState::TaskRunning, 100.0, None));
        assert_eq!(since(&table, id), (100.0, 0.0, None), "no health reported yet");
        table.apply_status(&status_at(id, MesosState::TaskRunning, 110.0, Some(true)));
        assert_eq!(since(&table, id), (100.0, 110.0, Some(true)));
        // Still healthy (a copy, or an update that says nothing of health).
        table.apply_status(&status_at(id, MesosState::TaskRunning, 120.0, Some(true)));
        table.apply_status(&status_at(id, MesosState::TaskRunning, 125.0, None));
        assert_eq!(since(&table, id), (100.0, 110.0, Some(true)));
        table.apply_status(&status_at(id, MesosState::TaskRunning, 130.0, Some(false)));
        assert_eq!(since(&table, id), (100.0, 0.0, Some(false)));
        table.apply_status(&status_at(id, MesosState::TaskRunning, 140.0, Some(true)));
        assert_eq!(
            since(&table, id),
            (100.0, 140.0, Some(true)),
            "healthy again: a new start"
        );
    }

    /// The controller must be able to tell a task killed for failing its
    /// health check: the last health survives the end, the stamps do not.
    #[test]
    fn leaving_running_clears_the_stamps_but_keeps_the_last_health() {
        let mut table = TaskTable::new();
        let id = "default.web.0a1b2c3d4e.g";
        table.enqueue(launch(id));
        table.apply_status(&status_at(id, MesosState::TaskRunning, 100.0, Some(true)));
        table.apply_status(&status_at(id, MesosState::TaskRunning, 110.0, Some(false)));
        table.apply_status(&status_at(id, MesosState::TaskKilled, 120.0, None));
        assert_eq!(since(&table, id), (0.0, 0.0, Some(false)));

        let healthy = "default.web.0a1b2c3d4e.h";
        table.enqueue(launch(healthy));
        table.apply_status(&status_at(healthy, MesosState::TaskRunning, 100.0, Some(true)));
        table.apply_status(&status_at(healthy, MesosState::TaskFinished, 120.0, None));
        assert_eq!(since(&table, healthy), (0.0, 0.0, Some(true)));
    }

    #[test]
    fn a_task_back_from_lost_runs_since_its_return() {
        let mut table = TaskTable::new();
        let id = "default.web.0a1b2c3d4e.i";
        table.enqueue(launch(id));
        table.apply_status(&status_at(id, MesosState::TaskRunning, 100.0, Some(true)));
        table.apply_status(&status_at(id, MesosState::TaskLost, 200.0, None));
        assert_eq!(since(&table, id), (0.0, 0.0, Some(true)));
        table.apply_status(&status_at(id, MesosState::TaskRunning, 300.0, Some(true)));
        assert_eq!(since(&table, id), (300.0, 300.0, Some(true)));
    }

    #[test]
    fn a_waiting_message_is_published_only_when_it_changes() {
        let mut table = TaskTable::new();
        let id = "default.web.0a1b2c3d4e.j";
        table.enqueue(launch(id));
        let (_, mut changes) = table.watch();
        table.note_waiting(id, "waiting for an offer: needs cpus 1");
        table.note_waiting(id, "waiting for an offer: needs cpus 1");
        assert_eq!(
            changes.try_recv().map(|t| t.message).ok().as_deref(),
            Some("waiting for an offer: needs cpus 1")
        );
        assert!(changes.try_recv().is_err(), "the same text is not published again");
        table.mark_launched(id, &AgentId::new("S1"), "node-1", Vec::new());
        let launched = changes.try_recv().expect("launched");
        assert!(launched.message.is_empty(), "no longer waiting: {:?}", launched.message);
        table.note_waiting(id, "waiting for an offer: needs cpus 1");
        assert!(changes.try_recv().is_err(), "only queued tasks wait for offers");
    }

    /// Guards what constraints count: a task counts on its node from its
    /// launch until it ends, and not while queued again.
    #[test]
    fn live_launched_tasks_count_on_their_node_until_they_end() {
        let mut table = TaskTable::new();
        let (a, b) = ("default.web.0a1b2c3d4e.a", "default.web.0a1b2c3d4e.b");
        table.enqueue(launch(a));
        table.enqueue(launch(b));
        assert!(
            Known::placed(&table, "default/web").is_none(),
            "queued tasks count nowhere"
        );
        table.mark_launched(a, &AgentId::new("S1"), "node-1", Vec::new());
        table.mark_launched(b, &AgentId::new("S1"), "node-1", Vec::new());
        assert_eq!(Known::placed(&table, "default/web").and_then(|p| p.get("S1")), Some(&2));
        table.requeue(b);
        assert_eq!(Known::placed(&table, "default/web").and_then(|p| p.get("S1")), Some(&1));
        table.apply_status(&status(a, MesosState::TaskRunning));
        assert_eq!(Known::placed(&table, "default/web").and_then(|p| p.get("S1")), Some(&1));
        table.apply_status(&status(a, MesosState::TaskFinished));
        assert!(
            Known::placed(&table, "default/web").is_none(),
            "an ended task counts nowhere"
        );
        // A task adopted from Mesos counts where Mesos says it runs.
        table.apply_status(&status("default.web.0a1b2c3d4e.c", MesosState::TaskRunning));
        assert_eq!(Known::placed(&table, "default/web").and_then(|p| p.get("S1")), Some(&1));
    }

    /// Guards "a victim says it was preempted and by which task", even
    /// once Mesos reports it killed.
    #[test]
    fn a_preempted_task_says_by_whom_to_the_end() {
        let mut table = TaskTable::new();
        let (victim, by) = ("default.batch.0a1b2c3d4e.a", "default.api.0a1b2c3d4e.b");
        table.enqueue(launch(victim));
        table.mark_launched(victim, &AgentId::new("S1"), "node-1", Vec::new());
        table.apply_status(&status(victim, MesosState::TaskRunning));
        table.enqueue(launch(by));
        let kills = table.preempt(by, "node-1", &[victim.to_string()]);
        assert_eq!(kills, vec![(victim.to_string(), Some(AgentId::new("S1")))]);
        assert_eq!(
            table.get(by).map(|t| t.view.message.as_str()),
            Some("waiting for preemption of 1 preemptible task on node-1")
        );
        table.note_waiting(
            by,
            "waiting for an offer: needs 1 cpus; the most free on any offered node is 0 cpus",
        );
        assert!(
            table
                .get(by)
                .is_some_and(|t| t.view.message.starts_with("waiting for preemption")),
            "offer rounds do not overwrite it while the victims die"
        );
        let mut killed = status(victim, MesosState::TaskKilled);
        killed.message = Some("Command terminated with signal Terminated".into());
        table.apply_status(&killed);
        assert_eq!(
            table.get(victim).map(|t| t.view.message.as_str()),
            Some("preempted by default.api.0a1b2c3d4e.b: Command terminated with signal Terminated")
        );
    }

    /// Guards the watchers against a flood: every offer round changes the
    /// figures of every waiting task's message.
    #[test]
    fn new_figures_alone_are_kept_but_not_published_every_round() {
        let mut table = TaskTable::new();
        let id = "default.web.0a1b2c3d4e.k";
        table.enqueue(launch(id));
        let (_, mut changes) = table.watch();
        let said = |free: u32| {
            format!("waiting for an offer: needs 1024 MiB mem; the most free on any offered node is {free} MiB")
        };
        table.note_waiting(id, &said(512));
        assert!(changes.try_recv().is_ok(), "the first verdict is published");
        table.note_waiting(id, &said(256));
        assert!(
            changes.try_recv().is_err(),
            "new figures alone are not published at once"
        );
        assert_eq!(
            table.get(id).map(|t| t.view.message.clone()),
            Some(said(256)),
            "but kept"
        );
        table.note_waiting(
            id,
            "waiting for an offer: needs host port 8080: taken on every offered node",
        );
        assert!(changes.try_recv().is_ok(), "a new cause is published at once");
    }
}
