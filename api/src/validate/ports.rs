//! `spec.ports`: how many, names, protocols, fixed host ports.

use std::collections::BTreeMap;

use super::{Errors, at_most, not_a_label};
use crate::app::{AppSpec, MAX_PORTS};
use crate::task::{DEFAULT_PROTOCOL, is_dns1123_label};

pub(super) fn ports(spec: &AppSpec, errs: &mut Errors) {
    if !at_most(errs, "spec.ports", spec.ports.len(), MAX_PORTS, "ports") {
        return;
    }
    let mut names: BTreeMap<&str, usize> = BTreeMap::new();
    let mut host_ports: BTreeMap<(u16, String), usize> = BTreeMap::new();
    for (i, p) in spec.ports.iter().enumerate() {
        if !is_dns1123_label(&p.name) {
            errs.push(format!("spec.ports[{i}].name"), not_a_label("port name", &p.name));
        } else if let Some(first) = names.get(p.name.as_str()) {
            errs.push(
                format!("spec.ports[{i}].name"),
                format!("duplicate port name \"{}\" (also spec.ports[{first}])", p.name),
            );
        } else {
            names.insert(&p.name, i);
        }
        if p.container_port == Some(0) {
            errs.push(format!("spec.ports[{i}].containerPort"), "must be between 1 and 65535");
        }
        let protocol = p.protocol.as_deref().unwrap_or(DEFAULT_PROTOCOL).to_ascii_lowercase();
        if protocol != "tcp" && protocol != "udp" {
            errs.push(
                format!("spec.ports[{i}].protocol"),
                format!(
                    "unsupported protocol \"{}\": expected tcp or udp",
                    p.protocol.as_deref().unwrap_or_default()
                ),
            );
        }
        if let Some(hp) = p.host_port.filter(|hp| *hp != 0)
            && let Some(first) = host_ports.insert((hp, protocol.clone()), i)
        {
            errs.push(
                format!("spec.ports[{i}].hostPort"),
                format!("host port {hp}/{protocol} is also used by spec.ports[{first}]"),
            );
        }
    }
}
