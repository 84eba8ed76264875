//! `sextant logs app/NAME`: a task's stdout (or `--stderr`) from the
//! controller's logs endpoint, written to stdout as it arrives. `--tail N`
//! starts N lines from the end; `-f` follows until the task ended and its
//! output stopped. A follow cut off (the API closes a connection silent for
//! 30 s, or the controller restarts) resumes where it stopped, with the
//! same task. A closed stdout (`| head`) ends quietly, with success.

use std::io::Write as _;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use sextant_api::client::{Client, ClientError, LogRequest};

use crate::cli::LogsArgs;

/// A follow cut off this soon after it began, having sent nothing, counts
/// as a failure rather than a silence...
const QUICK_BREAK: Duration = Duration::from_secs(2);
/// ...and this many of them in a row end the command.
const QUICK_BREAKS: u32 = 3;
/// Pause before resuming a follow.
const RESUME_AFTER: Duration = Duration::from_millis(500);

pub async fn run(args: LogsArgs, client: &Client) -> Result<()> {
    let name = args.app.strip_prefix("app/").unwrap_or(&args.app);
    let namespace = &args.namespace;
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
        let ask = LogRequest {
            task: task.clone(),
            stderr: args.stderr,
            tail: args.tail,
            offset,
            follow: args.follow,
        };
        let stream = match client.logs(namespace, name, &ask).await {
            Ok(s) => s,
            // The controller's words name the app or task.
            Err(e @ ClientError::Refused { .. }) => return Err(anyhow!("cannot read the logs of {what}: {e}")),
            Err(e) => return Err(e.into()),
        };
        // Resumed, the same task, wherever the first answer chose it.
        if let Some(chosen) = stream.task {
            task = Some(chosen);
        }
        let mut at = stream.offset;
        let mut response = stream.response;
        let opened = Instant::now();
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

/// The innermost cause of a broken body, in words.
fn cause(error: &reqwest::Error) -> String {
    let mut deepest: &dyn std::error::Error = error;
    while let Some(next) = deepest.source() {
        deepest = next;
    }
    deepest.to_string()
}
