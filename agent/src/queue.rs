//! The launch queue as `ListQueue` shows it: queued tasks in the order the
//! agent launches them (`launch_queue`: production first, fair across
//! apps; a task whose ACCEPT failed back at the front), each with its
//! priority, what it asks for, since when it waits, and why, in words: the
//! last offer round's verdict (`placement`) or preemption under way, or,
//! before any, what the agent waits for.

use sextant_proto::contract::MAX_LIST_QUEUE;
use sextant_proto::proto::{ListQueueResponse, QueuedTask};

use crate::launch_queue::Tier;
use crate::link::MesosLink;
use crate::tasks::{TaskTable, TrackedTask};

/// The first `MAX_LIST_QUEUE` queued tasks in launch order, and how many
/// are queued.
pub fn list(table: &TaskTable, link: &MesosLink) -> ListQueueResponse {
    let (queued, total) = table.queued();
    ListQueueResponse {
        tasks: queued.take(MAX_LIST_QUEUE).map(|t| entry(t, link)).collect(),
        total: u32::try_from(total).unwrap_or(u32::MAX),
    }
}

fn entry(task: &TrackedTask, link: &MesosLink) -> QueuedTask {
    let spec = task.launch.as_ref().and_then(|l| l.spec.clone()).unwrap_or_default();
    let view = &task.view;
    QueuedTask {
        task_id: view.task_id.clone(),
        namespace: view.namespace.clone(),
        app: view.app.clone(),
        revision: view.revision.clone(),
        priority: Tier::of(spec.priority).as_str().to_string(),
        cpus: spec.cpus,
        mem: spec.mem,
        disk: spec.disk,
        ports: u32::try_from(spec.ports.iter().filter(|p| p.host_port == 0).count()).unwrap_or(u32::MAX),
        host_ports: spec.ports.iter().map(|p| p.host_port).filter(|&p| p != 0).collect(),
        queued_at: view.created_at,
        message: why(task, link),
    }
}

/// Why the task still waits: the last offer round's words; while the
/// agent is not subscribed, that first.
fn why(task: &TrackedTask, link: &MesosLink) -> String {
    let last = &task.view.message;
    if !link.connected {
        let cause = if link.message.is_empty() {
            "not subscribed".to_string()
        } else {
            link.message.clone()
        };
        let earlier = if last.is_empty() {
            String::new()
        } else {
            format!(" (before: {last})")
        };
        return format!("waiting for the agent to subscribe to Mesos: {cause}{earlier}");
    }
    if last.is_empty() {
        return "waiting for an offer: none has come since it was queued".to_string();
    }
    last.clone()
}

#[cfg(test)]
mod tests {
    use mesos::types::AgentId;
    use sextant_proto::proto::{LaunchRequest, PortSpec, TaskSpec};

    use super::*;

    fn launch(id: &str) -> LaunchRequest {
        LaunchRequest {
            task_id: id.into(),
            namespace: "shop".into(),
            app: "web".into(),
            revision: "0a1b2c3d4e".into(),
            spec: Some(TaskSpec {
                command: "sleep 100".into(),
                cpus: 0.25,
                mem: 128.0,
                ports: vec![
                    PortSpec {
                        name: "http".into(),
                        ..PortSpec::default()
                    },
                    PortSpec {
                        name: "admin".into(),
                        host_port: 9000,
                        ..PortSpec::default()
                    },
                ],
                ..TaskSpec::default()
            }),
        }
    }

    fn connected() -> MesosLink {
        MesosLink {
            connected: true,
            message: String::new(),
            ..MesosLink::new("http://m:5050")
        }
    }

    #[test]
    fn the_queue_is_listed_in_launch_order_with_what_each_asks_for() {
        let mut table = TaskTable::new();
        for id in [
            "shop.web.0a1b2c3d4e.a",
            "shop.web.0a1b2c3d4e.b",
            "shop.web.0a1b2c3d4e.c",
        ] {
            table.enqueue(launch(id));
        }
        table.mark_launched("shop.web.0a1b2c3d4e.a", &AgentId::new("S1"), "node-1", Vec::new());
        table.note_waiting(
            "shop.web.0a1b2c3d4e.c",
            "waiting for an offer: needs …; no offer fitted: short of cpus",
        );
        let listed = list(&table, &connected());
        assert_eq!(listed.total, 2, "a launched task is no longer queued");
        let ids: Vec<&str> = listed.tasks.iter().map(|t| t.task_id.as_str()).collect();
        assert_eq!(ids, ["shop.web.0a1b2c3d4e.b", "shop.web.0a1b2c3d4e.c"]);
        let b = &listed.tasks[0];
        assert_eq!((b.namespace.as_str(), b.app.as_str()), ("shop", "web"));
        assert_eq!(
            (b.cpus, b.mem, b.disk, b.ports, b.host_ports.as_slice()),
            (0.25, 128.0, 0.0, 1, &[9000][..])
        );
        assert!(b.queued_at > 0.0);
        assert_eq!(b.priority, "production", "unspecified is production");
        assert_eq!(b.message, "waiting for an offer: none has come since it was queued");
        assert!(listed.tasks[1].message.ends_with("short of cpus"));
        // A task whose ACCEPT failed is launched first.
        table.requeue("shop.web.0a1b2c3d4e.a");
        assert_eq!(list(&table, &connected()).tasks[0].task_id, "shop.web.0a1b2c3d4e.a");
    }

    #[test]
    fn without_mesos_the_queue_says_so_first() {
        let mut table = TaskTable::new();
        table.enqueue(launch("shop.web.0a1b2c3d4e.a"));
        table.note_waiting("shop.web.0a1b2c3d4e.a", "waiting for an offer: short of mem");
        let link = MesosLink {
            message: "cannot reach the Mesos master at http://m:5050: connection refused".into(),
            ..MesosLink::new("http://m:5050")
        };
        assert_eq!(
            list(&table, &link).tasks[0].message,
            "waiting for the agent to subscribe to Mesos: cannot reach the Mesos master at http://m:5050: \
             connection refused (before: waiting for an offer: short of mem)"
        );
    }

    #[test]
    fn the_answer_is_bounded_and_counts_every_queued_task() {
        let mut table = TaskTable::new();
        for i in 0..MAX_LIST_QUEUE + 5 {
            table.enqueue(launch(&format!("shop.web.0a1b2c3d4e.{i:06}")));
        }
        let listed = list(&table, &connected());
        assert_eq!(listed.tasks.len(), MAX_LIST_QUEUE);
        assert_eq!(listed.total as usize, MAX_LIST_QUEUE + 5);
    }
}
