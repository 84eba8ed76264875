//! The operator's fault endpoints (`POST /fault/partition?node=`,
//! `/fault/heal?node=`, `/fault/remove-node?node=`,
//! `/fault/restart-master`): localmesos's own, for tests and demos; a real
//! master has none. The faults themselves are in `master::faults`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State as AxumState};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::http::{ApiError, json_response, method_not_allowed};
use crate::master::Master;
use crate::master::faults::{FaultError, FaultReport};

/// What `node=` names: a hostname or an agent id.
fn node_of(query: &HashMap<String, String>) -> Option<&str> {
    query.get("node").map(String::as_str).filter(|n| !n.is_empty())
}

fn answer(result: Result<FaultReport, FaultError>) -> Response {
    match result {
        Ok(report) => json_response(&json!({
            "agent_id": report.agent_id,
            "hostname": report.hostname,
            "tasks": report.tasks,
        })),
        Err(error @ FaultError::UnknownNode { .. }) => {
            ApiError::new(StatusCode::NOT_FOUND, error.to_string()).into_response()
        }
        Err(error) => ApiError::new(StatusCode::CONFLICT, error.to_string()).into_response(),
    }
}

/// Runs a node fault for `POST ...?node=`.
fn node_fault(
    master: &Master,
    method: &Method,
    query: &HashMap<String, String>,
    fault: impl FnOnce(&Master, &str) -> Result<FaultReport, FaultError>,
) -> Response {
    if *method != Method::POST {
        return method_not_allowed(&["POST"], method);
    }
    match node_of(query) {
        Some(node) => answer(fault(master, node)),
        None => ApiError::bad_request("Missing 'node' query parameter (a hostname or an agent id)").into_response(),
    }
}

pub async fn partition(
    AxumState(master): AxumState<Arc<Master>>,
    method: Method,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    node_fault(&master, &method, &query, Master::partition)
}

pub async fn heal(
    AxumState(master): AxumState<Arc<Master>>,
    method: Method,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    node_fault(&master, &method, &query, Master::heal)
}

pub async fn remove_node(
    AxumState(master): AxumState<Arc<Master>>,
    method: Method,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    node_fault(&master, &method, &query, Master::remove_node)
}

pub async fn restart_master(AxumState(master): AxumState<Arc<Master>>, method: Method) -> Response {
    if method != Method::POST {
        return method_not_allowed(&["POST"], &method);
    }
    match master.restart_losing_state() {
        Ok(tasks) => json_response(&json!({ "tasks": tasks })),
        Err(error) => ApiError::new(StatusCode::CONFLICT, error.to_string()).into_response(),
    }
}
