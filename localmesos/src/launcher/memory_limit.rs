//! Memory limits per task (`--memory-limits`), set as Mesos's
//! `cgroups/mem` isolator sets them: each task's memory cgroup gets its
//! `mem` resource as a hard limit (at least 32 MB, Mesos's minimum), the
//! kernel's OOM killer acts when the task's processes together pass it,
//! and a task whose cgroup saw an OOM kill ends TASK_FAILED with
//! REASON_CONTAINER_LIMITATION_MEMORY.
//!
//! The limit counts swap too where the kernel accounts it (`memory.swap.max`
//! 0, or `memory.memsw.limit_in_bytes` equal to the limit), so a task
//! cannot swap instead of passing it.
//!
//! Where: the task's own cgroup2 cgroup (`cgroup.rs`), when the memory
//! controller is delegated to the launcher's cgroup (a pure cgroup2
//! machine); else a cgroup of the task's in the v1 `memory` hierarchy (a
//! hybrid machine, as CI's), which the task's child joins too. Neither is
//! made without cgroups per task: supervisors cannot give a limit.
//!
//! Everything here runs in the single-threaded launcher; only
//! [`TaskMemory::join_fd`]'s fd is used by a task's child (one write).

use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use super::protocol::MemoryExceeded;

/// Mesos's smallest memory limit (`MIN_MEMORY`, 32 MB): a task asking for
/// less gets this much.
pub const MIN_LIMIT_BYTES: u64 = 32 * 1024 * 1024;

/// Where task memory cgroups are made.
pub enum MemoryCgroups {
    /// In each task's cgroup2 cgroup (the memory controller is on for
    /// the launcher's cgroup's children).
    Unified,
    /// Under this cgroup of the v1 memory hierarchy, one per task.
    V1 { root: PathBuf },
}

/// One task's memory cgroup.
pub struct TaskMemory {
    dir: PathBuf,
    /// A v1 cgroup, which the task joins besides its cgroup2 one.
    v1: bool,
    limit: u64,
}

impl MemoryCgroups {
    /// Memory cgroups for the tasks whose cgroup2 cgroups are under
    /// `unified_root`; an error says why there can be none.
    pub fn create(unified_root: &Path) -> Result<MemoryCgroups, String> {
        let delegated = std::fs::read_to_string(unified_root.join("cgroup.controllers")).unwrap_or_default();
        if delegated.split_whitespace().any(|c| c == "memory") {
            return std::fs::write(unified_root.join("cgroup.subtree_control"), "+memory")
                .map(|()| MemoryCgroups::Unified)
                .map_err(|e| {
                    format!(
                        "cannot enable the memory controller under {}: {e}",
                        unified_root.display()
                    )
                });
        }
        let Some(root) = v1_root(unified_root) else {
            return Err(format!(
                "the memory controller is not delegated to {} and no v1 memory hierarchy is mounted",
                unified_root.display()
            ));
        };
        std::fs::create_dir(&root).map_err(|e| format!("cannot create {}: {e}", root.display()))?;
        Ok(MemoryCgroups::V1 { root })
    }

    /// The memory cgroup of launch `id`, whose cgroup2 cgroup is
    /// `task_dir`, limited to `limit` bytes.
    pub fn task(&self, id: u64, task_dir: &Path, limit: u64) -> io::Result<TaskMemory> {
        let limit = limit.max(MIN_LIMIT_BYTES);
        // The limit, then swap: none where the kernel counts it (a task
        // must not swap instead of passing its limit).
        let (dir, v1, file, swap, swap_value) = match self {
            MemoryCgroups::Unified => (task_dir.to_path_buf(), false, "memory.max", "memory.swap.max", 0),
            MemoryCgroups::V1 { root } => {
                let dir = root.join(format!("task-{id}"));
                match std::fs::create_dir(&dir) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(e),
                }
                (dir, true, "memory.limit_in_bytes", "memory.memsw.limit_in_bytes", limit)
            }
        };
        let memory = TaskMemory { dir, v1, limit };
        if let Err(error) = std::fs::write(memory.dir.join(file), limit.to_string()) {
            memory.remove();
            return Err(error);
        }
        let swap = memory.dir.join(swap);
        if swap.exists()
            && let Err(error) = std::fs::write(&swap, swap_value.to_string())
        {
            memory.remove();
            return Err(error);
        }
        Ok(memory)
    }

    /// Removes every task memory cgroup left and the launcher's own (their
    /// processes are gone by now).
    pub fn remove_all(&self) {
        let MemoryCgroups::V1 { root } = self else { return };
        if let Ok(entries) = std::fs::read_dir(root) {
            for entry in entries.flatten() {
                if entry.path().is_dir() {
                    let _ = std::fs::remove_dir(entry.path());
                }
            }
        }
        let _ = std::fs::remove_dir(root);
    }
}

impl TaskMemory {
    /// For a v1 cgroup: its `cgroup.procs`, open for the task's child to
    /// join with [`super::cgroup::join`]. A cgroup2 one needs no joining
    /// of its own.
    pub fn join_fd(&self) -> Option<io::Result<OwnedFd>> {
        self.v1
            .then(|| super::cgroup::open_write(&self.dir.join("cgroup.procs")))
    }

    /// Whether the kernel killed a process of the task for its memory,
    /// and how much the task used at most.
    pub fn exceeded(&self) -> Option<MemoryExceeded> {
        let (events, peak) = if self.v1 {
            ("memory.oom_control", "memory.max_usage_in_bytes")
        } else {
            ("memory.events", "memory.peak")
        };
        let text = std::fs::read_to_string(self.dir.join(events)).ok()?;
        let kills: u64 = text
            .lines()
            .find_map(|line| line.strip_prefix("oom_kill "))
            .and_then(|n| n.trim().parse().ok())?;
        if kills == 0 {
            return None;
        }
        let peak = std::fs::read_to_string(self.dir.join(peak))
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(self.limit);
        Some(MemoryExceeded {
            limit: self.limit,
            peak,
        })
    }

    /// Removes a v1 cgroup (a cgroup2 one goes with the task's cgroup).
    pub fn remove(&self) {
        if self.v1 {
            let _ = std::fs::remove_dir(&self.dir);
        }
    }
}

/// Removes the v1 memory cgroups left by the launcher whose cgroup2
/// cgroup is `unified_root` (its sweeper does, once it killed the tasks).
pub fn remove_v1_left(unified_root: &Path) {
    if let Some(root) = v1_root(unified_root) {
        MemoryCgroups::V1 { root }.remove_all();
    }
}

/// The launcher's cgroup in the v1 memory hierarchy: named as its
/// cgroup2 one, under this process's.
fn v1_root(unified_root: &Path) -> Option<PathBuf> {
    Some(v1_memory_cgroup()?.join(unified_root.file_name()?))
}

/// This process's cgroup in the v1 memory hierarchy, from
/// `/proc/self/mountinfo` and `/proc/self/cgroup`.
fn v1_memory_cgroup() -> Option<PathBuf> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mount = mountinfo.lines().find_map(|line| {
        let (fields, tail) = line.split_once(" - ")?;
        let mut tail = tail.split(' ');
        let (fstype, options) = (tail.next()?, tail.nth(1)?);
        (fstype == "cgroup" && options.split(',').any(|o| o == "memory"))
            .then(|| fields.split(' ').nth(4).map(PathBuf::from))
            .flatten()
    })?;
    let membership = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let own = membership.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        controllers.split(',').any(|c| c == "memory").then_some(path)
    })?;
    Some(mount.join(own.trim_start_matches('/')))
}
