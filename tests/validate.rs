//! `sextant validate` and `sextant schema`, run as a user runs them.

use std::process::{Command, Output};

fn sextant(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args(args)
        .output()
        .expect("run sextant")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_example_manifests_validate() {
    let manifests = concat!(env!("CARGO_MANIFEST_DIR"), "/manifests");
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/examples");
    let out = sextant(&["validate", "-f", manifests, "-f", examples]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    for app in ["default/hello", "default/worker", "storefront/web"] {
        assert!(text(&out.stdout).contains(app), "{app}: {}", text(&out.stdout));
    }
}

#[test]
fn invalid_manifests_exit_1_with_every_error_located() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        "apiVersion: sextant.dev/v1alpha1\nkind: App\nmetadata:\n  name: Web\nspec:\n  comand: \"sleep 1\"\n",
    )
    .expect("write");
    let out = sextant(&["validate", "-f", file.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let path = file.display().to_string();
    assert!(stderr.contains(&format!("{path}:4:")), "name error located: {stderr}");
    assert!(
        stderr.contains(&format!("{path}:6:")),
        "unknown field located: {stderr}"
    );
    assert!(stderr.contains("comand"), "{stderr}");

    let out = sextant(&["validate", "-f", file.to_str().expect("utf-8 path"), "-o", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(report["valid"], false);
    let errors = report["errors"].as_array().expect("errors");
    assert!(errors.len() >= 2, "all errors reported together: {errors:?}");
    assert!(
        errors
            .iter()
            .all(|e| e["file"] == path.as_str() && e["line"].as_u64() > Some(0))
    );
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let out = sextant(&["validate", "-f", "/nonexistent/app.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("/nonexistent/app.yaml"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn schema_prints_a_crd_and_a_json_schema() {
    let out = sextant(&["schema"]);
    assert!(out.status.success());
    let crd: serde_json::Value = serde_yaml_from(&text(&out.stdout));
    assert_eq!(crd["apiVersion"], "apiextensions.k8s.io/v1");
    assert_eq!(crd["kind"], "CustomResourceDefinition");
    assert_eq!(crd["spec"]["group"], "sextant.dev");
    assert_eq!(crd["spec"]["names"]["kind"], "App");

    let out = sextant(&["schema", "--json-schema"]);
    assert!(out.status.success());
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON schema");
    assert!(schema["properties"]["spec"].is_object(), "{schema}");
}

fn serde_yaml_from(text: &str) -> serde_json::Value {
    serde_yaml::from_str(text).expect("valid YAML")
}

/// Guards boolean environment variables: `1`, `yes`, `true` (and their
/// opposites) all work, as users of other tools expect.
#[test]
fn boolean_environment_variables_take_the_usual_words() {
    for word in ["1", "yes", "true", "0", "no", "false"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_sextant"))
            .arg("version")
            .env("SEXTANT_VERBOSE", word)
            .output()
            .expect("run sextant");
        assert!(out.status.success(), "SEXTANT_VERBOSE={word}: {}", text(&out.stderr));
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sextant"))
        .arg("version")
        .env("SEXTANT_VERBOSE", "maybe")
        .output()
        .expect("run sextant");
    assert_eq!(out.status.code(), Some(2), "a usage error exits 2");
}

/// Guards "`sextant schema | head -1` panics with exit 101": a reader that
/// closed stdout before anything was written ends the command quietly,
/// with success, for every command that prints a lot.
#[test]
fn a_closed_stdout_ends_quietly_with_success() {
    for args in [
        &["schema"][..],
        &["schema", "--json-schema"],
        &["completion", "bash"],
        &["completion", "zsh"],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sextant"))
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn sextant");
        // The reader goes away before the first write.
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "{args:?}: {:?}, stderr: {}",
            out.status,
            text(&out.stderr)
        );
        assert_eq!(text(&out.stderr), "", "{args:?}: nothing on stderr");
    }
}

#[test]
fn completion_scripts_name_the_commands() {
    let out = sextant(&["completion", "bash"]);
    assert!(out.status.success());
    let script = text(&out.stdout);
    for command in ["rollout", "logs", "apply", "describe"] {
        assert!(script.contains(command), "{command} missing from the bash completion");
    }
}
