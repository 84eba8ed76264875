//! Decoding what real Mesos masters send, and encoding calls as they expect.

use super::*;

#[test]
fn real_subscribed_event_decodes_despite_newer_fields() {
    // Captured from a Mesos 1.11 master: `capabilities` with an empty
    // object is not in our protos and must be ignored.
    let raw = r#"{"type":"SUBSCRIBED","subscribed":{"framework_id":{"value":"f41f1726-ae55-4a60-a534-66bb56bc6e3f-0004"},"heartbeat_interval_seconds":15.0,"master_info":{"id":"f41f1726-ae55-4a60-a534-66bb56bc6e3f","ip":16777343,"port":15050,"pid":"master@127.0.0.1:15050","hostname":"localhost","version":"1.11.0","address":{"hostname":"localhost","ip":"127.0.0.1","port":15050},"capabilities":[{"type":"AGENT_UPDATE"},{"type":"AGENT_DRAINING"},{}]}}}"#;
    let event: Event = serde_json::from_str(raw).expect("decodes");
    assert_eq!(event.kind, EventType::Subscribed);
    let sub = event.subscribed.expect("subscribed");
    assert_eq!(sub.framework_id.value, "f41f1726-ae55-4a60-a534-66bb56bc6e3f-0004");
    assert_eq!(sub.heartbeat_interval_seconds, Some(15.0));
    assert_eq!(sub.master_info.expect("master").ip, 16777343);
}

#[test]
fn real_offers_event_decodes() {
    let raw = r#"{"type":"OFFERS","offers":{"offers":[{"id":{"value":"f41f-O6"},"framework_id":{"value":"f41f-0004"},"agent_id":{"value":"f41f-S0"},"hostname":"localhost","url":{"scheme":"http","address":{"hostname":"localhost","ip":"127.0.0.1","port":15050},"path":"/slave(1)"},"resources":[{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":31000,"end":32000}]},"role":"*","allocation_info":{"role":"*"}},{"name":"cpus","type":"SCALAR","scalar":{"value":4.0},"role":"*","allocation_info":{"role":"*"}}],"allocation_info":{"role":"*"}}]}}"#;
    let event: Event = serde_json::from_str(raw).expect("decodes");
    let offers = event.offers.expect("offers").offers;
    assert_eq!(offers.len(), 1);
    assert_eq!(
        offers[0].resources[0].ranges.as_ref().expect("ranges").range[0].end,
        32000
    );
}

#[test]
fn real_update_and_unknown_enums_decode() {
    let raw = r#"{"type":"UPDATE","update":{"status":{"task_id":{"value":"wire-true"},"state":"TASK_FINISHED","message":"Command exited with status 0","source":"SOURCE_EXECUTOR","agent_id":{"value":"S0"},"executor_id":{"value":"wire-true"},"timestamp":1795569094.7017759,"uuid":"NEFfbJ4PRWC7CvkYekFtCw==","container_status":{"container_id":{"value":"7095ed3b"},"network_infos":[{"ip_addresses":[{"protocol":"IPv4","ip_address":"127.0.0.1"}]}],"executor_pid":12237}}}}"#;
    let event: Event = serde_json::from_str(raw).expect("decodes");
    let status = event.update.expect("update").status;
    assert_eq!(status.state, TaskState::TaskFinished);
    assert!(status.state.is_terminal());
    assert_eq!(status.uuid.as_deref(), Some("NEFfbJ4PRWC7CvkYekFtCw=="));

    let future = r#"{"type":"SOMETHING_NEW","something_new":{}}"#;
    let event: Event = serde_json::from_str(future).expect("decodes");
    assert_eq!(event.kind, EventType::Unrecognized);
}

#[test]
fn implicit_reconcile_sends_an_empty_object() {
    let call = Call {
        framework_id: Some(FrameworkId::new("F-0000")),
        kind: CallType::Reconcile,
        reconcile: Some(Reconcile::default()),
        ..Call::default()
    };
    assert_eq!(
        serde_json::to_string(&call).expect("encodes"),
        r#"{"framework_id":{"value":"F-0000"},"type":"RECONCILE","reconcile":{}}"#
    );
}
