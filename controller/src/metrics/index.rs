//! The figures that are state, derived from the index at each scrape (a
//! prometheus-client collector): nothing is counted on the side, so they
//! cannot drift from what `GET /api/v1/sources` and `GET /api/v1/apps`
//! say. The index's read lock is held only to copy the figures out.
//!
//! - `sextant_source_info{source,kind,url,branch,commit}` 1
//! - `sextant_source_apps{source}`: apps the source owns
//! - `sextant_source_problems{source,problem}`: problems of the last sync
//!   by kind (`Invalid`, `Unreadable`, `Empty`, `DefinedTwice`,
//!   `OwnedElsewhere`)
//! - `sextant_source_refused{source}`: 1 while the last sync was refused
//! - `sextant_source_failing{source}`: 1 while the source has an error
//! - `sextant_source_last_success_timestamp_seconds{source}`
//! - `sextant_source_commit_timestamp_seconds{source}`: the synced commit's time
//! - `sextant_apps_out_of_sync`: apps whose `Synced` condition is False
//! - `sextant_apps`: desired apps
//! - `sextant_app_conditions{type,status}`: apps by condition
//! - `sextant_tasks{state}`: tasks the index holds, by state

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeGaugeValue};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;

use crate::index::{Index, State};
use crate::observed::{TaskState, state_name};
use crate::source::plan::ProblemKind;

/// The collector; reads nothing until the controller gives it its index.
#[derive(Debug)]
pub(super) struct IndexFigures {
    index: Arc<RwLock<Option<Index>>>,
}

impl IndexFigures {
    pub(super) fn new(index: Arc<RwLock<Option<Index>>>) -> Self {
        Self { index }
    }
}

impl Collector for IndexFigures {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let index = self.index.read().unwrap_or_else(|e| e.into_inner()).clone();
        match index {
            Some(index) => index.read(Figures::of).encode(&mut encoder),
            None => Ok(()),
        }
    }
}

/// One source's figures.
#[derive(Debug, Default, PartialEq)]
struct SourceFigures {
    name: String,
    kind: String,
    url: String,
    branch: String,
    commit: String,
    apps: u64,
    problems: BTreeMap<&'static str, u64>,
    refused: bool,
    failing: bool,
    last_success_at: Option<f64>,
    commit_time: Option<i64>,
}

/// Everything a scrape shows of the index, copied out under its lock.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Figures {
    sources: Vec<SourceFigures>,
    out_of_sync: u64,
    apps: u64,
    /// `(type, status)` → apps.
    conditions: BTreeMap<(String, String), u64>,
    /// State name → tasks.
    tasks: BTreeMap<&'static str, u64>,
}

impl Figures {
    /// The figures of `s`.
    pub(super) fn of(s: &State) -> Self {
        let sources = s
            .sources
            .values()
            .map(|rec| {
                let mut problems: BTreeMap<&'static str, u64> =
                    ProblemKind::ALL.iter().map(|k| (k.name(), 0)).collect();
                for p in &rec.problems {
                    *problems.entry(p.kind.name()).or_default() += 1;
                }
                SourceFigures {
                    name: rec.name.clone(),
                    kind: rec.kind.clone(),
                    url: rec.url.clone().unwrap_or_default(),
                    branch: rec.branch.clone().unwrap_or_default(),
                    commit: rec.commit.as_ref().map(|c| c.sha.clone()).unwrap_or_default(),
                    apps: rec.apps as u64,
                    problems,
                    refused: rec.refused.is_some(),
                    failing: rec.failing_since.is_some(),
                    last_success_at: rec.last_success_at,
                    commit_time: rec.commit.as_ref().map(|c| c.time),
                }
            })
            .collect();
        let mut conditions: BTreeMap<(String, String), u64> = BTreeMap::new();
        let mut out_of_sync = 0;
        for status in s.statuses.values() {
            for c in &status.conditions {
                *conditions.entry((c.type_.clone(), c.status.clone())).or_default() += 1;
                if c.type_ == "Synced" && c.status == "False" {
                    out_of_sync += 1;
                }
            }
        }
        // Every state the contract knows, at 0 until a task is in it.
        let mut tasks: BTreeMap<&'static str, u64> = (0..=i32::from(u8::MAX))
            .filter_map(|i| TaskState::try_from(i).ok())
            .filter(|st| *st != TaskState::Unspecified)
            .map(|st| (state_name(st), 0))
            .collect();
        for app in s.tasks.values() {
            for t in app.iter() {
                *tasks.entry(state_name(t.state)).or_default() += 1;
            }
        }
        Figures {
            sources,
            out_of_sync,
            apps: s.apps.len() as u64,
            conditions,
            tasks,
        }
    }

    fn encode(&self, encoder: &mut DescriptorEncoder) -> fmt::Result {
        {
            let mut m = encoder.encode_descriptor(
                "sextant_source",
                "What each source follows: 1 per source.",
                None,
                MetricType::Info,
            )?;
            for s in &self.sources {
                m.encode_info(&[
                    ("source", s.name.as_str()),
                    ("kind", s.kind.as_str()),
                    ("url", s.url.as_str()),
                    ("branch", s.branch.as_str()),
                    ("commit", s.commit.as_str()),
                ])?;
            }
        }
        self.per_source(encoder, "sextant_source_apps", "Apps each source owns.", None, |s| {
            Some(s.apps)
        })?;
        {
            let mut m = encoder.encode_descriptor(
                "sextant_source_problems",
                "Problems of each source's last sync, by kind; their apps keep their last good version.",
                None,
                MetricType::Gauge,
            )?;
            for s in &self.sources {
                for (problem, n) in &s.problems {
                    m.encode_family(&[("source", s.name.as_str()), ("problem", problem)])?
                        .encode_gauge(n)?;
                }
            }
        }
        self.per_source(
            encoder,
            "sextant_source_refused",
            "1 while the source's last sync was refused.",
            None,
            |s| Some(u64::from(s.refused)),
        )?;
        self.per_source(
            encoder,
            "sextant_source_failing",
            "1 while the source has an error.",
            None,
            |s| Some(u64::from(s.failing)),
        )?;
        self.per_source(
            encoder,
            "sextant_source_last_success_timestamp",
            "When each source last synced (Unix time).",
            Some(&Unit::Seconds),
            |s| s.last_success_at,
        )?;
        self.per_source(
            encoder,
            "sextant_source_commit_timestamp",
            "Commit time of the commit each git source synced (Unix time).",
            Some(&Unit::Seconds),
            |s| s.commit_time,
        )?;
        gauge(
            encoder,
            "sextant_apps_out_of_sync",
            "Apps whose source's latest definition is not what runs.",
            &self.out_of_sync,
        )?;
        gauge(encoder, "sextant_apps", "Desired apps.", &self.apps)?;
        {
            let mut m = encoder.encode_descriptor(
                "sextant_app_conditions",
                "Apps by condition type and status (as of each app's last reconcile).",
                None,
                MetricType::Gauge,
            )?;
            for ((type_, status), n) in &self.conditions {
                m.encode_family(&[("type", type_.as_str()), ("status", status.as_str())])?
                    .encode_gauge(n)?;
            }
        }
        let mut m = encoder.encode_descriptor(
            "sextant_tasks",
            "Tasks the controller knows, by state (ended ones until they are pruned).",
            None,
            MetricType::Gauge,
        )?;
        for (state, n) in &self.tasks {
            m.encode_family(&[("state", *state)])?.encode_gauge(n)?;
        }
        Ok(())
    }

    /// A gauge with one value per source (sources without one are left out).
    fn per_source<V: EncodeGaugeValue>(
        &self,
        encoder: &mut DescriptorEncoder,
        name: &str,
        help: &str,
        unit: Option<&Unit>,
        value: impl Fn(&SourceFigures) -> Option<V>,
    ) -> fmt::Result {
        let mut m = encoder.encode_descriptor(name, help, unit, MetricType::Gauge)?;
        for s in &self.sources {
            if let Some(v) = value(s) {
                m.encode_family(&[("source", s.name.as_str())])?.encode_gauge(&v)?;
            }
        }
        Ok(())
    }
}

/// A gauge without labels.
fn gauge(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: &impl EncodeGaugeValue) -> fmt::Result {
    encoder
        .encode_descriptor(name, help, None, MetricType::Gauge)?
        .encode_gauge(value)
}
