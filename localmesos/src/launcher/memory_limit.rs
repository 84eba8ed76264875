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

use super::cgroup;
use super::protocol::MemoryExceeded;

/// Mesos's smallest memory limit (`MIN_MEMORY`, 32 MB): a task asking for
/// less gets this much.
pub const MIN_LIMIT_BYTES: u64 = 32 * 1024 * 1024;

/// Where task memory cgroups are made, and whether swap is counted.
pub struct MemoryCgroups {
    /// The launcher's cgroup in the v1 memory hierarchy, parent of one
    /// per task; none: each task's cgroup2 cgroup (the memory controller
    /// is on for the launcher's cgroup's children).
    v1_root: Option<PathBuf>,
    /// The file that limits a task's swap, where the kernel accounts swap
    /// (`memory.swap.max`, or v1's `memory.memsw.limit_in_bytes`): found
    /// once here, not at each launch.
    swap_file: Option<&'static str>,
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
        let (v1_root, swap_file) = if delegated.split_whitespace().any(|c| c == "memory") {
            std::fs::write(unified_root.join("cgroup.subtree_control"), "+memory").map_err(|e| {
                format!(
                    "cannot enable the memory controller under {}: {e}",
                    unified_root.display()
                )
            })?;
            (None, "memory.swap.max")
        } else {
            let root = v1_root(unified_root).ok_or_else(|| {
                format!(
                    "the memory controller is not delegated to {} and no v1 memory hierarchy is mounted",
                    unified_root.display()
                )
            })?;
            std::fs::create_dir(&root).map_err(|e| format!("cannot create {}: {e}", root.display()))?;
            (Some(root), "memory.memsw.limit_in_bytes")
        };
        // The launcher's own cgroup has the file iff its tasks' will.
        let parent = v1_root.as_deref().unwrap_or(unified_root);
        let swap_file = parent.join(swap_file).exists().then_some(swap_file);
        Ok(MemoryCgroups { v1_root, swap_file })
    }

    /// The memory cgroup of launch `id`, whose cgroup2 cgroup is
    /// `task_dir`, limited to `limit` bytes (swap included).
    pub fn task(&self, id: u64, task_dir: &Path, limit: u64) -> io::Result<TaskMemory> {
        let limit = limit.max(MIN_LIMIT_BYTES);
        let memory = match &self.v1_root {
            None => TaskMemory {
                dir: task_dir.to_path_buf(),
                v1: false,
                limit,
            },
            Some(root) => {
                let dir = root.join(format!("task-{id}"));
                match std::fs::create_dir(&dir) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(e),
                }
                TaskMemory { dir, v1: true, limit }
            }
        };
        let (limit_file, swap_value) = if memory.v1 {
            // memsw counts memory and swap together.
            ("memory.limit_in_bytes", limit)
        } else {
            ("memory.max", 0)
        };
        let written =
            std::fs::write(memory.dir.join(limit_file), limit.to_string()).and_then(|()| match self.swap_file {
                Some(file) => std::fs::write(memory.dir.join(file), swap_value.to_string()),
                None => Ok(()),
            });
        if let Err(error) = written {
            memory.remove();
            return Err(error);
        }
        Ok(memory)
    }

    /// Removes every task memory cgroup left and the launcher's own (their
    /// processes are gone by now).
    pub fn remove_all(&self) {
        if let Some(root) = &self.v1_root {
            remove_tree(root);
        }
    }
}

impl TaskMemory {
    /// For a v1 cgroup: its `cgroup.procs`, open for the task's child to
    /// join with [`cgroup::join`]. A cgroup2 one needs no joining
    /// of its own.
    pub fn join_fd(&self) -> Option<io::Result<OwnedFd>> {
        self.v1.then(|| cgroup::open_write(&self.dir.join("cgroup.procs")))
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
        remove_tree(&root);
    }
}

/// Removes the (empty) task cgroups under `root`, then `root`.
fn remove_tree(root: &Path) {
    if let Ok(entries) = std::fs::read_dir(root) {
        for entry in entries.flatten() {
            if entry.path().is_dir() {
                let _ = std::fs::remove_dir(entry.path());
            }
        }
    }
    let _ = std::fs::remove_dir(root);
}

/// The launcher's cgroup in the v1 memory hierarchy: named as its
/// cgroup2 one, under this process's.
fn v1_root(unified_root: &Path) -> Option<PathBuf> {
    let mount = cgroup::mount_of(Some("memory"))?;
    let own = cgroup::own_cgroup(Some("memory"))?;
    Some(mount.join(own.trim_start_matches('/')).join(unified_root.file_name()?))
}
