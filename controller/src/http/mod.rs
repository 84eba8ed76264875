//! The controller's HTTP API (axum). Its wire types live in
//! `sextant_api::wire` (built from the index in `views`); the OpenAPI
//! document of every route is `openapi`. Every read is a snapshot of the
//! in-memory index: no read touches the journal. The writes (apply, diff,
//! delete, the git webhook) are in `write`.
//!
//! - `GET /api/v1/apps[?namespace=&name=&labelSelector=]` -> `[AppView]`,
//!   sorted by namespace then name (400 `BadRequest` for a bad selector)
//! - `GET /api/v1/apps/{namespace}/{name}` -> `AppDetail` (404 `NotFound`)
//! - `GET /api/v1/apps/{namespace}/{name}/tasks[?all=true]` -> the app's
//!   live tasks (`all`: recently ended ones too)
//! - `GET /api/v1/apps/{namespace}/{name}/revisions` -> `[RevisionView]`
//! - `GET /api/v1/tasks` -> `[TaskView]`, sorted by task id
//! - `GET /api/v1/sources` -> `[SourceView]`
//! - `GET /healthz` -> `ok` (the process answers)
//! - `GET /readyz` -> 200 `ready`, or 503 with what it waits for
//! - `GET /metrics`, `/vars`, `/vars.json` -> the registry (`metrics`)
//! - `POST .../rollout/{pause,resume,restart,undo}` -> `rollout`
//! - `GET /api/v1/events` -> events, as a stream or a list (`events`)
//! - `GET /api/v1/cluster/{nodes,queue}` -> the Mesos agents and the
//!   launch queue, asked of the agent (`cluster`)
//! - `GET /api/v1/metrics/history` -> the metrics' recent past (`history`)
//! - `GET /`, `GET /ui/{file}` -> the web UI's files, without a token (`ui`)
//!
//! JSON field names are camelCase, Kubernetes style. Errors are
//! `{code, message, details}` (`error`), the status given by the code.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

#[cfg(test)]
mod access_tests;
pub mod auth;
pub mod cluster;
pub mod error;
pub mod events;
pub mod history;
pub mod listener;
pub mod logs;
pub mod metrics;
pub mod openapi;
pub mod rollout;
#[cfg(test)]
pub(crate) mod test_api;
pub mod tls;
pub mod ui;
pub mod views;
pub mod write;

pub use sextant_api::wire::{AppDetail, AppView, ErrorBody, ErrorCode, PortView, RevisionView, SourceView, TaskView};

use self::error::ApiError;
use self::openapi::documented;
use self::views::{app_view, revision_view, source_view, task_view};
use crate::index::Index;

/// The whole API: reads over the index, and the writes, behind the
/// tokens when there are any; `/metrics` and `/vars` of `metrics`'
/// registry, read like the rest; every request counted in `metrics`;
/// `agent` reads task logs (`logs`) and lists nodes and the launch queue
/// (`cluster`).
pub fn api(
    index: Index,
    writes: write::Writes,
    bus: crate::events::Events,
    tokens: Option<auth::Tokens>,
    metrics: crate::metrics::Metrics,
    agent: sextant_api::proto::agent_client::AgentClient<tonic::transport::Channel>,
) -> Router {
    let events = Router::new()
        .route(documented("GET", "/api/v1/events"), get(events::events))
        .with_state(bus);
    let rollouts = rollout::routes(rollout::Rollouts {
        store: writes.store.clone(),
        index: index.clone(),
    });
    write::routes(writes)
        .merge(rollouts)
        .merge(events)
        .merge(metrics::routes(metrics.registry()))
        .merge(logs::routes(index.clone(), agent.clone()))
        .merge(cluster::routes(index.clone(), agent))
        .merge(history::routes(metrics.history()))
        .merge(router(index))
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(tokens, auth::check))
        // The UI's files hold no data: served without a token, so the page
        // can ask for one.
        .merge(ui::routes())
        .layer(axum::middleware::from_fn_with_state(metrics, metrics::count_requests))
}

/// What a caller without a write token sees instead of an env value.
pub const HIDDEN: &str = "<hidden: needs a write token>";

/// The API's read routes over the index.
pub fn router(index: Index) -> Router {
    Router::new()
        .route(documented("GET", "/healthz"), get(|| async { "ok" }))
        .route(documented("GET", "/readyz"), get(readyz))
        .route(documented("GET", "/api/v1/apps"), get(list_apps))
        .route(documented("GET", "/api/v1/apps/{namespace}/{name}"), get(get_app))
        .route(
            documented("GET", "/api/v1/apps/{namespace}/{name}/tasks"),
            get(app_tasks),
        )
        .route(
            documented("GET", "/api/v1/apps/{namespace}/{name}/revisions"),
            get(app_revisions),
        )
        .route(documented("GET", "/api/v1/tasks"), get(list_tasks))
        .route(documented("GET", "/api/v1/sources"), get(list_sources))
        .route(documented("GET", "/api/v1/openapi.json"), get(openapi::serve))
        .fallback(error::no_such_endpoint)
        .with_state(index)
}

/// The query of the app list; a parameter left empty selects everything.
#[derive(Debug, Default, Deserialize)]
struct AppsQuery {
    namespace: Option<String>,
    name: Option<String>,
    #[serde(rename = "labelSelector")]
    label_selector: Option<String>,
}

/// `[AppView]` sorted by namespace and name, joined from the index's
/// serialized entries (`index/views.rs`): no app is cloned or serialized
/// per request. `?namespace=`, `?name=` and `?labelSelector=` (kubectl's
/// equality-based selectors, `sextant_api::selector`) are checked against
/// what each entry keeps beside its bytes; a selector that does not parse
/// is a 400 `BadRequest` naming the part at fault.
async fn list_apps(
    State(index): State<Index>,
    query: Result<axum::extract::Query<AppsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let axum::extract::Query(q) =
        query.map_err(|e| ApiError::new(ErrorCode::BadRequest, format!("bad query: {}", e.body_text())))?;
    let given = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let selector = match given(&q.label_selector) {
        Some(text) => {
            Some(sextant_api::Selector::parse(&text).map_err(|e| ApiError::new(ErrorCode::BadRequest, e.to_string()))?)
        }
        None => None,
    };
    let (namespace, name) = (given(&q.namespace), given(&q.name));
    let filter = crate::index::views::Filter {
        namespace: namespace.as_deref(),
        name: name.as_deref(),
        selector: selector.as_ref(),
    };
    let entries = index.read(|s| crate::index::views::select(&s.views, &filter));
    let body = crate::index::views::list(&entries);
    Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response())
}

async fn get_app(
    State(index): State<Index>,
    caller: Option<axum::Extension<auth::Caller>>,
    Path((namespace, name)): Path<(String, String)>,
) -> Result<Json<AppDetail>, ApiError> {
    let key = sextant_api::app_key(&namespace, &name);
    let snap = index.app(&key);
    let Some(d) = snap.desired else {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            format!("app {namespace}/{name} not found"),
        ));
    };
    Ok(Json(AppDetail {
        app: app_view(&d, snap.status.as_deref()),
        file: d.file.as_ref().map(|f| f.display().to_string()),
        line: d.line,
        commit: d.commit.clone(),
        generation: d.generation,
        spec: {
            let mut spec = d.app.spec.clone();
            if !caller.is_none_or(|c| c.0.sees_secrets()) {
                for value in spec.env.values_mut() {
                    *value = HIDDEN.to_string();
                }
            }
            spec
        },
        tasks: snap.tasks.iter().map(task_view).collect(),
        revisions: snap.history.records.iter().map(revision_view).collect(),
    }))
}

async fn list_tasks(State(index): State<Index>) -> Json<Vec<TaskView>> {
    let mut views: Vec<TaskView> = index.read(|s| s.tasks.values().flat_map(|t| t.iter()).map(task_view).collect());
    views.sort_by(|a, b| a.task_id.cmp(&b.task_id));
    Json(views)
}

/// The query of an app's tasks.
#[derive(Debug, Default, Deserialize)]
struct TasksQuery {
    #[serde(default)]
    all: bool,
}

/// An app's tasks: live ones, or with `?all=true` recently ended ones too.
/// An app no longer desired still answers while it has tasks.
async fn app_tasks(
    State(index): State<Index>,
    Path((namespace, name)): Path<(String, String)>,
    axum::extract::Query(q): axum::extract::Query<TasksQuery>,
) -> Result<Json<Vec<TaskView>>, ApiError> {
    let key = sextant_api::app_key(&namespace, &name);
    let snap = index.app(&key);
    if snap.desired.is_none() && snap.tasks.is_empty() {
        return Err(ApiError::new(ErrorCode::NotFound, format!("app {key} not found")));
    }
    Ok(Json(
        snap.tasks
            .iter()
            .filter(|t| q.all || t.is_live())
            .map(task_view)
            .collect(),
    ))
}

/// An app's revisions, oldest first, with how each rollout went.
async fn app_revisions(
    State(index): State<Index>,
    Path((namespace, name)): Path<(String, String)>,
) -> Result<Json<Vec<RevisionView>>, ApiError> {
    let key = sextant_api::app_key(&namespace, &name);
    let snap = index.app(&key);
    if snap.desired.is_none() && snap.history.records.is_empty() {
        return Err(ApiError::new(ErrorCode::NotFound, format!("app {key} not found")));
    }
    Ok(Json(snap.history.records.iter().map(revision_view).collect()))
}

/// Ready when the agent's task snapshot has arrived and every source has
/// synced once: before that, counts and statuses are not to be trusted.
async fn readyz(State(index): State<Index>) -> Response {
    let waiting: Vec<String> = index.read(|s| {
        let mut waiting = Vec::new();
        if !s.agent.synced {
            waiting.push(format!("the agent's task snapshot (agent {})", s.agent.url));
        }
        for rec in s.sources.values() {
            if rec.last_success_at.is_none() {
                let why = rec.last_error.as_deref().unwrap_or("not synced yet");
                waiting.push(format!("source {}: {why}", rec.name));
            }
        }
        waiting
    });
    if waiting.is_empty() {
        return "ready".into_response();
    }
    ApiError::new(
        ErrorCode::NotReady,
        format!("not ready: waiting for {}", waiting.join("; ")),
    )
    .into_response()
}

async fn list_sources(State(index): State<Index>) -> Json<Vec<SourceView>> {
    Json(index.read(|s| s.sources.values().map(source_view).collect()))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::test_api::{desired, task};
    use super::*;
    use crate::observed::{HostPort, TaskState};
    use crate::store::SourceStatus;
    use sextant_api::AppStatus;
    use sextant_api::app::Condition;

    async fn serve(index: Index) -> (String, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            axum::serve(listener, router(index)).await.expect("serve");
        });
        (format!("http://{addr}"), server)
    }

    async fn get<T: serde::de::DeserializeOwned>(http: &reqwest::Client, url: String) -> T {
        http.get(url).send().await.expect("request").json().await.expect("json")
    }

    /// Guards `sextant get apps -n/-l/NAME`, which the server filters:
    /// each parameter alone and together, empty ones ignored, a bad
    /// selector refused in the API's error shape, naming the part.
    #[tokio::test]
    async fn the_app_list_is_filtered_by_namespace_name_and_labels() {
        let index = Index::default();
        index.write(|s| {
            for (ns, name, labels) in [
                ("default", "web", vec![("tier", "web"), ("team", "x")]),
                ("default", "db", vec![("tier", "db")]),
                ("team-a", "web", vec![("tier", "web")]),
                ("team-ab", "web", vec![]),
            ] {
                let mut d = desired(ns, name, 1);
                if !labels.is_empty() {
                    d.app.metadata.labels = Some(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
                }
                let key = d.key();
                s.apps.insert(key.clone(), Arc::new(d));
                crate::index::views::refresh(s, &key);
            }
        });
        let (base, server) = serve(index).await;
        let http = reqwest::Client::new();
        let list = |query: &'static str| {
            let (http, base) = (http.clone(), base.clone());
            async move {
                let apps: Vec<AppView> = get(&http, format!("{base}/api/v1/apps{query}")).await;
                apps.iter()
                    .map(|a| format!("{}/{}", a.namespace, a.name))
                    .collect::<Vec<_>>()
            }
        };
        let all = ["default/db", "default/web", "team-a/web", "team-ab/web"];
        assert_eq!(list("").await, all);
        assert_eq!(
            list("?namespace=&labelSelector=%20&name=").await,
            all,
            "empty is everything"
        );
        assert_eq!(list("?namespace=team-a").await, ["team-a/web"]);
        assert_eq!(list("?name=web").await, ["default/web", "team-a/web", "team-ab/web"]);
        assert_eq!(list("?namespace=default&name=db").await, ["default/db"]);
        assert_eq!(list("?labelSelector=tier%3Dweb").await, ["default/web", "team-a/web"]);
        assert_eq!(list("?labelSelector=tier%3Dweb%2C%21team").await, ["team-a/web"]);
        assert_eq!(
            list("?labelSelector=tier%21%3Dweb").await,
            ["default/db", "team-ab/web"]
        );
        assert_eq!(
            list("?namespace=default&labelSelector=tier%3D%3Dweb").await,
            ["default/web"]
        );
        assert!(list("?namespace=nope").await.is_empty());
        assert!(list("?name=web&labelSelector=tier%3Ddb").await.is_empty());

        let resp = http
            .get(format!("{base}/api/v1/apps?labelSelector=tier%3Dweb%2C%3Dx"))
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), 400);
        let err: ErrorBody = resp.json().await.expect("json");
        assert_eq!(err.code, ErrorCode::BadRequest);
        assert!(err.message.contains("\"=x\" has no key"), "{}", err.message);
        let resp = http
            .get(format!("{base}/api/v1/apps?name=a&name=b"))
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), 400, "a parameter twice");
        let err: ErrorBody = resp.json().await.expect("json");
        assert_eq!(err.code, ErrorCode::BadRequest);
        server.abort();
    }

    #[tokio::test]
    async fn serves_apps_tasks_and_sources_from_the_index() {
        let index = Index::default();
        let web = desired("default", "web", 2);
        let mut running = task(&web, "aaaa", TaskState::Running);
        running.hostname = "node-1".into();
        running.ports = vec![HostPort {
            name: "http".into(),
            port: 31000,
        }];
        let mut ended = task(&web, "cccc", TaskState::Killed);
        ended.healthy = Some(true);
        let tasks = vec![running, task(&web, "bbbb", TaskState::Pending), ended];
        index.write(|s| {
            for d in [
                web.clone(),
                desired("default", "api", 1),
                desired("a-b", "zeta", 1),
                desired("a", "zeta", 1),
            ] {
                s.apps.insert(d.key(), Arc::new(d));
            }
            s.tasks.insert(web.key(), Arc::new(tasks));
            s.statuses.insert(
                web.key(),
                Arc::new(AppStatus {
                    revision: Some(web.revision.clone()),
                    running: 1,
                    available: 1,
                    conditions: vec![Condition {
                        type_: "Available".into(),
                        status: "False".into(),
                        reason: Some("MinimumInstancesUnavailable".into()),
                        message: None,
                    }],
                    ..Default::default()
                }),
            );
            let keys: Vec<String> = s.apps.keys().cloned().collect();
            for key in keys {
                crate::index::views::refresh(s, &key);
            }
            s.sources.insert(
                "dir:/m".into(),
                SourceStatus {
                    name: "dir:/m".into(),
                    last_error: Some("x.yaml:3:5: spec.instances: invalid".into()),
                    last_error_at: Some(1_700_000_000.0),
                    ..Default::default()
                },
            );
        });

        let (base, server) = serve(index).await;
        let http = reqwest::Client::new();
        let resp = http.get(format!("{base}/healthz")).send().await.expect("healthz");
        assert_eq!(resp.status(), 200);
        let resp = http.get(format!("{base}/readyz")).send().await.expect("readyz");
        assert_eq!(resp.status(), 503, "no agent snapshot, a source never synced");
        let why: ErrorBody = resp.json().await.expect("json");
        assert_eq!(why.code, ErrorCode::NotReady);
        assert!(
            why.message.contains("task snapshot") && why.message.contains("x.yaml:3:5"),
            "{}",
            why.message
        );

        let apps: Vec<AppView> = get(&http, format!("{base}/api/v1/apps")).await;
        let names: Vec<(String, String)> = apps.iter().map(|a| (a.namespace.clone(), a.name.clone())).collect();
        assert_eq!(
            names,
            vec![
                ("a".into(), "zeta".into()),
                ("a-b".into(), "zeta".into()),
                ("default".into(), "api".into()),
                ("default".into(), "web".into()),
            ]
        );
        let w = &apps[3];
        assert_eq!((w.instances, w.running, w.available), (2, 1, 1));
        assert_eq!(w.revision, web.revision);
        assert_eq!(w.conditions.len(), 1);
        assert_eq!(w.created_at.as_deref(), Some("2023-11-14T22:13:20Z"));

        let raw: serde_json::Value = get(&http, format!("{base}/api/v1/apps")).await;
        assert!(raw[3]["createdAt"].is_string(), "camelCase: {raw}");
        assert_eq!(raw[3]["conditions"][0]["type"], "Available");

        let detail: AppDetail = get(&http, format!("{base}/api/v1/apps/default/web")).await;
        assert_eq!(detail.app, *w);
        assert_eq!(detail.tasks.len(), 3);
        assert_eq!(detail.file.as_deref(), Some("/m/x.yaml"));
        let running = detail
            .tasks
            .iter()
            .find(|t| t.state == "TASK_RUNNING")
            .expect("running");
        assert_eq!(running.hostname, "node-1");
        assert_eq!(
            running.ports,
            vec![PortView {
                name: "http".into(),
                port: 31000
            }]
        );
        let killed = detail.tasks.iter().find(|t| t.state == "TASK_KILLED").expect("killed");
        assert_eq!(killed.healthy, None, "an ended task shows no stale health");

        let resp = http
            .get(format!("{base}/api/v1/apps/default/x"))
            .send()
            .await
            .expect("404");
        assert_eq!(resp.status(), 404);
        let err: ErrorBody = resp.json().await.expect("json");
        assert_eq!(err.code, ErrorCode::NotFound);
        assert_eq!(err.message, "app default/x not found");

        let tasks: Vec<TaskView> = get(&http, format!("{base}/api/v1/tasks")).await;
        assert_eq!(tasks.len(), 3);
        let live: Vec<TaskView> = get(&http, format!("{base}/api/v1/apps/default/web/tasks")).await;
        assert_eq!(live.len(), 2, "live tasks by default: the killed one is left out");
        assert!(live.iter().all(|t| t.state != "TASK_KILLED"));
        let all: Vec<TaskView> = get(&http, format!("{base}/api/v1/apps/default/web/tasks?all=true")).await;
        assert_eq!(all.len(), 3);
        let revisions: Vec<RevisionView> = get(&http, format!("{base}/api/v1/apps/default/web/revisions")).await;
        assert!(revisions.is_empty());
        let resp = http
            .get(format!("{base}/api/v1/apps/default/nope/tasks"))
            .send()
            .await
            .expect("404");
        assert_eq!(resp.status(), 404);
        let sources: Vec<SourceView> = get(&http, format!("{base}/api/v1/sources")).await;
        assert_eq!(
            sources[0].last_error.as_deref(),
            Some("x.yaml:3:5: spec.instances: invalid")
        );

        let resp = http.get(format!("{base}/api/v1/nope")).send().await.expect("404");
        assert_eq!(resp.status(), 404);
        server.abort();
    }
}
