//! `sextant cluster-info`: the cluster at a glance, from the controller's
//! `GET /api/v1/cluster` (one call to the agent): the framework's link to
//! Mesos, the nodes with what is free in all, and the tasks that wait with
//! why. The first thing to run when nothing starts.

use std::fmt::Write;
use std::time::SystemTime;

use anyhow::Result;
use sextant_api::client::Client;
use sextant_api::wire::{ClusterView, NodeStatus, QueuedTaskView};

use crate::cli::{ClusterInfoArgs, InfoOutput};
use crate::commands::cluster::{mib, number, queue_table};
use crate::commands::get::short_age;

/// Waiting tasks listed in the text output; `get queue` lists them all.
const QUEUE_SHOWN: usize = 10;

pub async fn run(args: ClusterInfoArgs, client: &Client) -> Result<()> {
    let view = client.cluster().await?;
    match args.output {
        InfoOutput::Json => outln!("{}", serde_json::to_string_pretty(&view)?),
        InfoOutput::Yaml => out!("{}", serde_yaml::to_string(&view)?),
        InfoOutput::Text => out!("{}", text(&view, SystemTime::now())),
    }
    Ok(())
}

/// The text output, as printed at `now`.
pub fn text(view: &ClusterView, now: SystemTime) -> String {
    let mut out = String::new();
    let field = |out: &mut String, name: &str, value: &str| {
        let _ = writeln!(out, "{:<11}{value}", format!("{name}:"));
    };
    let f = &view.framework;
    let age = |at: &Option<String>| {
        at.as_deref()
            .and_then(|t| humantime::parse_rfc3339_weak(t).ok())
            .and_then(|at| now.duration_since(at).ok())
            .map(short_age)
    };
    field(&mut out, "Master", &f.master);
    field(
        &mut out,
        "Framework",
        f.framework_id.as_deref().unwrap_or("<none yet: never subscribed>"),
    );
    let since = age(&f.since).map(|a| format!(" for {a}")).unwrap_or_default();
    let link = if f.connected {
        format!("subscribed{since}")
    } else {
        let why = f.message.as_deref().unwrap_or("no reason given");
        format!("NOT subscribed{since}: {why}")
    };
    field(&mut out, "Link", &link);

    match (&view.nodes, &view.nodes_error) {
        (Some(nodes), _) => {
            let ready = nodes.nodes.iter().filter(|n| n.status == NodeStatus::Ready).count();
            let sum = |pick: fn(&sextant_api::wire::NodeView) -> (f64, f64)| {
                nodes
                    .nodes
                    .iter()
                    .map(pick)
                    .fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y))
            };
            let (free_cpus, cpus) = sum(|n| (n.free.cpus, n.total.cpus));
            let (free_mem, mem) = sum(|n| (n.free.mem, n.total.mem));
            field(
                &mut out,
                "Nodes",
                &format!(
                    "{} ({ready} ready); free {} of {} cpus, {} of {} mem",
                    nodes.total,
                    number(free_cpus),
                    number(cpus),
                    mib(free_mem),
                    mib(mem)
                ),
            );
        }
        (None, Some(error)) => field(&mut out, "Nodes", &format!("unknown: {error}")),
        (None, None) => field(&mut out, "Nodes", "unknown"),
    }

    let queue = &view.queue;
    if queue.total == 0 {
        field(&mut out, "Waiting", "no task waits");
    } else {
        field(
            &mut out,
            "Waiting",
            &format!("{} tasks (see `sextant get queue`)", queue.total),
        );
        let shown: Vec<&QueuedTaskView> = queue.tasks.iter().take(QUEUE_SHOWN).collect();
        out.push('\n');
        out.push_str(&queue_table(&shown, now, false));
        if (queue.total as usize) > shown.len() {
            let _ = writeln!(out, "(the first {} of {})", shown.len(), queue.total);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use sextant_api::wire::{FrameworkLink, NodeList, NodeView, QueueList, ResourcesView};

    use super::*;

    fn node(free_cpus: f64, cpus: f64, status: NodeStatus) -> NodeView {
        NodeView {
            status,
            total: ResourcesView {
                cpus,
                mem: 4096.0,
                ..Default::default()
            },
            free: ResourcesView {
                cpus: free_cpus,
                mem: 1024.0,
                ..Default::default()
            },
            ..Default::default()
        }
    }

    /// Guards "why does nothing start?": a lost link says so with its
    /// cause, and the nodes' failure is said in place of the nodes.
    #[test]
    fn a_lost_link_and_unknown_nodes_are_said_in_words() {
        let view = ClusterView {
            framework: FrameworkLink {
                framework_id: Some("F-1".into()),
                master: "http://m:5050".into(),
                connected: false,
                since: Some("2026-12-01T10:00:00Z".into()),
                message: Some("connection refused by http://m:5050".into()),
            },
            nodes: None,
            nodes_error: Some("the master http://m:5050 cannot be reached".into()),
            queue: QueueList::default(),
        };
        let now = UNIX_EPOCH + Duration::from_secs(1_796_119_260); // 10:01:00
        let text = text(&view, now);
        assert!(
            text.contains("Link:      NOT subscribed for 60s: connection refused by http://m:5050"),
            "{text}"
        );
        assert!(text.contains("Framework: F-1"), "{text}");
        assert!(
            text.contains("Nodes:     unknown: the master http://m:5050 cannot be reached"),
            "{text}"
        );
        assert!(text.contains("Waiting:   no task waits"), "{text}");
    }

    /// Guards the sums: free and total over every node, ready ones counted.
    #[test]
    fn nodes_are_summed_and_waiting_tasks_listed_with_why() {
        let view = ClusterView {
            framework: FrameworkLink {
                connected: true,
                ..Default::default()
            },
            nodes: Some(NodeList {
                nodes: vec![node(1.5, 4.0, NodeStatus::Ready), node(0.5, 4.0, NodeStatus::Draining)],
                total: 2,
                master: String::new(),
            }),
            nodes_error: None,
            queue: QueueList {
                tasks: vec![QueuedTaskView {
                    task_id: "default.big.0a1b.0001".into(),
                    namespace: "default".into(),
                    app: "big".into(),
                    cpus: 8.0,
                    message: "needs 8 cpus; the most free on any node is 1.5".into(),
                    ..Default::default()
                }],
                total: 1,
            },
        };
        let text = text(&view, SystemTime::now());
        assert!(text.contains("Framework: <none yet: never subscribed>"), "{text}");
        assert!(text.contains("Link:      subscribed"), "{text}");
        assert!(
            text.contains("Nodes:     2 (1 ready); free 2 of 8 cpus, 2Gi of 8Gi mem"),
            "{text}"
        );
        assert!(text.contains("Waiting:   1 tasks"), "{text}");
        assert!(
            text.contains("needs 8 cpus; the most free on any node is 1.5"),
            "{text}"
        );
    }
}
