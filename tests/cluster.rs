//! `sextant get nodes` and `sextant get queue` (and their API routes)
//! under `sextant up`, on a node too small for all of an app's tasks: the
//! node's used and free resources are what runs on it, and the task that
//! does not fit waits in the queue with a reason naming what it lacks;
//! `sextant cluster-info` (`GET /api/v1/cluster`) says all that and the
//! framework's link to Mesos in one answer.

mod common;

use common::{Up, get_json};
use serde_json::Value;

fn sextant(up: &Up, args: &[&str]) -> (i32, String, String) {
    up.cli(args)
}

/// Three tasks of 0.15 cpus: two fit on 0.4 cpus, the third does not.
const FILL: &str = "apiVersion: sextant.dev/v1alpha1
kind: App
metadata:
  name: fill
spec:
  instances: 3
  command: \"exec sleep 3600\"
  resources: {cpus: 0.15, mem: 16}
  ports: [{name: http}]
  killGracePeriodSeconds: 1
";

fn number(value: &Value) -> f64 {
    value.as_f64().unwrap_or(f64::NAN)
}

/// Guards "what capacity is left?" and "why is my task not running?":
/// the figures come from the Mesos master through the agent, and agree
/// with what runs.
#[test]
fn nodes_show_what_runs_and_the_queue_what_does_not_fit() {
    let up = Up::start_with(&["--node-cpus", "0.4", "--node-mem", "1024"]);
    up.write_manifest("fill.yaml", FILL);

    let queue_url = format!("{}/api/v1/cluster/queue", up.api);
    let mut queue = Value::Null;
    up.wait_for("two tasks running and the third queued with why", || {
        queue = get_json(&queue_url).unwrap_or(Value::Null);
        up.running_in_mesos("fill").len() == 2
            && queue["total"] == 1
            && queue["tasks"][0]["message"]
                .as_str()
                .is_some_and(|m| m.contains("the most free"))
    });
    let waiting = &queue["tasks"][0];
    let message = waiting["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("waiting for an offer: needs 0.15 cpus; the most free on any offered node is "),
        "the reason names the resource, what it needs and what is free: {message}"
    );
    assert_eq!(
        (waiting["app"].as_str(), waiting["namespace"].as_str()),
        (Some("fill"), Some("default"))
    );
    assert_eq!(
        (
            number(&waiting["cpus"]),
            number(&waiting["mem"]),
            waiting["ports"].as_u64()
        ),
        (0.15, 16.0, Some(1))
    );
    assert!(waiting["queuedAt"].is_string(), "{waiting}");
    let waiting_id = waiting["taskId"].as_str().unwrap_or_default().to_string();
    assert!(!up.running_in_mesos("fill").contains(&waiting_id));

    let nodes = get_json(&format!("{}/api/v1/cluster/nodes", up.api)).expect("GET /api/v1/cluster/nodes");
    assert_eq!(nodes["total"], 1, "{nodes}");
    assert_eq!(nodes["master"].as_str(), Some(up.mesos.as_str()));
    let node = &nodes["nodes"][0];
    assert_eq!(
        (node["hostname"].as_str(), node["status"].as_str()),
        (Some("localhost"), Some("Ready"))
    );
    assert_eq!(node["tasks"], 2, "Sextant's live tasks on it");
    assert_eq!(
        (number(&node["total"]["cpus"]), number(&node["total"]["mem"])),
        (0.4, 1024.0)
    );
    assert_eq!(
        (number(&node["used"]["cpus"]), number(&node["used"]["mem"])),
        (2.0 * 0.15, 2.0 * 16.0),
        "used = the running tasks' resources: {node}"
    );
    assert_eq!(
        (number(&node["free"]["cpus"]), number(&node["free"]["mem"])),
        (0.1, 992.0)
    );
    let port_count = |r: &Value| -> u64 {
        r["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| p["end"].as_u64().unwrap_or(0) + 1 - p["begin"].as_u64().unwrap_or(1))
            .sum()
    };
    assert_eq!(port_count(&node["used"]), 2, "one port per running task");
    assert_eq!(port_count(&node["free"]), port_count(&node["total"]) - 2);

    // The CLI shows the same.
    let (code, out, err) = sextant(&up, &["get", "nodes"]);
    assert_eq!(code, 0, "{err}");
    let rows: Vec<Vec<&str>> = out.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(
        rows[0],
        ["NAME", "STATUS", "CPUS", "MEM", "DISK", "PORTS", "TASKS"],
        "{out}"
    );
    assert_eq!(rows[1][..4], ["localhost", "Ready", "0.1/0.4", "992Mi/1Gi"], "{out}");
    assert_eq!(rows[1][5], "198/200", "{out}");
    assert_eq!(rows[1][6], "2", "{out}");
    let (code, out, _) = sextant(&up, &["get", "nodes", "-o", "name"]);
    assert_eq!((code, out.trim()), (0, "node/localhost"));

    let (code, out, err) = sextant(&up, &["get", "queue"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["TASK", "APP", "PRIORITY", "WAITING", "CPUS", "MEM", "WHY"],
        "{out}"
    );
    assert_eq!(lines.len(), 2, "one queued task: {out}");
    assert!(lines[1].starts_with(&waiting_id), "{out}");
    assert!(
        lines[1].contains("default/fill") && lines[1].contains("needs 0.15 cpus; the most free"),
        "{out}"
    );
    // The app's STATUS says why it is not all there.
    up.wait_for("get apps to say the app waits for cpus", || {
        let (_, out, _) = sextant(&up, &["get", "apps", "fill"]);
        out.lines()
            .nth(1)
            .is_some_and(|l| l.contains("Pending: needs 0.15 cpus"))
    });
    let (code, out, err) = sextant(&up, &["get", "queue", "-o", "json"]);
    assert_eq!(code, 0, "{err}");
    let listed: Value = serde_json::from_str(&out).expect("a JSON list");
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{out}");
    assert_eq!(listed[0]["taskId"].as_str(), Some(waiting_id.as_str()));
    let (_, out, _) = sextant(&up, &["get", "queue", "other-app"]);
    assert_eq!(
        out.lines().count(),
        1,
        "only the header for an app with nothing queued: {out}"
    );

    // The cluster in one answer: the framework's link, the nodes, the queue.
    let cluster = get_json(&format!("{}/api/v1/cluster", up.api)).expect("GET /api/v1/cluster");
    let framework = &cluster["framework"];
    assert_eq!(framework["connected"], true, "{cluster}");
    assert_eq!(framework["master"].as_str(), Some(up.mesos.as_str()));
    let framework_id = framework["frameworkId"].as_str().unwrap_or_default().to_string();
    let state = get_json(&format!("{}/master/state", up.mesos)).expect("GET /master/state");
    assert_eq!(
        state["frameworks"][0]["id"].as_str(),
        Some(framework_id.as_str()),
        "the framework id is the one the master knows"
    );
    assert_eq!(cluster["nodes"]["total"], 1, "{cluster}");
    assert_eq!(cluster["queue"]["total"], 1, "{cluster}");
    assert_eq!(
        cluster["queue"]["tasks"][0]["taskId"].as_str(),
        Some(waiting_id.as_str())
    );
    let (code, out, err) = sextant(&up, &["cluster-info"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("Framework: {framework_id}")), "{out}");
    assert!(out.contains("Link:      subscribed for "), "{out}");
    assert!(out.contains("Nodes:     1 (1 ready); free 0.1 of 0.4 cpus"), "{out}");
    assert!(out.contains("Waiting:   1 tasks") && out.contains(&waiting_id), "{out}");
}
