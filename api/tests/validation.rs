//! The full App manifest: every field loads, defaults are filled in, and
//! each rule reports a precise `file:line:col: field: message`, all of a
//! document's problems at once.

use std::path::Path;

use sextant_api::{
    App, HttpScheme, IntOrString, LoadedApp, NetworkMode, Operator, Priority, load_str, revision, validate,
};

const FULL: &str = "\
apiVersion: sextant.dev/v1alpha1
kind: App
metadata:
  name: web
  namespace: shop
  labels: {team: storefront}
spec:
  instances: 3
  args: [\"/bin/web\", \"--port\", \"8000\"]
  uris:
    - value: https://example.com/assets.tgz
    - {value: \"https://example.com/tool\", executable: true, extract: false, cache: true, outputFile: bin/tool}
  user: nobody
  container:
    docker:
      image: registry.example/web:1.4.2
      network: bridge
      forcePull: true
      parameters:
        - {key: label, value: tier=web}
  resources: {cpus: 250m, mem: 128Mi, disk: 1Gi}
  ports:
    - name: http
      containerPort: 8000
    - {name: admin, containerPort: 9000, protocol: tcp}
  env: {LOG_LEVEL: info}
  labels: {tier: web}
  healthCheck:
    http: {port: http, path: /healthz, scheme: https}
    initialDelaySeconds: 5
    periodSeconds: 5
    timeoutSeconds: 2
    failureThreshold: 3
    gracePeriodSeconds: 30
  strategy:
    maxSurge: 25%
    maxUnavailable: 0
    minReadySeconds: 5
    progressDeadlineSeconds: 300
    autoRollback: false
    failureBudget: 2
  placement:
    constraints:
      - {field: hostname, operator: UNIQUE}
      - {field: rack, operator: GROUP_BY, value: 3}
      - {field: zone, operator: LIKE, value: \"us-east-.*\"}
      - {field: rack, operator: MAX_PER, value: \"2\"}
  priority: preemptible
  killGracePeriodSeconds: 30
  restartBackoff: {initialSeconds: 2, factor: 1.5, maxSeconds: 60}
  paused: true
";

const MINIMAL: &str = "\
apiVersion: sextant.dev/v1alpha1
kind: App
metadata: {name: web}
spec:
  command: run
";

fn load(text: &str) -> LoadedApp {
    match load_str(Path::new("m.yaml"), text) {
        Ok(mut apps) if apps.len() == 1 => apps.remove(0),
        Ok(apps) => panic!("{} apps", apps.len()),
        Err(e) => panic!("{e}"),
    }
}

fn errs(text: &str) -> Vec<String> {
    match load_str(Path::new("m.yaml"), text) {
        Ok(_) => panic!("loaded:\n{text}"),
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

/// `FULL` with `from` replaced by `to` (which must be there).
fn full_with(from: &str, to: &str) -> String {
    assert!(FULL.contains(from), "{from:?} not in FULL");
    FULL.replacen(from, to, 1)
}

#[test]
fn every_field_loads() {
    let a = load(FULL);
    let s = &a.app.spec;
    assert_eq!(s.uris.len(), 2);
    assert!(s.uris[0].extract && !s.uris[0].executable && !s.uris[0].cache);
    assert_eq!(s.uris[1].output_file.as_deref(), Some("bin/tool"));
    assert_eq!(s.user.as_deref(), Some("nobody"));
    let docker = &s.container.as_ref().unwrap().docker;
    assert_eq!(docker.network, NetworkMode::Bridge);
    assert!(docker.force_pull);
    assert_eq!(docker.parameters[0].key, "label");
    assert_eq!(s.labels.get("tier").map(String::as_str), Some("web"));
    let hc = s.health_check.as_ref().unwrap();
    let http = hc.http.as_ref().unwrap();
    assert_eq!(http.port, IntOrString::String("http".into()));
    assert_eq!(http.scheme, HttpScheme::Https);
    assert_eq!(
        (hc.initial_delay_seconds, hc.period_seconds, hc.timeout_seconds),
        (5, 5, 2)
    );
    assert_eq!(s.strategy.resolve(s.instances), (1, 0));
    assert!(!s.strategy.auto_rollback);
    assert_eq!(s.strategy.failure_budget, 2);
    let ops: Vec<Operator> = s.placement.constraints.iter().map(|c| c.operator).collect();
    assert_eq!(
        ops,
        vec![Operator::Unique, Operator::GroupBy, Operator::Like, Operator::MaxPer]
    );
    assert_eq!(s.placement.constraints[1].value.as_deref(), Some("3"));
    assert_eq!(s.priority, Priority::Preemptible);
    assert_eq!(s.restart_backoff.factor, 1.5);
    assert!(s.paused);
}

#[test]
fn a_minimal_manifest_gets_the_documented_defaults() {
    let a = load(MINIMAL);
    let s = &a.app.spec;
    assert_eq!(s.instances, 1);
    assert!(s.uris.is_empty() && s.user.is_none() && s.container.is_none() && s.health_check.is_none());
    assert_eq!(s.strategy.max_surge, IntOrString::String("25%".into()));
    assert_eq!(s.strategy.max_unavailable, IntOrString::String("25%".into()));
    assert_eq!(s.strategy.min_ready_seconds, 0);
    assert_eq!(s.strategy.progress_deadline_seconds, 600);
    assert!(s.strategy.auto_rollback);
    assert_eq!(s.strategy.failure_budget, 3);
    assert!(s.placement.constraints.is_empty());
    assert_eq!(s.priority, Priority::Production);
    assert_eq!(
        (
            s.restart_backoff.initial_seconds,
            s.restart_backoff.factor,
            s.restart_backoff.max_seconds
        ),
        (1, 2.0, 300)
    );
    assert!(!s.paused);
}

#[test]
fn defaults_written_out_load_equal() {
    let explicit = "\
apiVersion: sextant.dev/v1alpha1
kind: App
metadata: {name: web}
spec:
  command: run
  instances: 1
  resources: {cpus: 0.1, mem: 32, disk: 0}
  strategy: {maxSurge: 25%, maxUnavailable: 25%, minReadySeconds: 0, progressDeadlineSeconds: 600,
             autoRollback: true, failureBudget: 3}
  placement: {constraints: []}
  priority: production
  restartBackoff: {initialSeconds: 1, factor: 2, maxSeconds: 300}
  paused: false
  uris: []
  labels: {}
";
    let (a, b) = (load(MINIMAL), load(explicit));
    assert_eq!(a.app, b.app);
    assert_eq!(revision(&a.app.spec), revision(&b.app.spec));

    // Health check and container defaults, omitted or written out.
    let hc = |extra: &str| {
        format!(
            "{MINIMAL}  ports: [{{name: http}}]\n  healthCheck:\n    tcp: {{port: http}}\n{extra}  container: \
             {{docker: {{image: x{}}}}}\n  uris: [{{value: 'http://x/y'{}}}]\n",
            if extra.is_empty() {
                ""
            } else {
                ", network: host, forcePull: false"
            },
            if extra.is_empty() {
                ""
            } else {
                ", extract: true, executable: false, cache: false"
            },
        )
    };
    let written = "    initialDelaySeconds: 15\n    periodSeconds: 10\n    timeoutSeconds: 20\n    \
                   failureThreshold: 3\n    gracePeriodSeconds: 10\n";
    let (a, b) = (load(&hc("")), load(&hc(written)));
    assert_eq!(a.app, b.app);
    assert_eq!(revision(&a.app.spec), revision(&b.app.spec));
}

#[test]
fn health_check_port_must_name_a_port() {
    let e = errs(&full_with("port: http, path", "port: htttp, path"));
    assert_eq!(
        e,
        vec!["m.yaml:29:12: spec.healthCheck.http.port: unknown port \"htttp\" (ports: http, admin)"]
    );
    let e = errs(&full_with("port: http, path", "port: 0, path"));
    assert_eq!(
        e,
        vec!["m.yaml:29:12: spec.healthCheck.http.port: port 0 is out of range: expected 1 to 65535 or a port name"]
    );
    let text = format!("{MINIMAL}  healthCheck: {{tcp: {{port: http}}}}\n");
    assert_eq!(
        errs(&text),
        vec!["m.yaml:6:23: spec.healthCheck.tcp.port: unknown port \"http\": spec.ports declares no ports"]
    );
    // A number needs no port declared.
    load(&format!("{MINIMAL}  healthCheck: {{tcp: {{port: 8080}}}}\n"));
}

#[test]
fn health_check_kinds_and_timing() {
    let e = errs(
        &full_with(
            "    http: {port: http, path: /healthz, scheme: https}\n",
            "    http: {port: http, path: healthz}\n    tcp: {port: admin}\n",
        )
        .replace("periodSeconds: 5", "periodSeconds: 0"),
    );
    assert_eq!(
        e,
        vec![
            "m.yaml:28:3: spec.healthCheck: set exactly one of http, tcp or command, not http and tcp",
            "m.yaml:29:24: spec.healthCheck.http.path: must start with \"/\", found \"healthz\"",
            "m.yaml:32:5: spec.healthCheck.periodSeconds: must be at least 1",
        ]
    );
    let e = errs(&format!("{MINIMAL}  healthCheck: {{periodSeconds: 5}}\n"));
    assert_eq!(e, vec!["m.yaml:6:3: spec.healthCheck: set one of http, tcp or command"]);
    let e = errs(&format!(
        "{MINIMAL}  healthCheck: {{http: {{port: 80, scheme: HTTPS}}}}\n"
    ));
    assert_eq!(
        e,
        vec![
            "m.yaml:6:42: spec.healthCheck.http.scheme: unknown value \"HTTPS\", did you mean \"https\"? (expected \
             one of: http, https)"
        ]
    );
}

#[test]
fn strategy_budgets() {
    let e = errs(&full_with("maxSurge: 25%", "maxSurge: 0%"));
    assert_eq!(
        e,
        vec![
            "m.yaml:37:5: spec.strategy.maxUnavailable: must not be 0 when maxSurge is 0: the rollout could never \
             replace a task"
        ]
    );
    let e = errs(&full_with(
        "maxSurge: 25%\n    maxUnavailable: 0",
        "maxSurge: -1\n    maxUnavailable: 150%",
    ));
    assert_eq!(
        e,
        vec![
            "m.yaml:36:5: spec.strategy.maxSurge: must not be negative, found -1",
            "m.yaml:37:5: spec.strategy.maxUnavailable: must not be more than 100%, found 150%",
        ]
    );
    let e = errs(&full_with("maxSurge: 25%", "maxSurge: \"25\""));
    assert_eq!(
        e,
        vec![
            "m.yaml:36:5: spec.strategy.maxSurge: invalid value \"25\": expected an integer or a percentage such \
             as \"25%\""
        ]
    );
    let e = errs(&full_with("maxSurge: 25%", "maxSurge: 2.5"));
    assert_eq!(
        e,
        vec!["m.yaml:36:15: spec.strategy.maxSurge: expected an integer or a string, found the number 2.5"]
    );
    let e = errs(&full_with("progressDeadlineSeconds: 300", "progressDeadlineSeconds: 5"));
    assert_eq!(
        e,
        vec![
            "m.yaml:39:5: spec.strategy.progressDeadlineSeconds: must be greater than minReadySeconds (5), or no \
             task could become available in time"
        ]
    );
    // Rounding to zero is not "both zero": resolve makes progress.
    let a = load(&format!("{MINIMAL}  strategy: {{maxSurge: 0, maxUnavailable: 10%}}\n"));
    assert_eq!(a.app.spec.strategy.resolve(1), (0, 1));
}

#[test]
fn placement_constraints() {
    let text = full_with(
        "      - {field: hostname, operator: UNIQUE}\n",
        "      - {field: hostname, operator: UNIQUE, value: x}\n      - {field: rack, operator: CLUSTER}\n      \
         - {field: zone, operator: UNLIKE, value: \"us-(east\"}\n      - {field: rack, operator: MAX_PER, value: 0}\n      \
         - {field: rack, operator: GROUP_BY, value: many}\n      - {field: \"my rack\", operator: IS, value: a}\n",
    );
    let e = errs(&text);
    assert_eq!(
        e,
        vec![
            "m.yaml:44:45: spec.placement.constraints[0].value: UNIQUE takes no value",
            "m.yaml:45:7: spec.placement.constraints[1].value: CLUSTER needs a value: the value the field must have",
            "m.yaml:46:41: spec.placement.constraints[2].value: invalid regular expression \"us-(east\": unclosed \
             group",
            "m.yaml:47:42: spec.placement.constraints[3].value: MAX_PER takes a positive integer, found \"0\"",
            "m.yaml:48:43: spec.placement.constraints[4].value: GROUP_BY takes a positive integer, found \"many\"",
            "m.yaml:49:10: spec.placement.constraints[5].field: invalid field \"my rack\": an attribute name has no \
             spaces, ':', ';' or ','",
        ]
    );
    let e = errs(&full_with("operator: UNIQUE", "operator: UNIQEU"));
    assert_eq!(
        e,
        vec![
            "m.yaml:44:37: spec.placement.constraints[0].operator: unknown value \"UNIQEU\", did you mean \
             \"UNIQUE\"? (expected one of: UNIQUE, CLUSTER, GROUP_BY, LIKE, UNLIKE, MAX_PER, IS)"
        ]
    );
}

#[test]
fn container_rules() {
    let e = errs(&full_with(
        "        - {key: label, value: tier=web}\n",
        "        - {key: name, value: x}\n        - {key: --label, value: x}\n",
    ));
    assert_eq!(
        e,
        vec![
            "m.yaml:20:12: spec.container.docker.parameters[0].key: the \"name\" parameter is refused: Mesos names \
             the container itself",
            "m.yaml:21:12: spec.container.docker.parameters[1].key: write the option without dashes: \"label\" is \
             passed as --label=…",
        ]
    );
    let e = errs(&full_with(
        "    - {name: admin, containerPort: 9000, protocol: tcp}",
        "    - {name: admin}",
    ));
    assert_eq!(
        e,
        vec![
            "m.yaml:25:5: spec.ports[1]: port \"admin\" needs a containerPort: with bridge networking each host \
             port maps to a container port"
        ]
    );
    // Host networking does not need container ports.
    load(&full_with("network: bridge", "network: host").replace(
        "    - {name: admin, containerPort: 9000, protocol: tcp}",
        "    - {name: admin}",
    ));
    let e = errs(&full_with("network: bridge", "network: Bridge"));
    assert_eq!(
        e,
        vec![
            "m.yaml:17:16: spec.container.docker.network: unknown value \"Bridge\", did you mean \"bridge\"? \
             (expected one of: host, bridge)"
        ]
    );
    let e = errs(&full_with("      image: registry.example/web:1.4.2\n", ""));
    assert_eq!(e, vec!["m.yaml:15:5: spec.container.docker: missing field \"image\""]);
}

#[test]
fn labels_user_uris_backoff() {
    let e = errs(
        &full_with("labels: {tier: web}", "labels: {sextant.app: x, \"\": y}")
            .replace("user: nobody", "user: \"no body\"")
            .replace("outputFile: bin/tool", "outputFile: ../tool")
            .replace("factor: 1.5, maxSeconds: 60", "factor: 0.5, maxSeconds: 1"),
    );
    assert_eq!(
        e,
        vec![
            "m.yaml:12:90: spec.uris[1].outputFile: invalid output file \"../tool\": expected a relative path \
             inside the sandbox, without '..'",
            "m.yaml:13:3: spec.user: invalid user \"no body\": expected a Unix user name (letters, digits, '_', '.', \
             '-', not starting with '-')",
            "m.yaml:27:3: spec.labels.: label key must not be empty",
            "m.yaml:27:12: spec.labels.sextant.app: label key \"sextant.app\" is reserved: keys starting with \
             \"sextant.\" are set by Sextant",
            "m.yaml:50:39: spec.restartBackoff.factor: must be a number of at least 1, found 0.5",
            "m.yaml:50:52: spec.restartBackoff.maxSeconds: must be at least initialSeconds (2), found 1",
        ]
    );
}

#[test]
fn unknown_fields_get_suggestions_everywhere() {
    let text = full_with("path: /healthz", "pth: /healthz")
        .replace("forcePull: true", "forcepull: true")
        .replace("  paused: true", "  pasued: true")
        .replace("initialDelaySeconds: 5", "initialDelay: 5")
        .replace("  strategy:", "  stratgy:");
    let e = errs(&text);
    assert_eq!(
        e,
        vec![
            "m.yaml:18:7: spec.container.docker: unknown field \"forcepull\", did you mean \"forcePull\"?",
            "m.yaml:29:24: spec.healthCheck.http: unknown field \"pth\", did you mean \"path\"?",
            "m.yaml:30:5: spec.healthCheck: unknown field \"initialDelay\", did you mean \"initialDelaySeconds\"?",
            "m.yaml:35:3: spec: unknown field \"stratgy\", did you mean \"strategy\"?",
            "m.yaml:51:3: spec: unknown field \"pasued\", did you mean \"paused\"?",
        ]
    );
    let e = errs(&format!("{MINIMAL}  replicas: 3\n"));
    assert_eq!(e.len(), 1);
    assert!(
        e[0].starts_with("m.yaml:6:3: spec: unknown field \"replicas\"; expected one of: args, command, container,"),
        "{e:?}"
    );
}

#[test]
fn structural_and_semantic_errors_together() {
    // Unknown fields do not hide the meaning errors of what is left.
    let text = full_with("port: http, path", "port: htttp, path")
        .replace("  paused: true", "  pasued: true")
        .replace("name: web", "name: Web");
    let e = errs(&text);
    assert_eq!(e.len(), 3, "{e:#?}");
    assert!(
        e[0].starts_with("m.yaml:4:3: metadata.name: invalid name \"Web\""),
        "{e:?}"
    );
    assert!(
        e[1].starts_with("m.yaml:29:12: spec.healthCheck.http.port: unknown port"),
        "{e:?}"
    );
    assert!(e[2].starts_with("m.yaml:51:3: spec: unknown field \"pasued\""), "{e:?}");

    // Every wrong type of a document at once.
    let text = full_with("instances: 3", "instances: three")
        .replace("forcePull: true", "forcePull: yes")
        .replace("failureBudget: 2", "failureBudget: -2")
        .replace("containerPort: 8000", "containerPort: 80000");
    let e = errs(&text);
    assert_eq!(
        e,
        vec![
            "m.yaml:8:14: spec.instances: expected an integer, found the string \"three\"",
            "m.yaml:18:18: spec.container.docker.forcePull: expected true or false, found the string \"yes\"",
            "m.yaml:24:22: spec.ports[0].containerPort: must be an integer from 0 to 65535, found 80000",
            "m.yaml:41:20: spec.strategy.failureBudget: must not be negative, found -2",
        ]
    );
}

#[test]
fn strings_take_any_scalar_as_written() {
    // serde_yaml reads a scalar into a string field as written; so does
    // the structural check.
    let a = load(&format!(
        "{MINIMAL}  env: {{A: 1, B: true, C: 0x1F, D: 1.50}}\n  user: 1000\n"
    ));
    let env = &a.app.spec.env;
    assert_eq!(env["A"], "1");
    assert_eq!(env["B"], "true");
    assert_eq!(env["C"], "0x1F");
    assert_eq!(env["D"], "1.50");
    assert_eq!(a.app.spec.user.as_deref(), Some("1000"));
}

#[test]
fn validate_is_usable_on_its_own() {
    let mut app: App = load(FULL).app;
    assert!(validate(&app).is_empty());
    app.spec.strategy.max_surge = IntOrString::Int(0);
    app.spec.health_check = None;
    app.spec.labels.insert("sextant.x".into(), "y".into());
    let fields: Vec<String> = validate(&app).into_iter().map(|e| e.field).collect();
    assert_eq!(fields, vec!["spec.labels.sextant.x", "spec.strategy.maxUnavailable"]);
}
