//! `sextant apply`, `diff` and `delete`: the `apply` source from the
//! terminal, over the controller's HTTP API. Files are loaded and
//! validated here first, so errors name the files and lines as written;
//! the server validates again and decides ownership.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use sextant_controller::http::write::DeletedView;
use sextant_controller::source::apply::{ApplyResult, Change, ObjectResult, Outcome};

use crate::cli::{ApplyArgs, DeleteArgs, DiffArgs, Output, ScaleArgs};
use crate::commands::client::refusal;

/// The objects of `files` as one multi-document YAML text, or the load
/// errors with their files and lines.
fn body_of(files: &[PathBuf]) -> Result<(String, usize)> {
    let apps = sextant_api::load_paths(files).map_err(|errors| anyhow::anyhow!("{errors}"))?;
    anyhow::ensure!(!apps.is_empty(), "no App object found in {}", names(files));
    let mut body = String::new();
    for a in &apps {
        body.push_str("---\n");
        body.push_str(&serde_yaml::to_string(&a.app).context("cannot write an app as YAML")?);
    }
    Ok((body, apps.len()))
}

fn names(files: &[PathBuf]) -> String {
    files
        .iter()
        .map(|f| f.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

async fn post(http: &reqwest::Client, url: &str, body: String) -> Result<(reqwest::StatusCode, String)> {
    crate::commands::client::send(
        http.post(url).header("content-type", "application/yaml").body(body),
        url,
    )
    .await
}

fn describe(o: &ObjectResult, dry_run: bool) -> String {
    let what = match (o.outcome, o.change) {
        (Outcome::Created, _) => "created".to_string(),
        (Outcome::Configured, Some(Change::Rollout)) => format!(
            "configured (rolling update to revision {})",
            o.revision.as_deref().unwrap_or("?")
        ),
        (Outcome::Configured, Some(Change::Scale)) => "configured (scaled, no task replaced)".into(),
        (Outcome::Configured, _) => "configured (no task replaced)".into(),
        (Outcome::Unchanged, _) => "unchanged".into(),
        (Outcome::Error, _) => format!("refused: {}", o.message.as_deref().unwrap_or("")),
    };
    let dry = if dry_run && o.outcome != Outcome::Error {
        " (dry run)"
    } else {
        ""
    };
    format!("app/{}/{} {what}{dry}", o.namespace, o.name)
}

pub async fn apply(args: ApplyArgs, token: Option<&str>) -> Result<ExitCode> {
    let http = crate::commands::client::http(token)?;
    let (body, _) = body_of(&args.files)?;
    let base = args.server.trim_end_matches('/');
    let url = format!("{base}/api/v1/apply?dryRun={}", args.dry_run);
    let (status, text) = post(&http, &url, body).await?;
    let result: ApplyResult = match serde_json::from_str(&text) {
        Ok(r) if status.is_success() || status == reqwest::StatusCode::CONFLICT => r,
        _ => return Err(refusal(&url, status, &text)),
    };
    if args.output == Output::Json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        for o in &result.objects {
            println!("{}", describe(o, result.dry_run));
        }
    }
    if result.objects.iter().any(|o| o.outcome == Outcome::Error) {
        eprintln!("error: nothing was applied: an object was refused");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// kubectl's exit codes: 0 no difference, 1 differences, 2 an error.
pub async fn diff(args: DiffArgs, token: Option<&str>) -> ExitCode {
    match diff_inner(args, token).await {
        Ok(true) => ExitCode::from(1),
        Ok(false) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn diff_inner(args: DiffArgs, token: Option<&str>) -> Result<bool> {
    let http = crate::commands::client::http(token)?;
    let (body, _) = body_of(&args.files)?;
    let base = args.server.trim_end_matches('/');
    let url = format!("{base}/api/v1/diff");
    let (status, text) = post(&http, &url, body).await?;
    if !status.is_success() {
        return Err(refusal(&url, status, &text));
    }
    let result: ApplyResult = serde_json::from_str(&text).with_context(|| format!("unexpected answer from {url}"))?;
    let mut differs = false;
    for o in &result.objects {
        if let Some(d) = &o.diff {
            differs = true;
            print!("{d}");
            let note = match (o.outcome, o.change) {
                (Outcome::Created, _) => "would be created".to_string(),
                (Outcome::Error, _) => format!("apply would refuse it: {}", o.message.as_deref().unwrap_or("")),
                (_, Some(Change::Rollout)) => {
                    format!("would roll: new revision {}", o.revision.as_deref().unwrap_or("?"))
                }
                (_, Some(Change::Scale)) => "would only scale: no task replaced".into(),
                _ => "would change settings only: no task replaced".into(),
            };
            println!("# app/{}/{}: {note}", o.namespace, o.name);
        }
    }
    Ok(differs)
}

pub async fn delete(args: DeleteArgs, token: Option<&str>) -> Result<ExitCode> {
    let mut targets: Vec<(String, String)> = Vec::new();
    if !args.files.is_empty() {
        let apps = sextant_api::load_paths(&args.files).map_err(|errors| anyhow::anyhow!("{errors}"))?;
        targets.extend(apps.iter().map(|a| (a.namespace().to_string(), a.name().to_string())));
    }
    match args.kind {
        Some(_) => targets.extend(args.names.iter().map(|n| (args.namespace.clone(), n.clone()))),
        None if !args.names.is_empty() => anyhow::bail!("say what to delete: `sextant delete app NAME`"),
        None => {}
    }
    anyhow::ensure!(!targets.is_empty(), "nothing to delete: give `app NAME...` or -f FILE");
    let base = args.server.trim_end_matches('/');
    let client = crate::commands::client::http(token)?;
    let mut failed = false;
    for (namespace, name) in targets {
        let url = format!("{base}/api/v1/apps/{namespace}/{name}");
        let response =
            client.delete(&url).send().await.with_context(|| {
                format!("cannot reach the Sextant controller at {base} (is it running? see --server)")
            })?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        match serde_json::from_str::<DeletedView>(&text) {
            Ok(d) if status.is_success() => println!("app/{} deleted", d.deleted),
            _ => {
                failed = true;
                eprintln!("error: {}", refusal(&url, status, &text));
            }
        }
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

pub async fn scale(args: ScaleArgs, token: Option<&str>) -> Result<()> {
    let http = crate::commands::client::http(token)?;
    let name = args.app.strip_prefix("app/").unwrap_or(&args.app);
    let base = args.server.trim_end_matches('/');
    let url = format!("{base}/api/v1/apps/{}/{name}/scale", args.namespace);
    let body = serde_json::json!({ "instances": args.instances }).to_string();
    let response = http
        .post(&url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .with_context(|| format!("cannot reach the Sextant controller at {base} (is it running? see --server)"))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    match serde_json::from_str::<ObjectResult>(&text) {
        Ok(o) if status.is_success() => {
            let what = if o.outcome == Outcome::Unchanged {
                "unchanged"
            } else {
                "scaled"
            };
            println!("app/{}/{} {what} to {} instances", o.namespace, o.name, args.instances);
            Ok(())
        }
        _ => Err(refusal(&url, status, &text)),
    }
}
