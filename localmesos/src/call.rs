//! Turning a request body into a validated `scheduler::Call`, with the
//! checks, order and error texts of a Mesos 1.11 master.
//!
//! A master first parses the JSON (`Failed to parse body into JSON: …`),
//! then converts it into the v1 protobuf — unknown keys and unknown values of
//! optional enums are dropped, required fields are checked (`Failed to
//! convert JSON into Call protobuf: Missing required fields: a.b, c`) — and
//! finally validates the call (`Failed to validate scheduler::Call: …`).
//! The protobuf step is reproduced by `shape`, with `schema`'s table of the
//! fields of every message a Call can carry.
//!
//! The body is never held as a `serde_json::Value`: `shape` checks it as a
//! stream of tokens, then it is deserialized straight into the typed
//! `Call`, and only the few parts the typed `Call` does not model (the
//! offer operations, kept per task as the framework sent them, and a few
//! small sub-messages) are kept as JSON. A request therefore costs a small
//! multiple of its size, which the body limit (`http::SCHEDULER_BODY_LIMIT`)
//! bounds.

mod schema;
mod shape;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use mesos::types::{Call, CallType};
use serde::Deserialize;
use serde::de::IntoDeserializer;
use serde::de::value::StrDeserializer;
use serde_json::{Map, Value};

use self::shape::ShapeError;

/// A Call that passed parsing and validation, with the parts of its JSON
/// that our typed `Call` does not model (e.g. `TaskInfo.executor`):
/// `accept.operations`, `acknowledge`, `acknowledge_operation_status` and
/// `update_framework`, at their paths in the Call.
#[derive(Debug)]
pub struct ParsedCall {
    pub call: Call,
    pub raw: Value,
}

/// Why a body is not an acceptable Call: the exact text a master answers
/// with `400 Bad Request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRejected(pub String);

/// The parts of a Call kept as JSON (see [`ParsedCall`]).
#[derive(Deserialize)]
struct Retained {
    #[serde(default)]
    accept: Option<RetainedAccept>,
    #[serde(default)]
    acknowledge: Option<Value>,
    #[serde(default)]
    acknowledge_operation_status: Option<Value>,
    #[serde(default)]
    update_framework: Option<Value>,
}

#[derive(Deserialize)]
struct RetainedAccept {
    #[serde(default)]
    operations: Option<Value>,
}

/// Parses and validates a JSON request body.
pub fn parse(body: &[u8]) -> Result<ParsedCall, CallRejected> {
    let convert = |message: String| CallRejected(format!("Failed to convert JSON into Call protobuf: {message}"));
    let shape = shape::check(body).map_err(|error| match error {
        ShapeError::Syntax(e) => CallRejected(format!("Failed to parse body into JSON: {}", json_error_text(body, &e))),
        ShapeError::Convert(message) => convert(message),
    })?;

    let invalid = |message: &str| CallRejected(format!("Failed to validate scheduler::Call: {message}"));
    let kind = match shape.kind {
        None => None,
        Some(Ok(name)) => {
            let name: StrDeserializer<'_, serde::de::value::Error> = name.as_str().into_deserializer();
            CallType::deserialize(name).ok()
        }
        Some(Err(json_type)) => {
            return Err(convert(format!("Not expecting a JSON {json_type} for field 'type'")));
        }
    };
    let Some(kind) = kind.filter(|k| *k != CallType::Unrecognized) else {
        return Err(invalid("Expecting 'type' to be present"));
    };

    let mut call: Call = serde_json::from_slice(body).map_err(|e| convert(without_position(&e)))?;
    call.kind = kind;
    let raw = retained(body, kind).map_err(|e| convert(without_position(&e)))?;
    validate(&call, &shape.present, &raw).map_err(|m| invalid(&m))?;
    Ok(ParsedCall { call, raw })
}

/// The retained JSON of a call that needs any (see [`ParsedCall`]).
fn retained(body: &[u8], kind: CallType) -> Result<Value, serde_json::Error> {
    let mut raw = Map::new();
    if !matches!(
        kind,
        CallType::Accept | CallType::Acknowledge | CallType::AcknowledgeOperationStatus | CallType::UpdateFramework
    ) {
        return Ok(Value::Object(raw));
    }
    let retained: Retained = serde_json::from_slice(body)?;
    if let Some(operations) = retained.accept.and_then(|a| a.operations) {
        let mut accept = Map::new();
        accept.insert("operations".to_string(), operations);
        raw.insert("accept".to_string(), Value::Object(accept));
    }
    for (key, value) in [
        ("acknowledge", retained.acknowledge),
        ("acknowledge_operation_status", retained.acknowledge_operation_status),
        ("update_framework", retained.update_framework),
    ] {
        if let Some(value) = value {
            raw.insert(key.to_string(), value);
        }
    }
    Ok(Value::Object(raw))
}

/// A deserialization error's text without serde_json's ` at line L column
/// C` (the master names the field, not a position).
fn without_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rsplit_once(" at line ") {
        Some((message, _)) if error.line() > 0 => message.to_string(),
        _ => text,
    }
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

/// `validation::scheduler::call::validate`.
fn validate(call: &Call, present: &[&str], raw: &Value) -> Result<(), String> {
    let has = |key: &str| present.contains(&key);
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
    fn a_syntax_error_anywhere_wins_over_conversion_errors() {
        let body = r#"{"type":"ACCEPT","accept":{"operations":[{"launch":{"task_infos":[{"resources":[{"type":"BOGUS"}]}]}}]}} oops"#;
        assert!(
            rejected(body)
                .starts_with("Failed to parse body into JSON: Parsed JSON included non-whitespace trailing characters"),
            "{}",
            rejected(body)
        );
        assert_eq!(
            rejected(r#"{"type": 3}"#),
            "Failed to convert JSON into Call protobuf: Not expecting a JSON number for field 'type'"
        );
        assert_eq!(
            rejected(
                r#"{"type":"ACCEPT","framework_id":{"value":"f"},"accept":{"operations":[{"launch":{"task_infos":[{"resources":[{"name":"cpus","type":"BOGUS"}]}]}}]}}"#
            ),
            "Failed to convert JSON into Call protobuf: Failed to find enum for 'BOGUS'"
        );
    }

    #[test]
    fn the_list_of_missing_fields_is_capped() {
        let tasks = vec!["{}"; 60].join(",");
        let body = format!(
            r#"{{"type":"ACCEPT","framework_id":{{"value":"f"}},"accept":{{"operations":[{{"launch":{{"task_infos":[{tasks}]}}}}]}}}}"#
        );
        let text = rejected(&body);
        // Three required fields per TaskInfo: 180, of which 100 are named.
        assert!(
            text.ends_with("accept.operations[0].launch.task_infos[33].name (and 80 more)"),
            "{text}"
        );
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
