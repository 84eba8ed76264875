//! Loading manifests from real files and directories, and the loader's
//! promise never to panic on any input.

use std::fs;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use serde_yaml::Value;
use sextant_api::load::{MAX_DOCUMENTS, MAX_FILE_BYTES, MAX_NESTING};
use sextant_api::{App, load_paths, load_str, validate};

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
    /// Replaces the value after the first `: ` of a line.
    Value(usize, String),
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
        (any::<usize>(), scalar()).prop_map(|(at, v)| Edit::Value(at, v)),
    ]
}

/// A value to put in place of another: of every YAML type, and the values
/// the manifest's rules care about.
fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("0".to_string()),
        Just("1".to_string()),
        Just("-1".to_string()),
        Just("70000".to_string()),
        Just("1.5".to_string()),
        Just("true".to_string()),
        Just("~".to_string()),
        Just("".to_string()),
        Just("[]".to_string()),
        Just("{}".to_string()),
        Just("[1, a]".to_string()),
        Just("{a: 1}".to_string()),
        Just("\"25%\"".to_string()),
        Just("0%".to_string()),
        Just("http".to_string()),
        Just("bridge".to_string()),
        Just("UNIQUE".to_string()),
        Just("/x".to_string()),
        Just("\"(\"".to_string()),
        Just("sextant.x".to_string()),
        Just("!tag x".to_string()),
        Just("*a".to_string()),
        "[a-zA-Z0-9%./-]{0,6}",
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
            Edit::Value(at, v) => {
                let lines: Vec<&str> = text.split_inclusive('\n').collect();
                if lines.is_empty() {
                    continue;
                }
                let i = at % lines.len();
                if let Some(colon) = lines[i].find(": ") {
                    let end = lines[i].trim_end_matches(['\n', '\r']).len();
                    let mut line = lines[i][..colon + 2].to_string();
                    line.push_str(v);
                    line.push_str(&lines[i][end..]);
                    let mut out: String = lines[..i].concat();
                    out.push_str(&line);
                    out.push_str(&lines[i + 1..].concat());
                    text = out;
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

/// One document using every part of the spec.
const FULL: &str = "\
apiVersion: sextant.dev/v1alpha1
kind: App
metadata:
  name: web
  labels: {team: storefront}
spec:
  instances: 3
  command: exec web --port $PORT_HTTP
  uris:
    - {value: 'https://example.com/a.tgz', extract: true, outputFile: a.tgz}
  user: nobody
  container:
    docker:
      image: registry.example/web:1.4.2
      network: bridge
      parameters:
        - {key: label, value: tier=web}
  resources: {cpus: 250m, mem: 128Mi}
  ports:
    - name: http
      containerPort: 8000
    - {name: admin, containerPort: 9000}
  env:
    LOG_LEVEL: info
  labels: {tier: web}
  healthCheck:
    http:
      port: http
      path: /healthz
    periodSeconds: 5
    timeoutSeconds: 2
  strategy:
    maxSurge: 25%
    maxUnavailable: 0
    minReadySeconds: 5
  placement:
    constraints:
      - field: hostname
        operator: UNIQUE
      - {field: rack, operator: MAX_PER, value: 2}
      - {field: zone, operator: LIKE, value: 'us-.*'}
  priority: production
  killGracePeriodSeconds: 30
  restartBackoff: {initialSeconds: 1, factor: 2, maxSeconds: 300}
  paused: false
";

#[test]
fn the_full_seed_is_valid() {
    assert_eq!(load_str(Path::new("full.yaml"), FULL).unwrap().len(), 1);
    assert!(accepted_by_serde_and_validate(FULL));
}

/// Whether plain serde deserialization plus [`validate`] accept `text` (one
/// document), with the root and metadata fields the loader knows: the
/// loader's structural check must never be stricter than this.
fn accepted_by_serde_and_validate(text: &str) -> bool {
    let Ok(app) = serde_yaml::from_str::<App>(text) else {
        return false;
    };
    if !validate(&app).is_empty() {
        return false;
    }
    let Ok(Value::Mapping(root)) = serde_yaml::from_str::<Value>(text) else {
        return false;
    };
    let schema = sextant_api::json_schema();
    let known = |props: &serde_json::Value, key: &Value| key.as_str().is_some_and(|k| props.get(k).is_some());
    if !root.keys().all(|k| known(&schema["properties"], k)) {
        return false;
    }
    if root.get("apiVersion").and_then(Value::as_str) != Some("sextant.dev/v1alpha1")
        || root.get("kind").and_then(Value::as_str) != Some("App")
    {
        return false;
    }
    match root.get("metadata") {
        Some(Value::Mapping(meta)) => {
            let props = &schema["definitions"]["ObjectMeta"]["properties"];
            meta.keys().all(|k| known(props, k))
        }
        _ => true,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The structural check (all errors at once, against the JSON schema)
    /// never rejects a manifest that deserialization and validation accept.
    #[test]
    fn structure_is_never_stricter_than_serde(edits in proptest::collection::vec(edit(), 1..4)) {
        let text = apply(FULL.to_string(), &edits);
        // Except core tags: serde_yaml reads `!!str 300` into an integer
        // field, while the loader, like YAML, takes it for a string.
        if !text.contains("!!") && accepted_by_serde_and_validate(&text) {
            let loaded = load_str(Path::new("full.yaml"), &text);
            prop_assert!(loaded.is_ok(), "{}\n---\n{}", loaded.as_ref().unwrap_err(), text);
            // And it reads the very app serde reads from the text (the
            // loader deserializes the parsed value when that is exact).
            let mut expected: App = serde_yaml::from_str(&text).unwrap();
            expected.metadata.namespace.get_or_insert_with(|| "default".into());
            expected.status = None;
            prop_assert_eq!(&loaded.unwrap()[0].app, &expected);
        }
    }

    #[test]
    fn mutated_full_manifest_never_panics(edits in proptest::collection::vec(edit(), 1..6)) {
        let text = apply(FULL.to_string(), &edits);
        if let Err(errors) = load_str(Path::new("fuzz.yaml"), &text) {
            for e in &errors.0 {
                prop_assert!(e.line >= 1 && e.col >= 1, "{}", e);
                prop_assert!(e.line <= text.lines().count().max(1) + 1, "{}", e);
            }
        }
    }

    /// Deep nesting, block and flow, anywhere in a manifest.
    #[test]
    fn deep_nesting_never_panics(depth in 0usize..300, flow in any::<bool>(), at in any::<usize>()) {
        let nested = if flow {
            format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
        } else {
            (0..depth).map(|i| format!("\n{}- ", "  ".repeat(i + 2))).collect::<String>() + "1"
        };
        let lines: Vec<&str> = VALID.lines().collect();
        let i = at % lines.len();
        let text = format!("{}\n  env: {nested}\n{}", lines[..i].join("\n"), lines[i..].join("\n"));
        let _ = load_str(Path::new("deep.yaml"), &text);
    }

    /// Anchors and aliases, nested and repeated, in and around a manifest.
    #[test]
    fn aliases_never_panic(width in 1usize..12, levels in 1usize..12, use_in in 0usize..3) {
        let mut text = String::from("apiVersion: sextant.dev/v1alpha1\nkind: App\nmetadata: {name: x}\nx0: &a0 [\"lol\"]\n");
        for l in 1..=levels {
            let refs = vec![format!("*a{}", l - 1); width].join(", ");
            text.push_str(&format!("x{l}: &a{l} [{refs}]\n"));
        }
        match use_in {
            0 => text.push_str(&format!("spec: {{command: x, args: *a{levels}}}\n")),
            1 => text.push_str(&format!("spec:\n  command: x\n  env: {{A: *a{levels}}}\n")),
            _ => text.push_str(&format!("spec: *a{levels}\n")),
        }
        let started = std::time::Instant::now();
        let result = load_str(Path::new("alias.yaml"), &text);
        prop_assert!(result.is_err());
        prop_assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }
}

#[test]
fn billion_laughs_is_rejected_fast() {
    let mut text = String::from(
        "apiVersion: sextant.dev/v1alpha1\nkind: App\nmetadata: {name: x}\nspec:\n  command: x\n  \
         env: &a {A: \"lol\", B: \"lol\", C: \"lol\", D: \"lol\", E: \"lol\", F: \"lol\", G: \"lol\", H: \"lol\"}\n",
    );
    let mut prev = "a".to_string();
    for i in 0..12 {
        let name = format!("b{i}");
        let refs = vec![format!("*{prev}"); 10].join(", ");
        text.push_str(&format!("  x{i}: &{name} [{refs}]\n"));
        prev = name;
    }
    let started = std::time::Instant::now();
    let e = load_str(Path::new("bomb.yaml"), &text).unwrap_err().to_string();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(e.starts_with("bomb.yaml:"), "{e}");
    assert!(e.contains("alias bombs are rejected"), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
}

#[test]
fn deep_nesting_is_rejected_with_a_clear_message() {
    let depth = MAX_NESTING + 10;
    let text = format!(
        "apiVersion: sextant.dev/v1alpha1\nkind: App\nmetadata: {{name: x}}\nspec:\n  command: x\n  env: {}{}\n",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let e = load_str(Path::new("deep.yaml"), &text).unwrap_err().to_string();
    assert!(
        e.starts_with("deep.yaml:6:") && e.contains("nesting deeper than 64 levels of mappings and lists is rejected"),
        "{e}"
    );
}

#[test]
fn too_many_documents_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let per_file = 1000;
    let files = MAX_DOCUMENTS / per_file + 1;
    for f in 0..files {
        let text: String = (0..per_file)
            .map(|d| format!("---\n{}", manifest(&format!("a{f}-{d}"))))
            .collect();
        write(&dir.path().join(format!("f{f:02}.yaml")), &text);
    }
    let started = std::time::Instant::now();
    let err = load_paths(&[dir.path().to_path_buf()]).unwrap_err();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(err.0.len(), 1, "{err}");
    assert!(
        err.to_string()
            .ends_with("f10.yaml:2:1: more than 10000 documents in this set of manifests; larger sets are rejected"),
        "{err}"
    );
    // Exactly the limit is fine.
    fs::remove_file(dir.path().join("f10.yaml")).unwrap();
    assert_eq!(load_paths(&[dir.path().to_path_buf()]).unwrap().len(), MAX_DOCUMENTS);
}
