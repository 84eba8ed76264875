//! The HTTP server: routing, the accept loop, and responses shaped like a
//! libprocess master's.
//!
//! Header names go out title-cased and `Date` comes first, as a real master
//! writes them; plain-text errors carry `Content-Type: text/plain;
//! charset=utf-8` and the bare message. Each connection is served by hyper's
//! HTTP/1.1 implementation directly (not `axum::serve`) so that these details
//! can be set.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::header::{ALLOW, CONTENT_LENGTH, CONTENT_TYPE, DATE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Extension, Router};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tracing::{debug, warn};

use crate::master::Master;
use crate::{auth, fault_api, files, operator, scheduler_api};

/// Largest body of a scheduler call from a subscribed framework (one
/// whose `Mesos-Stream-Id` names its current subscription): 4 MiB. An
/// ACCEPT launching 1,000 tasks as Sextant's agent builds them (command,
/// environment, resources, ports, labels, health check: about 1.5 KB each)
/// is about 1.5 MB (the 5 tasks of the agent's conformance test make a
/// 7.6 KB ACCEPT).
pub const SCHEDULER_BODY_LIMIT: usize = 4 * 1024 * 1024;
/// Largest body of a scheduler call without a current stream id (a
/// SUBSCRIBE, whose FrameworkInfo is small, or a call that will be
/// refused): 256 KiB. This is all a stranger can make the master read.
pub const SUBSCRIBE_BODY_LIMIT: usize = 256 * 1024;
/// Largest body on every other endpoint (forms of a few fields): 64 KiB.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Closes one HTTP connection from outside it: every request carries its
/// connection's handle as an extension, so that the event stream of a
/// subscriber that does not read can be cut off (see `event_stream`).
#[derive(Clone, Debug, Default)]
pub struct CloseConnection(Arc<Notify>);

impl CloseConnection {
    pub fn close(&self) {
        self.0.notify_one();
    }
}

/// `413 Payload Too Large`, naming the limit.
pub fn too_large(limit: usize, endpoint: &str, why: &str) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("Request body is larger than {limit} bytes, the most this master accepts on {endpoint}{why}"),
    )
}

/// The declared length of a request's body, if any.
pub fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// Refuses, before reading it, a body whose declared length is over
/// [`BODY_LIMIT`] (the scheduler endpoint applies its own limits); a
/// chunked body over it is refused by `DefaultBodyLimit` while read.
async fn limit_declared_bodies(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let path = request.uri().path();
    if path != "/api/v1/scheduler" && content_length(request.headers()).is_some_and(|len| len > BODY_LIMIT as u64) {
        let endpoint = path.to_string();
        return too_large(BODY_LIMIT, &endpoint, "").into_response();
    }
    next.run(request).await
}

/// A plain-text error response, as libprocess writes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        text_response(self.status, self.message)
    }
}

/// A response with a plain-text body (none if `message` is empty).
pub fn text_response(status: StatusCode, message: String) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    if !message.is_empty() {
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
        *response.body_mut() = Body::from(message);
    }
    response
}

/// `405 Method Not Allowed` with `Allow` and libprocess' text.
pub fn method_not_allowed(allowed: &[&str], method: &Method) -> Response {
    let list: Vec<String> = allowed.iter().map(|m| format!("'{m}'")).collect();
    let body = format!(
        "405 Method Not Allowed. Expecting one of {{ {} }}, but received '{}'.",
        list.join(", "),
        method.as_str()
    );
    let mut response = text_response(StatusCode::METHOD_NOT_ALLOWED, body);
    let old = std::mem::take(response.headers_mut());
    if let Ok(value) = HeaderValue::from_str(&allowed.join(", ")) {
        response.headers_mut().insert(ALLOW, value);
    }
    response.headers_mut().extend(old);
    response
}

/// `200 OK` with a JSON body, headers ordered like the master's `/version`.
pub fn json_response(value: &serde_json::Value) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    let length = body.len();
    let mut response = Response::new(Body::from(body));
    let headers = response.headers_mut();
    headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// An empty response with the given status (`Content-Length: 0`).
pub fn empty_response(status: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}

/// Puts `Date` first, as libprocess does (hyper would append it last).
async fn date_first(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let old = std::mem::take(&mut parts.headers);
    let mut headers = HeaderMap::with_capacity(old.len() + 1);
    if let Ok(date) = HeaderValue::from_str(&httpdate::fmt_http_date(SystemTime::now())) {
        headers.insert(DATE, date);
    }
    headers.extend(old);
    parts.headers = headers;
    Response::from_parts(parts, body)
}

/// The master's routes. Endpoints answer at the root and under `/master/`
/// as the captured master does; the nodes' `/files` endpoints share the
/// port, as the offers' `url` says.
pub fn router(master: Arc<Master>) -> Router {
    // The endpoints that change state: credentials with
    // `--authenticate-http-readwrite`.
    let readwrite = Router::new()
        .route("/teardown", any(operator::teardown))
        .route("/master/teardown", any(operator::teardown))
        .route("/fault/partition", any(fault_api::partition))
        .route("/fault/heal", any(fault_api::heal))
        .route("/fault/remove-node", any(fault_api::remove_node))
        .route("/fault/restart-master", any(fault_api::restart_master))
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(&master),
            auth::require_readwrite,
        ));
    Router::new()
        .route("/api/v1/scheduler", any(scheduler_api::handle))
        .route("/version", any(operator::version))
        .route("/health", any(operator::health))
        .route("/master/health", any(operator::health))
        .route("/redirect", any(operator::redirect))
        .route("/master/redirect", any(operator::redirect))
        .route("/state", any(operator::state))
        .route("/master/state", any(operator::state))
        .route("/state.json", any(operator::state))
        .route("/master/state.json", any(operator::state))
        .route("/frameworks", any(operator::frameworks))
        .route("/master/frameworks", any(operator::frameworks))
        .route("/tasks", any(operator::tasks))
        .route("/master/tasks", any(operator::tasks))
        .route("/slaves", any(operator::slaves))
        .route("/master/slaves", any(operator::slaves))
        .route("/metrics/snapshot", any(operator::metrics))
        .route("/files/read", any(files::read))
        .route("/files/read.json", any(files::read))
        .route("/files/browse", any(files::browse))
        .route("/files/browse.json", any(files::browse))
        .merge(readwrite)
        .fallback(|| async { empty_response(StatusCode::NOT_FOUND) })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn(limit_declared_bodies))
        .layer(axum::middleware::map_response(date_first))
        .with_state(master)
}

/// Accepts connections until `shutdown` flips, then drops the listener
/// and every open connection (which ends every event stream).
pub async fn serve(listener: TcpListener, router: Router, mut shutdown: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        tokio::select! {
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
            }
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        warn!(%error, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let close = CloseConnection::default();
                let service = TowerToHyperService::new(router.clone().layer(Extension(close.clone())));
                connections.spawn(async move {
                    let connection = hyper::server::conn::http1::Builder::new()
                        .title_case_headers(true)
                        .timer(TokioTimer::new())
                        .serve_connection(TokioIo::new(stream), service);
                    tokio::select! {
                        ended = connection => {
                            if let Err(error) = ended {
                                debug!(%peer, %error, "connection ended with an error");
                            }
                        }
                        () = close.0.notified() => debug!(%peer, "connection closed by the master"),
                    }
                });
            }
        }
    }
    drop(listener);
    connections.abort_all();
    while connections.join_next().await.is_some() {}
}
