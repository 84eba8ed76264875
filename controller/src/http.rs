//! The controller's HTTP API (axum), read-only for now, and the serde view
//! types of its responses, which the CLI deserializes.
//!
//! - `GET /api/v1/apps` -> `[AppView]`, sorted by namespace then name
//! - `GET /api/v1/apps/{namespace}/{name}` -> `AppDetail` (404 `ErrorView`)
//! - `GET /api/v1/tasks` -> `[TaskView]`, sorted by task id
//! - `GET /api/v1/sources` -> `[SourceView]`
//! - `GET /healthz` -> `ok`
//!
//! JSON field names are camelCase, Kubernetes style. Errors are
//! `{"error": "..."}` with a fitting status code.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use sextant_api::app::Condition;
use sextant_api::proto::{Task, TaskState};
use sextant_api::{AppSpec, AppStatus};

use crate::controller::state_name;
use crate::store::{DesiredApp, SourceStatus, Store, StoreError, rfc3339};

/// One app in the list.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AppView {
    /// App name.
    pub name: String,
    /// App namespace.
    pub namespace: String,
    /// Desired instances.
    pub instances: u32,
    /// Tasks in state RUNNING (any revision).
    pub running: u32,
    /// Current revision of the spec.
    pub revision: String,
    /// Owning source, e.g. `dir:/srv/manifests`.
    pub source: String,
    /// When the controller first saw the app (RFC 3339).
    #[serde(default)]
    pub created_at: Option<String>,
    /// Conditions from the last reconcile (`Available`, `Progressing`,
    /// `ReconcileError`).
    #[serde(default)]
    pub conditions: Vec<Condition>,
}

/// One app with its spec and tasks.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AppDetail {
    /// The summary, flattened into this object.
    #[serde(flatten)]
    pub app: AppView,
    /// Manifest file, when loaded from a file.
    #[serde(default)]
    pub file: Option<String>,
    /// Line of the object in `file`.
    #[serde(default)]
    pub line: Option<u64>,
    /// Increments with every spec change.
    #[serde(default)]
    pub generation: i64,
    /// The desired spec.
    pub spec: AppSpec,
    /// The app's tasks (every revision, terminal ones until pruned), by id.
    #[serde(default)]
    pub tasks: Vec<TaskView>,
}

/// A host port of a task.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PortView {
    /// Port name from the spec.
    pub name: String,
    /// Host port.
    pub port: u32,
}

/// One task as observed.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TaskView {
    /// `<namespace>.<app>.<revision>.<unique>`.
    pub task_id: String,
    /// App namespace.
    pub namespace: String,
    /// App name.
    pub app: String,
    /// Revision the task runs.
    pub revision: String,
    /// Mesos-like state name: `TASK_RUNNING`, ..., or `PENDING` (queued in
    /// the agent, not on Mesos yet).
    pub state: String,
    /// Health as last reported; absent without a health check.
    #[serde(default)]
    pub healthy: Option<bool>,
    /// Mesos agent (node) id; empty while pending.
    #[serde(default)]
    pub agent_id: String,
    /// Node hostname; empty while pending.
    #[serde(default)]
    pub hostname: String,
    /// Host ports by name.
    #[serde(default)]
    pub ports: Vec<PortView>,
    /// Last status message.
    #[serde(default)]
    pub message: String,
    /// Last status reason.
    #[serde(default)]
    pub reason: String,
    /// When the task was first seen (RFC 3339).
    #[serde(default)]
    pub created_at: Option<String>,
    /// Last change (RFC 3339).
    #[serde(default)]
    pub updated_at: Option<String>,
}

/// A source of desired apps and its last error.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SourceView {
    /// Source name, e.g. `dir:/srv/manifests`.
    pub name: String,
    /// Last load error (one `file:line:col: field: message` per line),
    /// absent after a successful load.
    #[serde(default)]
    pub last_error: Option<String>,
    /// When the last error happened (RFC 3339).
    #[serde(default)]
    pub last_error_at: Option<String>,
    /// When the source last loaded successfully (RFC 3339).
    #[serde(default)]
    pub last_success_at: Option<String>,
    /// Apps owned after the last successful load.
    #[serde(default)]
    pub apps: usize,
}

/// The body of every error response.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorView {
    /// What went wrong.
    pub error: String,
}

impl TaskView {
    /// The view of a stored task.
    pub fn from_task(t: &Task) -> Self {
        Self {
            task_id: t.task_id.clone(),
            namespace: t.namespace.clone(),
            app: t.app.clone(),
            revision: t.revision.clone(),
            state: state_name(t.state()).to_string(),
            healthy: t.healthy,
            agent_id: t.agent_id.clone(),
            hostname: t.hostname.clone(),
            ports: t
                .ports
                .iter()
                .map(|p| PortView {
                    name: p.name.clone(),
                    port: p.port,
                })
                .collect(),
            message: t.message.clone(),
            reason: t.reason.clone(),
            created_at: rfc3339(t.created_at),
            updated_at: rfc3339(t.updated_at),
        }
    }
}

impl AppView {
    /// The view of a desired app, its status and its tasks.
    pub fn new(d: &DesiredApp, status: Option<&AppStatus>, tasks: &[Task]) -> Self {
        Self {
            name: d.name().to_string(),
            namespace: d.namespace().to_string(),
            instances: d.app.spec.instances,
            running: tasks.iter().filter(|t| t.state() == TaskState::Running).count() as u32,
            revision: d.revision.clone(),
            source: d.source.clone(),
            created_at: d
                .app
                .metadata
                .creation_timestamp
                .as_ref()
                .map(|t| t.0.to_string())
                .or_else(|| rfc3339(d.created_at)),
            conditions: status.map(|s| s.conditions.clone()).unwrap_or_default(),
        }
    }
}

impl From<&SourceStatus> for SourceView {
    fn from(s: &SourceStatus) -> Self {
        Self {
            name: s.name.clone(),
            last_error: s.last_error.clone(),
            last_error_at: s.last_error_at.and_then(rfc3339),
            last_success_at: s.last_success_at.and_then(rfc3339),
            apps: s.apps,
        }
    }
}

/// An API error: a status code and a message.
#[derive(Debug)]
struct ApiError(StatusCode, String);

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "API request failed on the store");
        ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(ErrorView { error: self.1 })).into_response()
    }
}

/// The API's routes over `store`.
pub fn router(store: Store) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/v1/apps", get(list_apps))
        .route("/api/v1/apps/{namespace}/{name}", get(get_app))
        .route("/api/v1/tasks", get(list_tasks))
        .route("/api/v1/sources", get(list_sources))
        .fallback(|| async { ApiError(StatusCode::NOT_FOUND, "no such API endpoint".into()) })
        .with_state(store)
}

async fn list_apps(State(store): State<Store>) -> Result<Json<Vec<AppView>>, ApiError> {
    let tasks = store.list_tasks()?;
    let mut views = Vec::new();
    for d in store.list_apps()? {
        let (ns, name) = (d.namespace(), d.name());
        let own: Vec<Task> = tasks
            .iter()
            .filter(|t| t.namespace == ns && t.app == name)
            .cloned()
            .collect();
        let status = store.get_status(&d.key())?;
        views.push(AppView::new(&d, status.as_ref(), &own));
    }
    views.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    Ok(Json(views))
}

async fn get_app(
    State(store): State<Store>,
    Path((namespace, name)): Path<(String, String)>,
) -> Result<Json<AppDetail>, ApiError> {
    let Some(d) = store.get_app(&namespace, &name)? else {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("app {namespace}/{name} not found"),
        ));
    };
    let tasks = store.tasks_for_app(&namespace, &name)?;
    let status = store.get_status(&d.key())?;
    Ok(Json(AppDetail {
        app: AppView::new(&d, status.as_ref(), &tasks),
        file: d.file.as_ref().map(|f| f.display().to_string()),
        line: d.line,
        generation: d.generation,
        spec: d.app.spec.clone(),
        tasks: tasks.iter().map(TaskView::from_task).collect(),
    }))
}

async fn list_tasks(State(store): State<Store>) -> Result<Json<Vec<TaskView>>, ApiError> {
    Ok(Json(store.list_tasks()?.iter().map(TaskView::from_task).collect()))
}

async fn list_sources(State(store): State<Store>) -> Result<Json<Vec<SourceView>>, ApiError> {
    Ok(Json(store.list_sources()?.iter().map(SourceView::from).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sextant_api::App;
    use sextant_api::proto::HostPort;

    fn desired(ns: &str, name: &str, instances: u32) -> DesiredApp {
        let spec: AppSpec =
            serde_json::from_value(serde_json::json!({"instances": instances, "command": "sleep 1"})).expect("spec");
        let mut app = App::new(name, spec);
        app.metadata.namespace = Some(ns.into());
        DesiredApp::new(app, "dir:/m", Some("/m/x.yaml".into()), Some(3))
    }

    async fn serve(store: Store) -> (String, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            axum::serve(listener, router(store)).await.expect("serve");
        });
        (format!("http://{addr}"), server)
    }

    #[tokio::test]
    async fn serves_apps_tasks_and_sources_over_loopback() {
        let data = tempfile::tempdir().expect("tempdir");
        let store = Store::open(data.path()).expect("store");
        store.put_app(desired("default", "web", 2)).expect("put");
        store.put_app(desired("default", "api", 1)).expect("put");
        store.put_app(desired("a-b", "zeta", 1)).expect("put");
        store.put_app(desired("a", "zeta", 1)).expect("put");
        let web = store.get_app("default", "web").expect("get").expect("web");
        store
            .upsert_task(&Task {
                task_id: format!("default.web.{}.aaaa", web.revision),
                namespace: "default".into(),
                app: "web".into(),
                revision: web.revision.clone(),
                state: TaskState::Running as i32,
                hostname: "node-1".into(),
                ports: vec![HostPort {
                    name: "http".into(),
                    port: 31000,
                }],
                created_at: 1_700_000_000.0,
                updated_at: 1_700_000_001.0,
                ..Default::default()
            })
            .expect("task");
        store
            .upsert_task(&Task {
                task_id: format!("default.web.{}.bbbb", web.revision),
                namespace: "default".into(),
                app: "web".into(),
                revision: web.revision.clone(),
                state: TaskState::Pending as i32,
                ..Default::default()
            })
            .expect("task");
        store
            .set_status(
                "default/web",
                &AppStatus {
                    revision: Some(web.revision.clone()),
                    running: 1,
                    conditions: vec![Condition {
                        type_: "Available".into(),
                        status: "False".into(),
                        reason: Some("MinimumInstancesUnavailable".into()),
                        message: None,
                    }],
                },
            )
            .expect("status");
        store
            .set_source_error("dir:/m", "x.yaml:3:5: spec.instances: invalid")
            .expect("src");

        let (base, server) = serve(store.clone()).await;
        let http = reqwest::Client::new();

        let resp = http.get(format!("{base}/healthz")).send().await.expect("healthz");
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.text().await.expect("body"), "ok");

        let apps: Vec<AppView> = http
            .get(format!("{base}/api/v1/apps"))
            .send()
            .await
            .expect("apps")
            .json()
            .await
            .expect("json");
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
        assert_eq!((w.instances, w.running), (2, 1));
        assert_eq!(w.revision, web.revision);
        assert_eq!(w.source, "dir:/m");
        assert_eq!(w.conditions.len(), 1);
        let created = w.created_at.as_deref().expect("createdAt");
        assert!(created.ends_with('Z') && created.contains('T'), "{created}");

        // Raw JSON uses camelCase.
        let raw: serde_json::Value = http
            .get(format!("{base}/api/v1/apps"))
            .send()
            .await
            .expect("apps")
            .json()
            .await
            .expect("json");
        assert!(raw[3]["createdAt"].is_string(), "{raw}");
        assert_eq!(raw[3]["conditions"][0]["type"], "Available");

        let detail: AppDetail = http
            .get(format!("{base}/api/v1/apps/default/web"))
            .send()
            .await
            .expect("detail")
            .json()
            .await
            .expect("json");
        assert_eq!(detail.app, *w);
        assert_eq!(detail.tasks.len(), 2);
        assert_eq!(detail.spec.instances, 2);
        assert_eq!(detail.file.as_deref(), Some("/m/x.yaml"));
        let running = detail
            .tasks
            .iter()
            .find(|t| t.state == "TASK_RUNNING")
            .expect("running task");
        assert_eq!(running.hostname, "node-1");
        assert_eq!(
            running.ports,
            vec![PortView {
                name: "http".into(),
                port: 31000
            }]
        );
        assert_eq!(running.created_at.as_deref(), Some("2023-11-14T22:13:20Z"));
        assert!(detail.tasks.iter().any(|t| t.state == "PENDING"));

        let resp = http
            .get(format!("{base}/api/v1/apps/default/x"))
            .send()
            .await
            .expect("404");
        assert_eq!(resp.status(), 404);
        let err: ErrorView = resp.json().await.expect("json");
        assert_eq!(err.error, "app default/x not found");

        let tasks: Vec<TaskView> = http
            .get(format!("{base}/api/v1/tasks"))
            .send()
            .await
            .expect("tasks")
            .json()
            .await
            .expect("json");
        assert_eq!(tasks.len(), 2);
        let raw: serde_json::Value = http
            .get(format!("{base}/api/v1/tasks"))
            .send()
            .await
            .expect("tasks")
            .json()
            .await
            .expect("json");
        assert!(raw[0]["taskId"].is_string(), "{raw}");

        let sources: Vec<SourceView> = http
            .get(format!("{base}/api/v1/sources"))
            .send()
            .await
            .expect("sources")
            .json()
            .await
            .expect("json");
        assert_eq!(sources.len(), 1);
        assert_eq!(sources[0].name, "dir:/m");
        assert_eq!(
            sources[0].last_error.as_deref(),
            Some("x.yaml:3:5: spec.instances: invalid")
        );
        assert!(sources[0].last_error_at.is_some());

        let resp = http.get(format!("{base}/api/v1/nope")).send().await.expect("404");
        assert_eq!(resp.status(), 404);

        server.abort();
    }
}
