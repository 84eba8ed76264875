//! Writing the index behind to the sled journal: task changes
//! are collected in memory and written in one batch per
//! [`FLUSH_INTERVAL`], never on the hot path of an update; the agent's
//! snapshot replaces the task tree whole. A change written twice before a
//! flush is written once. Revision histories are written at once (the
//! flusher is woken) and flushed to disk: a rollout's outcome decides what
//! a restarted controller rolls back to.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sextant_api::proto;
use tokio::sync::{Notify, watch};
use tracing::{debug, error};

use crate::history::RevisionHistory;
use crate::observed::ObservedTask;
use crate::store::{Store, StoreError};

/// How often collected changes are written.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
struct Dirty {
    /// The whole task tree, when a snapshot replaced it.
    replace: Option<Vec<proto::Task>>,
    tasks: HashMap<String, Option<proto::Task>>,
    histories: HashMap<String, Option<Arc<RevisionHistory>>>,
}

/// Records written in one flush past which freed heap is given back.
const TRIM_AFTER_RECORDS: usize = 1000;

/// Collects changes and writes them behind.
#[derive(Debug, Clone)]
pub struct JournalWriter {
    store: Store,
    dirty: Arc<Mutex<Dirty>>,
    /// Wakes the flusher early (a history changed).
    urgent: Arc<Notify>,
}

impl JournalWriter {
    /// A writer over `store`.
    pub fn new(store: Store) -> Self {
        Self {
            store,
            dirty: Arc::default(),
            urgent: Arc::default(),
        }
    }

    fn dirty(&self) -> std::sync::MutexGuard<'_, Dirty> {
        self.dirty.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A task changed (`None`: forgotten). Written after a pending
    /// snapshot, so it wins over it.
    pub fn task(&self, id: &str, task: Option<&ObservedTask>) {
        let encoded = task.map(proto::Task::from);
        self.dirty().tasks.insert(id.to_string(), encoded);
    }

    /// The agent's snapshot replaced every task.
    pub fn replace_tasks<'a>(&self, tasks: impl IntoIterator<Item = &'a ObservedTask>) {
        let all = tasks.into_iter().map(proto::Task::from).collect();
        let mut d = self.dirty();
        d.tasks.clear();
        d.replace = Some(all);
    }

    /// An app's revision history changed (`None`: forgotten): written and
    /// flushed at once, not at the next interval.
    pub fn history(&self, key: &str, history: Option<Arc<RevisionHistory>>) {
        self.dirty().histories.insert(key.to_string(), history);
        self.urgent.notify_one();
    }

    fn is_clean(&self) -> bool {
        let d = self.dirty();
        d.replace.is_none() && d.tasks.is_empty() && d.histories.is_empty()
    }

    /// Writes what was collected (blocking). What a failed write did not
    /// write is kept for the next flush, unless changed again meanwhile.
    pub fn flush(&self) -> Result<(), StoreError> {
        let mut taken = std::mem::take(&mut *self.dirty());
        let result = self.write(&mut taken);
        if result.is_err() {
            let mut d = self.dirty();
            if d.replace.is_none() {
                d.replace = taken.replace.take();
            }
            for (id, t) in taken.tasks {
                d.tasks.entry(id).or_insert(t);
            }
            for (key, h) in taken.histories {
                d.histories.entry(key).or_insert(h);
            }
        }
        result
    }

    /// Writes `d`, emptying each part once it is written.
    fn write(&self, d: &mut Dirty) -> Result<(), StoreError> {
        let records = d.replace.as_ref().map_or(0, Vec::len) + d.tasks.len() + d.histories.len();
        if let Some(all) = &d.replace {
            self.store.replace_tasks(all)?;
            d.replace = None;
        }
        if !d.tasks.is_empty() {
            self.store.write_tasks(&d.tasks)?;
            d.tasks.clear();
        }
        if !d.histories.is_empty() {
            self.store.write_histories(&d.histories)?;
            d.histories.clear();
            self.store.flush()?;
        }
        if records >= TRIM_AFTER_RECORDS {
            give_back_memory();
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
                _ = self.urgent.notified() => false,
                _ = shutdown.wait_for(|s| *s) => true,
            };
            if self.is_clean() && !stopping {
                continue;
            }
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

/// Returns freed heap to the system: glibc keeps it resident otherwise,
/// and the controller's resident size would stay at the peak of its
/// largest write (a snapshot, the first status of every app). Called after
/// large journal writes and at every resync.
pub fn give_back_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free heap pages; it touches no
    // memory the program holds and is safe to call from any thread.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observed::TaskState;

    fn task(id: &str, state: TaskState) -> ObservedTask {
        ObservedTask::from(proto::Task {
            task_id: id.into(),
            namespace: "default".into(),
            app: "web".into(),
            revision: "r1".into(),
            state: state as i32,
            ..Default::default()
        })
    }

    fn ids(store: &Store) -> Vec<(String, i32)> {
        store
            .load()
            .expect("load")
            .tasks
            .into_iter()
            .map(|t| (t.task_id, t.state))
            .collect()
    }

    #[test]
    fn changes_are_written_behind_and_after_a_snapshot() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let journal = JournalWriter::new(store.clone());
        journal.task("a", Some(&task("a", TaskState::Running)));
        assert!(ids(&store).is_empty(), "nothing on the hot path");
        journal.flush().expect("flush");
        assert_eq!(ids(&store), vec![("a".into(), TaskState::Running as i32)]);

        // A snapshot, then an update that came after it.
        journal.replace_tasks(&[task("b", TaskState::Staging)]);
        journal.task("b", Some(&task("b", TaskState::Running)));
        journal.history("default/web", Some(Arc::new(RevisionHistory::default())));
        journal.flush().expect("flush");
        assert_eq!(ids(&store), vec![("b".into(), TaskState::Running as i32)]);
        let histories = store.load().expect("load").histories;
        assert_eq!(histories.len(), 1, "the history is written too");
    }
}
