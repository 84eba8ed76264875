//! `sextant get revisions NAME`: an app's revisions, oldest first, with how
//! each rollout went (the list `rollout history` prints, in `get`'s
//! formats).

use anyhow::Result;
use sextant_api::client::Client;
use sextant_api::wire::RevisionView;

use crate::cli::{GetArgs, GetOutput};
use crate::commands::client::table;

pub async fn run(args: &GetArgs, client: &Client) -> Result<()> {
    let Some(name) = args.name.as_deref() else {
        anyhow::bail!("say whose revisions: `sextant get revisions APP` (see `sextant get apps`)");
    };
    let namespace = args.namespace.as_deref().unwrap_or("default");
    let revisions = client.revisions(namespace, name).await?;
    match args.output {
        GetOutput::Json => outln!("{}", serde_json::to_string_pretty(&revisions)?),
        GetOutput::Yaml => out!("{}", serde_yaml::to_string(&revisions)?),
        GetOutput::Name => revisions.iter().for_each(|r| outln!("revision/{}", r.revision)),
        GetOutput::Table | GetOutput::Wide => out!("{}", revisions_table(&revisions, args.output == GetOutput::Wide)),
    }
    Ok(())
}

/// `REVISION OUTCOME FIRST SEEN WHY` (`SOURCE` too when wide).
pub fn revisions_table(revisions: &[RevisionView], wide: bool) -> String {
    let mut header: Vec<String> = ["REVISION", "OUTCOME", "FIRST SEEN", "WHY"].map(String::from).to_vec();
    if wide {
        header.push("SOURCE".into());
    }
    let mut rows = vec![header];
    for r in revisions {
        let why = match (&r.rolled_back_to, r.message.is_empty()) {
            (Some(to), _) => format!("{}: {} (rolled back to {to})", r.reason, r.message),
            (None, true) => "-".into(),
            (None, false) => format!("{}: {}", r.reason, r.message),
        };
        let mut row = vec![
            r.revision.clone(),
            r.outcome.clone(),
            r.first_seen.clone().unwrap_or_else(|| "-".into()),
            why,
        ];
        if wide {
            row.push(r.source.clone());
        }
        rows.push(row);
    }
    table(&rows, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rolled_back_revision_says_why_and_to_what() {
        let rows = [
            RevisionView {
                revision: "aaa".into(),
                outcome: "Completed".into(),
                reason: String::new(),
                message: String::new(),
                rolled_back_to: None,
                source: "apply".into(),
                first_seen: Some("2026-12-01T10:00:00Z".into()),
            },
            RevisionView {
                revision: "bbb".into(),
                outcome: "Failed".into(),
                reason: "FailureBudgetExhausted".into(),
                message: "2 tasks failed".into(),
                rolled_back_to: Some("aaa".into()),
                source: "apply".into(),
                first_seen: None,
            },
        ];
        let text = revisions_table(&rows, false);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("REVISION"), "{text}");
        assert!(
            lines[1].contains("Completed") && lines[1].trim_end().ends_with('-'),
            "{text}"
        );
        assert!(
            lines[2].contains("FailureBudgetExhausted: 2 tasks failed (rolled back to aaa)"),
            "{text}"
        );
    }
}
