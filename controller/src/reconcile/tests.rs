//! Unit tests of the decision, one behaviour each.

use super::*;
use crate::observed::TaskState;
use sextant_api::{App, AppSpec};

pub(super) const NOW: f64 = 100_000.0;

pub(super) fn desired(spec: serde_json::Value) -> DesiredApp {
    let spec: AppSpec = serde_json::from_value(spec).expect("spec");
    let mut app = App::new("web", spec);
    app.metadata.namespace = Some("default".to_string());
    DesiredApp::new(app, "dir:/m", None, None)
}

pub(super) fn running(rev: &str, n: u32, since: f64) -> ObservedTask {
    ObservedTask::from(sextant_api::proto::Task {
        task_id: format!("default.web.{rev}.{n:04}"),
        namespace: "default".into(),
        app: "web".into(),
        revision: rev.into(),
        state: TaskState::Running as i32,
        running_since: since,
        created_at: since,
        updated_at: since,
        ..Default::default()
    })
}

pub(super) fn link() -> AgentLink {
    AgentLink {
        url: "http://agent".into(),
        synced: true,
        mesos_connected: true,
        since: 1.0,
        message: String::new(),
    }
}

pub(super) fn plan_for(d: &DesiredApp, history: &RevisionHistory, tasks: &[ObservedTask], now: f64) -> Plan {
    let agent = link();
    let exp = AppExpectations::default();
    reconcile(
        &Input {
            key: "default/web",
            desired: Some(d),
            history,
            tasks,
            expectations: &exp,
            crash: None,
            agent: &agent,
            call_errors: &[],
            now,
        },
        &mut SequentialIds::default(),
    )
}

fn launches(p: &Plan) -> usize {
    p.actions.iter().filter(|a| matches!(a, Action::Launch { .. })).count()
}

fn kills(p: &Plan) -> Vec<String> {
    p.actions
        .iter()
        .filter_map(|a| match a {
            Action::Kill { task_id, .. } => Some(task_id.clone()),
            Action::Launch { .. } => None,
        })
        .collect()
}

#[test]
fn a_new_app_launches_every_instance_with_deterministic_ids() {
    let d = desired(serde_json::json!({"instances": 3, "command": "sleep 1"}));
    let p = plan_for(&d, &RevisionHistory::default(), &[], NOW);
    assert_eq!(launches(&p), 3);
    let again = plan_for(&d, &RevisionHistory::default(), &[], NOW);
    assert_eq!(p, again, "the same input gives the same plan");
    assert!(p.history.is_some(), "the revision is recorded");
}

/// Guards the bug where old tasks were killed 70 ms after the new ones ran,
/// before any was healthy: with maxUnavailable 0, an old task goes only
/// once a new one has been healthy for minReadySeconds.
#[test]
fn old_tasks_go_only_as_new_ones_become_available() {
    let spec = |cmd: &str| {
        serde_json::json!({
            "instances": 2, "command": cmd,
            "healthCheck": {"http": {"port": 8000}},
            "strategy": {"maxSurge": 1, "maxUnavailable": 0, "minReadySeconds": 5},
        })
    };
    let old = desired(spec("old"));
    let new = desired(spec("new"));
    let mut o1 = running(&old.revision, 1, NOW - 100.0);
    let mut o2 = running(&old.revision, 2, NOW - 100.0);
    for t in [&mut o1, &mut o2] {
        t.healthy = Some(true);
        t.healthy_since = Some(NOW - 90.0);
    }
    let mut history = RevisionHistory::default();
    let first = plan_for(&old, &history, &[o1.clone(), o2.clone()], NOW - 50.0);
    history = first.history.expect("recorded");
    assert!(history.get(&old.revision).is_some_and(|r| r.completed()));

    // Surge one new task; kill nothing.
    let p = plan_for(&new, &history, &[o1.clone(), o2.clone()], NOW);
    assert_eq!((launches(&p), kills(&p).len()), (1, 0));
    history = p.history.expect("new revision recorded");

    // Running but not healthy yet: nothing goes.
    let mut n1 = running(&new.revision, 3, NOW + 1.0);
    let tasks = vec![o1.clone(), o2.clone(), n1.clone()];
    let p = plan_for(&new, &history, &tasks, NOW + 2.0);
    assert!(kills(&p).is_empty(), "{:?}", p.actions);
    // Healthy, but not for minReadySeconds: still nothing; a requeue at the time it becomes available.
    n1.healthy = Some(true);
    n1.healthy_since = Some(NOW + 3.0);
    let tasks = vec![o1.clone(), o2.clone(), n1.clone()];
    let p = plan_for(&new, &history, &tasks, NOW + 4.0);
    assert!(kills(&p).is_empty(), "{:?}", p.actions);
    let requeue = p.requeue_after.expect("a requeue");
    assert!((requeue - 4.0).abs() < 0.01, "{requeue}");
    // Available: one old task goes.
    let p = plan_for(&new, &history, &tasks, NOW + 8.5);
    assert_eq!(kills(&p).len(), 1, "{:?}", p.actions);
}

/// Guards the TASK_UNKNOWN bug: tasks a master forgot are replaced at once.
#[test]
fn unknown_tasks_are_replaced() {
    let d = desired(serde_json::json!({"instances": 2, "command": "sleep 1"}));
    let mut a = running(&d.revision, 1, NOW - 100.0);
    let mut b = running(&d.revision, 2, NOW - 100.0);
    a.state = TaskState::Unknown;
    b.state = TaskState::Unknown;
    let p = plan_for(&d, &RevisionHistory::default(), &[a, b], NOW);
    assert_eq!(launches(&p), 2);
    let status = p.status.expect("status");
    assert_eq!((status.live, status.running), (0, 0), "the API no longer says 2 of 2");
}
