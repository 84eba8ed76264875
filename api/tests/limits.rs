//! Every count a manifest sets has a maximum that validation enforces: at
//! the maximum an app is valid, one more is one error naming the field.

use std::collections::BTreeMap;
use std::path::Path;

use sextant_api::app::{
    Container, DockerContainer, DockerParameter, MAX_ANNOTATIONS, MAX_ARGS, MAX_CONSTRAINTS, MAX_ENV, MAX_INSTANCES,
    MAX_LABELS, MAX_PARAMETERS, MAX_PORTS, MAX_TASK_LABELS, MAX_URIS, NetworkMode,
};
use sextant_api::{App, Constraint, FieldError, Operator, PortSpec, Uri, load_str, validate};

fn app() -> App {
    serde_yaml::from_str("apiVersion: sextant.dev/v1alpha1\nkind: App\nmetadata: {name: web}\nspec: {command: run}\n")
        .unwrap()
}

fn map(prefix: &str, n: usize) -> BTreeMap<String, String> {
    (0..n).map(|i| (format!("{prefix}{i}"), "v".to_string())).collect()
}

/// Checks the limit `max` of `field`: `set(app, n)` gives the app `n` of
/// them, `what` names them in the message.
fn at_the_boundary(field: &str, max: usize, what: &str, set: impl Fn(&mut App, usize)) {
    let mut a = app();
    set(&mut a, max);
    assert_eq!(validate(&a), vec![], "{field} at {max}");
    set(&mut a, max + 1);
    assert_eq!(
        validate(&a),
        vec![FieldError {
            field: field.into(),
            message: format!("at most {max} {what}; found {}", max + 1),
        }],
        "{field} at {}",
        max + 1
    );
}

#[test]
fn instances() {
    at_the_boundary("spec.instances", MAX_INSTANCES as usize, "instances per app", |a, n| {
        a.spec.instances = n as u32;
    });
    let text = "apiVersion: sextant.dev/v1alpha1\nkind: App\nmetadata: {name: web}\nspec:\n  command: run\n  instances: \
                4294967295\n";
    let e = load_str(Path::new("m.yaml"), text).unwrap_err().to_string();
    assert_eq!(
        e,
        "m.yaml:6:3: spec.instances: at most 10000 instances per app; found 4294967295"
    );
}

#[test]
fn lists_of_the_task() {
    at_the_boundary("spec.args", MAX_ARGS, "arguments", |a, n| {
        a.spec.command = None;
        a.spec.args = Some(vec!["/bin/x".to_string(); n]);
    });
    at_the_boundary("spec.uris", MAX_URIS, "URIs", |a, n| {
        a.spec.uris = (0..n)
            .map(|i| Uri {
                value: format!("https://example.com/{i}.tgz"),
                executable: false,
                extract: true,
                cache: false,
                output_file: None,
            })
            .collect();
    });
    at_the_boundary("spec.ports", MAX_PORTS, "ports", |a, n| {
        a.spec.ports = (0..n)
            .map(|i| PortSpec {
                name: format!("p{i}"),
                container_port: None,
                host_port: None,
                protocol: None,
            })
            .collect();
    });
    at_the_boundary("spec.env", MAX_ENV, "variables", |a, n| a.spec.env = map("VAR_", n));
    at_the_boundary("spec.labels", MAX_TASK_LABELS, "labels", |a, n| {
        a.spec.labels = map("l", n)
    });
}

#[test]
fn container_and_placement() {
    at_the_boundary(
        "spec.container.docker.parameters",
        MAX_PARAMETERS,
        "parameters",
        |a, n| {
            a.spec.container = Some(Container {
                docker: DockerContainer {
                    image: "registry.example/web:1".into(),
                    network: NetworkMode::Host,
                    force_pull: false,
                    parameters: vec![
                        DockerParameter {
                            key: "label".into(),
                            value: "tier=web".into(),
                        };
                        n
                    ],
                },
            });
        },
    );
    at_the_boundary("spec.placement.constraints", MAX_CONSTRAINTS, "constraints", |a, n| {
        a.spec.placement.constraints = vec![
            Constraint {
                field: "rack".into(),
                operator: Operator::Like,
                value: Some("r[0-9]+".into()),
            };
            n
        ];
    });
}

#[test]
fn metadata() {
    at_the_boundary("metadata.labels", MAX_LABELS, "labels", |a, n| {
        a.metadata.labels = Some(map("l", n));
    });
    at_the_boundary("metadata.annotations", MAX_ANNOTATIONS, "annotations", |a, n| {
        a.metadata.annotations = Some(map("a", n));
    });
}

#[test]
fn too_many_is_reported_once_at_the_list() {
    let env: String = (0..=MAX_ENV).map(|i| format!("    V{i}: \"\\u0000\"\n")).collect();
    let text = format!(
        "apiVersion: sextant.dev/v1alpha1\nkind: App\nmetadata: {{name: web}}\nspec:\n  command: run\n  env:\n{env}"
    );
    let e = load_str(Path::new("m.yaml"), &text).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "m.yaml:6:3: spec.env: at most {MAX_ENV} variables; found {}",
            MAX_ENV + 1
        )
    );
}
