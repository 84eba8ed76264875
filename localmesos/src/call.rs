//! Turning a request body into a validated `scheduler::Call`, with the
//! checks, order and error texts of a Mesos 1.11 master.
//!
//! A master first parses the JSON (`Failed to parse body into JSON: …`),
//! then converts it into the v1 protobuf — unknown keys and unknown values of
//! optional enums are dropped, required fields are checked (`Failed to
//! convert JSON into Call protobuf: Missing required fields: a.b, c`) — and
//! finally validates the call (`Failed to validate scheduler::Call: …`).
//! The protobuf step is reproduced here with a table of the required fields
//! of every message a Call can carry.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use mesos::types::{Call, CallType};
use serde_json::{Map, Value};

/// A Call that passed parsing and validation, with the JSON it came from
/// (parts our typed `Call` does not model, e.g. `TaskInfo.executor`, are
/// read from there).
#[derive(Debug)]
pub struct ParsedCall {
    pub call: Call,
    pub raw: Value,
}

/// Why a body is not an acceptable Call: the exact text a master answers
/// with `400 Bad Request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRejected(pub String);

/// Parses and validates a JSON request body.
pub fn parse(body: &[u8]) -> Result<ParsedCall, CallRejected> {
    let mut raw: Value = serde_json::from_slice(body)
        .map_err(|e| CallRejected(format!("Failed to parse body into JSON: {}", json_error_text(body, &e))))?;

    let convert = |message: String| CallRejected(format!("Failed to convert JSON into Call protobuf: {message}"));
    let Some(object) = raw.as_object() else {
        return Err(convert("Expecting a JSON object".to_string()));
    };
    let mut missing = Vec::new();
    check_message(object, Msg::Call, "", &mut missing).map_err(convert)?;
    if !missing.is_empty() {
        return Err(convert(format!("Missing required fields: {}", missing.join(", "))));
    }

    let invalid = |message: &str| CallRejected(format!("Failed to validate scheduler::Call: {message}"));
    let kind = match object.get("type") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => serde_json::from_value::<CallType>(Value::String(name.clone()))
            .ok()
            .filter(|k| *k != CallType::Unrecognized),
        Some(other) => {
            return Err(convert(format!(
                "Not expecting a JSON {} for field 'type'",
                json_type_name(other)
            )));
        }
    };
    let Some(kind) = kind else {
        return Err(invalid("Expecting 'type' to be present"));
    };

    normalize(&mut raw);
    let mut typed = raw.clone();
    mark_unset_health_check_types(&mut typed);
    let mut call: Call = serde_json::from_value(typed).map_err(|e| convert(e.to_string()))?;
    call.kind = kind;
    validate(&call, &raw).map_err(|m| invalid(&m))?;
    Ok(ParsedCall { call, raw })
}

/// picojson-style text for a JSON syntax error: `syntax error at line 1
/// near: <rest of the line>`.
fn json_error_text(body: &[u8], error: &serde_json::Error) -> String {
    let text = String::from_utf8_lossy(body);
    let line_index = error.line().saturating_sub(1);
    let line = text.split('\n').nth(line_index).unwrap_or("");
    let column = error.column().saturating_sub(1).min(line.len());
    let mut start = column;
    while start > 0 && !line.is_char_boundary(start) {
        start -= 1;
    }
    let rest = &line[start..];
    if error.to_string().starts_with("trailing characters") {
        let offset: usize = text.split('\n').take(line_index).map(|l| l.len() + 1).sum::<usize>() + start;
        let tail = text.get(offset..).unwrap_or("");
        return format!("Parsed JSON included non-whitespace trailing characters: {tail}");
    }
    format!("syntax error at line {} near: {rest}", error.line().max(1))
}

fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Fills in what protobuf would default and our typed structs require.
fn normalize(raw: &mut Value) {
    if let Some(ops) = raw
        .get_mut("accept")
        .and_then(|a| a.get_mut("operations"))
        .and_then(Value::as_array_mut)
    {
        for op in ops {
            if let Some(op) = op.as_object_mut()
                && !matches!(op.get("type"), Some(Value::String(_)))
            {
                op.insert("type".to_string(), Value::String("UNKNOWN".to_string()));
            }
        }
    }
}

/// A `HealthCheck.type` is optional in the protobuf (the master's task
/// validation requires it) but not in our typed struct: an absent one is
/// given a name no enum value has, which reads as "unset"
/// (`HealthCheckType::Unrecognized`). Only the typed copy is changed.
fn mark_unset_health_check_types(typed: &mut Value) {
    let Some(ops) = typed.pointer_mut("/accept/operations").and_then(Value::as_array_mut) else {
        return;
    };
    for op in ops {
        let Some(tasks) = op.pointer_mut("/launch/task_infos").and_then(Value::as_array_mut) else {
            continue;
        };
        for task in tasks {
            if let Some(check) = task.get_mut("health_check").and_then(Value::as_object_mut)
                && check.get("type").is_none_or(Value::is_null)
            {
                check.insert("type".to_string(), Value::String(String::new()));
            }
        }
    }
}

/// `validation::scheduler::call::validate`.
fn validate(call: &Call, raw: &Value) -> Result<(), String> {
    let has = |key: &str| raw.get(key).is_some_and(|v| !v.is_null());
    if call.kind == CallType::Subscribe {
        let Some(subscribe) = &call.subscribe else {
            return Err("Expecting 'subscribe' to be present".to_string());
        };
        if subscribe.framework_info.id != call.framework_id {
            return Err("'framework_id' differs from 'subscribe.framework_info.id'".to_string());
        }
        return Ok(());
    }
    if call.framework_id.is_none() {
        return Err("Expecting 'framework_id' to be present".to_string());
    }
    let required = match call.kind {
        CallType::Accept => Some("accept"),
        CallType::Decline => Some("decline"),
        CallType::AcceptInverseOffers => Some("accept_inverse_offers"),
        CallType::DeclineInverseOffers => Some("decline_inverse_offers"),
        CallType::Kill => Some("kill"),
        CallType::Shutdown => Some("shutdown"),
        CallType::Acknowledge => Some("acknowledge"),
        CallType::AcknowledgeOperationStatus => Some("acknowledge_operation_status"),
        CallType::Reconcile => Some("reconcile"),
        CallType::ReconcileOperations => Some("reconcile_operations"),
        CallType::Message => Some("message"),
        CallType::Request => Some("request"),
        CallType::UpdateFramework => Some("update_framework"),
        _ => None,
    };
    if let Some(field) = required
        && !has(field)
    {
        return Err(format!("Expecting '{field}' to be present"));
    }
    match call.kind {
        CallType::Acknowledge => check_uuid(raw.pointer("/acknowledge/uuid"))?,
        CallType::AcknowledgeOperationStatus => {
            if raw
                .pointer("/acknowledge_operation_status/agent_id")
                .is_none_or(Value::is_null)
            {
                return Err("Expecting 'agent_id' to be present".to_string());
            }
            check_uuid(raw.pointer("/acknowledge_operation_status/uuid"))?;
        }
        CallType::UpdateFramework => {
            let info_id = raw
                .pointer("/update_framework/framework_info/id/value")
                .and_then(Value::as_str);
            let call_id = call.framework_id.as_ref().map(|id| id.value.as_str());
            if info_id != call_id {
                return Err("'framework_id' differs from 'update_framework.framework_info.id'".to_string());
            }
        }
        _ => {}
    }
    Ok(())
}

/// `id::UUID::fromBytes`: the decoded bytes must be exactly 16.
fn check_uuid(value: Option<&Value>) -> Result<(), String> {
    let text = value.and_then(Value::as_str).unwrap_or("");
    match BASE64.decode(text) {
        Ok(bytes) if bytes.len() == 16 => Ok(()),
        _ => Err("Not a valid UUID".to_string()),
    }
}

/// Decodes a base64 uuid received in a call (already validated).
pub fn decode_uuid(text: &str) -> Option<Vec<u8>> {
    BASE64.decode(text).ok().filter(|b| b.len() == 16)
}

// ------------------------------------------------- protobuf conversion ---

/// Messages reachable from a Call whose required fields are checked.
#[derive(Clone, Copy, Debug)]
enum Msg {
    Call,
    Id,
    Subscribe,
    FrameworkInfo,
    Labels,
    Label,
    Accept,
    InverseOffers,
    Operation,
    Launch,
    LaunchGroup,
    TaskGroup,
    TaskInfo,
    Resource,
    Scalar,
    Ranges,
    Range,
    ExecutorInfo,
    CommandInfo,
    Uri,
    Environment,
    Variable,
    ContainerInfo,
    Volume,
    DockerInfo,
    PortMapping,
    Parameter,
    MesosInfo,
    Image,
    ImageName,
    NetworkInfo,
    HealthCheck,
    PortCheck,
    KillPolicy,
    Duration,
    Discovery,
    Ports,
    Port,
    Decline,
    Kill,
    Shutdown,
    Acknowledge,
    AckOperation,
    Reconcile,
    ReconcileTask,
    ReconcileOperations,
    ReconcileOperation,
    Message,
    Request,
    RequestItem,
    UpdateFramework,
}

#[derive(Clone, Copy)]
enum Kind {
    /// A scalar or string value.
    Plain,
    /// A `bytes` field: base64 text.
    Bytes,
    Enum(&'static [&'static str]),
    Message(Msg),
}

#[derive(Clone, Copy)]
struct Field {
    name: &'static str,
    required: bool,
    repeated: bool,
    kind: Kind,
}

const fn req(name: &'static str) -> Field {
    Field {
        name,
        required: true,
        repeated: false,
        kind: Kind::Plain,
    }
}
const fn req_bytes(name: &'static str) -> Field {
    Field {
        name,
        required: true,
        repeated: false,
        kind: Kind::Bytes,
    }
}
const fn opt_bytes(name: &'static str) -> Field {
    Field {
        name,
        required: false,
        repeated: false,
        kind: Kind::Bytes,
    }
}
const fn req_enum(name: &'static str, values: &'static [&'static str]) -> Field {
    Field {
        name,
        required: true,
        repeated: false,
        kind: Kind::Enum(values),
    }
}
const fn req_msg(name: &'static str, msg: Msg) -> Field {
    Field {
        name,
        required: true,
        repeated: false,
        kind: Kind::Message(msg),
    }
}
const fn opt_msg(name: &'static str, msg: Msg) -> Field {
    Field {
        name,
        required: false,
        repeated: false,
        kind: Kind::Message(msg),
    }
}
const fn rep_msg(name: &'static str, msg: Msg) -> Field {
    Field {
        name,
        required: false,
        repeated: true,
        kind: Kind::Message(msg),
    }
}

const VALUE_TYPES: &[&str] = &["SCALAR", "RANGES", "SET", "TEXT"];

fn fields(msg: Msg) -> Vec<Field> {
    use Msg as M;
    match msg {
        M::Call => vec![
            opt_msg("framework_id", M::Id),
            opt_msg("subscribe", M::Subscribe),
            opt_msg("accept", M::Accept),
            opt_msg("decline", M::Decline),
            opt_msg("accept_inverse_offers", M::InverseOffers),
            opt_msg("decline_inverse_offers", M::InverseOffers),
            opt_msg("kill", M::Kill),
            opt_msg("shutdown", M::Shutdown),
            opt_msg("acknowledge", M::Acknowledge),
            opt_msg("acknowledge_operation_status", M::AckOperation),
            opt_msg("reconcile", M::Reconcile),
            opt_msg("reconcile_operations", M::ReconcileOperations),
            opt_msg("message", M::Message),
            opt_msg("request", M::Request),
            opt_msg("update_framework", M::UpdateFramework),
        ],
        M::Id => vec![req("value")],
        M::Subscribe => vec![req_msg("framework_info", M::FrameworkInfo)],
        M::UpdateFramework => vec![req_msg("framework_info", M::FrameworkInfo)],
        M::FrameworkInfo => vec![
            req("user"),
            req("name"),
            opt_msg("id", M::Id),
            opt_msg("labels", M::Labels),
        ],
        M::Labels => vec![rep_msg("labels", M::Label)],
        M::Label => vec![req("key")],
        M::Accept => vec![rep_msg("offer_ids", M::Id), rep_msg("operations", M::Operation)],
        M::InverseOffers => vec![rep_msg("inverse_offer_ids", M::Id)],
        M::Operation => vec![
            opt_msg("launch", M::Launch),
            opt_msg("launch_group", M::LaunchGroup),
            opt_msg("id", M::Id),
        ],
        M::Launch => vec![rep_msg("task_infos", M::TaskInfo)],
        M::LaunchGroup => vec![
            req_msg("executor", M::ExecutorInfo),
            req_msg("task_group", M::TaskGroup),
        ],
        M::TaskGroup => vec![rep_msg("tasks", M::TaskInfo)],
        M::TaskInfo => vec![
            req("name"),
            req_msg("task_id", M::Id),
            req_msg("agent_id", M::Id),
            rep_msg("resources", M::Resource),
            opt_msg("executor", M::ExecutorInfo),
            opt_bytes("data"),
            opt_msg("command", M::CommandInfo),
            opt_msg("health_check", M::HealthCheck),
            opt_msg("container", M::ContainerInfo),
            opt_msg("labels", M::Labels),
            opt_msg("discovery", M::Discovery),
            opt_msg("kill_policy", M::KillPolicy),
            opt_msg("max_completion_time", M::Duration),
        ],
        M::Resource => vec![
            req("name"),
            req_enum("type", VALUE_TYPES),
            opt_msg("scalar", M::Scalar),
            opt_msg("ranges", M::Ranges),
        ],
        M::Scalar => vec![req("value")],
        M::Ranges => vec![rep_msg("range", M::Range)],
        M::Range => vec![req("begin"), req("end")],
        M::ExecutorInfo => vec![
            req_msg("executor_id", M::Id),
            opt_msg("framework_id", M::Id),
            opt_msg("command", M::CommandInfo),
            opt_msg("container", M::ContainerInfo),
            rep_msg("resources", M::Resource),
            opt_bytes("data"),
            opt_msg("discovery", M::Discovery),
            opt_msg("shutdown_grace_period", M::Duration),
            opt_msg("labels", M::Labels),
        ],
        M::CommandInfo => vec![rep_msg("uris", M::Uri), opt_msg("environment", M::Environment)],
        M::Uri => vec![req("value")],
        M::Environment => vec![rep_msg("variables", M::Variable)],
        M::Variable => vec![req("name")],
        M::ContainerInfo => vec![
            req_enum("type", &["DOCKER", "MESOS"]),
            rep_msg("volumes", M::Volume),
            opt_msg("docker", M::DockerInfo),
            opt_msg("mesos", M::MesosInfo),
            rep_msg("network_infos", M::NetworkInfo),
        ],
        M::Volume => vec![req("container_path"), req_enum("mode", &["RW", "RO"])],
        M::DockerInfo => vec![
            req("image"),
            rep_msg("port_mappings", M::PortMapping),
            rep_msg("parameters", M::Parameter),
        ],
        M::PortMapping => vec![req("host_port"), req("container_port")],
        M::Parameter => vec![req("key"), req("value")],
        M::MesosInfo => vec![opt_msg("image", M::Image)],
        M::Image => vec![
            req_enum("type", &["APPC", "DOCKER"]),
            opt_msg("appc", M::ImageName),
            opt_msg("docker", M::ImageName),
        ],
        M::ImageName => vec![req("name")],
        M::NetworkInfo => vec![opt_msg("labels", M::Labels), rep_msg("port_mappings", M::PortMapping)],
        M::HealthCheck => vec![
            opt_msg("http", M::PortCheck),
            opt_msg("command", M::CommandInfo),
            opt_msg("tcp", M::PortCheck),
        ],
        M::PortCheck => vec![req("port")],
        M::KillPolicy => vec![opt_msg("grace_period", M::Duration)],
        M::Duration => vec![req("nanoseconds")],
        M::Discovery => vec![
            req_enum("visibility", &["FRAMEWORK", "CLUSTER", "EXTERNAL"]),
            opt_msg("ports", M::Ports),
            opt_msg("labels", M::Labels),
        ],
        M::Ports => vec![rep_msg("ports", M::Port)],
        M::Port => vec![req("number"), opt_msg("labels", M::Labels)],
        M::Decline => vec![rep_msg("offer_ids", M::Id)],
        M::Kill => vec![
            req_msg("task_id", M::Id),
            opt_msg("agent_id", M::Id),
            opt_msg("kill_policy", M::KillPolicy),
        ],
        M::Shutdown => vec![req_msg("executor_id", M::Id), req_msg("agent_id", M::Id)],
        M::Acknowledge => vec![req_msg("agent_id", M::Id), req_msg("task_id", M::Id), req_bytes("uuid")],
        M::AckOperation => vec![
            opt_msg("agent_id", M::Id),
            opt_msg("resource_provider_id", M::Id),
            req_bytes("uuid"),
            req_msg("operation_id", M::Id),
        ],
        M::Reconcile => vec![rep_msg("tasks", M::ReconcileTask)],
        M::ReconcileTask => vec![req_msg("task_id", M::Id), opt_msg("agent_id", M::Id)],
        M::ReconcileOperations => vec![rep_msg("operations", M::ReconcileOperation)],
        M::ReconcileOperation => vec![
            req_msg("operation_id", M::Id),
            opt_msg("agent_id", M::Id),
            opt_msg("resource_provider_id", M::Id),
        ],
        M::Message => vec![
            req_msg("agent_id", M::Id),
            req_msg("executor_id", M::Id),
            req_bytes("data"),
        ],
        M::Request => vec![rep_msg("requests", M::RequestItem)],
        M::RequestItem => vec![opt_msg("agent_id", M::Id), rep_msg("resources", M::Resource)],
    }
}

/// Walks one message like protobuf's `FindInitializationErrors`: this
/// message's missing required fields first, then those of its set
/// sub-messages. Hard conversion errors (unknown value of a required enum,
/// undecodable bytes) are returned as `Err`.
fn check_message(object: &Map<String, Value>, msg: Msg, prefix: &str, missing: &mut Vec<String>) -> Result<(), String> {
    let fields = fields(msg);
    for field in &fields {
        let value = object.get(field.name).filter(|v| !v.is_null());
        match (value, field.kind) {
            (None, _) if field.required => missing.push(format!("{prefix}{}", field.name)),
            (Some(Value::String(s)), Kind::Enum(values)) if !values.contains(&s.as_str()) => {
                return Err(format!("Failed to find enum for '{s}'"));
            }
            (Some(Value::String(s)), Kind::Bytes) if BASE64.decode(s).is_err() => {
                return Err(format!(
                    "Failed to base64 decode bytes field '{}': Invalid base64 string",
                    field.name
                ));
            }
            _ => {}
        }
    }
    for field in &fields {
        let Kind::Message(sub) = field.kind else { continue };
        match object.get(field.name) {
            Some(Value::Object(child)) if !field.repeated => {
                check_message(child, sub, &format!("{prefix}{}.", field.name), missing)?;
            }
            Some(Value::Array(items)) if field.repeated => {
                for (i, item) in items.iter().enumerate() {
                    if let Value::Object(child) = item {
                        check_message(child, sub, &format!("{prefix}{}[{i}].", field.name), missing)?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(body: &str) -> String {
        parse(body.as_bytes()).expect_err("must be rejected").0
    }

    #[test]
    fn captured_error_texts() {
        assert_eq!(
            rejected("{not json"),
            "Failed to parse body into JSON: syntax error at line 1 near: not json"
        );
        assert_eq!(
            rejected(r#"{"framework_id": {"value": "x"}}"#),
            "Failed to validate scheduler::Call: Expecting 'type' to be present"
        );
        assert_eq!(
            rejected(r#"{"type": "BOGUS", "framework_id": {"value": "x"}}"#),
            "Failed to validate scheduler::Call: Expecting 'type' to be present"
        );
        assert_eq!(
            rejected(r#"{"type": "ACCEPT", "framework_id": {"value": "x"}}"#),
            "Failed to validate scheduler::Call: Expecting 'accept' to be present"
        );
        assert_eq!(
            rejected(r#"{"type": "SUBSCRIBE", "subscribe": {"framework_info": {"name": "x"}}}"#),
            "Failed to convert JSON into Call protobuf: Missing required fields: subscribe.framework_info.user"
        );
        assert_eq!(
            rejected(
                r#"{"type": "SUBSCRIBE", "framework_id": {"value": "a"}, "subscribe": {"framework_info": {"user": "root", "name": "x", "id": {"value": "b"}}}}"#
            ),
            "Failed to validate scheduler::Call: 'framework_id' differs from 'subscribe.framework_info.id'"
        );
    }

    #[test]
    fn nested_required_fields_are_listed_with_paths() {
        let body = r#"{"type":"ACCEPT","framework_id":{"value":"f"},"accept":{"offer_ids":[{"value":"o"}],"operations":[{"type":"LAUNCH","launch":{"task_infos":[{"task_id":{"value":"t"},"resources":[{"name":"cpus"}]}]}}]}}"#;
        assert_eq!(
            rejected(body),
            "Failed to convert JSON into Call protobuf: Missing required fields: accept.operations[0].launch.task_infos[0].name, accept.operations[0].launch.task_infos[0].agent_id, accept.operations[0].launch.task_infos[0].resources[0].type"
        );
    }

    #[test]
    fn acknowledge_uuid_checks() {
        let ack = |uuid: &str| {
            format!(
                r#"{{"type":"ACKNOWLEDGE","framework_id":{{"value":"f"}},"acknowledge":{{"agent_id":{{"value":"a"}},"task_id":{{"value":"t"}},"uuid":"{uuid}"}}}}"#
            )
        };
        assert_eq!(
            rejected(&ack("AAAA")),
            "Failed to validate scheduler::Call: Not a valid UUID"
        );
        assert!(rejected(&ack("not base64!")).starts_with("Failed to convert JSON into Call protobuf: "));
        assert!(parse(ack("IhkFm9ZcSJSxQzTp06NHHQ==").as_bytes()).is_ok());
    }

    #[test]
    fn non_subscribe_calls_need_a_framework_id() {
        assert_eq!(
            rejected(r#"{"type":"REVIVE"}"#),
            "Failed to validate scheduler::Call: Expecting 'framework_id' to be present"
        );
        let parsed = parse(br#"{"type":"UNKNOWN","framework_id":{"value":"f"}}"#).expect("valid");
        assert_eq!(parsed.call.kind, CallType::Unknown);
    }

    #[test]
    fn operations_without_type_are_kept_as_unknown() {
        let parsed =
            parse(br#"{"type":"ACCEPT","framework_id":{"value":"f"},"accept":{"offer_ids":[],"operations":[{}]}}"#)
                .expect("valid");
        let accept = parsed.call.accept.expect("accept");
        assert_eq!(accept.operations[0].kind, mesos::types::OperationType::Unknown);
    }
}
