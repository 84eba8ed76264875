//! Placement, tested on offers and queues built by hand.

use std::collections::BTreeMap;

use super::*;
use mesos::types::{AgentId, Attribute, Environment, FrameworkId, HealthCheckType, Range, Resource, Text, ValueType};
use sextant_proto::proto::{HealthCheck as ProtoHealthCheck, PortSpec, Priority};

/// What the agent knows of the cluster besides the offers, built by hand.
#[derive(Default)]
struct Cluster {
    placed: HashMap<String, HashMap<String, u32>>,
    facts: HashMap<String, NodeFacts>,
}

impl Known for Cluster {
    fn placed(&self, app: &str) -> Option<&HashMap<String, u32>> {
        self.placed.get(app)
    }
    fn facts(&self, agent_id: &str) -> Option<&NodeFacts> {
        self.facts.get(agent_id)
    }
    fn all_facts(&self) -> Vec<&NodeFacts> {
        self.facts.values().collect()
    }
}

fn place_all(pending: &[LaunchRequest], offers: &[Offer]) -> Round {
    place(pending, offers, &Cluster::default(), &mut RegexCache::default())
}

fn offer(id: &str, cpus: f64, mem: f64, ports: (u64, u64)) -> Offer {
    Offer {
        id: OfferId::new(id),
        framework_id: FrameworkId::new("F-0000"),
        agent_id: AgentId::new(format!("{id}-agent")),
        hostname: id.into(),
        url: None,
        resources: vec![
            Resource::scalar("cpus", cpus),
            Resource::scalar("mem", mem),
            Resource::ranges(
                "ports",
                vec![Range {
                    begin: ports.0,
                    end: ports.1,
                }],
            ),
        ],
        attributes: vec![],
        executor_ids: vec![],
        allocation_info: None,
    }
}

fn request(id: &str, cpus: f64, mem: f64, ports: &[(&str, u32)]) -> LaunchRequest {
    LaunchRequest {
        task_id: id.into(),
        namespace: "default".into(),
        app: "web".into(),
        revision: "abc".into(),
        spec: Some(TaskSpec {
            command: "sleep 100".into(),
            cpus,
            mem,
            ports: ports
                .iter()
                .map(|(name, host)| PortSpec {
                    name: (*name).into(),
                    host_port: *host,
                    protocol: "tcp".into(),
                    ..PortSpec::default()
                })
                .collect(),
            ..TaskSpec::default()
        }),
    }
}

#[test]
fn packs_until_resources_run_out() {
    let offers = [offer("o1", 1.0, 256.0, (31000, 31010))];
    let pending: Vec<_> = (0..5).map(|i| request(&format!("t{i}"), 0.3, 64.0, &[])).collect();
    let plans = place_all(&pending, &offers).plans;
    assert_eq!(plans[0].tasks.len(), 3, "1.0 cpus fits three tasks of 0.3");
}

#[test]
fn dynamic_ports_are_distinct_and_in_env() {
    let offers = [offer("o1", 4.0, 4096.0, (31000, 31001))];
    let pending = vec![
        request("a", 0.1, 32.0, &[("http", 0)]),
        request("b", 0.1, 32.0, &[("http", 0)]),
        request("c", 0.1, 32.0, &[("http", 0)]),
    ];
    let plans = place_all(&pending, &offers).plans;
    assert_eq!(plans[0].tasks.len(), 2, "only two ports were offered");
    let env = plans[0].tasks[1]
        .command
        .as_ref()
        .and_then(|c| c.environment.as_ref())
        .map(Environment::to_map)
        .unwrap_or_default();
    assert_eq!(env.get("PORT_HTTP").map(String::as_str), Some("31001"));
    assert_eq!(env.get("PORT0").map(String::as_str), Some("31001"));
    assert_eq!(plans[0].ports[1].1[0].port, 31001);
}

#[test]
fn health_check_probes_the_host_port_and_task_options_reach_mesos() {
    let mut r = request("a", 0.1, 32.0, &[("admin", 0), ("http", 0)]);
    if let Some(spec) = r.spec.as_mut() {
        spec.user = "nobody".into();
        spec.labels = [("tier".to_string(), "web".to_string())].into();
        spec.uris = vec![sextant_proto::proto::Uri {
            value: "https://example.com/a.tgz".into(),
            extract: true,
            ..Default::default()
        }];
        spec.health_check = Some(ProtoHealthCheck {
            r#type: "HTTP".into(),
            port_name: "http".into(),
            path: "/ready".into(),
            interval_seconds: 5.0,
            ..Default::default()
        });
    }
    let plans = place_all(&[r], &[offer("o1", 1.0, 64.0, (31000, 31010))]).plans;
    let task = &plans[0].tasks[0];
    let check = task.health_check.as_ref().expect("health check");
    assert_eq!(check.kind, HealthCheckType::Http);
    let http = check.http.as_ref().expect("http");
    assert_eq!(
        (http.port, http.path.as_deref()),
        (31001, Some("/ready")),
        "the port named http"
    );
    let command = task.command.as_ref().expect("command");
    assert_eq!(command.user.as_deref(), Some("nobody"));
    assert_eq!(command.uris[0].value, "https://example.com/a.tgz");
    let labels = task.labels.as_ref().expect("labels");
    assert_eq!(labels.get("tier"), Some("web"));
    assert_eq!(labels.get("sextant.app"), Some("web"));
}

#[test]
fn fixed_host_port_must_be_offered() {
    let offers = [offer("o1", 4.0, 4096.0, (31000, 31010))];
    let plans = place_all(&[request("a", 0.1, 32.0, &[("http", 8080)])], &offers).plans;
    assert!(plans[0].tasks.is_empty());
    let plans = place_all(&[request("a", 0.1, 32.0, &[("http", 31005)])], &offers).plans;
    assert_eq!(plans[0].ports[0].1[0].port, 31005);
}

#[test]
fn second_offer_used_when_first_is_full() {
    let offers = [
        offer("o1", 0.1, 32.0, (31000, 31010)),
        offer("o2", 2.0, 512.0, (31000, 31010)),
    ];
    let pending = vec![request("a", 0.5, 32.0, &[])];
    let plans = place_all(&pending, &offers).plans;
    assert!(plans[0].tasks.is_empty());
    assert_eq!(plans[1].tasks[0].agent_id.value, "o2-agent");
}

#[test]
fn args_run_without_shell_with_argv0() {
    let mut r = request("a", 0.1, 32.0, &[]);
    if let Some(spec) = r.spec.as_mut() {
        spec.command.clear();
        spec.args = vec!["sleep".into(), "5".into()];
    }
    let plans = place_all(&[r], &[offer("o1", 1.0, 64.0, (1, 2))]).plans;
    let command = plans[0].tasks[0].command.clone().unwrap_or_default();
    assert_eq!(command.shell, Some(false));
    assert_eq!(command.value.as_deref(), Some("sleep"));
    assert_eq!(command.arguments, vec!["sleep".to_string(), "5".to_string()]);
}

#[test]
fn before_any_round_the_message_names_what_placement_looks_for() {
    let spec = |ports: &[(&str, u32)]| request("a", 0.1, 32.0, ports).spec.unwrap_or_default();
    assert_eq!(
        waiting_message(&spec(&[("http", 8080)])),
        "waiting for an offer: needs cpus 0.1, mem 32 MiB, disk 0 MiB, host port 8080"
    );
    assert_eq!(
        waiting_message(&spec(&[("a", 0), ("b", 0), ("c", 9000), ("d", 9001)])),
        "waiting for an offer: needs cpus 0.1, mem 32 MiB, disk 0 MiB, 2 ports, host ports 9000, 9001"
    );
}

fn why(round: &Round, task_id: &str) -> String {
    round
        .waiting
        .iter()
        .find(|(id, _)| id == task_id)
        .map(|(_, why)| why.clone())
        .unwrap_or_else(|| panic!("{task_id} is not waiting: {:?}", round.waiting))
}

#[test]
fn the_message_says_what_is_short_and_the_most_free() {
    let offers = [
        offer("o1", 1.0, 256.0, (31000, 31000)),
        offer("o2", 0.2, 512.0, (31000, 31010)),
    ];
    let round = place_all(&[request("a", 0.1, 1024.0, &[])], &offers);
    assert_eq!(
        why(&round, "a"),
        "waiting for an offer: needs 1024 MiB mem; the most free on any offered node is 512 MiB"
    );
    let round = place_all(&[request("b", 2.0, 1024.0, &[])], &offers);
    assert_eq!(
        why(&round, "b"),
        "waiting for an offer: needs 2 cpus, 1024 MiB mem; the most free on any offered node is 1 cpus, 512 MiB mem"
    );
    let round = place_all(&[request("c", 0.1, 32.0, &[("http", 31777)])], &offers);
    assert_eq!(
        why(&round, "c"),
        "waiting for an offer: needs host port 31777: taken on every offered node"
    );
}

/// Tasks of app `app` named `app.i`, with `constraints`.
fn tasks_of(app: &str, count: usize, constraints: &[(&str, &str, &str)]) -> Vec<LaunchRequest> {
    (0..count)
        .map(|i| {
            let mut r = request(&format!("{app}.{i}"), 0.1, 32.0, &[]);
            r.app = app.into();
            if let Some(spec) = r.spec.as_mut() {
                spec.constraints = constraints
                    .iter()
                    .map(|(field, operator, value)| Constraint {
                        field: (*field).into(),
                        operator: (*operator).into(),
                        value: (*value).into(),
                    })
                    .collect();
            }
            r
        })
        .collect()
}

/// An offer from node `name` with attributes `attrs`.
fn node(name: &str, attrs: &[(&str, &str)]) -> Offer {
    let mut o = offer(name, 8.0, 8192.0, (31000, 31999));
    o.attributes = attrs
        .iter()
        .map(|(k, v)| Attribute {
            name: (*k).into(),
            kind: ValueType::Text,
            scalar: None,
            ranges: None,
            set: None,
            text: Some(Text { value: (*v).into() }),
        })
        .collect();
    o
}

/// Hostnames the round placed each task on, by task id.
fn hosts(round: &Round) -> BTreeMap<String, String> {
    round
        .plans
        .iter()
        .flat_map(|p| {
            p.tasks
                .iter()
                .map(move |t| (t.task_id.value.clone(), p.hostname.clone()))
        })
        .collect()
}

fn per_host(round: &Round) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for host in hosts(round).values() {
        *out.entry(host.clone()).or_default() += 1;
    }
    out
}

fn three_nodes() -> Vec<Offer> {
    vec![
        node("a", &[("rack", "r1"), ("zone", "west")]),
        node("b", &[("rack", "r1"), ("zone", "east")]),
        node("c", &[("rack", "r2")]),
    ]
}

#[test]
fn without_constraints_an_app_spreads_across_nodes() {
    let round = place_all(&tasks_of("web", 6, &[]), &three_nodes());
    assert_eq!(
        per_host(&round),
        BTreeMap::from([("a".into(), 2), ("b".into(), 2), ("c".into(), 2)])
    );
}

#[test]
fn unique_hostname_puts_one_task_per_node_and_says_why_the_rest_wait() {
    let round = place_all(&tasks_of("web", 4, &[("hostname", "UNIQUE", "")]), &three_nodes());
    assert_eq!(per_host(&round).values().copied().collect::<Vec<_>>(), [1, 1, 1]);
    assert_eq!(
        why(&round, "web.3"),
        "waiting for an offer: constraint hostname UNIQUE: all 3 offered nodes already run web"
    );
}

#[test]
fn unique_counts_tasks_already_running() {
    let mut cluster = Cluster::default();
    let offers = three_nodes();
    for o in &offers {
        cluster.facts.insert(o.agent_id.value.clone(), NodeFacts::of(o));
    }
    cluster
        .placed
        .insert("default/web".into(), HashMap::from([("a-agent".to_string(), 1)]));
    let round = place(
        &tasks_of("web", 3, &[("hostname", "UNIQUE", "")]),
        &offers,
        &cluster,
        &mut RegexCache::default(),
    );
    let placed = hosts(&round);
    assert_eq!(placed.len(), 2);
    assert!(!placed.values().any(|h| h == "a"), "a already runs web: {placed:?}");
}

#[test]
fn unique_on_an_attribute_is_one_task_per_value() {
    let round = place_all(&tasks_of("web", 3, &[("rack", "UNIQUE", "")]), &three_nodes());
    assert_eq!(round.plans.iter().map(|p| p.tasks.len()).sum::<usize>(), 2, "two racks");
    assert!(why(&round, "web.2").contains("constraint rack UNIQUE"));
}

#[test]
fn cluster_and_is_pin_to_a_value() {
    let round = place_all(&tasks_of("web", 4, &[("rack", "CLUSTER", "r1")]), &three_nodes());
    assert!(hosts(&round).values().all(|h| h == "a" || h == "b"));
    assert_eq!(hosts(&round).len(), 4);
    let round = place_all(&tasks_of("db", 2, &[("hostname", "IS", "c")]), &three_nodes());
    assert!(hosts(&round).values().all(|h| h == "c"));
    let round = place_all(&tasks_of("db", 1, &[("rack", "IS", "r9")]), &three_nodes());
    assert_eq!(
        why(&round, "db.0"),
        "waiting for an offer: constraint rack IS r9: all 3 offered nodes have no rack r9"
    );
}

#[test]
fn like_and_unlike_match_the_whole_value() {
    let round = place_all(&tasks_of("web", 3, &[("hostname", "LIKE", "[ab]")]), &three_nodes());
    assert!(hosts(&round).values().all(|h| h != "c"));
    let round = place_all(&tasks_of("web", 3, &[("rack", "LIKE", "r")]), &three_nodes());
    assert!(hosts(&round).is_empty(), "r does not match r1 as a whole");
    // A node without the field is unlike anything.
    let round = place_all(&tasks_of("web", 2, &[("zone", "UNLIKE", "west")]), &three_nodes());
    assert!(hosts(&round).values().all(|h| h == "b" || h == "c"));
    assert_eq!(hosts(&round).len(), 2);
}

#[test]
fn max_per_caps_tasks_per_value() {
    let round = place_all(&tasks_of("web", 5, &[("rack", "MAX_PER", "2")]), &three_nodes());
    let by_host = per_host(&round);
    let r1 = by_host.get("a").copied().unwrap_or(0) + by_host.get("b").copied().unwrap_or(0);
    assert_eq!((r1, by_host.get("c").copied().unwrap_or(0)), (2, 2));
    assert_eq!(
        why(&round, "web.4"),
        "waiting for an offer: constraint rack MAX_PER 2: all 3 offered nodes have a rack that already runs 2 of web"
    );
}

#[test]
fn group_by_spreads_evenly_over_the_values() {
    // Two nodes in r1, one in r2: four tasks go two per rack, not by node.
    let round = place_all(&tasks_of("web", 4, &[("rack", "GROUP_BY", "")]), &three_nodes());
    let by_host = per_host(&round);
    assert_eq!(by_host.get("c").copied(), Some(2), "{by_host:?}");
    let round = place_all(&tasks_of("web", 4, &[("rack", "GROUP_BY", "2")]), &three_nodes());
    assert_eq!(per_host(&round).get("c").copied(), Some(2));
}

#[test]
fn a_constraint_that_cannot_be_compiled_says_so_and_blocks_only_its_app() {
    let mut pending = tasks_of("bad", 1, &[("rack", "LIKE", "(")]);
    pending.extend(tasks_of("good", 1, &[]));
    let round = place_all(&pending, &three_nodes());
    assert!(why(&round, "bad.0").starts_with("cannot be placed: constraint rack LIKE (: not a regular expression"));
    assert_eq!(hosts(&round).len(), 1);
}

#[test]
fn tasks_like_one_that_did_not_fit_wait_with_its_reason() {
    let pending = tasks_of("web", 50, &[("hostname", "UNIQUE", "")]);
    let round = place_all(&pending, &three_nodes());
    assert_eq!(round.waiting.len(), 47);
    assert!(round.waiting.iter().all(|(_, w)| w.contains("already run web")));
}

#[test]
fn the_priority_is_a_task_label() {
    let mut r = request("a", 0.1, 32.0, &[]);
    if let Some(spec) = r.spec.as_mut() {
        spec.priority = Priority::Preemptible as i32;
    }
    let round = place_all(&[r], &three_nodes());
    let task = round.plans.iter().flat_map(|p| &p.tasks).next().expect("placed");
    assert_eq!(
        task.labels.as_ref().and_then(|l| l.get("sextant.priority")),
        Some("preemptible")
    );
}

/// Guards a Docker app's launch: the container, a bridge's port mappings
/// from the task's host ports, and a health check on the container port.
#[test]
fn a_docker_task_carries_its_container_and_maps_its_ports() {
    let mut r = request("a", 0.1, 32.0, &[("http", 0)]);
    if let Some(spec) = r.spec.as_mut() {
        spec.ports[0].container_port = 80;
        spec.command.clear();
        spec.container = Some(sextant_proto::proto::ContainerSpec {
            docker: Some(sextant_proto::proto::DockerSpec {
                image: "busybox".into(),
                network: "BRIDGE".into(),
                ..Default::default()
            }),
        });
        spec.health_check = Some(ProtoHealthCheck {
            r#type: "HTTP".into(),
            port_name: "http".into(),
            ..Default::default()
        });
    }
    let round = place_all(&[r], &[offer("o1", 1.0, 64.0, (31000, 31010))]);
    let task = round.plans.iter().flat_map(|p| &p.tasks).next().expect("placed");
    let docker = task.container.as_ref().and_then(|c| c.docker.as_ref()).expect("docker");
    assert_eq!(docker.image, "busybox");
    assert_eq!(docker.network, Some(mesos::types::DockerNetwork::Bridge));
    assert_eq!(
        (
            docker.port_mappings[0].host_port,
            docker.port_mappings[0].container_port
        ),
        (31000, 80)
    );
    let http = task
        .health_check
        .as_ref()
        .and_then(|h| h.http.as_ref())
        .expect("http check");
    assert_eq!(http.port, 80, "the check probes the container's port");
    let command = task.command.as_ref().expect("command");
    assert_eq!(
        (command.shell, command.value.as_deref()),
        (Some(false), None),
        "the image's own command"
    );
}
