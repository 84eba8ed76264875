//! Finding and reading manifest files: the directory walk shared by
//! [`load_paths`](super::load_paths) and [`load_tree`](super::load_tree),
//! and reading one file within [`MAX_FILE_BYTES`].

use std::collections::HashSet;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::MAX_FILE_BYTES;

/// Deepest directory nesting walked below a given directory.
pub const MAX_DEPTH: usize = 32;

/// What a walk finds, in walk order.
pub(super) enum Found {
    /// A manifest file to read.
    File(PathBuf),
    /// A directory or file that cannot be read.
    Unreadable(PathBuf, ReadError),
}

/// Why a file or directory was not read.
pub(super) struct ReadError {
    pub(super) message: String,
    /// An I/O error (worth retrying), not a problem with the content.
    pub(super) io: bool,
}

impl ReadError {
    fn io(what: &str, e: &io::Error) -> Self {
        ReadError {
            message: format!("{what}: {e}"),
            io: true,
        }
    }

    fn content(message: String) -> Self {
        ReadError { message, io: false }
    }
}

/// The message for a file of `len` bytes.
pub(super) fn too_large(len: u64) -> String {
    format!(
        "file is {len} bytes; manifest files larger than {MAX_FILE_BYTES} bytes (1 MiB) are \
         rejected"
    )
}

/// Reads a manifest file, refusing files over [`MAX_FILE_BYTES`] and text
/// that is not UTF-8.
pub(super) fn read_manifest(file: &Path) -> Result<String, ReadError> {
    let f = fs::File::open(file).map_err(|e| ReadError::io("cannot read", &e))?;
    if let Ok(m) = f.metadata()
        && m.len() > MAX_FILE_BYTES
    {
        return Err(ReadError::content(too_large(m.len())));
    }
    let mut bytes = Vec::new();
    f.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| ReadError::io("cannot read", &e))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(ReadError::content(format!(
            "file is larger than {MAX_FILE_BYTES} bytes (1 MiB); larger manifest files are \
             rejected"
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        ReadError::content(format!(
            "not valid UTF-8 (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// The entries of `dir`, sorted by name.
pub(super) fn read_dir_sorted(dir: &Path) -> Result<Vec<fs::DirEntry>, ReadError> {
    let mut entries = fs::read_dir(dir)
        .and_then(|rd| rd.collect::<Result<Vec<_>, _>>())
        .map_err(|e| ReadError::io("cannot read directory", &e))?;
    entries.sort_by_key(|e| e.file_name());
    Ok(entries)
}

/// Walks `dir` (`depth` levels below where the walk started) for the YAML
/// files under it: `*.yaml` and `*.yml`, sorted, hidden entries skipped,
/// symlinks followed, a directory reached twice walked once.
pub(super) fn walk(dir: &Path, depth: usize, seen: &mut HashSet<PathBuf>, found: &mut Vec<Found>) {
    if !seen.insert(fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf())) {
        return;
    }
    if depth > MAX_DEPTH {
        let message = format!("directories nested deeper than {MAX_DEPTH} levels are not read");
        found.push(Found::Unreadable(dir.to_path_buf(), ReadError::content(message)));
        return;
    }
    match read_dir_sorted(dir) {
        Ok(entries) => walk_entries(&entries, depth, seen, found),
        Err(e) => found.push(Found::Unreadable(dir.to_path_buf(), e)),
    }
}

/// [`walk`] over the entries of a directory already read.
pub(super) fn walk_entries(
    entries: &[fs::DirEntry],
    depth: usize,
    seen: &mut HashSet<PathBuf>,
    found: &mut Vec<Found>,
) {
    for entry in entries {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let yaml = name.ends_with(".yaml") || name.ends_with(".yml");
        // Follow symlinks: a git checkout may link shared manifests.
        match fs::metadata(&path) {
            Ok(m) if m.is_dir() => walk(&path, depth + 1, seen, found),
            Ok(_) if yaml => found.push(Found::File(path)),
            Ok(_) => {}
            Err(e) if yaml => found.push(Found::Unreadable(path, ReadError::io("cannot read", &e))),
            Err(_) => {}
        }
    }
}

/// Drops files found a second time (named twice, or via a link).
pub(super) fn dedupe(found: &mut Vec<Found>) {
    let mut seen = HashSet::new();
    found.retain(|f| match f {
        Found::File(path) => seen.insert(fs::canonicalize(path).unwrap_or_else(|_| path.clone())),
        Found::Unreadable(..) => true,
    });
}
