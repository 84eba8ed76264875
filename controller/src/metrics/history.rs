//! The metrics' recent past, in memory (Aurora's `/graphview` without a
//! time-series database): every [`History::interval`] the sampler reads
//! the registry as `/vars.json` does ([`exposition::vars`]) and appends each
//! figure to its series, for `GET /api/v1/metrics/history` and the UI's
//! graphs page.
//!
//! Memory is bounded twice: at most [`MAX_POINTS`] points per series
//! (3 hours at the default 10 s; older points drop off the front) and at
//! most [`MAX_SERIES`] series (a new name past that is not kept, and
//! counted in [`History::dropped`]). Each point is 16 bytes, so the worst
//! case is 512 × 1,080 × 16 B ≈ 8.8 MB; a `sextant up` has about 150
//! series (≈ 2.6 MB after 3 hours).
//!
//! Per-app series (the reconcile histogram, one per app) would fill the
//! series budget with 1,000 apps: they are summed into their family's
//! total (`sextant_reconcile_duration_seconds_count`, `_sum`), which is
//! what a graph of the whole controller wants.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::registry::Registry;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::exposition;

/// Time between two samples unless told otherwise.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);
/// How far back the history reaches at the default interval.
pub const WINDOW: Duration = Duration::from_secs(3 * 3600);
/// Points kept per series: [`WINDOW`] at [`DEFAULT_INTERVAL`].
pub const MAX_POINTS: usize = (WINDOW.as_secs() / DEFAULT_INTERVAL.as_secs()) as usize;
/// Series kept at most.
pub const MAX_SERIES: usize = 512;

/// Families whose series carry an app's labels: kept as their sum.
const PER_APP_FAMILIES: [&str; 2] = [
    "sextant_reconcile_duration_seconds_count",
    "sextant_reconcile_duration_seconds_sum",
];

/// One point: Unix seconds and the value.
pub type Point = (f64, f64);

#[derive(Debug, Default)]
struct Rings {
    series: BTreeMap<String, VecDeque<Point>>,
    dropped: u64,
}

/// The history of every series. Cheap to clone (one `Arc`).
#[derive(Clone, Debug)]
pub struct History {
    rings: Arc<Mutex<Rings>>,
    interval: Duration,
}

impl Default for History {
    fn default() -> Self {
        Self::new(DEFAULT_INTERVAL)
    }
}

/// The name a sampled figure is kept under: a per-app series goes into
/// its family's total.
fn kept_name(name: &str) -> &str {
    for family in PER_APP_FAMILIES {
        if name.len() > family.len() && name.starts_with(family) && name.as_bytes()[family.len()] == b'_' {
            return family;
        }
    }
    name
}

impl History {
    /// An empty history sampled every `interval`.
    pub fn new(interval: Duration) -> Self {
        Self {
            rings: Arc::default(),
            interval,
        }
    }

    /// Time between two samples.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Rings> {
        self.rings.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends one sample of every figure in `vars`, taken at `now` (Unix
    /// seconds). Non-finite values are left out (JSON cannot carry them).
    pub fn record(&self, now: f64, vars: &BTreeMap<String, f64>) {
        let mut summed: BTreeMap<&str, f64> = BTreeMap::new();
        for (name, v) in vars {
            if v.is_finite() {
                *summed.entry(kept_name(name)).or_insert(0.0) += v;
            }
        }
        let mut rings = self.lock();
        for (name, v) in summed {
            if !rings.series.contains_key(name) {
                if rings.series.len() >= MAX_SERIES {
                    if rings.dropped == 0 {
                        tracing::warn!(
                            series = name,
                            max = MAX_SERIES,
                            "the metrics history is full: new series are not kept (they stay in /metrics)"
                        );
                    }
                    rings.dropped += 1;
                    continue;
                }
                rings.series.insert(name.to_string(), VecDeque::new());
            }
            if let Some(ring) = rings.series.get_mut(name) {
                if ring.len() >= MAX_POINTS {
                    ring.pop_front();
                }
                ring.push_back((now, v));
            }
        }
    }

    /// Every series' name, sorted.
    pub fn names(&self) -> Vec<String> {
        self.lock().series.keys().cloned().collect()
    }

    /// The points of `name` after `since` (Unix seconds), oldest first;
    /// `None` for a series never sampled.
    pub fn points(&self, name: &str, since: f64) -> Option<Vec<Point>> {
        let rings = self.lock();
        let ring = rings.series.get(name)?;
        let first = ring.partition_point(|p| p.0 <= since);
        Some(ring.range(first..).copied().collect())
    }

    /// New series not kept because [`MAX_SERIES`] were held already
    /// (counted once per sample).
    pub fn dropped(&self) -> u64 {
        self.lock().dropped
    }

    /// Samples `registry` now, then every interval until `shutdown` turns
    /// true.
    pub fn start(&self, registry: Arc<Registry>, mut shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
        let history = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(history.interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => history.sample(&registry),
                    _ = shutdown.wait_for(|stop| *stop) => return,
                }
            }
        })
    }

    fn sample(&self, registry: &Registry) {
        match exposition::vars(registry) {
            Ok(vars) => self.record(unix_now(), &vars),
            Err(e) => tracing::warn!(error = %e, "a metrics sample for the history was skipped"),
        }
    }
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn points_are_kept_in_order_and_read_after_a_time() {
        let h = History::default();
        h.record(10.0, &vars(&[("a", 1.0), ("b", 5.0)]));
        h.record(20.0, &vars(&[("a", 2.0), ("b", f64::NAN)]));
        h.record(30.0, &vars(&[("a", 3.0)]));
        assert_eq!(h.names(), ["a", "b"]);
        assert_eq!(h.points("a", 0.0), Some(vec![(10.0, 1.0), (20.0, 2.0), (30.0, 3.0)]));
        assert_eq!(h.points("a", 20.0), Some(vec![(30.0, 3.0)]), "since is exclusive");
        assert_eq!(h.points("b", 0.0), Some(vec![(10.0, 5.0)]), "NaN is left out");
        assert_eq!(h.points("nope", 0.0), None);
    }

    #[test]
    fn memory_is_bounded_in_points_and_series() {
        let h = History::default();
        for i in 0..MAX_POINTS + 5 {
            h.record(i as f64, &vars(&[("a", i as f64)]));
        }
        let points = h.points("a", -1.0).expect("a");
        assert_eq!(points.len(), MAX_POINTS);
        assert_eq!(points[0], (5.0, 5.0), "the oldest dropped off the front");

        let many: BTreeMap<String, f64> = (0..MAX_SERIES + 3).map(|i| (format!("s{i:04}"), 1.0)).collect();
        h.record(1e6, &many);
        assert_eq!(h.names().len(), MAX_SERIES);
        assert_eq!(h.dropped(), 4, "a and 511 new ones kept, 4 refused");
    }

    #[test]
    fn per_app_series_are_summed_into_their_family() {
        let h = History::default();
        h.record(
            1.0,
            &vars(&[
                ("sextant_reconcile_duration_seconds_count_default_web", 3.0),
                ("sextant_reconcile_duration_seconds_count_default_db", 4.0),
                ("sextant_reconcile_duration_seconds_sum_default_db", 0.5),
                ("sextant_tasks_TASK_RUNNING", 2.0),
            ]),
        );
        assert_eq!(
            h.names(),
            [
                "sextant_reconcile_duration_seconds_count",
                "sextant_reconcile_duration_seconds_sum",
                "sextant_tasks_TASK_RUNNING"
            ]
        );
        assert_eq!(
            h.points("sextant_reconcile_duration_seconds_count", 0.0),
            Some(vec![(1.0, 7.0)])
        );
    }

    #[tokio::test]
    async fn the_sampler_reads_the_registry_at_its_interval() {
        let metrics = super::super::Metrics::default();
        let h = History::new(Duration::from_millis(20));
        let (stop, stopped) = watch::channel(false);
        let task = h.start(metrics.registry(), stopped);
        tokio::time::sleep(Duration::from_millis(150)).await;
        let _ = stop.send(true);
        task.await.expect("sampler ends");
        let points = h.points("sextant_rollouts_total_started", 0.0).expect("sampled");
        assert!(points.len() >= 3, "{points:?}");
        assert!(points.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
