//! The fleet the controller benchmarks run over: 10,000 apps of 10 tasks
//! each (100,000 tasks) in the in-memory index, built by the controller's
//! own paths: 10,000 manifests parsed by the loader (`load_str`), stored by
//! `Store::replace_source_apps`, loaded by `writer::load`; the agent's task
//! snapshot and its Mesos link applied by `Writer::apply`; the journal
//! flushed; then every key leased from the work queue and reconciled by
//! `Runtime::reconcile`, which writes each status and revision history (a
//! steady state asks for no launch or kill, so no call reaches the agent,
//! whose channel is never connected). Shared by `core.rs` and `list.rs`,
//! with the figures' helpers (quantiles, units, the load average).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use sextant_api::proto::{self, TaskState};
use sextant_controller::DesiredApp;
use sextant_controller::expectations::AppExpectations;
use sextant_controller::index::Index;
use sextant_controller::index::journal::JournalWriter;
use sextant_controller::index::writer::{self, IndexEvent, Writer};
use sextant_controller::observed::ObservedTask;
use sextant_controller::queue::WorkQueue;
use sextant_controller::reconcile::{Input, Plan, SequentialIds, reconcile};
use sextant_controller::runtime::Runtime;
use sextant_controller::store::{Store, now_unix};

/// Apps in the index.
pub const APPS: usize = 10_000;
/// Tasks per app (its `instances`).
pub const TASKS_PER_APP: usize = 10;
/// Namespaces the apps are spread over.
pub const TEAMS: usize = 20;
/// Nodes the tasks are spread over (no two tasks of an app on one node).
pub const NODES: usize = 1_000;
/// The manifests source.
pub const SOURCE: &str = "dir:/srv/manifests";
/// The agent, never connected.
pub const AGENT_URL: &str = "http://127.0.0.1:1";

/// One app's manifest, as the loader bench writes them, with 10 instances;
/// `labels` adds labels to `metadata.labels` (`, key: value` each).
pub fn manifest(i: usize, labels: &str) -> String {
    format!(
        "apiVersion: sextant.dev/v1alpha1
kind: App
metadata:
  name: app-{i:05}
  namespace: team-{team:02}
  labels: {{team: team-{team:02}, tier: web{labels}}}
spec:
  instances: {TASKS_PER_APP}
  command: \"exec /srv/app-{i:05}/bin/server --port $PORT_HTTP --admin $PORT_ADMIN\"
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
    UPSTREAM: \"http://app-{next:05}.team-{team:02}:8080\"
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
        team = i % TEAMS,
        next = (i + 1) % APPS,
    )
}

/// The desired apps, parsed and validated by the loader, app `i` with
/// the extra labels `labels(i)`.
pub fn desired_apps(labels: fn(usize) -> String) -> Vec<DesiredApp> {
    (0..APPS)
        .map(|i| {
            let file = format!("/srv/manifests/team-{:02}/app-{i:05}.yaml", i % TEAMS);
            let mut loaded =
                sextant_api::load_str(Path::new(&file), &manifest(i, &labels(i))).expect("a valid manifest");
            assert_eq!(loaded.len(), 1);
            let l = loaded.remove(0);
            DesiredApp::new(l.app, SOURCE, Some(l.file), u64::try_from(l.line).ok())
        })
        .collect()
}

/// Task `j` of app `i`: launched an hour ago (an app's tasks a quarter
/// second apart), RUNNING 20 s later, healthy 10 s after that.
pub fn task(i: usize, j: usize, d: &DesiredApp, now: f64) -> proto::Task {
    let node = (i + j * (NODES / TASKS_PER_APP)) % NODES;
    let launched = now - 3_620.0 + j as f64 * 0.25;
    proto::Task {
        task_id: format!(
            "{}.{}.{}.{:08x}",
            d.namespace(),
            d.name(),
            d.revision,
            i * TASKS_PER_APP + j
        ),
        namespace: d.namespace().to_string(),
        app: d.name().to_string(),
        revision: d.revision.clone(),
        state: TaskState::Running as i32,
        agent_id: format!("9c4e6f0a-1b2d-4c3e-8f7a-5d6b7c8d9e0f-S{node}"),
        hostname: format!("node-{node:04}.dc1.example.com"),
        ports: vec![
            proto::HostPort {
                name: "http".into(),
                port: 31_000 + (i % 1000) as u32,
            },
            proto::HostPort {
                name: "admin".into(),
                port: 32_000 + (i % 1000) as u32,
            },
        ],
        message: String::new(),
        reason: "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED".into(),
        healthy: Some(true),
        created_at: launched,
        updated_at: launched + 30.0,
        running_since: launched + 20.0,
        healthy_since: launched + 30.0,
    }
}

/// The pure reconcile of one app as the runtime calls it: the index's
/// snapshot (with its `Synced` facts), no expectations, no crash hold, no
/// failed calls. Returns the
/// plan and whether its status differs from the stored one (the runtime
/// would write it).
pub fn reconcile_one(index: &Index, key: &str, ids: &mut SequentialIds) -> (Plan, bool) {
    let snap = index.app(key);
    let expectations = AppExpectations::default();
    let plan = reconcile(
        &Input {
            key,
            desired: snap.desired.as_deref(),
            history: &snap.history,
            tasks: &snap.tasks,
            expectations: &expectations,
            crash: None,
            agent: &snap.agent,
            call_errors: &[],
            synced: snap.synced.as_ref(),
            now: now_unix(),
        },
        ids,
    );
    let changed = plan.status.as_ref() != snap.status.as_deref();
    (plan, changed)
}

/// What a plan would make the runtime do besides comparing the status.
#[derive(Debug, Default, PartialEq)]
pub struct Work {
    pub actions: usize,
    pub histories: usize,
    pub statuses: usize,
    pub requeues: usize,
}

impl Work {
    pub fn add(&mut self, plan: &Plan, status_changed: bool) {
        self.actions += plan.actions.len();
        self.histories += usize::from(plan.history.is_some());
        self.statuses += usize::from(status_changed);
        self.requeues += usize::from(plan.requeue_after.is_some());
    }
}

pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// The `q` quantile (nearest rank) of sorted samples.
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// `p50 / p99 / max` of samples, sorted in place.
pub fn spread(samples: &mut [Duration], unit: fn(Duration) -> String) -> String {
    samples.sort_unstable();
    format!(
        "p50 {} / p99 {} / max {}",
        unit(quantile(samples, 0.50)),
        unit(quantile(samples, 0.99)),
        unit(*samples.last().expect("samples"))
    )
}

pub fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}

/// The built index and the parts that write it.
#[allow(dead_code, reason = "each bench reads the parts it needs")]
pub struct Built {
    pub index: Index,
    pub writer: Writer,
    pub runtime: Arc<Runtime>,
    /// Every app key, sorted.
    pub keys: Vec<String>,
    /// The journal's directory.
    pub data: tempfile::TempDir,
}

/// Builds the index as the controller does at start (see the module
/// docs), app `i` with the extra labels `labels(i)`; `step` is called
/// after each step with its name.
pub async fn build(labels: fn(usize) -> String, mut step: impl FnMut(&'static str)) -> Built {
    let t = Instant::now();
    let data = tempfile::tempdir().expect("tempdir");
    let store = Store::open(data.path()).expect("store");
    let apps = desired_apps(labels);
    let outcome = store.replace_source_apps(SOURCE, apps).expect("apps stored");
    assert_eq!(outcome.added.len(), APPS);
    store.set_source_ok(SOURCE, APPS).expect("source");
    let index = Index::default();
    let skipped = writer::load(&index, &store, AGENT_URL).expect("journal loaded");
    assert!(skipped.is_empty(), "{skipped:?}");
    eprintln!("  manifests loaded, stored and indexed in {}", ms(t.elapsed()));
    step("apps stored in the journal and indexed");

    let t = Instant::now();
    let now = now_unix();
    let mut keys = index.keys();
    keys.sort();
    let tasks: Vec<ObservedTask> = keys
        .iter()
        .enumerate()
        .flat_map(|(i, key)| {
            let d = index.app(key).desired.expect("desired");
            (0..TASKS_PER_APP).map(move |j| ObservedTask::from(task(i, j, &d, now)))
        })
        .collect();
    let queue = WorkQueue::new();
    let journal = JournalWriter::new(store.clone());
    let writer = Writer {
        index: index.clone(),
        store: store.clone(),
        journal: journal.clone(),
        queue: queue.clone(),
        events: sextant_controller::events::Events::default(),
    };
    step("the agent's 100,000 tasks received");
    writer.apply(IndexEvent::Snapshot(tasks));
    writer.apply(IndexEvent::Mesos {
        connected: true,
        since: now - 86_400.0,
        message: String::new(),
    });
    step("snapshot applied to the index");
    journal.flush().expect("journal flushed");
    assert_eq!(index.read(|s| s.task_count), APPS * TASKS_PER_APP);
    eprintln!("  agent snapshot applied and journaled in {}", ms(t.elapsed()));
    step("snapshot written to the journal");

    // The runtime's own pass over every key the writer enqueued, as the
    // work queue's workers run it (here one at a time): it writes each
    // app's status and revision history. Until the plans stop changing
    // the history (the first pass records the revision and completes it).
    let channel = tonic::transport::Endpoint::from_static(AGENT_URL).connect_lazy();
    let runtime = Arc::new(Runtime::new(
        index.clone(),
        journal.clone(),
        sextant_controller::agent_link::client(channel),
        sextant_controller::events::Events::default(),
        sextant_controller::metrics::Metrics::default(),
    ));
    for pass in 1..=3 {
        let t = Instant::now();
        if pass > 1 {
            queue.enqueue_all(index.keys());
        }
        let mut n = 0;
        while let Some(Some(lease)) = queue.next().now_or_never() {
            let requeue = Arc::clone(&runtime).reconcile(lease.key().to_string()).await;
            lease.done(requeue);
            n += 1;
        }
        journal.flush().expect("journal flushed");
        let mut work = Work::default();
        let mut ids = SequentialIds::default();
        for key in &keys {
            let (plan, changed) = reconcile_one(&index, key, &mut ids);
            work.add(&plan, changed);
        }
        eprintln!(
            "  Runtime::reconcile pass {pass}: {n} keys in {}; what another pass would do: {work:?}",
            ms(t.elapsed())
        );
        if work.actions == 0 && work.histories == 0 && work.statuses == 0 {
            break;
        }
        assert!(pass < 3, "the index does not settle: {work:?}");
    }
    assert_eq!(index.read(|s| (s.statuses.len(), s.histories.len())), (APPS, APPS));
    step("statuses and histories written by the runtime");
    Built {
        index,
        writer,
        runtime,
        keys,
        data,
    }
}
