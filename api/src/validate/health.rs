//! `spec.healthCheck`: one kind of check, a port that exists, sane timing.

use super::{Errors, has_control};
use crate::app::{AppSpec, MAX_PORTS};
use crate::int_or_string::IntOrString;

pub(super) fn health_check(spec: &AppSpec, errs: &mut Errors) {
    let Some(hc) = &spec.health_check else { return };
    let kinds: Vec<&str> = [
        ("http", hc.http.is_some()),
        ("tcp", hc.tcp.is_some()),
        ("command", hc.command.is_some()),
    ]
    .iter()
    .filter(|(_, set)| *set)
    .map(|(k, _)| *k)
    .collect();
    match kinds.as_slice() {
        [] => errs.push("spec.healthCheck", "set one of http, tcp or command"),
        [_] => {}
        several => errs.push(
            "spec.healthCheck",
            format!("set exactly one of http, tcp or command, not {}", several.join(" and ")),
        ),
    }
    if let Some(http) = &hc.http {
        port(spec, &http.port, "spec.healthCheck.http.port", errs);
        if !http.path.starts_with('/') {
            errs.push(
                "spec.healthCheck.http.path",
                format!("must start with \"/\", found {:?}", http.path),
            );
        } else if has_control(&http.path) || http.path.contains(' ') {
            errs.push(
                "spec.healthCheck.http.path",
                "must not contain spaces or control characters (percent-encode them)",
            );
        }
    }
    if let Some(tcp) = &hc.tcp {
        port(spec, &tcp.port, "spec.healthCheck.tcp.port", errs);
    }
    if let Some(cmd) = &hc.command {
        if cmd.command.trim().is_empty() {
            errs.push("spec.healthCheck.command.command", "must not be empty");
        } else if cmd.command.contains('\0') {
            errs.push("spec.healthCheck.command.command", "must not contain NUL");
        }
    }
    if hc.period_seconds == 0 {
        errs.push("spec.healthCheck.periodSeconds", "must be at least 1");
    }
    if hc.failure_threshold == 0 {
        errs.push("spec.healthCheck.failureThreshold", "must be at least 1");
    }
}

/// A health check port: the name of one of `spec.ports`, or a number.
fn port(spec: &AppSpec, port: &IntOrString, field: &str, errs: &mut Errors) {
    match port {
        IntOrString::Int(n) if !(1..=65535).contains(n) => {
            errs.push(
                field,
                format!("port {n} is out of range: expected 1 to 65535 or a port name"),
            );
        }
        IntOrString::Int(_) => {}
        IntOrString::String(name) => {
            if spec.ports.iter().any(|p| &p.name == name) {
                return;
            }
            let names: Vec<&str> = spec.ports.iter().map(|p| p.name.as_str()).collect();
            let message = if names.is_empty() {
                format!("unknown port {name:?}: spec.ports declares no ports")
            } else if names.len() > MAX_PORTS {
                // Too many to list (and refused by `ports`).
                format!("unknown port {name:?}")
            } else {
                format!("unknown port {name:?} (ports: {})", names.join(", "))
            };
            errs.push(field, message);
        }
    }
}
