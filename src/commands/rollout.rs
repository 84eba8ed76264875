//! `sextant rollout status|history|pause|resume|restart|undo app/NAME`:
//! follow an app's rollout to its end, as CI pipelines use `kubectl rollout
//! status`; list its revisions and how each went; or act on the rollout by
//! hand, whatever the app's source.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Result;
use sextant_api::client::{Client, RolloutOp};
use sextant_api::wire::{AppDetail, ErrorCode};

use crate::cli::{RolloutAction, RolloutArgs};

/// How often `status` looks.
const POLL: Duration = Duration::from_millis(500);

pub async fn run(args: RolloutArgs, client: &Client) -> Result<ExitCode> {
    let name = args.app.strip_prefix("app/").unwrap_or(&args.app).to_string();
    match args.action {
        RolloutAction::History => {
            let revisions = client.revisions(&args.namespace, &name).await?;
            out!("{}", crate::commands::revisions::revisions_table(&revisions, false));
            Ok(ExitCode::SUCCESS)
        }
        RolloutAction::Pause | RolloutAction::Resume | RolloutAction::Restart | RolloutAction::Undo => {
            let op = match args.action {
                RolloutAction::Pause => RolloutOp::Pause,
                RolloutAction::Resume => RolloutOp::Resume,
                RolloutAction::Restart => RolloutOp::Restart,
                _ => RolloutOp::Undo,
            };
            let done = client
                .rollout(&args.namespace, &name, op, args.to_revision.as_deref())
                .await?;
            outln!("{}", done.message);
            Ok(ExitCode::SUCCESS)
        }
        RolloutAction::Status => {
            let deadline = Instant::now() + Duration::from(args.timeout);
            let mut last = String::new();
            loop {
                // An app not there yet (a push not synced yet) is waited for.
                let (verdict, line) = match detail_or_none(client, &args.namespace, &name).await? {
                    Some(d) => verdict(&d),
                    None => (
                        Verdict::Going,
                        format!("waiting for app {}/{name} to exist", args.namespace),
                    ),
                };
                if line != last {
                    outln!("{line}");
                    last = line;
                }
                match verdict {
                    Verdict::Done => return Ok(ExitCode::SUCCESS),
                    Verdict::Failed => return Ok(ExitCode::FAILURE),
                    Verdict::Going => {}
                }
                if Instant::now() >= deadline {
                    eprintln!("error: the rollout did not finish within {}", args.timeout);
                    return Ok(ExitCode::FAILURE);
                }
                tokio::time::sleep(POLL).await;
            }
        }
    }
}

/// The app's detail; `None` while it does not exist (yet).
async fn detail_or_none(client: &Client, namespace: &str, name: &str) -> Result<Option<AppDetail>> {
    match client.app(namespace, name).await {
        Ok(d) => Ok(Some(d)),
        Err(e) if e.code() == Some(ErrorCode::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Going,
    Done,
    Failed,
}

/// Where the rollout of the current spec stands, and a line that says so.
fn verdict(d: &AppDetail) -> (Verdict, String) {
    let a = &d.app;
    let Some(status) = &a.status else {
        return (
            Verdict::Going,
            format!("waiting for app {}/{} to be reconciled", a.namespace, a.name),
        );
    };
    if status.observed_generation < d.generation {
        return (
            Verdict::Going,
            "waiting for the controller to see the latest spec".into(),
        );
    }
    let progressing = a.conditions.iter().find(|c| c.type_ == "Progressing");
    let reason = progressing.and_then(|c| c.reason.as_deref()).unwrap_or_default();
    let message = progressing.and_then(|c| c.message.as_deref()).unwrap_or_default();
    match (progressing.map(|c| c.status.as_str()), reason) {
        (Some("True"), "RevisionAvailable") => (
            Verdict::Done,
            format!("app {}/{} rolled out: {message}", a.namespace, a.name),
        ),
        (Some("False"), _) => (
            Verdict::Failed,
            format!(
                "error: the rollout of app {}/{} failed ({reason}): {message}",
                a.namespace, a.name
            ),
        ),
        (Some("Unknown"), "Paused") => (Verdict::Going, format!("paused: {message}")),
        _ => (
            Verdict::Going,
            format!(
                "waiting: {} of {} updated tasks available ({reason}: {message})",
                status.available.min(status.updated),
                status.desired
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detail(progressing: serde_json::Value, observed: i64) -> AppDetail {
        serde_json::from_value(serde_json::json!({
            "name": "web", "namespace": "default", "instances": 2, "running": 2, "revision": "abc",
            "source": "apply", "generation": 2, "spec": {"instances": 2, "command": "x"},
            "status": {"observedGeneration": observed, "desired": 2, "available": 1, "updated": 2, "conditions": []},
            "conditions": [progressing]
        }))
        .expect("detail")
    }

    #[test]
    fn verdicts_follow_the_progressing_condition_of_the_latest_spec() {
        let done = serde_json::json!({"type": "Progressing", "status": "True", "reason": "RevisionAvailable", "message": "2 of 2"});
        assert_eq!(verdict(&detail(done.clone(), 2)).0, Verdict::Done);
        assert_eq!(
            verdict(&detail(done, 1)).0,
            Verdict::Going,
            "an older spec's completion does not count"
        );
        let failed = serde_json::json!({"type": "Progressing", "status": "False", "reason": "RolledBack", "message": "RolledBack to x"});
        let (v, line) = verdict(&detail(failed, 2));
        assert_eq!(v, Verdict::Failed);
        assert!(line.contains("RolledBack"), "{line}");
        let going = serde_json::json!({"type": "Progressing", "status": "True", "reason": "RolloutInProgress", "message": "1 of 2"});
        assert_eq!(verdict(&detail(going, 2)).0, Verdict::Going);
    }
}
