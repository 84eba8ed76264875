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

use std::fs;
use std::io::{self, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Mutex, MutexGuard, mpsc};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use tracing::{debug, warn};

/// Bound on local git work (checkout, log, rev-parse, init), so a wedged
/// git can never hang the caller.
const LOCAL_TIMEOUT: Duration = Duration::from_secs(600);

/// User name sent with a bare token; GitHub and GitLab accept any user name
/// with a token as the password.
const TOKEN_USER: &str = "x-access-token";

/// Environment passed through to git; everything else is cleared.
const PASSTHROUGH_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "TMPDIR",
    "SSH_AUTH_SOCK",
    "GIT_EXEC_PATH",
    "GIT_SSL_CAINFO",
    "GIT_SSL_CAPATH",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "http_proxy",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
];

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

/// The commit a sync came from.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommitInfo {
    /// The full commit id.
    pub sha: String,
    /// `Name <email>` of the author.
    pub author: String,
    /// The first line of the message.
    pub subject: String,
    /// Committer time, Unix seconds.
    pub time: i64,
}

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
        let mut cmd = Command::new("git");
        cmd.env_clear();
        for key in PASSTHROUGH_ENV {
            if let Some(value) = std::env::var_os(key) {
                cmd.env(key, value);
            }
        }
        cmd.env("GIT_DIR", self.repo())
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("SSH_ASKPASS_REQUIRE", "never")
            .env("LC_ALL", "C");
        cmd.env("GIT_CONFIG_COUNT", env.config.len().to_string());
        for (n, (key, value)) in env.config.iter().enumerate() {
            cmd.env(format!("GIT_CONFIG_KEY_{n}"), key);
            cmd.env(format!("GIT_CONFIG_VALUE_{n}"), value);
        }
        for (key, value) in &env.vars {
            cmd.env(key, value);
        }
        cmd
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
        let mut env = GitEnv::base();
        env.config.push(("remote.origin.url".into(), self.url.clone()));
        if let Some(password) = url_parts(&self.url).and_then(|u| u.password) {
            env.secrets.push(password.to_owned());
        }
        let known_hosts = self.dir.join("known_hosts");
        let mut ssh = format!(
            "ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile={}",
            shell_quote(&known_hosts.to_string_lossy())
        );
        if let Some(key) = &self.auth.ssh_key {
            fs::metadata(key).map_err(|e| GitError::Credentials {
                path: key.clone(),
                message: format!("cannot read SSH key: {e}"),
            })?;
            ssh.push_str(&format!(
                " -i {} -o IdentitiesOnly=yes",
                shell_quote(&key.to_string_lossy())
            ));
        }
        env.vars.push(("GIT_SSH_COMMAND", ssh));
        let is_http =
            url_parts(&self.url).is_some_and(|u| matches!(u.scheme.to_ascii_lowercase().as_str(), "http" | "https"));
        if let (Some(path), true) = (&self.auth.credentials_file, is_http) {
            let text = fs::read_to_string(path).map_err(|e| GitError::Credentials {
                path: path.clone(),
                message: format!("cannot read credentials file: {e}"),
            })?;
            let (user, token) = parse_credentials(&text, &self.url).map_err(|message| GitError::Credentials {
                path: path.clone(),
                message,
            })?;
            let basic = BASE64.encode(format!("{user}:{token}"));
            // Preemptive Basic auth instead of `credential.helper=store`:
            // the store helper rewrites its file on success and deletes the
            // line on a 401, which a mounted secret must not suffer.
            env.config.push(("http.extraHeader".into(), String::new()));
            env.config
                .push(("http.extraHeader".into(), format!("Authorization: Basic {basic}")));
            env.secrets.push(token);
            env.secrets.push(basic);
        }
        Ok(env)
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

/// What one git invocation gets besides its arguments: config entries
/// (passed as `GIT_CONFIG_KEY_n`/`VALUE_n`), environment variables, and the
/// secrets to redact from its messages.
#[derive(Debug, Default)]
struct GitEnv {
    config: Vec<(String, String)>,
    vars: Vec<(&'static str, String)>,
    secrets: Vec<String>,
}

impl GitEnv {
    fn base() -> Self {
        let config = [
            // Empty values reset lists inherited from any other config.
            ("credential.helper", ""),
            // A detached gc would outlive the deadline and the process group.
            ("gc.autoDetach", "false"),
            ("maintenance.autoDetach", "false"),
        ];
        Self {
            config: config.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            ..Self::default()
        }
    }
}

/// The user and token for `url` from a credentials file's text.
fn parse_credentials(text: &str, url: &str) -> Result<(String, String), String> {
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    if lines.iter().any(|l| l.contains("://")) {
        let remote =
            url_parts(url).ok_or_else(|| format!("cannot match the remote url {} to a line", redact_urls(url)))?;
        return lines
            .iter()
            .filter_map(|line| url_parts(line))
            .find(|line| store_line_matches(line, &remote))
            .and_then(|line| Some((percent_decode(line.user?), percent_decode(line.password?))))
            .ok_or_else(|| {
                format!(
                    "no line with a user and password matches {}://{}",
                    remote.scheme, remote.host
                )
            });
    }
    let line = match lines.as_slice() {
        [] => return Err("the file is empty".into()),
        [line] => *line,
        _ => {
            return Err(
                "expected one line (USER:TOKEN or TOKEN) or git-credential-store lines (https://USER:TOKEN@host)"
                    .into(),
            );
        }
    };
    let (user, token) = match line.split_once(':') {
        Some((user, token)) => (user, token),
        None => (TOKEN_USER, line),
    };
    if user.is_empty() || token.is_empty() || token.chars().any(char::is_whitespace) {
        return Err("expected USER:TOKEN or a bare TOKEN, without spaces".into());
    }
    Ok((user.to_owned(), token.to_owned()))
}

/// git-credential-store's matching: same scheme, host and port; a line with
/// a path only for that path; a user in the remote url must match.
fn store_line_matches(line: &UrlParts<'_>, remote: &UrlParts<'_>) -> bool {
    let path = line.path.trim_matches('/');
    line.scheme.eq_ignore_ascii_case(remote.scheme)
        && line.host.eq_ignore_ascii_case(remote.host)
        && (path.is_empty() || path == remote.path.trim_matches('/'))
        && remote
            .user
            .is_none_or(|user| line.user.map(percent_decode).as_deref() == Some(user))
}

/// The pieces of a `scheme://[user[:password]@]host[:port][/path]` url.
#[derive(Debug)]
struct UrlParts<'a> {
    scheme: &'a str,
    user: Option<&'a str>,
    password: Option<&'a str>,
    /// Host and port.
    host: &'a str,
    path: &'a str,
}

fn url_parts(url: &str) -> Option<UrlParts<'_>> {
    let (scheme, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let (userinfo, host) = match authority.rsplit_once('@') {
        Some((userinfo, host)) => (Some(userinfo), host),
        None => (None, authority),
    };
    let (user, password) = match userinfo.map(|u| u.split_once(':').map_or((u, None), |(u, p)| (u, Some(p)))) {
        Some((user, password)) => (Some(user), password),
        None => (None, None),
    };
    Some(UrlParts {
        scheme,
        user,
        password,
        host,
        path,
    })
}

/// Replaces the password of every url in `text` with `***`, and a lone
/// HTTP(S) user name too (it is usually a token: `https://TOKEN@host`).
/// The SSH user (`ssh://git@host`) is not a secret and stays.
fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let scheme_start = rest[..at]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |i| i + 1);
        let scheme = &rest[scheme_start..at];
        let after = &rest[at + 3..];
        let end = after
            .find(|c: char| matches!(c, '/' | '?' | '#' | '\'' | '"') || c.is_whitespace())
            .unwrap_or(after.len());
        out.push_str(&rest[..at + 3]);
        let authority = &after[..end];
        match authority.rsplit_once('@') {
            Some((userinfo, host)) => {
                match userinfo.split_once(':') {
                    Some((user, _)) => out.push_str(&format!("{user}:***")),
                    None if matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") => out.push_str("***"),
                    None => out.push_str(userinfo),
                }
                out.push('@');
                out.push_str(host);
            }
            None => out.push_str(authority),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `text` as one POSIX shell word (GIT_SSH_COMMAND goes through `sh`).
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Rejects branch names git would misread in a refspec or that are not
/// valid refs (after `git check-ref-format`).
fn validate_branch(branch: &str) -> Result<(), GitError> {
    let bad = |reason| GitError::BadRef {
        what: "branch",
        value: branch.to_owned(),
        reason,
    };
    if branch.is_empty() {
        return Err(bad("it is empty"));
    }
    if branch.starts_with(['-', '/']) || branch.ends_with(['/', '.']) || branch.ends_with(".lock") {
        return Err(bad(
            "it may not start with '-' or '/', nor end with '/', '.' or '.lock'",
        ));
    }
    if branch.contains("..")
        || branch.contains("//")
        || branch.contains("@{")
        || branch.contains("/.")
        || branch.starts_with('.')
    {
        return Err(bad(
            "it may not contain '..', '//', '@{' or a component starting with '.'",
        ));
    }
    if branch
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || "~^:?*[\\".contains(c))
    {
        return Err(bad("it may not contain spaces, control characters or any of ~^:?*[\\"));
    }
    Ok(())
}

/// A full lowercase hex object id (SHA-1 or SHA-256); it also names a
/// directory, so nothing else may pass.
fn validate_sha(sha: &str) -> Result<(), GitError> {
    let hex = sha.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if (sha.len() == 40 || sha.len() == 64) && hex {
        return Ok(());
    }
    Err(GitError::BadRef {
        what: "commit id",
        value: sha.to_owned(),
        reason: "expected a full lowercase hex commit id",
    })
}

/// How a failed fetch failed, from git's (C locale) messages.
#[derive(Debug, PartialEq, Eq)]
enum Failure {
    Auth,
    BranchNotFound,
    Other,
}

fn classify(stderr: &str) -> Failure {
    const AUTH: &[&str] = &[
        "authentication failed",
        "could not read username",
        "could not read password",
        "terminal prompts disabled",
        "permission denied (publickey",
        "returned error: 401",
        "returned error: 403",
        "http basic: access denied",
        "invalid username or password",
    ];
    let lower = stderr.to_ascii_lowercase();
    if lower.contains("couldn't find remote ref") {
        Failure::BranchNotFound
    } else if AUTH.iter().any(|needle| lower.contains(needle)) {
        Failure::Auth
    } else {
        Failure::Other
    }
}

/// git's stderr as one line: the last few lines that say something (not
/// hints or the generic "make sure you have access" advice), `fatal:` and
/// `error:` prefixes dropped, secrets redacted.
fn summarize(out: &Output, secrets: &[String]) -> String {
    const NOISE: &[&str] = &[
        "hint:",
        "Please make sure you have the correct access rights",
        "and the repository exists.",
        "Warning: Permanently added",
    ];
    let mut lines: Vec<&str> = Vec::new();
    for line in out.stderr.lines() {
        // Progress output rewrites its line with '\r'; the last state counts.
        let line = line.rsplit('\r').next().unwrap_or(line).trim();
        let line = ["fatal: ", "error: "]
            .iter()
            .find_map(|prefix| line.strip_prefix(prefix))
            .unwrap_or(line)
            .trim();
        if line.is_empty() || NOISE.iter().any(|noise| line.starts_with(noise)) || lines.last() == Some(&line) {
            continue;
        }
        lines.push(line);
    }
    let text = match lines.len() {
        0 => format!("git exited with {}", out.status),
        n => lines[n.saturating_sub(3)..].join("; "),
    };
    let mut text = redact_urls(&text);
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        text = text.replace(secret.as_str(), "***");
    }
    text
}

/// A deadline and the budget it came from (for the message).
struct Deadline {
    at: Instant,
    budget: Duration,
}

impl Deadline {
    fn after(budget: Duration) -> Self {
        Self {
            at: Instant::now() + budget,
            budget,
        }
    }
}

/// A finished git.
struct Output {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: String,
}

/// Runs `cmd` in its own process group and kills the group at the
/// deadline: git forks helpers (git-remote-http, ssh, index-pack) that
/// killing git alone would leave running, holding the pipes open.
fn run(mut cmd: Command, deadline: &Deadline, what: impl FnOnce() -> String) -> Result<Output, GitError> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd.spawn().map_err(|e| GitError::Spawn {
        reason: if e.kind() == io::ErrorKind::NotFound {
            "the git binary was not found on PATH; install git 2.31 or newer".into()
        } else {
            e.to_string()
        },
    })?;
    let pid = child.id() as libc::pid_t;
    let stdout = child
        .stdout
        .take()
        .map(|pipe| std::thread::spawn(move || read_all(pipe)));
    let stderr = child
        .stderr
        .take()
        .map(|pipe| std::thread::spawn(move || read_all(pipe)));
    let (done, finished) = mpsc::channel::<()>();
    let budget = deadline.at.saturating_duration_since(Instant::now());
    let watchdog = std::thread::spawn(move || match finished.recv_timeout(budget) {
        Err(mpsc::RecvTimeoutError::Timeout) => {
            kill_group(pid);
            true
        }
        _ => false,
    });
    // Wait without reaping: while git is an unreaped zombie its pid, and so
    // the group id, cannot be reused, so the kills below hit only our group.
    wait_exited(pid);
    drop(done);
    let timed_out = watchdog.join().unwrap_or(false);
    // Whatever git left behind would keep the pipes (and the readers) open.
    kill_group(pid);
    let status = child.wait().map_err(|e| GitError::Spawn {
        reason: format!("cannot wait for git: {e}"),
    })?;
    let stdout = stdout.and_then(|t| t.join().ok()).unwrap_or_default();
    let stderr = stderr.and_then(|t| t.join().ok()).unwrap_or_default();
    if timed_out {
        return Err(GitError::Timeout {
            what: what(),
            after: deadline.budget,
        });
    }
    Ok(Output {
        status,
        stdout,
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    })
}

fn read_all(mut pipe: impl Read) -> Vec<u8> {
    let mut buf = Vec::new();
    // A read error ends the output early; the exit status still tells.
    let _ = pipe.read_to_end(&mut buf);
    buf
}

fn kill_group(pgid: libc::pid_t) {
    // SAFETY: kill(2) takes plain integers; ESRCH (group gone) is fine.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}

/// Blocks until `pid` has exited, leaving it unreaped.
fn wait_exited(pid: libc::pid_t) {
    loop {
        // SAFETY: siginfo_t is plain data that waitid fills in; zeroed is a
        // valid value for it.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is a valid, writable siginfo_t.
        let rc = unsafe { libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, libc::WEXITED | libc::WNOWAIT) };
        if rc == 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return;
        }
    }
}

#[cfg(test)]
#[path = "git_http_test.rs"]
mod git_http_test;

#[cfg(test)]
mod tests {
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

    fn http_mirror(dir: &Path, url: &str, credentials: &str) -> Mirror {
        let file = dir.join("credentials");
        fs::write(&file, credentials).expect("write credentials");
        Mirror::new(
            url,
            "main",
            dir.join("mirror"),
            GitAuth {
                credentials_file: Some(file),
                ssh_key: None,
            },
        )
    }

    /// The fetch command's arguments and environment, as strings.
    fn fetch_command(mirror: &Mirror) -> (Vec<String>, Vec<(String, String)>) {
        let env = mirror.fetch_env().expect("env");
        let cmd = mirror.fetch_command(&env);
        let args = cmd.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
        let envs = cmd
            .get_envs()
            .filter_map(|(k, v)| Some((k.to_string_lossy().into_owned(), v?.to_string_lossy().into_owned())))
            .collect();
        (args, envs)
    }

    #[test]
    fn credentials_formats_reach_git_as_env_config_only() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let url = "https://git.example.com:8443/org/repo.git";
        let cases = [
            ("tok-bare-123\n", "x-access-token:tok-bare-123"),
            ("  bob:tok-pair-456  \n\n", "bob:tok-pair-456"),
            (
                "https://other:wrong@elsewhere.com\nhttps://carol:tok%2Fstore@git.example.com:8443\n",
                "carol:tok/store",
            ),
        ];
        for (text, pair) in cases {
            let mirror = http_mirror(tmp.path(), url, text);
            let (args, envs) = fetch_command(&mirror);
            let header = format!("Authorization: Basic {}", BASE64.encode(pair));
            let value_of = |key: &str| envs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
            let count: usize = value_of("GIT_CONFIG_COUNT").expect("count").parse().expect("number");
            let config: Vec<(String, String)> = (0..count)
                .map(|n| {
                    (
                        value_of(&format!("GIT_CONFIG_KEY_{n}")).expect("key"),
                        value_of(&format!("GIT_CONFIG_VALUE_{n}")).expect("value"),
                    )
                })
                .collect();
            assert!(
                config.contains(&("http.extraHeader".into(), header.clone())),
                "{text}: {config:?}"
            );
            assert!(config.contains(&("remote.origin.url".into(), url.into())));
            let token = pair.split_once(':').expect("pair").1;
            for arg in &args {
                assert!(
                    !arg.contains(token) && !arg.contains(&header) && !arg.contains("example"),
                    "{arg}"
                );
            }
            assert_eq!(value_of("GIT_TERMINAL_PROMPT").as_deref(), Some("0"));
            assert_eq!(value_of("LC_ALL").as_deref(), Some("C"));
        }
    }

    #[test]
    fn credentials_file_errors_say_what_is_wrong() {
        let url = "https://git.example.com/org/repo.git";
        let err = |text: &str| parse_credentials(text, url).expect_err(text);
        assert_eq!(err(""), "the file is empty");
        assert!(err("a\nb\n").contains("expected one line"));
        assert!(err("user:\n").contains("USER:TOKEN"));
        assert!(err("https://u:p@elsewhere.com\n").contains("https://git.example.com"));
        // A path-scoped line matches only its path; the scheme must match.
        assert!(parse_credentials("https://u:p@git.example.com/other/repo\n", url).is_err());
        assert!(parse_credentials("http://u:p@git.example.com\n", url).is_err());
        assert_eq!(
            parse_credentials("https://u:p@git.example.com/org/repo.git\n", url),
            Ok(("u".into(), "p".into()))
        );
        // A user in the remote url picks that user's line.
        assert_eq!(
            parse_credentials(
                "https://a:pa@git.example.com\nhttps://b:pb@git.example.com\n",
                "https://b@git.example.com/x"
            ),
            Ok(("b".into(), "pb".into()))
        );

        let tmp = tempfile::tempdir().expect("tempdir");
        let mirror = Mirror::new(
            url,
            "main",
            tmp.path().join("m"),
            GitAuth {
                credentials_file: Some(tmp.path().join("missing")),
                ssh_key: None,
            },
        );
        let err = mirror.fetch(T).expect_err("missing file");
        assert_eq!(err.category(), "GitCredentials");
        assert!(
            err.to_string().contains("cannot read credentials file: No such file"),
            "{err}"
        );
    }

    #[test]
    fn credentials_are_ignored_for_non_http_remotes_and_ssh_is_quoted() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let key = tmp.path().join("it's a key");
        fs::write(&key, "key").expect("write key");
        let mirror = Mirror::new(
            "ssh://git@example.com/repo.git",
            "main",
            tmp.path().join("my mirror"),
            GitAuth {
                credentials_file: Some(tmp.path().join("never read")),
                ssh_key: Some(key),
            },
        );
        let (_, envs) = fetch_command(&mirror);
        assert!(!envs.iter().any(|(_, v)| v.contains("Authorization")));
        let ssh = envs
            .iter()
            .find(|(k, _)| k == "GIT_SSH_COMMAND")
            .expect("ssh")
            .1
            .clone();
        let dir = tmp.path().display();
        assert_eq!(
            ssh,
            format!(
                "ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile='{dir}/my mirror/known_hosts' -i '{dir}/it'\\''s a key' -o IdentitiesOnly=yes"
            )
        );
    }

    #[test]
    fn stderr_is_summarized_classified_and_redacted() {
        let out = |stderr: &str| Output {
            status: ExitStatus::default(),
            stdout: Vec::new(),
            stderr: stderr.into(),
        };
        let text = "git@h: Permission denied (publickey).\r\nfatal: Could not read from remote repository.\n\nPlease make sure you have the correct access rights\nand the repository exists.\n";
        assert_eq!(classify(text), Failure::Auth);
        assert_eq!(
            summarize(&out(text), &[]),
            "git@h: Permission denied (publickey).; Could not read from remote repository."
        );
        let text = "fatal: unable to access 'https://bob:hunter22@h/x/': The requested URL returned error: 403\n";
        assert_eq!(classify(text), Failure::Auth);
        assert_eq!(
            summarize(&out(text), &["c2VjcmV0".into()]),
            "unable to access 'https://bob:***@h/x/': The requested URL returned error: 403"
        );
        assert_eq!(
            summarize(&out("remote: token c2VjcmV0 rejected\n"), &["c2VjcmV0".into()]),
            "remote: token *** rejected"
        );
        assert_eq!(
            classify("fatal: couldn't find remote ref refs/heads/x\n"),
            Failure::BranchNotFound
        );
        assert_eq!(classify("fatal: repository 'x' not found\n"), Failure::Other);
        assert_eq!(summarize(&out(""), &[]), "git exited with exit status: 0");
    }
}
