//! Operations a person asks for on an app's rollout, beside its spec
//! (`sextant rollout pause|resume|restart|undo`): kept in the journal's
//! `ops` tree, not in the manifest, so they work the same for an app a
//! repository owns as for an applied one, and a sync never undoes them.
//!
//! - `paused`: the app is left as it is, as with `spec.paused`.
//! - `restart`: the revision is re-derived from the spec's and the time
//!   of the restart, so every task is replaced by a rolling update with
//!   the app's own health gates, surge and rollback.
//! - `undo`: while the app's revision is the one undone (`from`), the
//!   reconcile marks that revision failed and runs `to` instead, exactly as
//!   an automatic rollback; a new spec (or a restart) is a new revision and
//!   rolls out normally.

use serde::{Deserialize, Serialize};

use crate::history::RevisionHistory;

/// Who asked, and when.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mark {
    /// The token's name, or `anonymous` without tokens.
    pub by: String,
    /// Unix seconds.
    pub at: f64,
}

/// A rollback asked for by hand.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Undo {
    /// The revision to run.
    pub to: String,
    /// The revision undone; the undo holds while the app's revision is it.
    pub from: String,
    /// Who asked, and when.
    #[serde(flatten)]
    pub mark: Mark,
}

/// An app's operations.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppOps {
    /// Paused by hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<Mark>,
    /// The last restart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart: Option<Mark>,
    /// A rollback by hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undo: Option<Undo>,
}

impl AppOps {
    /// Whether nothing is asked for.
    pub fn is_empty(&self) -> bool {
        self.paused.is_none() && self.restart.is_none() && self.undo.is_none()
    }

    /// The undo in force for an app whose revision is `revision`.
    pub fn undo_of(&self, revision: &str) -> Option<&Undo> {
        self.undo.as_ref().filter(|u| u.from == revision)
    }
}

/// Why an operation is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OpError {
    /// No such app.
    #[error("app {0} not found")]
    NotFound(String),
    /// Nothing to roll back to.
    #[error("app {app} has no earlier revision to roll back to (see `sextant rollout history app/{name}`)")]
    NothingToUndo {
        /// `namespace/name`.
        app: String,
        /// The name alone, for the hint.
        name: String,
    },
    /// The revision asked for is not in the history.
    #[error("app {app} has no revision {revision} (its revisions: {known})")]
    UnknownRevision {
        /// `namespace/name`.
        app: String,
        /// As asked.
        revision: String,
        /// The ones there are.
        known: String,
    },
    /// The revision asked for is the one running.
    #[error("revision {revision} is app {app}'s current revision; to replace its tasks, use `sextant rollout restart`")]
    CurrentRevision {
        /// `namespace/name`.
        app: String,
        /// As asked.
        revision: String,
    },
    /// `resume` of an app paused in its manifest.
    #[error("app {app} is paused by spec.paused in its manifest ({place}); set it to false there to resume")]
    PausedInSpec {
        /// `namespace/name`.
        app: String,
        /// Where it is defined.
        place: String,
    },
    /// The journal failed.
    #[error("the journal failed: {0}")]
    Store(String),
}

/// The revision an undo goes to: `to` when given (it must be in the
/// history and not be `current`), else the newest completed revision
/// before `current`.
pub fn undo_target(app: &str, history: &RevisionHistory, current: &str, to: Option<&str>) -> Result<String, OpError> {
    let name = app.split_once('/').map_or(app, |(_, n)| n).to_string();
    match to {
        Some(to) if to == current => Err(OpError::CurrentRevision {
            app: app.into(),
            revision: to.into(),
        }),
        Some(to) if history.get(to).is_some() => Ok(to.to_string()),
        Some(to) => Err(OpError::UnknownRevision {
            app: app.into(),
            revision: to.into(),
            known: history
                .records
                .iter()
                .map(|r| r.revision.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }),
        None => history
            .records
            .iter()
            .rev()
            .find(|r| r.revision != current && r.completed())
            .map(|r| r.revision.clone())
            .ok_or(OpError::NothingToUndo { app: app.into(), name }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Outcome, RevisionRecord};

    fn record(revision: &str, outcome: Outcome) -> RevisionRecord {
        RevisionRecord {
            revision: revision.into(),
            spec: serde_json::from_value(serde_json::json!({"instances": 1, "command": "x"})).expect("spec"),
            source: "apply".into(),
            commit: None,
            first_seen: 1.0,
            outcome,
            progress_at: 1.0,
            best_available: 0,
            failed_tasks: Vec::new(),
            frozen_at: None,
        }
    }

    #[test]
    fn undo_goes_to_the_newest_completed_revision_before_the_current_one() {
        let history = RevisionHistory {
            records: vec![
                record("aaa", Outcome::Completed { at: 1.0 }),
                record("bbb", Outcome::Completed { at: 2.0 }),
                record(
                    "ccc",
                    Outcome::Failed {
                        at: 3.0,
                        reason: "x".into(),
                        message: "x".into(),
                        rolled_back_to: None,
                    },
                ),
                record("ddd", Outcome::Progressing),
            ],
        };
        assert_eq!(undo_target("default/web", &history, "ddd", None), Ok("bbb".into()));
        assert_eq!(undo_target("default/web", &history, "bbb", None), Ok("aaa".into()));
        assert_eq!(
            undo_target("default/web", &history, "ddd", Some("ccc")),
            Ok("ccc".into())
        );
        assert!(matches!(
            undo_target("default/web", &history, "ddd", Some("ddd")),
            Err(OpError::CurrentRevision { .. })
        ));
        let e = undo_target("default/web", &history, "ddd", Some("zzz")).expect_err("unknown");
        assert!(e.to_string().contains("aaa, bbb, ccc, ddd"), "{e}");
        let only = RevisionHistory {
            records: vec![record("aaa", Outcome::Completed { at: 1.0 })],
        };
        let e = undo_target("default/web", &only, "aaa", None).expect_err("nothing");
        assert!(e.to_string().contains("rollout history app/web"), "{e}");
    }
}
