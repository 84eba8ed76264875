//! The kernel alone: the same `sleep 3600` processes, started one after
//! the other by a small process with nothing of localmesos in it, each
//! set up as the launcher sets up a task (a cgroup of its own where
//! cgroup2 can be written, its own session, then exec). Its ratio says how
//! much of localmesos's ratio is the kernel's on this machine: what a new
//! process costs can grow with the processes already alive (for example
//! when the kernel walks every mapping of a shared library page), and no
//! launcher can start processes faster than the kernel makes them.
//!
//! It runs in a child process (this binary again, with
//! `SEXTANT_BENCH_KERNEL=<tasks>`), which prints the seconds the starts
//! took, then kills and reaps every process and removes its cgroups.

use std::io::Write as _;
use std::os::fd::AsRawFd as _;
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ENV: &str = "SEXTANT_BENCH_KERNEL";

/// In the child: starts `tasks` processes, prints how long that took.
pub fn serve(tasks: usize) {
    let parent = cgroup_parent();
    let mut children: Vec<Child> = Vec::with_capacity(tasks);
    let mut cgroups = Vec::new();
    let started = Instant::now();
    for i in 0..tasks {
        let join = parent.as_ref().map(|parent| {
            let dir = parent.join(format!("t{i}"));
            std::fs::create_dir(&dir).expect("a task's cgroup");
            let procs = std::fs::OpenOptions::new()
                .write(true)
                .open(dir.join("cgroup.procs"))
                .expect("cgroup.procs");
            cgroups.push(dir);
            procs
        });
        let fd = join.as_ref().map(|f| f.as_raw_fd());
        let mut command = Command::new("sleep");
        command
            .arg("3600")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: between fork and exec only async-signal-safe calls:
        // one write and setsid.
        unsafe {
            command.pre_exec(move || {
                if let Some(fd) = fd
                    && libc::write(fd, c"0".as_ptr().cast(), 1) != 1
                {
                    return Err(std::io::Error::last_os_error());
                }
                libc::setsid();
                Ok(())
            });
        }
        children.push(command.spawn().expect("spawn sleep"));
    }
    let took = started.elapsed();
    println!("{} {}", took.as_secs_f64(), parent.is_some());
    let _ = std::io::stdout().flush();
    for child in &mut children {
        let _ = child.kill();
    }
    for child in &mut children {
        let _ = child.wait();
    }
    for dir in &cgroups {
        let _ = std::fs::remove_dir(dir);
    }
    if let Some(parent) = parent {
        let _ = std::fs::remove_dir(parent);
    }
}

/// A new cgroup under this process's own in the cgroup2 hierarchy, if
/// one can be made there.
fn cgroup_parent() -> Option<PathBuf> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mount = mountinfo.lines().find_map(|line| {
        let (fields, tail) = line.split_once(" - ")?;
        tail.starts_with("cgroup2 ")
            .then(|| fields.split(' ').nth(4).map(PathBuf::from))
            .flatten()
    })?;
    let membership = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let own = membership.lines().find_map(|l| l.strip_prefix("0::"))?;
    let dir = mount
        .join(own.trim_start_matches('/'))
        .join(format!("kernel-bench-{}", std::process::id()));
    std::fs::create_dir(&dir).ok().map(|()| dir)
}

/// In the parent: one run of `tasks` starts in a child; how long they
/// took and whether each had a cgroup.
pub fn run(tasks: usize) -> (Duration, bool) {
    let output = Command::new(std::env::current_exe().expect("this binary"))
        .env(ENV, tasks.to_string())
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .expect("run the kernel chain");
    let text = String::from_utf8_lossy(&output.stdout);
    let mut words = text.split_whitespace();
    let secs: f64 = words.next().and_then(|w| w.parse().ok()).expect("the chain's seconds");
    let cgroups = words.next() == Some("true");
    (Duration::from_secs_f64(secs), cgroups)
}
