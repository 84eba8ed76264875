//! Property tests over the whole decision: from a steady app, a rollout to
//! a new revision, with a simulated agent that brings every task one step
//! further each second, converges, and the surge and availability bounds
//! hold at every step.

use proptest::prelude::*;

use super::tests::{NOW, desired, link, plan_with};
use super::*;
use crate::observed::TaskState;

/// One second of a well-behaved agent and Mesos.
fn advance(tasks: &mut [ObservedTask], now: f64, checked: bool) {
    for t in tasks.iter_mut() {
        match t.state {
            TaskState::Pending => t.state = TaskState::Staging,
            TaskState::Staging => {
                t.state = TaskState::Running;
                t.running_since = Some(now);
            }
            TaskState::Running if checked && t.healthy.is_none() => {
                t.healthy = Some(true);
                t.healthy_since = Some(now);
            }
            TaskState::Killing => {
                t.state = TaskState::Killed;
                t.running_since = None;
                t.healthy_since = None;
            }
            _ => {}
        }
        t.updated_at = now;
    }
}

fn apply(tasks: &mut Vec<ObservedTask>, actions: &[Action], now: f64) {
    for a in actions {
        match a {
            Action::Launch { task_id, .. } => tasks.push(ObservedTask::from(sextant_api::proto::Task {
                task_id: task_id.to_string(),
                namespace: task_id.namespace.clone(),
                app: task_id.app.clone(),
                revision: task_id.revision.clone(),
                state: TaskState::Pending as i32,
                created_at: now,
                updated_at: now,
                ..Default::default()
            })),
            Action::Kill { task_id, .. } => {
                for t in tasks.iter_mut().filter(|t| &t.id == task_id && t.is_live()) {
                    t.state = TaskState::Killing;
                }
            }
        }
    }
}

fn live(tasks: &[ObservedTask]) -> u64 {
    tasks.iter().filter(|t| t.is_live()).count() as u64
}

fn spec(instances: u32, surge: u32, unavailable: u32, min_ready: u32, checked: bool, cmd: &str) -> serde_json::Value {
    let mut s = serde_json::json!({
        "instances": instances,
        "command": cmd,
        "strategy": {"maxSurge": surge, "maxUnavailable": unavailable, "minReadySeconds": min_ready},
    });
    if checked {
        s["healthCheck"] = serde_json::json!({"tcp": {"port": 80}});
    }
    s
}

fn plan_at(
    d: &DesiredApp,
    history: &RevisionHistory,
    tasks: &[ObservedTask],
    now: f64,
    ids: &mut SequentialIds,
) -> Plan {
    plan_with(d, history, tasks, now, &link(), None, ids)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn a_rollout_converges_within_its_bounds(
        instances in 0u32..7,
        surge in 0u32..3,
        unavailable in 0u32..3,
        min_ready in prop::sample::select(vec![0u32, 3]),
        checked in any::<bool>(),
        scale in prop::option::of(0u32..7),
    ) {
        let old = desired(spec(instances, surge, unavailable, min_ready, checked, "old"));
        let mut ids = SequentialIds::default();
        let mut history = RevisionHistory::default();
        let mut tasks: Vec<ObservedTask> = Vec::new();
        let mut now = NOW;
        // Bring the old revision up, steady.
        for _ in 0..30 {
            let p = plan_at(&old, &history, &tasks, now, &mut ids);
            if let Some(h) = p.history { history = h; }
            apply(&mut tasks, &p.actions, now);
            now += 1.0;
            advance(&mut tasks, now, checked);
        }
        prop_assert!(history.get(&old.revision).is_some_and(|r| r.completed()), "{:?}", history);

        // Roll to a new revision, maybe scaled too.
        let n = scale.unwrap_or(instances);
        let new = desired(spec(n, surge, unavailable, min_ready, checked, "new"));
        let (s, u) = new.app.spec.strategy.resolve(n);
        let max_live = u64::from(n.max(instances)) + u64::from(s);
        let min_available = u64::from(n.min(instances).saturating_sub(u));
        for step in 0..60 {
            let p = plan_at(&new, &history, &tasks, now, &mut ids);
            if let Some(h) = p.history { history = h; }
            apply(&mut tasks, &p.actions, now);
            prop_assert!(live(&tasks) <= max_live, "step {step}: {} live > {max_live}: {:?}", live(&tasks), p.actions);
            let status = p.status.expect("desired apps have a status");
            if scale.is_none() {
                // What the plan leaves available: its kills are already applied.
                let available_after = status.available as i64 - p.actions.iter().filter(|a| matches!(a, Action::Kill { .. })).count() as i64;
                prop_assert!(available_after >= min_available as i64 || status.available as u64 <= min_available,
                    "step {step}: available {available_after} < {min_available}");
            }
            now += 1.0;
            advance(&mut tasks, now, checked);
        }
        let p = plan_at(&new, &history, &tasks, now, &mut ids);
        prop_assert!(p.actions.is_empty(), "still acting: {:?}", p.actions);
        let record = history.get(&new.revision).expect("recorded");
        prop_assert!(record.completed(), "{:?}", record.outcome);
        let live_new = tasks.iter().filter(|t| t.is_live() && *t.revision == *new.revision).count() as u32;
        prop_assert_eq!(live_new, n);
        prop_assert_eq!(live(&tasks), u64::from(n), "nothing old is left");
        prop_assert_eq!(p.status.map(|s| s.available), Some(n));
    }

    /// Whatever is observed, the same input gives the same plan, and no
    /// input panics.
    #[test]
    fn the_decision_is_deterministic(
        instances in 0u32..6,
        states in prop::collection::vec((any::<bool>(), 0i32..16, prop::option::of(any::<bool>())), 0..12),
        paused in any::<bool>(),
    ) {
        let mut d = desired(spec(instances, 1, 0, 0, true, "x"));
        d.app.spec.paused = paused;
        let tasks: Vec<ObservedTask> = states.iter().enumerate().map(|(i, (current, state, healthy))| {
            ObservedTask::from(sextant_api::proto::Task {
                task_id: format!("default.web.{}.{i:04}", if *current { d.revision.as_str() } else { "0dd" }),
                namespace: "default".into(),
                app: "web".into(),
                revision: if *current { d.revision.clone() } else { "0dd".into() },
                state: *state,
                healthy: *healthy,
                running_since: NOW - 100.0,
                created_at: NOW - 100.0 + i as f64,
                updated_at: NOW - 50.0,
                ..Default::default()
            })
        }).collect();
        let history = RevisionHistory::default();
        let a = plan_at(&d, &history, &tasks, NOW, &mut SequentialIds::default());
        let b = plan_at(&d, &history, &tasks, NOW, &mut SequentialIds::default());
        prop_assert_eq!(&a, &b);
        if paused {
            prop_assert!(a.actions.is_empty());
        }
    }
}
