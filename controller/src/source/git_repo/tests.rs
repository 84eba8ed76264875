//! Tests of the mirror against real repositories: a bare remote and a
//! working clone pushing to it (`Fixture`, shared with `http_test`), fetches,
//! force-pushes, checkouts and their cleanup, timeouts, and the errors a
//! missing branch, a vanished remote or a bad name give.

use std::time::Instant;

use super::*;

/// Runs a test-side git (not the mirror's) with a clean config and a
/// fixed identity; panics with git's words on failure.
pub(super) fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Ann Author")
        .env("GIT_AUTHOR_EMAIL", "ann@example.com")
        .env("GIT_COMMITTER_NAME", "Cy Committer")
        .env("GIT_COMMITTER_EMAIL", "cy@example.com")
        .env("GIT_COMMITTER_DATE", "1700000000 +0000")
        .env("LC_ALL", "C")
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A bare remote with `main`, a working clone that pushes to it, and a
/// directory for mirrors.
pub(super) struct Fixture {
    pub tmp: tempfile::TempDir,
    pub remote: PathBuf,
    pub work: PathBuf,
}

impl Fixture {
    pub fn new() -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let remote = tmp.path().join("remote.git");
        let work = tmp.path().join("work");
        git(tmp.path(), &["init", "--quiet", "--bare", "-b", "main", "remote.git"]);
        git(tmp.path(), &["init", "--quiet", "-b", "main", "work"]);
        git(&work, &["remote", "add", "origin", &remote.to_string_lossy()]);
        Self { tmp, remote, work }
    }

    /// Writes `files` (an empty content removes the file), commits
    /// everything with `message`, force-pushes, returns the sha.
    pub fn commit(&self, files: &[(&str, &str)], message: &str) -> String {
        for (name, content) in files {
            let path = self.work.join(name);
            if content.is_empty() {
                let _ = fs::remove_file(&path);
            } else {
                fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
                fs::write(&path, content).expect("write");
            }
        }
        git(&self.work, &["add", "-A"]);
        git(&self.work, &["commit", "--quiet", "--allow-empty", "-m", message]);
        git(&self.work, &["push", "--quiet", "--force", "origin", "HEAD:main"]);
        git(&self.work, &["rev-parse", "HEAD"])
    }

    pub fn mirror(&self) -> Mirror {
        self.mirror_of(&self.remote.to_string_lossy(), "main")
    }

    pub fn mirror_of(&self, url: &str, branch: &str) -> Mirror {
        Mirror::new(url, branch, self.tmp.path().join("mirror"), GitAuth::default())
    }
}

const T: Duration = Duration::from_secs(30);

fn checkouts(mirror: &Mirror) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(mirror.dir.join("checkouts"))
        .expect("list checkouts")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn first_fetch_and_checkout() {
    let fx = Fixture::new();
    let sha = fx.commit(&[("apps/web.yaml", "kind: App\n"), ("README", "hi\n")], "first");
    let mirror = fx.mirror();
    assert_eq!(mirror.current(), None);
    assert_eq!(mirror.fetch(T).expect("fetch"), sha);
    let current = mirror.checkout(&sha).expect("checkout");
    assert_eq!(current, fx.tmp.path().join("mirror/current"));
    assert_eq!(
        fs::read_to_string(current.join("apps/web.yaml")).expect("read"),
        "kind: App\n"
    );
    assert!(!current.join(".git").exists(), "a checkout holds files only");
    assert_eq!(mirror.current(), Some(sha.clone()));
    // After a restart the mirror is reused.
    assert_eq!(fx.mirror().current(), Some(sha));
}

#[test]
fn new_commit_is_fetched_and_current_swaps() {
    let fx = Fixture::new();
    let first = fx.commit(&[("a.yaml", "one\n")], "first");
    let mirror = fx.mirror();
    mirror.fetch(T).expect("fetch");
    let current = mirror.checkout(&first).expect("checkout");
    let second = fx.commit(&[("a.yaml", "two\n")], "second");
    assert_eq!(mirror.fetch(T).expect("fetch"), second);
    assert_eq!(mirror.checkout(&second).expect("checkout"), current);
    assert_eq!(fs::read_to_string(current.join("a.yaml")).expect("read"), "two\n");
    assert_eq!(mirror.current(), Some(second));
}

#[test]
fn force_push_to_an_older_commit_is_followed() {
    let fx = Fixture::new();
    let first = fx.commit(&[("a.yaml", "one\n")], "first");
    let second = fx.commit(&[("a.yaml", "two\n")], "second");
    let mirror = fx.mirror();
    assert_eq!(mirror.fetch(T).expect("fetch"), second);
    git(
        &fx.work,
        &["push", "--quiet", "--force", "origin", &format!("{first}:main")],
    );
    assert_eq!(mirror.fetch(T).expect("fetch"), first);
    let current = mirror.checkout(&first).expect("checkout");
    assert_eq!(fs::read_to_string(current.join("a.yaml")).expect("read"), "one\n");
}

#[test]
fn missing_branch_is_branch_not_found() {
    let fx = Fixture::new();
    fx.commit(&[("a.yaml", "one\n")], "first");
    let err = fx
        .mirror_of(&fx.remote.to_string_lossy(), "nope")
        .fetch(T)
        .expect_err("no branch");
    assert!(
        matches!(&err, GitError::BranchNotFound { branch, .. } if branch == "nope"),
        "{err}"
    );
    assert_eq!(err.category(), "GitBranchNotFound");
    assert_eq!(
        err.to_string(),
        format!("branch 'nope' does not exist in {}", fx.remote.display())
    );
}

#[test]
fn remote_that_disappears_fails_in_words_and_keeps_the_checkout() {
    let fx = Fixture::new();
    let sha = fx.commit(&[("a.yaml", "one\n")], "first");
    let url = format!("file://{}", fx.remote.display());
    let mirror = fx.mirror_of(&url, "main");
    mirror.fetch(T).expect("fetch");
    let current = mirror.checkout(&sha).expect("checkout");
    fs::rename(&fx.remote, fx.tmp.path().join("gone.git")).expect("rename");
    let err = mirror.fetch(T).expect_err("remote gone");
    assert_eq!(err.category(), "GitFetch");
    let text = err.to_string();
    assert!(text.contains("does not appear to be a git repository"), "{text}");
    assert!(!text.contains("Please make sure"), "{text}");
    assert_eq!(mirror.current(), Some(sha));
    assert_eq!(fs::read_to_string(current.join("a.yaml")).expect("read"), "one\n");
}

#[test]
fn timeout_kills_git() {
    let fx = Fixture::new();
    // Connections complete in the kernel's backlog and then nothing
    // ever answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let mirror = fx.mirror_of(&format!("http://127.0.0.1:{port}/x.git"), "main");
    let started = Instant::now();
    let err = mirror.fetch(Duration::from_secs(1)).expect_err("hangs");
    assert!(
        matches!(err, GitError::Timeout { after, .. } if after == Duration::from_secs(1)),
        "{err}"
    );
    assert_eq!(err.category(), "GitTimeout");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    drop(listener);
}

#[test]
fn commit_info_fields() {
    let fx = Fixture::new();
    let sha = fx.commit(&[("a.yaml", "one\n")], "Add the web app\n\nWith a body.");
    let mirror = fx.mirror();
    mirror.fetch(T).expect("fetch");
    let info = mirror.commit_info(&sha).expect("info");
    assert_eq!(
        info,
        CommitInfo {
            sha: sha.clone(),
            author: "Ann Author <ann@example.com>".into(),
            subject: "Add the web app".into(),
            time: 1_700_000_000,
        }
    );
    let json = serde_json::to_value(&info).expect("json");
    assert_eq!(json["time"], 1_700_000_000);
    let unknown = "0".repeat(40);
    let err = mirror.commit_info(&unknown).expect_err("unknown");
    assert_eq!(err.category(), "GitCommit");
}

#[test]
fn empty_tree_checks_out_as_an_empty_directory() {
    let fx = Fixture::new();
    fx.commit(&[("a.yaml", "one\n")], "first");
    let empty = fx.commit(&[("a.yaml", "")], "remove everything");
    let mirror = fx.mirror();
    assert_eq!(mirror.fetch(T).expect("fetch"), empty);
    let current = mirror.checkout(&empty).expect("checkout");
    assert!(current.is_dir());
    assert_eq!(fs::read_dir(&current).expect("list").count(), 0);
}

#[test]
fn checkout_is_idempotent_and_old_checkouts_are_cleaned() {
    let fx = Fixture::new();
    let mirror = fx.mirror();
    let one = fx.commit(&[("a.yaml", "1\n")], "one");
    let two = fx.commit(&[("a.yaml", "2\n")], "two");
    let three = fx.commit(&[("a.yaml", "3\n")], "three");
    mirror.fetch(T).expect("fetch");
    for sha in [&one, &two, &three] {
        mirror.checkout(sha).expect("checkout");
    }
    // The replaced one stays: a reader may still be walking it.
    let mut expected = vec![two.clone(), three.clone()];
    expected.sort();
    assert_eq!(checkouts(&mirror), expected);

    use std::os::unix::fs::MetadataExt;
    let inode = |sha: &str| {
        fs::metadata(mirror.dir.join("checkouts").join(sha))
            .expect("stat")
            .ino()
    };
    let before = inode(&three);
    mirror.checkout(&three).expect("again");
    assert_eq!(inode(&three), before);
    assert_eq!(checkouts(&mirror), expected);

    // An old commit comes back as a fresh checkout.
    let current = mirror.checkout(&one).expect("back to one");
    assert_eq!(fs::read_to_string(current.join("a.yaml")).expect("read"), "1\n");
    let mut expected = vec![one.clone(), three.clone()];
    expected.sort();
    assert_eq!(checkouts(&mirror), expected);
}

#[test]
fn leftovers_of_a_crash_are_removed_at_the_next_swap() {
    let fx = Fixture::new();
    let mirror = fx.mirror();
    let sha = fx.commit(&[("a.yaml", "1\n")], "one");
    mirror.fetch(T).expect("fetch");
    let junk = mirror.dir.join("checkouts").join(format!(".tmp-{sha}-1"));
    fs::create_dir_all(junk.join("half")).expect("mkdir");
    mirror.checkout(&sha).expect("checkout");
    assert_eq!(checkouts(&mirror), vec![sha]);
}

#[test]
fn unfetched_sha_is_a_checkout_error_and_current_stays() {
    let fx = Fixture::new();
    let mirror = fx.mirror();
    let sha = fx.commit(&[("a.yaml", "1\n")], "one");
    mirror.fetch(T).expect("fetch");
    mirror.checkout(&sha).expect("checkout");
    let err = mirror.checkout(&"a".repeat(40)).expect_err("unknown");
    assert_eq!(err.category(), "GitCheckout");
    assert_eq!(mirror.current(), Some(sha.clone()));
    assert_eq!(checkouts(&mirror), vec![sha]);
}

#[test]
fn bad_names_are_rejected_before_git_or_the_file_system() {
    let fx = Fixture::new();
    let mirror = fx.mirror();
    for sha in ["../../etc", "abc", &"A".repeat(40), &format!("{}/x", "a".repeat(40))] {
        let err = mirror.checkout(sha).expect_err("bad sha");
        assert_eq!(err.category(), "GitBadRef", "{sha}");
    }
    for branch in ["", "-x", "a:b", "a b", "a..b", "x.lock", "*"] {
        let err = fx
            .mirror_of("file:///nowhere", branch)
            .fetch(T)
            .expect_err("bad branch");
        assert_eq!(err.category(), "GitBadRef", "{branch}");
    }
    assert!(validate_branch("release/1.2").is_ok());
    assert!(!fx.tmp.path().join("mirror").exists(), "nothing was created");
}

#[test]
fn display_url_redacts_passwords_and_tokens() {
    let cases = [
        (
            "https://alice:s3cret@example.com/org/repo.git",
            "https://alice:***@example.com/org/repo.git",
        ),
        (
            "https://ghp_token123@github.com/org/repo",
            "https://***@github.com/org/repo",
        ),
        (
            "ssh://git@example.com/org/repo.git",
            "ssh://git@example.com/org/repo.git",
        ),
        ("ssh://git:pw@example.com/repo", "ssh://git:***@example.com/repo"),
        ("git@github.com:org/repo.git", "git@github.com:org/repo.git"),
        ("https://example.com/a@b", "https://example.com/a@b"),
        ("/srv/git/repo.git", "/srv/git/repo.git"),
    ];
    for (url, shown) in cases {
        assert_eq!(
            Mirror::new(url, "main", "/tmp/m", GitAuth::default()).display_url(),
            shown
        );
    }
    let mirror = Mirror::new("https://u:tok@h/x", "main", "/tmp/m", GitAuth::default());
    assert!(!format!("{mirror:?}").contains("tok"));
}
