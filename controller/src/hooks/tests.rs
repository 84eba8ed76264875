//! Hooks against a real HTTP receiver on loopback.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;

use super::*;
use crate::events::NewEvent;
use crate::source::webhook;

const SECRET: &str = "a-shared-secret-0123";

#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
    calls: Arc<AtomicUsize>,
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    // The very first delivery fails: the hook must retry it.
    if r.calls.fetch_add(1, Ordering::SeqCst) == 0 {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    r.got.lock().expect("lock").push((headers, body));
    StatusCode::OK
}

async fn serve(r: Receiver) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = Router::new().route("/hook", post(receive)).with_state(r);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/hook")
}

fn emit(bus: &Events, kind: &'static str, reason: &str) {
    bus.emit(NewEvent {
        kind,
        app: Some("default/web".into()),
        reason: reason.into(),
        message: format!("{kind} {reason}"),
        ..NewEvent::default()
    });
}

/// Guards hook deliveries: signed, in order, only the kinds asked for,
/// retried after a failure, and counted.
#[tokio::test]
async fn deliveries_are_signed_ordered_filtered_and_retried() {
    let receiver = Receiver::default();
    let url = serve(receiver.clone()).await;
    let bus = Events::default();
    emit(&bus, "task", "before-start");
    let hooks = parse(
        Path::new("hooks.yaml"),
        &format!("hooks:\n  - {{name: test, url: \"{url}\", kinds: [task], secret: {SECRET}}}\n"),
    )
    .expect("hooks");
    let (stop, stopped) = watch::channel(false);
    let metrics = crate::metrics::Metrics::default();
    let tasks = start(hooks, &bus, &metrics.hooks(), &stopped);
    emit(&bus, "task", "TASK_RUNNING");
    emit(&bus, "sync", "synced");
    emit(&bus, "task", "TASK_KILLED");

    for _ in 0..100 {
        if receiver.got.lock().expect("lock").len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let got = receiver.got.lock().expect("lock").clone();
    let reasons: Vec<String> = got
        .iter()
        .map(|(_, body)| {
            let e: Event = serde_json::from_slice(body).expect("an event");
            e.reason
        })
        .collect();
    assert_eq!(
        reasons,
        ["TASK_RUNNING", "TASK_KILLED"],
        "in order, tasks only, none from before the start"
    );
    for (headers, body) in &got {
        let signature = headers.get("x-sextant-signature-256").expect("signed").as_bytes();
        let check = |name: &str| (name == webhook::GITHUB_SIGNATURE).then_some(signature);
        webhook::verify(SECRET.as_bytes(), check, body).expect("a valid signature");
        assert_eq!(headers.get("x-sextant-event").map(|v| v.as_bytes()), Some(&b"task"[..]));
    }
    let hooks = metrics.hooks();
    assert_eq!(hooks.get("test", "delivered"), 2);
    assert_eq!(hooks.get("test", "retried"), 1);
    assert_eq!(hooks.get("test", "dropped"), 0);
    let text = crate::metrics::exposition::openmetrics(&metrics.registry()).expect("encode");
    assert!(
        text.contains("sextant_hook_deliveries_total{hook=\"test\",result=\"delivered\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("sextant_hook_deliveries_total{hook=\"test\",result=\"dropped\"} 0"),
        "declared at 0: {text}"
    );

    stop.send(true).expect("stop");
    for t in tasks {
        t.await.expect("join");
    }
}

#[test]
fn bad_hooks_files_say_what_is_wrong() {
    let bad = |text: &str| parse(Path::new("h.yaml"), text).expect_err("refused").to_string();
    assert!(bad("hooks: [{name: a, url: \"https://x/\", secret: aaaaaaaaaaaaaaaaaaaa}]").contains("only http://"));
    assert!(
        bad("hooks: [{name: a, url: \"http://x/\", kinds: [tasks], secret: aaaaaaaaaaaaaaaaaaaa}]")
            .contains("unknown kind \"tasks\"")
    );
    assert!(bad("hooks: [{name: a, url: \"http://x/\", secret: short}]").contains("at least 16"));
    assert!(bad("hooks: [{name: a, url: \"not a url\", secret: aaaaaaaaaaaaaaaaaaaa}]").contains("url"));
    assert!(bad("hooks: [{name: a}]").starts_with("h.yaml: "));
}
