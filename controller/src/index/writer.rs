//! The index writer: the one task that applies events to the index, and
//! enqueues exactly the apps each event concerns. Events come from the
//! agent's task stream (through `agent_link`) and from the journal, which
//! announces the keys of desired apps a source changed (a source writes
//! the journal first, so desired state is durable before it is acted on).

use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

use super::journal::JournalWriter;
use super::{AppTasks, Index, State};
use crate::events::{Events, NewEvent};
use crate::observed::{ObservedTask, TaskState, state_name};
use crate::queue::WorkQueue;
use crate::store::{SourceStatus, Store, StoreChange, StoreError, TERMINAL_TASK_RETENTION_SECS};

/// What the agent's task stream says.
#[derive(Clone, Debug)]
pub enum IndexEvent {
    /// A complete snapshot: every task the agent knows.
    Snapshot(Vec<ObservedTask>),
    /// One task changed.
    Task(Box<ObservedTask>),
    /// The agent's link to Mesos.
    Mesos {
        /// Subscribed right now.
        connected: bool,
        /// Unix seconds of the last change.
        since: f64,
        /// Why not connected.
        message: String,
    },
    /// The stream to the agent broke: the view is the last known until
    /// the next snapshot.
    AgentLost,
    /// Drop ended tasks older than the retention, as of this Unix time.
    Prune(f64),
}

/// Fills an index from the journal. Tasks are the last known until the
/// agent's snapshot arrives. Returns the records skipped, in words.
pub fn load(index: &Index, store: &Store, agent_url: &str) -> Result<Vec<String>, StoreError> {
    let contents = store.load()?;
    index.write(|s| {
        for app in contents.apps {
            s.apps.insert(app.key(), Arc::new(app));
        }
        for t in contents.tasks {
            let mut t = ObservedTask::from(t);
            t.intern(&mut s.strings);
            Arc::make_mut(s.tasks.entry(t.app_key()).or_default()).push(t);
            s.task_count += 1;
        }
        for tasks in s.tasks.values_mut() {
            let tasks = Arc::make_mut(tasks);
            tasks.sort_by(|a, b| a.id.cmp(&b.id));
            tasks.shrink_to_fit();
        }
        let keys: Vec<String> = s.apps.keys().cloned().collect();
        for key in keys {
            super::views::refresh(s, &key);
        }
        for (key, history) in contents.histories {
            s.histories.insert(key, Arc::new(history));
        }
        for source in contents.sources {
            s.sources.insert(source.name.clone(), source);
        }
        Arc::make_mut(&mut s.agent).url = agent_url.to_string();
    });
    Ok(contents.skipped)
}

/// The writer's parts.
#[derive(Debug, Clone)]
pub struct Writer {
    /// The index it writes.
    pub index: Index,
    /// Where desired apps are read from when the journal announces them.
    pub store: Store,
    /// Where task changes are written behind.
    pub journal: JournalWriter,
    /// Where the keys concerned go.
    pub queue: WorkQueue,
    /// Where what happened is told.
    pub events: Events,
}

impl Writer {
    /// Applies events until both channels close or shutdown.
    pub async fn run(
        self,
        mut events: mpsc::Receiver<IndexEvent>,
        mut changes: mpsc::UnboundedReceiver<StoreChange>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        loop {
            tokio::select! {
                _ = shutdown.wait_for(|s| *s) => return,
                e = events.recv() => match e {
                    Some(e) => self.apply(e),
                    None => return,
                },
                c = changes.recv() => match c {
                    Some(c) => self.apply_change(c),
                    None => return,
                },
            }
        }
    }

    /// Applies one event from the agent's stream.
    pub fn apply(&self, event: IndexEvent) {
        match event {
            IndexEvent::Task(t) => {
                let key = t.app_key();
                if let Some((t, before)) = self.index.write(|s| upsert(s, *t)) {
                    self.journal.task(&t.id, Some(&t));
                    self.queue.enqueue(&key);
                    if before != Some(t.state) {
                        self.task_event(&key, &t);
                    }
                }
            }
            IndexEvent::Snapshot(tasks) => {
                let n = tasks.len();
                let vanished = self.index.write(|s| replace(s, tasks));
                self.index
                    .read(|s| self.journal.replace_tasks(s.tasks.values().flat_map(|t| t.iter())));
                info!(tasks = n, "agent task snapshot applied");
                self.queue.enqueue_all(vanished);
                self.enqueue_everything();
            }
            IndexEvent::Mesos {
                connected,
                since,
                message,
            } => {
                let changed = self.index.write(|s| {
                    let agent = Arc::make_mut(&mut s.agent);
                    let changed = agent.mesos_connected != connected;
                    agent.mesos_connected = connected;
                    agent.since = since;
                    agent.message = message;
                    changed
                });
                if changed {
                    if connected {
                        info!("the agent is connected to Mesos");
                    } else {
                        warn!("the agent lost Mesos; acting on nothing until it is back");
                    }
                    self.enqueue_everything();
                }
            }
            IndexEvent::AgentLost => {
                let was = self.index.write(|s| {
                    // What the agent said of Mesos is not known any more either.
                    let agent = Arc::make_mut(&mut s.agent);
                    agent.mesos_connected = false;
                    agent.message.clear();
                    std::mem::replace(&mut agent.synced, false)
                });
                if was {
                    self.enqueue_everything();
                }
            }
            IndexEvent::Prune(now) => {
                let gone = self.index.write(|s| prune(s, now));
                for id in &gone {
                    self.journal.task(id, None);
                }
            }
        }
    }

    /// Applies one journal announcement.
    pub fn apply_change(&self, change: StoreChange) {
        match change {
            StoreChange::Apps(keys) => {
                for key in keys {
                    match self.store.get_app_by_key(&key) {
                        Ok(Some(app)) => {
                            let (what, source) = (desired_change(&app), app.source.clone());
                            let before = self.index.write(|s| {
                                let before = s.apps.insert(key.clone(), Arc::new(app));
                                super::views::refresh(s, &key);
                                before
                            });
                            let reason = if before.is_some() { "updated" } else { "created" };
                            self.desired_event(&key, &source, reason, format!("app {key} {reason} by {source}{what}"));
                        }
                        Ok(None) => {
                            let before = self.index.write(|s| {
                                let before = s.apps.remove(&key);
                                super::views::refresh(s, &key);
                                before
                            });
                            if let Some(b) = before {
                                let message = format!("app {key} removed by {}; its tasks will be killed", b.source);
                                self.desired_event(&key, &b.source, "removed", message);
                            }
                        }
                        Err(e) => {
                            warn!(app = %key, error = %e, "cannot read a desired app from the journal; keeping the last good one");
                            continue;
                        }
                    }
                    self.queue.enqueue(&key);
                }
            }
            StoreChange::Source(name) => {
                let rec = match self.store.get_source(&name) {
                    Ok(rec) => rec,
                    Err(e) => {
                        warn!(source = %name, error = %e, "cannot read a source record");
                        return;
                    }
                };
                // The apps' `Synced` condition follows the record: look at
                // the source's apps again when what it says of them changed.
                let apps = self.index.write(|s| {
                    let same = same_sync_facts(s.sources.get(&name), rec.as_ref());
                    if !same && let Some(rec) = &rec {
                        self.sync_event(rec);
                    }
                    match rec {
                        Some(rec) => s.sources.insert(name.clone(), rec),
                        None => s.sources.remove(&name),
                    };
                    if same {
                        return Vec::new();
                    }
                    s.apps
                        .iter()
                        .filter(|(_, a)| a.source == name)
                        .map(|(k, _)| k.clone())
                        .collect()
                });
                self.queue.enqueue_all(apps);
            }
        }
    }

    fn task_event(&self, key: &str, t: &ObservedTask) {
        let mut message = format!("task {} is {}", t.id, state_name(t.state));
        if !t.reason.is_empty() {
            message.push_str(&format!(" ({})", t.reason));
        }
        if !t.message.is_empty() {
            message.push_str(&format!(": {}", t.message));
        }
        self.events.emit(NewEvent {
            kind: "task",
            app: Some(key.to_string()),
            task: Some(t.id.clone()),
            reason: state_name(t.state).to_string(),
            message,
            ..NewEvent::default()
        });
    }

    fn desired_event(&self, key: &str, source: &str, reason: &str, message: String) {
        self.events.emit(NewEvent {
            kind: "desired",
            app: Some(key.to_string()),
            source: Some(source.to_string()),
            reason: reason.to_string(),
            message,
            ..NewEvent::default()
        });
    }

    fn sync_event(&self, rec: &SourceStatus) {
        let commit = rec
            .commit
            .as_ref()
            .map(|c| {
                format!(
                    " at commit {} \"{}\"",
                    crate::source::plan::short_sha(&c.sha),
                    c.subject
                )
            })
            .unwrap_or_default();
        let (reason, message) = match (&rec.refused, rec.problems.len(), &rec.last_error) {
            (Some(why), _, _) => ("refused", why.clone()),
            (None, 0, Some(error)) => ("failing", error.clone()),
            (None, n @ 1.., _) => (
                "problems",
                format!(
                    "{} synced{commit} with {n} problem(s); their apps keep their last good version: {}",
                    rec.name,
                    rec.last_error.as_deref().unwrap_or_default()
                ),
            ),
            (None, _, None) => ("synced", format!("{} synced{commit}, {} apps", rec.name, rec.apps)),
        };
        self.events.emit(NewEvent {
            kind: "sync",
            source: Some(rec.name.clone()),
            reason: reason.to_string(),
            message,
            ..NewEvent::default()
        });
    }

    fn enqueue_everything(&self) {
        self.queue.enqueue_all(self.index.keys());
    }
}

/// Whether two versions of a source's record say the same to the `Synced`
/// condition of its apps.
fn same_sync_facts(a: Option<&SourceStatus>, b: Option<&SourceStatus>) -> bool {
    let facts = |r: &SourceStatus| {
        (
            r.problems.clone(),
            r.refused.clone(),
            r.unpruned.clone(),
            r.last_error.clone(),
            r.commit.as_ref().map(|c| c.sha.clone()),
        )
    };
    a.map(facts) == b.map(facts)
}

/// Stores one task update, and says the state it had (`None`: new);
/// `None` when nothing changed.
fn upsert(s: &mut State, mut t: ObservedTask) -> Option<(ObservedTask, Option<TaskState>)> {
    t.intern(&mut s.strings);
    let entry = s.tasks.entry(t.app_key()).or_default();
    let before = match entry.binary_search_by(|x| x.id.cmp(&t.id)) {
        Ok(i) => {
            t.keep_history_of(&entry[i]);
            if entry[i] == t {
                return None;
            }
            let before = entry[i].state;
            Arc::make_mut(entry)[i] = t.clone();
            Some(before)
        }
        Err(i) => {
            Arc::make_mut(entry).insert(i, t.clone());
            s.task_count += 1;
            None
        }
    };
    Some((t, before))
}

/// What a desired app's event says of it.
fn desired_change(app: &crate::desired::DesiredApp) -> String {
    let mut what = format!(" (generation {}, revision {}", app.generation, app.revision);
    if let Some(c) = &app.commit {
        what.push_str(&format!(", commit {}", crate::source::plan::short_sha(&c.sha)));
    }
    what.push(')');
    what
}

/// Replaces every task with a snapshot; returns the keys of apps that had
/// tasks before and have none now (no other event will name them).
fn replace(s: &mut State, tasks: Vec<ObservedTask>) -> Vec<String> {
    let old = std::mem::take(&mut s.tasks);
    s.task_count = 0;
    for mut t in tasks {
        t.intern(&mut s.strings);
        let key = t.app_key();
        if let Some(prev) = old
            .get(&key)
            .and_then(|m| m.binary_search_by(|x| x.id.cmp(&t.id)).ok().map(|i| &m[i]))
        {
            t.keep_history_of(prev);
        }
        let entry: &mut Arc<AppTasks> = s.tasks.entry(key).or_default();
        Arc::make_mut(entry).push(t);
        s.task_count += 1;
    }
    for tasks in s.tasks.values_mut() {
        let tasks = Arc::make_mut(tasks);
        tasks.sort_by(|a, b| a.id.cmp(&b.id));
        tasks.dedup_by(|a, b| a.id == b.id);
        // Grown one push at a time: up to twice the room it needs.
        tasks.shrink_to_fit();
    }
    Arc::make_mut(&mut s.agent).synced = true;
    let vanished = old.into_keys().filter(|k| !s.tasks.contains_key(k)).collect();
    s.strings.prune();
    vanished
}

/// Drops ended tasks unchanged for the retention; returns their ids.
fn prune(s: &mut State, now: f64) -> Vec<String> {
    let mut gone = Vec::new();
    s.tasks.retain(|_, tasks| {
        let stale = |t: &ObservedTask| !t.is_live() && now - t.updated_at > TERMINAL_TASK_RETENTION_SECS;
        if tasks.iter().any(stale) {
            let m = Arc::make_mut(tasks);
            gone.extend(m.iter().filter(|t| stale(t)).map(|t| t.id.clone()));
            m.retain(|t| !stale(t));
        }
        !tasks.is_empty()
    });
    s.task_count -= gone.len().min(s.task_count);
    s.strings.prune();
    gone
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::DesiredApp;
    use crate::observed::TaskState;
    use sextant_api::{App, AppSpec};

    fn task(app: &str, n: u32, state: TaskState, running_since: f64) -> ObservedTask {
        ObservedTask::from(sextant_api::proto::Task {
            task_id: format!("default.{app}.0a1b.{n:04}"),
            namespace: "default".into(),
            app: app.into(),
            revision: "0a1b".into(),
            state: state as i32,
            running_since,
            updated_at: running_since,
            ..Default::default()
        })
    }

    fn writer() -> (Writer, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let w = Writer {
            index: Index::default(),
            journal: JournalWriter::new(store.clone()),
            store,
            queue: WorkQueue::new(),
            events: Events::default(),
        };
        (w, dir)
    }

    /// Guards "a task update costs the tasks of one app": only the app the
    /// task belongs to is enqueued, and an unchanged update enqueues none.
    #[tokio::test]
    async fn a_task_update_enqueues_only_its_app() {
        let (w, _dir) = writer();
        w.apply(IndexEvent::Snapshot(vec![
            task("a", 1, TaskState::Running, 10.0),
            task("b", 1, TaskState::Running, 10.0),
        ]));
        while let Ok(Some(lease)) = tokio::time::timeout(std::time::Duration::from_millis(10), w.queue.next()).await {
            drop(lease);
        }
        w.apply(IndexEvent::Task(Box::new(task("a", 1, TaskState::Killing, 0.0))));
        w.apply(IndexEvent::Task(Box::new(task("b", 1, TaskState::Running, 10.0))));
        assert_eq!(w.queue.len(), 1);
        let lease = w.queue.next().await.expect("a key");
        assert_eq!(lease.key(), "default/a");
        assert_eq!(w.index.read(|s| s.task_count), 2);
    }

    /// Guards availability across an agent restart: a task re-learnt from
    /// reconciliation keeps the time it really started running.
    #[tokio::test]
    async fn a_snapshot_keeps_what_it_cannot_know() {
        let (w, _dir) = writer();
        w.apply(IndexEvent::Snapshot(vec![task("a", 1, TaskState::Running, 10.0)]));
        w.apply(IndexEvent::AgentLost);
        assert!(!w.index.read(|s| s.agent.synced));
        w.apply(IndexEvent::Snapshot(vec![task("a", 1, TaskState::Running, 50.0)]));
        let snap = w.index.app("default/a");
        assert_eq!(snap.tasks[0].running_since, Some(10.0));
        assert!(snap.agent.synced);
    }

    /// Guards the app whose tasks a new snapshot no longer has (say, the
    /// agent restarted and lost them): it is still looked at, or nothing
    /// would replace its tasks or forget it.
    #[tokio::test]
    async fn an_app_missing_from_a_new_snapshot_is_enqueued() {
        let (w, _dir) = writer();
        w.apply(IndexEvent::Snapshot(vec![task("gone", 1, TaskState::Running, 10.0)]));
        while let Ok(Some(lease)) = tokio::time::timeout(std::time::Duration::from_millis(10), w.queue.next()).await {
            drop(lease);
        }
        w.apply(IndexEvent::Snapshot(vec![task("kept", 1, TaskState::Running, 10.0)]));
        let mut keys = Vec::new();
        while let Ok(Some(lease)) = tokio::time::timeout(std::time::Duration::from_millis(10), w.queue.next()).await {
            keys.push(lease.key().to_string());
        }
        keys.sort();
        assert_eq!(keys, vec!["default/gone", "default/kept"]);
    }

    #[tokio::test]
    async fn old_ended_tasks_are_pruned_and_desired_apps_follow_the_journal() {
        let (w, _dir) = writer();
        w.apply(IndexEvent::Snapshot(vec![
            task("a", 1, TaskState::Failed, 0.0),
            task("a", 2, TaskState::Running, 10.0),
        ]));
        w.apply(IndexEvent::Prune(10.0 + TERMINAL_TASK_RETENTION_SECS + 1.0));
        assert_eq!(w.index.app("default/a").tasks.len(), 1);

        let spec: AppSpec = serde_json::from_value(serde_json::json!({"command": "x"})).expect("spec");
        let mut app = App::new("a", spec);
        app.metadata.namespace = Some("default".into());
        w.store
            .put_app(DesiredApp::new(app, "dir:/m", None, None))
            .expect("put");
        w.apply_change(StoreChange::Apps(vec!["default/a".into()]));
        assert!(w.index.app("default/a").desired.is_some());
        w.store.delete_app("default", "a").expect("delete");
        w.apply_change(StoreChange::Apps(vec!["default/a".into()]));
        assert!(w.index.app("default/a").desired.is_none());
    }
}
