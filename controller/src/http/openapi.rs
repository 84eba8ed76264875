//! The API's OpenAPI 3.1 document (`GET /api/v1/openapi.json`), built from
//! the code: every route is registered through [`documented`], which
//! refuses a route missing from [`ENDPOINTS`], and the schemas come from
//! the wire types' `JsonSchema` derives (`sextant_api::wire`), so neither
//! the paths nor the shapes can drift from what is served. The tests
//! check the other direction: every documented route is served.

use axum::response::IntoResponse;
use schemars::generate::{Contract, SchemaGenerator, SchemaSettings};
use schemars::{JsonSchema, Schema};
use serde_json::{Map, Value, json};
use sextant_api::wire::{
    AppDetail, AppView, ApplyResult, ClusterView, DeletedView, ErrorBody, Event, HistoryView, NodeList, ObjectResult,
    QueueList, RevisionView, RolloutResult, ScaleRequest, SourceView, TaskView, TriggeredView, UndoRequest,
};

/// Who may call an endpoint once tokens are configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone (probes).
    Public,
    /// A read token (or anyone with `--anonymous-read`).
    Read,
    /// A write token.
    Write,
    /// Its own signature (the git webhook).
    Signed,
}

/// A body: JSON of a wire type, a list of one, or text.
#[derive(Clone, Copy)]
pub enum Body {
    /// One JSON object of a wire type.
    Json(fn(&mut SchemaGenerator) -> Schema),
    /// A JSON array of a wire type.
    List(fn(&mut SchemaGenerator) -> Schema),
    /// Text of a media type.
    Text(&'static str),
}

/// A query parameter.
#[derive(Clone, Copy, Debug)]
pub struct Query {
    /// Its name.
    pub name: &'static str,
    /// `string`, `integer` or `boolean`.
    pub kind: &'static str,
    /// What it does.
    pub about: &'static str,
}

/// One documented endpoint.
#[derive(Clone, Copy)]
pub struct Endpoint {
    /// `GET`, `POST`, `DELETE`.
    pub method: &'static str,
    /// The path, with `{param}` templates as axum writes them.
    pub path: &'static str,
    /// What it does, in one line.
    pub summary: &'static str,
    /// Who may call it.
    pub access: Access,
    /// Its query parameters.
    pub query: &'static [Query],
    /// The request body, if any.
    pub request: Option<Body>,
    /// The success status and body.
    pub ok: (u16, Body),
    /// The error statuses it answers (beyond 401/403), each `ErrorBody`.
    pub errors: &'static [u16],
}

fn schema<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

const APP_PATH: &str = "/api/v1/apps/{namespace}/{name}";

/// Every endpoint the API serves.
pub const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        method: "GET",
        path: "/",
        summary: "The web UI (docs/ui.md): its page, built into the binary; no token needed (the page asks for one).",
        access: Access::Public,
        query: &[],
        request: None,
        ok: (200, Body::Text("text/html")),
        errors: &[],
    },
    Endpoint {
        method: "GET",
        path: "/ui/{file}",
        summary: "One file of the web UI (script, style, icon), with an ETag; no token needed.",
        access: Access::Public,
        query: &[],
        request: None,
        ok: (200, Body::Text("text/javascript")),
        errors: &[404],
    },
    Endpoint {
        method: "GET",
        path: "/healthz",
        summary: "The process answers.",
        access: Access::Public,
        query: &[],
        request: None,
        ok: (200, Body::Text("text/plain")),
        errors: &[],
    },
    Endpoint {
        method: "GET",
        path: "/readyz",
        summary: "Ready once the agent's task snapshot has arrived and every source has synced once; 503 says what it waits for.",
        access: Access::Public,
        query: &[],
        request: None,
        ok: (200, Body::Text("text/plain")),
        errors: &[503],
    },
    Endpoint {
        method: "GET",
        path: "/metrics",
        summary: "Every metric: OpenMetrics text when the Accept header asks for it, else Prometheus text 0.0.4.",
        access: Access::Read,
        query: &[],
        request: None,
        ok: (200, Body::Text("text/plain")),
        errors: &[],
    },
    Endpoint {
        method: "GET",
        path: "/vars",
        summary: "The metrics Aurora style: `name value` per line, labels flattened into the name.",
        access: Access::Read,
        query: &[Query {
            name: "format",
            kind: "string",
            about: "json: one object, as /vars.json",
        }],
        request: None,
        ok: (200, Body::Text("text/plain")),
        errors: &[],
    },
    Endpoint {
        method: "GET",
        path: "/vars.json",
        summary: "The metrics as one JSON object, name to number.",
        access: Access::Read,
        query: &[],
        request: None,
        ok: (200, Body::Text("application/json")),
        errors: &[],
    },
    Endpoint {
        method: "GET",
        path: "/api/v1/openapi.json",
        summary: "This document.",
        access: Access::Read,
        query: &[],
        request: None,
        ok: (200, Body::Text("application/json")),
        errors: &[],
    },
    Endpoint {
        method: "GET",
        path: "/api/v1/apps",
        summary: "Every app with its counts and conditions, sorted by namespace then name; filtered by namespace, name and label selector (400 for a selector that does not parse).",
        access: Access::Read,
        query: &[
            Query {
                name: "namespace",
                kind: "string",
                about: "only this namespace (empty or absent: every namespace)",
            },
            Query {
                name: "name",
                kind: "string",
                about: "only apps of this name",
            },
            Query {
                name: "labelSelector",
                kind: "string",
                about: "only apps whose metadata.labels match, kubectl's equality-based form: key=value (or ==), key!=value, key, !key, comma-separated, all to hold",
            },
        ],
        request: None,
        ok: (200, Body::List(schema::<AppView>)),
        errors: &[400],
    },
    Endpoint {
        method: "GET",
        path: APP_PATH,
        summary: "One app: its spec, where it is defined, its tasks and revisions. `spec.env` values are hidden from read tokens.",
        access: Access::Read,
        query: &[],
        request: None,
        ok: (200, Body::Json(schema::<AppDetail>)),
        errors: &[404],
    },
    Endpoint {
        method: "DELETE",
        path: APP_PATH,
        summary: "Deletes an applied app (its tasks are killed); 409 when a directory or repository owns it.",
        access: Access::Write,
        query: &[],
        request: None,
        ok: (200, Body::Json(schema::<DeletedView>)),
        errors: &[404, 409],
    },
    Endpoint {
        method: "GET",
        path: "/api/v1/apps/{namespace}/{name}/tasks",
        summary: "An app's live tasks; with all=true recently ended ones too.",
        access: Access::Read,
        query: &[Query {
            name: "all",
            kind: "boolean",
            about: "include tasks that ended in the last minutes",
        }],
        request: None,
        ok: (200, Body::List(schema::<TaskView>)),
        errors: &[404],
    },
    Endpoint {
        method: "GET",
        path: "/api/v1/apps/{namespace}/{name}/revisions",
        summary: "An app's revisions, oldest first, with how each rollout went.",
        access: Access::Read,
        query: &[],
        request: None,
        ok: (200, Body::List(schema::<RevisionView>)),
        errors: &[404],
    },
    Endpoint {
        method: "GET",
        path: "/api/v1/apps/{namespace}/{name}/logs",
        summary: "A task's stdout or stderr from its sandbox (through the agent and the Mesos agent's /files/read), as plain bytes; the X-Sextant-Task and X-Sextant-Offset headers say which task and from which byte.",
        access: Access::Read,
        query: &[
            Query {
                name: "task",
                kind: "string",
                about: "the task (default: the app's newest live task that reached a node)",
            },
            Query {
                name: "stream",
                kind: "string",
                about: "stdout (default) or stderr",
            },
            Query {
                name: "tail",
                kind: "integer",
                about: "only the last N lines",
            },
            Query {
                name: "offset",
                kind: "integer",
                about: "from this byte (not with tail)",
            },
            Query {
                name: "follow",
                kind: "boolean",
                about: "then new bytes as the task writes them",
            },
        ],
        request: None,
        ok: (200, Body::Text("text/plain")),
        errors: &[400, 404, 409, 503],
    },
    Endpoint {
        method: "POST",
        path: "/api/v1/apps/{namespace}/{name}/scale",
        summary: "Sets an applied app's instances; 409 when a directory or repository owns it.",
        access: Access::Write,
        query: &[],
        request: Some(Body::Json(schema::<ScaleRequest>)),
        ok: (200, Body::Json(schema::<ObjectResult>)),
        errors: &[400, 404, 409, 422],
    },
    Endpoint {
        method: "POST",
        path: "/api/v1/apps/{namespace}/{name}/rollout/pause",
        summary: "Pauses the app: nothing is launched or killed until resume (works whatever the app's source).",
        access: Access::Write,
        query: &[],
        request: None,
        ok: (200, Body::Json(schema::<RolloutResult>)),
        errors: &[404],
    },
    Endpoint {
        method: "POST",
        path: "/api/v1/apps/{namespace}/{name}/rollout/resume",
        summary: "Lifts a pause by hand; 409 when spec.paused is set in the manifest.",
        access: Access::Write,
        query: &[],
        request: None,
        ok: (200, Body::Json(schema::<RolloutResult>)),
        errors: &[404, 409],
    },
    Endpoint {
        method: "POST",
        path: "/api/v1/apps/{namespace}/{name}/rollout/restart",
        summary: "Replaces every task by a rolling update of the same spec (a new revision).",
        access: Access::Write,
        query: &[],
        request: None,
        ok: (200, Body::Json(schema::<RolloutResult>)),
        errors: &[404],
    },
    Endpoint {
        method: "POST",
        path: "/api/v1/apps/{namespace}/{name}/rollout/undo",
        summary: "Rolls back to an earlier revision (default: the newest completed one) until the spec changes.",
        access: Access::Write,
        query: &[],
        request: Some(Body::Json(schema::<UndoRequest>)),
        ok: (200, Body::Json(schema::<RolloutResult>)),
        errors: &[400, 404, 409],
    },
    Endpoint {
        method: "GET",
        path: "/api/v1/tasks",
        summary: "Every task the controller knows, sorted by id.",
        access: Access::Read,
        query: &[],
        request: None,
        ok: (200, Body::List(schema::<TaskView>)),
        errors: &[],
    },
    Endpoint {
        method: "GET",
        path: "/api/v1/cluster/nodes",
        summary: "Every node (Mesos agent) as the Mesos master lists it, asked through the agent: total, used (by any framework), offered and free resources, attributes, status, Sextant's live tasks on it.",
        access: Access::Read,
        query: &[],
        request: None,
        ok: (200, Body::Json(schema::<NodeList>)),
        errors: &[503],
    },
    Endpoint {
        method: "GET",
        path: "/api/v1/cluster",
        summary: "The cluster in one answer: the agent's link to Mesos (framework id, master, connected or why not), the nodes (or why the master could not list them) and the launch queue with why each task waits.",
        access: Access::Read,
        query: &[],
        request: None,
        ok: (200, Body::Json(schema::<ClusterView>)),
        errors: &[503],
    },
    Endpoint {
        method: "GET",
        path: "/api/v1/cluster/queue",
        summary: "The agent's launch queue in launch order: each task's app, what it asks for, since when it waits, and why.",
        access: Access::Read,
        query: &[],
        request: None,
        ok: (200, Body::Json(schema::<QueueList>)),
        errors: &[503],
    },
    Endpoint {
        method: "GET",
        path: "/api/v1/sources",
        summary: "Every source and how its last sync went, with each problem located.",
        access: Access::Read,
        query: &[],
        request: None,
        ok: (200, Body::List(schema::<SourceView>)),
        errors: &[],
    },
    Endpoint {
        method: "POST",
        path: "/api/v1/sources/sync",
        summary: "Every git source fetches now.",
        access: Access::Write,
        query: &[],
        request: None,
        ok: (202, Body::Json(schema::<TriggeredView>)),
        errors: &[404],
    },
    Endpoint {
        method: "POST",
        path: "/api/v1/hooks/git",
        summary: "A signed push webhook (GitHub X-Hub-Signature-256, GitLab X-Gitlab-Token): git sources fetch now.",
        access: Access::Signed,
        query: &[],
        request: Some(Body::Text("application/json")),
        ok: (202, Body::Json(schema::<TriggeredView>)),
        errors: &[401, 404],
    },
    Endpoint {
        method: "POST",
        path: "/api/v1/apply",
        summary: "Applies multi-document YAML or JSON as the apply source, all or nothing.",
        access: Access::Write,
        query: &[Query {
            name: "dryRun",
            kind: "boolean",
            about: "judge every object, write nothing",
        }],
        request: Some(Body::Text("application/yaml")),
        ok: (200, Body::Json(schema::<ApplyResult>)),
        errors: &[400, 409, 413, 422],
    },
    Endpoint {
        method: "POST",
        path: "/api/v1/diff",
        summary: "What applying the body would change, object by object, as unified diffs.",
        access: Access::Write,
        query: &[],
        request: Some(Body::Text("application/yaml")),
        ok: (200, Body::Json(schema::<ApplyResult>)),
        errors: &[400, 413, 422],
    },
    Endpoint {
        method: "GET",
        path: "/api/v1/events",
        summary: "The latest events, oldest first; with Accept: text/event-stream a live stream resumable with Last-Event-ID.",
        access: Access::Read,
        query: &[
            Query {
                name: "app",
                kind: "string",
                about: "only this app, namespace/name",
            },
            Query {
                name: "kind",
                kind: "string",
                about: "only these kinds, comma-separated (task, desired, sync, condition)",
            },
            Query {
                name: "after",
                kind: "integer",
                about: "only events after this id (Last-Event-ID wins)",
            },
            Query {
                name: "live",
                kind: "boolean",
                about: "without after or Last-Event-ID: none of the held events, only those from now on",
            },
        ],
        request: None,
        ok: (200, Body::List(schema::<Event>)),
        errors: &[],
    },
    Endpoint {
        method: "GET",
        path: "/api/v1/metrics/history",
        summary: "The metrics' recent past kept in memory (the last 3 hours, sampled every 10 s): every series' name, and the points of those asked for.",
        access: Access::Read,
        query: &[
            Query {
                name: "series",
                kind: "string",
                about: "series names (as /vars prints them), comma-separated, at most 64",
            },
            Query {
                name: "since",
                kind: "number",
                about: "only points after this time, Unix seconds",
            },
        ],
        request: None,
        ok: (200, Body::Json(schema::<HistoryView>)),
        errors: &[400, 404],
    },
];

/// The path of a route being registered, checked against [`ENDPOINTS`]:
/// a route nobody documented fails every test that builds the router, and
/// is logged in a release build.
pub fn documented(method: &str, path: &'static str) -> &'static str {
    let known = ENDPOINTS.iter().any(|e| e.method == method && e.path == path);
    debug_assert!(known, "{method} {path} is served but missing from openapi::ENDPOINTS");
    if !known {
        tracing::error!(%method, %path, "a route is missing from the OpenAPI document");
    }
    path
}

/// The whole document.
pub fn document() -> Value {
    let mut generator = SchemaSettings::draft2020_12()
        .with(|s| {
            s.definitions_path = "/components/schemas/".into();
            s.meta_schema = None;
            s.contract = Contract::Serialize;
        })
        .into_generator();
    let error = generator.subschema_for::<ErrorBody>();
    let mut paths = Map::new();
    for e in ENDPOINTS {
        let mut parameters: Vec<Value> = path_params(e.path)
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        parameters.extend(
            e.query
                .iter()
                .map(|q| json!({"name": q.name, "in": "query", "description": q.about, "schema": {"type": q.kind}})),
        );
        let mut responses = Map::new();
        responses.insert(
            e.ok.0.to_string(),
            json!({"description": "success", "content": content(e.ok.1, &mut generator)}),
        );
        let mut codes: Vec<u16> = e.errors.to_vec();
        if matches!(e.access, Access::Read | Access::Write) {
            codes.extend([401, 403]);
        }
        for code in codes {
            responses.insert(
                code.to_string(),
                json!({"description": "an error", "content": {"application/json": {"schema": error}}}),
            );
        }
        let mut operation = json!({
            "summary": e.summary,
            "operationId": operation_id(e),
            "parameters": parameters,
            "responses": responses,
            "x-sextant-access": format!("{:?}", e.access).to_lowercase(),
        });
        if let Some(body) = e.request {
            operation["requestBody"] = json!({"required": true, "content": content(body, &mut generator)});
        }
        if matches!(e.access, Access::Public | Access::Signed) {
            operation["security"] = json!([]);
        }
        let item = paths.entry(e.path.to_string()).or_insert_with(|| json!({}));
        item[e.method.to_lowercase()] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Sextant controller API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Errors are {code, message, details}; the status follows the code. See docs/api.md.",
        },
        "paths": paths,
        "components": {
            "schemas": generator.take_definitions(true),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    })
}

fn content(body: Body, generator: &mut SchemaGenerator) -> Value {
    match body {
        Body::Json(s) => json!({"application/json": {"schema": s(generator)}}),
        Body::List(s) => json!({"application/json": {"schema": {"type": "array", "items": s(generator)}}}),
        Body::Text(media) => json!({ media: {"schema": {"type": "string"}} }),
    }
}

/// A concrete path for a template: `default` for a namespace, `web` for
/// any other parameter (for tests and examples).
pub fn example_path(template: &str) -> String {
    template
        .split('/')
        .map(|seg| match seg {
            "{namespace}" => "default",
            s if s.starts_with('{') => "web",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// `{name}` segments of a path template.
fn path_params(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
}

/// A stable id: the method and the path's words, camelCase.
fn operation_id(e: &Endpoint) -> String {
    let mut id = e.method.to_lowercase();
    for word in e
        .path
        .split(['/', '.', '{', '}'])
        .filter(|w| !w.is_empty() && *w != "api" && *w != "v1")
    {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            id.extend(first.to_uppercase());
            id.push_str(chars.as_str());
        }
    }
    id
}

/// `GET /api/v1/openapi.json`: built once (it is the code's, so it never
/// changes while the process runs).
pub async fn serve() -> impl IntoResponse {
    static BODY: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let body = BODY.get_or_init(|| serde_json::to_vec(&document()).unwrap_or_default());
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body.as_slice(),
    )
}

#[cfg(test)]
#[path = "openapi_tests.rs"]
mod tests;
