//! The kubectl-like CLI against a running `sextant up`: `get` with names,
//! namespaces, selectors and output formats, `get tasks` showing live
//! tasks unless `--all`, and `describe` answering "why".

mod common;

use common::Up;

fn sextant(up: &Up, args: &[&str]) -> (i32, String, String) {
    up.cli(args)
}

fn names(table: &str) -> Vec<String> {
    table
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

const LABELLED: &str = "apiVersion: sextant.dev/v1alpha1
kind: App
metadata:
  name: api
  namespace: team-a
  labels: {tier: backend}
spec:
  instances: 1
  command: \"exec sleep 3600\"
  resources: {cpus: 0.1, mem: 16}
  killGracePeriodSeconds: 1
";

/// Guards what kubectl users rely on: filters, formats, live tasks by
/// default, and `describe` naming the file of a broken definition.
#[test]
fn get_filters_and_formats_and_describe_says_why() {
    let up = Up::start();
    up.write_app("web.yaml", "web", 2);
    up.write_manifest("api.yaml", LABELLED);
    up.wait_for("both apps running", || {
        up.running_in_mesos("web").len() == 2 && up.running_in_mesos("api").len() == 1
    });

    let (code, out, _) = sextant(&up, &["get", "apps"]);
    assert_eq!(code, 0);
    assert_eq!(names(&out), ["web"], "the default namespace only: {out}");
    let (_, out, _) = sextant(&up, &["get", "apps", "-A"]);
    assert_eq!(
        names(&out),
        ["web", "team-a/api"],
        "sorted by namespace, then name: {out}"
    );
    let (_, out, _) = sextant(&up, &["get", "apps", "-A", "-l", "tier=backend"]);
    assert_eq!(names(&out), ["team-a/api"], "{out}");
    let (_, out, _) = sextant(&up, &["get", "apps", "-n", "team-a", "-o", "name"]);
    assert_eq!(out.trim(), "app/team-a/api");
    // -o json: every app (the controller's text, indented), and a filtered list.
    for (args, want) in [
        (&["get", "apps", "-A", "-o", "json"][..], vec!["web", "api"]),
        (&["get", "apps", "-A", "-l", "tier=backend", "-o", "json"], vec!["api"]),
    ] {
        let (code, out, err) = sextant(&up, args);
        assert_eq!(code, 0, "{err}");
        let list: Vec<serde_json::Value> = serde_json::from_str(&out).expect("a JSON list");
        let got: Vec<&str> = list.iter().filter_map(|a| a["name"].as_str()).collect();
        assert_eq!(got, want, "{args:?}: {out}");
        assert!(out.starts_with("[\n  {\n    \""), "indented: {out}");
    }
    let (code, out, _) = sextant(&up, &["get", "apps", "web", "-o", "yaml"]);
    assert_eq!(code, 0);
    let yaml: serde_yaml::Value = serde_yaml::from_str(&out).expect("yaml");
    assert_eq!(yaml["name"].as_str(), Some("web"), "{out}");
    let (code, _, err) = sextant(&up, &["get", "apps", "nope"]);
    assert_eq!(code, 1);
    assert!(err.contains("app default/nope not found"), "{err}");
    let (code, _, _) = sextant(&up, &["get", "apps", "-l", "=x"]);
    assert_eq!(code, 1);
    // A directory owns web: scaling it here is refused, with where it lives.
    let (code, _, err) = sextant(&up, &["scale", "app/web", "3"]);
    assert_eq!(code, 1);
    assert!(err.contains("web.yaml") && err.contains("spec.instances"), "{err}");

    // Scale down: the killed task leaves `get tasks`, but not `--all`.
    up.write_app("web.yaml", "web", 1);
    up.wait_for("one web task", || up.running_in_mesos("web").len() == 1);
    up.wait_for("the killed task ended in the controller", || {
        up.tasks_in_controller("web")
            .iter()
            .any(|t| t["state"] == "TASK_KILLED")
    });
    let (_, live, _) = sextant(&up, &["get", "tasks", "web"]);
    assert_eq!(live.lines().count(), 2, "header and the one live task: {live}");
    assert!(!live.contains("TASK_KILLED"), "{live}");
    let (_, all, _) = sextant(&up, &["get", "tasks", "web", "--all"]);
    assert!(all.contains("TASK_KILLED"), "{all}");

    // A broken definition: `describe` says where, and the task runs on.
    up.write_manifest(
        "web.yaml",
        "apiVersion: sextant.dev/v1alpha1\nkind: App\nmetadata: {name: web}\nspec: {instances: lots, command: x}\n",
    );
    up.wait_for("describe to show the broken file", || {
        let (_, out, _) = sextant(&up, &["describe", "app", "web"]);
        out.contains("InvalidManifest") && out.contains("web.yaml:4")
    });
    let (code, out, _) = sextant(&up, &["describe", "app", "web"]);
    assert_eq!(code, 0);
    assert!(out.contains("Source:") && out.contains("(web.yaml:1)"), "{out}");
    assert!(out.contains("TASK_RUNNING"), "{out}");
    let (_, out, _) = sextant(&up, &["get", "apps"]);
    assert!(
        out.contains("OutOfSync: web.yaml:4"),
        "STATUS says why, with the place: {out}"
    );
    let (code, _, err) = sextant(&up, &["describe", "app", "nope"]);
    assert_eq!(code, 1);
    assert!(err.contains("not found"), "{err}");
}

fn sextant_with_token(up: &Up, token: Option<&str>, args: &[&str]) -> (i32, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sextant"));
    cmd.args(args).args(["--server", &up.api]).env_remove("SEXTANT_TOKEN");
    if let Some(t) = token {
        cmd.env("SEXTANT_TOKEN", t);
    }
    let out = cmd.output().expect("run sextant");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Guards access control end to end: with --tokens, the CLI needs a
/// token of the right role, and says so.
#[test]
fn with_tokens_the_cli_needs_the_right_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = dir.path().join("tokens.yaml");
    std::fs::write(
        &tokens,
        "tokens:\n  - {name: ci, token: write-token-0123456789, role: write}\n  - {name: dash, token: read-token-0123456789, role: read}\n",
    )
    .expect("write tokens");
    let tokens_arg = tokens.display().to_string();
    let up = Up::start_with(&["--tokens", &tokens_arg]);
    let app = dir.path().join("app.yaml");
    std::fs::write(
        &app,
        "apiVersion: sextant.dev/v1alpha1\nkind: App\nmetadata: {name: tok}\nspec: {instances: 1, command: \"exec sleep 3600\", resources: {cpus: 0.1, mem: 16}}\n",
    )
    .expect("write app");
    let app_arg = app.display().to_string();

    let (code, _, err) = sextant_with_token(&up, None, &["get", "apps"]);
    assert_eq!(code, 1);
    assert!(err.contains("needs a token") && err.contains("SEXTANT_TOKEN"), "{err}");
    let (code, _, _) = sextant_with_token(&up, Some("read-token-0123456789"), &["get", "apps"]);
    assert_eq!(code, 0);
    let (code, _, err) = sextant_with_token(&up, Some("read-token-0123456789"), &["apply", "-f", &app_arg]);
    assert_eq!(code, 1);
    assert!(err.contains("needs a write token"), "{err}");
    let (code, out, err) = sextant_with_token(&up, Some("write-token-0123456789"), &["apply", "-f", &app_arg]);
    assert_eq!(code, 0, "{out}{err}");
    up.wait_for("the applied app running", || up.running_in_mesos("tok").len() == 1);
    let first = up.running_in_mesos("tok");
    let (code, out, err) = sextant_with_token(&up, Some("write-token-0123456789"), &["scale", "app/tok", "2"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("scaled to 2"), "{out}");
    up.wait_for("two tasks, the first kept", || {
        let now = up.running_in_mesos("tok");
        now.len() == 2 && now.contains(&first[0])
    });
}

/// Guards the default: without tokens, `sextant up` will not open its API
/// to the network.
#[test]
fn up_without_tokens_refuses_a_network_address() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("m")).expect("mkdir");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args(["up", "--api-addr", "0.0.0.0:0", "--manifests"])
        .arg(dir.path().join("m"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .output()
        .expect("run sextant up");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--tokens"), "{err}");
}

/// `minReadySeconds: 2`: a task that runs for a moment and exits is never
/// available, however late its exit is seen on a loaded machine (without
/// it, a RUNNING seen before the exit completed the rollout).
fn rolling(tag: &str, command: &str) -> String {
    format!(
        "apiVersion: sextant.dev/v1alpha1\nkind: App\nmetadata: {{name: roll}}\nspec:\n  instances: 1\n  command: \"echo {tag}; {command}\"\n  resources: {{cpus: 0.1, mem: 16}}\n  strategy: {{failureBudget: 0, autoRollback: true, minReadySeconds: 2}}\n  restartBackoff: {{initialSeconds: 1, factor: 1, maxSeconds: 1}}\n  killGracePeriodSeconds: 1\n"
    )
}

/// Guards `rollout status` as pipelines use it: exit 0 when the rollout
/// completes, 1 when it fails (here: rolled back), saying why.
#[test]
fn rollout_status_waits_and_fails_with_the_rollout() {
    let up = Up::start();
    up.write_manifest("roll.yaml", &rolling("v1", "exec sleep 3600"));
    let (code, out, err) = sextant(&up, &["rollout", "status", "app/roll", "--timeout", "60s"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("rolled out"), "{out}");

    up.write_manifest("roll.yaml", &rolling("v2", "exit 3"));
    up.wait_for("the controller to see the new spec", || {
        up.app("roll").is_some_and(|a| a["generation"] == 2)
    });
    let (code, out, _) = sextant(&up, &["rollout", "status", "app/roll", "--timeout", "60s"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("failed") && out.contains("RolledBack"), "{out}");
    let (code, out, _) = sextant(&up, &["rollout", "history", "app/roll"]);
    assert_eq!(code, 0);
    assert!(out.contains("Completed") && out.contains("Failed"), "{out}");
}

/// `sextant ARGS -w --server ...` as a child, its stdout lines on a channel.
fn watching(up: &Up, args: &[&str]) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args(args)
        .args(["-w", "--server", &up.api])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn get -w");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Guards `get tasks -w` and `get apps -w`: after the list, a task that
/// appears or changes state, and an app whose row changes, are printed as
/// it happens.
#[test]
fn get_tasks_watch_prints_each_change() {
    let up = Up::start();
    up.write_app("w.yaml", "w", 1);
    up.wait_for("one task running", || up.running_in_mesos("w").len() == 1);
    let first = up.running_in_mesos("w")[0].clone();
    let (mut child, rx) = watching(&up, &["get", "tasks", "w"]);
    let (mut apps_child, apps_rx) = watching(&up, &["get", "apps"]);
    let mut seen = Vec::new();
    let wait_line = |what: &str, pred: &dyn Fn(&str) -> bool, seen: &mut Vec<String>| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while std::time::Instant::now() < deadline {
            if let Ok(line) = rx.recv_timeout(std::time::Duration::from_millis(500)) {
                seen.push(line.clone());
                if pred(&line) {
                    return;
                }
            }
        }
        panic!("no line for {what}: {seen:#?}");
    };
    wait_line(
        "the list",
        &|l| l.contains(&first) && l.contains("TASK_RUNNING"),
        &mut seen,
    );
    up.write_app("w.yaml", "w", 2);
    wait_line(
        "the new task running",
        &|l| !l.contains(&first) && l.contains("TASK_RUNNING"),
        &mut seen,
    );
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        seen.iter().filter(|l| l.starts_with("TASK ")).count(),
        1,
        "one header only: {seen:#?}"
    );
    // The app's row again, now with 2 instances running.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut apps = Vec::new();
    while std::time::Instant::now() < deadline {
        if let Ok(line) = apps_rx.recv_timeout(std::time::Duration::from_millis(500)) {
            let cells: Vec<String> = line.split_whitespace().map(str::to_string).collect();
            apps.push(line);
            if cells.len() > 3 && cells[0] == "w" && cells[1] == "2" && cells[2] == "2" {
                break;
            }
        }
    }
    let _ = apps_child.kill();
    let _ = apps_child.wait();
    assert!(
        apps.iter()
            .any(|l| l.split_whitespace().take(3).collect::<Vec<_>>() == ["w", "2", "2"]),
        "get apps -w printed the changed row: {apps:#?}"
    );
}
