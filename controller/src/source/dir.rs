//! The directory source: watches a manifests directory (recursively, with
//! `notify`), debounces bursts of changes, and on every change (and once at
//! start) syncs the whole tree through [`super::sync::Syncer`]: each file
//! loads on its own, a broken or empty file keeps the last good version of
//! its apps, every other file applies (the rule is in [`super::plan`]).
//!
//! A directory that disappeared keeps the last good desired state and
//! records the error; one that does not exist yet is waited for by watching
//! its parent; a missing parent is an error at start. A sync that could not
//! read something (out of file descriptors, a permission) is retried with
//! backoff within seconds, not at the next change.

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::{mpsc, watch};
use tracing::{debug, warn};

use super::plan::Rules;
use super::sync::{About, Configured, SyncReport, Syncer};
use crate::metrics::SourceMetrics;
use crate::store::{Store, StoreError};

/// Quiet time after a change before the directory is loaded.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(200);
/// A sync again after this long even without a change (level-triggered).
const RELOAD_EVERY: Duration = Duration::from_secs(300);
/// First retry after a sync that could not read something; doubles.
const RETRY_FIRST: Duration = Duration::from_secs(1);
/// Longest wait between retries.
const RETRY_MAX: Duration = Duration::from_secs(30);

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
    /// The directory is gone; the last good state was kept. (Invalid
    /// files are not errors of the source: they are its record's problems.)
    #[error("{0}")]
    Invalid(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Watches one manifests directory and keeps its apps in the store.
#[derive(Clone, Debug)]
pub struct DirSource {
    dir: PathBuf,
    syncer: Syncer,
    debounce: Duration,
}

impl DirSource {
    /// A source for `dir` (made absolute). Fails when neither `dir` nor its
    /// parent exists. `configured` names every source of this controller.
    pub fn new(dir: impl Into<PathBuf>, store: Store) -> Result<Self, SourceError> {
        let dir = absolute(dir.into())?;
        let name = super::dir_source_name(&dir);
        Self::with_sources(dir, store, Configured::new([name]), Rules::default())
    }

    /// The name of the source that watches `dir`: `dir:<absolute path>`.
    pub fn name_for(dir: &Path) -> Result<String, SourceError> {
        Ok(super::dir_source_name(&absolute(dir.to_path_buf())?))
    }

    /// A source for `dir` among the sources `configured`, syncing by `rules`
    /// (an empty file always keeps its apps here).
    pub fn with_sources(
        dir: impl Into<PathBuf>,
        store: Store,
        configured: Configured,
        rules: Rules,
    ) -> Result<Self, SourceError> {
        let dir = absolute(dir.into())?;
        let parent = dir.parent().map(Path::to_path_buf).unwrap_or_else(|| dir.clone());
        if !dir.is_dir() && !parent.is_dir() {
            return Err(SourceError::Missing { dir, parent });
        }
        let name = super::dir_source_name(&dir);
        Ok(Self {
            syncer: Syncer {
                store,
                name,
                about: About {
                    kind: "dir",
                    url: Some(dir.display().to_string()),
                    ..About::default()
                },
                rules: Rules {
                    keep_empty_files: true,
                    ..rules
                },
                configured,
                metrics: SourceMetrics::default(),
            },
            dir,
            debounce: DEFAULT_DEBOUNCE,
        })
    }

    /// Counts its syncs into `metrics`.
    pub fn with_metrics(mut self, metrics: SourceMetrics) -> Self {
        self.syncer.metrics = metrics;
        self
    }

    /// Changes the debounce interval.
    pub fn with_debounce(mut self, debounce: Duration) -> Self {
        self.debounce = debounce;
        self
    }

    /// The source's name, `dir:<absolute path>`, as stored on its apps.
    pub fn name(&self) -> &str {
        &self.syncer.name
    }

    /// Syncs the directory once (blocking). A directory that is gone
    /// changes nothing and is recorded as the source's error.
    pub fn load_once(&self) -> Result<SyncReport, SourceError> {
        if !self.dir.is_dir() {
            let text = format!("manifests directory {} does not exist", self.dir.display());
            warn!(source = %self.name(), "{text}; keeping the last good desired state");
            self.syncer.fail(&text)?;
            return Err(SourceError::Invalid(text));
        }
        Ok(self.syncer.timed(|| self.syncer.sync_tree(&self.dir, None))?)
    }

    /// Syncs off the async workers; true when it should be retried soon.
    async fn sync(&self) -> bool {
        let this = self.clone();
        match tokio::task::spawn_blocking(move || this.load_once()).await {
            Ok(Ok(report)) => report.retry_soon,
            Ok(Err(SourceError::Invalid(_))) => false,
            Ok(Err(e)) => {
                warn!(source = %self.name(), error = %e, "syncing the manifests directory failed; retrying");
                true
            }
            Err(e) => {
                warn!(source = %self.name(), error = %e, "the manifests load task failed; retrying");
                true
            }
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
        // The last retry delay; zero after a sync that read everything.
        let mut retry = Duration::ZERO;

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
                        let _ = self.syncer.fail(&text);
                        return Err(SourceError::Watch { path: target, source });
                    }
                    Err(source) => {
                        // E.g. a race with the directory being removed: retry soon.
                        warn!(path = %target.display(), error = %source, "cannot watch; retrying");
                    }
                }
            }

            let retry_soon = self.sync().await;
            retry = if retry_soon {
                (retry * 2).clamp(RETRY_FIRST, RETRY_MAX)
            } else {
                Duration::ZERO
            };

            // Wait for a relevant change, or retry: a failed read soon, a
            // failed watch within a second, else a periodic look.
            let wait = if retry_soon {
                retry
            } else if watching.is_some() {
                RELOAD_EVERY
            } else {
                RETRY_FIRST
            };
            tokio::select! {
                _ = shutdown.changed() => return Ok(()),
                _ = tokio::time::sleep(wait) => continue,
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

/// `dir` made absolute against the current directory.
fn absolute(dir: PathBuf) -> Result<PathBuf, SourceError> {
    if dir.is_absolute() {
        return Ok(dir);
    }
    let cwd = std::env::current_dir().map_err(|source| SourceError::Resolve {
        dir: dir.clone(),
        source,
    })?;
    Ok(cwd.join(dir))
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

    /// A directory holding `WEB`, loaded once into a fresh journal.
    fn synced_web() -> (tempfile::TempDir, tempfile::TempDir, Store, DirSource) {
        let data = tempfile::tempdir().expect("tempdir");
        let manifests = tempfile::tempdir().expect("tempdir");
        let store = Store::open(data.path()).expect("store");
        std::fs::write(manifests.path().join("web.yaml"), WEB).expect("write");
        let source = DirSource::new(manifests.path(), store.clone()).expect("source");
        let out = source.load_once().expect("load");
        assert_eq!(out.outcome.added, vec!["default/web"]);
        (data, manifests, store, source)
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
        assert_eq!(
            app.file.as_deref(),
            Some(Path::new("web.yaml")),
            "files are named from the directory"
        );

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

        // Deleting the manifest removes the app (another app remains: a
        // sync that would remove every app is refused).
        std::fs::write(
            manifests.path().join("keep.yaml"),
            WEB.replace("name: web", "name: keep"),
        )
        .expect("write");
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
        let (_data, manifests, store, source) = synced_web();
        let app = store.get_app("default", "web").expect("store").expect("app");
        assert_eq!(app.generation, 1, "added by the first load");

        std::fs::write(manifests.path().join("web.yaml"), INVALID).expect("write");
        let out = source.load_once().expect("synced");
        assert_eq!(out.problems, 1);
        assert_eq!(instances(&store), Some(2));
        let rec = store.get_source(source.name()).expect("store").expect("record");
        let text = rec.last_error.expect("an error");
        assert!(text.starts_with("web.yaml:"), "error names the file: {text}");
        assert_eq!(rec.problems[0].apps, vec!["default/web"]);
    }

    /// Guards the slow in-place save (`cat >`, a slow copy): a file left
    /// empty for longer than the debounce does not delete its app.
    #[test]
    fn an_emptied_file_keeps_its_app_until_it_is_deleted() {
        let (_data, manifests, store, source) = synced_web();

        std::fs::write(manifests.path().join("web.yaml"), "").expect("truncate");
        let out = source.load_once().expect("synced");
        assert!(out.outcome.removed.is_empty(), "an empty file is a save in progress");
        assert_eq!(instances(&store), Some(2));

        std::fs::write(manifests.path().join("web.yaml"), WEB_SCALED).expect("write");
        source.load_once().expect("load");
        assert_eq!(instances(&store), Some(5));

        std::fs::remove_file(manifests.path().join("web.yaml")).expect("rm");
        std::fs::write(
            manifests.path().join("other.yaml"),
            WEB.replace("name: web", "name: other"),
        )
        .expect("write");
        let out = source.load_once().expect("load");
        assert_eq!(
            out.outcome.removed,
            vec!["default/web"],
            "a deleted file removes its apps"
        );
    }

    /// Guards "one team's typo freezes every team's deploys".
    #[test]
    fn one_broken_file_does_not_hold_the_others() {
        let (_data, manifests, store, source) = synced_web();
        std::fs::write(
            manifests.path().join("bad.yaml"),
            INVALID.replace("name: web", "name: bad"),
        )
        .expect("write");
        std::fs::write(manifests.path().join("web.yaml"), WEB_SCALED).expect("write");
        let out = source.load_once().expect("load");
        assert_eq!(out.outcome.updated, vec!["default/web"]);
        assert_eq!(instances(&store), Some(5));
    }
}
