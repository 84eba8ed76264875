//! The API's writes: apply, diff and delete (the `apply` source), the git
//! webhook and the sync trigger. Each goes through the journal first (the
//! index follows from its announcement), and each refusal says why.
//!
//! - `POST /api/v1/apply[?dryRun=true]`, body: multi-document YAML or JSON
//!   -> 200 `ApplyResult`; 422 `InvalidManifest` with `details.errors`
//!   when the text does not load; 409 `Conflict` with the `ApplyResult` in
//!   `details` when an object is owned by another source (nothing is
//!   applied)
//! - `POST /api/v1/diff`, same body -> 200 `ApplyResult` with diffs
//! - `DELETE /api/v1/apps/{namespace}/{name}` -> 200; 404; 409 when a
//!   directory or repository owns the app
//! - `POST /api/v1/apps/{namespace}/{name}/scale`, body `{"instances": N}`
//!   -> 200 `ObjectResult`; 404; 409 when a directory or repository owns it;
//!   422 over the maximum
//! - `POST /api/v1/hooks/git` -> 202 (a git sync starts); 401 for a
//!   missing or wrong signature; 404 when no git source or no secret is set
//! - `POST /api/v1/sources/sync` -> 202 (every git source fetches now)
//!
//! Every error is `{code, message, details}` (`error.rs`).

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use serde::Deserialize;
use tokio::sync::Notify;
use tracing::{info, warn};

use super::error::ApiError;
use super::openapi::documented;
use crate::source::apply::{self, ApplyError, DeleteError};
use crate::source::sync::Configured;
use crate::source::webhook;
use crate::store::Store;
use sextant_api::wire::{ApplyResult, DeletedView, ErrorCode, LocatedError, Outcome, ScaleRequest, TriggeredView};

/// Largest request body accepted by the write endpoints: one manifest
/// file's limit, and a little for JSON framing.
const MAX_BODY: usize = sextant_api::load::MAX_FILE_BYTES as usize + 64 * 1024;

/// What the write endpoints need.
#[derive(Clone, Debug)]
pub struct Writes {
    /// The journal.
    pub store: Store,
    /// The sources that run.
    pub configured: Configured,
    /// One trigger per git source.
    pub git_triggers: Vec<Arc<Notify>>,
    /// The webhook's shared secret (`--webhook-secret-file`).
    pub webhook_secret: Option<Arc<Vec<u8>>>,
}

/// Query of apply.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApplyQuery {
    #[serde(default)]
    dry_run: bool,
}

/// The write routes.
pub fn routes(writes: Writes) -> Router {
    Router::new()
        .route(documented("POST", "/api/v1/apply"), post(apply_objects))
        .route(documented("POST", "/api/v1/diff"), post(diff_objects))
        .route(
            documented("DELETE", "/api/v1/apps/{namespace}/{name}"),
            delete(delete_app),
        )
        .route(
            documented("POST", "/api/v1/apps/{namespace}/{name}/scale"),
            post(scale_app),
        )
        .route(documented("POST", "/api/v1/hooks/git"), post(git_hook))
        .route(documented("POST", "/api/v1/sources/sync"), post(sync_now))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(writes)
}

fn error(code: ErrorCode, message: impl Into<String>) -> Response {
    ApiError::new(code, message).into_response()
}

/// The body, or the refusal of one too large (413) or broken off (400),
/// in the API's error shape rather than axum's plain text.
fn read_body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        let code = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ErrorCode::PayloadTooLarge
        } else {
            ErrorCode::BadRequest
        };
        let message = if code == ErrorCode::PayloadTooLarge {
            format!("the body is larger than {MAX_BODY} bytes (one manifest file's limit)")
        } else {
            format!("the body could not be read: {}", rejection.body_text())
        };
        ApiError::new(code, message)
    })
}

/// The body as text, or why it is not (for a 400).
fn text_of(body: &Bytes) -> Result<String, String> {
    String::from_utf8(body.to_vec()).map_err(|e| {
        format!(
            "the body is not valid UTF-8 (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

fn apply_error(e: ApplyError) -> Response {
    match e {
        ApplyError::Invalid(errors) => {
            let located: Vec<LocatedError> = errors
                .0
                .iter()
                .map(|e| LocatedError {
                    file: e.file.display().to_string(),
                    line: e.line,
                    col: e.col,
                    field: e.field.clone(),
                    message: e.message.clone(),
                })
                .collect();
            ApiError::new(ErrorCode::InvalidManifest, errors.to_string())
                .with_details(serde_json::json!({ "errors": located }))
                .into_response()
        }
        ApplyError::Empty => error(ErrorCode::InvalidManifest, e.to_string()),
        ApplyError::Store(e) => error(ErrorCode::Internal, e.to_string()),
    }
}

async fn apply_objects(
    State(w): State<Writes>,
    Query(q): Query<ApplyQuery>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match read_body(body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let text = match text_of(&body) {
        Ok(t) => t,
        Err(why) => return error(ErrorCode::BadRequest, why),
    };
    let done = tokio::task::spawn_blocking(move || apply::apply(&w.store, &w.configured, &text, q.dry_run)).await;
    match done {
        Ok(Ok(result)) => {
            let refused = result.objects.iter().any(|o| o.outcome == Outcome::Error);
            if result.applied {
                let changed: Vec<String> = result
                    .objects
                    .iter()
                    .filter(|o| o.outcome != Outcome::Unchanged)
                    .map(|o| format!("{}/{}", o.namespace, o.name))
                    .collect();
                if !changed.is_empty() {
                    info!(apps = ?changed, "applied");
                }
            }
            if refused {
                return refused_apply(result);
            }
            Json(result).into_response()
        }
        Ok(Err(e)) => apply_error(e),
        Err(e) => error(ErrorCode::Internal, format!("apply failed: {e}")),
    }
}

/// A refused apply: nothing was written. The message names each refused
/// object and why; `details` is the per-object result.
fn refused_apply(result: ApplyResult) -> Response {
    let why: Vec<String> = result
        .objects
        .iter()
        .filter(|o| o.outcome == Outcome::Error)
        .map(|o| {
            format!(
                "{}/{}: {}",
                o.namespace,
                o.name,
                o.message.as_deref().unwrap_or("refused")
            )
        })
        .collect();
    let details = serde_json::to_value(&result).unwrap_or_default();
    ApiError::new(ErrorCode::Conflict, format!("nothing was applied: {}", why.join("; ")))
        .with_details(details)
        .into_response()
}

async fn diff_objects(State(w): State<Writes>, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match read_body(body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let text = match text_of(&body) {
        Ok(t) => t,
        Err(why) => return error(ErrorCode::BadRequest, why),
    };
    match tokio::task::spawn_blocking(move || apply::diff(&w.store, &w.configured, &text)).await {
        Ok(Ok(result)) => Json(result).into_response(),
        Ok(Err(e)) => apply_error(e),
        Err(e) => error(ErrorCode::Internal, format!("diff failed: {e}")),
    }
}

async fn delete_app(State(w): State<Writes>, Path((namespace, name)): Path<(String, String)>) -> Response {
    let (ns, n) = (namespace.clone(), name.clone());
    match tokio::task::spawn_blocking(move || apply::delete(&w.store, &w.configured, &ns, &n)).await {
        Ok(Ok(())) => {
            let key = sextant_api::app_key(&namespace, &name);
            info!(app = %key, "deleted; its tasks will be killed");
            Json(DeletedView { deleted: key }).into_response()
        }
        Ok(Err(e @ DeleteError::NotFound(_))) => error(ErrorCode::NotFound, e.to_string()),
        Ok(Err(e @ DeleteError::Owned(_))) => error(ErrorCode::Conflict, e.to_string()),
        Ok(Err(e)) => error(ErrorCode::Internal, e.to_string()),
        Err(e) => error(ErrorCode::Internal, format!("delete failed: {e}")),
    }
}

async fn scale_app(
    State(w): State<Writes>,
    Path((namespace, name)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match read_body(body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let req: ScaleRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(ErrorCode::BadRequest, format!("expected {{\"instances\": N}}: {e}")),
    };
    let done = tokio::task::spawn_blocking(move || apply::scale(&w.store, &namespace, &name, req.instances)).await;
    match done {
        Ok(Ok(result)) => {
            info!(app = %format!("{}/{}", result.namespace, result.name), instances = req.instances, "scaled");
            Json(result).into_response()
        }
        Ok(Err(e @ apply::ScaleError::NotFound(_))) => error(ErrorCode::NotFound, e.to_string()),
        Ok(Err(e @ apply::ScaleError::Owned(_))) => error(ErrorCode::Conflict, e.to_string()),
        Ok(Err(e @ apply::ScaleError::TooMany { .. })) => error(ErrorCode::InvalidManifest, e.to_string()),
        Ok(Err(e @ apply::ScaleError::OverQuota(_))) => error(ErrorCode::OverLimit, e.to_string()),
        Ok(Err(e)) => error(ErrorCode::Internal, e.to_string()),
        Err(e) => error(ErrorCode::Internal, format!("scale failed: {e}")),
    }
}

async fn git_hook(State(w): State<Writes>, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match read_body(body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    if w.git_triggers.is_empty() {
        return error(
            ErrorCode::NotConfigured,
            "no git source is configured here (start the controller with --git URL)",
        );
    }
    let Some(secret) = &w.webhook_secret else {
        return error(
            ErrorCode::NotConfigured,
            "webhooks are off: start the controller with --webhook-secret-file FILE",
        );
    };
    let header = |name: &str| headers.get(name).map(|v| v.as_bytes());
    match webhook::verify(secret, header, &body) {
        Ok(signer) => {
            info!(signer = ?signer, "git webhook verified; syncing now");
            trigger(&w)
        }
        Err(e) => {
            warn!(reason = e.category(), "git webhook refused: {e}");
            error(ErrorCode::Unauthorized, e.to_string())
        }
    }
}

async fn sync_now(State(w): State<Writes>) -> Response {
    if w.git_triggers.is_empty() {
        return error(
            ErrorCode::NotConfigured,
            "no git source is configured here; a directory source syncs on every change by itself",
        );
    }
    trigger(&w)
}

fn trigger(w: &Writes) -> Response {
    for t in &w.git_triggers {
        t.notify_one();
    }
    (
        StatusCode::ACCEPTED,
        Json(TriggeredView {
            triggered: w.git_triggers.len(),
        }),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::Index;
    use sextant_api::wire::ErrorBody;

    async fn serve(writes: Writes) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let router = crate::http::api(
            Index::default(),
            writes,
            crate::events::Events::default(),
            None,
            Default::default(),
            crate::agent_link::unreachable_client(),
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        format!("http://{addr}")
    }

    fn writes(store: Store, secret: Option<&str>) -> Writes {
        Writes {
            store,
            configured: Configured::new(["git:https://example/repo".to_string()]),
            git_triggers: vec![Arc::new(Notify::new())],
            webhook_secret: secret.map(|s| Arc::new(s.as_bytes().to_vec())),
        }
    }

    #[tokio::test]
    async fn refusals_have_their_status_and_say_why() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("store");
        let base = serve(writes(store.clone(), None)).await;
        let http = reqwest::Client::new();

        // A text that does not load: 422 with every error located.
        let resp = http
            .post(format!("{base}/api/v1/apply"))
            .body("apiVersion: sextant.dev/v1alpha1\nkind: App\nmetadata: {name: web}\nspec: {instances: x, command: y}\n")
            .send()
            .await
            .expect("apply");
        assert_eq!(resp.status(), 422);
        let invalid: ErrorBody = resp.json().await.expect("json");
        assert_eq!(invalid.code, ErrorCode::InvalidManifest);
        let errors: Vec<LocatedError> =
            serde_json::from_value(invalid.details.expect("details")["errors"].clone()).expect("located errors");
        assert_eq!(errors[0].line, 4);
        assert_eq!(errors[0].field.as_deref(), Some("spec.instances"));

        // Over the size limit: 413, nothing read.
        let big = "#".repeat(MAX_BODY + 1);
        let resp = http
            .post(format!("{base}/api/v1/apply"))
            .body(big)
            .send()
            .await
            .expect("apply");
        assert_eq!(resp.status(), 413);
        let e: ErrorBody = resp.json().await.expect("413 in the API's error shape");
        assert_eq!(e.code, ErrorCode::PayloadTooLarge);

        // The webhook without a configured secret is off, and says how to turn it on.
        let resp = http
            .post(format!("{base}/api/v1/hooks/git"))
            .send()
            .await
            .expect("hook");
        assert_eq!(resp.status(), 404);
        let e: ErrorBody = resp.json().await.expect("json");
        assert_eq!(e.code, ErrorCode::NotConfigured);
        assert!(e.message.contains("--webhook-secret-file"), "{}", e.message);

        // Deleting what does not exist.
        let resp = http
            .delete(format!("{base}/api/v1/apps/default/nope"))
            .send()
            .await
            .expect("delete");
        assert_eq!(resp.status(), 404);
        assert!(store.list_apps().expect("list").is_empty());
    }

    #[tokio::test]
    async fn a_signed_webhook_triggers_and_a_forged_one_does_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("store");
        let w = writes(store, Some("s3cret"));
        let trigger = Arc::clone(&w.git_triggers[0]);
        let base = serve(w).await;
        let http = reqwest::Client::new();
        let body = r#"{"ref":"refs/heads/main"}"#;

        let resp = http
            .post(format!("{base}/api/v1/hooks/git"))
            .header(
                "X-Hub-Signature-256",
                webhook::github_signature(b"wrong", body.as_bytes()),
            )
            .body(body)
            .send()
            .await
            .expect("hook");
        assert_eq!(resp.status(), 401);
        let notified = tokio::time::timeout(std::time::Duration::from_millis(100), trigger.notified()).await;
        assert!(notified.is_err(), "a forged webhook triggered a sync");

        let resp = http
            .post(format!("{base}/api/v1/hooks/git"))
            .header("X-Gitlab-Token", "s3cret")
            .body(body)
            .send()
            .await
            .expect("hook");
        assert_eq!(resp.status(), 202);
        tokio::time::timeout(std::time::Duration::from_secs(1), trigger.notified())
            .await
            .expect("a signed webhook triggers a sync");
    }
}
