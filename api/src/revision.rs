//! The revision of an app: a stable hash of what its tasks run.
//!
//! Two specs have the same revision exactly when they launch the same task:
//! the same command or args, fetched URIs, user, container, resources in
//! Mesos units (so `"250m"` and `0.25` are equal), env, ports (with defaults
//! filled in), task labels, health check and kill grace period. `instances`,
//! `strategy`, `placement`, `priority`, `restartBackoff`, `paused`, `unreachableReplaceSeconds` and
//! `metadata` are not part of it: scaling, pausing or re-placing an app is
//! not a rollout.
//!
//! The hash is SHA-256 over a canonical JSON encoding (struct fields in a
//! fixed order, maps as `BTreeMap`, resources as integer thousandths, every
//! default written out), so it is the same on every run and platform.
//! Fields added after the first encoding (`uris`, `user`, `container`,
//! `labels`, `healthCheck`) are left out of the encoding when absent or
//! empty, so apps that do not use them keep their revision. Changing this
//! encoding changes every revision and rolls every app: don't, unless that
//! is the point.

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::app::{
    AppSpec, CommandCheck, Container, DockerContainer, DockerParameter, HealthCheck, HttpCheck, HttpScheme, TcpCheck,
    Uri,
};
use crate::int_or_string::IntOrString;
use crate::quantity::{Quantity, Unit};
use crate::task::{DEFAULT_KILL_GRACE_PERIOD_SECONDS, DEFAULT_PROTOCOL};

/// Number of hex characters in a revision.
pub const REVISION_LEN: usize = 10;

/// The revision of `spec`: the first ten lowercase hex characters of a
/// SHA-256 over its task-defining fields. See the module docs.
pub fn revision(spec: &AppSpec) -> String {
    // Destructure without `..` so that adding a field to AppSpec fails to
    // compile here until someone decides whether it defines the task.
    let AppSpec {
        instances: _,
        command,
        args,
        uris,
        user,
        container,
        resources,
        ports,
        env,
        labels,
        health_check,
        strategy: _,
        placement: _,
        priority: _,
        kill_grace_period_seconds,
        restart_backoff: _,
        paused: _,
        unreachable_replace_seconds: _,
    } = spec;
    let canonical = Canonical {
        v: 1,
        command: command.as_deref(),
        args: args.as_deref(),
        cpus: Amount::of(&resources.cpus, Unit::Cores),
        mem: Amount::of(&resources.mem, Unit::Mebibytes),
        disk: Amount::of(&resources.disk, Unit::Mebibytes),
        env: env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect(),
        ports: ports
            .iter()
            .map(|p| CanonicalPort {
                name: &p.name,
                container_port: p.container_port.unwrap_or(0),
                host_port: p.host_port.unwrap_or(0),
                protocol: p.protocol.as_deref().unwrap_or(DEFAULT_PROTOCOL).to_ascii_lowercase(),
            })
            .collect(),
        kill_grace_period_seconds: kill_grace_period_seconds.unwrap_or(DEFAULT_KILL_GRACE_PERIOD_SECONDS),
        uris: uris.iter().map(CanonicalUri::of).collect(),
        user: user.as_deref(),
        container: container.as_ref().map(CanonicalContainer::of),
        labels: labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect(),
        health_check: health_check.as_ref().map(CanonicalHealthCheck::of),
    };
    // Serializing plain structs, strings and integers cannot fail.
    let bytes = serde_json::to_vec(&canonical).unwrap_or_default();
    short_hex(&bytes)
}

/// The revision of a spec restarted at `at` (Unix seconds, from
/// `sextant rollout restart`): a new revision for the same spec, so its
/// tasks are replaced by a rolling update. Stable for one restart.
pub fn restarted(revision: &str, at: f64) -> String {
    short_hex(format!("{revision}|restarted={at:.6}").as_bytes())
}

/// The first `REVISION_LEN` hex digits of the SHA-256 of `bytes`.
fn short_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(REVISION_LEN);
    for b in digest.iter().take(REVISION_LEN.div_ceil(2)) {
        hex.push(HEX[usize::from(b >> 4)] as char);
        hex.push(HEX[usize::from(b & 0xf)] as char);
    }
    hex.truncate(REVISION_LEN);
    hex
}

const HEX: &[u8; 16] = b"0123456789abcdef";

#[derive(Serialize)]
struct Canonical<'a> {
    /// Encoding version.
    v: u32,
    command: Option<&'a str>,
    args: Option<&'a [String]>,
    cpus: Amount,
    mem: Amount,
    disk: Amount,
    env: BTreeMap<&'a str, &'a str>,
    ports: Vec<CanonicalPort<'a>>,
    kill_grace_period_seconds: u32,
    // Added later: omitted when unused, so older revisions stay valid.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    uris: Vec<CanonicalUri<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    container: Option<CanonicalContainer<'a>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    labels: BTreeMap<&'a str, &'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    health_check: Option<CanonicalHealthCheck<'a>>,
}

#[derive(Serialize)]
struct CanonicalPort<'a> {
    name: &'a str,
    container_port: u16,
    host_port: u16,
    protocol: String,
}

#[derive(Serialize)]
struct CanonicalUri<'a> {
    value: &'a str,
    executable: bool,
    extract: bool,
    cache: bool,
    output_file: Option<&'a str>,
}

impl<'a> CanonicalUri<'a> {
    fn of(u: &'a Uri) -> Self {
        let Uri {
            value,
            executable,
            extract,
            cache,
            output_file,
        } = u;
        CanonicalUri {
            value,
            executable: *executable,
            extract: *extract,
            cache: *cache,
            output_file: output_file.as_deref(),
        }
    }
}

#[derive(Serialize)]
struct CanonicalContainer<'a> {
    docker: CanonicalDocker<'a>,
}

#[derive(Serialize)]
struct CanonicalDocker<'a> {
    image: &'a str,
    network: &'static str,
    force_pull: bool,
    /// In order: `docker run` sees them in this order.
    parameters: Vec<(&'a str, &'a str)>,
}

impl<'a> CanonicalContainer<'a> {
    fn of(c: &'a Container) -> Self {
        let Container { docker } = c;
        let DockerContainer {
            image,
            network,
            force_pull,
            parameters,
        } = docker;
        CanonicalContainer {
            docker: CanonicalDocker {
                image,
                network: network.as_str(),
                force_pull: *force_pull,
                parameters: parameters
                    .iter()
                    .map(|DockerParameter { key, value }| (key.as_str(), value.as_str()))
                    .collect(),
            },
        }
    }
}

#[derive(Serialize)]
struct CanonicalHealthCheck<'a> {
    http: Option<CanonicalHttp<'a>>,
    tcp: Option<&'a IntOrString>,
    command: Option<&'a str>,
    initial_delay_seconds: u32,
    period_seconds: u32,
    timeout_seconds: u32,
    failure_threshold: u32,
    grace_period_seconds: u32,
}

#[derive(Serialize)]
struct CanonicalHttp<'a> {
    port: &'a IntOrString,
    path: &'a str,
    scheme: &'static str,
}

impl<'a> CanonicalHealthCheck<'a> {
    fn of(h: &'a HealthCheck) -> Self {
        let HealthCheck {
            http,
            tcp,
            command,
            initial_delay_seconds,
            period_seconds,
            timeout_seconds,
            failure_threshold,
            grace_period_seconds,
        } = h;
        CanonicalHealthCheck {
            http: http.as_ref().map(|HttpCheck { port, path, scheme }| CanonicalHttp {
                port,
                path,
                scheme: match scheme {
                    HttpScheme::Http => "http",
                    HttpScheme::Https => "https",
                },
            }),
            tcp: tcp.as_ref().map(|TcpCheck { port }| port),
            command: command.as_ref().map(|CommandCheck { command }| command.as_str()),
            initial_delay_seconds: *initial_delay_seconds,
            period_seconds: *period_seconds,
            timeout_seconds: *timeout_seconds,
            failure_threshold: *failure_threshold,
            grace_period_seconds: *grace_period_seconds,
        }
    }
}

/// A resource amount in thousandths of its Mesos unit, or, for a quantity
/// that does not parse (validation rejects it anyway), its text.
#[derive(Serialize)]
enum Amount {
    Thousandths(u64),
    Invalid(String),
}

impl Amount {
    fn of(q: &Quantity, unit: Unit) -> Amount {
        match q.thousandths(unit) {
            Ok(t) => Amount::Thousandths(t),
            Err(_) => Amount::Invalid(q.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::{PortSpec, Resources};
    use crate::int_or_string::IntOrString;
    use proptest::prelude::*;

    fn spec() -> AppSpec {
        AppSpec {
            instances: 3,
            command: Some("exec python3 -m http.server $PORT_HTTP".into()),
            args: None,
            resources: Resources {
                cpus: Quantity::String("250m".into()),
                mem: Quantity::String("128Mi".into()),
                disk: Quantity::Number(0.0),
            },
            env: BTreeMap::from([("LOG_LEVEL".into(), "info".into())]),
            ports: vec![PortSpec {
                name: "http".into(),
                container_port: Some(8000),
                host_port: None,
                protocol: None,
            }],
            kill_grace_period_seconds: None,
            ..AppSpec::default()
        }
    }

    #[test]
    fn shape() {
        let r = revision(&spec());
        assert_eq!(r.len(), REVISION_LEN);
        assert!(r.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(r, revision(&spec()));
    }

    #[test]
    fn pinned() {
        // Guards the encoding: a change here re-rolls every app in every
        // cluster. Update only on purpose.
        assert_eq!(revision(&spec()), revision(&spec()));
        let pinned = revision(&spec());
        assert_eq!(pinned, PINNED, "the revision encoding changed");
    }

    const PINNED: &str = "62f044c4c1";

    #[test]
    fn scaling_keeps_revision() {
        let mut s = spec();
        s.instances = 10;
        assert_eq!(revision(&s), revision(&spec()));
    }

    #[test]
    fn task_changes_change_revision() {
        let base = revision(&spec());
        let mut s = spec();
        s.command = Some("exec sleep 1".into());
        assert_ne!(revision(&s), base);
        let mut s = spec();
        s.env.insert("X".into(), "1".into());
        assert_ne!(revision(&s), base);
        let mut s = spec();
        s.resources.cpus = Quantity::Number(0.5);
        assert_ne!(revision(&s), base);
        let mut s = spec();
        s.resources.mem = Quantity::Number(256.0);
        assert_ne!(revision(&s), base);
        let mut s = spec();
        s.ports[0].host_port = Some(8080);
        assert_ne!(revision(&s), base);
        let mut s = spec();
        s.kill_grace_period_seconds = Some(5);
        assert_ne!(revision(&s), base);
        // Shell form and exec form are different tasks.
        let mut s = spec();
        s.command = None;
        s.args = Some(vec!["exec python3 -m http.server $PORT_HTTP".into()]);
        assert_ne!(revision(&s), base);
    }

    #[test]
    fn equivalent_forms_are_equal() {
        let base = revision(&spec());
        let mut s = spec();
        s.resources.cpus = Quantity::Number(0.25);
        s.resources.mem = Quantity::Number(128.0);
        s.resources.disk = Quantity::String("0".into());
        s.ports[0].protocol = Some("tcp".into());
        s.ports[0].host_port = Some(0);
        s.kill_grace_period_seconds = Some(DEFAULT_KILL_GRACE_PERIOD_SECONDS);
        assert_eq!(revision(&s), base);
        s.resources.mem = Quantity::String("134217728".into());
        assert_eq!(revision(&s), base);
    }

    #[test]
    fn yaml_field_order_is_irrelevant() {
        let a: AppSpec =
            serde_yaml::from_str("command: run\nresources: {cpus: 1, mem: 64}\nenv: {A: '1', B: '2'}\n").unwrap();
        let b: AppSpec =
            serde_yaml::from_str("env: {B: '2', A: '1'}\nresources: {mem: \"64Mi\", cpus: \"1000m\"}\ncommand: run\n")
                .unwrap();
        assert_eq!(revision(&a), revision(&b));
    }

    fn full() -> AppSpec {
        serde_yaml::from_str(
            "command: run
uris: [{value: 'https://example.com/a.tgz'}]
user: nobody
container: {docker: {image: 'web:1', network: bridge, parameters: [{key: label, value: a}]}}
ports: [{name: http, containerPort: 80}]
labels: {tier: web}
healthCheck: {http: {port: http, path: /healthz}, periodSeconds: 5}
",
        )
        .unwrap()
    }

    type Edit = fn(&mut AppSpec);

    /// Each edit changes what a task runs.
    fn task_edits() -> Vec<(&'static str, Edit)> {
        vec![
            ("uris added", |s| {
                s.uris.push(Uri {
                    value: "https://x/y".into(),
                    executable: false,
                    extract: true,
                    cache: false,
                    output_file: None,
                })
            }),
            ("uri extract", |s| s.uris[0].extract = false),
            ("uri executable", |s| s.uris[0].executable = true),
            ("uri cache", |s| s.uris[0].cache = true),
            ("uri output file", |s| s.uris[0].output_file = Some("x".into())),
            ("user", |s| s.user = Some("root".into())),
            ("user removed", |s| s.user = None),
            ("image", |s| s.container.as_mut().unwrap().docker.image = "web:2".into()),
            ("network", |s| {
                s.container.as_mut().unwrap().docker.network = crate::app::NetworkMode::Host
            }),
            ("force pull", |s| s.container.as_mut().unwrap().docker.force_pull = true),
            ("parameters", |s| {
                s.container.as_mut().unwrap().docker.parameters.clear()
            }),
            ("container removed", |s| s.container = None),
            ("task label", |s| {
                s.labels.insert("x".into(), "y".into());
            }),
            ("task label value", |s| {
                s.labels.insert("tier".into(), "db".into());
            }),
            ("health check removed", |s| s.health_check = None),
            ("check path", |s| {
                s.health_check.as_mut().unwrap().http.as_mut().unwrap().path = "/".into()
            }),
            ("check port", |s| {
                s.health_check.as_mut().unwrap().http.as_mut().unwrap().port = IntOrString::Int(80)
            }),
            ("check scheme", |s| {
                s.health_check.as_mut().unwrap().http.as_mut().unwrap().scheme = HttpScheme::Https
            }),
            ("check kind", |s| {
                let hc = s.health_check.as_mut().unwrap();
                hc.http = None;
                hc.tcp = Some(TcpCheck { port: "http".into() });
            }),
            ("check delay", |s| {
                s.health_check.as_mut().unwrap().initial_delay_seconds = 1
            }),
            ("check period", |s| s.health_check.as_mut().unwrap().period_seconds = 6),
            ("check timeout", |s| {
                s.health_check.as_mut().unwrap().timeout_seconds = 1
            }),
            ("check threshold", |s| {
                s.health_check.as_mut().unwrap().failure_threshold = 9
            }),
            ("check grace", |s| {
                s.health_check.as_mut().unwrap().grace_period_seconds = 99
            }),
            ("kill grace", |s| s.kill_grace_period_seconds = Some(1)),
            ("env", |s| {
                s.env.insert("A".into(), "1".into());
            }),
        ]
    }

    #[test]
    fn new_task_fields_change_revision() {
        let base = revision(&full());
        let mut seen = std::collections::BTreeSet::from([base.clone()]);
        for (what, edit) in task_edits() {
            let mut s = full();
            edit(&mut s);
            let r = revision(&s);
            assert_ne!(r, base, "{what} must change the revision");
            seen.insert(r);
        }
        assert_eq!(seen.len(), task_edits().len() + 1, "every edit gives its own revision");
    }

    #[test]
    fn scheduling_fields_keep_revision() {
        let base = revision(&full());
        let s: AppSpec = serde_yaml::from_str(
            "command: run
uris: [{value: 'https://example.com/a.tgz', extract: true}]
user: nobody
container: {docker: {image: 'web:1', network: bridge, forcePull: false, parameters: [{key: label, value: a}]}}
ports: [{name: http, containerPort: 80, protocol: TCP, hostPort: 0}]
labels: {tier: web}
healthCheck: {http: {port: http, path: /healthz, scheme: http}, periodSeconds: 5, timeoutSeconds: 20}
instances: 40
strategy: {maxSurge: 1, maxUnavailable: 0, minReadySeconds: 30, autoRollback: false, failureBudget: 0}
placement: {constraints: [{field: hostname, operator: UNIQUE}]}
priority: preemptible
restartBackoff: {initialSeconds: 5, factor: 3, maxSeconds: 900}
paused: true
",
        )
        .unwrap();
        assert_eq!(revision(&s), base);
    }

    #[test]
    fn unused_new_fields_keep_old_revisions() {
        // The pinned revision predates uris, user, container, labels and
        // healthCheck: leaving them out must not change it.
        let mut s = spec();
        s.strategy.max_surge = IntOrString::Int(3);
        s.paused = true;
        assert_eq!(revision(&s), PINNED);
        s.labels.insert("a".into(), "b".into());
        assert_ne!(revision(&s), PINNED);
    }

    proptest! {
        #[test]
        fn env_insertion_order_is_irrelevant(
            env in proptest::collection::vec(("[A-Z_]{1,8}", "[ -~]{0,8}"), 0..8),
            instances in 0u32..100,
        ) {
            let mut a = spec();
            let mut b = spec();
            b.instances = instances;
            for (k, v) in &env {
                a.env.insert(k.clone(), v.clone());
            }
            for (k, v) in env.iter().rev() {
                b.env.entry(k.clone()).or_insert_with(|| v.clone());
            }
            // `b` kept the first value for duplicate keys, `a` the last;
            // compare only when they agree.
            prop_assume!(a.env == b.env);
            prop_assert_eq!(revision(&a), revision(&b));
        }

        #[test]
        fn written_defaults_are_irrelevant(
            mask in proptest::collection::vec(any::<bool>(), 12),
            instances in 0u32..50,
        ) {
            // A health check and a container, each default written out or
            // not, and scheduling fields that never matter.
            let fields = [
                "path: /", "scheme: http", "initialDelaySeconds: 15", "periodSeconds: 10", "timeoutSeconds: 20",
                "failureThreshold: 3", "gracePeriodSeconds: 10", "network: host", "forcePull: false",
                "extract: true", "executable: false", "cache: false",
            ];
            let on = |i: usize| if mask[i] { format!(", {}", fields[i]) } else { String::new() };
            let text = format!(
                "command: run\ninstances: {instances}\nports: [{{name: http}}]\n\
                 healthCheck: {{http: {{port: http{}{}}}{}{}{}{}{}}}\n\
                 container: {{docker: {{image: x{}{}}}}}\nuris: [{{value: 'http://a/b'{}{}{}}}]\n",
                on(0), on(1), on(2), on(3), on(4), on(5), on(6), on(7), on(8), on(9), on(10), on(11),
            );
            let plain = "command: run\nports: [{name: http}]\nhealthCheck: {http: {port: http}}\n\
                         container: {docker: {image: x}}\nuris: [{value: 'http://a/b'}]\n";
            let a: AppSpec = serde_yaml::from_str(&text).unwrap();
            let b: AppSpec = serde_yaml::from_str(plain).unwrap();
            prop_assert_eq!(revision(&a), revision(&b));
        }

        #[test]
        fn cpus_forms_agree(milli in 1u64..100_000) {
            let mut a = spec();
            let mut b = spec();
            a.resources.cpus = Quantity::String(format!("{milli}m"));
            b.resources.cpus = Quantity::Number(milli as f64 / 1000.0);
            prop_assert_eq!(revision(&a), revision(&b));
        }
    }
}
