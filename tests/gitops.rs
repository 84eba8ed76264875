//! GitOps end to end: `sextant up --git` against real git repositories
//! (`git init --bare` in a temporary directory, pushed to from a working
//! clone), the signed webhook, and `sextant apply` / `diff` / `delete`.

mod common;

use std::process::Command;
use std::time::Duration;

use common::git_repo::{Repo, git};
use common::{Up, get_json};
use serde_json::Value;

fn sleeper(name: &str, instances: u32, tag: &str) -> String {
    format!(
        "apiVersion: sextant.dev/v1alpha1\nkind: App\nmetadata:\n  name: {name}\nspec:\n  instances: {instances}\n  command: \"echo {tag}; exec sleep 3600\"\n  resources: {{cpus: 0.1, mem: 16}}\n  killGracePeriodSeconds: 1\n"
    )
}

fn source(up: &Up) -> Value {
    get_json(&format!("{}/api/v1/sources", up.api))
        .and_then(|s| {
            s.as_array()
                .and_then(|all| all.iter().find(|x| x["kind"] == "git").cloned())
        })
        .unwrap_or(Value::Null)
}

fn synced_commit(up: &Up) -> String {
    source(up)["commit"]["sha"].as_str().unwrap_or_default().to_string()
}

fn condition(app: &Value, kind: &str) -> (String, String) {
    let c = app["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == kind)
        .cloned()
        .unwrap_or(Value::Null);
    (
        c["reason"].as_str().unwrap_or_default().to_string(),
        c["message"].as_str().unwrap_or_default().to_string(),
    )
}

fn revision(up: &Up, app: &str) -> String {
    up.app(app)
        .and_then(|a| a["revision"].as_str().map(str::to_string))
        .unwrap_or_default()
}

fn up_git(repo: &Repo, extra: &[&str]) -> Up {
    let url = repo.url();
    let mut args = vec!["--git", url.as_str()];
    args.extend_from_slice(extra);
    Up::start_with(&args)
}

/// Guards the GitOps loop: a commit deploys, a change rolls, a broken
/// file keeps its apps while the rest of the commit applies, the remote
/// can vanish without harm, force-pushes are followed, and a commit that
/// deletes every manifest is refused.
#[test]
fn a_repository_is_followed_through_good_bad_and_rewritten_commits() {
    let repo = Repo::new();
    repo.write("apps/a.yaml", &sleeper("a", 1, "v1"));
    repo.write("apps/b.yaml", &sleeper("b", 1, "v1"));
    let first = repo.commit("two apps");
    let up = up_git(&repo, &["--interval", "1s"]);

    up.wait_for("both apps running", || {
        up.running_in_mesos("a").len() == 1 && up.running_in_mesos("b").len() == 1
    });
    assert_eq!(synced_commit(&up), first);
    let a = up.app("a").expect("app a");
    assert_eq!(a["commit"]["sha"], first.as_str(), "the object records its commit");
    assert_eq!(a["commit"]["author"], "Ada Lovelace <ada@example.com>");
    assert_eq!(a["commit"]["subject"], "two apps");
    assert_eq!(a["file"], "apps/a.yaml");
    assert_eq!(condition(&a, "Synced").0, "Synced");

    // One commit: a rolls, b breaks; b keeps running, a is applied.
    let b_task = up.running_in_mesos("b");
    let a_before = revision(&up, "a");
    repo.write("apps/a.yaml", &sleeper("a", 1, "v2"));
    repo.write(
        "apps/b.yaml",
        &sleeper("b", 1, "v2").replace("instances: 1", "instances: many"),
    );
    let bad = repo.commit("roll a, break b");
    up.wait_for("a rolled to its new revision", || {
        let rev = revision(&up, "a");
        rev != a_before
            && up.live_in_mesos("a").iter().all(|t| t.revision() == rev)
            && up.running_in_mesos("a").len() == 1
    });
    let s = source(&up);
    let problem = &s["problems"][0];
    assert_eq!(problem["file"], "apps/b.yaml", "{s}");
    assert_eq!(problem["line"], 6, "{s}");
    assert_eq!(problem["field"], "spec.instances", "{s}");
    assert_eq!(problem["commit"], bad.as_str(), "{s}");
    assert_eq!(synced_commit(&up), bad);
    assert_eq!(
        up.running_in_mesos("b"),
        b_task,
        "the broken file's app keeps running untouched"
    );
    let (reason, message) = condition(&up.app("b").expect("b"), "Synced");
    assert_eq!(reason, "InvalidManifest");
    assert!(message.contains("apps/b.yaml:6"), "{message}");

    // A file of deep nesting beside a change: refused at once, and the
    // change is applied without waiting for it.
    let before = up.running_in_mesos("a");
    repo.write("apps/deep.yaml", &"[".repeat(100_000));
    repo.write("apps/a.yaml", &sleeper("a", 2, "v2"));
    repo.commit("deep nesting beside a scale-up");
    up.wait_within("a scaled beside the deep file", Duration::from_secs(10), || {
        up.running_in_mesos("a").len() == 2
    });
    assert!(
        before.iter().all(|t| up.running_in_mesos("a").contains(t)),
        "scaling rolled nothing"
    );
    let s = source(&up);
    assert!(
        s["problems"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["file"] == "apps/deep.yaml" && p["message"].as_str().is_some_and(|m| m.contains("nesting"))),
        "{s}"
    );
    repo.remove("apps/deep.yaml");
    repo.write("apps/a.yaml", &sleeper("a", 1, "v2"));
    repo.commit("back to one");
    up.wait_for("a back to one task", || up.running_in_mesos("a").len() == 1);

    // The remote disappears: everything keeps running, the source says why.
    let moved = repo.bare.with_extension("moved");
    std::fs::rename(&repo.bare, &moved).expect("hide the remote");
    up.wait_for("the fetch error", || {
        let s = source(&up);
        s["failingSince"].is_string() && s["lastError"].as_str().is_some_and(|e| e.contains("cannot fetch"))
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(up.running_in_mesos("b"), b_task);
    assert_eq!(up.running_in_mesos("a").len(), 1);
    std::fs::rename(&moved, &repo.bare).expect("bring the remote back");

    // A force-push to the first commit is followed.
    git(&repo.work, &["reset", "-q", "--hard", &first]);
    git(&repo.work, &["push", "-q", "--force", "origin", "HEAD:main"]);
    up.wait_for("the force-push followed", || synced_commit(&up) == first);
    up.wait_for("a back at its first revision", || revision(&up, "a") == a_before);
    assert!(source(&up)["problems"].as_array().is_none_or(Vec::is_empty));

    // A commit that deletes every manifest is refused; nothing is killed.
    repo.remove("apps/a.yaml");
    repo.remove("apps/b.yaml");
    let empty = repo.commit("delete everything");
    up.wait_for("the empty commit refused", || {
        source(&up)["refused"]
            .as_str()
            .is_some_and(|r| r.contains("--allow-empty"))
    });
    assert_ne!(synced_commit(&up), empty);
    assert_eq!(up.running_in_mesos("a").len(), 1);
    assert_eq!(up.running_in_mesos("b").len(), 1);
    assert_eq!(condition(&up.app("a").expect("a"), "Synced").0, "SyncRefused");
}

fn sextant(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args(args)
        .output()
        .expect("run sextant");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn hook(up: &Up, signature: &str, body: &str) -> u16 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    rt.block_on(async {
        reqwest::Client::new()
            .post(format!("{}/api/v1/hooks/git", up.api))
            .header("X-Hub-Signature-256", signature)
            .header("X-GitHub-Event", "push")
            .body(body.to_string())
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    })
}

/// Guards the webhook (a signed push syncs at once, a forged one changes
/// nothing) and `apply`'s ownership, dry run, all-or-nothing and `diff`'s
/// exit codes.
#[test]
fn webhooks_sync_at_once_and_apply_respects_ownership() {
    let repo = Repo::new();
    repo.write("web.yaml", &sleeper("web", 1, "v1"));
    repo.commit("web");
    let up_dir = tempfile::tempdir().expect("tempdir");
    let secret = up_dir.path().join("secret");
    std::fs::write(&secret, "s3cret\n").expect("secret");
    let secret_arg = secret.display().to_string();
    // Polls are an hour apart: only the webhook can sync in time.
    let up = up_git(&repo, &["--interval", "1h", "--webhook-secret-file", &secret_arg]);
    up.wait_for("web running", || up.running_in_mesos("web").len() == 1);

    repo.write("web.yaml", &sleeper("web", 2, "v1"));
    let scaled = repo.commit("scale web");
    let body = r#"{"ref":"refs/heads/main"}"#;
    assert_eq!(
        hook(
            &up,
            "sha256=0000000000000000000000000000000000000000000000000000000000000000",
            body
        ),
        401
    );
    assert_eq!(hook(&up, "", body), 401);
    std::thread::sleep(Duration::from_secs(2));
    assert_ne!(synced_commit(&up), scaled, "a forged webhook synced");
    let signature = sextant_controller::source::webhook::github_signature(b"s3cret", body.as_bytes());
    assert_eq!(hook(&up, &signature, body), 202);
    up.wait_within("the signed webhook's sync", Duration::from_secs(10), || {
        synced_commit(&up) == scaled && up.running_in_mesos("web").len() == 2
    });

    // apply of a git-owned object is refused, naming the repository path.
    let files = tempfile::tempdir().expect("tempdir");
    let owned = files.path().join("web.yaml");
    std::fs::write(&owned, sleeper("web", 5, "v1")).expect("write");
    let (code, out, err) = sextant(&["apply", "-f", owned.to_str().expect("utf-8"), "--server", &up.api]);
    assert!(
        out.contains("refused") && out.contains("web.yaml:1") && out.contains("git:"),
        "{out}{err}"
    );
    assert_eq!(code, 1);

    // A dry run changes nothing; an invalid set changes nothing.
    let api = files.path().join("api.yaml");
    std::fs::write(&api, sleeper("api", 1, "v1")).expect("write");
    let api_arg = api.to_str().expect("utf-8");
    let (code, out, _) = sextant(&["apply", "-f", api_arg, "--dry-run", "--server", &up.api]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("app/default/api created (dry run)"), "{out}");
    assert!(up.app("api").is_none());
    let broken = files.path().join("broken.yaml");
    std::fs::write(
        &broken,
        sleeper("zzz", 1, "v1").replace("instances: 1", "instances: lots"),
    )
    .expect("write");
    let both = format!("{api_arg},{}", broken.display());
    let (code, _, err) = sextant(&["apply", "-f", &both, "--server", &up.api]);
    assert_eq!(code, 1);
    assert!(err.contains("broken.yaml:6"), "{err}");
    assert!(up.app("api").is_none(), "an invalid set applied part of itself");

    // diff: 1 for a difference, then apply, then 0; 2 for an error.
    let (code, out, _) = sextant(&["diff", "-f", api_arg, "--server", &up.api]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("+  name: api"), "a new object is all additions: {out}");
    let (code, out, _) = sextant(&["apply", "-f", api_arg, "--server", &up.api]);
    assert_eq!(code, 0);
    assert!(out.contains("app/default/api created"), "{out}");
    up.wait_for("api running", || up.running_in_mesos("api").len() == 1);
    let (code, _, _) = sextant(&["diff", "-f", api_arg, "--server", &up.api]);
    assert_eq!(code, 0);
    std::fs::write(&api, sleeper("api", 3, "v1")).expect("write");
    let (code, out, _) = sextant(&["diff", "-f", api_arg, "--server", &up.api]);
    assert_eq!(code, 1);
    assert!(out.contains("would only scale"), "{out}");
    let (code, _, _) = sextant(&["diff", "-f", broken.to_str().expect("utf-8"), "--server", &up.api]);
    assert_eq!(code, 2);

    // delete: an applied app goes with its tasks; a git-owned one stays.
    let (code, out, _) = sextant(&["delete", "app", "api", "--server", &up.api]);
    assert_eq!(code, 0, "{out}");
    up.wait_for("api's task killed", || up.running_in_mesos("api").is_empty());
    let (code, _, err) = sextant(&["delete", "app", "web", "--server", &up.api]);
    assert_eq!(code, 1);
    assert!(err.contains("owned by git:"), "{err}");
    assert_eq!(up.running_in_mesos("web").len(), 2);
}
