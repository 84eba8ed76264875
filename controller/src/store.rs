//! The controller's sled store: a durable cache and journal, never the only
//! copy of the truth (git or the manifests directory holds desired state, the
//! agent and Mesos hold live state).
//!
//! Owns four trees:
//! - `apps`: key `ns/name` -> JSON [`DesiredApp`] (the desired object, its
//!   owning source, file, revision, generation and timestamps);
//! - `tasks`: key task id -> prost-encoded [`proto::Task`] as last observed
//!   from the agent (or expected locally right after a launch);
//! - `status`: key `ns/name` -> JSON [`AppStatus`] written by the reconciler;
//! - `sources`: key source name -> JSON [`SourceStatus`] (last load error).
//!
//! Every change of desired apps or tasks bumps a [`tokio::sync::watch`]
//! counter so the reconciler can wake; status and source records do not (they
//! are outputs, and waking on them would loop).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use prost::Message;
use serde::{Deserialize, Serialize};
use sextant_api::proto::{Task, TaskState};
pub use sextant_api::task::{DEFAULT_NAMESPACE, app_key};
use sextant_api::{App, AppStatus};
use tokio::sync::watch;

use crate::reconcile::{EXPECTATION_TTL_SECS, EXPECTED_REASON};

/// The source name of objects created with `sextant apply`.
pub const APPLY_SOURCE: &str = "apply";
/// Terminal tasks whose last change is older than this are pruned.
pub const TERMINAL_TASK_RETENTION_SECS: f64 = 300.0;

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled failed (I/O, corruption).
    #[error("store: {0}")]
    Sled(#[from] sled::Error),
    /// The data directory could not be created.
    #[error("store: cannot create data directory {path}: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
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
            revision,
            generation: 0,
            created_at: 0.0,
            updated_at: 0.0,
        }
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
    /// but bookkeeping differs from `prev`.
    fn stamp(&mut self, prev: Option<&DesiredApp>, now: f64) -> bool {
        self.app.status = None;
        match prev {
            Some(prev) => {
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

/// The state of one source of desired apps.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SourceStatus {
    /// Source name, e.g. `dir:/srv/manifests`.
    pub name: String,
    /// Last load error (all messages, one per line); cleared on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Unix seconds of the last error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error_at: Option<f64>,
    /// Unix seconds of the last successful load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success_at: Option<f64>,
    /// Apps the source owned after its last successful load.
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
    status: sled::Tree,
    sources: sled::Tree,
    changes: watch::Sender<u64>,
    /// Serializes read-modify-write of the `apps` tree.
    apps_lock: Mutex<()>,
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
    /// Opens (or creates) the store under `data_dir`.
    pub fn open(data_dir: impl AsRef<Path>) -> Result<Self, StoreError> {
        let dir = data_dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
        let db = sled::Config::new().path(dir.join("store.sled")).open()?;
        let (changes, _) = watch::channel(0);
        Ok(Self {
            inner: Arc::new(Inner {
                apps: db.open_tree("apps")?,
                tasks: db.open_tree("tasks")?,
                status: db.open_tree("status")?,
                sources: db.open_tree("sources")?,
                db,
                changes,
                apps_lock: Mutex::new(()),
            }),
        })
    }

    /// A receiver whose value changes on every change of desired apps or
    /// tasks.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.changes.subscribe()
    }

    fn changed(&self) {
        self.inner.changes.send_modify(|v| *v = v.wrapping_add(1));
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

    /// All desired apps, in key order.
    pub fn list_apps(&self) -> Result<Vec<DesiredApp>, StoreError> {
        self.inner
            .apps
            .iter()
            .map(|r| {
                let (k, v) = r?;
                from_json("apps", &k, &v)
            })
            .collect()
    }

    /// One desired app by namespace and name.
    pub fn get_app(&self, namespace: &str, name: &str) -> Result<Option<DesiredApp>, StoreError> {
        self.get_app_by_key(&app_key(namespace, name))
    }

    /// One desired app by `namespace/name`.
    pub fn get_app_by_key(&self, key: &str) -> Result<Option<DesiredApp>, StoreError> {
        match self.inner.apps.get(key.as_bytes())? {
            Some(v) => Ok(Some(from_json("apps", key.as_bytes(), &v)?)),
            None => Ok(None),
        }
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
            self.changed();
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
            self.changed();
        }
        Ok(existed)
    }

    /// Atomically replaces every app owned by `source` with `apps`: new ones
    /// are added, changed ones updated, missing ones deleted. Apps owned by
    /// another source are left alone and reported as conflicts.
    pub fn replace_source_apps(&self, source: &str, apps: Vec<DesiredApp>) -> Result<ReplaceOutcome, StoreError> {
        let _guard = self.lock_apps();
        let now = now_unix();
        let mut existing: BTreeMap<String, DesiredApp> = BTreeMap::new();
        for app in self.list_apps()? {
            existing.insert(app.key(), app);
        }
        let mut outcome = ReplaceOutcome::default();
        let mut batch = sled::Batch::default();
        let mut wanted = BTreeSet::new();
        for mut app in apps {
            app.source = source.to_string();
            let key = app.key();
            let prev = existing.get(&key);
            if let Some(prev) = prev
                && prev.source != source
            {
                outcome.conflicts.push(format!(
                    "app {key} is owned by source {}; {source} does not take it over",
                    prev.source
                ));
                continue;
            }
            wanted.insert(key.clone());
            if app.stamp(prev, now) {
                batch.insert(key.as_bytes(), to_json("apps", &key, &app)?);
                if prev.is_some() {
                    outcome.updated.push(key);
                } else {
                    outcome.added.push(key);
                }
            }
        }
        for (key, app) in &existing {
            if app.source == source && !wanted.contains(key) {
                batch.remove(key.as_bytes());
                outcome.removed.push(key.clone());
            }
        }
        if outcome.changed() {
            self.inner.apps.apply_batch(batch)?;
            self.inner.apps.flush()?;
            self.changed();
        }
        Ok(outcome)
    }

    /// Deletes every app whose source is not accepted by `keep` (e.g. a
    /// manifests directory that is no longer configured). Returns the keys.
    pub fn remove_apps_of_sources(&self, keep: impl Fn(&str) -> bool) -> Result<Vec<String>, StoreError> {
        let _guard = self.lock_apps();
        let mut batch = sled::Batch::default();
        let mut removed = Vec::new();
        for app in self.list_apps()? {
            if !keep(&app.source) {
                let key = app.key();
                batch.remove(key.as_bytes());
                removed.push(key);
            }
        }
        if !removed.is_empty() {
            self.inner.apps.apply_batch(batch)?;
            self.inner.apps.flush()?;
            self.changed();
        }
        Ok(removed)
    }

    // ---- tasks ---------------------------------------------------------

    /// Stores a task as observed, replacing what was known of it.
    pub fn upsert_task(&self, task: &Task) -> Result<(), StoreError> {
        let bytes = task.encode_to_vec();
        let prev = self.inner.tasks.insert(task.task_id.as_bytes(), bytes.as_slice())?;
        if prev.as_deref() != Some(bytes.as_slice()) {
            self.changed();
        }
        Ok(())
    }

    /// Stores a task unless one with its id is already known (the agent's
    /// own report wins over a local expectation). Returns whether it was
    /// stored.
    pub fn insert_task_if_absent(&self, task: &Task) -> Result<bool, StoreError> {
        let res = self.inner.tasks.compare_and_swap(
            task.task_id.as_bytes(),
            None as Option<&[u8]>,
            Some(task.encode_to_vec()),
        )?;
        let stored = res.is_ok();
        if stored {
            self.changed();
        }
        Ok(stored)
    }

    /// Replaces `old` with `new` (or removes it when `new` is `None`) only if
    /// the stored task is still exactly `old`. Returns whether it did.
    pub fn replace_task_if_unchanged(&self, old: &Task, new: Option<&Task>) -> Result<bool, StoreError> {
        let res = self.inner.tasks.compare_and_swap(
            old.task_id.as_bytes(),
            Some(old.encode_to_vec()),
            new.map(|t| t.encode_to_vec()),
        )?;
        let done = res.is_ok();
        if done {
            self.changed();
        }
        Ok(done)
    }

    /// One task by id.
    pub fn get_task(&self, task_id: &str) -> Result<Option<Task>, StoreError> {
        match self.inner.tasks.get(task_id.as_bytes())? {
            Some(v) => Ok(Some(decode_task(task_id.as_bytes(), &v)?)),
            None => Ok(None),
        }
    }

    /// All tasks, in id order.
    pub fn list_tasks(&self) -> Result<Vec<Task>, StoreError> {
        self.inner
            .tasks
            .iter()
            .map(|r| {
                let (k, v) = r?;
                decode_task(&k, &v)
            })
            .collect()
    }

    /// The tasks of one app.
    pub fn tasks_for_app(&self, namespace: &str, name: &str) -> Result<Vec<Task>, StoreError> {
        // Ids are `<ns>.<app>.<rev>.<unique>` and namespaces and names are
        // DNS-1123 labels (no dots), so a prefix scan finds them; the fields
        // are checked too.
        let prefix = format!("{namespace}.{name}.");
        let mut out = Vec::new();
        for r in self.inner.tasks.scan_prefix(prefix.as_bytes()) {
            let (k, v) = r?;
            let task = decode_task(&k, &v)?;
            if task.namespace == namespace && task.app == name {
                out.push(task);
            }
        }
        Ok(out)
    }

    /// Forgets a task. Returns whether it was known.
    pub fn remove_task(&self, task_id: &str) -> Result<bool, StoreError> {
        let existed = self.inner.tasks.remove(task_id.as_bytes())?.is_some();
        if existed {
            self.changed();
        }
        Ok(existed)
    }

    /// Replaces all tasks with the agent's snapshot, atomically. Local launch
    /// expectations younger than the expectation TTL that the snapshot does
    /// not contain are kept (the snapshot may predate the launch).
    pub fn replace_tasks(&self, snapshot: &[Task], now: f64) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        let ids: BTreeSet<&str> = snapshot.iter().map(|t| t.task_id.as_str()).collect();
        for r in self.inner.tasks.iter() {
            let (k, v) = r?;
            let key = String::from_utf8_lossy(&k).into_owned();
            if ids.contains(key.as_str()) {
                continue;
            }
            let keep = match decode_task(&k, &v) {
                Ok(t) => is_fresh_expectation(&t, now),
                Err(_) => false,
            };
            if !keep {
                batch.remove(k);
            }
        }
        for task in snapshot {
            batch.insert(task.task_id.as_bytes(), task.encode_to_vec());
        }
        self.inner.tasks.apply_batch(batch)?;
        self.changed();
        Ok(())
    }

    /// Removes terminal tasks unchanged for [`TERMINAL_TASK_RETENTION_SECS`]
    /// and launch expectations the agent never confirmed. Returns how many.
    pub fn prune_tasks(&self, now: f64) -> Result<usize, StoreError> {
        let mut batch = sled::Batch::default();
        let mut n = 0;
        for r in self.inner.tasks.iter() {
            let (k, v) = r?;
            let prune = match decode_task(&k, &v) {
                Ok(t) => {
                    (t.state().is_terminal() && now - t.updated_at > TERMINAL_TASK_RETENTION_SECS)
                        || (t.reason == EXPECTED_REASON && !is_fresh_expectation(&t, now))
                }
                Err(e) => {
                    tracing::warn!(error = %e, "pruning undecodable task record");
                    true
                }
            };
            if prune {
                batch.remove(k);
                n += 1;
            }
        }
        if n > 0 {
            self.inner.tasks.apply_batch(batch)?;
            self.changed();
        }
        Ok(n)
    }

    // ---- status ----------------------------------------------------------

    /// The reconciler's last status of an app.
    pub fn get_status(&self, key: &str) -> Result<Option<AppStatus>, StoreError> {
        match self.inner.status.get(key.as_bytes())? {
            Some(v) => Ok(Some(from_json("status", key.as_bytes(), &v)?)),
            None => Ok(None),
        }
    }

    /// Writes an app's status if it changed. Does not wake the reconciler.
    /// Returns whether it changed.
    pub fn set_status(&self, key: &str, status: &AppStatus) -> Result<bool, StoreError> {
        if self.get_status(key)?.as_ref() == Some(status) {
            return Ok(false);
        }
        self.inner
            .status
            .insert(key.as_bytes(), to_json("status", key, status)?)?;
        Ok(true)
    }

    /// Forgets an app's status.
    pub fn delete_status(&self, key: &str) -> Result<(), StoreError> {
        self.inner.status.remove(key.as_bytes())?;
        Ok(())
    }

    /// Keys of all stored statuses.
    pub fn status_keys(&self) -> Result<Vec<String>, StoreError> {
        self.inner
            .status
            .iter()
            .keys()
            .map(|k| Ok(String::from_utf8_lossy(&k?).into_owned()))
            .collect()
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

    /// Records a successful load of `name` owning `apps` apps; clears its
    /// error.
    pub fn set_source_ok(&self, name: &str, apps: usize) -> Result<(), StoreError> {
        let mut rec = self.get_source(name)?.unwrap_or_default();
        rec.name = name.to_string();
        rec.last_error = None;
        rec.last_error_at = None;
        rec.last_success_at = Some(now_unix());
        rec.apps = apps;
        self.inner
            .sources
            .insert(name.as_bytes(), to_json("sources", name, &rec)?)?;
        Ok(())
    }

    /// Records a failed load of `name`; its desired apps are left alone.
    pub fn set_source_error(&self, name: &str, error: &str) -> Result<(), StoreError> {
        let mut rec = self.get_source(name)?.unwrap_or_default();
        rec.name = name.to_string();
        rec.last_error = Some(error.to_string());
        rec.last_error_at = Some(now_unix());
        self.inner
            .sources
            .insert(name.as_bytes(), to_json("sources", name, &rec)?)?;
        Ok(())
    }

    /// Forgets a source's record.
    pub fn delete_source(&self, name: &str) -> Result<(), StoreError> {
        self.inner.sources.remove(name.as_bytes())?;
        Ok(())
    }
}

/// A local launch expectation (stored right after a Launch RPC) that the
/// agent has not reported on yet, and that is still young enough to trust.
pub fn is_fresh_expectation(task: &Task, now: f64) -> bool {
    task.reason == EXPECTED_REASON
        && task.state() == TaskState::Pending
        && now - task.updated_at <= EXPECTATION_TTL_SECS
}

#[cfg(test)]
mod tests {
    use super::*;
    use sextant_api::AppSpec;

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

    fn task(id: &str, ns: &str, name: &str, state: TaskState, updated_at: f64) -> Task {
        Task {
            task_id: id.to_string(),
            namespace: ns.to_string(),
            app: name.to_string(),
            revision: "r1".to_string(),
            state: state as i32,
            updated_at,
            created_at: updated_at,
            ..Default::default()
        }
    }

    #[test]
    fn apps_roundtrip_and_persist_across_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = Store::open(dir.path()).expect("open");
            store.put_app(desired("default", "web", 2)).expect("put");
            store.set_source_error("dir:/m", "a.yaml:1:1: spec: bad").expect("err");
            store
                .upsert_task(&task("default.web.r1.a", "default", "web", TaskState::Running, 1.0))
                .expect("task");
            store
                .set_status(
                    "default/web",
                    &AppStatus {
                        running: 1,
                        ..Default::default()
                    },
                )
                .expect("status");
            store.flush().expect("flush");
        }
        let store = Store::open(dir.path()).expect("reopen");
        let got = store.get_app("default", "web").expect("get").expect("present");
        assert_eq!(got.app.spec.instances, 2);
        assert_eq!(got.generation, 1);
        assert!(got.app.metadata.creation_timestamp.is_some());
        assert_eq!(got.source, "dir:/m");
        assert_eq!(store.list_tasks().expect("tasks").len(), 1);
        assert_eq!(
            store.get_status("default/web").expect("status").map(|s| s.running),
            Some(1)
        );
        let src = store.get_source("dir:/m").expect("src").expect("present");
        assert_eq!(src.last_error.as_deref(), Some("a.yaml:1:1: spec: bad"));
        store.set_source_ok("dir:/m", 1).expect("ok");
        let src = store.get_source("dir:/m").expect("src").expect("present");
        assert_eq!(src.last_error, None);
        assert_eq!(src.apps, 1);
        assert!(store.delete_app("default", "web").expect("delete"));
        assert!(!store.delete_app("default", "web").expect("delete again"));
        assert!(store.get_app("default", "web").expect("get").is_none());
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
        assert_eq!(
            changed.app.metadata.creation_timestamp,
            first.app.metadata.creation_timestamp
        );
    }

    #[test]
    fn replace_source_apps_adds_updates_removes_and_respects_owners() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let mut applied = desired("default", "api", 1);
        applied.source = APPLY_SOURCE.to_string();
        store.put_app(applied).expect("put");

        let out = store
            .replace_source_apps("dir:/m", vec![desired("default", "a", 1), desired("default", "b", 1)])
            .expect("replace");
        assert_eq!(out.added, vec!["default/a", "default/b"]);
        assert!(out.conflicts.is_empty());

        let mut rx = store.subscribe();
        rx.mark_unchanged();
        let out = store
            .replace_source_apps("dir:/m", vec![desired("default", "a", 1), desired("default", "b", 1)])
            .expect("replace same");
        assert!(!out.changed());
        assert!(!rx.has_changed().expect("sender alive"));

        let out = store
            .replace_source_apps("dir:/m", vec![desired("default", "b", 5), desired("default", "api", 1)])
            .expect("replace");
        assert_eq!(out.updated, vec!["default/b"]);
        assert_eq!(out.removed, vec!["default/a"]);
        assert_eq!(out.conflicts.len(), 1);
        assert!(rx.has_changed().expect("sender alive"));

        let keys: Vec<String> = store.list_apps().expect("list").iter().map(DesiredApp::key).collect();
        assert_eq!(keys, vec!["default/api", "default/b"]);
        assert_eq!(
            store.get_app("default", "api").expect("get").expect("present").source,
            APPLY_SOURCE
        );

        let removed = store.remove_apps_of_sources(|s| s == APPLY_SOURCE).expect("remove");
        assert_eq!(removed, vec!["default/b"]);
    }

    #[test]
    fn tasks_upsert_list_by_app_snapshot_and_prune() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let now = 10_000.0;
        store
            .upsert_task(&task("default.web.r1.a", "default", "web", TaskState::Running, now))
            .expect("t");
        store
            .upsert_task(&task("default.webx.r1.b", "default", "webx", TaskState::Running, now))
            .expect("t");
        store
            .upsert_task(&task("other.web.r1.c", "other", "web", TaskState::Running, now))
            .expect("t");
        assert_eq!(store.tasks_for_app("default", "web").expect("by app").len(), 1);
        assert_eq!(store.list_tasks().expect("list").len(), 3);

        // A local expectation survives a snapshot that predates it.
        let mut expected = task("default.web.r1.new", "default", "web", TaskState::Pending, now);
        expected.reason = EXPECTED_REASON.to_string();
        assert!(store.insert_task_if_absent(&expected).expect("insert"));
        assert!(!store.insert_task_if_absent(&expected).expect("insert again"));
        store
            .replace_tasks(
                &[task("default.web.r1.a", "default", "web", TaskState::Killed, now)],
                now + 1.0,
            )
            .expect("snapshot");
        let ids: Vec<String> = store
            .list_tasks()
            .expect("list")
            .into_iter()
            .map(|t| t.task_id)
            .collect();
        assert_eq!(ids, vec!["default.web.r1.a", "default.web.r1.new"]);

        // Compare-and-swap only applies to an unchanged task.
        let stale = task("default.web.r1.a", "default", "web", TaskState::Running, now);
        assert!(!store.replace_task_if_unchanged(&stale, None).expect("cas"));

        // Much later: the terminal task and the unconfirmed expectation go.
        assert_eq!(store.prune_tasks(now + 10_000.0).expect("prune"), 2);
        assert!(store.list_tasks().expect("list").is_empty());
        assert!(!store.remove_task("default.web.r1.a").expect("remove"));
    }
}
