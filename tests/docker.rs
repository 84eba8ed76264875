//! A Docker app end to end: `sextant up --containerizer docker` runs an app
//! with `container.docker` in a real container of the local image
//! `sextant-test/busybox:latest` (imported by `.ci/run`; nothing can be
//! pulled here), bridged with its port mapped, health-checked through the
//! mapping's container side, its `parameters` passed to `docker run`, and
//! its container gone when the app is deleted. Without a Docker engine the
//! test is reported ignored, never passed.

mod common;

use std::process::Command;

use common::{Up, get_json, get_text};

/// The containers (running or not) carrying the label `sextant-e2e=<mark>`.
fn containers_marked(mark: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args([
            "ps",
            "-a",
            "--filter",
            &format!("label=sextant-e2e={mark}"),
            "--format",
            "{{.Names}} {{.Image}}",
        ])
        .output()
        .expect("run docker ps");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Guards "my Docker app runs": the image, the bridged port, the health
/// check and the parameters reach a real container, and deleting the app
/// removes it.
#[test]
#[cfg_attr(not(has_docker), ignore = "no Docker engine on this machine (/var/run/docker.sock)")]
fn a_docker_app_runs_in_its_container_bridged_and_healthy_and_goes_when_deleted() {
    let mark = format!("{}-{}", std::process::id(), line!());
    let up = Up::start_with(&["--containerizer", "docker", "--allow-empty"]);
    up.write_manifest(
        "boxweb.yaml",
        &format!(
            "apiVersion: sextant.dev/v1alpha1
kind: App
metadata:
  name: boxweb
spec:
  instances: 1
  command: \"mkdir -p /www && echo served-from-the-container > /www/index.html && exec httpd -f -p 8080 -h /www\"
  container:
    docker:
      image: sextant-test/busybox:latest
      network: bridge
      parameters:
        - {{key: label, value: sextant-e2e={mark}}}
  resources: {{cpus: 0.1, mem: 32}}
  ports:
    - {{name: http, containerPort: 8080}}
  healthCheck:
    http: {{port: http, path: /index.html}}
    periodSeconds: 1
    timeoutSeconds: 1
  killGracePeriodSeconds: 2
"
        ),
    );

    let mut host_port = None;
    up.wait_for("the Docker task running and healthy", || {
        let tasks = up.tasks_in_controller("boxweb");
        let healthy = tasks
            .iter()
            .find(|t| t["state"] == "TASK_RUNNING" && t["healthy"] == true);
        host_port = healthy.and_then(|t| t["ports"][0]["port"].as_u64());
        host_port.is_some()
    });
    let host_port = host_port.expect("a healthy task has its port");

    let containers = containers_marked(&mark);
    assert_eq!(
        containers.len(),
        1,
        "one container with the app's label: {containers:?}"
    );
    assert!(containers[0].ends_with("sextant-test/busybox:latest"), "{containers:?}");
    let body = get_text(&format!("http://127.0.0.1:{host_port}/index.html"));
    assert_eq!(
        body.as_deref().map(str::trim),
        Some("served-from-the-container"),
        "the host port {host_port} maps to the container's 8080"
    );
    let app = get_json(&format!("{}/api/v1/apps/default/boxweb", up.api)).expect("GET the app");
    assert!(
        !app.to_string().contains("not supported"),
        "no 'not supported' condition is left: {app}"
    );

    std::fs::remove_file(up.manifests().join("boxweb.yaml")).expect("delete the manifest");
    up.wait_for("the container removed", || containers_marked(&mark).is_empty());
}
