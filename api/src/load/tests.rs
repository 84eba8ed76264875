//! Tests of loading manifest text: locations, messages, limits.

use std::path::PathBuf;

use super::document::{MAX_ERRORS_PER_DOC, split_yaml_message};
use super::*;

fn p(s: &str) -> PathBuf {
    PathBuf::from(s)
}

const WEB: &str = "\
apiVersion: sextant.dev/v1alpha1
kind: App
metadata:
  name: web
  labels: {team: storefront}
spec:
  instances: 3
  command: exec python3 -m http.server $PORT_HTTP
  resources: {cpus: \"250m\", mem: \"128Mi\"}
  ports:
  - name: http
    containerPort: 8000
  env:
    LOG_LEVEL: info
";

fn errs(text: &str) -> Vec<String> {
    match load_str(&p("m.yaml"), text) {
        Ok(apps) => panic!("loaded {} apps from {text}", apps.len()),
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn loads_a_manifest() {
    let apps = load_str(&p("m.yaml"), WEB).unwrap();
    assert_eq!(apps.len(), 1);
    let a = &apps[0];
    assert_eq!(a.line, 1);
    assert_eq!(a.key(), "default/web");
    assert_eq!(a.app.metadata.namespace.as_deref(), Some("default"));
    assert_eq!(a.app.spec.instances, 3);
    assert_eq!(a.app.spec.resources.cpus.to_cpus(), Ok(0.25));
    assert_eq!(a.app.spec.ports[0].container_port, Some(8000));
}

#[test]
fn multi_document() {
    let text = format!(
        "# leading comment\n---\n{WEB}---\n# only a comment\n---\n\n---\n{}...\n",
        WEB.replace("name: web", "name: api")
            .replace("name: http", "name: grpc")
    );
    let apps = load_str(&p("m.yaml"), &text).unwrap();
    assert_eq!(apps.len(), 2);
    assert_eq!(apps[0].line, 3);
    assert_eq!(apps[1].name(), "api");
    assert_eq!(apps[1].line, 3 + WEB.lines().count() + 5);
}

#[test]
fn empty_input_is_no_apps() {
    assert_eq!(load_str(&p("m.yaml"), "").unwrap(), vec![]);
    assert_eq!(load_str(&p("m.yaml"), "---\n---\n# x\n").unwrap(), vec![]);
}

#[test]
fn syntax_error_has_file_line() {
    let text = format!("{WEB}---\napiVersion: sextant.dev/v1alpha1\nkind: [App\n");
    let e = errs(&text);
    assert_eq!(e.len(), 1, "{e:?}");
    let n = WEB.lines().count();
    assert!(e[0].starts_with(&format!("m.yaml:{}:", n + 4)), "{e:?}");
}

#[test]
fn unknown_field_has_path_and_line() {
    let text = WEB.replace("  instances: 3", "  instances: 3\n  comand: x");
    let e = errs(&text);
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(
        e,
        vec!["m.yaml:8:3: spec: unknown field \"comand\", did you mean \"command\"?"]
    );
}

#[test]
fn unknown_nested_field() {
    let text = WEB.replace("containerPort: 8000", "contanerPort: 8000");
    let e = errs(&text);
    assert_eq!(
        e,
        vec!["m.yaml:12:5: spec.ports[0]: unknown field \"contanerPort\", did you mean \"containerPort\"?"]
    );
}

#[test]
fn unknown_top_level_and_metadata_fields() {
    let text = WEB
        .replace("kind: App", "kind: App\nspecs: {}")
        .replace("  name: web", "  name: web\n  nmae: x");
    let e = errs(&text);
    assert_eq!(e.len(), 2, "{e:?}");
    assert_eq!(e[0], "m.yaml:3:1: unknown field \"specs\", did you mean \"spec\"?");
    assert_eq!(
        e[1],
        "m.yaml:6:3: metadata: unknown field \"nmae\", did you mean \"name\"?"
    );
}

#[test]
fn wrong_api_version_and_kind() {
    let text = WEB
        .replace("sextant.dev/v1alpha1", "apps/v1")
        .replace("kind: App", "kind: Deployment");
    assert_eq!(
        errs(&text),
        vec![
            "m.yaml:1:1: apiVersion: unsupported apiVersion \"apps/v1\": expected \
                 \"sextant.dev/v1alpha1\"",
            "m.yaml:2:1: kind: unsupported kind \"Deployment\": expected \"App\"",
        ]
    );
    let e = errs("kind: App\nmetadata: {name: x}\nspec: {command: x}\n");
    assert_eq!(e, vec!["m.yaml:1:1: apiVersion is required: \"sextant.dev/v1alpha1\""]);
}

#[test]
fn not_a_mapping() {
    let e = errs("---\n- a\n- b\n");
    assert_eq!(e.len(), 1);
    assert!(e[0].starts_with("m.yaml:2:1: expected a manifest"), "{e:?}");
}

#[test]
fn names_and_namespace() {
    let e = errs(&WEB.replace("name: web", "name: Web_1"));
    assert_eq!(e.len(), 1);
    assert!(
        e[0].starts_with("m.yaml:4:3: metadata.name: invalid name \"Web_1\": must be a DNS-1123 label"),
        "{e:?}"
    );
    let e = errs(&WEB.replace("  name: web\n", "  namespace: -x\n"));
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(e[0].starts_with("m.yaml:3:1: metadata.name: is required"), "{e:?}");
    assert!(
        e[1].starts_with("m.yaml:4:3: metadata.namespace: invalid namespace"),
        "{e:?}"
    );
    let e = errs(&WEB.replace("name: web", &format!("name: {}", "a".repeat(64))));
    assert!(e[0].contains("metadata.name: invalid name"), "{e:?}");
}

#[test]
fn command_xor_args() {
    let both = WEB.replace("  instances: 3", "  instances: 3\n  args: [a]");
    let e = errs(&both);
    assert_eq!(
        e,
        vec!["m.yaml:6:1: spec: set exactly one of command or args, not both"]
    );
    let none = WEB.replace("  command: exec python3 -m http.server $PORT_HTTP\n", "");
    assert!(errs(&none)[0].contains("spec: one of command"), "{:?}", errs(&none));
    let empty = none.replace("  instances: 3", "  instances: 3\n  args: []");
    assert_eq!(
        errs(&empty),
        vec!["m.yaml:8:3: spec.args: must not be empty: args[0] is the program to run"]
    );
}

#[test]
fn ports() {
    let text = WEB.replace(
            "  - name: http\n    containerPort: 8000\n",
            "  - name: http\n  - name: http\n    protocol: sctp\n  - name: Bad\n  - {name: a, hostPort: 80}\n  - name: b\n    hostPort: 80\n",
        );
    let e = errs(&text);
    assert_eq!(
        e,
        vec![
            "m.yaml:12:5: spec.ports[1].name: duplicate port name \"http\" (also spec.ports[0])",
            "m.yaml:13:5: spec.ports[1].protocol: unsupported protocol \"sctp\": expected tcp or udp",
            "m.yaml:14:5: spec.ports[2].name: invalid port name \"Bad\": must be a DNS-1123 label \
                 (at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit)",
            "m.yaml:17:5: spec.ports[4].hostPort: host port 80/tcp is also used by spec.ports[3]",
        ]
    );
}

#[test]
fn quantities() {
    let text = WEB.replace("cpus: \"250m\", mem: \"128Mi\"", "cpus: 0, mem: 12Qi");
    let e = errs(&text);
    assert_eq!(
        e[0],
        "m.yaml:9:15: spec.resources.cpus: must be greater than 0 (\"0\" is 0 cores at \
             Mesos' precision of 0.001)"
    );
    assert!(
        e[1].starts_with("m.yaml:9:24: spec.resources.mem: invalid quantity \"12Qi\": unknown suffix \"Qi\""),
        "{e:?}"
    );
    let text = WEB.replace("cpus: \"250m\", mem: \"128Mi\"", "cpus: 1, mem: \"1\"");
    assert!(errs(&text)[0].contains("spec.resources.mem: must be greater than 0"));
    let text = WEB.replace("cpus: \"250m\"", "cpus: true");
    let e = errs(&text);
    assert!(e[0].starts_with("m.yaml:9:"), "{e:?}");
    assert_eq!(
        e[0],
        "m.yaml:9:21: spec.resources.cpus: expected a number or a string, found the boolean true"
    );
}

#[test]
fn type_errors_have_locations() {
    let e = errs(&WEB.replace("instances: 3", "instances: -1"));
    assert_eq!(e, vec!["m.yaml:7:14: spec.instances: must not be negative, found -1"]);
    let e = errs(&WEB.replace("  - name: http\n    containerPort: 8000\n", "  - containerPort: 1\n"));
    assert_eq!(e, vec!["m.yaml:11:3: spec.ports[0]: missing field \"name\""]);
    let e = errs("apiVersion: sextant.dev/v1alpha1\nkind: App\nmetadata: {name: x}\n");
    assert_eq!(e, vec!["m.yaml:1:1: missing field \"spec\""]);
}

#[test]
fn many_errors_are_capped() {
    // As many ports as allowed, each with a bad name.
    let ports: String = (0..crate::app::MAX_PORTS)
        .map(|i| format!("  - name: P{i}\n"))
        .collect();
    let text = WEB.replace("  - name: http\n    containerPort: 8000\n", &ports);
    let e = errs(&text);
    assert_eq!(e.len(), MAX_ERRORS_PER_DOC + 1);
    assert!(e[0].starts_with("m.yaml:11:5: spec.ports[0].name: invalid port name \"P0\""));
    assert_eq!(
        e[MAX_ERRORS_PER_DOC],
        "m.yaml:60:5: 50 more errors in this document not shown"
    );
}

#[test]
fn duplicate_keys_point_at_the_second() {
    let e = errs(&WEB.replace("  instances: 3", "  instances: 3\n  env: {}\n  instances: 4"));
    assert_eq!(e, vec!["m.yaml:9:3: spec: duplicate entry with key \"instances\""]);
}

#[test]
fn duplicates_across_documents() {
    let text = format!("{WEB}---\n{WEB}");
    let e = errs(&text);
    let n = WEB.lines().count();
    assert_eq!(
        e,
        vec![format!(
            "m.yaml:{}:1: metadata.name: app \"default/web\" is defined twice: first at m.yaml:1",
            n + 2
        )]
    );
    // Another namespace is another app.
    let other = WEB.replace("  name: web", "  name: web\n  namespace: other");
    assert_eq!(load_str(&p("m.yaml"), &format!("{WEB}---\n{other}")).unwrap().len(), 2);
}

#[test]
fn all_errors_reported() {
    let text = format!(
        "{}---\n{}---\nfoo: [\n",
        WEB.replace("name: web", "name: A"),
        WEB.replace("command: exec", "args: [x]\n  command: exec")
    );
    let e = errs(&text);
    assert_eq!(e.len(), 3, "{e:?}");
}

#[test]
fn too_large() {
    let big = format!("{WEB}#{}\n", "x".repeat(MAX_FILE_BYTES as usize));
    let e = errs(&big);
    assert_eq!(e.len(), 1);
    assert!(e[0].starts_with("m.yaml: file is "), "{e:?}");
}

#[test]
fn crlf_and_bom() {
    let text = format!("\u{feff}{}", WEB.replace('\n', "\r\n"));
    assert_eq!(load_str(&p("m.yaml"), &text).unwrap().len(), 1);
    let text = text.replace("name: web", "name: WEB");
    let e = errs(&text);
    assert!(e[0].starts_with("m.yaml:4:3: metadata.name"), "{e:?}");
}

#[test]
fn status_dropped() {
    let text = format!("{WEB}status: {{running: 3}}\n");
    let apps = load_str(&p("m.yaml"), &text).unwrap();
    assert_eq!(apps[0].app.status, None);
}

#[test]
fn display() {
    let e = LoadError {
        file: p("a/b.yaml"),
        line: 3,
        col: 7,
        field: Some("spec.command".into()),
        message: "must not be empty".into(),
    };
    assert_eq!(e.to_string(), "a/b.yaml:3:7: spec.command: must not be empty");
    let e2 = LoadError {
        field: None,
        ..e.clone()
    };
    assert_eq!(e2.to_string(), "a/b.yaml:3:7: must not be empty");
    assert_eq!(
        LoadErrors(vec![e, e2]).to_string(),
        "a/b.yaml:3:7: spec.command: must not be empty\na/b.yaml:3:7: must not be empty"
    );
}

#[test]
fn yaml_messages() {
    assert_eq!(
        split_yaml_message(
            "spec.ports[0]: unknown field `x`, expected `name` at line 3 column 5",
            10
        ),
        (
            Some("spec.ports[0]".into()),
            "unknown field `x`, expected `name`".into()
        )
    );
    assert_eq!(
        split_yaml_message(
            "did not find expected key at line 5 column 1, while parsing a block mapping at line 2 column 1",
            10
        ),
        (
            None,
            "did not find expected key, while parsing a block mapping at line 12 column 1".into()
        )
    );
    assert_eq!(
        split_yaml_message("invalid type: map, expected a string", 0),
        (None, "invalid type: map, expected a string".into())
    );
}

#[test]
fn unknown_fields_and_meaning_reported_together() {
    let e = errs("apiVersion: sextant.dev/v1alpha1\nkind: App\nmetadata:\n  name: Web\nspec:\n  comand: \"sleep 1\"\n");
    assert_eq!(
        e,
        vec![
            "m.yaml:4:3: metadata.name: invalid name \"Web\": must be a DNS-1123 label (at most 63 lowercase \
             letters, digits and '-', starting and ending with a letter or digit)",
            "m.yaml:5:1: spec: one of command (a shell command) or args (program and arguments) is required",
            "m.yaml:6:3: spec: unknown field \"comand\", did you mean \"command\"?",
        ]
    );
}

#[test]
fn deep_nesting_is_refused_before_parsing() {
    const MIB: usize = MAX_FILE_BYTES as usize;
    let message = yaml::NESTING_MESSAGE;
    let fill = |unit: &str| unit.repeat(MIB / unit.len() + 1)[..MIB].to_string();
    assert_eq!(errs(&fill("[")), vec![format!("m.yaml:1:65: {message}")]);
    assert_eq!(errs(&fill("{\"a\":")), vec![format!("m.yaml:1:321: {message}")]);
    assert_eq!(errs(&fill("- ")), vec![format!("m.yaml:1:129: {message}")]);
    let mut indented = String::new();
    for i in 0.. {
        let line = format!("{}a:\n", " ".repeat(i));
        if indented.len() + line.len() > MIB {
            break;
        }
        indented.push_str(&line);
    }
    assert_eq!(errs(&indented), vec![format!("m.yaml:65:65: {message}")]);
    // At the line of the file, in a later document.
    let text = format!("{WEB}---\nspec: {}\n", "[".repeat(100));
    let line = WEB.lines().count() + 2;
    assert_eq!(errs(&text), vec![format!("m.yaml:{line}:70: {message}")]);
}
