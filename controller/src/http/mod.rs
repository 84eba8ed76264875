//! The controller's HTTP API (axum) and the serde view types of its
//! responses, which the CLI deserializes. Every read is a snapshot of the
//! in-memory index: no read touches the journal. The writes (apply, diff,
//! delete, the git webhook) are in `write`.
//!
//! - `GET /api/v1/apps` -> `[AppView]`, sorted by namespace then name
//! - `GET /api/v1/apps/{namespace}/{name}` -> `AppDetail` (404 `ErrorView`)
//! - `GET /api/v1/apps/{namespace}/{name}/tasks[?all=true]` -> the app's
//!   live tasks (`all`: recently ended ones too)
//! - `GET /api/v1/apps/{namespace}/{name}/revisions` -> `[RevisionView]`
//! - `GET /api/v1/tasks` -> `[TaskView]`, sorted by task id
//! - `GET /api/v1/sources` -> `[SourceView]`
//! - `GET /healthz` -> `ok` (the process answers)
//! - `GET /readyz` -> 200 `ready`, or 503 with what it waits for
//! - `GET /metrics` -> the sources' state, Prometheus text (`metrics`)
//! - `GET /api/v1/events` -> events, as a stream or a list (`events`)
//!
//! JSON field names are camelCase, Kubernetes style. Errors are
//! `{"error": "..."}` with a fitting status code.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use sextant_api::app::Condition;
use sextant_api::{AppSpec, AppStatus};

#[cfg(test)]
mod access_tests;
pub mod auth;
pub mod events;
pub mod listener;
pub mod logs;
pub mod metrics;
pub mod write;

use crate::desired::DesiredApp;
use crate::index::Index;
use crate::observed::{ObservedTask, state_name};
use crate::source::git_repo::CommitInfo;
use crate::source::plan::Problem;
use crate::store::{SourceStatus, rfc3339};

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
    /// Available tasks: running, healthy, and so for `minReadySeconds`.
    #[serde(default)]
    pub available: u32,
    /// Current revision of the spec.
    pub revision: String,
    /// The full status from the last reconcile (counts, conditions).
    #[serde(default)]
    pub status: Option<AppStatus>,
    /// Owning source, e.g. `dir:/srv/manifests`.
    pub source: String,
    /// When the controller first saw the app (RFC 3339).
    #[serde(default)]
    pub created_at: Option<String>,
    /// Conditions from the last reconcile (`Available`, `Progressing`,
    /// `Degraded`, `Synced`).
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// `metadata.labels`, for selectors.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
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
    /// The git commit that last changed the object (repository sources).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<CommitInfo>,
    /// Increments with every spec change.
    #[serde(default)]
    pub generation: i64,
    /// The desired spec.
    pub spec: AppSpec,
    /// The app's tasks (every revision, terminal ones until pruned), by id.
    #[serde(default)]
    pub tasks: Vec<TaskView>,
    /// Revision history, oldest first.
    #[serde(default)]
    pub revisions: Vec<RevisionView>,
}

/// One revision of an app and how its rollout went.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RevisionView {
    /// The revision hash.
    pub revision: String,
    /// `Progressing`, `Completed` or `Failed`.
    pub outcome: String,
    /// Why it failed, or empty.
    #[serde(default)]
    pub reason: String,
    /// What happened, or empty.
    #[serde(default)]
    pub message: String,
    /// The revision rolled back to after it failed.
    #[serde(default)]
    pub rolled_back_to: Option<String>,
    /// The source it came from.
    pub source: String,
    /// When it was first desired (RFC 3339).
    #[serde(default)]
    pub first_seen: Option<String>,
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
    /// Health as last reported; absent without a health check, or once the
    /// task ended.
    #[serde(default)]
    pub healthy: Option<bool>,
    /// Since when it has been running (RFC 3339).
    #[serde(default)]
    pub running_since: Option<String>,
    /// Since when it has been healthy (RFC 3339).
    #[serde(default)]
    pub healthy_since: Option<String>,
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

/// A source of desired apps and how its last sync went.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SourceView {
    /// Source name: `dir:<path>`, `git:<url>` or `apply`.
    pub name: String,
    /// `dir` or `git`.
    #[serde(default)]
    pub kind: String,
    /// The repository URL (credentials redacted) or the directory.
    #[serde(default)]
    pub url: Option<String>,
    /// The branch followed (git).
    #[serde(default)]
    pub branch: Option<String>,
    /// The directory within the repository that is loaded (git).
    #[serde(default)]
    pub path: Option<String>,
    /// The commit synced (git).
    #[serde(default)]
    pub commit: Option<CommitInfo>,
    /// Every problem of the last sync, one `file:line:col: field: message`
    /// per line (or the fetch error), absent when there is none.
    #[serde(default)]
    pub last_error: Option<String>,
    /// When the last error appeared (RFC 3339).
    #[serde(default)]
    pub last_error_at: Option<String>,
    /// Since when the source has had errors (RFC 3339).
    #[serde(default)]
    pub failing_since: Option<String>,
    /// When the source last synced (RFC 3339): what loads was applied.
    #[serde(default)]
    pub last_success_at: Option<String>,
    /// When the next fetch is planned (RFC 3339).
    #[serde(default)]
    pub next_attempt_at: Option<String>,
    /// The problems, located, with the apps each keeps at their last good
    /// version.
    #[serde(default)]
    pub problems: Vec<Problem>,
    /// Why the last sync was refused as a whole.
    #[serde(default)]
    pub refused: Option<String>,
    /// Apps no longer defined, kept because pruning is off.
    #[serde(default)]
    pub unpruned: Vec<String>,
    /// Apps the source owns.
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
    /// The view of an observed task.
    pub fn from_task(t: &ObservedTask) -> Self {
        Self {
            task_id: t.id.clone(),
            namespace: t.namespace.to_string(),
            app: t.app.to_string(),
            revision: t.revision.to_string(),
            state: state_name(t.state).to_string(),
            // A health report outlives its task only as the reason it ended.
            healthy: if t.is_live() || t.healthy == Some(false) {
                t.healthy
            } else {
                None
            },
            running_since: t.running_since.and_then(rfc3339),
            healthy_since: t.healthy_since.and_then(rfc3339),
            agent_id: t.agent_id.to_string(),
            hostname: t.hostname.to_string(),
            ports: t
                .ports
                .iter()
                .map(|p| PortView {
                    name: p.name.clone(),
                    port: p.port,
                })
                .collect(),
            message: t.message.clone(),
            reason: t.reason.to_string(),
            created_at: rfc3339(t.created_at),
            updated_at: rfc3339(t.updated_at),
        }
    }
}

impl AppView {
    /// The view of a desired app and its last status.
    pub fn new(d: &DesiredApp, status: Option<&AppStatus>) -> Self {
        Self {
            name: d.name().to_string(),
            namespace: d.namespace().to_string(),
            instances: d.app.spec.instances,
            running: status.map_or(0, |s| s.running),
            available: status.map_or(0, |s| s.available),
            revision: d.revision.clone(),
            status: status.cloned(),
            source: d.source.clone(),
            created_at: d
                .app
                .metadata
                .creation_timestamp
                .as_ref()
                .map(|t| t.0.to_string())
                .or_else(|| rfc3339(d.created_at)),
            conditions: status.map(|s| s.conditions.clone()).unwrap_or_default(),
            labels: d.app.metadata.labels.clone().unwrap_or_default(),
        }
    }
}

impl From<&crate::history::RevisionRecord> for RevisionView {
    fn from(r: &crate::history::RevisionRecord) -> Self {
        use crate::history::Outcome;
        let (outcome, reason, message, rolled_back_to) = match &r.outcome {
            Outcome::Progressing => ("Progressing", "", "", None),
            Outcome::Completed { .. } => ("Completed", "", "", None),
            Outcome::Failed {
                reason,
                message,
                rolled_back_to,
                ..
            } => ("Failed", reason.as_str(), message.as_str(), rolled_back_to.clone()),
        };
        Self {
            revision: r.revision.clone(),
            outcome: outcome.to_string(),
            reason: reason.to_string(),
            message: message.to_string(),
            rolled_back_to,
            source: r.source.clone(),
            first_seen: rfc3339(r.first_seen),
        }
    }
}

impl From<&SourceStatus> for SourceView {
    fn from(s: &SourceStatus) -> Self {
        Self {
            name: s.name.clone(),
            kind: s.kind.clone(),
            url: s.url.clone(),
            branch: s.branch.clone(),
            path: s.path.clone(),
            commit: s.commit.clone(),
            last_error: s.last_error.clone(),
            last_error_at: s.last_error_at.and_then(rfc3339),
            failing_since: s.failing_since.and_then(rfc3339),
            last_success_at: s.last_success_at.and_then(rfc3339),
            next_attempt_at: s.next_attempt_at.and_then(rfc3339),
            problems: s.problems.clone(),
            refused: s.refused.clone(),
            unpruned: s.unpruned.clone(),
            apps: s.apps,
        }
    }
}

/// An API error: a status code and a message.
#[derive(Debug)]
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(ErrorView { error: self.1 })).into_response()
    }
}

/// The whole API: reads over the index, and the writes, behind the
/// tokens when there are any.
/// `hooks` are the outgoing webhooks' counters, for `/metrics`; `agent`
/// reads task logs (`logs`).
pub fn api(
    index: Index,
    writes: write::Writes,
    bus: crate::events::Events,
    tokens: Option<auth::Tokens>,
    hooks: std::sync::Arc<crate::hooks::HookStats>,
    agent: sextant_api::proto::agent_client::AgentClient<tonic::transport::Channel>,
) -> Router {
    let events = Router::new()
        .route("/api/v1/events", get(events::events))
        .with_state(bus);
    let metrics = Router::new()
        .route("/metrics", get(metrics::metrics))
        .with_state(metrics::Scraped {
            index: index.clone(),
            hooks,
        });
    write::routes(writes)
        .merge(events)
        .merge(metrics)
        .merge(logs::routes(index.clone(), agent))
        .merge(router(index))
        .layer(axum::middleware::from_fn_with_state(tokens, auth::check))
}

/// What a caller without a write token sees instead of an env value.
pub const HIDDEN: &str = "<hidden: needs a write token>";

/// The API's read routes over the index.
pub fn router(index: Index) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/api/v1/apps", get(list_apps))
        .route("/api/v1/apps/{namespace}/{name}", get(get_app))
        .route("/api/v1/apps/{namespace}/{name}/tasks", get(app_tasks))
        .route("/api/v1/apps/{namespace}/{name}/revisions", get(app_revisions))
        .route("/api/v1/tasks", get(list_tasks))
        .route("/api/v1/sources", get(list_sources))
        .fallback(|| async { ApiError(StatusCode::NOT_FOUND, "no such API endpoint".into()) })
        .with_state(index)
}

/// `[AppView]` sorted by namespace and name, joined from the index's
/// serialized entries (`index/views.rs`): no app is cloned or serialized
/// per request.
async fn list_apps(State(index): State<Index>) -> Response {
    let entries: Vec<std::sync::Arc<[u8]>> = index.read(|s| s.views.values().cloned().collect());
    let body = crate::index::views::list(&entries);
    ([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn get_app(
    State(index): State<Index>,
    caller: Option<axum::Extension<auth::Caller>>,
    Path((namespace, name)): Path<(String, String)>,
) -> Result<Json<AppDetail>, ApiError> {
    let key = sextant_api::app_key(&namespace, &name);
    let snap = index.app(&key);
    let Some(d) = snap.desired else {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("app {namespace}/{name} not found"),
        ));
    };
    Ok(Json(AppDetail {
        app: AppView::new(&d, snap.status.as_deref()),
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
        tasks: snap.tasks.iter().map(TaskView::from_task).collect(),
        revisions: snap.history.records.iter().map(RevisionView::from).collect(),
    }))
}

async fn list_tasks(State(index): State<Index>) -> Json<Vec<TaskView>> {
    let mut views: Vec<TaskView> = index.read(|s| {
        s.tasks
            .values()
            .flat_map(|t| t.iter())
            .map(TaskView::from_task)
            .collect()
    });
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
        return Err(ApiError(StatusCode::NOT_FOUND, format!("app {key} not found")));
    }
    Ok(Json(
        snap.tasks
            .iter()
            .filter(|t| q.all || t.is_live())
            .map(TaskView::from_task)
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
        return Err(ApiError(StatusCode::NOT_FOUND, format!("app {key} not found")));
    }
    Ok(Json(snap.history.records.iter().map(RevisionView::from).collect()))
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
    ApiError(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("not ready: waiting for {}", waiting.join("; ")),
    )
    .into_response()
}

async fn list_sources(State(index): State<Index>) -> Json<Vec<SourceView>> {
    Json(index.read(|s| s.sources.values().map(SourceView::from).collect()))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::observed::{HostPort, TaskState};
    use sextant_api::App;

    fn desired(ns: &str, name: &str, instances: u32) -> DesiredApp {
        let spec: AppSpec =
            serde_json::from_value(serde_json::json!({"instances": instances, "command": "sleep 1"})).expect("spec");
        let mut app = App::new(name, spec);
        app.metadata.namespace = Some(ns.into());
        let mut d = DesiredApp::new(app, "dir:/m", Some("/m/x.yaml".into()), Some(3));
        d.created_at = 1_700_000_000.0;
        d
    }

    fn task(d: &DesiredApp, unique: &str, state: TaskState) -> ObservedTask {
        ObservedTask::from(sextant_api::proto::Task {
            task_id: format!("{}.{}.{}.{unique}", d.namespace(), d.name(), d.revision),
            namespace: d.namespace().into(),
            app: d.name().into(),
            revision: d.revision.clone(),
            state: state as i32,
            created_at: 1_700_000_000.0,
            updated_at: 1_700_000_001.0,
            ..Default::default()
        })
    }

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
        let why: ErrorView = resp.json().await.expect("json");
        assert!(
            why.error.contains("task snapshot") && why.error.contains("x.yaml:3:5"),
            "{}",
            why.error
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
        let err: ErrorView = resp.json().await.expect("json");
        assert_eq!(err.error, "app default/x not found");

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
