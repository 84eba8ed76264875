//! `sextant up` end to end: the real binary, the embedded Mesos master, real
//! task processes, the controller API and the master's `/master/state`.

mod common;

use common::{Up, alive};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Guards `sextant up`'s authenticated master: its agent registers with
/// the generated credential (so apps run), the credential is written 0600
/// under the data dir, and the master refuses SUBSCRIBE and teardown
/// without it (401) while accepting the operator who holds it.
#[test]
fn up_authenticates_its_master_and_still_runs_apps() {
    use std::os::unix::fs::PermissionsExt;
    let up = Up::start();
    up.write_app("web.yaml", "web", 1);
    up.wait_for("1 task RUNNING in Mesos", || up.running_in_mesos("web").len() == 1);

    let path = up.dir.path().join("data").join("mesos-credentials.json");
    let mode = std::fs::metadata(&path)
        .expect("the credentials file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "{}", path.display());
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("Mesos credentials JSON");
    let principal = file["credentials"][0]["principal"].as_str().expect("principal");
    let secret = file["credentials"][0]["secret"].as_str().expect("secret");
    assert!(secret.len() >= 32, "a long random secret");

    let subscribe = r#"{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"x","name":"intruder"}}}"#;
    let (status, challenge) = common::post(
        &format!("{}/api/v1/scheduler", up.mesos),
        "application/json",
        subscribe,
        None,
    );
    assert_eq!(status, 401);
    assert_eq!(challenge.as_deref(), Some("Basic realm=\"mesos-master-scheduler\""));

    let form = "application/x-www-form-urlencoded";
    let teardown = format!("{}/master/teardown", up.mesos);
    let (status, _) = common::post(&teardown, form, "frameworkId=x", None);
    assert_eq!(status, 401);
    let (status, _) = common::post(&teardown, form, "frameworkId=x", Some((principal, "wrong")));
    assert_eq!(status, 401);
    // Authenticated: the master looks for the framework (none is "x").
    let (status, _) = common::post(&teardown, form, "frameworkId=x", Some((principal, secret)));
    assert_eq!(status, 400);
    assert_eq!(up.running_in_mesos("web").len(), 1, "the app still runs");
}

/// Scale up, self-heal, scale down, delete: what a user relies on.
#[test]
fn up_scales_heals_and_prunes_an_app() {
    let up = Up::start();

    up.write_app("web.yaml", "web", 3);
    up.wait_for("3 tasks RUNNING in the controller and in Mesos", || {
        up.running_in_controller("web").len() == 3
            && up.running_in_mesos("web").len() == 3
            && up.app_running_count("web") == Some(3)
    });

    // What a user sees: `sextant get apps`.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args(["get", "apps", "--server", &up.api])
        .output()
        .expect("run sextant get apps");
    let table = String::from_utf8_lossy(&out.stdout);
    let rows: Vec<Vec<&str>> = table.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(
        rows[0],
        ["NAME", "INSTANCES", "RUNNING", "AVAILABLE", "REVISION", "STATUS", "AGE"],
        "{table}"
    );
    assert_eq!(&rows[1][..4], ["web", "3", "3", "3"], "{table}");
    assert_eq!(rows[1][5], "Running", "{table}");

    // One registry for the whole process: the agent's offers and launch
    // latencies beside the controller's figures.
    let vars = common::get_json(&format!("{}/vars.json", up.api)).expect("/vars.json");
    let var = |name: &str| {
        vars[name]
            .as_f64()
            .unwrap_or_else(|| panic!("{name} in /vars.json: {vars}"))
    };
    assert!(var("sextant_offers_received_total") > 0.0);
    assert!(
        var("sextant_launch_latency_seconds_count") >= 3.0,
        "each launch timed to RUNNING"
    );
    assert_eq!(var("sextant_tasks_TASK_RUNNING"), 3.0);
    assert!(var("sextant_drift_corrections_total_launch_missing") >= 3.0);
    assert!(var("sextant_rollouts_total_succeeded") >= 1.0);

    // kill -9 one task's process: the controller replaces it.
    let victim = up.running_in_mesos("web")[0].clone();
    let pid = up.task_pid(&victim).expect("the task recorded its pid");
    kill(Pid::from_raw(pid), Signal::SIGKILL).expect("kill -9 the task");
    up.wait_for("the killed task to be replaced", || {
        let running = up.running_in_mesos("web");
        running.len() == 3 && !running.contains(&victim) && up.running_in_controller("web").len() == 3
    });
    assert!(!alive(pid));

    // Edit to 1 instance: two tasks are killed, their processes gone.
    let before = up.running_in_mesos("web");
    up.write_app("web.yaml", "web", 1);
    up.wait_for("1 task RUNNING", || {
        up.running_in_mesos("web").len() == 1 && up.running_in_controller("web").len() == 1
    });
    let survivor = up.running_in_mesos("web")[0].clone();
    assert!(before.contains(&survivor), "scaling down must keep an existing task");
    for task in before.iter().filter(|t| **t != survivor) {
        let pid = up.task_pid(task).expect("pid recorded");
        up.wait_for("the killed task's process to exit", || !alive(pid));
    }

    // A broken manifest holds only its own apps: the error names the file,
    // line and field, and the other files still apply.
    std::fs::write(
        up.manifests().join("broken.yaml"),
        "apiVersion: sextant.dev/v1alpha1\nkind: App\nmetadata:\n  name: broken\nspec:\n  instances: 5\n  comand: sleep 1\n",
    )
    .expect("write broken manifest");
    up.write_app("web.yaml", "web", 2);
    up.wait_for("the load error to be reported", || {
        source_error(&up).is_some_and(|e| e.contains("broken.yaml:7:") && e.contains("did you mean \"command\""))
    });
    up.wait_for("the good file applied beside the broken one", || {
        up.running_in_mesos("web").len() == 2
    });
    assert!(
        up.running_in_mesos("broken").is_empty(),
        "nothing of the broken file is applied"
    );
    std::fs::remove_file(up.manifests().join("broken.yaml")).expect("remove broken manifest");
    up.wait_for("the error to clear", || source_error(&up).is_none());
    up.write_app("web.yaml", "web", 1);
    up.wait_for("1 task RUNNING again", || up.running_in_mesos("web").len() == 1);
    let survivor = up.running_in_mesos("web")[0].clone();

    // Deleting the last file would remove every app: refused, nothing killed.
    std::fs::remove_file(up.manifests().join("web.yaml")).expect("delete manifest");
    up.wait_for("the emptying sync to be refused", || {
        source_error(&up).is_some_and(|e| e.contains("--allow-empty"))
    });
    assert_eq!(up.running_in_mesos("web"), vec![survivor.clone()]);

    // With another app left, deleting the file kills the app's tasks.
    up.write_app("other.yaml", "other", 1);
    up.wait_for("no task of web left", || {
        up.running_in_mesos("web").is_empty() && up.running_in_controller("web").is_empty()
    });
    let pid = up.task_pid(&survivor).expect("pid recorded");
    up.wait_for("the last task's process to exit", || !alive(pid));
}

/// A task that fails its Mesos-native health check is killed by Mesos (here
/// localmesos, as the command executor does) and Sextant replaces it.
#[test]
fn an_unhealthy_task_is_killed_and_replaced() {
    let up = Up::start();
    up.write_manifest(
        "sick.yaml",
        "apiVersion: sextant.dev/v1alpha1\nkind: App\nmetadata:\n  name: sick\nspec:\n  instances: 1\n  command: \"exec sleep 3600\"\n  resources: {cpus: 0.1, mem: 16}\n  healthCheck:\n    command: {command: \"false\"}\n    initialDelaySeconds: 0\n    periodSeconds: 1\n    timeoutSeconds: 1\n    failureThreshold: 2\n    gracePeriodSeconds: 0\n  killGracePeriodSeconds: 1\n",
    );
    up.wait_for("an unhealthy task killed and a replacement launched", || {
        let tasks = up.tasks_in_controller("sick");
        let killed_unhealthy = tasks
            .iter()
            .any(|t| t["state"] == "TASK_KILLED" && t["healthy"] == false);
        killed_unhealthy && tasks.len() >= 2
    });
}

/// A task that keeps failing is relaunched only after `restartBackoff`'s
/// growing delay, and the app says why (CrashLoopBackOff).
#[test]
fn a_crash_looping_app_backs_off() {
    let up = Up::start();
    up.write_manifest(
        "crash.yaml",
        "apiVersion: sextant.dev/v1alpha1\nkind: App\nmetadata:\n  name: crash\nspec:\n  instances: 1\n  command: \"exit 1\"\n  resources: {cpus: 0.1, mem: 16}\n  restartBackoff: {initialSeconds: 4, factor: 2, maxSeconds: 60}\n",
    );
    up.wait_for("the first failure", || {
        up.tasks_in_controller("crash")
            .iter()
            .any(|t| t["state"] == "TASK_FAILED")
    });
    up.wait_for("the CrashLoopBackOff condition", || {
        common::get_json(&format!("{}/api/v1/apps/default/crash", up.api)).is_some_and(|app| {
            app["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["reason"] == "CrashLoopBackOff")
        })
    });
    // `get apps` says so in its STATUS column.
    let (code, out, _) = up.cli(&["get", "apps", "crash"]);
    assert_eq!(code, 0);
    assert!(
        out.lines().nth(1).is_some_and(|l| l.contains("CrashLoopBackOff")),
        "{out}"
    );
    up.wait_for("a relaunch once the backoff has passed", || {
        up.tasks_in_controller("crash").len() >= 2
    });
    // The relaunch came no earlier than 4 s after the failure.
    let tasks = up.tasks_in_controller("crash");
    let time = |t: &serde_json::Value, field: &str| {
        let text = t[field].as_str().expect("timestamp");
        humantime::parse_rfc3339_weak(text).expect("RFC 3339")
    };
    let failed_at = tasks
        .iter()
        .filter(|t| t["state"] == "TASK_FAILED")
        .map(|t| time(t, "updatedAt"))
        .min()
        .expect("a failed task");
    let relaunched_at = tasks
        .iter()
        .map(|t| time(t, "createdAt"))
        .filter(|&created| created > failed_at)
        .min()
        .expect("a relaunched task");
    let waited = relaunched_at.duration_since(failed_at).expect("ordered");
    assert!(
        waited.as_secs_f64() >= 3.5,
        "relaunched {waited:?} after the failure; backoff is 4 s"
    );
}

/// Ctrl-C on `sextant up` stops everything and leaves no task process behind.
#[test]
fn stopping_up_leaves_no_task_process() {
    let mut up = Up::start();
    up.write_app("a.yaml", "alpha", 2);
    up.write_app("b.yaml", "beta", 2);
    up.wait_for("4 tasks RUNNING", || {
        up.running_in_mesos("alpha").len() == 2 && up.running_in_mesos("beta").len() == 2
    });
    let pids = up.wait_for_task_pids(4);
    assert_eq!(pids.len(), 4);
    assert!(pids.iter().all(|&p| alive(p)));

    let status = up.stop().expect("sextant up was running");
    assert!(status.success(), "sextant up exits 0 on SIGINT, got {status}");
    let leftover: Vec<i32> = pids.into_iter().filter(|&p| alive(p)).collect();
    assert!(leftover.is_empty(), "task processes survived sextant up: {leftover:?}");
}

/// The manifests source's last load error, from `GET /api/v1/sources`.
fn source_error(up: &Up) -> Option<String> {
    let sources = common::get_json(&format!("{}/api/v1/sources", up.api))?;
    sources
        .as_array()?
        .iter()
        .find_map(|s| s["lastError"].as_str().map(str::to_string))
}

/// Even when `sextant up` is killed outright (SIGKILL, no chance to clean
/// up), the tasks' processes do not outlive it.
#[test]
fn a_killed_sextant_up_leaves_no_task_process() {
    let mut up = Up::start();
    up.write_app("a.yaml", "alpha", 2);
    up.wait_for("2 tasks RUNNING", || up.running_in_mesos("alpha").len() == 2);
    // Guards the race CI hit: RUNNING is reported before the shell has
    // written its pid file.
    let pids = up.wait_for_task_pids(2);
    assert_eq!(pids.len(), 2);
    let mut child = up.child.take().expect("running");
    child.kill().expect("SIGKILL sextant up");
    child.wait().expect("reaped");
    up.wait_for("the task processes to die with sextant up", || {
        pids.iter().all(|&p| !alive(p))
    });
}
