//! Running one git under a deadline: its own process group, killed whole by
//! a watchdog at the deadline (git forks helpers that would outlive it),
//! waited for with waitid(2) so the group id cannot be reused meanwhile;
//! its output captured; its stderr summarized into one redacted line and
//! classified (authentication, missing branch, other); and the shell
//! quoting of words passed through `GIT_SSH_COMMAND`.

use std::io::{self, Read};
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::GitError;
use super::credentials::redact_urls;

/// A deadline and the budget it came from (for the message).
pub(super) struct Deadline {
    at: Instant,
    budget: Duration,
}

impl Deadline {
    pub(super) fn after(budget: Duration) -> Self {
        Self {
            at: Instant::now() + budget,
            budget,
        }
    }
}

/// A finished git.
pub(super) struct Output {
    pub(super) status: ExitStatus,
    pub(super) stdout: Vec<u8>,
    pub(super) stderr: String,
}

/// Runs `cmd` in its own process group and kills the group at the
/// deadline: git forks helpers (git-remote-http, ssh, index-pack) that
/// killing git alone would leave running, holding the pipes open.
pub(super) fn run(mut cmd: Command, deadline: &Deadline, what: impl FnOnce() -> String) -> Result<Output, GitError> {
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

/// How a failed fetch failed, from git's (C locale) messages.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Failure {
    Auth,
    BranchNotFound,
    Other,
}

pub(super) fn classify(stderr: &str) -> Failure {
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
pub(super) fn summarize(out: &Output, secrets: &[String]) -> String {
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

/// `text` as one POSIX shell word (GIT_SSH_COMMAND goes through `sh`).
pub(super) fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

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
