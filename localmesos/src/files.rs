//! The agents' `/files` endpoints: `GET /files/read` and `GET /files/browse`
//! (and their deprecated `.json` forms) over the nodes' task sandboxes, as a
//! Mesos 1.11 agent serves them (`src/files/files.cpp`).
//!
//! A real agent attaches each executor's sandbox under the virtual path
//! `/frameworks/<framework_id>/executors/<executor_id>/runs/latest` (for the
//! command executor the executor id is the task id); the nodes here share
//! the master's port (the offers' `url` says so), so a virtual path is
//! looked up in every node's sandboxes.
//!
//! Semantics kept from Mesos:
//! - `path` is required (400 "Expecting 'path=value' in query.");
//!   an unknown path is 404 with an empty body.
//! - A path that resolves outside its sandbox (`..`, a symlink) is 400
//!   "'<path>' is inaccessible.": the check is on the canonical path.
//! - `read`: `offset` defaults to -1, which answers the file's size as
//!   `{"data":"","offset":<size>}`; below -1, or not a number, is 400.
//!   `length` -1 or absent reads to the end; below -1 is 400. A read returns
//!   at most 16 pages (64 KiB on 4 KiB pages); an offset at or past the end
//!   answers `{"data":"","offset":<offset>}`. A directory is 400.
//! - `data` is the bytes as a JSON string written the way stout writes one:
//!   `"`, `\`, `/` and control characters escaped, every other byte as is,
//!   so the body is not always valid UTF-8 (a read may split a character).
//! - `browse`: the directory's entries sorted by path, each with `gid`,
//!   `mode`, `mtime`, `nlink`, `path`, `size`, `uid`; browsing a file lists
//!   nothing.
//!
//! Differences: `uid` and `gid` are numbers in strings (Mesos looks the
//! names up and falls back to the number), `jsonp` is ignored, and there is
//! no `/files/download` or `/files/debug`.

use std::collections::HashMap;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Body;
use axum::extract::{Query, State as AxumState};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::http::{ApiError, empty_response, json_response, method_not_allowed};
use crate::master::Master;

/// What a path resolved to.
enum Resolved {
    /// A real path inside an attached sandbox.
    Found(PathBuf),
    /// Nothing is attached there, or the file does not exist.
    NotFound,
    /// It exists but leads out of its sandbox.
    Inaccessible(String),
}

/// Mesos' read cap: 16 pages.
fn max_read_length() -> u64 {
    // SAFETY: sysconf has no preconditions; it only reads a constant.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let page = u64::try_from(page).ok().filter(|p| *p > 0).unwrap_or(4096);
    page * 16
}

/// `(framework id, executor id, what follows .../runs/latest)` of a
/// virtual sandbox path, or `None` when it is not one.
fn parse_virtual(path: &str) -> Option<(&str, &str, Vec<&str>)> {
    let mut parts = path.split('/').filter(|p| !p.is_empty());
    let (frameworks, fid, executors, eid, runs, latest) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    let plain = |id: &str| id != "." && id != "..";
    if frameworks != "frameworks" || executors != "executors" || runs != "runs" || latest != "latest" {
        return None;
    }
    if !plain(fid) || !plain(eid) {
        return None;
    }
    Some((fid, eid, parts.collect()))
}

/// The real directory behind `/frameworks/<fid>/executors/<eid>/runs/latest`:
/// of the nodes that ran that executor, the one whose latest run is newest.
fn sandbox(master: &Master, fid: &str, eid: &str) -> Option<PathBuf> {
    let agents: Vec<String> = master.lock().agents.iter().map(|a| a.id.value.clone()).collect();
    agents
        .iter()
        .filter_map(|agent| {
            let latest = master
                .work_dir
                .join("slaves")
                .join(agent)
                .join("frameworks")
                .join(fid)
                .join("executors")
                .join(eid)
                .join("runs")
                .join("latest");
            let real = std::fs::canonicalize(latest).ok()?;
            let modified = std::fs::metadata(&real).and_then(|m| m.modified()).ok()?;
            Some((modified, real))
        })
        .max_by_key(|(modified, _): &(SystemTime, PathBuf)| *modified)
        .map(|(_, real)| real)
}

/// Resolves a virtual path as `FilesProcess::resolve` does: the attached
/// sandbox, the rest joined to it, canonicalized, and kept inside it.
fn resolve(master: &Master, path: &str) -> Resolved {
    let Some((fid, eid, rest)) = parse_virtual(path) else {
        return Resolved::NotFound;
    };
    let Some(root) = sandbox(master, fid, eid) else {
        return Resolved::NotFound;
    };
    let joined = rest.iter().fold(root.clone(), |p, part| p.join(part));
    match std::fs::canonicalize(&joined) {
        Ok(real) if real.starts_with(&root) => Resolved::Found(real),
        Ok(_) => Resolved::Inaccessible(format!("'{}' is inaccessible.\n", joined.display())),
        Err(_) => Resolved::NotFound,
    }
}

/// The `path` query parameter, required and non-empty.
fn path_param(query: &HashMap<String, String>) -> Result<&str, ApiError> {
    match query.get("path").map(String::as_str) {
        Some(path) if !path.is_empty() => Ok(path),
        _ => Err(ApiError::bad_request("Expecting 'path=value' in query.\n")),
    }
}

/// An integer parameter, as Mesos' `numify`: absent is `None`; not a
/// number, or below -1, is a 400 naming the parameter.
fn signed_param(query: &HashMap<String, String>, name: &str) -> Result<Option<i64>, ApiError> {
    let Some(text) = query.get(name) else {
        return Ok(None);
    };
    let value: i64 = text.trim().parse().map_err(|_| {
        ApiError::bad_request(format!(
            "Failed to parse {name}: Failed to convert '{text}' to number.\n"
        ))
    })?;
    if value < -1 {
        return Err(ApiError::bad_request(format!("Negative {name} provided: {value}.\n")));
    }
    Ok(Some(value))
}

/// `GET /files/read?path=&offset=&length=`.
pub async fn read(
    AxumState(master): AxumState<Arc<Master>>,
    method: Method,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return method_not_allowed(&["GET"], &method);
    }
    let parsed = path_param(&query).and_then(|path| {
        Ok((
            path.to_string(),
            signed_param(&query, "offset")?,
            signed_param(&query, "length")?,
        ))
    });
    let (path, offset, length) = match parsed {
        Ok(parsed) => parsed,
        Err(error) => return error.into_response(),
    };
    let offset = offset.unwrap_or(-1);
    // `offset=-1` asks for the size: a read of nothing from 0.
    let (from, length) = match (offset, length) {
        (-1, _) => (0, Some(0)),
        (from, Some(-1) | None) => (from.unsigned_abs(), None),
        (from, Some(length)) => (from.unsigned_abs(), Some(length.unsigned_abs())),
    };
    let file = match resolve(&master, &path) {
        Resolved::Found(file) => file,
        Resolved::NotFound => return empty_response(StatusCode::NOT_FOUND),
        Resolved::Inaccessible(message) => return ApiError::bad_request(message).into_response(),
    };
    let read = tokio::task::spawn_blocking(move || read_range(&file, from, length)).await;
    match read {
        Ok(Ok((size, data))) => {
            let shown = if offset == -1 { size } else { offset.unsigned_abs() };
            read_response(&data, shown)
        }
        Ok(Err(error)) => error.into_response(),
        Err(_) => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "The read was cancelled.\n").into_response(),
    }
}

/// The file's size and up to `length` bytes (capped) from `from`.
fn read_range(file: &Path, from: u64, length: Option<u64>) -> Result<(u64, Vec<u8>), ApiError> {
    let unknown = |what: &str, error: std::io::Error| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("Failed to {what} file at '{}': {error}.\n", file.display()),
        )
    };
    if file.is_dir() {
        return Err(ApiError::bad_request("Cannot read a directory.\n"));
    }
    let mut handle = std::fs::File::open(file).map_err(|e| unknown("open", e))?;
    let size = handle.metadata().map_err(|e| unknown("open", e))?.len();
    if from >= size {
        return Ok((size, Vec::new()));
    }
    let length = length.unwrap_or(size - from).min(max_read_length());
    if length == 0 {
        return Ok((size, Vec::new()));
    }
    handle.seek(SeekFrom::Start(from)).map_err(|e| unknown("seek", e))?;
    let mut data = Vec::with_capacity(usize::try_from(length).unwrap_or(0));
    handle
        .take(length)
        .read_to_end(&mut data)
        .map_err(|e| unknown("read", e))?;
    Ok((size, data))
}

/// `{"data":"…","offset":N}`, keys in Mesos' order, `data` as stout
/// writes a string of bytes.
fn read_response(data: &[u8], offset: u64) -> Response {
    let mut body = Vec::with_capacity(data.len() + 32);
    body.extend_from_slice(b"{\"data\":");
    stout_string(data, &mut body);
    body.extend_from_slice(format!(",\"offset\":{offset}}}").as_bytes());
    let mut response = Response::new(Body::from(body.clone()));
    let headers = response.headers_mut();
    headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A JSON string of raw bytes, escaped as stout's `StringWriter` does.
fn stout_string(data: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &byte in data {
        match byte {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            byte if byte < 0x20 || byte == 0x7f => out.extend_from_slice(format!("\\u{byte:04x}").as_bytes()),
            byte => out.push(byte),
        }
    }
    out.push(b'"');
}

/// `GET /files/browse?path=`.
pub async fn browse(
    AxumState(master): AxumState<Arc<Master>>,
    method: Method,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return method_not_allowed(&["GET"], &method);
    }
    let path = match path_param(&query) {
        Ok(path) => path.to_string(),
        Err(error) => return error.into_response(),
    };
    let dir = match resolve(&master, &path) {
        Resolved::Found(dir) => dir,
        Resolved::NotFound => return empty_response(StatusCode::NOT_FOUND),
        Resolved::Inaccessible(message) => return ApiError::bad_request(message).into_response(),
    };
    let listed = tokio::task::spawn_blocking(move || listing(&dir, &path)).await;
    json_response(&Value::Array(listed.unwrap_or_default()))
}

/// The entries of `dir`, sorted by path, shown under the virtual `path`.
fn listing(dir: &Path, path: &str) -> Vec<Value> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        // Mesos lists nothing for a path it cannot list (a file).
        return Vec::new();
    };
    let base = path.trim_end_matches('/');
    let mut files: Vec<(String, Value)> = entries
        .flatten()
        .filter_map(|entry| {
            // `stat`, not `lstat`: a link shows what it points to.
            let meta = std::fs::metadata(entry.path()).ok()?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let virtual_path = format!("{base}/{name}");
            let info = json!({
                "gid": meta.gid().to_string(),
                "mode": mode_string(&meta),
                "mtime": meta.mtime() as f64,
                "nlink": meta.nlink(),
                "path": virtual_path,
                "size": meta.size(),
                "uid": meta.uid().to_string(),
            });
            Some((virtual_path, info))
        })
        .collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files.into_iter().map(|(_, info)| info).collect()
}

/// `ls -l`'s mode column, as Mesos formats it (`drwxr-xr-x`).
fn mode_string(meta: &std::fs::Metadata) -> String {
    use std::os::unix::fs::FileTypeExt as _;
    let kind = meta.file_type();
    let first = if kind.is_dir() {
        'd'
    } else if kind.is_char_device() {
        'c'
    } else if kind.is_block_device() {
        'b'
    } else if kind.is_fifo() {
        'p'
    } else if kind.is_symlink() {
        'l'
    } else if kind.is_socket() {
        's'
    } else {
        '-'
    };
    let mode = meta.mode();
    let mut text = String::with_capacity(10);
    text.push(first);
    for (bit, letter) in [
        (0o400, 'r'),
        (0o200, 'w'),
        (0o100, 'x'),
        (0o040, 'r'),
        (0o020, 'w'),
        (0o010, 'x'),
        (0o004, 'r'),
        (0o002, 'w'),
        (0o001, 'x'),
    ] {
        text.push(if mode & bit != 0 { letter } else { '-' });
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_paths_name_a_framework_an_executor_and_a_file() {
        assert_eq!(
            parse_virtual("/frameworks/F/executors/E/runs/latest/stdout"),
            Some(("F", "E", vec!["stdout"]))
        );
        assert_eq!(
            parse_virtual("/frameworks/F/executors/E/runs/latest/"),
            Some(("F", "E", vec![]))
        );
        assert_eq!(parse_virtual("/frameworks/F/executors/E/runs/other/stdout"), None);
        assert_eq!(parse_virtual("/frameworks/../executors/E/runs/latest"), None);
        assert_eq!(parse_virtual("/slave/log"), None);
    }

    #[test]
    fn data_is_escaped_as_stout_writes_it() {
        let mut out = Vec::new();
        stout_string(b"a/b\"c\\\n\t\x01\x7f\xc3\xa9\xff", &mut out);
        assert_eq!(out, b"\"a\\/b\\\"c\\\\\\n\\t\\u0001\\u007f\xc3\xa9\xff\"".to_vec());
    }
}
