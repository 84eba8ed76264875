//! An app's status in a word or a few, for a table's STATUS column (the
//! CLI's `get apps`, the web UI): the most pressing of its conditions,
//! saying why where a reason is known. Pure, over the wire view.
//!
//! In order: a degraded app's reason (`CrashLoopBackOff`, `RolledBack`…);
//! `OutOfSync: file:line` when its source's latest definition does not
//! run; `Paused`; a failed rollout's reason; `Pending: needs 2 cpus` while
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
        _ if waiting > 0 => match p.message.as_deref().and_then(pending_words) {
            Some(words) => format!("Pending: {words}"),
            None => "Pending".into(),
        },
        ("True", "RevisionAvailable") if app.instances == 0 => "ScaledToZero".into(),
        ("True", "RevisionAvailable") => "Running".into(),
        _ => format!("Progressing {}/{}", app.available.min(updated), app.instances),
    }
}

/// The first cause in the agent's words for a waiting task, cut short:
/// `needs 1024 MiB mem`, `constraint hostname UNIQUE`, `needs host port
/// 31777`, `preempting 2 tasks on node-b`.
fn pending_words(message: &str) -> Option<String> {
    if let Some((_, rest)) = message.split_once("waiting for preemption of ") {
        let count = rest.split_whitespace().next()?;
        let node = rest
            .split_once(" on ")
            .map(|(_, n)| n.split([';', ' ', ',']).next().unwrap_or(n));
        return Some(match node {
            Some(node) => format!("preempting {count} on {node}"),
            None => format!("preempting {count}"),
        });
    }
    let (_, rest) = message.split_once("waiting for an offer: ")?;
    let end = [rest.find("; "), rest.find(": ")]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(rest.len());
    let words = rest[..end].trim();
    (!words.is_empty()).then(|| words.to_string())
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
        let waiting = |why: &'static str| ("Progressing", "True", "RolloutInProgress", why);
        for (why, words) in [
            (
                "1 new task(s) wait in the agent's queue: waiting for an offer: needs 2 cpus, 32 MiB mem; the most free on any offered node is 1 cpus, 16 MiB mem",
                "Pending: needs 2 cpus, 32 MiB mem",
            ),
            (
                "1 new task(s) wait in the agent's queue: waiting for an offer: constraint hostname UNIQUE: all 3 offered nodes already run web",
                "Pending: constraint hostname UNIQUE",
            ),
            (
                "1 new task(s) wait in the agent's queue: waiting for an offer: needs host port 31777: taken on every offered node",
                "Pending: needs host port 31777",
            ),
            (
                "1 new task(s) wait in the agent's queue: waiting for preemption of 2 preemptible tasks on node-b (asked 3s ago)",
                "Pending: preempting 2 on node-b",
            ),
            ("1 new task(s) wait in the agent's queue", "Pending"),
        ] {
            assert_eq!(status_summary(&app(4, 1, &[waiting(why)])), words);
        }
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
