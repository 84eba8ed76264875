//! The rollout operations by hand (`sextant rollout pause|resume|restart|
//! undo`), recorded in the journal's `ops` tree (`crate::ops`) and acted on
//! by the reconcile like any other change: the index follows the journal's
//! announcement and the app is reconciled.
//!
//! - `POST /api/v1/apps/{namespace}/{name}/rollout/pause` -> 200
//!   `RolloutResult`; 404
//! - `POST .../rollout/resume` -> 200; 409 when `spec.paused` is set in the
//!   manifest (only the manifest can lift it)
//! - `POST .../rollout/restart` -> 200 with the new revision
//! - `POST .../rollout/undo`, body `{"toRevision": R}` (optional) -> 200
//!   with the revision rolled back to; 404 for an unknown revision; 409
//!   when there is nothing to roll back to, or `R` is the current revision

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json};
use sextant_api::wire::{ErrorCode, RolloutResult, UndoRequest};
use tracing::info;

use super::auth::CallerName;
use super::error::ApiError;
use super::openapi::documented;
use crate::index::Index;
use crate::ops::{Mark, OpError, Undo, undo_target};
use crate::store::{Store, StoreError, now_unix};

/// What the operations need: the journal to write, the index to read the
/// revision history from.
#[derive(Clone, Debug)]
pub struct Rollouts {
    /// The journal.
    pub store: Store,
    /// The index.
    pub index: Index,
}

/// The routes.
pub fn routes(rollouts: Rollouts) -> Router {
    Router::new()
        .route(
            documented("POST", "/api/v1/apps/{namespace}/{name}/rollout/pause"),
            post(pause),
        )
        .route(
            documented("POST", "/api/v1/apps/{namespace}/{name}/rollout/resume"),
            post(resume),
        )
        .route(
            documented("POST", "/api/v1/apps/{namespace}/{name}/rollout/restart"),
            post(restart),
        )
        .route(
            documented("POST", "/api/v1/apps/{namespace}/{name}/rollout/undo"),
            post(undo),
        )
        .with_state(rollouts)
}

type Who = Option<Extension<CallerName>>;

fn mark(who: &Who) -> Mark {
    Mark {
        by: who.as_ref().map_or_else(|| "anonymous".to_string(), |w| w.0.0.clone()),
        at: now_unix(),
    }
}

fn refusal(e: OpError) -> ApiError {
    let code = match &e {
        OpError::NotFound(_) | OpError::UnknownRevision { .. } => ErrorCode::NotFound,
        OpError::NothingToUndo { .. } | OpError::CurrentRevision { .. } | OpError::PausedInSpec { .. } => {
            ErrorCode::Conflict
        }
        OpError::Store(_) => ErrorCode::Internal,
    };
    ApiError::new(code, e.to_string())
}

/// Runs `change` on the app's operations in the journal (blocking I/O off
/// the runtime's threads) and answers its result.
async fn operate(
    r: Rollouts,
    key: String,
    change: impl FnOnce(&crate::desired::DesiredApp, &mut crate::ops::AppOps) -> Result<RolloutResult, OpError>
    + Send
    + 'static,
) -> Response {
    let k = key.clone();
    let done = tokio::task::spawn_blocking(move || r.store.change_ops(&k, change)).await;
    let result = match done {
        Ok(Ok(Ok(result))) => result,
        Ok(Ok(Err(e))) => return refusal(e).into_response(),
        Ok(Err(StoreError::NotFound(_))) => return refusal(OpError::NotFound(key)).into_response(),
        Ok(Err(e)) => return refusal(OpError::Store(e.to_string())).into_response(),
        Err(e) => return refusal(OpError::Store(e.to_string())).into_response(),
    };
    if result.changed {
        info!(app = %key, action = %result.action, "{}", result.message);
    }
    Json(result).into_response()
}

async fn pause(State(r): State<Rollouts>, who: Who, Path((namespace, name)): Path<(String, String)>) -> Response {
    let key = sextant_api::app_key(&namespace, &name);
    let mark = mark(&who);
    let k = key.clone();
    operate(r, key, move |_, ops| {
        let changed = ops.paused.is_none();
        if changed {
            ops.paused = Some(mark);
        }
        Ok(RolloutResult {
            app: k.clone(),
            action: "pause".into(),
            changed,
            revision: None,
            message: if changed {
                format!("app {k} paused: its tasks are left as they are until `sextant rollout resume`")
            } else {
                format!("app {k} was already paused")
            },
        })
    })
    .await
}

async fn resume(State(r): State<Rollouts>, Path((namespace, name)): Path<(String, String)>) -> Response {
    let key = sextant_api::app_key(&namespace, &name);
    let k = key.clone();
    operate(r, key, move |app, ops| {
        let changed = ops.paused.take().is_some();
        if app.app.spec.paused {
            let place = match (&app.file, app.line) {
                (Some(f), Some(l)) => format!("{}:{l}", f.display()),
                (Some(f), None) => f.display().to_string(),
                _ => app.source.clone(),
            };
            return Err(OpError::PausedInSpec { app: k, place });
        }
        Ok(RolloutResult {
            app: k.clone(),
            action: "resume".into(),
            changed,
            revision: Some(app.revision.clone()),
            message: if changed {
                format!("app {k} resumed: it is reconciled again")
            } else {
                format!("app {k} was not paused")
            },
        })
    })
    .await
}

async fn restart(State(r): State<Rollouts>, who: Who, Path((namespace, name)): Path<(String, String)>) -> Response {
    let key = sextant_api::app_key(&namespace, &name);
    let mark = mark(&who);
    let k = key.clone();
    operate(r, key, move |app, ops| {
        ops.restart = Some(mark.clone());
        let revision = app.clone().with_ops(ops.clone()).revision;
        let paused = if ops.paused.is_some() || app.app.spec.paused {
            " (the app is paused: nothing is replaced until it is resumed)"
        } else {
            ""
        };
        Ok(RolloutResult {
            app: k.clone(),
            action: "restart".into(),
            changed: true,
            message: format!(
                "app {k} restarted: its tasks are replaced by a rolling update to revision {revision}{paused}"
            ),
            revision: Some(revision),
        })
    })
    .await
}

async fn undo(
    State(r): State<Rollouts>,
    who: Who,
    Path((namespace, name)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let request: UndoRequest = if body.iter().all(u8::is_ascii_whitespace) {
        UndoRequest::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => {
                return ApiError::new(
                    ErrorCode::BadRequest,
                    format!("expected {{\"toRevision\": \"REVISION\"}} or no body: {e}"),
                )
                .into_response();
            }
        }
    };
    let key = sextant_api::app_key(&namespace, &name);
    let history = r.index.app(&key).history;
    let mark = mark(&who);
    let k = key.clone();
    operate(r, key, move |app, ops| {
        let to = undo_target(&k, &history, &app.revision, request.to_revision.as_deref())?;
        let changed = ops.undo_of(&app.revision).is_none_or(|u| u.to != to);
        ops.undo = Some(Undo {
            to: to.clone(),
            from: app.revision.clone(),
            mark,
        });
        Ok(RolloutResult {
            app: k.clone(),
            action: "undo".into(),
            changed,
            message: format!(
                "app {k} rolls back from revision {} to {to}; the spec's revision runs again when the spec changes or after `sextant rollout restart`",
                app.revision
            ),
            revision: Some(to),
        })
    })
    .await
}
