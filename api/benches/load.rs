//! Loading and validating a large set of manifests: 5,000 files of one
//! realistic app each (ports, env, health check, strategy, constraints),
//! from a temporary directory, with `load_paths`, as the controller does on
//! every sync. Target: under one second.
//!
//! And refusing hostile files: deep nesting in every style, with
//! `load_str`. Target: under 100 ms for any 1 MiB file.
//!
//! `cargo bench -p sextant-api --bench load`

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use sextant_api::load::MAX_FILE_BYTES;
use sextant_api::{load_paths, load_str};

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

/// `unit` repeated to `len` bytes.
fn fill(unit: &str, len: usize) -> String {
    unit.repeat(len / unit.len() + 1)[..len].to_string()
}

fn refuse_hostile_files(c: &mut Criterion) {
    const MIB: usize = MAX_FILE_BYTES as usize;
    let mut indented = String::new();
    for i in 0.. {
        let line = format!("{}a:\n", " ".repeat(i));
        if indented.len() + line.len() > MIB {
            break;
        }
        indented.push_str(&line);
    }
    // The deepest nesting accepted, over the whole file: parsed, then
    // refused as not a manifest. And, for comparison, as many values
    // without nesting, and a mapping of 100,000 keys.
    let at_limit = format!("{}{}", "[".repeat(64), fill("1,", MIB - 64));
    let flat = format!("[{}", fill("1,", MIB - 1));
    let mut mapping = String::new();
    for i in 0.. {
        let line = format!("k{i}: v\n");
        if mapping.len() + line.len() > MIB {
            break;
        }
        mapping.push_str(&line);
    }
    let cases = [
        ("1 MiB of nested [", fill("[", MIB)),
        ("200 KB of nested [", fill("[", 200_000)),
        ("1 MiB of nested {\"a\":", fill("{\"a\":", MIB)),
        ("1 MiB of nested - ", fill("- ", MIB)),
        ("1 MiB of nested a: lines", indented),
        ("1 MiB of a list 64 deep", at_limit),
        ("1 MiB of a flat list", flat),
        ("1 MiB of a flat mapping", mapping),
    ];
    let mut group = c.benchmark_group("refuse");
    // The parsed cases take a quarter of a second each.
    group.sample_size(20);
    for (name, text) in &cases {
        assert!(load_str(Path::new("hostile.yaml"), text).is_err(), "{name}");
        group.bench_function(*name, |b| {
            b.iter(|| black_box(load_str(Path::new("hostile.yaml"), black_box(text)).is_err()))
        });
    }
    group.finish();
}

criterion_group!(benches, load_5000_files, refuse_hostile_files);
criterion_main!(benches);
