//! `sextant up` with several local nodes: `--nodes 3` gives three nodes,
//! each named and listed on its own in `sextant get nodes`, with the
//! attributes given, and an app's tasks run on them.
//! `--isolation` is checked here too: `subreaper`, a bad value, and
//! `cgroups` on a machine without a cgroup2 hierarchy (one made so in a
//! mount namespace).

mod common;

use std::collections::BTreeSet;

use common::{Up, get_json, running_tasks_of};

const SPREAD: &str = "apiVersion: sextant.dev/v1alpha1
kind: App
metadata:
  name: spread
spec:
  instances: 3
  command: \"exec sleep 3600\"
  resources: {cpus: 0.1, mem: 16}
  killGracePeriodSeconds: 1
";

/// The hostnames the Mesos master says `app`'s running tasks are on.
fn hosts_of(up: &Up, app: &str) -> Vec<String> {
    let Some(state) = get_json(&format!("{}/master/state", up.mesos)) else {
        return Vec::new();
    };
    let host_of = |agent: &str| {
        state["slaves"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["id"] == agent)
            .and_then(|s| s["hostname"].as_str())
            .map(str::to_string)
    };
    running_tasks_of(&state, app)
        .filter_map(|t| host_of(t["slave_id"].as_str().unwrap_or_default()))
        .collect()
}

/// Guards "can I try a cluster of several machines on my laptop?".
#[test]
fn up_with_three_nodes_lists_them_and_runs_tasks_on_them() {
    let up = Up::start_with(&["--nodes", "3", "--node-attributes", "zone:west"]);
    let (code, out, err) = up.cli(&["get", "nodes", "-o", "name"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "node/node-1\nnode/node-2\nnode/node-3");
    let nodes = get_json(&format!("{}/api/v1/cluster/nodes", up.api)).expect("GET /api/v1/cluster/nodes");
    assert_eq!(nodes["total"], 3, "{nodes}");
    assert!(
        nodes["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|n| n["attributes"]["zone"] == "west"),
        "{nodes}"
    );

    up.write_manifest("spread.yaml", SPREAD);
    let mut hosts = Vec::new();
    up.wait_for("three tasks running", || {
        hosts = hosts_of(&up, "spread");
        hosts.len() == 3
    });
    let known: BTreeSet<&str> = ["node-1", "node-2", "node-3"].into();
    assert!(hosts.iter().all(|h| known.contains(h.as_str())), "{hosts:?}");
}

/// Guards a typo in a node flag: `sextant up` says which flag and which
/// part, and does not start.
#[test]
fn a_bad_node_flag_is_refused_in_words() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args([
            "local-mesos",
            "--addr",
            "127.0.0.1:0",
            "--node-resources",
            "cpus:4;mem:lots",
        ])
        .output()
        .expect("run sextant");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--node-resources \"cpus:4;mem:lots\": `mem:lots`: mem must be a non-negative number"),
        "{stderr}"
    );
}

/// Guards `--fetcher-max-mib`: a task URI over the limit fails the task,
/// saying the limit, and the task never runs.
#[test]
fn a_uri_over_the_fetcher_limit_fails_its_task_in_words() {
    let up = Up::start_with(&["--fetcher-max-mib", "1"]);
    let big = up.dir.path().join("big.bin");
    std::fs::write(&big, vec![7u8; 2 << 20]).expect("write a 2 MiB file");
    up.write_manifest(
        "fetchy.yaml",
        &format!(
            "apiVersion: sextant.dev/v1alpha1
kind: App
metadata:
  name: fetchy
spec:
  instances: 1
  command: \"exec sleep 3600\"
  uris: [{{value: {}}}]
  resources: {{cpus: 0.1, mem: 16}}
",
            big.display()
        ),
    );
    let mut message = String::new();
    up.wait_for("the task failed by its fetch", || {
        message = up
            .tasks_in_controller("fetchy")
            .iter()
            .find(|t| t["state"] == "TASK_FAILED")
            .and_then(|t| t["message"].as_str().map(str::to_string))
            .unwrap_or_default();
        !message.is_empty()
    });
    assert!(
        message.contains("Failed to fetch all URIs") && message.contains(&format!("{}", 1 << 20)),
        "names the fetch and the limit in bytes: {message}"
    );
    assert!(up.running_in_mesos("fetchy").is_empty());
}

/// The pids of `app`'s running tasks, from the master's statuses
/// (`container_status.executor_pid`).
fn task_pids(up: &Up, app: &str) -> Vec<i32> {
    let Some(state) = get_json(&format!("{}/master/state", up.mesos)) else {
        return Vec::new();
    };
    running_tasks_of(&state, app)
        .filter_map(|t| {
            t["statuses"]
                .as_array()?
                .iter()
                .find_map(|s| s["container_status"]["executor_pid"].as_i64())
        })
        .map(|pid| pid as i32)
        .collect()
}

/// The task's own cgroup (`0::` line of `/proc/<pid>/cgroup`).
fn cgroup_of(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("0::").map(str::to_string))
        .unwrap_or_default()
}

/// Guards `--isolation`: `subreaper` runs a task under a supervisor of
/// its own (never in a localmesos cgroup), whatever the machine; a value
/// it does not know is refused, naming the choices.
#[test]
fn isolation_subreaper_runs_tasks_under_supervisors_and_bad_values_are_refused() {
    let up = Up::start_with(&["--isolation", "subreaper"]);
    up.write_manifest("spread.yaml", SPREAD);
    let mut pids = Vec::new();
    up.wait_for("3 running tasks with pids", || {
        pids = task_pids(&up, "spread");
        pids.len() == 3
    });
    for pid in pids {
        let cgroup = cgroup_of(pid);
        assert!(!cgroup.contains("/localmesos-"), "task {pid} is in {cgroup:?}");
    }

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args(["local-mesos", "--addr", "127.0.0.1:0", "--isolation", "jails"])
        .output()
        .expect("run sextant");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--isolation") && stderr.contains("expected auto, cgroups or subreaper"),
        "{stderr}"
    );
}

/// Unmounts every cgroup2 hierarchy in a mount namespace of its own, then
/// runs its arguments: a machine with cgroup v1 only, as `sextant up`
/// inside it sees it.
const WITHOUT_CGROUP2: &[&str] = &[
    "unshare",
    "--mount",
    "sh",
    "-c",
    "for m in $(awk '/ - cgroup2 /{print $5}' /proc/self/mountinfo); do umount -l \"$m\" || exit 1; done; exec \"$@\"",
    "without-cgroup2",
];

/// Guards `--isolation cgroups` on a machine without a cgroup2 hierarchy:
/// no task runs unconfined; each launch fails, and the failure a user
/// reads in `sextant describe` says why (and the log says so at start).
#[test]
#[cfg_attr(
    not(runs_as_root),
    ignore = "needs root to hide the cgroup2 hierarchy in a mount namespace (run the tests as root)"
)]
fn isolation_cgroups_without_a_cgroup2_hierarchy_fails_each_launch_saying_why() {
    let up = Up::start_under(WITHOUT_CGROUP2, &["--isolation", "cgroups"]);
    up.write_manifest("spread.yaml", SPREAD);
    let why = "--isolation cgroups, but no cgroup2 hierarchy is mounted";
    let mut out = String::new();
    up.wait_for("describe to say why the launches fail", || {
        out = up.cli(&["describe", "app", "spread"]).1;
        out.contains(why)
    });
    assert!(!out.contains("TASK_RUNNING"), "{out}");
    assert!(task_pids(&up, "spread").is_empty(), "no task runs unconfined");
    assert!(
        up.log_tail(400).contains("no cgroup2 hierarchy is mounted"),
        "{}",
        up.log_tail(60)
    );
}
