//! The in-memory index: desired apps, observed tasks (by app), statuses
//! and revision histories, and the agent link. Readers (the reconciler, the
//! HTTP API) take cheap snapshots: `Arc`s cloned under a short read lock.
//!
//! Writers: the index writer task (`writer.rs`) alone applies events from
//! the sources (through the journal) and from the agent's task stream;
//! an app's status and history are written by that app's reconcile, of
//! which there is one at a time per app (the work queue's promise). The
//! journal is written behind (`journal.rs`).

pub mod journal;
pub mod views;
pub mod writer;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use sextant_api::AppStatus;

use crate::desired::DesiredApp;
use crate::history::RevisionHistory;
use crate::observed::{Interner, ObservedTask};
use crate::reconcile::{AgentLink, Synced};
use crate::store::SourceStatus;

/// One app's tasks, sorted by task id (a slice is what reconcile reads).
pub type AppTasks = Vec<ObservedTask>;

/// What the index holds.
#[derive(Debug, Default)]
pub struct State {
    /// Desired apps by key.
    pub apps: HashMap<String, Arc<DesiredApp>>,
    /// Observed tasks by app key.
    pub tasks: HashMap<String, Arc<AppTasks>>,
    /// Statuses by app key.
    pub statuses: HashMap<String, Arc<AppStatus>>,
    /// Revision histories by app key.
    pub histories: HashMap<String, Arc<RevisionHistory>>,
    /// Source records by name.
    pub sources: BTreeMap<String, SourceStatus>,
    /// The agent link (shared by every snapshot; changed copy-on-write).
    pub agent: Arc<AgentLink>,
    /// Tasks in `tasks`, all apps.
    pub task_count: usize,
    /// The API's app list, serialized per app, in list order, each entry
    /// with what the list's filters read.
    pub views: BTreeMap<views::ViewKey, views::Entry>,
    /// Strings the tasks share (namespaces, apps, revisions, nodes).
    pub strings: Interner,
}

/// A consistent view of one app, for its reconcile.
#[derive(Clone, Debug)]
pub struct AppSnapshot {
    /// The desired object, if desired.
    pub desired: Option<Arc<DesiredApp>>,
    /// Its tasks.
    pub tasks: Arc<AppTasks>,
    /// Its history.
    pub history: Arc<RevisionHistory>,
    /// Its last status.
    pub status: Option<Arc<AppStatus>>,
    /// The agent link.
    pub agent: Arc<AgentLink>,
    /// Whether its source applied its latest definition.
    pub synced: Option<Synced>,
}

/// The shared index. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Index {
    state: Arc<RwLock<State>>,
}

impl Index {
    /// Reads under the lock. Keep `f` short: writers wait for it.
    pub fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        let guard = self.state.read().unwrap_or_else(|e| e.into_inner());
        f(&guard)
    }

    /// Changes under the lock.
    pub(crate) fn write<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut guard = self.state.write().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }

    /// One app's view.
    pub fn app(&self, key: &str) -> AppSnapshot {
        self.read(|s| AppSnapshot {
            synced: s
                .apps
                .get(key)
                .map(|d| crate::source::sync::synced(d, s.sources.get(&d.source))),
            desired: s.apps.get(key).cloned(),
            tasks: s.tasks.get(key).cloned().unwrap_or_default(),
            history: s.histories.get(key).cloned().unwrap_or_default(),
            status: s.statuses.get(key).cloned(),
            agent: s.agent.clone(),
        })
    }

    /// Every app key the controller has a reason to look at: desired, or
    /// with tasks.
    pub fn keys(&self) -> Vec<String> {
        self.read(|s| {
            let undesired = s.tasks.keys().filter(|k| !s.apps.contains_key(*k));
            s.apps.keys().chain(undesired).cloned().collect()
        })
    }
}
