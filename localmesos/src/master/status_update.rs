//! The status update manager: reliable delivery of executor updates.
//!
//! Per task, updates queue up and only the head is forwarded to the
//! scheduler; an ACKNOWLEDGE carrying the head's uuid releases the next one.
//! An unacknowledged head is resent after `update_retry_initial`, then with
//! a doubling backoff capped at 10 minutes; nothing is sent while the
//! framework is disconnected, and every head is resent on re-subscription.
//!
//! Resend times are kept in one queue ordered by due time
//! (`RetryTimers`), so the driver wakes when the first is due and touches
//! only the tasks that are due, never every task.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use mesos::types::{
    ContainerId, ContainerStatus, ExecutorId, IpAddress, NetworkInfo, TaskState, TaskStatus, TaskStatusSource,
};
use tokio::time::Instant;

use super::{MAX_RETRY_BACKOFF, Stream, Task, now_secs, update_event};
use crate::executor::{ExecutorEvent, signal_description};

/// Pending updates of one task.
#[derive(Debug)]
pub struct UpdateQueue {
    pending: VecDeque<TaskStatus>,
    retry_at: Option<Instant>,
    backoff: Duration,
}

impl UpdateQueue {
    pub fn new(initial: Duration) -> Self {
        Self {
            pending: VecDeque::new(),
            retry_at: None,
            backoff: initial,
        }
    }

    /// Whether every update was acknowledged.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    pub fn reset_backoff(&mut self, initial: Duration) {
        self.backoff = initial;
    }
}

/// When each task's head is due to be resent, earliest first: (due time,
/// framework id, task id). An entry whose task has since been
/// acknowledged, re-armed or removed is skipped when it comes up (the
/// task's own `retry_at` is the truth).
#[derive(Debug, Default)]
pub struct RetryTimers {
    due: BinaryHeap<Reverse<(Instant, String, String)>>,
}

impl RetryTimers {
    fn arm(&mut self, task: &Task, at: Instant) {
        self.due.push(Reverse((
            at,
            task.framework_id.value.clone(),
            task.info.task_id.value.clone(),
        )));
    }

    /// When the first resend is due.
    pub fn next(&self) -> Option<Instant> {
        self.due.peek().map(|Reverse((at, _, _))| *at)
    }

    /// Takes the first entry due at `now`: (due time, framework, task).
    pub fn pop_due(&mut self, now: Instant) -> Option<(Instant, String, String)> {
        if self.next()? > now {
            return None;
        }
        self.due.pop().map(|Reverse(entry)| entry)
    }

    /// Forgets every entry (the master forgot every task).
    pub fn clear(&mut self) {
        self.due.clear();
    }
}

/// Adds an update for `task`; forwards it at once if the queue was empty.
pub fn enqueue(
    stream: Option<&Stream>,
    task: &mut Task,
    status: TaskStatus,
    now: Instant,
    initial: Duration,
    timers: &mut RetryTimers,
) {
    task.state = status.state;
    task.statuses.push(status.clone());
    task.updates.pending.push_back(status);
    if task.updates.pending.len() == 1 {
        task.updates.backoff = initial;
        forward_head(stream, task, now, initial, timers);
    }
}

/// Forwards the head (if any) and arms its retry timer.
pub fn forward_head(
    stream: Option<&Stream>,
    task: &mut Task,
    now: Instant,
    initial: Duration,
    timers: &mut RetryTimers,
) {
    let Some(head) = task.updates.pending.front() else {
        task.updates.retry_at = None;
        return;
    };
    task.status_update_state = Some(head.state);
    if let Some(stream) = stream {
        stream.send(&update_event(head.clone()));
    }
    task.updates.backoff = task.updates.backoff.max(initial);
    let at = now + task.updates.backoff;
    task.updates.retry_at = Some(at);
    timers.arm(task, at);
}

/// Resends the head if `due` is still its retry time and the framework is
/// connected (a disconnected framework gets every head again when it
/// re-subscribes).
pub fn retry_if_due(stream: Option<&Stream>, task: &mut Task, due: Instant, now: Instant, timers: &mut RetryTimers) {
    let Some(stream) = stream else { return };
    if task.updates.retry_at != Some(due) || now < due {
        return;
    }
    let Some(head) = task.updates.pending.front() else {
        task.updates.retry_at = None;
        return;
    };
    tracing::debug!(task = %head.task_id, state = head.state.as_str(), "resending unacknowledged status update");
    stream.send(&update_event(head.clone()));
    task.updates.backoff = (task.updates.backoff * 2).min(MAX_RETRY_BACKOFF);
    let at = now + task.updates.backoff;
    task.updates.retry_at = Some(at);
    timers.arm(task, at);
}

/// What an ACKNOWLEDGE did.
#[derive(Debug, PartialEq, Eq)]
pub enum Acked {
    /// No pending update has this uuid: ignored, as an agent ignores it.
    Ignored,
    /// The head was released; `terminal` if it was the task's last.
    Released { terminal: bool },
}

/// Applies an acknowledgement (`uuid` already decoded to 16 bytes).
pub fn acknowledge(
    stream: Option<&Stream>,
    task: &mut Task,
    uuid: &[u8],
    now: Instant,
    initial: Duration,
    timers: &mut RetryTimers,
) -> Acked {
    let matches = task
        .updates
        .pending
        .front()
        .and_then(|head| head.uuid.as_deref())
        .and_then(|text| BASE64.decode(text).ok())
        .is_some_and(|bytes| bytes == uuid);
    if !matches {
        return Acked::Ignored;
    }
    let Some(head) = task.updates.pending.pop_front() else {
        return Acked::Ignored;
    };
    task.updates.backoff = initial;
    task.updates.retry_at = None;
    if task.updates.pending.is_empty() {
        return Acked::Released {
            terminal: head.state.is_terminal(),
        };
    }
    forward_head(stream, task, now, initial, timers);
    Acked::Released { terminal: false }
}

/// A fresh update uuid: 16 random bytes, base64.
pub fn new_uuid() -> String {
    BASE64.encode(uuid::Uuid::new_v4().as_bytes())
}

/// An update as the command executor (or, for `source` AGENT, the agent)
/// sends it: reliable, so it carries a uuid.
pub fn executor_status(task: &Task, state: TaskState, source: TaskStatusSource) -> TaskStatus {
    TaskStatus {
        task_id: task.info.task_id.clone(),
        state,
        message: None,
        source: Some(source),
        reason: None,
        data: None,
        agent_id: Some(task.agent_id.clone()),
        executor_id: Some(ExecutorId::new(task.info.task_id.value.clone())),
        timestamp: Some(now_secs()),
        uuid: Some(new_uuid()),
        healthy: None,
        labels: None,
        container_status: None,
        unreachable_time: None,
    }
}

fn container_status(container_id: &str, pid: Option<u32>) -> ContainerStatus {
    ContainerStatus {
        container_id: Some(ContainerId::new(container_id)),
        network_infos: vec![NetworkInfo {
            ip_addresses: vec![IpAddress {
                protocol: Some("IPv4".to_string()),
                ip_address: Some("127.0.0.1".to_string()),
            }],
        }],
        executor_pid: pid,
    }
}

/// The updates an executor event produces, in order.
pub fn statuses_for(task: &Task, container_id: &str, event: &ExecutorEvent, killing_state: bool) -> Vec<TaskStatus> {
    let running = |state| {
        let mut status = executor_status(task, state, TaskStatusSource::SourceExecutor);
        status.container_status = Some(container_status(container_id, task.pid));
        status
    };
    match event {
        ExecutorEvent::Started { pid } => {
            let mut starting = executor_status(task, TaskState::TaskStarting, TaskStatusSource::SourceExecutor);
            starting.container_status = Some(container_status(container_id, *pid));
            let mut running = executor_status(task, TaskState::TaskRunning, TaskStatusSource::SourceExecutor);
            running.container_status = Some(container_status(container_id, *pid));
            vec![starting, running]
        }
        ExecutorEvent::Killing if killing_state => vec![running(TaskState::TaskKilling)],
        ExecutorEvent::Killing => Vec::new(),
        ExecutorEvent::Health { healthy, message } => {
            // The last status again, with the health result.
            let mut status = running(TaskState::TaskRunning);
            status.healthy = Some(*healthy);
            status.reason = Some("REASON_TASK_HEALTH_CHECK_STATUS_UPDATED".to_string());
            status.message = message.clone();
            vec![status]
        }
        ExecutorEvent::Exited {
            code,
            signal,
            killed,
            unhealthy,
        } => {
            let state = if *killed {
                TaskState::TaskKilled
            } else if *code == Some(0) {
                TaskState::TaskFinished
            } else {
                TaskState::TaskFailed
            };
            let mut status = running(state);
            status.message = Some(match (code, signal) {
                (Some(code), _) => format!("Command exited with status {code}"),
                (None, Some(signal)) => format!("Command terminated with signal {}", signal_description(*signal)),
                (None, None) => "Command terminated".to_string(),
            });
            if *unhealthy {
                status.healthy = Some(false);
            }
            vec![status]
        }
        ExecutorEvent::Failed {
            message,
            reason,
            source,
        } => {
            let mut status = executor_status(task, TaskState::TaskFailed, *source);
            status.message = Some(message.clone());
            status.reason = Some(reason.to_string());
            vec![status]
        }
        ExecutorEvent::KilledBeforeStart => {
            // What an agent says of a task killed before its executor ran.
            let mut status = executor_status(task, TaskState::TaskKilled, TaskStatusSource::SourceAgent);
            status.message = Some("Killed before delivery to the executor".to_string());
            status.reason = Some("REASON_TASK_KILLED_DURING_LAUNCH".to_string());
            vec![status]
        }
    }
}
