//! Writing the index behind to the sled journal: task and status changes
//! are collected in memory and written in one batch per
//! [`FLUSH_INTERVAL`], never on the hot path of an update; the agent's
//! snapshot replaces the task tree whole. A change written twice before a
//! flush is written once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sextant_api::AppStatus;
use sextant_api::proto;
use tokio::sync::watch;
use tracing::{debug, error};

use crate::observed::ObservedTask;
use crate::store::{Store, StoreError};

/// How often collected changes are written.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
struct Dirty {
    /// The whole task tree, when a snapshot replaced it.
    replace: Option<Vec<proto::Task>>,
    tasks: HashMap<String, Option<proto::Task>>,
    statuses: HashMap<String, Option<AppStatus>>,
}

/// Collects changes and writes them behind.
#[derive(Debug, Clone)]
pub struct JournalWriter {
    store: Store,
    dirty: Arc<Mutex<Dirty>>,
}

impl JournalWriter {
    /// A writer over `store`.
    pub fn new(store: Store) -> Self {
        Self {
            store,
            dirty: Arc::default(),
        }
    }

    fn dirty(&self) -> std::sync::MutexGuard<'_, Dirty> {
        self.dirty.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A task changed (`None`: forgotten).
    pub fn task(&self, id: &str, task: Option<&ObservedTask>) {
        let encoded = task.map(proto::Task::from);
        let mut d = self.dirty();
        match &mut d.replace {
            Some(all) => {
                all.retain(|t| t.task_id != id);
                all.extend(encoded);
            }
            None => {
                d.tasks.insert(id.to_string(), encoded);
            }
        }
    }

    /// The agent's snapshot replaced every task.
    pub fn replace_tasks<'a>(&self, tasks: impl IntoIterator<Item = &'a ObservedTask>) {
        let all = tasks.into_iter().map(proto::Task::from).collect();
        let mut d = self.dirty();
        d.tasks.clear();
        d.replace = Some(all);
    }

    /// An app's status changed (`None`: forgotten).
    pub fn status(&self, key: &str, status: Option<AppStatus>) {
        self.dirty().statuses.insert(key.to_string(), status);
    }

    /// Writes what was collected (blocking).
    pub fn flush(&self) -> Result<(), StoreError> {
        let Dirty {
            replace,
            tasks,
            statuses,
        } = std::mem::take(&mut *self.dirty());
        if let Some(all) = replace {
            self.store.replace_tasks(&all)?;
        }
        if !tasks.is_empty() {
            let changes: Vec<(String, Option<proto::Task>)> = tasks.into_iter().collect();
            self.store.write_tasks(&changes)?;
        }
        if !statuses.is_empty() {
            let changes: Vec<(String, Option<AppStatus>)> = statuses.into_iter().collect();
            self.store.write_statuses(&changes)?;
        }
        Ok(())
    }

    /// Flushes every [`FLUSH_INTERVAL`] until shutdown, and once more then.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(FLUSH_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let stopping = tokio::select! {
                _ = tick.tick() => false,
                _ = shutdown.wait_for(|s| *s) => true,
            };
            let this = self.clone();
            match tokio::task::spawn_blocking(move || this.flush()).await {
                Ok(Ok(())) => debug!("journal written"),
                Ok(Err(e)) => error!(error = %e, "writing the journal failed; retrying at the next flush"),
                Err(e) => error!(error = %e, "the journal flush task failed"),
            }
            if stopping {
                return;
            }
        }
    }
}
