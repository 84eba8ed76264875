//! The metrics over HTTP: `GET /metrics`, `GET /vars` and `GET
//! /vars.json` of one registry ([`routes`]), the middleware that counts
//! the API's requests by route template ([`count_requests`]), and a small
//! server for a process that has no API (the standalone agent, [`serve`]).
//!
//! - `GET /metrics`: the OpenMetrics text format when the scraper asks for
//!   it (`Accept: application/openmetrics-text`, as Prometheus does), else
//!   the Prometheus text format 0.0.4
//! - `GET /vars` (`?format=json` too) and `GET /vars.json`: Aurora style,
//!   see `crate::metrics::exposition`
//!
//! Under the API these routes sit behind the same access check as every
//! read (`auth`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::registry::Registry;
use serde::Deserialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::openapi::documented;
use crate::metrics::{Metrics, exposition};

/// The route label of a request no route matched.
pub const UNMATCHED: &str = "unmatched";

/// `/metrics`, `/vars` and `/vars.json` of `registry`.
pub fn routes(registry: Arc<Registry>) -> Router {
    Router::new()
        .route(documented("GET", "/metrics"), get(metrics))
        .route(documented("GET", "/vars"), get(vars))
        .route(documented("GET", "/vars.json"), get(vars_json))
        .with_state(registry)
}

fn failed(e: exposition::EncodeError) -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()
}

async fn metrics(State(registry): State<Arc<Registry>>, headers: HeaderMap) -> Response {
    let openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    let (body, content_type) = if openmetrics {
        (exposition::openmetrics(&registry), exposition::OPENMETRICS)
    } else {
        (exposition::prometheus(&registry), exposition::PROMETHEUS_TEXT)
    };
    match body {
        Ok(body) => ([(header::CONTENT_TYPE, content_type)], body).into_response(),
        Err(e) => failed(e),
    }
}

/// `/vars`' query.
#[derive(Deserialize)]
struct VarsQuery {
    /// `json` for `/vars.json`'s answer.
    format: Option<String>,
}

async fn vars(State(registry): State<Arc<Registry>>, Query(q): Query<VarsQuery>) -> Response {
    if q.format.as_deref() == Some("json") {
        return vars_json(State(registry)).await;
    }
    match exposition::vars(&registry) {
        Ok(vars) => (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            exposition::vars_text(&vars),
        )
            .into_response(),
        Err(e) => failed(e),
    }
}

async fn vars_json(State(registry): State<Arc<Registry>>) -> Response {
    match exposition::vars(&registry) {
        Ok(vars) => axum::Json(exposition::vars_json(&vars)).into_response(),
        Err(e) => failed(e),
    }
}

/// The method as a label: the usual ones, or `other` (a client cannot
/// grow the label set).
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The middleware: counts each request by method, route template (never
/// the raw path) and status code, and times it to the response's head.
pub async fn count_requests(State(metrics): State<Metrics>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED, MatchedPath::as_str)
        .to_string();
    let method = method_label(req.method());
    let started = Instant::now();
    let response = next.run(req).await;
    metrics.request(method, &route, response.status().as_u16(), started.elapsed());
    response
}

/// A metrics server on its own address.
#[derive(Debug)]
pub struct MetricsServer {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl MetricsServer {
    /// The address it is bound to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }
}

/// Serves [`routes`] of `registry` on `addr` (no access check: bind it
/// where only scrapers reach).
pub async fn serve(addr: SocketAddr, registry: Arc<Registry>) -> std::io::Result<MetricsServer> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let (shutdown, mut stop) = watch::channel(false);
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, routes(registry))
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "the metrics server failed");
        }
    });
    Ok(MetricsServer { addr, shutdown, task })
}

#[cfg(test)]
mod tests;
