//! Operator endpoints of the master: `/version`, `/health`, `/redirect`,
//! `/master/state` (and `/state`, `.json` forms), `/master/frameworks`,
//! `/master/tasks`, `/master/slaves` (with each node's configured
//! resources, what its live tasks use, what is offered, its attributes),
//! `/master/teardown` and
//! `/metrics/snapshot`, in the shapes a Mesos 1.11 master serves.
//!
//! Objects are built with their keys in alphabetical order, as Mesos'
//! JSON writer emits them.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::{Query, State as AxumState};
use axum::http::header::LOCATION;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Map, Value, json};

use crate::http::{ApiError, empty_response, json_response, method_not_allowed};
use crate::json_pieces::{Items, JsonPieces};
use crate::master::faults::Reach;
use crate::master::{Agent, Framework, MESOS_VERSION, Master, State, Task, framework_roles, now_secs};
use crate::resources::Resources;
use mesos::types::TaskState;

const BUILD_DATE: &str = "2020-11-24 15:38:37";
const BUILD_TIME: f64 = 1606232317.0;
const BUILD_USER: &str = "ubuntu";
const GIT_SHA: &str = "04bc7ee1984d86fbb0bd782ccc69ce44c13ae4b9";

/// Agent capabilities a 1.11 agent advertises.
const AGENT_CAPABILITIES: &[&str] = &[
    "MULTI_ROLE",
    "HIERARCHICAL_ROLE",
    "RESERVATION_REFINEMENT",
    "RESOURCE_PROVIDER",
    "RESIZE_VOLUME",
    "AGENT_OPERATION_FEEDBACK",
    "AGENT_DRAINING",
    "TASK_RESOURCE_LIMITS",
];

fn version_json() -> Value {
    json!({
        "build_date": BUILD_DATE,
        "build_time": BUILD_TIME,
        "build_user": BUILD_USER,
        "git_sha": GIT_SHA,
        "git_tag": MESOS_VERSION,
        "version": MESOS_VERSION,
    })
}

pub async fn version() -> Response {
    json_response(&version_json())
}

pub async fn health() -> Response {
    empty_response(StatusCode::OK)
}

/// 307 to the leader (this master), scheme-relative and without a path.
pub async fn redirect(AxumState(master): AxumState<Arc<Master>>) -> Response {
    let mut response = empty_response(StatusCode::TEMPORARY_REDIRECT);
    let location = format!("//{}:{}", master.identity.hostname, master.identity.port);
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

pub async fn state(AxumState(master): AxumState<Arc<Master>>) -> Response {
    state_pieces(&master).into_response()
}

pub async fn frameworks(
    AxumState(master): AxumState<Arc<Master>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let wanted = query.get("framework_id");
    let state = master.lock();
    let keep = |f: &&Framework| wanted.is_none_or(|id| *id == f.id.value);
    let frameworks: Vec<FrameworkParts> = state
        .frameworks
        .values()
        .filter(keep)
        .map(|f| framework_parts(&state, f))
        .collect();
    let completed: Vec<FrameworkParts> = state
        .completed_frameworks
        .iter()
        .filter(keep)
        .map(|f| framework_parts(&state, f))
        .collect();
    drop(state);
    let head = serde_json::to_string(&json!({
        "completed_frameworks": null,
        "frameworks": null,
        "unregistered_frameworks": [],
    }))
    .unwrap_or_else(|_| "{}".to_string());
    framework_lists(&head, completed, frameworks).into_response()
}

pub async fn tasks(
    AxumState(master): AxumState<Arc<Master>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let limit: usize = query.get("limit").and_then(|l| l.parse().ok()).unwrap_or(100);
    let offset: usize = query.get("offset").and_then(|o| o.parse().ok()).unwrap_or(0);
    let descending = query.get("order").is_some_and(|o| o == "desc");
    let state = master.lock();
    let mut all: Vec<&Task> = state
        .frameworks
        .values()
        .chain(state.completed_frameworks.iter())
        .filter(|f| query.get("framework_id").is_none_or(|id| *id == f.id.value))
        .flat_map(|f| f.tasks.values().chain(f.completed_tasks.iter()))
        .filter(|t| query.get("task_id").is_none_or(|id| *id == t.info.task_id.value))
        .collect();
    all.sort_by(|a, b| {
        let time = |t: &Task| t.statuses.first().and_then(|s| s.timestamp).unwrap_or(0.0);
        time(a).total_cmp(&time(b))
    });
    if descending {
        all.reverse();
    }
    let tasks: Vec<Value> = all.into_iter().skip(offset).take(limit).map(task_json).collect();
    json_response(&json!({ "tasks": tasks }))
}

/// `/master/slaves`: each agent as in `/master/state`, plus the full
/// resource lists a 1.11 master adds here (`SlavesWriter::writeSlave`).
pub async fn slaves(AxumState(master): AxumState<Arc<Master>>) -> Response {
    let state = master.lock();
    let slaves: Vec<Value> = state
        .agents
        .iter()
        .enumerate()
        .filter(|(_, a)| a.reach == Reach::Reachable)
        .map(|(i, a)| {
            let mut object = agent_json(&master, &state, i, a);
            if let Some(map) = object.as_object_mut() {
                map.extend(full_resources(&state, i, a));
            }
            object
        })
        .collect();
    json_response(&json!({ "recovered_slaves": [], "slaves": slaves }))
}

/// `reserved_resources_full` (none: local nodes have no reservations),
/// `unreserved_resources_full` (the node's total, role `*`), and
/// `used_resources_full` and `offered_resources_full` as `Resource` protos
/// carrying the role they are allocated to.
fn full_resources(state: &State, index: usize, agent: &Agent) -> Map<String, Value> {
    let mut used: BTreeMap<&str, Resources> = BTreeMap::new();
    let tasks = state
        .frameworks
        .values()
        .flat_map(|f| f.tasks.values())
        .filter(|t| t.agent == index && !t.resources_released);
    for task in tasks {
        used.entry(task.role.as_str()).or_default().add(&task.resources);
    }
    let mut offered: BTreeMap<&str, Resources> = BTreeMap::new();
    for offer in state.offers.values().filter(|o| o.agent == index) {
        offered.entry(offer.role.as_str()).or_default().add(&offer.resources);
    }
    let protos = |by_role: &BTreeMap<&str, Resources>| -> Value {
        let all: Vec<mesos::types::Resource> = by_role
            .iter()
            .flat_map(|(role, resources)| resources.to_offer_resources(Some(role)))
            .collect();
        serde_json::to_value(all).unwrap_or(Value::Array(Vec::new()))
    };
    let unreserved = serde_json::to_value(agent.total.to_offer_resources(None)).unwrap_or(Value::Array(Vec::new()));
    let mut map = Map::new();
    map.insert("offered_resources_full".to_string(), protos(&offered));
    map.insert("reserved_resources_full".to_string(), json!({}));
    map.insert("unreserved_resources_full".to_string(), unreserved);
    map.insert("used_resources_full".to_string(), protos(&used));
    map
}

/// `POST /master/teardown` with form field `frameworkId`.
pub async fn teardown(
    AxumState(master): AxumState<Arc<Master>>,
    method: Method,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    if method != Method::POST {
        return method_not_allowed(&["POST"], &method);
    }
    let form = parse_form(&String::from_utf8_lossy(&body));
    let Some(id) = form.get("frameworkId").or_else(|| query.get("frameworkId")) else {
        return ApiError::bad_request("Missing 'frameworkId' query parameter in the request body").into_response();
    };
    if master.teardown(id) {
        empty_response(StatusCode::OK)
    } else {
        ApiError::bad_request("No framework found with specified ID").into_response()
    }
}

fn parse_form(body: &str) -> HashMap<String, String> {
    body.split('&')
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            Some((percent_decode(key), percent_decode(value)))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match text.get(i + 1..i + 3).and_then(|hex| u8::from_str_radix(hex, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub async fn metrics(AxumState(master): AxumState<Arc<Master>>) -> Response {
    json_response(&metrics_json(&master))
}

// ------------------------------------------------------------- builders ---

/// `/master/state` as JSON text in pieces. Each task's object is kept as
/// text between changes of the task (`Task::json`) and shared into the
/// answer, so the work under the lock is taking references.
fn state_pieces(master: &Master) -> JsonPieces {
    let state = master.lock();
    let identity = &master.identity;
    let leader_info = serde_json::to_value(identity.master_info()).unwrap_or(Value::Null);
    let slaves: Vec<Value> = state
        .agents
        .iter()
        .enumerate()
        .filter(|(_, a)| a.reach == Reach::Reachable)
        .map(|(i, a)| agent_json(master, &state, i, a))
        .collect();
    let unreachable = state
        .agents
        .iter()
        .filter(|a| matches!(a.reach, Reach::Partitioned { .. }))
        .count();
    let head = serde_json::to_string(&json!({
        "activated_slaves": slaves.len() as f64,
        "build_date": BUILD_DATE,
        "build_time": BUILD_TIME,
        "build_user": BUILD_USER,
        "capabilities": ["AGENT_UPDATE", "AGENT_DRAINING", "QUOTA_V2"],
        "completed_frameworks": null,
        "deactivated_slaves": 0.0,
        "elected_time": master.start_time,
        "flags": {
            "authenticate_agents": "false",
            "authenticate_frameworks": "false",
            "authenticate_http_frameworks": "false",
            "hostname": identity.hostname,
            "ip": identity.ip.to_string(),
            "port": identity.port.to_string(),
            "work_dir": master.work_dir.to_string_lossy(),
        },
        "frameworks": null,
        "git_sha": GIT_SHA,
        "git_tag": MESOS_VERSION,
        "hostname": identity.hostname,
        "id": identity.id,
        "leader": identity.pid(),
        "leader_info": leader_info,
        "orphan_tasks": [],
        "pid": identity.pid(),
        "recovered_slaves": [],
        "slaves": slaves,
        "start_time": master.start_time,
        "unregistered_frameworks": [],
        "unreachable_slaves": unreachable as f64,
        "version": MESOS_VERSION,
    }))
    .unwrap_or_else(|_| "{}".to_string());
    let completed: Vec<FrameworkParts> = state
        .completed_frameworks
        .iter()
        .map(|f| framework_parts(&state, f))
        .collect();
    let frameworks: Vec<FrameworkParts> = state.frameworks.values().map(|f| framework_parts(&state, f)).collect();
    drop(state);
    framework_lists(&head, completed, frameworks)
}

/// `head` (an object with `"completed_frameworks":null` and
/// `"frameworks":null`) with those lists in place.
fn framework_lists(head: &str, completed: Vec<FrameworkParts>, frameworks: Vec<FrameworkParts>) -> JsonPieces {
    let nested = |list: Vec<FrameworkParts>| Items::Nested(list.into_iter().map(FrameworkParts::into_pieces).collect());
    JsonPieces::splice(
        head,
        vec![
            ("completed_frameworks", nested(completed)),
            ("frameworks", nested(frameworks)),
        ],
    )
}

/// A framework as `/master/state` and `/master/frameworks` list it, in
/// parts taken under the lock (its own fields, and each task's kept text)
/// and put together after it (`into_pieces`).
struct FrameworkParts {
    head: String,
    completed: Vec<Arc<str>>,
    tasks: Vec<Arc<str>>,
    unreachable: Vec<String>,
}

fn framework_parts(state: &State, framework: &Framework) -> FrameworkParts {
    FrameworkParts {
        head: serde_json::to_string(&framework_json(state, framework)).unwrap_or_else(|_| "{}".to_string()),
        completed: framework.completed_tasks.iter().map(task_text).collect(),
        tasks: framework
            .tasks
            .values()
            .filter(|t| !state.partitioned(t.agent))
            .map(task_text)
            .collect(),
        unreachable: framework
            .tasks
            .values()
            .filter(|t| state.partitioned(t.agent))
            .map(|t| serde_json::to_string(&task_json_as(t, TaskState::TaskUnreachable)).unwrap_or_default())
            .collect(),
    }
}

impl FrameworkParts {
    fn into_pieces(self) -> JsonPieces {
        JsonPieces::splice(
            &self.head,
            vec![
                ("completed_tasks", Items::Shared(self.completed)),
                ("tasks", Items::Shared(self.tasks)),
                ("unreachable_tasks", Items::Texts(self.unreachable)),
            ],
        )
    }
}

/// A task's object as text, kept until its state or statuses change; a
/// change renders only the new statuses (its fixed fields are rendered
/// once), so that a `/master/state` in the middle of a launch, where most
/// tasks changed since the last one, does little under the master's lock.
fn task_text(task: &Task) -> Arc<str> {
    let key = (task.state, task.statuses.len());
    let mut guard = task.json.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let kept = &mut *guard;
    // The statuses rendered so far are those of the last whole text.
    let rendered = match &kept.whole {
        Some((at, text)) if *at == key => return Arc::clone(text),
        Some(((_, count), _)) => *count,
        None => 0,
    };
    for status in task.statuses.iter().skip(rendered) {
        if !kept.statuses.is_empty() {
            kept.statuses.push(',');
        }
        kept.statuses
            .push_str(&serde_json::to_string(&status_json(status)).unwrap_or_else(|_| "{}".to_string()));
    }
    let fixed = kept.fixed.get_or_insert_with(|| fixed_fields(task));
    let state = serde_json::to_string(task.state.as_str()).unwrap_or_default();
    let mut text = String::with_capacity(fixed.len() + kept.statuses.len() + state.len() + 32);
    text.push('{');
    text.push_str(fixed);
    text.push_str(",\"state\":");
    text.push_str(&state);
    text.push_str(",\"statuses\":[");
    text.push_str(&kept.statuses);
    text.push_str("]}");
    let text: Arc<str> = text.into();
    kept.whole = Some((key, Arc::clone(&text)));
    text
}

/// A task's fields that never change, as `"key":value,…` (no braces).
fn fixed_fields(task: &Task) -> Box<str> {
    let text = serde_json::to_string(&Value::Object(fixed_json(task))).unwrap_or_else(|_| "{}".to_string());
    // `{…}` without its braces.
    text[1..text.len() - 1].into()
}

fn offered_on(state: &State, agent: usize) -> Resources {
    let mut offered = Resources::default();
    for offer in state.offers.values().filter(|o| o.agent == agent) {
        offered.add(&offer.resources);
    }
    offered
}

fn agent_json(master: &Master, state: &State, index: usize, agent: &Agent) -> Value {
    let attributes: Map<String, Value> = agent
        .config
        .attributes
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    json!({
        "active": true,
        "attributes": attributes,
        "capabilities": AGENT_CAPABILITIES,
        "deactivated": false,
        "hostname": agent.config.hostname,
        "id": agent.id.value,
        "offered_resources": offered_on(state, index).summary(),
        "pid": agent.pid(index, &master.identity),
        "port": master.identity.port,
        "registered_time": agent.registered_time,
        "reserved_resources": {},
        "resources": agent.total.summary(),
        "unreserved_resources": agent.total.summary(),
        "used_resources": agent.used.summary(),
        "version": MESOS_VERSION,
    })
}

/// A framework's object with `null` for its three task lists (see
/// `framework_text`).
fn framework_json(state: &State, framework: &Framework) -> Value {
    let mut used = Resources::default();
    for task in framework.tasks.values().filter(|t| !t.resources_released) {
        used.add(&task.resources);
    }
    let offers: Vec<&crate::master::Offer> = state
        .offers
        .values()
        .filter(|o| o.framework_id == framework.id.value)
        .collect();
    let mut offered = Resources::default();
    for offer in &offers {
        offered.add(&offer.resources);
    }
    let mut total = used.clone();
    total.add(&offered);
    let multi_role = framework.multi_role();
    let offers_json: Vec<Value> = offers
        .iter()
        .map(|o| {
            json!({
                "allocation_info": { "role": o.role },
                "framework_id": o.framework_id,
                "id": o.id,
                "resources": o.resources.summary(),
                "slave_id": state.agents.get(o.agent).map(|a| a.id.value.clone()).unwrap_or_default(),
            })
        })
        .collect();
    let capabilities: Vec<Value> = framework
        .info
        .capabilities
        .iter()
        .filter_map(|c| c.kind)
        .filter_map(|k| serde_json::to_value(k).ok())
        .collect();
    let info = &framework.info;
    let mut object = json!({
        "active": framework.active,
        "capabilities": capabilities,
        "checkpoint": info.checkpoint.unwrap_or(false),
        "completed_tasks": null,
        "connected": framework.connected(),
        "executors": [],
        "failover_timeout": info.failover_timeout.unwrap_or(0.0),
        "hostname": info.hostname.clone().unwrap_or_default(),
        "id": framework.id.value,
        "name": info.name,
        "offered_resources": offered.summary(),
        "offers": offers_json,
        "recovered": false,
        "registered_time": framework.registered_time,
        "resources": total.summary(),
        "roles": framework_roles(info),
        "tasks": null,
        "unreachable_tasks": null,
        "used_resources": used.summary(),
        "user": info.user,
        "webui_url": info.webui_url.clone().unwrap_or_default(),
    });
    if let Some(map) = object.as_object_mut() {
        if !multi_role {
            map.insert(
                "role".to_string(),
                Value::String(info.role.clone().unwrap_or_else(|| "*".to_string())),
            );
        }
        if let Some(principal) = &info.principal {
            map.insert("principal".to_string(), Value::String(principal.clone()));
        }
        if let Some(labels) = &info.labels {
            map.insert("labels".to_string(), labels_json(labels));
        }
        if let Some(t) = framework.reregistered_time {
            map.insert("reregistered_time".to_string(), json!(t));
        }
        if let Some(t) = framework.unregistered_time {
            map.insert("unregistered_time".to_string(), json!(t));
        }
    }
    object
}

fn labels_json(labels: &mesos::types::Labels) -> Value {
    serde_json::to_value(&labels.labels).unwrap_or(Value::Array(Vec::new()))
}

fn task_json(task: &Task) -> Value {
    task_json_as(task, task.state)
}

/// A task as the master lists it, in `state` (TASK_UNREACHABLE for a task
/// of a partitioned node).
fn task_json_as(task: &Task, state: TaskState) -> Value {
    let mut map = fixed_json(task);
    map.insert("state".to_string(), json!(state.as_str()));
    let statuses: Vec<Value> = task.statuses.iter().map(status_json).collect();
    map.insert("statuses".to_string(), Value::Array(statuses));
    Value::Object(map)
}

/// The fields of a task's object that never change (all but `state` and
/// `statuses`).
fn fixed_json(task: &Task) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("executor_id".to_string(), json!(""));
    map.insert("framework_id".to_string(), json!(task.framework_id.value));
    map.insert("id".to_string(), json!(task.info.task_id.value));
    map.insert("name".to_string(), json!(task.info.name));
    map.insert("resources".to_string(), task.resources.summary());
    map.insert("role".to_string(), json!(task.role));
    map.insert("slave_id".to_string(), json!(task.agent_id.value));
    map.insert("user".to_string(), json!(task.user));
    if let Some(labels) = &task.info.labels {
        map.insert("labels".to_string(), labels_json(labels));
    }
    for (key, value) in &task.listed {
        map.insert((*key).to_string(), value.clone());
    }
    map
}

/// One of a task's statuses as `/master/state` lists it.
fn status_json(status: &mesos::types::TaskStatus) -> Value {
    let mut map = Map::new();
    map.insert("state".to_string(), json!(status.state.as_str()));
    map.insert("timestamp".to_string(), json!(status.timestamp.unwrap_or(0.0)));
    if let Some(cs) = &status.container_status
        && let Ok(value) = serde_json::to_value(cs)
    {
        map.insert("container_status".to_string(), value);
    }
    if let Some(healthy) = status.healthy {
        map.insert("healthy".to_string(), Value::Bool(healthy));
    }
    if let Some(labels) = &status.labels {
        map.insert("labels".to_string(), labels_json(labels));
    }
    Value::Object(map)
}

fn metrics_json(master: &Master) -> Value {
    let state = master.lock();
    let mut m = Map::new();
    let mut put = |key: &str, value: f64| {
        m.insert(format!("master/{key}"), json!(value));
    };
    put("elected", 1.0);
    put("uptime_secs", (now_secs() - master.start_time).max(0.0));
    let connected = state.frameworks.values().filter(|f| f.connected()).count() as f64;
    let active = state.frameworks.values().filter(|f| f.active).count() as f64;
    let total = state.frameworks.len() as f64;
    put("frameworks_active", active);
    put("frameworks_inactive", total - active);
    put("frameworks_connected", connected);
    put("frameworks_disconnected", total - connected);
    let agents = state.agents.iter().filter(|a| a.reach == Reach::Reachable).count() as f64;
    let unreachable = state
        .agents
        .iter()
        .filter(|a| matches!(a.reach, Reach::Partitioned { .. }))
        .count() as f64;
    put("slaves_active", agents);
    put("slaves_connected", agents);
    put("slaves_disconnected", 0.0);
    put("slaves_inactive", 0.0);
    put("slaves_unreachable", unreachable);
    // One pass over the live tasks, whatever the number of states.
    let mut live: HashMap<&'static str, u64> = HashMap::new();
    for task in state.frameworks.values().flat_map(|f| f.tasks.values()) {
        let shown = if state.partitioned(task.agent) {
            TaskState::TaskUnreachable
        } else {
            task.state
        };
        *live.entry(shown.as_str()).or_default() += 1;
    }
    for name in ["staging", "starting", "running", "killing", "unreachable"] {
        let wanted = format!("TASK_{}", name.to_ascii_uppercase());
        let count = live.get(wanted.as_str()).copied().unwrap_or(0);
        put(&format!("tasks_{name}"), count as f64);
    }
    for name in [
        "finished",
        "failed",
        "killed",
        "lost",
        "error",
        "dropped",
        "gone",
        "gone_by_operator",
    ] {
        let wanted = format!("TASK_{}", name.to_ascii_uppercase());
        let count = state.counters.terminal.get(wanted.as_str()).copied().unwrap_or(0);
        put(&format!("tasks_{name}"), count as f64);
    }
    put("outstanding_offers", state.offers.len() as f64);
    let mut total_resources = Resources::default();
    let mut used = Resources::default();
    for agent in &state.agents {
        total_resources.add(&agent.total);
        used.add(&agent.used);
    }
    let percent = |u: i64, t: i64| if t > 0 { u as f64 / t as f64 } else { 0.0 };
    for (name, t, u) in [
        ("cpus", total_resources.cpus, used.cpus),
        ("mem", total_resources.mem, used.mem),
        ("disk", total_resources.disk, used.disk),
        ("gpus", total_resources.gpus, used.gpus),
    ] {
        put(&format!("{name}_total"), crate::resources::from_milli(t));
        put(&format!("{name}_used"), crate::resources::from_milli(u));
        put(&format!("{name}_percent"), percent(u, t));
    }
    put("valid_status_update_acknowledgements", state.counters.valid_acks as f64);
    put(
        "invalid_status_update_acknowledgements",
        state.counters.invalid_acks as f64,
    );
    put("messages_decline_offers", state.counters.offers_declined as f64);
    put("event_queue_messages", 0.0);
    put("event_queue_http_requests", 0.0);
    for (call, count) in &state.counters.calls {
        put(&format!("messages_{call}"), *count as f64);
    }
    // A BTreeMap-backed object: keys come out sorted, as Mesos sorts them.
    let sorted: std::collections::BTreeMap<String, Value> = m.into_iter().collect();
    serde_json::to_value(sorted).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding() {
        let form = parse_form("frameworkId=abc-0000%2Dx&other=a+b");
        assert_eq!(form.get("frameworkId").map(String::as_str), Some("abc-0000-x"));
        assert_eq!(form.get("other").map(String::as_str), Some("a b"));
        assert_eq!(percent_decode("100%"), "100%");
    }

    /// Guards the kept task text: rendered in parts (fixed fields once,
    /// statuses as they are added), it must read as the task's JSON at
    /// every change.
    #[test]
    fn a_tasks_kept_text_follows_its_changes() {
        use mesos::types::{AgentId, FrameworkId, TaskInfo, TaskStatus};
        let info: TaskInfo = serde_json::from_value(json!({
            "name": "web.1",
            "task_id": {"value": "web.1"},
            "agent_id": {"value": "S1"},
            "labels": {"labels": [{"key": "app", "value": "web \"quoted\""}]},
        }))
        .expect("a TaskInfo");
        let mut task = Task {
            info,
            listed: vec![("kill_policy", json!({"grace_period": {"nanoseconds": 1}}))],
            framework_id: FrameworkId::new("F1"),
            agent: 0,
            agent_id: AgentId::new("S1"),
            role: "*".into(),
            resources: Resources::default(),
            resources_released: false,
            state: TaskState::TaskStaging,
            status_update_state: None,
            statuses: Vec::new(),
            updates: crate::master::UpdateQueue::new(std::time::Duration::from_secs(10)),
            executor: None,
            kill_grace: std::time::Duration::from_secs(3),
            kill_sent: false,
            pid: None,
            user: "nobody".into(),
            json: std::sync::Mutex::new(crate::master::KeptJson::default()),
        };
        let read = |task: &Task| serde_json::from_str::<Value>(&task_text(task)).expect("the kept text is JSON");
        assert_eq!(read(&task), task_json(&task));
        for (state, healthy) in [
            (TaskState::TaskStarting, None),
            (TaskState::TaskRunning, None),
            (TaskState::TaskRunning, Some(true)),
        ] {
            task.state = state;
            let mut status = json!({"task_id": {"value": "web.1"}, "state": state.as_str(), "timestamp": 1.5});
            if let Some(healthy) = healthy {
                status["healthy"] = json!(healthy);
            }
            task.statuses
                .push(serde_json::from_value::<TaskStatus>(status).expect("a TaskStatus"));
            assert_eq!(read(&task), task_json(&task), "after {state:?}");
            assert_eq!(read(&task), task_json(&task), "kept, after {state:?}");
        }
        // A state change without a status (a kill in progress) shows too.
        task.state = TaskState::TaskKilling;
        assert_eq!(read(&task)["state"], "TASK_KILLING");
        assert_eq!(read(&task)["statuses"].as_array().map(Vec::len), Some(3));
    }
}
