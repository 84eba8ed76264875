//! `spec.strategy` and `spec.restartBackoff`.

use super::Errors;
use crate::app::AppSpec;
use crate::int_or_string::{IntOrString, PercentError};

pub(super) fn strategy(spec: &AppSpec, errs: &mut Errors) {
    let s = &spec.strategy;
    let surge_ok = budget(&s.max_surge, "spec.strategy.maxSurge", false, errs);
    let unavailable_ok = budget(&s.max_unavailable, "spec.strategy.maxUnavailable", true, errs);
    if surge_ok && unavailable_ok && s.max_surge.is_zero() && s.max_unavailable.is_zero() {
        errs.push(
            "spec.strategy.maxUnavailable",
            "must not be 0 when maxSurge is 0: the rollout could never replace a task",
        );
    }
    if s.progress_deadline_seconds <= s.min_ready_seconds {
        errs.push(
            "spec.strategy.progressDeadlineSeconds",
            format!(
                "must be greater than minReadySeconds ({}), or no task could become available in time",
                s.min_ready_seconds
            ),
        );
    }
}

/// Checks `maxSurge` or `maxUnavailable`; whether it is valid.
fn budget(v: &IntOrString, field: &str, at_most_100: bool, errs: &mut Errors) -> bool {
    // Any total: only the form is checked here.
    match v.scaled(100, true) {
        Err(PercentError::Negative) => errs.push(field, format!("must not be negative, found {v}")),
        Err(e @ PercentError::NotAPercentage(_)) => errs.push(field, e.to_string()),
        Ok(pct) if at_most_100 && matches!(v, IntOrString::String(_)) && pct > 100 => {
            errs.push(field, format!("must not be more than 100%, found {v}"))
        }
        Ok(_) => return true,
    }
    false
}

pub(super) fn restart_backoff(spec: &AppSpec, errs: &mut Errors) {
    let b = &spec.restart_backoff;
    if !b.factor.is_finite() || b.factor < 1.0 {
        errs.push(
            "spec.restartBackoff.factor",
            format!("must be a number of at least 1, found {}", b.factor),
        );
    }
    if b.max_seconds < b.initial_seconds {
        errs.push(
            "spec.restartBackoff.maxSeconds",
            format!(
                "must be at least initialSeconds ({}), found {}",
                b.initial_seconds, b.max_seconds
            ),
        );
    }
}
