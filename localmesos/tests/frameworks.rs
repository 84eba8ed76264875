//! Framework lifecycle: failover to a new subscription, teardown,
//! disconnection with and without a failover timeout, redelivery after
//! re-subscription, `/master/state`, and shutdown leaving nothing behind.

mod common;

use std::time::Duration;

use common::*;
use mesos::types::*;
use serde_json::{Value, json};

fn resubscribe_body(fid: &str, extra: &str) -> String {
    format!(
        r#"{{"type":"SUBSCRIBE","framework_id":{{"value":"{fid}"}},"subscribe":{{"framework_info":{{"user":"tester","name":"again","id":{{"value":"{fid}"}},"roles":["*"],"capabilities":[{{"type":"MULTI_ROLE"}},{{"type":"PARTITION_AWARE"}}]{extra}}}}}}}"#
    )
}

#[tokio::test]
async fn second_subscription_fails_over_the_first() {
    let master = start().await;
    let mut old = RawStream::subscribe(master.addr(), &subscribe_body("first", "")).await;
    let subscribed = old.next_record().await.expect("SUBSCRIBED");
    let fid = subscribed["subscribed"]["framework_id"]["value"]
        .as_str()
        .expect("fid")
        .to_string();
    let offers = old.next_non_heartbeat().await.expect("OFFERS");
    let old_offer = offers["offers"]["offers"][0]["id"]["value"]
        .as_str()
        .expect("offer")
        .to_string();

    let mut new = RawStream::subscribe(master.addr(), &resubscribe_body(&fid, "")).await;
    let new_stream_id = new.header("Mesos-Stream-Id").expect("stream id").to_string();
    let subscribed = new.next_record().await.expect("SUBSCRIBED");
    assert_eq!(subscribed["subscribed"]["framework_id"]["value"], fid.as_str());

    // The old stream gets ERROR, then the terminating chunk.
    let error = old.next_non_heartbeat().await.expect("ERROR");
    assert_eq!(
        error,
        json!({"type":"ERROR","error":{"message":"Framework failed over"}})
    );
    assert_eq!(old.next_chunk().await, None, "stream closed with 0\\r\\n\\r\\n");

    // Old offers were dropped: the new subscription gets fresh ones, and
    // using the old one is an invalid offer (TASK_DROPPED, partition aware).
    let offers = new.next_non_heartbeat().await.expect("OFFERS");
    assert_eq!(offers["type"], "OFFERS");
    assert_ne!(offers["offers"]["offers"][0]["id"]["value"], old_offer.as_str());
    let agent = offers["offers"]["offers"][0]["agent_id"]["value"]
        .as_str()
        .expect("agent")
        .to_string();
    let accept = format!(
        r#"{{"type":"ACCEPT","framework_id":{{"value":"{fid}"}},"accept":{{"offer_ids":[{{"value":"{old_offer}"}}],"operations":[{{"type":"LAUNCH","launch":{{"task_infos":[{{"name":"t","task_id":{{"value":"t"}},"agent_id":{{"value":"{agent}"}},"resources":[{{"name":"cpus","type":"SCALAR","scalar":{{"value":0.1}}}}],"command":{{"value":"true"}}}}]}}}}]}}}}"#
    );
    let response = post_call(master.addr(), &[("Mesos-Stream-Id", &new_stream_id)], &accept).await;
    assert_eq!(response.status(), 202);
    let update = new.next_non_heartbeat().await.expect("UPDATE");
    assert_eq!(update["update"]["status"]["state"], "TASK_DROPPED");
    master.mesos.shutdown().await;
}

#[tokio::test]
async fn teardown_closes_the_stream_kills_tasks_and_retires_the_id() {
    let master = start().await;
    let mut stream = RawStream::subscribe(master.addr(), &subscribe_body("teardown", "")).await;
    let stream_id = stream.header("Mesos-Stream-Id").expect("stream id").to_string();
    let fid = stream.framework_id().await;
    let offers = stream.next_non_heartbeat().await.expect("OFFERS");
    let offer = &offers["offers"]["offers"][0];
    let accept = format!(
        r#"{{"type":"ACCEPT","framework_id":{{"value":"{fid}"}},"accept":{{"offer_ids":[{{"value":"{}"}}],"operations":[{{"type":"LAUNCH","launch":{{"task_infos":[{{"name":"t","task_id":{{"value":"t"}},"agent_id":{{"value":"{}"}},"resources":[{{"name":"cpus","type":"SCALAR","scalar":{{"value":0.1}}}}],"command":{{"value":"exec sleep 1000"}}}}]}}}}]}}}}"#,
        offer["id"]["value"].as_str().expect("offer"),
        offer["agent_id"]["value"].as_str().expect("agent"),
    );
    let sid: &[(&str, &str)] = &[("Mesos-Stream-Id", &stream_id)];
    assert_eq!(post_call(master.addr(), sid, &accept).await.status(), 202);
    let starting = stream.next_non_heartbeat().await.expect("UPDATE");
    assert_eq!(starting["update"]["status"]["state"], "TASK_STARTING");
    let pid = starting["update"]["status"]["container_status"]["executor_pid"]
        .as_i64()
        .expect("pid") as i32;
    assert!(alive(pid));

    let teardown = format!(r#"{{"type":"TEARDOWN","framework_id":{{"value":"{fid}"}}}}"#);
    assert_eq!(post_call(master.addr(), sid, &teardown).await.status(), 202);
    // No ERROR: the stream just ends.
    assert_eq!(stream.next_non_heartbeat().await, None);
    assert!(wait_gone(pid, Duration::from_secs(6)).await, "the task was killed");

    let revive = format!(r#"{{"type":"REVIVE","framework_id":{{"value":"{fid}"}}}}"#);
    let response = post_call(master.addr(), sid, &revive).await;
    assert_eq!(response.status(), 400);
    assert_eq!(response.text(), "Framework cannot be found");

    let mut again = RawStream::subscribe(master.addr(), &resubscribe_body(&fid, "")).await;
    assert_eq!(again.status_line, "HTTP/1.1 200 OK");
    assert_eq!(
        again.next_record().await,
        Some(json!({"type":"ERROR","error":{"message":"Framework has been removed"}}))
    );
    assert_eq!(again.next_chunk().await, None);

    let state: Value = reqwest::get(format!("{}/master/state", master.url()))
        .await
        .expect("state")
        .json()
        .await
        .expect("json");
    assert_eq!(state["frameworks"], json!([]));
    assert_eq!(state["completed_frameworks"][0]["id"], fid.as_str());
    assert_eq!(
        state["completed_frameworks"][0]["completed_tasks"][0]["state"],
        "TASK_KILLED"
    );
    master.mesos.shutdown().await;
}

#[tokio::test]
async fn closed_stream_with_zero_failover_timeout_removes_the_framework() {
    let master = start().await;
    let mut stream = RawStream::subscribe(master.addr(), &subscribe_body("fragile", "")).await;
    let stream_id = stream.header("Mesos-Stream-Id").expect("stream id").to_string();
    let fid = stream.framework_id().await;
    let offers = stream.next_non_heartbeat().await.expect("OFFERS");
    let offer = &offers["offers"]["offers"][0];
    let accept = format!(
        r#"{{"type":"ACCEPT","framework_id":{{"value":"{fid}"}},"accept":{{"offer_ids":[{{"value":"{}"}}],"operations":[{{"type":"LAUNCH","launch":{{"task_infos":[{{"name":"t","task_id":{{"value":"t"}},"agent_id":{{"value":"{}"}},"resources":[{{"name":"cpus","type":"SCALAR","scalar":{{"value":0.1}}}}],"command":{{"value":"exec sleep 1000"}}}}]}}}}]}}}}"#,
        offer["id"]["value"].as_str().expect("offer"),
        offer["agent_id"]["value"].as_str().expect("agent"),
    );
    assert_eq!(
        post_call(master.addr(), &[("Mesos-Stream-Id", &stream_id)], &accept)
            .await
            .status(),
        202
    );
    let starting = stream.next_non_heartbeat().await.expect("UPDATE");
    let pid = starting["update"]["status"]["container_status"]["executor_pid"]
        .as_i64()
        .expect("pid") as i32;
    stream.close().await;
    assert!(
        wait_gone(pid, Duration::from_secs(6)).await,
        "tasks of a removed framework are killed"
    );
    let mut again = RawStream::subscribe(master.addr(), &resubscribe_body(&fid, "")).await;
    assert_eq!(
        again.next_record().await,
        Some(json!({"type":"ERROR","error":{"message":"Framework has been removed"}}))
    );
    master.mesos.shutdown().await;
}

#[tokio::test]
async fn updates_wait_for_a_disconnected_framework_and_are_resent() {
    let master = start().await;
    let mut info = framework_info("patient");
    info.failover_timeout = Some(60.0);
    let sub = subscribe(&master, info.clone()).await;
    let (caller, mut events) = (sub.caller, sub.events);
    launch(&caller, &mut events, |agent| vec![shell_task("quick", agent, "exit 0")]).await;
    let starting = next_update(&mut events).await;
    assert_eq!(starting.state, TaskState::TaskStarting);
    drop(events);
    drop(caller);
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Re-subscribe: the unacknowledged head comes again; the rest follows
    // acks.
    info.id = Some(sub.subscribed.framework_id.clone());
    let sub = subscribe(&master, info).await;
    let (caller, mut events) = (sub.caller, sub.events);
    let resent = next_update(&mut events).await;
    assert_eq!(resent, starting);
    ack(&caller, &resent).await;
    assert_eq!(
        next_update_acked(&caller, &mut events).await.state,
        TaskState::TaskRunning
    );
    assert_eq!(
        next_update_acked(&caller, &mut events).await.state,
        TaskState::TaskFinished
    );
    master.mesos.shutdown().await;
}

#[tokio::test]
async fn master_state_lists_framework_agent_tasks_and_offers() {
    let master = start_with(|c| c.nodes[0].attributes = attributes(&[("zone", "a")])).await;
    let mut info = framework_info("stateful");
    info.labels = Some(Labels {
        labels: vec![Label {
            key: "team".into(),
            value: Some("x".into()),
        }],
    });
    let sub = subscribe(&master, info).await;
    let (caller, mut events) = (sub.caller, sub.events);
    let fid = caller.framework_id().value.clone();
    let offer = launch(&caller, &mut events, |agent| {
        let mut task = shell_task("web.1", agent, "sleep 1000");
        task.resources.push(Resource::ranges(
            "ports",
            vec![Range {
                begin: 31001,
                end: 31001,
            }],
        ));
        task.labels = Some(Labels {
            labels: vec![Label {
                key: "app".into(),
                value: Some("web".into()),
            }],
        });
        vec![task]
    })
    .await;
    // The rest of the node may be offered before or after the task runs.
    let mut states = Vec::new();
    let mut offered = false;
    while states.len() < 2 || !offered {
        let event = next_event(&mut events).await;
        offered |= event.offers.is_some();
        if let Some(update) = event.update {
            ack(&caller, &update.status).await;
            states.push(update.status.state);
        }
    }
    assert_eq!(states, [TaskState::TaskStarting, TaskState::TaskRunning]);

    for path in ["/master/state", "/state"] {
        let state: Value = reqwest::get(format!("{}{path}", master.url()))
            .await
            .expect("state")
            .json()
            .await
            .expect("json");
        assert_eq!(state["version"], "1.11.0");
        assert_eq!(state["id"], master.mesos.master_id());
        assert_eq!(state["pid"], format!("master@127.0.0.1:{}", master.addr().port()));
        assert_eq!(state["leader"], state["pid"]);
        assert_eq!(state["hostname"], "localhost");
        assert_eq!(state["activated_slaves"], 1.0);
        let slave = &state["slaves"][0];
        assert_eq!(slave["id"], offer.agent_id.value.as_str());
        assert_eq!(slave["hostname"], "localhost");
        assert_eq!(slave["active"], true);
        assert_eq!(slave["attributes"], json!({"zone": "a"}));
        assert_eq!(
            slave["resources"],
            json!({"cpus":4.0,"disk":10240.0,"gpus":0.0,"mem":4096.0,"ports":"[31000-32000]"})
        );
        assert_eq!(
            slave["used_resources"],
            json!({"cpus":0.1,"disk":0.0,"gpus":0.0,"mem":32.0,"ports":"[31001-31001]"})
        );
        let framework = &state["frameworks"][0];
        assert_eq!(framework["id"], fid.as_str());
        assert_eq!(framework["name"], "stateful");
        assert_eq!(framework["user"], current_user().as_str());
        assert_eq!(framework["roles"], json!(["*"]));
        assert_eq!(framework["active"], true);
        assert_eq!(framework["connected"], true);
        assert_eq!(
            framework["capabilities"],
            json!(["MULTI_ROLE", "TASK_KILLING_STATE", "PARTITION_AWARE"])
        );
        assert_eq!(framework["offers"].as_array().map(Vec::len), Some(1));
        let task = &framework["tasks"][0];
        assert_eq!(task["id"], "web.1");
        assert_eq!(task["name"], "web.1");
        assert_eq!(task["framework_id"], fid.as_str());
        assert_eq!(task["executor_id"], "");
        assert_eq!(task["slave_id"], offer.agent_id.value.as_str());
        assert_eq!(task["state"], "TASK_RUNNING");
        assert_eq!(
            task["resources"],
            json!({"cpus":0.1,"disk":0.0,"gpus":0.0,"mem":32.0,"ports":"[31001-31001]"})
        );
        assert_eq!(task["labels"], json!([{"key":"app","value":"web"}]));
        let statuses = task["statuses"].as_array().expect("statuses");
        assert_eq!(statuses.len(), 2);
        assert_eq!(statuses[1]["state"], "TASK_RUNNING");
        assert!(statuses[1]["timestamp"].as_f64().is_some());
        assert!(statuses[1]["container_status"]["container_id"]["value"].is_string());
        assert_eq!(framework["completed_tasks"], json!([]));
        assert_eq!(state["completed_frameworks"], json!([]));
    }
    let metrics: Value = reqwest::get(format!("{}/metrics/snapshot", master.url()))
        .await
        .expect("metrics")
        .json()
        .await
        .expect("json");
    assert_eq!(metrics["master/elected"], 1.0);
    assert_eq!(metrics["master/tasks_running"], 1.0);
    assert_eq!(metrics["master/frameworks_active"], 1.0);
    assert_eq!(metrics["master/cpus_used"], 0.1);
    assert_eq!(metrics["master/outstanding_offers"], 1.0);
    master.mesos.shutdown().await;
}

#[tokio::test]
async fn shutdown_leaves_no_process_and_releases_the_port() {
    let master = start_with(|c| {
        c.nodes.push(localmesos::NodeConfig {
            hostname: "second".into(),
            ..localmesos::NodeConfig::default()
        })
    })
    .await;
    let addr = master.addr();
    let sub = subscribe(&master, framework_info("doomed")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    let offers = next_offers(&mut events).await;
    assert_eq!(offers.len(), 2, "one offer per node");
    assert!(offers[1].agent_id.value.ends_with("-S1"));
    let mut pids = Vec::new();
    for (i, offer) in offers.iter().enumerate() {
        let tasks = vec![
            shell_task(
                &format!("ignorer-{i}"),
                &offer.agent_id,
                "trap '' TERM; sleep 1000 & wait; wait",
            ),
            shell_task(&format!("sleeper-{i}"), &offer.agent_id, "sleep 1000"),
        ];
        caller.accept(vec![offer.id.clone()], tasks, 0.0).await.expect("ACCEPT");
    }
    while pids.len() < 4 {
        let status = next_update_acked(&caller, &mut events).await;
        if status.state == TaskState::TaskStarting {
            pids.push(status.container_status.and_then(|c| c.executor_pid).expect("pid") as i32);
        }
    }
    assert!(pids.iter().all(|&p| alive(p)));
    let started = std::time::Instant::now();
    master.mesos.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(10));
    for pid in pids {
        assert!(!alive(pid), "process {pid} survived shutdown");
    }
    // The stream ended and the port is free again.
    while tokio::time::timeout(WAIT, events.next())
        .await
        .expect("stream ends")
        .is_ok()
    {}
    std::net::TcpListener::bind(addr).expect("port released");
}

#[tokio::test]
async fn dropping_the_master_kills_tasks() {
    let master = start().await;
    let sub = subscribe(&master, framework_info("dropped")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    launch(&caller, &mut events, |agent| {
        vec![shell_task("orphan?", agent, "sleep 1000")]
    })
    .await;
    let starting = next_update_acked(&caller, &mut events).await;
    let pid = starting.container_status.and_then(|c| c.executor_pid).expect("pid") as i32;
    drop(master);
    assert!(wait_gone(pid, Duration::from_secs(3)).await);
}

/// Guards the heartbeat period: one HEARTBEAT per interval, not a burst.
#[tokio::test]
async fn heartbeats_keep_coming_at_the_interval() {
    let master = start_with(|c| c.heartbeat_interval = Duration::from_millis(200)).await;
    let body = r#"{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"hb"}}}"#;
    let mut stream = RawStream::subscribe(master.addr(), body).await;
    let subscribed = stream.next_record().await.expect("SUBSCRIBED");
    assert_eq!(subscribed["subscribed"]["heartbeat_interval_seconds"], 0.2);
    // The first comes with SUBSCRIBED, the second one interval later: timed
    // from the second, so that a test thread slow to read the first (a
    // loaded machine) does not shorten what it measures.
    assert_eq!(stream.next_record().await, Some(json!({"type":"HEARTBEAT"})));
    while stream.next_record().await.expect("record")["type"] != "HEARTBEAT" {}
    let started = std::time::Instant::now();
    let mut heartbeats = 0;
    while heartbeats < 3 {
        if stream.next_record().await.expect("record")["type"] == "HEARTBEAT" {
            heartbeats += 1;
        }
    }
    // Three intervals are 600 ms; a reader late by up to 300 ms still
    // tells "one per interval" from a burst.
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    master.mesos.shutdown().await;
}

#[tokio::test]
async fn failover_timeout_expiry_removes_the_framework() {
    let master = start().await;
    let mut stream = RawStream::subscribe(master.addr(), &subscribe_body("brief", r#","failover_timeout":0.3"#)).await;
    let fid = stream.framework_id().await;
    stream.close().await;
    let mut removed = false;
    for _ in 0..100 {
        let state: Value = reqwest::get(format!("{}/master/state", master.url()))
            .await
            .expect("state")
            .json()
            .await
            .expect("json");
        if state["frameworks"].as_array().is_some_and(Vec::is_empty) {
            assert_eq!(state["completed_frameworks"][0]["id"], fid.as_str());
            removed = true;
            break;
        }
        assert_eq!(state["frameworks"][0]["connected"], false);
        assert_eq!(state["frameworks"][0]["active"], false);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(removed, "removed after its failover timeout");
    let mut again = RawStream::subscribe(master.addr(), &resubscribe_body(&fid, "")).await;
    assert_eq!(
        again.next_record().await,
        Some(json!({"type":"ERROR","error":{"message":"Framework has been removed"}}))
    );
    master.mesos.shutdown().await;
}

#[tokio::test]
async fn invalid_framework_info_is_an_error_event() {
    let master = start().await;
    // roles without MULTI_ROLE.
    let body = r#"{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"bad","roles":["a"]}}}"#;
    let mut stream = RawStream::subscribe(master.addr(), body).await;
    assert_eq!(stream.status_line, "HTTP/1.1 200 OK");
    let error = stream.next_record().await.expect("ERROR");
    assert_eq!(error["type"], "ERROR");
    assert!(
        error["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("MULTI_ROLE"))
    );
    assert_eq!(stream.next_chunk().await, None);
    master.mesos.shutdown().await;
}

#[tokio::test]
async fn update_retries_back_off() {
    let master = start_with(|c| c.update_retry_initial = Duration::from_millis(200)).await;
    let sub = subscribe(&master, framework_info("backoff")).await;
    let (caller, mut events) = (sub.caller, sub.events);
    launch(&caller, &mut events, |agent| {
        vec![shell_task("slow-ack", agent, "sleep 1000")]
    })
    .await;
    let first = next_update(&mut events).await;
    let t0 = std::time::Instant::now();
    assert_eq!(next_update(&mut events).await, first);
    let t1 = t0.elapsed();
    assert_eq!(next_update(&mut events).await, first);
    let t2 = t0.elapsed();
    assert!(
        t1 >= Duration::from_millis(150) && t1 < Duration::from_secs(2),
        "{t1:?}"
    );
    assert!(t2 - t1 >= Duration::from_millis(350), "doubled: {t1:?} then {t2:?}");
    master.mesos.shutdown().await;
}

#[test]
fn handles_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<localmesos::LocalMesos>();
    assert_send_sync::<localmesos::LocalMesosConfig>();
    assert_send_sync::<localmesos::LocalMesosError>();
}
