//! An app's status in a word or a few, for a table's STATUS column (the
//! CLI's `get apps`, the web UI): the most pressing of its conditions,
//! saying why where a reason is known. Pure, over the wire view.
//!
//! In order: a degraded app's reason (`CrashLoopBackOff`, `RolledBack`…);
//! `OutOfSync: file:line` when its source's latest definition does not
//! run; `Paused`; a failed rollout's reason; `Pending: short of cpus` while
//! tasks wait for resources; `Progressing 2/4` during a rollout; `Running`
//! (or `ScaledToZero`) once settled.

use super::AppView;

/// The STATUS of `app`.
pub fn status_summary(app: &AppView) -> String {
    let find = |t: &str| app.conditions.iter().find(|c| c.type_ == t);
    let reason = |c: &crate::Condition| c.reason.clone().unwrap_or_else(|| c.type_.clone());
    let waiting = app.status.as_ref().map_or(0, |s| s.waiting);
    let updated = app.status.as_ref().map_or(app.available, |s| s.updated);
    let progressing = find("Progressing");
    if let Some(c) = find("Degraded").filter(|c| c.status == "True") {
        // A failed rollout says how it ended (RolledBack, deadline…).
        if c.reason.as_deref() == Some("RolloutFailed")
            && let Some(p) = progressing.filter(|p| p.status == "False")
        {
            return reason(p);
        }
        return reason(c);
    }
    if let Some(c) = find("Synced").filter(|c| c.status == "False") {
        return match c.message.as_deref().and_then(location) {
            Some(at) => format!("OutOfSync: {at}"),
            None => format!("OutOfSync: {}", reason(c)),
        };
    }
    let Some(p) = progressing else {
        return "Unknown".into();
    };
    match (p.status.as_str(), p.reason.as_deref().unwrap_or_default()) {
        ("Unknown", "Paused") => "Paused".into(),
        ("False", _) => reason(p),
        _ if waiting > 0 => match p.message.as_deref().and_then(|m| m.split_once("short of ")) {
            Some((_, short)) => format!("Pending: short of {}", short.split(';').next().unwrap_or(short).trim()),
            None => "Pending".into(),
        },
        ("True", "RevisionAvailable") if app.instances == 0 => "ScaledToZero".into(),
        ("True", "RevisionAvailable") => "Running".into(),
        _ => format!("Progressing {}/{}", app.available.min(updated), app.instances),
    }
}

/// The first `file:line` in a message (`dir/web.yaml:12:3: spec…`).
fn location(message: &str) -> Option<String> {
    message.split_whitespace().find_map(|word| {
        let word = word.trim_end_matches([':', ';', ',']);
        let (file, rest) = word.split_once(':')?;
        let line: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let manifest = [".yaml", ".yml", ".json"].iter().any(|ext| file.ends_with(ext));
        (manifest && !line.is_empty()).then(|| format!("{file}:{line}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AppStatus, Condition};

    fn app(instances: u32, waiting: u32, conditions: &[(&str, &str, &str, &str)]) -> AppView {
        let conditions: Vec<Condition> = conditions
            .iter()
            .map(|(t, s, r, m)| Condition {
                type_: (*t).into(),
                status: (*s).into(),
                reason: Some((*r).into()),
                message: Some((*m).into()),
            })
            .collect();
        AppView {
            name: "web".into(),
            namespace: "default".into(),
            instances,
            running: 0,
            available: 1,
            revision: "abc".into(),
            status: Some(AppStatus {
                desired: instances,
                available: 1,
                updated: 2,
                waiting,
                conditions: conditions.clone(),
                ..Default::default()
            }),
            source: "dir:/m".into(),
            created_at: None,
            conditions,
            summary: String::new(),
            labels: Default::default(),
        }
    }

    #[test]
    fn each_state_says_why_in_words() {
        let ok = ("Progressing", "True", "RevisionAvailable", "revision abc: 4 of 4");
        assert_eq!(status_summary(&app(4, 0, &[ok])), "Running");
        assert_eq!(status_summary(&app(0, 0, &[ok])), "ScaledToZero");
        let rolling = ("Progressing", "True", "RolloutInProgress", "1 of 4");
        assert_eq!(status_summary(&app(4, 0, &[rolling])), "Progressing 1/4");
        let waiting = (
            "Progressing",
            "True",
            "RolloutInProgress",
            "1 new task(s) wait in the agent's queue: waiting for an offer: needs cpus 2, mem 32 MiB, disk 0 MiB; no offer fitted: short of cpus and mem",
        );
        assert_eq!(status_summary(&app(4, 1, &[waiting])), "Pending: short of cpus and mem");
        let crash = ("Degraded", "True", "CrashLoopBackOff", "3 failures");
        assert_eq!(status_summary(&app(4, 0, &[rolling, crash])), "CrashLoopBackOff");
        let rolled = ("Progressing", "False", "RolledBack", "RolledBack to x");
        let failed = ("Degraded", "True", "RolloutFailed", "…");
        assert_eq!(status_summary(&app(4, 0, &[rolled, failed])), "RolledBack");
        let paused = ("Progressing", "Unknown", "Paused", "paused");
        assert_eq!(status_summary(&app(4, 0, &[paused])), "Paused");
        let stale = (
            "Synced",
            "False",
            "InvalidManifest",
            "commit 0123456789ab: apps/hello.yaml:11:3: spec.instances: invalid; the last good version runs",
        );
        assert_eq!(
            status_summary(&app(4, 0, &[ok, stale])),
            "OutOfSync: apps/hello.yaml:11"
        );
        let refused = ("Synced", "False", "SyncRefused", "the sync would remove every app");
        assert_eq!(status_summary(&app(4, 0, &[ok, refused])), "OutOfSync: SyncRefused");
    }
}
