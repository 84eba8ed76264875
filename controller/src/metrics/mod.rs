//! The controller's metrics: one prometheus-client [`Registry`], created
//! once per process (holding whatever was registered into it before, such
//! as the agent's families under `sextant up`), and the typed families the
//! runtime, the sources, the HTTP API and the hooks count into.
//!
//! Figures that are state, not events (tasks by state, apps by condition,
//! the sources' records) are not counted: [`index`] derives them from the
//! index at each scrape, so they cannot drift from what the API shows.
//! [`process`] adds uptime and memory; [`exposition`] turns the registry
//! into `/metrics` and `/vars`; [`history`] keeps their recent past for
//! graphs. Every family is listed in docs/metrics.md.
//!
//! [`Metrics`] is cheap to clone (one `Arc`).

pub mod exposition;
pub mod history;
mod index;
pub mod process;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use crate::history::RolloutStep;
use crate::index::Index;
use crate::reconcile::Cause;

/// A histogram family whose histograms share one set of buckets.
pub type HistogramFamily<S> = Family<S, Histogram, fn() -> Histogram>;

/// One app (`namespace/name` split).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AppLabels {
    /// The app's namespace.
    pub namespace: String,
    /// The app's name.
    pub app: String,
}

impl AppLabels {
    /// The labels of the app `key` (`namespace/name`).
    pub fn of(key: &str) -> Self {
        let (namespace, app) = key.split_once('/').unwrap_or(("", key));
        Self {
            namespace: namespace.to_string(),
            app: app.to_string(),
        }
    }
}

/// A rollout step.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// `started`, `succeeded`, `failed`, `rolled_back`.
    pub outcome: &'static str,
}

/// A kind of drift corrected.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    /// [`Cause::name`].
    pub kind: &'static str,
}

/// One source.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceLabels {
    /// `dir:<path>` or `git:<url>`.
    pub source: String,
}

/// One HTTP route and answer.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// `GET`, `POST`, … (`other` for an unusual method).
    pub method: &'static str,
    /// The route's template (`/api/v1/apps/{namespace}/{name}`), or
    /// `unmatched`.
    pub route: String,
    /// The status code.
    pub code: u16,
}

/// One HTTP route.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// As in [`RequestLabels`].
    pub method: &'static str,
    /// As in [`RequestLabels`].
    pub route: String,
}

/// One hook's deliveries of one result.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HookLabels {
    /// The hook's name.
    pub hook: String,
    /// `delivered`, `retried` or `dropped`.
    pub result: &'static str,
}

/// Seconds of one reconcile: 0.5 ms to 8 s.
fn reconcile_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 4.0, 8))
}

/// Seconds of one HTTP request: 0.5 ms to 8 s.
fn request_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 4.0, 8))
}

/// Seconds of one source sync: 10 ms to 164 s (a git fetch may be slow).
fn sync_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.01, 4.0, 8))
}

/// What the sources count: each sync attempt's duration and failures.
#[derive(Clone, Debug)]
pub struct SourceMetrics {
    /// `sextant_source_sync_duration_seconds{source}`.
    pub sync_duration: HistogramFamily<SourceLabels>,
    /// `sextant_source_sync_errors_total{source}`.
    pub sync_errors: Family<SourceLabels, Counter>,
}

impl Default for SourceMetrics {
    /// Families in no registry (a source built alone, in tests).
    fn default() -> Self {
        Self {
            sync_duration: Family::new_with_constructor(sync_histogram),
            sync_errors: Family::default(),
        }
    }
}

impl SourceMetrics {
    /// One sync attempt of `source` took `took`.
    pub fn synced(&self, source: &str, took: Duration) {
        self.sync_duration
            .get_or_create(&SourceLabels {
                source: source.to_string(),
            })
            .observe(took.as_secs_f64());
    }

    /// One sync attempt of `source` failed as a whole.
    pub fn failed(&self, source: &str) {
        self.sync_errors
            .get_or_create(&SourceLabels {
                source: source.to_string(),
            })
            .inc();
    }
}

/// What the outgoing webhooks count.
#[derive(Clone, Debug, Default)]
pub struct HookMetrics {
    /// `sextant_hook_deliveries_total{hook,result}`.
    pub deliveries: Family<HookLabels, Counter>,
}

impl HookMetrics {
    /// The results a delivery counts as.
    pub const RESULTS: [&'static str; 3] = ["delivered", "retried", "dropped"];

    /// Shows every result of `hook`, at 0 until it happens.
    pub fn declare(&self, hook: &str) {
        for result in Self::RESULTS {
            let _ = self.deliveries.get_or_create(&HookLabels {
                hook: hook.to_string(),
                result,
            });
        }
    }

    /// Counts one `result` of `hook`.
    pub fn count(&self, hook: &str, result: &'static str) {
        self.deliveries
            .get_or_create(&HookLabels {
                hook: hook.to_string(),
                result,
            })
            .inc();
    }

    /// The count of one `result` of `hook`.
    pub fn get(&self, hook: &str, result: &'static str) -> u64 {
        self.deliveries
            .get(&HookLabels {
                hook: hook.to_string(),
                result,
            })
            .map_or(0, |c| c.get())
    }
}

/// The controller's families and the registry they are in.
struct Inner {
    registry: Arc<Registry>,
    reconcile_duration: HistogramFamily<AppLabels>,
    rollouts: Family<OutcomeLabels, Counter>,
    drift_corrections: Family<KindLabels, Counter>,
    http_requests: Family<RequestLabels, Counter>,
    http_duration: HistogramFamily<RouteLabels>,
    sources: SourceMetrics,
    hooks: HookMetrics,
    /// The figures' recent past (`GET /api/v1/metrics/history`).
    history: history::History,
    /// The index the scrape-time figures are read from, once there is one.
    index: Arc<RwLock<Option<Index>>>,
}

/// The controller's metrics. Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    /// The controller's families alone in a new registry.
    fn default() -> Self {
        Self::new(Registry::default())
    }
}

impl Metrics {
    /// Registers the controller's families, the index's figures and the
    /// process's into `registry` (which may already hold others, e.g. the
    /// agent's), and keeps it: this is the registry `/metrics` serves.
    pub fn new(mut registry: Registry) -> Self {
        let reconcile_duration: HistogramFamily<AppLabels> = Family::new_with_constructor(reconcile_histogram);
        registry.register_with_unit(
            "sextant_reconcile_duration",
            "Time of one reconcile of one app: decide, call the agent, write the status",
            Unit::Seconds,
            reconcile_duration.clone(),
        );
        let rollouts = Family::<OutcomeLabels, Counter>::default();
        for step in RolloutStep::ALL {
            let _ = rollouts.get_or_create(&OutcomeLabels { outcome: step.name() });
        }
        registry.register(
            "sextant_rollouts",
            "Rollout steps: started, succeeded, failed, rolled_back",
            rollouts.clone(),
        );
        let drift_corrections = Family::<KindLabels, Counter>::default();
        for cause in Cause::ALL {
            let _ = drift_corrections.get_or_create(&KindLabels { kind: cause.name() });
        }
        registry.register(
            "sextant_drift_corrections",
            "Launches and kills the agent accepted, by the drift they correct",
            drift_corrections.clone(),
        );
        let sources = SourceMetrics::default();
        registry.register_with_unit(
            "sextant_source_sync_duration",
            "Time of one sync attempt of a source (a git poll that finds nothing new included)",
            Unit::Seconds,
            sources.sync_duration.clone(),
        );
        registry.register(
            "sextant_source_sync_errors",
            "Errors syncing a source: a fetch, a checkout, an unreadable or missing tree, a journal write",
            sources.sync_errors.clone(),
        );
        let http_requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "sextant_http_requests",
            "HTTP API requests by method, route template and status code",
            http_requests.clone(),
        );
        let http_duration: HistogramFamily<RouteLabels> = Family::new_with_constructor(request_histogram);
        registry.register_with_unit(
            "sextant_http_request_duration",
            "Time of one HTTP API request, to the response's head (a stream's body is not included)",
            Unit::Seconds,
            http_duration.clone(),
        );
        let hooks = HookMetrics::default();
        registry.register(
            "sextant_hook_deliveries",
            "Outgoing webhook deliveries: delivered, retried (a failed attempt), dropped (after the last retry)",
            hooks.deliveries.clone(),
        );
        let index = Arc::new(RwLock::new(None));
        registry.register_collector(Box::new(index::IndexFigures::new(Arc::clone(&index))));
        process::register(&mut registry);
        Self {
            inner: Arc::new(Inner {
                registry: Arc::new(registry),
                reconcile_duration,
                rollouts,
                drift_corrections,
                http_requests,
                http_duration,
                sources,
                hooks,
                history: history::History::default(),
                index,
            }),
        }
    }

    /// The registry, to encode.
    pub fn registry(&self) -> Arc<Registry> {
        Arc::clone(&self.inner.registry)
    }

    /// From now on the scrape-time figures are read from `index`.
    pub fn watch_index(&self, index: Index) {
        let mut slot = self.inner.index.write().unwrap_or_else(|e| e.into_inner());
        *slot = Some(index);
    }

    /// One reconcile of the app `key` took `took`.
    pub fn reconciled(&self, key: &str, took: Duration) {
        self.inner
            .reconcile_duration
            .get_or_create(&AppLabels::of(key))
            .observe(took.as_secs_f64());
    }

    /// The app `key` is forgotten: its series go.
    pub fn forget_app(&self, key: &str) {
        self.inner.reconcile_duration.remove(&AppLabels::of(key));
    }

    /// Counts a rollout step.
    pub fn rollout(&self, step: RolloutStep) {
        self.inner
            .rollouts
            .get_or_create(&OutcomeLabels { outcome: step.name() })
            .inc();
    }

    /// Counts a correction the agent accepted.
    pub fn corrected(&self, cause: Cause) {
        self.inner
            .drift_corrections
            .get_or_create(&KindLabels { kind: cause.name() })
            .inc();
    }

    /// Counts one HTTP request and its time.
    pub fn request(&self, method: &'static str, route: &str, code: u16, took: Duration) {
        self.inner
            .http_requests
            .get_or_create(&RequestLabels {
                method,
                route: route.to_string(),
                code,
            })
            .inc();
        self.inner
            .http_duration
            .get_or_create(&RouteLabels {
                method,
                route: route.to_string(),
            })
            .observe(took.as_secs_f64());
    }

    /// What the sources count into.
    pub fn sources(&self) -> SourceMetrics {
        self.inner.sources.clone()
    }

    /// The figures' recent past, sampled once [`history::History::start`]ed.
    pub fn history(&self) -> history::History {
        self.inner.history.clone()
    }

    /// What the hooks count into.
    pub fn hooks(&self) -> HookMetrics {
        self.inner.hooks.clone()
    }
}

#[cfg(test)]
mod tests;
