//! Sources of desired state. Each source owns the apps it loaded (their
//! `source` field names it) and replaces them as a whole on every valid load;
//! an invalid load keeps the last good state and records the error.
//!
//! Only the directory source exists so far; git sync and `sextant apply` will
//! join it with the same contract.

pub mod dir;

pub use dir::{DirSource, SourceError};

/// Name of the source that owns apps loaded from the directory `path`.
pub fn dir_source_name(path: &std::path::Path) -> String {
    format!("dir:{}", path.display())
}
