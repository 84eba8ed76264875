//! Semantic validation: the rules of an [`App`] that its schema cannot
//! express. [`validate`] returns every problem at once, each naming its
//! field (`spec.healthCheck.http.port`); the loader adds file, line and
//! column.

mod container;
mod health;
mod placement;
mod ports;
mod rollout;
mod task;

use std::fmt;

use crate::app::{App, MAX_ANNOTATIONS, MAX_INSTANCES, MAX_LABELS};
use crate::task::is_dns1123_label;

/// A problem with one field of an app, found by [`validate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// Dotted path of the field, e.g. `spec.ports[1].name`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Collects the problems of one app.
#[derive(Default)]
pub(crate) struct Errors(Vec<FieldError>);

impl Errors {
    pub(crate) fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }
}

/// Checks the rules the schema cannot express: names and namespace, the
/// maximum of every count (instances, every list and map), command or
/// args, resources, env, task labels, user and URIs, ports and container,
/// health check, strategy and restart backoff, placement constraints.
/// Empty when `app` is valid.
pub fn validate(app: &App) -> Vec<FieldError> {
    let mut errs = Errors::default();
    let meta = &app.metadata;
    match meta.name.as_deref() {
        None | Some("") => errs.push("metadata.name", "is required"),
        Some(name) if !is_dns1123_label(name) => errs.push("metadata.name", not_a_label("name", name)),
        Some(_) => {}
    }
    if let Some(ns) = meta.namespace.as_deref()
        && !is_dns1123_label(ns)
    {
        errs.push("metadata.namespace", not_a_label("namespace", ns));
    }
    if let Some(labels) = &meta.labels {
        at_most(&mut errs, "metadata.labels", labels.len(), MAX_LABELS, "labels");
    }
    if let Some(annotations) = &meta.annotations {
        at_most(
            &mut errs,
            "metadata.annotations",
            annotations.len(),
            MAX_ANNOTATIONS,
            "annotations",
        );
    }
    let spec = &app.spec;
    at_most(
        &mut errs,
        "spec.instances",
        spec.instances as usize,
        MAX_INSTANCES as usize,
        "instances per app",
    );
    task::command(spec, &mut errs);
    task::resources(spec, &mut errs);
    task::env(spec, &mut errs);
    task::labels(spec, &mut errs);
    task::user(spec, &mut errs);
    task::uris(spec, &mut errs);
    ports::ports(spec, &mut errs);
    container::container(spec, &mut errs);
    health::health_check(spec, &mut errs);
    rollout::strategy(spec, &mut errs);
    rollout::restart_backoff(spec, &mut errs);
    placement::placement(spec, &mut errs);
    errs.0
}

pub(crate) fn not_a_label(what: &str, value: &str) -> String {
    format!(
        "invalid {what} \"{value}\": must be a DNS-1123 label (at most 63 lowercase letters, \
         digits and '-', starting and ending with a letter or digit)"
    )
}

/// Whether `count` is at most `max` (`what`: "ports", …); if not, says so
/// at `field`, and the caller checks no further entries.
pub(crate) fn at_most(errs: &mut Errors, field: &str, count: usize, max: usize, what: &str) -> bool {
    if count <= max {
        return true;
    }
    errs.push(field, format!("at most {max} {what}; found {count}"));
    false
}

/// Whether `s` has a control character (NUL, newline, …).
pub(crate) fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}
