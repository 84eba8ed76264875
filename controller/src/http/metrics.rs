//! `GET /metrics`: the sources' state in the Prometheus text format,
//! derived from the index at each scrape (nothing is counted on the side,
//! so the figures cannot drift from what `GET /api/v1/sources` says).
//!
//! - `sextant_source_info{source,kind,url,branch,commit}` 1
//! - `sextant_source_apps{source}`: apps the source owns
//! - `sextant_source_problems{source,problem}`: problems of the last sync
//!   by kind (`Invalid`, `Unreadable`, `Empty`, `DefinedTwice`,
//!   `OwnedElsewhere`)
//! - `sextant_source_refused{source}`: 1 while the last sync was refused
//! - `sextant_source_failing{source}`: 1 while the source has an error
//! - `sextant_source_last_success_timestamp_seconds{source}`
//! - `sextant_source_commit_timestamp_seconds{source}`: the synced commit's time
//! - `sextant_apps_out_of_sync`: apps whose `Synced` condition is False
//! - `sextant_hook_deliveries_total{hook,result}`: outgoing webhook
//!   deliveries (`delivered`, `retried`, `dropped`)

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::response::IntoResponse;

use crate::hooks::HookStats;
use crate::index::{Index, State as IndexState};
use crate::source::plan::ProblemKind;

/// The text of a scrape.
pub fn render(s: &IndexState) -> String {
    let mut out = String::new();
    let kinds = [
        ProblemKind::Invalid,
        ProblemKind::Unreadable,
        ProblemKind::Empty,
        ProblemKind::DefinedTwice,
        ProblemKind::OwnedElsewhere,
    ];
    header(
        &mut out,
        "sextant_source_info",
        "gauge",
        "What each source follows: 1 per source.",
    );
    for rec in s.sources.values() {
        let _ = writeln!(
            out,
            "sextant_source_info{{source=\"{}\",kind=\"{}\",url=\"{}\",branch=\"{}\",commit=\"{}\"}} 1",
            esc(&rec.name),
            esc(&rec.kind),
            esc(rec.url.as_deref().unwrap_or("")),
            esc(rec.branch.as_deref().unwrap_or("")),
            esc(rec.commit.as_ref().map_or("", |c| c.sha.as_str())),
        );
    }
    header(&mut out, "sextant_source_apps", "gauge", "Apps each source owns.");
    for rec in s.sources.values() {
        let _ = writeln!(out, "sextant_source_apps{{source=\"{}\"}} {}", esc(&rec.name), rec.apps);
    }
    header(
        &mut out,
        "sextant_source_problems",
        "gauge",
        "Problems of each source's last sync, by kind; their apps keep their last good version.",
    );
    for rec in s.sources.values() {
        let mut by_kind: BTreeMap<&str, usize> = kinds.iter().map(|k| (kind_name(*k), 0)).collect();
        for p in &rec.problems {
            *by_kind.entry(kind_name(p.kind)).or_default() += 1;
        }
        for (kind, n) in by_kind {
            let _ = writeln!(
                out,
                "sextant_source_problems{{source=\"{}\",problem=\"{kind}\"}} {n}",
                esc(&rec.name)
            );
        }
    }
    header(
        &mut out,
        "sextant_source_refused",
        "gauge",
        "1 while the source's last sync was refused.",
    );
    for rec in s.sources.values() {
        let _ = writeln!(
            out,
            "sextant_source_refused{{source=\"{}\"}} {}",
            esc(&rec.name),
            u8::from(rec.refused.is_some())
        );
    }
    header(
        &mut out,
        "sextant_source_failing",
        "gauge",
        "1 while the source has an error.",
    );
    for rec in s.sources.values() {
        let _ = writeln!(
            out,
            "sextant_source_failing{{source=\"{}\"}} {}",
            esc(&rec.name),
            u8::from(rec.failing_since.is_some())
        );
    }
    header(
        &mut out,
        "sextant_source_last_success_timestamp_seconds",
        "gauge",
        "When each source last synced.",
    );
    for rec in s.sources.values() {
        if let Some(t) = rec.last_success_at {
            let _ = writeln!(
                out,
                "sextant_source_last_success_timestamp_seconds{{source=\"{}\"}} {t:.3}",
                esc(&rec.name)
            );
        }
    }
    header(
        &mut out,
        "sextant_source_commit_timestamp_seconds",
        "gauge",
        "Commit time of the commit each git source synced.",
    );
    for rec in s.sources.values() {
        if let Some(c) = &rec.commit {
            let _ = writeln!(
                out,
                "sextant_source_commit_timestamp_seconds{{source=\"{}\"}} {}",
                esc(&rec.name),
                c.time
            );
        }
    }
    let out_of_sync = s
        .statuses
        .values()
        .filter(|st| st.conditions.iter().any(|c| c.type_ == "Synced" && c.status == "False"))
        .count();
    header(
        &mut out,
        "sextant_apps_out_of_sync",
        "gauge",
        "Apps whose source's latest definition is not what runs.",
    );
    let _ = writeln!(out, "sextant_apps_out_of_sync {out_of_sync}");
    out
}

/// What a scrape reads.
#[derive(Clone, Debug)]
pub struct Scraped {
    /// The index.
    pub index: Index,
    /// The outgoing webhooks' counters.
    pub hooks: Arc<HookStats>,
}

/// The route's handler.
pub async fn metrics(State(s): State<Scraped>) -> impl IntoResponse {
    let mut body = s.index.read(render);
    render_hooks(&mut body, &s.hooks);
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}

/// The hooks' counters.
pub fn render_hooks(out: &mut String, stats: &HookStats) {
    header(
        out,
        "sextant_hook_deliveries_total",
        "counter",
        "Outgoing webhook deliveries: delivered, retried (a failed attempt), dropped (after the last retry).",
    );
    for (name, delivered, retried, dropped) in &stats.hooks {
        for (result, n) in [("delivered", delivered), ("retried", retried), ("dropped", dropped)] {
            let _ = writeln!(
                out,
                "sextant_hook_deliveries_total{{hook=\"{}\",result=\"{result}\"}} {}",
                esc(name),
                n.load(Ordering::Relaxed)
            );
        }
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn kind_name(k: ProblemKind) -> &'static str {
    match k {
        ProblemKind::Invalid => "Invalid",
        ProblemKind::Unreadable => "Unreadable",
        ProblemKind::Empty => "Empty",
        ProblemKind::DefinedTwice => "DefinedTwice",
        ProblemKind::OwnedElsewhere => "OwnedElsewhere",
    }
}

/// A label value as the text format wants it.
fn esc(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::plan::Problem;
    use crate::store::SourceStatus;

    #[test]
    fn a_broken_file_shows_as_a_problem_of_its_kind() {
        let mut s = IndexState::default();
        s.sources.insert(
            "git:https://x/\"r\"".into(),
            SourceStatus {
                name: "git:https://x/\"r\"".into(),
                kind: "git".into(),
                apps: 3,
                failing_since: Some(5.0),
                problems: vec![Problem {
                    kind: ProblemKind::Invalid,
                    file: Some("a.yaml".into()),
                    line: 1,
                    col: 1,
                    field: None,
                    message: "bad".into(),
                    apps: vec!["default/a".into()],
                    commit: None,
                }],
                ..SourceStatus::default()
            },
        );
        let text = render(&s);
        assert!(
            text.contains("sextant_source_apps{source=\"git:https://x/\\\"r\\\"\"} 3"),
            "{text}"
        );
        assert!(text.contains("problem=\"Invalid\"} 1"), "{text}");
        assert!(text.contains("problem=\"Empty\"} 0"), "{text}");
        assert!(
            text.contains("sextant_source_failing{source=\"git:https://x/\\\"r\\\"\"} 1"),
            "{text}"
        );
        assert!(text.contains("sextant_apps_out_of_sync 0"), "{text}");
    }
}
