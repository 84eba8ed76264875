//! Placement: matches queued launches to offers and builds the Mesos
//! `TaskInfo`s. Pure: offers and requests in, a plan per offer out.
//!
//! First fit in queue order, over the offers' free cpus, mem, disk and port
//! ranges; for a task that fitted no offer, what it needs and which of
//! those no offer had enough of (`Round::waiting_message`). Constraints and
//! priorities come in later issues and slot in here.

use mesos::types::{
    CommandInfo, CommandUri, DurationInfo, Environment, HealthCheck, HealthCheckType, HttpCheckInfo, KillPolicy, Label,
    Labels, Offer, OfferId, Range, Resource, TaskId, TaskInfo, TcpCheckInfo, ValueType,
};
use sextant_proto::proto::{HealthCheck as ProtoHealthCheck, HostPort, LaunchRequest, PortSpec, TaskSpec};

/// Default SIGTERM→SIGKILL grace when the spec does not say.
const DEFAULT_KILL_GRACE_SECS: u32 = 30;

/// What to do with one offer: launch `tasks` (possibly none: decline).
#[derive(Debug, Clone)]
pub struct OfferPlan {
    pub offer_id: OfferId,
    pub agent_id: mesos::types::AgentId,
    pub hostname: String,
    pub tasks: Vec<TaskInfo>,
    /// Host ports given to each launched task, by task id.
    pub ports: Vec<(String, Vec<HostPort>)>,
}

/// Free resources left in an offer while placing.
#[derive(Debug, Clone)]
struct Free {
    cpus: f64,
    mem: f64,
    disk: f64,
    ports: Vec<Range>,
}

impl Free {
    fn of(offer: &Offer) -> Self {
        let mut free = Free {
            cpus: 0.0,
            mem: 0.0,
            disk: 0.0,
            ports: Vec::new(),
        };
        for r in &offer.resources {
            match (r.name.as_str(), r.kind) {
                ("cpus", ValueType::Scalar) => free.cpus += r.scalar.map_or(0.0, |s| s.value),
                ("mem", ValueType::Scalar) => free.mem += r.scalar.map_or(0.0, |s| s.value),
                ("disk", ValueType::Scalar) => free.disk += r.scalar.map_or(0.0, |s| s.value),
                ("ports", ValueType::Ranges) => {
                    if let Some(ranges) = &r.ranges {
                        free.ports.extend(ranges.range.iter().copied());
                    }
                }
                _ => {}
            }
        }
        free
    }

    /// Takes the task's resources if they fit; returns the chosen host ports.
    fn take(&mut self, spec: &TaskSpec) -> Option<Vec<u64>> {
        // Mesos keeps scalars to 3 decimals; compare with a little slack.
        const EPS: f64 = 1e-6;
        if spec.cpus > self.cpus + EPS || spec.mem > self.mem + EPS || spec.disk > self.disk + EPS {
            return None;
        }
        let mut ports = self.ports.clone();
        let mut chosen = Vec::with_capacity(spec.ports.len());
        for port in &spec.ports {
            let wanted = if port.host_port != 0 {
                let p = u64::from(port.host_port);
                ports.iter().any(|r| r.begin <= p && p <= r.end).then_some(p)?
            } else {
                ports.iter().find(|r| r.begin <= r.end).map(|r| r.begin)?
            };
            ports = remove_port(&ports, wanted);
            chosen.push(wanted);
        }
        self.cpus -= spec.cpus;
        self.mem -= spec.mem;
        self.disk -= spec.disk;
        self.ports = ports;
        Some(chosen)
    }
}

fn remove_port(ranges: &[Range], port: u64) -> Vec<Range> {
    let mut out = Vec::with_capacity(ranges.len() + 1);
    for r in ranges {
        if port < r.begin || port > r.end {
            out.push(*r);
            continue;
        }
        if r.begin < port {
            out.push(Range {
                begin: r.begin,
                end: port - 1,
            });
        }
        if port < r.end {
            out.push(Range {
                begin: port + 1,
                end: r.end,
            });
        }
    }
    out
}

/// One offer round placed: a plan per offer, and what each offer has left.
#[derive(Debug, Clone)]
pub struct Round {
    /// One per offer, in the offers' order.
    pub plans: Vec<OfferPlan>,
    /// What each offer has left once its plan's tasks are taken.
    left: Vec<Free>,
}

/// Places `pending` (in order) onto `offers`. Every offer gets a plan, with
/// no tasks when nothing fit (the caller declines it).
pub fn place(pending: &[LaunchRequest], offers: &[Offer]) -> Round {
    let mut free: Vec<Free> = offers.iter().map(Free::of).collect();
    let mut plans: Vec<OfferPlan> = offers
        .iter()
        .map(|o| OfferPlan {
            offer_id: o.id.clone(),
            agent_id: o.agent_id.clone(),
            hostname: o.hostname.clone(),
            tasks: Vec::new(),
            ports: Vec::new(),
        })
        .collect();
    for request in pending {
        let Some(spec) = &request.spec else { continue };
        for (i, offer) in offers.iter().enumerate() {
            if let Some(host_ports) = free[i].take(spec) {
                let ports: Vec<HostPort> = spec
                    .ports
                    .iter()
                    .zip(&host_ports)
                    .map(|(p, &hp)| HostPort {
                        name: p.name.clone(),
                        port: u32::try_from(hp).unwrap_or(0),
                    })
                    .collect();
                plans[i].tasks.push(task_info(request, spec, offer, &host_ports));
                plans[i].ports.push((request.task_id.clone(), ports));
                break;
            }
        }
    }
    Round { plans, left: free }
}

impl Round {
    /// Why a task that fitted no offer of this round still waits: what it
    /// needs (cpus, mem, disk, ports), and which of those some offer was
    /// short of. Amounts left are not said: they change from round to
    /// round, and the message is published to watchers whenever it does
    /// (`get nodes` shows what is free).
    pub fn waiting_message(&self, spec: &TaskSpec) -> String {
        // Mesos keeps scalars to 3 decimals; compare with a little slack.
        const EPS: f64 = 1e-6;
        let short_of = |lacks: &dyn Fn(&Free) -> bool| self.left.iter().any(lacks);
        let mut short: Vec<String> = Vec::new();
        if short_of(&|f| spec.cpus > f.cpus + EPS) {
            short.push("cpus".into());
        }
        if short_of(&|f| spec.mem > f.mem + EPS) {
            short.push("mem".into());
        }
        if short_of(&|f| spec.disk > f.disk + EPS) {
            short.push("disk".into());
        }
        let wanted_ports = spec.ports.len() as u64;
        let free_ports = |f: &Free| {
            f.ports
                .iter()
                .map(|r| r.end.saturating_sub(r.begin).saturating_add(1))
                .sum::<u64>()
        };
        if short_of(&|f| free_ports(f) < wanted_ports) {
            short.push("ports".into());
        }
        let offered = |f: &Free, p: u64| f.ports.iter().any(|r| r.begin <= p && p <= r.end);
        let missing: Vec<String> = spec
            .ports
            .iter()
            .map(|p| u64::from(p.host_port))
            .filter(|&p| p != 0 && !self.left.iter().any(|f| offered(f, p)))
            .map(|p| p.to_string())
            .collect();
        if !missing.is_empty() {
            let label = if missing.len() == 1 { "host port" } else { "host ports" };
            short.push(format!("{label} {}", missing.join(", ")));
        }
        match short.split_last() {
            None => waiting_message(spec),
            Some((last, [])) => format!("{}: short of {last}", waiting_message(spec)),
            Some((last, rest)) => format!("{}: short of {} and {last}", waiting_message(spec), rest.join(", ")),
        }
    }
}

/// Why a queued task is still queued after an offer round: what placement
/// looked for (cpus, mem, disk, ports), and that no offer had it.
pub fn waiting_message(spec: &TaskSpec) -> String {
    let mut needs = format!("cpus {}, mem {} MiB, disk {} MiB", spec.cpus, spec.mem, spec.disk);
    let any = spec.ports.iter().filter(|p| p.host_port == 0).count();
    if any > 0 {
        needs.push_str(&format!(", {any} port{}", if any == 1 { "" } else { "s" }));
    }
    let fixed: Vec<String> = spec
        .ports
        .iter()
        .filter(|p| p.host_port != 0)
        .map(|p| p.host_port.to_string())
        .collect();
    if !fixed.is_empty() {
        let label = if fixed.len() == 1 { "host port" } else { "host ports" };
        needs.push_str(&format!(", {label} {}", fixed.join(", ")));
    }
    format!("waiting for an offer: needs {needs}; no offer fitted")
}

/// Environment name for a port: `PORT_` + upper-cased name, `-` as `_`.
pub fn port_env_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("PORT_{cleaned}")
}

fn task_info(request: &LaunchRequest, spec: &TaskSpec, offer: &Offer, host_ports: &[u64]) -> TaskInfo {
    let mut resources = vec![Resource::scalar("cpus", spec.cpus), Resource::scalar("mem", spec.mem)];
    if spec.disk > 0.0 {
        resources.push(Resource::scalar("disk", spec.disk));
    }
    if !host_ports.is_empty() {
        resources.push(Resource::ranges(
            "ports",
            host_ports.iter().map(|&p| Range { begin: p, end: p }).collect(),
        ));
    }

    // Marathon's conventions: PORT, PORT0..n, PORTS, HOST; plus PORT_<NAME>.
    let mut env: Vec<(String, String)> = spec.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    for (i, (port, host)) in spec.ports.iter().zip(host_ports).enumerate() {
        env.push((format!("PORT{i}"), host.to_string()));
        env.push((port_env_name(&port.name), host.to_string()));
    }
    if let Some(first) = host_ports.first() {
        env.push(("PORT".to_string(), first.to_string()));
        let all: Vec<String> = host_ports.iter().map(u64::to_string).collect();
        env.push(("PORTS".to_string(), all.join(",")));
    }
    env.push(("HOST".to_string(), offer.hostname.clone()));
    env.push(("SEXTANT_APP".to_string(), request.app.clone()));
    env.push(("SEXTANT_NAMESPACE".to_string(), request.namespace.clone()));
    env.push(("SEXTANT_REVISION".to_string(), request.revision.clone()));
    env.push(("SEXTANT_TASK_ID".to_string(), request.task_id.clone()));

    let base = CommandInfo {
        uris: spec.uris.iter().map(command_uri).collect(),
        environment: Some(Environment::from_pairs(env)),
        user: (!spec.user.is_empty()).then(|| spec.user.clone()),
        ..CommandInfo::default()
    };
    let command = if spec.args.is_empty() {
        CommandInfo {
            shell: Some(true),
            value: Some(spec.command.clone()),
            ..base
        }
    } else {
        // shell=false: execvp(value, arguments), arguments[0] is argv[0].
        CommandInfo {
            shell: Some(false),
            value: spec.args.first().cloned(),
            arguments: spec.args.clone(),
            ..base
        }
    };

    let grace = if spec.kill_grace_period_seconds == 0 {
        DEFAULT_KILL_GRACE_SECS
    } else {
        spec.kill_grace_period_seconds
    };
    let label = |key: &str, value: &str| Label {
        key: key.to_string(),
        value: Some(value.to_string()),
    };
    let mut labels = vec![
        label("sextant.app", &request.app),
        label("sextant.namespace", &request.namespace),
        label("sextant.revision", &request.revision),
    ];
    labels.extend(spec.labels.iter().map(|(k, v)| label(k, v)));
    TaskInfo {
        name: request.app.clone(),
        task_id: TaskId::new(request.task_id.clone()),
        agent_id: offer.agent_id.clone(),
        resources,
        command: Some(command),
        labels: Some(Labels { labels }),
        health_check: spec
            .health_check
            .as_ref()
            .map(|check| health_check(check, &spec.ports, host_ports)),
        kill_policy: Some(KillPolicy {
            grace_period: Some(DurationInfo {
                nanoseconds: i64::from(grace) * 1_000_000_000,
            }),
        }),
    }
}

fn command_uri(uri: &sextant_proto::proto::Uri) -> CommandUri {
    CommandUri {
        value: uri.value.clone(),
        executable: Some(uri.executable),
        extract: Some(uri.extract),
        cache: Some(uri.cache),
        output_file: (!uri.output_file.is_empty()).then(|| uri.output_file.clone()),
    }
}

/// The Mesos health check, with a named port resolved to the host port the
/// task listens on (command tasks share the node's network).
fn health_check(check: &ProtoHealthCheck, ports: &[PortSpec], host_ports: &[u64]) -> HealthCheck {
    let port = if check.port_name.is_empty() {
        check.port_number
    } else {
        ports
            .iter()
            .zip(host_ports)
            .find(|(p, _)| p.name == check.port_name)
            .and_then(|(_, &hp)| u32::try_from(hp).ok())
            .unwrap_or(0)
    };
    let kind = match check.r#type.as_str() {
        "HTTP" => HealthCheckType::Http,
        "TCP" => HealthCheckType::Tcp,
        "COMMAND" => HealthCheckType::Command,
        _ => HealthCheckType::Unknown,
    };
    HealthCheck {
        http: (kind == HealthCheckType::Http).then(|| HttpCheckInfo {
            port,
            path: Some(check.path.clone()).filter(|p| !p.is_empty()),
            scheme: Some(check.scheme.clone()).filter(|s| !s.is_empty()),
        }),
        tcp: (kind == HealthCheckType::Tcp).then_some(TcpCheckInfo { port }),
        command: (kind == HealthCheckType::Command).then(|| CommandInfo {
            shell: Some(true),
            value: Some(check.command.clone()),
            ..CommandInfo::default()
        }),
        kind,
        delay_seconds: Some(check.delay_seconds),
        interval_seconds: Some(check.interval_seconds),
        timeout_seconds: Some(check.timeout_seconds),
        consecutive_failures: Some(check.consecutive_failures),
        grace_period_seconds: Some(check.grace_period_seconds),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesos::types::{AgentId, FrameworkId};
    use sextant_proto::proto::PortSpec;

    fn offer(id: &str, cpus: f64, mem: f64, ports: (u64, u64)) -> Offer {
        Offer {
            id: OfferId::new(id),
            framework_id: FrameworkId::new("F-0000"),
            agent_id: AgentId::new(format!("{id}-agent")),
            hostname: "node".into(),
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
        let plans = place(&pending, &offers).plans;
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
        let plans = place(&pending, &offers).plans;
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
        let plans = place(&[r], &[offer("o1", 1.0, 64.0, (31000, 31010))]).plans;
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
        let plans = place(&[request("a", 0.1, 32.0, &[("http", 8080)])], &offers).plans;
        assert!(plans[0].tasks.is_empty());
        let plans = place(&[request("a", 0.1, 32.0, &[("http", 31005)])], &offers).plans;
        assert_eq!(plans[0].ports[0].1[0].port, 31005);
    }

    #[test]
    fn second_offer_used_when_first_is_full() {
        let offers = [
            offer("o1", 0.1, 32.0, (31000, 31010)),
            offer("o2", 2.0, 512.0, (31000, 31010)),
        ];
        let pending = vec![request("a", 0.5, 32.0, &[])];
        let plans = place(&pending, &offers).plans;
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
        let plans = place(&[r], &[offer("o1", 1.0, 64.0, (1, 2))]).plans;
        let command = plans[0].tasks[0].command.clone().unwrap_or_default();
        assert_eq!(command.shell, Some(false));
        assert_eq!(command.value.as_deref(), Some("sleep"));
        assert_eq!(command.arguments, vec!["sleep".to_string(), "5".to_string()]);
    }

    #[test]
    fn the_waiting_message_names_what_placement_looks_for() {
        let spec = |ports: &[(&str, u32)]| request("a", 0.1, 32.0, ports).spec.unwrap_or_default();
        assert_eq!(
            waiting_message(&spec(&[("http", 8080)])),
            "waiting for an offer: needs cpus 0.1, mem 32 MiB, disk 0 MiB, host port 8080; no offer fitted"
        );
        assert_eq!(
            waiting_message(&spec(&[("a", 0), ("b", 0), ("c", 9000), ("d", 9001)])),
            "waiting for an offer: needs cpus 0.1, mem 32 MiB, disk 0 MiB, 2 ports, host ports 9000, 9001; no offer fitted"
        );
    }

    #[test]
    fn the_waiting_message_names_what_no_offer_had_enough_of() {
        let offers = [
            offer("o1", 1.0, 256.0, (31000, 31000)),
            offer("o2", 0.2, 4096.0, (31000, 31010)),
        ];
        let pending = vec![
            request("a", 0.8, 64.0, &[("http", 0)]),
            request("b", 0.5, 512.0, &[("http", 0), ("admin", 0)]),
        ];
        let round = place(&pending, &offers);
        assert_eq!(round.plans[0].tasks.len(), 1, "a takes o1's cpus and its one port");
        let spec = pending[1].spec.clone().unwrap_or_default();
        assert_eq!(
            round.waiting_message(&spec),
            "waiting for an offer: needs cpus 0.5, mem 512 MiB, disk 0 MiB, 2 ports; no offer fitted: \
             short of cpus, mem and ports"
        );
        let fixed = request("c", 0.1, 32.0, &[("http", 8080)]).spec.unwrap_or_default();
        assert_eq!(
            place(&[], &offers[..1]).waiting_message(&fixed),
            "waiting for an offer: needs cpus 0.1, mem 32 MiB, disk 0 MiB, host port 8080; no offer fitted: \
             short of host port 8080"
        );
        let cpus = request("d", 2.0, 32.0, &[]).spec.unwrap_or_default();
        assert_eq!(
            place(&[], &offers).waiting_message(&cpus),
            "waiting for an offer: needs cpus 2, mem 32 MiB, disk 0 MiB; no offer fitted: short of cpus"
        );
    }
}
