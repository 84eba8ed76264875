//! `sextant get`: lists from the controller's HTTP API (nodes and the
//! launch queue in `cluster`).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use anyhow::Result;
use serde::Deserialize;
use sextant_api::Selector;
use sextant_api::client::{AppFilter, Client, EventFilter};
use sextant_api::wire::{AppView, SourceView, TaskView};

use crate::cli::{GetArgs, GetKind, GetOutput};
use crate::commands::client::table;
use crate::commands::print::{print_objects, write_out};

/// Task states that are live (DESIGN.md's table), and PENDING: queued in
/// the agent.
const LIVE: [&str; 6] = [
    "PENDING",
    "TASK_STAGING",
    "TASK_STARTING",
    "TASK_RUNNING",
    "TASK_KILLING",
    "TASK_UNREACHABLE",
];

pub async fn run(args: GetArgs, client: &Client) -> Result<()> {
    let selector = match &args.selector {
        Some(text) => Some(Selector::parse(text)?),
        None => None,
    };
    let namespace = (!args.all_namespaces).then(|| args.namespace.clone().unwrap_or_else(|| "default".into()));
    let in_namespace = |ns: &str| namespace.as_deref().is_none_or(|want| want == ns);
    match args.kind {
        GetKind::Apps => {
            // The controller filters; the answer is checked again only in
            // case an older controller ignored the query.
            let filter = AppFilter {
                namespace: namespace.clone(),
                name: args.name.clone(),
                selector,
            };
            let not_found = || {
                let name = args.name.as_deref().unwrap_or_default();
                let namespace = namespace.as_deref().unwrap_or("*");
                anyhow::anyhow!("app {namespace}/{name} not found (see `sextant get apps -A`)")
            };
            match args.output {
                GetOutput::Json if args.name.is_none() => {
                    // The controller's text (it filtered), checked and
                    // indented in one pass: no value is built per app
                    // (10,000 apps are 14 MB). Keys in the API's order.
                    let text = client.apps_text(&filter).await?;
                    let _: serde::de::IgnoredAny = serde_json::from_str(&text)?;
                    let mut out = String::with_capacity(text.len() * 2);
                    crate::commands::print::indent_json(&text, 0, &mut out);
                    out.push('\n');
                    write_out(out.as_bytes())?;
                }
                GetOutput::Json | GetOutput::Yaml => {
                    let apps = client.apps_filtered(&filter).await?;
                    let apps: Vec<&AppView> = apps.iter().filter(|a| filter.matches(a)).collect();
                    if args.name.is_some() && apps.is_empty() {
                        return Err(not_found());
                    }
                    print_objects(&apps, args.name.is_some(), args.output)?;
                }
                GetOutput::Table | GetOutput::Wide | GetOutput::Name => {
                    // Only the columns: thousands of full views (statuses,
                    // condition messages) cost more to build than to show.
                    let rows: Vec<AppRow> = client.apps_filtered_as(&filter).await?;
                    let rows: Vec<&AppRow> = rows
                        .iter()
                        .filter(|a| filter.selects(&a.namespace, &a.name, &a.labels))
                        .collect();
                    if args.name.is_some() && rows.is_empty() {
                        return Err(not_found());
                    }
                    let text = match args.output {
                        GetOutput::Name => rows
                            .iter()
                            .map(|a| format!("app/{}/{}\n", a.namespace, a.name))
                            .collect(),
                        output => apps_table(&rows, SystemTime::now(), output == GetOutput::Wide),
                    };
                    write_out(text.as_bytes())?;
                    if args.watch && args.output != GetOutput::Name {
                        let wide = args.output == GetOutput::Wide;
                        let rows = || async {
                            let rows: Vec<AppRow> = client.apps_filtered_as(&filter).await?;
                            Ok(rows
                                .iter()
                                .filter(|a| filter.selects(&a.namespace, &a.name, &a.labels))
                                .map(|a| {
                                    let content = format!(
                                        "{} {} {} {} {}",
                                        a.instances,
                                        a.running,
                                        a.available,
                                        a.revision,
                                        status_word(a)
                                    );
                                    let table = apps_table(&[a], SystemTime::now(), wide);
                                    let line = table.lines().nth(1).unwrap_or_default().to_string();
                                    (format!("{}/{}", a.namespace, a.name), content, line)
                                })
                                .collect())
                        };
                        crate::commands::watch::follow(client, &["condition", "desired", "task"], rows).await?;
                    }
                }
            }
        }
        GetKind::Sources => {
            let sources = client.sources().await?;
            match args.output {
                GetOutput::Json | GetOutput::Yaml => {
                    print_objects(&sources.iter().collect::<Vec<_>>(), false, args.output)?
                }
                GetOutput::Name => sources.iter().for_each(|s| outln!("source/{}", s.name)),
                GetOutput::Table | GetOutput::Wide => out!("{}", sources_table(&sources, SystemTime::now())),
            }
        }
        GetKind::Events => {
            let filter = EventFilter {
                app: args
                    .name
                    .as_ref()
                    .map(|name| format!("{}/{name}", namespace.as_deref().unwrap_or("default"))),
                kinds: sextant_api::wire::event_kinds(args.event_kinds.as_deref()),
                after: 0,
            };
            crate::commands::events::print(client, filter, args.output, args.watch).await?;
        }
        GetKind::Nodes | GetKind::Queue => crate::commands::cluster::run(&args, client).await?,
        GetKind::Revisions => crate::commands::revisions::run(&args, client).await?,
        GetKind::Tasks => {
            let keep = |t: &TaskView| {
                in_namespace(&t.namespace)
                    && args.name.as_deref().is_none_or(|n| n == t.app)
                    && (args.all || LIVE.contains(&t.state.as_str()))
            };
            let tasks = client.tasks().await?;
            let tasks: Vec<&TaskView> = tasks.iter().filter(|t| keep(t)).collect();
            let wide = args.output == GetOutput::Wide;
            match args.output {
                GetOutput::Json | GetOutput::Yaml => print_objects(&tasks, false, args.output)?,
                GetOutput::Name => tasks.iter().for_each(|t| outln!("task/{}", t.task_id)),
                GetOutput::Table | GetOutput::Wide => out!("{}", tasks_table(&tasks, wide)),
            }
            if args.watch {
                // A task that ends shows once more, with its last state.
                let rows = || async {
                    let tasks = client.tasks().await?;
                    Ok(tasks
                        .iter()
                        .filter(|t| keep(t) || !LIVE.contains(&t.state.as_str()))
                        .map(|t| {
                            let line = tasks_table(&[t], wide).lines().nth(1).unwrap_or_default().to_string();
                            (
                                t.task_id.clone(),
                                format!("{} {:?} {}", t.state, t.healthy, t.hostname),
                                line,
                            )
                        })
                        .collect())
                };
                crate::commands::watch::follow(client, &["task"], rows).await?;
            }
        }
    }
    Ok(())
}

/// What the apps table (and `-o name`) shows of an `AppView`, read instead
/// of the whole view: no `status`, no condition messages.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AppRow {
    name: String,
    namespace: String,
    instances: u32,
    running: u32,
    #[serde(default)]
    available: u32,
    revision: String,
    source: String,
    #[serde(default)]
    created_at: Option<String>,
    /// STATUS in words, said by the controller (`status_summary`).
    #[serde(default)]
    summary: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

fn apps_table(apps: &[&AppRow], now: SystemTime, wide: bool) -> String {
    let mut header: Vec<String> = ["NAME", "INSTANCES", "RUNNING", "AVAILABLE", "REVISION", "STATUS", "AGE"]
        .map(String::from)
        .to_vec();
    if wide {
        header.extend(["SOURCE", "LABELS"].map(String::from));
    }
    let mut rows = vec![header];
    for app in apps {
        let age = app
            .created_at
            .as_deref()
            .and_then(|t| humantime::parse_rfc3339_weak(t).ok())
            .and_then(|created| now.duration_since(created).ok())
            .map(short_age)
            .unwrap_or_else(|| "<unknown>".to_string());
        let name = if app.namespace == "default" {
            app.name.clone()
        } else {
            format!("{}/{}", app.namespace, app.name)
        };
        let mut row = vec![
            name,
            app.instances.to_string(),
            app.running.to_string(),
            app.available.to_string(),
            app.revision.clone(),
            status_word(app),
            age,
        ];
        if wide {
            let labels: Vec<String> = app.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            row.push(app.source.clone());
            row.push(if labels.is_empty() {
                "-".into()
            } else {
                labels.join(",")
            });
        }
        rows.push(row);
    }
    table(&rows, "")
}

/// The STATUS column: the controller's words (`-` before its first
/// reconcile says any).
fn status_word(app: &AppRow) -> String {
    if app.summary.is_empty() {
        "-".into()
    } else {
        app.summary.clone()
    }
}

/// `NAME COMMIT SYNCED APPS STATUS`, then every problem, located.
fn sources_table(sources: &[SourceView], now: SystemTime) -> String {
    let mut rows = vec![vec![
        "NAME".to_string(),
        "COMMIT".to_string(),
        "SYNCED".to_string(),
        "APPS".to_string(),
        "STATUS".to_string(),
    ]];
    let mut details = String::new();
    for s in sources {
        let ago = |t: &Option<String>| {
            t.as_deref()
                .and_then(|t| humantime::parse_rfc3339_weak(t).ok())
                .and_then(|at| now.duration_since(at).ok())
                .map(|d| format!("{} ago", short_age(d)))
        };
        let status = if s.refused.is_some() {
            "SyncRefused".to_string()
        } else if !s.problems.is_empty() {
            format!(
                "{} problem{}",
                s.problems.len(),
                if s.problems.len() == 1 { "" } else { "s" }
            )
        } else if s.last_error.is_some() {
            format!("Failing since {}", ago(&s.failing_since).unwrap_or_else(|| "?".into()))
        } else {
            "Synced".to_string()
        };
        let commit = s
            .commit
            .as_ref()
            .map(|c| c.sha.chars().take(12).collect::<String>())
            .unwrap_or_else(|| "-".into());
        rows.push(vec![
            s.name.clone(),
            commit,
            ago(&s.last_success_at).unwrap_or_else(|| "never".into()),
            s.apps.to_string(),
            status,
        ]);
        if let Some(error) = &s.last_error {
            details.push_str(&format!("\n{}:\n", s.name));
            for line in error.lines() {
                details.push_str(&format!("  {line}\n"));
            }
        }
    }
    let mut out = table(&rows, "");
    out.push_str(&details);
    out
}

fn tasks_table(tasks: &[&TaskView], wide: bool) -> String {
    let mut header: Vec<String> = ["TASK", "APP", "STATE", "HEALTHY", "HOST", "PORTS"]
        .map(String::from)
        .to_vec();
    if wide {
        header.push("MESSAGE".into());
    }
    let mut rows = vec![header];
    for task in tasks {
        let ports: Vec<String> = task.ports.iter().map(|p| format!("{}:{}", p.name, p.port)).collect();
        rows.push(vec![
            task.task_id.clone(),
            format!("{}/{}", task.namespace, task.app),
            task.state.clone(),
            match task.healthy {
                Some(true) => "true",
                Some(false) => "false",
                None => "-",
            }
            .to_string(),
            task.hostname.clone(),
            ports.join(","),
        ]);
        if wide && let Some(row) = rows.last_mut() {
            row.push(if task.message.is_empty() {
                "-".into()
            } else {
                task.message.clone()
            });
        }
    }
    table(&rows, "")
}

/// kubectl-style age: 45s, 3m, 5h, 2d.
pub(crate) fn short_age(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=119 => format!("{s}s"),
        120..=7199 => format!("{}m", s / 60),
        7200..=172_799 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_like_kubectl() {
        assert_eq!(short_age(Duration::from_secs(5)), "5s");
        assert_eq!(short_age(Duration::from_secs(600)), "10m");
        assert_eq!(short_age(Duration::from_secs(3 * 3600)), "3h");
        assert_eq!(short_age(Duration::from_secs(3 * 86400)), "3d");
    }

    #[test]
    fn sources_table_says_what_is_wrong_and_where() {
        let source: SourceView = serde_json::from_value(serde_json::json!({
            "name": "git:https://example/deploy.git",
            "kind": "git",
            "commit": {"sha": "0123456789abcdef", "author": "A <a@x>", "subject": "s", "time": 1},
            "lastSuccessAt": "2026-11-25T09:00:00Z",
            "lastError": "commit 0123456789ab: apps/b.yaml:6:14: spec.instances: expected an integer",
            "problems": [{"kind": "Invalid", "file": "apps/b.yaml", "line": 6, "col": 14, "message": "expected an integer"}],
            "apps": 2
        }))
        .expect("view");
        let now = humantime::parse_rfc3339("2026-11-25T09:05:00Z").expect("valid time");
        let out = sources_table(&[source], now);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[1].split_whitespace().collect::<Vec<_>>(),
            [
                "git:https://example/deploy.git",
                "0123456789ab",
                "5m",
                "ago",
                "2",
                "1",
                "problem"
            ]
        );
        assert!(
            out.contains("  commit 0123456789ab: apps/b.yaml:6:14: spec.instances"),
            "{out}"
        );
    }

    fn app_view() -> AppView {
        AppView {
            name: "web".into(),
            namespace: "default".into(),
            instances: 3,
            running: 2,
            available: 1,
            revision: "0123456789".into(),
            status: Some(sextant_api::AppStatus {
                running: 2,
                conditions: vec![sextant_api::Condition {
                    type_: "Available".into(),
                    status: "False".into(),
                    reason: None,
                    message: Some("1 of 3 \"available\"".into()),
                }],
                ..Default::default()
            }),
            source: "dir:/m".into(),
            created_at: Some("2026-11-25T09:00:00Z".into()),
            conditions: vec![sextant_api::Condition {
                type_: "Progressing".into(),
                status: "True".into(),
                reason: Some("RolloutInProgress".into()),
                message: Some("revision 0123456789: 1 of 3 tasks available".into()),
            }],
            summary: "Progressing 1/3".into(),
            labels: [
                ("tier".to_string(), "web".to_string()),
                ("team".to_string(), "x".to_string()),
            ]
            .into(),
        }
    }

    /// Guards the lean read of the list: a row is read from what the API
    /// sends, and shows the documented columns.
    #[test]
    fn apps_table_has_the_documented_columns() {
        let json = serde_json::to_vec(&[app_view()]).expect("json");
        let rows: Vec<AppRow> = serde_json::from_slice(&json).expect("an AppView reads as a row");
        let now = humantime::parse_rfc3339("2026-11-25T09:05:00Z").expect("valid time");
        let out = apps_table(&rows.iter().collect::<Vec<_>>(), now, false);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0].split_whitespace().collect::<Vec<_>>(),
            ["NAME", "INSTANCES", "RUNNING", "AVAILABLE", "REVISION", "STATUS", "AGE"]
        );
        assert_eq!(
            lines[1].split_whitespace().collect::<Vec<_>>(),
            ["web", "3", "2", "1", "0123456789", "Progressing", "1/3", "5m"]
        );
        let wide = apps_table(&rows.iter().collect::<Vec<_>>(), now, true);
        assert!(
            wide.lines()
                .nth(1)
                .is_some_and(|l| l.ends_with("dir:/m   team=x,tier=web")),
            "{wide}"
        );
    }
}
