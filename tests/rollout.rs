//! Rollouts end to end: `sextant up` (or its components as processes)
//! running real HTTP tasks with Mesos-native HTTP health checks, watched
//! through the controller's API and the Mesos master's `/master/state`.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{
    MesosTask, Process, Up, agent_args, controller_args, free_addr, get_json, http_app, live_in_mesos,
    local_mesos_args, running_in_mesos, strs, wait_within_logs,
};
use nix::sys::signal::Signal;
use serde_json::Value;

/// Task states the controller counts as live (DESIGN.md's table, plus
/// PENDING: queued in the agent).
const LIVE: [&str; 6] = [
    "TASK_STAGING",
    "TASK_STARTING",
    "TASK_RUNNING",
    "TASK_KILLING",
    "TASK_UNREACHABLE",
    "PENDING",
];

/// `sextant up` with `extra` flags and host ports of its own (its tasks
/// listen on them, and other tests run in parallel).
fn up(extra: &[&str]) -> Up {
    let ports = common::node_ports();
    let mut args = vec!["--node-ports", ports.as_str()];
    args.extend_from_slice(extra);
    Up::start_with(&args)
}

/// The app's detail, or an empty object while it cannot be read.
fn app(up: &Up, name: &str) -> Value {
    up.app(name).unwrap_or(Value::Null)
}

/// One sample: the app's live tasks in Mesos and the app's detail in the
/// controller, both answered (a sampler must not read "no answer" as "no
/// task").
fn observe(up: &Up, name: &str) -> (Vec<MesosTask>, Value) {
    let start = Instant::now();
    loop {
        if let (Some(mesos), Some(a)) = (up.try_live_in_mesos(name), up.app(name)) {
            return (mesos, a);
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the Mesos master or the controller API did not answer for 10 s; sextant log:\n{}",
            up.log_tail(40)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `status.<field>` as a number (`None` while unknown).
fn status_count(app: &Value, field: &str) -> Option<u64> {
    app["status"][field].as_u64()
}

/// The condition of `type_`: (status, reason, message).
fn condition(app: &Value, type_: &str) -> Option<(String, String, String)> {
    let c = app["conditions"].as_array()?.iter().find(|c| c["type"] == type_)?;
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    Some((text(&c["status"]), text(&c["reason"]), text(&c["message"])))
}

/// The revision record of `revision` in the app's history.
fn revision_record<'a>(app: &'a Value, revision: &str) -> Option<&'a Value> {
    app["revisions"].as_array()?.iter().find(|r| r["revision"] == revision)
}

fn outcome(app: &Value, revision: &str) -> Option<String> {
    revision_record(app, revision).and_then(|r| r["outcome"].as_str().map(str::to_string))
}

/// The app's current spec revision.
fn current_revision(app: &Value) -> Option<String> {
    app["revision"].as_str().map(str::to_string)
}

/// The app's tasks in the controller's view.
fn tasks(app: &Value) -> Vec<Value> {
    app["tasks"].as_array().cloned().unwrap_or_default()
}

/// The app's live tasks in the controller's view: (id, revision, state).
fn live_in_controller(app: &Value) -> Vec<(String, String, String)> {
    tasks(app)
        .into_iter()
        .filter(|t| LIVE.iter().any(|s| t["state"] == *s))
        .map(|t| {
            let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
            (text(&t["taskId"]), text(&t["revision"]), text(&t["state"]))
        })
        .collect()
}

/// Waits until the app runs `instances` available tasks of a completed
/// revision (the first rollout done); returns that revision.
fn wait_settled(up: &Up, name: &str, instances: u64) -> String {
    let mut revision = String::new();
    up.wait_for(
        &format!("{instances} available tasks of a completed revision of {name}"),
        || {
            let a = app(up, name);
            let Some(r) = current_revision(&a) else {
                return false;
            };
            revision = r;
            status_count(&a, "available") == Some(instances)
                && outcome(&a, &revision).as_deref() == Some("Completed")
                && up.live_in_mesos(name).len() as u64 == instances
        },
    );
    revision
}

/// Waits until the spec's revision is no longer `old`; returns the new one.
fn wait_new_revision(up: &Up, name: &str, old: &str) -> String {
    let mut revision = String::new();
    up.wait_for("the controller to see the new revision", || {
        match current_revision(&app(up, name)) {
            Some(r) if r != old => {
                revision = r;
                true
            }
            _ => false,
        }
    });
    revision
}

/// One line of sampled state, for failure messages.
fn describe(t: f64, mesos: &[MesosTask], a: &Value) -> String {
    let mesos: Vec<String> = mesos
        .iter()
        .map(|m| format!("{}:{}", short(&m.id), m.state.trim_start_matches("TASK_")))
        .collect();
    let controller: Vec<String> = live_in_controller(a)
        .iter()
        .map(|(id, _, state)| format!("{}:{}", short(id), state.trim_start_matches("TASK_")))
        .collect();
    format!(
        "t={t:5.1}s mesos=[{}] controller live={:?} available={:?} tasks=[{}] progressing={:?}",
        mesos.join(" "),
        status_count(a, "live"),
        status_count(a, "available"),
        controller.join(" "),
        condition(a, "Progressing").map(|c| c.1),
    )
}

/// `default.web.<revision>.<unique>` -> `<revision prefix>.<unique prefix>`.
fn short(id: &str) -> String {
    let parts: Vec<&str> = id.split('.').collect();
    match parts.as_slice() {
        [_, _, revision, unique, ..] => format!(
            "{}.{}",
            &revision[..revision.len().min(6)],
            &unique[..unique.len().min(4)]
        ),
        _ => id.to_string(),
    }
}

/// The last `n` lines of a sample log.
fn last(samples: &[String], n: usize) -> String {
    samples[samples.len().saturating_sub(n)..].join("\n")
}

/// A rolling update stays within `maxSurge` and `maxUnavailable`: never more
/// than `instances + maxSurge` tasks live in Mesos (KILLING ones included),
/// never fewer than `instances - maxUnavailable` available, and it ends
/// with every task on the new revision and the revision Completed.
#[test]
fn a_command_change_rolls_within_the_bounds() {
    let up = up(&[]);
    let strategy = "{maxSurge: 1, maxUnavailable: 0, minReadySeconds: 2}";
    up.write_manifest("web.yaml", &http_app("web", 3, "v1", "/", strategy));
    let old = wait_settled(&up, "web", 3);

    up.write_manifest("web.yaml", &http_app("web", 3, "v2", "/", strategy));
    let start = Instant::now();
    let mut new: Option<String> = None;
    let mut samples: Vec<String> = Vec::new();
    let mut violations: Vec<String> = Vec::new();
    let mut max_live = 0;
    loop {
        let (mesos, a) = observe(&up, "web");
        let line = describe(start.elapsed().as_secs_f64(), &mesos, &a);
        samples.push(line.clone());
        if new.is_none() {
            new = current_revision(&a).filter(|r| *r != old);
        }
        max_live = max_live.max(mesos.len());
        if mesos.len() > 4 {
            violations.push(format!("{} tasks live in Mesos, at most 4: {line}", mesos.len()));
        }
        let controller_live = live_in_controller(&a).len();
        if controller_live > 4 || status_count(&a, "live").is_some_and(|l| l > 4) {
            violations.push(format!("more than 4 tasks live in the controller: {line}"));
        }
        if status_count(&a, "available").is_some_and(|n| n < 3) {
            violations.push(format!("fewer than 3 tasks available: {line}"));
        }
        let running = mesos.iter().filter(|t| t.state == "TASK_RUNNING").count();
        if running < 3 {
            violations.push(format!("fewer than 3 tasks RUNNING in Mesos: {line}"));
        }
        if let Some(new) = &new {
            let done = outcome(&a, new).as_deref() == Some("Completed")
                && mesos.len() == 3
                && mesos.iter().all(|t| t.revision() == new && t.state == "TASK_RUNNING")
                && live_in_controller(&a).iter().all(|(_, r, _)| r == new)
                && status_count(&a, "available") == Some(3);
            if done {
                break;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the rollout from {old} to {new:?} did not complete within 60 s; last samples:\n{}\nsextant log:\n{}",
            last(&samples, 30),
            up.log_tail(40)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        violations.is_empty(),
        "the rollout left its bounds (maxSurge 1, maxUnavailable 0, 3 instances):\n{}\nall samples:\n{}",
        violations.join("\n"),
        samples.join("\n")
    );
    let a = app(&up, "web");
    let (status, reason, message) = condition(&a, "Progressing").expect("a Progressing condition");
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("True", "RevisionAvailable"),
        "{message}"
    );
    eprintln!(
        "rollout took {:.1} s, at most {max_live} tasks live in Mesos",
        start.elapsed().as_secs_f64()
    );
}

/// A new revision whose tasks never pass their health check fails (by its
/// failure budget or its progress deadline), is rolled back to the last
/// completed revision, says so in its conditions, and is not retried;
/// the old tasks serve throughout (maxUnavailable 0).
#[test]
fn a_revision_that_never_gets_healthy_is_rolled_back() {
    let up = up(&[]);
    let strategy =
        "{maxSurge: 1, maxUnavailable: 0, progressDeadlineSeconds: 20, failureBudget: 1, autoRollback: true}";
    up.write_manifest("web.yaml", &http_app("web", 2, "v1", "/", strategy));
    let a_rev = wait_settled(&up, "web", 2);
    let a_tasks: BTreeSet<String> = up.live_in_mesos("web").into_iter().map(|t| t.id).collect();

    up.write_manifest("web.yaml", &http_app("web", 2, "v1", "/nope", strategy));
    let b_rev = wait_new_revision(&up, "web", &a_rev);
    let start = Instant::now();
    let mut samples: Vec<String> = Vec::new();
    let mut b_seen: BTreeSet<String> = BTreeSet::new();
    let sample = |samples: &mut Vec<String>, b_seen: &mut BTreeSet<String>| -> Value {
        let (mesos, a) = observe(&up, "web");
        let line = describe(start.elapsed().as_secs_f64(), &mesos, &a);
        let a_running: BTreeSet<String> = mesos
            .iter()
            .filter(|t| t.revision() == a_rev && t.state == "TASK_RUNNING")
            .map(|t| t.id.clone())
            .collect();
        samples.push(line.clone());
        assert!(
            a_running == a_tasks,
            "revision {a_rev}'s tasks {a_tasks:?} must all keep running while {b_rev} rolls out (maxUnavailable 0): {line}\nsamples:\n{}",
            last(samples, 30)
        );
        b_seen.extend(mesos.iter().filter(|t| t.revision() == b_rev).map(|t| t.id.clone()));
        b_seen.extend(
            tasks(&a)
                .iter()
                .filter(|t| t["revision"] == b_rev.as_str())
                .filter_map(|t| t["taskId"].as_str().map(str::to_string)),
        );
        a
    };

    let failed = loop {
        let a = sample(&mut samples, &mut b_seen);
        if outcome(&a, &b_rev).as_deref() == Some("Failed") {
            break a;
        }
        assert!(
            start.elapsed() < Duration::from_secs(40),
            "revision {b_rev} never fails its health check's rollout within 40 s; samples:\n{}\nrevisions: {}\nsextant log:\n{}",
            last(&samples, 30),
            a["revisions"],
            up.log_tail(40)
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let record = revision_record(&failed, &b_rev).expect("the failed revision's record");
    let reason = record["reason"].as_str().unwrap_or_default();
    assert!(
        ["ProgressDeadlineExceeded", "FailureBudgetExhausted"].contains(&reason),
        "a failed revision names why: {record}"
    );
    assert!(
        !record["message"].as_str().unwrap_or_default().is_empty(),
        "a failed revision says what happened: {record}"
    );
    assert_eq!(record["rolledBackTo"], a_rev.as_str(), "{record}");
    assert!(!b_seen.is_empty(), "revision {b_rev} was tried: {record}");

    // The conditions say so too, once the controller has written them.
    let mut last_conditions = Value::Null;
    up.wait_within(
        "the RolledBack and RolloutFailed conditions",
        Duration::from_secs(5),
        || {
            let a = sample(&mut samples, &mut b_seen);
            last_conditions = a["conditions"].clone();
            let progressing = condition(&a, "Progressing");
            let degraded = condition(&a, "Degraded");
            progressing.is_some_and(|(s, r, m)| s == "False" && r == "RolledBack" && m.contains(&a_rev))
                && degraded.is_some_and(|(s, r, _)| s == "True" && r == "RolloutFailed")
        },
    );

    // The failed revision is not tried again.
    let tried = b_seen.clone();
    let quiet = Instant::now();
    while quiet.elapsed() < Duration::from_secs(6) {
        sample(&mut samples, &mut b_seen);
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        b_seen,
        tried,
        "no task of the failed revision {b_rev} may be launched after it failed; samples:\n{}",
        last(&samples, 30)
    );

    // Back where it was: revision A's tasks, available.
    up.wait_within(
        "2 available tasks of the rolled-back-to revision",
        Duration::from_secs(10),
        || {
            let a = sample(&mut samples, &mut b_seen);
            let mesos = up.live_in_mesos("web");
            status_count(&a, "available") == Some(2)
                && live_in_controller(&a).iter().all(|(_, r, _)| *r == a_rev)
                && mesos.len() == 2
                && mesos.iter().all(|t| t.revision() == a_rev)
        },
    );
    let a = app(&up, "web");
    assert_eq!(a["status"]["targetRevision"], a_rev.as_str(), "{}", a["status"]);
    eprintln!(
        "{b_rev} failed after {:.1} s ({reason}), {} of its tasks tried",
        start.elapsed().as_secs_f64(),
        tried.len()
    );
}

/// A Mesos master that restarts without its state (a fresh work dir, as a
/// master failover without a replicated log) forgets every task; the agent
/// re-subscribes and the controller relaunches the app's tasks by itself,
/// with neither the agent nor the controller restarted.
#[test]
fn the_master_forgets_its_tasks_and_the_app_recovers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let manifests = dir.path().join("manifests");
    std::fs::create_dir_all(&manifests).expect("manifests dir");
    std::fs::write(
        manifests.join("app.yaml"),
        "apiVersion: sextant.dev/v1alpha1\nkind: App\nmetadata:\n  name: split\nspec:\n  instances: 2\n  command: \"exec sleep 3600\"\n  resources: {cpus: 0.1, mem: 16}\n  killGracePeriodSeconds: 1\n",
    )
    .expect("write manifest");
    let (mesos_addr, agent_addr, api_addr) = (free_addr(), free_addr(), free_addr());
    let mesos = format!("http://{mesos_addr}");
    let api = format!("http://{api_addr}");
    let log = |name: &str| dir.path().join(name);
    let local_mesos = |work: &str, log_name: &str| {
        Process::spawn(
            &strs(&local_mesos_args(mesos_addr, &dir.path().join(work))),
            &log(log_name),
        )
    };
    let mut first_master = local_mesos("mesos", "mesos.log");
    let agent_data = dir.path().join("agent");
    let _agent = Process::spawn(
        &strs(&agent_args(mesos_addr, agent_addr, &agent_data)),
        &log("agent.log"),
    );
    let controller_data = dir.path().join("controller");
    let _controller = Process::spawn(
        &strs(&controller_args(&manifests, agent_addr, api_addr, &controller_data)),
        &log("controller.log"),
    );
    let running_in_controller = || {
        get_json(&format!("{api}/api/v1/apps/default/split"))
            .and_then(|a| a["running"].as_u64())
            .unwrap_or(0)
    };
    let logs = [
        log("mesos.log"),
        log("mesos2.log"),
        log("agent.log"),
        log("controller.log"),
    ];
    let logs: Vec<&Path> = logs.iter().map(|p| p.as_path()).collect();
    wait_within_logs("2 tasks RUNNING", common::DEADLINE, &logs, || {
        running_in_mesos(&mesos, "split").len() == 2 && running_in_controller() == 2
    });
    let before: BTreeSet<String> = running_in_mesos(&mesos, "split").into_iter().collect();

    first_master.stop_with(Signal::SIGKILL);
    let _second_master = local_mesos("mesos2", "mesos2.log");
    let restarted = Instant::now();
    let mut seen = Vec::new();
    wait_within_logs(
        "2 tasks RUNNING in the fresh master, launched anew",
        Duration::from_secs(30),
        &logs,
        || {
            let now: BTreeSet<String> = running_in_mesos(&mesos, "split").into_iter().collect();
            seen = now.iter().cloned().collect();
            now.len() == 2 && now.is_disjoint(&before) && running_in_controller() == 2
        },
    );
    // And it stays so: no duplicates once the agent has caught up.
    std::thread::sleep(Duration::from_secs(2));
    let live = live_in_mesos(&mesos, "split");
    assert_eq!(live.len(), 2, "exactly 2 tasks live in the fresh master: {live:?}");
    eprintln!("recovered in {:.1} s with {seen:?}", restarted.elapsed().as_secs_f64());
}

/// With room on the node for exactly one task more than `instances`, a
/// rollout with `maxSurge: 1` uses that room and completes.
#[test]
fn a_rollout_with_room_for_one_more_task_completes() {
    let up = up(&["--node-cpus", "0.4"]);
    let strategy = "{maxSurge: 1, maxUnavailable: 0}";
    up.write_manifest("web.yaml", &http_app("web", 3, "v1", "/", strategy));
    let old = wait_settled(&up, "web", 3);
    up.write_manifest("web.yaml", &http_app("web", 3, "v2", "/", strategy));
    let new = wait_new_revision(&up, "web", &old);
    let start = Instant::now();
    let mut samples = Vec::new();
    up.wait_within(
        "the rollout to complete on a node with room for 4 tasks",
        Duration::from_secs(60),
        || {
            let (mesos, a) = observe(&up, "web");
            samples.push(describe(start.elapsed().as_secs_f64(), &mesos, &a));
            outcome(&a, &new).as_deref() == Some("Completed")
                && status_count(&a, "available") == Some(3)
                && mesos.len() == 3
                && mesos.iter().all(|t| t.revision() == new)
        },
    );
    let a = app(&up, "web");
    let (_, reason, message) = condition(&a, "Progressing").expect("Progressing");
    assert_eq!(
        reason,
        "RevisionAvailable",
        "{message}\nsamples:\n{}",
        last(&samples, 20)
    );
}

/// With room on the node for exactly `instances` tasks, a rollout that may
/// not drop below `instances` available (maxUnavailable 0) cannot move; it
/// fails by itself at its progress deadline, says why in words (its new
/// task waits in the agent's queue), and the old tasks keep running.
#[test]
fn a_rollout_with_no_room_to_surge_fails_at_its_deadline() {
    let up = up(&["--node-cpus", "0.3"]);
    let strategy = "{maxSurge: 1, maxUnavailable: 0, progressDeadlineSeconds: 10}";
    up.write_manifest("web.yaml", &http_app("web", 3, "v1", "/", strategy));
    let old = wait_settled(&up, "web", 3);
    let old_tasks: BTreeSet<String> = up.live_in_mesos("web").into_iter().map(|t| t.id).collect();

    // The deadline runs from when the controller first sees the revision,
    // which is after this.
    let start = Instant::now();
    up.write_manifest("web.yaml", &http_app("web", 3, "v2", "/", strategy));
    let new = wait_new_revision(&up, "web", &old);
    let mut samples: Vec<String> = Vec::new();
    let sample = |samples: &mut Vec<String>| -> Value {
        let (mesos, a) = observe(&up, "web");
        let line = describe(start.elapsed().as_secs_f64(), &mesos, &a);
        samples.push(line.clone());
        let running: BTreeSet<String> = mesos
            .iter()
            .filter(|t| t.state == "TASK_RUNNING")
            .map(|t| t.id.clone())
            .collect();
        assert!(
            running == old_tasks,
            "the 3 old tasks {old_tasks:?} must keep running, and nothing else fits: {line}\nsamples:\n{}",
            last(samples, 30)
        );
        a
    };
    let failed = loop {
        let a = sample(&mut samples);
        if outcome(&a, &new).as_deref() == Some("Failed") {
            break a;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "a rollout with no room did not fail within 30 s (deadline 10 s); samples:\n{}\nrevisions: {}\nconditions: {}\nsextant log:\n{}",
            last(&samples, 20),
            a["revisions"],
            a["conditions"],
            up.log_tail(40)
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let took = start.elapsed().as_secs_f64();
    assert!(
        took >= 9.9,
        "failed {took:.1} s after the change, before its 10 s deadline"
    );
    let record = revision_record(&failed, &new).expect("the failed revision's record");
    assert_eq!(record["reason"], "ProgressDeadlineExceeded", "{record}");
    let message = record["message"].as_str().unwrap_or_default();
    assert!(
        ["wait", "queue", "room"].iter().any(|w| message.contains(w)),
        "the failure says why in words (the new task waits for room): {message:?}"
    );
    let mut progressing = None;
    up.wait_within(
        "the Progressing condition to name the deadline",
        Duration::from_secs(5),
        || {
            let a = sample(&mut samples);
            progressing = condition(&a, "Progressing");
            progressing
                .as_ref()
                .is_some_and(|(s, _, m)| s == "False" && m.contains("ProgressDeadlineExceeded"))
        },
    );
    // Nothing of the failed revision stays queued or live.
    up.wait_within(
        "the failed revision's queued task to go",
        Duration::from_secs(10),
        || {
            let a = sample(&mut samples);
            live_in_controller(&a).iter().all(|(_, r, _)| *r == old) && status_count(&a, "available") == Some(3)
        },
    );
    let quiet = Instant::now();
    while quiet.elapsed() < Duration::from_secs(3) {
        let a = sample(&mut samples);
        let live = live_in_controller(&a);
        assert!(
            live.iter().all(|(_, r, _)| *r == old),
            "no task of the failed revision {new} comes back: {live:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("failed after {took:.1} s: {message}; progressing: {progressing:?}");
}

/// Scaling down removes the task that does not serve (failing its health
/// check) before any healthy one, whatever their age.
#[test]
fn scaling_down_kills_unavailable_tasks_first() {
    let up = up(&[]);
    let sick = up.dir.path().join("sick");
    std::fs::create_dir_all(&sick).expect("sick dir");
    let manifest = |instances: u32| {
        format!(
            "apiVersion: sextant.dev/v1alpha1
kind: App
metadata:
  name: web
spec:
  instances: {instances}
  command: \"exec sleep 3600\"
  resources: {{cpus: 0.1, mem: 16}}
  healthCheck:
    command: {{command: \"test ! -e {sick}/$MESOS_TASK_ID\"}}
    initialDelaySeconds: 0
    periodSeconds: 1
    timeoutSeconds: 1
    failureThreshold: 100000
    gracePeriodSeconds: 0
  killGracePeriodSeconds: 1
",
            sick = sick.display()
        )
    };
    up.write_manifest("web.yaml", &manifest(3));
    wait_settled(&up, "web", 3);

    // The one the age rule would keep longest: the oldest (then the
    // smallest id, the tie-break's last).
    let a = app(&up, "web");
    let victim = tasks(&a)
        .into_iter()
        .filter(|t| t["state"] == "TASK_RUNNING")
        .map(|t| {
            let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
            (text(&t["createdAt"]), text(&t["taskId"]))
        })
        .min()
        .map(|(_, id)| id)
        .expect("a running task");
    std::fs::write(sick.join(&victim), "").expect("make one task sick");
    up.wait_for("the sick task to be reported unhealthy", || {
        let a = app(&up, "web");
        tasks(&a)
            .iter()
            .any(|t| t["taskId"] == victim.as_str() && t["state"] == "TASK_RUNNING" && t["healthy"] == false)
            && status_count(&a, "available") == Some(2)
    });
    let healthy: BTreeSet<String> = up
        .live_in_mesos("web")
        .into_iter()
        .map(|t| t.id)
        .filter(|id| *id != victim)
        .collect();
    assert_eq!(healthy.len(), 2, "two healthy tasks besides the sick one");

    up.write_manifest("web.yaml", &manifest(2));
    let mut last_seen = Vec::new();
    up.wait_for("the scale-down to 2", || {
        let mesos = up.live_in_mesos("web");
        last_seen = mesos.clone();
        mesos.len() == 2 && live_in_controller(&app(&up, "web")).len() == 2
    });
    let kept: BTreeSet<String> = last_seen.into_iter().map(|t| t.id).collect();
    assert_eq!(
        kept, healthy,
        "scaling down must kill the unhealthy task {victim}, not a healthy one"
    );
}
