//! `sextant logs app/NAME`: a task's stdout (or `--stderr`) from the
//! controller's logs endpoint, written to stdout as it arrives. `--tail N`
//! starts N lines from the end; `-f` follows until the task ended and its
//! output stopped. A follow cut off (the API closes a connection silent for
//! 30 s, or the controller restarts) resumes where it stopped, with the
//! same task. A closed stdout (`| head`) ends quietly, with success.

use std::io::Write as _;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use sextant_controller::http::logs::{OFFSET_HEADER, TASK_HEADER};

use crate::cli::LogsArgs;
use crate::commands::client::{http, refusal};

/// A follow cut off this soon after it began, having sent nothing, counts
/// as a failure rather than a silence...
const QUICK_BREAK: Duration = Duration::from_secs(2);
/// ...and this many of them in a row end the command.
const QUICK_BREAKS: u32 = 3;
/// Pause before resuming a follow.
const RESUME_AFTER: Duration = Duration::from_millis(500);

pub async fn run(args: LogsArgs, token: Option<&str>) -> Result<()> {
    let name = args.app.strip_prefix("app/").unwrap_or(&args.app);
    let namespace = &args.namespace;
    let server = args.server.trim_end_matches('/');
    let http = http(token)?;
    let base = format!("{server}/api/v1/apps/{namespace}/{name}/logs");
    let mut task = args.task.clone();
    // Where to resume a follow; none until the first answer.
    let mut offset: Option<u64> = None;
    let mut quick_breaks = 0;
    let mut stdout = std::io::stdout().lock();
    loop {
        let what = match &task {
            Some(task) => format!("task {task} of app {namespace}/{name}"),
            None => format!("app {namespace}/{name}"),
        };
        let url = logs_url(&base, &args, task.as_deref(), offset)?;
        let response = http.get(url.as_str()).send().await.with_context(|| {
            format!("cannot reach the Sextant controller at {server} (is `sextant up` running? see --server)")
        })?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            // The controller's words name the app or task; anything else
            // (a proxy's page) is shown with the URL that answered it.
            let said = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_string));
            return Err(match said {
                Some(error) => anyhow!("cannot read the logs of {what}: {error}"),
                None => refusal(url.as_str(), status, &body).context(format!("cannot read the logs of {what}")),
            });
        }
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        // Resumed, the same task, wherever the first answer chose it.
        if let Some(chosen) = header(TASK_HEADER) {
            task = Some(chosen);
        }
        let mut at = header(OFFSET_HEADER).and_then(|o| o.parse::<u64>().ok()).unwrap_or(0);
        let opened = Instant::now();
        let mut response = response;
        let broke = loop {
            match response.chunk().await {
                Ok(Some(bytes)) => {
                    at += bytes.len() as u64;
                    let written = stdout.write_all(&bytes).and_then(|()| stdout.flush());
                    match written {
                        Ok(()) => {}
                        // `| head` closed the pipe: that is the reader's end, not ours.
                        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
                        Err(e) => return Err(e).context("cannot write to stdout"),
                    }
                }
                Ok(None) => return Ok(()),
                Err(e) => break e,
            }
        };
        let what = match &task {
            Some(task) => format!("task {task} of app {namespace}/{name}"),
            None => what,
        };
        if !args.follow {
            return Err(anyhow!("the log of {what} broke off: {}", cause(&broke)));
        }
        let progressed = offset.is_none_or(|o| at > o);
        if !progressed && opened.elapsed() < QUICK_BREAK {
            quick_breaks += 1;
            if quick_breaks >= QUICK_BREAKS {
                return Err(anyhow!("the log of {what} keeps breaking off: {}", cause(&broke)));
            }
        } else {
            quick_breaks = 0;
        }
        offset = Some(at);
        tokio::time::sleep(RESUME_AFTER).await;
    }
}

/// The endpoint's URL for this command: the stream, the task, and either
/// where to resume or the first ask (`--tail`).
fn logs_url(base: &str, args: &LogsArgs, task: Option<&str>, offset: Option<u64>) -> Result<url::Url> {
    let mut url = url::Url::parse(base).with_context(|| format!("--server {:?} is not a URL", args.server))?;
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("stream", if args.stderr { "stderr" } else { "stdout" });
        if let Some(task) = task {
            query.append_pair("task", task);
        }
        match (offset, args.tail) {
            (Some(offset), _) => {
                query.append_pair("offset", &offset.to_string());
            }
            (None, Some(lines)) => {
                query.append_pair("tail", &lines.to_string());
            }
            (None, None) => {}
        }
        if args.follow {
            query.append_pair("follow", "true");
        }
    }
    Ok(url)
}

/// The innermost cause of a broken body, in words.
fn cause(error: &reqwest::Error) -> String {
    let mut deepest: &dyn std::error::Error = error;
    while let Some(next) = deepest.source() {
        deepest = next;
    }
    deepest.to_string()
}
