//! CPU time of the parts of one run, read from `/proc`: the master's
//! process (every thread's `schedstat`, in nanoseconds), the launcher
//! (the master's child processes), the tasks (the launcher's
//! descendants), and the whole machine (`/proc/stat`, busy ticks on all
//! CPUs, kernel threads included). Reading the tasks costs a file per
//! task, so it is done once, when the run has ended.

use std::time::Duration;

/// CPU time used by each part between two readings.
#[derive(Clone, Copy, Default)]
pub struct Spent {
    pub master: Duration,
    pub launcher: Duration,
    pub tasks: Duration,
    pub machine: Duration,
}

impl Spent {
    /// localmesos's own CPU (master and launcher) per task, in ms.
    pub fn own_per_task(&self, tasks: usize) -> f64 {
        per_task(self.master + self.launcher, tasks)
    }

    pub fn tasks_per_task(&self, tasks: usize) -> f64 {
        per_task(self.tasks, tasks)
    }

    pub fn machine_per_task(&self, tasks: usize) -> f64 {
        per_task(self.machine, tasks)
    }

    pub fn per_task(&self, tasks: usize) -> String {
        format!(
            "master {:.3} ms, launcher {:.3} ms, tasks {:.3} ms, whole machine {:.3} ms",
            per_task(self.master, tasks),
            per_task(self.launcher, tasks),
            per_task(self.tasks, tasks),
            per_task(self.machine, tasks),
        )
    }
}

fn per_task(spent: Duration, tasks: usize) -> f64 {
    spent.as_secs_f64() * 1000.0 / tasks.max(1) as f64
}

/// What has been used so far by the master and its launcher, and the
/// machine's busy time.
pub struct Reading {
    master: Duration,
    launcher: Duration,
    machine: Duration,
}

impl Reading {
    pub fn now(master_pid: u32) -> Reading {
        Reading {
            master: process_cpu(master_pid),
            launcher: children(master_pid).into_iter().map(process_cpu).sum(),
            machine: machine_busy(),
        }
    }

    /// The CPU used since `start`, the tasks' included (all started
    /// after it).
    pub fn since(&self, start: &Reading, master_pid: u32) -> Spent {
        let tasks = children(master_pid)
            .into_iter()
            .flat_map(descendants)
            .map(process_cpu)
            .sum();
        Spent {
            master: self.master.saturating_sub(start.master),
            launcher: self.launcher.saturating_sub(start.launcher),
            tasks,
            machine: self.machine.saturating_sub(start.machine),
        }
    }
}

/// Time on a CPU of every thread of `pid` (`/proc/<pid>/task/*/schedstat`,
/// first field, ns); zero for a process that has gone.
fn process_cpu(pid: u32) -> Duration {
    let Ok(threads) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Duration::ZERO;
    };
    threads
        .flatten()
        .filter_map(|thread| std::fs::read_to_string(thread.path().join("schedstat")).ok())
        .filter_map(|line| line.split_whitespace().next()?.parse::<u64>().ok())
        .map(Duration::from_nanos)
        .sum()
}

/// The child processes of every thread of `pid`.
fn children(pid: u32) -> Vec<u32> {
    let Ok(threads) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    threads
        .flatten()
        .filter_map(|thread| std::fs::read_to_string(thread.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

fn descendants(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    let mut next = children(pid);
    while let Some(child) = next.pop() {
        next.extend(children(child));
        found.push(child);
    }
    found
}

/// Busy time summed over all CPUs since boot: the `cpu` line of
/// `/proc/stat` less its idle and iowait ticks.
fn machine_busy() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
        return Duration::ZERO;
    };
    let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return Duration::ZERO;
    };
    let ticks: Vec<u64> = line.split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal (guest time is
    // already inside user).
    let busy: u64 = ticks
        .iter()
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, t)| t)
        .sum();
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_nanos(busy.saturating_mul(1_000_000_000) / per_second)
}
