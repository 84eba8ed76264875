//! Loading and validating manifests: files, directories and multi-document
//! YAML, with every error of the set reported at once as `file:line:col`.
//!
//! A set of manifests is all-or-nothing: [`load_paths`] and [`load_str`]
//! return either every app, or every error found (YAML syntax, wrong
//! `apiVersion`/`kind`, unknown or mistyped fields, invalid names, command,
//! ports or quantities, duplicate apps). The caller keeps its last good state
//! on error.
//!
//! Loaded apps are normalized: `metadata.namespace` is always set (default
//! `default`) and `status` is dropped, since status is observed, never
//! declared.
//!
//! Line numbers of YAML errors come from serde_yaml, offset to the file; the
//! lines of semantic errors come from a small indentation-based search for
//! the offending key in the document text, falling back to the nearest
//! enclosing key found, then to the document start.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_yaml::Value;

use crate::app::{API_VERSION, App};
use crate::task::{DEFAULT_NAMESPACE, app_key, is_dns1123_label};

/// Largest manifest file accepted, in bytes.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

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

/// A problem with one field of an app, found by [`validate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// Dotted path of the field, e.g. `spec.ports[1].name`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Loads every app from `paths`: files (read whatever their extension) and
/// directories (walked recursively for `*.yaml` and `*.yml` in sorted order,
/// skipping hidden entries such as `.git`). Every file is multi-document
/// YAML. Either all apps load, or every error is returned.
pub fn load_paths(paths: &[PathBuf]) -> Result<Vec<LoadedApp>, LoadErrors> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    let mut seen_dirs = HashSet::new();
    for path in paths {
        match fs::metadata(path) {
            Ok(m) if m.is_dir() => walk(path, 0, &mut seen_dirs, &mut files, &mut errors),
            Ok(_) => files.push(path.clone()),
            Err(e) => errors.push(file_error(path, format!("cannot read: {e}"))),
        }
    }
    // The same file named twice (or via a directory and directly) is one file.
    let mut seen_files = HashSet::new();
    files.retain(|f| seen_files.insert(fs::canonicalize(f).unwrap_or_else(|_| f.clone())));

    let mut apps = Vec::new();
    for file in &files {
        match read_manifest(file) {
            Ok(text) => parse_file(file, &text, &mut apps, &mut errors),
            Err(message) => errors.push(file_error(file, message)),
        }
    }
    finish(apps, errors)
}

/// Loads every app from `text`, the contents of `file` (used in messages
/// only). Same rules as [`load_paths`].
pub fn load_str(file: &Path, text: &str) -> Result<Vec<LoadedApp>, LoadErrors> {
    let mut apps = Vec::new();
    let mut errors = Vec::new();
    if text.len() as u64 > MAX_FILE_BYTES {
        errors.push(file_error(file, too_large(text.len() as u64)));
    } else {
        parse_file(file, text, &mut apps, &mut errors);
    }
    finish(apps, errors)
}

/// Checks the rules the schema cannot express: names, namespace, command,
/// ports, env and resources. Empty when `app` is valid.
pub fn validate(app: &App) -> Vec<FieldError> {
    let mut out = Vec::new();
    let mut err = |field: String, message: String| out.push(FieldError { field, message });
    let meta = &app.metadata;
    match meta.name.as_deref() {
        None | Some("") => err("metadata.name".into(), "is required".into()),
        Some(name) if !is_dns1123_label(name) => err("metadata.name".into(), not_a_label("name", name)),
        Some(_) => {}
    }
    if let Some(ns) = meta.namespace.as_deref()
        && !is_dns1123_label(ns)
    {
        err("metadata.namespace".into(), not_a_label("namespace", ns));
    }

    let spec = &app.spec;
    match (&spec.command, &spec.args) {
        (Some(_), Some(_)) => err("spec".into(), "set exactly one of command or args, not both".into()),
        (None, None) => err(
            "spec".into(),
            "one of command (a shell command) or args (program and arguments) is required".into(),
        ),
        (Some(c), None) => {
            if c.trim().is_empty() {
                err("spec.command".into(), "must not be empty".into());
            } else if c.contains('\0') {
                err("spec.command".into(), "must not contain NUL".into());
            }
        }
        (None, Some(args)) => {
            if args.is_empty() {
                err(
                    "spec.args".into(),
                    "must not be empty: args[0] is the program to run".into(),
                );
            } else if args[0].is_empty() {
                err("spec.args[0]".into(), "the program must not be empty".into());
            }
            for (i, a) in args.iter().enumerate() {
                if a.contains('\0') {
                    err(format!("spec.args[{i}]"), "must not contain NUL".into());
                }
            }
        }
    }

    let res = &spec.resources;
    match res.cpus.to_cpus() {
        Err(e) => err("spec.resources.cpus".into(), e.to_string()),
        Ok(c) if c <= 0.0 => err(
            "spec.resources.cpus".into(),
            format!(
                "must be greater than 0 (\"{}\" is 0 cores at Mesos' precision of 0.001)",
                res.cpus
            ),
        ),
        Ok(_) => {}
    }
    match res.mem.to_mib() {
        Err(e) => err("spec.resources.mem".into(), e.to_string()),
        Ok(m) if m <= 0.0 => err(
            "spec.resources.mem".into(),
            format!(
                "must be greater than 0 (\"{}\" is 0 MiB at Mesos' precision of 0.001; \
                 a bare number is MiB, a string without suffix is bytes)",
                res.mem
            ),
        ),
        Ok(_) => {}
    }
    if let Err(e) = res.disk.to_mib() {
        err("spec.resources.disk".into(), e.to_string());
    }

    for (k, v) in &spec.env {
        let field = format!("spec.env.{k}");
        if k.is_empty() {
            err(field, "variable name must not be empty".into());
        } else if k.contains('=') || k.contains('\0') {
            err(field, "variable name must not contain '=' or NUL".into());
        } else if v.contains('\0') {
            err(field, "value must not contain NUL".into());
        }
    }

    let mut names: BTreeMap<&str, usize> = BTreeMap::new();
    let mut host_ports: BTreeMap<(u16, String), usize> = BTreeMap::new();
    for (i, p) in spec.ports.iter().enumerate() {
        if !is_dns1123_label(&p.name) {
            err(format!("spec.ports[{i}].name"), not_a_label("port name", &p.name));
        } else if let Some(first) = names.insert(&p.name, i) {
            names.insert(&p.name, first);
            err(
                format!("spec.ports[{i}].name"),
                format!("duplicate port name \"{}\" (also spec.ports[{first}])", p.name),
            );
        }
        if p.container_port == Some(0) {
            err(
                format!("spec.ports[{i}].containerPort"),
                "must be between 1 and 65535".into(),
            );
        }
        let protocol = p.protocol.as_deref().unwrap_or("tcp").to_ascii_lowercase();
        if protocol != "tcp" && protocol != "udp" {
            err(
                format!("spec.ports[{i}].protocol"),
                format!(
                    "unsupported protocol \"{}\": expected tcp or udp",
                    p.protocol.as_deref().unwrap_or_default()
                ),
            );
        }
        if let Some(hp) = p.host_port.filter(|hp| *hp != 0)
            && let Some(first) = host_ports.insert((hp, protocol.clone()), i)
        {
            err(
                format!("spec.ports[{i}].hostPort"),
                format!("host port {hp}/{protocol} is also used by spec.ports[{first}]"),
            );
        }
    }
    out
}

fn not_a_label(what: &str, value: &str) -> String {
    format!(
        "invalid {what} \"{value}\": must be a DNS-1123 label (at most 63 lowercase letters, \
         digits and '-', starting and ending with a letter or digit)"
    )
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

fn finish(apps: Vec<LoadedApp>, mut errors: Vec<LoadError>) -> Result<Vec<LoadedApp>, LoadErrors> {
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

/// One YAML document of a file: its text and where it starts.
struct Doc<'a> {
    text: &'a str,
    /// 0-based line of `text`'s first line in the file.
    first_line: usize,
}

/// Splits a multi-document YAML text on `---` lines (which begin the next
/// document) and `...` lines (which end the current one).
fn split_documents(text: &str) -> Vec<Doc<'_>> {
    let mut docs = Vec::new();
    let mut start = 0;
    let mut start_line = 0;
    let mut offset = 0;
    for (idx, line) in text.split_inclusive('\n').enumerate() {
        let bare = line.trim_end_matches(['\n', '\r']);
        if is_marker(bare, "---") {
            if offset > start {
                docs.push(Doc {
                    text: &text[start..offset],
                    first_line: start_line,
                });
            }
            start = offset;
            start_line = idx;
        } else if is_marker(bare, "...") {
            docs.push(Doc {
                text: &text[start..offset + line.len()],
                first_line: start_line,
            });
            start = offset + line.len();
            start_line = idx + 1;
        }
        offset += line.len();
    }
    if offset > start {
        docs.push(Doc {
            text: &text[start..],
            first_line: start_line,
        });
    }
    docs
}

fn is_marker(line: &str, marker: &str) -> bool {
    line.strip_prefix(marker)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
}

/// Whether a line carries no content: blank, a comment, a directive or a
/// document marker.
fn is_filler(line: &str) -> bool {
    let t = line.trim();
    t.is_empty()
        || t.starts_with('#')
        || line.starts_with('%')
        || (is_marker(line.trim_end(), "---") && line.trim_end()[3..].trim().is_empty())
        || is_marker(line.trim_end(), "...")
}

fn parse_file(file: &Path, text: &str, apps: &mut Vec<LoadedApp>, errors: &mut Vec<LoadError>) {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for doc in split_documents(text) {
        if doc.text.lines().all(is_filler) {
            continue;
        }
        let mut ctx = DocCtx {
            file,
            doc: &doc,
            errors,
            located: 0,
            suppressed: 0,
        };
        let app = ctx.parse();
        if ctx.suppressed > 0 {
            // After the last error shown, so it sorts last.
            let (line, col) = ctx.errors.last().map_or((ctx.start_line(), 1), |e| (e.line, e.col));
            let n = ctx.suppressed;
            ctx.errors.push(LoadError {
                file: file.to_path_buf(),
                line,
                col,
                field: None,
                message: format!("{n} more errors in this document not shown"),
            });
        }
        if let Some(app) = app {
            apps.push(app);
        }
    }
}

struct DocCtx<'a, 'b> {
    file: &'a Path,
    doc: &'a Doc<'a>,
    errors: &'b mut Vec<LoadError>,
    /// Field errors recorded so far.
    located: usize,
    /// Field errors beyond [`MAX_ERRORS_PER_DOC`], counted only.
    suppressed: usize,
}

/// Field errors reported per document; further ones are only counted.
const MAX_ERRORS_PER_DOC: usize = 50;

const ROOT_FIELDS: [&str; 5] = ["apiVersion", "kind", "metadata", "spec", "status"];
const METADATA_FIELDS: [&str; 15] = [
    "annotations",
    "creationTimestamp",
    "deletionGracePeriodSeconds",
    "deletionTimestamp",
    "finalizers",
    "generateName",
    "generation",
    "labels",
    "managedFields",
    "name",
    "namespace",
    "ownerReferences",
    "resourceVersion",
    "selfLink",
    "uid",
];

impl DocCtx<'_, '_> {
    /// 1-based file line where the document's content starts.
    fn start_line(&self) -> usize {
        let skip = self.doc.text.lines().position(|l| !is_filler(l)).unwrap_or(0);
        self.doc.first_line + skip + 1
    }

    /// Records an error at a serde_yaml location (1-based, within the
    /// document), or at `field`'s line when there is none.
    fn push_at(&mut self, line: usize, col: usize, field: Option<String>, message: String) {
        self.errors.push(LoadError {
            file: self.file.to_path_buf(),
            line: self.doc.first_line + line,
            col,
            field,
            message,
        });
    }

    /// Records an error about `field`, at the line of its key if found.
    fn push_field(&mut self, field: &str, message: String) {
        // Locating is linear in the document: bound the work (and the noise)
        // for documents with very many errors.
        self.located += 1;
        if self.located > MAX_ERRORS_PER_DOC {
            self.suppressed += 1;
            return;
        }
        let (line, col) = self.locate(field);
        self.errors.push(LoadError {
            file: self.file.to_path_buf(),
            line,
            col,
            field: (!field.is_empty()).then(|| field.to_string()),
            message,
        });
    }

    /// 1-based file line and column of `field`'s key, or of its nearest
    /// enclosing key found, or the document start.
    fn locate(&self, field: &str) -> (usize, usize) {
        match locate(self.doc.text, &parse_field_path(field)) {
            Some((line, col)) => (self.doc.first_line + line + 1, col + 1),
            None => (self.start_line(), 1),
        }
    }

    fn yaml_error(&mut self, e: &serde_yaml::Error) {
        let (path, message) = split_yaml_message(&e.to_string(), self.doc.first_line);
        let missing = message.starts_with("missing field");
        match e.location() {
            // A missing field is reported at the end of its mapping; the
            // mapping's key is more useful.
            Some(_) if missing => {
                let (line, col) = match &path {
                    Some(p) => self.locate(p),
                    None => (self.start_line(), 1),
                };
                self.errors.push(LoadError {
                    file: self.file.to_path_buf(),
                    line,
                    col,
                    field: path,
                    message,
                });
            }
            Some(loc) => {
                // serde_yaml reports a duplicate key at its mapping; point at
                // the second occurrence of the key instead.
                let (line, col) = message
                    .strip_prefix("duplicate entry with key \"")
                    .and_then(|k| k.strip_suffix('"'))
                    .and_then(|key| second_key(self.doc.text, loc.line(), loc.column(), key))
                    .unwrap_or((loc.line(), loc.column()));
                self.push_at(line, col, path, message)
            }
            None => {
                let (line, col) = match &path {
                    Some(p) => self.locate(p),
                    None => (self.start_line(), 1),
                };
                self.errors.push(LoadError {
                    file: self.file.to_path_buf(),
                    line,
                    col,
                    field: path,
                    message,
                });
            }
        }
    }

    fn parse(&mut self) -> Option<LoadedApp> {
        let value: Value = match serde_yaml::from_str(self.doc.text) {
            Ok(v) => v,
            Err(e) => {
                self.yaml_error(&e);
                return None;
            }
        };
        let map = match &value {
            Value::Null => return None,
            Value::Mapping(m) => m,
            other => {
                self.push_field(
                    "",
                    format!(
                        "expected a manifest (a mapping with apiVersion, kind, metadata and \
                         spec), found {}",
                        describe(other)
                    ),
                );
                return None;
            }
        };

        let errors_before = self.errors.len();
        let mut wrong_type = false;
        for key in map.keys() {
            match key.as_str() {
                Some(k) if ROOT_FIELDS.contains(&k) => {}
                Some(k) => self.push_field(
                    k,
                    format!(
                        "unknown field `{k}`, expected one of `apiVersion`, `kind`, `metadata`, \
                         `spec`"
                    ),
                ),
                None => self.push_field("", format!("unexpected key {}", describe(key))),
            }
        }
        match map.get("apiVersion") {
            None => {
                wrong_type = true;
                self.push_field("", format!("apiVersion is required: \"{API_VERSION}\""));
            }
            Some(Value::String(v)) if v == API_VERSION => {}
            Some(v) => {
                wrong_type = true;
                self.push_field(
                    "apiVersion",
                    format!("unsupported apiVersion {}: expected \"{API_VERSION}\"", short(v)),
                );
            }
        }
        match map.get("kind") {
            None => {
                wrong_type = true;
                self.push_field("", "kind is required: \"App\"".into());
            }
            Some(Value::String(v)) if v == "App" => {}
            Some(v) => {
                wrong_type = true;
                self.push_field("kind", format!("unsupported kind {}: expected \"App\"", short(v)));
            }
        }
        if wrong_type {
            return None;
        }
        if let Some(Value::Mapping(meta)) = map.get("metadata") {
            for key in meta.keys() {
                if let Some(k) = key.as_str()
                    && !METADATA_FIELDS.contains(&k)
                {
                    self.push_field(
                        &format!("metadata.{k}"),
                        format!(
                            "unknown field `{k}`, expected one of `name`, `namespace`, `labels`, \
                             `annotations` (or another ObjectMeta field)"
                        ),
                    );
                }
            }
        }

        let mut app: App = match serde_yaml::from_str(self.doc.text) {
            Ok(app) => app,
            Err(e) => {
                self.yaml_error(&e);
                return None;
            }
        };
        for e in validate(&app) {
            self.push_field(&e.field, e.message);
        }
        if self.errors.len() > errors_before {
            return None;
        }
        app.metadata
            .namespace
            .get_or_insert_with(|| DEFAULT_NAMESPACE.to_string());
        app.status = None;
        Some(LoadedApp {
            app,
            file: self.file.to_path_buf(),
            line: self.start_line(),
        })
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {}", short(&Value::String(s.clone()))),
        Value::Sequence(_) => "a list".into(),
        Value::Mapping(_) => "a mapping".into(),
        Value::Tagged(t) => format!("a value tagged {}", t.tag),
    }
}

/// A value for a message: strings quoted and cut at 64 characters.
fn short(v: &Value) -> String {
    match v {
        Value::String(s) => {
            let mut out: String = s.chars().take(64).collect();
            if out.len() < s.len() {
                out.push('…');
            }
            format!("{out:?}")
        }
        other => describe(other),
    }
}

/// Splits a serde_yaml error message into its field path (when it names one)
/// and the message proper, without the ` at line L column C` of the primary
/// location (reported separately) and with other line numbers offset to the
/// file.
fn split_yaml_message(msg: &str, line_offset: usize) -> (Option<String>, String) {
    let (path, rest) = match msg.split_once(": ") {
        Some((p, rest)) if is_path(p) => (Some(p.to_string()), rest),
        _ => (None, msg),
    };
    // Drop the first " at line L column C" (the primary location), keep and
    // offset the others (e.g. ", while parsing a block mapping at line 1
    // column 1").
    let mut out = String::with_capacity(rest.len());
    let mut tail = rest;
    let mut dropped = false;
    while let Some(i) = tail.find(" at line ") {
        out.push_str(&tail[..i]);
        let after = &tail[i + " at line ".len()..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        let line: Option<usize> = after[..digits].parse().ok();
        match (line, after[digits..].strip_prefix(" column ")) {
            (Some(line), Some(col_rest)) => {
                let cd = col_rest.bytes().take_while(u8::is_ascii_digit).count();
                if dropped {
                    out.push_str(&format!(" at line {} column {}", line + line_offset, &col_rest[..cd]));
                }
                dropped = true;
                tail = &col_rest[cd..];
            }
            _ => {
                out.push_str(" at line ");
                tail = after;
            }
        }
    }
    out.push_str(tail);
    if let Some(i) = out.find(" at position ") {
        let after = &out[i + " at position ".len()..];
        if !after.is_empty() && after.bytes().all(|b| b.is_ascii_digit()) {
            out.truncate(i);
        }
    }
    (path, out)
}

/// Whether `s` looks like a serde_yaml field path (`spec.ports[0].name`)
/// rather than the start of a message.
fn is_path(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-[]?/".contains(&b))
}

/// One step of a field path.
#[derive(Debug, PartialEq)]
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// `spec.ports[1].name` -> [Key(spec), Key(ports), Index(1), Key(name)].
/// The last key may contain dots (env names): they are not split further
/// once the path is inside `spec.env` or `metadata.labels`/`annotations`.
fn parse_field_path(path: &str) -> Vec<Seg<'_>> {
    let mut segs = Vec::new();
    let mut rest = path;
    while !rest.is_empty() {
        if matches!(segs.as_slice(), [Seg::Key("spec"), Seg::Key("env")])
            || matches!(
                segs.as_slice(),
                [Seg::Key("metadata"), Seg::Key("labels" | "annotations")]
            )
        {
            segs.push(Seg::Key(rest));
            break;
        }
        if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').unwrap_or(r.len());
            if let Ok(i) = r[..end].parse() {
                segs.push(Seg::Index(i));
            }
            rest = r.get(end + 1..).unwrap_or("");
            rest = rest.strip_prefix('.').unwrap_or(rest);
            continue;
        }
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        segs.push(Seg::Key(&rest[..end]));
        rest = &rest[end..];
        rest = rest.strip_prefix('.').unwrap_or(rest);
    }
    segs
}

/// A block of lines in which to look for a key: lines `start..end` of the
/// document, the first of which has its content at column `first_col`.
#[derive(Clone, Copy, Debug)]
struct Block {
    start: usize,
    end: usize,
    first_col: usize,
}

/// 0-based (line, column) in `text` of the key at `path`, or of the deepest
/// enclosing key found. An indentation-based search, good for the block
/// style manifests are written in; flow style falls back to the enclosing
/// key's line.
fn locate(text: &str, path: &[Seg<'_>]) -> Option<(usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let first = lines.iter().position(|l| !is_filler(l))?;
    let mut block = Block {
        start: first,
        end: lines.len(),
        first_col: indent(lines[first]),
    };
    let mut found = (first, indent(lines[first]));
    let mut inline = false;
    for seg in path {
        if inline {
            // The enclosing value is on its key's line: a flow mapping?
            return Some(match seg {
                Seg::Key(k) => match lines.get(found.0).and_then(|l| find_flow_key(l, found.1, k)) {
                    Some(col) => (found.0, col),
                    None => found,
                },
                Seg::Index(_) => found,
            });
        }
        let next = match seg {
            Seg::Key(k) => find_key(&lines, block, k),
            Seg::Index(i) => find_item(&lines, block, *i),
        };
        let Some((pos, inner)) = next else {
            return Some(found);
        };
        found = pos;
        match inner {
            Some(b) => block = b,
            None => inline = true,
        }
    }
    Some(found)
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// The column where `line`'s content starts when it is the first line of
/// `block`, else its indentation.
fn content_col(lines: &[&str], block: Block, i: usize) -> usize {
    if i == block.start {
        block.first_col
    } else {
        indent(lines[i])
    }
}

/// Finds `key:` at the top level of `block`. Returns its position and the
/// block of its value (None when the value is on the same line).
fn find_key(lines: &[&str], block: Block, key: &str) -> Option<((usize, usize), Option<Block>)> {
    let mut level = None;
    for i in block.start..block.end.min(lines.len()) {
        if is_filler(lines[i]) {
            continue;
        }
        let col = content_col(lines, block, i);
        let level = *level.get_or_insert(col);
        if col != level {
            continue;
        }
        let content = lines[i].get(col..).unwrap_or("");
        let Some(after) = strip_key(content, key) else {
            continue;
        };
        let value = after.trim();
        if !value.is_empty() && !value.starts_with('#') && !value.starts_with(['|', '>', '&', '!']) {
            return Some(((i, col), None));
        }
        // The value block: following lines indented deeper, or at the same
        // indentation when they are list items.
        let mut end = i + 1;
        while end < block.end.min(lines.len()) {
            let l = lines[end];
            if !is_filler(l) {
                let ind = indent(l);
                let item = is_item(l.trim_start_matches(' '));
                if ind < level || (ind == level && !item) {
                    break;
                }
            }
            end += 1;
        }
        let start = (i + 1..end).find(|&j| !is_filler(lines[j]))?;
        return Some((
            (i, col),
            Some(Block {
                start,
                end,
                first_col: indent(lines[start]),
            }),
        ));
    }
    None
}

/// 1-based (line, column) of the second `key:` of the block mapping that
/// starts at 1-based `line`, `col` of `text`.
fn second_key(text: &str, line: usize, col: usize, key: &str) -> Option<(usize, usize)> {
    let level = col.checked_sub(1)?;
    let mut seen = 0;
    for (i, l) in text.lines().enumerate().skip(line.checked_sub(1)?) {
        if is_filler(l) {
            continue;
        }
        let first = i + 1 == line;
        if !first && indent(l) < level {
            break;
        }
        if (first || indent(l) == level) && strip_key(l.get(level..).unwrap_or(""), key).is_some() {
            seen += 1;
            if seen == 2 {
                return Some((i + 1, col));
            }
        }
    }
    None
}

/// Finds the `index`-th `- ` item at the top level of `block`. Returns its
/// position and its content block.
fn find_item(lines: &[&str], block: Block, index: usize) -> Option<((usize, usize), Option<Block>)> {
    let mut level = None;
    let mut items = Vec::new();
    for i in block.start..block.end.min(lines.len()) {
        if is_filler(lines[i]) {
            continue;
        }
        let col = content_col(lines, block, i);
        let level = *level.get_or_insert(col);
        let content = lines[i].get(col..).unwrap_or("");
        if col == level && is_item(content) {
            items.push(i);
        } else if col < level {
            break;
        }
    }
    let &start = items.get(index)?;
    let end = items.get(index + 1).copied().unwrap_or(block.end.min(lines.len()));
    let col = content_col(lines, block, start);
    let after_dash = lines[start].get(col + 1..).unwrap_or("");
    let pad = after_dash.len() - after_dash.trim_start_matches(' ').len();
    let item_col = col + 1 + pad;
    let inner = if after_dash.trim().is_empty() {
        (start + 1..end).find(|&j| !is_filler(lines[j])).map(|s| Block {
            start: s,
            end,
            first_col: indent(lines[s]),
        })
    } else {
        Some(Block {
            start,
            end,
            first_col: item_col,
        })
    };
    Some(((start, col), inner))
}

fn is_item(content: &str) -> bool {
    content == "-" || content.starts_with("- ")
}

/// If `content` starts with `key:` (plain or quoted) followed by a space or
/// the end, the text after the colon.
fn strip_key<'a>(content: &'a str, key: &str) -> Option<&'a str> {
    for quote in ["", "\"", "'"] {
        if let Some(rest) = content
            .strip_prefix(quote)
            .and_then(|r| r.strip_prefix(key))
            .and_then(|r| r.strip_prefix(quote))
            .and_then(|r| r.strip_prefix(':'))
            && (rest.is_empty() || rest.starts_with([' ', '\t']))
        {
            return Some(rest);
        }
    }
    None
}

/// Column of `key:` (plain or quoted) inside a flow mapping on `line`,
/// after column `from`.
fn find_flow_key(line: &str, from: usize, key: &str) -> Option<usize> {
    let hay = line.get(from..)?;
    if key.is_empty() {
        return None;
    }
    let mut search = 0;
    while let Some(i) = hay.get(search..).and_then(|h| h.find(key)) {
        let at = search + i;
        let quote = hay[..at].chars().last().filter(|c| matches!(c, '"' | '\''));
        let start = at - quote.map_or(0, char::len_utf8);
        let before = hay[..start].chars().last();
        let mut rest = &hay[at + key.len()..];
        if let Some(q) = quote {
            rest = rest.strip_prefix(q).unwrap_or("");
        }
        if matches!(before, Some('{' | ',' | ' ' | '\t')) && rest.starts_with(':') {
            return Some(from + start);
        }
        search = at + key.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> PathBuf {
        PathBuf::from(s)
    }

    const WEB: &str = "\
apiVersion: sextant.dev/v1alpha1
kind: App
metadata:
  name: web
  labels: {team: storefront}
spec:
  instances: 3
  command: exec python3 -m http.server $PORT_HTTP
  resources: {cpus: \"250m\", mem: \"128Mi\"}
  ports:
  - name: http
    containerPort: 8000
  env:
    LOG_LEVEL: info
";

    fn errs(text: &str) -> Vec<String> {
        match load_str(&p("m.yaml"), text) {
            Ok(apps) => panic!("loaded {} apps from {text}", apps.len()),
            Err(e) => e.0.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn loads_a_manifest() {
        let apps = load_str(&p("m.yaml"), WEB).unwrap();
        assert_eq!(apps.len(), 1);
        let a = &apps[0];
        assert_eq!(a.line, 1);
        assert_eq!(a.key(), "default/web");
        assert_eq!(a.app.metadata.namespace.as_deref(), Some("default"));
        assert_eq!(a.app.spec.instances, 3);
        assert_eq!(a.app.spec.resources.cpus.to_cpus(), Ok(0.25));
        assert_eq!(a.app.spec.ports[0].container_port, Some(8000));
    }

    #[test]
    fn multi_document() {
        let text = format!(
            "# leading comment\n---\n{WEB}---\n# only a comment\n---\n\n---\n{}...\n",
            WEB.replace("name: web", "name: api")
                .replace("name: http", "name: grpc")
        );
        let apps = load_str(&p("m.yaml"), &text).unwrap();
        assert_eq!(apps.len(), 2);
        assert_eq!(apps[0].line, 3);
        assert_eq!(apps[1].name(), "api");
        assert_eq!(apps[1].line, 3 + WEB.lines().count() + 5);
    }

    #[test]
    fn empty_input_is_no_apps() {
        assert_eq!(load_str(&p("m.yaml"), "").unwrap(), vec![]);
        assert_eq!(load_str(&p("m.yaml"), "---\n---\n# x\n").unwrap(), vec![]);
    }

    #[test]
    fn syntax_error_has_file_line() {
        let text = format!("{WEB}---\napiVersion: sextant.dev/v1alpha1\nkind: [App\n");
        let e = errs(&text);
        assert_eq!(e.len(), 1, "{e:?}");
        let n = WEB.lines().count();
        assert!(e[0].starts_with(&format!("m.yaml:{}:", n + 4)), "{e:?}");
    }

    #[test]
    fn unknown_field_has_path_and_line() {
        let text = WEB.replace("  instances: 3", "  instances: 3\n  comand: x");
        let e = errs(&text);
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with("m.yaml:8:3: spec: unknown field `comand`, expected one of"),
            "{e:?}"
        );
    }

    #[test]
    fn unknown_nested_field() {
        let text = WEB.replace("containerPort: 8000", "contanerPort: 8000");
        let e = errs(&text);
        assert!(
            e[0].starts_with("m.yaml:12:5: spec.ports[0]: unknown field `contanerPort`"),
            "{e:?}"
        );
    }

    #[test]
    fn unknown_top_level_and_metadata_fields() {
        let text = WEB
            .replace("kind: App", "kind: App\nspecs: {}")
            .replace("  name: web", "  name: web\n  nmae: x");
        let e = errs(&text);
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].starts_with("m.yaml:3:1: specs: unknown field `specs`"), "{e:?}");
        assert!(
            e[1].starts_with("m.yaml:6:3: metadata.nmae: unknown field `nmae`"),
            "{e:?}"
        );
    }

    #[test]
    fn wrong_api_version_and_kind() {
        let text = WEB
            .replace("sextant.dev/v1alpha1", "apps/v1")
            .replace("kind: App", "kind: Deployment");
        assert_eq!(
            errs(&text),
            vec![
                "m.yaml:1:1: apiVersion: unsupported apiVersion \"apps/v1\": expected \
                 \"sextant.dev/v1alpha1\"",
                "m.yaml:2:1: kind: unsupported kind \"Deployment\": expected \"App\"",
            ]
        );
        let e = errs("kind: App\nmetadata: {name: x}\nspec: {command: x}\n");
        assert_eq!(e, vec!["m.yaml:1:1: apiVersion is required: \"sextant.dev/v1alpha1\""]);
    }

    #[test]
    fn not_a_mapping() {
        let e = errs("---\n- a\n- b\n");
        assert_eq!(e.len(), 1);
        assert!(e[0].starts_with("m.yaml:2:1: expected a manifest"), "{e:?}");
    }

    #[test]
    fn names_and_namespace() {
        let e = errs(&WEB.replace("name: web", "name: Web_1"));
        assert_eq!(e.len(), 1);
        assert!(
            e[0].starts_with("m.yaml:4:3: metadata.name: invalid name \"Web_1\": must be a DNS-1123 label"),
            "{e:?}"
        );
        let e = errs(&WEB.replace("  name: web\n", "  namespace: -x\n"));
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].starts_with("m.yaml:3:1: metadata.name: is required"), "{e:?}");
        assert!(
            e[1].starts_with("m.yaml:4:3: metadata.namespace: invalid namespace"),
            "{e:?}"
        );
        let e = errs(&WEB.replace("name: web", &format!("name: {}", "a".repeat(64))));
        assert!(e[0].contains("metadata.name: invalid name"), "{e:?}");
    }

    #[test]
    fn command_xor_args() {
        let both = WEB.replace("  instances: 3", "  instances: 3\n  args: [a]");
        let e = errs(&both);
        assert_eq!(
            e,
            vec!["m.yaml:6:1: spec: set exactly one of command or args, not both"]
        );
        let none = WEB.replace("  command: exec python3 -m http.server $PORT_HTTP\n", "");
        assert!(errs(&none)[0].contains("spec: one of command"), "{:?}", errs(&none));
        let empty = none.replace("  instances: 3", "  instances: 3\n  args: []");
        assert_eq!(
            errs(&empty),
            vec!["m.yaml:8:3: spec.args: must not be empty: args[0] is the program to run"]
        );
    }

    #[test]
    fn ports() {
        let text = WEB.replace(
            "  - name: http\n    containerPort: 8000\n",
            "  - name: http\n  - name: http\n    protocol: sctp\n  - name: Bad\n  - {name: a, hostPort: 80}\n  - name: b\n    hostPort: 80\n",
        );
        let e = errs(&text);
        assert_eq!(
            e,
            vec![
                "m.yaml:12:5: spec.ports[1].name: duplicate port name \"http\" (also spec.ports[0])",
                "m.yaml:13:5: spec.ports[1].protocol: unsupported protocol \"sctp\": expected tcp or udp",
                "m.yaml:14:5: spec.ports[2].name: invalid port name \"Bad\": must be a DNS-1123 label \
                 (at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit)",
                "m.yaml:17:5: spec.ports[4].hostPort: host port 80/tcp is also used by spec.ports[3]",
            ]
        );
    }

    #[test]
    fn quantities() {
        let text = WEB.replace("cpus: \"250m\", mem: \"128Mi\"", "cpus: 0, mem: 12Qi");
        let e = errs(&text);
        assert_eq!(
            e[0],
            "m.yaml:9:15: spec.resources.cpus: must be greater than 0 (\"0\" is 0 cores at \
             Mesos' precision of 0.001)"
        );
        assert!(
            e[1].starts_with("m.yaml:9:24: spec.resources.mem: invalid quantity \"12Qi\": unknown suffix \"Qi\""),
            "{e:?}"
        );
        let text = WEB.replace("cpus: \"250m\", mem: \"128Mi\"", "cpus: 1, mem: \"1\"");
        assert!(errs(&text)[0].contains("spec.resources.mem: must be greater than 0"));
        let text = WEB.replace("cpus: \"250m\"", "cpus: true");
        let e = errs(&text);
        assert!(e[0].starts_with("m.yaml:9:"), "{e:?}");
        assert!(
            e[0].contains("spec.resources.cpus: invalid type: boolean `true`, expected a number or a quantity string"),
            "{e:?}"
        );
    }

    #[test]
    fn type_errors_have_locations() {
        let e = errs(&WEB.replace("instances: 3", "instances: -1"));
        assert_eq!(
            e,
            vec!["m.yaml:7:14: spec.instances: invalid type: integer `-1`, expected u32"]
        );
        let e = errs(&WEB.replace("  - name: http\n    containerPort: 8000\n", "  - containerPort: 1\n"));
        assert!(
            e[0].starts_with("m.yaml:11:3: spec.ports[0]: missing field `name`"),
            "{e:?}"
        );
        let e = errs("apiVersion: sextant.dev/v1alpha1\nkind: App\nmetadata: {name: x}\n");
        assert_eq!(e, vec!["m.yaml:1:1: missing field `spec`"]);
    }

    #[test]
    fn many_errors_are_capped() {
        let ports: String = (0..200).map(|i| format!("  - name: P{i}\n")).collect();
        let text = WEB.replace("  - name: http\n    containerPort: 8000\n", &ports);
        let e = errs(&text);
        assert_eq!(e.len(), MAX_ERRORS_PER_DOC + 1);
        assert!(e[0].starts_with("m.yaml:11:5: spec.ports[0].name: invalid port name \"P0\""));
        assert_eq!(
            e[MAX_ERRORS_PER_DOC],
            "m.yaml:60:5: 150 more errors in this document not shown"
        );
    }

    #[test]
    fn duplicate_keys_point_at_the_second() {
        let e = errs(&WEB.replace("  instances: 3", "  instances: 3\n  env: {}\n  instances: 4"));
        assert_eq!(e, vec!["m.yaml:9:3: spec: duplicate entry with key \"instances\""]);
    }

    #[test]
    fn duplicates_across_documents() {
        let text = format!("{WEB}---\n{WEB}");
        let e = errs(&text);
        let n = WEB.lines().count();
        assert_eq!(
            e,
            vec![format!(
                "m.yaml:{}:1: metadata.name: app \"default/web\" is defined twice: first at m.yaml:1",
                n + 2
            )]
        );
        // Another namespace is another app.
        let other = WEB.replace("  name: web", "  name: web\n  namespace: other");
        assert_eq!(load_str(&p("m.yaml"), &format!("{WEB}---\n{other}")).unwrap().len(), 2);
    }

    #[test]
    fn all_errors_reported() {
        let text = format!(
            "{}---\n{}---\nfoo: [\n",
            WEB.replace("name: web", "name: A"),
            WEB.replace("command: exec", "args: [x]\n  command: exec")
        );
        let e = errs(&text);
        assert_eq!(e.len(), 3, "{e:?}");
    }

    #[test]
    fn too_large() {
        let big = format!("{WEB}#{}\n", "x".repeat(MAX_FILE_BYTES as usize));
        let e = errs(&big);
        assert_eq!(e.len(), 1);
        assert!(e[0].starts_with("m.yaml: file is "), "{e:?}");
    }

    #[test]
    fn crlf_and_bom() {
        let text = format!("\u{feff}{}", WEB.replace('\n', "\r\n"));
        assert_eq!(load_str(&p("m.yaml"), &text).unwrap().len(), 1);
        let text = text.replace("name: web", "name: WEB");
        let e = errs(&text);
        assert!(e[0].starts_with("m.yaml:4:3: metadata.name"), "{e:?}");
    }

    #[test]
    fn status_dropped() {
        let text = format!("{WEB}status: {{running: 3}}\n");
        let apps = load_str(&p("m.yaml"), &text).unwrap();
        assert_eq!(apps[0].app.status, None);
    }

    #[test]
    fn display() {
        let e = LoadError {
            file: p("a/b.yaml"),
            line: 3,
            col: 7,
            field: Some("spec.command".into()),
            message: "must not be empty".into(),
        };
        assert_eq!(e.to_string(), "a/b.yaml:3:7: spec.command: must not be empty");
        let e2 = LoadError {
            field: None,
            ..e.clone()
        };
        assert_eq!(e2.to_string(), "a/b.yaml:3:7: must not be empty");
        assert_eq!(
            LoadErrors(vec![e, e2]).to_string(),
            "a/b.yaml:3:7: spec.command: must not be empty\na/b.yaml:3:7: must not be empty"
        );
    }

    #[test]
    fn field_paths() {
        assert_eq!(
            parse_field_path("spec.ports[1].name"),
            vec![Seg::Key("spec"), Seg::Key("ports"), Seg::Index(1), Seg::Key("name")]
        );
        assert_eq!(
            parse_field_path("spec.env.a.b"),
            vec![Seg::Key("spec"), Seg::Key("env"), Seg::Key("a.b")]
        );
        assert_eq!(parse_field_path(""), vec![]);
        assert_eq!(parse_field_path("[x"), vec![]);
    }

    #[test]
    fn locate_keys() {
        let text = "a:\n  b:\n  - x: 1\n    y: 2\n  -\n    x: 3\n  c: {d: 1, \"e\": 2}\n";
        let at = |path: &str| locate(text, &parse_field_path(path));
        assert_eq!(at("a"), Some((0, 0)));
        assert_eq!(at("a.b[0].y"), Some((3, 4)));
        assert_eq!(at("a.b[1].x"), Some((5, 4)));
        assert_eq!(at("a.b[0].x"), Some((2, 4)));
        assert_eq!(at("a.c.d"), Some((6, 6)));
        assert_eq!(at("a.c.e"), Some((6, 12)));
        assert_eq!(at("a.zz"), Some((0, 0)));
        assert_eq!(at("a.b[7]"), Some((1, 2)));
    }

    #[test]
    fn yaml_messages() {
        assert_eq!(
            split_yaml_message(
                "spec.ports[0]: unknown field `x`, expected `name` at line 3 column 5",
                10
            ),
            (
                Some("spec.ports[0]".into()),
                "unknown field `x`, expected `name`".into()
            )
        );
        assert_eq!(
            split_yaml_message(
                "did not find expected key at line 5 column 1, while parsing a block mapping at line 2 column 1",
                10
            ),
            (
                None,
                "did not find expected key, while parsing a block mapping at line 12 column 1".into()
            )
        );
        assert_eq!(
            split_yaml_message("invalid type: map, expected a string", 0),
            (None, "invalid type: map, expected a string".into())
        );
    }
}
