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
    plan_with(d, history, tasks, now, &link(), None, &mut SequentialIds::default())
}

/// The plan for `d` with no expectations, as the runtime would ask for it.
pub(super) fn plan_with(
    d: &DesiredApp,
    history: &RevisionHistory,
    tasks: &[ObservedTask],
    now: f64,
    agent: &AgentLink,
    crash: Option<&crate::crash_loop::Hold>,
    ids: &mut dyn IdSource,
) -> Plan {
    let exp = AppExpectations::default();
    reconcile(
        &Input {
            key: "default/web",
            desired: Some(d),
            history,
            tasks,
            expectations: &exp,
            crash,
            agent,
            call_errors: &[],
            synced: None,
            now,
        },
        ids,
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

fn completed(d: &DesiredApp, tasks: &[ObservedTask], now: f64) -> RevisionHistory {
    let p = plan_for(d, &RevisionHistory::default(), tasks, now);
    let h = p.history.expect("recorded");
    assert!(h.get(&d.revision).is_some_and(|r| r.completed()), "{h:?}");
    h
}

/// App `a` of `spec("a")`, completed with two running tasks, and the
/// change to `spec("b")`.
fn two_running_then(
    spec: impl Fn(&str) -> serde_json::Value,
) -> (DesiredApp, DesiredApp, Vec<ObservedTask>, RevisionHistory) {
    let a = desired(spec("a"));
    let b = desired(spec("b"));
    let old = vec![
        running(&a.revision, 1, NOW - 100.0),
        running(&a.revision, 2, NOW - 100.0),
    ];
    let history = completed(&a, &old, NOW - 50.0);
    (a, b, old, history)
}

fn failed_task(rev: &str, n: u32, at: f64) -> ObservedTask {
    let mut t = running(rev, n, at);
    t.state = TaskState::Failed;
    t.running_since = None;
    t.message = "Command exited with status 1".into();
    t
}

fn condition<'a>(p: &'a Plan, type_: &str) -> &'a sextant_api::Condition {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == type_))
        .expect("condition")
}

/// Guards "failureBudget": more failed new tasks than the budget fail the
/// rollout, it is rolled back to the last completed revision, and the
/// failed revision is not launched again.
#[test]
fn exhausting_the_failure_budget_rolls_back() {
    let spec = |cmd: &str| serde_json::json!({"instances": 2, "command": cmd, "strategy": {"maxSurge": 1, "maxUnavailable": 0, "failureBudget": 1}});
    let (a, b, old, history) = two_running_then(spec);
    let mut tasks = old.clone();
    tasks.push(failed_task(&b.revision, 3, NOW - 5.0));
    tasks.push(failed_task(&b.revision, 4, NOW - 2.0));
    let p = plan_for(&b, &history, &tasks, NOW);
    assert_eq!(launches(&p), 0, "the failed revision is not retried: {:?}", p.actions);
    assert!(kills(&p).is_empty(), "the old tasks stay: {:?}", p.actions);
    let h = p.history.clone().expect("outcome recorded");
    match &h.get(&b.revision).expect("b").outcome {
        crate::history::Outcome::Failed {
            reason,
            rolled_back_to,
            message,
            ..
        } => {
            assert_eq!(reason, "FailureBudgetExhausted");
            assert_eq!(rolled_back_to.as_deref(), Some(a.revision.as_str()));
            assert!(message.contains("2 of 2 new tasks failed"), "{message}");
            assert!(message.contains("Command exited with status 1"), "{message}");
        }
        other => panic!("not failed: {other:?}"),
    }
    let progressing = condition(&p, "Progressing");
    assert_eq!(progressing.reason.as_deref(), Some("RolledBack"));
    assert!(
        progressing
            .message
            .as_deref()
            .is_some_and(|m| m.starts_with(&format!("RolledBack to {}", a.revision)))
    );
    assert_eq!(condition(&p, "Degraded").reason.as_deref(), Some("RolloutFailed"));
    assert_eq!(
        p.status.as_ref().and_then(|s| s.target_revision.clone()),
        Some(a.revision.clone())
    );

    // Later, still rolled back: an old task that dies is replaced with the old revision.

    tasks[0].state = TaskState::Failed;
    let p = plan_for(&b, &h, &tasks, NOW + 10.0);
    let Some(Action::Launch { task_id, .. }) = p.actions.first() else {
        panic!("a replacement: {:?}", p.actions)
    };
    assert_eq!(task_id.revision, a.revision);
}

/// Guards "every rollout ends": with no room to surge, no new task becomes
/// available, and the rollout fails at its deadline with the reason.
#[test]
fn no_progress_fails_at_the_deadline_with_the_reason() {
    let spec = |cmd: &str| serde_json::json!({"instances": 1, "command": cmd, "strategy": {"maxSurge": 1, "maxUnavailable": 0, "progressDeadlineSeconds": 30, "autoRollback": false}});
    let a = desired(spec("a"));
    let b = desired(spec("b"));
    let old = vec![running(&a.revision, 1, NOW - 100.0)];
    let history = completed(&a, &old, NOW - 50.0);
    let p = plan_for(&b, &history, &old, NOW);
    assert_eq!(launches(&p), 1);
    let history = p.history.expect("b recorded");
    let mut waiting = running(&b.revision, 2, NOW);
    waiting.state = TaskState::Pending;
    waiting.running_since = None;
    waiting.message = "waiting for an offer: needs cpus 0.1; no offer fitted".into();
    let tasks = vec![old[0].clone(), waiting];
    let p = plan_for(&b, &history, &tasks, NOW + 10.0);
    assert!(
        p.history.is_none()
            || p.history
                .as_ref()
                .is_some_and(|h| !h.get(&b.revision).is_some_and(|r| r.failed()))
    );
    assert!(
        condition(&p, "Progressing")
            .message
            .as_deref()
            .is_some_and(|m| m.contains("wait in the agent's queue"))
    );
    let requeue = p.requeue_after.expect("requeued for the deadline");
    assert!(requeue <= 20.1, "{requeue}");

    let p = plan_for(&b, &history, &tasks, NOW + 31.0);
    let progressing = condition(&p, "Progressing");
    assert_eq!(progressing.status, "False");
    assert_eq!(progressing.reason.as_deref(), Some("ProgressDeadlineExceeded"));
    let message = progressing.message.clone().unwrap_or_default();
    assert!(message.contains("no new task became available for 30 s"), "{message}");
    assert!(message.contains("no offer fitted"), "{message}");
    assert!(kills(&p).iter().all(|k| k != &old[0].id), "the old task stays");
}

/// Guards the scale-down order: unhealthy, not yet available, youngest.
#[test]
fn scale_down_kills_unhealthy_then_unavailable_then_youngest() {
    let d = desired(serde_json::json!({"instances": 2, "command": "x", "healthCheck": {"tcp": {"port": 80}}}));
    let r = d.revision.clone();
    let mut tasks: Vec<ObservedTask> = (1..=5).map(|n| running(&r, n, NOW - 100.0 + f64::from(n))).collect();
    for t in &mut tasks {
        t.healthy = Some(true);
        t.healthy_since = t.running_since;
    }
    tasks[0].healthy = Some(false); // oldest, but unhealthy
    tasks[1].healthy = None; // not yet healthy: not available
    let history = completed(
        &desired(serde_json::json!({"instances": 5, "command": "x", "healthCheck": {"tcp": {"port": 80}}})),
        &{
            let mut all = tasks.clone();
            all[0].healthy = Some(true);
            all[1].healthy = Some(true);
            all
        },
        NOW - 10.0,
    );
    let p = plan_for(&d, &history, &tasks, NOW);
    assert_eq!(
        kills(&p),
        vec![tasks[0].id.clone(), tasks[1].id.clone(), tasks[4].id.clone()],
        "unhealthy, then not available, then the youngest"
    );
    assert_eq!(launches(&p), 0);
}

/// Guards the gates: a paused app, and an agent without Mesos, get no
/// actions, and the status says why (and that counts are last known).
#[test]
fn gates_hold_every_action_and_say_why() {
    let mut d = desired(serde_json::json!({"instances": 2, "command": "x"}));
    d.app.spec.paused = true;
    let p = plan_for(&d, &RevisionHistory::default(), &[], NOW);
    assert!(p.actions.is_empty());
    assert_eq!(condition(&p, "Progressing").reason.as_deref(), Some("Paused"));

    d.app.spec.paused = false;
    let agent = AgentLink {
        mesos_connected: false,
        since: 1_764_500_000.0,
        message: "cannot reach the Mesos master at http://m:5050: connection refused".into(),
        ..link()
    };
    let history = RevisionHistory::default();
    let p = plan_with(&d, &history, &[], NOW, &agent, None, &mut SequentialIds::default());
    assert!(p.actions.is_empty());
    assert_eq!(condition(&p, "Degraded").reason.as_deref(), Some("MesosDisconnected"));
    let last_known = p.status.and_then(|s| s.last_known).unwrap_or_default();
    assert!(
        last_known.contains("connection refused") && last_known.contains("2025-"),
        "{last_known}"
    );
}

/// Guards "no amount of desired instances makes the controller allocate per
/// instance before it acts": launches go out in bounded batches.
#[test]
fn huge_instance_counts_launch_in_bounded_batches() {
    let d = desired(serde_json::json!({"instances": 4_294_967_295u32, "command": "x"}));
    let p = plan_for(&d, &RevisionHistory::default(), &[], NOW);
    assert_eq!(launches(&p), MAX_LAUNCHES_PER_PLAN);
    assert_eq!(p.requeue_after, Some(0.0), "the next batch follows at once");
}

/// Guards unreachableReplaceSeconds: an unreachable task counts as live
/// until then, and is replaced (and killed) after.
#[test]
fn unreachable_tasks_are_replaced_after_their_timeout() {
    let d = desired(serde_json::json!({"instances": 1, "command": "x", "unreachableReplaceSeconds": 60}));
    let mut t = running(&d.revision, 1, NOW - 100.0);
    t.state = TaskState::Unreachable;
    t.updated_at = NOW - 30.0;
    let history = RevisionHistory::default();
    let p = plan_for(&d, &history, std::slice::from_ref(&t), NOW);
    assert_eq!(launches(&p), 0, "still within its timeout");
    assert!((p.requeue_after.unwrap_or(0.0) - 30.0).abs() < 0.01);
    let p = plan_for(&d, &history, std::slice::from_ref(&t), NOW + 31.0);
    assert_eq!(launches(&p), 1);
    assert_eq!(kills(&p), vec![t.id.clone()], "should it come back, it goes");
}

/// Guards crash-loop backoff in the decision: launches are held and the
/// app says so.
#[test]
fn a_crash_loop_holds_launches() {
    let d = desired(serde_json::json!({"instances": 1, "command": "x"}));
    let hold = crate::crash_loop::Hold {
        until: NOW + 8.0,
        failures: 3,
    };
    let history = RevisionHistory::default();
    let p = plan_with(
        &d,
        &history,
        &[],
        NOW,
        &link(),
        Some(&hold),
        &mut SequentialIds::default(),
    );
    assert_eq!(launches(&p), 0);
    assert_eq!(condition(&p, "Degraded").reason.as_deref(), Some("CrashLoopBackOff"));
    assert_eq!(p.requeue_after, Some(8.0));
}

/// Guards the halted rollout (autoRollback off): the failed revision's
/// queued task is withdrawn instead of running once room appears, and an
/// old task that ends is replaced with the last completed revision.
#[test]
fn a_halted_rollout_withdraws_the_failed_revision_and_keeps_the_count() {
    let spec = |cmd: &str| serde_json::json!({"instances": 2, "command": cmd, "strategy": {"maxSurge": 1, "maxUnavailable": 0, "progressDeadlineSeconds": 10, "autoRollback": false}});
    let (a, b, old, history) = two_running_then(spec);
    let history = plan_for(&b, &history, &old, NOW).history.expect("b recorded");
    let mut queued = running(&b.revision, 3, NOW);
    queued.state = TaskState::Pending;
    queued.running_since = None;
    let mut tasks = old.clone();
    tasks.push(queued.clone());
    let p = plan_for(&b, &history, &tasks, NOW + 11.0);
    assert_eq!(
        kills(&p),
        vec![queued.id.clone()],
        "the queued task of the failed revision goes"
    );
    assert_eq!(launches(&p), 0);
    let history = p.history.clone().expect("failed");
    assert!(history.get(&b.revision).is_some_and(|r| r.failed()));
    assert_eq!(condition(&p, "Progressing").status, "False");

    // An old task dies: it is replaced with revision a, never b.
    tasks[0].state = TaskState::Failed;
    tasks[2].state = TaskState::Killed;
    let p = plan_for(&b, &history, &tasks, NOW + 20.0);
    let revisions: Vec<String> = p
        .actions
        .iter()
        .filter_map(|x| match x {
            Action::Launch { task_id, .. } => Some(task_id.revision.clone()),
            Action::Kill { .. } => None,
        })
        .collect();
    assert_eq!(revisions, vec![a.revision.clone()]);
}

/// Guards the "why" of the fixed-hostPort trap: a new task that waits for a
/// host port an old task holds says so, and what to do.
#[test]
fn a_held_fixed_host_port_is_named() {
    let spec = |cmd: &str| serde_json::json!({"instances": 1, "command": cmd, "ports": [{"name": "http", "hostPort": 8080}], "strategy": {"maxSurge": 1, "maxUnavailable": 0}});
    let a = desired(spec("a"));
    let b = desired(spec("b"));
    let mut old = running(&a.revision, 1, NOW - 100.0);
    old.ports = vec![crate::observed::HostPort {
        name: "http".into(),
        port: 8080,
    }];
    let history = completed(&a, std::slice::from_ref(&old), NOW - 50.0);
    let mut waiting = running(&b.revision, 2, NOW);
    waiting.state = TaskState::Pending;
    waiting.running_since = None;
    let p = plan_for(&b, &history, &[old, waiting], NOW + 1.0);
    let message = condition(&p, "Progressing").message.clone().unwrap_or_default();
    assert!(
        message.contains("fixed host port(s) 8080 are held by tasks of the old revision"),
        "{message}"
    );
    assert!(message.contains("maxSurge: 0 and maxUnavailable: 1"), "{message}");
}

/// Guards "scaling changes no revision and rolls nothing": a new instance
/// count of a completed revision launches (or kills) only the difference,
/// of the same revision, and leaves the history alone.
#[test]
fn scaling_rolls_nothing() {
    let (a, _, old, history) = two_running_then(|cmd| serde_json::json!({"instances": 2, "command": cmd}));
    let scaled = desired(serde_json::json!({"instances": 4, "command": "a"}));
    assert_eq!(scaled.revision, a.revision, "instances is not part of the revision");
    let p = plan_for(&scaled, &history, &old, NOW);
    assert!(kills(&p).is_empty(), "{:?}", p.actions);
    let revisions: Vec<&str> = p
        .actions
        .iter()
        .filter_map(|x| match x {
            Action::Launch { task_id, .. } => Some(task_id.revision.as_str()),
            Action::Kill { .. } => None,
        })
        .collect();
    assert_eq!(revisions, vec![a.revision.as_str(); 2]);
    assert!(p.history.is_none(), "no new revision recorded");
    assert_eq!(condition(&p, "Progressing").reason.as_deref(), Some("Converging"));
}
