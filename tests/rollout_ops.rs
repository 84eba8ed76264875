//! `sextant rollout pause|resume|undo|restart` against a running `sextant
//! up`, on an app a directory owns (the operations live beside the
//! manifest, so they work whatever the source): what runs in Mesos follows
//! each one.

mod common;

use std::collections::BTreeSet;

use common::{Up, live_in_mesos};

fn sextant(up: &Up, args: &[&str]) -> (i32, String, String) {
    up.cli(args)
}

fn manifest(tag: &str) -> String {
    format!(
        "apiVersion: sextant.dev/v1alpha1\nkind: App\nmetadata: {{name: ops}}\nspec:\n  instances: 2\n  command: \"echo {tag}; exec sleep 3600\"\n  resources: {{cpus: 0.1, mem: 16}}\n  strategy: {{maxSurge: 1, maxUnavailable: 0}}\n  killGracePeriodSeconds: 1\n"
    )
}

/// The revisions of the app's live tasks in Mesos.
fn revisions(up: &Up) -> BTreeSet<String> {
    live_in_mesos(&up.mesos, "ops")
        .iter()
        .map(|t| t.revision().to_string())
        .collect()
}

fn spec_revision(up: &Up) -> String {
    up.app("ops")
        .and_then(|a| a["revision"].as_str().map(str::to_string))
        .unwrap_or_default()
}

fn only(revision: &str) -> BTreeSet<String> {
    BTreeSet::from([revision.to_string()])
}

fn all_running_at(up: &Up, revision: &str) -> bool {
    let tasks = live_in_mesos(&up.mesos, "ops");
    tasks.len() == 2
        && tasks
            .iter()
            .all(|t| t.revision() == revision && t.state == "TASK_RUNNING")
}

/// Guards the operations by hand: a pause holds a new spec back, resume
/// rolls it, undo goes back to the revision before, restart replaces every
/// task with a new revision of the same spec; refusals say why.
#[test]
fn pause_resume_undo_and_restart_drive_what_runs() {
    let up = Up::start();
    up.write_manifest("ops.yaml", &manifest("v1"));
    up.wait_for("v1 running", || {
        let r = spec_revision(&up);
        !r.is_empty() && all_running_at(&up, &r)
    });
    let v1 = spec_revision(&up);

    let (code, out, err) = sextant(&up, &["rollout", "pause", "app/ops"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("paused"), "{out}");
    up.write_manifest("ops.yaml", &manifest("v2"));
    up.wait_for("the controller to see v2", || spec_revision(&up) != v1);
    let v2 = spec_revision(&up);
    up.wait_for("the Paused condition naming the pause", || {
        up.app("ops").is_some_and(|a| {
            a["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["reason"] == "Paused" && c["message"].as_str().is_some_and(|m| m.contains("rollout pause")))
        })
    });
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(revisions(&up), only(&v1), "paused: v2 is not rolled out");
    let (_, out, _) = sextant(&up, &["get", "apps", "ops"]);
    assert!(
        out.lines().nth(1).is_some_and(|l| l.contains("Paused")),
        "STATUS says Paused: {out}"
    );

    let (code, out, err) = sextant(&up, &["rollout", "resume", "app/ops"]);
    assert_eq!(code, 0, "{out}{err}");
    up.wait_for("v2 rolled out after resume", || all_running_at(&up, &v2));
    let (code, out, _) = sextant(&up, &["rollout", "resume", "app/ops"]);
    assert_eq!(code, 0);
    assert!(out.contains("was not paused"), "{out}");

    let (code, out, err) = sextant(&up, &["rollout", "undo", "app/ops"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&v1), "undo goes to the completed revision before: {out}");
    up.wait_for("v1 running again after undo", || all_running_at(&up, &v1));
    let (code, out, err) = sextant(&up, &["rollout", "status", "app/ops", "--timeout", "30s"]);
    assert_eq!(code, 0, "an undo that completed is a finished rollout: {out}{err}");

    let (code, out, err) = sextant(&up, &["rollout", "restart", "app/ops"]);
    assert_eq!(code, 0, "{out}{err}");
    up.wait_for("the restart's revision", || {
        let r = spec_revision(&up);
        r != v1 && r != v2
    });
    let v3 = spec_revision(&up);
    up.wait_for("every task replaced by the restart", || all_running_at(&up, &v3));

    let (code, _, err) = sextant(&up, &["rollout", "undo", "app/ops", "--to-revision", "nope"]);
    assert_eq!(code, 1);
    assert!(err.contains("no revision nope") && err.contains(&v1), "{err}");
    let (code, _, err) = sextant(&up, &["rollout", "pause", "app/missing"]);
    assert_eq!(code, 1);
    assert!(err.contains("app default/missing not found"), "{err}");
}
