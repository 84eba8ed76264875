//! `spec.strategy`: how a new revision replaces the old one.
//!
//! Kubernetes Deployment semantics (`maxSurge`, `maxUnavailable`,
//! `minReadySeconds`, `progressDeadlineSeconds`) with Aurora's failure
//! handling (`failureBudget`, `autoRollback`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::int_or_string::IntOrString;

/// A rolling update: new tasks are started and old ones killed within the
/// surge and unavailability budgets; a task counts as available once it is
/// running, healthy and has been so for `minReadySeconds`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Strategy {
    /// How many tasks may run above `instances` during a rollout: an
    /// integer or a percentage of `instances` (`"25%"`), rounded up.
    /// Default `"25%"`.
    #[serde(default = "default_budget")]
    pub max_surge: IntOrString,
    /// How many of `instances` may be unavailable during a rollout: an
    /// integer or a percentage of `instances`, rounded down. Not 0 together
    /// with `maxSurge` 0. Default `"25%"`.
    #[serde(default = "default_budget")]
    pub max_unavailable: IntOrString,
    /// Seconds a new task must be running and healthy before it counts as
    /// available. Default 0.
    #[serde(default)]
    pub min_ready_seconds: u32,
    /// Seconds a rollout may go without progress before it is marked failed
    /// (and rolled back when `autoRollback` is set); greater than
    /// `minReadySeconds`. Default 600.
    #[serde(default = "default_progress_deadline")]
    pub progress_deadline_seconds: u32,
    /// Roll back to the last revision that completed a rollout when this one
    /// fails. Default true.
    #[serde(default = "default_true")]
    pub auto_rollback: bool,
    /// Tasks of the new revision that may fail (exit, be killed unhealthy,
    /// or be lost) before the rollout is marked failed. Default 3.
    #[serde(default = "default_failure_budget")]
    pub failure_budget: u32,
}

/// Default of `maxSurge` and `maxUnavailable`.
pub const DEFAULT_BUDGET: &str = "25%";
/// Default of `progressDeadlineSeconds`.
pub const DEFAULT_PROGRESS_DEADLINE_SECONDS: u32 = 600;
/// Default of `failureBudget`.
pub const DEFAULT_FAILURE_BUDGET: u32 = 3;

impl Default for Strategy {
    fn default() -> Self {
        Self {
            max_surge: default_budget(),
            max_unavailable: default_budget(),
            min_ready_seconds: 0,
            progress_deadline_seconds: default_progress_deadline(),
            auto_rollback: true,
            failure_budget: default_failure_budget(),
        }
    }
}

impl Strategy {
    /// `(surge, unavailable)` for an app of `instances` tasks, by the
    /// Kubernetes rule: a percentage of surge rounds up, of unavailability
    /// down; if both come to 0, unavailable is 1 so the rollout can move.
    /// Values validation rejects (negative, not a percentage) count as 0.
    pub fn resolve(&self, instances: u32) -> (u32, u32) {
        let surge = self.max_surge.scaled(instances, true).unwrap_or(0);
        let unavailable = self.max_unavailable.scaled(instances, false).unwrap_or(0);
        if surge == 0 && unavailable == 0 {
            (0, 1)
        } else {
            (surge, unavailable)
        }
    }
}

fn default_budget() -> IntOrString {
    IntOrString::String(DEFAULT_BUDGET.to_string())
}
fn default_progress_deadline() -> u32 {
    DEFAULT_PROGRESS_DEADLINE_SECONDS
}
fn default_true() -> bool {
    true
}
fn default_failure_budget() -> u32 {
    DEFAULT_FAILURE_BUDGET
}

#[cfg(test)]
mod tests {
    use super::{IntOrString, Strategy};
    use proptest::prelude::{prop_assert, proptest};

    fn strategy(surge: IntOrString, unavailable: IntOrString) -> Strategy {
        Strategy {
            max_surge: surge,
            max_unavailable: unavailable,
            ..Strategy::default()
        }
    }

    #[test]
    fn resolves_like_kubernetes() {
        let d = Strategy::default();
        assert_eq!(d.resolve(10), (3, 2));
        assert_eq!(d.resolve(4), (1, 1));
        assert_eq!(d.resolve(1), (1, 0));
        assert_eq!(d.resolve(0), (0, 1));
        let s = strategy(0.into(), "10%".into());
        assert_eq!(s.resolve(5), (0, 1), "both 0 -> unavailable 1");
        assert_eq!(s.resolve(20), (0, 2));
        let s = strategy(2.into(), 0.into());
        assert_eq!(s.resolve(3), (2, 0));
        let s = strategy("100%".into(), "100%".into());
        assert_eq!(s.resolve(7), (7, 7));
        let s = strategy((-1).into(), "x".into());
        assert_eq!(s.resolve(7), (0, 1));
    }

    proptest! {
        #[test]
        fn resolve_never_stalls(surge in 0u32..=200, unavailable in 0u32..=100, instances in 0u32..10_000) {
            let s = strategy(format!("{surge}%").as_str().into(), format!("{unavailable}%").as_str().into());
            let (a, b) = s.resolve(instances);
            prop_assert!(a > 0 || b > 0);
            prop_assert!(b <= instances.max(1));
        }
    }
}
