//! Fetching before launching: a containerizer wrapped so that a task with
//! `CommandInfo.uris` has them fetched into its sandbox (`crate::fetcher`)
//! before the wrapped containerizer starts it, as a Mesos agent runs the
//! fetcher before the executor. A task without URIs goes straight through.
//!
//! A failed fetch ends the task TASK_FAILED (REASON_CONTAINER_LAUNCH_FAILED,
//! from the agent) with Mesos's "Failed to launch container: Failed to
//! fetch all URIs for container '…'" and the URI and the cause; the same
//! text goes to the sandbox's `stderr`. A kill during the fetch stops it
//! and ends the task TASK_KILLED (REASON_TASK_KILLED_DURING_LAUNCH), as an
//! agent kills a task not yet delivered to its executor.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use mesos::types::TaskStatusSource;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tracing::info;

use super::Containerizer;
use crate::executor::{ExecutorCommand, ExecutorEvent, LaunchSpec, Reporter};
use crate::fetcher::Fetcher;

/// `inner`, with the fetcher in front.
pub struct Fetching<C> {
    inner: C,
    shared: Arc<Shared>,
}

struct Shared {
    fetcher: Fetcher,
    /// The fetches under way, by container id, so shutdown can stop them.
    pending: Mutex<HashMap<String, AbortHandle>>,
    shutting_down: AtomicBool,
}

impl Shared {
    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<String, AbortHandle>> {
        self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn stop_all(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        for (_, fetch) in self.pending().drain() {
            fetch.abort();
        }
    }
}

impl<C> Fetching<C> {
    /// The wrapped containerizer.
    pub fn inner(&self) -> &C {
        &self.inner
    }

    pub fn new(inner: C, fetcher: Fetcher) -> Self {
        Self {
            inner,
            shared: Arc::new(Shared {
                fetcher,
                pending: Mutex::new(HashMap::new()),
                shutting_down: AtomicBool::new(false),
            }),
        }
    }
}

impl<C: Containerizer + Clone + 'static> Containerizer for Fetching<C> {
    fn launch(&self, spec: LaunchSpec, report: Reporter) -> Option<mpsc::UnboundedSender<ExecutorCommand>> {
        if spec.command.uris.is_empty() {
            return self.inner.launch(spec, report);
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let mut pending = self.shared.pending();
        if self.shared.shutting_down.load(Ordering::SeqCst) {
            return None;
        }
        let container_id = spec.container_id.clone();
        let fetch = tokio::spawn(fetch_then_launch(
            self.inner.clone(),
            Arc::clone(&self.shared),
            spec,
            report,
            rx,
        ));
        // Inserted under the lock, so the task's own removal comes after.
        pending.insert(container_id, fetch.abort_handle());
        Some(tx)
    }

    fn shutdown(&self, grace: Duration) -> BoxFuture<'_, ()> {
        self.shared.stop_all();
        self.inner.shutdown(grace)
    }

    fn kill_all_now(&self) {
        self.shared.stop_all();
        self.inner.kill_all_now();
    }
}

async fn fetch_then_launch(
    inner: impl Containerizer,
    shared: Arc<Shared>,
    spec: LaunchSpec,
    report: Reporter,
    mut rx: mpsc::UnboundedReceiver<ExecutorCommand>,
) {
    let fetched = tokio::select! {
        fetched = fetch(&shared.fetcher, &spec) => fetched,
        command = rx.recv() => {
            shared.pending().remove(&spec.container_id);
            if let Some(ExecutorCommand::Kill { .. }) = command {
                report(ExecutorEvent::KilledBeforeStart);
            }
            return;
        }
    };
    shared.pending().remove(&spec.container_id);
    if let Err(cause) = fetched {
        let message = format!(
            "Failed to launch container: Failed to fetch all URIs for container '{}': {cause}",
            spec.container_id
        );
        info!(task = %spec.task_id, %message, "fetch failed");
        let _ = tokio::fs::write(spec.sandbox.join("stderr"), format!("{message}\n")).await;
        report(ExecutorEvent::Failed {
            message,
            reason: "REASON_CONTAINER_LAUNCH_FAILED",
            source: TaskStatusSource::SourceAgent,
        });
        return;
    }
    if shared.shutting_down.load(Ordering::SeqCst) {
        return;
    }
    let Some(launched) = inner.launch(spec, report) else {
        return;
    };
    // Commands go on to the launched task; when the master lets go of this
    // channel, dropping `launched` tells the task the same.
    while let Some(command) = rx.recv().await {
        if launched.send(command).is_err() {
            break;
        }
    }
}

async fn fetch(fetcher: &Fetcher, spec: &LaunchSpec) -> Result<(), String> {
    tokio::fs::create_dir_all(&spec.sandbox)
        .await
        .map_err(|e| format!("cannot create the sandbox {}: {e}", spec.sandbox.display()))?;
    fetcher.fetch_all(&spec.command.uris, &spec.sandbox).await
}
