//! The git source: follows one branch of a repository. Every interval (or
//! at once when a signed webhook arrives) it fetches the branch; a new
//! commit is checked out into a fresh directory behind an atomically
//! swapped symlink (`git_repo`), and the tree under `--path` is synced like
//! a directory ([`super::sync`]), each app stamped with the commit.
//!
//! A fetch or checkout that fails changes nothing: the running state is
//! kept, the source's record says since when and git's words, and the
//! fetch is retried with backoff. A commit that is already synced is not
//! loaded again (a poll with nothing new costs one `git fetch`), unless the
//! last sync could not read a file.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::sync::{Notify, watch};
use tracing::{info, warn};

use super::git_repo::{GitAuth, Mirror};
use super::plan::{Rules, short_sha};
use super::sync::{About, Configured, SyncReport, Syncer};
use crate::metrics::SourceMetrics;
use crate::store::{Store, StoreError, now_unix};

/// Default time between two fetches.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
/// Longest a fetch may take before git is stopped.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(120);
/// First retry after a failure; doubles up to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_secs(1);
/// Longest wait between retries after failures.
const RETRY_MAX: Duration = Duration::from_secs(60);

/// What to follow, and how.
#[derive(Clone, Debug)]
pub struct GitConfig {
    /// The repository URL (https, ssh, file or a local path).
    pub url: String,
    /// The branch followed.
    pub branch: String,
    /// The directory within the repository whose manifests are loaded
    /// (default: the whole repository).
    pub path: Option<PathBuf>,
    /// Time between fetches.
    pub interval: Duration,
    /// Credentials.
    pub auth: GitAuth,
}

/// How one attempt ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Attempt {
    /// The commit was synced now.
    Synced {
        /// The commit.
        sha: String,
        /// What changed.
        report: SyncReport,
    },
    /// The branch is still at the commit last synced.
    Unchanged(String),
    /// Fetch, checkout or the tree failed; nothing changed.
    Failed(String),
}

/// One git source.
#[derive(Clone, Debug)]
pub struct GitSource {
    config: GitConfig,
    mirror: Arc<Mirror>,
    syncer: Syncer,
    trigger: Arc<Notify>,
    last: Arc<Mutex<LastAttempt>>,
}

/// What this process last did, so a poll with nothing new loads nothing.
#[derive(Debug, Default)]
struct LastAttempt {
    /// The commit last synced by this process (none yet after a start:
    /// the first poll always syncs).
    synced: Option<String>,
    /// The last attempt failed, or could not read a file: try fully again.
    again: bool,
}

impl GitSource {
    /// A source for `config`, keeping its mirror under `data_dir/git/`.
    pub fn new(config: GitConfig, data_dir: &Path, store: Store, configured: Configured, rules: Rules) -> Self {
        let mirror = Mirror::new(
            config.url.clone(),
            config.branch.clone(),
            data_dir.join("git").join(mirror_dir_name(&config.url)),
            config.auth.clone(),
        );
        let name = Self::name_for(&config);
        let about = About {
            kind: "git",
            url: Some(mirror.display_url()),
            branch: Some(config.branch.clone()),
            path: config.path.as_ref().map(|p| p.display().to_string()),
        };
        Self {
            syncer: Syncer {
                store,
                name,
                about,
                rules: Rules {
                    keep_empty_files: false,
                    ..rules
                },
                configured,
                metrics: SourceMetrics::default(),
            },
            mirror: Arc::new(mirror),
            config,
            trigger: Arc::new(Notify::new()),
            last: Arc::default(),
        }
    }

    /// The name of the source that follows `config`: `git:<url>`, the URL
    /// without credentials.
    pub fn name_for(config: &GitConfig) -> String {
        super::git_source_name(&super::git_repo::redacted(&config.url))
    }

    /// The source's name, `git:<url>`.
    pub fn name(&self) -> &str {
        &self.syncer.name
    }

    /// Notifying it makes the source fetch now (the webhook does).
    pub fn trigger(&self) -> Arc<Notify> {
        Arc::clone(&self.trigger)
    }

    /// Counts its syncs into `metrics`.
    pub fn with_metrics(mut self, metrics: SourceMetrics) -> Self {
        self.syncer.metrics = metrics;
        self
    }

    /// Fetches, and syncs a new commit (blocking).
    pub fn sync_once(&self) -> Result<Attempt, StoreError> {
        let attempt = self.syncer.timed(|| self.attempt());
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        match &attempt {
            Ok(Attempt::Synced { sha, report }) => {
                last.synced = Some(sha.clone());
                last.again = report.retry_soon;
            }
            Ok(Attempt::Unchanged(_)) => {}
            Ok(Attempt::Failed(_)) | Err(_) => last.again = true,
        }
        attempt
    }

    fn attempt(&self) -> Result<Attempt, StoreError> {
        let url = self.mirror.display_url();
        let sha = match self.mirror.fetch(FETCH_TIMEOUT) {
            Ok(sha) => sha,
            Err(e) => {
                let text = format!("cannot fetch branch {} of {url}: {e}", self.config.branch);
                self.syncer.fail(&text)?;
                return Ok(Attempt::Failed(text));
            }
        };
        {
            let last = self.last.lock().unwrap_or_else(|e| e.into_inner());
            if last.synced.as_deref() == Some(sha.as_str()) && !last.again {
                return Ok(Attempt::Unchanged(sha));
            }
        }
        let checked_out = self
            .mirror
            .checkout(&sha)
            .and_then(|dir| Ok((dir, self.mirror.commit_info(&sha)?)));
        let (current, info) = match checked_out {
            Ok(done) => done,
            Err(e) => {
                let text = format!("cannot check out commit {}: {e}", short_sha(&sha));
                self.syncer.fail(&text)?;
                return Ok(Attempt::Failed(text));
            }
        };
        let prefix = self.config.path.clone().unwrap_or_default();
        let root = current.join(&prefix);
        if !root.is_dir() {
            let text = format!(
                "commit {} ({}) has no directory {}; nothing was changed (fix --path, or the repository)",
                short_sha(&sha),
                info.subject,
                prefix.display()
            );
            self.syncer.fail(&text)?;
            return Ok(Attempt::Failed(text));
        }
        let report = self.syncer.sync_tree_at(&root, &prefix, Some(&info))?;
        if report.outcome.changed() {
            info!(source = %self.name(), commit = short_sha(&sha), subject = %info.subject, "synced a new commit");
        }
        Ok(Attempt::Synced { sha, report })
    }

    /// Syncs now, then every interval, at once when triggered, and after a
    /// failure with backoff, until shutdown.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut delay = Duration::ZERO;
        let mut backoff = Duration::ZERO;
        loop {
            tokio::select! {
                _ = shutdown.wait_for(|s| *s) => return,
                _ = tokio::time::sleep(delay) => {}
                _ = self.trigger.notified() => {}
            }
            let this = self.clone();
            let attempt = tokio::task::spawn_blocking(move || this.sync_once()).await;
            let failed = match attempt {
                Ok(Ok(Attempt::Failed(text))) => {
                    warn!(source = %self.name(), "{text}; keeping the running state and retrying");
                    true
                }
                Ok(Ok(Attempt::Synced { report, .. })) => report.retry_soon,
                Ok(Ok(Attempt::Unchanged(_))) => false,
                Ok(Err(e)) => {
                    warn!(source = %self.name(), error = %e, "recording the git sync failed; retrying");
                    true
                }
                Err(e) => {
                    warn!(source = %self.name(), error = %e, "the git sync task failed; retrying");
                    true
                }
            };
            if failed {
                backoff = (backoff * 2).clamp(RETRY_FIRST, RETRY_MAX.min(self.config.interval.max(RETRY_FIRST)));
                delay = backoff;
            } else {
                backoff = Duration::ZERO;
                delay = self.config.interval;
            }
            let next = now_unix() + delay.as_secs_f64();
            let store = self.syncer.store.clone();
            let name = self.name().to_string();
            let _ =
                tokio::task::spawn_blocking(move || store.update_source(&name, |rec| rec.next_attempt_at = Some(next)))
                    .await;
        }
    }
}

/// A directory name for the mirror of `url`: a digest, so any URL maps to
/// a safe, stable name.
fn mirror_dir_name(url: &str) -> String {
    let digest = Sha256::digest(url.as_bytes());
    digest.iter().take(10).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(dir: &Path, args: &[&str]) {
        let ok = std::process::Command::new("git")
            .args([
                "-c",
                "user.name=T",
                "-c",
                "user.email=t@x",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", dir)
            .status()
            .expect("git")
            .success();
        assert!(ok, "git {args:?}");
    }

    const WEB: &str =
        "apiVersion: sextant.dev/v1alpha1\nkind: App\nmetadata: {name: web}\nspec: {instances: 1, command: sleep 1}\n";

    /// A bare repository (returned) whose `main` has one commit holding
    /// `WEB` at `file`.
    fn repo_with_web(dir: &Path, file: &str) -> std::path::PathBuf {
        let (bare, work) = (dir.join("r.git"), dir.join("w"));
        let path = work.join(file);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        git(dir, &["init", "-q", "--bare", "r.git"]);
        git(&work, &["init", "-q"]);
        std::fs::write(path, WEB).expect("write");
        git(&work, &["add", "."]);
        git(&work, &["commit", "-q", "-m", "web"]);
        git(&work, &["push", "-q", bare.to_str().expect("utf-8"), "HEAD:main"]);
        bare
    }

    /// The source following `bare`'s `main` under `path`, the only one.
    fn source_of(bare: &Path, path: Option<&str>, data: &Path, store: &Store) -> GitSource {
        let config = GitConfig {
            url: bare.display().to_string(),
            branch: "main".into(),
            path: path.map(Into::into),
            interval: DEFAULT_INTERVAL,
            auth: GitAuth::default(),
        };
        let name = GitSource::name_for(&config);
        GitSource::new(config, data, store.clone(), Configured::new([name]), Rules::default())
    }

    /// Guards the cost of a poll: a commit already synced is not loaded
    /// again, and a fetch that fails changes no app.
    #[test]
    fn a_poll_with_nothing_new_loads_nothing_and_a_lost_remote_changes_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bare = repo_with_web(dir.path(), "web.yaml");
        let store = Store::open(dir.path().join("data")).expect("store");
        let source = source_of(&bare, None, dir.path(), &store);
        let first = source.sync_once().expect("sync");
        assert!(
            matches!(&first, Attempt::Synced { report, .. } if report.outcome.added == vec!["default/web"]),
            "{first:?}"
        );
        assert!(matches!(source.sync_once().expect("poll"), Attempt::Unchanged(_)));

        std::fs::rename(&bare, dir.path().join("gone")).expect("hide");
        assert!(matches!(source.sync_once().expect("poll"), Attempt::Failed(_)));
        let rec = store.get_source(source.name()).expect("store").expect("record");
        assert!(rec.failing_since.is_some() && rec.last_error.as_deref().is_some_and(|e| e.contains("cannot fetch")));
        assert!(
            store.get_app("default", "web").expect("store").is_some(),
            "a lost remote removes nothing"
        );

        std::fs::rename(dir.path().join("gone"), &bare).expect("back");
        assert!(
            matches!(source.sync_once().expect("poll"), Attempt::Synced { .. }),
            "recovery syncs fully once"
        );
        let rec = store.get_source(source.name()).expect("store").expect("record");
        assert!(rec.failing_since.is_none() && rec.last_error.is_none());
        assert!(matches!(source.sync_once().expect("poll"), Attempt::Unchanged(_)));
    }

    /// Guards a wrong `--path`: nothing is removed, and the error says
    /// which directory the commit lacks.
    #[test]
    fn a_path_the_commit_does_not_have_changes_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bare = repo_with_web(dir.path(), "prod/web.yaml");
        let store = Store::open(dir.path().join("data")).expect("store");
        let source = |path: &str| source_of(&bare, Some(path), dir.path(), &store);
        let first = source("prod").sync_once().expect("sync");
        assert!(
            matches!(&first, Attempt::Synced { report, .. } if report.outcome.added == vec!["default/web"]),
            "{first:?}"
        );
        let app = store.get_app("default", "web").expect("store").expect("app");
        assert_eq!(
            app.file.as_deref(),
            Some(Path::new("prod/web.yaml")),
            "files are repository paths"
        );

        let Attempt::Failed(text) = source("staging").sync_once().expect("sync") else {
            panic!("a missing path must fail the sync");
        };
        assert!(text.contains("has no directory staging"), "{text}");
        assert!(store.get_app("default", "web").expect("store").is_some());
    }

    #[test]
    fn mirror_names_are_stable_and_safe() {
        let a = mirror_dir_name("https://example.com/a.git");
        assert_eq!(a, mirror_dir_name("https://example.com/a.git"));
        assert_ne!(a, mirror_dir_name("https://example.com/b.git"));
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()) && a.len() == 20);
    }
}
