//! Loading and validating manifests: files, directories and multi-document
//! YAML, with every error of the set reported at once as
//! `file:line:col: field.path: message`.
//!
//! A set of manifests is all-or-nothing: [`load_paths`] and [`load_str`]
//! return either every app, or every error found. [`load_tree`] loads a
//! directory file by file instead, for sources where one broken file must
//! not hold back the others. Each document goes through three layers:
//!
//! 1. YAML, within bounds: nesting deeper than [`MAX_NESTING`] (checked
//!    before the parser sees the text), syntax, duplicate keys, alias
//!    bombs;
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
//! [`MAX_FILE_BYTES`], sets of more than [`MAX_DOCUMENTS`] documents,
//! directories deeper than [`MAX_DEPTH`], deep nesting and alias bombs all
//! get a clear error.

mod depth;
mod document;
mod files;
pub(crate) mod locate;
mod tree;
pub(crate) mod yaml;

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use crate::app::App;
use crate::task::{DEFAULT_NAMESPACE, app_key};

pub use crate::validate::{FieldError, validate};
pub use files::MAX_DEPTH;
pub use tree::{FileLoad, load_tree};
pub use yaml::MAX_NESTING;

use files::{Found, dedupe, read_manifest, too_large, walk};

/// Largest manifest file accepted, in bytes.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Most YAML documents accepted in one set of manifests.
pub const MAX_DOCUMENTS: usize = 10_000;

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
    /// The document limit was hit: an all-or-nothing load reads no further.
    full: bool,
}

/// Loads every app from `paths`: files (read whatever their extension) and
/// directories (walked recursively for `*.yaml` and `*.yml` in sorted order,
/// skipping hidden entries such as `.git`). Every file is multi-document
/// YAML. Either all apps load, or every error is returned.
pub fn load_paths(paths: &[PathBuf]) -> Result<Vec<LoadedApp>, LoadErrors> {
    let mut found = Vec::new();
    let mut set = Set::default();
    let mut seen_dirs = HashSet::new();
    for path in paths {
        match fs::metadata(path) {
            Ok(m) if m.is_dir() => walk(path, 0, &mut seen_dirs, &mut found),
            Ok(_) => found.push(Found::File(path.clone())),
            Err(e) => set.errors.push(file_error(path, format!("cannot read: {e}"))),
        }
    }
    // The same file named twice (or via a directory and directly) is one file.
    dedupe(&mut found);

    for f in &found {
        match f {
            Found::File(_) if set.full => {}
            Found::File(file) => match read_manifest(file) {
                Ok(text) => document::parse_file(file, &text, &mut set),
                Err(e) => set.errors.push(file_error(file, e.message)),
            },
            Found::Unreadable(path, e) => set.errors.push(file_error(path, e.message.clone())),
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

fn finish(set: Set) -> Result<Vec<LoadedApp>, LoadErrors> {
    let Set { apps, mut errors, .. } = set;
    check_duplicates(&apps, &mut errors);
    if errors.is_empty() {
        Ok(apps)
    } else {
        sort_errors(&mut errors);
        Err(LoadErrors(errors))
    }
}

/// File and line order. Stable: errors of one place stay in the order
/// found, whole-file errors first.
fn sort_errors(errors: &mut [LoadError]) {
    errors.sort_by(|a, b| (&a.file, a.line, a.col).cmp(&(&b.file, b.line, b.col)));
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

#[cfg(test)]
mod tests;
