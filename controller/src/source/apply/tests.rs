//! Apply, diff and delete against a real journal.

use super::*;
use crate::desired::DesiredApp;

const WEB: &str = "apiVersion: sextant.dev/v1alpha1
kind: App
metadata: {name: web}
spec: {instances: 2, command: sleep 100}
";

fn with(instances: u32, command: &str) -> String {
    format!(
        "apiVersion: sextant.dev/v1alpha1\nkind: App\nmetadata: {{name: web}}\nspec: {{instances: {instances}, command: {command}}}\n"
    )
}

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("store");
    (dir, store)
}

fn configured() -> Configured {
    Configured::new(["git:https://example/repo".to_string()])
}

#[test]
fn created_then_unchanged_then_scaled_then_rolled() {
    let (_d, store) = store();
    let c = configured();
    let r = apply(&store, &c, WEB, false).expect("apply");
    assert!(r.applied);
    assert_eq!(r.objects[0].outcome, Outcome::Created);
    let app = store.get_app("default", "web").expect("store").expect("stored");
    assert_eq!(app.source, APPLY_SOURCE);

    let r = apply(&store, &c, WEB, false).expect("apply");
    assert_eq!(r.objects[0].outcome, Outcome::Unchanged);

    let r = apply(&store, &c, &with(5, "sleep 100"), false).expect("apply");
    assert_eq!(
        (r.objects[0].outcome, r.objects[0].change),
        (Outcome::Configured, Some(Change::Scale))
    );

    let r = apply(&store, &c, &with(5, "sleep 200"), false).expect("apply");
    assert_eq!(r.objects[0].change, Some(Change::Rollout));
}

#[test]
fn a_dry_run_changes_nothing() {
    let (_d, store) = store();
    let r = apply(&store, &configured(), WEB, true).expect("apply");
    assert!(!r.applied && r.dry_run);
    assert_eq!(r.objects[0].outcome, Outcome::Created);
    assert!(store.get_app("default", "web").expect("store").is_none());
}

#[test]
fn an_invalid_set_changes_nothing_and_says_where() {
    let (_d, store) = store();
    let text = format!(
        "{WEB}---\napiVersion: sextant.dev/v1alpha1\nkind: App\nmetadata: {{name: api}}\nspec: {{instances: many, command: x}}\n"
    );
    let err = apply(&store, &configured(), &text, false).expect_err("invalid");
    let ApplyError::Invalid(errors) = err else {
        panic!("not a load error: {err}");
    };
    assert_eq!(errors.0[0].line, 9);
    assert!(errors.to_string().contains("spec.instances"), "{errors}");
    assert!(store.list_apps().expect("store").is_empty(), "all or nothing");
}

/// Guards one owner per object: a git-owned app is refused, with where
/// it lives, and nothing else in the request is applied either.
#[test]
fn a_git_owned_object_is_refused_and_nothing_is_applied() {
    let (_d, store) = store();
    let mut owned = DesiredApp::new(
        serde_yaml::from_str(WEB).expect("app"),
        "git:https://example/repo",
        Some("apps/web.yaml".into()),
        Some(1),
    );
    owned.source = "git:https://example/repo".into();
    store.put_app(owned).expect("put");
    let text = format!(
        "{}---\n{}",
        WEB.replace("sleep 100", "sleep 5"),
        WEB.replace("name: web", "name: api")
    );
    let r = apply(&store, &configured(), &text, false).expect("apply");
    assert!(!r.applied);
    let refused = &r.objects[0];
    assert_eq!(refused.outcome, Outcome::Error);
    let message = refused.message.as_deref().unwrap_or_default();
    assert!(
        message.contains("git:https://example/repo") && message.contains("apps/web.yaml:1"),
        "{message}"
    );
    assert!(store.get_app("default", "api").expect("store").is_none());
    let web = store.get_app("default", "web").expect("store").expect("kept");
    assert_eq!(web.app.spec.command.as_deref(), Some("sleep 100"));
}

#[test]
fn diff_shows_the_change_and_whether_it_rolls() {
    let (_d, store) = store();
    let c = configured();
    apply(&store, &c, WEB, false).expect("apply");
    let r = diff(&store, &c, WEB).expect("diff");
    assert_eq!(r.objects[0].diff, None);
    let r = diff(&store, &c, &with(2, "sleep 7")).expect("diff");
    let d = r.objects[0].diff.as_deref().expect("a diff");
    assert!(
        d.contains("-  command: sleep 100") && d.contains("+  command: sleep 7"),
        "{d}"
    );
    assert!(d.starts_with("--- live/default/web"), "{d}");
    assert_eq!(r.objects[0].change, Some(Change::Rollout));
    let r = diff(&store, &c, &with(1, "sleep 100")).expect("diff");
    assert_eq!(r.objects[0].change, Some(Change::Scale));
}

#[test]
fn delete_removes_applied_apps_only() {
    let (_d, store) = store();
    let c = configured();
    apply(&store, &c, WEB, false).expect("apply");
    delete(&store, &c, "default", "web").expect("delete");
    assert!(store.get_app("default", "web").expect("store").is_none());
    assert!(matches!(
        delete(&store, &c, "default", "web"),
        Err(DeleteError::NotFound(_))
    ));

    let owned = DesiredApp::new(
        serde_yaml::from_str(WEB).expect("app"),
        "git:https://example/repo",
        Some("web.yaml".into()),
        Some(1),
    );
    store.put_app(owned).expect("put");
    let err = delete(&store, &c, "default", "web").expect_err("owned");
    assert!(err.to_string().contains("web.yaml:1"), "{err}");
    assert!(store.get_app("default", "web").expect("store").is_some());
}

#[test]
fn json_is_accepted_as_well_as_yaml() {
    let (_d, store) = store();
    let json = r#"{"apiVersion": "sextant.dev/v1alpha1", "kind": "App", "metadata": {"name": "web"}, "spec": {"instances": 1, "command": "sleep 1"}}"#;
    let r = apply(&store, &configured(), json, false).expect("apply");
    assert_eq!(r.objects[0].outcome, Outcome::Created);
}

#[test]
fn an_empty_request_is_an_error() {
    let (_d, store) = store();
    assert!(matches!(
        apply(&store, &configured(), "# nothing\n", false),
        Err(ApplyError::Empty)
    ));
}

/// Guards `sextant scale`: an applied app scales without a rollout; an
/// app from files is refused with where to change it.
#[test]
fn scale_changes_applied_apps_only() {
    let (_d, store) = store();
    let c = configured();
    apply(&store, &c, WEB, false).expect("apply");
    let before = store.get_app("default", "web").expect("store").expect("app");
    let r = scale(&store, "default", "web", 5).expect("scale");
    assert_eq!((r.outcome, r.change), (Outcome::Configured, Some(Change::Scale)));
    let after = store.get_app("default", "web").expect("store").expect("app");
    assert_eq!(after.app.spec.instances, 5);
    assert_eq!(after.revision, before.revision, "scaling is not a new revision");
    assert!(matches!(
        scale(&store, "default", "nope", 1),
        Err(ScaleError::NotFound(_))
    ));
    assert!(matches!(
        scale(&store, "default", "web", 1_000_000),
        Err(ScaleError::TooMany { .. })
    ));

    let owned = DesiredApp::new(
        serde_yaml::from_str(&WEB.replace("name: web", "name: git")).expect("app"),
        "git:https://example/repo",
        Some("apps/git.yaml".into()),
        Some(1),
    );
    store.put_app(owned).expect("put");
    let err = scale(&store, "default", "git", 3).expect_err("owned");
    assert!(err.to_string().contains("apps/git.yaml:1"), "{err}");
}
