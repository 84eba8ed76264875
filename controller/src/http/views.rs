//! The wire views (`sextant_api::wire`) built from the index's domain
//! types: the one place a task, an app, a revision or a source becomes what
//! the API shows.

use sextant_api::AppStatus;
use sextant_api::wire::{AppView, PortView, RevisionView, SourceView, TaskView};

use crate::desired::DesiredApp;
use crate::observed::{ObservedTask, state_name};
use crate::store::{SourceStatus, rfc3339};

/// The view of an observed task.
pub fn task_view(t: &ObservedTask) -> TaskView {
    TaskView {
        task_id: t.id.clone(),
        namespace: t.namespace.to_string(),
        app: t.app.to_string(),
        revision: t.revision.to_string(),
        state: state_name(t.state).to_string(),
        // A health report outlives its task only as the reason it ended.
        healthy: if t.is_live() || t.healthy == Some(false) {
            t.healthy
        } else {
            None
        },
        running_since: t.running_since.and_then(rfc3339),
        healthy_since: t.healthy_since.and_then(rfc3339),
        agent_id: t.agent_id.to_string(),
        hostname: t.hostname.to_string(),
        ports: t
            .ports
            .iter()
            .map(|p| PortView {
                name: p.name.clone(),
                port: p.port,
            })
            .collect(),
        message: t.message.clone(),
        reason: t.reason.to_string(),
        created_at: rfc3339(t.created_at),
        updated_at: rfc3339(t.updated_at),
    }
}

/// The view of a desired app and its last status.
pub fn app_view(d: &DesiredApp, status: Option<&AppStatus>) -> AppView {
    let mut view = AppView {
        name: d.name().to_string(),
        namespace: d.namespace().to_string(),
        instances: d.app.spec.instances,
        running: status.map_or(0, |s| s.running),
        available: status.map_or(0, |s| s.available),
        revision: d.revision.clone(),
        status: status.cloned(),
        source: d.source.clone(),
        created_at: d
            .app
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|t| t.0.to_string())
            .or_else(|| rfc3339(d.created_at)),
        conditions: status.map(|s| s.conditions.clone()).unwrap_or_default(),
        summary: String::new(),
        labels: d.app.metadata.labels.clone().unwrap_or_default(),
    };
    // Said once per change of the app (the list keeps its bytes), not per
    // request or per client.
    view.summary = sextant_api::wire::status_summary(&view);
    view
}

/// The view of one revision's record.
pub fn revision_view(r: &crate::history::RevisionRecord) -> RevisionView {
    use crate::history::Outcome;
    let (outcome, reason, message, rolled_back_to) = match &r.outcome {
        Outcome::Progressing => ("Progressing", "", "", None),
        Outcome::Completed { .. } => ("Completed", "", "", None),
        Outcome::Failed {
            reason,
            message,
            rolled_back_to,
            ..
        } => ("Failed", reason.as_str(), message.as_str(), rolled_back_to.clone()),
    };
    RevisionView {
        revision: r.revision.clone(),
        outcome: outcome.to_string(),
        reason: reason.to_string(),
        message: message.to_string(),
        rolled_back_to,
        source: r.source.clone(),
        first_seen: rfc3339(r.first_seen),
    }
}

/// The view of a source's record.
pub fn source_view(s: &SourceStatus) -> SourceView {
    SourceView {
        name: s.name.clone(),
        kind: s.kind.clone(),
        url: s.url.clone(),
        branch: s.branch.clone(),
        path: s.path.clone(),
        commit: s.commit.clone(),
        last_error: s.last_error.clone(),
        last_error_at: s.last_error_at.and_then(rfc3339),
        failing_since: s.failing_since.and_then(rfc3339),
        last_success_at: s.last_success_at.and_then(rfc3339),
        next_attempt_at: s.next_attempt_at.and_then(rfc3339),
        problems: s.problems.clone(),
        refused: s.refused.clone(),
        unpruned: s.unpruned.clone(),
        apps: s.apps,
    }
}
