//! The sync decision, pure: from what a source loaded (one outcome per
//! file) and the apps stored now, which apps to write and which to remove,
//! and what to report. Directory and git sources share it.
//!
//! The rule (docs/gitops.md says it for users):
//!
//! - A file that does not load keeps the last good version of the apps it
//!   defined: they are neither changed nor pruned while it is broken, and
//!   the file is reported with its line, column and field. Every other file
//!   syncs.
//! - In a directory, a file that is empty (a save in progress: `cat >`, a
//!   slow copy) is treated like a broken one until it has content again or
//!   is deleted.
//! - An app defined twice keeps its last good version until only one
//!   definition is left; both places are named. So does an app that moved
//!   out of a broken file, until that file loads again.
//! - An app another source owns is not taken ([`super::ownership`]).
//! - Apps no longer defined are pruned, unless pruning is off.
//! - A sync that would leave the source owning no app while it owns some
//!   now (a wrong path, an emptied repository) changes nothing and is
//!   refused, unless empty is allowed (Argo CD's allowEmpty).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use sextant_api::load::{FileLoad, LoadError};

use super::git_repo::CommitInfo;
use super::ownership::{SourceKind, defined_at, may_write};
use crate::desired::DesiredApp;
use crate::quota::Quota;

/// How a source syncs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rules {
    /// Remove apps that are no longer defined (`--no-prune` turns it off).
    pub prune: bool,
    /// Allow a sync that removes every app of the source (`--allow-empty`).
    pub allow_empty: bool,
    /// An empty file keeps its apps (directory sources: a save in progress).
    pub keep_empty_files: bool,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            prune: true,
            allow_empty: false,
            keep_empty_files: false,
        }
    }
}

pub use sextant_api::wire::{Problem, ProblemKind, short_sha};

/// A load error as a problem of a sync.
fn problem_from_load(e: LoadError, kind: ProblemKind) -> Problem {
    Problem {
        kind,
        file: Some(e.file),
        line: e.line,
        col: e.col,
        field: e.field,
        message: e.message,
        apps: Vec::new(),
        commit: None,
    }
}

/// What one sync does.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SyncPlan {
    /// Apps to store (new, or maybe changed: the store compares).
    pub writes: Vec<DesiredApp>,
    /// Keys of apps to remove.
    pub removes: Vec<String>,
    /// Everything wrong, in file order.
    pub problems: Vec<Problem>,
    /// Why the whole sync was refused; then nothing is written or removed.
    pub refused: Option<String>,
    /// Apps no longer defined but kept because pruning is off.
    pub unpruned: Vec<String>,
    /// Apps the source owns once this plan is applied.
    pub owned: usize,
    /// A file could not be read: try again soon.
    pub retry_soon: bool,
}

/// Plans one sync of `source` from `files`, against every stored app.
/// `configured` tells which sources run now (for adoption and ownership).
pub fn plan(
    source: &str,
    files: Vec<FileLoad>,
    commit: Option<&CommitInfo>,
    rules: Rules,
    existing: &BTreeMap<String, DesiredApp>,
    configured: &dyn Fn(&str) -> bool,
) -> SyncPlan {
    let kind = SourceKind::of(source);
    // The source's apps: its own, and those of an unconfigured source of
    // its kind, which it adopts.
    let mine: BTreeMap<&str, &DesiredApp> = existing
        .iter()
        .filter(|(_, app)| {
            app.source == source
                || (SourceKind::of(&app.source) == kind && matches!(kind, SourceKind::Dir | SourceKind::Git))
                    && !configured(&app.source)
        })
        .map(|(k, a)| (k.as_str(), a))
        .collect();

    let mut out = SyncPlan::default();
    let mut broken: Vec<PathBuf> = Vec::new();
    let mut candidates: BTreeMap<String, Vec<DesiredApp>> = BTreeMap::new();
    for f in files {
        let keep_empty = f.empty && rules.keep_empty_files && mine.values().any(|a| defined_in(a, &f.file));
        match f.result {
            Err(errors) => {
                let kind = if f.io {
                    out.retry_soon = true;
                    ProblemKind::Unreadable
                } else {
                    ProblemKind::Invalid
                };
                let held = held_by(&mine, &f.file);
                for e in errors {
                    let mut p = problem_from_load(e, kind);
                    p.apps = held.clone();
                    out.problems.push(p);
                }
                broken.push(f.file);
            }
            Ok(_) if keep_empty => {
                let held = held_by(&mine, &f.file);
                out.problems.push(Problem {
                    kind: ProblemKind::Empty,
                    file: Some(f.file.clone()),
                    line: 0,
                    col: 0,
                    field: None,
                    message: format!(
                        "the file is empty (a save in progress?); its {} kept at the last good \
                         version until it has content again; delete the file to remove them",
                        count(held.len(), "app is", "apps are"),
                    ),
                    apps: held,
                    commit: None,
                });
                broken.push(f.file);
            }
            Ok(apps) => {
                for l in apps {
                    let line = u64::try_from(l.line).ok();
                    let mut app = DesiredApp::new(l.app, source, Some(l.file), line);
                    app.commit = commit.cloned();
                    candidates.entry(app.key()).or_default().push(app);
                }
            }
        }
    }

    // Apps whose current version belongs to a broken file stay as they are.
    let held: BTreeSet<&str> = mine
        .iter()
        .filter(|(_, a)| broken.iter().any(|b| defined_in(a, b)))
        .map(|(k, _)| *k)
        .collect();

    let mut defined: BTreeSet<String> = BTreeSet::new();
    for (key, mut defs) in candidates {
        defined.insert(key.clone());
        let current = existing.get(&key);
        if defs.len() > 1 {
            let places: Vec<String> = defs.iter().filter_map(defined_at).collect();
            let first = &defs[0];
            out.problems.push(Problem {
                kind: ProblemKind::DefinedTwice,
                file: first.file.clone(),
                line: first.line.and_then(|l| usize::try_from(l).ok()).unwrap_or(0),
                col: 1,
                field: Some("metadata.name".into()),
                message: format!(
                    "app {key} is defined {} times, at {}; {}",
                    defs.len(),
                    places.join(" and "),
                    keeps(current.is_some())
                ),
                apps: vec![key.clone()],
                commit: None,
            });
            continue;
        }
        let Some(app) = defs.pop() else { continue };
        if held.contains(key.as_str()) {
            let was = current.and_then(defined_at).unwrap_or_default();
            out.problems.push(Problem {
                kind: ProblemKind::DefinedTwice,
                file: app.file.clone(),
                line: app.line.and_then(|l| usize::try_from(l).ok()).unwrap_or(0),
                col: 1,
                field: Some("metadata.name".into()),
                message: format!(
                    "app {key} is defined here, and was defined at {was}, which does not load; \
                     the last good version is kept until that file loads again"
                ),
                apps: vec![key.clone()],
                commit: None,
            });
            continue;
        }
        let mine_already = mine.contains_key(key.as_str());
        if !mine_already && let Err(conflict) = may_write(&key, current, source, configured) {
            out.problems.push(Problem {
                kind: ProblemKind::OwnedElsewhere,
                file: app.file.clone(),
                line: app.line.and_then(|l| usize::try_from(l).ok()).unwrap_or(0),
                col: 1,
                field: Some("metadata.name".into()),
                message: format!("{conflict}; this definition is not applied"),
                apps: vec![key.clone()],
                commit: None,
            });
            continue;
        }
        out.writes.push(app);
    }

    for key in mine.keys() {
        if held.contains(key) || defined.contains(*key) {
            continue;
        }
        if rules.prune {
            out.removes.push((*key).to_string());
        } else {
            out.unpruned.push((*key).to_string());
        }
    }

    let adopted = out
        .writes
        .iter()
        .filter(|a| !mine.contains_key(a.key().as_str()))
        .count();
    out.owned = mine.len() + adopted - out.removes.len();
    if out.owned == 0 && !mine.is_empty() && !rules.allow_empty {
        out.refused = Some(format!(
            "this sync would remove all {} of {source} (is the path right? was the repository \
             emptied?); nothing was changed. Start with --allow-empty to allow it",
            count(mine.len(), "app", "apps"),
        ));
        out.writes.clear();
        out.removes.clear();
        out.owned = mine.len();
    }
    let sha = commit.map(|c| c.sha.clone());
    for p in &mut out.problems {
        p.commit.clone_from(&sha);
    }
    out.problems
        .sort_by(|a, b| (&a.file, a.line, a.col).cmp(&(&b.file, b.line, b.col)));
    out
}

/// Takes out of `plan` the writes the production quota refuses: each
/// keeps its last good version (a new app is not created) and is reported
/// at its file and line.
pub fn refuse_over_quota(plan: &mut SyncPlan, quota: &Quota, existing: &BTreeMap<String, DesiredApp>) {
    let refused = quota.refusals(existing, &plan.writes, &plan.removes);
    if refused.is_empty() {
        return;
    }
    let mut kept = Vec::with_capacity(plan.writes.len());
    for app in std::mem::take(&mut plan.writes) {
        let key = app.key();
        let Some(why) = refused.get(&key) else {
            kept.push(app);
            continue;
        };
        let exists = existing.contains_key(&key);
        if !exists {
            plan.owned = plan.owned.saturating_sub(1);
        }
        plan.problems.push(Problem {
            kind: ProblemKind::OverQuota,
            file: app.file.clone(),
            line: app.line.and_then(|l| usize::try_from(l).ok()).unwrap_or(0),
            col: 1,
            field: Some("spec.instances".into()),
            message: format!(
                "app {key}: {why}; {}",
                if exists {
                    "the last good version is kept"
                } else {
                    "it is not created"
                }
            ),
            apps: vec![key],
            commit: None,
        });
    }
    plan.writes = kept;
    plan.problems
        .sort_by(|a, b| (&a.file, a.line, a.col).cmp(&(&b.file, b.line, b.col)));
}

/// Whether `app`'s current version comes from `path` (a file, or a
/// directory that could not be read).
fn defined_in(app: &DesiredApp, path: &Path) -> bool {
    app.file.as_deref().is_some_and(|f| f.starts_with(path))
}

fn held_by(mine: &BTreeMap<&str, &DesiredApp>, path: &Path) -> Vec<String> {
    mine.iter()
        .filter(|(_, a)| defined_in(a, path))
        .map(|(k, _)| (*k).to_string())
        .collect()
}

fn keeps(exists: bool) -> &'static str {
    if exists {
        "the last good version is kept until only one definition is left"
    } else {
        "it is not created until only one definition is left"
    }
}

fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

#[cfg(test)]
mod tests;
