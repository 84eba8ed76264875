//! The `apply` source: objects a person applies by hand (`sextant apply`,
//! `POST /api/v1/apply`), diffs against them (`sextant diff`), and their
//! deletion (`sextant delete`).
//!
//! A request is all-or-nothing: it goes through the same loader and
//! validation as the file sources, then every object through the one
//! ownership rule ([`super::ownership`]); if any object fails, nothing is
//! written. An applied object is owned by `apply` until it is deleted; an
//! object owned by a directory or a repository is refused with where it is
//! defined. Apply never prunes.

use std::collections::BTreeMap;
use std::path::Path;

use sextant_api::load::{LoadErrors, load_str};
pub use sextant_api::wire::{ApplyResult, Change, ObjectResult, Outcome};

use super::ownership::{APPLY_SOURCE, may_write};
use super::sync::Configured;
use crate::desired::DesiredApp;
use crate::store::{Store, StoreError};

/// The name errors give an applied text.
pub const REQUEST_FILE: &str = "<request>";

/// Why a request changed nothing before any object was looked at.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The text is not a valid set of apps.
    #[error("{0}")]
    Invalid(LoadErrors),
    /// The request defines no object.
    #[error("the request defines no App object")]
    Empty,
    /// The journal failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Applies `text` (multi-document YAML or JSON) as the `apply` source.
pub fn apply(store: &Store, configured: &Configured, text: &str, dry_run: bool) -> Result<ApplyResult, ApplyError> {
    let apps = loaded(text)?;
    let quota = store.quota();
    let (_, objects) = store.change_apps(dry_run, |existing| {
        let mut objects: Vec<ObjectResult> = apps.iter().map(|a| judge(a, existing, configured, false)).collect();
        let over = quota.refusals(existing, &apps, &[]);
        for (object, app) in objects.iter_mut().zip(&apps) {
            if let Some(why) = over.get(&app.key()) {
                object.outcome = Outcome::Error;
                object.message = Some(why.clone());
            }
        }
        let ok = objects.iter().all(|o| o.outcome != Outcome::Error);
        let writes = if ok { apps.clone() } else { Vec::new() };
        (writes, Vec::new(), objects)
    })?;
    let ok = objects.iter().all(|o| o.outcome != Outcome::Error);
    Ok(ApplyResult {
        dry_run,
        applied: ok && !dry_run,
        objects,
    })
}

/// What applying `text` would change, with a unified diff per object.
/// Objects another source owns are shown too, with why apply would refuse.
pub fn diff(store: &Store, configured: &Configured, text: &str) -> Result<ApplyResult, ApplyError> {
    let apps = loaded(text)?;
    let (_, objects) = store.change_apps(true, |existing| {
        let objects = apps.iter().map(|a| judge(a, existing, configured, true)).collect();
        (Vec::new(), Vec::new(), objects)
    })?;
    Ok(ApplyResult {
        dry_run: true,
        applied: false,
        objects,
    })
}

/// Why an object cannot be deleted.
#[derive(Debug, thiserror::Error)]
pub enum DeleteError {
    /// No such app.
    #[error("app {0} does not exist")]
    NotFound(String),
    /// Another source owns it.
    #[error("{0}")]
    Owned(String),
    /// The journal failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Deletes an applied app (its tasks are then killed). An app of a
/// directory or repository is refused: it would come back at the next
/// sync; an app whose source is no longer configured may be deleted.
pub fn delete(store: &Store, configured: &Configured, namespace: &str, name: &str) -> Result<(), DeleteError> {
    let key = sextant_api::app_key(namespace, name);
    let (_, verdict) = store.change_apps(false, |existing| {
        let verdict = match existing.get(&key) {
            None => Err(DeleteError::NotFound(key.clone())),
            Some(app) if app.source == APPLY_SOURCE || !configured.contains(&app.source) => Ok(()),
            Some(app) => Err(DeleteError::Owned(format!(
                "app {key} is owned by {}{}; remove it there (it would come back at the next sync)",
                app.source,
                super::ownership::defined_at(app)
                    .map(|at| format!(" (defined at {at})"))
                    .unwrap_or_default()
            ))),
        };
        let removes = if verdict.is_ok() { vec![key.clone()] } else { Vec::new() };
        (Vec::new(), removes, verdict)
    })?;
    verdict
}

/// Why an app cannot be scaled.
#[derive(Debug, thiserror::Error)]
pub enum ScaleError {
    /// No such app.
    #[error("app {0} does not exist")]
    NotFound(String),
    /// A directory or repository owns it.
    #[error("{0}")]
    Owned(String),
    /// Over the namespace's production quota.
    #[error("{0}")]
    OverQuota(String),
    /// Over the maximum.
    #[error("at most {max} instances per app; asked for {asked}")]
    TooMany {
        /// Asked for.
        asked: u32,
        /// The maximum.
        max: u32,
    },
    /// The journal failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Sets an applied app's `instances`: it scales, no task is replaced. An
/// app a directory or repository owns (configured or not) is refused,
/// naming where to change it (a scale here would be undone by its next
/// sync).
pub fn scale(store: &Store, namespace: &str, name: &str, instances: u32) -> Result<ObjectResult, ScaleError> {
    let max = sextant_api::app::MAX_INSTANCES;
    if instances > max {
        return Err(ScaleError::TooMany { asked: instances, max });
    }
    let key = sextant_api::app_key(namespace, name);
    let quota = store.quota();
    let (_, verdict) = store.change_apps(false, |existing| {
        let verdict = match existing.get(&key) {
            None => Err(ScaleError::NotFound(key.clone())),
            Some(app) if app.source != APPLY_SOURCE => {
                Err(ScaleError::Owned(format!(
                    "app {key} is owned by {}{}; change `spec.instances` there (a scale here would be undone by its next sync)",
                    app.source,
                    super::ownership::defined_at(app)
                        .map(|at| format!(" (defined at {at})"))
                        .unwrap_or_default()
                )))
            }
            Some(app) => {
                let mut scaled = app.clone();
                scaled.app.spec.instances = instances;
                match quota.refusals(existing, std::slice::from_ref(&scaled), &[]).remove(&key) {
                    Some(why) => Err(ScaleError::OverQuota(why)),
                    None => Ok(scaled),
                }
            }
        };
        match verdict {
            Ok(scaled) => {
                let result = ObjectResult {
                    namespace: scaled.namespace().to_string(),
                    name: scaled.name().to_string(),
                    outcome: if existing.get(&key).is_some_and(|a| a.app.spec.instances == instances) {
                        Outcome::Unchanged
                    } else {
                        Outcome::Configured
                    },
                    change: Some(Change::Scale),
                    revision: Some(scaled.revision.clone()),
                    message: None,
                    diff: None,
                };
                (vec![scaled], Vec::new(), Ok(result))
            }
            Err(e) => (Vec::new(), Vec::new(), Err(e)),
        }
    })?;
    verdict
}

fn loaded(text: &str) -> Result<Vec<DesiredApp>, ApplyError> {
    let apps = load_str(Path::new(REQUEST_FILE), text).map_err(ApplyError::Invalid)?;
    if apps.is_empty() {
        return Err(ApplyError::Empty);
    }
    Ok(apps
        .into_iter()
        .map(|l| DesiredApp::new(l.app, APPLY_SOURCE, None, None))
        .collect())
}

/// The outcome of writing `app` over what is stored.
fn judge(
    app: &DesiredApp,
    existing: &BTreeMap<String, DesiredApp>,
    configured: &Configured,
    with_diff: bool,
) -> ObjectResult {
    let key = app.key();
    let current = existing.get(&key);
    let mut r = ObjectResult {
        namespace: app.namespace().to_string(),
        name: app.name().to_string(),
        outcome: Outcome::Created,
        change: None,
        revision: Some(app.revision.clone()),
        message: None,
        diff: None,
    };
    if let Err(conflict) = may_write(&key, current, APPLY_SOURCE, &|s| configured.contains(s)) {
        r.outcome = Outcome::Error;
        r.message = Some(conflict.to_string());
    }
    if let Some(current) = current {
        let change = change_of(current, app);
        if r.outcome != Outcome::Error {
            r.outcome = if change.is_some() {
                Outcome::Configured
            } else {
                Outcome::Unchanged
            };
        }
        r.change = change;
    }
    if with_diff {
        let before = current.map(comparable).unwrap_or_default();
        let after = comparable(app);
        if before != after {
            r.diff = Some(unified(&key, &before, &after));
        }
    }
    r
}

/// What changing `from` into `to` sets in motion, if anything changes.
pub fn change_of(from: &DesiredApp, to: &DesiredApp) -> Option<Change> {
    if from.revision != to.revision {
        return Some(Change::Rollout);
    }
    let (a, b) = (&from.app, &to.app);
    let meta_same = a.metadata.labels == b.metadata.labels && a.metadata.annotations == b.metadata.annotations;
    if a.spec == b.spec {
        return (!meta_same).then_some(Change::Settings);
    }
    let mut scaled = b.spec.clone();
    scaled.instances = a.spec.instances;
    if scaled == a.spec && meta_same {
        Some(Change::Scale)
    } else {
        Some(Change::Settings)
    }
}

/// The declared part of an app as YAML: what a person wrote, without the
/// bookkeeping the controller adds.
fn comparable(app: &DesiredApp) -> String {
    let mut a = app.app.clone();
    a.metadata.generation = None;
    a.metadata.creation_timestamp = None;
    a.metadata.resource_version = None;
    a.metadata.uid = None;
    a.status = None;
    serde_yaml::to_string(&a).unwrap_or_default()
}

fn unified(key: &str, before: &str, after: &str) -> String {
    similar::TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(3)
        .header(&format!("live/{key}"), &format!("proposed/{key}"))
        .to_string()
}

#[cfg(test)]
mod tests;
