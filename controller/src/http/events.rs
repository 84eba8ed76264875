//! `GET /api/v1/events`: the event bus (`crate::events`) over HTTP.
//!
//! - With `Accept: text/event-stream`: a server-sent event stream, each
//!   event as `id: N`, `event: <kind>`, `data: <Event as JSON>`; first the
//!   held events after `Last-Event-ID` (or `?after=N`), then live ones. A
//!   reader that falls too far behind is cut off, and resumes with
//!   `Last-Event-ID`.
//! - Otherwise: the held events as a JSON array (for `sextant get events`).
//! - `?app=namespace/name` and `?kind=task,condition` filter both.
//! - `?live=true` (without `after` or `Last-Event-ID`): none of the held
//!   events, only those from now on (a page that has just read the state,
//!   such as the web UI's, wants no replay).

use std::convert::Infallible;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde::Deserialize;
use tokio_stream::wrappers::BroadcastStream;

use crate::events::{Event, Events, Filter};

/// The query of `GET /api/v1/events`.
#[derive(Debug, Default, Deserialize)]
pub struct EventsQuery {
    /// Only this app.
    pub app: Option<String>,
    /// Only these kinds, comma-separated.
    pub kind: Option<String>,
    /// Only events after this id (`Last-Event-ID` wins).
    pub after: Option<u64>,
    /// Without `after` or `Last-Event-ID`: only events from now on.
    #[serde(default)]
    pub live: bool,
}

/// The handler.
pub async fn events(State(bus): State<Events>, headers: HeaderMap, Query(q): Query<EventsQuery>) -> Response {
    let filter = Filter {
        app: q.app.filter(|a| !a.is_empty()),
        kinds: sextant_api::wire::event_kinds(q.kind.as_deref()),
    };
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .or(q.after)
        .unwrap_or_else(|| if q.live { bus.last_id() } else { 0 });
    let stream = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"));
    let (held, live) = bus.subscribe(after, &filter);
    if !stream {
        let list: Vec<Event> = held.iter().map(|e| Event::clone(e)).collect();
        return Json(list).into_response();
    }
    let last_held = held.last().map_or(after, |e| e.id);
    let held = futures::stream::iter(held);
    // Live events: those not already sent from the buffer, filtered; a
    // reader that lagged is cut off (it resumes with Last-Event-ID).
    let live = BroadcastStream::new(live)
        .take_while(|r| std::future::ready(r.is_ok()))
        .filter_map(move |r| {
            let keep = r.ok().filter(|e| e.id > last_held && filter.admits(e));
            std::future::ready(keep)
        });
    let events = held.chain(live).map(|e| {
        let sse = SseEvent::default()
            .id(e.id.to_string())
            .event(e.kind.clone())
            .json_data(&*e)
            .unwrap_or_else(|_| SseEvent::default().comment("an event could not be encoded"));
        Ok::<_, Infallible>(sse)
    });
    Sse::new(events).keep_alive(KeepAlive::default()).into_response()
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::routing::get;

    use crate::events::{Events, NewEvent};

    fn emit(bus: &Events, message: &str) {
        bus.emit(NewEvent {
            kind: "desired",
            app: Some("default/web".into()),
            task: None,
            source: None,
            reason: "Created".into(),
            message: message.into(),
        });
    }

    /// Guards the web UI's stream: `live=true` replays nothing held, then
    /// sends what happens next.
    #[tokio::test]
    async fn live_skips_the_held_events() {
        let bus = Events::default();
        emit(&bus, "before");
        let router = Router::new()
            .route("/api/v1/events", get(super::events))
            .with_state(bus.clone());
        let base = crate::http::test_api::serve_router(router).await;
        let http = reqwest::Client::new();
        let list: Vec<sextant_api::wire::Event> = http
            .get(format!("{base}/api/v1/events?live=true"))
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json");
        assert!(list.is_empty(), "{list:?}");
        let mut stream = http
            .get(format!("{base}/api/v1/events?live=true"))
            .header("accept", "text/event-stream")
            .send()
            .await
            .expect("stream");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        emit(&bus, "after");
        let mut text = String::new();
        while !text.contains("\n\n") {
            let chunk = tokio::time::timeout(std::time::Duration::from_secs(5), stream.chunk())
                .await
                .expect("in time")
                .expect("chunk")
                .expect("more");
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
        assert!(text.contains("\"after\"") && !text.contains("\"before\""), "{text}");
    }
}
