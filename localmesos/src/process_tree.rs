//! A process's descendants, read from `/proc/<pid>/task/<tid>/children`,
//! for ending a process tree without a cgroup: the task supervisor's
//! descendants (`launcher/supervisor.rs`) and a Docker COMMAND probe's
//! processes in its container (`containerizer/docker.rs`).

use std::collections::HashSet;

/// The children of `pid`, from the `children` file of each of its
/// threads.
fn children(pid: libc::pid_t) -> Vec<libc::pid_t> {
    let Ok(threads) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for thread in threads.flatten() {
        let Ok(text) = std::fs::read_to_string(thread.path().join("children")) else {
            continue;
        };
        found.extend(text.split_whitespace().filter_map(|p| p.parse::<libc::pid_t>().ok()));
    }
    found
}

/// Sends `signal` to every descendant of `root` (not to `root`), each as
/// it is found, so that with SIGSTOP none can fork once seen; returns
/// those signalled.
pub fn signal_descendants(root: libc::pid_t, signal: i32) -> Vec<libc::pid_t> {
    let mut pending = vec![root];
    let mut seen = HashSet::new();
    let mut signalled = Vec::new();
    while let Some(pid) = pending.pop() {
        for child in children(pid) {
            if seen.insert(child) {
                // SAFETY: a signal to a process id.
                unsafe { libc::kill(child, signal) };
                signalled.push(child);
                pending.push(child);
            }
        }
    }
    signalled
}

/// Kills `root` and every descendant: each is stopped first, as found,
/// so none can start another or be reparented away before the SIGKILL.
pub fn kill_tree(root: libc::pid_t) {
    // SAFETY: signals to process ids.
    unsafe { libc::kill(root, libc::SIGSTOP) };
    let stopped = signal_descendants(root, libc::SIGSTOP);
    for pid in std::iter::once(root).chain(stopped) {
        // SAFETY: as above.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}
