//! `GET /api/v1/metrics/history[?series=a,b&since=T]`: the metrics'
//! recent past kept by `crate::metrics::history`, for the UI's graphs and
//! any other tool. Without `series`, only the list of names.

use axum::Router;
use axum::extract::{Query, State};
use axum::routing::get;
use serde::Deserialize;
use sextant_api::wire::{ErrorCode, HistoryView, SeriesView};

use super::error::ApiError;
use super::openapi::documented;
use crate::metrics::history::{History, MAX_POINTS};

/// The most series one request may ask for.
pub const MAX_ASKED: usize = 64;

/// The route, over `history`.
pub fn routes(history: History) -> Router {
    Router::new()
        .route(documented("GET", "/api/v1/metrics/history"), get(history_of))
        .with_state(history)
}

/// The query.
#[derive(Debug, Default, Deserialize)]
struct HistoryQuery {
    /// Names, comma-separated.
    series: Option<String>,
    /// Only points after this time (Unix seconds).
    since: Option<f64>,
}

async fn history_of(
    State(history): State<History>,
    query: Result<Query<HistoryQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<axum::Json<HistoryView>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::new(ErrorCode::BadRequest, format!("bad query: {}", e.body_text())))?;
    let asked: Vec<&str> = q
        .series
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if asked.len() > MAX_ASKED {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            format!("series: {} names asked, at most {MAX_ASKED}", asked.len()),
        ));
    }
    let since = q.since.unwrap_or(f64::NEG_INFINITY);
    let mut series = Vec::with_capacity(asked.len());
    for name in asked {
        let Some(points) = history.points(name, since) else {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                format!("no series {name:?} in the history (GET /api/v1/metrics/history lists them)"),
            ));
        };
        series.push(SeriesView {
            name: name.to_string(),
            points: points.into_iter().map(|(t, v)| [t, v]).collect(),
        });
    }
    Ok(axum::Json(HistoryView {
        interval_seconds: history.interval().as_secs_f64(),
        max_points: MAX_POINTS,
        names: history.names(),
        series,
    }))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use sextant_api::wire::ErrorBody;

    use crate::http::test_api::{Options, serve};
    use crate::metrics::Metrics;

    /// Guards the graphs page's source: names listed, points after
    /// `since`, an unknown name refused naming it, through the whole API.
    #[tokio::test]
    async fn the_history_lists_series_and_serves_their_points() {
        let metrics = Metrics::default();
        let history = metrics.history();
        let vars = |v: f64| BTreeMap::from([("a_total".to_string(), v), ("b".to_string(), 2.0 * v)]);
        history.record(100.0, &vars(1.0));
        history.record(110.0, &vars(2.0));
        let served = serve(Options {
            metrics,
            ..Default::default()
        })
        .await;
        let http = reqwest::Client::new();
        let view: sextant_api::wire::HistoryView = http
            .get(format!("{}/api/v1/metrics/history", served.base))
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json");
        assert_eq!(view.names, ["a_total", "b"]);
        assert!(view.series.is_empty());
        assert_eq!(view.interval_seconds, 10.0);

        let view: sextant_api::wire::HistoryView = http
            .get(format!(
                "{}/api/v1/metrics/history?series=b,a_total&since=100",
                served.base
            ))
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json");
        assert_eq!(view.series.len(), 2);
        assert_eq!(view.series[0].name, "b");
        assert_eq!(view.series[0].points, vec![[110.0, 4.0]]);
        assert_eq!(view.series[1].points, vec![[110.0, 2.0]]);

        let resp = http
            .get(format!("{}/api/v1/metrics/history?series=nope", served.base))
            .send()
            .await
            .expect("get");
        assert_eq!(resp.status(), 404);
        let err: ErrorBody = resp.json().await.expect("json");
        assert!(err.message.contains("\"nope\""), "{}", err.message);
    }
}
