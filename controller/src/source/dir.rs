//! The directory source: watches a manifests directory (recursively, with
//! `notify`), debounces bursts of changes, and on every change (and once at
//! start) loads ALL files with `sextant_api::load_paths`.
//!
//! A valid set replaces the source's desired apps in the store at once; an
//! invalid set (or a directory that disappeared) keeps the last good desired
//! state and records the error text on the source, where the HTTP API shows
//! it. A directory that does not exist yet is waited for by watching its
//! parent; a missing parent is an error at start.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

use crate::store::{DesiredApp, ReplaceOutcome, Store, StoreError};

/// Quiet time after a change before the directory is loaded.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(200);

/// Errors of the directory source.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Neither the directory nor its parent exists.
    #[error(
        "manifests directory {dir} does not exist, nor does its parent {parent}; create it or pass another directory"
    )]
    Missing {
        /// The manifests directory.
        dir: PathBuf,
        /// Its parent.
        parent: PathBuf,
    },
    /// The current directory could not be read to absolutize a relative path.
    #[error("cannot resolve manifests directory {dir}: {source}")]
    Resolve {
        /// The directory as given.
        dir: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file watcher failed.
    #[error("cannot watch {path}: {source}")]
    Watch {
        /// What was to be watched.
        path: PathBuf,
        /// The cause.
        source: notify::Error,
    },
    /// The manifests are invalid (one `file:line:col: field: message` per
    /// line) or the directory is gone; the last good state was kept.
    #[error("{0}")]
    Invalid(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The blocking load task panicked or was cancelled.
    #[error("manifest load task failed: {0}")]
    Join(String),
}

/// Watches one manifests directory and keeps its apps in the store.
#[derive(Clone, Debug)]
pub struct DirSource {
    name: String,
    dir: PathBuf,
    store: Store,
    debounce: Duration,
}

impl DirSource {
    /// A source for `dir` (made absolute). Fails when neither `dir` nor its
    /// parent exists.
    pub fn new(dir: impl Into<PathBuf>, store: Store) -> Result<Self, SourceError> {
        let dir = dir.into();
        let dir = if dir.is_absolute() {
            dir
        } else {
            std::env::current_dir()
                .map_err(|source| SourceError::Resolve {
                    dir: dir.clone(),
                    source,
                })?
                .join(dir)
        };
        let parent = dir.parent().map(Path::to_path_buf).unwrap_or_else(|| dir.clone());
        if !dir.is_dir() && !parent.is_dir() {
            return Err(SourceError::Missing { dir, parent });
        }
        Ok(Self {
            name: super::dir_source_name(&dir),
            dir,
            store,
            debounce: DEFAULT_DEBOUNCE,
        })
    }

    /// Changes the debounce interval.
    pub fn with_debounce(mut self, debounce: Duration) -> Self {
        self.debounce = debounce;
        self
    }

    /// The source's name, `dir:<absolute path>`, as stored on its apps.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The watched directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Loads every manifest once and applies the result to the store
    /// (blocking). A valid set replaces the source's apps; an invalid one is
    /// recorded as the source's error and returned.
    pub fn load_once(&self) -> Result<ReplaceOutcome, SourceError> {
        match self.load() {
            Ok(apps) => {
                let n = apps.len();
                let outcome = self.store.replace_source_apps(&self.name, apps)?;
                if outcome.conflicts.is_empty() {
                    self.store.set_source_ok(&self.name, n)?;
                } else {
                    let text = outcome.conflicts.join("\n");
                    warn!(source = %self.name, error = %text, "some apps are owned by another source");
                    self.store.set_source_error(&self.name, &text)?;
                }
                if outcome.changed() {
                    info!(
                        source = %self.name,
                        added = ?outcome.added,
                        updated = ?outcome.updated,
                        removed = ?outcome.removed,
                        "desired apps changed"
                    );
                } else {
                    debug!(source = %self.name, apps = n, "manifests loaded, nothing changed");
                }
                Ok(outcome)
            }
            Err(text) => {
                warn!(
                    source = %self.name,
                    error = %text,
                    "manifests not applied; keeping the last good desired state"
                );
                self.store.set_source_error(&self.name, &text)?;
                Err(SourceError::Invalid(text))
            }
        }
    }

    /// Parses and validates every file, or says why not.
    fn load(&self) -> Result<Vec<DesiredApp>, String> {
        if !self.dir.is_dir() {
            return Err(format!("manifests directory {} does not exist", self.dir.display()));
        }
        let loaded = sextant_api::load_paths(std::slice::from_ref(&self.dir)).map_err(|e| e.to_string())?;
        let mut seen = BTreeSet::new();
        let mut apps = Vec::with_capacity(loaded.len());
        let mut dups = Vec::new();
        for l in loaded {
            let file = l.file.clone();
            let line = u64::try_from(l.line).ok();
            let app = DesiredApp::new(l.app, self.name.clone(), Some(file.clone()), line);
            if !seen.insert(app.key()) {
                dups.push(format!(
                    "{}:{}: app {} is defined more than once",
                    file.display(),
                    line.unwrap_or(0),
                    app.key()
                ));
            }
            apps.push(app);
        }
        if dups.is_empty() {
            Ok(apps)
        } else {
            Err(dups.join("\n"))
        }
    }

    async fn sync(&self) -> Result<(), SourceError> {
        let this = self.clone();
        match tokio::task::spawn_blocking(move || this.load_once()).await {
            Ok(Ok(_)) | Ok(Err(SourceError::Invalid(_))) => Ok(()),
            Ok(Err(e)) => Err(e),
            Err(e) => Err(SourceError::Join(e.to_string())),
        }
    }

    /// Loads once, then again after every change, until `shutdown` turns
    /// true. Store failures are logged and retried on the next change.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) -> Result<(), SourceError> {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            // The receiver is gone only when the source stops.
            let _ = tx.send(res);
        })
        .map_err(|source| SourceError::Watch {
            path: self.dir.clone(),
            source,
        })?;
        let parent = self
            .dir
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.dir.clone());
        let mut watching: Option<PathBuf> = None;

        loop {
            // Watch the directory when it exists, else its parent until it does.
            let (target, mode) = if self.dir.is_dir() {
                (self.dir.clone(), RecursiveMode::Recursive)
            } else {
                (parent.clone(), RecursiveMode::NonRecursive)
            };
            if watching.as_ref() != Some(&target) {
                if let Some(old) = watching.take() {
                    // The old watch may be gone with its directory.
                    let _ = watcher.unwatch(&old);
                }
                match watcher.watch(&target, mode) {
                    Ok(()) => {
                        if target != self.dir {
                            warn!(
                                dir = %self.dir.display(),
                                "manifests directory does not exist; waiting for it to be created"
                            );
                        }
                        watching = Some(target);
                    }
                    Err(source) if target == parent && !parent.exists() => {
                        let text = format!(
                            "manifests directory {} and its parent were removed; not watching anymore",
                            self.dir.display()
                        );
                        let _ = self.store.set_source_error(&self.name, &text);
                        return Err(SourceError::Watch { path: target, source });
                    }
                    Err(source) => {
                        // E.g. a race with the directory being removed: retry soon.
                        warn!(path = %target.display(), error = %source, "cannot watch; retrying");
                    }
                }
            }

            if let Err(e) = self.sync().await {
                warn!(source = %self.name, error = %e, "loading manifests failed");
            }

            // Wait for a relevant change (or retry a failed watch soon).
            let retry = if watching.is_some() {
                Duration::from_secs(3600)
            } else {
                Duration::from_secs(1)
            };
            tokio::select! {
                _ = shutdown.changed() => return Ok(()),
                _ = tokio::time::sleep(retry) => continue,
                ev = next_relevant(&mut rx) => if !ev { return Ok(()) },
            }
            // Debounce: wait until nothing happened for `debounce`.
            loop {
                tokio::select! {
                    _ = shutdown.changed() => return Ok(()),
                    ev = tokio::time::timeout(self.debounce, next_relevant(&mut rx)) => match ev {
                        Err(_) => break,
                        Ok(true) => continue,
                        Ok(false) => return Ok(()),
                    },
                }
            }
            if *shutdown.borrow() {
                return Ok(());
            }
        }
    }
}

/// Waits for an event that may change what loads (not mere reads, which the
/// loader itself causes). False when the watcher is gone.
async fn next_relevant(rx: &mut mpsc::UnboundedReceiver<notify::Result<notify::Event>>) -> bool {
    while let Some(res) = rx.recv().await {
        match res {
            Ok(ev) if matches!(ev.kind, EventKind::Access(_)) && !ev.need_rescan() => continue,
            Ok(ev) => {
                debug!(kind = ?ev.kind, paths = ?ev.paths, "manifests changed");
                return true;
            }
            Err(e) => {
                warn!(error = %e, "file watcher error; reloading manifests");
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEB: &str = "apiVersion: sextant.dev/v1alpha1
kind: App
metadata:
  name: web
  namespace: default
spec:
  instances: 2
  command: sleep 1000
";

    const WEB_SCALED: &str = "apiVersion: sextant.dev/v1alpha1
kind: App
metadata:
  name: web
  namespace: default
spec:
  instances: 5
  command: sleep 1000
";

    const INVALID: &str = "apiVersion: sextant.dev/v1alpha1
kind: App
metadata:
  name: web
spec:
  instances: many
  command: sleep 1000
";

    async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
        for _ in 0..100 {
            if f() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("timed out waiting for: {what}");
    }

    fn instances(store: &Store) -> Option<u32> {
        store
            .get_app("default", "web")
            .expect("store")
            .map(|a| a.app.spec.instances)
    }

    #[tokio::test]
    async fn watches_directory_changes() {
        let data = tempfile::tempdir().expect("tempdir");
        let manifests = tempfile::tempdir().expect("tempdir");
        let store = Store::open(data.path()).expect("store");
        std::fs::write(manifests.path().join("web.yaml"), WEB).expect("write");

        let source = DirSource::new(manifests.path(), store.clone())
            .expect("source")
            .with_debounce(Duration::from_millis(50));
        let name = source.name().to_string();
        assert!(name.starts_with("dir:/"));
        let (stop, stopped) = watch::channel(false);
        let running = tokio::spawn(source.run(stopped));

        // Loaded at start.
        eventually("initial load", || instances(&store) == Some(2)).await;
        let app = store.get_app("default", "web").expect("store").expect("app");
        assert_eq!(app.source, name);
        assert_eq!(app.file.as_deref(), Some(manifests.path().join("web.yaml").as_path()));

        // A change is picked up.
        std::fs::write(manifests.path().join("web.yaml"), WEB_SCALED).expect("write");
        eventually("scaled", || instances(&store) == Some(5)).await;

        // An invalid file keeps the last good state and records the error.
        std::fs::write(manifests.path().join("bad.yaml"), INVALID).expect("write");
        eventually("error recorded", || {
            store
                .get_source(&name)
                .expect("store")
                .is_some_and(|s| s.last_error.as_deref().is_some_and(|e| e.contains("bad.yaml")))
        })
        .await;
        assert_eq!(instances(&store), Some(5));

        // Fixing it clears the error.
        std::fs::remove_file(manifests.path().join("bad.yaml")).expect("rm");
        eventually("error cleared", || {
            store
                .get_source(&name)
                .expect("store")
                .is_some_and(|s| s.last_error.is_none())
        })
        .await;

        // Deleting the manifest removes the app.
        std::fs::remove_file(manifests.path().join("web.yaml")).expect("rm");
        eventually("app removed", || instances(&store).is_none()).await;

        // Files in subdirectories count too.
        std::fs::create_dir(manifests.path().join("team")).expect("mkdir");
        std::fs::write(manifests.path().join("team").join("web.yml"), WEB).expect("write");
        eventually("nested file", || instances(&store) == Some(2)).await;

        // Reading the files does not trigger more loads.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let last = |s: &Store| s.get_source(&name).expect("store").and_then(|r| r.last_success_at);
        let before = last(&store);
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(last(&store), before, "the source reloads without changes");

        stop.send(true).expect("stop");
        running.await.expect("join").expect("run");
    }

    #[tokio::test]
    async fn waits_for_a_missing_directory() {
        let data = tempfile::tempdir().expect("tempdir");
        let parent = tempfile::tempdir().expect("tempdir");
        let dir = parent.path().join("manifests");
        let store = Store::open(data.path()).expect("store");
        let source = DirSource::new(&dir, store.clone())
            .expect("source")
            .with_debounce(Duration::from_millis(50));
        let name = source.name().to_string();
        let (stop, stopped) = watch::channel(false);
        let running = tokio::spawn(source.run(stopped));

        eventually("missing directory reported", || {
            store
                .get_source(&name)
                .expect("store")
                .is_some_and(|s| s.last_error.as_deref().is_some_and(|e| e.contains("does not exist")))
        })
        .await;

        std::fs::create_dir(&dir).expect("mkdir");
        std::fs::write(dir.join("web.yaml"), WEB).expect("write");
        eventually("loaded once created", || instances(&store) == Some(2)).await;

        stop.send(true).expect("stop");
        running.await.expect("join").expect("run");
    }

    #[test]
    fn missing_parent_is_an_error() {
        let data = tempfile::tempdir().expect("tempdir");
        let store = Store::open(data.path()).expect("store");
        let err = DirSource::new(data.path().join("no").join("such"), store).expect_err("must fail");
        assert!(err.to_string().contains("does not exist"), "{err}");
    }

    #[test]
    fn invalid_set_keeps_last_good_state() {
        let data = tempfile::tempdir().expect("tempdir");
        let manifests = tempfile::tempdir().expect("tempdir");
        let store = Store::open(data.path()).expect("store");
        std::fs::write(manifests.path().join("web.yaml"), WEB).expect("write");
        let source = DirSource::new(manifests.path(), store.clone()).expect("source");
        let out = source.load_once().expect("load");
        assert_eq!(out.added, vec!["default/web"]);

        std::fs::write(manifests.path().join("web.yaml"), INVALID).expect("write");
        let err = source.load_once().expect_err("invalid");
        let text = err.to_string();
        assert!(text.contains("web.yaml:"), "error names the file: {text}");
        assert_eq!(instances(&store), Some(2));
        let rec = store.get_source(source.name()).expect("store").expect("record");
        assert_eq!(rec.last_error.as_deref(), Some(text.as_str()));
    }
}
