//! `spec.container`: the Docker image, network and `docker run` options.

use super::{Errors, at_most, has_control};
use crate::app::{AppSpec, MAX_PARAMETERS, MAX_PORTS, NetworkMode};

/// `docker run` options Mesos or Sextant set themselves.
const RESERVED_PARAMETERS: [(&str, &str); 3] = [
    ("name", "Mesos names the container itself"),
    ("net", "set spec.container.docker.network instead"),
    ("network", "set spec.container.docker.network instead"),
];

pub(super) fn container(spec: &AppSpec, errs: &mut Errors) {
    let Some(container) = &spec.container else { return };
    let docker = &container.docker;
    let image = docker.image.as_str();
    if image.trim().is_empty() {
        errs.push("spec.container.docker.image", "must not be empty");
    } else if has_control(image) || image.contains(char::is_whitespace) {
        errs.push(
            "spec.container.docker.image",
            format!("invalid image {image:?}: must not contain spaces or control characters"),
        );
    }
    let parameters = &docker.parameters;
    if at_most(
        errs,
        "spec.container.docker.parameters",
        parameters.len(),
        MAX_PARAMETERS,
        "parameters",
    ) {
        for (i, p) in parameters.iter().enumerate() {
            let field = format!("spec.container.docker.parameters[{i}].key");
            let key = p.key.as_str();
            if key.is_empty() {
                errs.push(field, "must not be empty");
            } else if key.starts_with('-') {
                errs.push(field, {
                    let bare = key.trim_start_matches('-');
                    format!("write the option without dashes: \"{bare}\" is passed as --{bare}=…")
                });
            } else if let Some((_, why)) = RESERVED_PARAMETERS.iter().find(|(k, _)| *k == key) {
                errs.push(field, format!("the \"{key}\" parameter is refused: {why}"));
            } else if has_control(key) || key.contains(['=', ' ']) {
                errs.push(field, "must not contain '=', spaces or control characters");
            }
            if p.value.contains('\0') {
                errs.push(
                    format!("spec.container.docker.parameters[{i}].value"),
                    "must not contain NUL",
                );
            }
        }
    }
    // Too many ports are reported once, by `ports`.
    if docker.network == NetworkMode::Bridge && spec.ports.len() <= MAX_PORTS {
        for (i, p) in spec.ports.iter().enumerate() {
            if p.container_port.is_none() {
                errs.push(
                    format!("spec.ports[{i}]"),
                    format!(
                        "port \"{}\" needs a containerPort: with bridge networking each host port maps to a \
                         container port",
                        p.name
                    ),
                );
            }
        }
    }
}
