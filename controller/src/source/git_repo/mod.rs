//! A blocking mirror of one branch of a remote git repository, driven by the
//! system `git` binary (2.31 or newer).
//!
//! The mirror owns one directory: `repo.git` (a bare repository the branch is
//! fetched into, as `refs/remotes/origin/<branch>`), `checkouts/<sha>` (plain
//! file trees, no `.git`), `current` (a relative symlink to the live
//! checkout, swapped with rename(2) so a reader never sees a half-written
//! tree) and `known_hosts` (for SSH remotes).
//!
//! Every git runs with a clean environment: no system or global config, no
//! prompts, C locale, its own process group killed at the deadline. The
//! remote url and any credentials reach git through `GIT_CONFIG_COUNT`
//! environment config, never the command line where `ps` would show them.
//!
//! - `credentials` builds that environment, reads the credentials file and
//!   redacts secrets from urls and messages;
//! - `run` runs one git under a deadline and turns its stderr into words;
//! - `names` rejects branch names and commit ids git or the file system
//!   would misread.
//!
//! This file holds the public API and the checkout directory's upkeep.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tracing::{debug, warn};

use credentials::{GitEnv, redact_urls};
use names::{validate_branch, validate_sha};
use run::{Deadline, Failure, Output, classify, run, summarize};

mod credentials;
mod names;
mod run;

#[cfg(test)]
mod http_test;
#[cfg(test)]
mod tests;

/// Bound on local git work (checkout, log, rev-parse, init), so a wedged
/// git can never hang the caller.
const LOCAL_TIMEOUT: Duration = Duration::from_secs(600);

/// How to authenticate to the remote.
#[derive(Clone, Debug, Default)]
pub struct GitAuth {
    /// HTTPS credentials file: either git-credential-store lines
    /// (`https://USER:TOKEN@host`, any line containing "://"; the first line
    /// whose scheme, host and port match the remote is used), or one line
    /// `USER:TOKEN`, or one line holding a bare TOKEN (sent as user
    /// `x-access-token`). Read at each fetch, so a rotated token is picked
    /// up. Ignored for non-HTTP remotes.
    pub credentials_file: Option<PathBuf>,
    /// SSH private key file for ssh:// or scp-like URLs.
    pub ssh_key: Option<PathBuf>,
}

pub use sextant_api::wire::CommitInfo;

/// Errors of the git mirror. Messages carry git's own words (trimmed,
/// secrets redacted); `category()` is a stable name for conditions and
/// metrics.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// git could not be started.
    #[error("cannot run git: {reason}")]
    Spawn {
        /// Why, in words.
        reason: String,
    },
    /// The fetch failed for a reason other than authentication.
    #[error("git fetch from {url} failed: {stderr}")]
    Fetch {
        /// The remote, redacted.
        url: String,
        /// git's message.
        stderr: String,
    },
    /// The remote refused the credentials (or asked for some and none were
    /// configured).
    #[error("authentication to {url} failed: {stderr}; check the credentials file or SSH key")]
    Auth {
        /// The remote, redacted.
        url: String,
        /// git's message.
        stderr: String,
    },
    /// The remote has no such branch.
    #[error("branch '{branch}' does not exist in {url}")]
    BranchNotFound {
        /// The remote, redacted.
        url: String,
        /// The branch asked for.
        branch: String,
    },
    /// git ran past its deadline and was killed.
    #[error("{what} did not finish within {after:?}; git was killed")]
    Timeout {
        /// What git was doing.
        what: String,
        /// The time it was given.
        after: Duration,
    },
    /// Writing a checkout failed.
    #[error("cannot check out {sha}: {stderr}")]
    Checkout {
        /// The commit.
        sha: String,
        /// git's message.
        stderr: String,
    },
    /// Reading a commit failed (it was never fetched, or is not a commit).
    #[error("cannot read commit {sha}: {stderr}")]
    Commit {
        /// The commit.
        sha: String,
        /// git's message.
        stderr: String,
    },
    /// A git command on the local repository failed.
    #[error("git {command} in {repo} failed: {stderr}")]
    Repo {
        /// The git subcommand.
        command: &'static str,
        /// The bare repository.
        repo: PathBuf,
        /// git's message.
        stderr: String,
    },
    /// A file system operation in the mirror directory failed.
    #[error("cannot {action} {path}: {error}")]
    Io {
        /// What was being done, e.g. "create directory".
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        error: io::Error,
    },
    /// The credentials file or SSH key is unreadable or malformed.
    #[error("{path}: {message}")]
    Credentials {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A branch name or commit id that git would misread, or that would
    /// escape the mirror directory.
    #[error("invalid {what} '{value}': {reason}")]
    BadRef {
        /// "branch" or "commit id".
        what: &'static str,
        /// The value given.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl GitError {
    /// A stable name for the error's kind, for condition reasons and metric
    /// labels.
    pub fn category(&self) -> &'static str {
        match self {
            GitError::Spawn { .. } => "GitSpawn",
            GitError::Fetch { .. } => "GitFetch",
            GitError::Auth { .. } => "GitAuth",
            GitError::BranchNotFound { .. } => "GitBranchNotFound",
            GitError::Timeout { .. } => "GitTimeout",
            GitError::Checkout { .. } => "GitCheckout",
            GitError::Commit { .. } => "GitCommit",
            GitError::Repo { .. } => "GitRepo",
            GitError::Io { .. } => "GitIo",
            GitError::Credentials { .. } => "GitCredentials",
            GitError::BadRef { .. } => "GitBadRef",
        }
    }
}

/// A mirror of one branch of one remote in its own directory. One `Mirror`
/// per directory: its methods serialize on an internal lock, but two
/// processes sharing a directory would race.
pub struct Mirror {
    url: String,
    branch: String,
    dir: PathBuf,
    auth: GitAuth,
    /// Held by fetch and checkout (git's ref locks and the checkout swap
    /// assume one writer); holds the tip of the last fetch.
    state: Mutex<Option<String>>,
}

impl std::fmt::Debug for Mirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mirror")
            .field("url", &self.display_url())
            .field("branch", &self.branch)
            .field("dir", &self.dir)
            .field("auth", &self.auth)
            .finish()
    }
}

impl Mirror {
    /// `dir` is the mirror's own directory (created if missing, made
    /// absolute), e.g. `<data>/git/<hash>`; holds `repo.git` (bare),
    /// `checkouts/<sha>`, `current` (symlink) and `known_hosts`.
    pub fn new(url: impl Into<String>, branch: impl Into<String>, dir: impl Into<PathBuf>, auth: GitAuth) -> Self {
        let dir = dir.into();
        let dir = std::path::absolute(&dir).unwrap_or(dir);
        Self {
            url: url.into(),
            branch: branch.into(),
            dir,
            auth,
            state: Mutex::new(None),
        }
    }

    /// Fetches the branch (force: rewritten history and force-pushes are
    /// followed) and returns the sha of its tip. Runs `git init --bare` on
    /// first use. Kills git after `timeout`.
    pub fn fetch(&self, timeout: Duration) -> Result<String, GitError> {
        let deadline = Deadline::after(timeout);
        let mut last_tip = self.lock();
        validate_branch(&self.branch)?;
        self.ensure_repo(&deadline)?;
        let env = self.fetch_env()?;
        let cmd = self.fetch_command(&env);
        let out = run(cmd, &deadline, || {
            format!("fetch of {} from {}", self.branch, self.display_url())
        })?;
        if !out.status.success() {
            let stderr = summarize(&out, &env.secrets);
            let url = self.display_url();
            return Err(match classify(&out.stderr) {
                Failure::BranchNotFound => GitError::BranchNotFound {
                    url,
                    branch: self.branch.clone(),
                },
                Failure::Auth => GitError::Auth { url, stderr },
                Failure::Other => GitError::Fetch { url, stderr },
            });
        }
        let tip = self.rev_parse(&format!("refs/remotes/origin/{}^{{commit}}", self.branch), &deadline)?;
        if last_tip.as_deref() != Some(tip.as_str()) {
            self.maintain(&deadline);
            *last_tip = Some(tip.clone());
        }
        Ok(tip)
    }

    /// Author, subject and committer time of a fetched commit.
    pub fn commit_info(&self, sha: &str) -> Result<CommitInfo, GitError> {
        validate_sha(sha)?;
        let deadline = Deadline::after(LOCAL_TIMEOUT);
        let env = GitEnv::base();
        let mut cmd = self.command(&env);
        cmd.args(["log", "-1", "--format=%H%x00%an <%ae>%x00%ct%x00%s", sha]);
        let out = run(cmd, &deadline, || format!("reading commit {sha}"))?;
        let failed = |stderr: String| GitError::Commit {
            sha: sha.to_owned(),
            stderr,
        };
        if !out.status.success() {
            return Err(failed(summarize(&out, &env.secrets)));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let mut fields = text.trim_end_matches('\n').splitn(4, '\0');
        let (Some(full), Some(author), Some(time), Some(subject)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(failed(format!("unexpected git log output '{}'", text.trim())));
        };
        let time = time
            .parse()
            .map_err(|_| failed(format!("unexpected committer time '{time}'")))?;
        Ok(CommitInfo {
            sha: full.to_owned(),
            author: author.to_owned(),
            subject: subject.to_owned(),
            time,
        })
    }

    /// Checks `sha` out into `checkouts/<sha>` (written completely under a
    /// temporary name first, then renamed), then swaps the symlink `current`
    /// to it atomically. Removes checkouts other than the new one and the
    /// one just replaced (a reader may still be walking it; it goes at the
    /// next swap). Idempotent when `current` already points at `sha`.
    /// Returns the path of `current`.
    pub fn checkout(&self, sha: &str) -> Result<PathBuf, GitError> {
        validate_sha(sha)?;
        let _guard = self.lock();
        let link = self.current_link();
        let previous = self.current();
        let checkouts = self.dir.join("checkouts");
        let target = checkouts.join(sha);
        if previous.as_deref() == Some(sha) {
            return Ok(link);
        }
        create_dir_all(&checkouts)?;
        // A final name only ever holds a complete tree (renames are atomic,
        // cleanup renames before deleting), so an existing one is reused.
        if !target.is_dir() {
            self.write_tree(sha, &checkouts, &target)?;
        }
        let temp_link = self.dir.join(format!(".current.tmp-{}", std::process::id()));
        remove_quietly(&temp_link);
        std::os::unix::fs::symlink(Path::new("checkouts").join(sha), &temp_link).map_err(|error| GitError::Io {
            action: "create symlink",
            path: temp_link.clone(),
            error,
        })?;
        fs::rename(&temp_link, &link).map_err(|error| {
            remove_quietly(&temp_link);
            GitError::Io {
                action: "replace symlink",
                path: link.clone(),
                error,
            }
        })?;
        debug!(url = %self.display_url(), %sha, "checked out");
        let keep = [Some(sha), previous.as_deref()];
        clean_checkouts(&checkouts, &keep);
        Ok(link)
    }

    /// The sha `current` points at, if any (after a restart the mirror is
    /// reused).
    pub fn current(&self) -> Option<String> {
        let target = fs::read_link(self.current_link()).ok()?;
        let name = target.file_name()?.to_str()?;
        let live = validate_sha(name).is_ok() && self.dir.join("checkouts").join(name).is_dir();
        live.then(|| name.to_owned())
    }

    /// The url with any password or token in it replaced by `***`, for
    /// messages and status.
    pub fn display_url(&self) -> String {
        redact_urls(&self.url)
    }

    fn lock(&self) -> MutexGuard<'_, Option<String>> {
        // A panic mid-operation leaves nothing the next one cannot redo.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn repo(&self) -> PathBuf {
        self.dir.join("repo.git")
    }

    fn current_link(&self) -> PathBuf {
        self.dir.join("current")
    }

    /// git with the mirror's repository and a clean environment.
    fn command(&self, env: &GitEnv) -> Command {
        env.command(&self.repo())
    }

    /// `git fetch` of the branch, forced so rewritten history is followed.
    fn fetch_command(&self, env: &GitEnv) -> Command {
        let branch = &self.branch;
        let mut cmd = self.command(env);
        cmd.args([
            "fetch",
            "--quiet",
            "--no-tags",
            "--no-write-fetch-head",
            // Run by `maintain`, only when something arrived: a no-op fetch
            // stays one round trip and leaves nothing in the background.
            "--no-auto-maintenance",
            "origin",
            &format!("+refs/heads/{branch}:refs/remotes/origin/{branch}"),
        ]);
        cmd
    }

    /// The environment of a fetch: the remote, and credentials read now so
    /// a rotated token is used.
    fn fetch_env(&self) -> Result<GitEnv, GitError> {
        GitEnv::for_fetch(&self.url, &self.dir.join("known_hosts"), &self.auth)
    }

    /// Creates the directory and the bare repository on first use.
    fn ensure_repo(&self, deadline: &Deadline) -> Result<(), GitError> {
        create_dir_all(&self.dir)?;
        if self.repo().join("HEAD").is_file() {
            return Ok(());
        }
        let env = GitEnv::base();
        let mut cmd = self.command(&env);
        // No template: the sample hooks and description are never used.
        cmd.args(["init", "--bare", "--quiet", "--template="]);
        let out = run(cmd, deadline, || format!("git init in {}", self.repo().display()))?;
        if !out.status.success() {
            return Err(self.repo_error("init", &out, &env));
        }
        Ok(())
    }

    fn rev_parse(&self, rev: &str, deadline: &Deadline) -> Result<String, GitError> {
        let env = GitEnv::base();
        let mut cmd = self.command(&env);
        cmd.args(["rev-parse", "--verify", rev]);
        let out = run(cmd, deadline, || format!("git rev-parse {rev}"))?;
        if !out.status.success() {
            return Err(self.repo_error("rev-parse", &out, &env));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// Lets git pack and prune when it thinks it is due (`--auto` is a cheap
    /// check). Failure only costs disk space, so it is logged, not returned.
    fn maintain(&self, deadline: &Deadline) {
        let env = GitEnv::base();
        let mut cmd = self.command(&env);
        cmd.args(["maintenance", "run", "--auto", "--quiet"]);
        match run(cmd, deadline, || "git maintenance".into()) {
            Ok(out) if out.status.success() => {}
            Ok(out) => {
                warn!(url = %self.display_url(), error = %summarize(&out, &env.secrets), "git maintenance failed")
            }
            Err(e) => warn!(url = %self.display_url(), error = %e, "git maintenance failed"),
        }
    }

    /// Writes the tree of `sha` into `target` through a temporary directory
    /// and index of its own, so nothing shared is touched and `target`
    /// appears complete or not at all.
    fn write_tree(&self, sha: &str, checkouts: &Path, target: &Path) -> Result<(), GitError> {
        let temp = checkouts.join(format!(".tmp-{sha}-{}", std::process::id()));
        let index = checkouts.join(format!(".tmp-{sha}-{}.index", std::process::id()));
        remove_quietly(&temp);
        remove_quietly(&index);
        fs::create_dir(&temp).map_err(|error| GitError::Io {
            action: "create directory",
            path: temp.clone(),
            error,
        })?;
        let mut env = GitEnv::base();
        env.vars.push(("GIT_INDEX_FILE", index.to_string_lossy().into_owned()));
        env.vars.push(("GIT_WORK_TREE", temp.to_string_lossy().into_owned()));
        let mut cmd = self.command(&env);
        // An empty tree reads as an empty index and writes nothing: an empty
        // directory, as it should be.
        cmd.args(["read-tree", "--reset", "-u", sha]);
        let result = run(cmd, &Deadline::after(LOCAL_TIMEOUT), || format!("checkout of {sha}"));
        remove_quietly(&index);
        match result {
            Ok(out) if out.status.success() => {}
            Ok(out) => {
                remove_quietly(&temp);
                return Err(GitError::Checkout {
                    sha: sha.to_owned(),
                    stderr: summarize(&out, &env.secrets),
                });
            }
            Err(e) => {
                remove_quietly(&temp);
                return Err(e);
            }
        }
        fs::rename(&temp, target).map_err(|error| {
            remove_quietly(&temp);
            GitError::Io {
                action: "rename checkout to",
                path: target.to_path_buf(),
                error,
            }
        })
    }

    fn repo_error(&self, command: &'static str, out: &Output, env: &GitEnv) -> GitError {
        GitError::Repo {
            command,
            repo: self.repo(),
            stderr: summarize(out, &env.secrets),
        }
    }
}

/// Removes every entry of `checkouts` but `keep`, each renamed to a
/// `.trash-` name first so a crash mid-delete never leaves a partial tree
/// under a final name. Leftovers of crashed checkouts go too.
/// `url` with any password or token in it replaced by `***`, for banners
/// and logs outside a mirror.
pub fn redacted(url: &str) -> String {
    redact_urls(url)
}

fn clean_checkouts(checkouts: &Path, keep: &[Option<&str>]) {
    let entries = match fs::read_dir(checkouts) {
        Ok(entries) => entries,
        Err(e) => {
            warn!(dir = %checkouts.display(), error = %e, "cannot list old checkouts");
            return;
        }
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if keep.contains(&Some(name)) {
            continue;
        }
        let doomed = if name.starts_with(".trash-") {
            entry.path()
        } else {
            let trash = checkouts.join(format!(".trash-{name}"));
            remove_quietly(&trash);
            if let Err(e) = fs::rename(entry.path(), &trash) {
                warn!(path = %entry.path().display(), error = %e, "cannot remove old checkout");
                continue;
            }
            trash
        };
        if let Err(e) = remove_any(&doomed) {
            warn!(path = %doomed.display(), error = %e, "cannot remove old checkout");
        }
    }
}

fn remove_any(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Removes a leftover temporary; one that cannot be removed shows up in the
/// error of the step that needs the name.
fn remove_quietly(path: &Path) {
    let _ = remove_any(path);
}

fn create_dir_all(path: &Path) -> Result<(), GitError> {
    fs::create_dir_all(path).map_err(|error| GitError::Io {
        action: "create directory",
        path: path.to_path_buf(),
        error,
    })
}
