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
    // The rollout's steps and the controller's actions, each with why.
    let started = all[updated..]
        .iter()
        .position(|e| e["kind"] == "rollout" && e["reason"] == "RolloutStarted")
        .expect("rollout started");
    let launched = all[updated..]
        .iter()
        .position(|e| e["kind"] == "action" && e["reason"] == "LaunchRollout")
        .expect("the new task launched as a rollout step");
    let replaced = all[updated..]
        .iter()
        .position(|e| e["kind"] == "action" && e["reason"] == "KillReplaced" && e["task"] == first.as_str())
        .expect("the old task killed as replaced");
    assert!(started < launched && launched < replaced, "{all:#?}");
    assert!(
        all.iter()
            .any(|e| e["kind"] == "action" && e["reason"] == "LaunchMissing" && e["task"] == first.as_str()),
        "the first task launched as a missing instance: {all:#?}"
    );
    up.wait_for("the rollout's completion to be told", || {
        events(&up)
            .iter()
            .any(|e| e["kind"] == "rollout" && e["reason"] == "RolloutCompleted")
    });

    // A reconnect with Last-Event-ID gets exactly what followed.
    let mid = all[updated]["id"].as_u64().expect("id");
    let resumed = stream_after(&up, mid, 2);
    assert_eq!(resumed[0], all[updated + 1], "{resumed:#?}");
    assert_eq!(resumed[1], all[updated + 2]);
}

/// A minimal HTTP receiver: records each request's headers and body, and
/// answers 200 (keep-alive).
fn receiver() -> (String, std::sync::mpsc::Receiver<(String, Vec<u8>)>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut write = conn.try_clone().expect("clone");
                let mut read = BufReader::new(conn);
                loop {
                    let mut head = String::new();
                    loop {
                        let mut line = String::new();
                        if read.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                        head.push_str(&line);
                    }
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().to_string())
                        })
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    let mut body = vec![0; length];
                    if read.read_exact(&mut body).is_err() {
                        return;
                    }
                    let _ = tx.send((head, body));
                    let _ = write.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
                }
            });
        }
    });
    (url, rx)
}

/// Guards outgoing webhooks end to end: a task's state changes reach a
/// receiver, signed with the hook's secret.
#[test]
fn hooks_deliver_signed_task_events() {
    let (url, deliveries) = receiver();
    let dir = tempfile::tempdir().expect("tempdir");
    let hooks = dir.path().join("hooks.yaml");
    std::fs::write(
        &hooks,
        format!("hooks:\n  - {{name: test, url: \"{url}\", kinds: [task], secret: hook-secret-0123456789}}\n"),
    )
    .expect("write hooks");
    let hooks_arg = hooks.display().to_string();
    let up = Up::start_with(&["--hooks", &hooks_arg]);
    up.write_manifest("web.yaml", &sleeper("v1"));
    let start = std::time::Instant::now();
    loop {
        let (head, body) = deliveries
            .recv_timeout(Duration::from_secs(30).saturating_sub(start.elapsed()))
            .expect("a delivery within 30 s");
        let event: Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(event["kind"], "task", "only the kinds asked for");
        let signature = head
            .lines()
            .find_map(|l| l.strip_prefix("x-sextant-signature-256: "))
            .expect("signed")
            .trim()
            .to_string();
        let header = |name: &str| (name == "x-hub-signature-256").then_some(signature.as_bytes());
        sextant_controller::source::webhook::verify(b"hook-secret-0123456789", header, &body)
            .expect("a valid signature");
        if event["reason"] == "TASK_RUNNING" {
            break;
        }
    }
}
