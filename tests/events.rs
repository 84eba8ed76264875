//! The event stream end to end: a rollout's events arrive in order, and a
//! reader that reconnects with `Last-Event-ID` gets exactly what followed.

mod common;

use std::time::Duration;

use common::{Up, get_json};
use futures::StreamExt;
use serde_json::Value;

fn sleeper(tag: &str) -> String {
    format!(
        "apiVersion: sextant.dev/v1alpha1\nkind: App\nmetadata: {{name: web}}\nspec:\n  instances: 1\n  command: \"echo {tag}; exec sleep 3600\"\n  resources: {{cpus: 0.1, mem: 16}}\n  killGracePeriodSeconds: 1\n"
    )
}

fn events(up: &Up) -> Vec<Value> {
    get_json(&format!("{}/api/v1/events?app=default/web", up.api))
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
}

/// The first `n` events of the stream after `after`, as the server sent them.
fn stream_after(up: &Up, after: u64, n: usize) -> Vec<Value> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    rt.block_on(async {
        let resp = reqwest::Client::new()
            .get(format!("{}/api/v1/events?app=default/web", up.api))
            .header("accept", "text/event-stream")
            .header("last-event-id", after.to_string())
            .send()
            .await
            .expect("stream");
        assert_eq!(
            resp.headers().get("content-type").and_then(|v| v.to_str().ok()),
            Some("text/event-stream")
        );
        let mut body = resp.bytes_stream();
        let mut text = String::new();
        let mut got = Vec::new();
        while got.len() < n {
            let chunk = tokio::time::timeout(Duration::from_secs(10), body.next())
                .await
                .expect("an event within 10 s")
                .expect("the stream goes on")
                .expect("bytes");
            text.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = text.find("\n\n") {
                let block: String = text.drain(..end + 2).collect();
                if let Some(data) = block.lines().find_map(|l| l.strip_prefix("data:")) {
                    got.push(serde_json::from_str(data.trim()).expect("json data"));
                }
            }
        }
        got
    })
}

/// Guards the event stream: a rollout's steps in order, and resumption.
#[test]
fn a_rollout_is_told_in_order_and_a_reconnect_resumes() {
    let up = Up::start();
    up.write_manifest("web.yaml", &sleeper("v1"));
    up.wait_for("web running", || up.running_in_mesos("web").len() == 1);
    let first = up.running_in_mesos("web")[0].clone();

    up.write_manifest("web.yaml", &sleeper("v2"));
    up.wait_for("the rollout to complete", || {
        let running = up.running_in_mesos("web");
        running.len() == 1 && running[0] != first && up.live_in_mesos("web").len() == 1
    });
    up.wait_for("the old task's end to be told", || {
        events(&up)
            .iter()
            .any(|e| e["task"] == first.as_str() && e["reason"] == "TASK_KILLED")
    });
    let all = events(&up);
    let ids: Vec<u64> = all.iter().filter_map(|e| e["id"].as_u64()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids grow: {ids:?}");
    let position = |pred: &dyn Fn(&Value) -> bool| all.iter().position(pred);
    let created = position(&|e| e["kind"] == "desired" && e["reason"] == "created").expect("created");
    let updated = position(&|e| e["kind"] == "desired" && e["reason"] == "updated").expect("updated");
    let first_running = position(&|e| e["task"] == first.as_str() && e["reason"] == "TASK_RUNNING").expect("running");
    let new_running =
        position(&|e| e["kind"] == "task" && e["task"] != first.as_str() && e["reason"] == "TASK_RUNNING")
            .expect("the new task running");
    let old_killed = position(&|e| e["task"] == first.as_str() && e["reason"] == "TASK_KILLED").expect("killed");
    assert!(created < first_running && first_running < updated, "{all:#?}");
    assert!(
        updated < new_running && new_running < old_killed,
        "old killed after the new one runs: {all:#?}"
    );
    assert!(
        all[updated..]
            .iter()
            .any(|e| e["kind"] == "condition" && e["reason"] == "RolloutInProgress"),
        "the rollout's progress is told: {all:#?}"
    );

    // A reconnect with Last-Event-ID gets exactly what followed.
    let mid = all[updated]["id"].as_u64().expect("id");
    let resumed = stream_after(&up, mid, 2);
    assert_eq!(resumed[0], all[updated + 1], "{resumed:#?}");
    assert_eq!(resumed[1], all[updated + 2]);
}
