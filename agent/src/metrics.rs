//! The agent's metrics, registered into a prometheus-client registry the
//! caller owns: under `sextant up` the one registry the controller serves,
//! for a standalone agent its own (served with `--metrics-addr`). The
//! agent knows nothing of how they are served.
//!
//! - `sextant_offers_received_total`: offers Mesos sent
//! - `sextant_offers_accepted_total`: offers accepted (tasks launched on them)
//! - `sextant_offers_declined_total`: offers declined (nothing fit, or
//!   nothing waits)
//! - `sextant_launch_latency_seconds`: from a `Launch` call queueing a task
//!   to its first TASK_RUNNING
//! - `sextant_preemptions_total`: preemptible tasks killed to make room for
//!   production ones

use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

/// The agent's families. Cheap to clone (each is an `Arc`).
#[derive(Clone, Debug)]
pub struct AgentMetrics {
    /// `sextant_offers_received_total`.
    pub offers_received: Counter,
    /// `sextant_offers_accepted_total`.
    pub offers_accepted: Counter,
    /// `sextant_offers_declined_total`.
    pub offers_declined: Counter,
    /// `sextant_launch_latency_seconds`.
    pub launch_latency: Histogram,
    /// `sextant_preemptions_total`.
    pub preemptions: Counter,
}

impl Default for AgentMetrics {
    /// Families in no registry: counted, shown nowhere.
    fn default() -> Self {
        Self {
            offers_received: Counter::default(),
            offers_accepted: Counter::default(),
            offers_declined: Counter::default(),
            // 10 ms to 82 s.
            launch_latency: Histogram::new(exponential_buckets(0.01, 2.0, 14)),
            preemptions: Counter::default(),
        }
    }
}

impl AgentMetrics {
    /// The agent's families, registered into `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self::default();
        registry.register(
            "sextant_offers_received",
            "Offers Mesos sent the framework",
            m.offers_received.clone(),
        );
        registry.register(
            "sextant_offers_accepted",
            "Offers accepted: queued tasks were launched on them",
            m.offers_accepted.clone(),
        );
        registry.register(
            "sextant_offers_declined",
            "Offers declined: nothing queued fit, or nothing was queued",
            m.offers_declined.clone(),
        );
        registry.register_with_unit(
            "sextant_launch_latency",
            "From a Launch call queueing a task to the task's first TASK_RUNNING",
            Unit::Seconds,
            m.launch_latency.clone(),
        );
        registry.register(
            "sextant_preemptions",
            "Preemptible tasks killed to make room for production tasks",
            m.preemptions.clone(),
        );
        m
    }

    /// A task queued `took` ago is running.
    pub fn launched(&self, took: Duration) {
        self.launch_latency.observe(took.as_secs_f64());
    }
}
