//! Loading a tree of manifests file by file, for sources where one broken
//! file must not hold back the others: every `*.yaml` / `*.yml` file under
//! a root (the walk rules of [`load_paths`](super::load_paths)) gets its
//! own outcome, named by its path relative to the root. Duplicates across
//! files are the caller's to judge (it knows the last good versions); the
//! document limit counts across the whole tree.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::files::{Found, ReadError, dedupe, read_dir_sorted, read_manifest, walk_entries};
use super::{LoadError, LoadedApp, Set, document, file_error, sort_errors};

/// One file's outcome in a tree of manifests.
#[derive(Clone, Debug, PartialEq)]
pub struct FileLoad {
    /// Path relative to the root given to [`load_tree`] (e.g.
    /// `team-a/web.yaml`).
    pub file: PathBuf,
    /// The apps it defines (their `file` relative too), or every error
    /// found in it (their `file` relative too).
    pub result: Result<Vec<LoadedApp>, Vec<LoadError>>,
    /// The file has no bytes other than whitespace (a save in progress, in
    /// a directory source).
    pub empty: bool,
    /// The failure is an I/O error (cannot read: out of descriptors, a
    /// permission, vanished mid-read…), worth retrying soon, not a content
    /// error.
    pub io: bool,
}

/// Loads every YAML file under `root`, each on its own, with the walk rules
/// of [`load_paths`](super::load_paths) (`*.yaml`, `*.yml`, sorted, hidden
/// entries skipped, symlinks followed, depth bound). A directory that
/// cannot be read appears as a [`FileLoad`] for that directory, with `io`
/// set, so a caller can keep what was under it. Apps defined in two files
/// are not checked here. [`MAX_DOCUMENTS`](super::MAX_DOCUMENTS) applies
/// across the tree: the files holding documents beyond it fail.
///
/// Fails only when `root` itself cannot be read as a directory.
pub fn load_tree(root: &Path) -> Result<Vec<FileLoad>, LoadError> {
    let entries = match read_dir_sorted(root) {
        Ok(entries) => entries,
        Err(_) if root.is_file() => return Err(file_error(root, "not a directory")),
        Err(e) => return Err(file_error(root, e.message)),
    };
    let mut seen = HashSet::new();
    seen.insert(std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf()));
    let mut found = Vec::new();
    walk_entries(&entries, 0, &mut seen, &mut found);
    dedupe(&mut found);

    let relative = |p: &Path| p.strip_prefix(root).unwrap_or(p).to_path_buf();
    let failed = |file: PathBuf, e: ReadError| FileLoad {
        result: Err(vec![file_error(&file, e.message)]),
        file,
        empty: false,
        io: e.io,
    };
    // Documents seen so far in the tree.
    let mut documents = 0;
    let mut out = Vec::with_capacity(found.len());
    for f in found {
        let load = match f {
            Found::Unreadable(path, e) => failed(relative(&path), e),
            Found::File(path) => {
                let file = relative(&path);
                match read_manifest(&path) {
                    Err(e) => failed(file, e),
                    Ok(text) => {
                        let mut set = Set {
                            documents,
                            ..Set::default()
                        };
                        document::parse_file(&file, &text, &mut set);
                        documents = set.documents;
                        let result = if set.errors.is_empty() {
                            Ok(set.apps)
                        } else {
                            sort_errors(&mut set.errors);
                            Err(set.errors)
                        };
                        FileLoad {
                            file,
                            result,
                            empty: text.trim().is_empty(),
                            io: false,
                        }
                    }
                }
            }
        };
        out.push(load);
    }
    Ok(out)
}
