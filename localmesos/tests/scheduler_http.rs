//! Wire-level behaviour of `/api/v1/scheduler` and the plain endpoints,
//! checked against the captures of a real Mesos 1.11 master: status codes,
//! header order, exact error texts, chunking of the event stream.

mod common;

use common::*;
use serde_json::{Value, json};

fn uuid_like(text: &str) -> bool {
    text.len() == 36 && uuid::Uuid::parse_str(text).is_ok()
}

#[tokio::test]
async fn subscribe_stream_has_captured_headers_chunks_and_shapes() {
    let master = start().await;
    let port = master.addr().port();
    let mut stream = RawStream::subscribe(master.addr(), &subscribe_body("wire", "")).await;

    assert_eq!(stream.status_line, "HTTP/1.1 200 OK");
    let names: Vec<&str> = stream.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["Date", "Transfer-Encoding", "Mesos-Stream-Id", "Content-Type"]);
    assert_eq!(stream.header("Transfer-Encoding"), Some("chunked"));
    assert_eq!(stream.header("Content-Type"), Some("application/json"));
    assert!(uuid_like(stream.header("Mesos-Stream-Id").expect("stream id")));
    assert!(stream.header("Date").expect("date").ends_with(" GMT"));

    // Each chunk is exactly one record: SUBSCRIBED, HEARTBEAT, OFFERS.
    let subscribed = stream.next_record().await.expect("SUBSCRIBED");
    let framework_id = subscribed["subscribed"]["framework_id"]["value"]
        .as_str()
        .expect("framework id")
        .to_string();
    let master_id = subscribed["subscribed"]["master_info"]["id"]
        .as_str()
        .expect("master id")
        .to_string();
    assert!(uuid_like(&master_id));
    assert_eq!(framework_id, format!("{master_id}-0000"));
    assert_eq!(
        subscribed,
        json!({"type":"SUBSCRIBED","subscribed":{
            "framework_id":{"value":framework_id},
            "heartbeat_interval_seconds":15.0,
            "master_info":{"id":master_id,"ip":16777343,"port":port,"pid":format!("master@127.0.0.1:{port}"),
                "hostname":"localhost","version":"1.11.0",
                "address":{"hostname":"localhost","ip":"127.0.0.1","port":port}}}})
    );
    assert_eq!(
        stream.next_record().await.expect("HEARTBEAT"),
        json!({"type":"HEARTBEAT"})
    );

    let offers = stream.next_record().await.expect("OFFERS");
    let offer = &offers["offers"]["offers"][0];
    let offer_id = offer["id"]["value"].as_str().expect("offer id");
    assert!(offer_id.starts_with(&format!("{master_id}-O")), "{offer_id}");
    let agent = json!({"value": format!("{master_id}-S0")});
    let resource = |name: &str, value: Value| {
        let mut r = json!({"name":name,"role":"*","allocation_info":{"role":"*"}});
        let map = r.as_object_mut().expect("object");
        if name == "ports" {
            map.insert("type".into(), json!("RANGES"));
            map.insert("ranges".into(), value);
        } else {
            map.insert("type".into(), json!("SCALAR"));
            map.insert("scalar".into(), value);
        }
        r
    };
    assert_eq!(
        offers,
        json!({"type":"OFFERS","offers":{"offers":[{
            "id":{"value":offer_id},
            "framework_id":{"value":framework_id},
            "agent_id":agent,
            "hostname":"localhost",
            "url":{"scheme":"http","address":{"hostname":"localhost","ip":"127.0.0.1","port":port},"path":"/slave(1)"},
            "resources":[
                resource("ports", json!({"range":[{"begin":31000,"end":32000}]})),
                resource("cpus", json!({"value":4.0})),
                resource("mem", json!({"value":4096.0})),
                resource("disk", json!({"value":10240.0})),
            ],
            "allocation_info":{"role":"*"}}]}})
    );
    master.mesos.shutdown().await;
}

#[tokio::test]
async fn offers_print_scalars_like_mesos_and_carry_text_attributes() {
    let master = start_with(|c| {
        c.nodes[0].attributes = attributes(&[("rack", "r1")]);
        c.nodes[0].hostname = "node-a".into();
    })
    .await;
    // A framework without MULTI_ROLE sees no allocation_info.
    let body = r#"{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"plain"}}}"#;
    let mut stream = RawStream::subscribe(master.addr(), body).await;
    stream.next_record().await.expect("SUBSCRIBED");
    let offers = stream.next_non_heartbeat().await.expect("OFFERS");
    let offer = &offers["offers"]["offers"][0];
    assert!(offer.get("allocation_info").is_none());
    assert!(offer["resources"][1].get("allocation_info").is_none());
    assert_eq!(offer["resources"][1]["role"], "*");
    assert_eq!(offer["hostname"], "node-a");
    assert_eq!(
        offer["attributes"],
        json!([{"name":"rack","type":"TEXT","text":{"value":"r1"}}])
    );
    let raw_text = serde_json::to_string(&offer["resources"][2]).expect("json");
    assert!(raw_text.contains(r#""scalar":{"value":4096.0}"#), "{raw_text}");
    master.mesos.shutdown().await;
}

#[tokio::test]
async fn error_texts_and_codes_match_a_real_master() {
    let master = start().await;
    let addr = master.addr();
    let mut stream = RawStream::subscribe(addr, &subscribe_body("errors", "")).await;
    let stream_id = stream.header("Mesos-Stream-Id").expect("stream id").to_string();
    let subscribed = stream.next_record().await.expect("SUBSCRIBED");
    let fid = subscribed["subscribed"]["framework_id"]["value"]
        .as_str()
        .expect("fid")
        .to_string();
    let sid: &[(&str, &str)] = &[("Mesos-Stream-Id", stream_id.as_str())];

    let check = |response: RawResponse, status: u16, text: &str| {
        assert_eq!(
            response.status(),
            status,
            "{}: {}",
            response.status_line,
            response.text()
        );
        assert_eq!(response.text(), text);
        assert_eq!(response.header("Content-Type"), Some("text/plain; charset=utf-8"));
        assert_eq!(response.header("Content-Length"), Some(text.len().to_string().as_str()));
        assert_eq!(response.headers[0].0, "Date");
    };

    // 405 with Allow, in the captured header order.
    let response = raw(addr, "GET", "/api/v1/scheduler", &[], "").await;
    assert_eq!(response.status_line, "HTTP/1.1 405 Method Not Allowed");
    assert_eq!(
        response.header_names(),
        ["Date", "Allow", "Content-Type", "Content-Length"]
    );
    assert_eq!(response.header("Allow"), Some("POST"));
    assert_eq!(
        response.text(),
        "405 Method Not Allowed. Expecting one of { 'POST' }, but received 'GET'."
    );

    let revive = format!(r#"{{"type":"REVIVE","framework_id":{{"value":"{fid}"}}}}"#);
    for content_type in ["application/json; charset=utf-8", "text/plain"] {
        let response = raw(
            addr,
            "POST",
            "/api/v1/scheduler",
            &[("Content-Type", content_type), ("Mesos-Stream-Id", &stream_id)],
            &revive,
        )
        .await;
        check(
            response,
            415,
            "Expecting 'Content-Type' of application/json or application/x-protobuf",
        );
    }
    let response = raw(
        addr,
        "POST",
        "/api/v1/scheduler",
        &[("Mesos-Stream-Id", &stream_id)],
        &revive,
    )
    .await;
    check(response, 400, "Expecting 'Content-Type' to be present");

    check(
        post_call(addr, sid, "{not json").await,
        400,
        "Failed to parse body into JSON: syntax error at line 1 near: not json",
    );
    check(
        post_call(addr, sid, &format!(r#"{{"framework_id": {{"value": "{fid}"}}}}"#)).await,
        400,
        "Failed to validate scheduler::Call: Expecting 'type' to be present",
    );
    check(
        post_call(
            addr,
            sid,
            &format!(r#"{{"type": "BOGUS", "framework_id": {{"value": "{fid}"}}}}"#),
        )
        .await,
        400,
        "Failed to validate scheduler::Call: Expecting 'type' to be present",
    );
    check(
        post_call(
            addr,
            sid,
            &format!(r#"{{"type": "ACCEPT", "framework_id": {{"value": "{fid}"}}}}"#),
        )
        .await,
        400,
        "Failed to validate scheduler::Call: Expecting 'accept' to be present",
    );
    check(
        post_call(
            addr,
            sid,
            r#"{"type": "REVIVE", "framework_id": {"value": "no-such-framework"}}"#,
        )
        .await,
        400,
        "Framework cannot be found",
    );
    let decline = format!(
        r#"{{"type": "DECLINE", "framework_id": {{"value": "{fid}"}}, "decline": {{"offer_ids": [{{"value": "x-O6"}}]}}}}"#
    );
    check(
        post_call(addr, &[], &decline).await,
        400,
        "All non-subscribe calls should include the 'Mesos-Stream-Id' header",
    );
    let zero = "00000000-0000-0000-0000-000000000000";
    check(
        post_call(addr, &[("Mesos-Stream-Id", zero)], &decline).await,
        400,
        &format!(
            "The stream ID '{zero}' included in this request didn't match the stream ID currently associated with framework ID {fid}"
        ),
    );
    let ack = |uuid: &str| {
        format!(
            r#"{{"type":"ACKNOWLEDGE","framework_id":{{"value":"{fid}"}},"acknowledge":{{"agent_id":{{"value":"a"}},"task_id":{{"value":"t"}},"uuid":"{uuid}"}}}}"#
        )
    };
    check(
        post_call(addr, sid, &ack("AAAA")).await,
        400,
        "Failed to validate scheduler::Call: Not a valid UUID",
    );
    assert_eq!(post_call(addr, sid, &ack("%%%")).await.status(), 400);

    // SUBSCRIBE-specific checks.
    let response = raw(
        addr,
        "POST",
        "/api/v1/scheduler",
        &[("Content-Type", "application/json"), ("Accept", "text/html")],
        r#"{"type": "SUBSCRIBE", "subscribe": {"framework_info": {"user": "root", "name": "x"}}}"#,
    )
    .await;
    check(
        response,
        406,
        "Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'",
    );
    check(
        post_call(
            addr,
            &[],
            r#"{"type": "SUBSCRIBE", "subscribe": {"framework_info": {"name": "x"}}}"#,
        )
        .await,
        400,
        "Failed to convert JSON into Call protobuf: Missing required fields: subscribe.framework_info.user",
    );
    check(
        post_call(
            addr,
            &[],
            r#"{"type": "SUBSCRIBE", "framework_id": {"value": "a"}, "subscribe": {"framework_info": {"user": "root", "name": "x", "id": {"value": "b"}}}}"#,
        )
        .await,
        400,
        "Failed to validate scheduler::Call: 'framework_id' differs from 'subscribe.framework_info.id'",
    );
    check(
        post_call(addr, sid, &subscribe_body("x", "")).await,
        400,
        "Subscribe calls should not include the 'Mesos-Stream-Id' header",
    );

    // UNKNOWN → 501, empty.
    let response = post_call(
        addr,
        sid,
        &format!(r#"{{"type":"UNKNOWN","framework_id":{{"value":"{fid}"}}}}"#),
    )
    .await;
    assert_eq!(response.status_line, "HTTP/1.1 501 Not Implemented");
    assert!(response.body.is_empty());

    // Accepted calls: 202, Content-Length 0, no Content-Type.
    let response = post_call(addr, sid, &revive).await;
    assert_eq!(response.status_line, "HTTP/1.1 202 Accepted");
    assert_eq!(response.header_names(), ["Date", "Content-Length"]);
    assert_eq!(response.header("Content-Length"), Some("0"));
    assert!(response.body.is_empty());

    master.mesos.shutdown().await;
}

#[tokio::test]
async fn disconnected_framework_gets_403_until_it_resubscribes() {
    let master = start().await;
    let addr = master.addr();
    let mut stream = RawStream::subscribe(addr, &subscribe_body("failover", r#","failover_timeout":60.0"#)).await;
    let stream_id = stream.header("Mesos-Stream-Id").expect("stream id").to_string();
    let subscribed = stream.next_record().await.expect("SUBSCRIBED");
    let fid = subscribed["subscribed"]["framework_id"]["value"]
        .as_str()
        .expect("fid")
        .to_string();
    stream.close().await;

    let revive = format!(r#"{{"type":"REVIVE","framework_id":{{"value":"{fid}"}}}}"#);
    let mut status = 0;
    for _ in 0..100 {
        let response = post_call(addr, &[("Mesos-Stream-Id", &stream_id)], &revive).await;
        status = response.status();
        if status == 403 {
            assert_eq!(response.text(), "Framework is not subscribed");
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(status, 403);

    // Re-subscribing with the id works and gives a new stream id.
    let body = format!(
        r#"{{"type":"SUBSCRIBE","framework_id":{{"value":"{fid}"}},"subscribe":{{"framework_info":{{"user":"tester","name":"failover","id":{{"value":"{fid}"}},"failover_timeout":60.0}}}}}}"#
    );
    let mut again = RawStream::subscribe(addr, &body).await;
    let new_id = again.header("Mesos-Stream-Id").expect("stream id").to_string();
    assert_ne!(new_id, stream_id);
    let subscribed = again.next_record().await.expect("SUBSCRIBED");
    assert_eq!(subscribed["subscribed"]["framework_id"]["value"], fid.as_str());
    assert_eq!(
        post_call(addr, &[("Mesos-Stream-Id", &new_id)], &revive).await.status(),
        202
    );
    assert_eq!(
        post_call(addr, &[("Mesos-Stream-Id", &stream_id)], &revive)
            .await
            .status(),
        400
    );
    master.mesos.shutdown().await;
}

#[tokio::test]
async fn plain_endpoints() {
    let master = start().await;
    let addr = master.addr();
    let port = addr.port();

    let response = raw(addr, "GET", "/version", &[], "").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.header_names(), ["Date", "Content-Length", "Content-Type"]);
    assert_eq!(response.header("Content-Type"), Some("application/json"));
    assert_eq!(
        response.text(),
        r#"{"build_date":"2020-11-24 15:38:37","build_time":1606232317.0,"build_user":"ubuntu","git_sha":"04bc7ee1984d86fbb0bd782ccc69ce44c13ae4b9","git_tag":"1.11.0","version":"1.11.0"}"#
    );

    for path in ["/redirect", "/master/redirect"] {
        let response = raw(addr, "GET", path, &[], "").await;
        assert_eq!(response.status_line, "HTTP/1.1 307 Temporary Redirect");
        assert_eq!(response.header_names(), ["Date", "Location", "Content-Length"]);
        assert_eq!(
            response.header("Location"),
            Some(format!("//localhost:{port}").as_str())
        );
    }
    for path in ["/health", "/master/health"] {
        let response = raw(addr, "GET", path, &[], "").await;
        assert_eq!(response.status_line, "HTTP/1.1 200 OK");
        assert_eq!(response.header_names(), ["Date", "Content-Length"]);
        assert!(response.body.is_empty());
    }
    let metrics: Value =
        serde_json::from_slice(&raw(addr, "GET", "/metrics/snapshot", &[], "").await.body).expect("json");
    assert_eq!(metrics["master/elected"], 1.0);
    assert_eq!(metrics["master/cpus_total"], 4.0);
    assert_eq!(metrics["master/mem_total"], 4096.0);
    assert_eq!(metrics["master/frameworks_active"], 0.0);
    master.mesos.shutdown().await;
}

#[tokio::test]
async fn update_framework_protobuf_and_operator_teardown() {
    let master = start().await;
    let addr = master.addr();
    // `Accept: */*` is fine for SUBSCRIBE.
    let mut stream = RawStream::subscribe(addr, &subscribe_body("updatable", "")).await;
    let stream_id = stream.header("Mesos-Stream-Id").expect("stream id").to_string();
    let fid = stream.framework_id().await;
    let sid: &[(&str, &str)] = &[("Mesos-Stream-Id", stream_id.as_str())];

    let update = format!(
        r#"{{"type":"UPDATE_FRAMEWORK","framework_id":{{"value":"{fid}"}},"update_framework":{{"framework_info":{{"user":"tester","name":"renamed","id":{{"value":"{fid}"}},"roles":["*"],"capabilities":[{{"type":"MULTI_ROLE"}}]}}}}}}"#
    );
    let response = post_call(addr, sid, &update).await;
    assert_eq!(response.status_line, "HTTP/1.1 200 OK", "{}", response.text());
    let state: Value = reqwest::get(format!("{}/master/frameworks", master.url()))
        .await
        .expect("frameworks")
        .json()
        .await
        .expect("json");
    assert_eq!(state["frameworks"][0]["name"], "renamed");

    let response = raw(
        addr,
        "POST",
        "/api/v1/scheduler",
        &[
            ("Content-Type", "application/x-protobuf"),
            ("Mesos-Stream-Id", &stream_id),
        ],
        "\u{8}\u{5}",
    )
    .await;
    assert_eq!(response.status(), 415);

    let response = raw(
        addr,
        "POST",
        "/master/teardown",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &format!("frameworkId={fid}"),
    )
    .await;
    assert_eq!(response.status(), 200);
    // Torn down: whatever was already sent, then the end of the stream.
    while let Some(record) = stream.next_non_heartbeat().await {
        assert_eq!(record["type"], "OFFERS");
    }
    let response = raw(addr, "POST", "/master/teardown", &[], "frameworkId=nope").await;
    assert_eq!(response.status(), 400);
    assert_eq!(response.text(), "No framework found with specified ID");
    master.mesos.shutdown().await;
}

/// Replaces the values of `"key":<number>` and `"key":"<string>"` in `text`
/// with `<key>`, so that records can be compared with a capture's layout.
fn mask(text: &str, keys: &[&str]) -> String {
    let mut out = text.to_string();
    for key in keys {
        let pattern = format!("\"{key}\":");
        let mut result = String::new();
        let mut rest = out.as_str();
        while let Some(pos) = rest.find(&pattern) {
            result.push_str(&rest[..pos + pattern.len()]);
            rest = &rest[pos + pattern.len()..];
            let end = if let Some(stripped) = rest.strip_prefix('"') {
                stripped.find('"').map(|e| e + 2).unwrap_or(rest.len())
            } else {
                rest.find([',', '}']).unwrap_or(rest.len())
            };
            result.push_str(&format!("<{key}>"));
            rest = &rest[end..];
        }
        result.push_str(rest);
        out = result;
    }
    out
}

#[tokio::test]
async fn update_records_have_the_captured_layout() {
    let master = start().await;
    let addr = master.addr();
    let mut stream = RawStream::subscribe(addr, &subscribe_body("layout", "")).await;
    let stream_id = stream.header("Mesos-Stream-Id").expect("stream id").to_string();
    let fid = stream.framework_id().await;
    let offers = stream.next_non_heartbeat().await.expect("OFFERS");
    let offer = &offers["offers"]["offers"][0];
    let offer_id = offer["id"]["value"].as_str().expect("offer").to_string();
    let agent = offer["agent_id"]["value"].as_str().expect("agent").to_string();
    let accept = |task: &str| {
        format!(
            r#"{{"type": "ACCEPT", "framework_id": {{"value": "{fid}"}}, "accept": {{"offer_ids": [{{"value": "{offer_id}"}}], "operations": [{{"type": "LAUNCH", "launch": {{"task_infos": [{{"name": "{task}", "task_id": {{"value": "{task}"}}, "agent_id": {{"value": "{agent}"}}, "resources": [{{"name": "cpus", "type": "SCALAR", "scalar": {{"value": 0.1}}}}, {{"name": "mem", "type": "SCALAR", "scalar": {{"value": 32}}}}], "command": {{"value": "true"}}}}]}}}}], "filters": {{"refuse_seconds": 1}}}}}}"#
        )
    };
    let sid: &[(&str, &str)] = &[("Mesos-Stream-Id", stream_id.as_str())];
    let response = post_call(addr, sid, &accept("wire-true")).await;
    assert_eq!(response.status_line, "HTTP/1.1 202 Accepted");
    let masked = |text: String| mask(&text, &["value", "timestamp", "uuid", "executor_pid"]);
    let executor_layout = |state: &str, message: &str| {
        format!(
            r#"{{"type":"UPDATE","update":{{"status":{{"task_id":{{"value":<value>}},"state":"{state}",{message}"source":"SOURCE_EXECUTOR","agent_id":{{"value":<value>}},"executor_id":{{"value":<value>}},"timestamp":<timestamp>,"uuid":<uuid>,"container_status":{{"container_id":{{"value":<value>}},"network_infos":[{{"ip_addresses":[{{"protocol":"IPv4","ip_address":"127.0.0.1"}}]}}],"executor_pid":<executor_pid>}}}}}}}}"#
        )
    };
    let mut states = Vec::new();
    while states.len() < 3 {
        let text = stream.next_record_text().await.expect("record");
        let record: Value = serde_json::from_str(&text).expect("json");
        if record["type"] != "UPDATE" {
            continue;
        }
        let status = &record["update"]["status"];
        let state = status["state"].as_str().expect("state").to_string();
        let message = if state == "TASK_FINISHED" {
            r#""message":"Command exited with status 0","#
        } else {
            ""
        };
        assert_eq!(masked(text), executor_layout(&state, message));
        let ack = format!(
            r#"{{"type": "ACKNOWLEDGE", "framework_id": {{"value": "{fid}"}}, "acknowledge": {{"agent_id": {{"value": "{agent}"}}, "task_id": {{"value": "wire-true"}}, "uuid": "{}"}}}}"#,
            status["uuid"].as_str().expect("uuid")
        );
        assert_eq!(post_call(addr, sid, &ack).await.status(), 202);
        states.push(state);
    }
    assert_eq!(states, ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]);

    // Reusing the offer: the captured TASK_DROPPED layout.
    assert_eq!(post_call(addr, sid, &accept("wire-stale")).await.status(), 202);
    let text = loop {
        let text = stream.next_record_text().await.expect("record");
        if text.contains("wire-stale") {
            break text;
        }
    };
    assert_eq!(
        mask(&text, &["timestamp"]),
        format!(
            r#"{{"type":"UPDATE","update":{{"status":{{"task_id":{{"value":"wire-stale"}},"state":"TASK_DROPPED","message":"Task launched with invalid offers: Offer {offer_id} is no longer valid","source":"SOURCE_MASTER","reason":"REASON_INVALID_OFFERS","agent_id":{{"value":"{agent}"}},"timestamp":<timestamp>}}}}}}"#
        )
    );

    // Explicit reconciliation of a task the agent does not know.
    let reconcile = format!(
        r#"{{"type": "RECONCILE", "framework_id": {{"value": "{fid}"}}, "reconcile": {{"tasks": [{{"task_id": {{"value": "never-launched"}}, "agent_id": {{"value": "{agent}"}}}}]}}}}"#
    );
    assert_eq!(post_call(addr, sid, &reconcile).await.status(), 202);
    let text = loop {
        let text = stream.next_record_text().await.expect("record");
        if text.contains("never-launched") {
            break text;
        }
    };
    assert_eq!(
        mask(&text, &["timestamp"]),
        format!(
            r#"{{"type":"UPDATE","update":{{"status":{{"task_id":{{"value":"never-launched"}},"state":"TASK_GONE","message":"Reconciliation: Task is unknown to the agent","source":"SOURCE_MASTER","reason":"REASON_RECONCILIATION","agent_id":{{"value":"{agent}"}},"timestamp":<timestamp>}}}}}}"#
        )
    );
    master.mesos.shutdown().await;
}
