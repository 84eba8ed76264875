//! `sextant get nodes` and `sextant get queue`: the Mesos agents with what
//! is free on each, and the launch queue with why each task waits, from
//! the controller's `/api/v1/cluster/*` (which asks the agent).

use std::time::SystemTime;

use anyhow::Result;
use sextant_api::client::Client;
use sextant_api::wire::{NodeView, QueuedTaskView, ResourcesView};

use crate::cli::{GetArgs, GetKind, GetOutput};
use crate::commands::client::table;
use crate::commands::get::short_age;
use crate::commands::print::print_objects;

/// `sextant get nodes` or `sextant get queue`, as `args` say.
pub async fn run(args: &GetArgs, client: &Client) -> Result<()> {
    let name = args.name.as_deref();
    match args.kind {
        GetKind::Queue => {
            let namespace = if args.all_namespaces {
                None
            } else {
                args.namespace.as_deref()
            };
            queue(client, namespace, name, args.output).await
        }
        _ => nodes(client, name, args.output).await,
    }
}

/// `sextant get nodes [HOSTNAME]`.
pub async fn nodes(client: &Client, name: Option<&str>, output: GetOutput) -> Result<()> {
    let list = client.nodes().await?;
    let nodes: Vec<&NodeView> = list
        .nodes
        .iter()
        .filter(|n| name.is_none_or(|want| want == n.hostname || want == n.id))
        .collect();
    if let (Some(name), true) = (name, nodes.is_empty()) {
        anyhow::bail!("node {name} not found (see `sextant get nodes`)");
    }
    match output {
        GetOutput::Json | GetOutput::Yaml => print_objects(&nodes, name.is_some(), output)?,
        GetOutput::Name => nodes.iter().for_each(|n| println!("node/{}", n.hostname)),
        GetOutput::Table => print!("{}", nodes_table(&nodes, false)),
        GetOutput::Wide => print!("{}", nodes_table(&nodes, true)),
    }
    if list.total as usize > list.nodes.len() && matches!(output, GetOutput::Table | GetOutput::Wide) {
        eprintln!("(the first {} of {} nodes)", list.nodes.len(), list.total);
    }
    Ok(())
}

/// `sextant get queue [APP] [-n NAMESPACE]`: every queued task unless a
/// namespace or an app is named.
pub async fn queue(client: &Client, namespace: Option<&str>, app: Option<&str>, output: GetOutput) -> Result<()> {
    let list = client.queue().await?;
    let tasks: Vec<&QueuedTaskView> = list
        .tasks
        .iter()
        .filter(|t| namespace.is_none_or(|ns| ns == t.namespace) && app.is_none_or(|a| a == t.app))
        .collect();
    match output {
        GetOutput::Json | GetOutput::Yaml => print_objects(&tasks, false, output)?,
        GetOutput::Name => tasks.iter().for_each(|t| println!("task/{}", t.task_id)),
        GetOutput::Table => print!("{}", queue_table(&tasks, SystemTime::now(), false)),
        GetOutput::Wide => print!("{}", queue_table(&tasks, SystemTime::now(), true)),
    }
    if matches!(output, GetOutput::Table | GetOutput::Wide) {
        if list.total == 0 {
            eprintln!("no task waits to be launched");
        } else if list.total as usize > list.tasks.len() {
            eprintln!("(the first {} of {} queued tasks)", list.tasks.len(), list.total);
        }
    }
    Ok(())
}

/// `NAME STATUS CPUS MEM DISK PORTS TASKS`, each amount `free/total`;
/// wide adds the node's id, address and attributes.
fn nodes_table(nodes: &[&NodeView], wide: bool) -> String {
    let mut header: Vec<String> = ["NAME", "STATUS", "CPUS", "MEM", "DISK", "PORTS", "TASKS"]
        .map(String::from)
        .to_vec();
    if wide {
        header.extend(["ID", "ADDRESS", "ATTRIBUTES"].map(String::from));
    }
    let mut rows = vec![header];
    for node in nodes {
        let (free, total) = (&node.free, &node.total);
        let mut row = vec![
            node.hostname.clone(),
            node.status.word().to_string(),
            format!("{}/{}", number(free.cpus), number(total.cpus)),
            format!("{}/{}", mib(free.mem), mib(total.mem)),
            format!("{}/{}", mib(free.disk), mib(total.disk)),
            ports(free, total),
            node.tasks.to_string(),
        ];
        if wide {
            let attributes: Vec<String> = node.attributes.iter().map(|(k, v)| format!("{k}={v}")).collect();
            row.push(node.id.clone());
            row.push(dash(&node.address));
            row.push(dash(&attributes.join(",")));
        }
        rows.push(row);
    }
    table(&rows, "")
}

/// `TASK APP PRIORITY WAITING CPUS MEM WHY`; wide adds the disk and
/// ports asked for, before the why.
pub fn queue_table(tasks: &[&QueuedTaskView], now: SystemTime, wide: bool) -> String {
    let mut header: Vec<String> = ["TASK", "APP", "PRIORITY", "WAITING", "CPUS", "MEM"]
        .map(String::from)
        .to_vec();
    if wide {
        header.extend(["DISK", "PORTS"].map(String::from));
    }
    header.push("WHY".into());
    let mut rows = vec![header];
    for task in tasks {
        let waiting = task
            .queued_at
            .as_deref()
            .and_then(|t| humantime::parse_rfc3339_weak(t).ok())
            .and_then(|at| now.duration_since(at).ok())
            .map(short_age)
            .unwrap_or_else(|| "-".to_string());
        let mut row = vec![
            task.task_id.clone(),
            format!("{}/{}", task.namespace, task.app),
            task.priority.clone().unwrap_or_else(|| "-".into()),
            waiting,
            number(task.cpus),
            mib(task.mem),
        ];
        if wide {
            let mut asked: Vec<String> = task.host_ports.iter().map(u32::to_string).collect();
            if task.ports > 0 {
                asked.insert(0, format!("{} any", task.ports));
            }
            row.push(mib(task.disk));
            row.push(dash(&asked.join(",")));
        }
        row.push(dash(&task.message));
        rows.push(row);
    }
    table(&rows, "")
}

/// Free ports of all: `995/1001`.
fn ports(free: &ResourcesView, total: &ResourcesView) -> String {
    format!("{}/{}", free.port_count(), total.port_count())
}

/// A scalar as Mesos keeps it (three decimals), without trailing zeros.
pub fn number(value: f64) -> String {
    let rounded = (value * 1000.0).round() / 1000.0;
    rounded.to_string()
}

/// MiB, as `512Mi` or, from 1 GiB, `3.9Gi`.
pub fn mib(value: f64) -> String {
    if value >= 1024.0 {
        let gib = (value / 1024.0 * 10.0).round() / 10.0;
        format!("{gib}Gi")
    } else {
        format!("{}Mi", number(value))
    }
}

fn dash(text: &str) -> String {
    if text.is_empty() { "-".into() } else { text.to_string() }
}

#[cfg(test)]
mod tests {
    use sextant_api::wire::{NodeStatus, PortRange};

    use super::*;

    fn resources(cpus: f64, mem: f64, ports: (u32, u32)) -> ResourcesView {
        ResourcesView {
            cpus,
            mem,
            disk: 10240.0,
            gpus: 0.0,
            ports: vec![PortRange {
                begin: ports.0,
                end: ports.1,
            }],
        }
    }

    #[test]
    fn the_nodes_table_shows_free_of_total() {
        let node = NodeView {
            id: "S0".into(),
            hostname: "node-1".into(),
            status: NodeStatus::Draining,
            total: resources(4.0, 4096.0, (31000, 32000)),
            free: resources(3.7, 3968.0, (31002, 32000)),
            attributes: [("rack".to_string(), "r1".to_string())].into(),
            tasks: 3,
            ..NodeView::default()
        };
        let out = nodes_table(&[&node], false);
        let lines: Vec<Vec<&str>> = out.lines().map(|l| l.split_whitespace().collect()).collect();
        assert_eq!(lines[0], ["NAME", "STATUS", "CPUS", "MEM", "DISK", "PORTS", "TASKS"]);
        assert_eq!(
            lines[1],
            ["node-1", "Draining", "3.7/4", "3.9Gi/4Gi", "10Gi/10Gi", "999/1001", "3"]
        );
        let wide = nodes_table(&[&node], true);
        assert!(
            wide.lines()
                .nth(1)
                .is_some_and(|l| l.ends_with("S0   -         rack=r1")),
            "{wide}"
        );
    }

    #[test]
    fn the_queue_table_says_how_long_and_why() {
        let task = QueuedTaskView {
            task_id: "default.web.0a1b.x".into(),
            namespace: "default".into(),
            app: "web".into(),
            cpus: 0.25,
            mem: 128.0,
            ports: 1,
            host_ports: vec![8080],
            queued_at: Some("2026-11-25T09:00:00Z".into()),
            message: "waiting for an offer: needs 0.25 cpus; the most free on any offered node is 0.1 cpus".into(),
            ..QueuedTaskView::default()
        };
        let now = humantime::parse_rfc3339("2026-11-25T09:03:00Z").expect("a time");
        let out = queue_table(&[&task], now, false);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0].split_whitespace().collect::<Vec<_>>(),
            ["TASK", "APP", "PRIORITY", "WAITING", "CPUS", "MEM", "WHY"]
        );
        assert!(
            lines[1].starts_with("default.web.0a1b.x   default/web   -          3m        0.25   128Mi   waiting for"),
            "{out}"
        );
        let wide = queue_table(&[&task], now, true);
        assert!(wide.contains("1 any,8080"), "{wide}");
    }
}
