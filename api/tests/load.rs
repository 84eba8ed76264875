//! Loading manifests from real files and directories, and the loader's
//! promise never to panic on any input.

use std::fs;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use sextant_api::load::MAX_FILE_BYTES;
use sextant_api::{load_paths, load_str};

fn manifest(name: &str) -> String {
    format!(
        "apiVersion: sextant.dev/v1alpha1
kind: App
metadata:
  name: {name}
spec:
  command: sleep 1000
  resources: {{cpus: 0.1, mem: 32}}
"
    )
}

fn write(path: &Path, text: &str) {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).unwrap();
    }
    fs::write(path, text).unwrap();
}

#[test]
fn walks_directories_sorted_skipping_hidden_and_other_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(&root.join("b.yaml"), &manifest("b"));
    write(
        &root.join("a.yml"),
        &format!("{}---\n{}", manifest("a1"), manifest("a2")),
    );
    write(&root.join("sub/deeper/c.yaml"), &manifest("c"));
    write(&root.join(".git/x.yaml"), "not: [valid");
    write(&root.join(".hidden.yaml"), "not: [valid");
    write(&root.join("README.md"), "# not a manifest");
    write(&root.join("notes.txt"), "not: [valid");

    let apps = load_paths(&[root.to_path_buf()]).unwrap();
    let names: Vec<&str> = apps.iter().map(|a| a.name()).collect();
    assert_eq!(names, vec!["a1", "a2", "b", "c"]);
    assert_eq!(apps[0].file, root.join("a.yml"));
    assert_eq!(apps[0].line, 1);
    assert_eq!(apps[1].line, 9);
    assert_eq!(apps[3].file, root.join("sub/deeper/c.yaml"));

    // Deterministic.
    assert_eq!(load_paths(&[root.to_path_buf()]).unwrap(), apps);
}

#[test]
fn explicit_files_and_no_double_counting() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let file = root.join("app.manifest");
    write(&file, &manifest("x"));
    // Any extension when named explicitly; the same file twice is one file.
    let apps = load_paths(&[file.clone(), file.clone()]).unwrap();
    assert_eq!(apps.len(), 1);
    write(&root.join("y.yaml"), &manifest("y"));
    let apps = load_paths(&[root.to_path_buf(), root.join("y.yaml")]).unwrap();
    assert_eq!(apps.len(), 1, "only y.yaml is picked up from the directory");
}

#[test]
fn duplicate_across_files_names_both() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(&root.join("one.yaml"), &manifest("web"));
    write(&root.join("two.yaml"), &format!("# comment\n\n{}", manifest("web")));
    let err = load_paths(&[root.to_path_buf()]).unwrap_err();
    assert_eq!(err.0.len(), 1);
    assert_eq!(
        err.to_string(),
        format!(
            "{}:3:1: metadata.name: app \"default/web\" is defined twice: first at {}:1",
            root.join("two.yaml").display(),
            root.join("one.yaml").display()
        )
    );
}

#[test]
fn all_errors_of_a_set_and_nothing_partial() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(&root.join("good.yaml"), &manifest("good"));
    write(&root.join("bad1.yaml"), &manifest("Bad"));
    write(&root.join("bad2.yaml"), "apiVersion: [\n");
    let err = load_paths(&[root.to_path_buf(), root.join("missing.yaml")]).unwrap_err();
    let lines: Vec<String> = err.0.iter().map(ToString::to_string).collect();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(lines[0].contains("bad1.yaml:4:3: metadata.name: invalid name \"Bad\""));
    assert!(lines[1].contains("bad2.yaml:2:1: "), "{}", lines[1]);
    assert!(lines[2].contains("missing.yaml: cannot read: "), "{}", lines[2]);
}

#[test]
fn rejects_huge_and_binary_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut big = manifest("big");
    big.push('#');
    big.push_str(&"x".repeat(MAX_FILE_BYTES as usize));
    write(&root.join("big.yaml"), &big);
    fs::write(root.join("bin.yaml"), [0xff, 0xfe, 0x00, 0x41]).unwrap();
    let err = load_paths(&[root.to_path_buf()]).unwrap_err();
    let lines: Vec<String> = err.0.iter().map(ToString::to_string).collect();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(
        lines[0].contains("big.yaml: file is ") && lines[0].contains("1 MiB"),
        "{}",
        lines[0]
    );
    assert!(lines[1].contains("bin.yaml: not valid UTF-8"), "{}", lines[1]);
}

#[cfg(unix)]
#[test]
fn symlink_loops_terminate() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(&root.join("a/app.yaml"), &manifest("a"));
    std::os::unix::fs::symlink(root, root.join("a/loop")).unwrap();
    let apps = load_paths(&[root.to_path_buf()]).unwrap();
    assert_eq!(apps.len(), 1);
}

#[test]
fn empty_directory_is_an_empty_set() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(load_paths(&[dir.path().to_path_buf()]).unwrap(), vec![]);
}

const VALID: &str = "\
apiVersion: sextant.dev/v1alpha1
kind: App
metadata:
  name: web
  namespace: shop
  labels: {team: storefront}
spec:
  instances: 3
  command: \"exec python3 -m http.server $PORT_HTTP\"
  resources: {cpus: \"250m\", mem: \"128Mi\", disk: \"0\"}
  ports:
  - name: http
    containerPort: 8000
    protocol: tcp
  - {name: metrics, hostPort: 9100}
  env: {LOG_LEVEL: info}
  killGracePeriodSeconds: 30
---
apiVersion: sextant.dev/v1alpha1
kind: App
metadata: {name: worker}
spec:
  args: [\"/bin/worker\", \"--queue\", \"jobs\"]
";

#[test]
fn the_fuzz_seed_is_valid() {
    assert_eq!(load_str(&PathBuf::from("seed.yaml"), VALID).unwrap().len(), 2);
}

/// One edit of the valid manifest.
#[derive(Debug, Clone)]
enum Edit {
    Insert(usize, String),
    Delete(usize, usize),
    Replace(usize, String),
    Duplicate(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let snippet = prop_oneof![
        "\\PC{0,8}",
        Just("\n".to_string()),
        Just("---\n".to_string()),
        Just(":".to_string()),
        Just("- ".to_string()),
        Just("  ".to_string()),
        Just("{".to_string()),
        Just("[".to_string()),
        Just("\"".to_string()),
        Just("&a ".to_string()),
        Just("*a".to_string()),
        Just("!!str ".to_string()),
        Just("<<: ".to_string()),
        Just("\t".to_string()),
        Just("\u{feff}".to_string()),
        Just("...\n".to_string()),
        Just("%YAML 1.2\n".to_string()),
    ];
    prop_oneof![
        (any::<usize>(), snippet.clone()).prop_map(|(at, s)| Edit::Insert(at, s)),
        (any::<usize>(), 0usize..20).prop_map(|(at, n)| Edit::Delete(at, n)),
        (any::<usize>(), snippet).prop_map(|(at, s)| Edit::Replace(at, s)),
        (any::<usize>(), 0usize..40).prop_map(|(at, n)| Edit::Duplicate(at, n)),
    ]
}

/// The largest char boundary of `s` at or below `at % (len + 1)`.
fn boundary(s: &str, at: usize) -> usize {
    let mut i = at % (s.len() + 1);
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn apply(mut text: String, edits: &[Edit]) -> String {
    for e in edits {
        match e {
            Edit::Insert(at, s) => {
                let i = boundary(&text, *at);
                text.insert_str(i, s);
            }
            Edit::Delete(at, n) => {
                let i = boundary(&text, *at);
                let j = boundary(&text, i + n);
                if j >= i {
                    text.replace_range(i..j, "");
                }
            }
            Edit::Replace(at, s) => {
                let i = boundary(&text, *at);
                let j = boundary(&text, i + s.len().max(1));
                if j >= i {
                    text.replace_range(i..j, s);
                }
            }
            Edit::Duplicate(at, n) => {
                let i = boundary(&text, *at);
                let j = boundary(&text, i + n);
                if j >= i {
                    let copy = text[i..j].to_string();
                    text.insert_str(j, &copy);
                }
            }
        }
    }
    text
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        let _ = load_str(Path::new("fuzz.yaml"), &text);
    }

    #[test]
    fn yamlish_text_never_panics(text in "([a-z]{0,4}|[ \\-:\\[\\]{},#&*!|>\"'\n]|---\n|[0-9.]{0,4}){0,80}") {
        let _ = load_str(Path::new("fuzz.yaml"), &text);
    }

    #[test]
    fn mutated_manifest_never_panics(edits in proptest::collection::vec(edit(), 1..6)) {
        let text = apply(VALID.to_string(), &edits);
        match load_str(Path::new("fuzz.yaml"), &text) {
            Ok(apps) => {
                for a in &apps {
                    prop_assert!(a.line >= 1);
                    let _ = sextant_api::task_spec(&a.app);
                    let _ = sextant_api::revision(&a.app.spec);
                }
            }
            Err(errors) => {
                prop_assert!(!errors.0.is_empty());
                for e in &errors.0 {
                    // Every error names a place in the file.
                    prop_assert!(e.line >= 1 && e.col >= 1, "{}", e);
                    prop_assert!(e.line <= text.lines().count().max(1) + 1, "{}", e);
                }
            }
        }
    }
}
