//! Conformance with the Mesos v1 protos: every call the agent sends and
//! every event localmesos sends must be valid `mesos.scheduler.Call` /
//! `mesos.scheduler.Event` JSON as the master parses it (stout's mapping):
//! keys are proto field names, enums are value names, bytes are base64,
//! required fields are present, and no field is one the protos lack.
//!
//! The protos are those of mesos-go in Debian's package
//! `golang-github-mesos-mesos-go-dev` (older than Mesos 1.11, so a field
//! they lack would be refused by older masters and dropped by newer ones).
//! Without them the test says so and passes, unless
//! `SEXTANT_REQUIRE_MESOS_PROTOS=1` (set by CI) makes their absence fatal.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use futures::StreamExt;
use mesos::recordio::RecordIoDecoder;
use mesos::types::{AgentId, Call, FrameworkId, Offer, OfferId, ReconcileTask, TaskId};
use prost_reflect::{Cardinality, DescriptorPool, Kind, MessageDescriptor};
use serde_json::Value;
use sextant_agent::placement::{NothingKnown, RegexCache, place};
use sextant_agent::scheduler::{FrameworkSettings, framework_info};
use sextant_proto::proto::{LaunchRequest, PortSpec, TaskSpec};

const PROTO_ROOT_DEFAULT: &str = "/usr/share/gocode/src";
const MESOS_GO: &str = "github.com/mesos/mesos-go/api/v1/lib";

/// The descriptor pool of mesos-go's v1 protos, or None when absent.
fn mesos_protos() -> Option<DescriptorPool> {
    let root = PathBuf::from(std::env::var("SEXTANT_MESOS_PROTO_ROOT").unwrap_or_else(|_| PROTO_ROOT_DEFAULT.into()));
    let scheduler = root.join(MESOS_GO).join("scheduler/scheduler.proto");
    if !scheduler.exists() {
        let required = std::env::var("SEXTANT_REQUIRE_MESOS_PROTOS").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "{} is missing: apt-get install golang-github-mesos-mesos-go-dev",
            scheduler.display()
        );
        eprintln!(
            "SKIPPED: Mesos protos not found at {} (apt-get install golang-github-mesos-mesos-go-dev)",
            scheduler.display()
        );
        return None;
    }
    let file = Path::new(MESOS_GO).join("scheduler/scheduler.proto");
    let mut compiler = protox::Compiler::new([root]).expect("proto include path");
    compiler.include_imports(true);
    compiler.open_file(file).expect("mesos-go protos compile");
    Some(compiler.descriptor_pool())
}

/// Checks `value` against `message` as the Mesos master's JSON parser would.
fn check(message: &MessageDescriptor, value: &Value, path: &str, errors: &mut Vec<String>) {
    let Some(object) = value.as_object() else {
        errors.push(format!("{path}: expected an object for {}", message.full_name()));
        return;
    };
    for (key, v) in object {
        let here = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        let Some(field) = message.get_field_by_name(key) else {
            errors.push(format!("{here}: {} has no field {key:?}", message.full_name()));
            continue;
        };
        if v.is_null() {
            errors.push(format!("{here}: null (omit unset fields)"));
        } else if field.is_list() {
            match v.as_array() {
                Some(items) => {
                    for (i, item) in items.iter().enumerate() {
                        check_kind(&field.kind(), item, &format!("{here}[{i}]"), errors);
                    }
                }
                None => errors.push(format!("{here}: repeated field must be an array")),
            }
        } else if field.is_map() {
            errors.push(format!("{here}: maps are not used by Sextant"));
        } else {
            check_kind(&field.kind(), v, &here, errors);
        }
    }
    for field in message.fields() {
        if field.cardinality() == Cardinality::Required && !object.contains_key(field.name()) {
            let here = if path.is_empty() {
                field.name().to_string()
            } else {
                format!("{path}.{}", field.name())
            };
            errors.push(format!("{here}: required field of {} is missing", message.full_name()));
        }
    }
}

/// Enum values of Mesos 1.11's protos that mesos-go's older copy lacks
/// (`include/mesos/v1/mesos.proto`: reasons 31 and 32, sent by a 1.11
/// master for an agent marked gone and one that re-registered).
const NEWER_THAN_MESOS_GO: &[(&str, &str)] = &[
    ("mesos.TaskStatus.Reason", "REASON_AGENT_REMOVED_BY_OPERATOR"),
    ("mesos.TaskStatus.Reason", "REASON_AGENT_REREGISTERED"),
];

fn check_kind(kind: &Kind, v: &Value, path: &str, errors: &mut Vec<String>) {
    let ok = match kind {
        Kind::Message(m) => {
            check(m, v, path, errors);
            true
        }
        Kind::Enum(e) => v.as_str().is_some_and(|name| {
            e.get_value_by_name(name).is_some() || NEWER_THAN_MESOS_GO.contains(&(e.full_name(), name))
        }),
        Kind::Double | Kind::Float => v.is_number(),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 | Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => v.is_i64(),
        Kind::Uint32 | Kind::Fixed32 | Kind::Uint64 | Kind::Fixed64 => v.is_u64(),
        Kind::Bool => v.is_boolean(),
        Kind::String => v.is_string(),
        Kind::Bytes => v
            .as_str()
            .is_some_and(|s| base64::engine::general_purpose::STANDARD.decode(s).is_ok()),
    };
    if !ok {
        errors.push(format!("{path}: {v} is not a valid {kind:?}"));
    }
}

fn assert_conforms(pool: &DescriptorPool, message: &str, value: &Value) {
    let descriptor = pool.get_message_by_name(message).expect("message in the protos");
    let mut errors = Vec::new();
    check(&descriptor, value, "", &mut errors);
    assert!(
        errors.is_empty(),
        "{message} does not conform:\n{}\n{value}",
        errors.join("\n")
    );
}

fn offer() -> Offer {
    serde_json::from_value(serde_json::json!({
        "id": {"value": "F-O1"}, "framework_id": {"value": "F-0000"}, "agent_id": {"value": "F-S0"},
        "hostname": "node1",
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 4.0}, "role": "*"},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": 4096.0}, "role": "*"},
            {"name": "disk", "type": "SCALAR", "scalar": {"value": 1024.0}, "role": "*"},
            {"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 31000, "end": 32000}]}, "role": "*"}
        ]
    }))
    .expect("offer")
}

fn launch_request(task_id: &str, spec: TaskSpec) -> LaunchRequest {
    LaunchRequest {
        task_id: task_id.into(),
        namespace: "default".into(),
        app: "web".into(),
        revision: "0a1b2c3d4e".into(),
        spec: Some(spec),
    }
}

/// Every kind of call the agent sends, built by the code that sends them.
fn calls_the_agent_sends() -> Vec<Call> {
    let settings = FrameworkSettings {
        name: "sextant".into(),
        user: "root".into(),
        failover_timeout: Duration::from_secs(604_800),
        principal: None,
    };
    let id = FrameworkId::new("F-0000");
    let shell = TaskSpec {
        command: "exec python3 -m http.server $PORT_HTTP".into(),
        cpus: 0.25,
        mem: 128.0,
        disk: 10.0,
        env: [("LOG_LEVEL".to_string(), "info".to_string())].into(),
        ports: vec![PortSpec {
            name: "http".into(),
            protocol: "tcp".into(),
            ..PortSpec::default()
        }],
        kill_grace_period_seconds: 5,
        user: "nobody".into(),
        uris: vec![sextant_proto::proto::Uri {
            value: "https://example.com/app.tgz".into(),
            extract: true,
            ..Default::default()
        }],
        labels: [("tier".to_string(), "web".to_string())].into(),
        health_check: Some(sextant_proto::proto::HealthCheck {
            r#type: "HTTP".into(),
            port_name: "http".into(),
            path: "/".into(),
            scheme: "http".into(),
            delay_seconds: 15.0,
            interval_seconds: 10.0,
            timeout_seconds: 20.0,
            consecutive_failures: 3,
            grace_period_seconds: 10.0,
            ..Default::default()
        }),
        ..TaskSpec::default()
    };
    let tcp_checked = TaskSpec {
        health_check: Some(sextant_proto::proto::HealthCheck {
            r#type: "TCP".into(),
            port_number: 8080,
            ..Default::default()
        }),
        ..shell.clone()
    };
    let command_checked = TaskSpec {
        health_check: Some(sextant_proto::proto::HealthCheck {
            r#type: "COMMAND".into(),
            command: "test -f ready".into(),
            ..Default::default()
        }),
        ..shell.clone()
    };
    let exec = TaskSpec {
        command: String::new(),
        args: vec!["sleep".into(), "60".into()],
        ..shell.clone()
    };
    let docker = TaskSpec {
        command: String::new(),
        ports: vec![PortSpec {
            name: "http".into(),
            container_port: 80,
            protocol: "tcp".into(),
            ..PortSpec::default()
        }],
        container: Some(sextant_proto::proto::ContainerSpec {
            docker: Some(sextant_proto::proto::DockerSpec {
                image: "registry.example/web:1.4".into(),
                network: "BRIDGE".into(),
                force_pull_image: true,
                parameters: vec![sextant_proto::proto::DockerParameter {
                    key: "label".into(),
                    value: "tier=web".into(),
                }],
            }),
        }),
        ..shell.clone()
    };
    let plans = place(
        &[
            launch_request("default.web.0a1b2c3d4e.a5", docker),
            launch_request("default.web.0a1b2c3d4e.a1", shell),
            launch_request("default.web.0a1b2c3d4e.a2", exec),
            launch_request("default.web.0a1b2c3d4e.a3", tcp_checked),
            launch_request("default.web.0a1b2c3d4e.a4", command_checked),
        ],
        &[offer()],
        &NothingKnown,
        &mut RegexCache::default(),
    );
    let tasks = plans.plans.into_iter().flat_map(|p| p.tasks).collect::<Vec<_>>();
    assert_eq!(tasks.len(), 5, "every task was placed");

    let mut calls = vec![
        Call::accept(vec![OfferId::new("F-O1")], tasks, 1.0),
        Call::decline(vec![OfferId::new("F-O2")], 30.0),
        Call::kill(
            TaskId::new("default.web.0a1b2c3d4e.a1"),
            Some(AgentId::new("F-S0")),
            None,
        ),
        Call::kill(
            TaskId::new("default.web.0a1b2c3d4e.a1"),
            None,
            Some(Duration::from_secs(3)),
        ),
        Call::acknowledge(
            AgentId::new("F-S0"),
            TaskId::new("t"),
            "IhkFm9ZcSJSxQzTp06NHHQ==".into(),
        ),
        Call::reconcile(vec![ReconcileTask {
            task_id: TaskId::new("t"),
            agent_id: Some(AgentId::new("F-S0")),
        }]),
        Call::reconcile(Vec::new()),
        Call::revive(),
        Call::suppress(),
        Call::teardown(),
    ];
    // The Caller stamps every non-SUBSCRIBE call with the framework id.
    for call in &mut calls {
        call.framework_id = Some(id.clone());
    }
    calls.push(Call::subscribe(framework_info(&settings, None)));
    calls.push(Call::subscribe(framework_info(&settings, Some(id))));
    calls
}

#[test]
fn every_call_the_agent_sends_conforms_to_the_protos() {
    let Some(pool) = mesos_protos() else { return };
    for call in calls_the_agent_sends() {
        let json = serde_json::to_value(&call).expect("serializes");
        assert_conforms(&pool, "mesos.scheduler.Call", &json);
    }
}

#[test]
fn the_checker_rejects_what_a_master_would_not_parse() {
    // Guards the checker itself: a test that cannot fail proves nothing.
    let Some(pool) = mesos_protos() else { return };
    let descriptor = pool.get_message_by_name("mesos.scheduler.Call").expect("Call");
    for bad in [
        serde_json::json!({"type": "REVIVE", "framework_id": {"value": "F"}, "revive": {"role": "x"}}),
        serde_json::json!({"type": "NOT_A_CALL"}),
        serde_json::json!({"type": "ACKNOWLEDGE", "acknowledge": {"task_id": {"value": "t"}, "uuid": "x"}}),
        serde_json::json!({"type": "KILL", "kill": {"taskId": {"value": "t"}}}),
    ] {
        let mut errors = Vec::new();
        check(&descriptor, &bad, "", &mut errors);
        assert!(!errors.is_empty(), "{bad} must be refused");
    }
}

/// A localmesos master that offers every 100 ms, as `adjust` sets it up,
/// with its work directory (removed when dropped).
async fn start_master(
    adjust: impl FnOnce(&mut localmesos::LocalMesosConfig),
) -> (localmesos::LocalMesos, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = localmesos::LocalMesosConfig::new("127.0.0.1:0".parse().expect("addr"), dir.path().into());
    config.offer_interval = Duration::from_millis(100);
    adjust(&mut config);
    (localmesos::start(config).await.expect("localmesos"), dir)
}

/// A framework subscribed to a localmesos master over raw HTTP, as a
/// real scheduler library speaks to it; every event it reads is kept, to
/// be checked against the protos at the end.
struct RawFramework {
    http: reqwest::Client,
    endpoint: String,
    stream_id: String,
    body: futures::stream::BoxStream<'static, Result<Vec<u8>, reqwest::Error>>,
    decoder: RecordIoDecoder,
    framework_id: FrameworkId,
    seen: Vec<Value>,
}

impl RawFramework {
    /// Subscribes as `name` and reads the SUBSCRIBED event.
    async fn subscribe(master: &localmesos::LocalMesos, name: &str) -> RawFramework {
        let endpoint = format!("{}/api/v1/scheduler", master.url());
        let http = reqwest::Client::new();
        let settings = FrameworkSettings {
            name: name.into(),
            user: "root".into(),
            failover_timeout: Duration::from_secs(60),
            principal: None,
        };
        let response = http
            .post(&endpoint)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .body(serde_json::to_vec(&Call::subscribe(framework_info(&settings, None))).expect("json"))
            .send()
            .await
            .expect("subscribe");
        let stream_id = response.headers()["Mesos-Stream-Id"]
            .to_str()
            .expect("ascii")
            .to_string();
        let body = response.bytes_stream().map(|chunk| chunk.map(|b| b.to_vec())).boxed();
        let mut framework = RawFramework {
            http,
            endpoint,
            stream_id,
            body,
            decoder: RecordIoDecoder::default(),
            framework_id: FrameworkId::new(""),
            seen: Vec::new(),
        };
        let subscribed = framework.next_event().await;
        let id = subscribed["subscribed"]["framework_id"]["value"].as_str().expect("id");
        framework.framework_id = FrameworkId::new(id);
        framework
    }

    /// The next event, kept.
    async fn next_event(&mut self) -> Value {
        loop {
            if let Some(record) = self.decoder.next_record().expect("RecordIO") {
                let event: Value = serde_json::from_slice(&record).expect("JSON event");
                self.seen.push(event.clone());
                return event;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(20), self.body.next())
                .await
                .expect("an event in time")
                .expect("stream open")
                .expect("chunk");
            self.decoder.feed(&chunk);
        }
    }

    /// Sends `call` as this framework; the master must accept it.
    async fn send(&self, mut call: Call) {
        call.framework_id = Some(self.framework_id.clone());
        let status = self
            .http
            .post(&self.endpoint)
            .header("Content-Type", "application/json")
            .header("Mesos-Stream-Id", &self.stream_id)
            .body(serde_json::to_vec(&call).expect("json"))
            .send()
            .await
            .expect("call")
            .status();
        assert_eq!(status, 202, "{} accepted", call.name());
    }

    /// Acknowledges the update `status`, if it carries a uuid.
    async fn acknowledge(&self, status: &Value) {
        if let (Some(uuid), Some(agent), Some(task)) = (
            status["uuid"].as_str(),
            status["agent_id"]["value"].as_str(),
            status["task_id"]["value"].as_str(),
        ) {
            self.send(Call::acknowledge(AgentId::new(agent), TaskId::new(task), uuid.into()))
                .await;
        }
    }

    /// Accepts the first offer of `event` that fits `tasks`.
    async fn launch(&self, event: &Value, tasks: &[LaunchRequest], refuse_seconds: f64) {
        let offers: Vec<Offer> = serde_json::from_value(event["offers"]["offers"].clone()).expect("offers decode");
        let plans = place(tasks, &offers, &NothingKnown, &mut RegexCache::default());
        let plan = plans.plans.into_iter().find(|p| !p.tasks.is_empty()).expect("placed");
        self.send(Call::accept(vec![plan.offer_id], plan.tasks, refuse_seconds))
            .await;
    }

    /// Every event read so far conforms to the protos.
    fn assert_all_conform(&self, pool: &DescriptorPool) {
        for event in &self.seen {
            assert_conforms(pool, "mesos.scheduler.Event", event);
        }
    }
}

/// Raw events from a real localmesos subscription: SUBSCRIBED, HEARTBEAT,
/// OFFERS, task UPDATEs (executor and master generated), FAILURE.
#[tokio::test]
async fn every_event_localmesos_sends_conforms_to_the_protos() {
    let Some(pool) = mesos_protos() else { return };
    let (master, _dir) = start_master(|_| {}).await;
    let mut framework = RawFramework::subscribe(&master, "conformance").await;

    // Launch one task that ends on its own and one we kill.
    let finished = "default.web.0a1b2c3d4e.f1";
    let killed = "default.web.0a1b2c3d4e.k1";
    let mut ended = 0;
    let mut launched = false;
    let mut reconciled = false;
    while ended < 2 || !reconciled {
        let event = framework.next_event().await;
        match event["type"].as_str() {
            Some("OFFERS") if !launched => {
                let quick = TaskSpec {
                    command: "exit 0".into(),
                    cpus: 0.1,
                    mem: 16.0,
                    ..TaskSpec::default()
                };
                // Health-checked, so that health updates are checked too.
                let long = TaskSpec {
                    command: "exec sleep 30".into(),
                    kill_grace_period_seconds: 1,
                    health_check: Some(sextant_proto::proto::HealthCheck {
                        r#type: "COMMAND".into(),
                        command: "true".into(),
                        delay_seconds: 0.1,
                        interval_seconds: 0.2,
                        timeout_seconds: 5.0,
                        consecutive_failures: 3,
                        ..Default::default()
                    }),
                    ..quick.clone()
                };
                let tasks = [launch_request(finished, quick), launch_request(killed, long)];
                framework.launch(&event, &tasks, 1.0).await;
                launched = true;
            }
            Some("UPDATE") => {
                let status = &event["update"]["status"];
                framework.acknowledge(status).await;
                let task = status["task_id"]["value"].as_str().unwrap_or_default();
                let state = status["state"].as_str().unwrap_or_default();
                if let Some(agent) = status["agent_id"]["value"].as_str()
                    && task == killed
                    && state == "TASK_RUNNING"
                    && status["healthy"] == true
                {
                    framework
                        .send(Call::kill(TaskId::new(killed), Some(AgentId::new(agent)), None))
                        .await;
                    // A master-generated update: reconcile a task it never saw.
                    framework
                        .send(Call::reconcile(vec![ReconcileTask {
                            task_id: TaskId::new("default.web.0a1b2c3d4e.never"),
                            agent_id: Some(AgentId::new(agent)),
                        }]))
                        .await;
                }
                if matches!(state, "TASK_FINISHED" | "TASK_KILLED") {
                    ended += 1;
                }
                if state == "TASK_GONE" || state == "TASK_LOST" {
                    reconciled = true;
                }
            }
            _ => {}
        }
    }
    let kinds: std::collections::BTreeSet<String> = framework
        .seen
        .iter()
        .filter_map(|e| e["type"].as_str().map(str::to_string))
        .collect();
    for kind in ["SUBSCRIBED", "HEARTBEAT", "OFFERS", "UPDATE"] {
        assert!(kinds.contains(kind), "saw {kind} (saw {kinds:?})");
    }
    framework.assert_all_conform(&pool);
    master.shutdown().await;
}

/// Raw events of a process task under `--memory-limits` that passes its
/// limit: its TASK_FAILED with REASON_CONTAINER_LIMITATION_MEMORY where
/// the machine can limit memory, or the TASK_FAILED that says why not
/// where it cannot; either must conform.
#[tokio::test]
async fn a_memory_limitation_event_conforms_to_the_protos() {
    let Some(pool) = mesos_protos() else { return };
    let (master, _dir) = start_master(|config| config.memory_limits = true).await;
    let mut framework = RawFramework::subscribe(&master, "memory").await;
    let greedy = TaskSpec {
        command: "python3 -c 'import time; b = b\"x\" * (200 * 1024 * 1024); time.sleep(60)'".into(),
        cpus: 0.1,
        mem: 32.0,
        ..TaskSpec::default()
    };
    let mut launched = false;
    let failed = loop {
        let event = framework.next_event().await;
        match event["type"].as_str() {
            Some("OFFERS") if !launched => {
                let tasks = [launch_request("default.web.0a1b2c3d4e.m1", greedy.clone())];
                framework.launch(&event, &tasks, 1.0).await;
                launched = true;
            }
            Some("UPDATE") => {
                let status = event["update"]["status"].clone();
                framework.acknowledge(&status).await;
                if status["state"] == "TASK_FAILED" {
                    break status;
                }
            }
            _ => {}
        }
    };
    assert!(failed["reason"].is_string(), "{failed}");
    framework.assert_all_conform(&pool);
    master.shutdown().await;
}

/// Raw events of localmesos's faults, on a node of the `simulated`
/// containerizer (so that its updates are checked too; the test above
/// runs `process` tasks): a partition (RESCIND of the node's offers,
/// UPDATE TASK_UNREACHABLE with `unreachable_time`, FAILURE naming only
/// the agent), its heal (UPDATE with REASON_AGENT_REREGISTERED) and the
/// node's removal (UPDATE TASK_GONE_BY_OPERATOR).
#[tokio::test]
async fn every_fault_event_localmesos_sends_conforms_to_the_protos() {
    let Some(pool) = mesos_protos() else { return };
    let (master, _dir) =
        start_master(|config| config.nodes[0].containerizer = localmesos::ContainerizerKind::Simulated).await;
    let mut framework = RawFramework::subscribe(&master, "faults").await;
    let http = reqwest::Client::new();
    let fault = async |path: &str| {
        let response = http
            .post(format!("{}{path}", master.url()))
            .send()
            .await
            .expect("fault");
        assert_eq!(response.status(), 200, "{path}");
    };

    let task = "default.web.0a1b2c3d4e.p1";
    // Steps: 0 launch, 1 running (then wait for an offer to rescind),
    // 2 partitioned, 3 healed, 4 removed.
    let mut step = 0;
    let mut running = false;
    let (mut failure, mut rescind, mut unreachable, mut reregistered, mut gone) = (false, false, false, false, false);
    while !(failure && rescind && unreachable && reregistered && gone) {
        let event = framework.next_event().await;
        let status = &event["update"]["status"];
        match (event["type"].as_str(), step) {
            (Some("OFFERS"), 0) => {
                let spec = TaskSpec {
                    command: "exec sleep 30".into(),
                    cpus: 0.1,
                    mem: 16.0,
                    kill_grace_period_seconds: 1,
                    ..TaskSpec::default()
                };
                framework.launch(&event, &[launch_request(task, spec)], 0.0).await;
                step = 1;
            }
            (Some("OFFERS"), 1) if running => {
                fault("/fault/partition?node=localhost").await;
                step = 2;
            }
            (Some("RESCIND"), _) => rescind = true,
            (Some("FAILURE"), _) => failure = true,
            (Some("UPDATE"), _) => {
                framework.acknowledge(status).await;
                if status["state"] == "TASK_RUNNING" {
                    running = true;
                }
                if status["state"] == "TASK_UNREACHABLE" && step == 2 {
                    unreachable = true;
                    fault("/fault/heal?node=localhost").await;
                    step = 3;
                } else if status["reason"] == "REASON_AGENT_REREGISTERED" && step == 3 {
                    reregistered = true;
                    fault("/fault/remove-node?node=localhost").await;
                    step = 4;
                } else if status["state"] == "TASK_GONE_BY_OPERATOR" {
                    gone = true;
                }
            }
            _ => {}
        }
    }
    framework.assert_all_conform(&pool);
    master.shutdown().await;
}
