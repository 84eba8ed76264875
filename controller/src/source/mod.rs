//! Sources of desired state: a watched directory (`dir`), a git repository
//! (`git`, over the mirror in `git_repo`), and `sextant apply` (`apply`).
//! Each produces desired apps stamped with their source, file, line and
//! commit, and writes them to the journal, which feeds the index writer.
//!
//! - `plan` is the sync rule shared by the file sources: a broken file
//!   keeps its apps' last good version, the others sync, a sync that would
//!   empty the source is refused;
//! - `ownership` is the one rule of who may write an app;
//! - `sync` runs one sync of a tree and records the source's status;
//! - `webhook` verifies the signed pushes that trigger a git sync now.

pub mod apply;
pub mod dir;
pub mod git;
pub mod git_repo;
pub mod ownership;
pub mod plan;
pub mod sync;
pub mod webhook;

pub use dir::{DirSource, SourceError};
pub use ownership::APPLY_SOURCE;

/// Name of the source that owns apps loaded from the directory `path`.
pub fn dir_source_name(path: &std::path::Path) -> String {
    format!("dir:{}", path.display())
}

/// Name of the source that owns apps synced from the repository at `url`
/// (credentials removed). The branch and path are not part of it, so
/// changing them moves the same apps, with the same safety rules.
pub fn git_source_name(display_url: &str) -> String {
    format!("git:{display_url}")
}
