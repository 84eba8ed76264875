//! What one framework can make the master hold: a subscriber that never
//! reads its event stream is cut off once its buffer is full (memory stays
//! bounded), and past `max_frameworks` a SUBSCRIBE is refused with an
//! ERROR event.

mod common;

use std::time::Duration;

use common::*;
use localmesos::StreamLimits;
use serde_json::Value;

fn rss_mb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in kB");
    kb / 1024
}

async fn frameworks(master: &TestMaster) -> Value {
    let response = raw(master.addr(), "GET", "/master/frameworks", &[], "").await;
    serde_json::from_str(&response.text()).expect("JSON")
}

/// Guards: a framework whose client stops reading is disconnected (and,
/// with no failover timeout, removed) once 1,000 events wait for it, and
/// the 100,000 updates sent its way do not pile up in the master.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_never_reads_is_cut_off() {
    let master = start_with(|config| {
        config.stream_limits = StreamLimits {
            max_events: 1_000,
            max_bytes: 8 * 1024 * 1024,
        };
    })
    .await;
    let mut stream = RawStream::subscribe(master.addr(), &subscribe_body("sleepy", "")).await;
    let stream_id = stream.header("Mesos-Stream-Id").expect("stream id").to_string();
    let framework_id = stream.framework_id().await;
    let before = rss_mb();

    // Explicit reconciliation of unknown tasks: one UPDATE per task id.
    let tasks: Vec<String> = (0..5_000)
        .map(|i| format!(r#"{{"task_id":{{"value":"missing-{i}"}}}}"#))
        .collect();
    let call = format!(
        r#"{{"type":"RECONCILE","framework_id":{{"value":"{framework_id}"}},"reconcile":{{"tasks":[{}]}}}}"#,
        tasks.join(",")
    );
    let mut refused = false;
    for _ in 0..20 {
        let response = post_call(master.addr(), &[("Mesos-Stream-Id", &stream_id)], &call).await;
        if response.status() != 202 {
            // Cut off already: the stream id is no longer current.
            refused = true;
            break;
        }
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let state = frameworks(&master).await;
        let connected = state["frameworks"]
            .as_array()
            .expect("frameworks")
            .iter()
            .any(|f| f["id"] == framework_id.as_str() && f["connected"] == true);
        if !connected {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the sleepy subscriber is still connected: {state}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let state = frameworks(&master).await;
    assert!(
        state["completed_frameworks"]
            .as_array()
            .expect("completed")
            .iter()
            .any(|f| f["id"] == framework_id.as_str()),
        "removed (failover timeout 0): {state}; refused early: {refused}"
    );
    let grown = rss_mb().saturating_sub(before);
    assert!(grown < 100, "the master grew by {grown} MB");
    drop(stream);
}

/// Guards: the master keeps at most `max_frameworks`; one more SUBSCRIBE
/// gets an ERROR event naming the limit and the flag, while the known
/// frameworks can still re-subscribe.
#[tokio::test]
async fn frameworks_are_limited() {
    let master = start_with(|config| config.max_frameworks = 2).await;
    let mut first = RawStream::subscribe(master.addr(), &subscribe_body("one", r#","failover_timeout":60"#)).await;
    let first_id = first.framework_id().await;
    let mut second = RawStream::subscribe(master.addr(), &subscribe_body("two", "")).await;
    second.framework_id().await;

    let mut third = RawStream::subscribe(master.addr(), &subscribe_body("three", "")).await;
    assert!(third.status_line.contains(" 200 "), "{}", third.status_line);
    let error = third.next_record().await.expect("an ERROR event");
    assert_eq!(error["type"], "ERROR", "{error}");
    assert_eq!(
        error["error"]["message"],
        "Too many frameworks: this master accepts at most 2 (localmesos --max-frameworks)"
    );
    assert!(third.next_chunk().await.is_none(), "the stream ends after the ERROR");

    // A known framework re-subscribes (failing over its old stream).
    let again = subscribe_body(
        "one",
        &format!(r#","failover_timeout":60,"id":{{"value":"{first_id}"}}"#),
    );
    let again = again.replacen(
        r#"{"type":"SUBSCRIBE","#,
        &format!(r#"{{"type":"SUBSCRIBE","framework_id":{{"value":"{first_id}"}},"#),
        1,
    );
    let mut resubscribed = RawStream::subscribe(master.addr(), &again).await;
    assert_eq!(resubscribed.framework_id().await, first_id);
    drop(first);
}
