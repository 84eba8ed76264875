//! The controller's sled journal: the durable copy of what the in-memory
//! index holds, never the only truth (git or the manifests directory holds
//! desired state, the agent and Mesos hold live state). A restarted
//! controller loads it to show what it last knew at once.
//!
//! Trees:
//! - `meta`: `format` -> the journal format, checked at open;
//! - `apps`: key `ns/name` -> JSON [`DesiredApp`] (the desired object, its
//!   owning source, file, revision, generation and timestamps), written by
//!   the sources in one batch per load and flushed before they are acted on;
//! - `tasks`: key task id -> prost-encoded `proto::Task`, the last known
//!   state of every task, written behind in batches by the index and
//!   replaced whole by the agent's snapshot;
//! - `history`: key `ns/name` -> JSON [`RevisionHistory`], flushed when
//!   written (a rollout's outcome decides what a restart rolls back to).
//!
//! Statuses are not journaled: they are derived, and a restarted
//! controller's first reconcile of each app (before the agent's snapshot,
//! from the last known tasks) recomputes them and marks them last known.
//! - `sources`: key source name -> JSON [`SourceStatus`] (last load error).
//!
//! One record that does not decode is reported and skipped, never a reason
//! to stop every app. Changes of desired apps and sources are announced to
//! one listener (the index writer) with the keys concerned.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use k8s_openapi::jiff::Timestamp;
use prost::Message;
use serde::{Deserialize, Serialize};
use sextant_api::proto::Task;
pub use sextant_api::task::{DEFAULT_NAMESPACE, app_key};

pub use crate::desired::DesiredApp;
use crate::source::git_repo::CommitInfo;
use crate::source::plan::Problem;
use tokio::sync::mpsc;

use crate::history::RevisionHistory;
use crate::ops::AppOps;
use crate::quota::Quota;

/// Terminal tasks whose last change is older than this are pruned.
pub const TERMINAL_TASK_RETENTION_SECS: f64 = 300.0;

/// sled's page cache: the journal is read whole once at start and then
/// only written, so sled's default of 1 GiB would only hold memory.
const JOURNAL_CACHE_BYTES: u64 = 8 * 1024 * 1024;
/// Records per sled batch when the task tree is replaced: one batch of
/// 100,000 tasks held several hundred MB at once.
const TASK_BATCH: usize = 1000;

/// The journal format this release reads and writes.
pub const JOURNAL_FORMAT: u64 = 2;

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled failed (I/O, corruption).
    #[error("journal: {}", sled_words(.0))]
    Sled(#[from] sled::Error),
    /// The journal could not be opened.
    #[error("cannot open the journal at {path}: {cause}{hint}")]
    Open {
        /// The sled directory.
        path: PathBuf,
        /// The cause, in words.
        cause: String,
        /// What to do about it.
        hint: &'static str,
    },
    /// The journal was written by an incompatible release.
    #[error(
        "the journal at {path} has format {found}, this release reads format {JOURNAL_FORMAT}; move it away (the controller rebuilds it from the sources and the agent) or use another --data-dir"
    )]
    Format {
        /// The sled directory.
        path: PathBuf,
        /// The format found.
        found: String,
    },
    /// The data directory could not be created.
    #[error("store: cannot create data directory {path}: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// An operation's app is not stored.
    #[error("app {0} not found")]
    NotFound(String),
    /// A stored JSON record could not be (de)serialized.
    #[error("store: record {key} in tree {tree}: {source}")]
    Json {
        /// Tree name.
        tree: &'static str,
        /// Record key.
        key: String,
        /// The cause.
        source: serde_json::Error,
    },
    /// A stored task could not be decoded.
    #[error("store: task {key}: {source}")]
    Decode {
        /// Record key.
        key: String,
        /// The cause.
        source: prost::DecodeError,
    },
}

/// A sled error in words, without a `Debug` dump of the OS error.
fn sled_words(e: &sled::Error) -> String {
    match e {
        sled::Error::Io(io) => io.to_string(),
        sled::Error::Corruption { .. } => "the journal is corrupt".into(),
        sled::Error::Unsupported(what) => what.clone(),
        sled::Error::ReportableBug(what) => format!("sled bug: {what}"),
        sled::Error::CollectionNotFound(name) => format!("tree {} not found", String::from_utf8_lossy(name)),
    }
}

/// What changed in the journal, for the index writer.
#[derive(Clone, Debug, PartialEq)]
pub enum StoreChange {
    /// Desired apps with these keys were added, changed or removed.
    Apps(Vec<String>),
    /// A source's record changed.
    Source(String),
}

/// Everything the journal holds, as loaded at start.
#[derive(Clone, Debug, Default)]
pub struct JournalContents {
    /// Desired apps.
    pub apps: Vec<DesiredApp>,
    /// Last known tasks.
    pub tasks: Vec<Task>,
    /// Revision histories by app key.
    pub histories: Vec<(String, RevisionHistory)>,
    /// Source records.
    pub sources: Vec<SourceStatus>,
    /// Records that did not decode and were skipped, in words.
    pub skipped: Vec<String>,
}

/// Current time as Unix seconds.
pub fn now_unix() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Formats Unix seconds as RFC 3339 (UTC); `None` for 0 or out of range.
pub fn rfc3339(unix: f64) -> Option<String> {
    if !unix.is_finite() || unix <= 0.0 {
        return None;
    }
    let ts = Timestamp::from_second(unix as i64).ok()?;
    Some(ts.to_string())
}

/// What [`Store::replace_source_apps`] changed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReplaceOutcome {
    /// Keys of apps that were not stored before.
    pub added: Vec<String>,
    /// Keys of apps whose stored object changed.
    pub updated: Vec<String>,
    /// Keys of apps deleted because the source no longer has them.
    pub removed: Vec<String>,
    /// Apps the source has that another source owns; they were not taken.
    pub conflicts: Vec<String>,
}

impl ReplaceOutcome {
    /// Whether the store changed.
    pub fn changed(&self) -> bool {
        !(self.added.is_empty() && self.updated.is_empty() && self.removed.is_empty())
    }
}

/// The state of one source of desired apps, as its last sync left it.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SourceStatus {
    /// Source name: `dir:<path>`, `git:<url>` or `apply`.
    pub name: String,
    /// `dir`, `git` or `apply`.
    #[serde(default)]
    pub kind: String,
    /// The repository URL (credentials redacted), or the directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The branch followed (git).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// The directory within the repository that is loaded (git).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The commit last synced (git).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<CommitInfo>,
    /// The last error in words (every problem, one per line); absent when
    /// the last sync had none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Unix seconds of the last error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error_at: Option<f64>,
    /// Unix seconds since when the source has been failing (fetch errors,
    /// unreadable files, a refused sync), absent when it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<f64>,
    /// Unix seconds of the last successful sync (the files that load were
    /// applied; broken ones are in `problems`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success_at: Option<f64>,
    /// Unix seconds of the next attempt planned (git polls, retries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<f64>,
    /// Problems of the last sync, with their files and lines, and the apps
    /// each one holds at their last good version.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Problem>,
    /// Why the last sync was refused as a whole (it would have removed
    /// every app); nothing was changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// Apps no longer defined but kept because pruning is off.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unpruned: Vec<String>,
    /// Apps the source owns.
    #[serde(default)]
    pub apps: usize,
}

/// The sled store. Cheap to clone; all clones share the database.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    db: sled::Db,
    apps: sled::Tree,
    tasks: sled::Tree,
    history: sled::Tree,
    sources: sled::Tree,
    /// Operations asked for by hand, by app key (`crate::ops`).
    ops: sled::Tree,
    listener: Mutex<Option<mpsc::UnboundedSender<StoreChange>>>,
    /// Serializes read-modify-write of the `apps` tree.
    apps_lock: Mutex<()>,
    /// The production quota every writer of apps judges by (none by
    /// default); set once at start.
    quota: std::sync::RwLock<Arc<Quota>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

fn to_json<T: Serialize>(tree: &'static str, key: &str, value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|source| StoreError::Json {
        tree,
        key: key.to_string(),
        source,
    })
}

fn from_json<T: for<'de> Deserialize<'de>>(tree: &'static str, key: &[u8], bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|source| StoreError::Json {
        tree,
        key: String::from_utf8_lossy(key).into_owned(),
        source,
    })
}

fn decode_task(key: &[u8], bytes: &[u8]) -> Result<Task, StoreError> {
    Task::decode(bytes).map_err(|source| StoreError::Decode {
        key: String::from_utf8_lossy(key).into_owned(),
        source,
    })
}

impl Store {
    /// Sets the production quota sources, apply and scale judge by.
    pub fn set_quota(&self, quota: Quota) {
        if let Ok(mut q) = self.inner.quota.write() {
            *q = Arc::new(quota);
        }
    }

    /// The production quota in force.
    pub fn quota(&self) -> Arc<Quota> {
        self.inner.quota.read().map(|q| Arc::clone(&q)).unwrap_or_default()
    }

    /// Opens (or creates) the store under `data_dir`. A journal held by
    /// another process, corrupt, or of another format is a clear error.
    pub fn open(data_dir: impl AsRef<Path>) -> Result<Self, StoreError> {
        let dir = data_dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join("store.sled");
        let db = sled::Config::new()
            .path(&path)
            .cache_capacity(JOURNAL_CACHE_BYTES)
            .open()
            .map_err(|e| open_error(&path, &e))?;
        let meta = db.open_tree("meta")?;
        match meta.get(b"format")? {
            None => {
                // New, or format 1 (no meta tree), whose records read as 2.
                meta.insert(b"format", JOURNAL_FORMAT.to_string().as_bytes())?;
            }
            Some(v) if v.as_ref() == JOURNAL_FORMAT.to_string().as_bytes() => {}
            Some(v) => {
                return Err(StoreError::Format {
                    path,
                    found: String::from_utf8_lossy(&v).into_owned(),
                });
            }
        }
        Ok(Self {
            inner: Arc::new(Inner {
                apps: db.open_tree("apps")?,
                tasks: db.open_tree("tasks")?,
                history: db.open_tree("history")?,
                sources: db.open_tree("sources")?,
                ops: db.open_tree("ops")?,
                db,
                listener: Mutex::new(None),
                apps_lock: Mutex::new(()),
                quota: std::sync::RwLock::new(Arc::new(Quota::default())),
            }),
        })
    }

    /// Announces every later change of desired apps and sources on the
    /// returned channel (one listener: a new call replaces the old one).
    pub fn listen(&self) -> mpsc::UnboundedReceiver<StoreChange> {
        let (tx, rx) = mpsc::unbounded_channel();
        *self.inner.listener.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx);
        rx
    }

    fn notify(&self, change: StoreChange) {
        if let Some(tx) = self.inner.listener.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            // No listener left is fine: the controller is stopping.
            let _ = tx.send(change);
        }
    }

    /// Everything, for the index at start. Undecodable records are skipped
    /// and listed in `skipped`.
    pub fn load(&self) -> Result<JournalContents, StoreError> {
        let mut skipped = Vec::new();
        let apps: Vec<DesiredApp> = decode_all(&self.inner.apps, &mut skipped, |k, v| from_json("apps", k, v))?;
        // The operations tree read once, not looked up per app.
        let mut ops: BTreeMap<String, AppOps> = decode_all(&self.inner.ops, &mut skipped, |k, v| {
            Ok((String::from_utf8_lossy(k).into_owned(), from_json("ops", k, v)?))
        })?
        .into_iter()
        .collect();
        let apps = apps
            .into_iter()
            .map(|a| {
                let ops = ops.remove(&a.key()).unwrap_or_default();
                a.with_ops(ops)
            })
            .collect();
        let tasks = decode_all(&self.inner.tasks, &mut skipped, decode_task)?;
        let histories = decode_all(&self.inner.history, &mut skipped, |k, v| {
            Ok((String::from_utf8_lossy(k).into_owned(), from_json("history", k, v)?))
        })?;
        let sources = decode_all(&self.inner.sources, &mut skipped, |k, v| from_json("sources", k, v))?;
        Ok(JournalContents {
            apps,
            tasks,
            histories,
            sources,
            skipped,
        })
    }

    /// Writes everything to disk.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.inner.db.flush()?;
        Ok(())
    }

    fn lock_apps(&self) -> std::sync::MutexGuard<'_, ()> {
        // The guarded data is `()`: a panic elsewhere cannot corrupt it.
        self.inner.apps_lock.lock().unwrap_or_else(|e| e.into_inner())
    }

    // ---- apps ----------------------------------------------------------

    /// All desired apps, in key order; a record that does not decode is
    /// logged and skipped.
    pub fn list_apps(&self) -> Result<Vec<DesiredApp>, StoreError> {
        let mut skipped = Vec::new();
        let apps = decode_all(&self.inner.apps, &mut skipped, |k, v| from_json("apps", k, v))?;
        for e in skipped {
            tracing::warn!(error = %e, "skipping an undecodable desired app");
        }
        Ok(apps)
    }

    /// One desired app by namespace and name.
    pub fn get_app(&self, namespace: &str, name: &str) -> Result<Option<DesiredApp>, StoreError> {
        self.get_app_by_key(&app_key(namespace, name))
    }

    /// One desired app by `namespace/name`, with its operations (for the
    /// index).
    pub fn get_app_by_key(&self, key: &str) -> Result<Option<DesiredApp>, StoreError> {
        match self.inner.apps.get(key.as_bytes())? {
            Some(v) => {
                let app: DesiredApp = from_json("apps", key.as_bytes(), &v)?;
                Ok(Some(app.with_ops(self.get_ops(key)?)))
            }
            None => Ok(None),
        }
    }

    // ---- operations --------------------------------------------------------

    /// An app's operations (empty when none were asked for).
    pub fn get_ops(&self, key: &str) -> Result<AppOps, StoreError> {
        match self.inner.ops.get(key.as_bytes())? {
            Some(v) => from_json("ops", key.as_bytes(), &v),
            None => Ok(AppOps::default()),
        }
    }

    /// Changes an app's operations with `change`, under the apps' lock,
    /// and announces the app. `change` sees the app (with its current
    /// operations) and may refuse; nothing is written then.
    pub fn change_ops<T, E>(
        &self,
        key: &str,
        change: impl FnOnce(&DesiredApp, &mut AppOps) -> Result<T, E>,
    ) -> Result<Result<T, E>, StoreError> {
        let _guard = self.lock_apps();
        let Some(app) = self.get_app_by_key(key)? else {
            return Err(StoreError::NotFound(key.to_string()));
        };
        let mut ops = app.ops.clone();
        let answer = match change(&app, &mut ops) {
            Ok(answer) => answer,
            Err(e) => return Ok(Err(e)),
        };
        if ops.is_empty() {
            self.inner.ops.remove(key.as_bytes())?;
        } else {
            self.inner.ops.insert(key.as_bytes(), to_json("ops", key, &ops)?)?;
        }
        self.inner.ops.flush()?;
        self.notify(StoreChange::Apps(vec![key.to_string()]));
        Ok(Ok(answer))
    }

    /// Stores one desired app (whatever its source), keeping its creation
    /// time and bumping its generation when the spec changed.
    pub fn put_app(&self, mut app: DesiredApp) -> Result<(), StoreError> {
        let key = app.key();
        let _guard = self.lock_apps();
        let prev = self.get_app_by_key(&key)?;
        if app.stamp(prev.as_ref(), now_unix()) {
            self.inner.apps.insert(key.as_bytes(), to_json("apps", &key, &app)?)?;
            self.inner.apps.flush()?;
            self.notify(StoreChange::Apps(vec![key]));
        }
        Ok(())
    }

    /// Deletes a desired app; its tasks will be killed. Returns whether it
    /// existed.
    pub fn delete_app(&self, namespace: &str, name: &str) -> Result<bool, StoreError> {
        let key = app_key(namespace, name);
        let _guard = self.lock_apps();
        let existed = self.inner.apps.remove(key.as_bytes())?.is_some();
        if existed {
            self.inner.apps.flush()?;
            // A later app of the same name starts without them.
            self.inner.ops.remove(key.as_bytes())?;
            self.notify(StoreChange::Apps(vec![key]));
        }
        Ok(existed)
    }

    /// Atomically replaces every app owned by `source` with `apps`: new ones
    /// are added, changed ones updated, missing ones deleted. Apps owned by
    /// another source are left alone and reported as conflicts. (The
    /// sources use [`Store::change_apps`] with their sync plan; this is the
    /// plain form, for tools and benchmarks.)
    pub fn replace_source_apps(&self, source: &str, apps: Vec<DesiredApp>) -> Result<ReplaceOutcome, StoreError> {
        let (mut outcome, conflicts) = self.change_apps(false, |existing| {
            let mut conflicts = Vec::new();
            let mut wanted = BTreeSet::new();
            let mut writes = Vec::new();
            for mut app in apps {
                app.source = source.to_string();
                let key = app.key();
                // Every other source counts as running: nothing is adopted.
                match crate::source::ownership::may_write(&key, existing.get(&key), source, &|_| true) {
                    Err(conflict) => conflicts.push(conflict.to_string()),
                    Ok(()) => {
                        wanted.insert(key);
                        writes.push(app);
                    }
                }
            }
            let removes = existing
                .iter()
                .filter(|(k, a)| a.source == source && !wanted.contains(*k))
                .map(|(k, _)| k.clone())
                .collect();
            (writes, removes, conflicts)
        })?;
        outcome.conflicts = conflicts;
        Ok(outcome)
    }

    /// Changes desired apps atomically: `decide` sees every stored app and
    /// returns the apps to write (each stored only when it differs from the
    /// stored version, stamped with generation and times), the keys to
    /// remove, and anything else it wants to hand back. Decisions and the
    /// write happen under one lock, so two sources never race on an app.
    /// With `dry_run`, the outcome is computed and nothing is written.
    pub fn change_apps<T>(
        &self,
        dry_run: bool,
        decide: impl FnOnce(&BTreeMap<String, DesiredApp>) -> (Vec<DesiredApp>, Vec<String>, T),
    ) -> Result<(ReplaceOutcome, T), StoreError> {
        let _guard = self.lock_apps();
        let now = now_unix();
        let mut existing: BTreeMap<String, DesiredApp> = BTreeMap::new();
        for app in self.list_apps()? {
            existing.insert(app.key(), app);
        }
        let (writes, removes, extra) = decide(&existing);
        let mut outcome = ReplaceOutcome::default();
        let mut batch = sled::Batch::default();
        for mut app in writes {
            let key = app.key();
            let prev = existing.get(&key);
            if app.stamp(prev, now) {
                batch.insert(key.as_bytes(), to_json("apps", &key, &app)?);
                if prev.is_some() {
                    outcome.updated.push(key);
                } else {
                    outcome.added.push(key);
                }
            }
        }
        for key in removes {
            if existing.contains_key(&key) {
                batch.remove(key.as_bytes());
                outcome.removed.push(key);
            }
        }
        if outcome.changed() && !dry_run {
            self.inner.apps.apply_batch(batch)?;
            self.inner.apps.flush()?;
            for key in &outcome.removed {
                self.inner.ops.remove(key.as_bytes())?;
            }
            let keys = outcome
                .added
                .iter()
                .chain(&outcome.updated)
                .chain(&outcome.removed)
                .cloned()
                .collect();
            self.notify(StoreChange::Apps(keys));
        }
        Ok((outcome, extra))
    }

    // ---- tasks and histories ---------------------------------------------

    /// Writes a batch of task changes: `Some` upserts, `None` removes.
    pub fn write_tasks<'a>(
        &self,
        changes: impl IntoIterator<Item = (&'a String, &'a Option<Task>)>,
    ) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for (id, task) in changes {
            match task {
                Some(t) => batch.insert(id.as_bytes(), t.encode_to_vec()),
                None => batch.remove(id.as_bytes()),
            }
        }
        self.inner.tasks.apply_batch(batch)?;
        Ok(())
    }

    /// Replaces every task with `tasks` (the agent's snapshot), in batches
    /// of [`TASK_BATCH`]: not atomic as a whole, which is fine for a cache
    /// the next snapshot replaces again (a crash halfway leaves some tasks
    /// of the old snapshot, shown as last known until then).
    pub fn replace_tasks(&self, tasks: &[Task]) -> Result<(), StoreError> {
        let ids: BTreeSet<&str> = tasks.iter().map(|t| t.task_id.as_str()).collect();
        let mut batch = sled::Batch::default();
        for k in self.inner.tasks.iter().keys() {
            let k = k?;
            if !ids.contains(String::from_utf8_lossy(&k).as_ref()) {
                batch.remove(k);
            }
        }
        self.inner.tasks.apply_batch(batch)?;
        for chunk in tasks.chunks(TASK_BATCH) {
            let mut batch = sled::Batch::default();
            for t in chunk {
                batch.insert(t.task_id.as_bytes(), t.encode_to_vec());
            }
            self.inner.tasks.apply_batch(batch)?;
        }
        Ok(())
    }

    /// Writes a batch of revision histories: `Some` sets, `None` removes.
    pub fn write_histories<'a>(
        &self,
        changes: impl IntoIterator<Item = (&'a String, &'a Option<Arc<RevisionHistory>>)>,
    ) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for (key, history) in changes {
            match history {
                Some(h) => batch.insert(key.as_bytes(), to_json("history", key, &**h)?),
                None => batch.remove(key.as_bytes()),
            }
        }
        self.inner.history.apply_batch(batch)?;
        Ok(())
    }

    // ---- sources ---------------------------------------------------------

    /// A source's record.
    pub fn get_source(&self, name: &str) -> Result<Option<SourceStatus>, StoreError> {
        match self.inner.sources.get(name.as_bytes())? {
            Some(v) => Ok(Some(from_json("sources", name.as_bytes(), &v)?)),
            None => Ok(None),
        }
    }

    /// All source records, in name order.
    pub fn list_sources(&self) -> Result<Vec<SourceStatus>, StoreError> {
        self.inner
            .sources
            .iter()
            .map(|r| {
                let (k, v) = r?;
                from_json("sources", &k, &v)
            })
            .collect()
    }

    /// Changes a source's record (a new one starts from its default).
    pub fn update_source(
        &self,
        name: &str,
        change: impl FnOnce(&mut SourceStatus),
    ) -> Result<SourceStatus, StoreError> {
        let mut rec = self.get_source(name)?.unwrap_or_default();
        rec.name = name.to_string();
        change(&mut rec);
        self.inner
            .sources
            .insert(name.as_bytes(), to_json("sources", name, &rec)?)?;
        self.notify(StoreChange::Source(name.to_string()));
        Ok(rec)
    }

    /// Records a successful load of `name` owning `apps` apps; clears its
    /// error.
    pub fn set_source_ok(&self, name: &str, apps: usize) -> Result<(), StoreError> {
        self.update_source(name, |rec| {
            rec.last_error = None;
            rec.last_error_at = None;
            rec.failing_since = None;
            rec.problems.clear();
            rec.refused = None;
            rec.last_success_at = Some(now_unix());
            rec.apps = apps;
        })?;
        Ok(())
    }

    /// Records a failed load of `name`; its desired apps are left alone.
    pub fn set_source_error(&self, name: &str, error: &str) -> Result<(), StoreError> {
        self.update_source(name, |rec| {
            let now = now_unix();
            rec.last_error = Some(error.to_string());
            rec.last_error_at = Some(now);
            rec.failing_since.get_or_insert(now);
        })?;
        Ok(())
    }

    /// Forgets a source's record.
    pub fn delete_source(&self, name: &str) -> Result<(), StoreError> {
        self.inner.sources.remove(name.as_bytes())?;
        self.notify(StoreChange::Source(name.to_string()));
        Ok(())
    }
}

/// Every record of `tree` that `decode` accepts, in key order; the others
/// are named in `skipped`. Only an I/O error of sled stops it.
fn decode_all<T>(
    tree: &sled::Tree,
    skipped: &mut Vec<String>,
    decode: impl Fn(&[u8], &[u8]) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::new();
    for r in tree.iter() {
        let (k, v) = r?;
        match decode(&k, &v) {
            Ok(t) => out.push(t),
            Err(e) => skipped.push(e.to_string()),
        }
    }
    Ok(out)
}

/// Why the journal did not open, with a hint where there is one.
fn open_error(path: &Path, e: &sled::Error) -> StoreError {
    let (cause, hint) = match e {
        // sled words a held lock as "could not acquire lock on ...: Os {..}".
        sled::Error::Io(io)
            if io.kind() == std::io::ErrorKind::WouldBlock || io.to_string().contains("could not acquire lock") =>
        {
            (
                "it is locked by another process".to_string(),
                "; another `sextant up` or `sextant controller` holds this data dir: stop it, or pass another --data-dir",
            )
        }
        sled::Error::Io(io) => (io.to_string(), ""),
        sled::Error::Corruption { .. } | sled::Error::Unsupported(_) => (
            sled_words(e),
            "; move the directory away and start again: desired apps come back from their sources and tasks from the agent (the revision history is lost)",
        ),
        other => (sled_words(other), ""),
    };
    StoreError::Open {
        path: path.to_path_buf(),
        cause,
        hint,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sextant_api::proto::TaskState;
    use sextant_api::{App, AppSpec};

    fn app(ns: &str, name: &str, instances: u32) -> App {
        let spec: AppSpec = serde_json::from_value(serde_json::json!({
            "instances": instances,
            "command": "sleep 1000",
        }))
        .expect("spec");
        let mut app = App::new(name, spec);
        app.metadata.namespace = Some(ns.to_string());
        app
    }

    fn desired(ns: &str, name: &str, instances: u32) -> DesiredApp {
        DesiredApp::new(
            app(ns, name, instances),
            "dir:/m",
            Some(PathBuf::from("/m/a.yaml")),
            Some(1),
        )
    }

    fn task(id: &str, state: TaskState) -> Task {
        Task {
            task_id: id.to_string(),
            namespace: "default".to_string(),
            app: "web".to_string(),
            revision: "r1".to_string(),
            state: state as i32,
            ..Default::default()
        }
    }

    /// Guards the operations by hand across a restart: a pause and a
    /// restart's revision come back with the app when the journal is
    /// loaded, and a deleted app takes its operations with it.
    #[test]
    fn operations_survive_a_restart_and_go_with_their_app() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spec_revision = {
            let store = Store::open(dir.path()).expect("open");
            store.put_app(desired("default", "web", 2)).expect("put");
            let mark = crate::ops::Mark {
                by: "ci".into(),
                at: 1_764_500_000.0,
            };
            store
                .change_ops("default/web", |app, ops| {
                    ops.paused = Some(mark.clone());
                    ops.restart = Some(mark);
                    Ok::<_, ()>(app.revision.clone())
                })
                .expect("journal")
                .expect("changed")
        };
        let store = Store::open(dir.path()).expect("reopen");
        let loaded = store.load().expect("load");
        let web = loaded.apps.iter().find(|a| a.key() == "default/web").expect("web");
        assert!(web.ops.paused.is_some(), "the pause is back");
        assert_ne!(web.revision, spec_revision, "the restart's revision is back");
        assert_eq!(
            store.get_app_by_key("default/web").expect("get").expect("web").revision,
            web.revision
        );
        assert!(store.delete_app("default", "web").expect("delete"));
        assert_eq!(
            store.get_ops("default/web").expect("ops"),
            crate::ops::AppOps::default()
        );
    }

    #[test]
    fn everything_persists_across_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = Store::open(dir.path()).expect("open");
            store.put_app(desired("default", "web", 2)).expect("put");
            store.set_source_error("dir:/m", "a.yaml:1:1: spec: bad").expect("err");
            let task = Some(task("default.web.r1.a", TaskState::Running));
            store
                .write_tasks([(&"default.web.r1.a".to_string(), &task)])
                .expect("task");
            let history = Some(Arc::new(RevisionHistory::default()));
            store
                .write_histories([(&"default/web".to_string(), &history)])
                .expect("history");
            store.flush().expect("flush");
        }
        let store = Store::open(dir.path()).expect("reopen");
        let got = store.get_app("default", "web").expect("get").expect("present");
        assert_eq!(got.app.spec.instances, 2);
        assert_eq!(got.generation, 1);
        assert!(got.app.metadata.creation_timestamp.is_some());
        let all = store.load().expect("load");
        assert_eq!(all.apps.len(), 1);
        assert_eq!(all.tasks.len(), 1);
        assert_eq!(all.histories.len(), 1);
        assert_eq!(all.sources[0].last_error.as_deref(), Some("a.yaml:1:1: spec: bad"));
        assert!(all.skipped.is_empty());
        store.set_source_ok("dir:/m", 1).expect("ok");
        let src = store.get_source("dir:/m").expect("src").expect("present");
        assert_eq!(src.last_error, None);
        assert!(store.delete_app("default", "web").expect("delete"));
        assert!(!store.delete_app("default", "web").expect("delete again"));
    }

    /// Guards "one bad record is reported and skipped, never a reason to
    /// stop every app".
    #[test]
    fn an_undecodable_record_is_skipped_not_fatal() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        store.put_app(desired("default", "web", 2)).expect("put");
        store
            .inner
            .apps
            .insert("default/broken", &b"{not json"[..])
            .expect("raw");
        store.inner.tasks.insert("x", &b"\xff\xff\xff"[..]).expect("raw");
        let all = store.load().expect("load");
        assert_eq!(all.apps.len(), 1);
        assert_eq!(all.skipped.len(), 2, "{:?}", all.skipped);
        assert!(all.skipped[0].contains("default/broken"), "{:?}", all.skipped);
        assert_eq!(store.list_apps().expect("list").len(), 1);
    }

    #[test]
    fn another_format_or_a_held_lock_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = Store::open(dir.path()).expect("open");
            let held = Store::open(dir.path()).expect_err("locked");
            let text = held.to_string();
            assert!(text.contains("another `sextant up`"), "{text}");
            assert!(!text.contains("Os {"), "no Debug dump: {text}");
            store
                .inner
                .db
                .open_tree("meta")
                .expect("meta")
                .insert("format", "99")
                .expect("raw");
            store.flush().expect("flush");
        }
        let err = Store::open(dir.path()).expect_err("format 99");
        let text = err.to_string();
        assert!(text.contains("format 99") && text.contains("move it away"), "{text}");
    }

    /// Guards the misleading "older sled version" error on a garbled
    /// journal config: it is named corrupt, with what to do.
    #[test]
    fn a_garbled_journal_is_named_with_a_hint() {
        let dir = tempfile::tempdir().expect("tempdir");
        drop(Store::open(dir.path()).expect("open"));
        std::fs::write(dir.path().join("store.sled").join("conf"), b"garbage\x00\xff").expect("garble");
        let text = Store::open(dir.path()).expect_err("garbled").to_string();
        assert!(
            text.contains("corrupt") && text.contains("move the directory away"),
            "{text}"
        );
        assert!(!text.contains("older"), "{text}");
    }

    #[test]
    fn generation_bumps_only_on_spec_change() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        store.put_app(desired("default", "web", 2)).expect("put");
        let first = store.get_app("default", "web").expect("get").expect("present");
        store.put_app(desired("default", "web", 2)).expect("put same");
        let same = store.get_app("default", "web").expect("get").expect("present");
        assert_eq!(same, first);
        store.put_app(desired("default", "web", 3)).expect("put changed");
        let changed = store.get_app("default", "web").expect("get").expect("present");
        assert_eq!(changed.generation, 2);
        assert_eq!(changed.created_at, first.created_at);
    }

    #[test]
    fn replace_source_apps_adds_updates_removes_and_announces_the_keys() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let mut applied = desired("default", "api", 1);
        applied.source = crate::source::APPLY_SOURCE.to_string();
        store.put_app(applied).expect("put");
        let mut changes = store.listen();

        let out = store
            .replace_source_apps("dir:/m", vec![desired("default", "a", 1), desired("default", "b", 1)])
            .expect("replace");
        assert_eq!(out.added, vec!["default/a", "default/b"]);
        assert_eq!(
            changes.try_recv().ok(),
            Some(StoreChange::Apps(vec!["default/a".into(), "default/b".into()]))
        );

        let out = store
            .replace_source_apps("dir:/m", vec![desired("default", "a", 1), desired("default", "b", 1)])
            .expect("replace same");
        assert!(!out.changed());
        assert!(changes.try_recv().is_err(), "nothing changed, nothing announced");

        let out = store
            .replace_source_apps("dir:/m", vec![desired("default", "b", 5), desired("default", "api", 1)])
            .expect("replace");
        assert_eq!(out.updated, vec!["default/b"]);
        assert_eq!(out.removed, vec!["default/a"]);
        assert_eq!(out.conflicts.len(), 1);

        let keys: Vec<String> = store.list_apps().expect("list").iter().map(DesiredApp::key).collect();
        assert_eq!(keys, vec!["default/api", "default/b"]);
    }

    #[test]
    fn a_dry_run_change_reports_and_writes_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let (out, ()) = store
            .change_apps(true, |_| (vec![desired("default", "a", 1)], Vec::new(), ()))
            .expect("dry run");
        assert_eq!(out.added, vec!["default/a"]);
        assert!(store.list_apps().expect("list").is_empty());
    }

    #[test]
    fn tasks_are_written_in_batches_and_replaced_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let (a, b) = ("a".to_string(), "b".to_string());
        let (ta, tb) = (Some(task("a", TaskState::Running)), Some(task("b", TaskState::Running)));
        store.write_tasks([(&a, &ta), (&b, &tb)]).expect("batch");
        store.write_tasks([(&a, &None)]).expect("remove");
        let ids = |s: &Store| -> Vec<String> { s.load().expect("load").tasks.into_iter().map(|t| t.task_id).collect() };
        assert_eq!(ids(&store), vec!["b"]);
        store.replace_tasks(&[task("c", TaskState::Staging)]).expect("replace");
        assert_eq!(ids(&store), vec!["c"]);
    }
}
