//! Building the Mesos `TaskInfo` of a placed task: resources, the command
//! with Marathon's port environment, labels (with `sextant.priority`), the
//! health check on the task's host port, the kill policy.

use mesos::types::{
    CommandInfo, CommandUri, ContainerInfo, ContainerType, DockerInfo, DockerNetwork, DurationInfo, Environment,
    HealthCheck, HealthCheckType, HttpCheckInfo, KillPolicy, Label, Labels, Offer, Parameter, PortMapping, Range,
    Resource, TaskId, TaskInfo, TcpCheckInfo,
};
use sextant_proto::proto::{DockerSpec, HealthCheck as ProtoHealthCheck, LaunchRequest, PortSpec, TaskSpec};

use crate::launch_queue::Tier;

/// Default SIGTERM→SIGKILL grace when the spec does not say.
const DEFAULT_KILL_GRACE_SECS: u32 = 30;

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

pub(super) fn task_info(request: &LaunchRequest, spec: &TaskSpec, offer: &Offer, host_ports: &[u64]) -> TaskInfo {
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
    let docker = spec.container.as_ref().and_then(|c| c.docker.as_ref());
    let command = if docker.is_some() && spec.args.is_empty() && spec.command.is_empty() {
        // The image's own entrypoint and command.
        CommandInfo {
            shell: Some(false),
            ..base
        }
    } else if spec.args.is_empty() {
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
        label("sextant.priority", Tier::of(spec.priority).as_str()),
    ];
    labels.extend(spec.labels.iter().map(|(k, v)| label(k, v)));
    TaskInfo {
        name: request.app.clone(),
        task_id: TaskId::new(request.task_id.clone()),
        agent_id: offer.agent_id.clone(),
        resources,
        command: Some(command),
        labels: Some(Labels { labels }),
        health_check: spec.health_check.as_ref().map(|check| {
            // In a bridged container the check probes the container's port.
            let probed: Vec<u64> = if docker.is_some_and(|d| d.network == "BRIDGE") {
                spec.ports.iter().map(|p| u64::from(p.container_port)).collect()
            } else {
                host_ports.to_vec()
            };
            health_check(check, &spec.ports, &probed)
        }),
        container: docker.map(|d| docker_container(d, &spec.ports, host_ports)),
        kill_policy: Some(KillPolicy {
            grace_period: Some(DurationInfo {
                nanoseconds: i64::from(grace) * 1_000_000_000,
            }),
        }),
    }
}

/// Mesos `ContainerInfo` of type DOCKER: the image, the network, and in
/// BRIDGE mode a mapping from each port's host port to its container port.
fn docker_container(docker: &DockerSpec, ports: &[PortSpec], host_ports: &[u64]) -> ContainerInfo {
    let network = match docker.network.as_str() {
        "BRIDGE" => DockerNetwork::Bridge,
        _ => DockerNetwork::Host,
    };
    let port_mappings = if network == DockerNetwork::Bridge {
        ports
            .iter()
            .zip(host_ports)
            .filter(|(p, _)| p.container_port != 0)
            .map(|(p, &host)| PortMapping {
                host_port: u32::try_from(host).unwrap_or(0),
                container_port: p.container_port,
                protocol: Some(p.protocol.clone()).filter(|p| !p.is_empty()),
            })
            .collect()
    } else {
        Vec::new()
    };
    ContainerInfo {
        kind: ContainerType::Docker,
        hostname: None,
        docker: Some(DockerInfo {
            image: docker.image.clone(),
            network: Some(network),
            port_mappings,
            privileged: None,
            parameters: docker
                .parameters
                .iter()
                .map(|p| Parameter {
                    key: p.key.clone(),
                    value: p.value.clone(),
                })
                .collect(),
            force_pull_image: Some(docker.force_pull_image),
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
