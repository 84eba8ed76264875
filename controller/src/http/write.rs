//! The API's writes: apply, diff and delete (the `apply` source), the git
//! webhook and the sync trigger. Each goes through the journal first (the
//! index follows from its announcement), and each refusal says why.
//!
//! - `POST /api/v1/apply[?dryRun=true]`, body: multi-document YAML or JSON
//!   -> 200 `ApplyResult`; 422 with `errors` when the text does not load;
//!   409 `ApplyResult` when an object is owned by another source (nothing
//!   is applied)
//! - `POST /api/v1/diff`, same body -> 200 `ApplyResult` with diffs
//! - `DELETE /api/v1/apps/{namespace}/{name}` -> 200; 404; 409 when a
//!   directory or repository owns the app
//! - `POST /api/v1/apps/{namespace}/{name}/scale`, body `{"instances": N}`
//!   -> 200 `ObjectResult`; 404; 409 when a directory or repository owns it;
//!   422 over the maximum
//! - `POST /api/v1/hooks/git` -> 202 (a git sync starts); 401 for a
//!   missing or wrong signature; 404 when no git source or no secret is set
//! - `POST /api/v1/sources/sync` -> 202 (every git source fetches now)

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tracing::{info, warn};

use super::ErrorView;
use crate::source::apply::{self, ApplyError, DeleteError, Outcome};
use crate::source::sync::Configured;
use crate::source::webhook;
use crate::store::Store;

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

/// A load error, located.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct LocatedError {
    /// The file (`<request>` for an applied body).
    pub file: String,
    /// 1-based line, 0 for the whole text.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
    /// Dotted field path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

/// The body of a 422 answer: the text does not load.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct InvalidView {
    /// Every error, in words (`file:line:col: field: message` per line).
    pub error: String,
    /// Every error, located.
    pub errors: Vec<LocatedError>,
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
        .route("/api/v1/apply", post(apply_objects))
        .route("/api/v1/diff", post(diff_objects))
        .route("/api/v1/apps/{namespace}/{name}", delete(delete_app))
        .route("/api/v1/apps/{namespace}/{name}/scale", post(scale_app))
        .route("/api/v1/hooks/git", post(git_hook))
        .route("/api/v1/sources/sync", post(sync_now))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(writes)
}

fn error(code: StatusCode, message: impl Into<String>) -> Response {
    (code, Json(ErrorView { error: message.into() })).into_response()
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
            let located = errors
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
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(InvalidView {
                    error: errors.to_string(),
                    errors: located,
                }),
            )
                .into_response()
        }
        ApplyError::Empty => error(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
        ApplyError::Store(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn apply_objects(State(w): State<Writes>, Query(q): Query<ApplyQuery>, body: Bytes) -> Response {
    let text = match text_of(&body) {
        Ok(t) => t,
        Err(why) => return error(StatusCode::BAD_REQUEST, why),
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
            let code = if refused { StatusCode::CONFLICT } else { StatusCode::OK };
            (code, Json(result)).into_response()
        }
        Ok(Err(e)) => apply_error(e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("apply failed: {e}")),
    }
}

async fn diff_objects(State(w): State<Writes>, body: Bytes) -> Response {
    let text = match text_of(&body) {
        Ok(t) => t,
        Err(why) => return error(StatusCode::BAD_REQUEST, why),
    };
    match tokio::task::spawn_blocking(move || apply::diff(&w.store, &w.configured, &text)).await {
        Ok(Ok(result)) => Json(result).into_response(),
        Ok(Err(e)) => apply_error(e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("diff failed: {e}")),
    }
}

/// The answer to a delete.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeletedView {
    /// `namespace/name` of the deleted app.
    pub deleted: String,
}

async fn delete_app(State(w): State<Writes>, Path((namespace, name)): Path<(String, String)>) -> Response {
    let (ns, n) = (namespace.clone(), name.clone());
    match tokio::task::spawn_blocking(move || apply::delete(&w.store, &w.configured, &ns, &n)).await {
        Ok(Ok(())) => {
            let key = sextant_api::app_key(&namespace, &name);
            info!(app = %key, "deleted; its tasks will be killed");
            Json(DeletedView { deleted: key }).into_response()
        }
        Ok(Err(e @ DeleteError::NotFound(_))) => error(StatusCode::NOT_FOUND, e.to_string()),
        Ok(Err(e @ DeleteError::Owned(_))) => error(StatusCode::CONFLICT, e.to_string()),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("delete failed: {e}")),
    }
}

/// The body of a scale request.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ScaleRequest {
    /// The new instance count.
    pub instances: u32,
}

async fn scale_app(State(w): State<Writes>, Path((namespace, name)): Path<(String, String)>, body: Bytes) -> Response {
    let req: ScaleRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("expected {{\"instances\": N}}: {e}")),
    };
    let done = tokio::task::spawn_blocking(move || apply::scale(&w.store, &namespace, &name, req.instances)).await;
    match done {
        Ok(Ok(result)) => {
            info!(app = %format!("{}/{}", result.namespace, result.name), instances = req.instances, "scaled");
            Json(result).into_response()
        }
        Ok(Err(e @ apply::ScaleError::NotFound(_))) => error(StatusCode::NOT_FOUND, e.to_string()),
        Ok(Err(e @ apply::ScaleError::Owned(_))) => error(StatusCode::CONFLICT, e.to_string()),
        Ok(Err(e @ apply::ScaleError::TooMany { .. })) => error(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("scale failed: {e}")),
    }
}

/// The answer to an accepted trigger.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct TriggeredView {
    /// Git sources told to sync now.
    pub triggered: usize,
}

async fn git_hook(State(w): State<Writes>, headers: HeaderMap, body: Bytes) -> Response {
    if w.git_triggers.is_empty() {
        return error(
            StatusCode::NOT_FOUND,
            "no git source is configured here (start the controller with --git URL)",
        );
    }
    let Some(secret) = &w.webhook_secret else {
        return error(
            StatusCode::NOT_FOUND,
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
            error(StatusCode::UNAUTHORIZED, e.to_string())
        }
    }
}

async fn sync_now(State(w): State<Writes>) -> Response {
    if w.git_triggers.is_empty() {
        return error(
            StatusCode::NOT_FOUND,
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
        let invalid: InvalidView = resp.json().await.expect("json");
        assert_eq!(invalid.errors[0].line, 4);
        assert_eq!(invalid.errors[0].field.as_deref(), Some("spec.instances"));

        // Over the size limit: 413, nothing read.
        let big = "#".repeat(MAX_BODY + 1);
        let resp = http
            .post(format!("{base}/api/v1/apply"))
            .body(big)
            .send()
            .await
            .expect("apply");
        assert_eq!(resp.status(), 413);

        // The webhook without a configured secret is off, and says how to turn it on.
        let resp = http
            .post(format!("{base}/api/v1/hooks/git"))
            .send()
            .await
            .expect("hook");
        assert_eq!(resp.status(), 404);
        let e: ErrorView = resp.json().await.expect("json");
        assert!(e.error.contains("--webhook-secret-file"), "{}", e.error);

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
