//! `POST /api/v1/scheduler`: the HTTP checks of a Mesos master in their
//! order (authentication when `--authenticate-frameworks` is on, method,
//! `Content-Type`, body, Call validation, then for SUBSCRIBE `Accept`, the
//! absent stream id and the principal), and the SUBSCRIBE event stream.
//!
//! The body is read only after the headers passed, and only up to its
//! limit (`http::SCHEDULER_BODY_LIMIT` when the `Mesos-Stream-Id` names a
//! current subscription, else `http::SUBSCRIBE_BODY_LIMIT`); over it the
//! answer is `413` naming the limit.
//!
//! The stream is `200 OK` with `Transfer-Encoding: chunked`,
//! `Mesos-Stream-Id` and `Content-Type: application/json`; every RecordIO
//! record is sent as its own HTTP chunk. When the client goes away the body
//! is dropped, which tells the master the framework disconnected.
//!
//! Only JSON is spoken: a `Content-Type: application/x-protobuf` body is
//! answered `415`, and a SUBSCRIBE that accepts only protobuf `406`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{ACCEPT, CONTENT_TYPE, TRANSFER_ENCODING};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use mesos::types::{CallType, Subscribe};

use crate::auth::Realm;
use crate::call::{self, CallRejected};
use crate::event_stream::{self, EventBody, StreamGuard};
use crate::http::{
    ApiError, CloseConnection, SCHEDULER_BODY_LIMIT, SUBSCRIBE_BODY_LIMIT, content_length, empty_response,
    json_response, method_not_allowed, too_large,
};
use crate::master::Master;
use crate::master::calls::CallOutcome;
use crate::memory;

pub const STREAM_ID_HEADER: &str = "mesos-stream-id";
const APPLICATION_JSON: &str = "application/json";
const APPLICATION_PROTOBUF: &str = "application/x-protobuf";

pub async fn handle(State(master): State<Arc<Master>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    // libprocess authenticates before the endpoint sees the request.
    let principal = match master.auth.authenticate(Realm::Scheduler, headers) {
        Ok(principal) => principal,
        Err(unauthorized) => return unauthorized.into_response(),
    };
    if parts.method != Method::POST {
        return method_not_allowed(&["POST"], &parts.method);
    }
    let Some(content_type) = headers.get(CONTENT_TYPE) else {
        return ApiError::bad_request("Expecting 'Content-Type' to be present").into_response();
    };
    // A plain string comparison, as the master does: parameters → 415.
    if content_type.as_bytes() == APPLICATION_PROTOBUF.as_bytes() {
        return ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Expecting 'Content-Type' of application/json (localmesos does not accept application/x-protobuf)",
        )
        .into_response();
    }
    if content_type.as_bytes() != APPLICATION_JSON.as_bytes() {
        return ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Expecting 'Content-Type' of application/json or application/x-protobuf",
        )
        .into_response();
    }
    let stream_id = headers
        .get(STREAM_ID_HEADER)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let body = match read_body(&master, headers, stream_id.as_deref(), body).await {
        Ok(body) => body,
        Err(error) => return error.into_response(),
    };
    let large = body.len() >= memory::TRIM_AFTER;
    let parsed = call::parse(&body);
    drop(body);
    let response = match parsed {
        Ok(parsed) => answer(master, &parts, principal, stream_id, parsed),
        Err(CallRejected(message)) => ApiError::bad_request(message).into_response(),
    };
    if large {
        memory::release();
    }
    response
}

/// Answers a parsed call.
fn answer(
    master: Arc<Master>,
    parts: &axum::http::request::Parts,
    principal: Option<String>,
    stream_id: Option<String>,
    parsed: call::ParsedCall,
) -> Response {
    let headers = &parts.headers;

    if parsed.call.kind == CallType::Subscribe {
        if !accepts(headers, APPLICATION_JSON) {
            let message = if accepts(headers, APPLICATION_PROTOBUF) {
                "Expecting 'Accept' to allow 'application/json' (localmesos does not stream application/x-protobuf)"
            } else {
                "Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'"
            };
            return ApiError::new(StatusCode::NOT_ACCEPTABLE, message).into_response();
        }
        if stream_id.is_some() {
            return ApiError::bad_request("Subscribe calls should not include the 'Mesos-Stream-Id' header")
                .into_response();
        }
        let Some(mut subscribe) = parsed.call.subscribe else {
            return ApiError::bad_request("Failed to validate scheduler::Call: Expecting 'subscribe' to be present")
                .into_response();
        };
        if let Some(principal) = principal {
            // An authenticated framework may leave out its principal; the
            // master then records the authenticated one.
            let info = &mut subscribe.framework_info;
            match &info.principal {
                None => info.principal = Some(principal),
                Some(claimed) if *claimed != principal => {
                    return ApiError::bad_request(format!(
                        "Authenticated principal '{principal}' does not match principal '{claimed}' set in `FrameworkInfo`"
                    ))
                    .into_response();
                }
                Some(_) => {}
            }
        }
        let close = parts.extensions.get::<CloseConnection>().cloned();
        return subscribe_response(master, subscribe, close);
    }

    match master.call(parsed, stream_id.as_deref(), principal.as_deref()) {
        Ok(CallOutcome::Accepted) => empty_response(StatusCode::ACCEPTED),
        Ok(CallOutcome::Ok) => empty_response(StatusCode::OK),
        Ok(CallOutcome::Json(value)) => json_response(&value),
        Ok(CallOutcome::NotImplemented) => empty_response(StatusCode::NOT_IMPLEMENTED),
        Err(error) => error.into_response(),
    }
}

/// Reads the body within its limit: [`SCHEDULER_BODY_LIMIT`] for a call
/// whose stream id is a current subscription's, [`SUBSCRIBE_BODY_LIMIT`]
/// otherwise. A declared length over the limit is refused before any of
/// the body is read; a chunked body as soon as it passes the limit.
async fn read_body(
    master: &Master,
    headers: &HeaderMap,
    stream_id: Option<&str>,
    body: Body,
) -> Result<Vec<u8>, ApiError> {
    let subscribed = stream_id.is_some_and(|id| master.is_current_stream(id));
    let (limit, why) = if subscribed {
        (SCHEDULER_BODY_LIMIT, " (4 MiB for a subscribed framework's calls)")
    } else {
        (
            SUBSCRIBE_BODY_LIMIT,
            " without the 'Mesos-Stream-Id' of a current subscription (256 KiB; 4 MiB for a subscribed framework's calls)",
        )
    };
    let refuse = || too_large(limit, "/api/v1/scheduler", why);
    let declared = content_length(headers);
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(refuse());
    }
    let capacity = declared.and_then(|len| usize::try_from(len).ok()).unwrap_or(0);
    let mut buffer = Vec::with_capacity(capacity);
    let mut frames = body.into_data_stream();
    while let Some(frame) = frames.next().await {
        let Ok(chunk) = frame else {
            return Err(ApiError::bad_request("Failed to read the request body"));
        };
        if buffer.len() + chunk.len() > limit {
            return Err(refuse());
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok(buffer)
}

fn subscribe_response(master: Arc<Master>, subscribe: Subscribe, close: Option<CloseConnection>) -> Response {
    let (tx, rx, shared) = event_stream::channel(master.stream_limits, close);
    let stream_id = uuid::Uuid::new_v4().to_string();
    let framework_id = master.subscribe(subscribe.framework_info, subscribe.suppressed_roles, &stream_id, tx);
    let guard = StreamGuard {
        master: Arc::downgrade(&master),
        framework_id,
        stream_id: stream_id.clone(),
    };
    let body = EventBody::new(rx, shared, guard);
    let mut response = Response::new(Body::from_stream(body));
    let headers = response.headers_mut();
    headers.insert(TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
    if let Ok(value) = HeaderValue::from_str(&stream_id) {
        headers.insert(STREAM_ID_HEADER, value);
    }
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(APPLICATION_JSON));
    response
}

/// libprocess' `Request::acceptsMediaType`: no `Accept` accepts all; else
/// the most specific matching media range decides, and `q=0` refuses.
fn accepts(headers: &HeaderMap, media: &str) -> bool {
    let values: Vec<&str> = headers.get_all(ACCEPT).iter().filter_map(|v| v.to_str().ok()).collect();
    if values.iter().all(|v| v.trim().is_empty()) {
        return true;
    }
    let Some((kind, subtype)) = media.split_once('/') else {
        return false;
    };
    let mut best: Option<(u8, f64)> = None;
    for entry in values.iter().flat_map(|v| v.split(',')) {
        let mut parts = entry.split(';');
        let range = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let Some((range_kind, range_subtype)) = range.split_once('/') else {
            continue;
        };
        let q = parts
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
            .and_then(|(_, v)| v.trim().parse::<f64>().ok())
            .unwrap_or(1.0);
        let specificity = match (range_kind.trim(), range_subtype.trim()) {
            ("*", "*") => 1,
            (k, "*") if k == kind => 2,
            (k, s) if k == kind && s == subtype => 3,
            _ => continue,
        };
        if best.is_none_or(|(s, _)| specificity > s) {
            best = Some((specificity, q));
        }
    }
    best.is_some_and(|(_, q)| q > 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_str(value).expect("header"));
        headers
    }

    #[test]
    fn accept_negotiation() {
        assert!(accepts(&HeaderMap::new(), APPLICATION_JSON));
        assert!(accepts(&with_accept("*/*"), APPLICATION_JSON));
        assert!(accepts(&with_accept("application/*"), APPLICATION_JSON));
        assert!(accepts(&with_accept("Application/JSON"), APPLICATION_JSON));
        assert!(!accepts(&with_accept("text/html"), APPLICATION_JSON));
        assert!(!accepts(&with_accept("application/json;q=0, */*"), APPLICATION_JSON));
        assert!(accepts(
            &with_accept("text/html, application/json;q=0.5"),
            APPLICATION_JSON
        ));
    }
}
