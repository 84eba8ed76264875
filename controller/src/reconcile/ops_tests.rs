//! Unit tests of the operations by hand (`crate::ops`) in the decision:
//! pause, undo and restart, one behaviour each.

use super::tests::{NOW, desired, plan_for, running};
use super::*;
use crate::ops::{AppOps, Mark, Undo};

fn mark() -> Mark {
    Mark {
        by: "ci".into(),
        at: 1_764_500_000.0,
    }
}

fn condition<'a>(p: &'a Plan, type_: &str) -> &'a sextant_api::Condition {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == type_))
        .expect("condition")
}

fn launched_revisions(p: &Plan) -> Vec<String> {
    p.actions
        .iter()
        .filter_map(|a| match a {
            Action::Launch { task_id, .. } => Some(task_id.revision.clone()),
            _ => None,
        })
        .collect()
}

/// An app of two instances at `cmd`, its revision completed with two
/// running tasks.
fn settled(cmd: &str) -> (DesiredApp, Vec<ObservedTask>, RevisionHistory) {
    let d =
        desired(serde_json::json!({"instances": 2, "command": cmd, "strategy": {"maxSurge": 1, "maxUnavailable": 0}}));
    let tasks = vec![
        running(&d.revision, 1, NOW - 100.0),
        running(&d.revision, 2, NOW - 100.0),
    ];
    let history = plan_for(&d, &RevisionHistory::default(), &tasks, NOW - 50.0)
        .history
        .expect("recorded");
    (d, tasks, history)
}

/// Guards `sextant rollout pause`: nothing is launched or killed, and the
/// condition says who paused and how to go on.
#[test]
fn a_pause_by_hand_holds_every_action_and_says_who() {
    let mut d = desired(serde_json::json!({"instances": 2, "command": "x"}));
    d = d.with_ops(AppOps {
        paused: Some(mark()),
        ..Default::default()
    });
    let p = plan_for(&d, &RevisionHistory::default(), &[], NOW);
    assert!(p.actions.is_empty());
    let c = condition(&p, "Progressing");
    assert_eq!(c.reason.as_deref(), Some("Paused"));
    let message = c.message.as_deref().unwrap_or_default();
    assert!(
        message.contains("sextant rollout pause") && message.contains("ci") && message.contains("rollout resume"),
        "{message}"
    );
}

/// Guards `sextant rollout undo`: the current revision is marked undone and
/// the earlier one is rolled out, without a Degraded condition.
#[test]
fn an_undo_rolls_back_to_the_revision_asked_for_and_is_no_failure() {
    let (a, a_tasks, history) = settled("a");
    let b =
        desired(serde_json::json!({"instances": 2, "command": "b", "strategy": {"maxSurge": 1, "maxUnavailable": 0}}));
    // b rolled out completely: its tasks replaced a's.
    let b_tasks = vec![running(&b.revision, 1, NOW - 40.0), running(&b.revision, 2, NOW - 40.0)];
    let history = plan_for(&b, &history, &b_tasks, NOW - 30.0)
        .history
        .expect("b recorded");
    assert!(history.get(&b.revision).is_some_and(|r| r.completed()));
    drop(a_tasks);

    let from = b.revision.clone();
    let b = b.with_ops(AppOps {
        undo: Some(Undo {
            to: a.revision.clone(),
            from,
            mark: mark(),
        }),
        ..Default::default()
    });
    let p = plan_for(&b, &history, &b_tasks, NOW);
    assert_eq!(launched_revisions(&p), vec![a.revision.clone()], "one surge task of a");
    let recorded = p.history.clone().expect("marked");
    let record = recorded.get(&b.revision).expect("b's record");
    assert!(progress::undone(record).is_some(), "{record:?}");
    assert_eq!(
        condition(&p, "Degraded").status,
        "False",
        "an undo is asked for, not a failure"
    );
    let message = condition(&p, "Progressing").message.clone().unwrap_or_default();
    assert!(message.contains("undone by `sextant rollout undo`"), "{message}");

    // Marked once: the next pass changes no history.
    let again = plan_for(&b, &recorded, &b_tasks, NOW + 1.0);
    assert!(
        again
            .history
            .is_none_or(|h| progress::undone(h.get(&b.revision).expect("b")).is_some())
    );
}

/// Guards `sextant rollout restart`: the same spec gets a new revision, so
/// its tasks are replaced by the rolling update (one surge task first).
#[test]
fn a_restart_replaces_every_task_by_a_rolling_update() {
    let (d, tasks, history) = settled("a");
    let restarted = d.clone().with_ops(AppOps {
        restart: Some(mark()),
        ..Default::default()
    });
    assert_ne!(restarted.revision, d.revision);
    assert_eq!(
        restarted.clone().with_ops(restarted.ops.clone()).revision,
        restarted.revision,
        "stable"
    );
    let p = plan_for(&restarted, &history, &tasks, NOW);
    assert_eq!(launched_revisions(&p), vec![restarted.revision.clone()]);
    assert!(
        p.actions.iter().all(|a| !matches!(a, Action::Kill { .. })),
        "no task goes before its replacement is available"
    );
}
