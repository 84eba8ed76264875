//! A desired app: the manifest object as a source delivered it, with where
//! it came from, its revision, and the bookkeeping (generation, times) the
//! controller keeps on it.

use std::path::PathBuf;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sextant_api::App;
use sextant_api::task::{DEFAULT_NAMESPACE, app_key};

use crate::ops::AppOps;
use crate::source::git_repo::CommitInfo;

/// A desired app as stored: the manifest object and where it came from.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DesiredApp {
    /// The object. `metadata.namespace` is always set; `metadata.generation`
    /// and `metadata.creation_timestamp` are maintained by the store.
    pub app: App,
    /// Owning source: `dir:<path>`, later `git:<url>` or `apply`.
    pub source: String,
    /// Manifest file the object was loaded from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    /// Line of the object in `file`, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// The git commit that last changed this object (created it, or
    /// changed its content or place), for objects from a repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<CommitInfo>,
    /// Revision hash of the task-defining spec.
    pub revision: String,
    /// Increments whenever the spec changes (mirrors `metadata.generation`).
    #[serde(default)]
    pub generation: i64,
    /// Unix seconds: when the store first saw the object.
    #[serde(default)]
    pub created_at: f64,
    /// Unix seconds: last change of the spec.
    #[serde(default)]
    pub updated_at: f64,
    /// Operations asked for by hand (`ops`); kept in their own journal
    /// tree and attached when the app is read for the index, never stored
    /// with the app (so a source's comparison ignores them).
    #[serde(skip)]
    pub ops: AppOps,
}

impl DesiredApp {
    /// A desired app from a loaded object: defaults the namespace and computes
    /// the revision. Generation and timestamps are set when stored.
    pub fn new(mut app: App, source: impl Into<String>, file: Option<PathBuf>, line: Option<u64>) -> Self {
        if app.metadata.namespace.as_deref().is_none_or(str::is_empty) {
            app.metadata.namespace = Some(DEFAULT_NAMESPACE.to_string());
        }
        let revision = sextant_api::revision(&app.spec);
        Self {
            app,
            source: source.into(),
            file,
            line,
            commit: None,
            revision,
            generation: 0,
            created_at: 0.0,
            updated_at: 0.0,
            ops: AppOps::default(),
        }
    }

    /// The app with its operations: a restart re-derives the revision from
    /// the spec's and the restart's time, so every task is replaced.
    pub fn with_ops(mut self, ops: AppOps) -> Self {
        if let Some(restart) = &ops.restart {
            self.revision = sextant_api::revision::restarted(&sextant_api::revision(&self.app.spec), restart.at);
        }
        self.ops = ops;
        self
    }

    /// The app's namespace.
    pub fn namespace(&self) -> &str {
        self.app.metadata.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE)
    }

    /// The app's name.
    pub fn name(&self) -> &str {
        self.app.metadata.name.as_deref().unwrap_or("")
    }

    /// `namespace/name`.
    pub fn key(&self) -> String {
        app_key(self.namespace(), self.name())
    }

    /// Carries generation and creation time over from the stored version and
    /// bumps the generation when the spec changed. Returns whether anything
    /// but bookkeeping differs from `prev`. An object whose content and
    /// place did not change keeps the commit that last changed it.
    pub(crate) fn stamp(&mut self, prev: Option<&DesiredApp>, now: f64) -> bool {
        self.app.status = None;
        match prev {
            Some(prev) => {
                let mut probe = self.app.clone();
                probe.metadata.generation = prev.app.metadata.generation;
                probe.metadata.creation_timestamp = prev.app.metadata.creation_timestamp.clone();
                if probe == prev.app && self.file == prev.file && self.line == prev.line {
                    self.commit = prev.commit.clone();
                }
                self.created_at = prev.created_at;
                self.app.metadata.creation_timestamp = prev.app.metadata.creation_timestamp.clone();
                if prev.app.spec == self.app.spec {
                    self.generation = prev.generation;
                    self.updated_at = prev.updated_at;
                } else {
                    self.generation = prev.generation + 1;
                    self.updated_at = now;
                }
                self.app.metadata.generation = Some(self.generation);
                self != prev
            }
            None => {
                self.created_at = now;
                self.updated_at = now;
                self.generation = 1;
                self.app.metadata.generation = Some(1);
                if self.app.metadata.creation_timestamp.is_none() {
                    let ts = Timestamp::from_second(now as i64).unwrap_or(Timestamp::UNIX_EPOCH);
                    self.app.metadata.creation_timestamp = Some(Time(ts));
                }
                true
            }
        }
    }
}
