//! Loading and validating manifests: files, directories and multi-document
//! YAML, with every error of the set reported at once as
//! `file:line:col: field.path: message`.
//!
//! A set of manifests is all-or-nothing: [`load_paths`] and [`load_str`]
//! return either every app, or every error found. Each document goes
//! through three layers:
//!
//! 1. YAML, within bounds: syntax, duplicate keys, nesting
//!    deeper than [`MAX_NESTING`], alias bombs;
//! 2. structure: `apiVersion`, `kind`, then every
//!    unknown field (with a "did you mean"), wrong type and missing field
//!    against the App's JSON schema ([`crate::schema::json_schema`]), all
//!    at once;
//! 3. meaning ([`validate`]): names, command, resources, ports, health
//!    check, strategy, constraints… all at once.
//!
//! Then apps defined twice in the set are reported, naming both places.
//! The caller keeps its last good state on error.
//!
//! Loaded apps are normalized: `metadata.namespace` is always set (default
//! `default`) and `status` is dropped, since status is observed, never
//! declared.
//!
//! Hostile input is rejected fast and never panics: files over
//! [`MAX_FILE_BYTES`], sets of more than [`MAX_DOCUMENTS`] documents, deep
//! nesting and alias bombs all get a clear error.

mod document;
pub(crate) mod locate;
pub(crate) mod yaml;

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::app::App;
use crate::task::{DEFAULT_NAMESPACE, app_key};

pub use crate::validate::{FieldError, validate};
pub use yaml::MAX_NESTING;

/// Largest manifest file accepted, in bytes.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Most YAML documents accepted in one set of manifests.
pub const MAX_DOCUMENTS: usize = 10_000;

/// Deepest directory nesting walked below a given directory.
const MAX_DEPTH: usize = 32;

/// An app loaded from a manifest, with where it was found.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadedApp {
    /// The app, normalized (namespace set, status dropped).
    pub app: App,
    /// The file it came from.
    pub file: PathBuf,
    /// 1-based line where its document starts.
    pub line: usize,
}

impl LoadedApp {
    /// Namespace of the app (always set by the loader).
    pub fn namespace(&self) -> &str {
        self.app.metadata.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE)
    }

    /// Name of the app.
    pub fn name(&self) -> &str {
        self.app.metadata.name.as_deref().unwrap_or_default()
    }

    /// The store key, `namespace/name`.
    pub fn key(&self) -> String {
        app_key(self.namespace(), self.name())
    }
}

/// One problem in a manifest set.
///
/// Displays as `file:line:col: field.path: message`, without `field.path: `
/// when no field is concerned. Errors about a whole file (unreadable, too
/// large) have `line` and `col` 0 and display as `file: message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError {
    /// The file concerned.
    pub file: PathBuf,
    /// 1-based line, or 0 for the whole file.
    pub line: usize,
    /// 1-based column, or 0 for the whole file.
    pub col: usize,
    /// Dotted path of the field, e.g. `spec.ports[1].name`.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.file.display())?;
        if self.line > 0 {
            write!(f, "{}:{}:", self.line, self.col)?;
        }
        if let Some(field) = &self.field {
            write!(f, " {field}:")?;
        }
        write!(f, " {}", self.message)
    }
}

impl std::error::Error for LoadError {}

/// Every problem found in a manifest set, in file and line order.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct LoadErrors(pub Vec<LoadError>);

impl fmt::Display for LoadErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// What a set of manifests has produced so far.
#[derive(Default)]
struct Set {
    apps: Vec<LoadedApp>,
    errors: Vec<LoadError>,
    /// Documents seen, against [`MAX_DOCUMENTS`].
    documents: usize,
    /// The document limit was hit: read no further.
    full: bool,
}

/// Loads every app from `paths`: files (read whatever their extension) and
/// directories (walked recursively for `*.yaml` and `*.yml` in sorted order,
/// skipping hidden entries such as `.git`). Every file is multi-document
/// YAML. Either all apps load, or every error is returned.
pub fn load_paths(paths: &[PathBuf]) -> Result<Vec<LoadedApp>, LoadErrors> {
    let mut files = Vec::new();
    let mut set = Set::default();
    let mut seen_dirs = HashSet::new();
    for path in paths {
        match fs::metadata(path) {
            Ok(m) if m.is_dir() => walk(path, 0, &mut seen_dirs, &mut files, &mut set.errors),
            Ok(_) => files.push(path.clone()),
            Err(e) => set.errors.push(file_error(path, format!("cannot read: {e}"))),
        }
    }
    // The same file named twice (or via a directory and directly) is one file.
    let mut seen_files = HashSet::new();
    files.retain(|f| seen_files.insert(fs::canonicalize(f).unwrap_or_else(|_| f.clone())));

    for file in &files {
        if set.full {
            break;
        }
        match read_manifest(file) {
            Ok(text) => document::parse_file(file, &text, &mut set),
            Err(message) => set.errors.push(file_error(file, message)),
        }
    }
    finish(set)
}

/// Loads every app from `text`, the contents of `file` (used in messages
/// only). Same rules as [`load_paths`].
pub fn load_str(file: &Path, text: &str) -> Result<Vec<LoadedApp>, LoadErrors> {
    let mut set = Set::default();
    if text.len() as u64 > MAX_FILE_BYTES {
        set.errors.push(file_error(file, too_large(text.len() as u64)));
    } else {
        document::parse_file(file, text, &mut set);
    }
    finish(set)
}

fn file_error(file: &Path, message: impl Into<String>) -> LoadError {
    LoadError {
        file: file.to_path_buf(),
        line: 0,
        col: 0,
        field: None,
        message: message.into(),
    }
}

fn too_large(len: u64) -> String {
    format!(
        "file is {len} bytes; manifest files larger than {MAX_FILE_BYTES} bytes (1 MiB) are \
         rejected"
    )
}

fn finish(set: Set) -> Result<Vec<LoadedApp>, LoadErrors> {
    let Set { apps, mut errors, .. } = set;
    check_duplicates(&apps, &mut errors);
    if errors.is_empty() {
        Ok(apps)
    } else {
        // Stable: errors of one file stay in file order, whole-file errors first.
        errors.sort_by(|a, b| (&a.file, a.line, a.col).cmp(&(&b.file, b.line, b.col)));
        Err(LoadErrors(errors))
    }
}

fn check_duplicates(apps: &[LoadedApp], errors: &mut Vec<LoadError>) {
    let mut first: BTreeMap<String, &LoadedApp> = BTreeMap::new();
    for app in apps {
        let key = app.key();
        match first.get(&key) {
            None => {
                first.insert(key, app);
            }
            Some(prev) => errors.push(LoadError {
                file: app.file.clone(),
                line: app.line,
                col: 1,
                field: Some("metadata.name".into()),
                message: format!(
                    "app \"{key}\" is defined twice: first at {}:{}",
                    prev.file.display(),
                    prev.line
                ),
            }),
        }
    }
}

/// Reads a manifest file, refusing files over [`MAX_FILE_BYTES`] and text
/// that is not UTF-8.
fn read_manifest(file: &Path) -> Result<String, String> {
    let f = fs::File::open(file).map_err(|e| format!("cannot read: {e}"))?;
    if let Ok(m) = f.metadata()
        && m.len() > MAX_FILE_BYTES
    {
        return Err(too_large(m.len()));
    }
    let mut bytes = Vec::new();
    f.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(format!(
            "file is larger than {MAX_FILE_BYTES} bytes (1 MiB); larger manifest files are \
             rejected"
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "not valid UTF-8 (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}
/// Collects the YAML files under `dir`, sorted, skipping hidden entries.
/// Symlinks are followed; a directory reached twice is walked once.
fn walk(dir: &Path, depth: usize, seen: &mut HashSet<PathBuf>, files: &mut Vec<PathBuf>, errors: &mut Vec<LoadError>) {
    if !seen.insert(fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf())) {
        return;
    }
    if depth > MAX_DEPTH {
        errors.push(file_error(
            dir,
            format!("directories nested deeper than {MAX_DEPTH} levels are not read"),
        ));
        return;
    }
    let entries = match fs::read_dir(dir) {
        Ok(rd) => rd.collect::<Result<Vec<_>, _>>(),
        Err(e) => Err(e),
    };
    let mut entries = match entries {
        Ok(entries) => entries,
        Err(e) => {
            errors.push(file_error(dir, format!("cannot read directory: {e}")));
            return;
        }
    };
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        // Follow symlinks: a git checkout may link shared manifests.
        match fs::metadata(&path) {
            Ok(m) if m.is_dir() => walk(&path, depth + 1, seen, files, errors),
            Ok(_) => {
                if name.ends_with(".yaml") || name.ends_with(".yml") {
                    files.push(path);
                }
            }
            Err(e) => {
                if name.ends_with(".yaml") || name.ends_with(".yml") {
                    errors.push(file_error(&path, format!("cannot read: {e}")));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
