//! A Mesos master stand-in over real loopback HTTP, for what localmesos
//! cannot show: it records every scheduler call (its `Authorization` and
//! body), answers SUBSCRIBE with SUBSCRIBED for a framework id of the
//! test's choosing and keeps the stream open, and accepts other calls.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use futures::StreamExt as _;

/// One call as the stand-in saw it: its `Authorization` and its body.
pub type Seen = Arc<Mutex<Vec<(Option<String>, serde_json::Value)>>>;

async fn scheduler(seen: Seen, framework_id: String, headers: HeaderMap, body: String) -> Response {
    let call: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let subscribe = call["type"] == "SUBSCRIBE";
    seen.lock().unwrap().push((authorization, call));
    if !subscribe {
        return Response::builder()
            .status(StatusCode::ACCEPTED)
            .body(Body::empty())
            .unwrap();
    }
    let event = serde_json::json!({
        "type": "SUBSCRIBED",
        "subscribed": {"framework_id": {"value": framework_id}, "heartbeat_interval_seconds": 15.0}
    })
    .to_string();
    let record = format!("{}\n{event}", event.len());
    // The SUBSCRIBED record, then a stream that stays open.
    let stream =
        futures::stream::once(async move { Ok::<_, std::io::Error>(record) }).chain(futures::stream::pending());
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .header("Mesos-Stream-Id", "stream-1")
        .body(Body::from_stream(stream))
        .unwrap()
}

/// Serves the stand-in; returns its URL, what it saw, and its task.
pub async fn serve(framework_id: &str) -> (String, Seen, tokio::task::JoinHandle<std::io::Result<()>>) {
    let seen: Seen = Arc::default();
    let framework_id = framework_id.to_string();
    let app = axum::Router::new().route(
        "/api/v1/scheduler",
        axum::routing::post({
            let seen = Arc::clone(&seen);
            move |headers: HeaderMap, body: String| scheduler(Arc::clone(&seen), framework_id.clone(), headers, body)
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen, server)
}
