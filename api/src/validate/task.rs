//! What a task runs: command or args, resources, env, task labels, user and
//! fetched URIs.

use std::path::{Component, Path};

use super::{Errors, at_most, has_control};
use crate::app::{AppSpec, MAX_ARGS, MAX_ENV, MAX_TASK_LABELS, MAX_URIS, RESERVED_LABEL_PREFIX};

pub(super) fn command(spec: &AppSpec, errs: &mut Errors) {
    match (&spec.command, &spec.args) {
        (Some(_), Some(_)) => errs.push("spec", "set exactly one of command or args, not both"),
        // A Docker task may run its image's default command.
        (None, None) if spec.container.is_some() => {}
        (None, None) => errs.push(
            "spec",
            "one of command (a shell command) or args (program and arguments) is required",
        ),
        (Some(c), None) => {
            if c.trim().is_empty() {
                errs.push("spec.command", "must not be empty");
            } else if c.contains('\0') {
                errs.push("spec.command", "must not contain NUL");
            }
        }
        (None, Some(args)) => {
            if args.is_empty() {
                errs.push("spec.args", "must not be empty: args[0] is the program to run");
                return;
            }
            if !at_most(errs, "spec.args", args.len(), MAX_ARGS, "arguments") {
                return;
            }
            if args[0].is_empty() {
                errs.push("spec.args[0]", "the program must not be empty");
            }
            for (i, a) in args.iter().enumerate() {
                if a.contains('\0') {
                    errs.push(format!("spec.args[{i}]"), "must not contain NUL");
                }
            }
        }
    }
}

pub(super) fn resources(spec: &AppSpec, errs: &mut Errors) {
    let res = &spec.resources;
    match res.cpus.to_cpus() {
        Err(e) => errs.push("spec.resources.cpus", e.to_string()),
        Ok(c) if c <= 0.0 => errs.push(
            "spec.resources.cpus",
            format!(
                "must be greater than 0 (\"{}\" is 0 cores at Mesos' precision of 0.001)",
                res.cpus
            ),
        ),
        Ok(_) => {}
    }
    match res.mem.to_mib() {
        Err(e) => errs.push("spec.resources.mem", e.to_string()),
        Ok(m) if m <= 0.0 => errs.push(
            "spec.resources.mem",
            format!(
                "must be greater than 0 (\"{}\" is 0 MiB at Mesos' precision of 0.001; \
                 a bare number is MiB, a string without suffix is bytes)",
                res.mem
            ),
        ),
        Ok(_) => {}
    }
    if let Err(e) = res.disk.to_mib() {
        errs.push("spec.resources.disk", e.to_string());
    }
}

pub(super) fn env(spec: &AppSpec, errs: &mut Errors) {
    if !at_most(errs, "spec.env", spec.env.len(), MAX_ENV, "variables") {
        return;
    }
    for (k, v) in &spec.env {
        let field = format!("spec.env.{k}");
        if k.is_empty() {
            errs.push(field, "variable name must not be empty");
        } else if k.contains('=') || k.contains('\0') {
            errs.push(field, "variable name must not contain '=' or NUL");
        } else if v.contains('\0') {
            errs.push(field, "value must not contain NUL");
        }
    }
}

pub(super) fn labels(spec: &AppSpec, errs: &mut Errors) {
    if !at_most(errs, "spec.labels", spec.labels.len(), MAX_TASK_LABELS, "labels") {
        return;
    }
    for (k, v) in &spec.labels {
        let field = format!("spec.labels.{k}");
        if k.is_empty() {
            errs.push(field, "label key must not be empty");
        } else if k.starts_with(RESERVED_LABEL_PREFIX) {
            errs.push(
                field,
                format!(
                    "label key \"{k}\" is reserved: keys starting with \"{RESERVED_LABEL_PREFIX}\" are set by Sextant"
                ),
            );
        } else if has_control(k) || k.trim() != k {
            errs.push(
                field,
                "label key must not contain control characters or surrounding spaces",
            );
        } else if v.contains('\0') {
            errs.push(field, "label value must not contain NUL");
        }
    }
}

/// Longest user name accepted.
const MAX_USER_LEN: usize = 256;

pub(super) fn user(spec: &AppSpec, errs: &mut Errors) {
    let Some(user) = &spec.user else { return };
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
    let body = user.strip_suffix('$').unwrap_or(user);
    if body.is_empty() || body.len() > MAX_USER_LEN || body.starts_with('-') || !body.chars().all(ok) {
        errs.push(
            "spec.user",
            format!(
                "invalid user {user:?}: expected a Unix user name (letters, digits, '_', '.', '-', not starting \
                 with '-')"
            ),
        );
    }
}

pub(super) fn uris(spec: &AppSpec, errs: &mut Errors) {
    if !at_most(errs, "spec.uris", spec.uris.len(), MAX_URIS, "URIs") {
        return;
    }
    for (i, u) in spec.uris.iter().enumerate() {
        let v = u.value.as_str();
        if v.trim().is_empty() {
            errs.push(format!("spec.uris[{i}].value"), "must not be empty");
        } else if has_control(v) || v.contains(' ') {
            errs.push(
                format!("spec.uris[{i}].value"),
                "must not contain spaces or control characters (percent-encode them)",
            );
        }
        if let Some(out) = &u.output_file {
            let path = Path::new(out);
            let bad = out.is_empty()
                || has_control(out)
                || path.is_absolute()
                || path
                    .components()
                    .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir));
            if bad {
                errs.push(
                    format!("spec.uris[{i}].outputFile"),
                    format!("invalid output file {out:?}: expected a relative path inside the sandbox, without '..'"),
                );
            }
        }
    }
}
