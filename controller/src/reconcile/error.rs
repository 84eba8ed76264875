//! Why an app is not where it should be. Each variant's `category()` is
//! the `Degraded` condition's reason and the metric label.

use sextant_api::TaskSpecError;

/// Why an app is not where it should be.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ReconcileError {
    /// The rollout of the current spec failed; it is not tried again until
    /// the spec changes.
    #[error("{reason}: {message}{}", rolled_back_to.as_ref().map(|r| format!("; rolled back to {r}")).unwrap_or_default())]
    RolloutFailed {
        /// The failed revision.
        revision: String,
        /// `ProgressDeadlineExceeded` or `FailureBudgetExhausted`.
        reason: String,
        /// What happened, in words.
        message: String,
        /// The revision now run instead.
        rolled_back_to: Option<String>,
    },
    /// A spec that does not convert into a task (the loader rejects these,
    /// so only objects that skipped validation get here).
    #[error("cannot launch tasks of revision {revision}: {cause}")]
    InvalidSpec {
        /// The revision.
        revision: String,
        /// The cause.
        cause: TaskSpecError,
    },
    /// Tasks of this revision keep failing; launches wait.
    #[error(
        "{failures} task(s) of this revision failed; {held} launch(es) held for {seconds:.0} s more (spec.restartBackoff)"
    )]
    CrashLoopBackOff {
        /// Failures in the streak.
        failures: usize,
        /// Launches held back.
        held: usize,
        /// Seconds left.
        seconds: f64,
    },
    /// The agent's task snapshot has not arrived: nothing is done on a view
    /// that may be stale.
    #[error("waiting for the task snapshot of the agent at {url}{why}; counts are the last known")]
    AgentUnavailable {
        /// The agent's URL.
        url: String,
        /// What the agent said of Mesos meanwhile, if anything.
        why: String,
    },
    /// The agent has lost Mesos.
    #[error("the agent has lost the Mesos master since {since}: {message}; counts are the last known")]
    MesosDisconnected {
        /// RFC 3339.
        since: String,
        /// Why, as the agent says.
        message: String,
    },
    /// A Launch or Kill the agent refused or did not answer.
    #[error("{message}")]
    AgentCallFailed {
        /// What failed, in words.
        message: String,
    },
}

impl ReconcileError {
    /// A stable one-word name: the condition reason and the metric label.
    pub fn category(&self) -> &'static str {
        match self {
            ReconcileError::RolloutFailed { .. } => "RolloutFailed",
            ReconcileError::InvalidSpec { .. } => "InvalidSpec",
            ReconcileError::CrashLoopBackOff { .. } => "CrashLoopBackOff",
            ReconcileError::AgentUnavailable { .. } => "AgentUnavailable",
            ReconcileError::MesosDisconnected { .. } => "MesosDisconnected",
            ReconcileError::AgentCallFailed { .. } => "AgentCallFailed",
        }
    }
}
