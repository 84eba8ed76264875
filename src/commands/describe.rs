//! `sextant describe app NAME`: one app in full, for the question "why":
//! what it runs, where its definition comes from (file, line, commit),
//! its counts and conditions in words, its revisions, and its tasks with
//! what any of them waits for.

use std::fmt::Write;

use anyhow::Result;
use sextant_api::app::health::HealthCheck;
use sextant_api::client::Client;
use sextant_api::wire::AppDetail;

use crate::cli::DescribeArgs;
use crate::commands::client::table;

pub async fn run(args: DescribeArgs, client: &Client) -> Result<()> {
    let detail = client.app(&args.namespace, &args.name).await?;
    out!("{}", describe(&detail));
    Ok(())
}

/// The description, as printed.
pub fn describe(d: &AppDetail) -> String {
    let mut out = String::new();
    let a = &d.app;
    let field = |out: &mut String, name: &str, value: &str| {
        let _ = writeln!(out, "{:<14}{value}", format!("{name}:"));
    };
    field(&mut out, "Name", &a.name);
    field(&mut out, "Namespace", &a.namespace);
    let labels: Vec<String> = a.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let labels = if labels.is_empty() {
        "<none>".to_string()
    } else {
        labels.join(",")
    };
    field(&mut out, "Labels", &labels);
    let at = match (&d.file, d.line) {
        (Some(f), Some(l)) => format!(" ({f}:{l})"),
        (Some(f), None) => format!(" ({f})"),
        _ => String::new(),
    };
    field(&mut out, "Source", &format!("{}{at}", a.source));
    if let Some(c) = &d.commit {
        let sha: String = c.sha.chars().take(12).collect();
        field(&mut out, "Commit", &format!("{sha} \"{}\" by {}", c.subject, c.author));
    }
    field(
        &mut out,
        "Revision",
        &format!("{} (generation {})", a.revision, d.generation),
    );
    if let Some(s) = &a.status {
        field(
            &mut out,
            "Instances",
            &format!(
                "{} desired, {} live, {} running, {} healthy, {} available, {} updated, {} waiting",
                s.desired, s.live, s.running, s.healthy, s.available, s.updated, s.waiting
            ),
        );
        if let Some(target) = s.target_revision.as_ref().filter(|t| **t != a.revision) {
            field(&mut out, "Target", &format!("revision {target} (rolled back to)"));
        }
        if let Some(why) = &s.last_known {
            field(&mut out, "Counts", &format!("last known: {why}"));
        }
    } else {
        field(
            &mut out,
            "Instances",
            &format!("{} desired (not reconciled yet)", a.instances),
        );
    }

    let spec = &d.spec;
    let run = match (&spec.command, &spec.args) {
        (Some(c), _) => c.clone(),
        (None, Some(args)) => args.join(" "),
        (None, None) => "<the image's default command>".into(),
    };
    field(&mut out, "Command", &run);
    field(
        &mut out,
        "Resources",
        &format!(
            "cpus {}, mem {}, disk {}",
            spec.resources.cpus, spec.resources.mem, spec.resources.disk
        ),
    );
    if !spec.ports.is_empty() {
        let ports: Vec<String> = spec.ports.iter().map(|p| p.name.clone()).collect();
        field(&mut out, "Ports", &ports.join(", "));
    }
    if let Some(h) = &spec.health_check {
        field(&mut out, "Health check", &health(h));
    }
    let st = &spec.strategy;
    field(
        &mut out,
        "Strategy",
        &format!(
            "maxSurge {}, maxUnavailable {}, minReadySeconds {}, progressDeadlineSeconds {}, autoRollback {}",
            int_or_string(&st.max_surge),
            int_or_string(&st.max_unavailable),
            st.min_ready_seconds,
            st.progress_deadline_seconds,
            st.auto_rollback
        ),
    );
    if spec.paused {
        field(&mut out, "Paused", "true: nothing is launched or killed");
    }

    out.push_str("Conditions:\n");
    let mut rows = vec![["TYPE", "STATUS", "REASON", "MESSAGE"].map(String::from).to_vec()];
    for c in &a.conditions {
        rows.push(vec![
            c.type_.clone(),
            c.status.clone(),
            c.reason.clone().unwrap_or_default(),
            c.message.clone().unwrap_or_default(),
        ]);
    }
    out.push_str(&table(&rows, "  "));

    if !d.revisions.is_empty() {
        out.push_str("Revisions:\n");
        let mut rows = vec![["REVISION", "OUTCOME", "FIRST SEEN", "WHY"].map(String::from).to_vec()];
        for r in &d.revisions {
            let why = match (&r.rolled_back_to, r.message.is_empty()) {
                (Some(to), _) => format!("{}: {} (rolled back to {to})", r.reason, r.message),
                (None, false) => format!("{}: {}", r.reason, r.message),
                (None, true) => String::new(),
            };
            rows.push(vec![
                r.revision.clone(),
                r.outcome.clone(),
                r.first_seen.clone().unwrap_or_default(),
                why,
            ]);
        }
        out.push_str(&table(&rows, "  "));
    }

    out.push_str("Tasks:\n");
    if d.tasks.is_empty() {
        out.push_str("  <none>\n");
    } else {
        let mut rows = vec![
            ["TASK", "STATE", "HEALTHY", "HOST", "PORTS", "MESSAGE"]
                .map(String::from)
                .to_vec(),
        ];
        for t in &d.tasks {
            let ports: Vec<String> = t.ports.iter().map(|p| format!("{}:{}", p.name, p.port)).collect();
            let message = match (t.reason.is_empty(), t.message.is_empty()) {
                (true, true) => "-".to_string(),
                (false, true) => t.reason.clone(),
                (true, false) => t.message.clone(),
                (false, false) => format!("{}: {}", t.reason, t.message),
            };
            rows.push(vec![
                t.task_id.clone(),
                t.state.clone(),
                t.healthy.map_or("-".into(), |h| h.to_string()),
                if t.hostname.is_empty() {
                    "-".into()
                } else {
                    t.hostname.clone()
                },
                if ports.is_empty() { "-".into() } else { ports.join(",") },
                message,
            ]);
        }
        out.push_str(&table(&rows, "  "));
    }
    out
}

fn health(h: &HealthCheck) -> String {
    let what = if let Some(http) = &h.http {
        format!("HTTP GET {} on port {}", http.path, int_or_string(&http.port))
    } else if let Some(tcp) = &h.tcp {
        format!("TCP on port {}", int_or_string(&tcp.port))
    } else if let Some(cmd) = &h.command {
        format!("command `{}`", cmd.command)
    } else {
        "none".into()
    };
    format!(
        "{what}, every {}s after {}s, timeout {}s, {} failures kill",
        h.period_seconds, h.initial_delay_seconds, h.timeout_seconds, h.failure_threshold
    )
}

fn int_or_string<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => "?".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_waiting_task_says_what_it_waits_for_and_a_broken_file_where() {
        let detail: AppDetail = serde_json::from_value(serde_json::json!({
            "name": "web", "namespace": "default", "instances": 2, "running": 1, "available": 1,
            "revision": "abc", "source": "git:https://x/deploy.git", "labels": {"team": "storefront"},
            "file": "apps/web.yaml", "line": 1,
            "commit": {"sha": "0123456789abcdef", "author": "Ada <a@x>", "subject": "scale web", "time": 1},
            "generation": 2,
            "spec": {"instances": 2, "command": "sleep 100"},
            "conditions": [{"type": "Synced", "status": "False", "reason": "InvalidManifest",
                             "message": "apps/web.yaml:6:14: spec.instances: expected an integer"}],
            "tasks": [{"taskId": "default.web.abc.1", "namespace": "default", "app": "web", "revision": "abc",
                       "state": "PENDING", "message": "needs 1024 MiB mem; the most free on a node is 512 MiB"}],
            "revisions": []
        }))
        .expect("detail");
        let text = describe(&detail);
        assert!(
            text.contains("Source:       git:https://x/deploy.git (apps/web.yaml:1)"),
            "{text}"
        );
        assert!(
            text.contains("Commit:       0123456789ab \"scale web\" by Ada <a@x>"),
            "{text}"
        );
        assert!(text.contains("Labels:       team=storefront"), "{text}");
        assert!(text.contains("InvalidManifest   apps/web.yaml:6:14"), "{text}");
        assert!(
            text.contains("PENDING") && text.contains("needs 1024 MiB mem"),
            "{text}"
        );
    }
}
