//! The `simulated` containerizer: tasks without a process, for scale and
//! fault tests. Each task follows its script (`script`): it starts after
//! `start-delay`, reports its scripted health if it has a health check or
//! a `healthy` entry, exits with `exit-code` after `exit-after`, and stops
//! at once when killed (as a process that honours SIGTERM). No sandbox is
//! made, so `/files` has nothing for these tasks.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mesos::types::TaskStatusSource;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::Containerizer;
use super::script::Script;
use crate::executor::{ExecutorCommand, ExecutorEvent, LaunchSpec, Reporter};

/// Message of a scripted health check result.
const SCRIPTED_HEALTH: &str = "simulated health check (localmesos.sim/healthy)";

/// Runs simulated tasks with one node-wide script they start from.
#[derive(Default)]
pub struct SimulatedContainerizer {
    shutting_down: AtomicBool,
}

impl Containerizer for SimulatedContainerizer {
    fn launch(&self, spec: LaunchSpec, report: Reporter) -> Option<mpsc::UnboundedSender<ExecutorCommand>> {
        if self.shutting_down.load(Ordering::SeqCst) {
            return None;
        }
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(spec, rx, report));
        Some(tx)
    }

    fn shutdown(&self, _grace: Duration) -> futures::future::BoxFuture<'_, ()> {
        // Nothing runs: every task stops silently when its command channel
        // closes with the master.
        self.shutting_down.store(true, Ordering::SeqCst);
        Box::pin(std::future::ready(()))
    }

    fn kill_all_now(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

async fn run(spec: LaunchSpec, mut rx: mpsc::UnboundedReceiver<ExecutorCommand>, report: Reporter) {
    let script = match spec.simulation.with_labels(&spec.labels) {
        Ok(script) => script,
        Err(message) => {
            report(ExecutorEvent::Failed {
                message: format!("Failed to launch container: {message}"),
                reason: "REASON_CONTAINER_LAUNCH_FAILED",
                source: TaskStatusSource::SourceAgent,
            });
            return;
        }
    };
    let Script {
        start_delay,
        exit_after,
        exit_code,
        healthy,
    } = script;
    let started = Instant::now() + start_delay.unwrap_or_default();
    let mut start_at = Some(started);
    let mut exit_at: Option<Instant> = None;
    let health = healthy.or(spec.health_check.as_ref().map(|_| true));
    let mut health_at: Option<Instant> = None;
    loop {
        tokio::select! {
            command = rx.recv() => {
                match command {
                    Some(ExecutorCommand::Kill { .. }) => {
                        if start_at.is_none() {
                            report(ExecutorEvent::Killing);
                        }
                        report(ExecutorEvent::Exited {
                            code: None,
                            signal: Some(libc::SIGTERM),
                            killed: true,
                            unhealthy: false,
                        });
                    }
                    // Shutdown, or the master let go of the task.
                    Some(ExecutorCommand::Shutdown { .. }) | None => {}
                }
                return;
            }
            _ = sleep_until_opt(start_at) => {
                start_at = None;
                report(ExecutorEvent::Started { pid: None });
                let now = Instant::now();
                exit_at = exit_after.map(|after| now + after);
                // Health is reported after the check's delay, as the
                // command executor's first probe.
                let delay = spec
                    .health_check
                    .as_ref()
                    .and_then(|c| c.delay_seconds)
                    .and_then(|d| Duration::try_from_secs_f64(d).ok())
                    .unwrap_or_default();
                health_at = health.map(|_| now + delay);
            }
            _ = sleep_until_opt(health_at) => {
                health_at = None;
                if let Some(healthy) = health {
                    report(ExecutorEvent::Health {
                        healthy,
                        message: (!healthy).then(|| SCRIPTED_HEALTH.to_string()),
                    });
                }
            }
            _ = sleep_until_opt(exit_at) => {
                report(ExecutorEvent::Exited {
                    code: Some(exit_code.unwrap_or(0)),
                    signal: None,
                    killed: false,
                    unhealthy: false,
                });
                return;
            }
        }
    }
}
