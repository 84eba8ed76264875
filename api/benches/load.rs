//! Loading and validating a large set of manifests: 5,000 files of one
//! realistic app each (ports, env, health check, strategy, constraints),
//! from a temporary directory, with `load_paths`, as the controller does on
//! every sync. Target: under one second.
//!
//! `cargo bench -p sextant-api --bench load`

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use sextant_api::load_paths;

/// Files in the set.
const FILES: usize = 5_000;

fn manifest(i: usize) -> String {
    format!(
        "# App {i} of the benchmark set.
apiVersion: sextant.dev/v1alpha1
kind: App
metadata:
  name: app-{i}
  namespace: team-{team}
  labels: {{team: team-{team}, tier: web}}
spec:
  instances: {instances}
  command: \"exec /srv/app-{i}/bin/server --port $PORT_HTTP --admin $PORT_ADMIN\"
  resources: {{cpus: 250m, mem: 256Mi, disk: 1Gi}}
  ports:
    - name: http
      containerPort: 8080
    - name: admin
      containerPort: 9090
      protocol: tcp
  env:
    LOG_LEVEL: info
    APP_ID: \"{i}\"
    UPSTREAM: \"http://app-{next}.team-{team}:8080\"
  labels: {{tier: web}}
  healthCheck:
    http: {{port: http, path: /healthz}}
    initialDelaySeconds: 5
    periodSeconds: 5
    timeoutSeconds: 2
    failureThreshold: 3
  strategy:
    maxSurge: 25%
    maxUnavailable: 0
    minReadySeconds: 10
    progressDeadlineSeconds: 300
  placement:
    constraints:
      - {{field: hostname, operator: UNIQUE}}
      - {{field: rack, operator: MAX_PER, value: \"2\"}}
  killGracePeriodSeconds: 30
",
        team = i % 20,
        instances = 1 + i % 5,
        next = (i + 1) % FILES,
    )
}

fn load_5000_files(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    for i in 0..FILES {
        // 50 directories of 100 files, as a repository might be laid out.
        let sub = dir.path().join(format!("team-{:02}", i % 50));
        std::fs::create_dir_all(&sub).expect("mkdir");
        std::fs::write(sub.join(format!("app-{i:04}.yaml")), manifest(i)).expect("write");
    }
    let paths = vec![PathBuf::from(dir.path())];
    let apps = load_paths(&paths).expect("the benchmark set is valid");
    assert_eq!(apps.len(), FILES);

    let mut group = c.benchmark_group("load");
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    group.bench_function("load_paths/5000_files", |b| {
        b.iter(|| black_box(load_paths(black_box(&paths)).expect("valid")))
    });
    group.finish();
}

criterion_group!(benches, load_5000_files);
criterion_main!(benches);
