//! A real git remote for the end-to-end tests and the GitOps bench: a bare
//! repository and a working clone that commits and pushes to it, with the
//! system `git` (no global or system config read).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// A bare repository and a working clone that commits and pushes to it.
pub struct Repo {
    _dir: Option<tempfile::TempDir>,
    pub bare: PathBuf,
    pub work: PathBuf,
}

/// Runs `git ARGS` in `dir` as the author Ada Lovelace; its stdout, trimmed.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Ada Lovelace")
        .env("GIT_AUTHOR_EMAIL", "ada@example.com")
        .env("GIT_COMMITTER_NAME", "Ada Lovelace")
        .env("GIT_COMMITTER_EMAIL", "ada@example.com")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("run git (is it installed?)");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl Repo {
    /// A repository in a temporary directory of its own.
    pub fn new() -> Repo {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut repo = Repo::in_dir(dir.path());
        repo._dir = Some(dir);
        repo
    }

    /// A repository under `root` (`remote.git` and `work`).
    pub fn in_dir(root: &Path) -> Repo {
        let bare = root.join("remote.git");
        let work = root.join("work");
        std::fs::create_dir_all(&work).expect("create the working clone");
        let bare_arg = bare.to_str().expect("temporary path is UTF-8");
        git(root, &["init", "-q", "--bare", "-b", "main", bare_arg]);
        git(&work, &["init", "-q", "-b", "main"]);
        git(&work, &["remote", "add", "origin", bare_arg]);
        Repo { _dir: None, bare, work }
    }

    /// The remote's `file://` URL.
    pub fn url(&self) -> String {
        format!("file://{}", self.bare.display())
    }

    /// Writes `file` (relative to the clone), creating its directories.
    pub fn write(&self, file: &str, text: &str) {
        let path = self.work.join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create a manifest directory");
        }
        std::fs::write(path, text).expect("write a manifest");
    }

    /// Removes `file` from the clone.
    pub fn remove(&self, file: &str) {
        git(&self.work, &["rm", "-q", file]);
    }

    /// Commits everything and pushes (forcing, so rewritten history goes
    /// too); returns the commit's sha.
    pub fn commit(&self, subject: &str) -> String {
        git(&self.work, &["add", "-A"]);
        git(&self.work, &["commit", "-q", "--allow-empty", "-m", subject]);
        git(&self.work, &["push", "-q", "--force", "origin", "HEAD:main"]);
        git(&self.work, &["rev-parse", "HEAD"])
    }
}
