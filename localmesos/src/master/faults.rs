//! Faults on demand, for tests and demos: a node partitioned from the
//! master (and healed), a node removed for good, and the master restarted
//! without its state. Each does to frameworks what the matching fault does
//! under a real Mesos 1.11 master:
//!
//! - partition: the node's offers are rescinded, each of its tasks gets a
//!   master update TASK_UNREACHABLE (PARTITION_AWARE frameworks) or
//!   TASK_LOST (others), reason REASON_AGENT_REMOVED, with
//!   `unreachable_time`, and every framework a FAILURE naming the agent.
//!   The tasks keep running (Mesos never kills them since 1.5); their
//!   executors' updates wait on the node, as an agent's status update
//!   manager keeps them, and acknowledgements and kills cannot reach it.
//! - heal: the agent re-registers: each task still running is re-reported
//!   in its real state with REASON_AGENT_REREGISTERED, then the updates
//!   that waited are delivered (reliably, as before).
//! - remove: as an operator's MARK_AGENT_GONE: TASK_GONE_BY_OPERATOR
//!   (TASK_LOST without PARTITION_AWARE), reason
//!   REASON_AGENT_REMOVED_BY_OPERATOR, the tasks' processes are killed,
//!   and the node never comes back.
//! - restart: a master that lost its registry. Every subscription ends,
//!   every framework, task and offer is forgotten, and the nodes
//!   re-register as new agents (new agent ids), their old tasks killed, as
//!   an agent refused re-registration does. Frameworks re-subscribe (their
//!   old framework ids are accepted, as by a new leader); reconciling an
//!   old task answers TASK_UNKNOWN (TASK_LOST without PARTITION_AWARE).

use mesos::types::{
    AgentId, Event, EventType, Failure, FrameworkCapabilityType, OfferId, Rescind, TaskState, TimeInfo,
};
use tokio::time::Instant;
use tracing::info;

use super::status_update;
use super::{Counters, Master, State, master_status, now_secs, push_completed, release_resources, update_event};
use crate::executor::ExecutorCommand;

/// Whether a node can talk to the master.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reach {
    Reachable,
    /// Cut off since this time (seconds since the epoch).
    Partitioned {
        since: f64,
    },
    /// Removed by the operator; never comes back.
    Gone,
}

/// Why a fault could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultError {
    #[error("no node {name:?}; the nodes are: {known}")]
    UnknownNode { name: String, known: String },
    #[error("node {0:?} is already partitioned")]
    AlreadyPartitioned(String),
    #[error("node {0:?} is not partitioned")]
    NotPartitioned(String),
    #[error("node {0:?} was removed")]
    Removed(String),
    #[error("the master is shutting down")]
    ShuttingDown,
}

/// What a fault did, for the operator's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultReport {
    pub hostname: String,
    pub agent_id: String,
    /// Tasks whose frameworks were told.
    pub tasks: usize,
}

fn failure_of_agent(agent_id: &AgentId) -> Event {
    Event {
        failure: Some(Failure {
            agent_id: Some(agent_id.clone()),
            executor_id: None,
            status: None,
        }),
        ..Event::of(EventType::Failure)
    }
}

impl State {
    /// The node named `name` (hostname or agent id).
    fn find_node(&self, name: &str) -> Result<usize, FaultError> {
        self.agents
            .iter()
            .position(|a| a.config.hostname == name || a.id.value == name)
            .ok_or_else(|| FaultError::UnknownNode {
                name: name.to_string(),
                known: self
                    .agents
                    .iter()
                    .filter(|a| a.reach != Reach::Gone)
                    .map(|a| a.config.hostname.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Removes the node's offers, telling each framework (RESCIND).
    fn rescind_offers_on(&mut self, agent: usize) {
        let ids: Vec<String> = self
            .offers
            .values()
            .filter(|o| o.agent == agent)
            .map(|o| o.id.clone())
            .collect();
        for id in ids {
            let Some(offer) = self.offers.remove(&id) else { continue };
            self.counters.offers_rescinded += 1;
            if let Some(framework) = self.frameworks.get(&offer.framework_id) {
                framework.send(&Event {
                    rescind: Some(Rescind {
                        offer_id: OfferId::new(id),
                    }),
                    ..Event::of(EventType::Rescind)
                });
            }
        }
    }

    /// Whether node `agent` is cut off (partitioned).
    pub fn partitioned(&self, agent: usize) -> bool {
        self.agents
            .get(agent)
            .is_some_and(|a| matches!(a.reach, Reach::Partitioned { .. }))
    }
}

/// The master update a partitioned node's task gets.
pub fn unreachable_status(
    task: &super::Task,
    partition_aware: bool,
    since: f64,
    message: &str,
    reason: &str,
) -> mesos::types::TaskStatus {
    let state = if partition_aware {
        TaskState::TaskUnreachable
    } else {
        TaskState::TaskLost
    };
    let mut status = master_status(&task.info.task_id, state, message, reason, Some(task.agent_id.clone()));
    status.unreachable_time = Some(TimeInfo {
        nanoseconds: (since * 1e9) as i64,
    });
    status
}

impl Master {
    /// Cuts node `name` off from the master.
    pub fn partition(&self, name: &str) -> Result<FaultReport, FaultError> {
        let mut guard = self.lock();
        let state = &mut *guard;
        let index = state.find_node(name)?;
        let agent = &mut state.agents[index];
        let hostname = agent.config.hostname.clone();
        match agent.reach {
            Reach::Partitioned { .. } => return Err(FaultError::AlreadyPartitioned(hostname)),
            Reach::Gone => return Err(FaultError::Removed(hostname)),
            Reach::Reachable => {}
        }
        let since = now_secs();
        agent.reach = Reach::Partitioned { since };
        let agent_id = agent.id.clone();
        info!(node = %hostname, agent = %agent_id, "fault: node partitioned");
        state.rescind_offers_on(index);
        let message = format!("Agent {hostname} is unreachable (partitioned by the operator)");
        let mut told = 0;
        for framework in state.frameworks.values() {
            let partition_aware = framework.has(FrameworkCapabilityType::PartitionAware);
            for task in framework.tasks.values().filter(|t| t.agent == index) {
                if task.state.is_terminal() && task.updates.is_empty() {
                    continue;
                }
                let status = unreachable_status(task, partition_aware, since, &message, "REASON_AGENT_REMOVED");
                framework.send(&update_event(status));
                told += 1;
            }
            framework.send(&failure_of_agent(&agent_id));
        }
        Ok(FaultReport {
            hostname,
            agent_id: agent_id.value,
            tasks: told,
        })
    }

    /// Lets a partitioned node reach the master again: it re-registers.
    pub fn heal(&self, name: &str) -> Result<FaultReport, FaultError> {
        let now = Instant::now();
        let mut guard = self.lock();
        let state = &mut *guard;
        let index = state.find_node(name)?;
        let agent = &mut state.agents[index];
        let hostname = agent.config.hostname.clone();
        match agent.reach {
            Reach::Partitioned { .. } => {}
            Reach::Gone => return Err(FaultError::Removed(hostname)),
            Reach::Reachable => return Err(FaultError::NotPartitioned(hostname)),
        }
        agent.reach = Reach::Reachable;
        let agent_id = agent.id.clone();
        info!(node = %hostname, agent = %agent_id, "fault healed: node re-registered");
        let retry = self.timing.update_retry_initial;
        let mut told = 0;
        let super::State {
            frameworks, retries, ..
        } = state;
        for framework in frameworks.values_mut() {
            let super::Framework { stream, tasks, .. } = framework;
            for task in tasks.values_mut().filter(|t| t.agent == index) {
                if !task.state.is_terminal() {
                    let mut status = master_status(
                        &task.info.task_id,
                        task.state,
                        "Agent re-registered",
                        "REASON_AGENT_REREGISTERED",
                        Some(task.agent_id.clone()),
                    );
                    if let Some(last) = task.statuses.iter().rev().find(|s| s.state == task.state) {
                        status.healthy = last.healthy;
                        status.container_status = last.container_status.clone();
                    }
                    if let Some(stream) = stream.as_ref() {
                        stream.send(&update_event(status));
                    }
                    told += 1;
                }
                // The updates that waited on the node go out now.
                task.updates.reset_backoff(retry);
                status_update::forward_head(stream.as_ref(), task, now, retry, retries);
            }
        }
        self.request_allocation(state);
        Ok(FaultReport {
            hostname,
            agent_id: agent_id.value,
            tasks: told,
        })
    }

    /// Removes node `name` for good, as an operator marking it gone.
    pub fn remove_node(&self, name: &str) -> Result<FaultReport, FaultError> {
        let mut guard = self.lock();
        let state = &mut *guard;
        let index = state.find_node(name)?;
        let agent = &mut state.agents[index];
        let hostname = agent.config.hostname.clone();
        if agent.reach == Reach::Gone {
            return Err(FaultError::Removed(hostname));
        }
        agent.reach = Reach::Gone;
        let agent_id = agent.id.clone();
        info!(node = %hostname, agent = %agent_id, "fault: node removed");
        state.rescind_offers_on(index);
        state.filters.retain(|f| f.agent != index);
        let State {
            frameworks,
            agents,
            counters,
            ..
        } = state;
        let mut told = 0;
        for framework in frameworks.values_mut() {
            let partition_aware = framework.has(FrameworkCapabilityType::PartitionAware);
            let gone_state = if partition_aware {
                TaskState::TaskGoneByOperator
            } else {
                TaskState::TaskLost
            };
            let ids: Vec<String> = framework
                .tasks
                .iter()
                .filter(|(_, t)| t.agent == index)
                .map(|(id, _)| id.clone())
                .collect();
            for id in ids {
                let Some(mut task) = framework.tasks.remove(&id) else {
                    continue;
                };
                if let Some(link) = &task.executor {
                    let _ = link.tx.send(ExecutorCommand::Shutdown { grace: task.kill_grace });
                }
                release_resources(agents, &mut task);
                let status = master_status(
                    &task.info.task_id,
                    gone_state,
                    format!("Agent {hostname} was removed by the operator"),
                    "REASON_AGENT_REMOVED_BY_OPERATOR",
                    Some(agent_id.clone()),
                );
                framework.send(&update_event(status.clone()));
                count_terminal(counters, gone_state);
                task.state = gone_state;
                task.statuses.push(status);
                push_completed(&mut framework.completed_tasks, task);
                told += 1;
            }
            framework.send(&failure_of_agent(&agent_id));
        }
        self.request_allocation(state);
        Ok(FaultReport {
            hostname,
            agent_id: agent_id.value,
            tasks: told,
        })
    }

    /// Restarts the master without its state (see the module doc).
    /// Returns how many tasks were lost.
    pub fn restart_losing_state(&self) -> Result<usize, FaultError> {
        let mut guard = self.lock();
        let state = &mut *guard;
        if state.shutting_down {
            return Err(FaultError::ShuttingDown);
        }
        info!("fault: master restarted without its state");
        let mut lost = 0;
        for (_, framework) in std::mem::take(&mut state.frameworks) {
            for task in framework.tasks.values() {
                if let Some(link) = &task.executor {
                    let _ = link.tx.send(ExecutorCommand::Shutdown { grace: task.kill_grace });
                }
                lost += 1;
            }
            // Dropping the framework drops its stream: the HTTP response
            // ends, as the connection to a dead master does.
        }
        state.completed_frameworks.clear();
        state.removed_ids.clear();
        state.offers.clear();
        state.filters.clear();
        state.retries.clear();
        state.counters = Counters::default();
        let registered_time = now_secs();
        for agent in state.agents.iter_mut().filter(|a| a.reach != Reach::Gone) {
            agent.id = AgentId::new(format!("{}-S{}", self.identity.id, state.next_agent));
            state.next_agent += 1;
            agent.used = crate::resources::Resources::default();
            agent.cpus_by_framework.clear();
            agent.reach = Reach::Reachable;
            agent.registered_time = registered_time;
        }
        self.request_allocation(state);
        Ok(lost)
    }
}

pub(super) fn count_terminal(counters: &mut Counters, state: TaskState) {
    *counters.terminal.entry(state.as_str()).or_default() += 1;
}
