//! Why a queued task fitted no offer of a round, in words: each offered
//! node turned it away for its first failing check (a constraint, then a
//! fixed host port, then resources), and the message says, per cause, how
//! many nodes and what was missing:
//!
//! - `constraint hostname UNIQUE: all 3 offered nodes already run web`
//! - `needs host port 31777: taken on every offered node`
//! - `needs 1024 MiB mem; the most free on any offered node is 512 MiB`

use sextant_proto::proto::TaskSpec;

use super::constraints::Compiled;
use super::free::{EPS, Free};

/// The first check an offered node failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The constraint at this index.
    Constraint(usize),
    HostPort(u64),
    /// Short of resources (which ones: from the node's `Free`).
    Short,
}

/// Why the task waits after a round in which each offered node turned it
/// away (`refusals[i]`, with what node `i` had left in `left[i]`).
pub fn message(spec: &TaskSpec, constraints: &[Compiled], app: &str, refusals: &[Refusal], left: &[&Free]) -> String {
    let offered = refusals.len();
    if offered == 0 {
        return "waiting for an offer: none has come since it was queued".to_string();
    }
    let mut parts: Vec<String> = Vec::new();
    for (i, c) in constraints.iter().enumerate() {
        let refused = refusals.iter().filter(|r| **r == Refusal::Constraint(i)).count();
        if refused > 0 {
            parts.push(c.refusal(refused, offered, app));
        }
    }
    let mut ports: Vec<u64> = refusals
        .iter()
        .filter_map(|r| match r {
            Refusal::HostPort(p) => Some(*p),
            _ => None,
        })
        .collect();
    ports.sort_unstable();
    ports.dedup();
    for port in ports {
        let refused = refusals.iter().filter(|r| **r == Refusal::HostPort(port)).count();
        let nodes = if refused == offered {
            "every offered node".to_string()
        } else {
            format!("{refused} of {offered} offered nodes")
        };
        parts.push(format!("needs host port {port}: taken on {nodes}"));
    }
    let short: Vec<&Free> = refusals
        .iter()
        .zip(left)
        .filter(|(r, _)| **r == Refusal::Short)
        .map(|(_, f)| *f)
        .collect();
    if !short.is_empty() {
        parts.push(shortage(spec, &short, short.len() == offered));
    }
    format!("waiting for an offer: {}", parts.join("; "))
}

/// `needs 1024 MiB mem; the most free on any offered node is 512 MiB`, for
/// each resource some of `nodes` lacked (the most free is over them).
fn shortage(spec: &TaskSpec, nodes: &[&Free], all: bool) -> String {
    let most = |f: fn(&Free) -> f64| nodes.iter().map(|n| f(n)).fold(0.0_f64, f64::max);
    let any_ports = spec.ports.iter().filter(|p| p.host_port == 0).count();
    // (what it needs, the most free), each with its unit and name.
    let mut lacks: Vec<(String, String)> = Vec::new();
    let mut check = |wanted: f64, most: f64, unit: &str, name: &str| {
        if wanted > most + EPS {
            lacks.push((
                format!("{}{unit} {name}", number(wanted)),
                format!("{}{unit} {name}", number(most.max(0.0))),
            ));
        }
    };
    check(spec.cpus, most(|f| f.cpus), "", "cpus");
    check(spec.mem, most(|f| f.mem), " MiB", "mem");
    check(spec.disk, most(|f| f.disk), " MiB", "disk");
    check(any_ports as f64, most(|f| f.port_count() as f64), "", "ports");
    let on = if all {
        "any offered node"
    } else {
        "any other offered node"
    };
    match lacks.as_slice() {
        // Each node lacked something, but not the same thing.
        [] => format!(
            "needs {} cpus, {} MiB mem, {} MiB disk and {any_ports} ports together: no offered node has all of them",
            number(spec.cpus),
            number(spec.mem),
            number(spec.disk)
        ),
        // `512 MiB`, not `512 MiB mem`, when mem is the one resource said.
        [(need, free)] if need.contains(" MiB ") => {
            format!(
                "needs {need}; the most free on {on} is {}",
                free.rsplit_once(' ').map_or(free.as_str(), |(f, _)| f)
            )
        }
        [(need, free)] => format!("needs {need}; the most free on {on} is {free}"),
        _ => {
            let (needs, frees): (Vec<String>, Vec<String>) = lacks.into_iter().unzip();
            format!(
                "needs {}; the most free on {on} is {}",
                needs.join(", "),
                frees.join(", ")
            )
        }
    }
}

/// A number as people write it: `0.25`, `512`, not `512.0000001`.
fn number(v: f64) -> String {
    let rounded = (v * 1000.0).round() / 1000.0;
    format!("{rounded}")
}
