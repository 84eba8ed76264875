//! `GET /api/v1/events`: the event bus (`crate::events`) over HTTP.
//!
//! - With `Accept: text/event-stream`: a server-sent event stream, each
//!   event as `id: N`, `event: <kind>`, `data: <Event as JSON>`; first the
//!   held events after `Last-Event-ID` (or `?after=N`), then live ones. A
//!   reader that falls too far behind is cut off, and resumes with
//!   `Last-Event-ID`.
//! - Otherwise: the held events as a JSON array (for `sextant get events`).
//! - `?app=namespace/name` and `?kind=task,condition` filter both.

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
        .unwrap_or(0);
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
