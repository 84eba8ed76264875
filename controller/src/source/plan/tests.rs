//! The sync rule, one test per clause of `plan.rs`'s module doc.

use std::collections::BTreeMap;
use std::path::PathBuf;

use sextant_api::load::{FileLoad, LoadError, LoadedApp};

use super::*;

const SOURCE: &str = "git:https://example/repo";

fn loaded(name: &str, file: &str, line: usize, instances: u32) -> LoadedApp {
    let app: sextant_api::App = serde_yaml::from_str(&format!(
        "apiVersion: sextant.dev/v1alpha1\nkind: App\nmetadata: {{name: {name}, namespace: default}}\nspec: {{instances: {instances}, command: sleep 1}}\n"
    ))
    .expect("app");
    LoadedApp {
        app,
        file: PathBuf::from(file),
        line,
    }
}

fn good(file: &str, apps: Vec<LoadedApp>) -> FileLoad {
    FileLoad {
        file: file.into(),
        result: Ok(apps),
        empty: false,
        io: false,
    }
}

fn broken(file: &str, io: bool) -> FileLoad {
    FileLoad {
        file: file.into(),
        result: Err(vec![LoadError {
            file: file.into(),
            line: 4,
            col: 14,
            field: Some("spec.instances".into()),
            message: "expected an integer".into(),
        }]),
        empty: false,
        io,
    }
}

fn empty(file: &str) -> FileLoad {
    FileLoad {
        file: file.into(),
        result: Ok(Vec::new()),
        empty: true,
        io: false,
    }
}

fn stored(source: &str, l: LoadedApp) -> (String, DesiredApp) {
    let line = Some(l.line as u64);
    let d = DesiredApp::new(l.app, source, Some(l.file), line);
    (d.key(), d)
}

fn existing(apps: Vec<(String, DesiredApp)>) -> BTreeMap<String, DesiredApp> {
    apps.into_iter().collect()
}

fn only_me(s: &str) -> bool {
    s == SOURCE
}

fn keys(apps: &[DesiredApp]) -> Vec<String> {
    apps.iter().map(DesiredApp::key).collect()
}

#[test]
fn new_and_changed_apps_are_written_and_missing_ones_pruned() {
    let now = existing(vec![
        stored(SOURCE, loaded("web", "web.yaml", 1, 2)),
        stored(SOURCE, loaded("old", "old.yaml", 1, 1)),
    ]);
    let files = vec![good(
        "web.yaml",
        vec![loaded("web", "web.yaml", 1, 3), loaded("api", "web.yaml", 8, 1)],
    )];
    let p = plan(SOURCE, files, None, Rules::default(), &now, &only_me);
    assert_eq!(keys(&p.writes), vec!["default/api", "default/web"]);
    assert_eq!(p.removes, vec!["default/old"]);
    assert!(p.problems.is_empty() && p.refused.is_none());
    assert_eq!(p.owned, 2);
}

/// Guards "one team's typo freezes every team's deploys": a broken file
/// holds only its own apps.
#[test]
fn a_broken_file_keeps_its_apps_and_the_others_sync() {
    let now = existing(vec![
        stored(SOURCE, loaded("a", "team-a/app.yaml", 1, 1)),
        stored(SOURCE, loaded("b", "team-b/app.yaml", 1, 1)),
    ]);
    let commit = CommitInfo {
        sha: "0123456789abcdef0123".into(),
        author: "A <a@x>".into(),
        subject: "typo".into(),
        time: 1,
    };
    let files = vec![
        broken("team-a/app.yaml", false),
        good("team-b/app.yaml", vec![loaded("b", "team-b/app.yaml", 1, 5)]),
    ];
    let p = plan(SOURCE, files, Some(&commit), Rules::default(), &now, &only_me);
    assert_eq!(keys(&p.writes), vec!["default/b"]);
    assert!(p.removes.is_empty(), "the broken file's app is not pruned");
    assert_eq!(p.problems.len(), 1);
    let problem = &p.problems[0];
    assert_eq!(problem.kind, ProblemKind::Invalid);
    assert_eq!(problem.apps, vec!["default/a"]);
    assert_eq!(
        problem.to_string(),
        "commit 0123456789ab: team-a/app.yaml:4:14: spec.instances: expected an integer"
    );
    assert!(!p.retry_soon);
    assert_eq!(
        p.writes[0].commit.as_ref().map(|c| c.sha.as_str()),
        Some(commit.sha.as_str())
    );
}

#[test]
fn an_unreadable_file_is_retried_soon_and_keeps_its_apps() {
    let now = existing(vec![stored(SOURCE, loaded("a", "a.yaml", 1, 1))]);
    let p = plan(
        SOURCE,
        vec![broken("a.yaml", true)],
        None,
        Rules::default(),
        &now,
        &only_me,
    );
    assert!(p.retry_soon);
    assert!(p.removes.is_empty() && p.refused.is_none());
    assert_eq!(p.problems[0].kind, ProblemKind::Unreadable);
}

#[test]
fn an_unreadable_directory_keeps_every_app_under_it() {
    let now = existing(vec![
        stored(SOURCE, loaded("a", "team/a.yaml", 1, 1)),
        stored(SOURCE, loaded("b", "b.yaml", 1, 1)),
    ]);
    let files = vec![broken("team", true), good("b.yaml", vec![loaded("b", "b.yaml", 1, 1)])];
    let p = plan(SOURCE, files, None, Rules::default(), &now, &only_me);
    assert!(p.removes.is_empty());
    assert_eq!(p.problems[0].apps, vec!["default/a"]);
}

/// Guards the slow in-place save: an empty file in a directory does not
/// kill its tasks.
#[test]
fn an_empty_file_keeps_its_apps_in_a_directory_only() {
    let now = existing(vec![
        stored(SOURCE, loaded("a", "a.yaml", 1, 1)),
        stored(SOURCE, loaded("b", "b.yaml", 1, 1)),
    ]);
    let files = || vec![empty("a.yaml"), good("b.yaml", vec![loaded("b", "b.yaml", 1, 1)])];
    let dir = Rules {
        keep_empty_files: true,
        ..Rules::default()
    };
    let p = plan(SOURCE, files(), None, dir, &now, &only_me);
    assert!(p.removes.is_empty());
    assert_eq!(p.problems[0].kind, ProblemKind::Empty);
    assert!(
        p.problems[0].message.contains("1 app is kept"),
        "{}",
        p.problems[0].message
    );

    // A commit that empties a file means it.
    let p = plan(SOURCE, files(), None, Rules::default(), &now, &only_me);
    assert_eq!(p.removes, vec!["default/a"]);
}

#[test]
fn an_app_defined_twice_keeps_its_last_good_version_and_names_both_places() {
    let now = existing(vec![stored(SOURCE, loaded("web", "a.yaml", 1, 1))]);
    let files = vec![
        good("a.yaml", vec![loaded("web", "a.yaml", 1, 2)]),
        good("b.yaml", vec![loaded("web", "b.yaml", 7, 3)]),
    ];
    let p = plan(SOURCE, files, None, Rules::default(), &now, &only_me);
    assert!(p.writes.is_empty() && p.removes.is_empty());
    let text = p.problems[0].to_string();
    assert!(text.contains("a.yaml:1") && text.contains("b.yaml:7"), "{text}");
    assert_eq!(p.problems[0].kind, ProblemKind::DefinedTwice);
}

#[test]
fn an_app_that_moved_out_of_a_broken_file_waits_for_it() {
    let now = existing(vec![stored(SOURCE, loaded("web", "a.yaml", 1, 1))]);
    let files = vec![
        broken("a.yaml", false),
        good("b.yaml", vec![loaded("web", "b.yaml", 1, 9)]),
    ];
    let p = plan(SOURCE, files, None, Rules::default(), &now, &only_me);
    assert!(p.writes.is_empty() && p.removes.is_empty());
    assert!(p.problems.iter().any(|x| x.kind == ProblemKind::DefinedTwice));
}

#[test]
fn an_app_owned_elsewhere_is_not_taken() {
    let now = existing(vec![stored(APPLY, loaded("web", "", 0, 1))]);
    let files = vec![good("web.yaml", vec![loaded("web", "web.yaml", 1, 2)])];
    let p = plan(SOURCE, files, None, Rules::default(), &now, &|_| true);
    assert!(p.writes.is_empty());
    assert_eq!(p.problems[0].kind, ProblemKind::OwnedElsewhere);
    assert!(p.problems[0].message.contains("apply"), "{}", p.problems[0].message);
}

const APPLY: &str = super::super::ownership::APPLY_SOURCE;

/// Guards a wrong `--path` or an emptied repository: nothing is deleted.
#[test]
fn a_sync_that_would_remove_every_app_is_refused_unless_allowed() {
    let now = existing(vec![
        stored(SOURCE, loaded("a", "a.yaml", 1, 1)),
        stored(SOURCE, loaded("b", "b.yaml", 1, 1)),
    ]);
    let p = plan(SOURCE, Vec::new(), None, Rules::default(), &now, &only_me);
    assert!(p.removes.is_empty() && p.writes.is_empty());
    let refused = p.refused.expect("refused");
    assert!(
        refused.contains("--allow-empty") && refused.contains("2 apps"),
        "{refused}"
    );
    assert_eq!(p.owned, 2);

    let allow = Rules {
        allow_empty: true,
        ..Rules::default()
    };
    let p = plan(SOURCE, Vec::new(), None, allow, &now, &only_me);
    assert_eq!(p.removes.len(), 2);
    assert!(p.refused.is_none());
}

#[test]
fn without_pruning_apps_no_longer_defined_stay() {
    let now = existing(vec![
        stored(SOURCE, loaded("a", "a.yaml", 1, 1)),
        stored(SOURCE, loaded("b", "b.yaml", 1, 1)),
    ]);
    let rules = Rules {
        prune: false,
        ..Rules::default()
    };
    let files = vec![good("a.yaml", vec![loaded("a", "a.yaml", 1, 1)])];
    let p = plan(SOURCE, files, None, rules, &now, &only_me);
    assert!(p.removes.is_empty());
    assert_eq!(p.unpruned, vec!["default/b"]);
}

/// Guards moving a repository: the new source adopts the old one's apps.
#[test]
fn apps_of_an_unconfigured_source_of_the_same_kind_are_adopted() {
    let now = existing(vec![
        stored("git:https://old/repo", loaded("a", "a.yaml", 1, 1)),
        stored("git:https://old/repo", loaded("gone", "gone.yaml", 1, 1)),
        stored("dir:/m", loaded("d", "d.yaml", 1, 1)),
    ]);
    let files = vec![good("a.yaml", vec![loaded("a", "a.yaml", 1, 1)])];
    let p = plan(SOURCE, files, None, Rules::default(), &now, &only_me);
    assert_eq!(keys(&p.writes), vec!["default/a"]);
    assert_eq!(p.writes[0].source, SOURCE);
    assert_eq!(
        p.removes,
        vec!["default/gone"],
        "adopted, then pruned; the dir's app is not touched"
    );
}
