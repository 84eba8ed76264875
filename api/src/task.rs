//! Task identity and the App -> gRPC `TaskSpec` conversion.
//!
//! Every Mesos task Sextant launches is named
//! `<namespace>.<app>.<revision>.<unique>` ([`TaskId`]) and labelled with
//! [`LABEL_NAMESPACE`], [`LABEL_APP`] and [`LABEL_REVISION`], so ownership
//! and rollout progress can always be derived from Mesos alone.
//! [`task_spec`] resolves an app's spec to what one task runs, in Mesos units.

use crate::app::health::{HealthCheck, HttpScheme};
use crate::app::{App, Constraint, Container, NetworkMode, Priority};
use crate::int_or_string::IntOrString;
use crate::proto;
use crate::quantity::QuantityError;

pub use sextant_proto::task::{
    DEFAULT_KILL_GRACE_PERIOD_SECONDS, DEFAULT_NAMESPACE, DEFAULT_PROTOCOL, LABEL_APP, LABEL_NAMESPACE, LABEL_REVISION,
    TaskId, TaskIdError, app_key, is_dns1123_label,
};

/// Why an app could not be turned into a `TaskSpec`. The loader rejects
/// all of these, so they only happen for apps that skipped validation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TaskSpecError {
    /// A resource quantity that does not convert.
    #[error("spec.resources.{field}: {source}")]
    Quantity {
        /// `cpus`, `mem` or `disk`.
        field: &'static str,
        /// The conversion error.
        source: QuantityError,
    },
    /// Neither or both of `command` and `args`, or an empty `args`.
    #[error("spec: set exactly one of command or args (args non-empty)")]
    Command,
}

/// What one task of `app` runs, in Mesos units: cpus in cores, mem and disk
/// in MiB, protocol defaulted to `tcp` (lowercased), kill grace period
/// defaulted to 30 s.
pub fn task_spec(app: &App) -> Result<proto::TaskSpec, TaskSpecError> {
    let spec = &app.spec;
    let (command, args) = match (&spec.command, &spec.args) {
        (Some(c), None) => (c.clone(), Vec::new()),
        (None, Some(a)) if !a.is_empty() => (String::new(), a.clone()),
        // A Docker app without either runs its image's own command.
        (None, None) if spec.container.is_some() => (String::new(), Vec::new()),
        _ => return Err(TaskSpecError::Command),
    };
    let quantity = |field, q: &crate::Quantity, cpus: bool| {
        if cpus { q.to_cpus() } else { q.to_mib() }.map_err(|source| TaskSpecError::Quantity { field, source })
    };
    Ok(proto::TaskSpec {
        command,
        args,
        cpus: quantity("cpus", &spec.resources.cpus, true)?,
        mem: quantity("mem", &spec.resources.mem, false)?,
        disk: quantity("disk", &spec.resources.disk, false)?,
        env: spec.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        ports: spec
            .ports
            .iter()
            .map(|p| proto::PortSpec {
                name: p.name.clone(),
                container_port: u32::from(p.container_port.unwrap_or(0)),
                host_port: u32::from(p.host_port.unwrap_or(0)),
                protocol: p.protocol.as_deref().unwrap_or(DEFAULT_PROTOCOL).to_ascii_lowercase(),
            })
            .collect(),
        kill_grace_period_seconds: spec
            .kill_grace_period_seconds
            .unwrap_or(DEFAULT_KILL_GRACE_PERIOD_SECONDS),
        user: spec.user.clone().unwrap_or_default(),
        uris: spec
            .uris
            .iter()
            .map(|u| proto::Uri {
                value: u.value.clone(),
                executable: u.executable,
                extract: u.extract,
                cache: u.cache,
                output_file: u.output_file.clone().unwrap_or_default(),
            })
            .collect(),
        labels: spec.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        health_check: spec.health_check.as_ref().map(health_check_spec),
        priority: match spec.priority {
            Priority::Production => proto::Priority::Production,
            Priority::Preemptible => proto::Priority::Preemptible,
        } as i32,
        constraints: spec.placement.constraints.iter().map(constraint_spec).collect(),
        container: spec.container.as_ref().map(container_spec),
    })
}

/// The Docker container of a task, as the agent turns it into a Mesos
/// `ContainerInfo`.
fn container_spec(c: &Container) -> proto::ContainerSpec {
    let docker = &c.docker;
    proto::ContainerSpec {
        docker: Some(proto::DockerSpec {
            image: docker.image.clone(),
            network: match docker.network {
                NetworkMode::Host => "HOST",
                NetworkMode::Bridge => "BRIDGE",
            }
            .into(),
            force_pull_image: docker.force_pull,
            parameters: docker
                .parameters
                .iter()
                .map(|p| proto::DockerParameter {
                    key: p.key.clone(),
                    value: p.value.clone(),
                })
                .collect(),
        }),
    }
}

/// A placement constraint as the agent evaluates it.
fn constraint_spec(c: &Constraint) -> proto::Constraint {
    proto::Constraint {
        field: c.field.clone(),
        operator: c.operator.as_str().to_string(),
        value: c.value.clone().unwrap_or_default(),
    }
}

/// The Mesos-native health check of a task; a named port is resolved by the
/// agent once the task has its host ports.
fn health_check_spec(check: &HealthCheck) -> proto::HealthCheck {
    let port = |p: &IntOrString| match p {
        IntOrString::Int(n) => (String::new(), u32::try_from(*n).unwrap_or(0)),
        IntOrString::String(name) => (name.clone(), 0),
    };
    let mut out = proto::HealthCheck {
        delay_seconds: f64::from(check.initial_delay_seconds),
        interval_seconds: f64::from(check.period_seconds),
        timeout_seconds: f64::from(check.timeout_seconds),
        consecutive_failures: check.failure_threshold,
        grace_period_seconds: f64::from(check.grace_period_seconds),
        ..proto::HealthCheck::default()
    };
    if let Some(http) = &check.http {
        out.r#type = "HTTP".into();
        (out.port_name, out.port_number) = port(&http.port);
        out.path = http.path.clone();
        out.scheme = match http.scheme {
            HttpScheme::Http => "http",
            HttpScheme::Https => "https",
        }
        .into();
    } else if let Some(tcp) = &check.tcp {
        out.r#type = "TCP".into();
        (out.port_name, out.port_number) = port(&tcp.port);
    } else if let Some(command) = &check.command {
        out.r#type = "COMMAND".into();
        out.command = command.command.clone();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::{AppSpec, PortSpec, Resources};
    use crate::quantity::Quantity;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn app(spec: AppSpec) -> App {
        App::new("web", spec)
    }

    fn spec() -> AppSpec {
        AppSpec {
            instances: 2,
            command: Some("run".into()),
            args: None,
            resources: Resources {
                cpus: Quantity::String("250m".into()),
                mem: Quantity::String("1Gi".into()),
                disk: Quantity::Number(10.0),
            },
            env: BTreeMap::from([("A".into(), "1".into())]),
            ports: vec![
                PortSpec {
                    name: "http".into(),
                    container_port: Some(8000),
                    host_port: None,
                    protocol: None,
                },
                PortSpec {
                    name: "dns".into(),
                    container_port: None,
                    host_port: Some(53),
                    protocol: Some("UDP".into()),
                },
            ],
            kill_grace_period_seconds: None,
            ..AppSpec::default()
        }
    }

    #[test]
    fn converts_spec() {
        let t = task_spec(&app(spec())).unwrap();
        assert_eq!(t.command, "run");
        assert!(t.args.is_empty());
        assert_eq!(t.cpus, 0.25);
        assert_eq!(t.mem, 1024.0);
        assert_eq!(t.disk, 10.0);
        assert_eq!(t.env.get("A").map(String::as_str), Some("1"));
        assert_eq!(t.ports.len(), 2);
        assert_eq!(t.ports[0].name, "http");
        assert_eq!(t.ports[0].container_port, 8000);
        assert_eq!(t.ports[0].host_port, 0);
        assert_eq!(t.ports[0].protocol, "tcp");
        assert_eq!(t.ports[1].host_port, 53);
        assert_eq!(t.ports[1].protocol, "udp");
        assert_eq!(t.kill_grace_period_seconds, 30);
    }

    #[test]
    fn converts_args() {
        let mut s = spec();
        s.command = None;
        s.args = Some(vec!["sleep".into(), "10".into()]);
        s.kill_grace_period_seconds = Some(5);
        let t = task_spec(&app(s)).unwrap();
        assert_eq!(t.command, "");
        assert_eq!(t.args, vec!["sleep", "10"]);
        assert_eq!(t.kill_grace_period_seconds, 5);
    }

    #[test]
    fn passes_user_uris_labels_and_health_check() {
        let mut s = spec();
        s.user = Some("nobody".into());
        s.labels = BTreeMap::from([("tier".into(), "web".into())]);
        s.health_check = serde_json::from_value(serde_json::json!({"http": {"port": "http", "path": "/ready"}})).ok();
        s.uris = serde_json::from_value(serde_json::json!([{"value": "https://example.com/app.tgz"}])).unwrap();
        let t = task_spec(&app(s)).unwrap();
        assert_eq!(t.user, "nobody");
        assert_eq!(t.labels.get("tier").map(String::as_str), Some("web"));
        assert_eq!(t.uris[0].value, "https://example.com/app.tgz");
        assert!(t.uris[0].extract, "extract defaults to true, as in Mesos");
        let check = t.health_check.unwrap();
        assert_eq!(
            (check.r#type.as_str(), check.port_name.as_str(), check.path.as_str()),
            ("HTTP", "http", "/ready")
        );
        assert_eq!(
            (check.delay_seconds, check.interval_seconds, check.consecutive_failures),
            (15.0, 10.0, 3)
        );
    }

    /// Guards against running a Docker app as a plain command without its
    /// container: the container goes to the agent with the command.
    #[test]
    fn a_docker_container_goes_with_the_task_and_may_have_no_command() {
        let mut s = spec();
        s.container = serde_json::from_value(serde_json::json!({"docker": {
            "image": "busybox", "network": "bridge", "forcePull": true,
            "parameters": [{"key": "label", "value": "a=b"}]
        }}))
        .unwrap();
        s.command = None;
        let t = task_spec(&app(s)).unwrap();
        let docker = t.container.and_then(|c| c.docker).expect("docker");
        assert_eq!(
            (docker.image.as_str(), docker.network.as_str(), docker.force_pull_image),
            ("busybox", "BRIDGE", true)
        );
        assert_eq!(docker.parameters[0].key, "label");
        assert!(
            t.command.is_empty() && t.args.is_empty(),
            "the image's own command runs"
        );
    }

    #[test]
    fn rejects_bad_specs() {
        let mut s = spec();
        s.args = Some(vec!["x".into()]);
        assert_eq!(task_spec(&app(s)), Err(TaskSpecError::Command));
        let mut s = spec();
        s.command = None;
        s.args = Some(vec![]);
        assert_eq!(task_spec(&app(s)), Err(TaskSpecError::Command));
        let mut s = spec();
        s.resources.mem = Quantity::String("1Qi".into());
        let e = task_spec(&app(s)).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("spec.resources.mem: invalid quantity \"1Qi\": unknown suffix"),
            "{e}"
        );
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,60}") {
            let _ = TaskId::parse(&s);
        }

        #[test]
        fn display_parse_round_trip(
            ns in "[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?",
            app in "[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?",
            rev in "[0-9a-f]{1,10}",
            unique in "[^.]{1,12}",
        ) {
            let id = TaskId { namespace: ns, app, revision: rev, unique };
            prop_assert_eq!(TaskId::parse(&id.to_string()), Ok(id));
        }
    }
}
