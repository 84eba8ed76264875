//! `GET /api/v1/apps/{namespace}/{name}/logs`: a task's stdout or stderr as
//! plain bytes, read from its sandbox through the agent's `ReadTaskLog`
//! (the controller never speaks Mesos). The same path serves `sextant up`
//! (localmesos's sandboxes) and a real cluster (the Mesos agents'
//! `/files/read`).
//!
//! Query: `task=ID` (default: the app's newest live task that reached a
//! node, else its newest ended one, else its newest; named in the
//! `X-Sextant-Task` header), `stream=stdout|stderr` (default stdout),
//! `tail=N` (the last N lines: found reading back from the end, at most
//! 1 MiB back), `offset=K` (from byte K; not with `tail`), `follow=true`
//! (then new bytes as they come, polled every 500 ms, until the client
//! hangs up, or the task ended and its file stopped growing, or its
//! sandbox is gone). Without `follow`, the file up to its size when asked.
//! `X-Sextant-Offset` says where the first byte sent is in the file, so a
//! reader cut off can resume with `offset=`.
//!
//! Errors, before the first byte, are the API's `{code, message}` naming
//! the app or the task: `NotFound` (no such app, task, or sandbox),
//! `Conflict` (the task was not launched yet), `BadRequest` (a bad
//! parameter), `Unavailable` (the Mesos agent or the agent cannot be
//! reached, or did not answer in time). A failure
//! once bytes were sent cuts the body off (an incomplete chunked body).
//! Memory is bounded: one read (256 KiB) at a time, 1 MiB for a tail.

use std::collections::HashMap;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::HeaderValue;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sextant_api::contract::MAX_LOG_READ_BYTES;
use sextant_api::proto::agent_client::AgentClient;
use sextant_api::proto::{ReadTaskLogRequest, TaskLogFile};
use sextant_api::{TaskId, app_key};
use tonic::transport::Channel;
use tracing::debug;

use super::error::ApiError;
use super::openapi::documented;
use crate::index::Index;
use crate::observed::ObservedTask;
use sextant_api::wire::{ErrorBody, ErrorCode};

use sextant_api::wire::{LOG_OFFSET_HEADER, LOG_TASK_HEADER};
/// Bytes asked for per read while streaming.
const READ_CHUNK: u32 = 256 * 1024;
/// Bytes asked for per read while looking back for lines.
const TAIL_CHUNK: u32 = 64 * 1024;
/// How far back from the end `tail` looks for lines at most.
const MAX_TAIL_SCAN: u64 = 1024 * 1024;
/// How often a followed file is looked at again.
const FOLLOW_POLL: Duration = Duration::from_millis(500);
/// Looks that found nothing new, once the task ended, before a followed
/// stream ends.
const QUIET_POLLS_AFTER_END: u32 = 2;

const _: () = assert!(READ_CHUNK <= MAX_LOG_READ_BYTES && TAIL_CHUNK <= MAX_LOG_READ_BYTES);

#[derive(Clone)]
struct Logs {
    index: Index,
    agent: AgentClient<Channel>,
}

/// The logs route, reading through `agent`.
pub fn routes(index: Index, agent: AgentClient<Channel>) -> Router {
    Router::new()
        .route(documented("GET", "/api/v1/apps/{namespace}/{name}/logs"), get(logs))
        .with_state(Logs { index, agent })
}

fn bad(message: String) -> ApiError {
    ApiError::new(ErrorCode::BadRequest, message)
}

/// What the query asks for.
#[derive(Debug, PartialEq, Eq)]
struct Ask {
    task: Option<String>,
    file: TaskLogFile,
    tail: Option<u64>,
    offset: Option<u64>,
    follow: bool,
}

fn parse(query: &HashMap<String, String>) -> Result<Ask, ApiError> {
    let file = match query.get("stream").map(String::as_str) {
        None | Some("stdout") => TaskLogFile::Stdout,
        Some("stderr") => TaskLogFile::Stderr,
        Some(other) => return Err(bad(format!("stream must be stdout or stderr, not {other:?}"))),
    };
    let number = |name: &str, what: &str| -> Result<Option<u64>, ApiError> {
        query
            .get(name)
            .map(|text| {
                text.parse::<u64>()
                    .map_err(|_| bad(format!("{name} must be {what}, not {text:?}")))
            })
            .transpose()
    };
    let tail = number("tail", "a number of lines")?;
    let offset = number("offset", "a byte offset (0 or more)")?;
    if tail.is_some() && offset.is_some() {
        return Err(bad("give tail or offset, not both".to_string()));
    }
    let follow = match query.get("follow").map(String::as_str) {
        None | Some("false" | "0") => false,
        Some("true" | "1" | "") => true,
        Some(other) => return Err(bad(format!("follow must be true or false, not {other:?}"))),
    };
    let task = query.get("task").filter(|t| !t.is_empty()).cloned();
    Ok(Ask {
        task,
        file,
        tail,
        offset,
        follow,
    })
}

/// The task to read: the one asked for, if it is the app's; else the
/// app's newest live task that reached a node, else its newest ended one
/// (why it ended is often in its log), else its newest.
fn choose(index: &Index, namespace: &str, name: &str, wanted: Option<&str>) -> Result<String, ApiError> {
    let key = app_key(namespace, name);
    let (desired, tasks) = index.read(|s| {
        (
            s.apps.contains_key(&key),
            s.tasks.get(&key).cloned().unwrap_or_default(),
        )
    });
    let app = format!("{namespace}/{name}");
    let not_found = |message: String| ApiError::new(ErrorCode::NotFound, message);
    if let Some(id) = wanted {
        // The index forgets ended tasks before the agent does: an id of
        // this app is asked for even when the index no longer has it.
        let ours = TaskId::parse(id).is_ok_and(|t| t.namespace == namespace && t.app == name);
        if ours || tasks.iter().any(|t| t.id == id) {
            return Ok(id.to_string());
        }
        if !desired && tasks.is_empty() {
            return Err(not_found(format!("app {app} not found")));
        }
        return Err(not_found(format!("task {id} is not a task of app {app}")));
    }
    if !desired && tasks.is_empty() {
        return Err(not_found(format!("app {app} not found")));
    }
    newest(&tasks)
        .map(|t| t.id.clone())
        .ok_or_else(|| not_found(format!("app {app} has no tasks")))
}

fn newest(tasks: &[ObservedTask]) -> Option<&ObservedTask> {
    let rank = |t: &ObservedTask| match (t.is_live(), t.agent_id.is_empty()) {
        (true, false) => 2,
        (false, false) => 1,
        _ => 0,
    };
    tasks
        .iter()
        .max_by(|a, b| rank(a).cmp(&rank(b)).then(a.created_at.total_cmp(&b.created_at)))
}

/// Reads one task's file through the agent.
#[derive(Clone)]
struct Reader {
    agent: AgentClient<Channel>,
    /// The agent's URL, for when it cannot be reached.
    agent_url: String,
    task_id: String,
    file: TaskLogFile,
}

impl Reader {
    async fn read(&self, offset: i64, length: u32) -> Result<(Vec<u8>, i64), ApiError> {
        let request = ReadTaskLogRequest {
            task_id: self.task_id.clone(),
            file: self.file as i32,
            offset,
            length,
        };
        match crate::agent_link::read_task_log(&self.agent, request).await {
            Ok(answer) => Ok((answer.data, answer.offset)),
            Err(status) => Err(self.refusal(&status)),
        }
    }

    /// The file's size now.
    async fn size(&self) -> Result<u64, ApiError> {
        let (_, size) = self.read(-1, 0).await?;
        Ok(size.max(0).unsigned_abs())
    }

    /// Up to `length` bytes from `at` (none at or past the end).
    async fn at(&self, at: u64, length: u32) -> Result<Vec<u8>, ApiError> {
        let offset = i64::try_from(at).unwrap_or(i64::MAX);
        Ok(self.read(offset, length).await?.0)
    }

    /// A refusal of the agent as an HTTP error, in its words.
    fn refusal(&self, status: &tonic::Status) -> ApiError {
        use tonic::Code;
        // A status made on this side (no answer came) carries its cause.
        if std::error::Error::source(status).is_some() {
            return ApiError::new(
                ErrorCode::Unavailable,
                format!(
                    "cannot reach the Sextant agent at {} to read task {}'s log: {}",
                    self.agent_url,
                    self.task_id,
                    status.message()
                ),
            );
        }
        let code = match status.code() {
            Code::NotFound => ErrorCode::NotFound,
            Code::FailedPrecondition => ErrorCode::Conflict,
            Code::InvalidArgument => ErrorCode::BadRequest,
            Code::DeadlineExceeded => {
                return ApiError::new(
                    ErrorCode::Unavailable,
                    format!("the agent did not read task {}'s log in time", self.task_id),
                );
            }
            _ => ErrorCode::Unavailable,
        };
        ApiError::new(code, status.message().to_string())
    }
}

/// Where the last `lines` lines of a file of `size` bytes start, reading
/// back with `read(at, length)` at most `MAX_TAIL_SCAN` bytes (then where
/// the scan stopped). A final newline ends the last line; it starts none.
async fn tail_start<F, Fut>(size: u64, lines: u64, mut read: F) -> Result<u64, ApiError>
where
    F: FnMut(u64, u32) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<u8>, ApiError>>,
{
    if lines == 0 {
        return Ok(size);
    }
    let mut pos = size;
    let mut found = 0;
    while pos > 0 && size - pos < MAX_TAIL_SCAN {
        let len = u64::from(TAIL_CHUNK).min(pos).min(MAX_TAIL_SCAN - (size - pos));
        let from = pos - len;
        let data = read(from, u32::try_from(len).unwrap_or(TAIL_CHUNK)).await?;
        if data.is_empty() {
            // The file shrank under us: start where we are.
            break;
        }
        for (i, byte) in data.iter().enumerate().rev() {
            let at = from + i as u64;
            if *byte == b'\n' && at + 1 < size {
                found += 1;
                if found == lines {
                    return Ok(at + 1);
                }
            }
        }
        pos = from;
    }
    Ok(pos)
}

/// The body's reader: from `at` up to `end` (a one-off read), or on and
/// on (`end` none: following).
struct Stream {
    reader: Reader,
    index: Index,
    key: String,
    at: u64,
    end: Option<u64>,
    quiet: u32,
    done: bool,
}

impl Stream {
    /// The next bytes; none at the end.
    async fn next(&mut self) -> Option<Result<Bytes, std::io::Error>> {
        loop {
            if self.done || self.end.is_some_and(|end| self.at >= end) {
                return None;
            }
            let want = match self.end {
                Some(end) => u32::try_from(end - self.at).unwrap_or(READ_CHUNK).min(READ_CHUNK),
                None => READ_CHUNK,
            };
            match self.reader.at(self.at, want).await {
                Ok(data) if !data.is_empty() => {
                    self.at += data.len() as u64;
                    self.quiet = 0;
                    return Some(Ok(Bytes::from(data)));
                }
                // Shorter than it was: nothing more to send.
                Ok(_) if self.end.is_some() => return None,
                Ok(_) => {
                    if !self.task_live() {
                        self.quiet += 1;
                        if self.quiet >= QUIET_POLLS_AFTER_END {
                            return None;
                        }
                    }
                    tokio::time::sleep(FOLLOW_POLL).await;
                }
                // Followed to its end: the sandbox went with the task.
                Err(e) if e.0.code == ErrorCode::NotFound && self.end.is_none() => return None,
                Err(ApiError(ErrorBody { message, .. })) => {
                    debug!(task = %self.reader.task_id, %message, "a log stream broke off");
                    self.done = true;
                    return Some(Err(std::io::Error::other(message)));
                }
            }
        }
    }

    /// Whether the task is still live (an ended or forgotten one is not).
    fn task_live(&self) -> bool {
        let id = &self.reader.task_id;
        self.index.read(|s| {
            s.tasks
                .get(&self.key)
                .and_then(|tasks| tasks.iter().find(|t| t.id == *id))
                .is_some_and(ObservedTask::is_live)
        })
    }
}

async fn logs(
    State(logs): State<Logs>,
    Path((namespace, name)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let ask = parse(&query)?;
    let task_id = choose(&logs.index, &namespace, &name, ask.task.as_deref())?;
    let reader = Reader {
        agent: logs.agent.clone(),
        agent_url: logs.index.read(|s| s.agent.url.clone()),
        task_id,
        file: ask.file,
    };
    let size = reader.size().await?;
    let start = match (ask.tail, ask.offset) {
        (Some(lines), _) => tail_start(size, lines, |at, length| reader.at(at, length)).await?,
        (None, Some(offset)) => offset,
        (None, None) => 0,
    };
    let task_id = reader.task_id.clone();
    let stream = Stream {
        reader,
        index: logs.index.clone(),
        key: app_key(&namespace, &name),
        at: start,
        end: (!ask.follow).then_some(size),
        quiet: 0,
        done: false,
    };
    let body = futures::stream::unfold(stream, |mut stream| async move {
        let item = stream.next().await?;
        Some((item, stream))
    });
    let mut response = Body::from_stream(body).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(value) = HeaderValue::from_str(&task_id) {
        headers.insert(LOG_TASK_HEADER, value);
    }
    headers.insert(LOG_OFFSET_HEADER, HeaderValue::from(start));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn the_query_is_checked_with_reasons() {
        assert_eq!(
            parse(&query(&[])).expect("defaults"),
            Ask {
                task: None,
                file: TaskLogFile::Stdout,
                tail: None,
                offset: None,
                follow: false,
            }
        );
        let ask = parse(&query(&[
            ("stream", "stderr"),
            ("tail", "5"),
            ("follow", "true"),
            ("task", "t"),
        ]))
        .expect("valid");
        assert_eq!(
            (ask.file, ask.tail, ask.follow, ask.task.as_deref()),
            (TaskLogFile::Stderr, Some(5), true, Some("t"))
        );
        for (pairs, why) in [
            (vec![("stream", "both")], "stream must be stdout or stderr"),
            (vec![("tail", "-1")], "tail must be a number of lines"),
            (vec![("offset", "x")], "offset must be a byte offset"),
            (vec![("tail", "1"), ("offset", "2")], "give tail or offset, not both"),
            (vec![("follow", "yes")], "follow must be true or false"),
        ] {
            let error = parse(&query(&pairs)).expect_err("refused");
            assert_eq!(error.0.code, ErrorCode::BadRequest);
            assert!(error.0.message.starts_with(why), "{pairs:?}: {}", error.0.message);
        }
    }

    fn task(id: &str, state: crate::observed::TaskState, agent: &str, created_at: f64) -> ObservedTask {
        let mut task = ObservedTask::from(sextant_api::proto::Task {
            task_id: id.into(),
            namespace: "default".into(),
            app: "web".into(),
            revision: "0a1b2c3d4e".into(),
            created_at,
            ..Default::default()
        });
        task.state = state;
        task.agent_id = agent.into();
        task
    }

    #[test]
    fn the_newest_task_that_ran_is_read_by_default() {
        use crate::observed::TaskState as S;
        let old = task("default.web.0a1b2c3d4e.a", S::Running, "S1", 1.0);
        let new = task("default.web.0a1b2c3d4e.b", S::Running, "S1", 2.0);
        let ended = task("default.web.0a1b2c3d4e.c", S::Failed, "S1", 3.0);
        let pending = task("default.web.0a1b2c3d4e.d", S::Pending, "", 4.0);
        let all = vec![old.clone(), new.clone(), ended.clone(), pending.clone()];
        assert_eq!(newest(&all).map(|t| t.id.as_str()), Some(new.id.as_str()));
        let crashed = vec![ended.clone(), pending.clone()];
        assert_eq!(
            newest(&crashed).map(|t| t.id.as_str()),
            Some(ended.id.as_str()),
            "a crash-looping app shows why its last task ended"
        );
        assert_eq!(
            newest(std::slice::from_ref(&pending)).map(|t| t.id.as_str()),
            Some(pending.id.as_str())
        );
        assert!(newest(&[]).is_none());
    }

    /// The last `lines` lines of `text`, as `tail_start` finds them.
    async fn tail(text: &[u8], lines: u64) -> &[u8] {
        let read = |at: u64, length: u32| {
            let from = (at as usize).min(text.len());
            let to = (from + length as usize).min(text.len());
            std::future::ready(Ok(text[from..to].to_vec()))
        };
        let start = tail_start(text.len() as u64, lines, read).await.expect("reads");
        &text[start as usize..]
    }

    #[tokio::test]
    async fn tail_finds_the_last_lines() {
        assert_eq!(tail(b"a\nb\nc\n", 2).await, b"b\nc\n");
        assert_eq!(tail(b"a\nb\nc", 2).await, b"b\nc", "an unfinished last line counts");
        assert_eq!(tail(b"a\nb\n", 5).await, b"a\nb\n", "fewer lines than asked: all");
        assert_eq!(tail(b"a\nb\n", 0).await, b"");
        assert_eq!(tail(b"", 3).await, b"");
        assert_eq!(tail(b"\n\n\n", 2).await, b"\n\n");
        // Lines across read chunks.
        let mut long = vec![b'x'; 100_000];
        long.extend_from_slice(b"\nlast\n");
        assert_eq!(tail(&long, 1).await, b"last\n");
        assert_eq!(tail(&long, 2).await.len(), 100_006);
        // No newline within the bound: the last MAX_TAIL_SCAN bytes.
        let huge = vec![b'y'; 2 * MAX_TAIL_SCAN as usize];
        assert_eq!(tail(&huge, 1).await.len() as u64, MAX_TAIL_SCAN);
    }

    #[test]
    fn a_task_must_be_the_apps_and_an_app_must_exist() {
        let index = Index::default();
        let error = choose(&index, "default", "web", None).expect_err("no such app");
        assert_eq!(
            (error.0.code, error.0.message.as_str()),
            (ErrorCode::NotFound, "app default/web not found")
        );
        assert_eq!(
            choose(&index, "default", "web", Some("default.web.0a1b2c3d4e.a")).expect("an id of the app"),
            "default.web.0a1b2c3d4e.a"
        );
        index.write(|s| {
            s.tasks.insert(
                app_key("default", "web"),
                std::sync::Arc::new(vec![task(
                    "default.web.0a1b2c3d4e.a",
                    crate::observed::TaskState::Running,
                    "S1",
                    1.0,
                )]),
            );
        });
        let error = choose(&index, "default", "web", Some("default.api.0a1b2c3d4e.a")).expect_err("another app's");
        assert_eq!(
            error.0.message,
            "task default.api.0a1b2c3d4e.a is not a task of app default/web"
        );
        assert_eq!(
            choose(&index, "default", "web", None).expect("its task"),
            "default.web.0a1b2c3d4e.a"
        );
    }
}
