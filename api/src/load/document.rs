//! One file of manifests: splitting it into YAML documents, and turning
//! each document into an app or into errors with their lines and columns.

use std::path::Path;

use serde_yaml::Value;

use super::depth::check_depth;
use super::locate::{Seg, is_filler, is_marker, locate, parse_field_path, second_key};
use super::yaml::{ALIAS_BOMB, NESTING_MESSAGE, describe, parse_bounded, short};
use super::{LoadError, LoadedApp, MAX_DOCUMENTS, Set};
use crate::app::{API_VERSION, App};
use crate::schema::{document_schema, loader_metadata_schema, spec_schema};
use crate::structure::{self, At, PathSeg, Problem};
use crate::suggest::did_you_mean;
use crate::task::DEFAULT_NAMESPACE;
use crate::validate::validate;

/// One YAML document of a file: its text and where it starts.
pub(super) struct Doc<'a> {
    pub(super) text: &'a str,
    /// 0-based line of `text`'s first line in the file.
    pub(super) first_line: usize,
}

/// Splits a multi-document YAML text on `---` lines (which begin the next
/// document) and `...` lines (which end the current one).
pub(super) fn split_documents(text: &str) -> Vec<Doc<'_>> {
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

/// Parses every document of `file` into `set`.
pub(super) fn parse_file(file: &Path, text: &str, set: &mut Set) {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for doc in split_documents(text) {
        if doc.text.lines().all(is_filler) {
            continue;
        }
        let mut ctx = DocCtx {
            file,
            doc: &doc,
            errors: &mut set.errors,
            located: 0,
            suppressed: 0,
        };
        set.documents += 1;
        if set.documents > MAX_DOCUMENTS {
            let line = ctx.start_line();
            ctx.errors.push(LoadError {
                file: file.to_path_buf(),
                line,
                col: 1,
                field: None,
                message: format!(
                    "more than {MAX_DOCUMENTS} documents in this set of manifests; larger sets are rejected"
                ),
            });
            set.full = true;
            return;
        }
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
            set.apps.push(app);
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
pub(super) const MAX_ERRORS_PER_DOC: usize = 50;

const ROOT_FIELDS: [&str; 5] = ["apiVersion", "kind", "metadata", "spec", "status"];

impl DocCtx<'_, '_> {
    /// 1-based file line where the document's content starts.
    fn start_line(&self) -> usize {
        let skip = self.doc.text.lines().position(|l| !is_filler(l)).unwrap_or(0);
        self.doc.first_line + skip + 1
    }

    /// Records an error at a serde_yaml location (1-based, within the
    /// document).
    fn push_at(&mut self, line: usize, col: usize, field: Option<String>, message: String) {
        self.errors.push(LoadError {
            file: self.file.to_path_buf(),
            line: self.doc.first_line + line,
            col,
            field,
            message,
        });
    }

    /// Records an error about `field` (shown; empty for none), at the key
    /// (or value) of `located`.
    fn push_located(&mut self, field: &str, located: &[Seg<'_>], at: At, message: String) {
        // Locating is linear in the document: bound the work (and the noise)
        // for documents with very many errors.
        self.located += 1;
        if self.located > MAX_ERRORS_PER_DOC {
            self.suppressed += 1;
            return;
        }
        let (line, col) = self.locate(located, at);
        self.errors.push(LoadError {
            file: self.file.to_path_buf(),
            line,
            col,
            field: (!field.is_empty()).then(|| field.to_string()),
            message,
        });
    }

    /// Records an error about `field`, at the line of its key if found.
    fn push_field(&mut self, field: &str, message: String) {
        self.push_located(field, &parse_field_path(field), At::Key, message);
    }

    fn push_problem(&mut self, p: &Problem) {
        let located: Vec<Seg<'_>> = p
            .located
            .iter()
            .map(|s| match s {
                PathSeg::Key(k) => Seg::Key(k),
                PathSeg::Index(i) => Seg::Index(*i),
            })
            .collect();
        self.push_located(&structure::render(&p.field), &located, p.at, p.message.clone());
    }

    /// 1-based file line and column of `path`'s key (or value), or of its
    /// nearest enclosing key found, or the document start.
    fn locate(&self, path: &[Seg<'_>], at: At) -> (usize, usize) {
        match locate(self.doc.text, path) {
            Some(spot) => {
                let col = match at {
                    At::Value => spot.value_col.unwrap_or(spot.col),
                    At::Key => spot.col,
                };
                (self.doc.first_line + spot.line + 1, col + 1)
            }
            None => (self.start_line(), 1),
        }
    }

    fn yaml_error(&mut self, e: &serde_yaml::Error) {
        let (mut path, message) = split_yaml_message(&e.to_string(), self.doc.first_line);
        if message.starts_with(ALIAS_BOMB) || message.starts_with(NESTING_MESSAGE) {
            // The path into the expansion says nothing useful.
            path = None;
        }
        let missing = message.starts_with("missing field");
        match e.location() {
            // A missing field is reported at the end of its mapping; the
            // mapping's key is more useful.
            Some(loc) if !missing => {
                // serde_yaml reports a duplicate key at its mapping; point at
                // the second occurrence of the key instead.
                let (line, col) = message
                    .strip_prefix("duplicate entry with key \"")
                    .and_then(|k| k.strip_suffix('"'))
                    .and_then(|key| second_key(self.doc.text, loc.line(), loc.column(), key))
                    .unwrap_or((loc.line(), loc.column()));
                self.push_at(line, col, path, message)
            }
            _ => {
                let (line, col) = match &path {
                    Some(p) => self.locate(&parse_field_path(p), At::Key),
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
        // Before the parser, whose time grows with the square of the depth.
        if let Err(at) = check_depth(self.doc.text) {
            self.push_at(at.line, at.col, None, NESTING_MESSAGE.to_string());
            return None;
        }
        let mut value = match parse_bounded(self.doc.text) {
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
        if !self.check_root(map) {
            return None;
        }
        let mut problems = Vec::new();
        // Whether the value reads as the text does (see `Checked::exact`).
        let mut exact = true;
        if let Some(meta) = map.get("metadata") {
            let at = [PathSeg::Key("metadata".into())];
            let checked = structure::check(meta, loader_metadata_schema(), document_schema(), &at);
            problems.extend(checked.problems);
            exact &= checked.exact;
        }
        match map.get("spec") {
            None => self.push_field("", "missing field \"spec\"".into()),
            Some(spec) => {
                let at = [PathSeg::Key("spec".into())];
                let checked = structure::check(spec, spec_schema(), document_schema(), &at);
                problems.extend(checked.problems);
                exact &= checked.exact;
            }
        }
        for p in &problems {
            self.push_problem(p);
        }
        if self.errors.len() > errors_before || !problems.is_empty() {
            if !problems.is_empty() && problems.iter().all(|p| p.unknown_field) {
                // Unknown fields only: what is left can still be checked for
                // meaning, so that one round of fixes is enough.
                for p in &problems {
                    remove(&mut value, &p.located);
                }
                if let Value::Mapping(m) = &mut value {
                    m.remove("status");
                }
                if let Ok(app) = serde_yaml::from_value::<App>(value) {
                    for e in validate(&app) {
                        self.push_field(&e.field, e.message);
                    }
                }
            }
            return None;
        }

        // Deserialize the parsed value when it reads as the text does;
        // otherwise (serde_yaml reads scalars into strings as written, which
        // only the text has), or when that fails, the text.
        let parsed = if exact {
            serde_yaml::from_value::<App>(value).ok()
        } else {
            None
        };
        let mut app: App = match parsed {
            Some(app) => app,
            None => match serde_yaml::from_str(self.doc.text) {
                Ok(app) => app,
                Err(e) => {
                    self.yaml_error(&e);
                    return None;
                }
            },
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

    /// Root fields, `apiVersion` and `kind`. False when the document is not
    /// an App at all, so its fields are not worth checking.
    fn check_root(&mut self, map: &serde_yaml::Mapping) -> bool {
        for key in map.keys() {
            match key.as_str() {
                Some(k) if ROOT_FIELDS.contains(&k) => {}
                Some(k) => {
                    let message = match did_you_mean(k, ROOT_FIELDS) {
                        Some(s) => format!("unknown field {k:?}, did you mean {s:?}?"),
                        None => format!("unknown field {k:?}; expected one of: apiVersion, kind, metadata, spec"),
                    };
                    self.push_located("", &[Seg::Key(k)], At::Key, message);
                }
                None => self.push_field("", format!("unexpected key: {}", describe(key))),
            }
        }
        let mut is_app = true;
        match map.get("apiVersion") {
            None => {
                is_app = false;
                self.push_field("", format!("apiVersion is required: \"{API_VERSION}\""));
            }
            Some(Value::String(v)) if v == API_VERSION => {}
            Some(v) => {
                is_app = false;
                self.push_field(
                    "apiVersion",
                    format!("unsupported apiVersion {}: expected \"{API_VERSION}\"", short(v)),
                );
            }
        }
        match map.get("kind") {
            None => {
                is_app = false;
                self.push_field("", "kind is required: \"App\"".into());
            }
            Some(Value::String(v)) if v == "App" => {}
            Some(v) => {
                is_app = false;
                self.push_field("kind", format!("unsupported kind {}: expected \"App\"", short(v)));
            }
        }
        is_app
    }
}

/// Removes the entry at `path` from `value`, if there.
fn remove(value: &mut Value, path: &[PathSeg]) {
    let Some((last, init)) = path.split_last() else {
        return;
    };
    let mut cur = value;
    for seg in init {
        let next = match (seg, cur) {
            (PathSeg::Key(k), Value::Mapping(m)) => m.get_mut(k.as_str()),
            (PathSeg::Index(i), Value::Sequence(s)) => s.get_mut(*i),
            _ => None,
        };
        match next {
            Some(v) => cur = v,
            None => return,
        }
    }
    if let (PathSeg::Key(k), Value::Mapping(m)) = (last, cur) {
        m.remove(k.as_str());
    }
}

/// Splits a serde_yaml error message into its field path (when it names one)
/// and the message proper, without the ` at line L column C` of the primary
/// location (reported separately) and with other line numbers offset to the
/// file.
pub(super) fn split_yaml_message(msg: &str, line_offset: usize) -> (Option<String>, String) {
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
