//! `sextant apply`, `diff` and `delete`: the `apply` source from the
//! terminal, over the controller's HTTP API. Files are loaded and
//! validated here first, so errors name the files and lines as written;
//! the server validates again and decides ownership.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use sextant_api::client::{Client, refused_apply};
use sextant_api::wire::{Change, ObjectResult, Outcome};

use crate::cli::{ApplyArgs, DeleteArgs, DiffArgs, Output, ScaleArgs};

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

pub async fn apply(args: ApplyArgs, client: &Client) -> Result<ExitCode> {
    let (body, _) = body_of(&args.files)?;
    // A refused object answers 409 with every object's result: printed
    // like a success, then the exit code says it failed.
    let result = match client.apply(body, args.dry_run).await {
        Ok(r) => r,
        Err(e) => refused_apply(&e).ok_or(e)?,
    };
    if args.output == Output::Json {
        outln!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        for o in &result.objects {
            outln!("{}", describe(o, result.dry_run));
        }
    }
    if result.objects.iter().any(|o| o.outcome == Outcome::Error) {
        eprintln!("error: nothing was applied: an object was refused");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// kubectl's exit codes: 0 no difference, 1 differences, 2 an error.
pub async fn diff(args: DiffArgs, client: &Client) -> ExitCode {
    match diff_inner(args, client).await {
        Ok(true) => ExitCode::from(1),
        Ok(false) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn diff_inner(args: DiffArgs, client: &Client) -> Result<bool> {
    let (body, _) = body_of(&args.files)?;
    let result = client.diff(body).await?;
    let mut differs = false;
    for o in &result.objects {
        if let Some(d) = &o.diff {
            differs = true;
            out!("{d}");
            let note = match (o.outcome, o.change) {
                (Outcome::Created, _) => "would be created".to_string(),
                (Outcome::Error, _) => format!("apply would refuse it: {}", o.message.as_deref().unwrap_or("")),
                (_, Some(Change::Rollout)) => {
                    format!("would roll: new revision {}", o.revision.as_deref().unwrap_or("?"))
                }
                (_, Some(Change::Scale)) => "would only scale: no task replaced".into(),
                _ => "would change settings only: no task replaced".into(),
            };
            outln!("# app/{}/{}: {note}", o.namespace, o.name);
        }
    }
    Ok(differs)
}

pub async fn delete(args: DeleteArgs, client: &Client) -> Result<ExitCode> {
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
    let mut failed = false;
    for (namespace, name) in targets {
        match client.delete_app(&namespace, &name).await {
            Ok(d) => outln!("app/{} deleted", d.deleted),
            Err(e @ sextant_api::client::ClientError::Refused { .. }) => {
                failed = true;
                eprintln!("error: {e}");
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

pub async fn scale(args: ScaleArgs, client: &Client) -> Result<()> {
    let name = args.app.strip_prefix("app/").unwrap_or(&args.app);
    let o = client.scale(&args.namespace, name, args.instances).await?;
    let what = if o.outcome == Outcome::Unchanged {
        "unchanged"
    } else {
        "scaled"
    };
    outln!("app/{}/{} {what} to {} instances", o.namespace, o.name, args.instances);
    Ok(())
}
