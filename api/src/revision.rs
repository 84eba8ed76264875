//! The revision of an app: a stable hash of what its tasks run.
//!
//! Two specs have the same revision exactly when they launch the same task:
//! the same command or args, resources in Mesos units (so `"250m"` and `0.25`
//! are equal), env, ports (with defaults filled in) and kill grace period.
//! `instances` is not part of it: scaling is not a rollout.
//!
//! The hash is SHA-256 over a canonical JSON encoding (struct fields in a
//! fixed order, maps as `BTreeMap`, resources as integer thousandths), so it
//! is the same on every run and platform. Changing this encoding changes
//! every revision and rolls every app: don't, unless that is the point.

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::app::AppSpec;
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
        resources,
        env,
        ports,
        kill_grace_period_seconds,
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
    };
    // Serializing plain structs, strings and integers cannot fail.
    let bytes = serde_json::to_vec(&canonical).unwrap_or_default();
    let digest = Sha256::digest(&bytes);
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
}

#[derive(Serialize)]
struct CanonicalPort<'a> {
    name: &'a str,
    container_port: u16,
    host_port: u16,
    protocol: String,
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
        fn cpus_forms_agree(milli in 1u64..100_000) {
            let mut a = spec();
            let mut b = spec();
            a.resources.cpus = Quantity::String(format!("{milli}m"));
            b.resources.cpus = Quantity::Number(milli as f64 / 1000.0);
            prop_assert_eq!(revision(&a), revision(&b));
        }
    }
}
