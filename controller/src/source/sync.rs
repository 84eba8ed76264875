//! One sync of a tree of manifest files, shared by the directory and git
//! sources: load every file on its own (`sextant_api::load_tree`), plan
//! with [`super::plan`], write the plan to the journal in one batch, and
//! record the outcome on the source's record (which the HTTP API and the
//! apps' `Synced` condition read).

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use sextant_api::load::FileLoad;
use tracing::{debug, info, warn};

use super::git_repo::CommitInfo;
use super::plan::{Rules, plan, refuse_over_quota, short_sha};
use crate::desired::DesiredApp;
use crate::metrics::SourceMetrics;
use crate::reconcile::Synced;
use crate::store::{ReplaceOutcome, SourceStatus, Store, StoreError, now_unix};

/// The names of the sources that run in this controller (`apply` always).
#[derive(Clone, Debug, Default)]
pub struct Configured(Arc<BTreeSet<String>>);

impl Configured {
    /// The set of these names, and `apply`.
    pub fn new(names: impl IntoIterator<Item = String>) -> Self {
        let mut set: BTreeSet<String> = names.into_iter().collect();
        set.insert(super::ownership::APPLY_SOURCE.to_string());
        Self(Arc::new(set))
    }

    /// Whether `name` runs here.
    pub fn contains(&self, name: &str) -> bool {
        self.0.contains(name)
    }
}

/// What one sync did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SyncReport {
    /// Apps added, updated, removed.
    pub outcome: ReplaceOutcome,
    /// Problems found (broken files, apps defined twice, conflicts).
    pub problems: usize,
    /// The sync was refused as a whole.
    pub refused: bool,
    /// Something could not be read: try again soon.
    pub retry_soon: bool,
}

/// What a source follows, written on its record with every outcome.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct About {
    /// `dir` or `git`.
    pub kind: &'static str,
    /// The directory, or the repository URL (redacted).
    pub url: Option<String>,
    /// The branch (git).
    pub branch: Option<String>,
    /// The directory within the repository (git).
    pub path: Option<String>,
}

impl About {
    fn write(&self, rec: &mut SourceStatus) {
        rec.kind = self.kind.to_string();
        rec.url.clone_from(&self.url);
        rec.branch.clone_from(&self.branch);
        rec.path.clone_from(&self.path);
    }
}

/// Syncs one source's trees into the journal.
#[derive(Clone, Debug)]
pub struct Syncer {
    /// The journal.
    pub store: Store,
    /// The source's name.
    pub name: String,
    /// What it follows, for its record.
    pub about: About,
    /// How it syncs.
    pub rules: Rules,
    /// The sources that run.
    pub configured: Configured,
    /// What its syncs count into.
    pub metrics: SourceMetrics,
}

impl Syncer {
    /// Loads every manifest under `root` and applies what loads (blocking).
    /// `commit` is the commit `root` was checked out at (git). A root that
    /// cannot be read changes nothing and is recorded as the source's error.
    pub fn sync_tree(&self, root: &Path, commit: Option<&CommitInfo>) -> Result<SyncReport, StoreError> {
        self.sync_tree_at(root, Path::new(""), commit)
    }

    /// [`Syncer::sync_tree`], naming files by `prefix` joined with their
    /// path under `root` (a repository path when `root` is a directory in
    /// a checkout).
    pub fn sync_tree_at(
        &self,
        root: &Path,
        prefix: &Path,
        commit: Option<&CommitInfo>,
    ) -> Result<SyncReport, StoreError> {
        let files = match sextant_api::load::load_tree(root) {
            Ok(mut files) => {
                if !prefix.as_os_str().is_empty() {
                    for f in &mut files {
                        prefixed(prefix, f);
                    }
                }
                files
            }
            Err(e) => {
                let text = match commit {
                    Some(c) => format!("commit {}: {e}", short_sha(&c.sha)),
                    None => e.to_string(),
                };
                warn!(source = %self.name, error = %text, "manifests not read; keeping the last good desired state");
                self.fail(&text)?;
                return Ok(SyncReport {
                    retry_soon: true,
                    ..SyncReport::default()
                });
            }
        };
        let configured = self.configured.clone();
        let quota = self.store.quota();
        let (outcome, plan) = self.store.change_apps(false, |existing| {
            let mut p = plan(&self.name, files, commit, self.rules, existing, &|s| {
                configured.contains(s)
            });
            refuse_over_quota(&mut p, &quota, existing);
            for problem in p.problems.iter_mut().filter(|p| p.commit.is_none()) {
                problem.commit = commit.map(|c| c.sha.clone());
            }
            (std::mem::take(&mut p.writes), std::mem::take(&mut p.removes), p)
        })?;

        let report = SyncReport {
            outcome: outcome.clone(),
            problems: plan.problems.len(),
            refused: plan.refused.is_some(),
            retry_soon: plan.retry_soon,
        };
        let now = now_unix();
        let mut text: Vec<String> = plan.refused.iter().cloned().collect();
        text.extend(plan.problems.iter().map(ToString::to_string));
        let text = (!text.is_empty()).then(|| text.join("\n"));
        let mut fixed = false;
        self.store.update_source(&self.name, |rec| {
            self.about.write(rec);
            fixed = rec.last_error.is_some() && text.is_none();
            if plan.refused.is_none() {
                rec.commit = commit.cloned();
                rec.last_success_at = Some(now);
            }
            rec.apps = plan.owned;
            rec.problems = plan.problems;
            rec.refused = plan.refused;
            rec.unpruned = plan.unpruned;
            match &text {
                Some(t) => {
                    if rec.last_error.as_ref() != Some(t) {
                        rec.last_error_at = Some(now);
                    }
                    rec.last_error = Some(t.clone());
                    rec.failing_since.get_or_insert(now);
                }
                None => {
                    rec.last_error = None;
                    rec.last_error_at = None;
                    rec.failing_since = None;
                }
            }
        })?;

        match &text {
            Some(t) if report.refused => warn!(source = %self.name, "sync refused: {t}"),
            Some(t) => {
                warn!(source = %self.name, problems = report.problems, "some manifests were not applied; their apps keep their last good version:\n{t}")
            }
            None if fixed => info!(source = %self.name, "the source's problems are fixed: every manifest is applied"),
            None => {}
        }
        if outcome.changed() {
            info!(
                source = %self.name,
                commit = commit.map_or("", |c| short_sha(&c.sha)),
                added = ?outcome.added,
                updated = ?outcome.updated,
                removed = ?outcome.removed,
                "desired apps changed"
            );
        } else {
            debug!(source = %self.name, "synced, nothing changed");
        }
        Ok(report)
    }

    /// Records an error that stopped the sync before anything was planned
    /// (a fetch, a checkout, a missing root); the apps stay as they are.
    pub fn fail(&self, text: &str) -> Result<(), StoreError> {
        self.metrics.failed(&self.name);
        let now = now_unix();
        self.store.update_source(&self.name, |rec| {
            self.about.write(rec);
            if rec.last_error.as_deref() != Some(text) {
                rec.last_error_at = Some(now);
            }
            rec.last_error = Some(text.to_string());
            rec.failing_since.get_or_insert(now);
        })?;
        Ok(())
    }
}

impl Syncer {
    /// Runs one sync attempt, timed into the source's metrics; an error
    /// it returns (the journal's) is counted, as [`Syncer::fail`] counts
    /// the errors it records.
    pub fn timed<T, E>(&self, attempt: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let started = std::time::Instant::now();
        let outcome = attempt();
        self.metrics.synced(&self.name, started.elapsed());
        if outcome.is_err() {
            self.metrics.failed(&self.name);
        }
        outcome
    }
}

/// Names `f`, its apps and its errors by `prefix/<path>`.
fn prefixed(prefix: &Path, f: &mut FileLoad) {
    f.file = prefix.join(&f.file);
    match &mut f.result {
        Ok(apps) => {
            for a in apps {
                a.file = prefix.join(&a.file);
            }
        }
        Err(errors) => {
            for e in errors {
                e.file = prefix.join(&e.file);
            }
        }
    }
}

/// Whether `app` runs its source's latest definition, from the source's
/// record (`None`: the source has none, it is `apply` or not configured).
pub fn synced(app: &DesiredApp, rec: Option<&SourceStatus>) -> Synced {
    let key = app.key();
    let no = |reason: &str, message: String| Synced {
        ok: false,
        reason: reason.to_string(),
        message,
    };
    let Some(rec) = rec else {
        return if app.source == super::ownership::APPLY_SOURCE {
            Synced {
                ok: true,
                reason: "Applied".into(),
                message: "applied by hand (sextant apply); owned by apply until deleted".into(),
            }
        } else {
            no(
                "SourceGone",
                format!(
                    "its source {} is not configured any more; the app runs as last defined until a source \
                     of the same kind adopts it or `sextant delete app` removes it",
                    app.source
                ),
            )
        };
    };
    if let Some(p) = rec.problems.iter().find(|p| p.apps.contains(&key)) {
        return no(p.kind.reason(), format!("{p}; the last good version runs"));
    }
    if let Some(refused) = &rec.refused {
        return no("SyncRefused", refused.clone());
    }
    if rec.unpruned.contains(&key) {
        return no(
            "NotPruned",
            format!(
                "no longer defined in {}; kept because pruning is off (--no-prune)",
                rec.name
            ),
        );
    }
    if let (Some(error), true) = (&rec.last_error, rec.problems.is_empty()) {
        let since = rec.failing_since.and_then(crate::store::rfc3339).unwrap_or_default();
        return no(
            "SyncFailed",
            format!("the source has failed since {since}: {error}; the last synced definition runs"),
        );
    }
    let from = match (&app.commit, &app.file) {
        (Some(c), _) => format!("commit {} \"{}\" by {}", short_sha(&c.sha), c.subject, c.author),
        (None, Some(_)) => super::ownership::defined_at(app).unwrap_or_default(),
        (None, None) => rec.name.clone(),
    };
    Synced {
        ok: true,
        reason: "Synced".into(),
        message: format!("as defined by {from}"),
    }
}
